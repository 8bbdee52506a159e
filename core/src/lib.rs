//! Shiyun core: the domain types every other Shiyun crate speaks.
//!
//! [`money::Money`] is an exact decimal amount with its ISO 4217 currency;
//! [`listing::Listing`] is the one model every cloud vendor's offers are
//! normalised into; [`error::ErrorCode`] is the small set of stable error codes
//! that the server maps to HTTP once; [`store`] holds the storage traits that
//! `shiyun-schema` implements on SQLite and PostgreSQL.
//!
//! The key design decision: this crate has no IO, no async runtime and no
//! database. Invariants live in constructors (`Money::new`, `Currency::parse`,
//! `Listing::builder`), so a partner embedding the library cannot build an
//! invalid value without going through the HTTP edge. The trade-off is that
//! storage is reached only through traits, and every backend must pass the same
//! conformance suite.
//!
//! ```
//! use shiyun_core::money::{Currency, Money};
//! use shiyun_core::listing::{BillingMode, Category, Listing, PriceComponent, PriceUnit, Region, Vendor};
//!
//! let cny = Currency::parse("CNY")?;
//! let hourly = Money::parse("0.4200", cny)?;
//! let listing = Listing::builder(Vendor::Alibaba, "ecs.g6.large@cn-hangzhou")
//!     .category(Category::parse("compute.vm")?)
//!     .service("ecs")
//!     .name_zh("通用型 g6 实例 ecs.g6.large")
//!     .region(Region::new("cn-hangzhou", "cn", Some("hangzhou"))?)
//!     .price(PriceComponent::flat(BillingMode::OnDemand, PriceUnit::Hour, hourly)?)
//!     .build()?;
//! assert_eq!(listing.vendor(), Vendor::Alibaba);
//! assert_eq!(listing.prices()[0].amount().to_string(), "0.4200 CNY");
//! # Ok::<(), shiyun_core::error::ValidationError>(())
//! ```

pub mod demo;
pub mod error;
pub mod listing;
pub mod money;
#[cfg(feature = "openapi")]
mod openapi;
pub mod store;

pub use error::{Detail, ErrorCode, ValidationError};
pub use money::{Currency, Money, RoundingMode};
