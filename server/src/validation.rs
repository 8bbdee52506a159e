//! Shape validation at the HTTP edge with `validator`.
//!
//! Query and body structs derive [`Validate`]; the [`ValidQuery`] and
//! [`ValidJson`] extractors run it, so a handler cannot forget to. Domain
//! rules (a vendor id, a category, a listing id) stay in `core`'s
//! constructors; this module only checks ranges, lengths and characters.
//! [`to_api_error`] is the one mapping from `validator`'s errors to the
//! envelope: when several fields fail, the first by path order is reported,
//! so the answer does not depend on hash-map order.

use std::borrow::Cow;
use std::cmp::Ordering;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::error::ApiError;

/// A query string deserialised into `T`, then validated.
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<T> FromRequest for ValidQuery<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let result = web::Query::<T>::from_request(req, payload)
            .into_inner()
            .and_then(|query| {
                let value = query.into_inner();
                value.validate().map_err(|e| to_api_error(&e))?;
                Ok(ValidQuery(value))
            });
        std::future::ready(result)
    }
}

/// A JSON body deserialised into `T`, then validated.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<T>::from_request(req, payload);
        Box::pin(async move {
            let value = body.await?.into_inner();
            value.validate().map_err(|e| to_api_error(&e))?;
            Ok(ValidJson(value))
        })
    }
}

/// A JSON body that may be left out: `None` without a body (no
/// `Content-Length` and no chunked transfer, or `Content-Length: 0`) or
/// with the body `null`, else as [`ValidJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T> FromRequest for OptionalJson<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let length = headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let chunked = headers.contains_key(actix_web::http::header::TRANSFER_ENCODING);
        if length == Some(0) || (length.is_none() && !chunked) {
            return Box::pin(std::future::ready(Ok(OptionalJson(None))));
        }
        let body = web::Json::<Option<T>>::from_request(req, payload);
        Box::pin(async move {
            let value = body.await?.into_inner();
            if let Some(value) = &value {
                value.validate().map_err(|e| to_api_error(&e))?;
            }
            Ok(OptionalJson(value))
        })
    }
}

/// One step of a field path: a struct field or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Step {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Step::Field(a), Step::Field(b)) => a.cmp(b),
            (Step::Index(a), Step::Index(b)) => a.cmp(b),
            (Step::Field(_), Step::Index(_)) => Ordering::Less,
            (Step::Index(_), Step::Field(_)) => Ordering::Greater,
        }
    }
}

fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

fn collect<'a>(
    errors: &'a ValidationErrors,
    prefix: &[Step],
    out: &mut Vec<(Vec<Step>, &'a ValidationError)>,
) {
    for (field, kind) in errors.errors() {
        let mut path = prefix.to_vec();
        path.push(Step::Field(field.to_string()));
        match kind {
            ValidationErrorsKind::Field(list) => {
                // The attributes' order on the field decides which rule is reported.
                if let Some(first) = list.first() {
                    out.push((path, first));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    let mut item_path = path.clone();
                    item_path.push(Step::Index(*index));
                    collect(inner, &item_path, out);
                }
            }
        }
    }
}

/// The envelope for `validator`'s errors: `invalid_argument` on the first
/// failing field in path order (fields by name, list items by index).
pub fn to_api_error(errors: &ValidationErrors) -> ApiError {
    let mut failures = Vec::new();
    collect(errors, &[], &mut failures);
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    match failures.first() {
        Some((path, error)) => ApiError::invalid(path_text(path), message_of(error)),
        None => ApiError::invalid("body", "invalid request"),
    }
}

fn param(error: &ValidationError, name: &str) -> Option<String> {
    error.params.get(name).map(|v| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A lowercase message from the rule that failed and its bounds.
fn message_of(error: &ValidationError) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    let (min, max) = (param(error, "min"), param(error, "max"));
    match (error.code.as_ref(), min, max) {
        ("range", Some(min), Some(max)) => format!("must be between {min} and {max}"),
        ("range", Some(min), None) => format!("must be at least {min}"),
        ("range", None, Some(max)) => format!("must be at most {max}"),
        ("length", min, max) => {
            let is_list = matches!(error.params.get("value"), Some(serde_json::Value::Array(_)));
            let what = if is_list { "items" } else { "characters" };
            let verb = if is_list { "must hold" } else { "must be" };
            match (min, max) {
                (Some(min), Some(max)) => format!("{verb} {min} to {max} {what}"),
                (Some(min), None) => format!("{verb} at least {min} {what}"),
                (None, Some(max)) => format!("{verb} at most {max} {what}"),
                (None, None) => "has the wrong length".to_owned(),
            }
        }
        (code, _, _) => format!("breaks the `{code}` rule"),
    }
}

/// Rejects control characters (`char::is_control`, which includes NUL that
/// PostgreSQL text cannot hold). Fields that use it declare the same rule to
/// OpenAPI as `pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"`.
pub fn no_control_characters(text: &str) -> Result<(), ValidationError> {
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new("control_character")
            .with_message(Cow::Borrowed("must not contain control characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Validate)]
    struct Inner {
        #[validate(range(min = 1, max = 5))]
        count: u32,
    }

    #[derive(Debug, Validate)]
    struct Outer {
        #[validate(length(min = 1, max = 3))]
        name: String,
        #[validate(range(min = 10))]
        age: u32,
        #[validate(nested)]
        items: Vec<Inner>,
        #[validate(length(max = 1))]
        tags: Vec<String>,
    }

    fn error_of(value: &Outer) -> (Option<String>, String) {
        let api = to_api_error(&value.validate().unwrap_err());
        let body = actix_web::ResponseError::error_response(&api).into_body();
        let bytes = futures::executor::block_on(actix_web::body::to_bytes(body)).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (
            json["error"]["field"].as_str().map(str::to_owned),
            json["error"]["message"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn the_first_failing_field_in_path_order_is_reported_every_time() {
        let bad = Outer {
            name: String::new(),
            age: 1,
            items: vec![Inner { count: 1 }, Inner { count: 9 }, Inner { count: 0 }],
            tags: vec!["a".into(), "b".into()],
        };
        // `age` < `items` < `name` < `tags`, whatever the hash map's order.
        for _ in 0..20 {
            assert_eq!(
                error_of(&bad),
                (Some("age".to_owned()), "must be at least 10".to_owned())
            );
        }
        let bad = Outer { age: 10, ..bad };
        assert_eq!(
            error_of(&bad),
            (
                Some("items[1].count".to_owned()),
                "must be between 1 and 5".to_owned()
            )
        );
        let bad = Outer {
            items: Vec::new(),
            ..bad
        };
        assert_eq!(
            error_of(&bad),
            (
                Some("name".to_owned()),
                "must be 1 to 3 characters".to_owned()
            )
        );
        let bad = Outer {
            name: "ok".into(),
            ..bad
        };
        assert_eq!(
            error_of(&bad),
            (
                Some("tags".to_owned()),
                "must hold at most 1 items".to_owned()
            )
        );
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["a\0b", "tab\there", "\u{7f}", "\u{85}"] {
            assert!(no_control_characters(bad).is_err(), "{bad:?}");
        }
        for good in ["cn-hangzhou", "华东 1", "a b"] {
            assert!(no_control_characters(good).is_ok(), "{good:?}");
        }
    }
}
