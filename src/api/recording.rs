//! What the front door tells the request log about one request: the
//! record built from the parsed request and the answer, handed to the
//! deployment's [`Recorder`](crate::request_log::Recorder).

use http::Method;

use super::request::{Endpoint, ScimRequest};
use super::response::ScimResponse;
use serde_json::Value;

use crate::request_log::audit::Audit;
use crate::request_log::record::{bounded, now_text};
use crate::request_log::{LogValues, RecordChange, RequestRecord, Target};

/// What a request did, read from its method, endpoint, answer and the
/// change it made: a support engineer's first column.
pub fn action(req: &ScimRequest, status: u16, change: Option<&RecordChange>) -> &'static str {
    if status >= 500 {
        return "failed";
    }
    if status >= 400 {
        return "rejected";
    }
    let looked_up = || {
        req.query_param("filter").is_some_and(|f| {
            let f = f.to_ascii_lowercase();
            f.contains("username") || f.contains("externalid")
        })
    };
    match (&req.endpoint, &req.method) {
        (Endpoint::Users(None), &Method::POST) => "user.created",
        (Endpoint::Users(Some(_)), &Method::PUT | &Method::PATCH) => user_update(change),
        (Endpoint::Users(Some(_)), &Method::DELETE) => "user.deleted",
        (Endpoint::Users(Some(_)), _) => "user.read",
        (Endpoint::Users(None), _) if looked_up() => "user.lookup",
        (Endpoint::Groups(None), &Method::POST) => "group.created",
        (Endpoint::Groups(Some(_)), &Method::PUT | &Method::PATCH) => group_update(change),
        (Endpoint::Groups(Some(_)), &Method::DELETE) => "group.deleted",
        (Endpoint::Groups(Some(_)), _) => "group.read",
        (
            Endpoint::Schemas(_) | Endpoint::ResourceTypes(_) | Endpoint::ServiceProviderConfig,
            _,
        ) => "discovery",
        (Endpoint::Bulk, _) => "bulk",
        _ => "list",
    }
}

/// `user.deactivated` / `user.reactivated` when `active` flipped.
fn user_update(change: Option<&RecordChange>) -> &'static str {
    let active = change.and_then(|c| c.attribute("active")).map(|a| {
        (
            a.old.as_ref().and_then(Value::as_bool),
            a.new.as_ref().and_then(Value::as_bool),
        )
    });
    match active {
        Some((Some(true) | None, Some(false))) => "user.deactivated",
        Some((Some(false), Some(true))) => "user.reactivated",
        _ => "user.updated",
    }
}

/// `group.members_added` / `group.members_removed` when only members moved.
fn group_update(change: Option<&RecordChange>) -> &'static str {
    let Some(change) = change.filter(|c| c.attributes_total == 0) else {
        return "group.updated";
    };
    match (&change.members_added, &change.members_removed) {
        (Some(_), None) => "group.members_added",
        (None, Some(_)) => "group.members_removed",
        _ => "group.updated",
    }
}

/// Whom a request was about: the stored resource it changed, else the
/// resource its body describes (a create refused as a duplicate).
fn target_of(req: &ScimRequest, audit: &Audit, values: LogValues) -> Option<Target> {
    if let Some(doc) = audit
        .after
        .as_ref()
        .or(audit.before.as_ref())
        .or(audit.subject.as_ref())
    {
        return Target::of(doc, values);
    }
    if req.method == Method::POST || req.method == Method::PUT {
        let body: Value = serde_json::from_slice(&req.body).ok()?;
        return Target::of(&body, values);
    }
    // A lookup names whom it looked for (`userName eq "..."`).
    let filter = req.query_param("filter")?;
    let mut looked_for = serde_json::Map::new();
    for name in ["userName", "externalId"] {
        if let Some(value) = compared_value(filter, name) {
            looked_for.insert(name.to_owned(), Value::String(value));
        }
    }
    Target::of(&Value::Object(looked_for), values)
}

/// The value `filter` compares `attribute` with by `eq`, if it does.
fn compared_value(filter: &str, attribute: &str) -> Option<String> {
    let lower = filter.to_ascii_lowercase();
    let at = lower.find(&format!("{} eq \"", attribute.to_ascii_lowercase()))?;
    let rest = &filter[at + attribute.len() + 5..];
    rest.split('"').next().map(str::to_owned)
}

/// The resource type and id a request is about.
fn target(req: &ScimRequest, response: &ScimResponse) -> (Option<&'static str>, Option<String>) {
    let created_id = || {
        response
            .body
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    match &req.endpoint {
        Endpoint::Users(Some(id)) => (Some("User"), Some(id.clone())),
        Endpoint::Groups(Some(id)) => (Some("Group"), Some(id.clone())),
        Endpoint::Users(None) if req.method == Method::POST => (Some("User"), created_id()),
        Endpoint::Groups(None) if req.method == Method::POST => (Some("Group"), created_id()),
        Endpoint::Users(_) | Endpoint::UsersSearch => (Some("User"), None),
        Endpoint::Groups(_) | Endpoint::GroupsSearch => (Some("Group"), None),
        _ => (None, None),
    }
}

/// Masks every double-quoted value of a query (filter values are user
/// names and addresses) beyond its first two characters.
pub fn mask_quoted(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut in_quotes = false;
    let mut kept = 0;
    for c in query.chars() {
        if c == '"' {
            if in_quotes && kept > 2 {
                out.push_str("***");
            }
            in_quotes = !in_quotes;
            kept = 0;
            out.push(c);
        } else if in_quotes {
            kept += 1;
            if kept <= 2 {
                out.push(c);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the front door knows of an answered request besides the request
/// itself.
pub struct Answered<'a> {
    pub path: &'a str,
    pub raw_query: Option<&'a str>,
    /// The id of the token it came with (never the token).
    pub token_id: Option<&'a str>,
    pub response: &'a ScimResponse,
    pub duration_ms: u64,
    /// What its handlers noted it changed.
    pub audit: &'a Audit,
    pub values: LogValues,
}

/// The record of an answered request, within [`MAX_RECORD_BYTES`](crate::request_log::record::MAX_RECORD_BYTES).
pub fn record_of(req: &ScimRequest, answered: &Answered<'_>) -> RequestRecord {
    let response = answered.response;
    let status = response.status.as_u16();
    let error = status >= 400;
    let body = response.body.as_ref();
    let field = |name: &str| {
        body.filter(|_| error)
            .and_then(|b| b.get(name))
            .and_then(|v| v.as_str())
            .map(bounded)
    };
    let (resource_type, resource_id) = target(req, response);
    let decoded_query = answered.raw_query.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    let change = RecordChange::of(answered.audit, answered.values);
    let action = action(req, status, change.as_ref());
    let matched = (action == "user.lookup")
        .then(|| {
            body.and_then(|b| b.get("totalResults"))
                .and_then(Value::as_u64)
        })
        .flatten()
        .map(|total| total > 0);
    RequestRecord {
        time: now_text(),
        tenant: req.tenant.to_string(),
        request_id: req.request_id.as_str().to_owned(),
        token_id: answered.token_id.map(str::to_owned),
        user_agent: super::request::user_agent(&req.headers),
        method: req.method.to_string(),
        path: bounded(answered.path),
        query: decoded_query
            .filter(|q| !q.is_empty())
            .map(|q| match answered.values {
                LogValues::Full => bounded(&q),
                LogValues::Masked => bounded(&mask_quoted(&q)),
            }),
        status,
        scim_type: field("scimType"),
        detail: field("detail"),
        duration_ms: answered.duration_ms,
        action: action.to_owned(),
        resource_type: resource_type.map(str::to_owned),
        resource_id,
        target: target_of(req, answered.audit, answered.values),
        change,
        matched,
    }
    .fit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_name_the_value_they_compare() {
        let f = r#"userName eq "Ada@example.com" and externalId eq "e1""#;
        assert_eq!(
            compared_value(f, "userName").as_deref(),
            Some("Ada@example.com")
        );
        assert_eq!(compared_value(f, "externalId").as_deref(), Some("e1"));
        assert_eq!(compared_value("displayName eq \"x\"", "userName"), None);
    }

    #[test]
    fn quoted_values_are_masked_beyond_two_characters() {
        assert_eq!(
            mask_quoted(r#"filter=userName eq "ada@example.com""#),
            r#"filter=userName eq "ad***""#
        );
        assert_eq!(mask_quoted(r#"a="xy" and b="""#), r#"a="xy" and b="""#);
        assert_eq!(mask_quoted("count=10"), "count=10");
        assert_eq!(mask_quoted(r#"x="éàü…""#), r#"x="éà***""#);
    }
}
