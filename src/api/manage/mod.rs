//! The management API (`/manage/v1`): tenants, tokens and health as JSON,
//! on plain `http` types, every route one call of the operator core.
//! Who may call is decided before (API Gateway's IAM check on AWS, the
//! operator key or a console session locally, see `api::operator`).

mod error;
pub mod lambda;

use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::ManageError;

use super::request::RequestId;
use crate::admin::{MAX_HELD_PAGE, Operator, SettingsView};
use crate::auth::TokenStore;
use crate::events::breaker::ResolutionAction;
use crate::request_log::LogQuery;
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;

/// The path every management route starts with (after a stage prefix).
pub const MANAGE_PREFIX: &str = "/manage/v1";
/// Largest body a management request takes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The OpenAPI 3.1 document of every route, body and error of this API
/// (kept true by `tests/manage_openapi.py` and schemathesis in `tests/run.sh`).
pub const OPENAPI_DOCUMENT: &str = include_str!("openapi.json");
/// Default page size of the tenant list.
const DEFAULT_PAGE: usize = 50;

/// Who made a management request, for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM principal, as API Gateway's IAM authorization names it.
    Iam(String),
    /// The holder of the local operator key.
    OperatorKey,
    /// A console session.
    Console,
}

impl Principal {
    /// Who, as a change history names them: the IAM ARN, or the kind of
    /// local credential.
    pub fn name(&self) -> &str {
        match self {
            Principal::Iam(arn) => arn,
            Principal::OperatorKey => "operator-key",
            Principal::Console => "console",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Principal::Iam(_) => "iam",
            Principal::OperatorKey => "operator-key",
            Principal::Console => "console",
        }
    }
}

/// The management API over one operator core.
pub struct ManageApi<T, S> {
    pub operator: Operator<T, S>,
}

/// A management route, parsed from the path below [`MANAGE_PREFIX`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Tenants,
    Tenant(String),
    Tokens(String),
    Token(String, String),
    Health(String),
    /// The tenant's request log, filtered and paged.
    Requests(String),
    /// One record of it, by request id.
    Request(String, String),
    /// The tenant's settings.
    Settings(String),
    /// Its deprovisioning breaker.
    Breaker(String),
    /// The events the breaker holds.
    Held(String),
    /// Releasing or discarding them.
    Resolve(String, ResolutionAction),
    /// `GET /manage/v1/openapi.json`: [`OPENAPI_DOCUMENT`].
    Document,
}

impl Route {
    fn parse(rest: &str) -> Option<Route> {
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        Some(match parts.as_slice() {
            ["openapi.json"] => Route::Document,
            ["tenants"] => Route::Tenants,
            ["tenants", id] => Route::Tenant((*id).to_owned()),
            ["tenants", id, "tokens"] => Route::Tokens((*id).to_owned()),
            ["tenants", id, "tokens", token] => Route::Token((*id).to_owned(), (*token).to_owned()),
            ["tenants", id, "health"] => Route::Health((*id).to_owned()),
            ["tenants", id, "requests"] => Route::Requests((*id).to_owned()),
            ["tenants", id, "settings"] => Route::Settings((*id).to_owned()),
            ["tenants", id, "breaker"] => Route::Breaker((*id).to_owned()),
            ["tenants", id, "breaker", "held"] => Route::Held((*id).to_owned()),
            ["tenants", id, "breaker", "release"] => {
                Route::Resolve((*id).to_owned(), ResolutionAction::Release)
            }
            ["tenants", id, "breaker", "discard"] => {
                Route::Resolve((*id).to_owned(), ResolutionAction::Discard)
            }
            ["tenants", id, "requests", request] => {
                Route::Request((*id).to_owned(), (*request).to_owned())
            }
            _ => return None,
        })
    }

    /// The methods the route takes, for `Allow`.
    fn allow(&self) -> &'static str {
        match self {
            Route::Health(_)
            | Route::Requests(_)
            | Route::Request(..)
            | Route::Breaker(_)
            | Route::Held(_)
            | Route::Document => "GET",
            Route::Resolve(..) => "POST",
            Route::Tenants | Route::Tokens(_) => "GET, POST",
            Route::Tenant(_) => "GET, DELETE",
            Route::Token(..) => "DELETE",
            Route::Settings(_) => "GET, PATCH",
        }
    }

    /// A name without ids, for the logs.
    fn name(&self) -> &'static str {
        match self {
            Route::Tenants => "tenants",
            Route::Tenant(_) => "tenant",
            Route::Tokens(_) => "tokens",
            Route::Token(..) => "token",
            Route::Health(_) => "health",
            Route::Requests(_) => "requests",
            Route::Request(..) => "request",
            Route::Settings(_) => "settings",
            Route::Breaker(_) => "breaker",
            Route::Held(_) => "held",
            Route::Resolve(_, ResolutionAction::Release) => "release",
            Route::Resolve(_, ResolutionAction::Discard) => "discard",
            Route::Document => "openapi",
        }
    }
}

/// The path below [`MANAGE_PREFIX`], if the path is a management path
/// (an API Gateway stage may come before it).
pub fn manage_rest(path: &str) -> Option<&str> {
    let at = path.find(MANAGE_PREFIX)?;
    let rest = &path[at + MANAGE_PREFIX.len()..];
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

fn to_json(value: impl serde::Serialize) -> Result<Value, ManageError> {
    serde_json::to_value(value).map_err(|e| ManageError::Internal(format!("serialising: {e}")))
}

fn tenant_id(id: &str) -> Result<TenantId, ManageError> {
    // An id that cannot exist names no tenant.
    TenantId::parse(id).map_err(|_| ManageError::NotFound(format!("tenant {id} does not exist")))
}

/// The body as `B`: not JSON or not an object is `invalid_json`, a field
/// of the wrong shape (or unknown) `invalid_request`.
fn body<B: DeserializeOwned>(bytes: &Bytes) -> Result<B, ManageError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| ManageError::InvalidJson)?;
    if !value.is_object() {
        return Err(ManageError::InvalidJson);
    }
    serde_json::from_value(value).map_err(|e| ManageError::Invalid(e.to_string()))
}

/// Settings with their version as the ETag.
fn settings_response(view: &SettingsView) -> http::Response<Bytes> {
    let body = serde_json::to_value(view).unwrap_or_default();
    let mut response = json_response(StatusCode::OK, &body);
    if let Ok(v) = http::HeaderValue::from_str(&format!("W/\"{}\"", view.version)) {
        response.headers_mut().insert(http::header::ETAG, v);
    }
    response
}

/// The version `If-Match` names (`W/"3"`, `"3"`); `*` or none is any. A
/// value that is no ETag of ours names no version: it never matches
/// (RFC 9110 §13.1.1), so the change is refused with 412.
fn if_match(req: &http::Request<Bytes>) -> Option<u64> {
    let value = req.headers().get(http::header::IF_MATCH)?;
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return None;
    }
    let tag = text.strip_prefix("W/").unwrap_or(text);
    Some(
        tag.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewTenant {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResolveBody {
    #[serde(default)]
    reason: Option<String>,
}

/// The query parameters of the held list.
struct HeldQuery {
    limit: usize,
    cursor: Option<String>,
    detail_type: Option<String>,
}

impl HeldQuery {
    fn parse(query: Option<&str>) -> Result<HeldQuery, ManageError> {
        let mut q = HeldQuery {
            limit: DEFAULT_PAGE,
            cursor: None,
            detail_type: None,
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "limit" => {
                    q.limit = v.parse().map_err(|_| {
                        ManageError::Invalid(format!(
                            "limit must be a whole number from 1 to {MAX_HELD_PAGE}"
                        ))
                    })?;
                }
                "cursor" => q.cursor = Some(v.into_owned()),
                "type" => q.detail_type = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(q)
    }
}

/// The query parameters of the tenant list.
struct ListQuery {
    limit: usize,
    cursor: Option<String>,
    prefix: Option<String>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Result<ListQuery, ManageError> {
        let mut list = ListQuery {
            limit: DEFAULT_PAGE,
            cursor: None,
            prefix: None,
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "limit" => {
                    list.limit = v.parse().map_err(|_| {
                        ManageError::Invalid("limit must be a whole number from 1 to 200".into())
                    })?;
                }
                "cursor" => list.cursor = Some(v.into_owned()),
                "prefix" => list.prefix = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(list)
    }
}

impl<T: TokenStore, S: Store + OpsStore> ManageApi<T, S> {
    pub fn new(operator: Operator<T, S>) -> Self {
        ManageApi { operator }
    }

    /// Answers one management request from `principal`, logging one line
    /// (route, method, status, latency, kind of caller; no ids of
    /// secrets, no bodies).
    pub async fn handle(
        &self,
        req: http::Request<Bytes>,
        principal: &Principal,
    ) -> http::Response<Bytes> {
        let started = Instant::now();
        let request_id = RequestId::of(&req);
        let route = manage_rest(req.uri().path()).and_then(Route::parse);
        let method = req.method().clone();
        let answer = match &route {
            None => Err(ManageError::NotFound("no such management route".into())),
            Some(_) if req.body().len() > MAX_BODY_BYTES => {
                Err(ManageError::TooLarge(MAX_BODY_BYTES))
            }
            Some(_)
                if req.uri().path_and_query().map_or(0, |p| p.as_str().len())
                    > crate::scim::limits::MAX_URI_BYTES =>
            {
                Err(ManageError::UriTooLong(crate::scim::limits::MAX_URI_BYTES))
            }
            Some(route) => Box::pin(self.dispatch(route, &req, principal)).await,
        };
        let mut response = match answer {
            Ok(response) => response,
            Err(e) => e.response(request_id.as_str()),
        };
        if let Ok(v) = http::HeaderValue::from_str(request_id.as_str()) {
            response.headers_mut().insert(super::X_REQUEST_ID, v);
        }
        tracing::info!(
            request_id = %request_id,
            route = route.as_ref().map_or("unknown", Route::name),
            method = %method,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            caller = principal.kind(),
            "management request"
        );
        response
    }

    async fn dispatch(
        &self,
        route: &Route,
        req: &http::Request<Bytes>,
        principal: &Principal,
    ) -> Result<http::Response<Bytes>, ManageError> {
        let op = &self.operator;
        let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
        match (route, req.method()) {
            (Route::Tenants, &Method::GET) => {
                let q = ListQuery::parse(req.uri().query())?;
                ok(to_json(
                    op.list_tenants(q.prefix.as_deref(), q.cursor.as_deref(), q.limit)
                        .await?,
                )?)
            }
            (Route::Tenants, &Method::POST) => {
                let new: NewTenant = body(req.body())?;
                let id = TenantId::parse(&new.id)
                    .map_err(|e| ManageError::Invalid(format!("id: {e}")))?;
                let view = op.create_tenant(&id, new.display_name.as_deref()).await?;
                let mut response = json_response(StatusCode::CREATED, &to_json(&view)?);
                let location = format!("{MANAGE_PREFIX}/tenants/{id}");
                if let Ok(v) = http::HeaderValue::from_str(&location) {
                    response.headers_mut().insert(http::header::LOCATION, v);
                }
                Ok(response)
            }
            (Route::Tenant(id), &Method::GET) => ok(to_json(op.tenant(&tenant_id(id)?).await?)?),
            (Route::Tenant(id), &Method::DELETE) => Ok(json_response(
                StatusCode::ACCEPTED,
                &to_json(op.delete_tenant(&tenant_id(id)?).await?)?,
            )),
            (Route::Tokens(id), &Method::GET) => {
                let tokens = op.token_list(&tenant_id(id)?).await?;
                ok(serde_json::json!({ "tokens": to_json(tokens)? }))
            }
            (Route::Tokens(id), &Method::POST) => {
                let tenant = tenant_id(id)?;
                let new: NewToken = body(req.body())?;
                let issued = op
                    .issue_token(&tenant, &new.name, new.expires_at.as_deref())
                    .await?;
                Ok(json_response(StatusCode::CREATED, &to_json(issued)?))
            }
            (Route::Token(id, token), &Method::DELETE) => {
                op.revoke_token(&tenant_id(id)?, token).await?;
                let mut response = http::Response::new(Bytes::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            (Route::Health(id), &Method::GET) => ok(to_json(op.health(&tenant_id(id)?).await?)?),
            (Route::Requests(id), &Method::GET) => {
                let query = LogQuery::parse(req.uri().query())
                    .map_err(|e| ManageError::Invalid(e.to_string()))?;
                ok(to_json(op.requests(&tenant_id(id)?, &query).await?)?)
            }
            (Route::Request(id, request_id), &Method::GET) => {
                ok(to_json(op.request(&tenant_id(id)?, request_id).await?)?)
            }
            (Route::Settings(id), &Method::GET) => {
                Ok(settings_response(&op.settings(&tenant_id(id)?).await?))
            }
            (Route::Settings(id), &Method::PATCH) => {
                let tenant = tenant_id(id)?;
                let expected = if_match(req);
                // A merge patch: any JSON object, checked against the
                // settings by the operator core.
                let patch: Value = body(req.body())?;
                let view = op
                    .change_settings(&tenant, &patch, expected, principal.name())
                    .await?;
                Ok(settings_response(&view))
            }
            (Route::Breaker(id), &Method::GET) => ok(to_json(op.breaker(&tenant_id(id)?).await?)?),
            (Route::Held(id), &Method::GET) => {
                let q = HeldQuery::parse(req.uri().query())?;
                let page = op
                    .held(
                        &tenant_id(id)?,
                        q.cursor.as_deref(),
                        q.limit,
                        q.detail_type.as_deref(),
                    )
                    .await?;
                ok(to_json(page)?)
            }
            (Route::Resolve(id, action), &Method::POST) => {
                let tenant = tenant_id(id)?;
                let body: ResolveBody = if req.body().is_empty() {
                    ResolveBody::default()
                } else {
                    body(req.body())?
                };
                let view = op
                    .resolve_breaker(&tenant, *action, principal.name(), body.reason.as_deref())
                    .await?;
                Ok(json_response(StatusCode::ACCEPTED, &to_json(view)?))
            }
            (Route::Document, &Method::GET) => {
                let mut response = json_response(StatusCode::OK, &Value::Null);
                *response.body_mut() = Bytes::from_static(OPENAPI_DOCUMENT.as_bytes());
                Ok(response)
            }
            (route, method) => Err(ManageError::MethodNotAllowed {
                method: method.clone(),
                allow: route.allow(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_below_the_prefix_and_a_stage() {
        assert_eq!(manage_rest("/manage/v1/tenants"), Some("/tenants"));
        assert_eq!(manage_rest("/prod/manage/v1/tenants/a"), Some("/tenants/a"));
        assert_eq!(manage_rest("/manage/v10/tenants"), None);
        assert_eq!(manage_rest("/scim/v2/acme/Users"), None);
        assert_eq!(Route::parse("/tenants"), Some(Route::Tenants));
        assert_eq!(Route::parse("/tenants/"), Some(Route::Tenants));
        assert_eq!(
            Route::parse("/tenants/a/tokens/tok_1"),
            Some(Route::Token("a".into(), "tok_1".into()))
        );
        assert_eq!(
            Route::parse("/tenants/a/health"),
            Some(Route::Health("a".into()))
        );
        assert_eq!(Route::parse("/openapi.json"), Some(Route::Document));
        assert_eq!(
            Route::parse("/tenants/a/requests"),
            Some(Route::Requests("a".into()))
        );
        assert_eq!(
            Route::parse("/tenants/a/requests/Ex013AAAAoEEMpg="),
            Some(Route::Request("a".into(), "Ex013AAAAoEEMpg=".into()))
        );
        assert_eq!(Route::parse("/tenants/a/other"), None);
        assert_eq!(Route::parse(""), None);
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI_DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/tenants",
            "/tenants/{id}",
            "/tenants/{id}/tokens",
            "/tenants/{id}/tokens/{tokenId}",
            "/tenants/{id}/health",
            "/openapi.json",
        ] {
            let item = &paths[&format!("{MANAGE_PREFIX}{path}")];
            let route =
                Route::parse(&path.replace("{id}", "acme").replace("{tokenId}", "tok_1")).unwrap();
            let mut methods: Vec<String> = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(|k| k.to_uppercase())
                .collect();
            methods.sort();
            let mut allow: Vec<&str> = route.allow().split(", ").collect();
            allow.sort_unstable();
            assert_eq!(methods, allow, "{path}");
        }
    }

    #[test]
    fn if_match_is_an_etag_of_ours_a_star_or_never_matches() {
        let with = |v: &str| {
            let req = http::Request::builder()
                .header(http::header::IF_MATCH, v)
                .body(Bytes::new())
                .unwrap();
            if_match(&req)
        };
        assert_eq!(with("W/\"3\""), Some(3));
        assert_eq!(with("\"3\""), Some(3));
        assert_eq!(with("*"), None);
        for other in ["3", "W/3", "\"x\"", "", "W/\"3"] {
            assert_eq!(with(other), Some(u64::MAX), "{other} matches no version");
        }
    }

    #[test]
    fn bodies_are_objects_of_known_fields() {
        let parse = |b: &'static str| body::<NewToken>(&Bytes::from_static(b.as_bytes()));
        assert!(matches!(parse("not json"), Err(ManageError::InvalidJson)));
        assert!(matches!(parse("[1]"), Err(ManageError::InvalidJson)));
        assert!(matches!(
            parse(r#"{"name": 5}"#),
            Err(ManageError::Invalid(_))
        ));
        assert!(matches!(
            parse(r#"{"name": "x", "extra": 1}"#),
            Err(ManageError::Invalid(_))
        ));
        assert_eq!(parse(r#"{"name": "x"}"#).unwrap().name, "x");
    }
}
