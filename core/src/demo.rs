//! A seeded generator of a realistic demo catalog: every vendor, their real
//! region codes, instance families with plausible vCPU/memory ratios, storage,
//! network, database and middleware offers, priced in each vendor's usual
//! currency, named in English and Chinese. The same seed gives the same
//! catalog, at any size (beyond the natural product space it adds newer
//! instance generations).
//!
//! Behind the `demo` feature, so a partner embedding the domain types does
//! not build it (nor `fastrand`). Regions and where they are come from
//! [`crate::geography`], the table the connectors use too.

use std::collections::VecDeque;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::geography;
use crate::listing::{
    Architecture, BillingMode, Category, Listing, PriceComponent, PriceTier, PriceUnit, Provenance,
    Region, Specs, Vendor,
};
use crate::money::{Currency, Money};

/// The regions the demo sells in, by code (public so that the connectors can
/// check that they place them alike); where they are comes from the one
/// table in [`crate::geography`].
pub fn region_codes(vendor: Vendor) -> &'static [&'static str] {
    match vendor {
        Vendor::Aws => &[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-northeast-1",
            "ap-southeast-1",
            "ap-east-1",
            "cn-north-1",
            "cn-northwest-1",
        ],
        Vendor::Azure => &[
            "eastus",
            "westus2",
            "westeurope",
            "northeurope",
            "southeastasia",
            "eastasia",
            "japaneast",
            "chinanorth3",
            "chinaeast2",
        ],
        Vendor::Gcp => &[
            "us-central1",
            "us-east4",
            "europe-west1",
            "europe-west3",
            "asia-east1",
            "asia-east2",
            "asia-northeast1",
            "asia-southeast1",
        ],
        Vendor::Alibaba => &[
            "cn-hangzhou",
            "cn-shanghai",
            "cn-beijing",
            "cn-shenzhen",
            "cn-zhangjiakou",
            "cn-chengdu",
            "cn-hongkong",
            "ap-southeast-1",
            "us-west-1",
            "eu-central-1",
        ],
        Vendor::Tencent => &[
            "ap-guangzhou",
            "ap-shanghai",
            "ap-beijing",
            "ap-chengdu",
            "ap-chongqing",
            "ap-nanjing",
            "ap-hongkong",
            "ap-singapore",
            "na-siliconvalley",
        ],
        Vendor::Ibm => &["us-south", "us-east", "eu-de", "eu-gb", "jp-tok", "au-syd"],
        Vendor::Ctyun => &[
            "cn-huadong1",
            "cn-huabei2",
            "cn-huanan1",
            "cn-xinan1",
            "cn-neimeng1",
            "cn-guizhou1",
        ],
        Vendor::Kingsoft => &[
            "cn-beijing-6",
            "cn-shanghai-2",
            "cn-guangzhou-1",
            "cn-qingyangtest-1",
            "ap-singapore-1",
        ],
        Vendor::Ucloud => &["cn-bj2", "cn-sh2", "cn-gd", "hk", "sg", "us-ca"],
    }
}

/// A demo region: the vendor's region, and how names say where it is.
struct DemoRegion {
    region: Region,
    place_en: &'static str,
    place_zh: &'static str,
}

/// The demo regions of `vendor`, in order; a code missing from the table is
/// left out (a test keeps the two in step).
fn regions(vendor: Vendor) -> Vec<DemoRegion> {
    region_codes(vendor)
        .iter()
        .filter_map(|code| {
            let known = geography::known(vendor, code)?;
            Some(DemoRegion {
                region: known.region().ok()?,
                place_en: known.city.unwrap_or(known.code),
                place_zh: known.name_zh.or(known.city).unwrap_or(known.code),
            })
        })
        .collect()
}

fn currency_of(vendor: Vendor) -> Currency {
    match vendor {
        Vendor::Alibaba | Vendor::Tencent | Vendor::Ctyun | Vendor::Kingsoft | Vendor::Ucloud => {
            Currency::CNY
        }
        _ => Currency::USD,
    }
}

/// Price of one vCPU-hour in the vendor's currency, in ten-thousandths.
fn vcpu_hour_base(vendor: Vendor) -> i64 {
    match vendor {
        Vendor::Aws => 240,
        Vendor::Azure => 250,
        Vendor::Gcp => 230,
        Vendor::Ibm => 260,
        Vendor::Alibaba => 1_500,
        Vendor::Tencent => 1_450,
        Vendor::Ctyun => 1_350,
        Vendor::Kingsoft => 1_400,
        Vendor::Ucloud => 1_380,
    }
}

/// An instance family: code, GiB per vCPU, GPU model, names, architecture, price factor (percent).
struct Family {
    code: &'static str,
    mem_per_vcpu: u32,
    gpu: Option<&'static str>,
    en: &'static str,
    zh: &'static str,
    arch: Architecture,
    price_pct: i64,
}

const FAMILIES: &[Family] = &[
    Family {
        code: "g",
        mem_per_vcpu: 4,
        gpu: None,
        en: "General Purpose",
        zh: "通用型",
        arch: Architecture::X86_64,
        price_pct: 100,
    },
    Family {
        code: "c",
        mem_per_vcpu: 2,
        gpu: None,
        en: "Compute Optimized",
        zh: "计算型",
        arch: Architecture::X86_64,
        price_pct: 90,
    },
    Family {
        code: "r",
        mem_per_vcpu: 8,
        gpu: None,
        en: "Memory Optimized",
        zh: "内存型",
        arch: Architecture::X86_64,
        price_pct: 130,
    },
    Family {
        code: "ga",
        mem_per_vcpu: 4,
        gpu: None,
        en: "General Purpose Arm",
        zh: "通用型 Arm",
        arch: Architecture::Arm64,
        price_pct: 80,
    },
    Family {
        code: "t",
        mem_per_vcpu: 2,
        gpu: None,
        en: "Burstable",
        zh: "突发性能型",
        arch: Architecture::X86_64,
        price_pct: 60,
    },
    Family {
        code: "gn",
        mem_per_vcpu: 8,
        gpu: Some("NVIDIA A10"),
        en: "GPU Accelerated",
        zh: "GPU 计算型",
        arch: Architecture::X86_64,
        price_pct: 420,
    },
    Family {
        code: "gp",
        mem_per_vcpu: 8,
        gpu: Some("NVIDIA A100"),
        en: "GPU Training",
        zh: "GPU 训练型",
        arch: Architecture::X86_64,
        price_pct: 900,
    },
];

const SIZES: &[u32] = &[2, 4, 8, 16, 32, 64];
const OSES: &[(&str, &str, &str, i64)] = &[
    ("linux", "Linux", "Linux", 0),
    ("windows", "Windows Server", "Windows Server", 25),
];

fn size_word(vcpu: u32) -> String {
    match vcpu {
        2 => "large".into(),
        4 => "xlarge".into(),
        n => format!("{}xlarge", n / 4),
    }
}

/// The vendor's way of naming an instance type.
fn instance_type(vendor: Vendor, fam: &Family, generation: u32, vcpu: u32) -> String {
    let mem = vcpu * fam.mem_per_vcpu;
    match vendor {
        Vendor::Aws => format!("{}{}.{}", fam.code, generation, size_word(vcpu)),
        Vendor::Azure => format!(
            "Standard_{}{}s_v{}",
            fam.code.to_uppercase(),
            vcpu,
            generation
        ),
        Vendor::Gcp => format!("{}{}-standard-{}", fam.code, generation, vcpu),
        Vendor::Alibaba => format!("ecs.{}{}.{}", fam.code, generation, size_word(vcpu)),
        Vendor::Tencent => format!(
            "{}{}.{}{}",
            fam.code.to_uppercase(),
            generation,
            size_word(vcpu).to_uppercase(),
            mem
        ),
        Vendor::Ibm => format!("{}x{}-{}x{}", fam.code, generation, vcpu, mem),
        Vendor::Ctyun => format!(
            "{}{}.{}.{}",
            fam.code,
            generation,
            size_word(vcpu),
            fam.mem_per_vcpu
        ),
        Vendor::Kingsoft => format!("{}{}.{}B", fam.code.to_uppercase(), generation, vcpu),
        Vendor::Ucloud => format!(
            "{}{}-{}C{}G",
            fam.code.to_uppercase(),
            generation,
            vcpu,
            mem
        ),
    }
}

fn service_of(vendor: Vendor) -> &'static str {
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

/// A non-compute product: category, service, names, unit, base price in ten-thousandths, tiered.
struct Product {
    key: &'static str,
    category: &'static str,
    service: &'static str,
    en: &'static str,
    zh: &'static str,
    unit: PriceUnit,
    base: i64,
    tiered: bool,
}

const PRODUCTS: &[Product] = &[
    Product {
        key: "ssd",
        category: "storage.block",
        service: "block-storage",
        en: "SSD Cloud Disk",
        zh: "SSD 云硬盘",
        unit: PriceUnit::GbMonth,
        base: 1_000,
        tiered: false,
    },
    Product {
        key: "hdd",
        category: "storage.block",
        service: "block-storage",
        en: "Standard Cloud Disk",
        zh: "普通云硬盘",
        unit: PriceUnit::GbMonth,
        base: 450,
        tiered: false,
    },
    Product {
        key: "oss",
        category: "storage.object",
        service: "object-storage",
        en: "Standard Object Storage",
        zh: "标准型对象存储",
        unit: PriceUnit::GbMonth,
        base: 230,
        tiered: true,
    },
    Product {
        key: "nas",
        category: "storage.file",
        service: "file-storage",
        en: "File Storage",
        zh: "文件存储",
        unit: PriceUnit::GbMonth,
        base: 3_000,
        tiered: false,
    },
    Product {
        key: "bw",
        category: "network.bandwidth",
        service: "bandwidth",
        en: "Public Bandwidth",
        zh: "公网带宽",
        unit: PriceUnit::MbpsMonth,
        base: 230_000,
        tiered: false,
    },
    Product {
        key: "cdn",
        category: "network.cdn",
        service: "cdn",
        en: "CDN Traffic",
        zh: "CDN 流量",
        unit: PriceUnit::Gb,
        base: 850,
        tiered: true,
    },
    Product {
        key: "slb",
        category: "network.load_balancer",
        service: "load-balancer",
        en: "Application Load Balancer",
        zh: "应用型负载均衡",
        unit: PriceUnit::Hour,
        base: 2_250,
        tiered: false,
    },
    Product {
        key: "eip",
        category: "network.ip",
        service: "elastic-ip",
        en: "Elastic Public IP",
        zh: "弹性公网 IP",
        unit: PriceUnit::Hour,
        base: 50,
        tiered: false,
    },
    Product {
        key: "ddos",
        category: "security.ddos",
        service: "anti-ddos",
        en: "Anti-DDoS Protection",
        zh: "DDoS 高防",
        unit: PriceUnit::Month,
        base: 30_000_000,
        tiered: false,
    },
    Product {
        key: "cfw",
        category: "security.firewall",
        service: "cloud-firewall",
        en: "Cloud Firewall",
        zh: "云防火墙",
        unit: PriceUnit::Month,
        base: 6_000_000,
        tiered: false,
    },
    Product {
        key: "mq",
        category: "middleware.queue",
        service: "message-queue",
        en: "Message Queue",
        zh: "消息队列",
        unit: PriceUnit::Hour,
        base: 3_000,
        tiered: false,
    },
];

/// Managed database engines: key, category, names.
const DATABASES: &[(&str, &str, &str, &str)] = &[
    ("mysql", "database.relational", "MySQL", "云数据库 MySQL"),
    (
        "postgresql",
        "database.relational",
        "PostgreSQL",
        "云数据库 PostgreSQL",
    ),
    ("redis", "database.cache", "Redis", "云数据库 Redis"),
    ("mongodb", "database.nosql", "MongoDB", "云数据库 MongoDB"),
];

/// What one position of a vendor's product space is.
#[derive(Clone, Copy)]
enum Item {
    Instance {
        family: usize,
        size: usize,
        os: usize,
    },
    Database {
        engine: usize,
        size: usize,
    },
    Product {
        product: usize,
    },
}

fn items() -> Vec<Item> {
    let mut instances = Vec::new();
    for os in 0..OSES.len() {
        for size in 0..SIZES.len() {
            for family in 0..FAMILIES.len() {
                instances.push(Item::Instance { family, size, os });
            }
        }
    }
    let mut databases = Vec::new();
    for size in 0..4 {
        for engine in 0..DATABASES.len() {
            databases.push(Item::Database { engine, size });
        }
    }
    let products: Vec<Item> = (0..PRODUCTS.len())
        .map(|product| Item::Product { product })
        .collect();
    // Interleave the three kinds so a small catalog still has each of them.
    let longest = instances.len().max(databases.len()).max(products.len());
    let mut all = Vec::with_capacity(instances.len() + databases.len() + products.len());
    for i in 0..longest {
        for list in [&instances, &databases, &products] {
            if let Some(item) = list.get(i) {
                all.push(*item);
            }
        }
    }
    all
}

/// The demo catalog generator. Iterate it for listings.
pub struct DemoCatalog {
    rng: fastrand::Rng,
    remaining: u64,
    items: Vec<Item>,
    /// Each vendor's demo regions, in [`Vendor::ALL`] order.
    regions: Vec<Vec<DemoRegion>>,
    fetched_at: DateTime<Utc>,
    /// Position of each vendor in its product space: (round, position, unused).
    cursors: Vec<(u32, usize, usize)>,
    vendor_turn: usize,
    pending: VecDeque<Listing>,
}

impl DemoCatalog {
    /// `count` listings from `seed`, spread over every vendor.
    pub fn new(seed: u64, count: u64) -> Self {
        DemoCatalog {
            rng: fastrand::Rng::with_seed(seed),
            remaining: count,
            items: items(),
            regions: Vendor::ALL.into_iter().map(regions).collect(),
            // Fixed so the same seed gives byte-identical listings.
            fetched_at: Utc
                .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            cursors: vec![(0, 0, 0); Vendor::ALL.len()],
            vendor_turn: 0,
            pending: VecDeque::new(),
        }
    }

    fn next_position(&mut self, vendor_idx: usize) -> (u32, usize, Item) {
        // `max(1)`: a vendor without regions yields nothing rather than dividing by zero.
        let region_count = self.regions[vendor_idx].len().max(1);
        let item_count = self.items.len();
        let (round, position, _) = self.cursors[vendor_idx];
        // Walk items fastest and shift the region per lap, so even a small
        // catalog has every kind of offer in several regions.
        let item = position % item_count;
        let region = (position / item_count + item) % region_count;
        let next = if position + 1 == region_count * item_count {
            (round + 1, 0, 0)
        } else {
            (round, position + 1, 0)
        };
        self.cursors[vendor_idx] = next;
        (round, region, self.items[item])
    }

    /// Jitter of ±8 % so prices differ between regions.
    fn jitter(&mut self, amount: i64) -> i64 {
        let pct = self.rng.i64(92..=108);
        amount * pct / 100
    }

    fn build(
        &mut self,
        vendor_idx: usize,
        round: u32,
        region_idx: usize,
        item: Item,
    ) -> Option<Listing> {
        let vendor = Vendor::ALL[vendor_idx];
        let DemoRegion {
            region,
            place_en: city,
            place_zh: city_zh,
        } = self.regions[vendor_idx].get(region_idx)?;
        let (region, city, city_zh) = (region.clone(), *city, *city_zh);
        let code = region.code.clone();
        let currency = currency_of(vendor);
        let money = |ten_thousandths: i64| Money::new(Decimal::new(ten_thousandths, 4), currency);
        let provenance = Provenance::from_raw(
            "demo.generator",
            format!("{vendor}/{round}/{region_idx}").as_bytes(),
            self.fetched_at,
        );
        let builder = match item {
            Item::Instance { family, size, os } => {
                let fam = &FAMILIES[family];
                let vcpu = SIZES[size];
                // Later rounds are newer generations, as vendors add them.
                let generation = 6 + round;
                let itype = instance_type(vendor, fam, generation, vcpu);
                let (os_key, os_en, os_zh, os_pct) = OSES[os];
                let gpu_count = fam.gpu.map(|_| (vcpu / 8).max(1));
                let hourly = self.jitter(
                    vcpu_hour_base(vendor) * i64::from(vcpu) * fam.price_pct / 100 * (100 + os_pct)
                        / 100,
                );
                // Subscriptions are quoted in whole cents (fen).
                let monthly = hourly * 730 * 85 / 100 / 100 * 100;
                let yearly = monthly * 12 * 83 / 100 / 100 * 100;
                let category = if fam.gpu.is_some() {
                    "compute.gpu"
                } else {
                    "compute.vm"
                };
                let mem = vcpu * fam.mem_per_vcpu;
                let mut b =
                    Listing::builder(vendor, format!("{itype}@{code}/{os_key}"), provenance)
                        .category(Category::parse(category).ok()?)
                        .service(service_of(vendor))
                        .name_en(format!(
                            "{} {itype} {vcpu} vCPU {mem} GiB {os_en} ({city})",
                            fam.en
                        ))
                        .name_zh(format!(
                            "{}实例 {itype} {vcpu}核{mem}GiB {os_zh}（{city_zh}）",
                            fam.zh
                        ))
                        .description_en(format!(
                            "{} instance of {} in {code}",
                            fam.en,
                            vendor.name_en()
                        ))
                        .description_zh(format!(
                            "{}{}云服务器，地域：{city_zh}",
                            vendor.name_zh(),
                            fam.zh
                        ))
                        .specs(Specs {
                            vcpu: Some(vcpu),
                            memory_gib: Some(Decimal::from(mem)),
                            gpu_count,
                            gpu_model: fam.gpu.map(str::to_owned),
                            storage_gib: None,
                            bandwidth_mbps: Some(Decimal::from(vcpu.min(32) * 500)),
                            architecture: Some(fam.arch),
                            os: Some(os_key.to_owned()),
                        })
                        .price(
                            PriceComponent::flat(
                                BillingMode::OnDemand,
                                PriceUnit::Hour,
                                money(hourly),
                            )
                            .ok()?,
                        )
                        .price(
                            PriceComponent::flat(
                                BillingMode::Monthly,
                                PriceUnit::Month,
                                money(monthly),
                            )
                            .ok()?,
                        )
                        .price(
                            PriceComponent::flat(
                                BillingMode::Yearly,
                                PriceUnit::Year,
                                money(yearly),
                            )
                            .ok()?,
                        )
                        .tag(format!("family:{}{generation}", fam.code));
                if fam.code != "t" {
                    let spot = hourly * i64::from(self.rng.u32(25..=45)) / 100;
                    b = b.price(
                        PriceComponent::flat(BillingMode::Spot, PriceUnit::Hour, money(spot))
                            .ok()?,
                    );
                }
                b
            }
            Item::Database { engine, size } => {
                let (key, category, en, zh) = DATABASES[engine];
                let vcpu = SIZES[size];
                let mem = vcpu * 4;
                let hourly = self.jitter(vcpu_hour_base(vendor) * i64::from(vcpu) * 180 / 100);
                let generation = round + 1;
                Listing::builder(
                    vendor,
                    format!("{key}.v{generation}.{vcpu}c{mem}g@{code}"),
                    provenance,
                )
                .category(Category::parse(category).ok()?)
                .service(key)
                .name_en(format!(
                    "{en} {vcpu} vCPU {mem} GiB, generation {generation} ({city})"
                ))
                .name_zh(format!(
                    "{zh} {vcpu}核{mem}GiB 第{generation}代（{city_zh}）"
                ))
                .specs(Specs {
                    vcpu: Some(vcpu),
                    memory_gib: Some(Decimal::from(mem)),
                    storage_gib: Some(Decimal::from(vcpu * 50)),
                    ..Specs::default()
                })
                .price(
                    PriceComponent::flat(BillingMode::OnDemand, PriceUnit::Hour, money(hourly))
                        .ok()?,
                )
                .price(
                    PriceComponent::flat(
                        BillingMode::Monthly,
                        PriceUnit::Month,
                        money(hourly * 730 * 85 / 100 / 100 * 100),
                    )
                    .ok()?,
                )
            }
            Item::Product { product } => {
                let p = &PRODUCTS[product];
                let mut base = self.jitter(p.base);
                if currency == Currency::CNY {
                    base *= 7;
                }
                let tier = round + 1;
                let price = if p.tiered {
                    let tiers = vec![
                        PriceTier::new(Decimal::ZERO, Some(Decimal::from(10_240)), money(base))
                            .ok()?,
                        PriceTier::new(
                            Decimal::from(10_240),
                            Some(Decimal::from(51_200)),
                            money(base * 9 / 10),
                        )
                        .ok()?,
                        PriceTier::new(Decimal::from(51_200), None, money(base * 8 / 10)).ok()?,
                    ];
                    PriceComponent::tiered(BillingMode::OnDemand, p.unit, tiers).ok()?
                } else {
                    PriceComponent::flat(BillingMode::OnDemand, p.unit, money(base)).ok()?
                };
                Listing::builder(vendor, format!("{}.{tier}@{code}", p.key), provenance)
                    .category(Category::parse(p.category).ok()?)
                    .service(p.service)
                    .name_en(format!("{} (edition {tier}, {city})", p.en))
                    .name_zh(format!("{}（版本 {tier}，{city_zh}）", p.zh))
                    .price(price)
            }
        };
        builder
            .region(region)
            .tag(format!("vendor:{vendor}"))
            .build()
            .ok()
    }
}

impl Iterator for DemoCatalog {
    type Item = Listing;

    fn next(&mut self) -> Option<Listing> {
        if let Some(listing) = self.pending.pop_front() {
            return Some(listing);
        }
        while self.remaining > 0 {
            let vendor_idx = self.vendor_turn % Vendor::ALL.len();
            self.vendor_turn += 1;
            let (round, region, item) = self.next_position(vendor_idx);
            if let Some(listing) = self.build(vendor_idx, round, region, item) {
                self.remaining -= 1;
                return Some(listing);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_catalog_and_ids_are_unique() {
        let a: Vec<Listing> = DemoCatalog::new(7, 3_000).collect();
        let b: Vec<Listing> = DemoCatalog::new(7, 3_000).collect();
        assert_eq!(a.len(), 3_000);
        assert_eq!(a, b);
        let ids: HashSet<_> = a.iter().map(|l| l.id().clone()).collect();
        assert_eq!(ids.len(), a.len(), "every listing has its own id");
        let c: Vec<Listing> = DemoCatalog::new(8, 50).collect();
        assert_ne!(
            a[..50]
                .iter()
                .map(|l| l.prices().to_vec())
                .collect::<Vec<_>>(),
            c.iter().map(|l| l.prices().to_vec()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_vendor_appears_with_its_currency_and_chinese_names() {
        let all: Vec<Listing> = DemoCatalog::new(1, 900).collect();
        for vendor in Vendor::ALL {
            let of_vendor: Vec<_> = all.iter().filter(|l| l.vendor() == vendor).collect();
            assert!(of_vendor.len() >= 90, "{vendor}: {}", of_vendor.len());
            for l in of_vendor {
                assert_eq!(l.prices()[0].amount().currency(), currency_of(vendor));
                assert!(l.name().zh.is_some() && l.name().en.is_some());
            }
        }
    }

    #[test]
    fn every_demo_region_is_in_the_geography_table() {
        for vendor in Vendor::ALL {
            let codes = region_codes(vendor);
            assert!(!codes.is_empty(), "{vendor} has demo regions");
            assert_eq!(regions(vendor).len(), codes.len(), "{vendor}");
            for code in codes {
                let known = geography::known(vendor, code)
                    .unwrap_or_else(|| panic!("{vendor} {code} is not in the table"));
                assert!(
                    known.name_zh.is_some(),
                    "{vendor} {code} has a Chinese name"
                );
            }
        }
    }

    #[test]
    fn demo_listings_are_where_the_table_says() {
        let mut seen = HashSet::new();
        for listing in DemoCatalog::new(5, 2_000) {
            let region = listing.region();
            let placed = geography::region_of(listing.vendor(), &region.code).unwrap();
            assert_eq!(*region, placed, "{}", listing.id());
            seen.insert((listing.vendor(), region.code.clone()));
        }
        let all: usize = Vendor::ALL.into_iter().map(|v| region_codes(v).len()).sum();
        assert_eq!(seen.len(), all, "a small catalog covers every demo region");
    }

    #[test]
    fn large_catalogs_stay_unique_past_the_natural_product_space() {
        let n = 9 * 10 * items().len() as u64 * 2 + 17;
        let ids: HashSet<_> = DemoCatalog::new(3, n).map(|l| l.id().clone()).collect();
        assert_eq!(ids.len() as u64, n);
    }
}
