//! Embedding Shiyun's library crates without the server: open a store,
//! normalise a listing, upsert it twice, read the change feed.
//!
//! `cargo run -p shiyun-tests --example embed`

use shiyun_core::geography;
use shiyun_core::listing::{
    BillingMode, Category, Listing, PriceComponent, PriceUnit, Provenance, Vendor,
};
use shiyun_core::money::{Currency, Money, RoundingMode};
use shiyun_core::store::{ChangeFeed, ListingStore};

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("shiyun-embed-{}", std::process::id()));
    let db =
        shiyun_schema::Database::open(&format!("sqlite://{}/catalog.sqlite", dir.display()), 4)?;
    db.migrate()?;

    let hourly = Money::parse("0.4200", Currency::CNY)?;
    // The caller gives the fetch time: the library never reads the clock.
    let fetched_at = chrono::Utc::now();
    let raw = br#"{"InstanceType":"ecs.g7.large","TradePrice":0.42}"#;
    let provenance = Provenance::from_raw("alibaba.ecs.DescribePrice", raw, fetched_at);
    let hangzhou = geography::region_of(Vendor::Alibaba, "cn-hangzhou")
        .ok_or_else(|| anyhow::anyhow!("cn-hangzhou is in the region table"))?;
    let listing = Listing::builder(
        Vendor::Alibaba,
        "ecs.g7.large@cn-hangzhou/linux",
        provenance,
    )
    .category(Category::parse("compute.vm")?)
    .service("ecs")
    .name_zh("通用型实例 ecs.g7.large")
    .name_en("General Purpose ecs.g7.large")
    .region(hangzhou)
    .price(PriceComponent::flat(
        BillingMode::OnDemand,
        PriceUnit::Hour,
        hourly,
    )?)
    .build()?;

    let first = db.upsert_listings(std::slice::from_ref(&listing), fetched_at)?;
    let second = db.upsert_listings(std::slice::from_ref(&listing), chrono::Utc::now())?;
    println!("first upsert: {first:?}");
    println!("second upsert (idempotent): {second:?}");

    // A month of usage, rated at full precision and rounded once.
    let month = hourly.checked_mul(rust_decimal::Decimal::from(730))?;
    println!(
        "730 hours cost {} (rounded {})",
        month,
        month.round(RoundingMode::HalfUp)
    );

    for event in db.read_changes(0, 10)? {
        println!("change {} {:?} {}", event.seq, event.kind, event.listing_id);
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
