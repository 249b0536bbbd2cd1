//! The Lambda adapter: `lambda_http` requests in, the front door, responses
//! out. The caller is whoever the authorizer vouched for in its context.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use super::{Caller, HttpConfig, Routes, serve};
use crate::auth::authorizer::{CONTEXT_TENANT, CONTEXT_UNAVAILABLE};
use crate::tenant::TenantId;

/// The caller named by the authorizer's context (`requestContext.
/// authorizer.lambda`); without one the request is anonymous.
pub fn caller(req: &lambda_http::Request) -> Caller {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return Caller::Anonymous;
    };
    let Some(fields) = ctx.authorizer.as_ref().map(|a| &a.fields) else {
        return Caller::Anonymous;
    };
    if fields
        .get(CONTEXT_UNAVAILABLE)
        .is_some_and(|v| v.as_bool() == Some(true))
    {
        return Caller::Unavailable;
    }
    fields
        .get(CONTEXT_TENANT)
        .and_then(|v| v.as_str())
        .and_then(|t| TenantId::parse(t).ok())
        .map_or(Caller::Anonymous, Caller::Tenant)
}

/// Handles one Lambda event through the front door.
pub async fn handle<R: Routes>(
    routes: &R,
    config: &HttpConfig,
    req: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let caller = caller(&req);
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let response = serve(
        routes,
        config,
        http::Request::from_parts(parts, body),
        caller,
    )
    .await;
    response.map(|b| Body::Text(String::from_utf8_lossy(&b).into_owned()))
}

/// Runs a Lambda function serving `routes` until the runtime stops it.
pub async fn run<R: Routes + 'static>(
    routes: R,
    config: HttpConfig,
) -> Result<(), lambda_http::Error> {
    let routes = &routes;
    let config = &config;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(handle(routes, config, req).await)
    }))
    .await
}
