//! The breaker between derived events and the bus, shared by the `events`
//! function and `scim-local --events`: each tenant's entries of a batch go
//! through its stored breaker (read once per tenant and batch, written
//! only when something was counted or held), under its settings read
//! through the token cache.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::batch::Entry;
use super::breaker::{BreakerState, TRIPPED};
use crate::auth::{AuthError, TokenSource, Verifier};
use crate::store::ops::OpsStore;
use crate::store::{Store, StoreError};
use crate::tenant::TenantId;
use crate::tenant::settings::BreakerSettings;

/// Attempts of a breaker write that other writers keep pre-empting.
const SAVE_ATTEMPTS: u32 = 10;

/// Why a batch could not pass: it is retried whole (nothing was published).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("breaker store: {0}")]
    Store(#[from] StoreError),
    #[error("tenant settings: {0}")]
    Settings(#[from] AuthError),
    #[error("the breaker of tenant {0} kept changing concurrently")]
    Contended(TenantId),
}

/// What passes: the entries to publish now, in order, and the tenants
/// whose tripped event is among them (marked announced once published).
#[derive(Debug, Default)]
pub struct Passed {
    pub publish: Vec<Entry>,
    pub announcing: Vec<TenantId>,
}

/// The breaker gate over a store and the tenants' settings.
pub struct Gate<S, T> {
    pub store: S,
    pub settings: Verifier<T>,
}

impl<S: Store + OpsStore, T: TokenSource> Gate<S, T> {
    pub fn new(store: S, settings: Verifier<T>) -> Self {
        Gate { store, settings }
    }

    async fn breaker_settings(&self, tenant: &TenantId) -> Result<BreakerSettings, GateError> {
        Ok(self
            .settings
            .token_set(tenant)
            .await?
            .and_then(|set| set.settings)
            .map(|s| s.settings.breaker)
            .unwrap_or_default())
    }

    /// Runs a batch's entries (each with its tenant, in order) through
    /// their tenants' breakers. Entries of one tenant keep their order;
    /// tenants come out in the order they first appear.
    pub async fn pass(&self, entries: Vec<(TenantId, Entry)>) -> Result<Passed, GateError> {
        let mut order: Vec<TenantId> = Vec::new();
        let mut by_tenant: BTreeMap<TenantId, Vec<Entry>> = BTreeMap::new();
        for (tenant, entry) in entries {
            if !by_tenant.contains_key(&tenant) {
                order.push(tenant.clone());
            }
            by_tenant.entry(tenant).or_default().push(entry);
        }
        let mut passed = Passed::default();
        for tenant in order {
            let entries = by_tenant.remove(&tenant).unwrap_or_default();
            let publish = self.pass_tenant(&tenant, entries).await?;
            if publish.iter().any(|e| e.detail_type == TRIPPED) {
                passed.announcing.push(tenant.clone());
            }
            passed.publish.extend(publish);
        }
        passed.publish.sort_by_key(|e| e.origin);
        Ok(passed)
    }

    async fn pass_tenant(
        &self,
        tenant: &TenantId,
        entries: Vec<Entry>,
    ) -> Result<Vec<Entry>, GateError> {
        let settings = self.breaker_settings(tenant).await?;
        for _ in 0..SAVE_ATTEMPTS {
            let (mut state, version) = self.store.breaker(tenant).await?;
            if state.trip.is_none()
                && (!settings.enabled
                    || !entries
                        .iter()
                        .any(|e| super::breaker::is_deprovisioning(&e.detail_type)))
            {
                return Ok(entries);
            }
            let before = state.clone();
            let now = OffsetDateTime::now_utc();
            let at = now.format(&Rfc3339).unwrap_or_default();
            // The census is read only when this batch could pass the
            // threshold.
            let counted = entries
                .iter()
                .filter(|e| super::breaker::is_deprovisioning(&e.detail_type))
                .count() as u64;
            let active = if state.trip.is_none()
                && state.window_count(now.unix_timestamp(), settings.window_minutes) + counted
                    > u64::from(settings.threshold)
            {
                let census = self.store.tenant_census(tenant).await?;
                census.users.saturating_sub(census.inactive_users)
            } else {
                0
            };
            let decision = state.decide(
                tenant,
                &settings,
                entries.clone(),
                now.unix_timestamp(),
                &at,
                || active,
            );
            if state == before && decision.hold.is_empty() {
                return Ok(decision.publish);
            }
            if self
                .store
                .save_breaker(tenant, &state, version, &decision.hold)
                .await?
            {
                if before.trip.is_none()
                    && let Some(trip) = &state.trip
                {
                    tracing::warn!(
                        tenant = %tenant,
                        count = trip.count,
                        active_users = trip.active_users,
                        threshold = trip.settings.threshold,
                        percent = trip.settings.percent,
                        window_minutes = trip.settings.window_minutes,
                        _aws = %crate::api::metrics::breaker_trip_metadata(crate::api::metrics::now_ms()),
                        breaker_trips = 1,
                        "the tenant's deprovisioning breaker tripped: its events are held until an operator releases or discards them"
                    );
                }
                return Ok(decision.publish);
            }
        }
        Err(GateError::Contended(tenant.clone()))
    }

    /// Marks the tenants' tripped events published.
    pub async fn announced(&self, tenants: &[TenantId]) -> Result<(), GateError> {
        for tenant in tenants {
            self.change(tenant, |state| {
                if let Some(trip) = &mut state.trip {
                    trip.announced = true;
                }
            })
            .await?;
        }
        Ok(())
    }

    async fn change(
        &self,
        tenant: &TenantId,
        mut f: impl FnMut(&mut BreakerState),
    ) -> Result<(), GateError> {
        for _ in 0..SAVE_ATTEMPTS {
            let (mut state, version) = self.store.breaker(tenant).await?;
            let before = state.clone();
            f(&mut state);
            if state == before
                || self
                    .store
                    .save_breaker(tenant, &state, version, &[])
                    .await?
            {
                return Ok(());
            }
        }
        Err(GateError::Contended(tenant.clone()))
    }
}
