//! The Lambda adapter: `lambda_http` requests in, the front door, responses
//! out. The caller is whoever the authorizer vouched for in its context.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use super::request::RequestId;
use super::{Caller, HttpConfig, Routes, serve};
use crate::auth::authorizer::{CONTEXT_TENANT, CONTEXT_TOKEN_ID, CONTEXT_UNAVAILABLE};
use crate::store::change::TokenId;
use crate::tenant::TenantId;
use crate::tenant::settings::TenantPolicy;

/// The caller named by the authorizer's context (`requestContext.
/// authorizer.lambda`); without one the request is anonymous.
pub fn caller(req: &lambda_http::Request) -> Caller {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return Caller::Anonymous;
    };
    let Some(fields) = ctx.authorizer.as_ref().map(|a| &a.fields) else {
        return Caller::Anonymous;
    };
    // API Gateway may pass context values on as strings.
    let flagged = |v: &serde_json::Value| v.as_bool() == Some(true) || v.as_str() == Some("true");
    if fields.get(CONTEXT_UNAVAILABLE).is_some_and(flagged) {
        return Caller::Unavailable(
            "the authorizer could not reach the token store; its log line with this request id has the cause"
                .to_owned(),
        );
    }
    fields
        .get(CONTEXT_TENANT)
        .and_then(|v| v.as_str())
        .and_then(|t| TenantId::parse(t).ok())
        .map_or(Caller::Anonymous, Caller::Tenant)
}

/// API Gateway's id of the request (`requestContext.requestId`), the one
/// its access logs and the authorizer's log lines carry.
pub fn request_id(req: &lambda_http::Request) -> Option<RequestId> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return None;
    };
    ctx.request_id.clone().map(RequestId::new)
}

/// The id of the token the authorizer vouched for (never the token).
pub fn token_id(req: &lambda_http::Request) -> Option<TokenId> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return None;
    };
    ctx.authorizer
        .as_ref()
        .and_then(|a| a.fields.get(CONTEXT_TOKEN_ID))
        .and_then(|v| v.as_str())
        .map(|id| TokenId(id.to_owned()))
}

/// What the tenant's settings decide, as the authorizer passed it on.
pub fn policy(req: &lambda_http::Request) -> TenantPolicy {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return TenantPolicy::default();
    };
    let fields = ctx.authorizer.as_ref().map(|a| &a.fields);
    TenantPolicy::from_context(|name| fields?.get(name)?.as_str())
}

/// Handles one Lambda event through the front door.
pub async fn handle<R: Routes>(
    routes: &R,
    config: &HttpConfig,
    req: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let caller = caller(&req);
    let request_id = request_id(&req);
    let token_id = token_id(&req);
    let policy = policy(&req);
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(policy);
    if let Some(id) = request_id {
        parts.extensions.insert(id);
    }
    if let Some(id) = token_id {
        parts.extensions.insert(id);
    }
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let request = http::Request::from_parts(parts, body);
    let response = serve(routes, config, request, caller).await;
    response.map(|b| Body::Text(String::from_utf8_lossy(&b).into_owned()))
}

/// Runs a Lambda function serving `routes` until the runtime stops it.
/// Every request first awaits `ready()`: the warm-up started during init
/// (see `runtime`), so the first request uses the connection it opened
/// instead of racing it with a second one; once it is over this returns at
/// once.
pub async fn run<R, W, F>(routes: R, config: HttpConfig, ready: W) -> Result<(), lambda_http::Error>
where
    R: Routes + 'static,
    W: Fn() -> F + Sync,
    F: std::future::Future<Output = ()> + Send,
{
    let routes = &routes;
    let config = &config;
    let ready = &ready;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        ready().await;
        Ok::<_, std::convert::Infallible>(handle(routes, config, req).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(authorizer: serde_json::Value) -> lambda_http::Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "ANY /scim/v2/{tenant}/Schemas",
            "rawPath": "/scim/v2/acme/Schemas",
            "rawQueryString": "",
            "headers": {"host": "example.com"},
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "example.com",
                "http": {"method": "GET", "path": "/scim/v2/acme/Schemas",
                         "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "ANY /scim/v2/{tenant}/Schemas",
                "stage": "$default", "time": "22/Nov/2026:12:00:00 +0000", "timeEpoch": 0,
                "authorizer": authorizer,
            },
            "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn caller_comes_from_the_authorizer_context_only() {
        let acme = TenantId::parse("acme").unwrap();
        let unavailable = caller(&event(
            serde_json::json!({"lambda": {"tenant": "acme", "unavailable": true}}),
        ));
        assert!(matches!(unavailable, Caller::Unavailable(_)));
        let cases = [
            (
                serde_json::json!({"lambda": {"tenant": "acme"}}),
                Caller::Tenant(acme),
            ),
            (
                serde_json::json!({"lambda": {"tenant": "acme", "unavailable": true}}),
                unavailable.clone(),
            ),
            (
                serde_json::json!({"lambda": {"tenant": "acme", "unavailable": "true"}}),
                unavailable,
            ),
            (
                serde_json::json!({"lambda": {"tenant": "Not Valid"}}),
                Caller::Anonymous,
            ),
            (serde_json::json!({"lambda": {}}), Caller::Anonymous),
            (serde_json::json!({}), Caller::Anonymous),
        ];
        for (authorizer, want) in cases {
            assert_eq!(caller(&event(authorizer.clone())), want, "{authorizer}");
        }
    }

    /// Answers every request with an empty object.
    struct Empty;

    impl Routes for Empty {
        async fn route(
            &self,
            _: &crate::api::request::ScimRequest,
        ) -> Option<Result<crate::api::response::ScimResponse, crate::scim::ScimError>> {
            Some(Ok(crate::api::response::ScimResponse::ok(
                serde_json::json!({}),
            )))
        }
    }

    #[tokio::test]
    async fn the_response_names_api_gateways_request_id() {
        let req = event(serde_json::json!({"lambda": {"tenant": "acme"}}));
        let response = handle(&Empty, &HttpConfig::default(), req).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[crate::api::X_REQUEST_ID], "r");
    }
}
