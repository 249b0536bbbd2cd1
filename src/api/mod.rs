//! HTTP in, HTTP out, on plain `http` types: the one front door every
//! binary (Lambda or local) sends requests through.

pub mod discovery;
pub mod groups;
pub mod lambda;
pub mod listing;
pub mod local;
pub mod managers;
pub mod memberships;
pub mod metrics;
pub mod operation;
pub mod request;
pub mod resource;
pub mod response;
pub mod users;

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;

use crate::scim::ScimError;
use crate::tenant::TenantId;
use request::{NotScim, ScimRequest};
use response::ScimResponse;

/// Who is calling, as established before the request reaches the API:
/// by the Lambda authorizer's context, or by the local server's verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A valid token of this tenant was presented.
    Tenant(TenantId),
    /// The token store could not be reached for this tenant.
    Unavailable,
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
}

/// Answers one request: parses it, enforces that the caller is the path's
/// tenant, dispatches, renders errors, and logs one line without personal
/// data or tokens.
pub async fn serve<R: Routes>(
    routes: &R,
    config: &HttpConfig,
    req: http::Request<Bytes>,
    caller: Caller,
) -> http::Response<Bytes> {
    let started = Instant::now();
    let method = req.method().clone();
    let request = ScimRequest::parse(req, &config.scheme, config.public_base_url.as_deref());
    let (tenant, family, response) = match request {
        Err(NotScim::NoTenant) => (
            String::new(),
            "Unknown",
            ScimResponse::error(&ScimError::not_found(
                "no such endpoint; SCIM endpoints live under /scim/v2/{tenant}/",
            )),
        ),
        Ok(req) => {
            let response = match authorize(&caller, &req.tenant) {
                Err(err) => ScimResponse::error(&err),
                Ok(()) => match routes.route(&req).await {
                    Some(Ok(response)) => response,
                    Some(Err(err)) => ScimResponse::error(&err),
                    None => ScimResponse::error(&ScimError::not_found("no such endpoint")),
                },
            };
            (req.tenant.to_string(), req.endpoint.family(), response)
        }
    };
    let metrics = metrics::RequestMetrics::of(response.status.as_u16());
    tracing::info!(
        tenant = %tenant,
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
    response.into_http()
}

fn authorize(caller: &Caller, tenant: &TenantId) -> Result<(), ScimError> {
    match caller {
        Caller::Tenant(t) if t == tenant => Ok(()),
        Caller::Unavailable => Err(ScimError::new(
            503,
            None,
            "authentication is temporarily unavailable; retry later",
        )),
        _ => Err(ScimError::new(
            401,
            None,
            "a valid bearer token for this tenant is required",
        )),
    }
}
