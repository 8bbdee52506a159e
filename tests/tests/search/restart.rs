//! A dir-backed index across restarts: it resumes from the sequence it
//! applied, and an index ahead of its store (the store was replaced) is
//! rebuilt from it.

use rust_decimal_macros::dec;
use shiyun_core::money::Currency;
use shiyun_search::catch_up;

use crate::helpers::{dir_index, found, latest, offer, on_both_backends, retire, upsert, words};

on_both_backends! {
    fn a_reopened_index_applies_only_the_changes_after_its_sequence(db: &TestDatabase) {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<_> = (0..5)
            .map(|i| offer(&format!("ecs-{i}"), &format!("first{i}"), dec!(1), Currency::CNY))
            .collect();
        upsert(db, &first);
        let (seq, generation) = {
            let index = dir_index(dir.path());
            assert!(catch_up(&index, db.database(), db.database(), 200_000).unwrap());
            assert_eq!(index.applied_seq(), latest(db));
            (index.applied_seq(), index.generation_name())
        };

        // While the process is down the catalog moves on.
        upsert(db, &[offer("ecs-5", "later", dec!(2), Currency::CNY)]);
        upsert(db, &[offer("ecs-0", "first0", dec!(7), Currency::CNY)]);
        retire(db, &first[4]);
        assert!(latest(db) > seq);

        let index = dir_index(dir.path());
        assert_eq!(index.applied_seq(), seq);
        assert_eq!(index.generation_name(), generation);
        // Searchable at once, as it was.
        assert_eq!(found(&index, &words("first4")), ["ecs-4"]);
        assert!(found(&index, &words("later")).is_empty());

        // The rest is applied on the generation it had: no rebuild.
        assert!(!catch_up(&index, db.database(), db.database(), 200_000).unwrap());
        assert_eq!(index.applied_seq(), latest(db));
        assert_eq!(index.generation_name(), generation);
        assert_eq!(found(&index, &words("later")), ["ecs-5"]);
        assert!(found(&index, &words("first4")).is_empty());
        let hit = &index.search(&words("first0")).unwrap().hits[0];
        assert_eq!(hit.price.as_ref().unwrap().amount, dec!(7));
        drop(index);

        // What was applied was committed with its sequence.
        let index = dir_index(dir.path());
        assert_eq!(index.applied_seq(), latest(db));
        assert_eq!(
            found(&index, &words("")),
            ["ecs-0", "ecs-1", "ecs-2", "ecs-3", "ecs-5"]
        );
    }

    fn an_index_ahead_of_its_store_is_rebuilt_from_it(db: &TestDatabase) {
        let dir = tempfile::tempdir().unwrap();
        let many: Vec<_> = (0..6)
            .map(|i| offer(&format!("ecs-{i}"), &format!("old{i}"), dec!(1), Currency::CNY))
            .collect();
        for listing in &many {
            upsert(db, std::slice::from_ref(listing));
        }
        {
            let index = dir_index(dir.path());
            catch_up(&index, db.database(), db.database(), 200_000).unwrap();
            assert_eq!(index.applied_seq(), latest(db));
        }

        // The store is replaced by one with a shorter feed.
        let replaced = match db.backend() {
            shiyun_schema::Backend::Sqlite => TestDatabase::sqlite(),
            _ => TestDatabase::postgres(),
        };
        upsert(&replaced, &[offer("ecs-new", "fresh", dec!(1), Currency::CNY)]);
        let index = dir_index(dir.path());
        assert!(index.applied_seq() > latest(&replaced));
        assert!(catch_up(&index, replaced.database(), replaced.database(), 200_000).unwrap());
        assert_eq!(index.applied_seq(), latest(&replaced));
        assert_eq!(found(&index, &words("")), ["ecs-new"]);
    }

    fn a_lag_beyond_the_limit_is_closed_by_a_rebuild(db: &TestDatabase) {
        let dir = tempfile::tempdir().unwrap();
        upsert(db, &[offer("ecs-0", "zero", dec!(1), Currency::CNY)]);
        let generation = {
            let index = dir_index(dir.path());
            catch_up(&index, db.database(), db.database(), 200_000).unwrap();
            index.generation_name()
        };
        for i in 1..5 {
            upsert(db, &[offer(&format!("ecs-{i}"), "more", dec!(1), Currency::CNY)]);
        }
        let index = dir_index(dir.path());
        assert!(catch_up(&index, db.database(), db.database(), 2).unwrap());
        assert_ne!(index.generation_name(), generation);
        assert_eq!(index.applied_seq(), latest(db));
        assert_eq!(found(&index, &words("more")).len(), 4);
    }
}
