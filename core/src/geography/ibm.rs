//! IBM Cloud deployment regions and their zones (`us-south-1`); `global`
//! is an area, not a place: see [`AREAS`].

use super::KnownArea;
use super::KnownRegion;

pub(super) const REGIONS: &[KnownRegion] = &[
    KnownRegion {
        code: "us-south",
        country: "us",
        province: "texas",
        city: "dallas",
        name_zh: "达拉斯（us-south）",
        name_en: "Dallas (us-south)",
        aliases: &["us-south", "美国南部", "texas", "得克萨斯", "德州"],
        zones: &["us-south-1", "us-south-2", "us-south-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "us-east",
        country: "us",
        province: "district-of-columbia",
        city: "washington-dc",
        name_zh: "华盛顿特区（us-east）",
        name_en: "Washington DC (us-east)",
        aliases: &["us-east", "美国东部"],
        zones: &["us-east-1", "us-east-2", "us-east-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "ca-tor",
        country: "ca",
        province: "ontario",
        city: "toronto",
        name_zh: "多伦多（ca-tor）",
        name_en: "Toronto (ca-tor)",
        aliases: &["canada", "加拿大", "ontario", "安大略"],
        zones: &["ca-tor-1", "ca-tor-2", "ca-tor-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "ca-mon",
        country: "ca",
        province: "quebec",
        city: "montreal",
        name_zh: "蒙特利尔（ca-mon）",
        name_en: "Montreal (ca-mon)",
        aliases: &["canada", "加拿大", "quebec", "魁北克"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "br-sao",
        country: "br",
        province: "sao-paulo-state",
        city: "sao-paulo",
        name_zh: "圣保罗（br-sao）",
        name_en: "Sao Paulo (br-sao)",
        aliases: &[
            "brazil",
            "巴西",
            "south america",
            "南美洲",
            "sao paulo state",
            "圣保罗州",
        ],
        zones: &["br-sao-1", "br-sao-2", "br-sao-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "eu-de",
        country: "de",
        province: "hesse",
        city: "frankfurt",
        name_zh: "法兰克福（eu-de）",
        name_en: "Frankfurt (eu-de)",
        aliases: &["europe", "欧洲", "germany", "德国"],
        zones: &["eu-de-1", "eu-de-2", "eu-de-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "eu-gb",
        country: "gb",
        province: "england",
        city: "london",
        name_zh: "伦敦（eu-gb）",
        name_en: "London (eu-gb)",
        aliases: &["europe", "欧洲", "uk", "英国"],
        zones: &["eu-gb-1", "eu-gb-2", "eu-gb-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "eu-es",
        country: "es",
        province: "madrid",
        city: "madrid",
        name_zh: "马德里（eu-es）",
        name_en: "Madrid (eu-es)",
        aliases: &["europe", "欧洲", "spain", "西班牙"],
        zones: &["eu-es-1", "eu-es-2", "eu-es-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "eu-fr2",
        country: "fr",
        province: "ile-de-france",
        city: "paris",
        name_zh: "巴黎（eu-fr2）",
        name_en: "Paris (eu-fr2)",
        aliases: &["europe", "欧洲", "france", "法国"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "jp-tok",
        country: "jp",
        province: "tokyo",
        city: "tokyo",
        name_zh: "东京（jp-tok）",
        name_en: "Tokyo (jp-tok)",
        aliases: &["japan", "日本", "asia pacific", "亚太"],
        zones: &["jp-tok-1", "jp-tok-2", "jp-tok-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "jp-osa",
        country: "jp",
        province: "osaka",
        city: "osaka",
        name_zh: "大阪（jp-osa）",
        name_en: "Osaka (jp-osa)",
        aliases: &["japan", "日本", "asia pacific", "亚太"],
        zones: &["jp-osa-1", "jp-osa-2", "jp-osa-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "au-syd",
        country: "au",
        province: "new-south-wales",
        city: "sydney",
        name_zh: "悉尼（au-syd）",
        name_en: "Sydney (au-syd)",
        aliases: &[
            "australia",
            "澳大利亚",
            "asia pacific",
            "亚太",
            "new south wales",
            "新南威尔士",
        ],
        zones: &["au-syd-1", "au-syd-2", "au-syd-3"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "in-che",
        country: "in",
        province: "tamil-nadu",
        city: "chennai",
        name_zh: "金奈（in-che）",
        name_en: "Chennai (in-che)",
        aliases: &["india", "印度", "asia pacific", "亚太"],
        ..KnownRegion::BLANK
    },
    KnownRegion {
        code: "kr-seo",
        country: "kr",
        province: "seoul",
        city: "seoul",
        name_zh: "首尔（kr-seo）",
        name_en: "Seoul (kr-seo)",
        aliases: &["korea", "韩国", "asia pacific", "亚太"],
        ..KnownRegion::BLANK
    },
];

/// Offers priced the same everywhere.
pub(super) const AREAS: &[KnownArea] = &[KnownArea {
    code: "global",
    country: "global",
    name_zh: "全球",
    name_en: "Global",
}];
