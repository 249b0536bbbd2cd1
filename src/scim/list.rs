//! List responses and paging parameters (RFC 7644 §3.4.2, §3.4.2.4 and
//! RFC 9865 cursors).

use serde_json::{Value, json};

use super::error::{ScimError, ScimType};

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// How a client asked to page through a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// Index paging: 1-based `startIndex` and `count`.
    Index { start_index: u64, count: u64 },
    /// Cursor paging (RFC 9865): `cursor` is empty for the first page.
    Cursor { cursor: Option<String>, count: u64 },
}

impl Paging {
    pub fn count(&self) -> u64 {
        match self {
            Paging::Index { count, .. } | Paging::Cursor { count, .. } => *count,
        }
    }

    /// Parses `startIndex`, `count` and `cursor` with the RFC's clamping
    /// rules: a `startIndex` below 1 is 1, a negative `count` is 0, a `count`
    /// above `max_count` is `max_count`. A non-integer is `invalidValue`
    /// (`invalidCount` for `count` under cursor paging, per RFC 9865); a
    /// `cursor` together with `startIndex` is ambiguous and rejected.
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        cursor: Option<&str>,
        default_count: u64,
        max_count: u64,
    ) -> Result<Paging, ScimError> {
        let count_error = if cursor.is_some() {
            ScimType::InvalidCount
        } else {
            ScimType::InvalidValue
        };
        let count = match count {
            None => default_count.min(max_count),
            Some(text) => {
                let n = parse_integer(text).ok_or_else(|| {
                    ScimError::bad_request(count_error, "count must be an integer")
                })?;
                u64::try_from(n.max(0)).unwrap_or(0).min(max_count)
            }
        };
        match (cursor, start_index) {
            (Some(_), Some(_)) => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "cursor and startIndex cannot be combined",
            )),
            (Some(cursor), None) => Ok(Paging::Cursor {
                cursor: (!cursor.is_empty()).then(|| cursor.to_owned()),
                count,
            }),
            (None, start) => {
                let start_index = match start {
                    None => 1,
                    Some(text) => {
                        let n = parse_integer(text).ok_or_else(|| {
                            ScimError::bad_request(
                                ScimType::InvalidValue,
                                "startIndex must be an integer",
                            )
                        })?;
                        u64::try_from(n.max(1)).unwrap_or(1)
                    }
                };
                Ok(Paging::Index { start_index, count })
            }
        }
    }
}

fn parse_integer(text: &str) -> Option<i64> {
    let text = text.trim();
    text.parse::<i64>().ok().or_else(|| {
        // Saturate absurdly large values instead of rejecting them.
        let digits = text.strip_prefix('-').unwrap_or(text);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| {
            if text.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            }
        })
    })
}

/// An RFC 9865 cursor: the id the next page starts after, bound to the
/// query (resource type and filter) that produced it. It is opaque to
/// clients but not secret: the tenant comes from the authenticated path and
/// the id only positions a read within that tenant, so a forged cursor can
/// at worst skip ahead; a cursor of another query is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub after: String,
}

const CURSOR_VERSION: &str = "c1";

impl Cursor {
    /// The text handed to clients as `nextCursor`.
    pub fn encode(&self, query: &str) -> String {
        use base64::Engine as _;
        let text = format!("{CURSOR_VERSION}.{}.{}", fingerprint(query), self.after);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// Reads a cursor sent back for `query`: `400 invalidCursor` when it is
    /// not one of ours or belongs to another query.
    pub fn decode(text: &str, query: &str) -> Result<Cursor, ScimError> {
        use base64::Engine as _;
        let invalid = || {
            ScimError::bad_request(
                ScimType::InvalidCursor,
                "the cursor is not valid for this query; start again without a cursor",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, '.');
        let (Some(CURSOR_VERSION), Some(print), Some(after)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let valid_id = (1..=128).contains(&after.len())
            && after
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if print != fingerprint(query) || !valid_id {
            return Err(invalid());
        }
        Ok(Cursor {
            after: after.to_owned(),
        })
    }
}

/// A short digest of a query, so a cursor is only used with its own query.
fn fingerprint(query: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(query.as_bytes())[..8])
}

/// One page of a list, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub resources: Vec<Value>,
    pub total_results: u64,
    /// Present under index paging.
    pub start_index: Option<u64>,
    /// Present under cursor paging when more results follow.
    pub next_cursor: Option<String>,
}

impl ListPage {
    /// A complete, unpaged list (discovery endpoints).
    pub fn all(resources: Vec<Value>) -> Self {
        ListPage {
            total_results: resources.len() as u64,
            resources,
            start_index: Some(1),
            next_cursor: None,
        }
    }

    /// The ListResponse document with integer paging fields.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": self.total_results,
            "itemsPerPage": self.resources.len(),
        });
        if let Some(start) = self.start_index {
            body["startIndex"] = json!(start);
        }
        if let Some(next) = &self.next_cursor {
            body["nextCursor"] = json!(next);
        }
        body["Resources"] = Value::Array(self.resources.clone());
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        start: Option<&str>,
        count: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Paging, ScimError> {
        Paging::parse(start, count, cursor, 100, 1000)
    }

    #[test]
    fn index_paging_clamps_per_rfc_7644() {
        let cases = [
            ((None, None), (1, 100)),
            ((Some("1"), Some("100")), (1, 100)),
            ((Some("101"), Some("100")), (101, 100)),
            ((Some("0"), Some("10")), (1, 10)),
            ((Some("-5"), Some("-1")), (1, 0)),
            ((Some("1"), Some("5000")), (1, 1000)),
            ((Some(" 3 "), Some("0")), (3, 0)),
            (
                (Some("99999999999999999999999"), Some("1")),
                (i64::MAX as u64, 1),
            ),
        ];
        for ((start, count), (want_start, want_count)) in cases {
            assert_eq!(
                parse(start, count, None).unwrap(),
                Paging::Index {
                    start_index: want_start,
                    count: want_count
                },
                "{start:?} {count:?}"
            );
        }
    }

    #[test]
    fn cursor_paging_and_its_errors() {
        assert_eq!(
            parse(None, Some("10"), Some("")).unwrap(),
            Paging::Cursor {
                cursor: None,
                count: 10
            }
        );
        assert_eq!(
            parse(None, None, Some("abc")).unwrap(),
            Paging::Cursor {
                cursor: Some("abc".into()),
                count: 100
            }
        );
        let err = parse(None, Some("ten"), Some("")).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidCount));
        let err = parse(None, Some("ten"), None).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        let err = parse(Some("1"), None, Some("abc")).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(parse(Some("x"), None, None).is_err());
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_query() {
        let c = Cursor {
            after: "5f0c-42".into(),
        };
        let text = c.encode("User|active eq true");
        assert_eq!(Cursor::decode(&text, "User|active eq true"), Ok(c));
        let invalid = |t: &str, q: &str| {
            Cursor::decode(t, q).unwrap_err().scim_type == Some(ScimType::InvalidCursor)
        };
        assert!(invalid(&text, "User|active eq false"), "another query");
        assert!(invalid(&text, "Group|active eq true"), "another type");
        assert!(invalid("not base64!", "User|"));
        assert!(invalid("", "User|"));
        let forged = |after: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("c1.{}.{after}", fingerprint("User|")))
        };
        assert!(Cursor::decode(&forged("abc"), "User|").is_ok());
        assert!(invalid(&forged("a#b"), "User|"), "ids never hold '#'");
        assert!(invalid(&forged(""), "User|"));
    }

    #[test]
    fn list_response_has_integer_paging_fields() {
        let page = ListPage {
            resources: vec![json!({"id": "a"})],
            total_results: 7,
            start_index: Some(3),
            next_cursor: None,
        };
        assert_eq!(
            page.to_json(),
            json!({
                "schemas": [LIST_RESPONSE_URN],
                "totalResults": 7,
                "itemsPerPage": 1,
                "startIndex": 3,
                "Resources": [{"id": "a"}],
            })
        );
        let cursor = ListPage {
            resources: vec![],
            total_results: 0,
            start_index: None,
            next_cursor: Some("n".into()),
        }
        .to_json();
        assert_eq!(cursor["nextCursor"], "n");
        assert_eq!(cursor["Resources"], json!([]));
        assert!(cursor.get("startIndex").is_none());
    }
}
