//! The management API as `scim-local` serves it, through the same front
//! door: credentials (operator key only, never a tenant token, and the key
//! never on SCIM routes), every route's answers and errors, the `Host`
//! check, the console's CSRF rule, and a revoked token stopping SCIM at
//! once, on both stores.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use scim_serverless::admin::Operator;
use scim_serverless::api::HttpConfig;
use scim_serverless::api::local::LocalApp;
use scim_serverless::api::manage::ManageApi;
use scim_serverless::api::operator::LocalOperatorPlane;
use scim_serverless::auth::{MemoryTokenSource, Verifier};
use scim_serverless::config::Config;
use scim_serverless::runtime::all_routes;
use scim_serverless::store::Store;
use scim_serverless::store::ops::OpsStore;
use serde_json::{Value, json};

const KEY: &str = "scimop_test-operator-key";
const HOST: &str = "127.0.0.1:8080";

/// The app `scim-local` runs: SCIM routes and the operator plane over
/// one token source and one store.
fn app<S: Store + OpsStore + Clone>(
    store: S,
) -> LocalApp<impl scim_serverless::api::Routes + 'static, MemoryTokenSource> {
    let tokens = MemoryTokenSource::default();
    let mut operator = Operator::new(
        tokens.clone(),
        store.clone(),
        Some(format!("http://{HOST}/scim/v2/{{tenant}}")),
    );
    operator.delete_wait = std::time::Duration::from_secs(3600);
    let addr: SocketAddr = HOST.parse().unwrap();
    let plane = LocalOperatorPlane::new(ManageApi::new(operator), KEY.to_owned(), addr);
    LocalApp {
        operator: Some(Arc::new(plane)),
        routes: all_routes(store, &Config::default()),
        verifier: Verifier::new(tokens, std::time::Duration::ZERO),
        config: HttpConfig::default(),
    }
}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

async fn send(
    app: &LocalApp<impl scim_serverless::api::Routes + 'static, MemoryTokenSource>,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("content-type", "application/json");
    if let Some(auth) = auth {
        builder = builder.header("authorization", format!("Bearer {auth}"));
    }
    let request = builder
        .body(body.map_or_else(Bytes::new, |b| Bytes::from(b.to_owned())))
        .unwrap();
    let response = app.handle(request).await;
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    }
}

async fn every_route_answers_and_errors_carry_stable_codes(store: impl Store + OpsStore + Clone) {
    let app = app(store);
    let t = common::unique_tenant();
    let tenants = "/manage/v1/tenants";
    let create = json!({"id": t.as_str(), "displayName": "Acme"}).to_string();
    let created = send(&app, "POST", tenants, Some(KEY), Some(&create)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.headers["location"], format!("{tenants}/{t}"));
    assert_eq!(created.body["tokenCount"], 0);
    let dup = send(&app, "POST", tenants, Some(KEY), Some(&create)).await;
    assert_eq!(
        (dup.status, dup.body["code"].as_str()),
        (409, Some("conflict"))
    );
    for (body, code) in [
        ("not json", "invalid_json"),
        ("[]", "invalid_json"),
        (r#"{"id": "Not_Valid"}"#, "invalid_request"),
        (r#"{"id": "ok", "extra": 1}"#, "invalid_request"),
    ] {
        let bad = send(&app, "POST", tenants, Some(KEY), Some(body)).await;
        assert_eq!(
            (bad.status, bad.body["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
        assert!(bad.body["requestId"].is_string());
    }
    let huge = format!(r#"{{"id": "{}"}}"#, "a".repeat(70_000));
    let too_large = send(&app, "POST", tenants, Some(KEY), Some(&huge)).await;
    assert_eq!(too_large.status, 413);
    let listed = send(
        &app,
        "GET",
        &format!("{tenants}?prefix={t}"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(listed.body["tenants"][0]["id"], t.as_str());
    let limit = send(&app, "GET", &format!("{tenants}?limit=0"), Some(KEY), None).await;
    assert_eq!(limit.status, 400);
    let unknown = send(
        &app,
        "GET",
        &format!("{tenants}/nobody-here"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let wrong_method = send(&app, "PUT", &format!("{tenants}/{t}"), Some(KEY), None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.headers["allow"], "GET, DELETE");

    let tokens = format!("{tenants}/{t}/tokens");
    let issued = send(
        &app,
        "POST",
        &tokens,
        Some(KEY),
        Some(r#"{"name": "entra"}"#),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let token = issued.body["token"].as_str().unwrap().to_owned();
    let token_id = issued.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        issued.body["tenantUrl"],
        format!("http://{HOST}/scim/v2/{t}")
    );

    // A tenant token is no operator credential, the operator key no SCIM one.
    let with_token = send(&app, "GET", tenants, Some(&token), None).await;
    assert_eq!(
        (with_token.status, with_token.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(send(&app, "GET", tenants, None, None).await.status, 401);
    assert_eq!(
        send(&app, "GET", tenants, Some("scimop_wrong"), None)
            .await
            .status,
        401
    );
    let users = format!("/scim/v2/{t}/Users");
    assert_eq!(send(&app, "GET", &users, Some(KEY), None).await.status, 401);

    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"});
    let posted = send(&app, "POST", &users, Some(&token), Some(&user.to_string())).await;
    assert_eq!(posted.status, 201);
    let listed = send(&app, "GET", &tokens, Some(KEY), None).await;
    let shown = listed.body.to_string();
    assert!(
        !shown.contains(&token) && !shown.contains("sha256"),
        "{shown}"
    );
    assert_eq!(listed.body["tokens"][0]["id"], token_id.as_str());

    let revoked = send(
        &app,
        "DELETE",
        &format!("{tokens}/{token_id}"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(revoked.status, 204);
    assert_eq!(
        send(&app, "GET", &users, Some(&token), None).await.status,
        401,
        "a revoked token stops SCIM at once in one process"
    );
    let gone = send(
        &app,
        "DELETE",
        &format!("{tokens}/{token_id}"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);

    let health = send(
        &app,
        "GET",
        &format!("{tenants}/{t}/health"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["users"]["total"], 1);

    let deleting = send(&app, "DELETE", &format!("{tenants}/{t}"), Some(KEY), None).await;
    assert_eq!(deleting.status, 202);
    assert_eq!(deleting.body["status"], "deleting");
    assert_eq!(deleting.body["deletion"]["phase"], "waiting");
    let locked = send(&app, "POST", &tokens, Some(KEY), Some(r#"{"name": "x"}"#)).await;
    assert_eq!(locked.status, 409);

    let long = format!("{tenants}?prefix={}", "a".repeat(9000));
    let too_long = send(&app, "GET", &long, Some(KEY), None).await;
    assert_eq!(too_long.status, 414);
    assert_eq!(too_long.body["code"], "uri_too_long");
}

async fn foreign_hosts_and_console_calls_without_csrf_are_refused(
    store: impl Store + OpsStore + Clone,
) {
    let app = app(store);
    let request = http::Request::builder()
        .uri("/manage/v1/tenants")
        .header("host", "attacker.example:8080")
        .header("authorization", format!("Bearer {KEY}"))
        .body(Bytes::new())
        .unwrap();
    let response = app.handle(request).await;
    assert_eq!(response.status(), 403, "DNS rebinding: foreign Host");
    let cookie_only = http::Request::builder()
        .method("POST")
        .uri("/manage/v1/tenants")
        .header("host", HOST)
        .header("cookie", "scim_console=made-up")
        .body(Bytes::from_static(b"{\"id\": \"x\"}"))
        .unwrap();
    assert_eq!(
        app.handle(cookie_only).await.status(),
        401,
        "no such session"
    );
    let console = http::Request::builder()
        .uri("/console")
        .header("host", HOST)
        .body(Bytes::new())
        .unwrap();
    let page = app.handle(console).await;
    assert_eq!(page.status(), 401);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

both_stores!(
    every_route_answers_and_errors_carry_stable_codes,
    foreign_hosts_and_console_calls_without_csrf_are_refused,
);
