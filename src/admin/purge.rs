//! Deleting a tenant's data after its deletion was asked for: in steps of
//! bounded length, each holding a lease on the tenant's purge job, so a
//! purge of any size finishes across many invocations (the `manage`
//! function on its schedule, a background task in `scim-local`, or
//! `scim-admin tenant delete` in the foreground) and two workers never
//! purge the same tenant at once.

use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AdminError, Operator};
use crate::auth::TokenStore;
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;

/// Items deleted per store call.
const PURGE_PAGE: usize = 200;
/// How long one scheduled step works: well under the `manage` function's
/// 60 s timeout, so a step is never cut short by it (the lease covers a
/// step that is).
pub const PURGE_STEP_BUDGET: Duration = Duration::from_secs(40);
/// A lease outlives its step by this much: a worker that died mid-step
/// frees the job this long after its budget ended.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Jobs looked at per step.
const JOBS_PER_STEP: usize = 100;

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Items deleted in this step, over every tenant.
    pub items_deleted: u64,
    /// Tenants whose deletion finished in this step.
    pub finished: Vec<String>,
    /// Tenants still waiting for their caches to drain.
    pub waiting: usize,
    /// Tenants left for a later step (budget spent or held by another worker).
    pub remaining: usize,
}

/// How a purge of one tenant ended its step.
enum Step {
    Finished,
    OutOfTime,
    Waiting,
    Held,
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// Advances every deletion in progress for at most `budget`.
    pub async fn advance_purges(&self, budget: Duration) -> Result<PurgeReport, AdminError> {
        let deadline = Instant::now() + budget;
        let mut report = PurgeReport::default();
        for job in self.store.purge_jobs(JOBS_PER_STEP).await? {
            if Instant::now() >= deadline {
                report.remaining += 1;
                continue;
            }
            match self
                .purge_step(&job.tenant, deadline, None, &mut report)
                .await?
            {
                Step::Finished => report.finished.push(job.tenant.to_string()),
                Step::Waiting => report.waiting += 1,
                Step::OutOfTime | Step::Held => report.remaining += 1,
            }
        }
        Ok(report)
    }

    /// Deletes the tenant's data until `deadline`, if its wait is over and
    /// no other worker holds it; the secret goes last, so an interrupted
    /// purge stays visible and is resumed.
    async fn purge_step(
        &self,
        tenant: &TenantId,
        deadline: Instant,
        not_before: Option<i64>,
        report: &mut PurgeReport,
    ) -> Result<Step, AdminError> {
        let Some(job) = self.store.purge_job(tenant).await? else {
            return Ok(Step::Finished);
        };
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if now < not_before.unwrap_or(job.not_before) {
            return Ok(Step::Waiting);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let until = now + (left + LEASE_MARGIN).as_secs() as i64;
        if !self.store.lease_purge(tenant, now, until).await? {
            return Ok(Step::Held);
        }
        while Instant::now() < deadline {
            let deleted = self.store.purge_tenant(tenant, PURGE_PAGE).await? as u64;
            if deleted == 0 {
                self.tokens.delete(tenant).await?;
                self.store.finish_purge(tenant).await?;
                tracing::info!(tenant = %tenant, items = job.items_deleted, "tenant deleted");
                return Ok(Step::Finished);
            }
            report.items_deleted += deleted;
            self.store.advance_purge(tenant, deleted).await?;
        }
        Ok(Step::OutOfTime)
    }

    /// Deletes a tenant in the foreground (`scim-admin tenant delete`):
    /// asks for the deletion, waits out the drain (this operator's
    /// `delete_wait` from when the deletion was first asked for, so a
    /// re-run only waits for what is left), then purges step by step until
    /// it is gone, reporting the items deleted so far.
    pub async fn delete_tenant_now(
        &self,
        tenant: &TenantId,
        mut progress: impl FnMut(DeleteProgress),
    ) -> Result<u64, AdminError> {
        self.delete_tenant(tenant).await?;
        let mut report = PurgeReport::default();
        loop {
            let Some(job) = self.store.purge_job(tenant).await? else {
                return Ok(report.items_deleted);
            };
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let not_before = OffsetDateTime::parse(&job.requested, &Rfc3339)
                .map_or(job.not_before, |at| {
                    at.unix_timestamp() + self.delete_wait.as_secs() as i64
                });
            if now < not_before {
                let wait = Duration::from_secs((not_before - now) as u64);
                progress(DeleteProgress::Waiting(wait));
                tokio::time::sleep(wait).await;
                continue;
            }
            let before = report.items_deleted;
            let step = self
                .purge_step(
                    tenant,
                    Instant::now() + PURGE_STEP_BUDGET,
                    Some(not_before),
                    &mut report,
                )
                .await?;
            if report.items_deleted != before {
                progress(DeleteProgress::Deleted(report.items_deleted));
            }
            match step {
                Step::Finished => return Ok(report.items_deleted),
                Step::Held => {
                    progress(DeleteProgress::Held);
                    tokio::time::sleep(LEASE_MARGIN).await;
                }
                Step::OutOfTime | Step::Waiting => {}
            }
        }
    }
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// Purges the items a tenant without a secret left behind (a deletion
    /// of an earlier release cut short); `NotFound` when there were none.
    pub async fn purge_leftovers(&self, tenant: &TenantId) -> Result<u64, AdminError> {
        let mut deleted = 0;
        loop {
            let n = self.store.purge_tenant(tenant, PURGE_PAGE).await? as u64;
            if n == 0 {
                break;
            }
            deleted += n;
        }
        if deleted == 0 {
            return Err(super::not_found(tenant));
        }
        Ok(deleted)
    }
}

/// What a foreground deletion is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProgress {
    /// Tokens are refused; waiting this long for caches and in-flight
    /// requests before deleting data.
    Waiting(Duration),
    /// Another worker (the scheduled purge) holds the tenant: waiting.
    Held,
    /// Items deleted so far.
    Deleted(u64),
}

#[cfg(test)]
mod tests {
    use super::super::tests::{acme, operator, valid};
    use super::*;
    use crate::admin::TenantStatus;
    use crate::scim::schema::ResourceKind;
    use crate::store::Record;

    async fn with_users(op: &super::super::tests::Local, n: usize) {
        for i in 0..n {
            let record = Record::new(
                ResourceKind::User,
                format!("u{i}"),
                1,
                serde_json::json!({"userName": format!("u{i}@x.com")}),
            );
            op.store.create(&acme(), &record).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_deletion_waits_then_purges_in_steps_and_the_tenant_is_gone() {
        let mut op = operator();
        op.delete_wait = Duration::from_secs(3600);
        op.create_tenant(&acme(), None).await.unwrap();
        let token = op.issue_token(&acme(), "t", None).await.unwrap();
        with_users(&op, 250).await;
        op.delete_tenant(&acme()).await.unwrap();
        let waiting = op.advance_purges(PURGE_STEP_BUDGET).await.unwrap();
        assert_eq!(waiting.waiting, 1);
        assert_eq!(
            waiting.items_deleted, 0,
            "nothing deleted while caches drain"
        );
        assert_eq!(
            op.store
                .count(&acme(), ResourceKind::User)
                .await
                .unwrap()
                .total,
            250
        );

        let mut job = op.store.purge_job(&acme()).await.unwrap().unwrap();
        job.not_before = 0;
        op.store.finish_purge(&acme()).await.unwrap();
        op.store.start_purge(&job).await.unwrap();
        // A zero budget does nothing; a held lease keeps other workers out.
        let none = op.advance_purges(Duration::ZERO).await.unwrap();
        assert_eq!((none.items_deleted, none.remaining), (0, 1));
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(op.store.lease_purge(&acme(), now, now + 60).await.unwrap());
        let held = op.advance_purges(PURGE_STEP_BUDGET).await.unwrap();
        assert_eq!((held.items_deleted, held.remaining), (0, 1));
        let mut job = op.store.purge_job(&acme()).await.unwrap().unwrap();
        job.lease_until = 0;
        op.store.finish_purge(&acme()).await.unwrap();
        op.store.start_purge(&job).await.unwrap();

        let done = op.advance_purges(PURGE_STEP_BUDGET).await.unwrap();
        assert_eq!(done.finished, ["acme"]);
        assert_eq!(done.items_deleted, 500, "250 users and their markers");
        assert!(matches!(
            op.tenant(&acme()).await,
            Err(AdminError::NotFound(_))
        ));
        assert!(!valid(&op, &acme(), &token.token).await);
        assert_eq!(op.store.purge_tenant(&acme(), 10).await.unwrap(), 0);
        let fresh = op.create_tenant(&acme(), None).await.unwrap();
        assert_eq!(fresh.status, TenantStatus::Active);
        assert_eq!(
            op.store
                .count(&acme(), ResourceKind::User)
                .await
                .unwrap()
                .total,
            0
        );
    }

    #[tokio::test]
    async fn a_foreground_deletion_reports_progress_until_the_tenant_is_gone() {
        let op = operator();
        op.create_tenant(&acme(), None).await.unwrap();
        with_users(&op, 150).await;
        let mut reports = Vec::new();
        let deleted = op
            .delete_tenant_now(&acme(), |p| reports.push(p))
            .await
            .unwrap();
        assert_eq!(deleted, 300);
        assert_eq!(reports, [DeleteProgress::Deleted(300)]);
        assert!(op.store.purge_job(&acme()).await.unwrap().is_none());
        assert!(matches!(
            op.tenant(&acme()).await,
            Err(AdminError::NotFound(_))
        ));
    }
}
