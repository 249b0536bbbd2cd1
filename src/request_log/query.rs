//! Reading a tenant's request log: the filters of
//! `GET /manage/v1/tenants/{id}/requests`, parsed once, and the position a
//! page ends at.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::change::user_name_key;
use super::record::RequestRecord;

/// Records a page holds by default, and at most.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
/// The largest `minDurationMs` (an hour: no request lasts longer).
pub const MAX_MIN_DURATION_MS: u64 = 3_600_000;
/// Records one page examines at most (one store query): a selective
/// filter answers a short page with a cursor rather than reading on.
pub const EXAMINED_PER_PAGE: usize = 1_000;

/// Why a query string is not a request-log query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Where a record sits in its tenant's log: its time, then its request id
/// (the order of the store's sort key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogPosition {
    pub time: String,
    pub request_id: String,
}

impl LogPosition {
    pub fn of(record: &RequestRecord) -> LogPosition {
        LogPosition {
            time: record.time.clone(),
            request_id: record.request_id.clone(),
        }
    }

    /// The `nextCursor` of a page: `{time}/{request id}` (a time has no
    /// `/`).
    pub fn cursor(&self) -> String {
        format!("{}/{}", self.time, self.request_id)
    }

    /// Any text is a position: one without `/` is a time, and the page
    /// holds what came before it.
    fn parse_cursor(text: &str) -> LogPosition {
        let (time, request_id) = text.split_once('/').unwrap_or((text, ""));
        LogPosition {
            time: time.to_owned(),
            request_id: request_id.to_owned(),
        }
    }
}

/// The part of a read the store applies: a time range and the end of the
/// previous page, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogWindow {
    /// At or after (a record `time`).
    pub from: Option<String>,
    /// Before (a record `time`).
    pub to: Option<String>,
    /// Strictly older than this position.
    pub before: Option<LogPosition>,
}

impl LogWindow {
    /// Whether `record` lies in the window.
    pub fn contains(&self, record: &RequestRecord) -> bool {
        self.from.as_ref().is_none_or(|f| record.time >= *f)
            && self.to.as_ref().is_none_or(|t| record.time < *t)
            && self
                .before
                .as_ref()
                .is_none_or(|b| LogPosition::of(record) < *b)
    }
}

/// A status filter: one status or a class (`4xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Exact(u16),
    Class(u16),
}

impl StatusFilter {
    fn parse(text: &str) -> Option<StatusFilter> {
        let lower = text.to_ascii_lowercase();
        if let Some(class) = lower.strip_suffix("xx") {
            return class
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .map(StatusFilter::Class);
        }
        text.parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .map(StatusFilter::Exact)
    }

    fn matches(self, status: u16) -> bool {
        match self {
            StatusFilter::Exact(s) => status == s,
            StatusFilter::Class(c) => status / 100 == c,
        }
    }
}

/// The filters and page of one read, all optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Records at or after this time (RFC 3339, normalised to the records'
    /// form).
    pub from: Option<String>,
    /// Records before this time.
    pub to: Option<String>,
    pub status: Option<StatusFilter>,
    pub action: Option<String>,
    pub resource_id: Option<String>,
    /// [`user_name_key`] of the userName asked for.
    pub user_name_key: Option<String>,
    pub external_id: Option<String>,
    pub min_duration_ms: Option<u64>,
    pub limit: usize,
    /// Records strictly older than this position (the previous page's end).
    pub before: Option<LogPosition>,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery {
            from: None,
            to: None,
            status: None,
            action: None,
            resource_id: None,
            user_name_key: None,
            external_id: None,
            min_duration_ms: None,
            limit: DEFAULT_LIMIT,
            before: None,
        }
    }
}

/// An RFC 3339 instant in the records' form (UTC, milliseconds), which
/// sorts as text in time order.
fn instant(name: &str, text: &str) -> Result<String, QueryError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(super::record::format_time)
        .map_err(|_| {
            QueryError(format!(
                "{name} must be an RFC 3339 time, such as 2026-12-07T10:00:00Z"
            ))
        })
}

impl LogQuery {
    /// Parses a query string; unknown parameters are refused (a typo must
    /// not silently widen the result).
    pub fn parse(query: Option<&str>) -> Result<LogQuery, QueryError> {
        let mut q = LogQuery::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let v = v.trim();
            match k.as_ref() {
                "from" => q.from = Some(instant("from", v)?),
                "to" => q.to = Some(instant("to", v)?),
                "status" => {
                    q.status = Some(StatusFilter::parse(v).ok_or_else(|| {
                        QueryError("status must be a status (409) or a class (4xx)".into())
                    })?)
                }
                "action" => q.action = Some(v.to_owned()),
                "resourceId" => q.resource_id = Some(v.to_owned()),
                "userName" => q.user_name_key = Some(user_name_key(v)),
                "externalId" => q.external_id = Some(v.to_owned()),
                "minDurationMs" => {
                    q.min_duration_ms = Some(
                        v.parse()
                            .ok()
                            .filter(|d| *d <= MAX_MIN_DURATION_MS)
                            .ok_or_else(|| {
                                QueryError(format!(
                                    "minDurationMs must be whole milliseconds from 0 to {MAX_MIN_DURATION_MS}"
                                ))
                            })?,
                    )
                }
                "limit" => {
                    q.limit = v
                        .parse()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                            QueryError(format!(
                                "limit must be a whole number from 1 to {MAX_LIMIT}"
                            ))
                        })?
                }
                "cursor" if v.is_empty() => q.before = None,
                "cursor" => q.before = Some(LogPosition::parse_cursor(v)),
                other => return Err(QueryError(format!("unknown parameter {other}"))),
            }
        }
        Ok(q)
    }

    /// The time range and position, for the store.
    pub fn window(&self) -> LogWindow {
        LogWindow {
            from: self.from.clone(),
            to: self.to.clone(),
            before: self.before.clone(),
        }
    }

    /// Whether `record` passes every filter but the time range (the store
    /// applies that one).
    pub fn matches(&self, record: &RequestRecord) -> bool {
        let target = record.target.as_ref();
        self.status.is_none_or(|s| s.matches(record.status))
            && self.action.as_ref().is_none_or(|a| *a == record.action)
            && self
                .resource_id
                .as_ref()
                .is_none_or(|id| record.resource_id.as_ref() == Some(id))
            && self
                .user_name_key
                .as_ref()
                .is_none_or(|k| target.and_then(|t| t.user_name_key.as_ref()) == Some(k))
            && self
                .external_id
                .as_ref()
                .is_none_or(|e| target.and_then(|t| t.external_id.as_ref()) == Some(e))
            && self.min_duration_ms.is_none_or(|d| record.duration_ms >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_filter_and_refuses_what_it_does_not_know() {
        let q = LogQuery::parse(Some(
            "from=2026-12-07T10:00:00%2B01:00&status=4xx&action=user.created&resourceId=u1\
             &userName=Ada%40Example.com&externalId=e1&minDurationMs=250&limit=20",
        ))
        .unwrap();
        assert_eq!(q.from.as_deref(), Some("2026-12-07T09:00:00.000Z"));
        assert_eq!(q.status, Some(StatusFilter::Class(4)));
        assert_eq!(q.user_name_key, Some(user_name_key("ada@example.com")));
        assert_eq!((q.min_duration_ms, q.limit), (Some(250), 20));
        for bad in [
            "status=6xx",
            "status=abc",
            "limit=0",
            "limit=201",
            "from=yesterday",
            "minDurationMs=-1",
            "sort=time",
        ] {
            assert!(LogQuery::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cursor_round_trips() {
        let at = LogPosition {
            time: "2026-12-07T10:00:00.000Z".into(),
            request_id: "r/1=".into(),
        };
        let cursor: String = form_urlencoded::byte_serialize(at.cursor().as_bytes()).collect();
        let q = LogQuery::parse(Some(&format!("cursor={cursor}"))).unwrap();
        assert_eq!(q.before, Some(at));
        let q = LogQuery::parse(Some("cursor=2026-12-07")).unwrap();
        assert_eq!(q.before.unwrap().request_id, "");
        assert_eq!(LogQuery::parse(Some("cursor=")).unwrap().before, None);
    }

    #[test]
    fn status_filters_match_exactly_or_by_class() {
        assert!(StatusFilter::parse("409").unwrap().matches(409));
        assert!(!StatusFilter::parse("409").unwrap().matches(400));
        assert!(StatusFilter::parse("2XX").unwrap().matches(204));
    }
}
