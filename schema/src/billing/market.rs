//! `MarketStore` on [`Database`]: margin rules, orders, own resources,
//! service contracts and account standing. Records are stored whole as
//! JSON beside their key columns (see the migration `…_market`).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::de::DeserializeOwned;
use shiyun_core::billing::market::{
    AccountStanding, ContractId, MarginRule, MarginRuleId, MarketStore, Order, OrderId,
    OwnResource, ServiceContract,
};
use shiyun_core::billing::{IssuerId, SubscriptionId};
use shiyun_core::store::{Outcome, StoreError, StoreResult};

use super::common::{corrupt, json, not_found};
use super::sql::{self, args, for_update};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::micros;
use crate::user_centre::{is_unique_violation, read};

#[derive(QueryableByName)]
struct Body {
    #[diesel(sql_type = Text)]
    body: String,
}

#[derive(QueryableByName)]
struct VersionedBody {
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

fn decode<T: DeserializeOwned>(body: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn decode_all<T: DeserializeOwned>(rows: Vec<Body>, what: &str) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| decode(&r.body, what)).collect()
}

fn order_of(row: VersionedBody) -> StoreResult<Order> {
    let mut order: Order = decode(&row.body, "order")?;
    order.version = row.version;
    Ok(order)
}

fn load_order(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    column: &str,
    value: &str,
    lock: bool,
) -> Result<Option<Order>, TxError> {
    let lock = if lock { for_update(conn) } else { "" };
    let row: Option<VersionedBody> = sql::first(
        conn,
        &format!(
            "SELECT body, version FROM market_orders WHERE issuer_id = $1 AND {column} = $2{lock}"
        ),
        args![issuer.as_str(), value],
    )?;
    Ok(row.map(order_of).transpose()?)
}

fn load_contract(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    id: &ContractId,
) -> Result<Option<ServiceContract>, TxError> {
    let lock = for_update(conn);
    let row: Option<Body> = sql::first(
        conn,
        &format!("SELECT body FROM market_contracts WHERE issuer_id = $1 AND id = $2{lock}"),
        args![issuer.as_str(), id.as_str()],
    )?;
    Ok(row.map(|r| decode(&r.body, "contract")).transpose()?)
}

impl MarketStore for Database {
    fn create_margin_rule(&self, issuer: &IssuerId, rule: &MarginRule) -> StoreResult<MarginRule> {
        let body = json(rule)?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO market_margin_rules (issuer_id, id, created_at, body) \
                 VALUES ($1, $2, $3, $4)",
                args![
                    issuer.as_str(),
                    rule.id.as_str(),
                    micros(rule.created_at),
                    &body
                ],
            )?;
            Ok(rule.clone())
        })
    }

    fn retire_margin_rule(
        &self,
        issuer: &IssuerId,
        rule: &MarginRuleId,
        _at: DateTime<Utc>,
    ) -> StoreResult<MarginRule> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let lock = for_update(conn);
            let row: Option<Body> = sql::first(
                conn,
                &format!(
                    "SELECT body FROM market_margin_rules WHERE issuer_id = $1 AND id = $2{lock}"
                ),
                args![issuer.as_str(), rule.as_str()],
            )?;
            let mut stored: MarginRule = match row {
                Some(row) => decode(&row.body, "margin rule")?,
                None => return Err(not_found("margin rule", rule).into()),
            };
            stored.active = false;
            sql::execute(
                conn,
                "UPDATE market_margin_rules SET body = $3 WHERE issuer_id = $1 AND id = $2",
                args![issuer.as_str(), rule.as_str(), json(&stored)?],
            )?;
            Ok(stored)
        })
    }

    fn margin_rules(&self, issuer: &IssuerId) -> StoreResult<Vec<MarginRule>> {
        read(self, |conn| {
            let rows: Vec<Body> = sql::load(
                conn,
                "SELECT body FROM market_margin_rules WHERE issuer_id = $1 \
                 ORDER BY created_at, id",
                args![issuer.as_str()],
            )?;
            Ok(decode_all(rows, "margin rule")?)
        })
    }

    fn create_order(&self, issuer: &IssuerId, order: &Order) -> StoreResult<Outcome<Order>> {
        let body = json(order)?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            let inserted = sql::execute(
                conn,
                "INSERT INTO market_orders \
                 (issuer_id, id, customer, idempotency_key, meter, version, created_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (issuer_id, customer, idempotency_key) DO NOTHING",
                args![
                    issuer.as_str(),
                    order.id.as_str(),
                    &order.customer,
                    &order.key,
                    &order.meter,
                    order.version,
                    micros(order.created_at),
                    &body
                ],
            );
            match inserted {
                Ok(1) => Ok(Outcome::Applied(order.clone())),
                Ok(_) => {
                    let row: Option<VersionedBody> = sql::first(
                        conn,
                        "SELECT body, version FROM market_orders \
                         WHERE issuer_id = $1 AND customer = $2 AND idempotency_key = $3",
                        args![issuer.as_str(), &order.customer, &order.key],
                    )?;
                    match row {
                        Some(row) => Ok(Outcome::Replayed(order_of(row)?)),
                        None => Err(StoreError::Internal(
                            "an order's idempotency key collided but no order holds it".into(),
                        )
                        .into()),
                    }
                }
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                    "order `{}` or meter `{}` exists already",
                    order.id, order.meter
                ))
                .into()),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn get_order(&self, issuer: &IssuerId, order: &OrderId) -> StoreResult<Option<Order>> {
        read(self, |conn| {
            load_order(conn, issuer, "id", order.as_str(), false)
        })
    }

    fn order_by_meter(&self, issuer: &IssuerId, meter: &str) -> StoreResult<Option<Order>> {
        read(self, |conn| load_order(conn, issuer, "meter", meter, false))
    }

    fn list_orders(&self, issuer: &IssuerId, customer: Option<&str>) -> StoreResult<Vec<Order>> {
        read(self, |conn| {
            let rows: Vec<VersionedBody> = sql::load(
                conn,
                "SELECT body, version FROM market_orders \
                 WHERE issuer_id = $1 AND ($2 IS NULL OR customer = $2) \
                 ORDER BY created_at DESC, id DESC",
                args![issuer.as_str(), customer],
            )?;
            Ok(rows
                .into_iter()
                .map(order_of)
                .collect::<StoreResult<Vec<_>>>()?)
        })
    }

    fn update_order(&self, issuer: &IssuerId, order: &Order) -> StoreResult<Order> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let Some(stored) = load_order(conn, issuer, "id", order.id.as_str(), true)? else {
                return Err(not_found("order", &order.id).into());
            };
            if stored.version != order.version {
                return Err(StoreError::Conflict(format!(
                    "order `{}` changed meanwhile (version {}, not {})",
                    order.id, stored.version, order.version
                ))
                .into());
            }
            let mut next = stored;
            next.provisioning = order.provisioning;
            next.suspended = order.suspended;
            next.updated_at = order.updated_at;
            next.version += 1;
            sql::execute(
                conn,
                "UPDATE market_orders SET body = $3, version = $4 \
                 WHERE issuer_id = $1 AND id = $2",
                args![
                    issuer.as_str(),
                    order.id.as_str(),
                    json(&next)?,
                    next.version
                ],
            )?;
            Ok(next)
        })
    }

    fn create_own_resource(
        &self,
        issuer: &IssuerId,
        resource: &OwnResource,
    ) -> StoreResult<Outcome<OwnResource>> {
        let body = json(resource)?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            let inserted = sql::execute(
                conn,
                "INSERT INTO market_own_resources \
                 (issuer_id, id, customer, vendor, vendor_resource_id, created_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (issuer_id, customer, vendor, vendor_resource_id) DO NOTHING",
                args![
                    issuer.as_str(),
                    resource.id.as_str(),
                    &resource.customer,
                    &resource.vendor,
                    &resource.vendor_resource_id,
                    micros(resource.created_at),
                    &body
                ],
            )?;
            if inserted == 1 {
                return Ok(Outcome::Applied(resource.clone()));
            }
            let row: Option<Body> = sql::first(
                conn,
                "SELECT body FROM market_own_resources WHERE issuer_id = $1 AND customer = $2 \
                 AND vendor = $3 AND vendor_resource_id = $4",
                args![
                    issuer.as_str(),
                    &resource.customer,
                    &resource.vendor,
                    &resource.vendor_resource_id
                ],
            )?;
            match row {
                Some(row) => Ok(Outcome::Replayed(decode(&row.body, "own resource")?)),
                None => Err(StoreError::Internal("own resource vanished".into()).into()),
            }
        })
    }

    fn own_resources(&self, issuer: &IssuerId, customer: &str) -> StoreResult<Vec<OwnResource>> {
        read(self, |conn| {
            let rows: Vec<Body> = sql::load(
                conn,
                "SELECT body FROM market_own_resources WHERE issuer_id = $1 AND customer = $2 \
                 ORDER BY created_at, id",
                args![issuer.as_str(), customer],
            )?;
            Ok(decode_all(rows, "own resource")?)
        })
    }

    fn create_contract(
        &self,
        issuer: &IssuerId,
        contract: &ServiceContract,
    ) -> StoreResult<ServiceContract> {
        let body = json(contract)?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO market_contracts (issuer_id, id, customer, created_at, body) \
                 VALUES ($1, $2, $3, $4, $5)",
                args![
                    issuer.as_str(),
                    contract.id.as_str(),
                    &contract.customer,
                    micros(contract.created_at),
                    &body
                ],
            )?;
            Ok(contract.clone())
        })
    }

    fn contracts(
        &self,
        issuer: &IssuerId,
        customer: Option<&str>,
    ) -> StoreResult<Vec<ServiceContract>> {
        read(self, |conn| {
            let rows: Vec<Body> = sql::load(
                conn,
                "SELECT body FROM market_contracts \
                 WHERE issuer_id = $1 AND ($2 IS NULL OR customer = $2) \
                 ORDER BY created_at, id",
                args![issuer.as_str(), customer],
            )?;
            Ok(decode_all(rows, "contract")?)
        })
    }

    fn start_contract_charging(
        &self,
        issuer: &IssuerId,
        contract: &ContractId,
        subscription: &SubscriptionId,
        from: NaiveDate,
    ) -> StoreResult<ServiceContract> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let Some(mut stored) = load_contract(conn, issuer, contract)? else {
                return Err(not_found("contract", contract).into());
            };
            if let Some(existing) = &stored.subscription {
                if existing == subscription {
                    return Ok(stored);
                }
                return Err(StoreError::Conflict(format!(
                    "contract `{contract}` is already charged by `{existing}`"
                ))
                .into());
            }
            stored.subscription = Some(subscription.clone());
            stored.charging_from = Some(from);
            sql::execute(
                conn,
                "UPDATE market_contracts SET body = $3 WHERE issuer_id = $1 AND id = $2",
                args![issuer.as_str(), contract.as_str(), json(&stored)?],
            )?;
            Ok(stored)
        })
    }

    fn standing(&self, issuer: &IssuerId, customer: &str) -> StoreResult<AccountStanding> {
        read(self, |conn| {
            let row: Option<Body> = sql::first(
                conn,
                "SELECT body FROM market_standing WHERE issuer_id = $1 AND customer = $2",
                args![issuer.as_str(), customer],
            )?;
            Ok(match row {
                Some(row) => decode(&row.body, "standing")?,
                None => AccountStanding {
                    customer: customer.to_owned(),
                    stable_since: None,
                    overdue_since: None,
                },
            })
        })
    }

    fn put_standing(&self, issuer: &IssuerId, standing: &AccountStanding) -> StoreResult<()> {
        let body = json(standing)?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO market_standing (issuer_id, customer, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (issuer_id, customer) DO UPDATE SET body = excluded.body",
                args![issuer.as_str(), &standing.customer, &body],
            )?;
            Ok(())
        })
    }
}
