//! Every file in `events/` runs through the handler it is meant for, so the
//! events users pass to `sam local invoke` can never rot.

use std::collections::BTreeSet;
use std::sync::Arc;

use scim_serverless::api::discovery::Discovery;
use scim_serverless::api::resources::Resources;
use scim_serverless::api::{HttpConfig, lambda};
use scim_serverless::auth::authorizer::{AuthorizerRequest, authorize};
use scim_serverless::auth::token::{TokenRecord, hash_token};
use scim_serverless::auth::{MemoryTokenSource, TokenSet, TokenStore, Verifier};
use scim_serverless::scim::discovery::Capabilities;
use scim_serverless::scim::schema::Registry;
use scim_serverless::tenant::TenantId;
use serde_json::Value;

const EXAMPLE_TOKEN: &str = "scim_EXAMPLEtokenEXAMPLEtokenEXAMPLEtoken000000";
const BASE: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/scim/v2/acme";

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// Runs an HTTP API event through the front door of the given routes.
async fn invoke(name: &str) -> (u16, http::HeaderMap, Value) {
    let request = lambda_http::request::from_str(&read(name)).expect("valid API Gateway event");
    let routes = (
        Discovery::new(Arc::new(Registry::default()), Capabilities::current()),
        Resources,
    );
    let config = HttpConfig {
        scheme: "https".into(),
        public_base_url: None,
    };
    let response = lambda::handle(&routes, &config, request).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    };
    (status, response.headers().clone(), body)
}

const HANDLER_EVENTS: &[&str] = &[
    "schemas-list.json",
    "schemas-get-user.json",
    "schemas-get-unknown.json",
    "schemas-wrong-method.json",
    "resource-types-list.json",
    "resource-types-get-user.json",
    "service-provider-config.json",
    "unknown-route.json",
    "tenant-mismatch.json",
];
const AUTHORIZER_EVENTS: &[&str] = &["authorizer-request.json", "authorizer-missing-token.json"];

#[test]
fn every_event_file_is_exercised_here() {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "env.json")
        .collect();
    let tested: BTreeSet<String> = HANDLER_EVENTS
        .iter()
        .chain(AUTHORIZER_EVENTS)
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(on_disk, tested);
    let env: Value = serde_json::from_str(&read("env.json")).unwrap();
    assert!(env.is_object());
}

#[tokio::test]
async fn schemas_list_returns_every_schema() {
    let (status, _, body) = invoke("schemas-list.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["totalResults"], 4);
    let ids: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:vendor:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
        ]
    );
    assert_eq!(
        body["Resources"][0]["meta"]["location"],
        format!("{BASE}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
    );
}

#[tokio::test]
async fn schema_by_id_and_unknown_schema() {
    let (status, _, body) = invoke("schemas-get-user.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "User");
    assert_eq!(body["attributes"][0]["name"], "userName");
    let (status, _, body) = invoke("schemas-get-unknown.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
}

#[tokio::test]
async fn wrong_method_is_405() {
    let (status, _, body) = invoke("schemas-wrong-method.json").await;
    assert_eq!(status, 405);
    assert_eq!(body["status"], "405");
}

#[tokio::test]
async fn resource_types() {
    let (status, _, body) = invoke("resource-types-list.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["totalResults"], 2);
    let (status, _, body) = invoke("resource-types-get-user.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["endpoint"], "/Users");
    assert_eq!(
        body["meta"]["location"],
        format!("{BASE}/ResourceTypes/User")
    );
}

#[tokio::test]
async fn service_provider_config() {
    let (status, _, body) = invoke("service-provider-config.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(
        body["meta"]["location"],
        format!("{BASE}/ServiceProviderConfig")
    );
}

#[tokio::test]
async fn unknown_route_is_a_scim_404() {
    let (status, _, body) = invoke("unknown-route.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
}

#[tokio::test]
async fn foreign_tenant_in_authorizer_context_is_401() {
    let (status, headers, body) = invoke("tenant-mismatch.json").await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], "401");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

async fn verifier_with_example_token() -> Verifier<MemoryTokenSource> {
    let source = MemoryTokenSource::default();
    let record = TokenRecord {
        id: "tok_example".into(),
        name: None,
        sha256: hash_token(EXAMPLE_TOKEN),
        created: "2026-11-22T00:00:00Z".into(),
    };
    source
        .save(
            &TenantId::parse("acme").unwrap(),
            &TokenSet::of(vec![record]),
        )
        .await
        .unwrap();
    Verifier::new(source, std::time::Duration::from_secs(60))
}

#[tokio::test]
async fn authorizer_allows_the_tenants_token_and_vouches_for_the_tenant() {
    let verifier = verifier_with_example_token().await;
    let request: AuthorizerRequest =
        serde_json::from_str(&read("authorizer-request.json")).unwrap();
    let response = authorize(&verifier, &request).await;
    assert!(response.is_authorized);
    assert_eq!(response.context["tenant"], "acme");
    assert_eq!(response.context["tokenId"], "tok_example");
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["isAuthorized"], true);
}

#[tokio::test]
async fn authorizer_denies_missing_token_and_other_tenants() {
    let verifier = verifier_with_example_token().await;
    let missing: AuthorizerRequest =
        serde_json::from_str(&read("authorizer-missing-token.json")).unwrap();
    assert!(!authorize(&verifier, &missing).await.is_authorized);
    let mut other: AuthorizerRequest =
        serde_json::from_str(&read("authorizer-request.json")).unwrap();
    other
        .path_parameters
        .insert("tenant".into(), "globex".into());
    let response = authorize(&verifier, &other).await;
    assert!(!response.is_authorized);
    assert!(response.context.is_empty());
}
