//! Values that become DynamoDB keys: the limits are checked on the keys as
//! built (prefixes, lower-casing) and answered `400 invalidValue` naming
//! the attribute, the same on both stores; the largest accepted values are
//! stored on DynamoDB Local; a `ValidationException` is the request's
//! fault, never a `503`.

mod common;

use common::http_api::{Api, api};
use scim_serverless::api::Routes;
use scim_serverless::scim::ScimError;
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{Record, Store, StoreError};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(user_name: &str) -> Value {
    json!({"userName": user_name, "emails": [{"value": "someone@example.com"}]})
}

/// Expects `400 invalidValue` whose detail names `attribute`.
async fn refused<R: Routes>(api: &Api<R>, method: &str, path: &str, body: Value, attribute: &str) {
    let reply = api.call(method, path, Some(body)).await.expect(400);
    assert_eq!(reply.body["scimType"], "invalidValue", "{}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains(attribute), "{detail} names {attribute}");
}

async fn long_user_names_are_refused<S: Store + Clone>(store: S) {
    let api = api(store);
    // 1,020 ASCII bytes fit the old raw limit, not the marker's key.
    refused(&api, "POST", "/Users", user(&"a".repeat(1020)), "userName").await;
    // 1,024 bytes that lower-case to 1,536.
    refused(&api, "POST", "/Users", user(&"İ".repeat(512)), "userName").await;
    // The largest userName that fits for any tenant is stored.
    let longest = "a".repeat(955);
    let created = api
        .call("POST", "/Users", Some(user(&longest)))
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let found = api
        .call(
            "GET",
            &format!("/Users?filter=userName eq \"{longest}\""),
            None,
        )
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1);
    // A rename past the limit changes nothing.
    let rename = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "userName", "value": "b".repeat(956)}]});
    refused(&api, "PATCH", &path, rename, "userName").await;
    let after = api.call("GET", &path, None).await.expect(200);
    assert_eq!(after.body["userName"], longest.as_str());
    assert_eq!(
        after.body["meta"]["version"],
        created.body["meta"]["version"]
    );
}

async fn long_emails_and_managers_are_refused<S: Store + Clone>(store: S) {
    let api = api(store);
    let email = |len: usize| format!("{}@example.com", "e".repeat(len - 12));
    let mut body = user("mail@example.com");
    body["emails"] = json!([{"value": email(1020)}]);
    refused(&api, "POST", "/Users", body.clone(), "emails.value").await;
    body["emails"] = json!([{"value": email(917)}]);
    api.call("POST", "/Users", Some(body)).await.expect(201);

    let mut body = user("report@example.com");
    body[ENTERPRISE] = json!({"manager": {"value": "m".repeat(1000)}});
    refused(&api, "POST", "/Users", body.clone(), "manager.value").await;
    // The longest pending manager value that fits waits for its manager.
    body[ENTERPRISE] = json!({"manager": {"value": "m".repeat(953)}});
    api.call("POST", "/Users", Some(body)).await.expect(201);

    let mut body = user("external@example.com");
    body["externalId"] = json!("X".repeat(1024));
    api.call("POST", "/Users", Some(body)).await.expect(201);
}

async fn long_group_names_are_refused<S: Store + Clone>(store: S) {
    let api = api(store);
    let group = |name: &str| json!({"displayName": name});
    refused(
        &api,
        "POST",
        "/Groups",
        group(&"g".repeat(1020)),
        "displayName",
    )
    .await;
    refused(
        &api,
        "POST",
        "/Groups",
        group(&"İ".repeat(400)),
        "displayName",
    )
    .await;
    api.call("POST", "/Groups", Some(group(&"g".repeat(955))))
        .await
        .expect(201);
}

/// A NUL, any other C0 character, DEL or a C1 character in a keyed value
/// is refused on create, PUT and PATCH, and nothing is stored.
async fn control_characters_in_keys_are_refused<S: Store + Clone>(store: S) {
    let api = api(store);
    for bad in [
        "ada\u{0}@example.com",
        "ada\t@example.com",
        "ada\u{7f}",
        "ada\u{85}x",
    ] {
        refused(&api, "POST", "/Users", user(bad), "userName").await;
        refused(
            &api,
            "POST",
            "/Users",
            json!({"userName": "ok@example.com", "externalId": bad}),
            "externalId",
        )
        .await;
        refused(
            &api,
            "POST",
            "/Users",
            json!({"userName": "ok@example.com", "emails": [{"value": bad}]}),
            "email",
        )
        .await;
        refused(
            &api,
            "POST",
            "/Groups",
            json!({"displayName": bad}),
            "displayName",
        )
        .await;
    }
    let found = api
        .call("GET", "/Users?filter=userName sw \"ada\"", None)
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 0, "nothing stored");
    let created = api
        .call("POST", "/Users", Some(user("clean@example.com")))
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    refused(
        &api,
        "PUT",
        &path,
        user("clean\u{0}@example.com"),
        "userName",
    )
    .await;
    let patch = json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ada\u{1b}[31m"}]});
    refused(&api, "PATCH", &path, patch, "displayName").await;
    // Printable Unicode is not a control character.
    api.call("POST", "/Users", Some(user("Zoë Åström ✓@example.com")))
        .await
        .expect(201);
}

both_stores!(
    long_user_names_are_refused,
    long_emails_and_managers_are_refused,
    long_group_names_are_refused,
    control_characters_in_keys_are_refused,
);

/// A request DynamoDB refuses (here a key longer than it accepts, sent past
/// the API's check) is `Rejected`, which clients see as `400`.
#[tokio::test]
async fn validation_exception_is_the_requests_fault() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = common::unique_tenant();
    // A marker's partition key takes at most 2048 bytes.
    let doc = json!({"userName": "a".repeat(2100)});
    let record = Record::new(ResourceKind::User, uuid::Uuid::new_v4().to_string(), 1, doc);
    assert!(record.key_problem().is_some());
    let err = store.create(&tenant, &record).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
    assert_eq!(ScimError::from(err).status, 400);
}
