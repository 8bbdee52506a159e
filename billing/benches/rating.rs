//! Rating throughput of the six charge models over random quantities, with a
//! bare Decimal multiply-add loop as the baseline of the same run.
//!
//! `cargo bench -p shiyun-billing --bench rating`; prints `name = value unit`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use shiyun_billing::charge::{MeterUsage, rate};
use shiyun_billing::plan::{ChargeModel, PercentTier, Tier};

/// xorshift64: deterministic quantities without an RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap_or_default()
}

fn tiers() -> Vec<Tier> {
    let t = |up: Option<&str>, price: &str, flat: &str| Tier {
        up_to: up.map(d),
        unit_price: d(price),
        flat_fee: d(flat),
    };
    vec![
        t(Some("1000"), "0.010", "5"),
        t(Some("10000"), "0.008", "0"),
        t(Some("100000"), "0.006", "0"),
        t(Some("1000000"), "0.004", "0"),
        t(None, "0.002", "0"),
    ]
}

fn usages(n: usize) -> Vec<MeterUsage> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| {
            let quantity = Decimal::new((rng.next() % 5_000_000_000) as i64, 3);
            let amounts = (0..8)
                .map(|_| Decimal::new((rng.next() % 1_000_000) as i64, 2))
                .collect();
            MeterUsage {
                quantity,
                events: 8,
                amounts,
            }
        })
        .collect()
}

/// Runs `f` over the usages repeatedly for about `budget`; evaluations per second.
fn measure(usages: &[MeterUsage], budget: Duration, mut f: impl FnMut(&MeterUsage)) -> f64 {
    for u in usages.iter().take(1000) {
        f(u);
    }
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        for u in usages {
            f(black_box(u));
        }
        count += usages.len() as u64;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let budget = Duration::from_millis(700);
    let usages = usages(10_000);
    let models = [
        (
            "rating_standard",
            ChargeModel::Standard {
                unit_price: d("0.0137"),
            },
        ),
        (
            "rating_graduated",
            ChargeModel::Graduated { tiers: tiers() },
        ),
        ("rating_volume", ChargeModel::Volume { tiers: tiers() }),
        (
            "rating_package",
            ChargeModel::Package {
                package_size: d("1000"),
                package_price: d("4.5"),
                free_units: d("500"),
            },
        ),
        (
            "rating_percentage",
            ChargeModel::Percentage {
                rate: d("2.9"),
                fixed_fee: d("0.30"),
                free_events: 1,
                free_amount: d("100"),
                min: Some(d("0.5")),
                max: Some(d("50")),
            },
        ),
        (
            "rating_graduated_percentage",
            ChargeModel::GraduatedPercentage {
                tiers: vec![
                    PercentTier {
                        up_to: Some(d("1000")),
                        rate: d("3"),
                        flat_fee: d("1"),
                    },
                    PercentTier {
                        up_to: Some(d("20000")),
                        rate: d("1.5"),
                        flat_fee: d("0"),
                    },
                    PercentTier {
                        up_to: None,
                        rate: d("0.5"),
                        flat_fee: d("0"),
                    },
                ],
            },
        ),
    ];
    let baseline = measure(&usages, budget, |u| {
        let price = black_box(Decimal::new(137, 4));
        black_box(u.quantity * price + price);
    });
    println!("baseline_decimal_mul = {baseline:.0} ops/s");
    for (name, model) in &models {
        let rate_per_s = measure(&usages, budget, |u| {
            if let Ok(r) = rate(model, u) {
                black_box(r.amount);
            }
        });
        println!("{name} = {rate_per_s:.0} evaluations/s");
        println!("{name}_vs_baseline = {:.2} x slower", baseline / rate_per_s);
    }
}
