//! The deprovisioning circuit breaker, pure: which of a tenant's events
//! pass, which are held, and when it trips.
//!
//! The SCIM store keeps mirroring the identity provider (an error would
//! get the provisioning job quarantined); what a wrong scoping rule would
//! do to the vendor's application is held back instead: from the trip on,
//! **every** event of the tenant is held in order (so that per-resource
//! order holds when they are released) until an operator releases or
//! discards them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::batch::Entry;
use sha2::{Digest, Sha256};

use super::detail::{SOURCE, uuid_shaped};
use crate::tenant::TenantId;
use crate::tenant::settings::BreakerSettings;

/// The `detail-type` of the event published once when a breaker trips.
pub const TRIPPED: &str = "tenant.breaker.tripped";

/// The event types the breaker counts.
pub fn is_deprovisioning(detail_type: &str) -> bool {
    matches!(
        detail_type,
        "user.deactivated" | "user.deleted" | "group.deleted"
    )
}

/// A tenant's breaker as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerState {
    /// Deprovisionings counted per minute (Unix minute), within the window.
    #[serde(default)]
    pub minutes: BTreeMap<i64, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trip: Option<Trip>,
    /// The most recent trips resolved, newest first (at most
    /// [`KEPT_RESOLVED`]): who released or discarded what, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<ResolvedTrip>,
}

/// How many resolved trips a breaker remembers.
pub const KEPT_RESOLVED: usize = 10;

/// A trip that was released or discarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedTrip {
    pub tripped_at: String,
    pub count: u64,
    /// Events it held in all.
    pub held: u64,
    pub resolution: Resolution,
    pub finished_at: String,
}

impl BreakerState {
    /// Ends the trip: re-armed with an empty window, the trip remembered.
    pub fn rearm(&mut self, finished_at: &str) {
        if let Some(trip) = self.trip.take()
            && let Some(resolution) = trip.resolution
        {
            self.resolved.insert(
                0,
                ResolvedTrip {
                    tripped_at: trip.at,
                    count: trip.count,
                    held: trip.next,
                    resolution,
                    finished_at: finished_at.to_owned(),
                },
            );
            self.resolved.truncate(KEPT_RESOLVED);
        }
        self.minutes.clear();
    }
}

/// A trip, from the moment it happened until it is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trip {
    pub at: String,
    /// Deprovisionings in the window when it tripped.
    pub count: u64,
    /// Active users then (after the deprovisionings counted).
    pub active_users: u64,
    pub settings: BreakerSettings,
    /// Whether the tripped event has been published.
    pub announced: bool,
    /// The sequence number the next held event gets: held events are
    /// `released..next`.
    pub next: u64,
    /// The first held event not yet released or discarded.
    pub released: u64,
    /// Held events by `detail-type`, for the operator.
    pub held_by_type: BTreeMap<String, u64>,
    /// A release or discard in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

/// What an operator decided about a trip's held events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    pub action: ResolutionAction,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionAction {
    /// Held events are published in their order, then publishing resumes.
    Release,
    /// Held events are dropped; the store is untouched.
    Discard,
}

/// One held event: its place in the tenant's order, and what publishing
/// it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldEvent {
    pub seq: u64,
    pub detail_type: String,
    pub detail: String,
    pub time: String,
}

impl HeldEvent {
    pub fn entry(&self, origin: usize) -> Entry {
        Entry {
            origin,
            detail_type: self.detail_type.clone(),
            detail: self.detail.clone(),
            time: self.time.clone(),
        }
    }
}

/// What one batch of a tenant's entries comes to.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    /// To publish now, in order (the tripped event among them).
    pub publish: Vec<Entry>,
    /// To hold, numbered from the trip's `next` before this batch.
    pub hold: Vec<HeldEvent>,
}

/// The minute of a Unix time.
fn minute(unix: i64) -> i64 {
    unix.div_euclid(60)
}

impl BreakerState {
    /// Deprovisionings counted within `window_minutes` up to `now`.
    pub fn window_count(&self, now: i64, window_minutes: u32) -> u64 {
        let from = minute(now) - i64::from(window_minutes) + 1;
        self.minutes.range(from..).map(|(_, n)| n).sum()
    }

    /// Runs `entries` (one tenant's, in order) through the breaker at Unix
    /// time `now` (`at` as RFC 3339). `active_users` is asked only when
    /// the count passes the threshold. Returns what to publish and hold;
    /// `self` is the state to store.
    pub fn decide(
        &mut self,
        tenant: &TenantId,
        settings: &BreakerSettings,
        entries: Vec<Entry>,
        now: i64,
        at: &str,
        mut active_users: impl FnMut() -> u64,
    ) -> Decision {
        let mut decision = Decision::default();
        let oldest = minute(now) - i64::from(settings.window_minutes.max(1)) + 1;
        self.minutes.retain(|m, _| *m >= oldest);
        if let Some(trip) = &mut self.trip
            && !trip.announced
        {
            // Announced at least once: a failed publish is retried with
            // the batch.
            decision.publish.push(tripped_entry(tenant, trip, 0));
        }
        for entry in entries {
            if let Some(trip) = &mut self.trip {
                decision.hold.push(hold(trip, entry));
                continue;
            }
            if settings.enabled && is_deprovisioning(&entry.detail_type) {
                *self.minutes.entry(minute(now)).or_default() += 1;
                let count = self.window_count(now, settings.window_minutes);
                if count > u64::from(settings.threshold) {
                    let active = active_users();
                    // The share of the users active before the wave: the
                    // ones still active plus the ones it took.
                    if settings.trips(count, active + count) {
                        let mut trip = Trip {
                            at: at.to_owned(),
                            count,
                            active_users: active,
                            settings: *settings,
                            announced: false,
                            next: 0,
                            released: 0,
                            held_by_type: BTreeMap::new(),
                            resolution: None,
                        };
                        decision
                            .publish
                            .push(tripped_entry(tenant, &trip, entry.origin));
                        decision.hold.push(hold(&mut trip, entry));
                        self.trip = Some(trip);
                        continue;
                    }
                }
            }
            decision.publish.push(entry);
        }
        decision
    }
}

fn hold(trip: &mut Trip, entry: Entry) -> HeldEvent {
    let seq = trip.next;
    trip.next += 1;
    *trip
        .held_by_type
        .entry(entry.detail_type.clone())
        .or_default() += 1;
    HeldEvent {
        seq,
        detail_type: entry.detail_type,
        detail: entry.detail,
        time: entry.time,
    }
}

/// The `tenant.breaker.tripped` event of a trip: the same id whenever it
/// is announced again.
pub fn tripped_entry(tenant: &TenantId, trip: &Trip, origin: usize) -> Entry {
    let mut digest = Sha256::new();
    for part in [SOURCE, tenant.as_str(), TRIPPED, &trip.at] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    let event_id = uuid_shaped(digest);
    let detail = json!({
        "eventId": event_id,
        "eventType": TRIPPED,
        "tenant": tenant.as_str(),
        "occurredAt": trip.at,
        "count": trip.count,
        "activeUsers": trip.active_users,
        "threshold": trip.settings.threshold,
        "percent": trip.settings.percent,
        "windowMinutes": trip.settings.window_minutes,
    });
    Entry {
        origin,
        detail_type: TRIPPED.to_owned(),
        detail: detail.to_string(),
        time: trip.at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_type: &str, origin: usize) -> Entry {
        Entry {
            origin,
            detail_type: detail_type.to_owned(),
            detail: format!("{{\"n\":{origin}}}"),
            time: "2026-12-08T10:00:00Z".to_owned(),
        }
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn five() -> BreakerSettings {
        BreakerSettings {
            threshold: 5,
            ..BreakerSettings::default()
        }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn it_trips_past_the_threshold_and_holds_everything_after() {
        let mut state = BreakerState::default();
        let mut entries: Vec<Entry> = (0..10).map(|i| entry("user.deactivated", i)).collect();
        entries.push(entry("user.updated", 10));
        let d = state.decide(&acme(), &five(), entries, NOW, "t", || 40);
        let published: Vec<&str> = d.publish.iter().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(
            published,
            ["user.deactivated"; 5]
                .iter()
                .copied()
                .chain([TRIPPED])
                .collect::<Vec<_>>()
        );
        assert_eq!(
            d.hold.len(),
            6,
            "the sixth deactivation on, and the update after"
        );
        assert_eq!(
            d.hold.iter().map(|h| h.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(d.hold[5].detail_type, "user.updated");
        let trip = state.trip.as_ref().unwrap();
        assert_eq!((trip.count, trip.next, trip.released), (6, 6, 0));
        assert_eq!(trip.held_by_type["user.deactivated"], 5);
        assert!(!trip.announced);
        // Still tripped: the next batch is held after, and the trip is
        // announced again until it is marked announced.
        let d = state.decide(
            &acme(),
            &five(),
            vec![entry("user.created", 0)],
            NOW,
            "t",
            || 40,
        );
        assert_eq!(d.publish[0].detail_type, TRIPPED);
        assert_eq!(d.hold[0].seq, 6);
    }

    #[test]
    fn the_share_of_active_users_must_pass_too_and_the_window_slides() {
        let mut state = BreakerState::default();
        let entries: Vec<Entry> = (0..10).map(|i| entry("user.deleted", i)).collect();
        // 10 of 10,000 users: not a wave.
        let d = state.decide(&acme(), &five(), entries, NOW, "t", || 10_000);
        assert_eq!(d.publish.len(), 10);
        assert!(state.trip.is_none());
        assert_eq!(state.window_count(NOW, 60), 10);
        assert_eq!(state.window_count(NOW + 3_600, 60), 0, "an hour later");
        let off = BreakerSettings {
            enabled: false,
            ..five()
        };
        let d = state.decide(
            &acme(),
            &off,
            (0..50).map(|i| entry("user.deleted", i)).collect(),
            NOW,
            "t",
            || 1,
        );
        assert_eq!(d.publish.len(), 50);
    }

    #[test]
    fn the_tripped_event_is_the_same_whenever_it_is_announced() {
        let mut state = BreakerState::default();
        state.decide(
            &acme(),
            &five(),
            (0..6).map(|i| entry("group.deleted", i)).collect(),
            NOW,
            "2026-12-08T10:00:00Z",
            || 0,
        );
        let trip = state.trip.unwrap();
        let a = tripped_entry(&acme(), &trip, 0);
        let b = tripped_entry(&acme(), &trip, 3);
        assert_eq!(a.detail, b.detail);
        let detail: serde_json::Value = serde_json::from_str(&a.detail).unwrap();
        assert_eq!(detail["count"], 6);
        assert_eq!(detail["threshold"], 5);
    }
}
