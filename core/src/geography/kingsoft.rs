//! Kingsoft Cloud (金山云) regions. A zone is its region's code plus a
//! letter (`cn-beijing-6a`). `cn-qingyangtest-1` is a test region.

use super::KnownRegion;

pub(super) const REGIONS: &[KnownRegion] = &[
    KnownRegion {
        code: "cn-beijing-6",
        country: "cn",
        province: "beijing",
        city: "beijing",
        name_zh: "华北1（北京）",
        name_en: "China North 1 (Beijing)",
        aliases: &["华北", "north china"],
        zones: &["cn-beijing-6a", "cn-beijing-6b", "cn-beijing-6c"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-beijing-fin",
        country: "cn",
        province: "beijing",
        city: "beijing",
        name_zh: "华北金融1（北京）",
        name_en: "China North Finance 1 (Beijing)",
        aliases: &["华北", "north china", "金融", "finance"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-shanghai-2",
        country: "cn",
        province: "shanghai",
        city: "shanghai",
        name_zh: "华东1（上海）",
        name_en: "China East 1 (Shanghai)",
        aliases: &["华东", "east china"],
        zones: &["cn-shanghai-2a", "cn-shanghai-2b", "cn-shanghai-2c"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-shanghai-fin",
        country: "cn",
        province: "shanghai",
        city: "shanghai",
        name_zh: "华东金融1（上海）",
        name_en: "China East Finance 1 (Shanghai)",
        aliases: &["华东", "east china", "金融", "finance"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-guangzhou-1",
        country: "cn",
        province: "guangdong",
        city: "guangzhou",
        name_zh: "华南1（广州）",
        name_en: "China South 1 (Guangzhou)",
        aliases: &["华南", "south china", "guangdong", "广东"],
        zones: &["cn-guangzhou-1a"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-hongkong-2",
        country: "hk",
        province: "hong-kong",
        city: "hong-kong",
        name_zh: "中国香港",
        name_en: "China (Hong Kong)",
        aliases: &["港澳台"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-taipei-1",
        country: "tw",
        province: "taipei",
        city: "taipei",
        name_zh: "中国台北",
        name_en: "China (Taipei)",
        aliases: &["港澳台", "taiwan", "台湾"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "ap-singapore-1",
        country: "sg",
        province: "singapore",
        city: "singapore",
        name_zh: "新加坡",
        name_en: "Singapore",
        aliases: &["亚太", "asia pacific", "southeast asia", "东南亚"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "eu-east-1",
        country: "ru",
        province: "moscow",
        city: "moscow",
        name_zh: "俄罗斯（莫斯科）",
        name_en: "Russia (Moscow)",
        aliases: &["欧洲", "europe", "russia", "俄罗斯"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-qingyangtest-1",
        country: "cn",
        province: "gansu",
        city: "qingyang",
        name_zh: "西北1测试（庆阳）",
        name_en: "China Northwest 1 Test (Qingyang)",
        aliases: &["西北", "northwest china", "测试", "test", "gansu", "甘肃"],
        test: true,
        ..KnownRegion::BLANK
    },
];
