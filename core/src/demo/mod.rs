//! A seeded generator of a realistic demo catalog: each vendor's real
//! instance families and sizes (vCPU, memory, GPU model and count,
//! architecture, the OSes the vendor offers on them) and real products
//! (databases and caches with engine versions, storage, CDN, load balancers,
//! IPs, firewalls, DDoS protection, queues), typed in from the vendors'
//! published tables (`demo/data.rs`, each with its source), in every storefront
//! region of [`crate::geography`] (never a test region).
//!
//! Prices are generated, in each vendor's price shape: per-vCPU and per-GiB
//! rates by family class plus per-GPU rates, CNY in mainland China (AWS and
//! Azure China included) and USD elsewhere, spot and one-year discounts only
//! where the vendor offers them (the Chinese vendors sell 包年包月, the
//! others reserved terms), ±8 % between regions. They are demo prices, not
//! list prices: the provenance says so ([`DEMO_API`]) and every listing is
//! tagged `price:demo`. The vendors that quote the platform's own account
//! a price below the list price (Alibaba, Tencent, CTyun) give each price
//! but spot a cost at a fixed account discount, so demo orders have a
//! margin. Names and descriptions come from
//! [`crate::listing::text`], as the connectors' do.
//!
//! The same seed gives the same catalog, at any size. The natural product
//! space is every item in every region; beyond it the generator lists the
//! same items per zone (`us-east-1a`), then numbered copies (`~2` on the
//! SKU), so a million listings still generate with unique ids.
//!
//! Behind the `demo` feature, so a partner embedding the domain types does
//! not build it (nor `fastrand`).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::geography::{self, KnownRegion};
use crate::listing::text::{self, Database, Instance, Offer, Product as ProductText};
use crate::listing::{
    Architecture, BillingMode, Category, Listing, ListingBuilder, PriceComponent, PriceTier,
    PriceUnit, Provenance, Region, Specs, Vendor,
};
use crate::money::{Currency, Money};

mod data;
mod facts;

use facts::{Class, Family, Product, Rates, Unit, VendorFacts};

/// The `vendor_api` of every demo listing's provenance: its prices are
/// generated, not the vendor's.
pub const DEMO_API: &str = "demo";

/// The regions the demo sells in, by code: every region of the table but
/// test regions. Public so that the connectors can check that they place
/// them alike.
pub fn region_codes(vendor: Vendor) -> Vec<&'static str> {
    geography::storefront_regions(vendor)
        .map(|r| r.code)
        .collect()
}

/// Relational and document database sizes: (vCPU, GiB).
const DATABASE_SIZES: &[(u32, u32)] = &[(2, 4), (2, 8), (4, 16), (8, 32), (16, 64), (32, 128)];
/// Cache sizes, by memory (GiB).
const CACHE_SIZES: &[u32] = &[1, 2, 4, 8, 16, 32, 64];
/// The Windows Server licence per vCPU-hour, by currency.
const WINDOWS_PER_VCPU_USD: Decimal = Decimal::from_parts(460, 0, 0, false, 4);
const WINDOWS_PER_VCPU_CNY: Decimal = Decimal::from_parts(1200, 0, 0, false, 4);
/// Demo rates are in USD; mainland China products are this many CNY per USD.
const CNY_PER_USD: i64 = 7;

/// What one position of a vendor's product space is.
#[derive(Clone, Copy)]
enum Item {
    Instance {
        family: &'static Family,
        size: usize,
        os: &'static str,
    },
    Database {
        product: &'static Product,
        size: usize,
    },
    Other {
        product: &'static Product,
    },
}

fn items(facts: &'static VendorFacts) -> Vec<Item> {
    // Smallest sizes first, the families taken from both ends of the list
    // in turn (general purpose, GPU, compute, …) and Linux before Windows, so
    // a small catalog already has every kind of machine.
    let count = facts.families.len();
    let families: Vec<&'static Family> = (0..count)
        .map(|i| if i % 2 == 0 { i / 2 } else { count - 1 - i / 2 })
        .filter_map(|i| facts.families.get(i))
        .collect();
    let largest = facts
        .families
        .iter()
        .map(|f| f.sizes.len())
        .max()
        .unwrap_or(0);
    let most_oses = facts
        .families
        .iter()
        .map(|f| f.oses.len())
        .max()
        .unwrap_or(0);
    let mut instances = Vec::new();
    for os in 0..most_oses {
        for size in 0..largest {
            for family in &families {
                if let (Some(os), true) = (family.oses.get(os), size < family.sizes.len()) {
                    instances.push(Item::Instance { family, size, os });
                }
            }
        }
    }
    let mut databases = Vec::new();
    let mut others = Vec::new();
    for product in facts.products {
        match product.category {
            "database.cache" => databases
                .extend((0..CACHE_SIZES.len()).map(|size| Item::Database { product, size })),
            c if c.starts_with("database.") => databases
                .extend((0..DATABASE_SIZES.len()).map(|size| Item::Database { product, size })),
            _ => others.push(Item::Other { product }),
        }
    }
    // Interleave the kinds so a small catalog still has each of them.
    let longest = instances.len().max(databases.len()).max(others.len());
    let mut all = Vec::with_capacity(instances.len() + databases.len() + others.len());
    for i in 0..longest {
        for list in [&instances, &databases, &others] {
            if let Some(item) = list.get(i) {
                all.push(*item);
            }
        }
    }
    all
}

/// Rates of one currency, parsed once.
struct PreparedRates {
    currency: Currency,
    vcpu_hour: Vec<(Class, Decimal)>,
    gib_hour: Vec<(Class, Decimal)>,
    gpu_hour: Vec<(&'static str, Decimal)>,
}

fn exact(text: &str) -> Decimal {
    // The facts are checked by the tests; a bad one prices at zero there.
    Decimal::from_str(text).unwrap_or_default()
}

impl PreparedRates {
    fn new(rates: &Rates, currency: Currency) -> Self {
        PreparedRates {
            currency,
            vcpu_hour: rates
                .vcpu_hour
                .iter()
                .map(|(c, r)| (*c, exact(r)))
                .collect(),
            gib_hour: rates.gib_hour.iter().map(|(c, r)| (*c, exact(r))).collect(),
            gpu_hour: rates.gpu_hour.iter().map(|(m, r)| (*m, exact(r))).collect(),
        }
    }

    fn vcpu(&self, class: Class) -> Option<Decimal> {
        self.vcpu_hour
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, r)| *r)
    }

    fn gib(&self, class: Class) -> Option<Decimal> {
        self.gib_hour
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, r)| *r)
    }

    fn gpu(&self, model: &str) -> Option<Decimal> {
        self.gpu_hour
            .iter()
            .find(|(m, _)| *m == model)
            .map(|(_, r)| *r)
    }

    /// USD demo amounts in this currency.
    fn in_currency(&self, usd: Decimal) -> Decimal {
        if self.currency == Currency::CNY {
            usd * Decimal::from(CNY_PER_USD)
        } else {
            usd
        }
    }
}

/// One vendor, ready to generate.
struct Plan {
    facts: &'static VendorFacts,
    items: Vec<Item>,
    regions: Vec<(&'static KnownRegion, Region)>,
    global: Option<PreparedRates>,
    cn_mainland: Option<PreparedRates>,
    arm64_factor: Decimal,
    spot_discount: Option<Decimal>,
    reserved_discount: Option<Decimal>,
    /// The Chinese vendors sell 包年包月 rather than reserved terms.
    subscriptions: bool,
    /// The platform's account discount off the list price, for the vendors
    /// that quote both.
    account_discount: Option<Decimal>,
}

impl Plan {
    fn new(facts: &'static VendorFacts) -> Self {
        let pricing = &facts.pricing;
        Plan {
            facts,
            items: items(facts),
            regions: geography::storefront_regions(facts.vendor)
                .filter_map(|known| Some((known, known.region().ok()?)))
                .collect(),
            global: pricing
                .global
                .as_ref()
                .map(|r| PreparedRates::new(r, Currency::USD)),
            cn_mainland: pricing
                .cn_mainland
                .as_ref()
                .map(|r| PreparedRates::new(r, Currency::CNY)),
            arm64_factor: pricing.arm64_factor.map(exact).unwrap_or(Decimal::ONE),
            spot_discount: pricing.spot_discount.map(exact),
            reserved_discount: pricing.reserved_1y_discount.map(exact),
            subscriptions: matches!(
                facts.vendor,
                Vendor::Alibaba
                    | Vendor::Tencent
                    | Vendor::Ctyun
                    | Vendor::Kingsoft
                    | Vendor::Ucloud
            ),
            account_discount: match facts.vendor {
                Vendor::Alibaba => Some(Decimal::new(15, 2)),
                Vendor::Tencent => Some(Decimal::new(20, 2)),
                Vendor::Ctyun => Some(Decimal::new(10, 2)),
                _ => None,
            },
        }
    }

    /// The platform's cost of `list` at the account discount, at the list
    /// price's precision (at least cents); `None` without a discount.
    fn cost_of(&self, list: Money) -> Option<Money> {
        let discount = self.account_discount?;
        let amount = list.amount();
        let cost = (amount * (Decimal::ONE - discount)).round_dp(amount.scale().max(2));
        Some(Money::new(cost, list.currency()))
    }

    /// `price` with its cost where the vendor quotes one; spot prices are
    /// market prices, without an account discount.
    fn costed(&self, price: PriceComponent) -> Option<PriceComponent> {
        match self.cost_of(price.amount()) {
            Some(cost) if price.billing_mode() != BillingMode::Spot => price.with_cost(cost).ok(),
            _ => Some(price),
        }
    }

    /// CNY rates in mainland China, USD rates elsewhere.
    fn rates(&self, region: &Region) -> Option<&PreparedRates> {
        if region.geography.country == "cn" {
            self.cn_mainland.as_ref()
        } else {
            self.global.as_ref()
        }
    }
}

/// The demo catalog generator. Iterate it for listings.
pub struct DemoCatalog {
    rng: fastrand::Rng,
    remaining: u64,
    /// Each vendor's plan, in [`Vendor::ALL`] order.
    plans: Vec<Plan>,
    fetched_at: DateTime<Utc>,
    /// Position of each vendor in its product space: (round, position).
    cursors: Vec<(u32, usize)>,
    vendor_turn: usize,
}

/// Where one listing is: the region, and its SKU suffix.
struct Spot<'a> {
    region: Region,
    at: &'a str,
    copy: Option<u32>,
}

impl DemoCatalog {
    /// `count` listings from `seed`, spread over every vendor.
    pub fn new(seed: u64, count: u64) -> Self {
        DemoCatalog {
            rng: fastrand::Rng::with_seed(seed),
            remaining: count,
            plans: data::VENDORS.iter().map(Plan::new).collect(),
            // Fixed so the same seed gives byte-identical listings.
            fetched_at: Utc
                .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            cursors: vec![(0, 0); Vendor::ALL.len()],
            vendor_turn: 0,
        }
    }

    /// The number of listings before the generator goes past regions into
    /// zones and copies.
    pub fn natural_size() -> u64 {
        data::VENDORS
            .iter()
            .map(|facts| {
                let plan = Plan::new(facts);
                (plan.items.len() * plan.regions.len()) as u64
            })
            .sum()
    }

    fn next_position(&mut self, vendor_idx: usize) -> (u32, usize, usize) {
        let plan = &self.plans[vendor_idx];
        // `max(1)`: a vendor without regions or items yields nothing
        // rather than dividing by zero.
        let region_count = plan.regions.len().max(1);
        let item_count = plan.items.len().max(1);
        let (round, position) = self.cursors[vendor_idx];
        // Walk items fastest and shift the region per lap, so even a small
        // catalog has every kind of offer in many regions.
        let item = position % item_count;
        let region = (position / item_count + item) % region_count;
        self.cursors[vendor_idx] = if position + 1 == region_count * item_count {
            (round + 1, 0)
        } else {
            (round, position + 1)
        };
        (round, region, item)
    }

    /// A factor of 0.92 to 1.08, so prices differ between regions.
    fn jitter(&mut self) -> Decimal {
        Decimal::new(self.rng.i64(92..=108), 2)
    }

    fn build(
        &mut self,
        vendor_idx: usize,
        round: u32,
        region_idx: usize,
        item_idx: usize,
    ) -> Option<Listing> {
        let jitter = self.jitter();
        let spot_jitter = Decimal::new(self.rng.i64(90..=110), 2);
        let plan = &self.plans[vendor_idx];
        let vendor = plan.facts.vendor;
        let (known, region) = plan.regions.get(region_idx)?;
        let item = *plan.items.get(item_idx)?;
        // Round 0 is the region; then each zone; then numbered copies.
        let zones = known.zones;
        let spot = match round as usize {
            0 => Spot {
                region: region.clone(),
                at: known.code,
                copy: None,
            },
            r if r <= zones.len() => Spot {
                region: known.region_as(zones[r - 1]).ok()?,
                at: zones[r - 1],
                copy: None,
            },
            r => Spot {
                region: region.clone(),
                at: known.code,
                copy: Some(u32::try_from(r - zones.len()).ok()? + 1),
            },
        };
        let rates = plan.rates(&spot.region)?;
        let provenance = Provenance::from_raw(
            DEMO_API,
            format!("{vendor}/{round}/{}/{item_idx}", known.code).as_bytes(),
            self.fetched_at,
        );
        let builder = match item {
            Item::Instance { family, size, os } => instance(
                plan,
                rates,
                family,
                size,
                os,
                (jitter, spot_jitter),
                &spot,
                provenance,
            )?,
            Item::Database { product, size } => {
                database(plan, rates, product, size, jitter, &spot, provenance)?
            }
            Item::Other { product } => other(plan, rates, product, jitter, &spot, provenance)?,
        };
        let mut builder = builder
            .region(spot.region)
            .tag(format!("vendor:{vendor}"))
            .tag("price:demo");
        if let Some(copy) = spot.copy {
            builder = builder.tag(format!("demo:copy{copy}"));
        }
        builder.build().ok()
    }
}

/// The SKU of `key` where `spot` is.
fn sku(key: &str, spot: &Spot<'_>) -> String {
    match spot.copy {
        Some(copy) => format!("{key}@{}~{copy}", spot.at),
        None => format!("{key}@{}", spot.at),
    }
}

fn money(amount: Decimal, rates: &PreparedRates, dp: u32) -> Money {
    Money::new(amount.round_dp(dp), rates.currency)
}

/// The prices of an hourly resource: on demand, then the vendor's
/// subscriptions or reserved term, then spot where the vendor sells it.
fn hourly_prices(
    plan: &Plan,
    rates: &PreparedRates,
    hourly: Decimal,
    spot_jitter: Option<Decimal>,
) -> Option<Vec<PriceComponent>> {
    let mut prices = vec![
        PriceComponent::flat(
            BillingMode::OnDemand,
            PriceUnit::Hour,
            money(hourly, rates, 4),
        )
        .ok()?,
    ];
    if plan.subscriptions {
        // 包月 at about 85 % of 730 hours; 包年 at ten months of 包月, the
        // "pay ten months, use twelve" shape of the Chinese clouds' price lists.
        let monthly = hourly * Decimal::from(730) * Decimal::new(85, 2);
        prices.push(
            PriceComponent::flat(
                BillingMode::Monthly,
                PriceUnit::Month,
                money(monthly, rates, 2),
            )
            .ok()?,
        );
        if plan.reserved_discount.is_some() {
            let yearly = money(monthly, rates, 2).amount() * Decimal::from(10);
            prices.push(
                PriceComponent::flat(
                    BillingMode::Yearly,
                    PriceUnit::Year,
                    money(yearly, rates, 2),
                )
                .ok()?,
            );
        }
    } else if let Some(discount) = plan.reserved_discount {
        prices.push(
            PriceComponent::flat(
                BillingMode::Reserved { term_months: 12 },
                PriceUnit::Hour,
                money(hourly * (Decimal::ONE - discount), rates, 4),
            )
            .ok()?,
        );
    }
    if let (Some(discount), Some(jitter)) = (plan.spot_discount, spot_jitter) {
        let spot = (hourly * (Decimal::ONE - discount) * jitter).min(hourly);
        prices.push(
            PriceComponent::flat(BillingMode::Spot, PriceUnit::Hour, money(spot, rates, 4)).ok()?,
        );
    }
    prices.into_iter().map(|p| plan.costed(p)).collect()
}

fn with_prices(mut builder: ListingBuilder, prices: Vec<PriceComponent>) -> ListingBuilder {
    for price in prices {
        builder = builder.price(price);
    }
    builder
}

fn modes(prices: &[PriceComponent]) -> Vec<BillingMode> {
    prices.iter().map(PriceComponent::billing_mode).collect()
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each argument named"
)]
fn instance(
    plan: &Plan,
    rates: &PreparedRates,
    family: &Family,
    size: usize,
    os: &str,
    (jitter, spot_jitter): (Decimal, Decimal),
    spot: &Spot<'_>,
    provenance: Provenance,
) -> Option<ListingBuilder> {
    let size = family.sizes.get(size)?;
    let memory = Decimal::from_str(size.memory_gib).ok()?;
    let vcpu = Decimal::from(size.vcpu);
    let mut hourly = vcpu * rates.vcpu(family.class)? + memory * rates.gib(family.class)?;
    if let Some(model) = family.gpu {
        hourly += Decimal::from(size.gpus) * rates.gpu(model)?;
    }
    if family.arch == Architecture::Arm64 {
        hourly *= plan.arm64_factor;
    }
    if os == "windows" {
        let licence = if rates.currency == Currency::CNY {
            WINDOWS_PER_VCPU_CNY
        } else {
            WINDOWS_PER_VCPU_USD
        };
        hourly += vcpu * licence;
    }
    hourly *= jitter;
    let gpu = family.gpu.filter(|_| size.gpus > 0);
    let specs = Specs {
        vcpu: Some(size.vcpu),
        memory_gib: Some(memory.normalize()),
        gpu_count: gpu.map(|_| size.gpus),
        gpu_model: gpu.map(str::to_owned),
        architecture: Some(family.arch),
        os: Some(os.to_owned()),
        ..Specs::default()
    };
    let prices = hourly_prices(plan, rates, hourly, Some(spot_jitter))?;
    let billing = modes(&prices);
    let offer = Offer {
        vendor: plan.facts.vendor,
        region: &spot.region,
        billing: &billing,
    };
    let category = Category::parse(if gpu.is_some() {
        "compute.gpu"
    } else {
        "compute.vm"
    })
    .ok()?;
    let text = text::compute_text(
        &offer,
        &category,
        &Instance {
            instance_type: size.name,
            family_zh: family.series_zh,
            family_en: family.series_en,
            specs: &specs,
        },
    );
    let builder = Listing::builder(
        plan.facts.vendor,
        sku(&format!("{}/{os}", size.name), spot),
        provenance,
    )
    .category(category)
    .service(compute_service(plan.facts.vendor))
    .text(text)
    .specs(specs)
    .tag(format!("family:{}", family.code.to_lowercase()));
    Some(with_prices(builder, prices))
}

fn compute_service(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Aws => "ec2",
        Vendor::Azure => "virtual-machines",
        Vendor::Gcp => "compute-engine",
        Vendor::Alibaba => "ecs",
        Vendor::Tencent => "cvm",
        Vendor::Ibm => "vpc-vsi",
        Vendor::Ctyun => "ecs",
        Vendor::Kingsoft => "kec",
        Vendor::Ucloud => "uhost",
    }
}

fn database(
    plan: &Plan,
    rates: &PreparedRates,
    product: &Product,
    size: usize,
    jitter: Decimal,
    spot: &Spot<'_>,
    provenance: Provenance,
) -> Option<ListingBuilder> {
    let (vcpu, memory, key) = if product.category == "database.cache" {
        let memory = *CACHE_SIZES.get(size)?;
        (None, memory, format!("{}/{memory}g", product.key))
    } else {
        let (vcpu, memory) = *DATABASE_SIZES.get(size)?;
        (
            Some(vcpu),
            memory,
            format!("{}/{vcpu}c{memory}g", product.key),
        )
    };
    let general_vcpu = rates.vcpu(Class::General)?;
    let general_gib = rates.gib(Class::General)?;
    // A managed engine costs more than the machine under it; a cache is
    // priced by its memory; SQL Server carries its licence.
    let mut hourly = match vcpu {
        Some(vcpu) => {
            (Decimal::from(vcpu) * general_vcpu + Decimal::from(memory) * general_gib)
                * Decimal::new(16, 1)
        }
        None => Decimal::from(memory) * general_vcpu * Decimal::new(6, 1),
    };
    if product.engine == Some("sqlserver") {
        hourly *= Decimal::new(24, 1);
    }
    hourly *= jitter;
    let specs = Specs {
        vcpu,
        memory_gib: Some(Decimal::from(memory)),
        storage_gib: vcpu.map(|v| Decimal::from(v * 50)),
        engine: product.engine.map(str::to_owned),
        engine_version: product.engine_version.map(str::to_owned),
        ..Specs::default()
    };
    let prices = hourly_prices(plan, rates, hourly, None)?;
    let billing = modes(&prices);
    let category = Category::parse(product.category).ok()?;
    let text = text::database_text(
        &Offer {
            vendor: plan.facts.vendor,
            region: &spot.region,
            billing: &billing,
        },
        &category,
        &Database {
            product_zh: product.zh,
            product_en: product.en,
            specs: &specs,
        },
    );
    let builder = Listing::builder(plan.facts.vendor, sku(&key, spot), provenance)
        .category(category)
        .service(product.service)
        .text(text)
        .specs(specs);
    Some(unverified(with_prices(builder, prices), product))
}

fn unverified(builder: ListingBuilder, product: &Product) -> ListingBuilder {
    if product.unverified {
        builder.tag("demo:unverified")
    } else {
        builder
    }
}

/// A demo base price in USD for a product of `category` quoted per `unit`.
fn base_usd(category: &str, unit: Unit) -> Decimal {
    let (mantissa, scale) = match (category, unit) {
        ("storage.object", _) => (230, 4),
        ("storage.block", _) => (800, 4),
        ("storage.file", _) => (3_000, 4),
        ("network.cdn", Unit::Gb) => (850, 4),
        ("network.load_balancer", _) => (225, 4),
        ("network.ip", Unit::Month) => (360, 2),
        ("network.ip", _) => (50, 4),
        ("security.firewall", Unit::Month) => (45_000, 2),
        ("security.firewall", _) => (3_950, 4),
        ("security.ddos", _) => (300_000, 2),
        ("middleware.queue", Unit::Request10k) => (40, 4),
        ("middleware.queue", Unit::Gb) => (400, 4),
        ("middleware.queue", Unit::Month) => (20_000, 2),
        ("middleware.queue", _) => (3_000, 4),
        (_, Unit::Month) => (20_000, 2),
        (_, Unit::Hour) => (1_000, 4),
        _ => (500, 4),
    };
    Decimal::new(mantissa, scale)
}

fn other(
    plan: &Plan,
    rates: &PreparedRates,
    product: &Product,
    jitter: Decimal,
    spot: &Spot<'_>,
    provenance: Provenance,
) -> Option<ListingBuilder> {
    let base = rates.in_currency(base_usd(product.category, product.unit)) * jitter;
    let (mode, unit, amount) = match product.unit {
        Unit::Hour => (BillingMode::OnDemand, PriceUnit::Hour, base),
        Unit::GbMonth => (BillingMode::OnDemand, PriceUnit::GbMonth, base),
        Unit::Gb => (BillingMode::OnDemand, PriceUnit::Gb, base),
        // A monthly fee is a subscription.
        Unit::Month => (BillingMode::Monthly, PriceUnit::Month, base),
        // Quoted per ten thousand requests, stored per request, exactly.
        Unit::Request10k => (
            BillingMode::OnDemand,
            PriceUnit::Request,
            base.round_dp(4) / Decimal::from(10_000),
        ),
    };
    let price = if product.category == "network.cdn" && unit == PriceUnit::Gb {
        // Traffic is cheaper by volume: 10 TB and 50 TB steps.
        let step1 = Decimal::from(10_240);
        let step2 = Decimal::from(51_200);
        let tier = |from, to, amount| {
            let tier = PriceTier::new(from, to, money(amount, rates, 4)).ok()?;
            match plan.cost_of(tier.amount()) {
                Some(cost) => tier.with_cost(cost).ok(),
                None => Some(tier),
            }
        };
        let tiers = vec![
            tier(Decimal::ZERO, Some(step1), amount)?,
            tier(step1, Some(step2), amount * Decimal::new(9, 1))?,
            tier(step2, None, amount * Decimal::new(8, 1))?,
        ];
        PriceComponent::tiered(mode, unit, tiers).ok()?
    } else {
        let dp = if unit == PriceUnit::Request { 10 } else { 4 };
        plan.costed(PriceComponent::flat(mode, unit, money(amount, rates, dp)).ok()?)?
    };
    let specs = Specs {
        engine: product.engine.map(str::to_owned),
        engine_version: product.engine_version.map(str::to_owned),
        ..Specs::default()
    };
    let category = Category::parse(product.category).ok()?;
    let offer = Offer {
        vendor: plan.facts.vendor,
        region: &spot.region,
        billing: &[mode],
    };
    let subject = ProductText {
        product_zh: product.zh,
        product_en: product.en,
        specs: &specs,
    };
    let text = match category.family() {
        "storage" => text::storage_text(&offer, &category, &subject),
        "network" => text::network_text(&offer, &category, &subject),
        "security" => text::security_text(&offer, &category, &subject),
        "middleware" => text::middleware_text(&offer, &category, &subject),
        _ => text::service_text(&offer, &category, &subject),
    };
    let builder = Listing::builder(plan.facts.vendor, sku(product.key, spot), provenance)
        .category(category)
        .service(product.service)
        .text(text)
        .specs(specs)
        .price(price);
    Some(unverified(builder, product))
}

impl Iterator for DemoCatalog {
    type Item = Listing;

    fn next(&mut self) -> Option<Listing> {
        // A vendor whose positions all fail to build would spin forever;
        // a whole lap of failures ends the catalog instead.
        let mut failures = 0usize;
        let lap: usize = self
            .plans
            .iter()
            .map(|p| p.items.len().max(1) * p.regions.len().max(1))
            .sum();
        while self.remaining > 0 && failures <= lap {
            let vendor_idx = self.vendor_turn % Vendor::ALL.len();
            self.vendor_turn += 1;
            let (round, region, item) = self.next_position(vendor_idx);
            if let Some(listing) = self.build(vendor_idx, round, region, item) {
                self.remaining -= 1;
                return Some(listing);
            }
            failures += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests;
