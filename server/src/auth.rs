//! Who is calling, checked before any handler runs.
//!
//! Every route of [`crate::routes::table`] that is not public is wrapped in
//! [`gate`]: it reads `Authorization: Bearer`, resolves the token or key
//! with [`shiyun_accounts::UserCentre::authenticate`] on a blocking thread,
//! checks the route's [`Access`], and leaves the [`Principal`] in the
//! request's extensions, where the [`Caller`] extractor finds it. A handler
//! never checks a permission itself.

use std::net::IpAddr;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use shiyun_accounts::CallContext;
use shiyun_core::error::ErrorCode;
use shiyun_core::tenancy::{Credential, Principal};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::routes::table::Access;

/// The authenticated caller of a non-public route.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = req.extensions().get::<Caller>().cloned();
        std::future::ready(caller.ok_or_else(|| {
            // Only a public route's handler asking for a caller gets here: a bug.
            tracing::error!(
                path = req.path(),
                "handler wants a caller on a public route"
            );
            ApiError::new(ErrorCode::Internal, "internal error").into()
        }))
    }
}

/// Where the request comes from, for audit and rate limits.
#[derive(Debug, Clone)]
pub struct Client(pub CallContext);

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Client(call_context(req))))
    }
}

/// The caller's IP: the peer's address, or the last `X-Forwarded-For` hop
/// when the `trust_forwarded_for` setting says a proxy in front sets it.
pub fn call_context(req: &HttpRequest) -> CallContext {
    let trust = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.trust_forwarded_for);
    let forwarded = trust.then(|| forwarded_for(req.headers())).flatten();
    let ip = forwarded.or_else(|| req.peer_addr().map(|a| a.ip()));
    CallContext { ip }
}

/// The address the nearest proxy saw: the last entry it appended.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .last()
}

/// The bearer credential, if the request carries one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The route middleware: authenticates, checks `access`, and hands the
/// caller to the handler, or answers 401/403 without running it.
pub async fn gate(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match authorize(access, req.request()).await {
        Ok(principal) => {
            req.extensions_mut().insert(Caller(principal));
            next.call(req).await
        }
        Err(err) => Ok(req.error_response(err)),
    }
}

async fn authorize(access: Access, req: &HttpRequest) -> ApiResult<Principal> {
    let Some(token) = bearer(req.headers()) else {
        return Err(ApiError::unauthenticated(
            "this route needs `Authorization: Bearer <access token or API key>`",
        ));
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "internal error"))?;
    let users = state.users.clone();
    let ctx = call_context(req);
    let principal = web::block(move || users.authenticate(&token, &ctx)).await??;
    check(access, &principal)?;
    Ok(principal)
}

/// Whether `principal` may call a route that needs `access`.
pub fn check(access: Access, principal: &Principal) -> ApiResult<()> {
    let is_session = matches!(principal.credential, Credential::Session(_));
    match access {
        Access::Public | Access::Signed => Ok(()),
        Access::Session if is_session => Ok(()),
        Access::Session => Err(ApiError::forbidden(
            "this route needs a person's log-in session; API keys cannot use it",
        )),
        Access::Permission(permission) if principal.allows(permission) => Ok(()),
        Access::Permission(permission) => Err(ApiError::forbidden(format!(
            "the current identity lacks the `{permission}` permission"
        ))),
        Access::Operator if is_session && principal.operator => Ok(()),
        Access::Operator => Err(ApiError::forbidden("this route is for platform operators")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::http::header::HeaderValue;
    use shiyun_core::tenancy::{
        AccountId, ApiKeyId, DataScope, EnterpriseId, Permission, SessionId, Tenant,
    };

    use super::*;

    fn principal(credential: Credential, operator: bool) -> Principal {
        Principal {
            account: AccountId::from_random([1; 16]),
            credential,
            tenant: Tenant::Enterprise(EnterpriseId::from_random([2; 16])),
            permissions: BTreeSet::from([Permission::MembersRead]),
            data_scope: DataScope::All,
            projects: BTreeSet::new(),
            operator,
        }
    }

    #[test]
    fn access_levels_admit_whom_they_say() {
        let session = principal(Credential::Session(SessionId::from_random([3; 16])), false);
        let key = principal(Credential::ApiKey(ApiKeyId::from_random([4; 16])), false);
        let operator = principal(Credential::Session(SessionId::from_random([5; 16])), true);
        let operator_key = principal(Credential::ApiKey(ApiKeyId::from_random([6; 16])), true);

        assert!(check(Access::Signed, &key).is_ok());
        assert!(check(Access::Session, &session).is_ok());
        assert_eq!(
            check(Access::Session, &key).unwrap_err().code(),
            ErrorCode::Forbidden
        );
        let read = Access::Permission(Permission::MembersRead);
        let manage = Access::Permission(Permission::MembersManage);
        assert!(check(read, &key).is_ok());
        assert_eq!(
            check(manage, &session).unwrap_err().code(),
            ErrorCode::Forbidden
        );
        assert!(check(Access::Operator, &operator).is_ok());
        assert!(check(Access::Operator, &session).is_err());
        assert!(
            check(Access::Operator, &operator_key).is_err(),
            "a key is never an operator"
        );
    }

    #[test]
    fn bearer_and_forwarded_headers_are_read_strictly() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearer", None),
        ] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers).as_deref(), expected, "{value}");
        }
        headers.insert(
            actix_web::http::header::HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("203.0.113.9, not-an-ip, 198.51.100.7"),
        );
        assert_eq!(
            forwarded_for(&headers),
            Some("198.51.100.7".parse().unwrap())
        );
    }
}
