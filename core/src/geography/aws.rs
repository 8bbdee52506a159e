//! Amazon Web Services regions. The English name is the Price List's
//! `location`, which the AWS connector matches.
//!
//! Local and Wavelength Zones (`us-west-2-lax-1`) are not listed; the AWS
//! connector places them in their parent region's country.

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    region("us-east-1", "us", Some("virginia"))
        .en("US East (N. Virginia)")
        .zh("弗吉尼亚北部"),
    region("us-east-2", "us", Some("ohio"))
        .en("US East (Ohio)")
        .zh("俄亥俄"),
    region("us-west-1", "us", Some("california")).en("US West (N. California)"),
    region("us-west-2", "us", Some("oregon"))
        .en("US West (Oregon)")
        .zh("俄勒冈"),
    region("us-gov-west-1", "us", Some("oregon")).en("AWS GovCloud (US-West)"),
    region("us-gov-east-1", "us", Some("ohio")).en("AWS GovCloud (US-East)"),
    region("ca-central-1", "ca", Some("montreal")).en("Canada (Central)"),
    region("ca-west-1", "ca", Some("calgary")).en("Canada West (Calgary)"),
    region("mx-central-1", "mx", Some("queretaro")).en("Mexico (Central)"),
    region("sa-east-1", "br", Some("sao-paulo")).en("South America (Sao Paulo)"),
    region("eu-central-1", "de", Some("frankfurt"))
        .en("EU (Frankfurt)")
        .zh("法兰克福"),
    region("eu-central-2", "ch", Some("zurich")).en("EU (Zurich)"),
    region("eu-west-1", "ie", Some("dublin"))
        .en("EU (Ireland)")
        .zh("爱尔兰"),
    region("eu-west-2", "gb", Some("london")).en("EU (London)"),
    region("eu-west-3", "fr", Some("paris")).en("EU (Paris)"),
    region("eu-south-1", "it", Some("milan")).en("EU (Milan)"),
    region("eu-south-2", "es", Some("aragon")).en("EU (Spain)"),
    region("eu-north-1", "se", Some("stockholm")).en("EU (Stockholm)"),
    region("il-central-1", "il", Some("tel-aviv")).en("Israel (Tel Aviv)"),
    region("me-south-1", "bh", Some("manama")).en("Middle East (Bahrain)"),
    region("me-central-1", "ae", None).en("Middle East (UAE)"),
    region("af-south-1", "za", Some("cape-town")).en("Africa (Cape Town)"),
    region("ap-east-1", "hk", Some("hong-kong"))
        .en("Asia Pacific (Hong Kong)")
        .zh("香港"),
    region("ap-east-2", "tw", Some("taipei")).en("Asia Pacific (Taipei)"),
    region("ap-south-1", "in", Some("mumbai")).en("Asia Pacific (Mumbai)"),
    region("ap-south-2", "in", Some("hyderabad")).en("Asia Pacific (Hyderabad)"),
    region("ap-southeast-1", "sg", Some("singapore"))
        .en("Asia Pacific (Singapore)")
        .zh("新加坡"),
    region("ap-southeast-2", "au", Some("sydney")).en("Asia Pacific (Sydney)"),
    region("ap-southeast-3", "id", Some("jakarta")).en("Asia Pacific (Jakarta)"),
    region("ap-southeast-4", "au", Some("melbourne")).en("Asia Pacific (Melbourne)"),
    region("ap-southeast-5", "my", Some("kuala-lumpur")).en("Asia Pacific (Malaysia)"),
    region("ap-southeast-7", "th", Some("bangkok")).en("Asia Pacific (Thailand)"),
    region("ap-northeast-1", "jp", Some("tokyo"))
        .en("Asia Pacific (Tokyo)")
        .zh("东京"),
    region("ap-northeast-2", "kr", Some("seoul")).en("Asia Pacific (Seoul)"),
    region("ap-northeast-3", "jp", Some("osaka")).en("Asia Pacific (Osaka)"),
    region("cn-north-1", "cn", Some("beijing"))
        .en("China (Beijing)")
        .zh("北京"),
    region("cn-northwest-1", "cn", Some("ningxia"))
        .en("China (Ningxia)")
        .zh("宁夏"),
];
