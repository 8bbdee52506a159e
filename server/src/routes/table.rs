//! The route table: every route's method, path, who may call it, and its
//! handler, in one place. The application registers its routes from this
//! table and nothing else, wrapping each non-public one in
//! [`crate::auth::gate`]; the OpenAPI document takes each operation's
//! security from it, and a test holds the two to the same routes.
//!
//! Path parameters are named after what they hold (`{project}`,
//! `{account}`), so a test can put a known id of each kind into any path.

use actix_web::web;
use shiyun_core::tenancy::Permission;

use crate::routes::{
    api_keys, applications, audit, auth, billing, changes, deploy, enterprises, fx_rates, health,
    invitations, listings, market, me, members, openapi, partner, payments, projects,
    recommendations, search, sync_runs, templates, vendors, wallets,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// A person's live log-in session, whatever identity it acts as; API keys get 403.
    Session,
    /// A session or an API key.
    Signed,
    /// A session or key whose current identity grants the permission.
    Permission(Permission),
    /// A session of a platform operator account.
    Operator,
}

impl Access {
    /// The text form used in the OpenAPI document (`x-access`).
    pub fn describe(self) -> String {
        match self {
            Access::Public => "public".to_owned(),
            Access::Session => "session".to_owned(),
            Access::Signed => "signed".to_owned(),
            Access::Permission(p) => format!("permission:{p}"),
            Access::Operator => "operator".to_owned(),
        }
    }
}

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper-case name (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// actix-web's method.
    pub fn http(self) -> actix_web::http::Method {
        match self {
            Method::Get => actix_web::http::Method::GET,
            Method::Post => actix_web::http::Method::POST,
            Method::Put => actix_web::http::Method::PUT,
            Method::Delete => actix_web::http::Method::DELETE,
        }
    }
}

/// One route.
pub struct Route {
    /// Its method.
    pub method: Method,
    /// Its path, with `{param}` placeholders.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Builds the actix route to the handler.
    pub handler: fn() -> actix_web::Route,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} [{}]",
            self.method.as_str(),
            self.path,
            self.access.describe()
        )
    }
}

macro_rules! routes {
    ($($method:ident $path:literal $access:expr => $handler:path;)*) => {
        /// Every route of the API.
        pub static ROUTES: &[Route] = &[
            $(Route {
                method: Method::$method,
                path: $path,
                access: $access,
                handler: || web::route().to($handler),
            },)*
        ];
    };
}

use Access::{Operator, Public, Session, Signed};
use Permission as P;

const fn may(permission: Permission) -> Access {
    Access::Permission(permission)
}

routes! {
    // probes, documents and the storefront
    Get    "/healthz"                                  Public                      => health::healthz;
    Get    "/readyz"                                   Public                      => health::readyz;
    Get    "/openapi.json"                             Public                      => openapi::openapi_json;
    Get    "/v1/vendors"                               Public                      => vendors::list_vendors;
    Get    "/v1/listings"                              Public                      => listings::list_listings;
    Get    "/v1/listings/{id}"                         Public                      => listings::get_listing;

    // search and recommendation
    Get    "/v1/search"                                Public                      => search::search_listings;
    Get    "/v1/search/synonyms"                       Public                      => search::get_synonyms;
    Get    "/v1/fx-rates"                              Public                      => fx_rates::get_fx_rates;
    Get    "/v1/listings/{id}/equivalents"             Public                      => recommendations::list_equivalents;
    Get    "/v1/listings/{id}/similar"                 Public                      => recommendations::list_similar;
    Get    "/v1/recommendations/popular"               Public                      => recommendations::list_popular;

    // accounts and sessions
    Post   "/v1/auth/register"                         Public                      => auth::register;
    Post   "/v1/auth/login"                            Public                      => auth::login;
    Post   "/v1/auth/refresh"                          Public                      => auth::refresh;
    Post   "/v1/auth/password-reset"                   Public                      => auth::request_password_reset;
    Post   "/v1/auth/password-reset/confirm"           Public                      => auth::reset_password;
    Post   "/v1/auth/logout"                           Session                     => auth::logout;
    Get    "/v1/me"                                    Signed                      => me::get_me;
    Post   "/v1/me/identity"                           Session                     => me::switch_identity;
    Post   "/v1/me/password"                           Session                     => me::change_password;
    Post   "/v1/me/bindings"                           Session                     => me::start_binding;
    Post   "/v1/me/bindings/confirm"                   Session                     => me::confirm_binding;
    Get    "/v1/me/applications"                       Session                     => me::list_my_applications;

    // enterprises, as an individual
    Post   "/v1/enterprises"                           Session                     => enterprises::create_enterprise;
    Get    "/v1/enterprises"                           Session                     => enterprises::find_enterprises;
    Post   "/v1/enterprises/{enterprise}/applications" Session                     => enterprises::apply;
    Post   "/v1/enterprises/{enterprise}/leave"        Session                     => enterprises::leave;
    Post   "/v1/invitations/accept"                    Session                     => invitations::accept_invitation;

    // an enterprise's staff
    Get    "/v1/members"                               may(P::MembersRead)         => members::list_members;
    Put    "/v1/members/{account}/template"            may(P::MembersManage)       => members::set_member_template;
    Delete "/v1/members/{account}"                     may(P::MembersManage)       => members::remove_member;
    Post   "/v1/members/transfer-admin"                may(P::MembersManage)       => members::transfer_admin;
    Get    "/v1/applications"                          may(P::MembersRead)         => applications::list_applications;
    Post   "/v1/applications/{application}/approve"    may(P::MembersManage)       => applications::approve_application;
    Post   "/v1/applications/{application}/reject"     may(P::MembersManage)       => applications::reject_application;
    Post   "/v1/invitations"                           may(P::MembersManage)       => invitations::create_invitation;
    Get    "/v1/invitations"                           may(P::MembersRead)         => invitations::list_invitations;
    Delete "/v1/invitations/{invitation}"              may(P::MembersManage)       => invitations::revoke_invitation;

    // projects, templates, keys, audit
    Get    "/v1/projects"                              may(P::ProjectsRead)        => projects::list_projects;
    Post   "/v1/projects"                              may(P::ProjectsManage)      => projects::create_project;
    Get    "/v1/projects/{project}"                    may(P::ProjectsRead)        => projects::get_project;
    Put    "/v1/projects/{project}/members/{account}"  may(P::ProjectsManage)      => projects::add_project_member;
    Delete "/v1/projects/{project}/members/{account}"  may(P::ProjectsManage)      => projects::remove_project_member;
    Get    "/v1/templates"                             may(P::MembersRead)         => templates::list_templates;
    Post   "/v1/templates"                             may(P::TemplatesManage)     => templates::create_template;
    Put    "/v1/templates/{template}"                  may(P::TemplatesManage)     => templates::update_template;
    Delete "/v1/templates/{template}"                  may(P::TemplatesManage)     => templates::delete_template;
    Get    "/v1/api-keys"                              may(P::KeysManage)          => api_keys::list_api_keys;
    Post   "/v1/api-keys"                              may(P::KeysManage)          => api_keys::create_api_key;
    Delete "/v1/api-keys/{key}"                        may(P::KeysManage)          => api_keys::revoke_api_key;
    Get    "/v1/audit"                                 may(P::AuditRead)           => audit::list_audit;

    // billing: usage, the marketplace's plans and invoices, finance exports
    Post   "/v1/usage/events"                          may(P::UsageWrite)          => billing::ingest_usage;
    Get    "/v1/invoices"                              may(P::InvoicesRead)        => billing::list_my_invoices;
    Get    "/v1/billing/meters"                        Operator                    => billing::list_meters;
    Post   "/v1/billing/meters"                        Operator                    => billing::create_meter;
    Get    "/v1/billing/plans"                         Operator                    => billing::list_plans;
    Post   "/v1/billing/plans"                         Operator                    => billing::create_plan;
    Put    "/v1/billing/customers/{customer}"          Operator                    => billing::put_customer;
    Post   "/v1/billing/customers/{customer}/credits"  Operator                    => billing::add_credit;
    Post   "/v1/billing/subscriptions"                 Operator                    => billing::create_subscription;
    Post   "/v1/billing/subscriptions/{subscription}/plan"   Operator              => billing::change_plan;
    Post   "/v1/billing/subscriptions/{subscription}/cancel" Operator              => billing::cancel_subscription;
    Post   "/v1/billing/runs"                          Operator                    => billing::run_bill_run;
    Post   "/v1/billing/preview"                       Operator                    => billing::preview_invoice;
    Get    "/v1/billing/invoices"                      Operator                    => billing::list_invoices;
    Post   "/v1/billing/invoices/{invoice}/finalize"   Operator                    => billing::finalize_invoice;
    Post   "/v1/billing/invoices/{invoice}/void"       Operator                    => billing::void_invoice;
    Post   "/v1/billing/invoices/{invoice}/payments"   Operator                    => billing::record_payment;
    Post   "/v1/billing/invoices/{invoice}/credit-notes" Operator                  => billing::create_credit_note;
    Get    "/v1/exports/invoices"                      Operator                    => billing::export_invoices;
    Get    "/v1/exports/usage"                         Operator                    => billing::export_usage;
    Get    "/v1/exports/journal"                       Operator                    => billing::export_journal;
    // marketplace money: orders, own resources, margin rules, contracts, standing, margin report
    Post   "/v1/orders"                                may(P::OrdersCreate)        => market::create_order;
    Get    "/v1/orders"                                may(P::OrdersRead)          => market::list_my_orders;
    Get    "/v1/orders/{order}"                        may(P::OrdersRead)          => market::get_my_order;
    Post   "/v1/resources"                             may(P::OrdersCreate)        => market::register_resource;
    Get    "/v1/resources"                             may(P::OrdersRead)          => market::list_resources;
    Get    "/v1/contracts"                             may(P::OrdersRead)          => market::list_my_contracts;
    Get    "/v1/standing"                              may(P::OrdersRead)          => market::get_my_standing;
    Post   "/v1/standing/stable"                       may(P::OrdersCreate)        => market::mark_me_stable;
    Get    "/v1/billing/orders"                        Operator                    => market::list_orders;
    Post   "/v1/billing/orders/{order}/provisioning"   Operator                    => market::set_provisioning;
    Get    "/v1/billing/margin-rules"                  Operator                    => market::list_margin_rules;
    Post   "/v1/billing/margin-rules"                  Operator                    => market::create_margin_rule;
    Post   "/v1/billing/margin-rules/{rule}/retire"    Operator                    => market::retire_margin_rule;
    Get    "/v1/billing/contracts"                     Operator                    => market::list_contracts;
    Post   "/v1/billing/contracts"                     Operator                    => market::create_contract;
    Post   "/v1/billing/customers/{customer}/stable"   Operator                    => market::mark_customer_stable;
    Get    "/v1/reports/margin"                        Operator                    => market::margin_report;

    // prepaid wallets: a tenant's own, and the operator's credits and debits
    Get    "/v1/wallets"                               may(P::WalletsRead)         => wallets::list_my_wallets;
    Get    "/v1/wallets/{currency}/ledger"             may(P::WalletsRead)         => wallets::list_my_ledger;
    Put    "/v1/wallets/{currency}/settings"           may(P::WalletsTopup)        => wallets::put_my_wallet_settings;
    Put    "/v1/billing/customers/{customer}/wallets/{currency}/settings" Operator => wallets::put_wallet_settings;
    Post   "/v1/billing/customers/{customer}/wallets/{currency}/credits"  Operator => wallets::credit_wallet;
    Post   "/v1/billing/customers/{customer}/wallets/{currency}/debits"   Operator => wallets::debit_wallet;
    // payments: the provider's webhook, paying and topping up, refunds
    Post   "/v1/webhooks/stripe"                       Public                      => payments::receive_stripe_webhook;
    Post   "/v1/invoices/{invoice}/payments"           may(P::InvoicesRead)        => payments::pay_invoice;
    Post   "/v1/wallets/{currency}/top-ups"            may(P::WalletsTopup)        => payments::top_up_wallet;
    Post   "/v1/billing/invoices/{invoice}/refunds"    Operator                    => payments::refund_invoice;

    // the deployment platform: clusters, projects on clusters, applications
    Post   "/v1/clusters"                              Operator                    => deploy::register_cluster;
    Get    "/v1/clusters"                              may(P::DeploymentsRead)     => deploy::list_clusters;
    Put    "/v1/clusters/{cluster}/grants/{tenant}"    Operator                    => deploy::grant_cluster;
    Delete "/v1/clusters/{cluster}/grants/{tenant}"    Operator                    => deploy::revoke_cluster;
    Put    "/v1/projects/{project}/placement"          may(P::DeploymentsWrite)    => deploy::place_project;
    Get    "/v1/projects/{project}/placement"          may(P::DeploymentsRead)     => deploy::get_placement;
    Post   "/v1/projects/{project}/apps"               may(P::DeploymentsWrite)    => deploy::create_app;
    Get    "/v1/projects/{project}/apps"               may(P::DeploymentsRead)     => deploy::list_project_apps;
    Get    "/v1/apps"                                  may(P::DeploymentsRead)     => deploy::list_apps;
    Get    "/v1/apps/{app}"                            may(P::DeploymentsRead)     => deploy::get_app;
    Delete "/v1/apps/{app}"                            may(P::DeploymentsWrite)    => deploy::delete_app;
    Post   "/v1/apps/{app}/releases"                   may(P::DeploymentsWrite)    => deploy::deploy_release;
    Get    "/v1/apps/{app}/releases"                   may(P::DeploymentsRead)     => deploy::list_releases;
    Get    "/v1/apps/{app}/releases/{version}"         may(P::DeploymentsRead)     => deploy::get_release;
    Get    "/v1/apps/{app}/compare"                    may(P::DeploymentsRead)     => deploy::compare_releases;
    Post   "/v1/apps/{app}/rollback"                   may(P::DeploymentsWrite)    => deploy::rollback_app;
    Post   "/v1/apps/{app}/scale"                      may(P::DeploymentsWrite)    => deploy::scale_app;
    Post   "/v1/apps/{app}/stop"                       may(P::DeploymentsWrite)    => deploy::stop_app;
    Post   "/v1/apps/{app}/start"                      may(P::DeploymentsWrite)    => deploy::start_app;
    Post   "/v1/apps/{app}/restart"                    may(P::DeploymentsWrite)    => deploy::restart_app;
    Get    "/v1/apps/{app}/status"                     may(P::DeploymentsRead)     => deploy::app_status;
    Get    "/v1/apps/{app}/logs"                       may(P::DeploymentsRead)     => deploy::app_logs;
    Post   "/v1/apps/{app}/builds"                     may(P::DeploymentsWrite)    => deploy::start_build;
    Get    "/v1/apps/{app}/builds/{build}"             may(P::DeploymentsRead)     => deploy::get_build;
    Get    "/v1/apps/{app}/builds/{build}/logs"        may(P::DeploymentsRead)     => deploy::build_logs;
    Post   "/v1/apps/{app}/builds/{build}/deploy"      may(P::DeploymentsWrite)    => deploy::deploy_build;
    Get    "/v1/deployments/cost"                      may(P::DeploymentsRead)     => deploy::running_cost;

    // a partner cloud's own catalog
    Put    "/v1/partner/vendor"                        may(P::CatalogWrite)        => partner::put_partner_vendor;
    Get    "/v1/partner/vendor"                        may(P::CatalogWrite)        => partner::get_partner_vendor;
    Post   "/v1/partner/listings"                      may(P::CatalogWrite)        => partner::publish_partner_listings;
    Get    "/v1/partner/listings"                      may(P::CatalogWrite)        => partner::list_partner_listings;
    Delete "/v1/partner/listings/{listing}"            may(P::CatalogWrite)        => partner::retire_partner_listing;

    // the catalog feed, and the platform's own work
    Get    "/v1/changes"                               may(P::CatalogRead)         => changes::list_changes;
    Post   "/v1/listings/batch"                        Operator                    => listings::upsert_listings;
    Get    "/v1/sync-runs"                             Operator                    => sync_runs::list_sync_runs;
    Get    "/v1/audit/platform"                        Operator                    => audit::list_platform_audit;
    Put    "/v1/search/synonyms"                       Operator                    => search::put_synonyms;
    Post   "/v1/search/rebuild"                        Operator                    => search::rebuild_index;
    Put    "/v1/fx-rates"                              Operator                    => fx_rates::put_fx_rates;
}

/// The route table's entry for `method` on the path template `path`.
pub fn find(method: Method, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The distinct paths, in the order actix must try them: paths without
/// parameters first, so `/v1/listings/batch` is never taken for a listing id.
pub fn paths_in_match_order() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = Vec::new();
    for route in ROUTES {
        if !paths.contains(&route.path) {
            paths.push(route.path);
        }
    }
    paths.sort_by_key(|p| p.contains('{'));
    paths
}

/// The methods the table lists for `path`, as an `Allow` header (`GET, POST`).
pub fn allowed_methods(path: &str) -> String {
    let mut methods: Vec<Method> = ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect();
    methods.sort();
    methods.dedup();
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::OpenApi;

    use super::*;

    fn documented() -> serde_json::Value {
        serde_json::to_value(crate::routes::openapi::ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn the_table_and_the_openapi_document_list_the_same_routes() {
        let doc = documented();
        let mut in_doc = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "delete", "patch", "head", "options"] {
                if item.get(method).is_some() {
                    in_doc.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let in_table: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
            .collect();
        assert_eq!(in_table.len(), ROUTES.len(), "a route is listed twice");
        let undocumented: Vec<_> = in_table.difference(&in_doc).collect();
        let unrouted: Vec<_> = in_doc.difference(&in_table).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from OpenAPI: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "OpenAPI operations missing from the table: {unrouted:?}"
        );
    }

    #[test]
    fn every_protected_operation_declares_bearer_security_and_its_refusals() {
        let doc = documented();
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
            assert_eq!(op["x-access"], route.access.describe(), "{route:?}");
            let security = op["security"].as_array();
            if route.access == Access::Public {
                assert!(
                    security.is_none(),
                    "{route:?} is public yet asks for a token"
                );
                continue;
            }
            assert_eq!(
                security.cloned().unwrap_or_default(),
                vec![serde_json::json!({"bearer": []})],
                "{route:?}"
            );
            let refusals: &[&str] =
                if route.access == Access::Signed && op["responses"].get("403").is_none() {
                    // Any live session or key may call it: the gate refuses none.
                    &["401"]
                } else {
                    &["401", "403"]
                };
            for status in refusals {
                assert_eq!(
                    op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{route:?} documents {status}"
                );
            }
        }
    }

    #[test]
    fn static_paths_are_matched_before_templated_ones() {
        let order = paths_in_match_order();
        let first_templated = order.iter().position(|p| p.contains('{')).unwrap();
        assert!(order[first_templated..].iter().all(|p| p.contains('{')));
        assert_eq!(allowed_methods("/v1/projects"), "GET, POST");
        assert_eq!(
            find(Method::Post, "/v1/listings/batch").map(|r| r.access),
            Some(Access::Operator)
        );
    }
}
