//! Captures `tests/fixtures/old-layout.json`, the tenant that
//! `tests/migration.rs` migrates, as the release before issue 13's layout
//! (commit 880877a) writes it through its API: four users (a manager, a
//! report with an externalId, one waiting for a manager not yet
//! provisioned, two with several emails), two groups (one nested in the
//! other), and an ended membership's tombstone. Run it with that release's
//! code and the test servers:
//!
//! ```sh
//! git checkout 880877a -- src
//! SCIM_CAPTURE_FIXTURE=$PWD/tests/fixtures/old-layout.json SCIM_ONLY_SERVERS=1 \
//!   SCIM_SERVERS_CMD='cargo test --test capture_old_layout -- --ignored' bash tests/run.sh
//! git checkout HEAD -- src
//! ```

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::http_api::api;
use serde_json::{Map, Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A value of the SDK's as DynamoDB JSON (the fixture's form).
fn to_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(ss) => json!({"SS": ss}),
        AttributeValue::L(l) => json!({"L": l.iter().map(to_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => {
            let fields: Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            json!({ "M": fields })
        }
        other => panic!("attribute type of the old layout: {other:?}"),
    }
}

/// Writes the fixture's tenant through the API of the code under test and
/// saves its items.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "captures tests/fixtures/old-layout.json; run on the release before issue 13's layout (see the top of this file)"]
async fn capture_old_layout() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let path = std::env::var("SCIM_CAPTURE_FIXTURE").expect("SCIM_CAPTURE_FIXTURE");
    let api = api(store.clone());
    let mut users = Map::new();
    let create = |name: &str, body: Value| {
        let api = &api;
        let name = name.to_owned();
        async move {
            let id = api
                .call("POST", "/Users", Some(body))
                .await
                .expect(201)
                .body["id"]
                .as_str()
                .unwrap()
                .to_owned();
            (name, id)
        }
    };
    let (n, alice) = create(
        "alice",
        json!({"userName": "alice@x.example", "emails": [
            {"value": "alice@x.example", "type": "work", "primary": true},
            {"value": "alice@home.example", "type": "home"}]}),
    )
    .await;
    users.insert(n, alice.clone().into());
    let (n, bob) = create(
        "bob",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "bob@x.example", "externalId": "ext-bob",
            "emails": [{"value": "bob@x.example", "type": "work"}],
            ENTERPRISE: {"manager": {"value": alice}, "department": "Sales"}}),
    )
    .await;
    users.insert(n, bob.clone().into());
    let (n, carol) = create(
        "carol",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "carol@x.example",
            ENTERPRISE: {"manager": {"value": "dave@x.example"}}}),
    )
    .await;
    users.insert(n, carol.clone().into());
    let (n, eve) = create(
        "eve",
        json!({"userName": "eve@x.example", "emails": [{"value": "eve@home.example"}]}),
    )
    .await;
    users.insert(n, eve.clone().into());
    let group = |name: &str, members: &[&String]| {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        json!({"displayName": name, "members": members})
    };
    let sales = api
        .call("POST", "/Groups", Some(group("Sales", &[&alice, &bob])))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let all = api
        .call("POST", "/Groups", Some(group("All", &[&sales, &carol])))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": bob}, {"value": eve}]}]});
    api.call("PATCH", &format!("/Groups/{all}"), Some(add))
        .await
        .expect(204);
    // Eve leaves All again: her edge stays as a tombstone.
    let remove = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{eve}\"]")}]});
    api.call("PATCH", &format!("/Groups/{all}"), Some(remove))
        .await
        .expect(204);
    let mut items: Vec<Value> =
        common::tenant_items(store.client(), common::TEST_TABLE, &api.tenant)
            .await
            .iter()
            .map(|item| {
                let fields: Map<String, Value> =
                    item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
                Value::Object(fields)
            })
            .collect();
    items.sort_by_key(|i| (i["pk"].to_string(), i["sk"].to_string()));
    let fixture = json!({
        "users": users,
        "groups": {"Sales": sales, "All": all},
        "items": items,
    });
    let text = serde_json::to_string_pretty(&fixture)
        .unwrap()
        .replace(api.tenant.as_str(), "{tenant}");
    std::fs::write(path, text + "\n").unwrap();
}
