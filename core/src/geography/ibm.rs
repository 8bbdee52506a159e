//! IBM Cloud deployment regions.

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    region("us-south", "us", Some("dallas")).zh("达拉斯"),
    region("us-east", "us", Some("washington")).zh("华盛顿"),
    region("ca-tor", "ca", Some("toronto")),
    region("ca-mon", "ca", Some("montreal")),
    region("br-sao", "br", Some("sao-paulo")),
    region("eu-de", "de", Some("frankfurt")).zh("法兰克福"),
    region("eu-gb", "gb", Some("london")).zh("伦敦"),
    region("eu-es", "es", Some("madrid")),
    region("eu-fr2", "fr", Some("paris")),
    region("jp-tok", "jp", Some("tokyo")).zh("东京"),
    region("jp-osa", "jp", Some("osaka")),
    region("au-syd", "au", Some("sydney")).zh("悉尼"),
    region("in-che", "in", Some("chennai")),
    region("kr-seo", "kr", Some("seoul")),
    region("global", "global", None),
];
