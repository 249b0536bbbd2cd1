//! A tenant's activity, added up from its request records: the newest
//! request, each token's last use, and how many requests ended in each
//! status per five-minute bucket. A batch of records becomes one
//! [`ActivityDelta`] per tenant, a handful of increments, so recording
//! costs a few writes per batch, not per request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::record::RequestRecord;

/// Width of a status-count bucket: the health view's "last hour" is the
/// buckets that end within it.
pub const BUCKET_SECONDS: i64 = 300;
/// How long buckets are kept: the health view looks back one day.
pub const BUCKET_RETENTION_SECONDS: i64 = 2 * 86_400;

/// Requests per HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts(pub BTreeMap<u16, u64>);

impl StatusCounts {
    pub fn add(&mut self, status: u16, n: u64) {
        *self.0.entry(status).or_default() += n;
    }

    pub fn merge(&mut self, other: &StatusCounts) {
        for (status, n) in &other.0 {
            self.add(*status, *n);
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Only the 4xx and 5xx.
    pub fn errors(&self) -> StatusCounts {
        StatusCounts(
            self.0
                .iter()
                .filter(|(s, _)| **s >= 400)
                .map(|(s, n)| (*s, *n))
                .collect(),
        )
    }
}

/// The newest request of a tenant, as the health view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRequest {
    pub time: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl LastRequest {
    fn of(record: &RequestRecord) -> Self {
        LastRequest {
            time: record.time.clone(),
            method: record.method.clone(),
            path: record.path.clone(),
            status: record.status,
            user_agent: record.user_agent.clone(),
        }
    }
}

/// What one batch of records adds to one tenant's activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityDelta {
    pub tenant: String,
    /// The newest request of the batch.
    pub last: Option<LastRequest>,
    /// Token id to the time of its newest request in the batch.
    pub tokens: BTreeMap<String, String>,
    /// Bucket start (Unix seconds) to the statuses counted in it.
    pub buckets: BTreeMap<i64, StatusCounts>,
}

/// The start of the bucket holding `at`.
pub fn bucket_of(at: OffsetDateTime) -> i64 {
    let t = at.unix_timestamp();
    t - t.rem_euclid(BUCKET_SECONDS)
}

impl ActivityDelta {
    /// One delta per tenant of `records`, in tenant order. Records whose
    /// time does not parse count in no bucket (they still name the last
    /// request if newest by their text, which sorts as time does).
    pub fn of(records: &[RequestRecord]) -> Vec<ActivityDelta> {
        let mut by_tenant: BTreeMap<&str, ActivityDelta> = BTreeMap::new();
        for record in records {
            let delta = by_tenant
                .entry(record.tenant.as_str())
                .or_insert_with(|| ActivityDelta {
                    tenant: record.tenant.clone(),
                    ..ActivityDelta::default()
                });
            if delta.last.as_ref().is_none_or(|l| l.time < record.time) {
                delta.last = Some(LastRequest::of(record));
            }
            if let Some(token) = &record.token_id {
                let seen = delta.tokens.entry(token.clone()).or_default();
                if *seen < record.time {
                    seen.clone_from(&record.time);
                }
            }
            if let Some(at) = record.instant() {
                delta
                    .buckets
                    .entry(bucket_of(at))
                    .or_default()
                    .add(record.status, 1);
            }
        }
        by_tenant.into_values().collect()
    }
}

/// A tenant's activity as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    pub last: Option<LastRequest>,
    pub tokens: BTreeMap<String, String>,
    pub buckets: BTreeMap<i64, StatusCounts>,
}

/// Requests and errors over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    pub requests: u64,
    pub errors: StatusCounts,
}

impl Activity {
    /// Adds a delta: newer last request and last uses win, counts add up.
    pub fn apply(&mut self, delta: &ActivityDelta) {
        if let Some(last) = &delta.last
            && self.last.as_ref().is_none_or(|l| l.time < last.time)
        {
            self.last = Some(last.clone());
        }
        for (token, time) in &delta.tokens {
            let seen = self.tokens.entry(token.clone()).or_default();
            if *seen < *time {
                seen.clone_from(time);
            }
        }
        for (bucket, counts) in &delta.buckets {
            self.buckets.entry(*bucket).or_default().merge(counts);
        }
    }

    /// Drops buckets older than the retention (what DynamoDB's TTL does
    /// to their items).
    pub fn forget_before(&mut self, now: OffsetDateTime) {
        let oldest = now.unix_timestamp() - BUCKET_RETENTION_SECONDS;
        self.buckets.retain(|start, _| *start >= oldest);
    }

    /// The requests and errors of the buckets that end within the last
    /// `seconds` before `now`.
    pub fn window(&self, now: OffsetDateTime, seconds: i64) -> Window {
        let from = now.unix_timestamp() - seconds;
        let mut all = StatusCounts::default();
        for (start, counts) in &self.buckets {
            if start + BUCKET_SECONDS > from && *start <= now.unix_timestamp() {
                all.merge(counts);
            }
        }
        Window {
            requests: all.total(),
            errors: all.errors(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn record(tenant: &str, time: &str, status: u16, token: Option<&str>) -> RequestRecord {
        RequestRecord {
            time: time.into(),
            tenant: tenant.into(),
            request_id: format!("r-{time}"),
            token_id: token.map(str::to_owned),
            user_agent: None,
            method: "GET".into(),
            path: format!("/scim/v2/{tenant}/Users"),
            query: None,
            status,
            scim_type: None,
            detail: None,
            duration_ms: 1,
            action: "list".into(),
            resource_type: None,
            resource_id: None,
            target: None,
            change: None,
            matched: None,
        }
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn a_batch_adds_up_per_tenant_with_the_newest_request_and_last_uses() {
        let deltas = ActivityDelta::of(&[
            record("b", "2026-12-07T10:01:00.000Z", 200, Some("t1")),
            record("a", "2026-12-07T10:03:00.000Z", 409, Some("t1")),
            record("a", "2026-12-07T10:02:00.000Z", 201, Some("t2")),
            record("a", "2026-12-07T10:06:00.000Z", 200, None),
        ]);
        assert_eq!(deltas.len(), 2);
        let a = &deltas[0];
        assert_eq!(a.tenant, "a");
        assert_eq!(a.last.as_ref().unwrap().time, "2026-12-07T10:06:00.000Z");
        assert_eq!(a.tokens["t1"], "2026-12-07T10:03:00.000Z");
        assert_eq!(a.tokens["t2"], "2026-12-07T10:02:00.000Z");
        let first = bucket_of(at("2026-12-07T10:00:00Z"));
        assert_eq!(a.buckets[&first].0, BTreeMap::from([(201, 1), (409, 1)]));
        assert_eq!(a.buckets[&(first + BUCKET_SECONDS)].total(), 1);
        assert_eq!(deltas[1].tokens.len(), 1);
    }

    #[test]
    fn windows_count_the_buckets_that_end_within_them() {
        let mut activity = Activity::default();
        for delta in ActivityDelta::of(&[
            record("a", "2026-12-06T09:00:00.000Z", 500, None),
            record("a", "2026-12-07T08:00:00.000Z", 401, None),
            record("a", "2026-12-07T09:58:00.000Z", 409, None),
            record("a", "2026-12-07T09:59:00.000Z", 201, None),
        ]) {
            activity.apply(&delta);
        }
        let now = at("2026-12-07T10:00:00Z");
        let hour = activity.window(now, 3600);
        assert_eq!(hour.requests, 2);
        assert_eq!(hour.errors.0, BTreeMap::from([(409, 1)]));
        let day = activity.window(now, 86_400);
        assert_eq!(day.requests, 3, "the 500 of yesterday 09:00 is older");
        assert_eq!(day.errors.0, BTreeMap::from([(401, 1), (409, 1)]));
        assert_eq!(activity.buckets.len(), 3, "09:58 and 09:59 share a bucket");
        activity.forget_before(at("2026-12-09T08:30:00Z"));
        assert_eq!(activity.buckets.len(), 1, "older than two days: forgotten");
    }

    #[test]
    fn applying_keeps_the_newest_last_request() {
        let mut activity = Activity::default();
        let newer = ActivityDelta::of(&[record("a", "2026-12-07T10:05:00.000Z", 200, Some("t"))]);
        let older = ActivityDelta::of(&[record("a", "2026-12-07T10:01:00.000Z", 401, Some("t"))]);
        activity.apply(&newer[0]);
        activity.apply(&older[0]);
        assert_eq!(activity.last.unwrap().status, 200);
        assert_eq!(activity.tokens["t"], "2026-12-07T10:05:00.000Z");
    }
}
