//! `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3), bounded: the attributes a
//! list can be ordered by, and how their values compare. A sorted list
//! orders every match in memory, so it is offered only up to
//! [`MAX_SORTED`] matches; past that the client narrows its filter.

use std::cmp::Ordering;

use serde_json::Value;

use super::error::{ScimError, ScimType};
use super::schema::ResourceKind;

/// Most matches a sorted list orders.
pub const MAX_SORTED: usize = 1000;

/// An attribute a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    UserName,
    DisplayName,
    ExternalId,
    Created,
    LastModified,
}

/// A parsed `sortBy` with its `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

fn sortable(kind: ResourceKind) -> &'static [(&'static str, SortKey)] {
    const COMMON: [(&str, SortKey); 4] = [
        ("displayName", SortKey::DisplayName),
        ("externalId", SortKey::ExternalId),
        ("meta.created", SortKey::Created),
        ("meta.lastModified", SortKey::LastModified),
    ];
    const USER: [(&str, SortKey); 5] = [
        ("userName", SortKey::UserName),
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
    ];
    match kind {
        ResourceKind::User => &USER,
        ResourceKind::Group => &COMMON,
    }
}

impl Sort {
    /// `sortBy` (case-insensitive, optionally qualified by the core schema
    /// URN) and `sortOrder` (`ascending`, the default, or `descending`);
    /// `None` without `sortBy`.
    pub fn parse(
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        kind: ResourceKind,
    ) -> Result<Option<Sort>, ScimError> {
        let Some(by) = sort_by.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let core = format!(
            "{}:",
            match kind {
                ResourceKind::User => super::schema::USER_URN,
                ResourceKind::Group => super::schema::GROUP_URN,
            }
        );
        let name = match by.get(..core.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(&core) => &by[core.len()..],
            _ => by,
        };
        let choices = sortable(kind);
        let key = choices
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!(
                        "{} cannot be sorted by {by}; sortBy can be {}",
                        kind.endpoint(),
                        names.join(", ")
                    ),
                )
            })?;
        let descending = match sort_order.map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("sortOrder is ascending or descending, not {o}"),
                ));
            }
        };
        Ok(Some(Sort { key, descending }))
    }

    /// The value a document is sorted by: case-folded where the attribute
    /// is not case-exact (`userName`, `displayName`), as stored otherwise
    /// (`externalId`; the `meta` times, RFC 3339 in UTC, order as text).
    pub fn value(&self, doc: &Value) -> Option<String> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        match self.key {
            SortKey::UserName => text(doc.get("userName")).map(|s| s.to_lowercase()),
            SortKey::DisplayName => text(doc.get("displayName")).map(|s| s.to_lowercase()),
            SortKey::ExternalId => text(doc.get("externalId")),
            SortKey::Created => text(doc.get("meta").and_then(|m| m.get("created"))),
            SortKey::LastModified => text(doc.get("meta").and_then(|m| m.get("lastModified"))),
        }
    }

    /// The order of two (value, id) pairs: by value, resources without one
    /// last, ties by id; `descending` reverses it all.
    pub fn compare(&self, a: (&Option<String>, &str), b: (&Option<String>, &str)) -> Ordering {
        let by_value = match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let order = by_value.then_with(|| a.1.cmp(b.1));
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }

    /// A name for cursor scopes.
    pub fn describe(&self) -> String {
        format!("{:?}{}", self.key, if self.descending { "-" } else { "+" })
    }
}

/// `400 tooMany` for a sorted list of more matches than are sorted.
pub fn too_many_to_sort(matches: u64) -> ScimError {
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "a sorted list orders at most {MAX_SORTED} matches, this one has {matches}; narrow the filter (or list without sortBy, in id order)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sortable_attributes_and_orders_are_parsed() {
        let user = |by: &str, order: Option<&str>| Sort::parse(Some(by), order, ResourceKind::User);
        assert_eq!(
            user("USERNAME", None).unwrap(),
            Some(Sort {
                key: SortKey::UserName,
                descending: false
            })
        );
        assert_eq!(
            user(
                "urn:ietf:params:scim:schemas:core:2.0:User:meta.created",
                Some("Descending")
            )
            .unwrap(),
            Some(Sort {
                key: SortKey::Created,
                descending: true
            })
        );
        assert_eq!(
            Sort::parse(None, Some("descending"), ResourceKind::User).unwrap(),
            None
        );
        let err = user("title", None).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        assert!(
            err.detail.contains("userName, displayName"),
            "{}",
            err.detail
        );
        let err = Sort::parse(Some("userName"), None, ResourceKind::Group).unwrap_err();
        assert!(!err.detail.contains("userName,"), "{}", err.detail);
        assert_eq!(user("userName", Some("up")).unwrap_err().status, 400);
    }

    #[test]
    fn values_fold_case_where_the_attribute_does_and_missing_ones_go_last() {
        let sort = Sort {
            key: SortKey::UserName,
            descending: false,
        };
        assert_eq!(
            sort.value(&json!({"userName": "Ada@X"})).as_deref(),
            Some("ada@x")
        );
        let (a, b, none) = (Some("a".to_owned()), Some("b".to_owned()), None);
        assert_eq!(sort.compare((&a, "2"), (&b, "1")), Ordering::Less);
        assert_eq!(sort.compare((&none, "1"), (&b, "2")), Ordering::Greater);
        assert_eq!(sort.compare((&a, "1"), (&a, "2")), Ordering::Less);
        let down = Sort {
            descending: true,
            ..sort
        };
        assert_eq!(down.compare((&a, "2"), (&b, "1")), Ordering::Greater);
        let ext = Sort {
            key: SortKey::ExternalId,
            descending: false,
        };
        assert_eq!(
            ext.value(&json!({"externalId": "AbC"})).as_deref(),
            Some("AbC")
        );
    }
}
