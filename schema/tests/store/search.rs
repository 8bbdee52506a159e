//! `SearchStore`: synonym groups and exchange rates with versions, and
//! popularity counters.

use rust_decimal_macros::dec;
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::listing::{Listing, ListingId, Vendor};
use shiyun_core::money::Currency;
use shiyun_core::search::{Popularity, SearchStore, SynonymGroup, SynonymSet};
use shiyun_core::store::StoreError;
use shiyun_schema::testing::TestDatabase;

use crate::support::{Store, at, execute_behind_the_store, listing};

fn group(terms: &[&str]) -> SynonymGroup {
    SynonymGroup::new(terms).unwrap()
}

fn rates(usd_cny: rust_decimal::Decimal, as_of: i64) -> FxTable {
    FxTable::new(
        vec![
            FxRate {
                from: Currency::USD,
                to: Currency::CNY,
                rate: usd_cny,
            },
            FxRate {
                from: Currency::EUR,
                to: Currency::CNY,
                rate: dec!(7.85),
            },
        ],
        Some(at(as_of)),
    )
    .unwrap()
}

/// Stores `skus` as AWS listings; returns them.
fn listings<S: Store>(store: &S, skus: &[&str]) -> Vec<Listing> {
    let batch: Vec<Listing> = skus.iter().map(|s| listing(Vendor::Aws, s, "1")).collect();
    store.upsert_listings(&batch, at(1)).unwrap();
    batch
}

fn views_of<S: SearchStore>(store: &S, id: &ListingId) -> Option<u64> {
    store
        .popular(500)
        .unwrap()
        .into_iter()
        .find(|p| &p.listing_id == id)
        .map(|p| p.views)
}

pub fn synonyms_are_saved_with_versions<S: Store + SearchStore>(store: &S) {
    assert_eq!(store.synonyms().unwrap(), None);
    let first = vec![group(&["ECS", "ec2", "云服务器"]), group(&["oss", "s3"])];

    // Expecting a version that was never stored changes nothing.
    let err = store.put_synonyms(&first, Some(3), at(1)).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("version is 0"), "{err}");
    assert_eq!(store.synonyms().unwrap(), None);

    let saved = store.put_synonyms(&first, Some(0), at(2)).unwrap();
    let expected = SynonymSet {
        groups: first.clone(),
        version: 1,
        updated_at: Some(at(2)),
    };
    assert_eq!(saved, expected);
    assert_eq!(saved.groups[0].terms(), ["ecs", "ec2", "云服务器"]);
    assert_eq!(store.synonyms().unwrap(), Some(expected.clone()));

    // "Never saved" no longer holds.
    let err = store.put_synonyms(&[], Some(0), at(3)).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.synonyms().unwrap(), Some(expected));

    // Without an expected version a save always lands, one version on.
    let second = vec![group(&["rds", "mysql"])];
    let saved = store.put_synonyms(&second, None, at(4)).unwrap();
    assert_eq!((saved.version, saved.updated_at), (2, Some(at(4))));

    // A stale version is refused and says which one is stored.
    let err = store
        .put_synonyms(&[group(&["a", "b"])], Some(1), at(5))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("version is 2"), "{err}");
    let err = store
        .put_synonyms(&[group(&["a", "b"])], Some(u64::MAX), at(5))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.synonyms().unwrap().unwrap().groups, second);

    // The current version lands; an empty set is a set.
    let saved = store.put_synonyms(&[], Some(2), at(6)).unwrap();
    assert_eq!((saved.version, saved.groups.len()), (3, 0));
    assert_eq!(store.synonyms().unwrap(), Some(saved));

    // Too many groups are refused before anything is written.
    let many = vec![group(&["x", "y"]); SynonymSet::MAX_GROUPS + 1];
    let err = store.put_synonyms(&many, None, at(7)).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.synonyms().unwrap().unwrap().version, 3);
    // Saving synonyms leaves the exchange rates unsaved.
    assert_eq!(store.fx_table().unwrap(), None);
}

pub fn concurrent_saves_of_one_version_have_one_winner<S: Store + SearchStore>(store: &S) {
    store
        .put_synonyms(&[group(&["a", "b"])], Some(0), at(1))
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            std::thread::spawn(move || {
                let groups = vec![group(&[&format!("t{n}"), "shared"])];
                store.put_synonyms(&groups, Some(1), at(2)).map(|_| groups)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict(_))))
    );
    let stored = store.synonyms().unwrap().unwrap();
    assert_eq!((&stored.groups, stored.version), (winners[0], 2));
}

pub fn fx_tables_are_saved_with_versions<S: Store + SearchStore>(store: &S) {
    assert_eq!(store.fx_table().unwrap(), None);
    let table = rates(dec!(7.10), 1);
    let saved = store.put_fx_table(&table, at(2)).unwrap();
    assert_eq!((saved.version, saved.updated_at), (1, at(2)));
    assert_eq!(saved.table, table);
    assert_eq!(store.fx_table().unwrap(), Some(saved));

    let newer = rates(dec!(7.123456789012), 3);
    let saved = store.put_fx_table(&newer, at(4)).unwrap();
    assert_eq!(saved.version, 2);
    let read = store.fx_table().unwrap().unwrap();
    assert_eq!(read, saved);
    // Rates come back exact, not through a float.
    let usd_cny = read.table.rate(Currency::USD, Currency::CNY).unwrap();
    assert_eq!(usd_cny.rate.to_string(), "7.123456789012");
    assert_eq!(read.table.as_of(), Some(at(3)));
    assert_eq!(store.synonyms().unwrap(), None);
}

pub fn views_add_up_and_rank_listings<S: Store + SearchStore>(store: &S) {
    assert_eq!(store.popular(10).unwrap(), vec![]);
    let stored = listings(store, &["a", "b", "c", "d", "e"]);
    let id = |n: usize| stored[n].id().clone();

    store
        .record_views(&[(id(0), 3), (id(1), 5), (id(0), 4), (id(2), 0)])
        .unwrap();
    store.record_views(&[(id(1), 1), (id(3), 7)]).unwrap();
    store.record_views(&[]).unwrap();
    assert_eq!(views_of(store, &id(0)), Some(7));
    assert_eq!(views_of(store, &id(1)), Some(6));
    assert_eq!(views_of(store, &id(3)), Some(7));
    // Zero views make no counter; a listing never viewed is not popular.
    assert_eq!(views_of(store, &id(2)), None);
    assert_eq!(views_of(store, &id(4)), None);

    // Most views first; equal counts by id, bytewise.
    let mut tied = [id(0), id(3)];
    tied.sort_by(|a, b| a.as_str().as_bytes().cmp(b.as_str().as_bytes()));
    let expected = vec![
        Popularity {
            listing_id: tied[0].clone(),
            views: 7,
        },
        Popularity {
            listing_id: tied[1].clone(),
            views: 7,
        },
        Popularity {
            listing_id: id(1),
            views: 6,
        },
    ];
    assert_eq!(store.popular(10).unwrap(), expected);
    assert_eq!(store.popular(2).unwrap(), expected[..2]);
    // A limit of 0 is read as 1.
    assert_eq!(store.popular(0).unwrap(), expected[..1]);

    // A retired listing drops out and keeps its count for when it returns.
    assert!(store.retire_listing(&tied[0], at(2)).unwrap());
    store.record_views(&[(tied[0].clone(), 1)]).unwrap();
    assert_eq!(store.popular(10).unwrap(), expected[1..]);
    let returning: Vec<Listing> = stored
        .iter()
        .filter(|l| l.id() == &tied[0])
        .cloned()
        .collect();
    store.upsert_listings(&returning, at(3)).unwrap();
    assert_eq!(views_of(store, &tied[0]), Some(8));
}

pub fn views_of_unknown_ids_are_skipped<S: Store + SearchStore>(store: &S) {
    let stored = listings(store, &["known"]);
    let known = stored[0].id().clone();
    let unknown = listing(Vendor::Aws, "not-yet", "1");
    store
        .record_views(&[(unknown.id().clone(), 9), (known.clone(), 2)])
        .unwrap();
    assert_eq!(
        store.popular(10).unwrap(),
        vec![Popularity {
            listing_id: known,
            views: 2
        }]
    );
    // No counter was kept for it: once it is a listing it starts at none.
    store
        .upsert_listings(std::slice::from_ref(&unknown), at(2))
        .unwrap();
    assert_eq!(views_of(store, unknown.id()), None);
    store.record_views(&[(unknown.id().clone(), 1)]).unwrap();
    assert_eq!(views_of(store, unknown.id()), Some(1));
}

pub fn huge_view_counts_stop_at_the_largest<S: Store + SearchStore>(store: &S) {
    let stored = listings(store, &["hot"]);
    let id = stored[0].id().clone();
    store
        .record_views(&[(id.clone(), u64::MAX), (id.clone(), u64::MAX)])
        .unwrap();
    store.record_views(&[(id.clone(), u64::MAX)]).unwrap();
    assert_eq!(views_of(store, &id), Some(i64::MAX as u64));
}

pub fn popular_answers_at_most_500<S: Store + SearchStore>(store: &S) {
    let skus: Vec<String> = (0..501).map(|n| format!("sku-{n:03}")).collect();
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    let stored = listings(store, &skus);
    let views: Vec<(ListingId, u64)> = stored
        .iter()
        .enumerate()
        .map(|(n, l)| (l.id().clone(), n as u64 + 1))
        .collect();
    store.record_views(&views).unwrap();
    let popular = store.popular(u32::MAX).unwrap();
    assert_eq!(popular.len(), 500);
    // The least viewed is the one left out.
    assert_eq!(popular[0].views, 501);
    assert_eq!(popular[499].views, 2);
}

pub fn concurrent_views_are_all_counted<S: Store + SearchStore>(store: &S) {
    let stored = listings(store, &["x", "y"]);
    let (x, y) = (stored[0].id().clone(), stored[1].id().clone());
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            // Half the threads name the ids the other way round.
            let batch = if n % 2 == 0 {
                vec![(x.clone(), 1), (y.clone(), 2)]
            } else {
                vec![(y.clone(), 2), (x.clone(), 1)]
            };
            std::thread::spawn(move || {
                for _ in 0..50 {
                    store.record_views(&batch).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(views_of(store, &x), Some(200));
    assert_eq!(views_of(store, &y), Some(400));
}

pub fn unreadable_settings_are_internal_errors(db: &TestDatabase) {
    let store: &shiyun_schema::Database = db;
    let bad = [
        // A group of one term breaks `SynonymGroup`'s rule.
        ("synonyms", r#"[["only"]]"#, 1),
        ("synonyms", "not json", 1),
        ("synonyms", r#"[["a","b"]]"#, 0),
        // A negative rate breaks `FxTable`'s rule.
        (
            "fx_table",
            r#"{"rates":[{"from":"USD","to":"CNY","rate":"-7"}]}"#,
            1,
        ),
        ("fx_table", r#"{"rates":[]}"#, -1),
    ];
    for (key, value, version) in bad {
        execute_behind_the_store(db, "DELETE FROM search_settings");
        execute_behind_the_store(
            db,
            &format!(
                "INSERT INTO search_settings (key, value, version, updated_at) \
                 VALUES ('{key}', '{value}', {version}, 0)"
            ),
        );
        let err = match key {
            "synonyms" => store.synonyms().map(|_| ()).unwrap_err(),
            _ => store.fx_table().map(|_| ()).unwrap_err(),
        };
        assert!(
            matches!(&err, StoreError::Internal(m) if m.contains(key)),
            "{key} {value} {version}: {err:?}"
        );
    }
    // The same rows read fine once they hold what a save writes.
    execute_behind_the_store(db, "DELETE FROM search_settings");
    execute_behind_the_store(
        db,
        "INSERT INTO search_settings (key, value, version, updated_at) \
         VALUES ('fx_table', '{\"rates\":[]}', 4, 0)",
    );
    assert_eq!(store.fx_table().unwrap().unwrap().version, 4);
}
