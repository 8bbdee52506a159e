//! China Telecom Cloud (天翼云) regions. The pools named after a part of
//! China (`cn-huadong1`, `cn-huabei2`) are placed at the city of their
//! zones' data centres (`jsnj`: Nanjing, `tj`: Tianjin). Codes that are not
//! listed are placed by [`PLACES`] from the place in the code.

use super::KnownRegion;

pub(super) const REGIONS: &[KnownRegion] = &[
    KnownRegion {
        code: "cn-huadong1",
        country: "cn",
        province: "jiangsu",
        city: "nanjing",
        nearest_city: true,
        name_zh: "华东1（南京）",
        name_en: "East China 1 (Nanjing)",
        aliases: &["华东", "east china", "jiangsu", "江苏"],
        zones: &[
            "cn-huadong1-jsnj1A-public-ctcloud",
            "cn-huadong1-jsnj2A-public-ctcloud",
            "cn-huadong1-jsnj3A-public-ctcloud",
        ],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-huabei2",
        country: "cn",
        province: "tianjin",
        city: "tianjin",
        nearest_city: true,
        name_zh: "华北2（天津）",
        name_en: "North China 2 (Tianjin)",
        aliases: &["华北", "north china"],
        zones: &[
            "cn-huabei2-tj1A-public-ctcloud",
            "cn-huabei2-tj-2a-public-ctcloud",
            "cn-huabei2-tj-3a-public-ctcloud",
        ],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-huanan2",
        country: "cn",
        province: "guangdong",
        city: "guangzhou",
        nearest_city: true,
        name_zh: "华南2（广州）",
        name_en: "South China 2 (Guangzhou)",
        aliases: &["华南", "south china", "guangdong", "广东"],
        zones: &[
            "cn-huanan2-1A-public-ctcloud",
            "cn-huanan2-2A-public-ctcloud",
        ],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-xinan1",
        country: "cn",
        province: "chongqing",
        city: "chongqing",
        nearest_city: true,
        name_zh: "西南1（重庆）",
        name_en: "Southwest China 1 (Chongqing)",
        aliases: &["西南", "southwest china"],
        zones: &[
            "cn-xinan1-xn1A-public-ctcloud",
            "cn-xinan1-xn2A-public-ctcloud",
        ],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-neimeng-8",
        country: "cn",
        province: "inner-mongolia",
        city: "hohhot",
        nearest_city: true,
        name_zh: "内蒙8（呼和浩特）",
        name_en: "Inner Mongolia 8 (Hohhot)",
        aliases: &["内蒙", "内蒙古", "inner mongolia"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-beijing-5",
        country: "cn",
        province: "beijing",
        city: "beijing",
        name_zh: "北京5",
        name_en: "Beijing 5",
        aliases: &["华北", "north china"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-shanghai-7",
        country: "cn",
        province: "shanghai",
        city: "shanghai",
        name_zh: "上海7",
        name_en: "Shanghai 7",
        aliases: &["华东", "east china"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-hangzhou-2",
        country: "cn",
        province: "zhejiang",
        city: "hangzhou",
        name_zh: "杭州2",
        name_en: "Hangzhou 2",
        aliases: &["华东", "east china", "zhejiang", "浙江"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-nanjing-4",
        country: "cn",
        province: "jiangsu",
        city: "nanjing",
        name_zh: "南京4",
        name_en: "Nanjing 4",
        aliases: &["华东", "east china", "jiangsu", "江苏"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-wuhan-3",
        country: "cn",
        province: "hubei",
        city: "wuhan",
        name_zh: "武汉3",
        name_en: "Wuhan 3",
        aliases: &["华中", "central china", "hubei", "湖北"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-guangzhou-5",
        country: "cn",
        province: "guangdong",
        city: "guangzhou",
        name_zh: "广州5",
        name_en: "Guangzhou 5",
        aliases: &["华南", "south china", "guangdong", "广东"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-chongqing-2",
        country: "cn",
        province: "chongqing",
        city: "chongqing",
        name_zh: "重庆2",
        name_en: "Chongqing 2",
        aliases: &["西南", "southwest china"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "cn-xian-4",
        country: "cn",
        province: "shaanxi",
        city: "xian",
        name_zh: "西安4",
        name_en: "Xi'an 4",
        aliases: &["西北", "northwest china", "shaanxi", "陕西"],
        ..KnownRegion::BLANK
    },
];

/// The places of CTyun region codes and their city; a province is placed
/// at the city of its pools.
pub(super) const PLACES: &[(&str, Option<&str>)] = &[
    ("huadong", None),
    ("huabei", None),
    ("huanan", None),
    ("huazhong", None),
    ("xinan", None),
    ("xibei", None),
    ("dongbei", None),
    ("beijing", Some("beijing")),
    ("shanghai", Some("shanghai")),
    ("guangzhou", Some("guangzhou")),
    ("shenzhen", Some("shenzhen")),
    ("hangzhou", Some("hangzhou")),
    ("nanjing", Some("nanjing")),
    ("suzhou", Some("suzhou")),
    ("wuhan", Some("wuhan")),
    ("changsha", Some("changsha")),
    ("chengdu", Some("chengdu")),
    ("chongqing", Some("chongqing")),
    ("xian", Some("xian")),
    ("fuzhou", Some("fuzhou")),
    ("xiamen", Some("xiamen")),
    ("hefei", Some("hefei")),
    ("zhengzhou", Some("zhengzhou")),
    ("jinan", Some("jinan")),
    ("qingdao", Some("qingdao")),
    ("tianjin", Some("tianjin")),
    ("shijiazhuang", Some("shijiazhuang")),
    ("baoding", Some("baoding")),
    ("taiyuan", Some("taiyuan")),
    ("neimeng", Some("hohhot")),
    ("huhehaote", Some("hohhot")),
    ("shenyang", Some("shenyang")),
    ("dalian", Some("dalian")),
    ("changchun", Some("changchun")),
    ("haerbin", Some("harbin")),
    ("nanchang", Some("nanchang")),
    ("nanning", Some("nanning")),
    ("haikou", Some("haikou")),
    ("kunming", Some("kunming")),
    ("guiyang", Some("guiyang")),
    ("guizhou", Some("guiyang")),
    ("anshun", Some("anshun")),
    ("lanzhou", Some("lanzhou")),
    ("xining", Some("xining")),
    ("yinchuan", Some("yinchuan")),
    ("zhongwei", Some("zhongwei")),
    ("wulumuqi", Some("urumqi")),
    ("lasa", Some("lhasa")),
];

/// The place of a region code: `cn-neimeng-8` → `neimeng`.
pub(super) fn place_of(code: &str) -> Option<&str> {
    let rest = code.strip_prefix("cn-")?;
    let place = rest.split('-').next()?;
    Some(place.trim_end_matches(|c: char| c.is_ascii_digit()))
}
