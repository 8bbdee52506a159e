//! UCloud (优刻得) regions. A zone is its region's code, a dash and a
//! number (`cn-bj2-02`).

use super::KnownRegion;

pub(super) const REGIONS: &[KnownRegion] = &[
    KnownRegion {
        code: "cn-bj1",
        country: "cn",
        province: "beijing",
        city: "beijing",
        name_zh: "北京一",
        name_en: "Beijing 1",
        aliases: &["华北", "north china"],
        zones: &["cn-bj1-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-bj2",
        country: "cn",
        province: "beijing",
        city: "beijing",
        name_zh: "华北一（北京）",
        name_en: "North China 1 (Beijing)",
        aliases: &["华北", "north china", "北京二", "beijing 2"],
        zones: &["cn-bj2-02", "cn-bj2-03", "cn-bj2-04", "cn-bj2-05"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-wlcb",
        country: "cn",
        province: "inner-mongolia",
        city: "ulanqab",
        name_zh: "华北二（乌兰察布）",
        name_en: "North China 2 (Ulanqab)",
        aliases: &["华北", "north china", "内蒙古", "inner mongolia"],
        zones: &["cn-wlcb-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-sh2",
        country: "cn",
        province: "shanghai",
        city: "shanghai",
        name_zh: "上海二",
        name_en: "Shanghai 2",
        aliases: &["华东", "east china"],
        zones: &["cn-sh2-01", "cn-sh2-02", "cn-sh2-03"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-gd",
        country: "cn",
        province: "guangdong",
        city: "guangzhou",
        name_zh: "广州",
        name_en: "Guangzhou",
        aliases: &["华南", "south china", "guangdong", "广东"],
        zones: &["cn-gd-02"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-qz",
        country: "cn",
        province: "fujian",
        city: "quanzhou",
        name_zh: "福建（泉州）",
        name_en: "Fujian (Quanzhou)",
        aliases: &["华东", "east china", "福建", "fujian"],
        zones: &["cn-qz-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "hk",
        country: "hk",
        province: "hong-kong",
        city: "hong-kong",
        name_zh: "香港",
        name_en: "Hong Kong",
        aliases: &["港澳台"],
        zones: &["hk-01", "hk-02"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "tw-tp",
        country: "tw",
        province: "taipei",
        city: "taipei",
        name_zh: "台北",
        name_en: "Taipei",
        aliases: &["港澳台", "taiwan", "台湾"],
        zones: &["tw-tp-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "sg",
        country: "sg",
        province: "singapore",
        city: "singapore",
        name_zh: "新加坡",
        name_en: "Singapore",
        aliases: &["亚太", "asia pacific"],
        zones: &["sg-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "th-bkk",
        country: "th",
        province: "bangkok",
        city: "bangkok",
        name_zh: "曼谷",
        name_en: "Bangkok",
        aliases: &["亚太", "asia pacific", "thailand", "泰国"],
        zones: &["th-bkk-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "kr-seoul",
        country: "kr",
        province: "seoul",
        city: "seoul",
        name_zh: "首尔",
        name_en: "Seoul",
        aliases: &["亚太", "asia pacific", "korea", "韩国"],
        zones: &["kr-seoul-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "jpn-tky",
        country: "jp",
        province: "tokyo",
        city: "tokyo",
        name_zh: "东京",
        name_en: "Tokyo",
        aliases: &["亚太", "asia pacific", "japan", "日本"],
        zones: &["jpn-tky-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "idn-jakarta",
        country: "id",
        province: "jakarta",
        city: "jakarta",
        name_zh: "雅加达",
        name_en: "Jakarta",
        aliases: &["亚太", "asia pacific", "indonesia", "印度尼西亚"],
        zones: &["idn-jakarta-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "ind-mumbai",
        country: "in",
        province: "maharashtra",
        city: "mumbai",
        name_zh: "孟买",
        name_en: "Mumbai",
        aliases: &[
            "亚太",
            "asia pacific",
            "india",
            "印度",
            "maharashtra",
            "马哈拉施特拉",
        ],
        zones: &["ind-mumbai-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "vn-sng",
        country: "vn",
        province: "ho-chi-minh-city",
        city: "ho-chi-minh-city",
        name_zh: "胡志明市",
        name_en: "Ho Chi Minh City",
        aliases: &["亚太", "asia pacific", "vietnam", "越南"],
        zones: &["vn-sng-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "ph-mnl",
        country: "ph",
        province: "metro-manila",
        city: "manila",
        name_zh: "马尼拉",
        name_en: "Manila",
        aliases: &["亚太", "asia pacific", "philippines", "菲律宾"],
        zones: &["ph-mnl-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "us-ca",
        country: "us",
        province: "california",
        city: "los-angeles",
        name_zh: "洛杉矶",
        name_en: "Los Angeles",
        aliases: &["美国西部", "us-west", "美国", "california", "加利福尼亚"],
        zones: &["us-ca-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "us-ws",
        country: "us",
        province: "district-of-columbia",
        city: "washington-dc",
        name_zh: "华盛顿",
        name_en: "Washington DC",
        aliases: &["美国东部", "us-east", "美国"],
        zones: &["us-ws-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "ge-fra",
        country: "de",
        province: "hesse",
        city: "frankfurt",
        name_zh: "法兰克福",
        name_en: "Frankfurt",
        aliases: &["欧洲", "europe", "germany", "德国"],
        zones: &["ge-fra-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "uk-london",
        country: "gb",
        province: "england",
        city: "london",
        name_zh: "伦敦",
        name_en: "London",
        aliases: &["欧洲", "europe", "uk", "英国"],
        zones: &["uk-london-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "rus-mosc",
        country: "ru",
        province: "moscow",
        city: "moscow",
        name_zh: "莫斯科",
        name_en: "Moscow",
        aliases: &["欧洲", "europe", "russia", "俄罗斯"],
        zones: &["rus-mosc-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "uae-dubai",
        country: "ae",
        province: "dubai",
        city: "dubai",
        name_zh: "迪拜",
        name_en: "Dubai",
        aliases: &["中东", "middle east", "uae", "阿联酋"],
        zones: &["uae-dubai-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "bra-saopaulo",
        country: "br",
        province: "sao-paulo-state",
        city: "sao-paulo",
        name_zh: "圣保罗",
        name_en: "Sao Paulo",
        aliases: &[
            "南美",
            "south america",
            "brazil",
            "巴西",
            "sao paulo state",
            "圣保罗州",
        ],
        zones: &["bra-saopaulo-01"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "afr-nigeria",
        country: "ng",
        province: "lagos",
        city: "lagos",
        name_zh: "拉各斯",
        name_en: "Lagos",
        aliases: &["非洲", "africa", "nigeria", "尼日利亚"],
        zones: &["afr-nigeria-01"],
        ..KnownRegion::BLANK
    },
];
