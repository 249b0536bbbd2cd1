//! One SCIM request as the request log keeps it: who called, what was
//! asked, what was answered. Never a token (only its id) and never a
//! request body.

use serde::{Deserialize, Serialize};

use super::change::{RecordChange, Target};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The `type` of a request record's log line: what the CloudWatch Logs
/// subscription filter of the `recorder` function matches.
pub const LINE_TYPE: &str = "scim.request";

/// Longest path or query kept; a longer one is cut (a record stays small).
const MAX_TEXT: usize = 512;
/// Most bytes of a record as JSON: a bigger change is summarised.
pub const MAX_RECORD_BYTES: usize = 4096;

/// One request of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// RFC 3339 with milliseconds, UTC.
    pub time: String,
    pub tenant: String,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub duration_ms: u64,
    /// What the request did, at a glance (`user.created`, `list`, ...).
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Who the request was about (userName or displayName, externalId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// What a write changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<RecordChange>,
    /// For `user.lookup`: whether the filter found the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
}

/// The log line that carries a record to the `recorder` function.
#[derive(Debug, Serialize, Deserialize)]
struct Line<R> {
    #[serde(rename = "type")]
    kind: String,
    record: R,
}

impl RequestRecord {
    /// The record as one JSON log line (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(&Line {
            kind: LINE_TYPE.to_owned(),
            record: self,
        })
        .unwrap_or_default()
    }

    /// The record a log line carries; `None` for any other line.
    pub fn from_line(line: &str) -> Option<RequestRecord> {
        let line: Line<RequestRecord> = serde_json::from_str(line.trim()).ok()?;
        (line.kind == LINE_TYPE).then_some(line.record)
    }

    /// The record summarised until its JSON fits [`MAX_RECORD_BYTES`]:
    /// change values, then change details, then the texts.
    pub fn fit(mut self) -> RequestRecord {
        let size = |r: &RequestRecord| serde_json::to_string(r).map_or(0, |t| t.len());
        while size(&self) > MAX_RECORD_BYTES
            && self.change.as_mut().is_some_and(RecordChange::shrink)
        {}
        if size(&self) > MAX_RECORD_BYTES {
            self.path = short(&self.path);
            self.query = self.query.as_deref().map(short);
            self.detail = self.detail.as_deref().map(short);
            self.user_agent = self.user_agent.as_deref().map(short);
        }
        self
    }

    /// When the request was answered.
    pub fn instant(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.time, &Rfc3339).ok()
    }
}

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary.
pub fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// `text` cut to 128 characters: the last resort of [`RequestRecord::fit`].
fn short(text: &str) -> String {
    text.chars().take(128).collect()
}

/// Now as a record's `time`.
pub fn now_text() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// An instant as a record's `time`: milliseconds, `Z`.
pub fn format_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> RequestRecord {
        RequestRecord {
            time: "2026-12-07T10:00:00.123Z".into(),
            tenant: "acme".into(),
            request_id: "r1".into(),
            token_id: Some("tok_1".into()),
            user_agent: Some("Azure Active Directory SCIM Client".into()),
            method: "POST".into(),
            path: "/scim/v2/acme/Users".into(),
            query: None,
            status: 201,
            scim_type: None,
            detail: None,
            duration_ms: 12,
            action: "user.created".into(),
            resource_type: Some("User".into()),
            resource_id: Some("u1".into()),
            target: None,
            change: None,
            matched: None,
        }
    }

    #[test]
    fn a_big_change_is_summarised_into_four_kilobytes() {
        use crate::request_log::change::{AttributeChange, MemberDelta};
        let mut record = sample();
        record.change = Some(RecordChange {
            attributes: (0..80)
                .map(|i| AttributeChange {
                    path: format!("urn:example:ext:2.0:User:attribute{i}"),
                    old: Some(serde_json::json!("o".repeat(300))),
                    new: Some(serde_json::json!("n".repeat(30))),
                })
                .collect(),
            attributes_total: 80,
            members_added: Some(MemberDelta {
                ids: vec!["x".repeat(36); 20],
                total: 900,
            }),
            ..RecordChange::default()
        });
        record.detail = Some("d".repeat(500));
        let fitted = record.fit();
        let text = serde_json::to_string(&fitted).unwrap();
        assert!(text.len() <= MAX_RECORD_BYTES, "{}", text.len());
        let change = fitted.change.unwrap();
        assert!(change.summarised);
        assert_eq!(change.attributes_total, 80);
        assert_eq!(change.members_added.unwrap().total, 900);
        assert_eq!(sample().fit(), sample(), "a small record is kept as it is");
    }

    #[test]
    fn a_record_round_trips_through_its_log_line_and_other_lines_are_not_records() {
        let record = sample();
        let line = record.to_line();
        assert!(
            line.starts_with(r#"{"type":"scim.request","record":{"#),
            "{line}"
        );
        assert_eq!(RequestRecord::from_line(&line), Some(record));
        assert_eq!(
            RequestRecord::from_line(r#"{"type":"other","record":{}}"#),
            None
        );
        assert_eq!(RequestRecord::from_line("not json"), None);
        assert_eq!(
            RequestRecord::from_line(r#"{"level":"INFO","message":"request"}"#),
            None
        );
    }

    #[test]
    fn times_have_milliseconds_and_texts_are_bounded_at_char_boundaries() {
        let at = OffsetDateTime::parse("2026-12-07T10:00:00.5+01:00", &Rfc3339).unwrap();
        assert_eq!(format_time(at), "2026-12-07T09:00:00.500Z");
        assert_eq!(sample().instant().unwrap().millisecond(), 123);
        let long = "é".repeat(400);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_TEXT && cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded("short"), "short");
    }
}
