//! Events as EventBridge entries, and entries in `PutEvents` batches
//! within EventBridge's limits. Pure: the adapter sends what this builds.

use super::Event;
use super::detail::SOURCE;

/// Most entries one `PutEvents` request takes.
pub const MAX_ENTRIES: usize = 10;

/// Most bytes one `PutEvents` request (and so one entry) may carry, as
/// EventBridge counts them.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// One entry to publish: what `PutEvents` needs, and which input (stream
/// record) it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub origin: usize,
    pub detail_type: String,
    pub detail: String,
    /// `occurredAt`, as the entry's `Time`.
    pub time: String,
}

impl Entry {
    /// The entry of `event`, in the notice form (without `resource`) when
    /// the whole event would not fit one request.
    pub fn of(event: &Event, origin: usize) -> Entry {
        let whole = Entry::whole(event, origin);
        if whole.size() <= MAX_REQUEST_BYTES {
            whole
        } else {
            Entry::whole(&event.notice(), origin)
        }
    }

    fn whole(event: &Event, origin: usize) -> Entry {
        Entry {
            origin,
            detail_type: event.detail_type().to_owned(),
            detail: event.detail_json(),
            time: event.detail.occurred_at.clone(),
        }
    }

    /// The local sink's line: `detail-type`, `detail`, `source`, `time`.
    pub fn json_line(&self) -> String {
        let detail: serde_json::Value =
            serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "detail-type": self.detail_type,
            "source": SOURCE,
            "time": self.time,
            "detail": detail,
        })
        .to_string()
    }

    /// The entry's size as EventBridge computes it: 14 bytes for `Time`,
    /// then the UTF-8 bytes of `Source`, `DetailType` and `Detail`.
    pub fn size(&self) -> usize {
        14 + SOURCE.len() + self.detail_type.len() + self.detail.len()
    }
}

/// Splits `entries`, in order, into requests of at most [`MAX_ENTRIES`]
/// entries and [`MAX_REQUEST_BYTES`].
pub fn batches(entries: &[Entry]) -> Vec<&[Entry]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        let full = i - start == MAX_ENTRIES || bytes + e.size() > MAX_REQUEST_BYTES;
        if full && i > start {
            out.push(&entries[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += e.size();
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::detail::{Detail, EventType};

    fn event(resource_bytes: usize) -> Event {
        Event {
            detail: Detail {
                event_id: "e".into(),
                event_type: EventType::UserCreated,
                tenant: "acme".into(),
                resource_type: "User",
                id: "u1".into(),
                external_id: None,
                user_name: None,
                display_name: None,
                version: "W/\"1\"".into(),
                occurred_at: "2026-12-01T10:00:00Z".into(),
                resource: Some(json!({"title": "x".repeat(resource_bytes)})),
                resource_omitted: false,
                changed: Vec::new(),
                member: None,
                groups: None,
                request_id: None,
                token_id: None,
                user_agent: None,
            },
        }
    }

    #[test]
    fn an_event_too_large_for_one_entry_is_published_as_a_notice() {
        let small = Entry::of(&event(100), 0);
        assert!(small.detail.contains("resource"));
        let big = Entry::of(&event(300 * 1024), 3);
        assert!(!big.detail.contains("\"resource\""));
        assert!(big.detail.contains("\"resourceOmitted\":true"));
        assert_eq!(big.origin, 3);
        assert!(big.size() < 1024);
    }

    #[test]
    fn batches_hold_at_most_ten_entries_and_256_kb() {
        let entries: Vec<Entry> = (0..25).map(|i| Entry::of(&event(10), i)).collect();
        let sizes: Vec<usize> = batches(&entries).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let large: Vec<Entry> = (0..5).map(|i| Entry::of(&event(100 * 1024), i)).collect();
        let split = batches(&large);
        assert_eq!(split.iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 2, 1]);
        for b in split {
            assert!(b.iter().map(Entry::size).sum::<usize>() <= MAX_REQUEST_BYTES);
        }
        assert!(batches(&[]).is_empty());
    }
}
