//! The OpenAPI document, generated from the real handlers.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Shiyun API", description = "Cloud resource marketplace and billing backend"),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::openapi::openapi_json,
        routes::vendors::list_vendors,
        routes::listings::list_listings,
        routes::listings::get_listing,
        routes::listings::upsert_listings,
        routes::changes::list_changes,
        routes::sync_runs::list_sync_runs,
    ),
    components(schemas(routes::listings::StatusFilter)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "probes"),
        (name = "listings", description = "the unified listing catalog"),
        (name = "catalog", description = "vendors and catalog syncs"),
    )
)]
pub struct ApiDoc;

/// Serves the OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
