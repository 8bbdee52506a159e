//! Alibaba Cloud (阿里云) regions. A zone is its region's code plus a
//! letter (`cn-hangzhou-h`).

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    region("cn-qingdao", "cn", Some("qingdao")),
    region("cn-beijing", "cn", Some("beijing")).zh("北京"),
    region("cn-zhangjiakou", "cn", Some("zhangjiakou")).zh("张家口"),
    region("cn-huhehaote", "cn", Some("hohhot")),
    region("cn-wulanchabu", "cn", Some("ulanqab")),
    region("cn-hangzhou", "cn", Some("hangzhou")).zh("杭州"),
    region("cn-shanghai", "cn", Some("shanghai")).zh("上海"),
    region("cn-nanjing", "cn", Some("nanjing")),
    region("cn-fuzhou", "cn", Some("fuzhou")),
    region("cn-shenzhen", "cn", Some("shenzhen")).zh("深圳"),
    region("cn-heyuan", "cn", Some("heyuan")),
    region("cn-guangzhou", "cn", Some("guangzhou")),
    region("cn-chengdu", "cn", Some("chengdu")).zh("成都"),
    region("cn-wuhan-lr", "cn", Some("wuhan")),
    region("cn-hongkong", "hk", Some("hong-kong")).zh("香港"),
    region("ap-southeast-1", "sg", Some("singapore")).zh("新加坡"),
    region("ap-southeast-2", "au", Some("sydney")),
    region("ap-southeast-3", "my", Some("kuala-lumpur")),
    region("ap-southeast-5", "id", Some("jakarta")),
    region("ap-southeast-6", "ph", Some("manila")),
    region("ap-southeast-7", "th", Some("bangkok")),
    region("ap-northeast-1", "jp", Some("tokyo")),
    region("ap-northeast-2", "kr", Some("seoul")),
    region("ap-south-1", "in", Some("mumbai")),
    region("us-east-1", "us", Some("virginia")),
    region("us-west-1", "us", Some("silicon-valley")).zh("美国硅谷"),
    region("eu-west-1", "gb", Some("london")),
    region("eu-central-1", "de", Some("frankfurt")).zh("法兰克福"),
    region("me-east-1", "ae", Some("dubai")),
    region("me-central-1", "sa", Some("riyadh")),
];
