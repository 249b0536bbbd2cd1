//! `POST /Bulk` end to end on both stores, through the front door: a
//! request of 100 operations creating users and a group and adding them
//! by `bulkId` (sent in an order where the group comes first); errors per
//! operation with `failOnErrors`; unknown, circular and failed references;
//! `version` as `If-Match`; limits refused with 413 before anything runs;
//! every operation recorded in the request log as the request it stands
//! for; `/ServiceProviderConfig` saying so.

mod common;

use common::http_api::{Api, api};
use scim_serverless::request_log::{Recorder, RequestRecord};
use scim_serverless::scim::bulk::{MAX_OPERATIONS, MAX_PAYLOAD_BYTES};
use scim_serverless::store::{MemoryStore, Store};
use serde_json::{Value, json};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn bulk(ops: Vec<Value>) -> Value {
    json!({"schemas": [BULK], "Operations": ops})
}

fn user(bulk_id: &str, name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
           "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true}})
}

fn statuses(body: &Value) -> Vec<String> {
    body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_hundred_operations_create_users_and_a_group_by_bulk_id<
    R: scim_serverless::api::Routes,
>(
    api: &Api<R>,
) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut ops = vec![json!({"method": "POST", "path": "/Groups", "bulkId": "g",
        "data": {"schemas": [GROUP], "displayName": format!("Everyone {run}"),
                 "members": (0..50).map(|i| json!({"value": format!("bulkId:u{i}")})).collect::<Vec<_>>()}})];
    for i in 0..98 {
        ops.push(user(&format!("u{i}"), &format!("u{i}-{run}@example.com")));
    }
    ops.push(json!({"method": "PATCH", "path": "/Groups/bulkId:g", "data": {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members",
                        "value": (50..98).map(|i| json!({"value": format!("bulkId:u{i}")})).collect::<Vec<_>>()}]}}));
    assert_eq!(ops.len(), 100);
    let reply = api.call("POST", "/Bulk", Some(bulk(ops))).await.expect(200);
    let results = reply.body["Operations"].as_array().unwrap();
    assert_eq!(
        results.len(),
        100,
        "one result per operation, in request order"
    );
    assert_eq!(results[0]["bulkId"], "g");
    assert_eq!(results[0]["status"], "201");
    assert_eq!(results[1]["bulkId"], "u0");
    assert!(results[1]["location"].as_str().unwrap().contains("/Users/"));
    assert!(results[1]["version"].as_str().unwrap().starts_with("W/"));
    assert_eq!(results[99]["method"], "PATCH");
    assert!(["200", "204"].contains(&results[99]["status"].as_str().unwrap()));
    assert!(
        results.iter().all(|r| r.get("response").is_none()),
        "no errors"
    );
    // The group holds all 98, by their real ids.
    let group = results[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let got = api
        .call("GET", &format!("/Groups/{group}"), None)
        .await
        .expect(200);
    let members: Vec<&str> = got.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 98);
    let user_ids: Vec<String> = results[1..99]
        .iter()
        .map(|r| {
            r["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for id in &user_ids {
        assert!(members.contains(&id.as_str()), "{id}");
    }
}

async fn errors_are_per_operation<R: scim_serverless::api::Routes>(api: &Api<R>) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("dup-{run}@example.com");
    // A duplicate, an unknown reference, a circle, a reference to a failed
    // POST, and a stale version.
    let ops = vec![
        user("a", &name),
        user("b", &name),
        json!({"method": "DELETE", "path": "/Users/bulkId:nobody"}),
        json!({"method": "POST", "path": "/Groups", "bulkId": "c1",
               "data": {"displayName": format!("c1 {run}"), "members": [{"value": "bulkId:c2"}]}}),
        json!({"method": "POST", "path": "/Groups", "bulkId": "c2",
               "data": {"displayName": format!("c2 {run}"), "members": [{"value": "bulkId:c1"}]}}),
        json!({"method": "PATCH", "path": "/Users/bulkId:b", "data": {"schemas": [PATCH_OP],
               "Operations": [{"op": "replace", "path": "active", "value": false}]}}),
        json!({"method": "PATCH", "path": "/Users/bulkId:a", "version": "W/\"99\"", "data": {"schemas": [PATCH_OP],
               "Operations": [{"op": "replace", "path": "active", "value": false}]}}),
    ];
    let reply = api.call("POST", "/Bulk", Some(bulk(ops))).await.expect(200);
    assert_eq!(
        statuses(&reply.body),
        ["201", "409", "409", "409", "409", "409", "412"]
    );
    let results = reply.body["Operations"].as_array().unwrap();
    assert_eq!(results[1]["response"]["scimType"], "uniqueness");
    for (i, result) in results.iter().enumerate().take(6).skip(2) {
        assert_eq!(result["response"]["scimType"], "invalidValue", "{i}");
    }
    assert!(
        results[2]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("nobody")
    );
    assert!(
        results[3]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("circle")
    );
    assert!(
        results[5]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("bulkId b")
    );
    // The 412 left the user as it was.
    let a = results[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        api.call("GET", &format!("/Users/{a}"), None)
            .await
            .expect(200)
            .body["active"],
        true
    );

    // failOnErrors: 1 stops after the first error; what did not run is not
    // in the response, and was not done.
    let other = format!("after-{run}@example.com");
    let mut request = bulk(vec![user("x", &name), user("y", &other)]);
    request["failOnErrors"] = json!(1);
    let reply = api.call("POST", "/Bulk", Some(request)).await.expect(200);
    assert_eq!(statuses(&reply.body), ["409"]);
    let found = api
        .call(
            "GET",
            &format!("/Users?filter=userName eq \"{other}\""),
            None,
        )
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 0);
}

async fn limits_are_refused_before_anything_runs<R: scim_serverless::api::Routes>(api: &Api<R>) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut ops: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/x{i}")}))
        .collect();
    ops[0] = user("first", &format!("never-{run}@example.com"));
    let reply = api.call("POST", "/Bulk", Some(bulk(ops))).await.expect(413);
    assert_eq!(reply.body["status"], "413");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("maxOperations")
    );
    let big = "x".repeat(MAX_PAYLOAD_BYTES);
    let ops = vec![json!({"method": "POST", "path": "/Users", "bulkId": "big",
                          "data": {"userName": format!("big-{run}"), "title": big}})];
    let reply = api.call("POST", "/Bulk", Some(bulk(ops))).await.expect(413);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("maxPayloadSize")
    );
    let found = api
        .call(
            "GET",
            &format!("/Users?filter=userName sw \"never-{run}\""),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        found.body["totalResults"], 0,
        "nothing of a refused request ran"
    );
    api.call("POST", "/Bulk", Some(json!({"Operations": []})))
        .await
        .expect(400);
    api.call("GET", "/Bulk", None).await.expect(405);
}

async fn bulk_on<S: Store + Clone>(store: S) {
    let api = api(store);
    a_hundred_operations_create_users_and_a_group_by_bulk_id(&api).await;
    errors_are_per_operation(&api).await;
    limits_are_refused_before_anything_runs(&api).await;
}

#[tokio::test]
async fn bulk_memory() {
    bulk_on(MemoryStore::new()).await;
}

#[tokio::test]
async fn bulk_dynamo() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    bulk_on(store).await;
}

#[tokio::test]
async fn every_operation_is_recorded_as_the_request_it_stands_for() {
    let (records, mut recorded) = tokio::sync::mpsc::unbounded_channel::<RequestRecord>();
    let mut api = api(MemoryStore::new());
    api.recorder = Recorder::Channel(records);
    let ops = vec![
        user("a", "rec-a@example.com"),
        json!({"method": "PATCH", "path": "/Users/bulkId:a", "data": {"schemas": [PATCH_OP],
               "Operations": [{"op": "replace", "path": "active", "value": false}]}}),
    ];
    let reply = api
        .call_with(
            "POST",
            "/Bulk",
            Some(bulk(ops)),
            &[("x-request-id", "ignored")],
        )
        .await
        .expect(200);
    assert_eq!(statuses(&reply.body), ["201", "200"]);
    let mut got = Vec::new();
    while let Ok(r) = recorded.try_recv() {
        got.push(r);
    }
    let actions: Vec<&str> = got.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["user.created", "user.deactivated", "bulk"]);
    let parent = &got[2].request_id;
    assert_eq!(got[0].request_id, format!("{parent}-0"));
    assert_eq!(got[1].request_id, format!("{parent}-1"));
    assert_eq!(got[1].method, "PATCH");
}

#[tokio::test]
async fn the_service_provider_config_advertises_bulk_with_its_limits() {
    let api = api(MemoryStore::new());
    let spc = api
        .call("GET", "/ServiceProviderConfig", None)
        .await
        .expect(200);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert_eq!(spc.body["bulk"]["maxOperations"], MAX_OPERATIONS);
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], MAX_PAYLOAD_BYTES);
}
