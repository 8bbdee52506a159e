//! Chinese and mixed-script recall: the complaints buyers make about other
//! engines (a word inside a longer word not found, one character finding
//! nothing, `阿里云ECS` read as one word, full-width punctuation, plurals,
//! typos, half-typed words), each a query that must find a listing made
//! for it, and must not drag in listings that do not have its words.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

mod common;

use common::{index_of, listing, price, skus, text};
use rust_decimal_macros::dec;
use shiyun_core::listing::{BillingMode, Listing, Specs, Vendor};
use shiyun_core::money::Currency;
use shiyun_search::{CatalogIndex, Hit};

/// One listing per complaint; the SKU names it.
fn catalog() -> Vec<Listing> {
    let on_demand = |amount, currency| price(BillingMode::OnDemand, amount, currency);
    vec![
        listing(
            Vendor::Alibaba,
            "ecs-g7",
            "compute.vm",
            "cn-shanghai",
            |b| {
                b.service("ecs")
                    .name_zh("阿里云 通用型云服务器 ecs.g7.large")
                    .name_en("Alibaba Cloud general purpose instance ecs.g7.large")
                    .description_zh("2 核 vCPU，8 GiB 内存")
                    .specs(Specs {
                        vcpu: Some(2),
                        memory_gib: Some(dec!(8)),
                        os: Some("linux".into()),
                        ..Specs::default()
                    })
                    .price(on_demand(dec!(0.42), Currency::CNY))
            },
        ),
        listing(
            Vendor::Alibaba,
            "mq-backlog",
            "middleware.queue",
            "cn-beijing",
            |b| {
                b.service("mq")
                    .name_zh("消息队列 待处理消息堆积告警")
                    .name_en("Message Queue backlog alerts")
                    .price(on_demand(dec!(0.01), Currency::CNY))
            },
        ),
        listing(
            Vendor::Alibaba,
            "oss-standard",
            "storage.object",
            "cn-hangzhou",
            |b| {
                b.service("oss")
                    .name_zh("对象存储服务 OSS 标准型")
                    .name_en("Object Storage Service Standard")
                    .price(on_demand(dec!(0.0002), Currency::CNY))
            },
        ),
        listing(
            Vendor::Tencent,
            "css-butterfly",
            "network.cdn",
            "ap-guangzhou",
            |b| {
                b.service("css")
                    .name_zh("腾讯云 蝴蝶视频分发")
                    .name_en("Tencent Cloud Butterfly video delivery")
                    .price(on_demand(dec!(0.2), Currency::CNY))
            },
        ),
        listing(
            Vendor::Alibaba,
            "rds-mysql",
            "database.relational",
            "cn-hangzhou",
            |b| {
                b.service("rds")
                    .name_zh("阿里云 云数据库 MySQL 8.0 高可用版")
                    .name_en("ApsaraDB RDS for MySQL 8.0 High Availability")
                    .specs(Specs {
                        engine: Some("mysql".into()),
                        ..Specs::default()
                    })
                    .price(on_demand(dec!(0.9), Currency::CNY))
            },
        ),
        listing(
            Vendor::Tencent,
            "pg-15",
            "database.relational",
            "ap-shanghai",
            |b| {
                b.service("postgres")
                    .name_zh("腾讯云 云数据库 PostgreSQL 15")
                    .name_en("TencentDB for PostgreSQL 15")
                    .price(on_demand(dec!(1.1), Currency::CNY))
            },
        ),
        listing(
            Vendor::Tencent,
            "redis-7",
            "database.cache",
            "ap-beijing",
            |b| {
                b.service("redis")
                    .name_zh("腾讯云 云数据库 Redis 7.0 标准架构")
                    .name_en("TencentDB for Redis 7.0 Standard")
                    .price(on_demand(dec!(0.3), Currency::CNY))
            },
        ),
        listing(Vendor::Alibaba, "gn7i", "compute.gpu", "cn-beijing", |b| {
            b.service("ecs")
                .name_zh("阿里云 GPU云服务器 gn7i NVIDIA A10")
                .name_en("Alibaba Cloud GPU instance ecs.gn7i-c8g1.2xlarge NVIDIA A10")
                .specs(Specs {
                    gpu_count: Some(1),
                    gpu_model: Some("NVIDIA A10".into()),
                    ..Specs::default()
                })
                .price(on_demand(dec!(12.5), Currency::CNY))
        }),
        listing(Vendor::Aws, "m6i-windows", "compute.vm", "us-east-1", |b| {
            b.service("ec2")
                .name_zh("亚马逊云 m6i.large Windows Server 2022")
                .name_en("Amazon EC2 m6i.large Windows Server 2022")
                .specs(Specs {
                    os: Some("windows".into()),
                    ..Specs::default()
                })
                .price(on_demand(dec!(0.188), Currency::USD))
        }),
    ]
}

/// A query, the listing it must find and listings it must not.
struct Case {
    query: &'static str,
    finds: &'static str,
    misses: &'static [&'static str],
}

const CASES: &[Case] = &[
    // A word inside a longer word.
    Case {
        query: "服务器",
        finds: "ecs-g7",
        misses: &["mq-backlog", "oss-standard", "css-butterfly"],
    },
    Case {
        query: "处理",
        finds: "mq-backlog",
        misses: &["ecs-g7", "oss-standard", "rds-mysql"],
    },
    Case {
        query: "存储",
        finds: "oss-standard",
        misses: &["ecs-g7", "mq-backlog", "css-butterfly"],
    },
    // One character.
    Case {
        query: "蝶",
        finds: "css-butterfly",
        misses: &["ecs-g7", "mq-backlog", "oss-standard", "rds-mysql", "pg-15"],
    },
    Case {
        query: "云",
        finds: "ecs-g7",
        misses: &["mq-backlog", "oss-standard"],
    },
    // Chinese and English glued together.
    Case {
        query: "阿里云ECS",
        finds: "ecs-g7",
        misses: &["pg-15", "redis-7", "m6i-windows", "css-butterfly"],
    },
    Case {
        query: "ECS云服务器",
        finds: "ecs-g7",
        misses: &["mq-backlog", "css-butterfly", "oss-standard"],
    },
    Case {
        query: "mysql数据库",
        finds: "rds-mysql",
        misses: &["pg-15", "redis-7", "ecs-g7"],
    },
    Case {
        query: "GPU服务器",
        finds: "gn7i",
        misses: &["ecs-g7", "m6i-windows"],
    },
    // Punctuation, full-width and half-width, in the text and the query.
    Case {
        query: "华东2（上海）",
        finds: "ecs-g7",
        misses: &["mq-backlog", "oss-standard", "rds-mysql", "gn7i"],
    },
    Case {
        query: "华东2(上海)",
        finds: "ecs-g7",
        misses: &["mq-backlog", "oss-standard", "rds-mysql", "gn7i"],
    },
    Case {
        query: "华东2，上海。",
        finds: "ecs-g7",
        misses: &["mq-backlog", "oss-standard", "rds-mysql", "gn7i"],
    },
    Case {
        query: "华东2 上海",
        finds: "ecs-g7",
        misses: &["mq-backlog", "oss-standard", "rds-mysql", "gn7i"],
    },
    Case {
        query: "　上海　ecs　",
        finds: "ecs-g7",
        misses: &["mq-backlog", "rds-mysql", "m6i-windows"],
    },
    // English stems.
    Case {
        query: "instances",
        finds: "ecs-g7",
        misses: &["mq-backlog", "rds-mysql", "redis-7"],
    },
    Case {
        query: "alerts",
        finds: "mq-backlog",
        misses: &["ecs-g7"],
    },
    // Typos.
    Case {
        query: "windwos",
        finds: "m6i-windows",
        misses: &["ecs-g7", "rds-mysql"],
    },
    Case {
        query: "msyql",
        finds: "rds-mysql",
        misses: &["pg-15", "redis-7"],
    },
    Case {
        query: "postgre",
        finds: "pg-15",
        misses: &["rds-mysql", "redis-7"],
    },
    Case {
        query: "Standrad",
        finds: "redis-7",
        misses: &["rds-mysql", "ecs-g7"],
    },
    // The last word while it is being typed.
    Case {
        query: "mys",
        finds: "rds-mysql",
        misses: &["pg-15", "redis-7"],
    },
    Case {
        query: "redi",
        finds: "redis-7",
        misses: &["rds-mysql", "pg-15"],
    },
    Case {
        query: "云数据库 postg",
        finds: "pg-15",
        misses: &["rds-mysql", "redis-7"],
    },
];

#[test]
fn every_complaint_query_finds_its_listing_and_only_listings_with_its_words() {
    let index = index_of(&catalog());
    let mut failures = Vec::new();
    for case in CASES {
        let response = match index.search(&text(case.query)) {
            Ok(response) => response,
            Err(e) => {
                failures.push(format!("{:?}: error {e}", case.query));
                continue;
            }
        };
        let found = skus(&response);
        if !found.iter().any(|s| s == case.finds) {
            failures.push(format!(
                "{:?} does not find {} (found {found:?})",
                case.query, case.finds
            ));
        }
        let dragged: Vec<&&str> = case
            .misses
            .iter()
            .filter(|m| found.iter().any(|s| s == **m))
            .collect();
        if !dragged.is_empty() {
            failures.push(format!(
                "{:?} finds {dragged:?}, which lack its words (found {found:?})",
                case.query
            ));
        }
        assert_eq!(response.total, found.len() as u64, "{:?}", case.query);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The hit of `sku` for `query`.
fn hit(index: &CatalogIndex, query: &str, sku: &str) -> Hit {
    let response = index.search(&text(query)).unwrap();
    response
        .hits
        .into_iter()
        .find(|h| h.vendor_sku == sku)
        .unwrap_or_else(|| panic!("{query:?} does not find {sku}"))
}

/// The highlighted slices of `field` in a hit.
fn marked(hit: &Hit, field: &str) -> Vec<String> {
    hit.highlights
        .iter()
        .filter(|h| h.field == field)
        .flat_map(|h| {
            h.ranges.iter().map(|(from, to)| {
                h.text
                    .get(*from..*to)
                    .unwrap_or_else(|| panic!("range {from}..{to} is not in {:?}", h.text))
                    .to_owned()
            })
        })
        .collect()
}

#[test]
fn a_hit_inside_a_word_is_highlighted_exactly_where_it_is() {
    let index = index_of(&catalog());
    let queue = hit(&index, "处理", "mq-backlog");
    assert_eq!(
        marked(&queue, "name.zh"),
        ["处理"],
        "{:?}",
        queue.highlights
    );
    let name = queue.name.zh.as_deref().unwrap();
    let highlight = queue
        .highlights
        .iter()
        .find(|h| h.field == "name.zh")
        .unwrap();
    assert_eq!(highlight.text, name);
    let (from, to) = highlight.ranges[0];
    assert_eq!(from, name.find("待处理").unwrap() + "待".len());
    assert_eq!(to - from, "处理".len());

    let server = hit(&index, "服务器", "ecs-g7");
    assert_eq!(marked(&server, "name.zh"), ["服务器"]);
    let butterfly = hit(&index, "蝶", "css-butterfly");
    assert_eq!(marked(&butterfly, "name.zh"), ["蝶"]);
    let place = hit(&index, "华东2（上海）", "ecs-g7");
    let region = marked(&place, "region.zh");
    assert!(
        region.contains(&"华东".to_owned()) && region.contains(&"上海".to_owned()),
        "{:?}",
        place.highlights
    );
}

#[test]
fn typos_stems_and_prefixes_highlight_the_whole_word_of_the_text() {
    let index = index_of(&catalog());
    let windows = hit(&index, "windwos", "m6i-windows");
    assert_eq!(marked(&windows, "name.en"), ["Windows"]);
    let mysql = hit(&index, "mys", "rds-mysql");
    assert_eq!(marked(&mysql, "name.en"), ["MySQL"]);
    let instance = hit(&index, "instances", "ecs-g7");
    assert_eq!(marked(&instance, "name.en"), ["instance"]);
}

#[test]
fn every_highlight_range_is_on_character_boundaries_in_order() {
    let index = index_of(&catalog());
    for case in CASES {
        let response = index.search(&text(case.query)).unwrap();
        for hit in &response.hits {
            for highlight in &hit.highlights {
                let mut end = 0;
                for (from, to) in &highlight.ranges {
                    assert!(from < to && *from >= end, "{:?}: {highlight:?}", case.query);
                    assert!(
                        highlight.text.get(*from..*to).is_some(),
                        "{:?}: {highlight:?}",
                        case.query
                    );
                    end = *to;
                }
            }
        }
    }
}

#[test]
fn a_query_of_only_punctuation_or_spaces_lists_everything_without_error() {
    let listings = catalog();
    let index = index_of(&listings);
    for query in [
        "",
        "   ",
        "\t\n",
        "，。、！？",
        "（）【】《》",
        "---/()...",
        "　　",
        "!@#$%^&*",
        "·～",
    ] {
        let response = index
            .search(&text(query))
            .unwrap_or_else(|e| panic!("{query:?}: {e}"));
        assert_eq!(response.total, listings.len() as u64, "{query:?}");
        assert!(response.hits.iter().all(|h| h.highlights.is_empty()));
    }
}

#[test]
fn a_word_found_nowhere_finds_nothing() {
    let index = index_of(&catalog());
    for query in ["量子计算机", "kubernetes", "蜻蜓"] {
        let response = index.search(&text(query)).unwrap();
        assert_eq!(response.total, 0, "{query:?}: {:?}", skus(&response));
    }
}

/// Chinese input methods in full-width mode type letters and digits
/// full-width (`ＥＣＳ`, `２`); they are the same words.
#[test]
fn full_width_letters_and_digits_are_the_same_words() {
    let index = index_of(&catalog());
    let mut failures = Vec::new();
    for (query, sku, misses) in [
        ("ＥＣＳ", "ecs-g7", &["mq-backlog", "rds-mysql"][..]),
        ("ｍｙｓｑｌ数据库", "rds-mysql", &["pg-15", "redis-7"][..]),
        (
            "华东２（上海）",
            "ecs-g7",
            &["oss-standard", "rds-mysql", "pg-15"][..],
        ),
        ("ＧＰＵ服务器", "gn7i", &["ecs-g7"][..]),
    ] {
        let found = skus(&index.search(&text(query)).unwrap());
        if !found.iter().any(|s| s == sku) || misses.iter().any(|m| found.iter().any(|s| s == m)) {
            failures.push(format!(
                "{query:?} finds {found:?}, wants {sku} and none of {misses:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
