//! The DynamoDB round-trip budget of `/Users`, counted by an SDK interceptor
//! against DynamoDB Local (the README's table comes from here). Each case
//! states the requests one SCIM request may make; a change that adds a
//! request fails here.

mod common;

use std::collections::BTreeMap;

use common::http_api::{Api, RequestCounter, api, counted_dynamo_store};
use scim_serverless::api::Routes;
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn user(name: &str) -> Value {
    json!({"userName": name, "externalId": format!("ext-{name}"),
           "emails": [{"value": name, "type": "work"}]})
}

/// Sends a request and returns its status and the DynamoDB requests it made.
async fn measure<R: Routes>(
    api: &Api<R>,
    counter: &RequestCounter,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, BTreeMap<String, usize>) {
    counter.take();
    let reply = api.call(method, path, body).await;
    (reply.status, reply.body, counter.take())
}

#[tokio::test]
async fn users_requests_stay_within_the_budget() {
    let Some((store, counter)) = counted_dynamo_store().await else {
        return;
    };
    let api = api(store);

    let (status, alice, made) =
        measure(&api, &counter, "POST", "/Users", Some(user("alice@x.com"))).await;
    assert_eq!(status, 201);
    assert_eq!(
        made,
        counts(&[("TransactWriteItems", 1)]),
        "POST: one transaction"
    );
    let alice_id = alice["id"].as_str().unwrap().to_owned();

    let (status, _, made) =
        measure(&api, &counter, "GET", &format!("/Users/{alice_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(made, counts(&[("GetItem", 1)]), "GET by id");

    let filter = "/Users?filter=userName eq \"ALICE@x.com\"";
    let (status, found, made) = measure(&api, &counter, "GET", filter, None).await;
    assert_eq!((status, found["totalResults"].clone()), (200, json!(1)));
    assert_eq!(made, counts(&[("GetItem", 2)]), "userName eq");

    let filter = "/Users?filter=externalId eq \"ext-alice@x.com\"";
    let (_, found, made) = measure(&api, &counter, "GET", filter, None).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(made, counts(&[("Query", 1)]), "externalId eq");

    let filter = "/Users?filter=emails[type eq \"work\"].value eq \"alice@x.com\"";
    let (_, found, made) = measure(&api, &counter, "GET", filter, None).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(
        made,
        counts(&[("BatchGetItem", 1), ("Query", 1)]),
        "email eq"
    );

    let (_, page, made) =
        measure(&api, &counter, "GET", "/Users?startIndex=1&count=100", None).await;
    assert_eq!(page["totalResults"], 1);
    // The count's shards are read in one `BatchGetItem`.
    assert_eq!(
        made,
        counts(&[("BatchGetItem", 1), ("Query", 1)]),
        "list page"
    );

    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Add", "path": "title", "value": "CISO"},
    ]});
    let path = format!("/Users/{alice_id}");
    let (status, _, made) = measure(&api, &counter, "PATCH", &path, Some(patch)).await;
    assert_eq!(status, 200);
    // Only the user item changes (`active` stays true): one conditional
    // PutItem, not a transaction of one item (billed twice).
    assert_eq!(made, counts(&[("GetItem", 1), ("PutItem", 1)]), "PATCH");

    // A flip of `active` also counts the user in its counter shard: a
    // transaction of the two.
    for value in ["False", "True"] {
        let flip = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "active", "value": value},
        ]});
        let (status, _, made) = measure(&api, &counter, "PATCH", &path, Some(flip)).await;
        assert_eq!(status, 200);
        assert_eq!(
            made,
            counts(&[("GetItem", 1), ("TransactWriteItems", 1)]),
            "PATCH active {value}"
        );
    }

    let mut put = user("alice@x.com");
    put["title"] = json!("CISO");
    let (status, _, made) = measure(&api, &counter, "PUT", &path, Some(put.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(made, counts(&[("GetItem", 1), ("PutItem", 1)]), "PUT");

    put["displayName"] = json!("Alice");
    let (status, _, made) = measure(&api, &counter, "PUT", &path, Some(put)).await;
    assert_eq!(status, 200);
    // A new display name is copied to direct reports: one Query finds them.
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("Query", 1), ("PutItem", 1)]),
        "PUT that renames"
    );

    // A report naming Alice by id: + 1 GetItem to resolve the manager.
    let mut report = user("bob@x.com");
    report[ENTERPRISE] = json!({"manager": {"value": alice_id}});
    let (status, _, made) = measure(&api, &counter, "POST", "/Users", Some(report)).await;
    assert_eq!(status, 201);
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("TransactWriteItems", 1)]),
        "POST with manager"
    );

    // A report whose manager is not provisioned yet, then the manager: the
    // create learns inside its transaction that a report waits (the checked
    // transaction is cancelled and repeated), finds it with one Query per
    // name of the new user, and links it (read + write).
    let mut waiting = user("carol@x.com");
    waiting[ENTERPRISE] = json!({"manager": "dave@x.com"});
    let (status, _, made) = measure(&api, &counter, "POST", "/Users", Some(waiting)).await;
    assert_eq!(status, 201);
    // The unknown email is looked up by id, externalId, userName and email.
    assert_eq!(
        made,
        counts(&[("GetItem", 2), ("Query", 2), ("TransactWriteItems", 1)]),
        "POST with an unknown manager"
    );
    let (status, _, made) =
        measure(&api, &counter, "POST", "/Users", Some(user("dave@x.com"))).await;
    assert_eq!(status, 201);
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("Query", 2), ("TransactWriteItems", 3)]),
        "POST of a manager one report waits for (names: externalId, userName = email)"
    );

    // Okta's import: the next page starts where the last one ended.
    let (_, page, _) = measure(&api, &counter, "GET", "/Users?startIndex=1&count=2", None).await;
    assert_eq!(page["totalResults"], 4);
    let (_, page, made) = measure(&api, &counter, "GET", "/Users?startIndex=3&count=2", None).await;
    assert_eq!(page["Resources"].as_array().unwrap().len(), 2);
    assert_eq!(
        made,
        counts(&[("BatchGetItem", 1), ("Query", 1)]),
        "next index page"
    );

    let carol_path = format!("/Users/{}", found_id(&api, "carol@x.com").await);
    let (status, _, made) = measure(&api, &counter, "DELETE", &carol_path, None).await;
    assert_eq!(status, 204);
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("Query", 1), ("TransactWriteItems", 1)]),
        "DELETE"
    );

    let (status, _, made) = measure(&api, &counter, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    // Read, delete transaction, direct reports query, one report unlinked
    // (read + write).
    assert_eq!(
        made,
        counts(&[("GetItem", 2), ("Query", 1), ("TransactWriteItems", 2)]),
        "DELETE of a manager with one report"
    );
}

async fn found_id<R: Routes>(api: &Api<R>, user_name: &str) -> String {
    let found = api
        .call(
            "GET",
            &format!("/Users?filter=userName eq \"{user_name}\""),
            None,
        )
        .await
        .expect(200);
    found.ids().remove(0)
}

#[tokio::test]
async fn groups_requests_stay_within_the_budget() {
    let Some((store, counter)) = counted_dynamo_store().await else {
        return;
    };
    let api = api(store);
    let mut users = Vec::new();
    for i in 0..3 {
        let (_, u, _) = measure(
            &api,
            &counter,
            "POST",
            "/Users",
            Some(user(&format!("m{i}@x.com"))),
        )
        .await;
        users.push(u["id"].as_str().unwrap().to_owned());
    }

    let body = json!({"displayName": "Sales", "externalId": "ext-sales"});
    let (status, g, made) = measure(&api, &counter, "POST", "/Groups", Some(body)).await;
    assert_eq!(status, 201);
    assert_eq!(
        made,
        counts(&[("TransactWriteItems", 1)]),
        "POST /Groups without members"
    );
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());

    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}]},
    ]});
    let (status, _, made) = measure(&api, &counter, "PATCH", &path, Some(patch)).await;
    assert_eq!(status, 204);
    // Read the group, check the members exist (one batch), one transaction
    // of edges, members' group lists and the group's version.
    assert_eq!(
        made,
        counts(&[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1)
        ]),
        "PATCH adding two members"
    );

    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])},
    ]});
    let (status, _, made) = measure(&api, &counter, "PATCH", &path, Some(patch)).await;
    assert_eq!(status, 204);
    assert_eq!(
        made,
        counts(&[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1)
        ]),
        "PATCH removing a member (the batch reads its edge)"
    );

    let entra = format!("{path}?excludedAttributes=members");
    let (status, _, made) = measure(&api, &counter, "GET", &entra, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        made,
        counts(&[("GetItem", 1)]),
        "GET with excludedAttributes=members reads no edge"
    );

    let (status, full, made) = measure(&api, &counter, "GET", &path, None).await;
    assert_eq!(
        (status, full["members"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("Query", 1)]),
        "GET with members"
    );

    let filter = "/Groups?excludedAttributes=members&filter=displayName eq \"SALES\"";
    let (_, found, made) = measure(&api, &counter, "GET", filter, None).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(made, counts(&[("GetItem", 2)]), "displayName eq");

    let filter = format!(
        "/Groups?excludedAttributes=members&filter=members[value eq \"{}\"]",
        users[0]
    );
    let (_, found, made) = measure(&api, &counter, "GET", &filter, None).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(
        made,
        counts(&[("BatchGetItem", 1), ("GetItem", 1)]),
        "members[value eq]"
    );

    let member = format!("/Users/{}", users[0]);
    let (_, u, made) = measure(&api, &counter, "GET", &member, None).await;
    assert_eq!(u["groups"][0]["display"], "Sales");
    assert_eq!(
        made,
        counts(&[("BatchGetItem", 1), ("GetItem", 1)]),
        "GET of a user in a group"
    );

    let (status, _, made) = measure(&api, &counter, "DELETE", &member, None).await;
    assert_eq!(status, 204);
    // Read, one step ending its membership (edge + the group's version),
    // the delete transaction, the direct-reports query.
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("Query", 1), ("TransactWriteItems", 2)]),
        "DELETE of a user in one group"
    );

    let (status, _, made) = measure(&api, &counter, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    // No member left, but the tombstone of the member removed above: one
    // page of edges, one step deleting it, the delete transaction.
    assert_eq!(
        made,
        counts(&[("GetItem", 1), ("Query", 1), ("TransactWriteItems", 2)]),
        "DELETE of a group without members left"
    );
}
