//! OpenAPI schema helpers for the request and answer types (feature `openapi`).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// An exact decimal carried as a JSON string (`"0.4200"`), for fields typed
/// `Decimal`. Written exactly as `shiyun-core` documents its own decimal
/// strings, under the same component name, so the document holds one
/// `DecimalString` whichever crate registers it (the server tests that the
/// two agree).
pub struct DecimalString;

impl PartialSchema for DecimalString {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "an exact decimal number as a string with up to 28 significant digits \
                 (leading zeros aside); a longer one is refused, never rounded",
            ))
            .pattern(Some(r"^(-?[0-9]{1,28}(\.[0-9]{1,28})?)$"))
            .examples([serde_json::json!("0.4200")])
            .into()
    }
}

impl ToSchema for DecimalString {}
