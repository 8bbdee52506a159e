//! China Telecom Cloud (天翼云) regions. A region code is `cn-<place>`, a pool
//! number and sometimes a suffix (`cn-huadong1`, `cn-neimeng-8`,
//! `cn-anshun-t1`); the place alone says where it is, so codes that are not
//! listed are placed by [`PLACES`].

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    // The big multi-zone pools named after a part of China have no single city.
    region("cn-huadong1", "cn", None).zh("华东1"),
    region("cn-huabei2", "cn", None).zh("华北2"),
    region("cn-huanan1", "cn", None).zh("华南1"),
    region("cn-xinan1", "cn", None).zh("西南1"),
    region("cn-neimeng1", "cn", Some("hohhot")).zh("内蒙古1"),
    region("cn-guizhou1", "cn", Some("guiyang")).zh("贵州1"),
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
