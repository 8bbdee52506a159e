//! Usage events at the edge: each event of a batch is parsed and checked on
//! its own, so one malformed event gets its own error and the rest of the
//! batch is still accepted.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shiyun_core::ValidationError;
use shiyun_core::billing::{Aggregation, Meter, NewUsageEvent, scaled};
use shiyun_core::error::{CodedError, ErrorCode};

/// Most events in one batch.
pub const MAX_BATCH: usize = 1_000;

/// Longest idempotency key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// How far in the future an event may be dated (clock skew between senders).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);

/// One event as a client sends it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageEventInput {
    /// Unique per issuer; sending it again is answered as a duplicate.
    pub idempotency_key: String,
    /// The customer's external id.
    pub customer: String,
    /// The meter's code.
    pub meter: String,
    /// When the usage happened (RFC 3339).
    pub timestamp: DateTime<Utc>,
    /// Properties; the meter reads one of them (a number or a decimal string).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub properties: serde_json::Map<String, Value>,
}

/// What became of one event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored now.
    Accepted,
    /// Stored before with the same payload; not counted again.
    Duplicate,
    /// The key was used before with another payload; the first event stands.
    Conflict,
    /// Malformed or out of bounds; not stored.
    Rejected,
}

/// The error of one event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    /// Stable code (`invalid_argument`, `idempotency_conflict`, `not_found`).
    pub code: ErrorCode,
    /// The field at fault, within the event (`properties.gb`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// One event's result, in batch order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResult {
    /// Position in the batch, from 0.
    pub index: usize,
    /// The event's key, when it had a readable one.
    pub idempotency_key: Option<String>,
    /// What became of it.
    pub status: EventStatus,
    /// Why, when not accepted or duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

/// A batch's results.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestReport {
    /// Events stored now.
    pub accepted: usize,
    /// Events stored before.
    pub duplicates: usize,
    /// Keys reused with another payload.
    pub conflicts: usize,
    /// Malformed events.
    pub rejected: usize,
    /// One result per event, in order.
    pub results: Vec<EventResult>,
}

impl IngestReport {
    /// Counts and keeps one event's result.
    pub(crate) fn push(&mut self, result: EventResult) {
        match result.status {
            EventStatus::Accepted => self.accepted += 1,
            EventStatus::Duplicate => self.duplicates += 1,
            EventStatus::Conflict => self.conflicts += 1,
            EventStatus::Rejected => self.rejected += 1,
        }
        self.results.push(result);
    }
}

impl Extend<EventResult> for IngestReport {
    fn extend<I: IntoIterator<Item = EventResult>>(&mut self, results: I) {
        for result in results {
            self.push(result);
        }
    }
}

pub(crate) fn rejected(index: usize, key: Option<String>, error: &dyn CodedError) -> EventResult {
    EventResult {
        index,
        idempotency_key: key,
        status: EventStatus::Rejected,
        error: Some(EventError {
            code: error.code(),
            field: error.field().map(str::to_owned),
            message: error.to_string(),
        }),
    }
}

/// Parses a property as an exact decimal: a JSON number (by its text, so
/// `0.1` is exactly 0.1) or a decimal string.
pub fn property_decimal(value: &Value, field: &str) -> Result<Decimal, ValidationError> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        _ => {
            return Err(ValidationError::new(
                field,
                "must be a number or a decimal string",
            ));
        }
    };
    let parsed = shiyun_core::money::parse_decimal(&text)
        .map_err(|_| ValidationError::new(field, format!("`{text}` is not a decimal number")))?;
    // The store keeps six places; refuse rather than round.
    scaled::to_scaled(parsed, field)?;
    Ok(parsed)
}

/// Checks one parsed event against its meter and the time bounds and
/// prepares it for the store.
pub fn check_event(
    event: &UsageEventInput,
    meters: &BTreeMap<String, Meter>,
    late_window: Duration,
    now: DateTime<Utc>,
) -> Result<NewUsageEvent, ValidationError> {
    let key = &event.idempotency_key;
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "idempotency_key",
            format!("must be 1-{MAX_KEY_BYTES} bytes without control characters"),
        ));
    }
    if event.customer.is_empty() || event.customer.len() > 255 {
        return Err(ValidationError::new("customer", "must be 1-255 bytes"));
    }
    let meter = meters
        .get(&event.meter)
        .ok_or_else(|| ValidationError::new("meter", format!("no meter `{}`", event.meter)))?;
    if event.timestamp > now + FUTURE_TOLERANCE {
        return Err(ValidationError::new(
            "timestamp",
            "is more than 5 minutes in the future",
        ));
    }
    if event.timestamp < now - late_window {
        return Err(ValidationError::new(
            "timestamp",
            format!(
                "is older than the late-event window of {} days",
                late_window.num_days()
            ),
        ));
    }
    let (value, distinct_value) = match (meter.aggregation, &meter.property) {
        (Aggregation::Count, _) | (_, None) => (None, None),
        (aggregation, Some(property)) => {
            let field = format!("properties.{property}");
            let raw = event
                .properties
                .get(property)
                .ok_or_else(|| ValidationError::new(&field, "is required by the meter"))?;
            if aggregation == Aggregation::UniqueCount {
                let text = match raw {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    _ => return Err(ValidationError::new(&field, "must be a string or a number")),
                };
                (None, Some(text))
            } else {
                (Some(property_decimal(raw, &field)?), None)
            }
        }
    };
    let properties = serde_json::to_string(&event.properties)
        .map_err(|e| ValidationError::new("properties", e.to_string()))?;
    Ok(NewUsageEvent {
        idempotency_key: key.clone(),
        customer: event.customer.clone(),
        meter: event.meter.clone(),
        timestamp: event.timestamp,
        value,
        distinct_value,
        payload_hash: payload_hash(event, &properties),
        properties,
    })
}

/// SHA-256 over the event's customer, meter, instant (microseconds) and
/// properties (serde_json's maps are sorted, so key order does not matter).
fn payload_hash(event: &UsageEventInput, properties: &str) -> String {
    let mut hasher = Sha256::new();
    let micros = event.timestamp.timestamp_micros().to_string();
    for part in [
        event.customer.as_str(),
        event.meter.as_str(),
        micros.as_str(),
        properties,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn meters() -> BTreeMap<String, Meter> {
        [
            Meter {
                code: "calls".into(),
                name: "API calls".into(),
                aggregation: Aggregation::Count,
                property: None,
            },
            Meter {
                code: "storage".into(),
                name: "Storage".into(),
                aggregation: Aggregation::Sum,
                property: Some("gb".into()),
            },
            Meter {
                code: "users".into(),
                name: "Users".into(),
                aggregation: Aggregation::UniqueCount,
                property: Some("user".into()),
            },
        ]
        .into_iter()
        .map(|m| (m.code.clone(), m))
        .collect()
    }

    fn event(json: &str) -> UsageEventInput {
        serde_json::from_str(json).unwrap()
    }

    const NOW: &str = "2026-03-01T00:00:00Z";

    fn now() -> DateTime<Utc> {
        NOW.parse().unwrap()
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let e = event(
            r#"{"idempotency_key":"k","customer":"c","meter":"storage","timestamp":"2026-02-28T10:00:00Z","properties":{"gb":0.1}}"#,
        );
        let checked = check_event(&e, &meters(), Duration::days(35), now()).unwrap();
        assert_eq!(checked.value, Some(dec!(0.1)));
        let string = event(
            r#"{"idempotency_key":"k","customer":"c","meter":"storage","timestamp":"2026-02-28T10:00:00Z","properties":{"gb":"0.1"}}"#,
        );
        assert_eq!(
            check_event(&string, &meters(), Duration::days(35), now())
                .unwrap()
                .value,
            Some(dec!(0.1))
        );
    }

    #[test]
    fn bounds_and_fields_are_named() {
        let cases = [
            (
                r#""meter":"nope","timestamp":"2026-02-28T10:00:00Z""#,
                "meter",
            ),
            (
                r#""meter":"storage","timestamp":"2026-02-28T10:00:00Z""#,
                "properties.gb",
            ),
            (
                r#""meter":"calls","timestamp":"2026-03-01T00:05:01Z""#,
                "timestamp",
            ),
            (
                r#""meter":"calls","timestamp":"2026-01-24T23:59:59Z""#,
                "timestamp",
            ),
            (
                r#""meter":"storage","timestamp":"2026-02-28T10:00:00Z","properties":{"gb":"0.0000001"}"#,
                "properties.gb",
            ),
            (
                r#""meter":"storage","timestamp":"2026-02-28T10:00:00Z","properties":{"gb":true}"#,
                "properties.gb",
            ),
        ];
        for (body, field) in cases {
            let e = event(&format!(
                r#"{{"idempotency_key":"k","customer":"c",{body}}}"#
            ));
            let err = check_event(&e, &meters(), Duration::days(35), now()).unwrap_err();
            assert_eq!(err.field_name(), field, "{body}");
        }
        // Exactly 5 minutes ahead and exactly at the window's edge are accepted.
        for ts in ["2026-03-01T00:05:00Z", "2026-01-25T00:00:00Z"] {
            let e = event(&format!(
                r#"{{"idempotency_key":"k","customer":"c","meter":"calls","timestamp":"{ts}"}}"#
            ));
            assert!(
                check_event(&e, &meters(), Duration::days(35), now()).is_ok(),
                "{ts}"
            );
        }
    }

    #[test]
    fn the_hash_ignores_key_order_but_not_values() {
        let a = event(
            r#"{"idempotency_key":"k","customer":"c","meter":"users","timestamp":"2026-02-28T10:00:00Z","properties":{"user":"u1","x":1}}"#,
        );
        let b = event(
            r#"{"idempotency_key":"k","customer":"c","meter":"users","timestamp":"2026-02-28T10:00:00Z","properties":{"x":1,"user":"u1"}}"#,
        );
        let c = event(
            r#"{"idempotency_key":"k","customer":"c","meter":"users","timestamp":"2026-02-28T10:00:00Z","properties":{"x":2,"user":"u1"}}"#,
        );
        let check =
            |e: &UsageEventInput| check_event(e, &meters(), Duration::days(35), now()).unwrap();
        assert_eq!(check(&a).payload_hash, check(&b).payload_hash);
        assert_ne!(check(&a).payload_hash, check(&c).payload_hash);
        assert_eq!(check(&a).distinct_value.as_deref(), Some("u1"));
    }
}
