//! `ListingStore`: diffing upserts, retirement, reads and pages.

use shiyun_core::listing::{Category, Listing, ListingId, ListingStatus, Vendor};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{
    ChangeKind, ListingFilter, ListingQuery, RetireScope, StoreError, UpsertReport,
};
use shiyun_schema::testing::TestDatabase;

use crate::support::{Store, at, listing, listing_in, repriced};

fn report(new: u64, changed: u64, unchanged: u64, retired: u64) -> UpsertReport {
    UpsertReport {
        new,
        changed,
        unchanged,
        retired,
    }
}

fn kinds<S: Store>(store: &S, after: u64) -> Vec<(ListingId, ChangeKind)> {
    store
        .read_changes(after, 1000)
        .unwrap()
        .into_iter()
        .map(|e| (e.listing_id, e.kind))
        .collect()
}

pub fn upsert_counts_new_changed_unchanged<S: Store>(store: &S) {
    let a = listing(Vendor::Aws, "a", "1.00");
    let b = listing(Vendor::Aws, "b", "2.00");
    assert_eq!(
        store
            .upsert_listings(&[a.clone(), b.clone()], at(1))
            .unwrap(),
        report(2, 0, 0, 0)
    );
    let c = listing(Vendor::Aws, "c", "3.00");
    let b2 = repriced(&b, "2.50");
    assert_eq!(
        store
            .upsert_listings(&[a.clone(), b2.clone(), c], at(2))
            .unwrap(),
        report(1, 1, 1, 0)
    );
    assert_eq!(store.get_listing(a.id()).unwrap().unwrap(), a);
    assert_eq!(store.get_listing(b.id()).unwrap().unwrap(), b2);
    assert_eq!(
        store.upsert_listings(&[], at(3)).unwrap(),
        UpsertReport::default()
    );
}

pub fn same_batch_twice_changes_nothing<S: Store>(store: &S) {
    let batch: Vec<Listing> = (0..5)
        .map(|i| listing(Vendor::Gcp, &format!("s{i}"), "0.10"))
        .collect();
    store.upsert_listings(&batch, at(1)).unwrap();
    let seq = store.latest_seq().unwrap();
    assert_eq!(seq, 5);
    assert_eq!(
        store.upsert_listings(&batch, at(2)).unwrap(),
        report(0, 0, 5, 0)
    );
    assert_eq!(
        store.latest_seq().unwrap(),
        seq,
        "no feed entry for unchanged listings"
    );
    assert_eq!(store.price_history(batch[0].id()).unwrap().len(), 1);
}

pub fn price_change_writes_history_and_one_update<S: Store>(store: &S) {
    let a = listing(Vendor::Alibaba, "ecs.g6.large", "0.4200");
    store
        .upsert_listings(std::slice::from_ref(&a), at(1))
        .unwrap();
    let seq = store.latest_seq().unwrap();
    let a2 = repriced(&a, "0.3900");
    assert_eq!(
        store
            .upsert_listings(std::slice::from_ref(&a2), at(2))
            .unwrap(),
        report(0, 1, 0, 0)
    );
    assert_eq!(
        kinds(store, seq),
        vec![(a.id().clone(), ChangeKind::Updated)]
    );
    let history = store.price_history(a.id()).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].recorded_at, at(1));
    assert_eq!(history[0].prices, a.prices());
    assert_eq!(history[1].recorded_at, at(2));
    assert_eq!(history[1].prices, a2.prices());
    assert_eq!(history[1].prices[0].amount().amount().to_string(), "0.3900");
    let missing = listing(Vendor::Alibaba, "missing", "1");
    assert!(matches!(
        store.price_history(missing.id()),
        Err(StoreError::NotFound { .. })
    ));
}

pub fn content_change_without_price_change_keeps_history<S: Store>(store: &S) {
    let a = listing(Vendor::Tencent, "cvm.s5", "1.00");
    store
        .upsert_listings(std::slice::from_ref(&a), at(1))
        .unwrap();
    let mut data = a.clone().into_data();
    data.name.en = Some("renamed".into());
    let renamed = Listing::try_from(data).unwrap();
    assert_eq!(
        store
            .upsert_listings(std::slice::from_ref(&renamed), at(2))
            .unwrap(),
        report(0, 1, 0, 0)
    );
    assert_eq!(store.price_history(a.id()).unwrap().len(), 1);
    assert_eq!(
        store
            .get_listing(a.id())
            .unwrap()
            .unwrap()
            .name()
            .en
            .as_deref(),
        Some("renamed")
    );
}

pub fn a_cost_is_stored_and_a_cost_change_writes_history<S: Store>(store: &S) {
    let with_cost = |listing: &Listing, cost: &str| {
        let mut data = listing.clone().into_data();
        data.prices[0].cost = Some(Money::parse(cost, Currency::CNY).unwrap());
        Listing::try_from(data).unwrap()
    };
    let plain = listing(Vendor::Ctyun, "VM.s7.large.2@cn-huadong1/month", "313.24");
    let a = with_cost(&plain, "281.9");
    store
        .upsert_listings(std::slice::from_ref(&a), at(1))
        .unwrap();
    let stored = store.get_listing(a.id()).unwrap().unwrap();
    assert_eq!(stored, a);
    assert_eq!(stored.prices()[0].cost().unwrap().to_string(), "281.9 CNY");
    // The cost alone changes: an update, and a price history point.
    let b = with_cost(&plain, "250.00");
    assert_eq!(
        store
            .upsert_listings(std::slice::from_ref(&b), at(2))
            .unwrap(),
        report(0, 1, 0, 0)
    );
    assert_eq!(store.get_listing(a.id()).unwrap().unwrap(), b);
    let history = store.price_history(a.id()).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].prices, a.prices());
    assert_eq!(history[1].prices, b.prices());
    // Dropping the cost is a change too; a listing without one reads back without.
    store
        .upsert_listings(std::slice::from_ref(&plain), at(3))
        .unwrap();
    assert_eq!(
        store.get_listing(a.id()).unwrap().unwrap().prices()[0].cost(),
        None
    );
    assert_eq!(store.price_history(a.id()).unwrap().len(), 3);
}

pub fn duplicate_ids_in_a_batch_last_wins<S: Store>(store: &S) {
    let a = listing(Vendor::Aws, "dup", "1.00");
    let a2 = repriced(&a, "2.00");
    let b = listing(Vendor::Aws, "other", "1.00");
    assert_eq!(
        store
            .upsert_listings(&[a.clone(), b, a2.clone()], at(1))
            .unwrap(),
        report(2, 0, 0, 0)
    );
    assert_eq!(store.get_listing(a.id()).unwrap().unwrap(), a2);
    assert_eq!(store.latest_seq().unwrap(), 2);
    assert_eq!(store.price_history(a.id()).unwrap().len(), 1);
}

/// A sync that returned listings for some (service, region) pairs only
/// retires within those pairs: an imported region or another service of the
/// same vendor is kept.
pub fn retire_unseen_keeps_pairs_the_sync_did_not_cover<S: Store>(store: &S) {
    let ec2_seen = listing_in(Vendor::Aws, "ec2-seen", "ec2", "us-east-1", "1");
    let ec2_gone = listing_in(Vendor::Aws, "ec2-gone", "ec2", "us-east-1", "1");
    let other_region = listing_in(Vendor::Aws, "ec2-eu", "ec2", "eu-west-1", "1");
    let other_service = listing_in(Vendor::Aws, "rds-us", "rds", "us-east-1", "1");
    store
        .upsert_listings(
            &[
                ec2_seen.clone(),
                ec2_gone.clone(),
                other_region.clone(),
                other_service.clone(),
            ],
            at(1),
        )
        .unwrap();
    store
        .upsert_listings(std::slice::from_ref(&ec2_seen), at(10))
        .unwrap();
    let scope = RetireScope {
        vendor: Vendor::Aws,
        service: None,
        seen_pairs_only: true,
    };
    assert_eq!(store.retire_unseen(&scope, at(10), at(11)).unwrap(), 1);
    let status = |l: &Listing| store.get_listing(l.id()).unwrap().unwrap().status();
    assert_eq!(status(&ec2_gone), ListingStatus::Retired);
    assert_eq!(status(&ec2_seen), ListingStatus::Active);
    assert_eq!(status(&other_region), ListingStatus::Active);
    assert_eq!(status(&other_service), ListingStatus::Active);
}

pub fn retire_unseen_retires_only_unseen_in_scope<S: Store>(store: &S) {
    let ecs_seen = listing_in(Vendor::Alibaba, "ecs-seen", "ecs", "cn-hangzhou", "1");
    let ecs_gone = listing_in(Vendor::Alibaba, "ecs-gone", "ecs", "cn-hangzhou", "1");
    let rds_gone = listing_in(Vendor::Alibaba, "rds-gone", "rds", "cn-hangzhou", "1");
    let aws_gone = listing_in(Vendor::Aws, "ec2-gone", "ec2", "us-east-1", "1");
    store
        .upsert_listings(
            &[
                ecs_seen.clone(),
                ecs_gone.clone(),
                rds_gone.clone(),
                aws_gone.clone(),
            ],
            at(1),
        )
        .unwrap();
    // The next sync of Alibaba ECS sees one listing.
    store
        .upsert_listings(std::slice::from_ref(&ecs_seen), at(10))
        .unwrap();
    let seq = store.latest_seq().unwrap();
    let ecs_scope = RetireScope {
        vendor: Vendor::Alibaba,
        service: Some("ecs".into()),
        seen_pairs_only: false,
    };
    assert_eq!(store.retire_unseen(&ecs_scope, at(10), at(11)).unwrap(), 1);
    assert_eq!(
        kinds(store, seq),
        vec![(ecs_gone.id().clone(), ChangeKind::Retired)]
    );
    let retired = store
        .get_listing(ecs_gone.id())
        .unwrap()
        .expect("retired listings are kept");
    assert_eq!(retired.status(), ListingStatus::Retired);
    assert_eq!(
        store.get_listing(rds_gone.id()).unwrap().unwrap().status(),
        ListingStatus::Active
    );
    assert_eq!(
        store.get_listing(ecs_seen.id()).unwrap().unwrap().status(),
        ListingStatus::Active
    );
    // Again: nothing left to retire in scope.
    assert_eq!(store.retire_unseen(&ecs_scope, at(10), at(12)).unwrap(), 0);
    // The whole vendor: RDS goes, ECS seen stays, AWS untouched.
    let vendor_scope = RetireScope {
        vendor: Vendor::Alibaba,
        service: None,
        seen_pairs_only: false,
    };
    assert_eq!(
        store.retire_unseen(&vendor_scope, at(10), at(13)).unwrap(),
        1
    );
    assert_eq!(
        store.get_listing(rds_gone.id()).unwrap().unwrap().status(),
        ListingStatus::Retired
    );
    assert_eq!(
        store.get_listing(ecs_seen.id()).unwrap().unwrap().status(),
        ListingStatus::Active
    );
    assert_eq!(
        store.get_listing(aws_gone.id()).unwrap().unwrap().status(),
        ListingStatus::Active
    );
    let retired_filter = ListingFilter {
        status: Some(ListingStatus::Retired),
        ..Default::default()
    };
    assert_eq!(store.count_listings(&retired_filter).unwrap(), 2);
    assert_eq!(store.count_listings(&ListingFilter::default()).unwrap(), 4);
}

pub fn retire_listing_once<S: Store>(store: &S) {
    let a = listing(Vendor::Azure, "d2s", "1");
    store
        .upsert_listings(std::slice::from_ref(&a), at(1))
        .unwrap();
    assert!(store.retire_listing(a.id(), at(2)).unwrap());
    assert!(!store.retire_listing(a.id(), at(3)).unwrap());
    assert_eq!(
        store.get_listing(a.id()).unwrap().unwrap().status(),
        ListingStatus::Retired
    );
    assert_eq!(kinds(store, 1), vec![(a.id().clone(), ChangeKind::Retired)]);
    let missing = listing(Vendor::Azure, "missing", "1");
    assert!(matches!(
        store.retire_listing(missing.id(), at(4)),
        Err(StoreError::NotFound { .. })
    ));
}

pub fn sent_as_retired_then_reactivated<S: Store>(store: &S) {
    let a = listing(Vendor::Ucloud, "uhost", "1");
    store
        .upsert_listings(std::slice::from_ref(&a), at(1))
        .unwrap();
    let retired = a.clone().with_status(ListingStatus::Retired);
    assert_eq!(
        store
            .upsert_listings(std::slice::from_ref(&retired), at(2))
            .unwrap(),
        report(0, 0, 0, 1)
    );
    assert_eq!(
        store.upsert_listings(&[retired], at(3)).unwrap(),
        report(0, 0, 1, 0)
    );
    assert_eq!(
        store.get_listing(a.id()).unwrap().unwrap().status(),
        ListingStatus::Retired
    );
    assert_eq!(
        store
            .upsert_listings(std::slice::from_ref(&a), at(4))
            .unwrap(),
        report(0, 1, 0, 0)
    );
    assert_eq!(store.get_listing(a.id()).unwrap().unwrap(), a);
    // Retired by a sweep, then seen again.
    store
        .retire_unseen(
            &RetireScope {
                vendor: Vendor::Ucloud,
                service: None,
                seen_pairs_only: false,
            },
            at(5),
            at(5),
        )
        .unwrap();
    assert_eq!(
        store
            .upsert_listings(std::slice::from_ref(&a), at(6))
            .unwrap(),
        report(0, 1, 0, 0)
    );
    let feed: Vec<ChangeKind> = kinds(store, 0).into_iter().map(|(_, k)| k).collect();
    use ChangeKind::*;
    assert_eq!(
        feed,
        vec![Created, Retired, Reactivated, Retired, Reactivated]
    );
    assert_eq!(
        store.price_history(a.id()).unwrap().len(),
        1,
        "status flips are not price changes"
    );
}

pub fn get_missing_is_none<S: Store>(store: &S) {
    let id = ListingId::derive(Vendor::Ibm, "nothing");
    assert_eq!(store.get_listing(&id).unwrap(), None);
}

pub fn list_pages_with_a_cursor<S: Store>(store: &S) {
    let batch: Vec<Listing> = (0..25)
        .map(|i| listing(Vendor::Kingsoft, &format!("k{i}"), "1"))
        .collect();
    store.upsert_listings(&batch, at(1)).unwrap();
    let mut expected: Vec<ListingId> = batch.iter().map(|l| l.id().clone()).collect();
    expected.sort();
    let mut query = ListingQuery {
        filter: ListingFilter::default(),
        after: None,
        limit: 10,
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list_listings(&query).unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|l| l.id().clone()));
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "ordered by id, each once");
    // A full last page still offers a cursor; the page after it is empty.
    let all = store
        .list_listings(&ListingQuery {
            limit: 25,
            after: None,
            ..query.clone()
        })
        .unwrap();
    assert_eq!(all.items.len(), 25);
    let after = store
        .list_listings(&ListingQuery {
            after: all.next_after.clone(),
            ..query.clone()
        })
        .unwrap();
    assert!(after.items.is_empty() && after.next_after.is_none());
    // Limits are clamped to 1..=MAX_LIMIT.
    let one = store
        .list_listings(&ListingQuery {
            limit: 0,
            after: None,
            ..query.clone()
        })
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let max = store
        .list_listings(&ListingQuery {
            limit: 100_000,
            after: None,
            ..query
        })
        .unwrap();
    assert_eq!(max.items.len(), 25);
}

pub fn list_and_count_filters<S: Store>(store: &S) {
    let a = listing_in(Vendor::Aws, "a", "ec2", "us-east-1", "1");
    let b = listing_in(Vendor::Aws, "b", "ec2", "eu-west-1", "1");
    let mut data = listing_in(Vendor::Gcp, "c", "gce", "us-east-1", "1").into_data();
    data.category = Category::parse("storage.object").unwrap();
    let c = Listing::try_from(data).unwrap();
    let d = listing_in(Vendor::Gcp, "d", "gce", "asia-east1", "1");
    store
        .upsert_listings(&[a.clone(), b.clone(), c.clone(), d.clone()], at(1))
        .unwrap();
    store.retire_listing(d.id(), at(2)).unwrap();

    let check = |filter: ListingFilter, expected: &[&Listing]| {
        let mut ids: Vec<ListingId> = expected.iter().map(|l| l.id().clone()).collect();
        ids.sort();
        let page = store
            .list_listings(&ListingQuery {
                filter: filter.clone(),
                after: None,
                limit: 100,
            })
            .unwrap();
        let got: Vec<ListingId> = page.items.iter().map(|l| l.id().clone()).collect();
        assert_eq!(got, ids, "{filter:?}");
        assert_eq!(
            store.count_listings(&filter).unwrap(),
            ids.len() as u64,
            "{filter:?}"
        );
    };
    check(ListingFilter::default(), &[&a, &b, &c, &d]);
    check(
        ListingFilter {
            vendor: Some(Vendor::Aws.into()),
            ..Default::default()
        },
        &[&a, &b],
    );
    check(
        ListingFilter {
            category: Some(Category::parse("storage.object").unwrap()),
            ..Default::default()
        },
        &[&c],
    );
    check(
        ListingFilter {
            region: Some("us-east-1".into()),
            ..Default::default()
        },
        &[&a, &c],
    );
    check(
        ListingFilter {
            status: Some(ListingStatus::Retired),
            ..Default::default()
        },
        &[&d],
    );
    check(
        ListingFilter {
            vendor: Some(Vendor::Gcp.into()),
            status: Some(ListingStatus::Active),
            region: Some("us-east-1".into()),
            category: None,
        },
        &[&c],
    );
    check(
        ListingFilter {
            vendor: Some(Vendor::Ibm.into()),
            ..Default::default()
        },
        &[],
    );
}

pub fn large_batches_are_chunked<S: Store>(store: &S) {
    let batch: Vec<Listing> = (0..2500)
        .map(|i| listing(Vendor::Ctyun, &format!("bulk-{i}"), "0.01"))
        .collect();
    assert_eq!(
        store.upsert_listings(&batch, at(1)).unwrap(),
        report(2500, 0, 0, 0)
    );
    let mut changed = batch.clone();
    for l in changed.iter_mut().step_by(10) {
        *l = repriced(l, "0.02");
    }
    assert_eq!(
        store.upsert_listings(&changed, at(2)).unwrap(),
        report(0, 250, 2250, 0)
    );
    assert_eq!(store.latest_seq().unwrap(), 2750);
    // Everything was seen at 2: a sweep retires nothing.
    let scope = RetireScope {
        vendor: Vendor::Ctyun,
        service: None,
        seen_pairs_only: false,
    };
    assert_eq!(store.retire_unseen(&scope, at(2), at(3)).unwrap(), 0);
    assert_eq!(store.retire_unseen(&scope, at(3), at(3)).unwrap(), 2500);
    assert_eq!(store.latest_seq().unwrap(), 5250);
}

pub fn corrupt_document_is_internal_error(db: &TestDatabase) {
    use shiyun_core::store::ListingStore;
    let a = listing(Vendor::Aws, "corrupt", "1");
    db.upsert_listings(std::slice::from_ref(&a), at(1)).unwrap();
    let sql = format!(
        "UPDATE listings SET doc = '{{\"id\": 1' WHERE id = '{}'",
        a.id()
    );
    crate::support::execute_behind_the_store(db, &sql);
    assert!(matches!(
        db.get_listing(a.id()),
        Err(StoreError::Internal(_))
    ));
    let query = ListingQuery {
        filter: ListingFilter::default(),
        after: None,
        limit: 10,
    };
    assert!(matches!(
        db.list_listings(&query),
        Err(StoreError::Internal(_))
    ));
}

/// Price history is read back through `PriceComponent`'s validation: a stored
/// price that breaks a rule (here a negative amount) is refused, not served.
pub fn price_history_that_breaks_a_rule_is_internal_error(db: &TestDatabase) {
    use shiyun_core::store::ListingStore;
    let a = listing(Vendor::Aws, "tampered-history", "1");
    db.upsert_listings(std::slice::from_ref(&a), at(1)).unwrap();
    let history = db.price_history(a.id()).unwrap();
    let mut prices = serde_json::to_value(&history[0].prices).unwrap();
    prices[0]["amount"]["amount"] = serde_json::json!("-1");
    let sql = format!(
        "UPDATE listing_price_history SET prices = '{prices}' WHERE listing_id = '{}'",
        a.id()
    );
    crate::support::execute_behind_the_store(db, &sql);
    match db.price_history(a.id()) {
        Err(StoreError::Internal(message)) => {
            assert!(message.contains("must not be negative"), "{message}")
        }
        other => panic!("a negative stored price was served: {other:?}"),
    }
}
