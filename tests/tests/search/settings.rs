//! Synonyms and exchange rates saved in the store, loaded into the index.

use chrono::Utc;
use rust_decimal_macros::dec;
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::money::Currency;
use shiyun_core::search::{SearchStore, SynonymGroup};
use shiyun_search::{catch_up, load_settings};

use crate::helpers::{found, memory_index, offer, on_both_backends, priced_at, upsert, words};

fn usd_cny(rate: rust_decimal::Decimal) -> FxTable {
    FxTable::new(
        vec![FxRate {
            from: Currency::USD,
            to: Currency::CNY,
            rate,
        }],
        None,
    )
    .unwrap()
}

on_both_backends! {
    fn synonyms_and_rates_saved_in_the_store_are_loaded(db: &TestDatabase) {
        upsert(
            db,
            &[
                offer("ecs-kiwi", "kiwi", dec!(1), Currency::USD),
                offer("ecs-yuan", "pear", dec!(7.2), Currency::CNY),
            ],
        );
        let index = memory_index();
        catch_up(&index, db.database(), db.database(), 200_000).unwrap();
        let fallback = usd_cny(dec!(7.1));

        // Nothing saved: the built-in synonyms and the fallback rates.
        load_settings(&index, db.database(), &fallback).unwrap();
        assert_eq!(index.synonyms().version, 0);
        assert_eq!(index.fx(), fallback);
        assert_eq!(
            found(&index, &priced_at(dec!(7.1), Currency::CNY)),
            ["ecs-kiwi"]
        );
        assert!(found(&index, &words("猕猴桃")).is_empty());

        let groups = vec![
            SynonymGroup::new(["kiwi", "猕猴桃"]).unwrap(),
            SynonymGroup::new(["pear", "梨"]).unwrap(),
        ];
        let saved = db.database().put_synonyms(&groups, None, Utc::now()).unwrap();
        let stored = db.database().put_fx_table(&usd_cny(dec!(7.2)), Utc::now()).unwrap();
        load_settings(&index, db.database(), &fallback).unwrap();
        assert_eq!(index.synonyms().version, saved.version);
        assert_eq!(index.synonyms().groups, groups);
        assert_eq!(index.fx(), stored.table);
        assert_eq!(found(&index, &words("猕猴桃")), ["ecs-kiwi"]);
        assert_eq!(found(&index, &words("梨")), ["ecs-yuan"]);
        // 1 USD at the saved 7.2 is the 7.2 CNY listing's price, exactly.
        assert_eq!(
            found(&index, &priced_at(dec!(7.2), Currency::CNY)),
            ["ecs-kiwi", "ecs-yuan"]
        );
        let response = index.search(&priced_at(dec!(7.2), Currency::CNY)).unwrap();
        assert!(response.fx_rates.iter().any(|r| r.rate == dec!(7.2)));

        // An edit replaces the set: the group taken out no longer applies.
        let edited = db
            .database()
            .put_synonyms(&groups[1..], Some(saved.version), Utc::now())
            .unwrap();
        load_settings(&index, db.database(), &fallback).unwrap();
        assert_eq!(index.synonyms().version, edited.version);
        assert!(found(&index, &words("猕猴桃")).is_empty());
        assert_eq!(found(&index, &words("梨")), ["ecs-yuan"]);
    }

    fn a_second_index_loads_the_same_settings(db: &TestDatabase) {
        let groups = [SynonymGroup::new(["kiwi", "猕猴桃"]).unwrap()];
        db.database().put_synonyms(&groups, None, Utc::now()).unwrap();
        db.database().put_fx_table(&usd_cny(dec!(6.9)), Utc::now()).unwrap();
        let fallback = usd_cny(dec!(7.1));
        let a = memory_index();
        let b = memory_index();
        load_settings(&a, db.database(), &fallback).unwrap();
        load_settings(&b, db.database(), &fallback).unwrap();
        assert_eq!(a.synonyms(), b.synonyms());
        assert_eq!(a.fx(), b.fx());
        assert_eq!(a.fx(), usd_cny(dec!(6.9)));
        // Loading again without an edit changes nothing.
        let before = a.synonyms();
        load_settings(&a, db.database(), &fallback).unwrap();
        assert_eq!(a.synonyms(), before);
    }
}
