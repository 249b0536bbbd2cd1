//! The real function binaries under the Lambda Runtime API, Docker-free:
//! each binary is started as Lambda starts `bootstrap` (with
//! `AWS_LAMBDA_RUNTIME_API`), fed every file of `events/` meant for it, and
//! its answers checked. `users` and `groups` run against DynamoDB Local,
//! `authorizer` against moto, `events` publishes to an EventBridge bus on
//! moto (both started by `tests/run.sh`), `manage` against both, and
//! `recorder` writes a subscription batch into DynamoDB Local.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::runtime_api::{Function, Outcome, RuntimeApi};
use scim_serverless::auth::token::{TokenRecord, hash_token};
use scim_serverless::auth::{SecretsManagerSource, TokenSet, TokenStore};
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{DynamoStore, GroupCondition, Member, Record, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

const EXAMPLE_TOKEN: &str = "scim_EXAMPLEtokenEXAMPLEtokenEXAMPLEtoken000000";
const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY_ID: &str = "902c246b-6245-4190-8e05-00816be7344a";
const JSMITH_ID: &str = "0b6f5b8e-1c3d-4e2f-9a7b-8c9d0e1f2a3b";
const GROUP_ID: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Which function each event file is for.
const EVENTS: &[(&str, &[&str])] = &[
    (
        "schemas",
        &[
            "schemas-list.json",
            "schemas-get-user.json",
            "schemas-get-unknown.json",
            "schemas-wrong-method.json",
        ],
    ),
    (
        "resource_types",
        &["resource-types-list.json", "resource-types-get-user.json"],
    ),
    (
        "service_provider_config",
        &[
            "service-provider-config.json",
            "unknown-route.json",
            "tenant-mismatch.json",
        ],
    ),
    (
        "users",
        &[
            "users-get.json",
            "users-list.json",
            "users-filter-username.json",
            "users-search.json",
            "users-replace.json",
            "users-patch.json",
            "users-delete.json",
            "users-create.json",
        ],
    ),
    (
        "groups",
        &[
            "groups-get.json",
            "groups-list.json",
            "groups-filter-displayname.json",
            "groups-search.json",
            "groups-patch-add-members.json",
            "groups-patch-remove-member.json",
            "groups-replace.json",
            "groups-delete.json",
            "groups-create.json",
        ],
    ),
    ("bulk", &["bulk-request.json"]),
    (
        "authorizer",
        &["authorizer-request.json", "authorizer-missing-token.json"],
    ),
    ("events", common::STREAM_EVENT_FILES),
    (
        "manage",
        &[
            "manage-without-iam.json",
            "manage-openapi.json",
            "manage-create-tenant.json",
            "manage-get-tenant.json",
            "manage-list-tenants.json",
            "manage-issue-token.json",
            "manage-list-tokens.json",
            "manage-health.json",
            "manage-revoke-token.json",
            "manage-delete-tenant.json",
            "manage-schedule.json",
        ],
    ),
    ("recorder", &["recorder-subscription.json"]),
];

/// The binary of `function`: the cargo-built one, or with
/// `SCIM_LAMBDA_ARTIFACTS=<sam build dir>` the `bootstrap` that `sam build`
/// packaged (`tests/sam-build.sh`).
fn binary(function: &str) -> String {
    let (built, logical_id) = match function {
        "schemas" => (env!("CARGO_BIN_EXE_schemas"), "SchemasFunction"),
        "resource_types" => (
            env!("CARGO_BIN_EXE_resource_types"),
            "ResourceTypesFunction",
        ),
        "service_provider_config" => (
            env!("CARGO_BIN_EXE_service_provider_config"),
            "ServiceProviderConfigFunction",
        ),
        "users" => (env!("CARGO_BIN_EXE_users"), "UsersFunction"),
        "groups" => (env!("CARGO_BIN_EXE_groups"), "GroupsFunction"),
        "bulk" => (env!("CARGO_BIN_EXE_bulk"), "BulkFunction"),
        "authorizer" => (env!("CARGO_BIN_EXE_authorizer"), "AuthorizerFunction"),
        "events" => (env!("CARGO_BIN_EXE_events"), "EventsFunction"),
        "manage" => (env!("CARGO_BIN_EXE_manage"), "ManageFunction"),
        "recorder" => (env!("CARGO_BIN_EXE_recorder"), "RecorderFunction"),
        other => panic!("no function {other}"),
    };
    match std::env::var("SCIM_LAMBDA_ARTIFACTS") {
        Ok(dir) => format!("{dir}/{logical_id}/bootstrap"),
        Err(_) => built.to_owned(),
    }
}

/// An event file with tenant `acme` replaced by `tenant`, so runs never
/// share data in the shared test table.
fn event(name: &str, tenant: &TenantId) -> String {
    let text = std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"));
    text.replace("/scim/v2/acme", &format!("/scim/v2/{tenant}"))
        .replace("\"tenant\": \"acme\"", &format!("\"tenant\": \"{tenant}\""))
}

/// Starts `function` under a fresh Runtime API with `env`.
async fn launch(function: &str, env: &[(&str, &str)]) -> (RuntimeApi, Function) {
    let api = RuntimeApi::start().await;
    let process = Function::start(&binary(function), &api, env);
    (api, process)
}

/// A function's answer to an HTTP API event: the API Gateway response
/// document, checked for shape; the body parsed (`Null` when empty).
struct HttpAnswer {
    status: u16,
    headers: serde_json::Map<String, Value>,
    body: Value,
}

impl HttpAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

async fn invoke_http(api: &RuntimeApi, name: &str, event: &str) -> HttpAnswer {
    let Outcome::Response(document) = api.invoke(event).await else {
        panic!("{name}: the function reported an error");
    };
    let status = document["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: no statusCode in {document}")) as u16;
    let headers = document["headers"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: no headers in {document}"))
        .clone();
    assert_eq!(document["isBase64Encoded"], false, "{name}");
    let text = document["body"].as_str().unwrap_or("");
    let body = if text.is_empty() {
        Value::Null
    } else {
        assert_eq!(
            headers.get("content-type").and_then(Value::as_str),
            Some("application/scim+json"),
            "{name}"
        );
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: body not JSON ({e})"))
    };
    if status == 204 {
        assert_eq!(body, Value::Null, "{name}: 204 with a body");
    }
    if status >= 400 {
        assert_eq!(body["schemas"], json!([ERROR]), "{name}");
        assert_eq!(body["status"], status.to_string(), "{name}");
    }
    HttpAnswer {
        status,
        headers,
        body,
    }
}

fn list_total(answer: &HttpAnswer) -> u64 {
    assert_eq!(answer.body["schemas"], json!([LIST_RESPONSE]));
    answer.body["totalResults"].as_u64().unwrap()
}

#[test]
fn every_event_file_is_fed_to_a_function() {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "env.json")
        .collect();
    let fed: BTreeSet<String> = EVENTS
        .iter()
        .flat_map(|(_, files)| files.iter().map(|f| (*f).to_owned()))
        .collect();
    assert_eq!(on_disk, fed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_functions_answer_their_events() {
    let tenant = TenantId::parse("acme").unwrap();
    let expected: &[(&str, &str, u16)] = &[
        ("schemas", "schemas-list.json", 200),
        ("schemas", "schemas-get-user.json", 200),
        ("schemas", "schemas-get-unknown.json", 404),
        ("schemas", "schemas-wrong-method.json", 405),
        ("resource_types", "resource-types-list.json", 200),
        ("resource_types", "resource-types-get-user.json", 200),
        (
            "service_provider_config",
            "service-provider-config.json",
            200,
        ),
        ("service_provider_config", "unknown-route.json", 404),
        ("service_provider_config", "tenant-mismatch.json", 401),
    ];
    for (function, files) in &EVENTS[..3] {
        let (api, _process) = launch(function, &[]).await;
        for file in *files {
            let answer = invoke_http(&api, file, &event(file, &tenant)).await;
            let (_, _, status) = expected.iter().find(|(_, f, _)| f == file).unwrap();
            assert_eq!(answer.status, *status, "{function} {file}: {}", answer.body);
        }
        assert!(api.first_next().is_some());
    }
    let (api, _process) = launch("schemas", &[]).await;
    let list = invoke_http(
        &api,
        "schemas-list.json",
        &event("schemas-list.json", &tenant),
    )
    .await;
    assert_eq!(list_total(&list), 4);
    let (api, _process) = launch("service_provider_config", &[]).await;
    let denied = invoke_http(
        &api,
        "tenant-mismatch",
        &event("tenant-mismatch.json", &tenant),
    )
    .await;
    assert!(
        denied
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    let config = invoke_http(&api, "spc", &event("service-provider-config.json", &tenant)).await;
    assert_eq!(config.body["patch"]["supported"], true);
}

fn user(id: &str, user_name: &str, display: &str) -> Record {
    Record::new(
        ResourceKind::User,
        id,
        1,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "displayName": display,
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "active": true,
            "meta": {"resourceType": "User", "created": "2026-11-01T09:00:00Z",
                     "lastModified": "2026-11-01T09:00:00Z"},
        }),
    )
}

/// Barbara Jensen, Mandy Pepperidge and John Smith in `tenant`.
async fn seed_users(store: &DynamoStore, tenant: &TenantId) {
    for (id, name, display) in [
        (USER_ID, "bjensen@example.com", "Barbara Jensen"),
        (MANDY_ID, "mpepperidge@example.com", "Mandy Pepperidge"),
        (JSMITH_ID, "jsmith@example.com", "John Smith"),
    ] {
        store
            .create(tenant, &user(id, name, display))
            .await
            .unwrap();
    }
}

fn table_env() -> [(&'static str, &'static str); 1] {
    [("SCIM_TABLE_NAME", common::TEST_TABLE)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_function_on_dynamodb_local() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = common::unique_tenant();
    seed_users(&store, &tenant).await;
    let (api, process) = launch("users", &table_env()).await;
    let call = |file: &'static str| {
        let text = event(file, &tenant);
        let api = &api;
        async move { invoke_http(api, file, &text).await }
    };

    let got = call("users-get.json").await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["id"], USER_ID);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
    assert_eq!(list_total(&call("users-list.json").await), 3);
    let test_connection = call("users-filter-username.json").await;
    assert_eq!(list_total(&test_connection), 0);
    assert_eq!(test_connection.body["Resources"], json!([]));
    let search = call("users-search.json").await;
    assert_eq!(list_total(&search), 1);
    assert_eq!(
        search.body["Resources"][0]["userName"],
        "bjensen@example.com"
    );
    let replaced = call("users-replace.json").await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.header("etag"), Some("W/\"2\""));
    let patched = call("users-patch.json").await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["active"], false);
    assert_eq!(patched.header("etag"), Some("W/\"3\""));
    assert_eq!(call("users-delete.json").await.status, 204);
    assert_eq!(call("users-delete.json").await.status, 404);
    let created = call("users-create.json").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert!(
        created
            .header("location")
            .is_some_and(|l| l.ends_with(&format!("/scim/v2/{tenant}/Users/{id}")))
    );
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(created.body["active"], true);
    assert!(
        store
            .get(&tenant, ResourceKind::User, id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(!process.logs().is_empty(), "one log line per request");
}

/// The `bulk` binary on DynamoDB Local: a group sent before the users it
/// names by `bulkId`, every operation answered in request order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_function_on_dynamodb_local() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = common::unique_tenant();
    let (api, _process) = launch("bulk", &table_env()).await;
    let text = event("bulk-request.json", &tenant);
    let answer = invoke_http(&api, "bulk-request.json", &text).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ops = answer.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "201", "200"]);
    let group = ops[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let members = store
        .members(&tenant, group, usize::MAX)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(members.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_function_on_dynamodb_local() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = common::unique_tenant();
    seed_users(&store, &tenant).await;
    let group = Record::new(
        ResourceKind::Group,
        GROUP_ID,
        1,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Tour Guides",
            "meta": {"resourceType": "Group", "created": "2026-11-01T09:00:00Z",
                     "lastModified": "2026-11-01T09:00:00Z"},
        }),
    );
    store.create(&tenant, &group).await.unwrap();
    let bjensen = Member {
        id: USER_ID.into(),
        kind: ResourceKind::User,
        display: Some("Barbara Jensen".into()),
    };
    store
        .add_members(
            &tenant,
            GROUP_ID,
            GroupCondition::Exists { seen: 1 },
            &[bjensen],
        )
        .await
        .unwrap();
    let (api, _process) = launch("groups", &table_env()).await;
    let call = |file: &'static str| {
        let text = event(file, &tenant);
        let api = &api;
        async move { invoke_http(api, file, &text).await }
    };

    let got = call("groups-get.json").await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.get("members").is_none());
    let list = call("groups-list.json").await;
    assert_eq!(list_total(&list), 1);
    assert_eq!(list.body["Resources"][0]["members"][0]["value"], USER_ID);
    assert_eq!(list_total(&call("groups-filter-displayname.json").await), 1);
    let search = call("groups-search.json").await;
    assert_eq!(list_total(&search), 1);
    assert_eq!(search.body["Resources"][0]["displayName"], "Tour Guides");
    assert_eq!(call("groups-patch-add-members.json").await.status, 204);
    assert_eq!(call("groups-patch-remove-member.json").await.status, 204);
    let replaced = call("groups-replace.json").await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["displayName"], "Tour Guides EMEA");
    assert_eq!(call("groups-delete.json").await.status, 204);
    assert_eq!(call("groups-delete.json").await.status, 404);
    let created = call("groups-create.json").await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert!(created.header("location").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorizer_function_on_moto() {
    let Some(aws) = common::aws_config("AWS_ENDPOINT_URL_SECRETS_MANAGER").await else {
        return;
    };
    let tenant = common::unique_tenant();
    let pattern = format!("scim-harness-{}/{{tenant}}", uuid::Uuid::new_v4().simple());
    let source = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), &pattern);
    let record = TokenRecord {
        expires_at: None,
        id: "tok_example".into(),
        name: None,
        sha256: hash_token(EXAMPLE_TOKEN),
        created: "2026-11-22T00:00:00Z".into(),
    };
    source
        .save(&tenant, &TokenSet::of(vec![record]))
        .await
        .unwrap();
    let (api, _process) = launch(
        "authorizer",
        &[
            ("SCIM_SECRET_NAME_PATTERN", pattern.as_str()),
            ("SCIM_TOKEN_CACHE_TTL_SECS", "0"),
        ],
    )
    .await;
    let allowed = api.invoke(&event("authorizer-request.json", &tenant)).await;
    let Outcome::Response(allowed) = allowed else {
        panic!("authorizer error: {allowed:?}");
    };
    assert_eq!(allowed["isAuthorized"], true, "{allowed}");
    assert_eq!(allowed["context"]["tenant"], tenant.to_string());
    let missing = api
        .invoke(&event("authorizer-missing-token.json", &tenant))
        .await;
    let Outcome::Response(missing) = missing else {
        panic!("authorizer error: {missing:?}");
    };
    assert_eq!(missing["isAuthorized"], false, "{missing}");
}

/// The stream events of `events/dynamodb-*.json` through the `events`
/// binary, its tenants' breakers in the test table (settings from moto's
/// Secrets Manager, none there: the defaults): each batch is published
/// whole (no failed record reported).
#[tokio::test]
async fn events_function_on_moto() {
    let Some(aws) = common::aws_config("AWS_ENDPOINT_URL_EVENTBRIDGE").await else {
        return;
    };
    if common::dynamo_store().await.is_none() {
        return;
    }
    let bus = format!("scim-harness-{}", uuid::Uuid::new_v4().simple());
    aws_sdk_eventbridge::Client::new(&aws)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let (api, _process) = launch(
        "events",
        &[
            ("SCIM_EVENT_BUS_NAME", bus.as_str()),
            ("SCIM_TABLE_NAME", common::TEST_TABLE),
        ],
    )
    .await;
    let files = EVENTS.iter().find(|(f, _)| *f == "events").unwrap().1;
    for file in files {
        let text = std::fs::read_to_string(format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let Outcome::Response(answer) = api.invoke(&text).await else {
            panic!("{file}: the events function failed");
        };
        assert_eq!(answer, json!({"batchItemFailures": []}), "{file}");
    }
}

/// A DynamoDB endpoint that accepts connections and never answers: the
/// function's init must still end (the warm-up call runs beside it), and
/// the first request, which waits for the warm-up, must still be answered:
/// `503` once the calls' time limits are over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_and_first_request_end_when_the_table_never_answers() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let (api, mut process) = launch(
        "users",
        &[
            ("SCIM_TABLE_NAME", "scim-unreachable"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("SCIM_AWS_CONNECT_TIMEOUT_MS", "100"),
            ("SCIM_AWS_ATTEMPT_TIMEOUT_MS", "300"),
            ("SCIM_AWS_OPERATION_TIMEOUT_MS", "600"),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while api.first_next().is_none() {
        assert!(
            !process.exited(),
            "the function exited: {:?}",
            process.logs()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "init did not end: {:?}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(api.init_error(Duration::from_millis(100)).await.is_none());
    let tenant = TenantId::parse("acme").unwrap();
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        invoke_http(&api, "users-get.json", &event("users-get.json", &tenant)),
    )
    .await
    .unwrap_or_else(|_| panic!("the first request hangs: {:?}", process.logs()));
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(first.header("retry-after"), Some("5"));
}

/// A management API answer: the payload 2.0 document, its JSON body, and
/// every error in the management format (`code`, `message`).
async fn invoke_manage(api: &RuntimeApi, name: &str, event: &str) -> (u16, Value) {
    let Outcome::Response(document) = api.invoke(event).await else {
        panic!("{name}: the function reported an error");
    };
    let status = document["statusCode"].as_u64().unwrap() as u16;
    let text = document["body"].as_str().unwrap_or("");
    let body = if text.is_empty() {
        Value::Null
    } else {
        assert_eq!(
            document["headers"]["content-type"], "application/json",
            "{name}"
        );
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: body not JSON ({e})"))
    };
    if status >= 400 {
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{name}: {body}"
        );
    }
    (status, body)
}

/// A `manage-*.json` event for `tenant` (the fixtures name `acme`).
fn manage_event(name: &str, tenant: &TenantId) -> String {
    let text = std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"));
    text.replace("acme", tenant.as_str())
}

/// The management API's life of a tenant through the real `manage`
/// binary, on DynamoDB Local and moto's Secrets Manager, with the real
/// `authorizer` binary checking the tokens it issues and revokes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_function_on_dynamodb_local_and_moto() {
    let Some(_store) = common::dynamo_store().await else {
        return;
    };
    if common::aws_config("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .await
        .is_none()
    {
        return;
    }
    let tenant = common::unique_tenant();
    let pattern = format!("scim-harness-{}/{{tenant}}", uuid::Uuid::new_v4().simple());
    let env = [
        ("SCIM_TABLE_NAME", common::TEST_TABLE),
        ("SCIM_SECRET_NAME_PATTERN", pattern.as_str()),
        ("SCIM_TOKEN_CACHE_TTL_SECS", "0"),
        ("SCIM_AUTHORIZER_CACHE_TTL_SECS", "0"),
    ];
    let (api, _process) = launch("manage", &env).await;
    let (authorizer, _authorizer_process) = launch("authorizer", &env[1..3]).await;
    let call = |file: &'static str| {
        let text = manage_event(file, &tenant);
        let api = &api;
        async move { invoke_manage(api, file, &text).await }
    };
    let authorized = |token: String| {
        let mut request: Value =
            serde_json::from_str(&event("authorizer-request.json", &tenant)).unwrap();
        request["headers"]["authorization"] = json!(format!("Bearer {token}"));
        let authorizer = &authorizer;
        async move {
            let Outcome::Response(answer) = authorizer.invoke(&request.to_string()).await else {
                panic!("authorizer error");
            };
            answer["isAuthorized"] == true
        }
    };

    let (status, body) = call("manage-without-iam.json").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, document) = call("manage-openapi.json").await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));

    let (status, created) = call("manage-create-tenant.json").await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], tenant.as_str());
    let (status, body) = call("manage-create-tenant.json").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
    let (status, got) = call("manage-get-tenant.json").await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["displayName"], "Acme Corporation");
    let (status, page) = call("manage-list-tenants.json").await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["tenants"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [tenant.as_str()]);

    let (status, issued) = call("manage-issue-token.json").await;
    assert_eq!(status, 201, "{issued}");
    let secret = issued["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{issued}"));
    let token_id = issued["id"].as_str().unwrap().to_owned();
    // The Tenant URL of the stage the request came through.
    assert_eq!(
        issued["tenantUrl"],
        format!("https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/scim/v2/{tenant}")
    );
    assert!(
        authorized(secret.to_owned()).await,
        "the issued token is accepted"
    );
    let (status, tokens) = call("manage-list-tokens.json").await;
    assert_eq!(status, 200, "{tokens}");
    let listed = tokens["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], token_id.as_str());
    assert!(
        !tokens.to_string().contains(secret),
        "a secret is shown once"
    );
    let (status, health) = call("manage-health.json").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["users"]["active"], 0);

    let revoke =
        manage_event("manage-revoke-token.json", &tenant).replace("tok_EXAMPLE", &token_id);
    let (status, _) = invoke_manage(&api, "manage-revoke-token.json", &revoke).await;
    assert_eq!(status, 204);
    assert!(
        !authorized(secret.to_owned()).await,
        "a revoked token is refused"
    );
    let (status, _) = invoke_manage(&api, "manage-revoke-token.json", &revoke).await;
    assert_eq!(status, 404);

    let (status, deleting) = call("manage-delete-tenant.json").await;
    assert_eq!(status, 202, "{deleting}");
    let (status, view) = call("manage-get-tenant.json").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "deleting");
    assert_eq!(view["deletion"]["phase"], "waiting");
    // The schedule's tick: the deletion waits for the caches to drain.
    let Outcome::Response(report) = api
        .invoke(&manage_event("manage-schedule.json", &tenant))
        .await
    else {
        panic!("the purge step failed");
    };
    assert!(report["waiting"].as_u64().unwrap() >= 1, "{report}");
}

/// A subscription batch as CloudWatch Logs sends it (gzip, base64).
fn subscription_batch(lines: &[String]) -> String {
    use base64::Engine;
    use std::io::Write;
    let batch = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "/aws/lambda/scim-users", "logStream": "harness",
        "subscriptionFilters": ["harness"],
        "logEvents": lines.iter().enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 0, "message": m}))
            .collect::<Vec<_>>(),
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(batch.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    json!({"awslogs": {"data": data}}).to_string()
}

/// The `recorder` binary turns the functions' request lines into the
/// tenant's activity on DynamoDB Local (what the health view reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_function_on_dynamodb_local() {
    use scim_serverless::request_log::RequestRecord;
    use scim_serverless::store::ops::OpsStore;
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let (api, _process) = launch("recorder", &table_env()).await;
    let fixture = std::fs::read_to_string(format!(
        "{}/events/recorder-subscription.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let Outcome::Response(answer) = api.invoke(&fixture).await else {
        panic!("the recorder failed on its fixture");
    };
    assert_eq!(answer, json!({"recorded": 2}));

    let tenant = common::unique_tenant();
    let record = |request_id: &str, time: &str, status: u16, token: &str| RequestRecord {
        time: time.into(),
        tenant: tenant.to_string(),
        request_id: request_id.into(),
        token_id: Some(token.into()),
        user_agent: Some("Okta SCIM Client".into()),
        method: "POST".into(),
        path: format!("/scim/v2/{tenant}/Users"),
        query: None,
        status,
        scim_type: None,
        detail: None,
        duration_ms: 9,
        action: if status == 201 {
            "user.created"
        } else {
            "error"
        }
        .into(),
        resource_type: Some("User".into()),
        resource_id: None,
        target: None,
        change: None,
        matched: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let at = |s: i64| {
        (now - time::Duration::seconds(s))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let lines = vec![
        record("r1", &at(20), 201, "tok_a").to_line(),
        record("r2", &at(10), 409, "tok_b").to_line(),
        "START RequestId: 1 Version: $LATEST".to_owned(),
    ];
    let Outcome::Response(answer) = api.invoke(&subscription_batch(&lines)).await else {
        panic!("the recorder failed");
    };
    assert_eq!(answer, json!({"recorded": 2}));
    let activity = store.activity(&tenant).await.unwrap();
    let last = activity.last.expect("the last request is known");
    assert_eq!((last.status, last.time), (409, at(10)));
    assert_eq!(
        activity.tokens.keys().collect::<Vec<_>>(),
        ["tok_a", "tok_b"]
    );
    let counted: u64 = activity.buckets.values().map(|c| c.total()).sum();
    assert_eq!(counted, 2);
}
