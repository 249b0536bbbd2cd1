//! A tenant's deprovisioning breaker as operators see and resolve it: its
//! state and counts, a page of the events it holds, and the release
//! (held events published in their order, then publishing resumes) or
//! discard (dropped, with who and why; the store is untouched), carried
//! out in bounded steps that the purge schedule continues.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::{AdminError, Operator, now};
use crate::auth::TokenStore;
use crate::events::breaker::{BreakerState, HeldEvent, Resolution, ResolutionAction, ResolvedTrip};
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;
use crate::tenant::settings::BreakerSettings;

/// Held events read (and released or dropped) per step.
const RESOLVE_PAGE: usize = 100;
/// Most held events a page of the held list shows.
pub const MAX_HELD_PAGE: usize = 200;
/// Held events examined for one page of a filtered held list.
const HELD_EXAMINED: usize = 1_000;
/// Attempts of a breaker write that other writers keep pre-empting.
const WRITE_ATTEMPTS: u32 = 10;
/// Longest reason an operator gives.
const MAX_REASON_CHARS: usize = 500;
/// Tenants whose resolution one scheduled step advances.
const RESOLUTIONS_PER_STEP: usize = 20;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakerPhase {
    /// Disabled in the tenant's settings (a trip in progress still holds).
    Off,
    Armed,
    Tripped,
    Releasing,
    Discarding,
}

/// A trip as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TripView {
    pub at: String,
    pub count: u64,
    pub active_users: u64,
    /// Events held and not yet released or discarded.
    pub held: u64,
    pub held_by_type: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

/// A tenant's breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerView {
    pub state: BreakerPhase,
    /// Deprovisionings counted in the current window.
    pub window_count: u64,
    pub settings: BreakerSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trip: Option<TripView>,
    /// The most recent trips released or discarded, newest first.
    pub resolved: Vec<ResolvedTrip>,
}

/// One held event, as the held list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldView {
    pub seq: u64,
    pub detail_type: String,
    pub time: String,
    pub event_id: Option<String>,
    pub resource_type: Option<String>,
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl From<&HeldEvent> for HeldView {
    fn from(h: &HeldEvent) -> Self {
        let detail: Value = serde_json::from_str(&h.detail).unwrap_or_default();
        let text = |name: &str| detail.get(name).and_then(Value::as_str).map(str::to_owned);
        HeldView {
            seq: h.seq,
            detail_type: h.detail_type.clone(),
            time: h.time.clone(),
            event_id: text("eventId"),
            resource_type: text("resourceType"),
            id: text("id"),
            user_name: text("userName"),
            display_name: text("displayName"),
        }
    }
}

/// A page of held events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldPage {
    pub events: Vec<HeldView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// How a resolution step ended.
enum Step {
    Done,
    NotDone,
}

fn view(state: &BreakerState, settings: BreakerSettings) -> BreakerView {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let phase = match &state.trip {
        Some(t) => match t.resolution.as_ref().map(|r| r.action) {
            Some(ResolutionAction::Release) => BreakerPhase::Releasing,
            Some(ResolutionAction::Discard) => BreakerPhase::Discarding,
            None => BreakerPhase::Tripped,
        },
        None if !settings.enabled => BreakerPhase::Off,
        None => BreakerPhase::Armed,
    };
    BreakerView {
        state: phase,
        window_count: state.window_count(now, settings.window_minutes),
        settings,
        trip: state.trip.as_ref().map(|t| TripView {
            at: t.at.clone(),
            count: t.count,
            active_users: t.active_users,
            held: t.next.saturating_sub(t.released),
            held_by_type: t.held_by_type.clone(),
            resolution: t.resolution.clone(),
        }),
        resolved: state.resolved.clone(),
    }
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    async fn breaker_settings(&self, tenant: &TenantId) -> Result<BreakerSettings, AdminError> {
        Ok(self
            .existing(tenant)
            .await?
            .settings
            .map(|s| s.settings.breaker)
            .unwrap_or_default())
    }

    /// The tenant's breaker.
    pub async fn breaker(&self, tenant: &TenantId) -> Result<BreakerView, AdminError> {
        let settings = self.breaker_settings(tenant).await?;
        let (state, _) = self.store.breaker(tenant).await?;
        Ok(view(&state, settings))
    }

    /// Up to `limit` held events after `cursor`, oldest first, of
    /// `detail_type` when given (at most [`HELD_EXAMINED`] examined).
    pub async fn held(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: usize,
        detail_type: Option<&str>,
    ) -> Result<HeldPage, AdminError> {
        self.existing(tenant).await?;
        if !(1..=MAX_HELD_PAGE).contains(&limit) {
            return Err(AdminError::Invalid(format!(
                "limit must be a whole number from 1 to {MAX_HELD_PAGE}"
            )));
        }
        let after = match cursor {
            Some(c) => c
                .parse::<u64>()
                .map_err(|_| AdminError::Invalid("cursor must be one this API gave".into()))?,
            None => 0,
        };
        let (state, _) = self.store.breaker(tenant).await?;
        let Some(trip) = state.trip else {
            return Ok(HeldPage {
                events: Vec::new(),
                next_cursor: None,
            });
        };
        let from = after.max(trip.released);
        let read = if detail_type.is_some() {
            HELD_EXAMINED
        } else {
            limit + 1
        };
        let held = self.store.held_events(tenant, from, read).await?;
        let examined_all = held.len() < read;
        let mut events = Vec::new();
        let mut next = None;
        for h in &held {
            if detail_type.is_some_and(|t| t != h.detail_type) {
                continue;
            }
            if events.len() == limit {
                next = Some(h.seq.to_string());
                break;
            }
            events.push(HeldView::from(h));
        }
        if next.is_none()
            && !examined_all
            && let Some(last) = held.last()
        {
            next = Some((last.seq + 1).to_string());
        }
        Ok(HeldPage {
            events,
            next_cursor: next,
        })
    }

    /// Starts releasing or discarding the held events (`reason` is
    /// required to discard) and carries it on for a short while; the
    /// schedule finishes what is left.
    pub async fn resolve_breaker(
        &self,
        tenant: &TenantId,
        action: ResolutionAction,
        by: &str,
        reason: Option<&str>,
    ) -> Result<BreakerView, AdminError> {
        let settings = self.breaker_settings(tenant).await?;
        // Blank is Unicode white space, which the OpenAPI document's
        // pattern for a discard's reason lists character by character.
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
            return Err(AdminError::Invalid(format!(
                "reason must be at most {MAX_REASON_CHARS} characters"
            )));
        }
        if action == ResolutionAction::Discard && reason.is_none() {
            return Err(AdminError::Invalid(
                "reason is required to discard held events".into(),
            ));
        }
        for _ in 0..WRITE_ATTEMPTS {
            let (mut state, version) = self.store.breaker(tenant).await?;
            let Some(trip) = &mut state.trip else {
                return Err(AdminError::Conflict(format!(
                    "the breaker of tenant {tenant} is not tripped"
                )));
            };
            if action == ResolutionAction::Release && self.bus.is_none() {
                return Err(AdminError::Conflict(
                    "this server has no event bus to release events to (scim-local without --events)"
                        .into(),
                ));
            }
            if let Some(current) = &trip.resolution {
                if current.action != action {
                    return Err(AdminError::Conflict(format!(
                        "the held events of tenant {tenant} are already being {}d",
                        match current.action {
                            ResolutionAction::Release => "release",
                            ResolutionAction::Discard => "discarde",
                        }
                    )));
                }
                break;
            }
            trip.resolution = Some(Resolution {
                action,
                by: by.to_owned(),
                reason: reason.map(str::to_owned),
                at: now(),
            });
            if self
                .store
                .save_breaker(tenant, &state, version, &[])
                .await?
            {
                tracing::info!(tenant = %tenant, action = ?action, by, "breaker resolution started");
                break;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        self.resolution_step(tenant, deadline).await?;
        let (state, _) = self.store.breaker(tenant).await?;
        Ok(view(&state, settings))
    }

    /// Advances every release or discard in progress for at most `budget`.
    pub async fn advance_resolutions(&self, budget: Duration) -> Result<usize, AdminError> {
        let deadline = Instant::now() + budget;
        let mut finished = 0;
        for tenant in self.store.resolving_breakers(RESOLUTIONS_PER_STEP).await? {
            if Instant::now() >= deadline {
                break;
            }
            if let Step::Done = self.resolution_step(&tenant, deadline).await? {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Releases or drops held events page by page, in order, until none is
    /// left (then re-arms) or `deadline`. A page is published before it is
    /// dropped: a failure midway publishes it again, never loses it.
    async fn resolution_step(
        &self,
        tenant: &TenantId,
        deadline: Instant,
    ) -> Result<Step, AdminError> {
        while Instant::now() < deadline {
            let (mut state, version) = self.store.breaker(tenant).await?;
            let Some(trip) = &state.trip else {
                return Ok(Step::Done);
            };
            let Some(resolution) = trip.resolution.clone() else {
                return Ok(Step::NotDone);
            };
            let page = self
                .store
                .held_events(tenant, trip.released, RESOLVE_PAGE)
                .await?;
            let Some(last) = page.last().map(|h| h.seq) else {
                if trip.released < trip.next {
                    // The rest of a range a gate claimed is still being
                    // written.
                    return Ok(Step::NotDone);
                }
                let held = trip.next;
                state.rearm(&now());
                if self
                    .store
                    .save_breaker(tenant, &state, version, &[])
                    .await?
                {
                    tracing::info!(
                        tenant = %tenant,
                        action = ?resolution.action,
                        by = %resolution.by,
                        events = held,
                        "breaker re-armed: its held events were resolved"
                    );
                    return Ok(Step::Done);
                }
                continue;
            };
            if resolution.action == ResolutionAction::Release {
                let bus = self.bus.as_ref().ok_or_else(|| {
                    AdminError::Invalid(
                        "this deployment has no event bus to release events to".into(),
                    )
                })?;
                let entries: Vec<_> = page.iter().enumerate().map(|(i, h)| h.entry(i)).collect();
                bus.send(&entries).await.map_err(|e| {
                    AdminError::Store(crate::store::StoreError::Unavailable(format!(
                        "publishing released events: {e}"
                    )))
                })?;
            }
            self.store.drop_held(tenant, &page).await?;
            self.mark_released(tenant, last + 1).await?;
        }
        Ok(Step::NotDone)
    }

    async fn mark_released(&self, tenant: &TenantId, upto: u64) -> Result<(), AdminError> {
        for _ in 0..WRITE_ATTEMPTS {
            let (mut state, version) = self.store.breaker(tenant).await?;
            let Some(trip) = &mut state.trip else {
                return Ok(());
            };
            if trip.released >= upto {
                return Ok(());
            }
            trip.released = upto;
            if self
                .store
                .save_breaker(tenant, &state, version, &[])
                .await?
            {
                return Ok(());
            }
        }
        Err(AdminError::Store(crate::store::StoreError::Unavailable(
            format!("the breaker of tenant {tenant} kept changing concurrently; retry"),
        )))
    }
}
