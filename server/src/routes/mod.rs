//! One module per resource; handlers are `<verb>_<resource>`: extract,
//! validate, call one store or library function, map the result. Who may
//! call each route is declared once, in [`table`].

use actix_web::web;
use shiyun_accounts::service::AccountResult;

use crate::error::ApiResult;

pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod changes;
pub mod deploy;
pub mod enterprises;
pub mod fx_rates;
pub mod health;
pub mod invitations;
pub mod listings;
pub mod market;
pub mod me;
pub mod members;
pub mod openapi;
pub mod params;
pub mod partner;
pub mod payments;
pub mod projects;
pub mod recommendations;
pub mod search;
pub mod sync_runs;
pub mod table;
pub mod templates;
pub mod vendors;
pub mod wallets;

/// Runs one user-centre call on a blocking thread (the store is synchronous).
pub(crate) async fn blocking<T, F>(call: F) -> ApiResult<T>
where
    F: FnOnce() -> AccountResult<T> + Send + 'static,
    T: Send + 'static,
{
    Ok(web::block(call).await??)
}
