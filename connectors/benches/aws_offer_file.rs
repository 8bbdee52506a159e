//! AWS offer-file streaming benchmark.
//!
//! Generates a synthetic AWS Bulk API offer file (EC2 shape: products with
//! the usual attributes, one on-demand and twelve reserved terms each,
//! pretty-printed like the real files) of `SHIYUN_BENCH_OFFER_MB` MB
//! (default 1024) and one a quarter that size in a temp dir, then measures,
//! each in its own child process so peak RSS belongs to one phase:
//!
//! Each full-size phase runs three times, interleaved, and the best run is
//! reported (the machine is shared).
//!
//! 1. a bare `serde_json` parse of the full file into `IgnoredAny` (baseline),
//! 2. the streaming parse + normalise of the full file,
//! 3. the streaming parse + normalise of the quarter file (peak RSS only).
//!
//! Run: `cargo bench -p shiyun-connectors --bench aws_offer_file`
//! (`SHIYUN_BENCH_OFFER_MB=256` for a quicker run; `SHIYUN_BENCH_DIR=<dir>`
//! keeps the generated files).

use std::error::Error;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};
use shiyun_connectors::ImportContext;
use shiyun_connectors::aws::offer_file::stream_offer_file;

type Res<T> = Result<T, Box<dyn Error>>;

const CHILD_ENV: &str = "SHIYUN_BENCH_CHILD";
/// Runs of each full-size phase; the best is reported.
const RUNS: usize = 3;

const INSTANCE_TYPES: &[(&str, &str, &str, &str)] = &[
    ("m5.large", "2", "8 GiB", "0"),
    ("m5.xlarge", "4", "16 GiB", "0"),
    ("c5.2xlarge", "8", "16 GiB", "0"),
    ("r5.4xlarge", "16", "128 GiB", "0"),
    ("m6g.large", "2", "8 GiB", "0"),
    ("p4d.24xlarge", "96", "1,152 GiB", "8"),
    ("g5.xlarge", "4", "16 GiB", "1"),
];
const OS: &[&str] = &["Linux", "Windows", "RHEL", "SUSE"];
/// (code, years, class, option).
const RESERVED: &[(&str, u32, &str, &str)] = &[
    ("4NA7Y494T4", 1, "standard", "No Upfront"),
    ("HU7G6KETJZ", 1, "standard", "Partial Upfront"),
    ("6QCMYABX3D", 1, "standard", "All Upfront"),
    ("BPH4J8HBKS", 3, "standard", "No Upfront"),
    ("38NPMPTW36", 3, "standard", "Partial Upfront"),
    ("NQ3QZPMQV9", 3, "standard", "All Upfront"),
    ("7NE97W5U4E", 1, "convertible", "No Upfront"),
    ("CUZHX8X6JH", 1, "convertible", "Partial Upfront"),
    ("VJWZNREJX2", 1, "convertible", "All Upfront"),
    ("Z2E3P23VKM", 3, "convertible", "No Upfront"),
    ("R5XV2EPZQZ", 3, "convertible", "Partial Upfront"),
    ("MZU6U2429S", 3, "convertible", "All Upfront"),
];

fn sku_of(i: u64) -> String {
    // 16 upper-case letters and digits, like AWS SKUs.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555_5555;
    (0..16)
        .map(|_| {
            let c = ALPHABET[(x % 32) as usize] as char;
            x = x / 32 + 7919 * i;
            c
        })
        .collect()
}

fn product(i: u64, sku: &str) -> Value {
    let (instance_type, vcpu, memory, gpu) =
        INSTANCE_TYPES[(i % INSTANCE_TYPES.len() as u64) as usize];
    let os = OS[((i / 7) % OS.len() as u64) as usize];
    json!({
        "sku": sku,
        "productFamily": "Compute Instance",
        "attributes": {
            "servicecode": "AmazonEC2", "location": "US East (N. Virginia)", "locationType": "AWS Region",
            "instanceType": instance_type, "currentGeneration": "Yes", "instanceFamily": "General purpose",
            "vcpu": vcpu, "physicalProcessor": if instance_type.starts_with("m6g") { "AWS Graviton2 Processor" } else { "Intel Xeon Platinum 8175" },
            "clockSpeed": "3.1 GHz", "memory": memory, "storage": "EBS only", "networkPerformance": "Up to 10 Gigabit",
            "processorArchitecture": "64-bit", "tenancy": "Shared", "operatingSystem": os, "licenseModel": "No License required",
            "usagetype": format!("BoxUsage:{instance_type}"), "operation": "RunInstances", "availabilityzone": "NA",
            "capacitystatus": "Used", "classicnetworkingsupport": "false", "dedicatedEbsThroughput": "Up to 4750 Mbps",
            "ecu": "10", "enhancedNetworkingSupported": "Yes", "gpu": gpu, "intelAvxAvailable": "Yes",
            "intelAvx2Available": "Yes", "intelTurboAvailable": "Yes", "marketoption": "OnDemand",
            "normalizationSizeFactor": "4", "preInstalledSw": "NA", "processorFeatures": "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
            "regionCode": "us-east-1", "servicename": "Amazon Elastic Compute Cloud", "vpcnetworkingsupport": "true"
        }
    })
}

fn dimension(
    sku: &str,
    code: &str,
    rate: &str,
    unit: &str,
    description: &str,
    price: &str,
) -> (String, Value) {
    let rate_code = format!("{sku}.{code}.{rate}");
    let mut d = json!({
        "rateCode": rate_code, "description": description, "unit": unit,
        "pricePerUnit": {"USD": price}, "appliesTo": []
    });
    if unit == "Hrs" {
        d["beginRange"] = json!("0");
        d["endRange"] = json!("Inf");
    }
    (rate_code, d)
}

fn term(sku: &str, code: &str, attributes: Value, dims: Vec<(String, Value)>) -> Value {
    let dims: serde_json::Map<String, Value> = dims.into_iter().collect();
    json!({
        "offerTermCode": code, "sku": sku, "effectiveDate": "2026-01-01T00:00:00Z",
        "priceDimensions": dims, "termAttributes": attributes
    })
}

fn on_demand(i: u64, sku: &str) -> Value {
    let price = format!("{}.{:04}000000", i % 5, i % 9999);
    let dims = vec![dimension(
        sku,
        "JRTCKXETXF",
        "6YS6EN2CT7",
        "Hrs",
        "$0.096 per On Demand Linux m5.large Instance Hour",
        &price,
    )];
    json!({ format!("{sku}.JRTCKXETXF"): term(sku, "JRTCKXETXF", json!({}), dims) })
}

fn reserved(i: u64, sku: &str) -> Value {
    let mut map = serde_json::Map::new();
    for (code, years, class, option) in RESERVED {
        let mut dims = vec![dimension(
            sku,
            code,
            "6YS6EN2CT7",
            "Hrs",
            "Linux/UNIX (Amazon VPC), m5.large reserved instance applied",
            &format!("0.{:04}000000", (i + u64::from(*years)) % 9999),
        )];
        if *option != "No Upfront" {
            dims.push(dimension(
                sku,
                code,
                "2TG2D8R56U",
                "Quantity",
                "Upfront Fee",
                &format!("{}", 100 + i % 5000),
            ));
        }
        let attrs = json!({"LeaseContractLength": format!("{years}yr"), "OfferingClass": class, "PurchaseOption": option});
        map.insert(format!("{sku}.{code}"), term(sku, code, attrs, dims));
    }
    Value::Object(map)
}

/// Writes an offer file of about `target` bytes; returns its size.
fn generate(path: &Path, target: u64) -> Res<u64> {
    let sample_sku = sku_of(0);
    let per_sku = (serde_json::to_string_pretty(&product(0, &sample_sku))?.len()
        + serde_json::to_string_pretty(&on_demand(0, &sample_sku))?.len()
        + serde_json::to_string_pretty(&reserved(0, &sample_sku))?.len()
        + 80) as u64;
    let count = (target / per_sku).max(1);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    write!(
        out,
        "{{\n  \"formatVersion\" : \"v1.0\",\n  \"disclaimer\" : \"synthetic\",\n  \"offerCode\" : \"AmazonEC2\",\n  \"version\" : \"20260101000000\",\n  \"publicationDate\" : \"2026-01-01T00:00:00Z\",\n  \"products\" : {{\n"
    )?;
    for i in 0..count {
        let sku = sku_of(i);
        write!(out, "{}\"{sku}\" : ", if i == 0 { "" } else { ",\n" })?;
        serde_json::to_writer_pretty(&mut out, &product(i, &sku))?;
    }
    write!(out, "\n  }},\n  \"terms\" : {{\n    \"OnDemand\" : {{\n")?;
    for i in 0..count {
        let sku = sku_of(i);
        write!(out, "{}\"{sku}\" : ", if i == 0 { "" } else { ",\n" })?;
        serde_json::to_writer_pretty(&mut out, &on_demand(i, &sku))?;
    }
    write!(out, "\n    }},\n    \"Reserved\" : {{\n")?;
    for i in 0..count {
        let sku = sku_of(i);
        write!(out, "{}\"{sku}\" : ", if i == 0 { "" } else { ",\n" })?;
        serde_json::to_writer_pretty(&mut out, &reserved(i, &sku))?;
    }
    write!(out, "\n    }}\n  }}\n}}\n")?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A child process: one phase, figures on stdout as `key=value`.
fn child(spec: &str) -> Res<()> {
    let (phase, path) = spec.split_once(':').ok_or("bad child spec")?;
    let started = Instant::now();
    match phase {
        "bare" => {
            let reader = BufReader::with_capacity(1 << 20, File::open(path)?);
            let _: serde::de::IgnoredAny = serde_json::from_reader(reader)?;
        }
        "normalise" => {
            let ctx = ImportContext::at(Utc::now());
            let (mut listings, mut rejections) = (0u64, 0u64);
            stream_offer_file(File::open(path)?, &ctx, |page| {
                listings += page.listings.len() as u64;
                rejections += page.rejections.len() as u64;
                Ok(())
            })?;
            println!("listings={listings}");
            println!("rejections={rejections}");
        }
        other => return Err(format!("unknown phase {other}").into()),
    }
    println!("seconds={}", started.elapsed().as_secs_f64());
    println!("peak_rss_mb={}", peak_rss_mb());
    Ok(())
}

fn run_child(phase: &str, path: &Path) -> Res<std::collections::HashMap<String, f64>> {
    let output = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, format!("{phase}:{}", path.display()))
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "{phase} child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(output.stdout)?
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect())
}

fn main() -> Res<()> {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let mb: u64 = std::env::var("SHIYUN_BENCH_OFFER_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    // `SHIYUN_BENCH_DIR` keeps the files (for profiling); else a temp dir.
    let temp = tempfile::tempdir()?;
    let dir =
        std::env::var_os("SHIYUN_BENCH_DIR").map_or_else(|| temp.path().to_owned(), PathBuf::from);
    let full: PathBuf = dir.join("index.json");
    let quarter: PathBuf = dir.join("index-quarter.json");
    let started = Instant::now();
    let full_size = generate(&full, mb * 1024 * 1024)?;
    let quarter_size = generate(&quarter, mb * 1024 * 1024 / 4)?;
    eprintln!(
        "generated {full_size} + {quarter_size} bytes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let full_mb = full_size as f64 / (1024.0 * 1024.0);
    // The machine is shared: interleave the phases and keep each one's best run.
    let get =
        |m: &std::collections::HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    let mut bare = run_child("bare", &full)?;
    let mut norm = run_child("normalise", &full)?;
    for _ in 1..RUNS {
        let b = run_child("bare", &full)?;
        if get(&b, "seconds") < get(&bare, "seconds") {
            bare = b;
        }
        let n = run_child("normalise", &full)?;
        if get(&n, "seconds") < get(&norm, "seconds") {
            norm = n;
        }
    }
    let norm_quarter = run_child("normalise", &quarter)?;
    let bare_tp = full_mb / get(&bare, "seconds");
    let norm_tp = full_mb / get(&norm, "seconds");
    println!("offer_file_size = {full_mb:.1} MB");
    println!("bare_parse_throughput = {bare_tp:.1} MB/s");
    println!("normalise_throughput = {norm_tp:.1} MB/s");
    println!(
        "normalise_records = {:.0} records/s",
        get(&norm, "listings") / get(&norm, "seconds")
    );
    println!(
        "normalise_listings = {:.0} listings",
        get(&norm, "listings")
    );
    println!("ratio_to_bare_parse = {:.2}", norm_tp / bare_tp);
    println!("bare_parse_peak_rss = {:.1} MB", get(&bare, "peak_rss_mb"));
    println!("peak_rss = {:.1} MB", get(&norm, "peak_rss_mb"));
    println!(
        "quarter_offer_file_size = {:.1} MB",
        quarter_size as f64 / (1024.0 * 1024.0)
    );
    println!(
        "quarter_peak_rss = {:.1} MB",
        get(&norm_quarter, "peak_rss_mb")
    );
    Ok(())
}
