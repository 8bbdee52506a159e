//! Builds the actix-web application: state, middleware, extractor error
//! handlers and routes. `Application::bind` takes port 0 for tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpRequest, HttpServer, web};
use shiyun_core::error::ErrorCode;
use shiyun_core::store::{ChangeFeed, ListingStore, StoreHealth, SyncRunStore};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::error::ApiError;
use crate::routes;
use crate::settings::Settings;

/// What handlers share: the stores (as traits, so any backend fits) and the settings.
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
    /// Settings, read-only.
    pub settings: Arc<Settings>,
}

impl AppState {
    /// State over one database that implements every store trait.
    pub fn new<S>(store: S, settings: Settings) -> Self
    where
        S: ListingStore + ChangeFeed + SyncRunStore + StoreHealth + Clone + 'static,
    {
        AppState {
            listings: Arc::new(store.clone()),
            changes: Arc::new(store.clone()),
            sync_runs: Arc::new(store.clone()),
            health: Arc::new(store),
            settings: Arc::new(settings),
        }
    }
}

/// Registers every route and the extractor error handlers on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    // A static path answers 405 to the methods it does not document, before a
    // templated sibling (`/v1/listings/{id}`) could take `GET /v1/listings/batch`.
    for (path, methods) in KnownRoutes::from_openapi().static_paths() {
        cfg.service(
            web::resource(path)
                .guard(actix_web::guard::fn_guard(move |ctx| {
                    !methods.iter().any(|m| m == ctx.head().method.as_str())
                }))
                .to(no_route),
        );
    }
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(|err, _req| json_error(err).into()),
    )
    .app_data(web::PayloadConfig::new(max_body_bytes))
    .app_data(web::QueryConfig::default().error_handler(|err, _req| query_error(err).into()))
    .app_data(web::PathConfig::default().error_handler(|err, _req| {
        ApiError::new(
            ErrorCode::InvalidArgument,
            format!("bad path parameter: {err}"),
        )
        .into()
    }))
    .service(routes::health::healthz)
    .service(routes::health::readyz)
    .service(routes::openapi::openapi_json)
    .service(routes::vendors::list_vendors)
    .service(routes::listings::list_listings)
    .service(routes::listings::upsert_listings)
    .service(routes::listings::get_listing)
    .service(routes::changes::list_changes)
    .service(routes::sync_runs::list_sync_runs);
}

fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
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

/// The documented paths and their methods, read from the OpenAPI document
/// (the one list of routes), so a wrong method gets 405 with `Allow`.
pub struct KnownRoutes(Vec<(actix_web::dev::ResourceDef, Vec<String>)>);

impl KnownRoutes {
    fn from_openapi() -> Self {
        let doc = serde_json::to_value(<routes::openapi::ApiDoc as utoipa::OpenApi>::openapi())
            .unwrap_or_default();
        let routes = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .map(|(path, item)| {
                        let methods = ["get", "post", "put", "patch", "delete"]
                            .into_iter()
                            .filter(|m| item.get(*m).is_some())
                            .map(str::to_uppercase)
                            .collect();
                        (actix_web::dev::ResourceDef::new(path.as_str()), methods)
                    })
                    .collect()
            })
            .unwrap_or_default();
        KnownRoutes(routes)
    }

    /// The documented paths without parameters, with their methods.
    fn static_paths(&self) -> Vec<(String, Vec<String>)> {
        self.0
            .iter()
            .filter(|(def, _)| !def.is_prefix() && def.pattern().is_some_and(|p| !p.contains('{')))
            .filter_map(|(def, methods)| Some((def.pattern()?.to_owned(), methods.clone())))
            .collect()
    }

    /// The methods `path` answers (`GET, POST`), when it is a known path. A
    /// documented static path is answered by its own methods alone.
    fn allowed(&self, path: &str) -> Option<String> {
        let exact = self.0.iter().any(|(def, _)| def.pattern() == Some(path));
        let mut methods: Vec<&str> = self
            .0
            .iter()
            .filter(|(def, _)| {
                if exact {
                    def.pattern() == Some(path)
                } else {
                    def.is_match(path)
                }
            })
            .flat_map(|(_, methods)| methods.iter().map(String::as_str))
            .collect();
        methods.sort_unstable();
        methods.dedup();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}

async fn no_route(
    req: HttpRequest,
    known: web::Data<KnownRoutes>,
) -> Result<actix_web::HttpResponse, ApiError> {
    if let Some(allow) = known.allowed(req.path()) {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!(
                "{} is not allowed on {}; use {allow}",
                req.method(),
                req.path()
            ),
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .with_allow(allow));
    }
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
        let known = web::Data::new(KnownRoutes::from_openapi());
        let max_body = settings.max_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(known.clone())
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
