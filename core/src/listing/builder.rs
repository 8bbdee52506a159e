//! [`ListingBuilder`]: the way to make a [`Listing`] field by field.

use std::collections::BTreeSet;

use super::{
    Category, ListingText, LocalizedText, PriceComponent, Provenance, Region, Specs, VendorRef,
};
use super::{Listing, ListingData, ListingId, ListingStatus};
use crate::error::ValidationError;

/// Builds a [`Listing`]; [`ListingBuilder::build`] validates. Start one with
/// [`Listing::builder`].
#[derive(Debug, Clone)]
pub struct ListingBuilder {
    vendor: VendorRef,
    vendor_sku: String,
    provenance: Provenance,
    category: Option<Category>,
    service: String,
    name: LocalizedText,
    description: LocalizedText,
    region: Option<Region>,
    specs: Specs,
    prices: Vec<PriceComponent>,
    tags: BTreeSet<String>,
    status: ListingStatus,
}

impl ListingBuilder {
    pub(super) fn new(vendor: VendorRef, vendor_sku: String, provenance: Provenance) -> Self {
        ListingBuilder {
            vendor,
            vendor_sku,
            provenance,
            category: None,
            service: String::new(),
            name: LocalizedText::default(),
            description: LocalizedText::default(),
            region: None,
            specs: Specs::default(),
            prices: Vec::new(),
            tags: BTreeSet::new(),
            status: ListingStatus::Active,
        }
    }

    /// Sets the category.
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }
    /// Sets the vendor service.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }
    /// Sets the English name.
    pub fn name_en(mut self, name: impl Into<String>) -> Self {
        self.name.en = Some(name.into());
        self
    }
    /// Sets the Chinese name.
    pub fn name_zh(mut self, name: impl Into<String>) -> Self {
        self.name.zh = Some(name.into());
        self
    }
    /// Sets the English description.
    pub fn description_en(mut self, text: impl Into<String>) -> Self {
        self.description.en = Some(text.into());
        self
    }
    /// Sets the Chinese description.
    pub fn description_zh(mut self, text: impl Into<String>) -> Self {
        self.description.zh = Some(text.into());
        self
    }
    /// Sets the name and description from a [`ListingText`] (see
    /// [`super::text`]).
    pub fn text(mut self, text: ListingText) -> Self {
        self.name = text.name;
        self.description = text.description;
        self
    }
    /// Sets the region.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }
    /// Sets the specs.
    pub fn specs(mut self, specs: Specs) -> Self {
        self.specs = specs;
        self
    }
    /// Adds a price.
    pub fn price(mut self, price: PriceComponent) -> Self {
        self.prices.push(price);
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.insert(tag.into());
        self
    }
    /// Sets the status.
    pub fn status(mut self, status: ListingStatus) -> Self {
        self.status = status;
        self
    }

    /// Validates and returns the listing.
    pub fn build(self) -> Result<Listing, ValidationError> {
        let category = self
            .category
            .ok_or_else(|| ValidationError::new("category", "is required"))?;
        let region = self
            .region
            .ok_or_else(|| ValidationError::new("region", "is required"))?;
        let data = ListingData {
            id: ListingId::of(&self.vendor, &self.vendor_sku),
            vendor: self.vendor,
            vendor_sku: self.vendor_sku,
            category,
            service: self.service,
            name: self.name,
            description: self.description,
            region,
            specs: self.specs,
            // The prices are already valid; they go in beside the data.
            prices: Vec::new(),
            tags: self.tags,
            status: self.status,
            provenance: self.provenance,
        };
        Listing::checked(data, self.prices)
    }
}
