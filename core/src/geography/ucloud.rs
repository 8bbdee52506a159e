//! UCloud (优刻得) regions. A zone is its region's code plus a number
//! (`cn-bj2-02`).

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    region("cn-bj1", "cn", Some("beijing")),
    region("cn-bj2", "cn", Some("beijing")).zh("华北一"),
    region("cn-sh2", "cn", Some("shanghai")).zh("上海二"),
    region("cn-gd", "cn", Some("guangzhou")).zh("广州"),
    region("cn-wlcb", "cn", Some("ulanqab")),
    region("cn-qz", "cn", Some("quanzhou")),
    region("hk", "hk", Some("hong-kong")).zh("香港"),
    region("tw-tp", "tw", Some("taipei")),
    region("sg", "sg", Some("singapore")).zh("新加坡"),
    region("th-bkk", "th", Some("bangkok")),
    region("kr-seoul", "kr", Some("seoul")),
    region("jpn-tky", "jp", Some("tokyo")),
    region("idn-jakarta", "id", Some("jakarta")),
    region("ind-mumbai", "in", Some("mumbai")),
    region("vn-sng", "vn", Some("ho-chi-minh")),
    region("ph-mnl", "ph", Some("manila")),
    region("us-ca", "us", Some("los-angeles")).zh("洛杉矶"),
    region("us-ws", "us", Some("washington")),
    region("ge-fra", "de", Some("frankfurt")),
    region("uk-london", "gb", Some("london")),
    region("rus-mosc", "ru", Some("moscow")),
    region("uae-dubai", "ae", Some("dubai")),
    region("bra-saopaulo", "br", Some("sao-paulo")),
    region("afr-nigeria", "ng", Some("lagos")),
];
