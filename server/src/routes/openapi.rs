//! The OpenAPI document, generated from the real handlers. Who may call
//! each operation comes from the route table: every non-public operation
//! gets the `bearer` security requirement, its 401 and 403 answers, and an
//! `x-access` naming its access level (`permission:members:read`).

use actix_web::HttpResponse;
use shiyun_core::tenancy::Permission;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::routes::table::{self, Access, Method};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "an access token from `POST /v1/auth/login`, or an API key (`sy_key_…`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Writes each operation's access from the route table into the document.
struct TableAccess;

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .build(),
        )
        .build()
}

fn refusal(access: Access) -> &'static str {
    match access {
        Access::Public | Access::Signed => "",
        Access::Session => "an API key cannot use this route",
        Access::Permission(_) => "the current identity lacks the permission",
        Access::Operator => "not a platform operator's session",
    }
}

impl Modify for TableAccess {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::Get, item.get.as_mut()),
                (Method::Post, item.post.as_mut()),
                (Method::Put, item.put.as_mut()),
                (Method::Delete, item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                // An operation missing from the table is left bare; a test catches it.
                let Some(route) = table::find(method, path) else {
                    continue;
                };
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert("x-access".to_owned(), route.access.describe().into());
                if route.access == Access::Public {
                    continue;
                }
                operation.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
                let responses = &mut operation.responses.responses;
                responses.insert(
                    "401".to_owned(),
                    error_response("no bearer token, or one that is expired, revoked or unknown")
                        .into(),
                );
                let own = match responses.get("403") {
                    Some(RefOr::T(response)) => Some(response.description.clone()),
                    _ => None,
                };
                let description = match (route.access, own) {
                    (Access::Signed, Some(own)) => own,
                    (Access::Signed, None) => continue,
                    (access, Some(own)) => format!("{}; or {own}", refusal(access)),
                    (access, None) => refusal(access).to_owned(),
                };
                responses.insert("403".to_owned(), error_response(&description).into());
            }
        }
    }
}

/// Every operation that takes a JSON body may answer 413 (too large) and
/// 415 (not `application/json`), before the handler looks at it.
struct JsonBodies;

impl Modify for JsonBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                if operation.request_body.is_none() {
                    continue;
                }
                let responses = &mut operation.responses.responses;
                responses
                    .entry("413".to_owned())
                    .or_insert_with(|| error_response("body too large").into());
                responses
                    .entry("415".to_owned())
                    .or_insert_with(|| error_response("body is not `application/json`").into());
            }
        }
    }
}

/// A permission's JSON form is its text (`catalog:read`); the derived
/// schema would name the Rust variants, so the document states the texts.
struct PermissionTexts;

impl Modify for PermissionTexts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A feature permission: a named action a route or a template grants.",
            ))
            .enum_values(Some(Permission::ALL.iter().map(|p| p.as_str())))
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("Permission".to_owned(), schema.into());
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
        routes::search::search_listings,
        routes::search::get_synonyms,
        routes::search::put_synonyms,
        routes::search::rebuild_index,
        routes::fx_rates::get_fx_rates,
        routes::fx_rates::put_fx_rates,
        routes::recommendations::list_equivalents,
        routes::recommendations::list_similar,
        routes::recommendations::list_popular,
        routes::changes::list_changes,
        routes::sync_runs::list_sync_runs,
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::request_password_reset,
        routes::auth::reset_password,
        routes::me::get_me,
        routes::me::switch_identity,
        routes::me::change_password,
        routes::me::start_binding,
        routes::me::confirm_binding,
        routes::me::list_my_applications,
        routes::enterprises::create_enterprise,
        routes::enterprises::find_enterprises,
        routes::enterprises::apply,
        routes::enterprises::leave,
        routes::members::list_members,
        routes::members::set_member_template,
        routes::members::remove_member,
        routes::members::transfer_admin,
        routes::applications::list_applications,
        routes::applications::approve_application,
        routes::applications::reject_application,
        routes::invitations::create_invitation,
        routes::invitations::list_invitations,
        routes::invitations::revoke_invitation,
        routes::invitations::accept_invitation,
        routes::projects::list_projects,
        routes::projects::create_project,
        routes::projects::get_project,
        routes::projects::add_project_member,
        routes::projects::remove_project_member,
        routes::templates::list_templates,
        routes::templates::create_template,
        routes::templates::update_template,
        routes::templates::delete_template,
        routes::api_keys::list_api_keys,
        routes::api_keys::create_api_key,
        routes::api_keys::revoke_api_key,
        routes::audit::list_audit,
        routes::audit::list_platform_audit,
        routes::partner::put_partner_vendor,
        routes::partner::get_partner_vendor,
        routes::partner::publish_partner_listings,
        routes::partner::list_partner_listings,
        routes::partner::retire_partner_listing,
        routes::billing::ingest_usage,
        routes::billing::list_my_invoices,
        routes::billing::list_meters,
        routes::billing::create_meter,
        routes::billing::list_plans,
        routes::billing::create_plan,
        routes::billing::put_customer,
        routes::billing::add_credit,
        routes::billing::create_subscription,
        routes::billing::change_plan,
        routes::billing::cancel_subscription,
        routes::billing::run_bill_run,
        routes::billing::preview_invoice,
        routes::billing::list_invoices,
        routes::billing::finalize_invoice,
        routes::billing::void_invoice,
        routes::billing::record_payment,
        routes::billing::create_credit_note,
        routes::billing::export_invoices,
        routes::billing::export_usage,
        routes::billing::export_journal,
        routes::market::create_order,
        routes::market::list_my_orders,
        routes::market::get_my_order,
        routes::market::register_resource,
        routes::market::list_resources,
        routes::market::list_my_contracts,
        routes::market::get_my_standing,
        routes::market::mark_me_stable,
        routes::market::list_orders,
        routes::market::set_provisioning,
        routes::market::list_margin_rules,
        routes::market::create_margin_rule,
        routes::market::retire_margin_rule,
        routes::market::list_contracts,
        routes::market::create_contract,
        routes::market::mark_customer_stable,
        routes::market::margin_report,
        routes::wallets::list_my_wallets,
        routes::wallets::list_my_ledger,
        routes::wallets::put_my_wallet_settings,
        routes::wallets::put_wallet_settings,
        routes::wallets::credit_wallet,
        routes::wallets::debit_wallet,
        routes::payments::receive_stripe_webhook,
        routes::payments::pay_invoice,
        routes::payments::top_up_wallet,
        routes::payments::refund_invoice,
        routes::deploy::register_cluster,
        routes::deploy::list_clusters,
        routes::deploy::grant_cluster,
        routes::deploy::revoke_cluster,
        routes::deploy::place_project,
        routes::deploy::get_placement,
        routes::deploy::create_app,
        routes::deploy::list_project_apps,
        routes::deploy::list_apps,
        routes::deploy::get_app,
        routes::deploy::delete_app,
        routes::deploy::deploy_release,
        routes::deploy::list_releases,
        routes::deploy::get_release,
        routes::deploy::compare_releases,
        routes::deploy::rollback_app,
        routes::deploy::scale_app,
        routes::deploy::stop_app,
        routes::deploy::start_app,
        routes::deploy::restart_app,
        routes::deploy::app_status,
        routes::deploy::app_logs,
        routes::deploy::start_build,
        routes::deploy::get_build,
        routes::deploy::build_logs,
        routes::deploy::deploy_build,
        routes::deploy::running_cost,
    ),
    components(schemas(
        routes::listings::StatusFilter,
        shiyun_search::SortOrder,
        crate::error::ErrorEnvelope,
        shiyun_core::tenancy::RequestStatus,
        shiyun_core::billing::InvoiceId,
        shiyun_core::billing::SubscriptionId,
        shiyun_core::deploy::AppId,
        shiyun_core::billing::market::OrderId,
        shiyun_core::billing::market::MarginRuleId,
        shiyun_core::deploy::ClusterId,
        shiyun_core::deploy::BuildId,
        shiyun_billing::events::UsageEventInput,
        routes::billing::InvoiceStatusParam,
        routes::billing::IssuedStatusParam,
        routes::billing::ExportFormatParam,
    )),
    modifiers(&BearerAuth, &TableAccess, &JsonBodies, &PermissionTexts),
    tags(
        (name = "health", description = "probes"),
        (name = "listings", description = "the unified listing catalog"),
        (name = "search", description = "catalog search, recommendation, synonyms and exchange rates"),
        (name = "catalog", description = "vendors and catalog syncs"),
        (name = "auth", description = "register, log in, refresh, log out, recover a password"),
        (name = "me", description = "the caller's account, identity switching and security bindings"),
        (name = "enterprises", description = "create, find, apply to and leave enterprises"),
        (name = "members", description = "an enterprise's staff, applications and invitations"),
        (name = "projects", description = "projects inside an enterprise"),
        (name = "templates", description = "permission templates: feature permissions plus a data scope"),
        (name = "api-keys", description = "API keys for machines and partner clouds"),
        (name = "audit", description = "the append-only audit log"),
        (name = "partner", description = "a partner cloud's own vendor id and listings"),
        (name = "billing", description = "usage, meters, plans, subscriptions, invoices, payments and finance exports"),
        (name = "market", description = "orders with cost-plus margins, own resources, service-fee contracts and the margin report"),
        (name = "wallets", description = "prepaid wallets: balances, ledgers, credits, debits and automatic top-ups"),
        (name = "deploy", description = "clusters, projects on clusters, applications, releases, scale, rollback, status, logs, builds and running cost"),
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_documented_by_their_text() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let documented: Vec<&str> = doc["components"]["schemas"]["Permission"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let texts: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(documented, texts);
        assert!(documented.contains(&"billing:invoices:read"));
    }

    /// Every `$ref` names a schema the document holds (a type named only
    /// in a parameter's `value_type` is not collected by itself).
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &serde_json::Value, refs: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                        refs.push(target.clone());
                    }
                    map.values().for_each(|v| walk(v, refs));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(refs.len() > 100);
        for target in refs {
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{target} is not in the document"
            );
        }
    }

    /// The search crate documents its decimals exactly as core does, under
    /// the same name, so whichever registers `DecimalString` last, it is one.
    #[test]
    fn decimal_strings_of_core_and_search_agree() {
        use utoipa::PartialSchema;
        let money = serde_json::to_value(shiyun_core::money::Money::schema()).unwrap();
        let search = serde_json::to_value(shiyun_search::openapi::DecimalString::schema()).unwrap();
        assert_eq!(money["properties"]["amount"], search);
    }

    #[test]
    fn json_bodies_may_be_refused_before_the_handler() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let login = &doc["paths"]["/v1/auth/login"]["post"]["responses"];
        assert!(login["415"].is_object() && login["413"].is_object());
        let me = &doc["paths"]["/v1/me"]["get"]["responses"];
        assert!(me.get("415").is_none(), "no body, no 415");
    }
}

/// Serves the OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
