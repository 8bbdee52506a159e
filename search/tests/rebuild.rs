//! Generations on disk: rebuilds swapped in under a load of queries, and
//! a process that stops and starts again (or finds its directory damaged).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use common::{listing, price, text};
use rust_decimal_macros::dec;
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::{BillingMode, Listing, Vendor};
use shiyun_core::money::Currency;
use shiyun_search::{CatalogIndex, Filters, IndexOptions, Range, SearchRequest};

fn options(dir: &Path) -> IndexOptions {
    IndexOptions {
        dir: Some(dir.to_owned()),
        rebuild_threads: 1,
        rebuild_memory_bytes: 15 << 20,
        writer_memory_bytes: 15 << 20,
        ..IndexOptions::default()
    }
}

fn demo(count: u64) -> Vec<Listing> {
    DemoCatalog::new(5, count).collect()
}

/// The queries the readers run: each matches some of every catalog built.
fn queries() -> Vec<SearchRequest> {
    let mut compute = text("");
    compute.filters = Filters {
        categories: vec!["compute.*".into()],
        vcpu: Range::at_least(2),
        ..Filters::default()
    };
    let mut paged = text("");
    paged.limit = 3;
    vec![
        text("云服务器"),
        text("instance"),
        text("mysql"),
        compute,
        paged,
    ]
}

/// The generation directories in `dir`.
fn generations(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    names.sort();
    names
}

#[test]
fn queries_never_fail_or_come_back_empty_while_rebuilds_swap_generations() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(CatalogIndex::open(options(dir.path())).unwrap());
    let small = demo(150);
    let large = demo(220);
    index.rebuild_with(1, small.iter().cloned(), None).unwrap();
    let queries = Arc::new(queries());
    for query in queries.iter() {
        let response = index.search(query).unwrap();
        assert!(response.total > 0, "{:?} matches nothing", query.text);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let readers = 3;
    let started = Arc::new(Barrier::new(readers + 1));
    let handles: Vec<_> = (0..readers)
        .map(|reader| {
            let index = Arc::clone(&index);
            let queries = Arc::clone(&queries);
            let stop = Arc::clone(&stop);
            let started = Arc::clone(&started);
            std::thread::spawn(move || {
                started.wait();
                let mut runs = 0_u64;
                let mut last_seq = 0;
                let mut failures = Vec::new();
                let mut i = reader;
                while !stop.load(Ordering::SeqCst) || runs < 20 {
                    let query = &queries[i % queries.len()];
                    i += 1;
                    runs += 1;
                    match index.search(query) {
                        Ok(response) if response.total == 0 || response.hits.is_empty() => {
                            failures.push(format!(
                                "{:?} came back empty at seq {}",
                                query.text, response.index_seq
                            ));
                        }
                        Ok(response) => {
                            if response.index_seq < last_seq {
                                failures.push(format!(
                                    "seq went back from {last_seq} to {}",
                                    response.index_seq
                                ));
                            }
                            last_seq = response.index_seq;
                        }
                        Err(e) => failures.push(format!("{:?} failed: {e}", query.text)),
                    }
                }
                (runs, failures)
            })
        })
        .collect();

    started.wait();
    let rebuilds = 6;
    for seq in 2..2 + rebuilds {
        let catalog = if seq % 2 == 0 { &large } else { &small };
        let report = index
            .rebuild_with(seq, catalog.iter().cloned(), None)
            .unwrap();
        assert_eq!(report.seq, seq);
        assert_eq!(report.listings, catalog.len() as u64);
        assert_eq!(index.applied_seq(), seq);
    }
    stop.store(true, Ordering::SeqCst);
    let mut failures = Vec::new();
    for handle in handles {
        let (runs, failed) = handle.join().unwrap();
        assert!(runs >= 20);
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(index.len(), small.len() as u64);
    // Old generations are removed once swapped out.
    assert_eq!(generations(dir.path()), [index.generation_name()]);
}

#[test]
fn a_reopened_index_answers_at_its_applied_sequence_without_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = demo(120);
    let (name, before) = {
        let index = CatalogIndex::open(options(dir.path())).unwrap();
        assert_eq!(index.applied_seq(), 0);
        assert!(index.is_empty());
        index
            .rebuild_with(42, catalog.iter().cloned(), None)
            .unwrap();
        (
            index.generation_name(),
            index.search(&text("云服务器")).unwrap(),
        )
    };
    assert!(before.total > 0);

    let index = CatalogIndex::open(options(dir.path())).unwrap();
    assert_eq!(index.applied_seq(), 42);
    assert_eq!(index.generation_name(), name);
    assert_eq!(index.len(), catalog.len() as u64);
    let after = index.search(&text("云服务器")).unwrap();
    assert_eq!(after.total, before.total);
    assert_eq!(after.index_seq, 42);
    let ids =
        |r: &shiyun_search::SearchResponse| r.hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before));

    // The next rebuild takes a new name and leaves only itself.
    index
        .rebuild_with(43, catalog.iter().cloned(), None)
        .unwrap();
    assert_ne!(index.generation_name(), name);
    assert_eq!(generations(dir.path()), [index.generation_name()]);
    drop(index);
    assert_eq!(
        CatalogIndex::open(options(dir.path()))
            .unwrap()
            .applied_seq(),
        43
    );
}

fn one_listing() -> Vec<Listing> {
    vec![listing(
        Vendor::Alibaba,
        "ecs-1",
        "compute.vm",
        "cn-shanghai",
        |b| {
            b.name_zh("通用型云服务器").price(price(
                BillingMode::OnDemand,
                dec!(0.5),
                Currency::CNY,
            ))
        },
    )]
}

/// Opens `dir` after `damage`, expecting an empty index at sequence 0 that
/// answers, and a rebuild that works.
fn starts_empty_after(damage: impl FnOnce(&Path, &str)) {
    let dir = tempfile::tempdir().unwrap();
    let name = {
        let index = CatalogIndex::open(options(dir.path())).unwrap();
        index
            .rebuild_with(9, one_listing().into_iter(), None)
            .unwrap();
        index.generation_name()
    };
    damage(dir.path(), &name);
    let index = match CatalogIndex::open(options(dir.path())) {
        Ok(index) => index,
        Err(e) => panic!("open failed instead of starting empty: {e}"),
    };
    assert_eq!(index.applied_seq(), 0);
    assert!(index.is_empty());
    assert_eq!(index.search(&text("服务器")).unwrap().total, 0);
    index
        .rebuild_with(10, one_listing().into_iter(), None)
        .unwrap();
    assert_eq!(index.search(&text("服务器")).unwrap().total, 1);
    drop(index);
    let reopened = CatalogIndex::open(options(dir.path())).unwrap();
    assert_eq!(reopened.applied_seq(), 10);
    assert_eq!(reopened.len(), 1);
}

#[test]
fn current_naming_a_missing_generation_starts_empty() {
    starts_empty_after(|dir, name| std::fs::remove_dir_all(dir.join(name)).unwrap());
}

#[test]
fn current_naming_something_that_is_not_a_generation_starts_empty() {
    starts_empty_after(|dir, _| std::fs::write(dir.join("CURRENT"), "../../elsewhere\n").unwrap());
}

#[test]
fn an_empty_current_starts_empty() {
    starts_empty_after(|dir, _| std::fs::write(dir.join("CURRENT"), "").unwrap());
}

#[test]
fn a_generation_with_corrupt_metadata_starts_empty() {
    starts_empty_after(|dir, name| {
        std::fs::write(dir.join(name).join("meta.json"), b"{ not json").unwrap();
    });
}

#[test]
fn a_generation_with_its_segment_files_gone_starts_empty() {
    starts_empty_after(|dir, name| {
        for entry in std::fs::read_dir(dir.join(name)).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            if file != "meta.json" && !file.starts_with('.') {
                std::fs::remove_file(path).unwrap();
            }
        }
    });
}

#[test]
fn a_half_built_generation_left_by_a_crash_is_ignored_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let name = {
        let index = CatalogIndex::open(options(dir.path())).unwrap();
        index
            .rebuild_with(5, one_listing().into_iter(), None)
            .unwrap();
        index.generation_name()
    };
    // A rebuild that died before its swap: the next number, half written.
    let number: u64 = name.trim_start_matches("gen-").parse().unwrap();
    let stray = dir.path().join(format!("gen-{:05}", number + 1));
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("meta.json"), b"{ half").unwrap();
    std::fs::write(stray.join("junk.idx"), b"junk").unwrap();

    let index = CatalogIndex::open(options(dir.path())).unwrap();
    assert_eq!(index.applied_seq(), 5);
    assert_eq!(index.generation_name(), name);
    assert_eq!(index.search(&text("服务器")).unwrap().total, 1);
    index
        .rebuild_with(6, one_listing().into_iter(), None)
        .unwrap();
    assert_eq!(index.applied_seq(), 6);
    assert_eq!(generations(dir.path()), [index.generation_name()]);
}

#[test]
fn a_directory_another_open_index_holds_is_refused_not_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let first = CatalogIndex::open(options(dir.path())).unwrap();
    first
        .rebuild_with(3, one_listing().into_iter(), None)
        .unwrap();
    let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
    assert!(CatalogIndex::open(options(dir.path())).is_err());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("CURRENT")).unwrap(),
        current
    );
    assert_eq!(first.search(&text("服务器")).unwrap().total, 1);
    drop(first);
    assert_eq!(
        CatalogIndex::open(options(dir.path()))
            .unwrap()
            .applied_seq(),
        3
    );
}
