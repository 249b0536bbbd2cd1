//! The operator plane's items, beside the SCIM resources in the same
//! store: tenant purges in progress, what the request log adds up to, and
//! each tenant's deprovisioning breaker with the events it holds.
//! A port of its own so that the SCIM request path never depends on it.

mod memory;

pub(crate) use memory::OpsTables;

use std::future::Future;

use super::StoreError;
use crate::events::breaker::{BreakerState, HeldEvent};
use crate::request_log::{Activity, LogWindow, RequestRecord};
use crate::tenant::TenantId;

/// A tenant's deletion in progress: created when it is asked for, advanced
/// by whoever holds its lease, removed when the tenant is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeJob {
    pub tenant: TenantId,
    /// When the deletion was asked for (RFC 3339).
    pub requested: String,
    /// Unix seconds before which no data is deleted: token caches and
    /// requests in flight drain first.
    pub not_before: i64,
    /// Items deleted so far.
    pub items_deleted: u64,
    /// Unix seconds until which a worker holds the job.
    pub lease_until: i64,
}

/// Operator-plane storage.
pub trait OpsStore: Send + Sync + 'static {
    /// Stores a batch of request records and adds them to their tenants'
    /// activity. Records of several tenants may be mixed.
    fn record_requests(
        &self,
        records: &[RequestRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` of a tenant's request records in `window`, newest
    /// first, in one read; `true` with them when more may follow.
    fn request_records(
        &self,
        tenant: &TenantId,
        window: &LogWindow,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<RequestRecord>, bool), StoreError>> + Send;

    /// A tenant's record of one request, by its request id.
    fn request_record(
        &self,
        tenant: &TenantId,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, StoreError>> + Send;

    /// A tenant's activity (strongly consistent).
    fn activity(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Activity, StoreError>> + Send;

    /// Stores `job` unless the tenant already has one; the stored job
    /// either way.
    fn start_purge(
        &self,
        job: &PurgeJob,
    ) -> impl Future<Output = Result<PurgeJob, StoreError>> + Send;

    /// The tenant's purge job, if a deletion is in progress.
    fn purge_job(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Option<PurgeJob>, StoreError>> + Send;

    /// Up to `limit` purge jobs, in tenant order.
    fn purge_jobs(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PurgeJob>, StoreError>> + Send;

    /// Takes the job until `until` if nobody holds it at `now`; `false`
    /// when another worker does (or the job is gone).
    fn lease_purge(
        &self,
        tenant: &TenantId,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Adds `deleted` to the job's count of deleted items.
    fn advance_purge(
        &self,
        tenant: &TenantId,
        deleted: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the job: the tenant is gone.
    fn finish_purge(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The tenant's breaker (strongly consistent) and its version, 0 when
    /// it was never stored.
    fn breaker(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<(BreakerState, u64), StoreError>> + Send;

    /// Stores `state` and `held` if the breaker is still at `expected`
    /// (its version becomes `expected + 1`); `false`, with nothing
    /// written, when another writer changed it first. The state and the
    /// first held events are written together; held events past those
    /// follow, so a failure midway leaves at most events held twice (the
    /// batch is retried), never one lost.
    fn save_breaker(
        &self,
        tenant: &TenantId,
        state: &BreakerState,
        expected: u64,
        held: &[HeldEvent],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Up to `limit` held events from sequence `from` on, in order.
    fn held_events(
        &self,
        tenant: &TenantId,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<HeldEvent>, StoreError>> + Send;

    /// Removes these held events.
    fn drop_held(
        &self,
        tenant: &TenantId,
        held: &[HeldEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` tenants whose held events are being released or
    /// discarded, for the worker that carries on.
    fn resolving_breakers(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TenantId>, StoreError>> + Send;
}
