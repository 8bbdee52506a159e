//! Listing identity and the taxonomy: the stable [`ListingId`] and the
//! [`Category`] of an offer.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::VendorRef;
use crate::error::ValidationError;

/// A listing's stable id: `<vendor>_<20 hex digits>`, derived from the vendor
/// id (built-in `aws` or partner `p-acme`) and vendor SKU so every sync of
/// the same offer lands on the same row. Vendor ids hold no `_`, so the id
/// splits at its first one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ListingId(String);

impl ListingId {
    const HASH_HEX: usize = 20;

    /// The id of `vendor_sku` at `vendor` (a [`super::Vendor`], a
    /// [`super::PartnerVendorId`] or a [`VendorRef`]).
    pub fn derive(vendor: impl Into<VendorRef>, vendor_sku: &str) -> Self {
        Self::of(&vendor.into(), vendor_sku)
    }

    /// [`ListingId::derive`] without taking the vendor: every listing is
    /// checked against it.
    pub(super) fn of(vendor: &VendorRef, vendor_sku: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(vendor.id().as_bytes());
        hasher.update([0u8]);
        hasher.update(vendor_sku.as_bytes());
        let digest = hasher.finalize();
        // Only the first bytes are kept; encoding the rest would be wasted work.
        let short = hex::encode(&digest[..Self::HASH_HEX / 2]);
        ListingId(format!("{}_{short}", vendor.id()))
    }

    /// Parses an id received from outside.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("id", format!("`{text}` is not a listing id"));
        let (vendor, hash) = text.split_once('_').ok_or_else(invalid)?;
        VendorRef::parse(vendor).map_err(|_| invalid())?;
        if hash.len() != Self::HASH_HEX
            || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid());
        }
        Ok(ListingId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the vendor the listing belongs to (`aws`, `p-acme`): the
    /// part before the first `_`. Lets a caller tell whose listing an id
    /// names without reading it.
    pub fn vendor_id(&self) -> &str {
        self.0.split('_').next().unwrap_or_default()
    }
}

impl fmt::Display for ListingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ListingId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ListingId::parse(&value)
    }
}

impl From<ListingId> for String {
    fn from(id: ListingId) -> Self {
        id.0
    }
}

/// The resource families of the taxonomy. A category is `<family>.<kind>`.
pub const CATEGORY_FAMILIES: &[&str] = &[
    "compute",
    "database",
    "storage",
    "network",
    "security",
    "middleware",
    "saas",
    "industry",
];

/// The fixed taxonomy. Other `<family>.<kind>` values in a known family are
/// accepted, so the taxonomy can be extended without a release of this crate.
pub const KNOWN_CATEGORIES: &[&str] = &[
    "compute.vm",
    "compute.gpu",
    "compute.bare_metal",
    "database.relational",
    "database.cache",
    "database.nosql",
    "storage.object",
    "storage.block",
    "storage.file",
    "network.bandwidth",
    "network.cdn",
    "network.load_balancer",
    "network.ip",
    "security.ddos",
    "security.firewall",
    "middleware.queue",
];

/// A category of the taxonomy (`compute.vm`, `saas.crm`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    /// Parses `<family>.<kind>`: lowercase ASCII, digits and `_`, in a known family.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let invalid = |why: &str| ValidationError::new("category", format!("`{text}` {why}"));
        let (family, kind) = text
            .split_once('.')
            .ok_or_else(|| invalid("is not `<family>.<kind>`"))?;
        if !CATEGORY_FAMILIES.contains(&family) {
            return Err(invalid("is not in a known family"));
        }
        let valid_kind = !kind.is_empty()
            && kind.len() <= 48
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_kind {
            return Err(invalid("has an invalid kind"));
        }
        Ok(Category(text.to_owned()))
    }

    /// The category as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The family (`compute` of `compute.vm`).
    pub fn family(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Category {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Category::parse(&value)
    }
}

impl From<Category> for String {
    fn from(c: Category) -> Self {
        c.0
    }
}
