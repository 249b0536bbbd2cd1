//! The management API as a Lambda function: the HTTP API's IAM-authorized
//! `/manage/v1` routes, and the purge schedule's EventBridge events, both
//! arriving at the one `manage` function (it alone may write secrets and
//! purge tenants).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::{Map, Value, json};

use super::{MANAGE_PREFIX, ManageApi, ManageError, Principal};
use crate::admin::{AdminError, Operator};
use crate::api::request::RequestId;
use crate::auth::TokenStore;
use crate::events::Bus;
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::SCIM_PATH_SEGMENT;

/// One invocation of the `manage` function.
pub enum ManageEvent {
    /// An API Gateway HTTP API request (payload format 2.0).
    Http(Box<lambda_http::Request>),
    /// The schedule's tick: advance the deletions in progress.
    Schedule,
}

/// Why an invocation is not one the function takes.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event is neither an HTTP API request nor a scheduled event: {0}")]
    Unrecognised(String),
}

impl ManageEvent {
    /// Tells the two kinds apart: EventBridge's scheduled events carry
    /// `source` `aws.events` and `detail-type` `Scheduled Event`.
    pub fn parse(event: &Value) -> Result<ManageEvent, EventError> {
        if event["source"] == "aws.events" && event["detail-type"] == "Scheduled Event" {
            return Ok(ManageEvent::Schedule);
        }
        lambda_http::request::from_str(&event.to_string())
            .map(|req| ManageEvent::Http(Box::new(req)))
            .map_err(|e| EventError::Unrecognised(e.to_string()))
    }
}

/// The IAM principal API Gateway authorized (`requestContext.authorizer.
/// iam.userArn`); `None` when the route was reached without IAM
/// authorization, which the function refuses (a route left open by a
/// template change must not become an open management API).
pub fn iam_principal(req: &lambda_http::Request) -> Option<Principal> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return None;
    };
    let iam = ctx.authorizer.as_ref()?.iam.as_ref()?;
    iam.user_arn
        .clone()
        .filter(|arn| !arn.is_empty())
        .map(Principal::Iam)
}

/// The Tenant URL pattern of the stack the request came through:
/// `public_base_url` (a custom domain) or `https://{Host}{stage}`, then
/// `/scim/v2/{tenant}`. The template cannot pass it in: the API's id in
/// the function's environment would make the API and the function depend
/// on each other.
pub fn tenant_url_pattern(req: &http::Request<Bytes>, public_base_url: Option<&str>) -> String {
    let origin = match public_base_url {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => {
            let path = req.uri().path();
            let prefix = &path[..path.find(MANAGE_PREFIX).unwrap_or(0)];
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("https://{host}{prefix}")
        }
    };
    format!("{origin}{SCIM_PATH_SEGMENT}{{tenant}}")
}

/// The `manage` function's state: clients made once per container.
pub struct ManageFunction<T, S> {
    pub tokens: T,
    pub store: S,
    /// `SCIM_PUBLIC_BASE_URL`, for the Tenant URLs it hands out.
    pub public_base_url: Option<String>,
    /// Between refusing a deleted tenant's tokens and deleting its data.
    pub delete_wait: Duration,
    /// How long one scheduled purge step works.
    pub purge_budget: Duration,
    /// The event bus breaker releases publish on.
    pub bus: Option<Arc<dyn Bus>>,
}

impl<T: TokenStore + Clone, S: Store + OpsStore + Clone> ManageFunction<T, S> {
    fn operator(&self, tenant_url_pattern: Option<String>) -> Operator<T, S> {
        let mut operator =
            Operator::new(self.tokens.clone(), self.store.clone(), tenant_url_pattern);
        operator.delete_wait = self.delete_wait;
        operator.bus.clone_from(&self.bus);
        operator
    }

    /// Answers one invocation: an HTTP request always gets a response
    /// document (errors included); a scheduled step that fails is an
    /// error, so Lambda counts it (the `ManageErrorsAlarm`) and the next
    /// tick resumes where it stopped.
    pub async fn handle(&self, event: Value) -> Result<Value, AdminError> {
        match ManageEvent::parse(&event) {
            Ok(ManageEvent::Http(req)) => Ok(self.http(*req).await),
            Ok(ManageEvent::Schedule) => {
                let operator = self.operator(None);
                let report = operator.advance_purges(self.purge_budget).await?;
                let resolved = operator.advance_resolutions(self.purge_budget).await?;
                if resolved > 0 {
                    tracing::info!(resolved, "breaker resolutions finished");
                }
                if !report.finished.is_empty() || report.items_deleted > 0 {
                    tracing::info!(
                        items_deleted = report.items_deleted,
                        finished = report.finished.len(),
                        remaining = report.remaining,
                        "purge step"
                    );
                }
                Ok(json!(report))
            }
            Err(e) => Err(AdminError::Invalid(e.to_string())),
        }
    }

    async fn http(&self, req: lambda_http::Request) -> Value {
        let principal = iam_principal(&req);
        let request_id = crate::api::lambda::request_id(&req);
        let (mut parts, body) = req.into_parts();
        if let Some(id) = request_id {
            parts.extensions.insert(id);
        }
        let body = match body {
            Body::Text(t) => Bytes::from(t),
            Body::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        };
        let req = http::Request::from_parts(parts, body);
        let response = match principal {
            Some(principal) => {
                let pattern = tenant_url_pattern(&req, self.public_base_url.as_deref());
                ManageApi::new(self.operator(Some(pattern)))
                    .handle(req, &principal)
                    .await
            }
            None => {
                tracing::warn!(
                    request_id = %RequestId::of(&req),
                    "management request without IAM authorization refused"
                );
                ManageError::Unauthorized.response(RequestId::of(&req).as_str())
            }
        };
        gateway_response(response)
    }
}

/// An HTTP response as the HTTP API's payload 2.0 response document
/// (repeated headers joined with commas, as API Gateway expects).
pub fn gateway_response(response: http::Response<Bytes>) -> Value {
    let (parts, body) = response.into_parts();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_event(authorizer: Value) -> Value {
        json!({
            "version": "2.0",
            "routeKey": "ANY /manage/v1/{proxy+}",
            "rawPath": "/prod/manage/v1/tenants",
            "rawQueryString": "",
            "headers": {"host": "a1.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "accountId": "1", "apiId": "a1", "domainName": "a1.execute-api.us-east-1.amazonaws.com",
                "http": {"method": "GET", "path": "/prod/manage/v1/tenants",
                         "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "ANY /manage/v1/{proxy+}",
                "stage": "prod", "time": "22/Nov/2026:12:00:00 +0000", "timeEpoch": 0,
                "authorizer": authorizer,
            },
            "isBase64Encoded": false,
        })
    }

    fn request(authorizer: Value) -> lambda_http::Request {
        match ManageEvent::parse(&http_event(authorizer)).unwrap() {
            ManageEvent::Http(req) => *req,
            ManageEvent::Schedule => panic!("an HTTP event taken for a schedule"),
        }
    }

    #[test]
    fn scheduled_events_and_http_events_are_told_apart() {
        let tick = json!({
            "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2026-12-07T00:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:1:rule/x"], "detail": {}
        });
        assert!(matches!(
            ManageEvent::parse(&tick),
            Ok(ManageEvent::Schedule)
        ));
        let forged = json!({"detail-type": "Scheduled Event", "source": "someone.else"});
        assert!(ManageEvent::parse(&forged).is_err());
        assert!(ManageEvent::parse(&json!({"hello": 1})).is_err());
        assert!(matches!(
            ManageEvent::parse(&http_event(json!({}))),
            Ok(ManageEvent::Http(_))
        ));
    }

    #[test]
    fn the_principal_is_the_iam_caller_only() {
        let arn = "arn:aws:sts::123456789012:assumed-role/vendor-backend/session";
        let cases = [
            (
                json!({"iam": {"userArn": arn, "accountId": "123456789012"}}),
                Some(Principal::Iam(arn.to_owned())),
            ),
            (json!({"iam": {"userArn": ""}}), None),
            (json!({"lambda": {"tenant": "acme"}}), None),
            (json!({}), None),
        ];
        for (authorizer, want) in cases {
            assert_eq!(
                iam_principal(&request(authorizer.clone())),
                want,
                "{authorizer}"
            );
        }
    }

    #[test]
    fn tenant_urls_follow_the_stage_or_the_public_base_url() {
        let req = |path: &str| {
            http::Request::builder()
                .uri(path)
                .header("host", "a1.execute-api.us-east-1.amazonaws.com")
                .body(Bytes::new())
                .unwrap()
        };
        assert_eq!(
            tenant_url_pattern(&req("/prod/manage/v1/tenants/acme/tokens"), None),
            "https://a1.execute-api.us-east-1.amazonaws.com/prod/scim/v2/{tenant}"
        );
        assert_eq!(
            tenant_url_pattern(&req("/manage/v1/tenants"), None),
            "https://a1.execute-api.us-east-1.amazonaws.com/scim/v2/{tenant}"
        );
        assert_eq!(
            tenant_url_pattern(
                &req("/prod/manage/v1/tenants"),
                Some("https://scim.example.com/")
            ),
            "https://scim.example.com/scim/v2/{tenant}"
        );
    }

    #[test]
    fn responses_become_payload_2_documents() {
        let response = http::Response::builder()
            .status(201)
            .header("content-type", "application/json")
            .header("vary", "a")
            .header("vary", "b")
            .body(Bytes::from_static(b"{\"id\":\"acme\"}"))
            .unwrap();
        assert_eq!(
            gateway_response(response),
            json!({
                "statusCode": 201,
                "headers": {"content-type": "application/json", "vary": "a, b"},
                "body": "{\"id\":\"acme\"}",
                "isBase64Encoded": false,
            })
        );
    }
}
