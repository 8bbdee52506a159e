//! Usage that arrives after its period's invoice was finalised (within the
//! late window) is billed on the next invoice as an adjustment line that
//! points at the line it corrects; the finalised invoice never changes.

use rust_decimal_macros::dec;
use serde_json::json;

use crate::cycle::january;
use crate::helpers::*;

on_both_backends! {
    fn late_usage_becomes_an_adjustment_on_the_next_invoice(db) {
        let billing = engine(db, "late");
        let january = january(&billing);
        let late = [
            event("late-gb", "c1", "storage", "2026-01-25T12:00:00+08:00", json!({"gb": 4})),
            event("late-call", "c1", "api_calls", "2026-01-25T12:00:00+08:00", json!({})),
        ];
        let report = billing.ingest(&late, at("2026-02-03T00:00:00Z")).unwrap();
        assert_eq!(report.accepted, 2);
        assert_eq!(billing.invoice(&january.id).unwrap(), january, "a finalised invoice never changes");

        billing.bill_run(at("2026-02-28T17:00:00Z")).unwrap();
        let invoices = billing
            .store()
            .list_invoices(billing.id().unwrap(), &Default::default(), &shiyun_core::billing::PageAfter { after: None, limit: 10 })
            .unwrap();
        let february = invoices.iter().find(|i| i.id != january.id).unwrap();
        let adjustments: Vec<_> = february.lines.iter().filter(|l| l.kind == "adjustment").collect();
        assert_eq!(adjustments.len(), 2, "{:?}", february.lines);
        let storage_line = january.lines.iter().find(|l| l.meter.as_deref() == Some("storage")).unwrap();
        let calls_line = january.lines.iter().find(|l| l.meter.as_deref() == Some("api_calls")).unwrap();
        for (adjustment, original, amount, quantity) in [
            // 34.5 GB at 0.5 is 17.25, 15.25 billed: 2.00 more.
            (adjustments.iter().find(|l| l.meter.as_deref() == Some("storage")).unwrap(), storage_line, dec!(2.00), dec!(4)),
            // The 1,501st call is in the 0.01 tier.
            (adjustments.iter().find(|l| l.meter.as_deref() == Some("api_calls")).unwrap(), calls_line, dec!(0.01), dec!(1)),
        ] {
            let target = adjustment.adjusts.as_ref().unwrap();
            assert_eq!((&target.invoice, target.position), (&january.id, original.position));
            assert_eq!((adjustment.amount, adjustment.quantity), (amount, quantity));
            assert_eq!((adjustment.period_start, adjustment.period_end), (original.period_start, original.period_end));
        }
        // Billed once: a later invoice does not adjust again.
        billing.bill_run(at("2026-03-31T16:00:00Z")).unwrap();
        let march = billing
            .store()
            .list_invoices(billing.id().unwrap(), &Default::default(), &shiyun_core::billing::PageAfter { after: None, limit: 10 })
            .unwrap()
            .into_iter()
            .find(|i| i.id != january.id && i.id != february.id)
            .unwrap();
        assert!(march.lines.iter().all(|l| l.kind != "adjustment"), "{:?}", march.lines);
    }
}
