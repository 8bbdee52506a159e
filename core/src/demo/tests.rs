use super::*;
use std::collections::{HashMap, HashSet};

use crate::listing::text::has_glued_words;

fn catalog(seed: u64, count: u64) -> Vec<Listing> {
    DemoCatalog::new(seed, count).collect()
}

/// The built-in vendor of a demo listing (the demo has no partner listings).
fn vendor_of(listing: &Listing) -> Vendor {
    listing
        .vendor()
        .builtin()
        .expect("demo listings are built-in")
}

fn facts(vendor: Vendor) -> &'static VendorFacts {
    data::VENDORS.iter().find(|f| f.vendor == vendor).unwrap()
}

/// Lowercase with accents off, so `São Paulo` is found as `sao paulo`.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .replace(['ã', 'á'], "a")
        .replace(['é', 'è'], "e")
        .replace('ü', "u")
}

fn text_of(listing: &Listing) -> String {
    [
        &listing.name().zh,
        &listing.name().en,
        &listing.description().zh,
        &listing.description().en,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect::<Vec<_>>()
    .join(" ")
}

#[test]
fn the_facts_are_in_vendor_order_and_sound() {
    for (facts, vendor) in data::VENDORS.iter().zip(Vendor::ALL) {
        assert_eq!(facts.vendor, vendor);
        assert!(!facts.families.is_empty() && !facts.products.is_empty());
        for family in facts.families {
            for size in family.sizes {
                let memory = Decimal::from_str(size.memory_gib).unwrap();
                assert!(memory > Decimal::ZERO, "{}", size.name);
                assert_eq!(family.gpu.is_some(), size.gpus > 0, "{}", size.name);
            }
        }
    }
}

#[test]
fn same_seed_same_catalog_and_ids_are_unique() {
    let a = catalog(7, 3_000);
    let b = catalog(7, 3_000);
    assert_eq!(a.len(), 3_000);
    assert_eq!(a, b);
    let ids: HashSet<_> = a.iter().map(|l| l.id().clone()).collect();
    assert_eq!(ids.len(), a.len(), "every listing has its own id");
    let c = catalog(8, 50);
    assert_ne!(
        a[..50]
            .iter()
            .map(|l| l.prices().to_vec())
            .collect::<Vec<_>>(),
        c.iter().map(|l| l.prices().to_vec()).collect::<Vec<_>>()
    );
}

#[test]
fn every_listing_has_text_in_both_languages_without_glued_words() {
    for listing in catalog(1, 6_000) {
        for text in [
            &listing.name().zh,
            &listing.name().en,
            &listing.description().zh,
            &listing.description().en,
        ] {
            let text = text.as_deref().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{}", listing.id());
            assert!(!has_glued_words(text), "{}: {text}", listing.id());
        }
        let all = text_of(&listing);
        assert!(all.contains(vendor_of(&listing).name_zh()), "{all}");
        assert!(all.contains(vendor_of(&listing).name_en()), "{all}");
        assert_eq!(listing.provenance().vendor_api, DEMO_API);
        assert!(listing.tags().contains("price:demo"));
    }
}

#[test]
fn no_architecture_and_os_pair_that_the_vendor_does_not_offer() {
    let mut offered: HashMap<Vendor, HashSet<(Architecture, String)>> = HashMap::new();
    for facts in &data::VENDORS {
        for family in facts.families {
            for os in family.oses {
                offered
                    .entry(facts.vendor)
                    .or_default()
                    .insert((family.arch, (*os).to_owned()));
            }
        }
    }
    let mut pairs = HashSet::new();
    for listing in catalog(2, 6_000) {
        let specs = listing.specs();
        if let (Some(arch), Some(os)) = (specs.architecture, &specs.os) {
            assert!(
                offered[&vendor_of(&listing)].contains(&(arch, os.clone())),
                "{}: {arch:?} {os}",
                listing.id()
            );
            assert!(!(arch == Architecture::Arm64 && os == "windows"));
            pairs.insert((arch, os.clone()));
        }
    }
    assert!(pairs.contains(&(Architecture::Arm64, "linux".to_owned())));
    assert!(pairs.contains(&(Architecture::X86_64, "windows".to_owned())));
}

#[test]
fn gpu_instances_have_at_least_four_vcpu_per_gpu_and_say_so() {
    let mut gpus = 0;
    for listing in catalog(3, 9_000) {
        let specs = listing.specs();
        if let Some(count) = specs.gpu_count {
            gpus += 1;
            assert!(specs.vcpu.unwrap() >= 4 * count, "{}", listing.id());
            assert_eq!(listing.category().as_str(), "compute.gpu");
            let model = specs.gpu_model.as_deref().unwrap();
            let name = listing.name();
            assert!(
                name.en
                    .as_deref()
                    .unwrap()
                    .contains(&format!("{count} × {model}"))
            );
            assert!(
                name.zh
                    .as_deref()
                    .unwrap()
                    .contains(&format!("{count} 卡 {model}"))
            );
        }
    }
    assert!(gpus > 50, "{gpus}");
}

#[test]
fn mainland_china_prices_in_cny_and_elsewhere_in_usd() {
    let mut cny = 0;
    for listing in catalog(4, 9_000) {
        let mainland = listing.region().geography.country == "cn";
        for price in listing.prices() {
            let currency = price.amount().currency();
            assert_eq!(
                currency,
                if mainland {
                    Currency::CNY
                } else {
                    Currency::USD
                },
                "{}",
                listing.id()
            );
            assert!(!price.amount().is_negative());
            assert!(price.amount().amount() > Decimal::ZERO, "{}", listing.id());
        }
        cny += usize::from(mainland);
    }
    assert!(cny > 100);
    // AWS and Azure China are in it.
    let china = catalog(4, 30_000);
    for vendor in [Vendor::Aws, Vendor::Azure] {
        assert!(china.iter().any(|l| l.vendor() == vendor
            && l.region().geography.country == "cn"
            && l.prices()[0].amount().currency() == Currency::CNY));
    }
}

#[test]
fn spot_and_reserved_prices_only_where_the_vendor_offers_them() {
    for listing in catalog(5, 9_000) {
        let pricing = &facts(vendor_of(&listing)).pricing;
        for price in listing.prices() {
            match price.billing_mode() {
                BillingMode::Spot => assert!(pricing.spot_discount.is_some(), "{}", listing.id()),
                BillingMode::Reserved { .. } | BillingMode::Yearly => {
                    assert!(pricing.reserved_1y_discount.is_some(), "{}", listing.id())
                }
                _ => {}
            }
            if price.billing_mode() == BillingMode::Spot {
                assert!(price.amount().amount() <= listing.prices()[0].amount().amount());
            }
        }
    }
}

#[test]
fn the_vendors_that_quote_an_account_price_give_a_cost_below_the_list_price() {
    let mut below = HashMap::<Vendor, usize>::new();
    for listing in catalog(9, 9_000) {
        let vendor = vendor_of(&listing);
        let quoting = matches!(vendor, Vendor::Alibaba | Vendor::Tencent | Vendor::Ctyun);
        for price in listing.prices() {
            let costs = std::iter::once(price.cost()).chain(price.tiers().iter().map(|t| t.cost()));
            let amounts =
                std::iter::once(price.amount()).chain(price.tiers().iter().map(|t| t.amount()));
            for (cost, list) in costs.zip(amounts) {
                match cost {
                    Some(cost) => {
                        assert!(quoting, "{}", listing.id());
                        assert_ne!(price.billing_mode(), BillingMode::Spot);
                        assert_eq!(cost.currency(), list.currency());
                        assert!(cost.amount() <= list.amount(), "{}", listing.id());
                        assert!(!cost.is_negative());
                        if cost.amount() < list.amount() {
                            *below.entry(vendor).or_default() += 1;
                        }
                    }
                    None => assert!(
                        !quoting || price.billing_mode() == BillingMode::Spot,
                        "{}",
                        listing.id()
                    ),
                }
            }
        }
    }
    for vendor in [Vendor::Alibaba, Vendor::Tencent, Vendor::Ctyun] {
        assert!(
            below.get(&vendor).copied().unwrap_or(0) > 100,
            "{vendor}: {below:?}"
        );
    }
}

#[test]
fn a_year_of_subscription_costs_ten_months() {
    let mut seen = 0;
    for listing in catalog(5, 9_000) {
        let of = |mode: BillingMode| {
            listing
                .prices()
                .iter()
                .find(|p| p.billing_mode() == mode)
                .map(|p| p.amount().amount())
        };
        if let (Some(monthly), Some(yearly)) = (of(BillingMode::Monthly), of(BillingMode::Yearly)) {
            seen += 1;
            assert_eq!(yearly, monthly * Decimal::from(10), "{}", listing.id());
        }
    }
    assert!(seen > 100, "only {seen} listings with both subscriptions");
}

#[test]
fn databases_carry_their_engine_and_version_in_specs_and_text() {
    let mut seen = 0;
    for listing in catalog(6, 6_000) {
        if listing.category().family() != "database" {
            continue;
        }
        seen += 1;
        let engine = listing.specs().engine.as_deref().unwrap();
        let version = listing.specs().engine_version.as_deref().unwrap();
        let text = text_of(&listing);
        assert!(text.contains(version), "{text}");
        assert!(
            text.to_lowercase()
                .contains(&engine.replace("sqlserver", "sql server"))
        );
    }
    assert!(seen > 100);
}

#[test]
fn every_storefront_region_is_served_and_its_listings_name_the_city_in_both_languages() {
    let listings = catalog(9, 12_000);
    let mut served = HashSet::new();
    for listing in &listings {
        let region = listing.region();
        let placed = geography::region_of(vendor_of(listing), &region.code).unwrap();
        assert_eq!(*region, placed, "{}", listing.id());
        let city = geography::city(region.geography.city.as_deref().unwrap()).unwrap();
        let text = fold(&text_of(listing));
        assert!(
            text.contains(city.zh),
            "{}: {} not in {text}",
            listing.id(),
            city.zh
        );
        assert!(
            text.contains(&fold(city.en)),
            "{}: {} not in {text}",
            listing.id(),
            city.en
        );
        served.insert((vendor_of(listing), region.code.clone()));
    }
    for vendor in Vendor::ALL {
        for known in geography::regions(vendor) {
            assert_eq!(
                served.contains(&(vendor, known.code.to_owned())),
                !known.is_test(),
                "{vendor} {}",
                known.code
            );
        }
    }
    // The plain substring check of the issue: 上海 and "shanghai" find every
    // Shanghai listing of every vendor that serves Shanghai.
    let shanghai: Vec<&Listing> = listings
        .iter()
        .filter(|l| l.region().geography.city.as_deref() == Some("shanghai"))
        .collect();
    let vendors: HashSet<Vendor> = shanghai.iter().map(|l| vendor_of(l)).collect();
    assert!(vendors.len() >= 5, "{vendors:?}");
    for listing in shanghai {
        let text = text_of(listing);
        assert!(text.contains("上海") && text.to_lowercase().contains("shanghai"));
    }
}

#[test]
fn large_catalogs_stay_unique_past_the_natural_product_space() {
    let natural = DemoCatalog::natural_size();
    assert!(natural > 20_000, "{natural}");
    let n = natural + 3_000;
    let mut ids = HashSet::new();
    let mut zones = 0;
    for listing in DemoCatalog::new(3, n) {
        if geography::known(vendor_of(&listing), &listing.region().code).is_none() {
            zones += 1;
        }
        assert!(ids.insert(listing.id().clone()), "{}", listing.vendor_sku());
    }
    assert_eq!(ids.len() as u64, n);
    assert!(zones > 0, "past the natural space, listings go to zones");
}
