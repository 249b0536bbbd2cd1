//! Every file in `events/` runs through the handler it is meant for, so the
//! events users pass to `sam local invoke` can never rot.

mod common;

use std::collections::BTreeSet;

use scim_serverless::api::{HttpConfig, lambda};
use scim_serverless::auth::authorizer::{AuthorizerRequest, authorize};
use scim_serverless::auth::token::{TokenRecord, hash_token};
use scim_serverless::auth::{MemoryTokenSource, TokenSet, TokenStore, Verifier};
use scim_serverless::config::Config;
use scim_serverless::request_log::Recorder;
use scim_serverless::runtime::all_routes;
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{GroupCondition, Member, MemoryStore, Record, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

const EXAMPLE_TOKEN: &str = "scim_EXAMPLEtokenEXAMPLEtokenEXAMPLEtoken000000";
const BASE: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/scim/v2/acme";
/// The user the item events (`users-get.json`, ...) address.
const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The group the item events (`groups-get.json`, ...) address.
const GROUP_ID: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Further users the Groups events name as members.
const MANDY_ID: &str = "902c246b-6245-4190-8e05-00816be7344a";
const JSMITH_ID: &str = "0b6f5b8e-1c3d-4e2f-9a7b-8c9d0e1f2a3b";

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// Runs an HTTP API event through the front door of every route family
/// (as the local server serves them) on an empty store.
async fn invoke(name: &str) -> (u16, http::HeaderMap, Value) {
    invoke_on(&MemoryStore::new(), name).await
}

/// Runs an HTTP API event through the front door of every route family on
/// `store`. An empty body (`204`) is `Value::Null`; any other body must be
/// SCIM JSON.
async fn invoke_on(store: &MemoryStore, name: &str) -> (u16, http::HeaderMap, Value) {
    invoke_text(store, name, &read(name)).await
}

/// Runs the API Gateway event `event` (named `name` in messages) on `store`.
async fn invoke_text(
    store: &MemoryStore,
    name: &str,
    event: &str,
) -> (u16, http::HeaderMap, Value) {
    let request = lambda_http::request::from_str(event).expect("valid API Gateway event");
    let config = Config::default();
    let routes = all_routes(store.clone(), &config);
    let http = HttpConfig {
        scheme: "https".into(),
        public_base_url: config.public_base_url.clone(),
        ..HttpConfig::default()
    };
    let response = lambda::handle(&routes, &http, request).await;
    let status = response.status().as_u16();
    let text = match response.body() {
        lambda_http::Body::Empty => "",
        lambda_http::Body::Text(t) => t.as_str(),
        other => panic!("{name}: unexpected body {other:?}"),
    };
    if status == 204 {
        assert!(text.is_empty(), "{name}: 204 with a body: {text}");
    }
    let body = if text.is_empty() {
        Value::Null
    } else {
        assert_eq!(
            response.headers()["content-type"],
            "application/scim+json",
            "{name}"
        );
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {text}"))
    };
    (status, response.headers().clone(), body)
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// A user as the service stores it (normalized document with `meta`).
fn stored_user(id: &str, user_name: &str, given: &str, family: &str) -> Record {
    Record::new(
        ResourceKind::User,
        id,
        1,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": user_name,
            "name": {
                "formatted": format!("{given} {family}"),
                "familyName": family,
                "givenName": given,
            },
            "displayName": format!("{given} {family}"),
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "active": true,
            ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
            "meta": {
                "resourceType": "User",
                "created": "2026-11-01T09:00:00Z",
                "lastModified": "2026-11-01T09:00:00Z",
            },
        }),
    )
}

/// A store holding the user the item events address, Barbara Jensen.
async fn store_with_bjensen() -> MemoryStore {
    let store = MemoryStore::new();
    let record = stored_user(USER_ID, "bjensen@example.com", "Barbara", "Jensen");
    store.create(&acme(), &record).await.unwrap();
    store
}

fn etag_header(headers: &http::HeaderMap) -> &str {
    headers["etag"].to_str().unwrap()
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
    "users-create.json",
    "users-get.json",
    "users-list.json",
    "users-filter-username.json",
    "users-search.json",
    "users-replace.json",
    "users-patch.json",
    "users-delete.json",
    "groups-create.json",
    "groups-get.json",
    "groups-list.json",
    "groups-filter-displayname.json",
    "groups-search.json",
    "groups-replace.json",
    "groups-patch-add-members.json",
    "groups-patch-remove-member.json",
    "groups-delete.json",
    "bulk-request.json",
];
const AUTHORIZER_EVENTS: &[&str] = &["authorizer-request.json", "authorizer-missing-token.json"];
/// In the order a vendor's backend sends them for one tenant.
const MANAGE_EVENTS: &[&str] = &[
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
];
const RECORDER_EVENTS: &[&str] = &["recorder-subscription.json"];

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
        .chain(MANAGE_EVENTS)
        .chain(RECORDER_EVENTS)
        .chain(common::STREAM_EVENT_FILES)
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

/// A Bulk request whose group comes before the users it names by
/// `bulkId`: every operation answered, in request order, the group holding
/// the users' real ids, the manager reference resolved.
#[tokio::test]
async fn bulk_request_resolves_bulk_ids_in_dependency_order() {
    let store = MemoryStore::new();
    let (status, _, body) = invoke_on(&store, "bulk-request.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "201", "200"]);
    let id = |i: usize| {
        ops[i]["location"]
            .as_str()
            .unwrap()
            .strip_prefix(&format!("{BASE}/"))
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_owned()
    };
    let (group, ada, alan) = (id(0), id(1), id(2));
    let group = store
        .members(&acme(), &group, usize::MAX)
        .await
        .unwrap()
        .unwrap();
    let mut members: Vec<&str> = group.iter().map(|m| m.id.as_str()).collect();
    members.sort_unstable();
    let mut want = [ada.as_str(), alan.as_str()];
    want.sort_unstable();
    assert_eq!(members, want);
    let alan = store
        .get(&acme(), ResourceKind::User, &alan)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alan.document["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        ada.as_str()
    );
    assert_eq!(alan.document["title"], "Engineer");
}

#[tokio::test]
async fn users_create_entra_style() {
    let store = MemoryStore::new();
    let (status, headers, body) = invoke_on(&store, "users-create.json").await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    let location = format!("{BASE}/Users/{id}");
    assert_eq!(headers["location"], location.as_str());
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(etag_header(&headers), "W/\"1\"");
    assert_eq!(body["meta"]["version"], "W/\"1\"");
    assert_eq!(body["meta"]["resourceType"], "User");
    assert!(body["meta"]["created"].is_string());
    assert_eq!(
        body["userName"],
        "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@acme.example.com"
    );
    assert_eq!(body["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    // "True" as a string is stored as a boolean.
    assert_eq!(body["active"], true);
    assert_eq!(body["name"]["givenName"], "givenName");
    assert_eq!(body["emails"][0]["type"], "work");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(body[ENTERPRISE]["department"], "Tour Operations");
    let schemas = body["schemas"].as_array().unwrap();
    assert!(schemas.contains(&json!(ENTERPRISE)), "{body}");
    // Explicit nulls and empty arrays are not echoed.
    assert!(body.get("nickName").is_none(), "{body}");
    assert!(body.get("roles").is_none(), "{body}");
    let stored = store.get(&acme(), ResourceKind::User, &id).await.unwrap();
    assert_eq!(stored.expect("stored").version, 1);
}

#[tokio::test]
async fn users_get_by_id() {
    let store = store_with_bjensen().await;
    let (status, headers, body) = invoke_on(&store, "users-get.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag_header(&headers), "W/\"1\"");
    assert_eq!(body["id"], USER_ID);
    assert_eq!(body["userName"], "bjensen@example.com");
    assert_eq!(body["name"]["familyName"], "Jensen");
    assert_eq!(body["active"], true);
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(body["meta"]["location"], format!("{BASE}/Users/{USER_ID}"));
    assert_eq!(body["meta"]["created"], "2026-11-01T09:00:00Z");
    assert_eq!(body["meta"]["version"], "W/\"1\"");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    // Unknown id: SCIM 404, never an empty 200.
    let (status, _, body) = invoke("users-get.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
}

#[tokio::test]
async fn users_list_okta_import_page() {
    let store = store_with_bjensen().await;
    let other = stored_user(
        "0b6f5b8e-1c3d-4e2f-9a7b-8c9d0e1f2a3b",
        "jsmith@example.com",
        "John",
        "Smith",
    );
    store.create(&acme(), &other).await.unwrap();
    let (status, _, body) = invoke_on(&store, "users-list.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(body["totalResults"], 2);
    assert_eq!(body["startIndex"], 1);
    assert_eq!(body["itemsPerPage"], 2);
    let ids: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0b6f5b8e-1c3d-4e2f-9a7b-8c9d0e1f2a3b", USER_ID]);
}

#[tokio::test]
async fn users_filter_entra_test_connection_is_an_empty_200() {
    let store = store_with_bjensen().await;
    let (status, _, body) = invoke_on(&store, "users-filter-username.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn users_search_request() {
    let store = store_with_bjensen().await;
    let other = stored_user(
        "0b6f5b8e-1c3d-4e2f-9a7b-8c9d0e1f2a3b",
        "jsmith@example.com",
        "John",
        "Smith",
    );
    store.create(&acme(), &other).await.unwrap();
    let (status, _, body) = invoke_on(&store, "users-search.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    // userName matches case-insensitively ("BJENSEN@example.com").
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["startIndex"], 1);
    let user = &body["Resources"][0];
    assert_eq!(user["id"], USER_ID);
    assert_eq!(user["userName"], "bjensen@example.com");
    assert_eq!(user["displayName"], "Barbara Jensen");
    // Only the requested attributes (plus id and schemas) come back.
    assert!(user.get("emails").is_none(), "{user}");
    assert!(user.get("name").is_none(), "{user}");
}

#[tokio::test]
async fn users_replace_okta_style_with_id_and_meta() {
    let store = store_with_bjensen().await;
    let (status, headers, body) = invoke_on(&store, "users-replace.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag_header(&headers), "W/\"2\"");
    assert_eq!(body["id"], USER_ID);
    assert_eq!(body["userName"], "bjensen@example.com");
    assert_eq!(body["name"]["familyName"], "Jensen-Smith");
    assert_eq!(body["displayName"], "Barbara Jensen-Smith");
    assert_eq!(body["locale"], "en-US");
    assert_eq!(body["active"], true);
    assert_eq!(body["meta"]["version"], "W/\"2\"");
    assert_eq!(body["meta"]["created"], "2026-11-01T09:00:00Z");
    assert_ne!(body["meta"]["lastModified"], "2026-11-01T09:00:00Z");
    // PUT replaces the whole resource: the enterprise extension Okta did
    // not send is gone.
    assert!(body.get(ENTERPRISE).is_none(), "{body}");
    let stored = store
        .get(&acme(), ResourceKind::User, USER_ID)
        .await
        .unwrap();
    assert_eq!(stored.unwrap().version, 2);
}

#[tokio::test]
async fn users_patch_entra_default_dialect() {
    let store = store_with_bjensen().await;
    let (status, headers, body) = invoke_on(&store, "users-patch.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag_header(&headers), "W/\"2\"");
    assert_eq!(body["id"], USER_ID);
    // "False" as a string disables the user.
    assert_eq!(body["active"], false);
    assert_eq!(body["name"]["familyName"], "Jensen-Smith");
    assert_eq!(body["name"]["givenName"], "Barbara");
    assert_eq!(body[ENTERPRISE]["department"], "Sales");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984");
    let emails = body["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{body}");
    assert_eq!(emails[0]["value"], "barbara.jensen@example.com");
    assert_eq!(emails[0]["type"], "work");
    assert_eq!(body["userName"], "bjensen@example.com");
    assert_eq!(body["meta"]["version"], "W/\"2\"");
    assert_eq!(body["meta"]["created"], "2026-11-01T09:00:00Z");
    let stored = store
        .get(&acme(), ResourceKind::User, USER_ID)
        .await
        .unwrap();
    assert_eq!(stored.unwrap().document["active"], false);
}

#[tokio::test]
async fn users_delete_then_gone() {
    let store = store_with_bjensen().await;
    let (status, _, body) = invoke_on(&store, "users-delete.json").await;
    assert_eq!(status, 204);
    assert!(body.is_null());
    let stored = store
        .get(&acme(), ResourceKind::User, USER_ID)
        .await
        .unwrap();
    assert!(stored.is_none());
    assert_eq!(
        store
            .count(&acme(), ResourceKind::User)
            .await
            .unwrap()
            .total,
        0
    );
    // A second DELETE is a SCIM 404 (Entra relies on it).
    let (status, _, body) = invoke_on(&store, "users-delete.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
}

/// A group as the service stores it: its document never holds members
/// (they are membership edges).
fn stored_group(id: &str, display_name: &str, external_id: &str) -> Record {
    Record::new(
        ResourceKind::Group,
        id,
        1,
        json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": external_id,
            "displayName": display_name,
            "meta": {
                "resourceType": "Group",
                "created": "2026-11-01T09:00:00Z",
                "lastModified": "2026-11-01T09:00:00Z",
            },
        }),
    )
}

/// A store with the users Barbara Jensen, Mandy Pepperidge and John Smith
/// and the group the item events address, "Tour Guides", whose members are
/// `members` (user ids).
async fn store_with_tour_guides(members: &[&str]) -> MemoryStore {
    let store = store_with_bjensen().await;
    for (id, user_name, given, family) in [
        (MANDY_ID, "mpepperidge@example.com", "Mandy", "Pepperidge"),
        (JSMITH_ID, "jsmith@example.com", "John", "Smith"),
    ] {
        let record = stored_user(id, user_name, given, family);
        store.create(&acme(), &record).await.unwrap();
    }
    let group = stored_group(
        GROUP_ID,
        "Tour Guides",
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    );
    store.create(&acme(), &group).await.unwrap();
    add_users(&store, GROUP_ID, members).await;
    store
}

/// Makes the users `ids` members of `group_id`.
async fn add_users(store: &MemoryStore, group_id: &str, ids: &[&str]) {
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        let user = store
            .get(&acme(), ResourceKind::User, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("user {id} is seeded"));
        members.push(Member {
            id: user.id.clone(),
            kind: ResourceKind::User,
            display: user.document["displayName"].as_str().map(str::to_owned),
        });
    }
    if !members.is_empty() {
        store
            .add_members(
                &acme(),
                group_id,
                GroupCondition::Exists { seen: 1 },
                &members,
            )
            .await
            .unwrap();
    }
}

/// The member ids of a group as the store holds them (id order).
async fn stored_member_ids(store: &MemoryStore, group_id: &str) -> Vec<String> {
    store
        .members(&acme(), group_id, usize::MAX)
        .await
        .unwrap()
        .expect("fits")
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// The `value`s of a response's `members`.
fn member_values(group: &Value) -> Vec<&str> {
    group["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members in {group}"))
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect()
}

fn resource_ids(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("Resources in {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn groups_create_entra_style() {
    let store = MemoryStore::new();
    let (status, headers, body) = invoke_on(&store, "groups-create.json").await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    let location = format!("{BASE}/Groups/{id}");
    assert_eq!(headers["location"], location.as_str());
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(etag_header(&headers), "W/\"1\"");
    assert_eq!(body["meta"]["version"], "W/\"1\"");
    assert_eq!(body["meta"]["resourceType"], "Group");
    assert!(body["meta"]["created"].is_string());
    assert_eq!(body["displayName"], "Tour Guides");
    assert_eq!(body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    // The non-RFC Microsoft schema URI is accepted, not echoed.
    assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
    // Created without members: none are listed.
    assert!(
        body.get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{body}"
    );
    let stored = store.get(&acme(), ResourceKind::Group, &id).await.unwrap();
    assert_eq!(stored.expect("stored").version, 1);
    assert!(stored_member_ids(&store, &id).await.is_empty());
}

#[tokio::test]
async fn groups_get_without_members_as_entra_reads_them() {
    let store = store_with_tour_guides(&[USER_ID, MANDY_ID]).await;
    let (status, headers, body) = invoke_on(&store, "groups-get.json").await;
    assert_eq!(status, 200, "{body}");
    assert!(etag_header(&headers).starts_with("W/\""), "{headers:?}");
    assert_eq!(body["meta"]["version"], etag_header(&headers));
    assert_eq!(body["id"], GROUP_ID);
    assert_eq!(body["displayName"], "Tour Guides");
    assert_eq!(body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(
        body["meta"]["location"],
        format!("{BASE}/Groups/{GROUP_ID}")
    );
    assert_eq!(body["meta"]["created"], "2026-11-01T09:00:00Z");
    // excludedAttributes=members
    assert!(body.get("members").is_none(), "{body}");
    // Unknown id: SCIM 404.
    let (status, _, body) = invoke("groups-get.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
}

#[tokio::test]
async fn groups_list_okta_import_page_with_members() {
    let store = store_with_tour_guides(&[USER_ID, MANDY_ID]).await;
    let other = stored_group(
        "1f3a5c7e-9b2d-4f6a-8c0e-2a4b6c8d0e1f",
        "Night Shift",
        "b7c2e4d6-0a1b-4c3d-8e5f-6a7b8c9d0e1f",
    );
    store.create(&acme(), &other).await.unwrap();
    let (status, _, body) = invoke_on(&store, "groups-list.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schemas"][0], LIST_RESPONSE);
    assert_eq!(body["totalResults"], 2);
    assert_eq!(body["startIndex"], 1);
    assert_eq!(body["itemsPerPage"], 2);
    assert_eq!(
        resource_ids(&body),
        ["1f3a5c7e-9b2d-4f6a-8c0e-2a4b6c8d0e1f", GROUP_ID]
    );
    // Without attributes/excludedAttributes, members are returned.
    let guides = &body["Resources"][1];
    assert_eq!(guides["displayName"], "Tour Guides");
    assert_eq!(member_values(guides), [USER_ID, MANDY_ID]);
    let bjensen = &guides["members"][0];
    assert_eq!(bjensen["type"], "User");
    assert_eq!(bjensen["display"], "Barbara Jensen");
    assert_eq!(bjensen["$ref"], format!("{BASE}/Users/{USER_ID}"));
    let night = &body["Resources"][0];
    assert!(
        night
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{night}"
    );
}

#[tokio::test]
async fn groups_filter_by_display_name_entra_matching() {
    let store = store_with_tour_guides(&[USER_ID]).await;
    let other = stored_group(
        "1f3a5c7e-9b2d-4f6a-8c0e-2a4b6c8d0e1f",
        "Night Shift",
        "b7c2e4d6-0a1b-4c3d-8e5f-6a7b8c9d0e1f",
    );
    store.create(&acme(), &other).await.unwrap();
    let (status, _, body) = invoke_on(&store, "groups-filter-displayname.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schemas"][0], LIST_RESPONSE);
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["startIndex"], 1);
    assert_eq!(body["itemsPerPage"], 1);
    assert_eq!(resource_ids(&body), [GROUP_ID]);
    let group = &body["Resources"][0];
    assert_eq!(group["displayName"], "Tour Guides");
    assert!(group.get("members").is_none(), "{group}");
    // No such group: an empty 200.
    let (status, _, body) = invoke("groups-filter-displayname.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn groups_search_request_for_a_users_groups() {
    let store = store_with_tour_guides(&[USER_ID, MANDY_ID]).await;
    let other = stored_group(
        "1f3a5c7e-9b2d-4f6a-8c0e-2a4b6c8d0e1f",
        "Night Shift",
        "b7c2e4d6-0a1b-4c3d-8e5f-6a7b8c9d0e1f",
    );
    store.create(&acme(), &other).await.unwrap();
    add_users(&store, &other.id, &[JSMITH_ID]).await;
    let (status, _, body) = invoke_on(&store, "groups-search.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schemas"][0], LIST_RESPONSE);
    // members[value eq "<bjensen>"]: only the group Barbara is in.
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["startIndex"], 1);
    assert_eq!(resource_ids(&body), [GROUP_ID]);
    let group = &body["Resources"][0];
    assert_eq!(group["displayName"], "Tour Guides");
    // Only the requested attributes (plus id and schemas) come back.
    assert!(group.get("members").is_none(), "{group}");
    assert!(group.get("externalId").is_none(), "{group}");
}

#[tokio::test]
async fn groups_replace_okta_style_with_members() {
    let store = store_with_tour_guides(&[USER_ID, JSMITH_ID]).await;
    let (status, headers, body) = invoke_on(&store, "groups-replace.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], GROUP_ID);
    assert_eq!(body["displayName"], "Tour Guides EMEA");
    // PUT replaces the whole resource: the externalId Okta did not send is
    // gone.
    assert!(body.get("externalId").is_none(), "{body}");
    assert_eq!(body["meta"]["created"], "2026-11-01T09:00:00Z");
    assert_ne!(body["meta"]["lastModified"], "2026-11-01T09:00:00Z");
    assert_ne!(etag_header(&headers), "W/\"1\"");
    assert_eq!(body["meta"]["version"], etag_header(&headers));
    // The member list is replaced: John Smith out, Mandy Pepperidge in.
    assert_eq!(member_values(&body), [USER_ID, MANDY_ID]);
    assert_eq!(body["members"][1]["display"], "Mandy Pepperidge");
    assert_eq!(
        stored_member_ids(&store, GROUP_ID).await,
        [USER_ID, MANDY_ID]
    );
    let stored = store
        .get(&acme(), ResourceKind::Group, GROUP_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(etag_header(&headers), format!("W/\"{}\"", stored.version));
}

#[tokio::test]
async fn groups_patch_add_members_entra_default_dialect() {
    let store = store_with_tour_guides(&[JSMITH_ID]).await;
    let (status, _, body) = invoke_on(&store, "groups-patch-add-members.json").await;
    assert_eq!(status, 204, "{body}");
    assert!(body.is_null());
    assert_eq!(
        stored_member_ids(&store, GROUP_ID).await,
        [JSMITH_ID, USER_ID, MANDY_ID]
    );
    // Adding the same members again changes nothing.
    let (status, _, _) = invoke_on(&store, "groups-patch-add-members.json").await;
    assert_eq!(status, 204);
    assert_eq!(
        stored_member_ids(&store, GROUP_ID).await,
        [JSMITH_ID, USER_ID, MANDY_ID]
    );
    let bjensen = store
        .get(&acme(), ResourceKind::User, USER_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bjensen.groups, [GROUP_ID]);
    // Unknown group: SCIM 404.
    let (status, _, body) = invoke("groups-patch-add-members.json").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["status"], "404");
}

#[tokio::test]
async fn groups_patch_answers_with_the_group_when_asked_to() {
    let store = store_with_tour_guides(&[JSMITH_ID]).await;
    let mut event: Value = serde_json::from_str(&read("groups-patch-add-members.json")).unwrap();
    event["rawQueryString"] = json!("excludedAttributes=members");
    event["queryStringParameters"] = json!({"excludedAttributes": "members"});
    let (status, headers, body) =
        invoke_text(&store, "groups-patch-add-members.json", &event.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], GROUP_ID);
    assert_eq!(body["displayName"], "Tour Guides");
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["meta"]["version"], etag_header(&headers));
    assert_eq!(
        stored_member_ids(&store, GROUP_ID).await,
        [JSMITH_ID, USER_ID, MANDY_ID]
    );
}

#[tokio::test]
async fn groups_patch_remove_member_compliant_dialect() {
    let store = store_with_tour_guides(&[USER_ID, JSMITH_ID]).await;
    let (status, _, body) = invoke_on(&store, "groups-patch-remove-member.json").await;
    assert_eq!(status, 204, "{body}");
    assert!(body.is_null());
    assert_eq!(stored_member_ids(&store, GROUP_ID).await, [JSMITH_ID]);
    let bjensen = store
        .get(&acme(), ResourceKind::User, USER_ID)
        .await
        .unwrap()
        .unwrap();
    assert!(bjensen.groups.is_empty(), "{:?}", bjensen.groups);
    // The user stays; only the membership ends.
    assert_eq!(
        store
            .count(&acme(), ResourceKind::User)
            .await
            .unwrap()
            .total,
        3
    );
}

#[tokio::test]
async fn groups_delete_then_gone() {
    let store = store_with_tour_guides(&[USER_ID, MANDY_ID]).await;
    let (status, _, body) = invoke_on(&store, "groups-delete.json").await;
    assert_eq!(status, 204);
    assert!(body.is_null());
    let stored = store
        .get(&acme(), ResourceKind::Group, GROUP_ID)
        .await
        .unwrap();
    assert!(stored.is_none());
    assert_eq!(
        store
            .count(&acme(), ResourceKind::Group)
            .await
            .unwrap()
            .total,
        0
    );
    // The members stay users, without the group.
    assert_eq!(
        store
            .count(&acme(), ResourceKind::User)
            .await
            .unwrap()
            .total,
        3
    );
    let bjensen = store
        .get(&acme(), ResourceKind::User, USER_ID)
        .await
        .unwrap()
        .unwrap();
    assert!(bjensen.groups.is_empty(), "{:?}", bjensen.groups);
    // A second DELETE is a SCIM 404.
    let (status, _, body) = invoke_on(&store, "groups-delete.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "404");
}

async fn verifier_with_example_token() -> Verifier<MemoryTokenSource> {
    let source = MemoryTokenSource::default();
    let record = TokenRecord {
        expires_at: None,
        id: "tok_example".into(),
        name: None,
        sha256: hash_token(EXAMPLE_TOKEN),
        created: "2026-11-22T00:00:00Z".into(),
    };
    source
        .save(&acme(), &TokenSet::of(vec![record]))
        .await
        .unwrap();
    Verifier::new(source, std::time::Duration::from_secs(60))
}

#[tokio::test]
async fn authorizer_allows_the_tenants_token_and_vouches_for_the_tenant() {
    let verifier = verifier_with_example_token().await;
    let request: AuthorizerRequest =
        serde_json::from_str(&read("authorizer-request.json")).unwrap();
    let response = authorize(&verifier, &request, &Recorder::Off).await;
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
    assert!(
        !authorize(&verifier, &missing, &Recorder::Off)
            .await
            .is_authorized
    );
    let mut other: AuthorizerRequest =
        serde_json::from_str(&read("authorizer-request.json")).unwrap();
    other
        .path_parameters
        .insert("tenant".into(), "globex".into());
    let response = authorize(&verifier, &other, &Recorder::Off).await;
    assert!(!response.is_authorized);
    assert!(response.context.is_empty());
}

/// An identity provider still calling with a revoked token: API Gateway
/// answers 403 without invoking a function, so the tenant's request log
/// hears of it from the authorizer.
#[tokio::test]
async fn authorizer_records_a_revoked_tokens_refusal_in_the_tenants_log() {
    let source = MemoryTokenSource::default();
    let issued =
        scim_serverless::auth::token::issue(Some("entra"), "2026-11-22T00:00:00Z").unwrap();
    let mut set = TokenSet::of(vec![issued.record.clone()]);
    assert!(set.revoke(&issued.record.id));
    source.save(&acme(), &set).await.unwrap();
    let verifier = Verifier::new(source, std::time::Duration::from_secs(60));
    let mut request: AuthorizerRequest =
        serde_json::from_str(&read("authorizer-request.json")).unwrap();
    request
        .headers
        .insert("authorization".into(), format!("Bearer {}", issued.plain));
    let (feed, mut records) = tokio::sync::mpsc::unbounded_channel();
    let response = authorize(&verifier, &request, &Recorder::Channel(feed)).await;
    assert!(!response.is_authorized);
    let record = records.try_recv().expect("the refusal is recorded");
    assert_eq!(record.tenant, "acme");
    assert_eq!(record.status, 403);
    assert_eq!(record.action, "rejected");
    assert_eq!(record.token_id.as_deref(), Some(issued.record.id.as_str()));
    assert_eq!(record.detail.as_deref(), Some("the token was revoked"));
    assert!(records.try_recv().is_err(), "one record per refusal");

    // A token the tenant never had is not the tenant's business.
    let (feed, mut records) = tokio::sync::mpsc::unbounded_channel();
    request
        .headers
        .insert("authorization".into(), "Bearer scim_never_issued".into());
    assert!(
        !authorize(&verifier, &request, &Recorder::Channel(feed))
            .await
            .is_authorized
    );
    assert!(records.try_recv().is_err());
}

/// The `manage` function's handler on the embedded stores, fed the
/// `manage-*.json` fixtures in order: each answers what `events/README.md`
/// says it does.
#[tokio::test]
async fn manage_events_walk_a_tenant_from_creation_to_deletion() {
    use scim_serverless::api::manage::lambda::ManageFunction;
    let function = ManageFunction {
        tokens: MemoryTokenSource::default(),
        store: MemoryStore::new(),
        public_base_url: None,
        delete_wait: std::time::Duration::from_secs(60),
        purge_budget: std::time::Duration::from_secs(5),
        bus: None,
    };
    let mut token_id = String::new();
    let mut answers = Vec::new();
    for name in MANAGE_EVENTS {
        let text = read(name).replace("tok_EXAMPLE", &token_id);
        let answer = function
            .handle(serde_json::from_str(&text).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if *name == "manage-schedule.json" {
            assert_eq!(answer["waiting"], 1, "{answer}");
            continue;
        }
        let body: Value = match answer["body"].as_str().unwrap() {
            "" => Value::Null,
            text => serde_json::from_str(text).unwrap(),
        };
        if *name == "manage-issue-token.json" {
            token_id = body["id"].as_str().unwrap().to_owned();
            assert_eq!(
                body["tenantUrl"],
                "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/scim/v2/acme"
            );
        }
        answers.push((*name, answer["statusCode"].as_u64().unwrap(), body));
    }
    let statuses: Vec<(&str, u64)> = answers.iter().map(|(n, s, _)| (*n, *s)).collect();
    assert_eq!(
        statuses,
        [
            ("manage-without-iam.json", 401),
            ("manage-openapi.json", 200),
            ("manage-create-tenant.json", 201),
            ("manage-get-tenant.json", 200),
            ("manage-list-tenants.json", 200),
            ("manage-issue-token.json", 201),
            ("manage-list-tokens.json", 200),
            ("manage-health.json", 200),
            ("manage-revoke-token.json", 204),
            ("manage-delete-tenant.json", 202),
        ]
    );
    assert_eq!(answers[0].2["code"], "unauthorized");
    assert_eq!(answers[4].2["tenants"][0]["id"], "acme");
    assert_eq!(answers[9].2["status"], "deleting");
}

#[test]
fn the_recorder_fixture_carries_two_records_of_acme() {
    let event: aws_lambda_events::event::cloudwatch_logs::LogsEvent =
        serde_json::from_str(&read("recorder-subscription.json")).unwrap();
    let records = scim_serverless::request_log::subscription::records_of(&event);
    let seen: Vec<(&str, u16, &str)> = records
        .iter()
        .map(|r| (r.tenant.as_str(), r.status, r.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("acme", 201, "user.created"), ("acme", 400, "error")]
    );
}
