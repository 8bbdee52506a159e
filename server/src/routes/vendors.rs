//! The vendors listings are offered by: the built-in clouds, then the
//! partner clouds that publish their own offers.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use shiyun_core::listing::{Vendor, VendorRef};
use shiyun_core::store::PartnerVendor;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiResult, ErrorEnvelope};

/// One vendor.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorInfo {
    /// Stable id, as listings carry it (`aws`, `p-acme`).
    pub id: VendorRef,
    /// English name.
    pub name_en: String,
    /// Chinese name.
    pub name_zh: String,
    /// Whether a partner cloud publishes it (its listings are its own);
    /// otherwise it is built in and synced by the platform.
    pub partner: bool,
}

impl From<Vendor> for VendorInfo {
    fn from(v: Vendor) -> Self {
        VendorInfo {
            id: VendorRef::BuiltIn(v),
            name_en: v.name_en().to_owned(),
            name_zh: v.name_zh().to_owned(),
            partner: false,
        }
    }
}

impl From<PartnerVendor> for VendorInfo {
    // The owning enterprise stays private: the route is public.
    fn from(v: PartnerVendor) -> Self {
        VendorInfo {
            id: VendorRef::Partner(v.id),
            name_en: v.name_en,
            name_zh: v.name_zh,
            partner: true,
        }
    }
}

/// Lists the vendors: the nine built-in ones, then every partner vendor by id.
#[utoipa::path(get, path = "/v1/vendors", tag = "catalog",
    responses(
        (status = 200, body = [VendorInfo]),
        (status = 503, description = "database unavailable", body = ErrorEnvelope),
    ))]
pub async fn list_vendors(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let partners = state.partners.clone();
    let partners = web::block(move || partners.vendors()).await??;
    let vendors: Vec<VendorInfo> = Vendor::ALL
        .into_iter()
        .map(VendorInfo::from)
        .chain(partners.into_iter().map(VendorInfo::from))
        .collect();
    Ok(HttpResponse::Ok().json(vendors))
}
