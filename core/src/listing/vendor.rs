//! The cloud vendors Shiyun connects to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// The cloud vendors Shiyun connects to. The lowercase ids are used everywhere
/// (URLs, settings, ids, the change feed).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// Google Cloud.
    Gcp,
    /// Alibaba Cloud (阿里云).
    Alibaba,
    /// Tencent Cloud (腾讯云).
    Tencent,
    /// IBM Cloud.
    Ibm,
    /// China Telecom Cloud (天翼云).
    Ctyun,
    /// Kingsoft Cloud (金山云).
    Kingsoft,
    /// UCloud (优刻得).
    Ucloud,
}

impl Vendor {
    /// Every vendor, in a stable order.
    pub const ALL: [Vendor; 9] = [
        Vendor::Aws,
        Vendor::Azure,
        Vendor::Gcp,
        Vendor::Alibaba,
        Vendor::Tencent,
        Vendor::Ibm,
        Vendor::Ctyun,
        Vendor::Kingsoft,
        Vendor::Ucloud,
    ];

    /// The stable lowercase id (`aws`, `alibaba`, …).
    pub fn id(self) -> &'static str {
        match self {
            Vendor::Aws => "aws",
            Vendor::Azure => "azure",
            Vendor::Gcp => "gcp",
            Vendor::Alibaba => "alibaba",
            Vendor::Tencent => "tencent",
            Vendor::Ibm => "ibm",
            Vendor::Ctyun => "ctyun",
            Vendor::Kingsoft => "kingsoft",
            Vendor::Ucloud => "ucloud",
        }
    }

    /// Display name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Vendor::Aws => "Amazon Web Services",
            Vendor::Azure => "Microsoft Azure",
            Vendor::Gcp => "Google Cloud",
            Vendor::Alibaba => "Alibaba Cloud",
            Vendor::Tencent => "Tencent Cloud",
            Vendor::Ibm => "IBM Cloud",
            Vendor::Ctyun => "China Telecom Cloud",
            Vendor::Kingsoft => "Kingsoft Cloud",
            Vendor::Ucloud => "UCloud",
        }
    }

    /// Display name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Vendor::Aws => "亚马逊云科技",
            Vendor::Azure => "微软 Azure",
            Vendor::Gcp => "谷歌云",
            Vendor::Alibaba => "阿里云",
            Vendor::Tencent => "腾讯云",
            Vendor::Ibm => "IBM 云",
            Vendor::Ctyun => "天翼云",
            Vendor::Kingsoft => "金山云",
            Vendor::Ucloud => "优刻得",
        }
    }

    /// Other names buyers search the vendor by (`aliyun`, `亚马逊`, `AWS`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Vendor::Aws => &["AWS", "Amazon", "亚马逊", "亚马逊云"],
            Vendor::Azure => &["Azure", "Microsoft", "微软", "微软云"],
            Vendor::Gcp => &["GCP", "Google", "谷歌"],
            Vendor::Alibaba => &["aliyun", "阿里巴巴"],
            Vendor::Tencent => &["qcloud", "腾讯"],
            Vendor::Ibm => &["IBM"],
            Vendor::Ctyun => &["CTyun", "中国电信", "电信云"],
            Vendor::Kingsoft => &["ksyun", "金山"],
            Vendor::Ucloud => &["ucloud"],
        }
    }

    /// Parses a vendor id.
    pub fn parse(id: &str) -> Result<Self, ValidationError> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.id() == id)
            .ok_or_else(|| ValidationError::new("vendor", format!("unknown vendor `{id}`")))
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Vendor {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::parse(s)
    }
}

/// The id of a partner cloud that publishes its own listings: `p-<slug>`,
/// the slug 2 to 32 of `a-z`, `0-9` and `-`, neither starting nor ending
/// with `-`. No built-in vendor id starts with `p-`, so the two never meet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartnerVendorId(String);

impl PartnerVendorId {
    /// What every partner vendor id starts with.
    pub const PREFIX: &'static str = "p-";
    /// Fewest characters of a slug.
    pub const MIN_SLUG: usize = 2;
    /// Most characters of a slug.
    pub const MAX_SLUG: usize = 32;

    /// The id of `slug` (what a partner picks: `acme` gives `p-acme`).
    /// Errors name the field `slug`.
    pub fn from_slug(slug: &str) -> Result<Self, ValidationError> {
        if is_partner_slug(slug) {
            Ok(PartnerVendorId(format!("{}{slug}", Self::PREFIX)))
        } else {
            Err(ValidationError::new("slug", SLUG_RULE))
        }
    }

    /// Parses a whole id (`p-acme`). Errors name the field `vendor`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text.strip_prefix(Self::PREFIX) {
            Some(slug) if is_partner_slug(slug) => Ok(PartnerVendorId(text.to_owned())),
            _ => Err(ValidationError::new(
                "vendor",
                format!("`{text}` is not a partner vendor id: `p-` and a slug of {SLUG_RULE}"),
            )),
        }
    }

    /// The id as text (`p-acme`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug (`acme` of `p-acme`).
    pub fn slug(&self) -> &str {
        self.0.strip_prefix(Self::PREFIX).unwrap_or(&self.0)
    }
}

const SLUG_RULE: &str = "2 to 32 characters of a-z, 0-9 and `-`, not starting or ending with `-`";

fn is_partner_slug(slug: &str) -> bool {
    (PartnerVendorId::MIN_SLUG..=PartnerVendorId::MAX_SLUG).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

impl fmt::Display for PartnerVendorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PartnerVendorId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PartnerVendorId::parse(s)
    }
}

impl TryFrom<String> for PartnerVendorId {
    type Error = ValidationError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        PartnerVendorId::parse(&text)
    }
}

impl From<PartnerVendorId> for String {
    fn from(id: PartnerVendorId) -> Self {
        id.0
    }
}

/// The vendor a listing is offered by: one of the built-in clouds (written
/// only by syncs and operators) or a partner cloud (written by the partner
/// itself). Its JSON and text form is the plain id (`aws`, `p-acme`).
///
/// Ordered by the id text, as listing ids and the store are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum VendorRef {
    /// A built-in vendor.
    BuiltIn(Vendor),
    /// A partner vendor.
    Partner(PartnerVendorId),
}

impl VendorRef {
    /// Parses an id: `p-…` is a partner vendor, anything else must be a
    /// built-in one. Errors name the field `vendor`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.starts_with(PartnerVendorId::PREFIX) {
            PartnerVendorId::parse(text).map(VendorRef::Partner)
        } else {
            Vendor::parse(text).map(VendorRef::BuiltIn)
        }
    }

    /// The id (`aws`, `p-acme`).
    pub fn id(&self) -> &str {
        match self {
            VendorRef::BuiltIn(vendor) => vendor.id(),
            VendorRef::Partner(id) => id.as_str(),
        }
    }

    /// The built-in vendor, if it is one.
    pub fn builtin(&self) -> Option<Vendor> {
        match self {
            VendorRef::BuiltIn(vendor) => Some(*vendor),
            VendorRef::Partner(_) => None,
        }
    }

    /// The partner vendor, if it is one.
    pub fn partner(&self) -> Option<&PartnerVendorId> {
        match self {
            VendorRef::BuiltIn(_) => None,
            VendorRef::Partner(id) => Some(id),
        }
    }

    /// True for a partner vendor.
    pub fn is_partner(&self) -> bool {
        matches!(self, VendorRef::Partner(_))
    }
}

impl Ord for VendorRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(other.id())
    }
}

impl PartialOrd for VendorRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for VendorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for VendorRef {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VendorRef::parse(s)
    }
}

impl TryFrom<String> for VendorRef {
    type Error = ValidationError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        VendorRef::parse(&text)
    }
}

impl From<VendorRef> for String {
    fn from(vendor: VendorRef) -> Self {
        match vendor {
            VendorRef::BuiltIn(vendor) => vendor.id().to_owned(),
            VendorRef::Partner(id) => id.0,
        }
    }
}

impl From<Vendor> for VendorRef {
    fn from(vendor: Vendor) -> Self {
        VendorRef::BuiltIn(vendor)
    }
}

impl From<PartnerVendorId> for VendorRef {
    fn from(id: PartnerVendorId) -> Self {
        VendorRef::Partner(id)
    }
}

impl From<&PartnerVendorId> for VendorRef {
    fn from(id: &PartnerVendorId) -> Self {
        VendorRef::Partner(id.clone())
    }
}

impl From<&VendorRef> for VendorRef {
    fn from(vendor: &VendorRef) -> Self {
        vendor.clone()
    }
}

impl PartialEq<Vendor> for VendorRef {
    fn eq(&self, other: &Vendor) -> bool {
        self.builtin() == Some(*other)
    }
}

impl PartialEq<Vendor> for &VendorRef {
    fn eq(&self, other: &Vendor) -> bool {
        self.builtin() == Some(*other)
    }
}

impl PartialEq<VendorRef> for Vendor {
    fn eq(&self, other: &VendorRef) -> bool {
        other.builtin() == Some(*self)
    }
}

impl PartialEq<PartnerVendorId> for VendorRef {
    fn eq(&self, other: &PartnerVendorId) -> bool {
        self.partner() == Some(other)
    }
}

impl PartialEq<PartnerVendorId> for &VendorRef {
    fn eq(&self, other: &PartnerVendorId) -> bool {
        self.partner() == Some(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_ids_follow_the_slug_rule() {
        let acme = PartnerVendorId::from_slug("acme").unwrap();
        assert_eq!(acme.as_str(), "p-acme");
        assert_eq!(acme.slug(), "acme");
        assert_eq!(PartnerVendorId::parse("p-acme").unwrap(), acme);
        for good in [
            "ab",
            "a1",
            "acme-cloud",
            "x--y",
            "0123456789abcdefghijklmnopqrstuv",
        ] {
            assert!(PartnerVendorId::from_slug(good).is_ok(), "{good}");
            assert!(
                PartnerVendorId::parse(&format!("p-{good}")).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "",
            "a",
            "-ab",
            "ab-",
            "Acme",
            "ac_me",
            "ac me",
            "云计算",
            "0123456789abcdefghijklmnopqrstuvw",
        ] {
            let err = PartnerVendorId::from_slug(bad).unwrap_err();
            assert_eq!(err.field_name(), "slug", "{bad}");
            let err = PartnerVendorId::parse(&format!("p-{bad}")).unwrap_err();
            assert_eq!(err.field_name(), "vendor", "{bad}");
        }
        assert!(PartnerVendorId::parse("acme").is_err());
        assert!(PartnerVendorId::parse("P-acme").is_err());
        assert!(PartnerVendorId::parse("aws").is_err());
    }

    #[test]
    fn no_builtin_id_looks_like_a_partner_id() {
        for vendor in Vendor::ALL {
            assert!(
                !vendor.id().starts_with(PartnerVendorId::PREFIX),
                "{vendor}"
            );
        }
    }

    #[test]
    fn a_vendor_ref_is_its_plain_id_in_text_and_json() {
        let aws = VendorRef::from(Vendor::Aws);
        let acme = VendorRef::from(PartnerVendorId::parse("p-acme").unwrap());
        for (vendor, text) in [(&aws, "aws"), (&acme, "p-acme")] {
            assert_eq!(vendor.id(), text);
            assert_eq!(vendor.to_string(), text);
            assert_eq!(VendorRef::parse(text).as_ref(), Ok(vendor));
            assert_eq!(text.parse::<VendorRef>().as_ref(), Ok(vendor));
            let json = serde_json::to_string(vendor).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(&serde_json::from_str::<VendorRef>(&json).unwrap(), vendor);
        }
        // A built-in vendor's JSON is the same as before partner vendors.
        assert_eq!(
            serde_json::to_string(&aws).unwrap(),
            serde_json::to_string(&Vendor::Aws).unwrap()
        );
        assert_eq!(aws.builtin(), Some(Vendor::Aws));
        assert_eq!(aws.partner(), None);
        assert!(acme.is_partner() && !aws.is_partner());
        assert_eq!(acme.partner().map(PartnerVendorId::slug), Some("acme"));
        assert_eq!(aws, Vendor::Aws);
        assert_eq!(Vendor::Aws, aws);
        assert_ne!(acme, Vendor::Aws);
    }

    #[test]
    fn bad_vendor_refs_are_refused_with_the_vendor_field() {
        for bad in [
            "oracle", "", "p-", "p-a", "p-Acme", "p-acme-", "AWS", " aws",
        ] {
            let err = VendorRef::parse(bad).unwrap_err();
            assert_eq!(err.field_name(), "vendor", "{bad}");
            assert!(serde_json::from_value::<VendorRef>(serde_json::json!(bad)).is_err());
        }
        // The message of an unknown built-in id did not change.
        assert_eq!(
            VendorRef::parse("oracle").unwrap_err().message(),
            "unknown vendor `oracle`"
        );
        assert!(serde_json::from_value::<VendorRef>(serde_json::json!(1)).is_err());
    }

    #[test]
    fn vendor_refs_order_by_their_id_text() {
        let mut refs: Vec<VendorRef> = ["p-zeta", "ucloud", "p-acme", "alibaba", "aws"]
            .into_iter()
            .map(|t| VendorRef::parse(t).unwrap())
            .collect();
        refs.sort();
        let ids: Vec<&str> = refs.iter().map(VendorRef::id).collect();
        assert_eq!(ids, ["alibaba", "aws", "p-acme", "p-zeta", "ucloud"]);
    }
}
