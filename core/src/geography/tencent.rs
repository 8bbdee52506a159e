//! Tencent Cloud (腾讯云) regions. A zone is its region's code plus a
//! number (`ap-guangzhou-6`).

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    region("ap-guangzhou", "cn", Some("guangzhou")).zh("广州"),
    region("ap-shenzhen-fsi", "cn", Some("shenzhen")),
    region("ap-shanghai", "cn", Some("shanghai")).zh("上海"),
    region("ap-shanghai-fsi", "cn", Some("shanghai")),
    region("ap-nanjing", "cn", Some("nanjing")).zh("南京"),
    region("ap-beijing", "cn", Some("beijing")).zh("北京"),
    region("ap-beijing-fsi", "cn", Some("beijing")),
    region("ap-chengdu", "cn", Some("chengdu")).zh("成都"),
    region("ap-chongqing", "cn", Some("chongqing")).zh("重庆"),
    region("ap-hongkong", "hk", Some("hong-kong")).zh("香港"),
    region("ap-taipei", "tw", Some("taipei")),
    region("ap-singapore", "sg", Some("singapore")).zh("新加坡"),
    region("ap-bangkok", "th", Some("bangkok")),
    region("ap-jakarta", "id", Some("jakarta")),
    region("ap-seoul", "kr", Some("seoul")),
    region("ap-tokyo", "jp", Some("tokyo")),
    region("ap-mumbai", "in", Some("mumbai")),
    region("na-siliconvalley", "us", Some("silicon-valley")).zh("硅谷"),
    region("na-ashburn", "us", Some("ashburn")),
    region("na-toronto", "ca", Some("toronto")),
    region("sa-saopaulo", "br", Some("sao-paulo")),
    region("eu-frankfurt", "de", Some("frankfurt")),
];
