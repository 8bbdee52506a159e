use std::collections::BTreeSet;

use proptest::prelude::*;
use rust_decimal_macros::dec;
use shiyun_core::geography;
use shiyun_core::listing::Vendor;

use super::lexicon::{COUNTRIES, LEXICON, Meaning};
use super::*;

/// A chip's filter in a short form: `vcpu=4`, `mem=0.5`, `gpus>=1`,
/// `regions=a,b`, `billing=monthly,yearly`.
fn describe(filter: &ChipFilter) -> String {
    fn range<T: std::fmt::Display + PartialEq>(name: &str, r: &Range<T>) -> String {
        match (&r.min, &r.max) {
            (Some(a), Some(b)) if a == b => format!("{name}={a}"),
            (Some(a), None) => format!("{name}>={a}"),
            (a, b) => format!("{name}=?{:?}..{:?}", a.is_some(), b.is_some()),
        }
    }
    match filter {
        ChipFilter::Vcpu { range: r } => range("vcpu", r),
        ChipFilter::MemoryGib { range: r } => range("mem", r),
        ChipFilter::GpuCount { range: r } => range("gpus", r),
        ChipFilter::GpuModel { value } => format!("gpu={value}"),
        ChipFilter::City { value } => format!("city={value}"),
        ChipFilter::Country { value } => format!("country={value}"),
        ChipFilter::Regions { values } => format!("regions={}", values.join(",")),
        ChipFilter::BillingModes { values } => format!(
            "billing={}",
            values
                .iter()
                .map(|m| m.as_text())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// The storefront regions of every vendor that list `alias`, read from the
/// geography table directly.
fn alias_codes(alias: &str) -> String {
    let codes: BTreeSet<&str> = Vendor::ALL
        .into_iter()
        .flat_map(geography::storefront_regions)
        .filter(|r| r.aliases.contains(&alias))
        .map(|r| r.code)
        .collect();
    assert!(!codes.is_empty(), "no region has the alias {alias}");
    format!(
        "regions={}",
        codes.into_iter().collect::<Vec<_>>().join(",")
    )
}

/// What every answer must hold: chips slice back to their words, in
/// order, without overlapping, labelled in both languages; the text is
/// trimmed and single-spaced.
fn check_invariants(query: &str, understood: &Understood) {
    let mut last_end = 0;
    for chip in &understood.chips {
        assert!(chip.start < chip.end, "{query:?}: empty chip {chip:?}");
        assert_eq!(
            query.get(chip.start..chip.end),
            Some(chip.source.as_str()),
            "{query:?}: offsets of {chip:?}"
        );
        assert!(
            chip.start >= last_end,
            "{query:?}: chips overlap or out of order"
        );
        last_end = chip.end;
        assert!(chip.label.zh.as_deref().is_some_and(|l| !l.is_empty()));
        assert!(chip.label.en.as_deref().is_some_and(|l| !l.is_empty()));
    }
    let text = &understood.text;
    assert_eq!(text.trim(), text, "{query:?}: untrimmed {text:?}");
    assert!(!text.contains("  "), "{query:?}: double space in {text:?}");
    assert!(understood.chips.len() <= MAX_CHIPS + 1);
}

/// (query, chips as `filter|source`, text left). `regions@华东` stands for
/// the regions chip of every storefront region with that alias.
const CASES: &[(&str, &[&str], &str)] = &[
    // The issue's examples.
    ("4核8G", &["vcpu=4|4核", "mem=8|8G"], ""),
    ("4c8g", &["vcpu=4|4c", "mem=8|8g"], ""),
    ("4C8G", &["vcpu=4|4C", "mem=8|8G"], ""),
    ("4 vCPU 16GiB", &["vcpu=4|4 vCPU", "mem=16|16GiB"], ""),
    (
        "8核 32G 杭州 按量",
        &[
            "vcpu=8|8核",
            "mem=32|32G",
            "city=hangzhou|杭州",
            "billing=on_demand|按量",
        ],
        "",
    ),
    ("2xlarge", &["vcpu=8|2xlarge"], ""),
    ("GPU A100", &["gpu=a100|A100"], ""),
    ("包年", &["billing=yearly|包年"], ""),
    (
        "4核8G 上海",
        &["vcpu=4|4核", "mem=8|8G", "city=shanghai|上海"],
        "",
    ),
    (
        "上海 4核 8G 按量",
        &[
            "city=shanghai|上海",
            "vcpu=4|4核",
            "mem=8|8G",
            "billing=on_demand|按量",
        ],
        "",
    ),
    // Mixed languages and words left over.
    (
        "ecs 4c8g shanghai",
        &["vcpu=4|4c", "mem=8|8g", "city=shanghai|shanghai"],
        "ecs",
    ),
    (
        "mysql 8核16G 北京 包年包月",
        &[
            "vcpu=8|8核",
            "mem=16|16G",
            "city=beijing|北京",
            "billing=monthly,yearly|包年包月",
        ],
        "mysql",
    ),
    ("windows 2核4G", &["vcpu=2|2核", "mem=4|4G"], "windows"),
    (
        "us-east 8c32g spot",
        &[
            "regions@us-east|us-east",
            "vcpu=8|8c",
            "mem=32|32g",
            "billing=spot|spot",
        ],
        "",
    ),
    ("华东 数据库", &["regions@华东|华东"], "数据库"),
    (
        "rds mysql 4核 16G 按量 华北",
        &[
            "vcpu=4|4核",
            "mem=16|16G",
            "billing=on_demand|按量",
            "regions@华北|华北",
        ],
        "rds mysql",
    ),
    (
        "深圳 A10 GPU 按量",
        &[
            "city=shenzhen|深圳",
            "gpu=a10|A10 GPU",
            "billing=on_demand|按量",
        ],
        "",
    ),
    (
        "上海4核8G",
        &["city=shanghai|上海", "vcpu=4|4核", "mem=8|8G"],
        "",
    ),
    (
        "杭州按量",
        &["city=hangzhou|杭州", "billing=on_demand|按量"],
        "",
    ),
    (
        "上海的4核8G服务器",
        &["city=shanghai|上海", "vcpu=4|4核", "mem=8|8G"],
        "服务器",
    ),
    (
        "4核8G, 上海",
        &["vcpu=4|4核", "mem=8|8G", "city=shanghai|上海"],
        "",
    ),
    (
        "ＧＰＵ ４核８Ｇ",
        &["gpus>=1|ＧＰＵ", "vcpu=4|４核", "mem=8|８Ｇ"],
        "",
    ),
    (
        "4核8G 上海 杭州",
        &[
            "vcpu=4|4核",
            "mem=8|8G",
            "city=shanghai|上海",
            "city=hangzhou|杭州",
        ],
        "",
    ),
    ("4核 4c", &["vcpu=4|4核"], ""),
    ("  lots   of   space  ", &[], "lots of space"),
    // vCPU forms.
    ("4 核", &["vcpu=4|4 核"], ""),
    ("4核心", &["vcpu=4|4核心"], ""),
    ("4 cores", &["vcpu=4|4 cores"], ""),
    ("4-core", &["vcpu=4|4-core"], ""),
    ("4 CPU", &["vcpu=4|4 CPU"], ""),
    ("4vcpu", &["vcpu=4|4vcpu"], ""),
    ("四核", &["vcpu=4|四核"], ""),
    ("十六核64G", &["vcpu=16|十六核", "mem=64|64G"], ""),
    ("双核4G", &["vcpu=2|双核", "mem=4|4G"], ""),
    ("vCPU: 4", &["vcpu=4|vCPU: 4"], ""),
    ("cpu 4核", &["vcpu=4|cpu 4核"], ""),
    ("4核 CPU", &["vcpu=4|4核 CPU"], ""),
    ("4C/8G", &["vcpu=4|4C", "mem=8|8G"], ""),
    ("4c-8g", &["vcpu=4|4c", "mem=8|8g"], ""),
    ("2u4g", &["vcpu=2|2u", "mem=4|4g"], ""),
    // Sizes.
    ("xlarge", &["vcpu=4|xlarge"], ""),
    ("large", &["vcpu=2|large"], ""),
    ("12xlarge", &["vcpu=48|12xlarge"], ""),
    // Memory forms.
    ("0.5G", &["mem=0.5|0.5G"], ""),
    ("512MB", &["mem=0.5|512MB"], ""),
    ("1536M", &["mem=1.5|1536M"], ""),
    ("1024MB", &["mem=1|1024MB"], ""),
    ("1.5G", &["mem=1.5|1.5G"], ""),
    ("8 GiB", &["mem=8|8 GiB"], ""),
    ("8G内存", &["mem=8|8G内存"], ""),
    ("内存8G", &["mem=8|内存8G"], ""),
    ("内存：16G", &["mem=16|内存：16G"], ""),
    ("16GB RAM", &["mem=16|16GB RAM"], ""),
    ("memory 32", &["mem=32|memory 32"], ""),
    ("5GB", &["mem=5|5GB"], ""),
    ("5G内存", &["mem=5|5G内存"], ""),
    // GPUs.
    ("8卡 A100", &["gpus=8|8卡", "gpu=a100|A100"], ""),
    ("A100x8", &["gpu=a100|A100", "gpus=8|8"], ""),
    ("8*A100", &["gpus=8|8", "gpu=a100|A100"], ""),
    ("2 x A100", &["gpus=2|2", "gpu=a100|A100"], ""),
    ("h800 x 8", &["gpu=h800|h800", "gpus=8|8"], ""),
    ("NVIDIA A100 80G", &["gpu=a100|NVIDIA A100 80G"], ""),
    ("A100-80G", &["gpu=a100|A100-80G"], ""),
    ("英伟达A100", &["gpu=a100|英伟达A100"], ""),
    ("T4 显卡", &["gpu=t4|T4 显卡"], ""),
    ("双卡 V100", &["gpus=2|双卡", "gpu=v100|V100"], ""),
    ("8 GPU", &["gpus=8|8 GPU"], ""),
    ("GPU", &["gpus>=1|GPU"], ""),
    ("显卡 上海", &["gpus>=1|显卡", "city=shanghai|上海"], ""),
    ("24G显存 A10", &["gpu=a10|A10"], "24G显存"),
    // Places.
    ("杭州", &["city=hangzhou|杭州"], ""),
    ("Tokyo", &["city=tokyo|Tokyo"], ""),
    ("hong kong", &["city=hong-kong|hong kong"], ""),
    ("香港", &["city=hong-kong|香港"], ""),
    ("Frankfurt", &["city=frankfurt|Frankfurt"], ""),
    ("san jose", &["city=san-jose|san jose"], ""),
    (
        "Washington, D.C.",
        &["city=washington-dc|Washington, D.C"],
        "",
    ),
    ("ireland", &["city=dublin|ireland"], ""),
    (
        "sha 2c4g",
        &["city=shanghai|sha", "vcpu=2|2c", "mem=4|4g"],
        "",
    ),
    ("沪 4核", &["city=shanghai|沪", "vcpu=4|4核"], ""),
    ("上海市 ecs", &["city=shanghai|上海市"], "ecs"),
    ("上海市场", &["city=shanghai|上海"], "市场"),
    ("中国", &["country=cn|中国"], ""),
    ("美国 spot", &["country=us|美国", "billing=spot|spot"], ""),
    ("日本 东京", &["country=jp|日本", "city=tokyo|东京"], ""),
    ("germany", &["country=de|germany"], ""),
    ("华东地区", &["regions@华东|华东地区"], ""),
    ("欧洲 8核", &["regions@欧洲|欧洲", "vcpu=8|8核"], ""),
    (
        "us-west 按需",
        &["regions@us-west|us-west", "billing=on_demand|按需"],
        "",
    ),
    ("cn-hangzhou", &["regions=cn-hangzhou|cn-hangzhou"], ""),
    ("eastus", &["regions=eastus|eastus"], ""),
    ("us-east-1", &["regions=us-east-1|us-east-1"], ""),
    ("华东1（杭州）", &["regions=cn-hangzhou|华东1（杭州）"], ""),
    // Billing.
    ("on demand", &["billing=on_demand|on demand"], ""),
    ("pay-as-you-go", &["billing=on_demand|pay-as-you-go"], ""),
    ("payg", &["billing=on_demand|payg"], ""),
    ("按量付费", &["billing=on_demand|按量付费"], ""),
    ("包月", &["billing=monthly|包月"], ""),
    ("预付费", &["billing=monthly,yearly|预付费"], ""),
    ("竞价实例", &["billing=spot|竞价实例"], ""),
    ("preemptible", &["billing=spot|preemptible"], ""),
    ("RI", &["billing=reserved_12m,reserved_36m|RI"], ""),
    ("1年预留", &["billing=reserved_12m|1年预留"], ""),
    ("预留3年", &["billing=reserved_36m|预留3年"], ""),
    ("3-year RI", &["billing=reserved_36m|3-year RI"], ""),
    // Text that is not a spec stays whole.
    ("对象存储", &[], "对象存储"),
    ("windwos server", &[], "windwos server"),
    ("redis", &[], "redis"),
    ("s3", &[], "s3"),
    ("ec2", &[], "ec2"),
    ("g7", &[], "g7"),
    ("m5.2xlarge", &[], "m5.2xlarge"),
    ("ecs.g7.2xlarge", &[], "ecs.g7.2xlarge"),
    ("c6.large", &[], "c6.large"),
    ("metal", &[], "metal"),
    ("medium", &[], "medium"),
    ("nvidia", &[], "nvidia"),
    ("5G", &[], "5G"),
    ("4/8", &[], "4/8"),
    ("4c8", &[], "4c8"),
    ("sha256", &[], "sha256"),
    ("100G云盘", &[], "100G云盘"),
    ("SSD 500G", &[], "SSD 500G"),
    ("带宽 100M", &[], "带宽 100M"),
    ("99999999999核", &[], "99999999999核"),
    ("0核", &[], "0核"),
    ("2000核", &[], "2000核"),
    ("100000G", &[], "100000G"),
    ("内存优化型", &[], "内存优化型"),
    ("统一核算", &[], "统一核算"),
    ("一卡通", &[], "一卡通"),
    ("按需求定制", &[], "按需求定制"),
    ("京东", &[], "京东"),
    ("can I buy", &[], "can I buy"),
];

#[test]
fn understands_each_query_form() {
    let queries: BTreeSet<&str> = CASES.iter().map(|(q, _, _)| *q).collect();
    assert_eq!(queries.len(), CASES.len(), "a query is listed twice");
    assert!(CASES.len() >= 60);
    let mut failures = Vec::new();
    for (query, chips, text) in CASES {
        let understood = understand(query);
        check_invariants(query, &understood);
        let got: Vec<String> = understood
            .chips
            .iter()
            .map(|c| format!("{}|{}", describe(&c.filter), c.source))
            .collect();
        let want: Vec<String> = chips
            .iter()
            .map(|chip| match chip.strip_prefix("regions@") {
                Some(rest) => {
                    let (alias, source) = rest.split_once('|').unwrap_or((rest, ""));
                    format!("{}|{source}", alias_codes(alias))
                }
                None => (*chip).to_owned(),
            })
            .collect();
        if got != want || understood.text != *text {
            failures.push(format!(
                "{query:?}: got {got:?} / {:?}, want {want:?} / {text:?}",
                understood.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_issue_query_reads_as_promised() {
    let understood = understand("4核8G 上海");
    let filters: Vec<&ChipFilter> = understood.chips.iter().map(|c| &c.filter).collect();
    assert_eq!(
        filters,
        [
            &ChipFilter::Vcpu {
                range: Range::exactly(4)
            },
            &ChipFilter::MemoryGib {
                range: Range::exactly(dec!(8))
            },
            &ChipFilter::City {
                value: "shanghai".to_owned()
            },
        ]
    );
    assert_eq!(understood.text, "");
    let labels: Vec<(&str, &str)> = understood
        .chips
        .iter()
        .map(|c| {
            (
                c.label.zh.as_deref().unwrap_or_default(),
                c.label.en.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [("4 核", "4 vCPU"), ("8 GiB", "8 GiB"), ("上海", "Shanghai")]
    );
    let offsets: Vec<(usize, usize)> = understood.chips.iter().map(|c| (c.start, c.end)).collect();
    assert_eq!(offsets, [(0, 4), (4, 6), (7, 13)]);
}

#[test]
fn memory_is_an_exact_decimal() {
    for (query, gib) in [
        ("512MB", dec!(0.5)),
        ("128M", dec!(0.125)),
        ("1536MiB", dec!(1.5)),
        ("3.75G", dec!(3.75)),
        ("0.5GiB", dec!(0.5)),
    ] {
        let chips = understand(query).chips;
        assert_eq!(
            chips.first().map(|c| &c.filter),
            Some(&ChipFilter::MemoryGib {
                range: Range::exactly(gib)
            }),
            "{query}"
        );
    }
    // Not a whole 128 MiB, or too fine: left as text.
    for query in ["100M", "300MB", "0.0001G"] {
        assert!(understand(query).chips.is_empty(), "{query}");
    }
}

#[test]
fn places_resolve_through_the_geography_table() {
    let chips = understand("上海").chips;
    let [chip] = chips.as_slice() else {
        panic!("{chips:?}");
    };
    assert_eq!(
        chip.filter,
        ChipFilter::City {
            value: "shanghai".to_owned()
        }
    );
    let city = geography::city("shanghai").unwrap();
    assert_eq!(chip.label.zh.as_deref(), Some(city.zh));
    assert_eq!(chip.label.en.as_deref(), Some(city.en));
    // The city chip finds Azure's 中国东部 2: the table puts it in Shanghai.
    let azure = geography::known(Vendor::Azure, "chinaeast2").unwrap();
    assert_eq!(azure.city, "shanghai");
    assert!(azure.name_zh.contains(city.zh), "{}", azure.name_zh);
    // Its display name typed whole is that region.
    let by_name = understand(azure.name_zh).chips;
    assert!(
        matches!(by_name.as_slice(), [Chip { filter: ChipFilter::Regions { values }, .. }] if values.iter().any(|v| v == "chinaeast2")),
        "{by_name:?}"
    );
}

#[test]
fn every_place_and_billing_key_typed_alone_is_one_chip_over_all_of_it() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (key, meaning) in LEXICON.keys() {
        let want = match meaning {
            Meaning::City(city) => ChipFilter::City {
                value: city.id.to_owned(),
            },
            Meaning::Country(country) => ChipFilter::Country {
                value: country.code.to_owned(),
            },
            Meaning::Regions { codes, .. } => ChipFilter::Regions {
                values: codes.clone(),
            },
            Meaning::Billing(billing) => ChipFilter::BillingModes {
                values: billing.modes(),
            },
            Meaning::Size(n) => ChipFilter::Vcpu {
                range: Range::exactly(*n),
            },
            Meaning::GpuWord => ChipFilter::GpuCount {
                range: Range::at_least(1),
            },
            Meaning::Vendor | Meaning::VcpuPrefix | Meaning::MemoryPrefix | Meaning::Text => {
                continue;
            }
        };
        checked += 1;
        let understood = understand(&key);
        check_invariants(&key, &understood);
        let ok = matches!(understood.chips.as_slice(), [chip] if chip.filter == want && chip.start == 0)
            && understood.text.is_empty();
        if !ok {
            failures.push(format!("{key:?}: {understood:?}"));
        }
    }
    assert!(checked > 500, "only {checked} keys");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn region_chips_hold_exactly_the_regions_of_the_table() {
    for alias in ["华东", "华北", "华南", "us-east", "europe", "亚太"] {
        let chips = understand(alias).chips;
        assert_eq!(
            chips
                .iter()
                .map(|c| describe(&c.filter))
                .collect::<Vec<_>>(),
            [alias_codes(alias)],
            "{alias}"
        );
    }
    let east = understand("华东").chips;
    let Some(ChipFilter::Regions { values }) = east.first().map(|c| &c.filter) else {
        panic!("{east:?}");
    };
    for code in ["cn-hangzhou", "cn-shanghai", "ap-shanghai", "chinaeast2"] {
        assert!(values.iter().any(|v| v == code), "华东 lacks {code}");
    }
    let mut sorted = values.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(&sorted, values);
    // Labelled in both languages by the alias of the other script.
    let label = &east.first().map(|c| c.label.clone()).unwrap_or_default();
    assert_eq!(label.zh.as_deref(), Some("华东"));
    assert_eq!(label.en.as_deref(), Some("East China"));
    // A test region is never a chip's value.
    for r in Vendor::ALL.into_iter().flat_map(geography::regions) {
        if r.is_test() {
            assert!(!values.contains(&r.code.to_owned()));
            assert!(understand(r.code).chips.is_empty(), "{}", r.code);
        }
    }
}

#[test]
fn names_meaning_two_things_take_the_stronger() {
    let first = |q: &str| understand(q).chips.first().map(|c| describe(&c.filter));
    // A country over the region alias `日本`.
    assert_eq!(first("日本").as_deref(), Some("country=jp"));
    assert_eq!(first("japan").as_deref(), Some("country=jp"));
    // The table's city over a country word it lists as a city alias.
    assert_eq!(first("ireland").as_deref(), Some("city=dublin"));
    // The alias over IBM's code `us-east`, which it includes.
    let us_east = first("us-east").unwrap_or_default();
    assert!(us_east.contains("us-east-1") && us_east.contains(",us-east,"));
    // The longest name: 中国香港 is Hong Kong, not China; 印度尼西亚 not India.
    assert_eq!(first("中国香港").as_deref(), Some("city=hong-kong"));
    assert_eq!(first("印度尼西亚").as_deref(), Some("country=id"));
    assert_eq!(first("马德里").as_deref(), Some("city=madrid"));
    assert_eq!(first("新德里").as_deref(), Some("city=delhi"));
}

#[test]
fn one_character_aliases_count_only_alone() {
    let city = |q: &str| {
        understand(q)
            .chips
            .iter()
            .filter(|c| matches!(c.filter, ChipFilter::City { .. }))
            .count()
    };
    assert_eq!(city("沪"), 1);
    assert_eq!(city("京 ecs"), 1);
    assert_eq!(city("沪4核"), 1);
    for q in ["京东", "沪深300", "宁可", "津贴", "重渝", "蓉城"] {
        assert_eq!(city(q), 0, "{q}");
    }
}

#[test]
fn every_country_has_a_city_in_the_table() {
    for country in COUNTRIES {
        assert!(
            geography::cities()
                .iter()
                .any(|c| c.country == country.code),
            "{}",
            country.code
        );
    }
}

#[test]
fn chips_stop_at_the_cap_and_the_rest_stays_text() {
    let query: Vec<String> = (1..=40).map(|n| format!("{n}核")).collect();
    let query = query.join(" ");
    let understood = understand(&query);
    check_invariants(&query, &understood);
    assert_eq!(understood.chips.len(), MAX_CHIPS);
    assert!(understood.text.starts_with("33核"), "{}", understood.text);
}

#[test]
fn long_and_odd_inputs_are_answered() {
    let long = "4核8G 上海 按量 ".repeat(20_000);
    let understood = understand(&long);
    check_invariants(&long, &understood);
    assert_eq!(understood.chips.len(), 4);
    assert_eq!(understood.text, "");
    for query in [
        "",
        " ",
        "\u{3000}",
        "\0\u{7}\u{1b}",
        "🚀🚀 4核 🚀",
        "e\u{301}4c8g",
        "٣核 ４核",
        "İİİ 8G",
        "ǅ 上海",
        "\u{202e}上海\u{202c}",
        "9999999999999999999999999999999999999G",
        "1.99999999999999999999999G",
        "4.",
        "4c.",
        "x",
        "A100x",
        "A100x0",
        "8*",
        "内存",
        "内存:",
        "cpu",
        "预留0年",
        "99年预留",
        "十十十核",
        "一二三四五六七八九十核",
    ] {
        let understood = understand(query);
        check_invariants(query, &understood);
    }
    // Weird digits are not numbers; full-width ones are.
    assert_eq!(understand("٣核").chips.len(), 0);
    assert_eq!(understand("４核").chips.len(), 1);
}

const TOKENS: &[&str] = &[
    "4",
    "8",
    "0.5",
    "512",
    "99999999999",
    "核",
    "核心",
    "c",
    "C",
    "g",
    "G",
    "GB",
    "GiB",
    "M",
    "MB",
    "vCPU",
    "cpu",
    "cores",
    "-",
    "/",
    "x",
    "*",
    "×",
    ".",
    ":",
    "：",
    "内存",
    "卡",
    "双",
    "十",
    "六",
    "一",
    "GPU",
    "显卡",
    "A100",
    "a10g",
    "T4",
    "NVIDIA",
    "上海",
    "杭州",
    "沪",
    "京",
    "华东",
    "us-east",
    "cn-hangzhou",
    "中国",
    "shanghai",
    "hong",
    "kong",
    "按量",
    "包年",
    "包年包月",
    "spot",
    "RI",
    "预留",
    "年",
    "year",
    "xlarge",
    "2xlarge",
    "large",
    "的",
    "市",
    "地区",
    "region",
    "ecs",
    "m5",
    "云盘",
    "ssd",
    "🚀",
    "é",
    "\u{301}",
    "ｘ",
    "４",
    "Ｇ",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(TOKENS),
            prop::sample::select(&["", " ", "  ", ",", "\u{3000}"][..]),
        ),
        0..16,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(token, gap)| [token, gap])
            .collect()
    })
}

proptest! {
    #[test]
    fn any_text_is_answered_and_chips_slice_back(query in any::<String>()) {
        let understood = understand(&query);
        check_invariants(&query, &understood);
    }

    #[test]
    fn spec_like_text_is_answered_and_chips_slice_back(query in soup()) {
        let understood = understand(&query);
        check_invariants(&query, &understood);
        // Nothing typed is lost: every word of the query is in a chip or
        // in the text left.
        for chip in &understood.chips {
            prop_assert!(!chip.source.trim().is_empty());
        }
        for word in understood.text.split(' ') {
            prop_assert!(query.contains(word), "{word:?} not in {query:?}");
        }
    }
}
