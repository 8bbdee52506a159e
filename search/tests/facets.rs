//! Counts, filters, price conversion and paging against brute force:
//! random catalogs (vendors, categories, regions, specs, billing modes,
//! prices in USD, CNY and EUR, which has no rate) and random filters; the
//! index must agree exactly with counting the same listings by hand.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{listing, price, usd_cny};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_core::fx::FxTable;
use shiyun_core::listing::{
    Architecture, BillingMode, Listing, ListingStatus, Specs, Vendor, VendorRef,
};
use shiyun_core::money::Currency;
use shiyun_search::{
    CatalogIndex, FacetField, Filters, IndexOptions, Range, SearchRequest, SearchResponse,
    SortOrder,
};

const VENDORS: [(Vendor, [&str; 3]); 4] = [
    (Vendor::Aws, ["us-east-1", "us-west-2", "eu-central-1"]),
    (
        Vendor::Alibaba,
        ["cn-shanghai", "cn-hangzhou", "cn-beijing"],
    ),
    (
        Vendor::Tencent,
        ["ap-shanghai", "ap-guangzhou", "ap-beijing"],
    ),
    (Vendor::Azure, ["eastus", "westeurope", "eastus2"]),
];
const CATEGORIES: [&str; 4] = [
    "compute.vm",
    "compute.gpu",
    "database.relational",
    "storage.object",
];
const SERVICES: [&str; 3] = ["ecs", "ec2", "rds"];
const MODES: [BillingMode; 6] = [
    BillingMode::OnDemand,
    BillingMode::Monthly,
    BillingMode::Yearly,
    BillingMode::Spot,
    BillingMode::Reserved { term_months: 12 },
    // No price field of its own: only ever a headline.
    BillingMode::Reserved { term_months: 24 },
];
const CURRENCIES: [Currency; 3] = [Currency::USD, Currency::CNY, Currency::EUR];
const GPU_MODELS: [&str; 3] = ["NVIDIA A100", "NVIDIA T4", "AMD MI300X"];
const OS: [&str; 3] = ["linux", "Windows", "rhel"];
/// Words of the names, far apart in spelling (no typo of one is another).
const WORDS: [&str; 3] = ["kestrel", "osprey", "heron"];
const VCPUS: [u32; 6] = [1, 2, 4, 8, 16, 96];
const MEMORY: [&str; 7] = ["0.5", "1", "1.5", "4", "8", "16", "384"];

/// What a random listing is made of.
#[derive(Debug, Clone)]
struct Item {
    vendor: usize,
    region: usize,
    category: usize,
    service: usize,
    vcpu: Option<u32>,
    memory: Option<usize>,
    gpu: Option<(u32, usize)>,
    arch: Option<bool>,
    os: Option<usize>,
    currency: usize,
    /// (billing mode, mantissa, scale): a listing may price a mode twice
    /// (the first counts) or not at all.
    prices: Vec<(usize, i64, u32)>,
    retired: bool,
    word: usize,
}

fn item() -> impl Strategy<Value = Item> {
    (
        (
            0..VENDORS.len(),
            0..3_usize,
            0..CATEGORIES.len(),
            0..SERVICES.len(),
        ),
        (
            prop::option::of(prop::sample::select(VCPUS.to_vec())),
            prop::option::of(0..MEMORY.len()),
            prop::option::of((1..9_u32, 0..GPU_MODELS.len())),
            prop::option::of(any::<bool>()),
            prop::option::of(0..OS.len()),
        ),
        0..CURRENCIES.len(),
        prop::collection::vec((0..MODES.len(), 0..3_000_000_i64, 0..=5_u32), 0..4),
        prop::bool::weighted(0.1),
        0..WORDS.len(),
    )
        .prop_map(
            |(
                (vendor, region, category, service),
                (vcpu, memory, gpu, arch, os),
                currency,
                prices,
                retired,
                word,
            )| Item {
                vendor,
                region,
                category,
                service,
                vcpu,
                memory,
                gpu,
                arch,
                os,
                currency,
                prices,
                retired,
                word,
            },
        )
}

fn make(i: usize, item: &Item) -> Listing {
    let (vendor, regions) = VENDORS[item.vendor];
    let currency = CURRENCIES[item.currency];
    let specs = Specs {
        vcpu: item.vcpu,
        memory_gib: item.memory.map(|m| MEMORY[m].parse().unwrap()),
        gpu_count: item.gpu.map(|(n, _)| n),
        gpu_model: item.gpu.map(|(_, m)| GPU_MODELS[m].to_owned()),
        architecture: item.arch.map(|arm| {
            if arm {
                Architecture::Arm64
            } else {
                Architecture::X86_64
            }
        }),
        os: item.os.map(|o| OS[o].to_owned()),
        ..Specs::default()
    };
    listing(
        vendor,
        &format!("sku-{i:03}"),
        CATEGORIES[item.category],
        regions[item.region],
        |mut b| {
            b = b
                .service(SERVICES[item.service])
                .name_en(format!("Offer {i} {}", WORDS[item.word]))
                .specs(specs);
            for (mode, mantissa, scale) in &item.prices {
                b = b.price(price(
                    MODES[*mode],
                    Decimal::new(*mantissa, *scale),
                    currency,
                ));
            }
            if item.retired {
                b = b.status(ListingStatus::Retired);
            }
            b
        },
    )
}

/// One end of a price range: a listing's own converted price (the exact
/// boundary) or any amount.
#[derive(Debug, Clone)]
enum Bound {
    Open,
    AtListing(usize),
    Amount(i64, u32),
}

fn bound() -> impl Strategy<Value = Bound> {
    prop_oneof![
        4 => Just(Bound::Open),
        2 => (0..64_usize).prop_map(Bound::AtListing),
        1 => (0..30_000_000_i64, 2..=7_u32).prop_map(|(m, s)| Bound::Amount(m, s)),
    ]
}

/// What a random request is made of.
#[derive(Debug, Clone)]
struct Ask {
    vendors: Vec<usize>,
    categories: Vec<&'static str>,
    services: Vec<&'static str>,
    regions: Vec<&'static str>,
    countries: Vec<&'static str>,
    cities: Vec<&'static str>,
    modes: Vec<usize>,
    architectures: Vec<&'static str>,
    os: Vec<&'static str>,
    gpu_models: Vec<&'static str>,
    vcpu: (Option<u32>, Option<u32>),
    memory: (Option<usize>, Option<usize>),
    gpu_count: (Option<u32>, Option<u32>),
    price: (Bound, Bound),
    currency: Option<usize>,
    billing_mode: Option<usize>,
    facets: Vec<FacetField>,
    histogram: bool,
    limit: u32,
    text: Option<usize>,
}

fn few<T: Clone + std::fmt::Debug + 'static>(values: Vec<T>) -> impl Strategy<Value = Vec<T>> {
    prop_oneof![
        14 => Just(Vec::new()),
        1 => prop::sample::subsequence(values, 1..=2),
    ]
}

fn ask() -> impl Strategy<Value = Ask> {
    (
        (
            few((0..VENDORS.len()).collect()),
            few(vec![
                "compute.vm",
                "compute.*",
                "database.*",
                "storage.object",
            ]),
            few(SERVICES.to_vec()),
            few(vec![
                "cn-shanghai",
                "ap-shanghai",
                "us-east-1",
                "eastus",
                "westeurope",
            ]),
            few(vec!["cn", "us", "de", "nl"]),
            few(vec!["shanghai", "beijing", "ashburn"]),
        ),
        (
            few((0..MODES.len()).collect()),
            few(vec!["x86_64", "arm64"]),
            few(vec!["linux", "WINDOWS", "rhel"]),
            few(vec!["a100", "nvidia", "NVIDIA T4", "mi300x"]),
        ),
        (
            (
                prop::option::weighted(0.15, prop::sample::select(VCPUS.to_vec())),
                prop::option::weighted(0.15, prop::sample::select(VCPUS.to_vec())),
            ),
            (
                prop::option::weighted(0.15, 0..MEMORY.len()),
                prop::option::weighted(0.15, 0..MEMORY.len()),
            ),
            (
                prop::option::weighted(0.1, 0..5_u32),
                prop::option::weighted(0.1, 0..5_u32),
            ),
            (bound(), bound()),
        ),
        (
            prop::option::of(0..CURRENCIES.len()),
            prop::option::weighted(0.15, 0..MODES.len() - 1),
            prop::sample::subsequence(FacetField::ALL.to_vec(), 0..=FacetField::ALL.len()),
            any::<bool>(),
            1..8_u32,
            prop::option::weighted(0.3, 0..WORDS.len()),
        ),
    )
        .prop_map(
            |(
                (vendors, categories, services, regions, countries, cities),
                (modes, architectures, os, gpu_models),
                (vcpu, memory, gpu_count, price),
                (currency, billing_mode, facets, histogram, limit, text),
            )| Ask {
                vendors,
                categories,
                services,
                regions,
                countries,
                cities,
                modes,
                architectures,
                os,
                gpu_models,
                vcpu,
                memory,
                gpu_count,
                price,
                currency,
                billing_mode,
                facets,
                histogram,
                limit,
                text,
            },
        )
}

/// A range with its ends in order (a reversed one is refused, tested apart).
fn range<T: PartialOrd + Copy>((a, b): (Option<T>, Option<T>)) -> Range<T> {
    match (a, b) {
        (Some(a), Some(b)) if a > b => Range {
            min: Some(b),
            max: Some(a),
        },
        (min, max) => Range { min, max },
    }
}

/// The price of `listing` a search shows and matches: the first one of
/// `mode`, or the headline (the first of the first mode priced in the
/// order on demand, monthly, yearly, spot, reserved 12 and 36 months, else
/// the first of all).
fn shown_price(listing: &Listing, mode: Option<BillingMode>) -> Option<(Decimal, Currency)> {
    let prices = listing.prices();
    let found = match mode {
        Some(mode) => prices.iter().find(|p| p.billing_mode() == mode),
        None => [
            BillingMode::OnDemand,
            BillingMode::Monthly,
            BillingMode::Yearly,
            BillingMode::Spot,
            BillingMode::Reserved { term_months: 12 },
            BillingMode::Reserved { term_months: 36 },
        ]
        .iter()
        .find_map(|m| prices.iter().find(|p| p.billing_mode() == *m))
        .or_else(|| prices.first()),
    }?;
    Some((found.amount().amount(), found.amount().currency()))
}

/// That price in `target`, exactly.
fn converted(
    listing: &Listing,
    mode: Option<BillingMode>,
    target: Currency,
    fx: &FxTable,
) -> Option<Decimal> {
    let (amount, currency) = shown_price(listing, mode)?;
    Some(amount * fx.rate(currency, target)?.rate)
}

fn request_of(ask: &Ask, listings: &[Listing], fx: &FxTable) -> SearchRequest {
    let mut request = SearchRequest::text(ask.text.map_or("", |w| WORDS[w]));
    request.understand = false;
    request.limit = ask.limit;
    request.currency = ask.currency.map(|c| CURRENCIES[c]);
    request.billing_mode = ask.billing_mode.map(|m| MODES[m]);
    request.facets = ask.facets.clone();
    request.histogram = ask.histogram;
    let target = request.currency.unwrap_or(Currency::CNY);
    let amount = |b: &Bound| match b {
        Bound::Open => None,
        // A listing without a converted price gives an open end.
        Bound::AtListing(i) if !listings.is_empty() => converted(
            &listings[i % listings.len()],
            request.billing_mode,
            target,
            fx,
        ),
        Bound::AtListing(_) => None,
        Bound::Amount(m, s) => Some(Decimal::new(*m, *s)),
    };
    let price = range((amount(&ask.price.0), amount(&ask.price.1)));
    if (!price.is_open() || ask.histogram) && request.currency.is_none() {
        request.currency = Some(target);
    }
    request.filters = Filters {
        vendors: ask
            .vendors
            .iter()
            .map(|v| VendorRef::from(VENDORS[*v].0))
            .collect(),
        categories: ask.categories.iter().map(|s| (*s).to_owned()).collect(),
        services: ask.services.iter().map(|s| (*s).to_owned()).collect(),
        regions: ask.regions.iter().map(|s| (*s).to_owned()).collect(),
        countries: ask.countries.iter().map(|s| (*s).to_owned()).collect(),
        cities: ask.cities.iter().map(|s| (*s).to_owned()).collect(),
        billing_modes: ask.modes.iter().map(|m| MODES[*m]).collect(),
        architectures: ask.architectures.iter().map(|s| (*s).to_owned()).collect(),
        os: ask.os.iter().map(|s| (*s).to_owned()).collect(),
        gpu_models: ask.gpu_models.iter().map(|s| (*s).to_owned()).collect(),
        vcpu: range(ask.vcpu),
        memory_gib: range((
            ask.memory.0.map(|m| MEMORY[m].parse().unwrap()),
            ask.memory.1.map(|m| MEMORY[m].parse().unwrap()),
        )),
        gpu_count: range(ask.gpu_count),
        price,
    };
    request
}

fn architecture_text(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
        Architecture::Power => "power",
    }
}

/// Whether `listing` is a match of `request`, decided by hand.
fn matches(listing: &Listing, request: &SearchRequest, fx: &FxTable) -> bool {
    let f = &request.filters;
    let specs = listing.specs();
    let region = listing.region();
    let any = |values: &[String], value: Option<&str>| {
        values.is_empty() || value.is_some_and(|v| values.iter().any(|x| x == v))
    };
    let modes: Vec<BillingMode> = listing.prices().iter().map(|p| p.billing_mode()).collect();
    let category_ok = f.categories.is_empty()
        || f.categories.iter().any(|c| match c.strip_suffix(".*") {
            Some(family) => listing.category().family() == family,
            None => listing.category().as_str() == c,
        });
    let gpu_ok = f.gpu_models.is_empty()
        || f.gpu_models.iter().any(|model| {
            let words: Vec<String> = specs
                .gpu_model
                .iter()
                .flat_map(|m| m.split(' ').map(str::to_lowercase))
                .collect();
            model.split(' ').all(|w| words.contains(&w.to_lowercase()))
        });
    let price_ok = f.price.is_open()
        || request.currency.is_some_and(|target| {
            converted(listing, request.billing_mode, target, fx)
                .is_some_and(|p| f.price.contains(p))
        });
    let text_ok = request.text.is_empty()
        || listing
            .name()
            .en
            .as_deref()
            .is_some_and(|name| name.split(' ').any(|w| w == request.text));
    listing.status() == ListingStatus::Active
        && text_ok
        && (f.vendors.is_empty() || f.vendors.contains(listing.vendor()))
        && category_ok
        && any(&f.services, Some(listing.service()))
        && any(&f.regions, Some(&region.code))
        && any(&f.countries, Some(&region.geography.country))
        && any(&f.cities, region.geography.city.as_deref())
        && (f.billing_modes.is_empty() || f.billing_modes.iter().any(|m| modes.contains(m)))
        && any(&f.architectures, specs.architecture.map(architecture_text))
        && (f.os.is_empty()
            || specs
                .os
                .as_ref()
                .is_some_and(|os| f.os.iter().any(|x| x.to_lowercase() == os.to_lowercase())))
        && gpu_ok
        && specs.vcpu.map_or(f.vcpu.is_open(), |v| f.vcpu.contains(v))
        && specs
            .memory_gib
            .map_or(f.memory_gib.is_open(), |m| f.memory_gib.contains(m))
        && specs
            .gpu_count
            .map_or(f.gpu_count.is_open(), |n| f.gpu_count.contains(n))
        && request
            .billing_mode
            .is_none_or(|mode| modes.contains(&mode))
        && price_ok
}

/// The values `listing` counts under `facet`.
fn facet_values(listing: &Listing, facet: FacetField) -> Vec<String> {
    let specs = listing.specs();
    let region = listing.region();
    match facet {
        FacetField::Vendor => vec![listing.vendor().id().to_owned()],
        FacetField::Category => vec![listing.category().as_str().to_owned()],
        FacetField::Service => vec![listing.service().to_owned()],
        FacetField::Region => vec![region.code.clone()],
        FacetField::Country => vec![region.geography.country.clone()],
        FacetField::City => region.geography.city.iter().cloned().collect(),
        FacetField::BillingMode => listing
            .prices()
            .iter()
            .map(|p| p.billing_mode().as_text())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        FacetField::Architecture => specs
            .architecture
            .map(|a| architecture_text(a).to_owned())
            .into_iter()
            .collect(),
        FacetField::Os => specs.os.iter().map(|o| o.to_lowercase()).collect(),
        FacetField::Vcpu => specs.vcpu.iter().map(u32::to_string).collect(),
        FacetField::MemoryGib => specs
            .memory_gib
            .iter()
            .map(|m| m.normalize().to_string())
            .collect(),
        FacetField::GpuModel => specs.gpu_model.iter().cloned().collect(),
        FacetField::GpuCount => specs.gpu_count.iter().map(u32::to_string).collect(),
    }
}

/// The lower edges of the histogram bands: 0, then 1-2-5 steps from 0.001.
fn band_edges() -> Vec<Decimal> {
    let mut edges = vec![Decimal::ZERO];
    let mut decade = dec!(0.001);
    for _ in 0..10 {
        for step in [1, 2, 5] {
            edges.push(decade * Decimal::from(step));
        }
        decade *= Decimal::TEN;
    }
    edges
}

fn index_of(listings: &[Listing], fx: &FxTable) -> CatalogIndex {
    let index = CatalogIndex::open(IndexOptions {
        rebuild_threads: 1,
        rebuild_memory_bytes: 15 << 20,
        ..IndexOptions::default()
    })
    .unwrap();
    index
        .rebuild_with(7, listings.iter().cloned(), None)
        .unwrap();
    index.set_fx(fx.clone());
    index
}

/// Every page of `request` in `sort`, checking the order on the way.
fn all_pages(
    index: &CatalogIndex,
    request: &SearchRequest,
    sort: SortOrder,
    by_sku: &BTreeMap<String, &Listing>,
    fx: &FxTable,
) -> Result<Vec<String>, TestCaseError> {
    let mut request = request.clone();
    request.sort = sort;
    request.facets.clear();
    request.histogram = false;
    if matches!(sort, SortOrder::PriceAsc | SortOrder::PriceDesc) && request.currency.is_none() {
        request.currency = Some(Currency::USD);
    }
    let mut seen = Vec::new();
    // (present, key): a missing key sorts after every present one.
    let mut keys: Vec<(bool, Decimal)> = Vec::new();
    for _page in 0..=by_sku.len() + 1 {
        let response = index
            .search(&request)
            .map_err(|e| TestCaseError::fail(format!("{sort:?} page {}: {e}", seen.len())))?;
        for hit in &response.hits {
            let listing = by_sku[&hit.vendor_sku];
            let key = match sort {
                SortOrder::PriceAsc | SortOrder::PriceDesc => {
                    let target = request.currency.unwrap();
                    let expected = converted(listing, request.billing_mode, target, fx);
                    let shown = hit
                        .price
                        .as_ref()
                        .and_then(|p| p.converted.as_ref())
                        .map(|c| c.amount);
                    prop_assert_eq!(shown, expected, "converted price of {}", hit.vendor_sku);
                    expected
                }
                SortOrder::VcpuAsc | SortOrder::VcpuDesc => listing.specs().vcpu.map(Decimal::from),
                SortOrder::MemoryAsc | SortOrder::MemoryDesc => listing.specs().memory_gib,
                SortOrder::Relevance => Some(Decimal::ZERO),
            };
            let descending = matches!(
                sort,
                SortOrder::PriceDesc | SortOrder::VcpuDesc | SortOrder::MemoryDesc
            );
            keys.push((
                key.is_some(),
                key.map_or(Decimal::ZERO, |k| if descending { -k } else { k }),
            ));
            seen.push(hit.vendor_sku.clone());
        }
        match response.next_cursor {
            Some(cursor) => {
                prop_assert!(!response.hits.is_empty(), "a cursor after an empty page");
                request.cursor = Some(cursor);
            }
            None => return check_order(seen, &keys, sort),
        }
    }
    Err(TestCaseError::fail(format!(
        "{sort:?}: the pages never end"
    )))
}

fn check_order(
    seen: Vec<String>,
    keys: &[(bool, Decimal)],
    sort: SortOrder,
) -> Result<Vec<String>, TestCaseError> {
    for (i, pair) in keys.windows(2).enumerate() {
        let ((a_present, a), (b_present, b)) = (pair[0], pair[1]);
        let in_order = match (a_present, b_present) {
            (true, true) => a <= b,
            (false, true) => false,
            _ => true,
        };
        prop_assert!(
            in_order,
            "{:?}: {} ({:?}) before {} ({:?})",
            sort,
            seen[i],
            pair[0],
            seen[i + 1],
            pair[1]
        );
    }
    Ok(seen)
}

fn check(
    listings: &[Listing],
    index: &CatalogIndex,
    request: &SearchRequest,
    fx: &FxTable,
) -> Result<(), TestCaseError> {
    let response: SearchResponse = index
        .search(request)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let matching: Vec<&Listing> = listings
        .iter()
        .filter(|l| matches(l, request, fx))
        .collect();
    prop_assert_eq!(response.total, matching.len() as u64);

    for facet in &request.facets {
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for listing in &matching {
            for value in facet_values(listing, *facet) {
                *expected.entry(value).or_default() += 1;
            }
        }
        let got: BTreeMap<String, u64> = response
            .facets
            .get(facet.as_str())
            .into_iter()
            .flatten()
            .map(|c| (c.value.clone(), c.count))
            .collect();
        prop_assert_eq!(got, expected, "facet {}", facet.as_str());
        let order: Vec<(u64, String)> = response
            .facets
            .get(facet.as_str())
            .into_iter()
            .flatten()
            .map(|c| (u64::MAX - c.count, c.value.clone()))
            .collect();
        prop_assert!(order.is_sorted(), "facet {} out of order", facet.as_str());
    }

    if request.histogram {
        let target = request.currency.unwrap();
        let edges = band_edges();
        let mut expected: BTreeMap<Decimal, u64> = BTreeMap::new();
        for listing in &matching {
            if let Some(p) = converted(listing, request.billing_mode, target, fx) {
                let band = edges.partition_point(|e| *e <= p) - 1;
                *expected.entry(edges[band]).or_default() += 1;
            }
        }
        let histogram = response.histogram.as_ref().unwrap();
        prop_assert_eq!(histogram.currency, target);
        let got: BTreeMap<Decimal, u64> = histogram
            .buckets
            .iter()
            .map(|b| (b.from, b.count))
            .collect();
        prop_assert_eq!(got, expected, "histogram");
    }

    let expected: BTreeSet<String> = matching.iter().map(|l| l.vendor_sku().to_owned()).collect();
    let by_sku: BTreeMap<String, &Listing> = listings
        .iter()
        .map(|l| (l.vendor_sku().to_owned(), l))
        .collect();
    for sort in [
        SortOrder::Relevance,
        SortOrder::PriceAsc,
        SortOrder::PriceDesc,
        SortOrder::VcpuAsc,
        SortOrder::VcpuDesc,
        SortOrder::MemoryAsc,
    ] {
        let seen = all_pages(index, request, sort, &by_sku, fx)?;
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        prop_assert_eq!(
            unique.len(),
            seen.len(),
            "{:?} repeats a hit: {:?}",
            sort,
            seen
        );
        prop_assert_eq!(&unique, &expected, "{:?} pages", sort);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    /// Totals, facets, the histogram and every page of six orders agree
    /// with brute force, for three requests per catalog.
    #[test]
    fn counts_filters_and_pages_agree_with_brute_force(
        items in prop::collection::vec(item(), 0..48),
        asks in prop::collection::vec(ask(), 3),
    ) {
        let listings: Vec<Listing> = items.iter().enumerate().map(|(i, it)| make(i, it)).collect();
        let fx = usd_cny(dec!(7.1));
        let index = index_of(&listings, &fx);
        for ask in &asks {
            let request = request_of(ask, &listings, &fx);
            check(&listings, &index, &request, &fx)?;
        }
    }
}

fn boundary_catalog() -> Vec<Listing> {
    vec![
        listing(Vendor::Aws, "usd-035", "compute.vm", "us-east-1", |b| {
            b.name_en("Small")
                .price(price(BillingMode::OnDemand, dec!(0.35), Currency::USD))
                .price(price(BillingMode::Monthly, dec!(250), Currency::USD))
        }),
        listing(
            Vendor::Alibaba,
            "cny-2485",
            "compute.vm",
            "cn-shanghai",
            |b| {
                b.name_en("Same in yuan").price(price(
                    BillingMode::OnDemand,
                    dec!(2.485),
                    Currency::CNY,
                ))
            },
        ),
    ]
}

fn priced(index: &CatalogIndex, min: Option<Decimal>, max: Option<Decimal>) -> Vec<String> {
    let mut request = SearchRequest::text("");
    request.understand = false;
    request.currency = Some(Currency::CNY);
    request.filters.price = Range { min, max };
    let mut found: Vec<String> = index
        .search(&request)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.vendor_sku)
        .collect();
    found.sort();
    found
}

#[test]
fn a_price_bound_in_another_currency_is_exact_to_the_last_place() {
    let listings = boundary_catalog();
    let index = index_of(&listings, &usd_cny(dec!(7.1)));
    // 0.35 USD × 7.1 = 2.485 CNY exactly, as is the yuan listing.
    assert_eq!(
        priced(&index, None, Some(dec!(2.485))),
        ["cny-2485", "usd-035"]
    );
    assert_eq!(
        priced(&index, Some(dec!(2.485)), None),
        ["cny-2485", "usd-035"]
    );
    assert_eq!(
        priced(&index, Some(dec!(2.485)), Some(dec!(2.485))),
        ["cny-2485", "usd-035"]
    );
    assert!(priced(&index, None, Some(dec!(2.4849999999))).is_empty());
    assert!(priced(&index, Some(dec!(2.4850000001)), None).is_empty());
    assert!(priced(&index, None, Some(dec!(2.48499999999999999999))).is_empty());

    let mut request = SearchRequest::text("");
    request.understand = false;
    request.currency = Some(Currency::CNY);
    request.sort = SortOrder::PriceAsc;
    let response = index.search(&request).unwrap();
    let shown: Vec<Decimal> = response
        .hits
        .iter()
        .map(|h| h.price.as_ref().unwrap().converted.as_ref().unwrap().amount)
        .collect();
    assert_eq!(shown, [dec!(2.485), dec!(2.485)]);
    assert_eq!(response.fx_rates.len(), 1, "{:?}", response.fx_rates);
    assert_eq!(response.fx_rates[0].rate, dec!(7.1));
}

#[test]
fn a_price_filter_of_a_billing_mode_reads_that_mode_price() {
    let listings = boundary_catalog();
    let index = index_of(&listings, &usd_cny(dec!(7.1)));
    let mut request = SearchRequest::text("");
    request.understand = false;
    request.currency = Some(Currency::CNY);
    request.billing_mode = Some(BillingMode::Monthly);
    // 250 USD a month is 1775 CNY.
    request.filters.price = Range::exactly(dec!(1775));
    let response = index.search(&request).unwrap();
    assert_eq!(response.total, 1);
    let hit = &response.hits[0];
    assert_eq!(hit.vendor_sku, "usd-035");
    let shown = hit.price.as_ref().unwrap();
    assert_eq!(shown.billing_mode, BillingMode::Monthly);
    assert_eq!(shown.converted.as_ref().unwrap().amount, dec!(1775));
    request.filters.price = Range::exactly(dec!(1775.0000000001));
    assert_eq!(index.search(&request).unwrap().total, 0);
}

#[test]
fn requests_that_cannot_be_answered_are_refused_not_guessed() {
    let index = index_of(&boundary_catalog(), &usd_cny(dec!(7.1)));
    let mut reversed = SearchRequest::text("");
    reversed.currency = Some(Currency::CNY);
    reversed.filters.price = Range {
        min: Some(dec!(2)),
        max: Some(dec!(1)),
    };
    assert!(index.search(&reversed).is_err());
    let mut no_currency = SearchRequest::text("");
    no_currency.sort = SortOrder::PriceAsc;
    assert!(index.search(&no_currency).is_err());
    let mut foreign_cursor = SearchRequest::text("");
    foreign_cursor.limit = 1;
    let first = index.search(&foreign_cursor).unwrap();
    foreign_cursor.cursor = first.next_cursor;
    foreign_cursor.sort = SortOrder::VcpuAsc;
    assert!(index.search(&foreign_cursor).is_err());
    for limit in [0, SearchRequest::MAX_LIMIT + 1] {
        let mut request = SearchRequest::text("");
        request.limit = limit;
        assert!(index.search(&request).is_err(), "limit {limit}");
    }
}
