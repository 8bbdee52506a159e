//! Usage is accepted exactly once: duplicates within a batch, across
//! batches and from concurrent senders count once; a reused key with
//! another payload is a conflict; malformed events are refused one by one.

use std::thread;

use serde_json::json;
use shiyun_billing::events::EventStatus;
use shiyun_core::billing::UsageWindow;

use crate::helpers::*;

fn statuses(report: &shiyun_billing::events::IngestReport) -> Vec<EventStatus> {
    report.results.iter().map(|r| r.status).collect()
}

on_both_backends! {
    fn duplicates_count_once_and_conflicts_keep_the_first(db) {
        let billing = engine(db, "ingest");
        let now = at("2026-03-10T00:00:00Z");
        subscribe(&billing, &monthly_plan("m"), "c1", "2026-03-01", now);
        let e = |key: &str, gb: &str| event(key, "c1", "storage", "2026-03-09T10:00:00Z", json!({"gb": gb}));
        let first = billing.ingest(&[e("k1", "2"), e("k2", "3"), e("k1", "2"), e("k2", "9")], now).unwrap();
        assert_eq!(
            statuses(&first),
            [EventStatus::Accepted, EventStatus::Accepted, EventStatus::Duplicate, EventStatus::Conflict]
        );
        let conflict = first.results[3].error.as_ref().unwrap();
        assert_eq!(conflict.code.as_str(), "idempotency_conflict");
        let again = billing.ingest(&[e("k1", "2"), e("k2", "4"), e("k3", "1")], now).unwrap();
        assert_eq!(statuses(&again), [EventStatus::Duplicate, EventStatus::Conflict, EventStatus::Accepted]);
        let sum = usage_sum(&billing, "c1");
        assert_eq!(sum, "6", "2 + 3 + 1: the first payload of each key, once");
    }

    fn malformed_events_are_refused_alone(db) {
        let billing = engine(db, "malformed");
        let now = at("2026-03-10T00:00:00Z");
        subscribe(&billing, &monthly_plan("m"), "c1", "2026-03-01", now);
        let batch = [
            event("ok", "c1", "storage", "2026-03-09T10:00:00Z", json!({"gb": "1.5"})),
            event("no-meter", "c1", "nope", "2026-03-09T10:00:00Z", json!({})),
            event("no-prop", "c1", "storage", "2026-03-09T10:00:00Z", json!({})),
            event("future", "c1", "api_calls", "2026-03-10T00:05:01Z", json!({})),
            event("ancient", "c1", "api_calls", "2026-02-01T00:00:00Z", json!({})),
            event("stranger", "nobody", "api_calls", "2026-03-09T10:00:00Z", json!({})),
            json!({"customer": "c1", "meter": "api_calls", "timestamp": "2026-03-09T10:00:00Z"}),
            json!("not an object"),
            event("ok2", "c1", "api_calls", "2026-03-10T00:05:00Z", json!({})),
        ];
        let report = billing.ingest(&batch, now).unwrap();
        assert_eq!((report.accepted, report.rejected), (2, 7), "{report:?}");
        let fields: Vec<Option<&str>> = report
            .results
            .iter()
            .map(|r| r.error.as_ref().and_then(|e| e.field.as_deref()))
            .collect();
        assert_eq!(
            fields,
            [None, Some("meter"), Some("properties.gb"), Some("timestamp"), Some("timestamp"), None,
             Some("idempotency_key"), Some("event"), None]
        );
        assert_eq!(report.results[5].error.as_ref().unwrap().code.as_str(), "not_found");
    }

    fn concurrent_senders_of_the_same_keys_store_each_once(db) {
        let billing = engine(db, "concurrent");
        let now = at("2026-03-10T00:00:00Z");
        subscribe(&billing, &monthly_plan("m"), "c1", "2026-03-01", now);
        let batch: Vec<_> = (0..500)
            .map(|i| event(&format!("k{i}"), "c1", "storage", "2026-03-09T10:00:00Z", json!({"gb": 1})))
            .collect();
        let accepted: usize = thread::scope(|scope| {
            let senders: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| billing.ingest(&batch, now).unwrap()))
                .collect();
            senders.into_iter().map(|s| s.join().unwrap().accepted).sum()
        });
        assert_eq!(accepted, 500);
        assert_eq!(usage_sum(&billing, "c1"), "500");
    }
}

/// The customer's summed storage in March, everything accepted so far.
fn usage_sum(billing: &shiyun_billing::Billing, customer: &str) -> String {
    let store = billing.store();
    let id = billing.id().unwrap();
    let watermark = store.usage_watermark(id).unwrap();
    let aggregates = store
        .aggregate_usage(
            id,
            &UsageWindow {
                from: at("2026-03-01T00:00:00Z"),
                to: at("2026-04-01T00:00:00Z"),
                after_batch: 0,
                up_to_batch: watermark,
                customer: Some(customer.into()),
            },
        )
        .unwrap();
    aggregates
        .iter()
        .find(|a| a.meter == "storage")
        .map(|a| a.sum.normalize().to_string())
        .unwrap_or_default()
}
