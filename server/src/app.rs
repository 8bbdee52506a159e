//! Builds the actix-web application: state, middleware, extractor error
//! handlers and routes. `Application::bind` takes port 0 for tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use shiyun_accounts::{PartnerCatalog, UserCentre};
use shiyun_billing::Billing;
use shiyun_billing::market::Market;
use shiyun_billing::wallet::Wallets;
use shiyun_core::billing::BillingStore;
use shiyun_core::billing::market::MarketStore;
use shiyun_core::billing::payments::PaymentStore;
use shiyun_core::billing::wallet::WalletStore;
use shiyun_core::deploy::DeployStore;
use shiyun_core::error::ErrorCode;
use shiyun_core::search::SearchStore;
use shiyun_core::store::{
    ChangeFeed, JobLock, ListingStore, PartnerStore, StoreHealth, SyncRunStore,
};
use shiyun_deploy::engine::Deployer;
use shiyun_payments::Payments;
use shiyun_search::CatalogIndex;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::error::ApiError;
use crate::routes::table::{self, Access};
use crate::search::ViewCounter;
use crate::settings::Settings;

/// What handlers share: the stores (as traits, so any backend fits), the
/// search index and the settings.
#[derive(Clone)]
pub struct AppState {
    /// The listing catalog.
    pub listings: Arc<dyn ListingStore>,
    /// The catalog change feed.
    pub changes: Arc<dyn ChangeFeed>,
    /// Sync run reports.
    pub sync_runs: Arc<dyn SyncRunStore>,
    /// Database liveness.
    pub health: Arc<dyn StoreHealth>,
    /// Partner catalogs: vendor ids and listings enterprises publish.
    pub partners: PartnerCatalog,
    /// Accounts, tenants, permissions and keys: every user-centre call.
    pub users: UserCentre,
    /// The catalog search index (kept current by [`crate::search::SearchRuntime`]).
    pub search_index: Arc<CatalogIndex>,
    /// Search settings kept in the store (synonyms, exchange rates) and
    /// the popularity counters.
    pub search_store: Arc<dyn SearchStore>,
    /// Listing views not yet written to the popularity counters.
    pub views: Arc<ViewCounter>,
    /// Settings, read-only.
    pub settings: Arc<Settings>,
    /// The marketplace's billing (the default issuer).
    pub billing: Billing,
    /// Run-once locks for jobs (bill runs) across instances.
    pub job_lock: Arc<dyn JobLock>,
    /// Marketplace money over the marketplace's billing: orders, margins,
    /// own resources, contracts, prepaid usage.
    pub market: Market,
    /// The marketplace's prepaid wallets.
    pub wallets: Wallets,
    /// The marketplace's payments (the provider of the settings).
    pub payments: Payments,
    /// The deployment platform: clusters, projects, applications, releases.
    pub deploy: Deployer,
}

impl AppState {
    /// State over one database that implements every store trait, with the
    /// user centre built over it and `index` as the search index (see
    /// [`crate::search::open_index`]; the index answers once
    /// [`crate::search::SearchRuntime::start`] has caught it up).
    pub fn new<S>(store: S, users: UserCentre, settings: Settings, index: Arc<CatalogIndex>) -> Self
    where
        S: ListingStore
            + ChangeFeed
            + SyncRunStore
            + StoreHealth
            + PartnerStore
            + SearchStore
            + BillingStore
            + MarketStore
            + WalletStore
            + PaymentStore
            + DeployStore
            + JobLock
            + Clone
            + 'static,
    {
        let billing = crate::billing::marketplace(Arc::new(store.clone()), &settings);
        let market = Market::new(
            billing.clone(),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            settings.market.clone(),
        );
        let payments =
            crate::payments::marketplace(Arc::new(store.clone()), billing.clone(), &settings)
                .with_wallets(Arc::new(store.clone()))
                .with_market(market.clone());
        AppState {
            deploy: crate::deploy::deployer(Arc::new(store.clone()), &settings),
            billing,
            market,
            wallets: crate::billing::marketplace_wallets(Arc::new(store.clone())),
            payments,
            job_lock: Arc::new(store.clone()),
            listings: Arc::new(store.clone()),
            changes: Arc::new(store.clone()),
            sync_runs: Arc::new(store.clone()),
            partners: PartnerCatalog::new(Arc::new(store.clone()), Arc::new(store.clone())),
            search_store: Arc::new(store.clone()),
            health: Arc::new(store),
            users,
            search_index: index,
            views: Arc::new(ViewCounter::default()),
            settings: Arc::new(settings),
        }
    }
}

/// Registers the extractor error handlers, then every route of the route
/// table, each non-public one behind [`crate::auth::gate`]. A path answers
/// 405 with `Allow` to the methods the table does not list for it.
pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(|err, req| json_error(err, req).into()),
    )
    .app_data(web::PayloadConfig::new(max_body_bytes))
    .app_data(web::QueryConfig::default().error_handler(|err, _req| query_error(err).into()))
    .app_data(web::PathConfig::default().error_handler(|err, _req| {
        ApiError::new(
            ErrorCode::InvalidArgument,
            format!("bad path parameter: {err}"),
        )
        .into()
    }));
    for path in table::paths_in_match_order() {
        let mut resource = web::resource(path);
        for route in table::ROUTES.iter().filter(|r| r.path == path) {
            let mut service = (route.handler)().method(route.method.http());
            if route.access != Access::Public {
                let access = route.access;
                service = service.wrap(from_fn(move |req, next| {
                    crate::auth::gate(access, req, next)
                }));
            }
            resource = resource.route(service);
        }
        let allow = table::allowed_methods(path);
        cfg.service(resource.default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move { method_not_allowed(&req, allow) }
        })));
    }
}

fn method_not_allowed(req: &HttpRequest, allow: String) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::InvalidArgument,
        format!(
            "{} is not allowed on {}; use {allow}",
            req.method(),
            req.path()
        ),
    )
    .with_status(StatusCode::METHOD_NOT_ALLOWED)
    .with_allow(allow))
}

fn json_error(err: actix_web::error::JsonPayloadError, req: &HttpRequest) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        // No body at all is missing input, not a body of the wrong type.
        E::ContentType if has_no_body(req) => {
            ApiError::invalid("body", "a JSON request body is required")
        }
        E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => ApiError::new(
            ErrorCode::InvalidArgument,
            format!("request body is larger than {limit} bytes"),
        )
        .with_field("body")
        .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        E::ContentType => ApiError::invalid("content-type", "expected application/json")
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        E::Deserialize(e) => {
            let kind = if e.is_syntax() || e.is_eof() {
                "malformed json"
            } else {
                "invalid request body"
            };
            ApiError::invalid("body", format!("{kind}: {e}"))
        }
        other => ApiError::invalid("body", format!("unreadable request body: {other}")),
    }
}

fn has_no_body(req: &HttpRequest) -> bool {
    use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
    let headers = req.headers();
    !headers.contains_key(CONTENT_TYPE)
        && !headers.contains_key(TRANSFER_ENCODING)
        && headers
            .get(CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() == b"0")
}

fn query_error(err: actix_web::error::QueryPayloadError) -> ApiError {
    let message = err.to_string();
    // serde_urlencoded names the offending key in backticks; surface it as the field.
    let field = message
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_else(|| "query".to_owned());
    ApiError::invalid(field, format!("bad query: {message}"))
}

async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    /// Binds `settings.bind` (port 0 picks a free port) and builds the server.
    pub fn bind(state: AppState) -> std::io::Result<Application> {
        let listener = TcpListener::bind(state.settings.bind)?;
        Self::from_listener(listener, state)
    }

    /// Builds the server on an already bound listener.
    pub fn from_listener(listener: TcpListener, state: AppState) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let settings = state.settings.clone();
        let data = web::Data::new(state);
        let max_body = settings.max_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(|cfg| configure(cfg, max_body))
                .default_service(web::to(no_route))
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        if let Some(id) = request_id
                            && let Ok(value) = HeaderValue::from_str(&id.to_string())
                        {
                            response
                                .headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), value);
                        }
                        Ok(response)
                    }
                })
                .wrap(TracingLogger::default())
        })
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .client_request_timeout(Duration::from_secs(30));
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        let server = server.listen(listener)?.run();
        Ok(Application { server, port })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM/SIGINT (graceful: in-flight requests finish) or stop.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The server handle, to stop it or run it in a task.
    pub fn into_server(self) -> Server {
        self.server
    }
}
