//! Embedding Shiyun's search without the server, as a partner cloud does:
//! open a store, fill it, build an index from the store's listings and
//! change feed, query it in process, then follow a change.
//!
//! `cargo run -p shiyun-tests --example embed_search`

use shiyun_core::demo::DemoCatalog;
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::money::Currency;
use shiyun_core::store::{ChangeFeed, ListingStore};
use shiyun_search::{
    CatalogIndex, EquivalentsRequest, FacetField, IndexOptions, SearchRequest, SortOrder, catch_up,
};

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("shiyun-embed-search-{}", std::process::id()));
    let db =
        shiyun_schema::Database::open(&format!("sqlite://{}/catalog.sqlite", dir.display()), 4)?;
    db.migrate()?;
    let listings: Vec<_> = DemoCatalog::new(7, 3_000).collect();
    db.upsert_listings(&listings, chrono::Utc::now())?;

    // The index lives in its own directory; it is derived from the store
    // and resumes from its last applied change after a restart.
    let index = CatalogIndex::open(IndexOptions {
        dir: Some(dir.join("index")),
        ..IndexOptions::default()
    })?;
    index.set_fx(FxTable::new(
        vec![FxRate {
            from: Currency::USD,
            to: Currency::CNY,
            rate: "7.1".parse()?,
        }],
        None,
    )?);
    let rebuilt = catch_up(&index, &db, &db, 100_000)?;
    println!(
        "index: {} listings at feed seq {} (rebuilt: {rebuilt})",
        index.len(),
        index.applied_seq()
    );

    let mut request = SearchRequest::text("4核16G 上海 linux");
    request.facets = vec![FacetField::Vendor];
    request.currency = Some(Currency::CNY);
    request.sort = SortOrder::PriceAsc;
    request.limit = 5;
    let response = index.search(&request)?;
    println!("`{}`: {} matches", request.text, response.total);
    for chip in &response.understood.chips {
        println!("  understood {:?} from `{}`", chip.filter, chip.source);
    }
    for hit in &response.hits {
        let price = hit
            .price
            .as_ref()
            .and_then(|p| p.converted.as_ref())
            .map(|c| format!("{} {}", c.amount, c.currency))
            .unwrap_or_default();
        println!(
            "  {:<10} {:<60} {price}",
            hit.vendor.id(),
            hit.name.zh.as_deref().unwrap_or("")
        );
    }
    for facet in response.facets.get("vendor").into_iter().flatten() {
        println!("  vendor {} × {}", facet.value, facet.count);
    }
    if let Some(first) = response.hits.first() {
        let cheaper = index.equivalents(&first.id, &EquivalentsRequest::new(Currency::CNY))?;
        println!(
            "{} cheaper equivalents of {}",
            cheaper.equivalents.len(),
            first.id
        );
    }

    // A change in the store reaches the index through the change feed.
    let mut retired = listings[0].clone().into_data();
    retired.status = shiyun_core::listing::ListingStatus::Retired;
    db.upsert_listings(&[retired.try_into()?], chrono::Utc::now())?;
    let applied = index.apply_changes(&db, &db, 1_000)?;
    println!(
        "applied {applied} change(s); index at seq {} of {}",
        index.applied_seq(),
        db.latest_seq()?
    );
    drop(index);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
