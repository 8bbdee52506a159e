//! Amounts round-trip exactly, value and scale, through upsert and get.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use shiyun_core::listing::{
    BillingMode, Category, Listing, PriceComponent, PriceUnit, Provenance, Region, Vendor,
};
use shiyun_core::money::{Currency, Money};

use crate::support::{Store, at};

pub fn amounts_round_trip_exactly<S: Store>(store: &S) {
    let currencies: Vec<Currency> = Currency::all().collect();
    let mut runner = TestRunner::new(Config {
        cases: 32,
        ..Config::default()
    });
    // Each case (shrinking included) gets its own listing.
    let n = std::cell::Cell::new(0u32);
    runner
        .run(
            &(0..=i64::MAX, 0u32..=28, 0..currencies.len()),
            |(mantissa, scale, idx)| {
                n.set(n.get() + 1);
                let money = Money::new(Decimal::new(mantissa, scale), currencies[idx]);
                let sku = format!("prop-{}", n.get());
                let provenance = Provenance::from_raw("test.api", sku.as_bytes(), at(0));
                let listing = Listing::builder(Vendor::Aws, sku, provenance)
                    .category(Category::parse("compute.vm").unwrap())
                    .service("ec2")
                    .name_en("prop")
                    .region(Region::new("us-east-1", "us", None).unwrap())
                    .price(
                        PriceComponent::flat(BillingMode::OnDemand, PriceUnit::Hour, money)
                            .unwrap(),
                    )
                    .build()
                    .unwrap();
                store
                    .upsert_listings(std::slice::from_ref(&listing), at(1))
                    .unwrap();
                let got = store.get_listing(listing.id()).unwrap().unwrap();
                let amount = got.prices()[0].amount();
                prop_assert_eq!(amount.amount(), money.amount());
                prop_assert_eq!(amount.amount().scale(), money.amount().scale());
                prop_assert_eq!(amount.currency(), money.currency());
                let history = store.price_history(listing.id()).unwrap();
                prop_assert_eq!(history[0].prices[0].amount().amount().scale(), scale);
                prop_assert_eq!(got, listing);
                Ok(())
            },
        )
        .unwrap();
}
