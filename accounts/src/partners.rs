//! Partner catalogs: an enterprise claims its own vendor id (`p-<slug>`)
//! and publishes listings under it. Ids, vendor and provenance of each
//! listing are assigned here, and an enterprise changes only its own
//! listings; the nine built-in vendors are never reachable this way.

use std::sync::Arc;

use shiyun_core::error::ValidationError;
use shiyun_core::listing::{Listing, ListingId, PartnerListingInput, PartnerVendorId};
use shiyun_core::store::{ListingStore, PartnerStore, PartnerVendor, StoreError, UpsertReport};
use shiyun_core::tenancy::{EnterpriseId, Principal};

use crate::clock::{Clock, SystemClock};
use crate::error::AccountError;
use crate::service::AccountResult;

/// The partner-catalog calls over the partner-vendor and listing stores.
#[derive(Clone)]
pub struct PartnerCatalog {
    partners: Arc<dyn PartnerStore>,
    listings: Arc<dyn ListingStore>,
    clock: Arc<dyn Clock>,
}

impl PartnerCatalog {
    /// Partner catalogs over these stores.
    pub fn new(partners: Arc<dyn PartnerStore>, listings: Arc<dyn ListingStore>) -> Self {
        PartnerCatalog {
            partners,
            listings,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same calls reading the time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Registers the caller's enterprise's vendor id, or renames it; the id
    /// never changes once registered.
    pub fn register_vendor(
        &self,
        caller: &Principal,
        slug: &str,
        name_zh: String,
        name_en: String,
    ) -> AccountResult<PartnerVendor> {
        let enterprise = enterprise_of(caller)?;
        let id = PartnerVendorId::from_slug(slug)
            .map_err(|e| ValidationError::new("slug", e.message()))?;
        let vendor = PartnerVendor::new(id, enterprise, name_zh, name_en, self.clock.now())?;
        self.partners
            .register_partner_vendor(&vendor)
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => AccountError::Taken {
                    field: "slug",
                    message: "that vendor id is taken; choose another slug".into(),
                },
                e => e.into(),
            })
    }

    /// The caller's enterprise's vendor, if it registered one.
    pub fn vendor(&self, caller: &Principal) -> AccountResult<Option<PartnerVendor>> {
        Ok(self.partners.partner_vendor_of(&enterprise_of(caller)?)?)
    }

    /// The caller's enterprise's vendor; a conflict until it registers one.
    pub fn own_vendor(&self, caller: &Principal) -> AccountResult<PartnerVendor> {
        self.vendor(caller)?.ok_or_else(|| {
            AccountError::Conflict(
                "this enterprise has no partner vendor yet; PUT /v1/partner/vendor first".into(),
            )
        })
    }

    /// Every partner vendor, for the storefront's vendor list.
    pub fn vendors(&self) -> AccountResult<Vec<PartnerVendor>> {
        Ok(self.partners.list_partner_vendors()?)
    }

    /// Publishes or updates listings under the caller's vendor id. A bad
    /// input is reported under its place in the batch (`listings[3].…`).
    pub fn publish(
        &self,
        caller: &Principal,
        inputs: Vec<PartnerListingInput>,
    ) -> AccountResult<UpsertReport> {
        let vendor = self.own_vendor(caller)?;
        let received_at = self.clock.now();
        let listings = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| {
                input
                    .into_listing(&vendor.id, received_at)
                    .map_err(|e| e.within(&format!("listings[{i}]")))
            })
            .collect::<Result<Vec<Listing>, _>>()?;
        Ok(self.listings.upsert_listings(&listings, received_at)?)
    }

    /// Retires one of the caller's listings (kept, never deleted). Another
    /// vendor's listing, or any listing before the enterprise has a vendor,
    /// answers not found.
    pub fn retire(&self, caller: &Principal, id: &ListingId) -> AccountResult<()> {
        let not_found = || StoreError::NotFound {
            entity: "listing",
            id: id.to_string(),
        };
        let vendor = self.vendor(caller)?.ok_or_else(not_found)?;
        match self.listings.get_listing(id)? {
            Some(listing) if *listing.vendor() == vendor.id => {
                self.listings.retire_listing(id, self.clock.now())?;
                Ok(())
            }
            _ => Err(not_found().into()),
        }
    }
}

/// The enterprise the caller acts for; partner catalogs belong to enterprises.
fn enterprise_of(caller: &Principal) -> AccountResult<EnterpriseId> {
    caller.tenant.enterprise().cloned().ok_or_else(|| {
        AccountError::Forbidden(
            "partner catalogs belong to enterprises; switch to one first".into(),
        )
    })
}
