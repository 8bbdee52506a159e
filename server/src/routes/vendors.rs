//! The vendors Shiyun connects to.

use actix_web::HttpResponse;
use serde::Serialize;
use shiyun_core::listing::Vendor;
use utoipa::ToSchema;

/// One vendor.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorInfo {
    /// Stable id.
    pub id: Vendor,
    /// English name.
    pub name_en: &'static str,
    /// Chinese name.
    pub name_zh: &'static str,
}

/// Lists the vendors.
#[utoipa::path(get, path = "/v1/vendors", tag = "catalog", responses((status = 200, body = [VendorInfo])))]
pub async fn list_vendors() -> HttpResponse {
    let vendors: Vec<VendorInfo> = Vendor::ALL
        .into_iter()
        .map(|v| VendorInfo {
            id: v,
            name_en: v.name_en(),
            name_zh: v.name_zh(),
        })
        .collect();
    HttpResponse::Ok().json(vendors)
}
