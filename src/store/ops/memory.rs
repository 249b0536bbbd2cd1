//! [`OpsStore`] of the embedded store.

use std::collections::{BTreeMap, HashMap};
use std::sync::MutexGuard;

use time::OffsetDateTime;

use super::{OpsStore, PurgeJob};
use crate::events::breaker::{BreakerState, HeldEvent};
use crate::request_log::{Activity, ActivityDelta, LogWindow, RequestRecord};
use crate::store::{MemoryStore, StoreError};
use crate::tenant::TenantId;

/// Most request records the embedded store keeps per tenant (the oldest
/// go first): a long-running `scim-local` must not grow without bound.
const MAX_RECORDS_PER_TENANT: usize = 50_000;

/// The operator plane's part of the embedded store.
#[derive(Debug, Default)]
pub(crate) struct OpsTables {
    activity: HashMap<TenantId, Activity>,
    /// Per tenant, by time then request id (the order of the request log).
    records: HashMap<TenantId, BTreeMap<(String, String), RequestRecord>>,
    purges: BTreeMap<TenantId, PurgeJob>,
    /// Each tenant's breaker and its version.
    breakers: BTreeMap<TenantId, (BreakerState, u64)>,
    /// Each tenant's held events, by sequence.
    held: HashMap<TenantId, BTreeMap<u64, HeldEvent>>,
}

impl OpsTables {
    /// Forgets a purged tenant's records and activity (its purge job
    /// stays: it tracks the purge).
    pub(crate) fn purge_tenant(&mut self, tenant: &TenantId) -> usize {
        let records = self.records.remove(tenant).map_or(0, |r| r.len());
        let held = self.held.remove(tenant).map_or(0, |h| h.len());
        records
            + held
            + usize::from(self.activity.remove(tenant).is_some())
            + usize::from(self.breakers.remove(tenant).is_some())
    }
}

impl MemoryStore {
    fn ops(&self) -> Result<MutexGuard<'_, OpsTables>, StoreError> {
        self.ops_tables()
            .lock()
            .map_err(|_| StoreError::Unavailable("the operator tables' lock is poisoned".into()))
    }
}

impl OpsStore for MemoryStore {
    async fn record_requests(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        let mut ops = self.ops()?;
        for delta in ActivityDelta::of(records) {
            let Ok(tenant) = TenantId::parse(&delta.tenant) else {
                continue;
            };
            let activity = ops.activity.entry(tenant).or_default();
            activity.apply(&delta);
            activity.forget_before(OffsetDateTime::now_utc());
        }
        for record in records {
            let Ok(tenant) = TenantId::parse(&record.tenant) else {
                continue;
            };
            let log = ops.records.entry(tenant).or_default();
            log.insert(
                (record.time.clone(), record.request_id.clone()),
                record.clone(),
            );
            while log.len() > MAX_RECORDS_PER_TENANT {
                log.pop_first();
            }
        }
        Ok(())
    }

    async fn request_records(
        &self,
        tenant: &TenantId,
        window: &LogWindow,
        limit: usize,
    ) -> Result<(Vec<RequestRecord>, bool), StoreError> {
        let ops = self.ops()?;
        let Some(log) = ops.records.get(tenant) else {
            return Ok((Vec::new(), false));
        };
        let older = match &window.before {
            Some(b) => log.range(..(b.time.clone(), b.request_id.clone())),
            None => log.range::<(String, String), _>(..),
        };
        let mut newest_first = older
            .rev()
            .map(|(_, r)| r)
            .take_while(|r| window.from.as_ref().is_none_or(|f| r.time >= *f))
            .filter(|r| window.contains(r));
        let records: Vec<RequestRecord> = newest_first.by_ref().take(limit).cloned().collect();
        let more = newest_first.next().is_some();
        Ok((records, more))
    }

    async fn request_record(
        &self,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        // Bounded by MAX_RECORDS_PER_TENANT.
        Ok(self.ops()?.records.get(tenant).and_then(|log| {
            log.values()
                .rev()
                .find(|r| r.request_id == request_id)
                .cloned()
        }))
    }

    async fn activity(&self, tenant: &TenantId) -> Result<Activity, StoreError> {
        Ok(self
            .ops()?
            .activity
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn start_purge(&self, job: &PurgeJob) -> Result<PurgeJob, StoreError> {
        Ok(self
            .ops()?
            .purges
            .entry(job.tenant.clone())
            .or_insert_with(|| job.clone())
            .clone())
    }

    async fn purge_job(&self, tenant: &TenantId) -> Result<Option<PurgeJob>, StoreError> {
        Ok(self.ops()?.purges.get(tenant).cloned())
    }

    async fn purge_jobs(&self, limit: usize) -> Result<Vec<PurgeJob>, StoreError> {
        Ok(self.ops()?.purges.values().take(limit).cloned().collect())
    }

    async fn lease_purge(
        &self,
        tenant: &TenantId,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut ops = self.ops()?;
        match ops.purges.get_mut(tenant) {
            Some(job) if job.lease_until <= now => {
                job.lease_until = until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn advance_purge(&self, tenant: &TenantId, deleted: u64) -> Result<(), StoreError> {
        if let Some(job) = self.ops()?.purges.get_mut(tenant) {
            job.items_deleted += deleted;
        }
        Ok(())
    }

    async fn finish_purge(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.ops()?.purges.remove(tenant);
        Ok(())
    }

    async fn breaker(&self, tenant: &TenantId) -> Result<(BreakerState, u64), StoreError> {
        Ok(self
            .ops()?
            .breakers
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn save_breaker(
        &self,
        tenant: &TenantId,
        state: &BreakerState,
        expected: u64,
        held: &[HeldEvent],
    ) -> Result<bool, StoreError> {
        let mut ops = self.ops()?;
        let version = ops.breakers.get(tenant).map_or(0, |(_, v)| *v);
        if version != expected {
            return Ok(false);
        }
        ops.breakers
            .insert(tenant.clone(), (state.clone(), expected + 1));
        let kept = ops.held.entry(tenant.clone()).or_default();
        for h in held {
            kept.insert(h.seq, h.clone());
        }
        Ok(true)
    }

    async fn held_events(
        &self,
        tenant: &TenantId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<HeldEvent>, StoreError> {
        Ok(self.ops()?.held.get(tenant).map_or_else(Vec::new, |h| {
            h.range(from..)
                .take(limit)
                .map(|(_, e)| e.clone())
                .collect()
        }))
    }

    async fn drop_held(&self, tenant: &TenantId, held: &[HeldEvent]) -> Result<(), StoreError> {
        if let Some(kept) = self.ops()?.held.get_mut(tenant) {
            for h in held {
                kept.remove(&h.seq);
            }
        }
        Ok(())
    }

    async fn resolving_breakers(&self, limit: usize) -> Result<Vec<TenantId>, StoreError> {
        Ok(self
            .ops()?
            .breakers
            .iter()
            .filter(|(_, (s, _))| s.trip.as_ref().is_some_and(|t| t.resolution.is_some()))
            .map(|(t, _)| t.clone())
            .take(limit)
            .collect())
    }
}
