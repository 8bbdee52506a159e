//! The catalog side of `scripts/bench-typesense`: the demo catalog as
//! Typesense documents, the query mix as request lines for both engines,
//! and NDCG@10 of both over the labelled relevance set.
//!
//! ```text
//! bench_catalog schema                                  # Typesense collection schema (JSON)
//! bench_catalog export   --listings N [--seed 42]       # documents, JSONL
//! bench_catalog requests --listings N [--seed 42]       # class \t Shiyun path \t Typesense path
//! bench_catalog ndcg --queries FILE --listings N [--seed 42]
//!                    --shiyun URL --typesense URL --typesense-key KEY
//! ```
//!
//! Translation of a Shiyun search to Typesense (one place, here):
//! - `q` → `q` (`*` when empty), `query_by` = both names, both
//!   descriptions, the region's names and aliases, the SKU, names weighted
//!   3 to the others' 1; typo tolerance on (`num_typos=2`: Typesense's
//!   defaults allow 1 typo from 4 letters and 2 from 7, Shiyun's 1 from 4
//!   and 2 from 8), `prefix=true`, `per_page` = `limit`;
//! - filters → `filter_by`: `vendor=a,b` → ``vendor:[`a`,`b`]``,
//!   `country=cn` → ``country:=`cn` ``, `vcpu_min/max` → `vcpu:[2..16]`,
//!   joined by `&&`;
//! - `facets=` → `facet_by=` (`billing_mode` → `billing_modes`),
//!   `max_facet_values=100` (Shiyun returns every value);
//! - `sort=price_asc&currency=CNY` → `sort_by=price_cny:asc`: Typesense
//!   cannot convert currencies at query time nor hold exact decimals, so
//!   each document carries its headline price converted to CNY at export,
//!   as a float;
//! - spec queries (`4核8G 上海`) go as plain text: Typesense has no query
//!   understanding;
//! - equivalents of a listing → a filter query built from the listing's
//!   facts at export (same category and country, another vendor, the same
//!   billing mode priced, the same vCPUs, memory within 25 %, the same
//!   architecture and GPU model, cheaper in CNY), `sort_by=price_cny:asc`,
//!   10 hits; Shiyun looks the listing up itself.

#![expect(
    clippy::expect_used,
    reason = "a benchmark tool stops at the first failure"
)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use reqwest::Url;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::{Architecture, Listing};
use shiyun_search::fields::summary_of;
use shiyun_search::relevance::{RelevanceSet, ndcg_at};

/// Typesense's collection.
const COLLECTION: &str = "listings";
/// USD → CNY, the rate the in-process bench and the server demo use.
const USD_CNY: Decimal = Decimal::from_parts(71, 0, 0, false, 1);
const QUERY_BY: &str = "name_zh,name_en,description_zh,description_en,region_text,sku";
const QUERY_BY_WEIGHTS: &str = "3,3,1,1,1,1";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str, default: u64) -> u64 {
    arg(args, name).map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = number(&args, "--seed", 42);
    let listings = number(&args, "--listings", 100_000);
    match args.first().map(String::as_str) {
        Some("schema") => println!("{}", schema()),
        Some("export") => export(seed, listings),
        Some("requests") => requests(seed, listings),
        Some("ndcg") => ndcg(&args, seed, listings),
        _ => {
            eprintln!("usage: bench_catalog schema|export|requests|ndcg [options]");
            std::process::exit(2);
        }
    }
}

fn schema() -> Value {
    let field = |name: &str, kind: &str, facet: bool, optional: bool| json!({ "name": name, "type": kind, "facet": facet, "optional": optional });
    let chinese =
        |name: &str| json!({ "name": name, "type": "string", "locale": "zh", "optional": true });
    json!({
        "name": COLLECTION,
        "fields": [
            chinese("name_zh"),
            field("name_en", "string", false, true),
            chinese("description_zh"),
            field("description_en", "string", false, true),
            chinese("region_text"),
            field("sku", "string", false, false),
            field("service", "string", true, false),
            field("vendor", "string", true, false),
            field("category", "string", true, false),
            field("family", "string", true, false),
            field("region", "string", true, false),
            field("country", "string", true, false),
            field("city", "string", true, true),
            field("billing_modes", "string[]", true, false),
            field("os", "string", true, true),
            field("arch", "string", true, true),
            field("gpu_model", "string", true, true),
            field("vcpu", "int32", true, true),
            field("memory_gib", "float", true, true),
            field("gpu_count", "int32", true, true),
            field("price", "float", false, true),
            field("currency", "string", true, true),
            field("price_cny", "float", false, true),
        ]
    })
}

fn arch_text(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
        Architecture::Power => "power",
    }
}

/// The headline price (the one Shiyun shows without a billing mode) in
/// CNY, its billing mode, and the amount in the listing's currency.
fn headline(listing: &Listing) -> Option<(f64, String, f64)> {
    let summary = summary_of(listing);
    let price = summary.price(None)?;
    let rate = match price.currency.code() {
        "CNY" => Decimal::ONE,
        "USD" => USD_CNY,
        _ => return None,
    };
    Some((
        (price.amount * rate).to_f64()?,
        price.billing_mode.as_text(),
        price.amount.to_f64()?,
    ))
}

fn document(listing: &Listing) -> Value {
    let specs = listing.specs();
    let region = listing.region();
    let mut modes: Vec<String> = Vec::new();
    for price in listing.prices() {
        let mode = price.billing_mode().as_text();
        if !modes.contains(&mode) {
            modes.push(mode);
        }
    }
    let mut doc = json!({
        "id": listing.id().as_str(),
        "sku": listing.vendor_sku(),
        "service": listing.service(),
        "vendor": listing.vendor().id(),
        "category": listing.category().as_str(),
        "family": listing.category().family(),
        "region": region.code,
        "region_text": region.search_text(),
        "country": region.geography.country,
        "billing_modes": modes,
    });
    let mut put = |key: &str, value: Value| {
        if let Value::Object(map) = &mut doc {
            map.insert(key.to_owned(), value);
        }
    };
    let name = listing.name();
    let description = listing.description();
    for (key, text) in [
        ("name_zh", &name.zh),
        ("name_en", &name.en),
        ("description_zh", &description.zh),
        ("description_en", &description.en),
        ("city", &region.geography.city),
        ("os", &specs.os),
        ("gpu_model", &specs.gpu_model),
    ] {
        if let Some(text) = text {
            put(key, json!(text));
        }
    }
    if let Some(arch) = specs.architecture {
        put("arch", json!(arch_text(arch)));
    }
    if let Some(vcpu) = specs.vcpu {
        put("vcpu", json!(vcpu));
    }
    if let Some(memory) = specs.memory_gib.and_then(|m| m.to_f64()) {
        put("memory_gib", json!(memory));
    }
    if let Some(count) = specs.gpu_count {
        put("gpu_count", json!(count));
    }
    if let Some((cny, _, amount)) = headline(listing) {
        put("price_cny", json!(cny));
        put("price", json!(amount));
    }
    if let Some(first) = listing.prices().first() {
        put("currency", json!(first.amount().currency().code()));
    }
    doc
}

fn export(seed: u64, listings: u64) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for listing in DemoCatalog::new(seed, listings) {
        writeln!(out, "{}", document(&listing)).expect("write");
    }
    out.flush().expect("flush");
}

/// A path with its query, percent-encoded.
fn path(path: &str, params: &[(&str, String)]) -> String {
    let mut url = Url::parse("http://bench.invalid").expect("base url");
    url.set_path(path);
    url.query_pairs_mut().extend_pairs(params);
    // Form encoding writes a space as `+` (a `+` itself as `%2B`): `%20`
    // reads the same to every server.
    let query = url.query().unwrap_or_default().replace('+', "%20");
    format!("{}?{query}", url.path())
}

/// A text search both ways.
fn text_search(q: &str, limit: u32) -> (String, String) {
    let shiyun = path(
        "/v1/search",
        &[("q", q.to_owned()), ("limit", limit.to_string())],
    );
    let typesense = path(
        &format!("/collections/{COLLECTION}/documents/search"),
        &typesense_text(q, limit),
    );
    (shiyun, typesense)
}

fn typesense_text(q: &str, limit: u32) -> Vec<(&'static str, String)> {
    vec![
        (
            "q",
            if q.trim().is_empty() {
                "*".into()
            } else {
                q.into()
            },
        ),
        ("query_by", QUERY_BY.into()),
        ("query_by_weights", QUERY_BY_WEIGHTS.into()),
        ("num_typos", "2".into()),
        ("prefix", "true".into()),
        ("per_page", limit.to_string()),
    ]
}

const TEXT_QUERIES: &[&str] = &[
    "云服务器",
    "mysql",
    "windows server",
    "对象存储",
    "redis 6.0",
    "负载均衡",
    "postgresql 14",
    "阿里云 ecs",
    "内存型",
    "cdn",
];

const SPEC_QUERIES: &[&str] = &[
    "4核8G 上海",
    "8核 32G 杭州 按量",
    "2xlarge",
    "GPU A100",
    "16核64G 北京 包年包月",
    "内存型 4核32G",
];

/// The `full` class: words, three filters, five facets, price sort in CNY.
const FULL_QUERIES: &[(&str, &[&str], u32, u32)] = &[
    ("云服务器", &["alibaba", "tencent", "aws"], 2, 16),
    ("通用型", &["alibaba", "tencent", "aws"], 2, 16),
    ("计算型", &["alibaba", "ctyun", "kingsoft"], 4, 32),
    ("内存型", &["tencent", "ucloud", "azure"], 2, 16),
    ("云服务器", &["ctyun", "kingsoft", "ucloud"], 8, 64),
    ("实例", &["alibaba", "tencent", "aws"], 2, 16),
];

const FACETS: &[&str] = &["vendor", "category", "region", "billing_mode", "vcpu"];

fn full_search(q: &str, vendors: &[&str], min: u32, max: u32) -> (String, String) {
    let shiyun = path(
        "/v1/search",
        &[
            ("q", q.to_owned()),
            ("vendor", vendors.join(",")),
            ("country", "cn".into()),
            ("vcpu_min", min.to_string()),
            ("vcpu_max", max.to_string()),
            ("facets", FACETS.join(",")),
            ("sort", "price_asc".into()),
            ("currency", "CNY".into()),
            ("limit", "20".into()),
        ],
    );
    let vendor_list: Vec<String> = vendors.iter().map(|v| format!("`{v}`")).collect();
    let facet_by: Vec<&str> = FACETS
        .iter()
        .map(|f| {
            if *f == "billing_mode" {
                "billing_modes"
            } else {
                f
            }
        })
        .collect();
    let mut params = typesense_text(q, 20);
    params.extend([
        (
            "filter_by",
            format!(
                "vendor:[{}] && country:=`cn` && vcpu:[{min}..{max}]",
                vendor_list.join(",")
            ),
        ),
        ("facet_by", facet_by.join(",")),
        ("max_facet_values", "100".into()),
        ("sort_by", "price_cny:asc".into()),
    ]);
    let typesense = path(
        &format!("/collections/{COLLECTION}/documents/search"),
        &params,
    );
    (shiyun, typesense)
}

/// Equivalents of `listing` both ways, when it has what they need.
fn equivalents(listing: &Listing) -> Option<(String, String)> {
    let specs = listing.specs();
    let vcpu = specs.vcpu?;
    let memory = specs.memory_gib?.to_f64()?;
    let (cny, mode, _) = headline(listing)?;
    let shiyun = path(
        &format!("/v1/listings/{}/equivalents", listing.id().as_str()),
        &[("currency", "CNY".into())],
    );
    let mut filters = vec![
        format!("category:=`{}`", listing.category().as_str()),
        format!("country:=`{}`", listing.region().geography.country),
        format!("vendor:!=`{}`", listing.vendor().id()),
        format!("billing_modes:=`{mode}`"),
        format!("vcpu:={vcpu}"),
        format!("memory_gib:[{}..{}]", memory * 0.75, memory * 1.25),
        format!("price_cny:<{cny}"),
    ];
    if let Some(arch) = specs.architecture {
        filters.push(format!("arch:=`{}`", arch_text(arch)));
    }
    if let Some(gpu) = &specs.gpu_model {
        filters.push(format!("gpu_model:=`{gpu}`"));
    }
    let typesense = path(
        &format!("/collections/{COLLECTION}/documents/search"),
        &[
            ("q", "*".into()),
            ("query_by", "name_en".into()),
            ("filter_by", filters.join(" && ")),
            ("sort_by", "price_cny:asc".into()),
            ("per_page", "10".into()),
        ],
    );
    Some((shiyun, typesense))
}

fn requests(seed: u64, listings: u64) {
    let mut lines: Vec<(&str, (String, String))> = Vec::new();
    for q in TEXT_QUERIES {
        lines.push(("text", text_search(q, 20)));
    }
    for (q, vendors, min, max) in FULL_QUERIES {
        lines.push(("full", full_search(q, vendors, *min, *max)));
    }
    for q in SPEC_QUERIES {
        lines.push(("spec", text_search(q, 20)));
    }
    // Ten compute listings spread over the catalog.
    let step = (listings / 400).max(1) as usize;
    let picked: Vec<Listing> = DemoCatalog::new(seed, listings)
        .step_by(step)
        .filter(|l| l.category().family() == "compute")
        .take(10)
        .collect();
    for listing in &picked {
        if let Some(pair) = equivalents(listing) {
            lines.push(("equiv", pair));
        }
    }
    for (class, (shiyun, typesense)) in lines {
        println!("{class}\t{shiyun}\t{typesense}");
    }
}

async fn top_ids(
    client: &reqwest::Client,
    url: String,
    key: Option<&str>,
    typesense: bool,
) -> (Vec<String>, u64) {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.header("X-TYPESENSE-API-KEY", key);
    }
    let body: Value = request
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("search answered")
        .json()
        .await
        .expect("search JSON");
    let (hits, total) = if typesense {
        (&body["hits"], body["found"].as_u64().unwrap_or(0))
    } else {
        (&body["hits"], body["total"].as_u64().unwrap_or(0))
    };
    let ids = hits
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| {
                    let id = if typesense {
                        &h["document"]["id"]
                    } else {
                        &h["id"]
                    };
                    id.as_str().map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    (ids, total)
}

fn ndcg(args: &[String], seed: u64, listings: u64) {
    let file = arg(args, "--queries").expect("--queries FILE");
    let shiyun = arg(args, "--shiyun").expect("--shiyun URL");
    let typesense = arg(args, "--typesense").expect("--typesense URL");
    let key = arg(args, "--typesense-key").expect("--typesense-key KEY");
    let set: RelevanceSet =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read the relevance set"))
            .expect("the relevance set parses");
    let catalog: Vec<Listing> = DemoCatalog::new(seed, listings).collect();
    let by_id: HashMap<&str, &Listing> = catalog.iter().map(|l| (l.id().as_str(), l)).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let mut sums = [0.0_f64; 2];
    let mut zero = [0_u32; 2];
    let mut by_kind: BTreeMap<String, ([f64; 2], usize)> = BTreeMap::new();
    for query in &set.queries {
        let (shiyun_path, typesense_path) = text_search(&query.q, 10);
        let ideal: Vec<u8> = catalog.iter().map(|l| query.grade(l)).collect();
        let answers = runtime.block_on(async {
            [
                top_ids(&client, format!("{shiyun}{shiyun_path}"), None, false).await,
                top_ids(
                    &client,
                    format!("{typesense}{typesense_path}"),
                    Some(&key),
                    true,
                )
                .await,
            ]
        });
        let entry = by_kind.entry(query.kind.clone()).or_default();
        entry.1 += 1;
        for (engine, (ids, total)) in answers.iter().enumerate() {
            let ranked: Vec<u8> = ids
                .iter()
                .map(|id| by_id.get(id.as_str()).map_or(0, |l| query.grade(l)))
                .collect();
            let score = ndcg_at(10, &ranked, &ideal);
            sums[engine] += score;
            entry.0[engine] += score;
            if *total == 0 {
                zero[engine] += 1;
            }
        }
    }
    let n = set.queries.len() as f64;
    println!("relevance_queries = {}", set.queries.len());
    for (engine, name) in ["shiyun", "typesense"].iter().enumerate() {
        println!("{name}_ndcg10 = {:.4}", sums[engine] / n);
        println!(
            "{name}_zero_result_rate = {:.4}",
            f64::from(zero[engine]) / n
        );
        for (kind, (kind_sums, count)) in &by_kind {
            println!(
                "{name}_ndcg10_{kind} = {:.4}",
                kind_sums[engine] / *count as f64
            );
        }
    }
}
