//! The exchange-rate table search converts prices with: the settings'
//! table until an operator saves one, the saved one from then on.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::money::Currency;
use shiyun_core::search::StoredFxTable;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::validation::ValidJson;

/// The exchange rates in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct FxRates {
    /// One unit of `from` is worth `rate` units of `to`; a conversion
    /// uses a pair as given or the inverse of the opposite pair, never a
    /// chain through a third currency.
    pub rates: Vec<FxRate>,
    /// When the rates were taken, if known.
    pub as_of: Option<DateTime<Utc>>,
    /// The saved table's version; absent while the settings' table is in force.
    pub version: Option<u64>,
    /// When the table was saved.
    pub updated_at: Option<DateTime<Utc>>,
}

impl FxRates {
    fn of(table: FxTable, stored: Option<(u64, DateTime<Utc>)>) -> Self {
        FxRates {
            rates: table.rates().to_vec(),
            as_of: table.as_of(),
            version: stored.map(|(v, _)| v),
            updated_at: stored.map(|(_, at)| at),
        }
    }

    fn stored(stored: StoredFxTable) -> Self {
        FxRates::of(stored.table, Some((stored.version, stored.updated_at)))
    }
}

/// The exchange rates in force: the table an operator saved, else the
/// `[search] fx` table of the settings.
#[utoipa::path(get, path = "/v1/fx-rates", tag = "search", responses(
    (status = 200, body = FxRates),
    (status = 503, description = "database unavailable", body = ErrorEnvelope),
))]
pub async fn get_fx_rates(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let store = state.search_store.clone();
    let stored = web::block(move || store.fx_table()).await??;
    let answer = match stored {
        Some(stored) => FxRates::stored(stored),
        None => FxRates::of(state.settings.search.fx.clone(), None),
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// One rate of `PUT /v1/fx-rates`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FxRateInput {
    /// The currency converted from.
    pub from: Currency,
    /// The currency converted to; not `from`.
    pub to: Currency,
    /// Units of `to` per unit of `from`: positive, at most 16 integer
    /// digits and 12 decimal places.
    #[schema(schema_with = positive_rate)]
    pub rate: String,
}

/// Body of `PUT /v1/fx-rates`.
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct PutFxRatesRequest {
    /// The rates, each ordered pair at most once; the table is replaced whole.
    #[schema(max_items = 500)]
    #[validate(length(max = 500))]
    pub rates: Vec<FxRateInput>,
    /// When the rates were taken, if known.
    pub as_of: Option<DateTime<Utc>>,
}

/// Decimal places a rate may have.
const RATE_PLACES: usize = 12;
/// Integer digits a rate may have.
const RATE_DIGITS: usize = 16;

/// `[1-9]` and up to 15 digits with up to 12 places, or `0.` and up to 12
/// places not all zero: every positive rate the table takes, spelled plainly.
fn positive_rate_pattern() -> String {
    let below_one: Vec<String> = (0..RATE_PLACES)
        .map(|zeros| format!("0{{{zeros}}}[1-9][0-9]{{0,{}}}", RATE_PLACES - 1 - zeros))
        .collect();
    format!(
        r"^([1-9][0-9]{{0,{}}}(\.[0-9]{{1,{RATE_PLACES}}})?|0\.({}))$",
        RATE_DIGITS - 1,
        below_one.join("|")
    )
}

fn positive_rate() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("a positive decimal number as a string"))
        .pattern(Some(positive_rate_pattern()))
        .examples([serde_json::json!("7.1")])
        .into()
}

/// A rate in the spelling of [`positive_rate_pattern`], checked by hand.
fn parse_rate(field: &str, text: &str) -> ApiResult<Decimal> {
    let bad = || {
        ApiError::invalid(
            field,
            format!(
                "`{text}` is not a positive decimal of at most {RATE_DIGITS} digits and \
                 {RATE_PLACES} places"
            ),
        )
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |part: &str, max: usize| {
        (1..=max).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    let whole_ok = whole == "0" || (digits(whole, RATE_DIGITS) && !whole.starts_with('0'));
    if !whole_ok || !fraction.is_none_or(|f| digits(f, RATE_PLACES)) {
        return Err(bad());
    }
    let rate = Decimal::from_str_exact(text).map_err(|_| bad())?;
    if rate <= Decimal::ZERO {
        return Err(bad());
    }
    Ok(rate)
}

/// Replaces the exchange-rate table: saved in the store, in force on this
/// instance at once and on the others within a second.
#[utoipa::path(put, path = "/v1/fx-rates", tag = "search",
    request_body = PutFxRatesRequest,
    responses(
        (status = 200, description = "the table saved, with its new version", body = FxRates),
        (status = 400, description = "a malformed rate, a pair given twice, or a currency to itself", body = ErrorEnvelope),
        (status = 503, description = "database unavailable", body = ErrorEnvelope),
    ))]
pub async fn put_fx_rates(
    state: web::Data<AppState>,
    _operator: Caller,
    ValidJson(request): ValidJson<PutFxRatesRequest>,
) -> ApiResult<HttpResponse> {
    let rates = request
        .rates
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Ok(FxRate {
                from: r.from,
                to: r.to,
                rate: parse_rate(&format!("rates[{i}].rate"), &r.rate)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let table = FxTable::new(rates, request.as_of)?;
    let store = state.search_store.clone();
    let saved_table = table.clone();
    let stored = web::block(move || store.put_fx_table(&saved_table, Utc::now())).await??;
    state.search_index.set_fx(table);
    Ok(HttpResponse::Ok().json(FxRates::stored(stored)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_pattern_and_the_parser_agree() {
        let pattern = positive_rate_pattern();
        assert!(pattern.contains("0{11}[1-9][0-9]{0,0}"), "{pattern}");
        for good in [
            "7.1",
            "0.91",
            "0.000000000001",
            "1234567890123456.123456789012",
            "1",
        ] {
            assert!(parse_rate("r", good).is_ok(), "{good}");
        }
        for bad in [
            "0",
            "0.0",
            "-1",
            "07.1",
            "0.0000000000001",
            "1.1234567890123",
            "12345678901234567",
            ".5",
            "1e3",
        ] {
            assert!(parse_rate("r", bad).is_err(), "{bad}");
        }
    }
}
