//! An open-loop HTTP load client: sends GET requests at a fixed rate for a
//! fixed time, whatever the server's answers take, and prints latency
//! percentiles and error counts. Latency is counted from when a request
//! was due, not when it left, so a server that falls behind is charged
//! for the queue it causes (no coordinated omission).
//!
//! ```text
//! bench_load --file LINES --column 2 --base http://127.0.0.1:8080 --name shiyun
//!            [--rate 200] [--secs 30] [--warmup 5] [--header 'Key: value']
//! ```
//!
//! `LINES` holds tab-separated lines, the first column a class
//! (`text`, `full`, …), the others paths with their query; `--column`
//! picks which path (1 is the first path after the class). Lines are sent
//! in turn, round and round.

#![expect(
    clippy::expect_used,
    reason = "a benchmark tool stops at the first failure"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str, default: u64) -> u64 {
    arg(args, name).map_or(default, |v| v.parse().expect("a number"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One request's outcome.
struct Outcome {
    class: Arc<str>,
    latency: Duration,
    ok: bool,
    measured: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = arg(&args, "--file").expect("--file LINES");
    let base = arg(&args, "--base").expect("--base URL");
    let name = arg(&args, "--name").unwrap_or_else(|| "target".into());
    let column = number(&args, "--column", 1) as usize;
    let rate = number(&args, "--rate", 200);
    let secs = number(&args, "--secs", 30);
    let warmup = number(&args, "--warmup", 5);
    let header = arg(&args, "--header").and_then(|h| {
        h.split_once(':')
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
    });

    let text = std::fs::read_to_string(&file).expect("read the request lines");
    let lines: Vec<(Arc<str>, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            let path = parts.get(column).expect("a path in that column");
            (Arc::from(parts[0]), format!("{base}{path}"))
        })
        .collect();
    assert!(!lines.is_empty(), "no request lines in {file}");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(512)
        .build()
        .expect("http client");
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let warmup_count = (warmup * rate) as usize;
    let total = warmup_count + (secs * rate) as usize;
    let (sender, mut receiver) = mpsc::unbounded_channel::<Outcome>();
    let started = Instant::now();
    for i in 0..total {
        let due = started + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (class, url) = lines[i % lines.len()].clone();
        let client = client.clone();
        let sender = sender.clone();
        let header = header.clone();
        tokio::spawn(async move {
            let mut request = client.get(&url);
            if let Some((key, value)) = header {
                request = request.header(key, value);
            }
            let ok = match request.send().await {
                // The whole body, so the connection goes back to the pool.
                Ok(response) => {
                    let status = response.status();
                    response.bytes().await.is_ok() && status.is_success()
                }
                Err(_) => false,
            };
            let _ = sender.send(Outcome {
                class,
                latency: due.elapsed(),
                ok,
                measured: i >= warmup_count,
            });
        });
    }
    let offered = started.elapsed();
    drop(sender);
    let mut all = Vec::new();
    let mut by_class: BTreeMap<Arc<str>, Vec<Duration>> = BTreeMap::new();
    let mut errors = 0_u64;
    let mut error_classes: BTreeMap<Arc<str>, u64> = BTreeMap::new();
    while let Some(outcome) = receiver.recv().await {
        if !outcome.measured {
            continue;
        }
        if outcome.ok {
            all.push(outcome.latency);
            by_class
                .entry(outcome.class)
                .or_default()
                .push(outcome.latency);
        } else {
            errors += 1;
            *error_classes.entry(outcome.class).or_default() += 1;
        }
    }
    let finished = started.elapsed();
    all.sort();
    println!(
        "{name}_offered_rate = {:.0} req/s",
        total as f64 / offered.as_secs_f64()
    );
    println!("{name}_requests = {}", all.len() as u64 + errors);
    println!("{name}_p50 = {:.2} ms", ms(percentile(&all, 0.50)));
    println!("{name}_p95 = {:.2} ms", ms(percentile(&all, 0.95)));
    println!("{name}_p99 = {:.2} ms", ms(percentile(&all, 0.99)));
    println!(
        "{name}_max = {:.2} ms",
        ms(all.last().copied().unwrap_or_default())
    );
    println!("{name}_errors = {errors}");
    for (class, mut samples) in by_class {
        samples.sort();
        println!(
            "{name}_{class}_p50 = {:.2} ms",
            ms(percentile(&samples, 0.50))
        );
        println!(
            "{name}_{class}_p99 = {:.2} ms",
            ms(percentile(&samples, 0.99))
        );
    }
    for (class, count) in error_classes {
        println!("{name}_{class}_errors = {count}");
    }
    println!("{name}_drain = {:.1} s", (finished - offered).as_secs_f64());
}
