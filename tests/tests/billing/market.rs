//! Marketplace money over a real store: orders priced by the most specific
//! margin rule with a locked FX rate, billed at the sale price with cost
//! and margin on each invoice line, the margin report, own resources,
//! provisioning moves, and service-fee contracts waived until stable.

use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;
use shiyun_billing::market::{
    ContractRequest, Market, MarketSettings, OrderListing, OrderRequest, OwnResourceRequest,
    UnitCost,
};
use shiyun_core::Money;
use shiyun_core::billing::market::{
    ContractId, ContractInterval, MarginRuleId, MarginScope, Markup, PaymentMode, ProvisioningState,
};
use shiyun_core::billing::{CustomerInput, InvoiceStatus};
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::money::Currency;

use crate::helpers::*;

fn market(db: &shiyun_schema::Database, name: &str) -> Market {
    let billing = engine(db, name);
    Market::new(
        billing,
        Arc::new(db.clone()),
        Arc::new(db.clone()),
        MarketSettings {
            currency: Currency::CNY,
            min_margin_percent: dec!(5),
        },
    )
}

fn fx() -> FxTable {
    FxTable::new(
        vec![FxRate {
            from: Currency::USD,
            to: Currency::CNY,
            rate: dec!(7.1),
        }],
        None,
    )
    .unwrap()
}

fn listing() -> OrderListing {
    OrderListing {
        id: "alibaba:cn-hangzhou:ecs.g7.large".into(),
        vendor: "alibaba".into(),
        category: "compute.vm".into(),
        title: "ecs.g7.large".into(),
        region: Some("cn-hangzhou".into()),
        cost: UnitCost {
            unit: "hour".into(),
            cost: Money::new(dec!(0.5), Currency::USD),
            list: Some(Money::new(dec!(0.6), Currency::USD)),
        },
    }
}

fn order(key: &str, mode: PaymentMode) -> OrderRequest {
    OrderRequest {
        listing: listing().id,
        quantity: dec!(1),
        payment_mode: mode,
        term_months: None,
        currency: None,
        idempotency_key: key.into(),
    }
}

fn percent_rule(market: &Market, scope: MarginScope, percent: Decimal, at: &str) {
    market
        .add_margin_rule(
            MarginRuleId::from_random(rand_bytes(at)),
            scope,
            Markup::Percent { percent },
            crate::helpers::at(at),
        )
        .unwrap();
}

/// The customer's invoices (the first ten).
fn invoices_of(market: &Market, customer: &str) -> Vec<shiyun_core::billing::Invoice> {
    market
        .billing()
        .store()
        .list_invoices(
            market.billing().id().unwrap(),
            &shiyun_core::billing::InvoiceFilter {
                customer: Some(customer.into()),
                ..Default::default()
            },
            &shiyun_core::billing::PageAfter {
                after: None,
                limit: 10,
            },
        )
        .unwrap()
}

fn rand_bytes(seed: &str) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    for (i, b) in seed.bytes().enumerate() {
        bytes[i % 16] ^= b.wrapping_mul(31).wrapping_add(i as u8);
    }
    bytes
}

on_both_backends! {
    fn postpaid_orders_bill_the_sale_price_with_cost_and_margin_on_the_line(db) {
        let market = market(db.database(), "mkt");
        percent_rule(&market, MarginScope { vendor: Some("alibaba".into()), ..Default::default() }, dec!(10), "2026-01-01T00:00:00Z");
        percent_rule(&market, MarginScope { listing: Some(listing().id), ..Default::default() }, dec!(20), "2026-01-01T00:00:01Z");
        percent_rule(&market, MarginScope { customer: Some("acc_other".into()), ..Default::default() }, dec!(50), "2026-01-01T00:00:02Z");
        let now = at("2026-01-10T00:00:00Z");
        let placed = market
            .place_order("acc_buyer", "Asia/Shanghai", &order("k1", PaymentMode::Postpaid), &listing(), &fx(), now)
            .unwrap();
        assert!(!placed.is_replay());
        let placed = placed.into_inner();
        // 0.5 USD × 7.1 = 3.55 CNY, the listing's 20 % rule wins over the vendor's 10 %.
        assert_eq!(placed.price.cost_converted.amount(), dec!(3.55));
        assert_eq!(placed.price.fx_rate, Some(dec!(7.1)));
        assert_eq!(placed.price.sale, Money::new(dec!(4.26), Currency::CNY));
        assert_eq!(placed.provisioning, ProvisioningState::Pending);
        let rules = market.margin_rules().unwrap();
        assert_eq!(placed.price.margin_rule.as_ref(), Some(&rules[1].id));

        // The same key answers the first order, even with another body.
        let mut other = order("k1", PaymentMode::Postpaid);
        other.quantity = dec!(5);
        let again = market
            .place_order("acc_buyer", "Asia/Shanghai", &other, &listing(), &fx(), now)
            .unwrap();
        assert!(again.is_replay());
        assert_eq!(again.into_inner().id, placed.id);

        // The other customer's rule applies to that customer only.
        let theirs = market
            .place_order("acc_other", "Asia/Shanghai", &order("k1", PaymentMode::Postpaid), &listing(), &fx(), now)
            .unwrap()
            .into_inner();
        assert_ne!(theirs.id, placed.id);
        assert_eq!(theirs.price.sale.amount(), dec!(5.325));

        let usage = [
            event("u1", "acc_buyer", &placed.meter, "2026-01-12T10:00:00+08:00", json!({"quantity": "6"})),
            event("u2", "acc_buyer", &placed.meter, "2026-01-13T10:00:00+08:00", json!({"quantity": "4"})),
        ];
        let reported = market
            .report_usage(&usage, "acc_buyer", "Asia/Shanghai", at("2026-01-20T00:00:00Z"))
            .unwrap();
        assert_eq!(reported.report.accepted, 2);
        assert!(reported.signals.is_empty());

        let run = market.billing().bill_run(at("2026-02-01T00:00:00Z")).unwrap();
        assert_eq!(run.finalized, 2);
        let invoices = invoices_of(&market, "acc_buyer");
        assert_eq!(invoices.len(), 1);
        let line = &invoices[0].lines[0];
        assert_eq!(line.amount, dec!(42.60));
        assert_eq!(line.detail["resale"]["cost"], json!("35.50"));
        assert_eq!(line.detail["resale"]["margin"], json!("7.10"));
        assert_eq!(line.detail["resale"]["vendor"], json!("alibaba"));

        let report = market.margin_report(None, None).unwrap();
        assert_eq!(report.len(), 1, "{report:?}");
        let row = &report[0];
        assert_eq!((row.vendor.as_str(), row.category.as_str()), ("alibaba", "compute.vm"));
        assert_eq!(row.cost, dec!(35.50));
        assert_eq!(row.margin, dec!(7.10));
        assert_eq!(row.sale, dec!(42.60));
        assert_eq!(row.margin_percent, Some(dec!(16.67)));
        assert_eq!(row.cost + row.margin, row.sale);
    }

    fn orders_move_through_provisioning_and_own_resources_carry_no_margin(db) {
        let market = market(db.database(), "prov");
        let now = at("2026-03-03T00:00:00Z");
        let placed = market
            .place_order("acc_p", "UTC", &order("p1", PaymentMode::Postpaid), &listing(), &fx(), now)
            .unwrap()
            .into_inner();
        // No rule: the 5 % floor alone.
        assert_eq!(placed.price.sale.amount(), dec!(3.7275));
        assert!(placed.price.margin_rule.is_none());
        let active = market.set_provisioning(&placed.id, ProvisioningState::Active, now).unwrap();
        assert_eq!(active.provisioning, ProvisioningState::Active);
        assert_eq!(active.version, placed.version + 1);
        assert!(market.set_provisioning(&placed.id, ProvisioningState::Failed, now).is_err());
        let cancelled = market.set_provisioning(&placed.id, ProvisioningState::Cancelled, now).unwrap();
        assert_eq!(cancelled.provisioning, ProvisioningState::Cancelled);
        let sub = market.billing().store().get_subscription(market.billing().id().unwrap(), &placed.subscription).unwrap().unwrap();
        assert_eq!(sub.ends_on, Some(chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()));

        let mut term = order("p2", PaymentMode::Postpaid);
        term.term_months = Some(3);
        assert!(market.place_order("acc_p", "UTC", &term, &listing(), &fx(), now).is_err());
        let mut bad = order("p3", PaymentMode::Postpaid);
        bad.quantity = dec!(0);
        assert!(market.place_order("acc_p", "UTC", &bad, &listing(), &fx(), now).is_err());

        let request = OwnResourceRequest {
            vendor: "aws".into(),
            vendor_resource_id: "i-0abc".into(),
            region: Some("us-east-1".into()),
            listing: None,
            name: Some("legacy web".into()),
        };
        let first = market.register_resource("acc_p", "UTC", &request, now).unwrap();
        assert!(!first.is_replay());
        let again = market.register_resource("acc_p", "UTC", &request, now).unwrap();
        assert!(again.is_replay());
        let resource = first.into_inner();
        assert_eq!(again.into_inner().id, resource.id);
        assert_eq!(market.own_resources("acc_p").unwrap().len(), 1);
        let reported = market
            .report_usage(
                &[event("byo-1", "acc_p", &resource.meter, "2026-03-02T10:00:00Z", json!({"quantity": "24"}))],
                "acc_p",
                "UTC",
                now,
            )
            .unwrap();
        assert_eq!(reported.report.accepted, 1);
        // Metered, never resold: the margin report holds no own resource.
        market.billing().bill_run(at("2026-04-01T00:00:00Z")).unwrap();
        assert!(market.margin_report(None, None).unwrap().iter().all(|r| r.vendor != "aws"));
    }

    fn waived_contracts_charge_from_the_period_after_the_account_is_stable(db) {
        let market = market(db.database(), "ctr");
        market
            .billing()
            .put_customer(
                &CustomerInput {
                    external_id: "acc_c".into(),
                    name: "C".into(),
                    timezone: "Asia/Shanghai".into(),
                    tax_rate: Decimal::ZERO,
                },
                at("2026-01-01T00:00:00Z"),
            )
            .unwrap();
        let contract = market
            .create_contract(
                ContractId::from_random([7; 16]),
                &ContractRequest {
                    customer: "acc_c".into(),
                    interval: ContractInterval::Monthly,
                    amount: Money::new(dec!(1000), Currency::CNY),
                    starts_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    in_advance: true,
                    waived_until_stable: true,
                },
                at("2026-01-01T00:00:00Z"),
            )
            .unwrap();
        assert!(contract.subscription.is_none());
        let run = market.billing().bill_run(at("2026-02-05T00:00:00Z")).unwrap();
        assert_eq!(run.drafted, 0, "a waived contract bills nothing");

        let (standing, started) = market.mark_stable("acc_c", at("2026-02-10T04:00:00Z")).unwrap();
        assert!(standing.stable_since.is_some());
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].charging_from, Some(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()));
        // Marking again changes nothing.
        let (_, again) = market.mark_stable("acc_c", at("2026-02-11T00:00:00Z")).unwrap();
        assert!(again.is_empty());

        // Paid in advance: March's fee is invoiced once March has begun.
        market.billing().bill_run(at("2026-03-02T00:00:00Z")).unwrap();
        let invoices = invoices_of(&market, "acc_c");
        let fees: Decimal = invoices
            .iter()
            .filter(|i| i.status != InvoiceStatus::Draft)
            .flat_map(|i| i.lines.iter())
            .filter(|l| l.kind == "recurring_fee")
            .map(|l| l.amount)
            .sum();
        assert_eq!(fees, dec!(1000), "{invoices:#?}");
    }
}

fn wallets(db: &shiyun_schema::Database, name: &str) -> shiyun_billing::wallet::Wallets {
    shiyun_billing::wallet::Wallets::new(Arc::new(db.clone()), issuer(name).id, counting_ids())
}

fn usage(key: &str, meter: &str, hours: &str) -> serde_json::Value {
    event(
        key,
        "acc_pre",
        meter,
        "2026-05-03T10:00:00Z",
        json!({"quantity": hours}),
    )
}

mod prepaid {
    use super::*;

    on_both_backends! {
        fn prepaid_usage_is_paid_from_the_wallet_and_suspends_at_the_floor(db) {
            let market = market(db.database(), "pre");
            let wallets = wallets(db.database(), "pre");
            let now = at("2026-05-03T12:00:00Z");
            let placed = market
                .place_order("acc_pre", "UTC", &order("pre-1", PaymentMode::Prepaid), &listing(), &fx(), now)
                .unwrap()
                .into_inner();
            // 3.55 CNY cost and the 5 % floor: 3.7275 an hour.
            assert_eq!(placed.price.sale.amount(), dec!(3.7275));
            let meter = placed.meter.clone();
            let cny = |d: Decimal| Money::new(d, Currency::CNY);

            // No wallet yet: the usage is refused, not billed into debt.
            let refused = market.report_usage(&[usage("e0", &meter, "1")], "acc_pre", "UTC", now).unwrap();
            assert_eq!(refused.report.rejected, 1);
            let error = refused.report.results[0].error.as_ref().unwrap();
            assert_eq!(error.code, shiyun_core::ErrorCode::InsufficientBalance);
            assert!(market.order(&placed.id).unwrap().suspended);
            assert!(matches!(refused.signals[..], [shiyun_billing::market::WalletSignal::Suspended { .. }]));

            let _credited = wallets.top_up("acc_pre", cny(dec!(10)), "topup-1", None, now).unwrap();
            let resumed = market.resume_funded("acc_pre", now).unwrap();
            assert_eq!(resumed.len(), 1);
            assert!(!market.order(&placed.id).unwrap().suspended);

            // Two hours: 7.455 from the wallet, 2.545 left.
            let paid = market.report_usage(&[usage("e1", &meter, "2")], "acc_pre", "UTC", now).unwrap();
            assert_eq!(paid.report.accepted, 1);
            assert_eq!(wallets.wallet("acc_pre", Currency::CNY).unwrap().unwrap().balance, cny(dec!(2.545)));
            // Sent again: a duplicate, debited once.
            let again = market.report_usage(&[usage("e1", &meter, "2")], "acc_pre", "UTC", now).unwrap();
            assert_eq!(again.report.duplicates, 1);
            assert_eq!(wallets.wallet("acc_pre", Currency::CNY).unwrap().unwrap().balance, cny(dec!(2.545)));

            // One more hour would cross the floor: refused and suspended.
            let over = market.report_usage(&[usage("e2", &meter, "1")], "acc_pre", "UTC", now).unwrap();
            assert_eq!(over.report.rejected, 1);
            assert!(market.order(&placed.id).unwrap().suspended);
            assert_eq!(wallets.wallet("acc_pre", Currency::CNY).unwrap().unwrap().balance, cny(dec!(2.545)));
            // Suspended: even a small event waits for a top-up.
            let small = market.report_usage(&[usage("e3", &meter, "0.1")], "acc_pre", "UTC", now).unwrap();
            assert_eq!(small.report.rejected, 1);

            let _credited = wallets.top_up("acc_pre", cny(dec!(20)), "topup-2", None, now).unwrap();
            assert_eq!(market.resume_funded("acc_pre", now).unwrap().len(), 1);
            let after = market.report_usage(&[usage("e2", &meter, "1")], "acc_pre", "UTC", now).unwrap();
            assert_eq!(after.report.accepted, 1);
            let balance = wallets.wallet("acc_pre", Currency::CNY).unwrap().unwrap().balance;
            assert_eq!(balance, cny(dec!(18.8175)));
            // The ledger sums to the balance.
            let ledger = wallets.ledger(Some("acc_pre"), 0, 1000).unwrap();
            let sum: Decimal = ledger
                .iter()
                .filter(|p| p.account == shiyun_core::billing::wallet::account::WALLET)
                .map(|p| p.amount.amount())
                .sum();
            assert_eq!(sum, balance.amount());

            // The month's invoice: three hours at the sale price, paid from the wallet.
            market.billing().bill_run(at("2026-06-01T00:00:00Z")).unwrap();
            let invoices = invoices_of(&market, "acc_pre");
            assert_eq!(invoices.len(), 1);
            let invoice = &invoices[0];
            assert_eq!(invoice.totals.subtotal.amount(), dec!(11.18));
            assert_eq!(invoice.totals.prepaid.amount(), dec!(11.18));
            assert_eq!(invoice.totals.total.amount(), dec!(0));
        }
    }
}
