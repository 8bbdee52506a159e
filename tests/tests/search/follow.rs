//! The index following the change feed: one step at a time, and by the
//! follower thread.

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_core::fx::FxTable;
use shiyun_core::money::Currency;
use shiyun_core::search::{SearchStore, SynonymGroup};
use shiyun_core::store::ChangeFeed;
use shiyun_search::{FollowOptions, FollowSources, Follower, catch_up};

use crate::helpers::{
    found, latest, memory_index, offer, on_both_backends, priced_at, retire, upsert, words,
};

on_both_backends! {
    fn new_changed_and_retired_listings_reach_the_index_by_feed_steps(db: &TestDatabase) {
        let first: Vec<_> = ["alder", "birch", "cedar", "damson", "elm"]
            .iter()
            .enumerate()
            .map(|(i, w)| offer(&format!("ecs-{i}"), w, dec!(1.00), Currency::CNY))
            .collect();
        upsert(db, &first);
        let index = memory_index();
        assert!(catch_up(&index, db.database(), db.database(), 200_000).unwrap());
        assert_eq!(index.applied_seq(), latest(db));
        assert_eq!(found(&index, &words("")).len(), 5);

        let seq_before = index.applied_seq();
        upsert(
            db,
            &[
                offer("ecs-5", "fir", dec!(2.00), Currency::CNY),
                offer("ecs-6", "ginkgo", dec!(2.00), Currency::CNY),
            ],
        );
        // A changed price and a retirement, in transactions of their own.
        upsert(db, &[offer("ecs-0", "alder", dec!(3.50), Currency::CNY)]);
        retire(db, &first[1]);
        // Nothing moves until the step.
        assert!(found(&index, &words("fir")).is_empty());
        assert_eq!(index.applied_seq(), seq_before);

        let waiting = db.database().read_changes(seq_before, 1000).unwrap().len();
        assert!(waiting >= 4, "{waiting} events");
        let mut applied = 0;
        loop {
            let step = index.apply_changes(db.database(), db.database(), 2).unwrap();
            assert!(step <= 2);
            if step == 0 {
                break;
            }
            applied += step;
        }
        assert_eq!(applied, waiting);
        assert_eq!(index.applied_seq(), latest(db));

        assert_eq!(found(&index, &words("fir")), ["ecs-5"]);
        assert_eq!(found(&index, &words("ginkgo")), ["ecs-6"]);
        assert_eq!(found(&index, &priced_at(dec!(3.5), Currency::CNY)), ["ecs-0"]);
        assert_eq!(
            found(&index, &priced_at(dec!(1), Currency::CNY)),
            ["ecs-2", "ecs-3", "ecs-4"]
        );
        assert!(found(&index, &words("birch")).is_empty());
        assert!(index.summary(first[1].id()).unwrap().is_none());
        assert_eq!(
            found(&index, &words("")),
            ["ecs-0", "ecs-2", "ecs-3", "ecs-4", "ecs-5", "ecs-6"]
        );
        let hit = &index.search(&words("alder")).unwrap().hits[0];
        assert_eq!(hit.price.as_ref().unwrap().amount, dec!(3.5));

        // A step with nothing new changes nothing.
        assert_eq!(index.apply_changes(db.database(), db.database(), 100).unwrap(), 0);
        assert_eq!(index.applied_seq(), latest(db));

        // Sent active again, the retired listing comes back.
        upsert(db, std::slice::from_ref(&first[1]));
        while index.apply_changes(db.database(), db.database(), 100).unwrap() > 0 {}
        assert_eq!(found(&index, &words("birch")), ["ecs-1"]);
    }

    fn a_rebuild_from_the_store_matches_the_steps_that_led_there(db: &TestDatabase) {
        let stepped = memory_index();
        for round in 0..4 {
            let batch: Vec<_> = (0..3)
                .map(|i| {
                    let n = round * 3 + i;
                    offer(&format!("ecs-{n}"), &format!("w{n}"), dec!(1) + Decimal::from(n), Currency::CNY)
                })
                .collect();
            upsert(db, &batch);
            if round > 0 {
                retire(db, &offer(&format!("ecs-{}", round - 1), "x", dec!(1), Currency::CNY));
            }
            // Only the first catch-up, of an empty index, rebuilds.
            let rebuilt = catch_up(&stepped, db.database(), db.database(), 200_000).unwrap();
            assert_eq!(rebuilt, round == 0);
        }
        let rebuilt = memory_index();
        let report = rebuilt.rebuild(db.database(), db.database()).unwrap();
        assert_eq!(report.seq, latest(db));
        assert_eq!(report.listings, 12 - 3);
        assert_eq!(rebuilt.applied_seq(), stepped.applied_seq());
        assert_eq!(found(&rebuilt, &words("")), found(&stepped, &words("")));
        assert_eq!(
            found(&rebuilt, &priced_at(dec!(12), Currency::CNY)),
            ["ecs-11"]
        );
    }

    fn the_follower_thread_makes_changes_searchable_and_reads_settings(db: &TestDatabase) {
        upsert(db, &[offer("ecs-0", "alder", dec!(1), Currency::CNY)]);
        let index = Arc::new(memory_index());
        catch_up(&index, db.database(), db.database(), 200_000).unwrap();
        let store = Arc::new(db.database().clone());
        let follower = Follower::spawn(
            Arc::clone(&index),
            FollowSources {
                listings: store.clone(),
                feed: store.clone(),
                settings: Some(store.clone()),
                fallback_fx: FxTable::default(),
            },
            FollowOptions {
                poll_interval: Duration::from_millis(20),
                settings_interval: Duration::from_millis(20),
                ..FollowOptions::default()
            },
        )
        .unwrap();

        let kiwi = offer("ecs-kiwi", "kiwi", dec!(2), Currency::CNY);
        upsert(db, std::slice::from_ref(&kiwi));
        crate::helpers::eventually("the new listing is found", || {
            found(&index, &words("kiwi")) == ["ecs-kiwi"]
        });
        upsert(db, &[offer("ecs-kiwi", "kiwi", dec!(4.25), Currency::CNY)]);
        crate::helpers::eventually("the new price is matched", || {
            found(&index, &priced_at(dec!(4.25), Currency::CNY)) == ["ecs-kiwi"]
        });
        assert!(found(&index, &priced_at(dec!(2), Currency::CNY)).is_empty());

        let groups = [SynonymGroup::new(["kiwi", "猕猴桃"]).unwrap()];
        db.database().put_synonyms(&groups, None, chrono::Utc::now()).unwrap();
        crate::helpers::eventually("a saved synonym is in force", || {
            found(&index, &words("猕猴桃")) == ["ecs-kiwi"]
        });

        retire(db, &kiwi);
        crate::helpers::eventually("the retired listing is gone", || {
            found(&index, &words("kiwi")).is_empty()
        });
        crate::helpers::eventually("the index is at the feed's end", || {
            index.applied_seq() == latest(db)
        });
        follower.stop();
    }

    fn writers_racing_the_follower_lose_no_change(db: &TestDatabase) {
        let index = Arc::new(memory_index());
        let store = Arc::new(db.database().clone());
        let follower = Follower::spawn(
            Arc::clone(&index),
            FollowSources {
                listings: store.clone(),
                feed: store.clone(),
                settings: None,
                fallback_fx: FxTable::default(),
            },
            FollowOptions {
                poll_interval: Duration::from_millis(20),
                batch: 3,
                ..FollowOptions::default()
            },
        )
        .unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..8 {
                        let listing = offer(
                            &format!("ecs-{w}-{i}"),
                            &format!("word{w}x{i}"),
                            dec!(1) + Decimal::from(i),
                            Currency::CNY,
                        );
                        shiyun_core::store::ListingStore::upsert_listings(
                            store.as_ref(),
                            &[listing],
                            chrono::Utc::now(),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        crate::helpers::eventually("the index is at the feed's end", || {
            index.applied_seq() == latest(db)
        });
        follower.stop();
        // At the feed's end, every listing written is in: none was skipped
        // by a sequence read before an earlier one committed.
        assert_eq!(found(&index, &words("")).len(), 32);
        for w in 0..4 {
            for i in 0..8 {
                assert_eq!(
                    found(&index, &words(&format!("word{w}x{i}"))),
                    [format!("ecs-{w}-{i}")]
                );
            }
        }
    }
}
