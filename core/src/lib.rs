//! Shiyun core: the domain types every other Shiyun crate speaks.
//!
//! [`money::Money`] is an exact decimal amount with its ISO 4217 currency;
//! [`listing::Listing`] is the one model every cloud vendor's offers are
//! normalised into, named and described by [`listing::text`] (one function
//! per category family, in Chinese and English); [`geography`] is the one
//! table of each vendor's regions, the cities they are in and their
//! bilingual names and aliases; [`error::ErrorCode`] is the small set of stable error
//! codes that the server maps to HTTP once; [`store`] holds the storage traits
//! that `shiyun-schema` implements on SQLite and PostgreSQL.
//!
//! The key design decision: this crate has no IO, no async runtime and no
//! database, and does not read the clock: times (a listing's fetch time) are
//! given by the caller. Invariants live in constructors and in deserialisation
//! (`Money::new`, `Currency::parse`, `Listing::builder`, `PriceComponent::flat`,
//! and JSON read into a `Listing` or a `PriceComponent`), so a partner
//! embedding the library cannot build an invalid value without going through
//! the HTTP edge. The trade-off is that storage is reached only through
//! traits, and every backend must pass the same conformance suite.
//!
//! Features: `openapi` derives the OpenAPI schemas of the domain types;
//! `demo` adds the seeded demo catalog generator (`demo`: the vendors' real
//! instance families and products at demo prices), which a partner
//! embedding the library does not need.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use shiyun_core::geography;
//! use shiyun_core::money::{Currency, Money};
//! use shiyun_core::listing::{BillingMode, Category, Listing, PriceComponent, PriceUnit, Provenance, Vendor};
//!
//! let cny = Currency::parse("CNY")?;
//! let hourly = Money::parse("0.4200", cny)?;
//! let fetched_at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
//! let provenance = Provenance::from_raw("alibaba.ecs.DescribePrice", b"{...}", fetched_at);
//! let hangzhou = geography::region_of(Vendor::Alibaba, "cn-hangzhou-h").expect("a known zone");
//! let listing = Listing::builder(Vendor::Alibaba, "ecs.g6.large@cn-hangzhou-h", provenance)
//!     .category(Category::parse("compute.vm")?)
//!     .service("ecs")
//!     .name_zh("通用型 g6 实例 ecs.g6.large")
//!     .region(hangzhou)
//!     .price(PriceComponent::flat(BillingMode::OnDemand, PriceUnit::Hour, hourly)?)
//!     .build()?;
//! assert_eq!(listing.vendor(), Vendor::Alibaba);
//! assert_eq!(listing.region().geography.to_string(), "cn/hangzhou");
//! assert_eq!(listing.prices()[0].amount().to_string(), "0.4200 CNY");
//! assert_eq!(listing.provenance().fetched_at, fetched_at);
//! # Ok::<(), shiyun_core::error::ValidationError>(())
//! ```

pub mod billing;
#[cfg(feature = "demo")]
pub mod demo;
pub mod deploy;
pub mod error;
pub mod fx;
pub mod geography;
pub mod listing;
pub mod money;
#[cfg(feature = "openapi")]
mod openapi;
pub mod search;
pub mod store;
pub mod tenancy;

pub use error::{Detail, ErrorCode, ValidationError};
pub use money::{Currency, Money, RoundingMode};
