//! `SyncRunStore` on [`Database`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use shiyun_core::ValidationError;
use shiyun_core::listing::Vendor;
use shiyun_core::store::{
    RecordRejection, RegionReport, RunStatus, StoreError, StoreResult, SyncRun, SyncRunId,
    SyncRunStore, SyncTrigger, UpsertReport,
};

use crate::db::{Database, map_diesel};
use crate::schema::sync_runs;
use crate::time::{from_micros, micros};

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = sync_runs, treat_none_as_default_value = false, treat_none_as_null = true)]
struct SyncRunRow {
    vendor: &'static str,
    trigger_name: &'static str,
    status: &'static str,
    started_at: i64,
    finished_at: Option<i64>,
    pages: i64,
    new_count: i64,
    changed_count: i64,
    unchanged_count: i64,
    retired_count: i64,
    rejected: i64,
    rejections: String,
    regions: String,
    resume_token: Option<String>,
    error: Option<String>,
}

fn to_i64(field: &str, value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| ValidationError::new(field, "is too large").into())
}

impl SyncRunRow {
    fn new(run: &SyncRun) -> StoreResult<Self> {
        let kept = &run.rejections[..run.rejections.len().min(SyncRun::MAX_KEPT_REJECTIONS)];
        Ok(SyncRunRow {
            vendor: run.vendor.id(),
            trigger_name: run.trigger.as_str(),
            status: run.status.as_str(),
            started_at: micros(run.started_at),
            finished_at: run.finished_at.map(micros),
            pages: to_i64("pages", run.pages)?,
            new_count: to_i64("report.new", run.report.new)?,
            changed_count: to_i64("report.changed", run.report.changed)?,
            unchanged_count: to_i64("report.unchanged", run.report.unchanged)?,
            retired_count: to_i64("report.retired", run.report.retired)?,
            rejected: to_i64("rejected", run.rejected)?,
            rejections: serde_json::to_string(kept)
                .map_err(|e| StoreError::Internal(format!("cannot serialise rejections: {e}")))?,
            regions: serde_json::to_string(&run.regions).map_err(|e| {
                StoreError::Internal(format!("cannot serialise the region report: {e}"))
            })?,
            resume_token: run.resume_token.clone(),
            error: run.error.clone(),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sync_runs)]
struct SyncRunRecord {
    id: i64,
    vendor: String,
    trigger_name: String,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    pages: i64,
    new_count: i64,
    changed_count: i64,
    unchanged_count: i64,
    retired_count: i64,
    rejected: i64,
    rejections: String,
    regions: String,
    resume_token: Option<String>,
    error: Option<String>,
}

impl TryFrom<SyncRunRecord> for SyncRun {
    type Error = StoreError;

    fn try_from(r: SyncRunRecord) -> StoreResult<SyncRun> {
        let id = r.id;
        let corrupt = |what: String| StoreError::Internal(format!("corrupt sync run {id}: {what}"));
        let count = |v: i64| u64::try_from(v).map_err(|_| corrupt(format!("negative count {v}")));
        let rejections: Vec<RecordRejection> =
            serde_json::from_str(&r.rejections).map_err(|e| corrupt(e.to_string()))?;
        let regions: RegionReport =
            serde_json::from_str(&r.regions).map_err(|e| corrupt(format!("region report: {e}")))?;
        Ok(SyncRun {
            id: count(r.id)?,
            vendor: Vendor::parse(&r.vendor).map_err(|e| corrupt(e.to_string()))?,
            trigger: SyncTrigger::parse(&r.trigger_name).map_err(|e| corrupt(e.to_string()))?,
            status: RunStatus::parse(&r.status).map_err(|e| corrupt(e.to_string()))?,
            started_at: from_micros(r.started_at)?,
            finished_at: r.finished_at.map(from_micros).transpose()?,
            pages: count(r.pages)?,
            report: UpsertReport {
                new: count(r.new_count)?,
                changed: count(r.changed_count)?,
                unchanged: count(r.unchanged_count)?,
                retired: count(r.retired_count)?,
            },
            rejected: count(r.rejected)?,
            rejections,
            regions,
            resume_token: r.resume_token,
            error: r.error,
        })
    }
}

impl SyncRunStore for Database {
    fn start_sync_run(
        &self,
        vendor: Vendor,
        trigger: SyncTrigger,
        started_at: DateTime<Utc>,
    ) -> StoreResult<SyncRun> {
        let mut run = SyncRun {
            id: 0,
            vendor,
            trigger,
            status: RunStatus::Running,
            started_at,
            finished_at: None,
            pages: 0,
            report: UpsertReport::default(),
            rejected: 0,
            rejections: Vec::new(),
            regions: RegionReport::default(),
            resume_token: None,
            error: None,
        };
        let row = SyncRunRow::new(&run)?;
        let mut conn = self.conn()?;
        let id: i64 = diesel::insert_into(sync_runs::table)
            .values(&row)
            .returning(sync_runs::id)
            .get_result(&mut *conn)
            .map_err(map_diesel)?;
        run.id = u64::try_from(id)
            .map_err(|_| StoreError::Internal(format!("negative sync run id {id}")))?;
        Ok(run)
    }

    fn save_sync_run(&self, run: &SyncRun) -> StoreResult<()> {
        let not_found = || StoreError::NotFound {
            entity: "sync run",
            id: run.id.to_string(),
        };
        let id = i64::try_from(run.id).map_err(|_| not_found())?;
        let row = SyncRunRow::new(run)?;
        let mut conn = self.conn()?;
        let updated = diesel::update(sync_runs::table.find(id))
            .set(&row)
            .execute(&mut *conn)
            .map_err(map_diesel)?;
        if updated == 0 {
            return Err(not_found());
        }
        Ok(())
    }

    fn get_sync_run(&self, id: SyncRunId) -> StoreResult<Option<SyncRun>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let mut conn = self.conn()?;
        let record: Option<SyncRunRecord> = sync_runs::table
            .find(id)
            .select(SyncRunRecord::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?;
        record.map(SyncRun::try_from).transpose()
    }

    fn recent_sync_runs(&self, vendor: Option<Vendor>, limit: u32) -> StoreResult<Vec<SyncRun>> {
        let mut query = sync_runs::table
            .select(SyncRunRecord::as_select())
            .order((sync_runs::started_at.desc(), sync_runs::id.desc()))
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(vendor) = vendor {
            query = query.filter(sync_runs::vendor.eq(vendor.id()));
        }
        let mut conn = self.conn()?;
        let records: Vec<SyncRunRecord> = query.load(&mut *conn).map_err(map_diesel)?;
        records.into_iter().map(SyncRun::try_from).collect()
    }
}
