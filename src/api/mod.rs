//! HTTP in, HTTP out, on plain `http` types: the one front door every
//! binary (Lambda or local) sends requests through.

mod bulk;
pub mod discovery;
pub mod groups;
pub mod lambda;
pub mod listing;
pub mod local;
pub mod manage;
pub mod managers;
pub mod memberships;
pub mod metrics;
pub mod operation;
pub mod operator;
pub mod recording;
pub mod request;
pub mod resource;
pub mod response;
pub mod users;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use tracing::Instrument;

use crate::request_log::audit::{Audit, with_audit};
use crate::request_log::{LogValues, Recorder};
use crate::scim::ScimError;
use crate::scim::limits::{LimitError, MAX_URI_BYTES};
use crate::store::change::{Actor, TokenId, with_actor};
use crate::tenant::TenantId;
use request::{NotScim, RequestId, ScimRequest};
use response::ScimResponse;

/// Who is calling, as established before the request reaches the API:
/// by the Lambda authorizer's context, or by the local server's verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A valid token of this tenant was presented.
    Tenant(TenantId),
    /// The token store could not be reached for this tenant; why, for the
    /// log.
    Unavailable(String),
    /// A token of this tenant that is expired or revoked: answered like
    /// [`Caller::Anonymous`], recorded in the tenant's request log.
    Refused { tenant: TenantId, token_id: String },
    /// No valid token.
    Anonymous,
}

/// A family of endpoints a binary serves. `None` means "not mine", so that
/// one binary (or the local server, combining several) answers 404 for it.
pub trait Routes: Send + Sync {
    fn route(
        &self,
        req: &ScimRequest,
    ) -> impl Future<Output = Option<Result<ScimResponse, ScimError>>> + Send;
}

/// Two route families served by one process: the first that claims a
/// request answers it.
impl<A: Routes, B: Routes> Routes for (A, B) {
    async fn route(&self, req: &ScimRequest) -> Option<Result<ScimResponse, ScimError>> {
        match self.0.route(req).await {
            Some(answer) => Some(answer),
            None => self.1.route(req).await,
        }
    }
}

/// How requests reach this process.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// `https` behind API Gateway, `http` for the local server.
    pub scheme: String,
    /// Overrides the origin derived from `Host` (custom domains).
    pub public_base_url: Option<String>,
    /// Where the record of each tenant's request goes.
    pub recorder: Recorder,
    /// How those records show personal values.
    pub log_values: LogValues,
}

/// Answers one request: parses it, enforces that the caller is the path's
/// tenant, dispatches, renders errors, and logs one line without personal
/// data or tokens. Every log line of the request carries its id (a span),
/// the response carries it in `X-Request-Id` and every error body in its
/// `detail`, and the cause of a 5xx is logged once.
pub async fn serve<R: Routes>(
    routes: &R,
    config: &HttpConfig,
    mut req: http::Request<Bytes>,
    caller: Caller,
) -> http::Response<Bytes> {
    let started = Instant::now();
    let request_id = RequestId::of(&req);
    req.extensions_mut().insert(request_id.clone());
    let actor = Actor {
        request_id: Some(request_id.as_str().to_owned()),
        token_id: req.extensions().get::<TokenId>().map(|t| t.0.clone()),
        user_agent: request::user_agent(req.headers()),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        tenant = tracing::field::Empty
    );
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().map(str::to_owned);
    let token_id = actor.token_id.clone();
    let answer = async {
        match ScimRequest::parse(req, &config.scheme, config.public_base_url.as_deref()) {
            Err(NotScim::NoTenant) => (
                "Unknown",
                Err(ScimError::not_found(
                    "no such endpoint; SCIM endpoints live under /scim/v2/{tenant}/",
                )),
                None,
            ),
            Ok(req) => {
                tracing::Span::current().record("tenant", req.tenant.as_str());
                let target_bytes = path.len() + raw_query.as_ref().map_or(0, |q| q.len() + 1);
                let answer = match authorize(&caller, &req.tenant) {
                    Err(err) => Err(err),
                    Ok(()) if target_bytes > MAX_URI_BYTES => Err(LimitError::Uri.into()),
                    // Each operation of a Bulk request is served by this
                    // function as the request it stands for.
                    Ok(()) if matches!(req.endpoint, request::Endpoint::Bulk) => {
                        let answer = Box::pin(bulk::run(
                            routes,
                            config,
                            &req,
                            &caller,
                            token_id.as_deref(),
                        ))
                        .await;
                        Ok((answer, Audit::default()))
                    }
                    // On the heap: route futures are large, and debug builds
                    // copy them across the stack frames of this one.
                    Ok(()) => {
                        let (answer, audit) =
                            with_audit(with_actor(actor, Box::pin(routes.route(&req)))).await;
                        match answer {
                            Some(answer) => Ok((answer, audit)),
                            None => Err(ScimError::not_found("no such endpoint")),
                        }
                    }
                };
                (req.endpoint.family(), answer, Some(req))
            }
        }
    };
    async {
        let (family, answer, parsed) = answer.await;
        let (response, audit) = match answer {
            Ok((Ok(response), audit)) => (response, audit),
            Ok((Err(err), audit)) => (failure(err, &request_id), audit),
            Err(err) => (failure(err, &request_id), Audit::default()),
        };
        if let Some(req) = parsed {
            let token = match &caller {
                Caller::Tenant(t) if *t == req.tenant => Some(token_id.as_deref()),
                Caller::Refused { tenant, token_id } if *tenant == req.tenant => {
                    Some(Some(token_id.as_str()))
                }
                _ => None,
            };
            if let Some(token) = token {
                let elapsed = started.elapsed().as_millis() as u64;
                config.recorder.record(recording::record_of(
                    &req,
                    &recording::Answered {
                        path: &path,
                        raw_query: raw_query.as_deref(),
                        token_id: token,
                        response: &response,
                        duration_ms: elapsed,
                        audit: &audit,
                        values: req.policy.log_values.unwrap_or(config.log_values),
                    },
                ));
            }
        }
        let metrics = metrics::RequestMetrics::of(response.status.as_u16());
        tracing::info!(
            route = family,
            method = %method,
            status = response.status.as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            status_class = metrics.status_class,
            requests = 1u8,
            errors_4xx = metrics.errors_4xx,
            errors_5xx = metrics.errors_5xx,
            _aws = %metrics.emf_metadata(metrics::now_ms()),
            "request"
        );
        response
            .with_header(X_REQUEST_ID, request_id.as_str())
            .into_http()
    }
    .instrument(span)
    .await
}

/// [`serve`] behind a named future type, so that a Bulk request's
/// operations can be served by the function serving it.
pub fn serve_boxed<'a, R: Routes>(
    routes: &'a R,
    config: &'a HttpConfig,
    req: http::Request<Bytes>,
    caller: Caller,
) -> Pin<Box<dyn Future<Output = http::Response<Bytes>> + Send + 'a>> {
    Box::pin(serve(routes, config, req, caller))
}

/// Response header naming the request, as in the logs.
pub const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Renders an error with the request id in its `detail` (identity
/// providers show `detail` in their provisioning logs; a member of our own
/// would not reach the operator), logging the cause of a 5xx.
fn failure(mut err: ScimError, request_id: &RequestId) -> ScimResponse {
    if err.status >= 500 {
        tracing::error!(
            status = err.status,
            cause = err.cause.as_deref().unwrap_or("unknown"),
            "request failed"
        );
    }
    err.detail = format!("{} (request id {request_id})", err.detail);
    ScimResponse::error(&err)
}

fn authorize(caller: &Caller, tenant: &TenantId) -> Result<(), ScimError> {
    match caller {
        Caller::Tenant(t) if t == tenant => Ok(()),
        Caller::Unavailable(cause) => Err(ScimError::new(
            503,
            None,
            "authentication is temporarily unavailable; retry later",
        )
        .with_cause(cause.clone())),
        _ => Err(ScimError::new(
            401,
            None,
            "a valid bearer token for this tenant is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::subscriber;
    use crate::logging::tests::Captured;
    use crate::store::StoreError;

    /// A route family whose store is down.
    struct Down;

    impl Routes for Down {
        async fn route(&self, _: &ScimRequest) -> Option<Result<ScimResponse, ScimError>> {
            tracing::info!("routing");
            Some(Err(StoreError::Unavailable(
                "DynamoDB GetItem failed: ThrottlingException".into(),
            )
            .into()))
        }
    }

    fn request(id: Option<&str>) -> http::Request<Bytes> {
        let mut req = http::Request::builder()
            .uri("/scim/v2/acme/Users/42")
            .header("host", "example.com")
            .header("authorization", "Bearer scim_secret")
            .body(Bytes::from_static(b"{\"userName\":\"ada@example.com\"}"))
            .unwrap();
        if let Some(id) = id {
            req.extensions_mut().insert(RequestId::new(id));
        }
        req
    }

    async fn serve_logged(caller: Caller, id: Option<&str>) -> (http::Response<Bytes>, String) {
        let sink = Captured::default();
        let _guard = tracing::subscriber::set_default(subscriber(true, "info", sink.clone()));
        let config = HttpConfig::default();
        let response = serve(&Down, &config, request(id), caller).await;
        (response, sink.text())
    }

    fn detail(response: &http::Response<Bytes>) -> String {
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        body["detail"].as_str().unwrap().to_owned()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_503_names_its_request_and_its_cause_is_logged_once() {
        let acme = TenantId::parse("acme").unwrap();
        let (response, logs) = serve_logged(Caller::Tenant(acme), Some("req-7f3a")).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[X_REQUEST_ID], "req-7f3a");
        assert!(
            detail(&response).contains("req-7f3a"),
            "{}",
            detail(&response)
        );
        let failures: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("request failed"))
            .collect();
        assert_eq!(failures.len(), 1, "{logs}");
        for needle in ["ThrottlingException", "GetItem", "req-7f3a", "acme"] {
            assert!(failures[0].contains(needle), "{needle}: {}", failures[0]);
        }
        for line in logs.lines() {
            assert!(
                line.contains("req-7f3a"),
                "every line names the request: {line}"
            );
        }
        assert!(!logs.contains("scim_secret") && !logs.contains("ada@example.com"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_answer_carries_a_request_id_even_without_one_given() {
        let (unauthorized, logs) = serve_logged(Caller::Anonymous, None).await;
        assert_eq!(unauthorized.status(), 401);
        let id = unauthorized.headers()[X_REQUEST_ID]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!id.is_empty() && detail(&unauthorized).contains(&id));
        assert!(logs.contains(&id) && !logs.contains("request failed"));
        let (unavailable, logs) =
            serve_logged(Caller::Unavailable("token store down".into()), Some("r2")).await;
        assert_eq!(unavailable.status(), 503);
        assert!(logs.contains("token store down"), "{logs}");
    }
}
