//! Shared set-up of the integration suites: the local AWS-compatible servers
//! that `tests/run.sh` starts (DynamoDB Local, moto) and unique tenants.

#![allow(dead_code)] // each test binary uses a different part of this module

use scim_serverless::store::dynamo::table::create_table;
use scim_serverless::store::{DynamoStore, TenantCensus};
use scim_serverless::tenant::TenantId;

/// The DynamoDB Streams events in `events/`, one per event type: fed to
/// the real `events` binary (`tests/lambda_runtime.rs`) and counted by the
/// check that every event file is exercised (`tests/events.rs`).
pub const STREAM_EVENT_FILES: &[&str] = &[
    "dynamodb-user-created.json",
    "dynamodb-user-updated.json",
    "dynamodb-user-deactivated.json",
    "dynamodb-user-reactivated.json",
    "dynamodb-user-deleted.json",
    "dynamodb-group-created.json",
    "dynamodb-group-updated.json",
    "dynamodb-group-deleted.json",
    "dynamodb-group-member-added.json",
    "dynamodb-group-member-removed.json",
];

/// A tenant's expected census: users, inactive users, groups, memberships.
pub fn census(users: u64, inactive_users: u64, groups: u64, memberships: u64) -> TenantCensus {
    TenantCensus {
        users,
        inactive_users,
        groups,
        memberships,
    }
}

/// Table shared by the DynamoDB tests; tests isolate by tenant.
pub const TEST_TABLE: &str = "scim-contract-tests";

/// A tenant no other test uses.
pub fn unique_tenant() -> TenantId {
    let id = uuid::Uuid::new_v4().simple().to_string();
    TenantId::parse(&format!("t-{}", &id[..16])).unwrap()
}

/// The SDK configuration for a local server whose endpoint variable is
/// set. When it is not set the test is skipped, unless
/// `SCIM_TEST_LOCAL_SERVERS=1` (the test command) demands the servers.
pub async fn aws_config(endpoint_var: &str) -> Option<aws_config::SdkConfig> {
    if std::env::var(endpoint_var).is_err() {
        assert!(
            std::env::var("SCIM_TEST_LOCAL_SERVERS").as_deref() != Ok("1"),
            "{endpoint_var} is not set but SCIM_TEST_LOCAL_SERVERS=1 requires the local servers"
        );
        eprintln!("skipped: {endpoint_var} not set (run bash tests/run.sh for the full suite)");
        return None;
    }
    Some(aws_config::load_from_env().await)
}

/// A store on DynamoDB Local with the test table created.
pub async fn dynamo_store() -> Option<DynamoStore> {
    let config = aws_config("AWS_ENDPOINT_URL_DYNAMODB").await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    create_table(&client, TEST_TABLE)
        .await
        .expect("create the test table on DynamoDB Local");
    Some(DynamoStore::new(client, TEST_TABLE))
}

pub mod cost;
pub mod http_api;
pub mod runtime_api;

/// Runs each named `async fn case(store)` as two tests: `memory::case` on
/// the embedded store and `dynamo::case` on DynamoDB Local (skipped when the
/// test command did not start it).
#[macro_export]
macro_rules! both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(scim_serverless::store::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(store) = $crate::common::dynamo_store().await {
                        super::$case(store).await;
                    }
                }
            )*
        }
    };
}

/// Every item of `tenant` in `table` (a Scan: tests only).
pub async fn tenant_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    tenant: &TenantId,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let prefix = format!("T#{tenant}#");
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(prefix.clone()),
            )
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// One SCIM request of `tenant` with `token` through a local front door
/// (token check included): the status and the JSON body (`Null` when empty).
pub async fn call_local<R, S>(
    app: &scim_serverless::api::local::LocalApp<R, S>,
    tenant: &TenantId,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value)
where
    R: scim_serverless::api::Routes,
    S: scim_serverless::auth::TokenSource,
{
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/scim/v2/{tenant}{path}"))
        .header("host", "scim.test")
        .header("authorization", format!("Bearer {token}"))
        .header("user-agent", "Azure AD SCIM Provisioning")
        .header("content-type", "application/scim+json")
        .body(body.map_or_else(bytes::Bytes::new, |b| bytes::Bytes::from(b.to_string())))
        .unwrap();
    let res = app.handle(req).await;
    let status = res.status().as_u16();
    let body = res.into_body();
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, body)
}

/// The changes of `tenant` the table's stream shows since the last call,
/// read until it has nothing new (DynamoDB Local serves the Streams API).
pub async fn stream_changes(
    reader: &mut scim_serverless::store::dynamo::stream::StreamReader,
    tenant: &TenantId,
) -> Vec<scim_serverless::events::Change> {
    let mut changes = Vec::new();
    let mut quiet = 0;
    while quiet < 3 {
        let records = reader.poll().await.unwrap();
        quiet = if records.is_empty() { quiet + 1 } else { 0 };
        for r in &records {
            if let Some(c) = scim_serverless::store::dynamo::stream::streams_change(r).unwrap()
                && c.tenant == *tenant
            {
                changes.push(c);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    changes
}
