//! What every resource endpoint shares: rendering a stored record (id,
//! `meta`, `$ref`), ETags and preconditions, request bodies.

use serde_json::{Map, Value, json};

use http::StatusCode;
use http::header::{ETAG, LOCATION};

use super::request::ScimRequest;
use super::response::ScimResponse;
use crate::scim::limits::{LimitError, MAX_BODY_BYTES};
use crate::scim::projection::Projection;
use crate::scim::resource::{finish, now};
use crate::scim::schema::{ENTERPRISE_URN, Registry, ResourceKind};
use crate::scim::{ScimError, ScimType};
use crate::store::{ManagerLink, Record, Store};
use crate::tenant::TenantId;

/// The ETag of a version: weak, because the representation depends on
/// `attributes` while the version does not.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// `{base}/Users/{id}`.
pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base}{}/{id}", kind.endpoint())
}

/// Sets `meta.created` (kept from `previous`, else now),
/// `meta.lastModified` and `meta.resourceType` on a document to store.
pub fn stamp(doc: &mut Value, kind: ResourceKind, previous: Option<&Value>) {
    let now = now();
    let created = previous
        .and_then(|p| p.get("meta"))
        .and_then(|m| m.get("created"))
        .and_then(Value::as_str)
        .map_or_else(|| now.clone(), str::to_owned);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "meta".to_owned(),
            json!({"resourceType": kind.name(), "created": created, "lastModified": now}),
        );
    }
}

/// The full response form of a stored record: `id`, `meta` with `location`
/// and `version`, the manager's `$ref` when it is resolved, and the
/// attributes the store keeps apart (`members`, `groups`) when given.
pub fn render(
    record: &Record,
    base: &str,
    registry: &Registry,
    related: Option<(&str, Value)>,
) -> Value {
    let mut doc: Map<String, Value> = record.document.as_object().cloned().unwrap_or_default();
    if let Some((name, value)) = related {
        doc.insert(name.to_owned(), value);
    }
    doc.insert("id".to_owned(), Value::String(record.id.clone()));
    let mut meta = match doc.remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert("resourceType".to_owned(), json!(record.kind.name()));
    meta.insert(
        "location".to_owned(),
        json!(location(base, record.kind, &record.id)),
    );
    meta.insert("version".to_owned(), json!(etag(record.version)));
    doc.insert("meta".to_owned(), Value::Object(meta));
    if let Some(ManagerLink::Resolved(manager)) = &record.manager
        && let Some(Value::Object(reference)) = doc
            .get_mut(ENTERPRISE_URN)
            .and_then(|e| e.get_mut("manager"))
    {
        reference.insert(
            "$ref".to_owned(),
            json!(location(base, ResourceKind::User, manager)),
        );
    }
    Value::Object(finish(doc, record.kind, registry))
}

/// The projection a request asks for with `attributes` /
/// `excludedAttributes`.
pub fn projection(
    req: &ScimRequest,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<Projection, ScimError> {
    Projection::parse(
        req.query_param("attributes"),
        req.query_param("excludedAttributes"),
        kind,
        registry,
    )
}

/// `400 invalidValue` for a record the store cannot hold (see
/// [`Record::key_problem`]).
pub fn check_keys(record: &Record) -> Result<(), ScimError> {
    match record.key_problem() {
        Some(detail) => Err(ScimError::bad_request(ScimType::InvalidValue, detail)),
        None => Ok(()),
    }
}

/// Whether a write would change nothing but `meta.lastModified`: such a
/// write is skipped and the version stays.
pub fn same_content(current: &Record, next: &Record) -> bool {
    let strip = |doc: &Value| {
        let mut doc = doc.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("meta");
        }
        doc
    };
    current.manager == next.manager && strip(&current.document) == strip(&next.document)
}

/// Reads a resource or answers `404` naming it.
pub async fn fetch<S: Store>(
    store: &S,
    tenant: &TenantId,
    kind: ResourceKind,
    id: &str,
) -> Result<Record, ScimError> {
    store
        .get(tenant, kind, id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.name())))
}

/// One resource as the response: the body, its `ETag`, and `Location` on
/// `201`.
pub fn single(req: &ScimRequest, record: &Record, body: Value, status: StatusCode) -> ScimResponse {
    let mut response = ScimResponse::ok(body).with_header(ETAG, &etag(record.version));
    response.status = status;
    if status == StatusCode::CREATED {
        response =
            response.with_header(LOCATION, &location(&req.base_url, record.kind, &record.id));
    }
    response
}

/// `304` when the request's `If-None-Match` names the current version.
pub fn not_modified(req: &ScimRequest, version: u64) -> Option<ScimResponse> {
    req.header("if-none-match")
        .filter(|h| etag_matches(h, version))
        .map(|_| {
            ScimResponse {
                status: StatusCode::NOT_MODIFIED,
                body: None,
                headers: Vec::new(),
            }
            .with_header(ETAG, &etag(version))
        })
}

/// `204`, for DELETE (and PATCH without a requested representation).
pub fn no_content() -> ScimResponse {
    ScimResponse {
        status: StatusCode::NO_CONTENT,
        body: None,
        headers: Vec::new(),
    }
}

/// Whether an `If-Match` / `If-None-Match` header names `version`: `*`, or
/// one of a comma-separated list of (weak or strong) ETags.
pub fn etag_matches(header: &str, version: u64) -> bool {
    header.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == version.to_string()
    })
}

/// `412` unless the request's `If-Match` (when present) names `version`.
pub fn check_if_match(req: &ScimRequest, version: u64) -> Result<(), ScimError> {
    match req.header("if-match") {
        Some(h) if !etag_matches(h, version) => Err(ScimError::new(
            412,
            None,
            format!(
                "If-Match does not match the current version {}",
                etag(version)
            ),
        )),
        _ => Ok(()),
    }
}

/// A short random pause before retrying a write that lost a race, so
/// contending writers spread out.
pub async fn backoff(attempt: u32) {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 10;
    let millis = (5 << attempt.min(5)) + jitter * (u64::from(attempt) + 1);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

/// The request body as JSON: `400 invalidSyntax` when it is not, `413`
/// past the body limit (what reaches a Lambda function is only capped by
/// API Gateway).
pub fn json_body(req: &ScimRequest) -> Result<Value, ScimError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(LimitError::Body.into());
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_weak_strong_lists_and_star() {
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"4\"", 3));
        assert!(!etag_matches("", 3));
    }

    #[test]
    fn render_adds_id_meta_and_manager_ref_in_schema_order() {
        let registry = Registry::default();
        let mut record = Record::new(
            ResourceKind::User,
            "u1",
            7,
            json!({"userName": "a@x", ENTERPRISE_URN: {"manager": {"value": "m1"}},
                   "meta": {"created": "2026-01-01T00:00:00Z", "lastModified": "2026-01-02T00:00:00Z"}}),
        );
        record.manager = Some(ManagerLink::Resolved("m1".into()));
        let out = render(&record, "https://h/scim/v2/acme", &registry, None);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schemas", "id", "meta", "userName", ENTERPRISE_URN]);
        assert_eq!(out["meta"]["version"], "W/\"7\"");
        assert_eq!(out["meta"]["location"], "https://h/scim/v2/acme/Users/u1");
        assert_eq!(out["meta"]["created"], "2026-01-01T00:00:00Z");
        assert_eq!(
            out[ENTERPRISE_URN]["manager"]["$ref"],
            "https://h/scim/v2/acme/Users/m1"
        );
        record.manager = Some(ManagerLink::Pending("m1".into()));
        let out = render(&record, "https://h/scim/v2/acme", &registry, None);
        assert!(out[ENTERPRISE_URN]["manager"].get("$ref").is_none());
    }
}
