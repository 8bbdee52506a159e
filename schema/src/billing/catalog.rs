//! Issuers, customers, prepaid balances, meters, plans and subscriptions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use shiyun_core::billing::{
    Aggregation, Customer, CustomerId, CustomerInput, Issuer, IssuerId, Meter, PlanPhase,
    StoredPlan, Subscription, SubscriptionId, SubscriptionStatus, check_code,
};
use shiyun_core::money::{Money, parse_decimal};
use shiyun_core::store::{Outcome, StoreError, StoreResult};

use super::common::{
    append_audit, corrupt, currency, date_text, json, money, not_found, page_limit, parse_date,
    parse_subscription_status, scaled, subscription_status, time, unsigned,
};
use super::sql::{self, args};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::micros;
use crate::user_centre::{read, unique_is_conflict};

#[derive(QueryableByName)]
struct IssuerRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    invoice_prefix: String,
    #[diesel(sql_type = BigInt)]
    grace_period_hours: i64,
    #[diesel(sql_type = BigInt)]
    late_window_days: i64,
}

impl IssuerRow {
    fn decode(self) -> StoreResult<Issuer> {
        Ok(Issuer {
            id: IssuerId::parse(&self.id).map_err(|e| corrupt(format!("issuer id: {e}")))?,
            name: self.name,
            invoice_prefix: self.invoice_prefix,
            grace_period_hours: unsigned(self.grace_period_hours, "grace period")?,
            late_window_days: unsigned(self.late_window_days, "late window")?,
        })
    }
}

/// Counters every issuer has from its creation on.
const COUNTERS: [&str; 3] = ["ingest_batch", "invoice_number", "audit_seq"];

pub(super) fn load_issuer(
    conn: &mut DbConnection,
    issuer: &IssuerId,
) -> Result<Option<Issuer>, TxError> {
    let row: Option<IssuerRow> = sql::first(
        conn,
        "SELECT id, name, invoice_prefix, grace_period_hours, late_window_days \
         FROM billing_issuers WHERE id = $1",
        args![issuer.as_str()],
    )?;
    Ok(row.map(IssuerRow::decode).transpose()?)
}

/// The issuer, or `NotFound`.
pub(super) fn require_issuer(
    conn: &mut DbConnection,
    issuer: &IssuerId,
) -> Result<Issuer, TxError> {
    load_issuer(conn, issuer)?.ok_or_else(|| not_found("issuer", issuer).into())
}

pub(super) fn ensure_issuer(db: &Database, issuer: &Issuer) -> StoreResult<Issuer> {
    db.transaction(Isolation::ReadCommitted, |conn| {
        sql::execute(
            conn,
            "INSERT INTO billing_issuers \
             (id, name, invoice_prefix, grace_period_hours, late_window_days) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            args![
                issuer.id.as_str(),
                &issuer.name,
                &issuer.invoice_prefix,
                i64::from(issuer.grace_period_hours),
                i64::from(issuer.late_window_days)
            ],
        )?;
        for counter in COUNTERS {
            sql::execute(
                conn,
                "INSERT INTO billing_counters (issuer_id, name, value) VALUES ($1, $2, 0) \
                 ON CONFLICT (issuer_id, name) DO NOTHING",
                args![issuer.id.as_str(), counter],
            )?;
        }
        require_issuer(conn, &issuer.id)
    })
}

pub(super) fn get_issuer(db: &Database, issuer: &IssuerId) -> StoreResult<Option<Issuer>> {
    read(db, |conn| load_issuer(conn, issuer))
}

#[derive(QueryableByName)]
struct CustomerRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    external_id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    timezone: String,
    #[diesel(sql_type = Text)]
    tax_rate: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl CustomerRow {
    fn decode(self) -> StoreResult<Customer> {
        Ok(Customer {
            id: CustomerId::parse(&self.id).map_err(|e| corrupt(format!("customer id: {e}")))?,
            tax_rate: parse_decimal(&self.tax_rate)
                .map_err(|e| corrupt(format!("tax rate of {}: {e}", self.external_id)))?,
            external_id: self.external_id,
            name: self.name,
            timezone: self.timezone,
            created_at: time(self.created_at)?,
        })
    }
}

pub(super) fn load_customer(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    external_id: &str,
) -> Result<Option<Customer>, TxError> {
    let row: Option<CustomerRow> = sql::first(
        conn,
        "SELECT id, external_id, name, timezone, tax_rate, created_at \
         FROM billing_customers WHERE issuer_id = $1 AND external_id = $2",
        args![issuer.as_str(), external_id],
    )?;
    Ok(row.map(CustomerRow::decode).transpose()?)
}

pub(super) fn put_customer(
    db: &Database,
    issuer: &IssuerId,
    id: &CustomerId,
    customer: &CustomerInput,
    at: DateTime<Utc>,
) -> StoreResult<Customer> {
    if customer.external_id.is_empty() {
        return Err(shiyun_core::ValidationError::new("external_id", "must not be empty").into());
    }
    // The text of the decimal keeps its value and scale exactly.
    let tax_rate = customer.tax_rate.to_string();
    db.transaction(Isolation::ReadCommitted, |conn| {
        require_issuer(conn, issuer)?;
        sql::execute(
            conn,
            "INSERT INTO billing_customers \
             (issuer_id, external_id, id, name, timezone, tax_rate, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (issuer_id, external_id) DO UPDATE SET name = excluded.name, \
             timezone = excluded.timezone, tax_rate = excluded.tax_rate",
            args![
                issuer.as_str(),
                &customer.external_id,
                id.as_str(),
                &customer.name,
                &customer.timezone,
                &tax_rate,
                micros(at)
            ],
        )
        .map_err(unique_is_conflict(
            "that customer id belongs to another customer of the issuer",
        ))?;
        load_customer(conn, issuer, &customer.external_id)?
            .ok_or_else(|| StoreError::Internal("customer vanished after its write".into()).into())
    })
}

pub(super) fn get_customer(
    db: &Database,
    issuer: &IssuerId,
    external_id: &str,
) -> StoreResult<Option<Customer>> {
    read(db, |conn| load_customer(conn, issuer, external_id))
}

pub(super) fn get_customers(
    db: &Database,
    issuer: &IssuerId,
    external_ids: &[String],
) -> StoreResult<Vec<Customer>> {
    let rows: Vec<CustomerRow> = read(db, |conn| {
        Ok(sql::select_in(
            conn,
            issuer.as_str(),
            "SELECT id, external_id, name, timezone, tax_rate, created_at \
             FROM billing_customers WHERE issuer_id = $1 AND",
            "external_id",
            external_ids,
        )?)
    })?;
    rows.into_iter().map(CustomerRow::decode).collect()
}

pub(super) fn add_prepaid_credit(
    db: &Database,
    issuer: &IssuerId,
    customer: &str,
    amount: Money,
    at: DateTime<Utc>,
) -> StoreResult<Money> {
    let added = scaled(amount.amount(), "amount")?;
    if added <= 0 {
        return Err(shiyun_core::ValidationError::new("amount", "must be positive").into());
    }
    let code = amount.currency().code().to_owned();
    db.transaction(Isolation::ReadCommitted, |conn| {
        if load_customer(conn, issuer, customer)?.is_none() {
            return Err(not_found("customer", customer).into());
        }
        let row: Option<super::common::Value> = sql::first(
            conn,
            "INSERT INTO billing_prepaid (issuer_id, customer, currency, balance) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (issuer_id, customer, currency) \
             DO UPDATE SET balance = billing_prepaid.balance + excluded.balance \
             RETURNING balance AS value",
            args![issuer.as_str(), customer, &code, added],
        )?;
        let balance = row
            .ok_or_else(|| StoreError::Internal("prepaid upsert returned no row".into()))?
            .value;
        let balance = money(balance, amount.currency());
        append_audit(
            conn,
            issuer,
            at,
            "credit.added",
            customer,
            &serde_json::json!({
                "customer": customer,
                "currency": code,
                "amount": amount.amount().normalize().to_string(),
                "balance": balance.amount().to_string(),
            }),
        )?;
        Ok(balance)
    })
}

#[derive(QueryableByName)]
struct MeterRow {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    aggregation: String,
    #[diesel(sql_type = Nullable<Text>)]
    property: Option<String>,
}

impl MeterRow {
    fn decode(self) -> StoreResult<Meter> {
        Ok(Meter {
            aggregation: Aggregation::parse(&self.aggregation)
                .map_err(|e| corrupt(format!("meter {}: {e}", self.code)))?,
            code: self.code,
            name: self.name,
            property: self.property,
        })
    }
}

const METER_COLUMNS: &str = "code, name, aggregation, property";

pub(super) fn create_meter(
    db: &Database,
    issuer: &IssuerId,
    meter: &Meter,
) -> StoreResult<Outcome<Meter>> {
    check_code(&meter.code, "code")?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        require_issuer(conn, issuer)?;
        let inserted = sql::execute(
            conn,
            "INSERT INTO billing_meters (issuer_id, code, name, aggregation, property) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer_id, code) DO NOTHING",
            args![
                issuer.as_str(),
                &meter.code,
                &meter.name,
                meter.aggregation.as_str(),
                meter.property.clone()
            ],
        )?;
        let row: Option<MeterRow> = sql::first(
            conn,
            &format!(
                "SELECT {METER_COLUMNS} FROM billing_meters WHERE issuer_id = $1 AND code = $2"
            ),
            args![issuer.as_str(), &meter.code],
        )?;
        let stored = row
            .ok_or_else(|| StoreError::Internal("meter vanished after its write".into()))?
            .decode()?;
        if inserted == 1 {
            Ok(Outcome::Applied(stored))
        } else if stored == *meter {
            Ok(Outcome::Replayed(stored))
        } else {
            Err(StoreError::Conflict(format!(
                "meter `{}` exists with other settings; a meter never changes, use a new code",
                meter.code
            ))
            .into())
        }
    })
}

pub(super) fn list_meters(db: &Database, issuer: &IssuerId) -> StoreResult<Vec<Meter>> {
    read(db, |conn| {
        let rows: Vec<MeterRow> = sql::load(
            conn,
            &format!(
                "SELECT {METER_COLUMNS} FROM billing_meters WHERE issuer_id = $1 ORDER BY code"
            ),
            args![issuer.as_str()],
        )?;
        Ok(rows
            .into_iter()
            .map(MeterRow::decode)
            .collect::<StoreResult<_>>()?)
    })
}

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl PlanRow {
    fn decode(self) -> StoreResult<StoredPlan> {
        Ok(StoredPlan {
            currency: currency(&self.currency)?,
            code: self.code,
            body: self.body,
            created_at: time(self.created_at)?,
        })
    }
}

const PLAN_COLUMNS: &str = "code, currency, body, created_at";

fn load_plan(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    code: &str,
) -> Result<Option<StoredPlan>, TxError> {
    let row: Option<PlanRow> = sql::first(
        conn,
        &format!("SELECT {PLAN_COLUMNS} FROM billing_plans WHERE issuer_id = $1 AND code = $2"),
        args![issuer.as_str(), code],
    )?;
    Ok(row.map(PlanRow::decode).transpose()?)
}

pub(super) fn create_plan(
    db: &Database,
    issuer: &IssuerId,
    plan: &StoredPlan,
) -> StoreResult<Outcome<StoredPlan>> {
    check_code(&plan.code, "code")?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        require_issuer(conn, issuer)?;
        let inserted = sql::execute(
            conn,
            "INSERT INTO billing_plans (issuer_id, code, currency, body, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer_id, code) DO NOTHING",
            args![
                issuer.as_str(),
                &plan.code,
                plan.currency.code(),
                &plan.body,
                micros(plan.created_at)
            ],
        )?;
        let stored = load_plan(conn, issuer, &plan.code)?
            .ok_or_else(|| StoreError::Internal("plan vanished after its write".into()))?;
        if inserted == 1 {
            Ok(Outcome::Applied(stored))
        } else if stored.body == plan.body && stored.currency == plan.currency {
            Ok(Outcome::Replayed(stored))
        } else {
            Err(StoreError::Conflict(format!(
                "plan `{}` exists with another body; a plan never changes, use a new code",
                plan.code
            ))
            .into())
        }
    })
}

pub(super) fn get_plan(
    db: &Database,
    issuer: &IssuerId,
    code: &str,
) -> StoreResult<Option<StoredPlan>> {
    read(db, |conn| load_plan(conn, issuer, code))
}

pub(super) fn list_plans(db: &Database, issuer: &IssuerId) -> StoreResult<Vec<StoredPlan>> {
    read(db, |conn| {
        let rows: Vec<PlanRow> = sql::load(
            conn,
            &format!("SELECT {PLAN_COLUMNS} FROM billing_plans WHERE issuer_id = $1 ORDER BY code"),
            args![issuer.as_str()],
        )?;
        Ok(rows
            .into_iter()
            .map(PlanRow::decode)
            .collect::<StoreResult<_>>()?)
    })
}

#[derive(QueryableByName)]
pub(super) struct SubscriptionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    phases: String,
    #[diesel(sql_type = Nullable<Text>)]
    ends_on: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    coupons: String,
    #[diesel(sql_type = BigInt)]
    next_period_start: i64,
    #[diesel(sql_type = BigInt)]
    next_period_end: i64,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl SubscriptionRow {
    pub(super) fn decode(self) -> StoreResult<Subscription> {
        let phases: Vec<PlanPhase> = serde_json::from_str(&self.phases)
            .map_err(|e| corrupt(format!("phases of {}: {e}", self.id)))?;
        Ok(Subscription {
            id: SubscriptionId::parse(&self.id)
                .map_err(|e| corrupt(format!("subscription id: {e}")))?,
            customer: self.customer,
            phases,
            ends_on: self.ends_on.as_deref().map(parse_date).transpose()?,
            status: parse_subscription_status(&self.status)?,
            coupons: self.coupons,
            next_period_start: time(self.next_period_start)?,
            next_period_end: time(self.next_period_end)?,
            version: self.version,
            created_at: time(self.created_at)?,
        })
    }
}

pub(super) const SUBSCRIPTION_COLUMNS: &str = "id, customer, phases, ends_on, status, coupons, \
     next_period_start, next_period_end, version, created_at";

/// One subscription; on PostgreSQL with `lock`, its row is locked until the
/// transaction ends.
pub(super) fn load_subscription(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    id: &SubscriptionId,
    lock: bool,
) -> Result<Option<Subscription>, TxError> {
    let lock = if lock { sql::for_update(conn) } else { "" };
    let row: Option<SubscriptionRow> = sql::first(
        conn,
        &format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM billing_subscriptions \
             WHERE issuer_id = $1 AND id = $2{lock}"
        ),
        args![issuer.as_str(), id.as_str()],
    )?;
    Ok(row.map(SubscriptionRow::decode).transpose()?)
}

/// What a subscription holds, as stored.
struct SubscriptionText {
    phases: String,
    ends_on: Option<String>,
    status: &'static str,
}

fn subscription_text(subscription: &Subscription) -> StoreResult<SubscriptionText> {
    Ok(SubscriptionText {
        phases: json(&subscription.phases)?,
        ends_on: subscription.ends_on.map(date_text),
        status: subscription_status(subscription.status),
    })
}

/// Whether `stored` is what creating `subscription` would have stored: its
/// content, whatever version and creation time a retry carries. A
/// subscription already moved on by a bill run differs in its period and
/// is a conflict rather than a replay.
fn same_subscription(stored: &Subscription, subscription: &Subscription) -> bool {
    stored.customer == subscription.customer
        && stored.phases == subscription.phases
        && stored.ends_on == subscription.ends_on
        && stored.status == subscription.status
        && stored.coupons == subscription.coupons
        && stored.next_period_start == subscription.next_period_start
        && stored.next_period_end == subscription.next_period_end
}

pub(super) fn create_subscription(
    db: &Database,
    issuer: &IssuerId,
    subscription: &Subscription,
) -> StoreResult<Outcome<Subscription>> {
    let text = subscription_text(subscription)?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        if load_customer(conn, issuer, &subscription.customer)?.is_none() {
            return Err(not_found("customer", &subscription.customer).into());
        }
        let inserted = sql::execute(
            conn,
            "INSERT INTO billing_subscriptions (issuer_id, id, customer, phases, ends_on, status, \
             coupons, next_period_start, next_period_end, version, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (issuer_id, id) DO NOTHING",
            args![
                issuer.as_str(),
                subscription.id.as_str(),
                &subscription.customer,
                &text.phases,
                text.ends_on.clone(),
                text.status,
                &subscription.coupons,
                micros(subscription.next_period_start),
                micros(subscription.next_period_end),
                subscription.version,
                micros(subscription.created_at)
            ],
        )?;
        let stored = load_subscription(conn, issuer, &subscription.id, false)?
            .ok_or_else(|| StoreError::Internal("subscription vanished after its write".into()))?;
        if inserted == 1 {
            Ok(Outcome::Applied(stored))
        } else if same_subscription(&stored, subscription) {
            Ok(Outcome::Replayed(stored))
        } else {
            Err(StoreError::Conflict(format!(
                "subscription `{}` exists with other content",
                subscription.id
            ))
            .into())
        }
    })
}

pub(super) fn get_subscription(
    db: &Database,
    issuer: &IssuerId,
    id: &SubscriptionId,
) -> StoreResult<Option<Subscription>> {
    read(db, |conn| load_subscription(conn, issuer, id, false))
}

pub(super) fn update_subscription(
    db: &Database,
    issuer: &IssuerId,
    subscription: &Subscription,
) -> StoreResult<Subscription> {
    let text = subscription_text(subscription)?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        // Compare-and-set: on PostgreSQL a concurrent update makes this one
        // wait, then re-check the version and match nothing.
        let updated = sql::execute(
            conn,
            "UPDATE billing_subscriptions SET phases = $3, ends_on = $4, status = $5, \
             coupons = $6, next_period_start = $7, next_period_end = $8, version = version + 1 \
             WHERE issuer_id = $1 AND id = $2 AND version = $9",
            args![
                issuer.as_str(),
                subscription.id.as_str(),
                &text.phases,
                text.ends_on.clone(),
                text.status,
                &subscription.coupons,
                micros(subscription.next_period_start),
                micros(subscription.next_period_end),
                subscription.version
            ],
        )?;
        let stored = load_subscription(conn, issuer, &subscription.id, false)?
            .ok_or_else(|| not_found("subscription", &subscription.id))?;
        if updated == 0 {
            return Err(StoreError::Conflict(format!(
                "subscription `{}` changed meanwhile: it is at version {}, not {}; \
                 read it again and repeat the change",
                subscription.id, stored.version, subscription.version
            ))
            .into());
        }
        Ok(stored)
    })
}

pub(super) fn due_subscriptions(
    db: &Database,
    issuer: &IssuerId,
    due: DateTime<Utc>,
    page: &shiyun_core::billing::PageAfter,
) -> StoreResult<Vec<Subscription>> {
    read(db, |conn| {
        let rows: Vec<SubscriptionRow> = sql::load(
            conn,
            &format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM billing_subscriptions \
                 WHERE issuer_id = $1 AND status = $2 AND next_period_end <= $3 AND id > $4 \
                 ORDER BY id LIMIT $5"
            ),
            args![
                issuer.as_str(),
                subscription_status(SubscriptionStatus::Active),
                micros(due),
                page.after.clone().unwrap_or_default(),
                page_limit(page.limit)
            ],
        )?;
        Ok(rows
            .into_iter()
            .map(SubscriptionRow::decode)
            .collect::<StoreResult<_>>()?)
    })
}
