//! The API Gateway HTTP API Lambda authorizer (REQUEST type, payload 2.0,
//! simple responses): checks the bearer token against the path's tenant.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tracing::Instrument;

use super::source::TokenSource;
use super::token::Refusal;
use super::verifier::{Verdict, Verifier};
use crate::request_log::record::{bounded, now_text};
use crate::request_log::{Recorder, RequestRecord};
use crate::tenant::TenantId;

/// Context key carrying the tenant the authorizer vouches for.
pub const CONTEXT_TENANT: &str = "tenant";
/// Context key carrying the id of the token used (never the token).
pub const CONTEXT_TOKEN_ID: &str = "tokenId";
/// Context key set when the token store could not be reached: the request
/// is let through to the function only so that it can answer 503 with
/// `Retry-After` (a 401 would make identity providers quarantine the job).
pub const CONTEXT_UNAVAILABLE: &str = "unavailable";

/// The part of the authorizer event this service reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRequest {
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub path_parameters: HashMap<String, String>,
    #[serde(default)]
    pub raw_path: Option<String>,
    #[serde(default)]
    pub request_context: AuthorizerContext,
}

/// The part of the event's `requestContext` this service reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerContext {
    /// API Gateway's id of the request, the same the function sees: every
    /// log line of the decision carries it.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub http: AuthorizerHttp,
}

/// `requestContext.http`: what the refused request asked for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerHttp {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// What API Gateway answers when the authorizer says no.
const DENIED_STATUS: u16 = 403;

/// API Gateway's simple authorizer response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleResponse {
    pub is_authorized: bool,
    pub context: Map<String, Value>,
}

impl AuthorizerRequest {
    /// The tenant named by the path: the `tenant` path parameter, else the
    /// segment after `/scim/v2/` in the raw path.
    pub fn tenant(&self) -> Option<TenantId> {
        let from_params = self.path_parameters.get("tenant").map(String::as_str);
        let from_path = || {
            self.raw_path
                .as_deref()
                .and_then(crate::tenant::split_scim_path)
                .map(|(t, _)| t)
        };
        TenantId::parse(from_params.or_else(from_path)?).ok()
    }

    /// The request log's record of a request refused for a token the
    /// tenant once had: the function never sees it, so the authorizer
    /// tells the log (the identity provider is calling with a revoked or
    /// expired token, and the tenant's log should say so).
    fn refusal_record(&self, tenant: &TenantId, token_id: &str, reason: Refusal) -> RequestRecord {
        let detail = match reason {
            Refusal::Expired => "the token has expired",
            Refusal::Revoked => "the token was revoked",
        };
        RequestRecord {
            time: now_text(),
            tenant: tenant.to_string(),
            request_id: self.request_context.request_id.clone().unwrap_or_default(),
            token_id: Some(token_id.to_owned()),
            user_agent: self.request_context.http.user_agent.as_deref().map(bounded),
            method: self
                .request_context
                .http
                .method
                .clone()
                .unwrap_or_else(|| "GET".to_owned()),
            path: bounded(self.raw_path.as_deref().unwrap_or("")),
            query: None,
            status: DENIED_STATUS,
            scim_type: None,
            detail: Some(detail.to_owned()),
            duration_ms: 0,
            action: "rejected".to_owned(),
            resource_type: None,
            resource_id: None,
            target: None,
            change: None,
            matched: None,
        }
    }

    fn authorization(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
    }
}

fn deny() -> SimpleResponse {
    SimpleResponse {
        is_authorized: false,
        context: Map::new(),
    }
}

fn allow(context: Value) -> SimpleResponse {
    SimpleResponse {
        is_authorized: true,
        context: match context {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    }
}

/// Decides one request. Never errors: an unreachable token store yields an
/// allow flagged [`CONTEXT_UNAVAILABLE`], which the functions turn into 503
/// without touching data. A token refused as revoked or expired is told to
/// `recorder`.
pub async fn authorize<S: TokenSource>(
    verifier: &Verifier<S>,
    request: &AuthorizerRequest,
    recorder: &Recorder,
) -> SimpleResponse {
    let span = tracing::info_span!(
        "authorize",
        request_id = request.request_context.request_id.as_deref().unwrap_or("")
    );
    // Boxed: the SDK's futures nested in the runtime's are deeper than the
    // compiler's default layout depth.
    Box::pin(decide(verifier, request, recorder))
        .instrument(span)
        .await
}

async fn decide<S: TokenSource>(
    verifier: &Verifier<S>,
    request: &AuthorizerRequest,
    recorder: &Recorder,
) -> SimpleResponse {
    let Some(tenant) = request.tenant() else {
        return deny();
    };
    match verifier.verify(&tenant, request.authorization()).await {
        Ok(Verdict::Allowed {
            tenant,
            token_id,
            policy,
        }) => {
            tracing::info!(tenant = %tenant, token_id = %token_id, "token accepted");
            let mut context =
                json!({ CONTEXT_TENANT: tenant.as_str(), CONTEXT_TOKEN_ID: token_id });
            for (name, value) in policy.context() {
                context[name] = Value::String(value);
            }
            allow(context)
        }
        Ok(Verdict::Refused {
            tenant,
            token_id,
            reason,
        }) => {
            tracing::info!(tenant = %tenant, token_id = %token_id, reason = ?reason, "token refused");
            recorder.record(request.refusal_record(&tenant, &token_id, reason));
            deny()
        }
        Ok(Verdict::Denied) => {
            tracing::info!(tenant = %tenant, "token refused");
            deny()
        }
        Err(err) => {
            tracing::error!(tenant = %tenant, error = %err, "token store unavailable");
            allow(json!({ CONTEXT_TENANT: tenant.as_str(), CONTEXT_UNAVAILABLE: true }))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::AuthError;
    use crate::auth::token::TokenSet;

    /// A token store that is down.
    struct Down;

    impl TokenSource for Down {
        async fn load(&self, _: &TenantId) -> Result<Option<TokenSet>, AuthError> {
            Err(AuthError::Unavailable("timeout".into()))
        }
    }

    fn request(path_tenant: &str) -> AuthorizerRequest {
        AuthorizerRequest {
            headers: HashMap::from([("Authorization".into(), "Bearer scim_x".into())]),
            path_parameters: HashMap::new(),
            raw_path: Some(format!("/prod/scim/v2/{path_tenant}/Users")),
            request_context: AuthorizerContext::default(),
        }
    }

    #[tokio::test]
    async fn an_unreachable_store_is_flagged_so_the_function_answers_503() {
        let verifier = Verifier::new(Down, Duration::from_secs(60));
        let response = authorize(&verifier, &request("acme"), &Recorder::Off).await;
        assert!(response.is_authorized);
        assert_eq!(response.context[CONTEXT_UNAVAILABLE], true);
        assert_eq!(response.context[CONTEXT_TENANT], "acme");
        assert!(response.context.get(CONTEXT_TOKEN_ID).is_none());
    }

    #[tokio::test]
    async fn a_path_without_a_valid_tenant_is_denied_without_asking_the_store() {
        let verifier = Verifier::new(Down, Duration::from_secs(60));
        for path in ["Not_A_Tenant", ""] {
            let response = authorize(&verifier, &request(path), &Recorder::Off).await;
            assert!(!response.is_authorized, "{path:?}");
        }
    }

    #[test]
    fn reads_api_gateways_request_id() {
        let request: AuthorizerRequest = serde_json::from_value(json!({
            "rawPath": "/scim/v2/acme/Users",
            "requestContext": {"requestId": "JkZ1rhoIoAMEbcQ=", "http": {"method": "GET"}},
        }))
        .unwrap();
        assert_eq!(
            request.request_context.request_id.as_deref(),
            Some("JkZ1rhoIoAMEbcQ=")
        );
    }
}
