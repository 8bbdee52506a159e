//! `PartnerStore` on [`Database`].
//!
//! Registration is a conditional insert (`ON CONFLICT DO NOTHING`) and,
//! when a row was already there, a read that says which rule held: the
//! enterprise's own row with the same id is renamed, any other is refused.
//! Each statement is atomic and a row's id and enterprise never change, so
//! no transaction is needed, also under concurrent registrations.

use diesel::prelude::*;
use shiyun_core::Detail;
use shiyun_core::listing::PartnerVendorId;
use shiyun_core::store::{PartnerStore, PartnerVendor, StoreError, StoreResult};
use shiyun_core::tenancy::EnterpriseId;

use crate::db::{Database, DbConnection, map_diesel};
use crate::schema::partner_vendors;
use crate::time::{from_micros, micros};

#[derive(Insertable)]
#[diesel(table_name = partner_vendors)]
struct PartnerVendorRow<'a> {
    id: &'a str,
    enterprise_id: &'a str,
    name_zh: &'a str,
    name_en: &'a str,
    created_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = partner_vendors)]
struct PartnerVendorRecord {
    id: String,
    enterprise_id: String,
    name_zh: String,
    name_en: String,
    created_at: i64,
}

impl TryFrom<PartnerVendorRecord> for PartnerVendor {
    type Error = StoreError;

    fn try_from(r: PartnerVendorRecord) -> StoreResult<PartnerVendor> {
        let corrupt =
            |what: String| StoreError::Internal(format!("corrupt partner vendor {}: {what}", r.id));
        Ok(PartnerVendor {
            id: PartnerVendorId::parse(&r.id).map_err(|e| corrupt(e.to_string()))?,
            enterprise: EnterpriseId::parse(&r.enterprise_id)
                .map_err(|e| corrupt(e.to_string()))?,
            created_at: from_micros(r.created_at)?,
            name_zh: r.name_zh,
            name_en: r.name_en,
        })
    }
}

fn of_enterprise(
    conn: &mut DbConnection,
    enterprise: &str,
) -> QueryResult<Option<PartnerVendorRecord>> {
    partner_vendors::table
        .filter(partner_vendors::enterprise_id.eq(enterprise))
        .select(PartnerVendorRecord::as_select())
        .first(conn)
        .optional()
}

impl PartnerStore for Database {
    fn register_partner_vendor(&self, vendor: &PartnerVendor) -> StoreResult<PartnerVendor> {
        vendor.validate()?;
        let row = PartnerVendorRow {
            id: vendor.id.as_str(),
            enterprise_id: vendor.enterprise.as_str(),
            name_zh: &vendor.name_zh,
            name_en: &vendor.name_en,
            created_at: micros(vendor.created_at),
        };
        let mut conn = self.conn()?;
        // Without a conflict target: either unique key (id, enterprise) stops it.
        let inserted = match &mut *conn {
            DbConnection::Sqlite(c) => diesel::insert_into(partner_vendors::table)
                .values(&row)
                .on_conflict_do_nothing()
                .execute(c),
            DbConnection::Pg(c) => diesel::insert_into(partner_vendors::table)
                .values(&row)
                .on_conflict_do_nothing()
                .execute(c),
        }
        .map_err(map_diesel)?;
        if inserted == 0 {
            match of_enterprise(&mut conn, row.enterprise_id).map_err(map_diesel)? {
                Some(own) if own.id == row.id => {
                    diesel::update(
                        partner_vendors::table
                            .filter(partner_vendors::id.eq(row.id))
                            .filter(partner_vendors::enterprise_id.eq(row.enterprise_id)),
                    )
                    .set((
                        partner_vendors::name_zh.eq(row.name_zh),
                        partner_vendors::name_en.eq(row.name_en),
                    ))
                    .execute(&mut *conn)
                    .map_err(map_diesel)?;
                }
                Some(own) => {
                    return Err(StoreError::Conflict(format!(
                        "the enterprise already publishes as `{}`; a partner vendor id never changes",
                        own.id
                    )));
                }
                None => {
                    return Err(StoreError::AlreadyExists {
                        detail: Detail::new(format!(
                            "partner vendor id `{}` belongs to another enterprise",
                            row.id
                        )),
                    });
                }
            }
        }
        of_enterprise(&mut conn, row.enterprise_id)
            .map_err(map_diesel)?
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "partner vendor {} vanished after its write",
                    row.id
                ))
            })?
            .try_into()
    }

    fn partner_vendor_of(&self, enterprise: &EnterpriseId) -> StoreResult<Option<PartnerVendor>> {
        let mut conn = self.conn()?;
        of_enterprise(&mut conn, enterprise.as_str())
            .map_err(map_diesel)?
            .map(PartnerVendor::try_from)
            .transpose()
    }

    fn get_partner_vendor(&self, id: &PartnerVendorId) -> StoreResult<Option<PartnerVendor>> {
        let mut conn = self.conn()?;
        partner_vendors::table
            .find(id.as_str())
            .select(PartnerVendorRecord::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?
            .map(PartnerVendor::try_from)
            .transpose()
    }

    fn list_partner_vendors(&self) -> StoreResult<Vec<PartnerVendor>> {
        let mut conn = self.conn()?;
        let records: Vec<PartnerVendorRecord> = partner_vendors::table
            .select(PartnerVendorRecord::as_select())
            .order(partner_vendors::id.asc())
            .load(&mut *conn)
            .map_err(map_diesel)?;
        records.into_iter().map(PartnerVendor::try_from).collect()
    }
}
