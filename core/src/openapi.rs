//! OpenAPI schemas of the types whose JSON form is hand-written (strings that
//! carry a rule, money as an object with a string amount).

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::listing::{BillingMode, Category, Listing, ListingData, ListingId};
use crate::money::{Currency, Money};

fn string_schema(description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .examples([serde_json::Value::String(example.to_owned())])
        .into()
}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        string_schema("ISO 4217 currency code", "CNY")
    }
}
impl ToSchema for Currency {}

impl PartialSchema for ListingId {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "listing id: `<vendor>_<20 hex digits>`",
            "alibaba_0123456789abcdef0123",
        )
    }
}
impl ToSchema for ListingId {}

impl PartialSchema for Category {
    fn schema() -> RefOr<Schema> {
        string_schema("taxonomy category `<family>.<kind>`", "compute.vm")
    }
}
impl ToSchema for Category {}

impl PartialSchema for BillingMode {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "`on_demand`, `monthly`, `yearly`, `spot` or `reserved_<months>m`",
            "on_demand",
        )
    }
}
impl ToSchema for BillingMode {}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "an exact amount: decimal string plus ISO 4217 currency",
            ))
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .examples([serde_json::json!("0.4200")]),
            )
            .required("amount")
            .property("currency", Currency::schema())
            .required("currency")
            .into()
    }
}
impl ToSchema for Money {}

impl PartialSchema for Listing {
    fn schema() -> RefOr<Schema> {
        ListingData::schema()
    }
}
impl ToSchema for Listing {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Listing")
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ListingData::schemas(schemas);
    }
}
