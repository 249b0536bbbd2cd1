//! What identity providers really send (`/work/shared/idp-traffic.md`) and
//! what the seed vendors need (`vendor-profiles.md`), request by request over
//! HTTP, the same cases on the embedded store and on DynamoDB Local:
//! Microsoft Entra ID (both PATCH dialects, managers, deprovisioning), Okta
//! (existence check, password-free create, import paging, PUT, path-less
//! deactivation, its spec test) and the SoSafe, Safeguard and CybSafe user
//! profiles, each attribute round-tripped and documented in `/Schemas`.

mod common;

use common::http_api::{Api, Reply, api};
use scim_serverless::api::Routes;
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::Store;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const VENDOR: &str = "urn:ietf:params:scim:schemas:extension:vendor:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

// ---------------------------------------------------------------- helpers

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn user_path(resource: &Value) -> String {
    format!("/Users/{}", id(resource))
}

async fn create<R: Routes>(api: &Api<R>, body: Value) -> Value {
    api.call("POST", "/Users", Some(body))
        .await
        .expect(201)
        .body
}

async fn get<R: Routes>(api: &Api<R>, resource: &Value) -> Value {
    api.call("GET", &user_path(resource), None)
        .await
        .expect(200)
        .body
}

async fn patch_user<R: Routes>(api: &Api<R>, resource: &Value, ops: Value) -> Value {
    api.call("PATCH", &user_path(resource), Some(patch(ops)))
        .await
        .expect(200)
        .body
}

async fn filter<R: Routes>(api: &Api<R>, filter: &str) -> Reply {
    api.call("GET", &format!("/Users?filter={filter}"), None)
        .await
        .expect(200)
}

/// The document without what the server adds (`id`, `meta`).
fn client_view(resource: &Value) -> Value {
    let mut doc = resource.clone();
    let obj = doc.as_object_mut().unwrap();
    obj.remove("id");
    obj.remove("meta");
    doc
}

/// The resolved manager reference a report shows.
fn manager_ref<R: Routes>(api: &Api<R>, manager_id: &str, display_name: &str) -> Value {
    json!({
        "value": manager_id,
        "$ref": format!("{}/Users/{manager_id}", api.base()),
        "displayName": display_name,
    })
}

/// A ListResponse whose paging fields are JSON integers.
fn assert_list(reply: &Reply, total: u64, start: u64, items: u64) {
    let b = &reply.body;
    assert_eq!(b["schemas"], json!([LIST]), "{b}");
    for field in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(b[field].is_u64(), "{field} is an integer: {b}");
    }
    assert_eq!(b["totalResults"], total, "{b}");
    assert_eq!(b["startIndex"], start, "{b}");
    assert_eq!(b["itemsPerPage"], items, "{b}");
    assert_eq!(reply.ids().len() as u64, items, "{b}");
}

/// A SCIM error document with `status`.
fn assert_error(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["schemas"], json!([ERROR]), "{}", reply.body);
    assert_eq!(reply.body["status"], status.to_string(), "{}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "a detail: {}", reply.body);
}

// ---------------------------------------------------------------- Entra ID

/// The create body of Entra's own example, with every quirk it has.
fn entra_create(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [
            USER,
            ENTERPRISE,
            // Entra's malformed extension URNs: never a key of the body.
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0"
        ],
        "externalId": external_id,
        "userName": user_name,
        "active": "True",
        "displayName": "Test User",
        "title": null,
        "nickName": null,
        "emails": [
            {"primary": true, "type": "work", "value": user_name},
            {"type": "home", "value": "test.user@home.example"}
        ],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "Test User",
            "familyName": "User",
            "givenName": "Test",
            "middleName": null
        },
        "roles": [],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Security", "costCenter": null},
        // A custom extension object whose URN is not listed in `schemas`.
        VENDOR: {"gender": "female", "academicTitle": "Dr."}
    })
}

async fn entra_test_connection_and_matching<S: Store + Clone>(store: S) {
    let api = api(store);
    // Test Connection: a random GUID as userName, 200 with an empty list.
    let probe = uuid::Uuid::new_v4().to_string();
    let empty = filter(&api, &format!("userName eq \"{probe}\"")).await;
    assert_eq!(empty.body["schemas"], json!([LIST]));
    assert_eq!(empty.body["totalResults"], 0);
    assert_eq!(empty.body["Resources"], json!([]));

    let external = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";
    let user = create(
        &api,
        entra_create("Test_User_ab64@Contoso.example", external),
    )
    .await;
    create(
        &api,
        entra_create(
            "Other_User@contoso.example",
            "1b32e1e3-0000-4000-8000-000000000001",
        ),
    )
    .await;
    let want = [id(&user)];
    let matches = [
        "userName eq \"Test_User_ab64@Contoso.example\"".to_owned(),
        "userName eq \"test_user_ab64@contoso.example\"".to_owned(),
        "userName eq \"TEST_USER_AB64@CONTOSO.EXAMPLE\"".to_owned(),
        format!("externalId eq \"{external}\""),
        format!("externalId eq {external}"),
        "emails[type eq \"work\"].value eq \"Test_User_ab64@Contoso.example\"".to_owned(),
        format!("userName eq \"test_user_ab64@contoso.example\" and externalId eq \"{external}\""),
    ];
    for f in &matches {
        let found = filter(&api, f).await;
        assert_eq!(found.ids(), want, "{f}");
        assert_eq!(found.body["totalResults"], 1, "{f}");
        assert_eq!(found.body["Resources"][0], user, "{f}: the full user");
    }
    let misses = [
        "emails[type eq \"work\"].value eq \"test.user@home.example\"".to_owned(),
        format!("externalId eq \"{}\"", external.to_uppercase()),
        "userName eq \"Test_User_ab64\"".to_owned(),
    ];
    for f in &misses {
        let found = filter(&api, f).await;
        assert_eq!(found.ids(), Vec::<String>::new(), "{f}");
        assert_eq!(found.body["totalResults"], 0, "{f}");
    }
}

async fn entra_create_is_stored_clean<S: Store + Clone>(store: S) {
    let api = api(store);
    let sent = entra_create("Test_User_fd0e@contoso.example", "ext-fd0e");
    let created = api.call("POST", "/Users", Some(sent)).await.expect(201);
    let user = created.body.clone();
    let expected = json!({
        "schemas": [USER, ENTERPRISE, VENDOR],
        "externalId": "ext-fd0e",
        "userName": "Test_User_fd0e@contoso.example",
        "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
        "displayName": "Test User",
        "active": true,
        "emails": [
            {"value": "Test_User_fd0e@contoso.example", "type": "work", "primary": true},
            {"value": "test.user@home.example", "type": "home"}
        ],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Security"},
        VENDOR: {"gender": "female", "academicTitle": "Dr."}
    });
    assert_eq!(client_view(&user), expected);
    assert_eq!(
        user["active"],
        json!(true),
        "\"True\" is stored as a boolean"
    );
    assert!(user.get("roles").is_none() && user.get("title").is_none());
    // The client's `meta` is replaced by the server's.
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(
        user["meta"]["location"],
        format!("{}/Users/{}", api.base(), id(&user))
    );
    assert_eq!(
        created.header("location"),
        user["meta"]["location"].as_str()
    );
    assert!(user["meta"]["created"].is_string() && user["meta"]["version"] == "W/\"1\"");
    assert_eq!(get(&api, &user).await, user, "GET returns what POST did");
    // An unknown extension URN neither listed in `schemas` nor served is an
    // error, not data silently lost.
    let mut unknown = entra_create("unknown-ext@contoso.example", "ext-unknown");
    unknown["urn:ietf:params:scim:schemas:extension:acme:2.0:User"] = json!({"shoeSize": "9"});
    let refused = api.call("POST", "/Users", Some(unknown)).await.expect(400);
    assert_eq!(refused.body["scimType"], "invalidValue");
}

async fn entra_default_patch_dialect<S: Store + Clone>(store: S) {
    let api = api(store);
    let user = create(&api, entra_create("kim@contoso.example", "ext-kim")).await;
    let patched = patch_user(
        &api,
        &user,
        json!([
            {"op": "Replace", "path": "displayName", "value": "Kim Lee"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "title", "value": "Engineer"},
            {"op": "Replace", "path": "name.givenName", "value": "Kim"},
            {"op": "Replace", "path": "name.familyName", "value": "Lee"},
            {"op": "Replace", "path": "name.Formatted", "value": "Kim Lee"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "E-42"},
            {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "R&D"},
            {"op": "Add", "path": format!("{ENTERPRISE}:costCenter"), "value": "CC-7"},
            {"op": "Replace", "path": format!("{VENDOR}:academicTitle"), "value": "PhD"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "kim.lee@contoso.example"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Microsoft Way"},
            {"op": "Add", "path": "addresses[type eq \"work\"].country", "value": "US"}
        ]),
    )
    .await;
    assert_eq!(patched["active"], json!(false), "\"False\" is a boolean");
    assert_eq!(patched["displayName"], "Kim Lee");
    assert_eq!(patched["title"], "Engineer");
    assert_eq!(
        patched["name"],
        json!({"formatted": "Kim Lee", "familyName": "Lee", "givenName": "Kim"})
    );
    assert_eq!(
        patched[ENTERPRISE],
        json!({"employeeNumber": "E-42", "costCenter": "CC-7", "department": "R&D"})
    );
    assert_eq!(
        patched[VENDOR],
        json!({"gender": "female", "academicTitle": "PhD"})
    );
    assert_eq!(
        patched["emails"],
        json!([
            {"value": "kim.lee@contoso.example", "type": "work", "primary": true},
            {"value": "test.user@home.example", "type": "home"}
        ]),
        "the work email changes in place; the home email is left alone"
    );
    assert_eq!(
        patched["phoneNumbers"],
        json!([{"value": "+1 555 0199", "type": "mobile"}]),
        "a filtered add with no match creates the element"
    );
    assert_eq!(
        patched["addresses"],
        json!([{"streetAddress": "1 Microsoft Way", "locality": "Redmond",
                "postalCode": "98052", "country": "US", "type": "work"}]),
        "ops on the same work address merge into one element"
    );
    assert_eq!(
        patched["meta"]["version"], "W/\"2\"",
        "one PATCH, one write"
    );
    assert_eq!(
        get(&api, &user).await,
        patched,
        "the PATCH response is stored"
    );

    // A later cycle: more ops on the existing elements change them in place.
    let again = patch_user(
        &api,
        &user,
        json!([
            {"op": "Replace", "path": "addresses[type eq \"work\"].region", "value": "WA"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 425 0100"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "k.lee@contoso.example"}
        ]),
    )
    .await;
    assert_eq!(
        again["addresses"],
        json!([{"streetAddress": "1 Microsoft Way", "locality": "Redmond", "region": "WA",
                "postalCode": "98052", "country": "US", "type": "work"}])
    );
    assert_eq!(
        again["phoneNumbers"],
        json!([
            {"value": "+1 555 0100", "type": "mobile"},
            {"value": "+1 425 0100", "type": "work"}
        ])
    );
    assert_eq!(
        again["emails"],
        json!([
            {"value": "k.lee@contoso.example", "type": "work", "primary": true},
            {"value": "test.user@home.example", "type": "home"}
        ])
    );
    // Attribute and sub-attribute names in any case.
    let any_case = patch_user(
        &api,
        &user,
        json!([
            {"op": "Replace", "path": "UserName", "value": "Kim.Lee@Contoso.example"},
            {"op": "Replace", "path": "Emails[Type eq \"work\"].Value", "value": "k.lee@contoso.example"},
            {"op": "Add", "path": "addresses[type eq \"work\"].Formatted", "value": "1 Microsoft Way, Redmond"}
        ]),
    )
    .await;
    assert_eq!(any_case["userName"], "Kim.Lee@Contoso.example");
    assert_eq!(any_case["emails"], again["emails"]);
    assert_eq!(
        any_case["addresses"],
        json!([{"formatted": "1 Microsoft Way, Redmond", "streetAddress": "1 Microsoft Way",
                "locality": "Redmond", "region": "WA", "postalCode": "98052", "country": "US",
                "type": "work"}])
    );
    // Matching by the new work email finds the user, by the old one not.
    let found = filter(
        &api,
        "emails[type eq \"work\"].value eq \"k.lee@contoso.example\"",
    )
    .await;
    assert_eq!(found.ids(), [id(&user)]);
    let old = filter(
        &api,
        "emails[type eq \"work\"].value eq \"kim.lee@contoso.example\"",
    )
    .await;
    assert_eq!(old.ids(), Vec::<String>::new());
}

async fn entra_compliant_patch_dialect<S: Store + Clone>(store: S) {
    let api = api(store);
    let mut body = entra_create("lee@contoso.example", "ext-lee");
    body["phoneNumbers"] = json!([
        {"value": "+1 555 0101", "type": "mobile"},
        {"value": "+1 555 0102", "type": "work"}
    ]);
    let user = create(&api, body).await;
    let patched = patch_user(
        &api,
        &user,
        json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "value": {
                "name.givenName": "K",
                "name.familyName": "Lee",
                "displayName": "K Lee",
                format!("{ENTERPRISE}:employeeNumber"): "A",
                format!("{ENTERPRISE}:division"): "North",
                format!("{VENDOR}:gender"): "diverse"
            }},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "k.lee@contoso.example"},
            {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"}
        ]),
    )
    .await;
    assert_eq!(patched["active"], json!(false));
    assert_eq!(
        patched["name"],
        json!({"formatted": "Test User", "familyName": "Lee", "givenName": "K"}),
        "dotted keys merge into name"
    );
    assert_eq!(patched["displayName"], "K Lee");
    assert_eq!(
        patched[ENTERPRISE],
        json!({"employeeNumber": "A", "division": "North", "department": "Security"}),
        "URN keys land in the extension, the rest of it is kept"
    );
    assert_eq!(
        patched[VENDOR],
        json!({"gender": "diverse", "academicTitle": "Dr."})
    );
    assert_eq!(
        patched["emails"],
        json!([
            {"value": "k.lee@contoso.example", "type": "work", "primary": true},
            {"value": "test.user@home.example", "type": "home"}
        ])
    );
    assert_eq!(
        patched["phoneNumbers"],
        json!([{"value": "+1 555 0102", "type": "work"}])
    );
    assert_eq!(get(&api, &user).await, patched);
    let reactivated = patch_user(
        &api,
        &user,
        json!([{"op": "replace", "path": "active", "value": true}]),
    )
    .await;
    assert_eq!(reactivated["active"], json!(true));
    // The same request again is a no-op, not a new version.
    let again = patch_user(
        &api,
        &user,
        json!([{"op": "replace", "path": "active", "value": true}]),
    )
    .await;
    assert_eq!(again["meta"]["version"], reactivated["meta"]["version"]);
}

async fn entra_manager_forms<S: Store + Clone>(store: S) {
    let api = api(store);
    let mut boss = entra_create("boss.upn@contoso.example", "obj-boss");
    boss["displayName"] = json!("The Boss");
    boss["emails"] = json!([{"value": "boss@contoso.example", "type": "work", "primary": true}]);
    let boss = create(&api, boss).await;
    let mut deputy = entra_create("deputy@contoso.example", "obj-deputy");
    deputy["displayName"] = json!("The Deputy");
    let deputy = create(&api, deputy).await;
    let report = create(&api, entra_create("report@contoso.example", "obj-report")).await;
    let (boss_id, deputy_id) = (id(&boss), id(&deputy));
    let boss_ref = manager_ref(&api, &boss_id, "The Boss");
    let deputy_ref = manager_ref(&api, &deputy_id, "The Deputy");
    let qualified = format!("{ENTERPRISE}:manager");
    // Enterprise attributes other than the manager stay through every change.
    let others = json!({"employeeNumber": "701984", "department": "Security"});
    let with_manager = |reference: &Value| {
        let mut e = others.clone();
        e["manager"] = reference.clone();
        e
    };

    type Form<'a> = (&'a str, Value, &'a Value, &'a str);
    let forms: Vec<Form> = vec![
        (
            "Add",
            json!({"value": boss_id}),
            &boss_ref,
            "boss@contoso.example",
        ),
        (
            "Replace",
            json!(deputy_id),
            &deputy_ref,
            "deputy@contoso.example",
        ),
        (
            "Replace",
            json!([{"$ref": format!("{}/Users/{boss_id}", api.base()), "value": boss_id}]),
            &boss_ref,
            "boss@contoso.example",
        ),
        // Entra's objectId mapped to externalId.
        (
            "Add",
            json!("obj-deputy"),
            &deputy_ref,
            "deputy@contoso.example",
        ),
    ];
    for path in [qualified.as_str(), "manager"] {
        for (op, value, want, email) in &forms {
            let patched = patch_user(
                &api,
                &report,
                json!([{"op": op, "path": path, "value": value}]),
            )
            .await;
            assert_eq!(patched[ENTERPRISE], with_manager(want), "{path} {value}");
            assert_eq!(
                patched[VENDOR],
                json!({"gender": "female", "academicTitle": "Dr.", "managerEmail": email}),
                "{path} {value}"
            );
            assert_eq!(get(&api, &report).await, patched, "{path} {value}");
        }
    }
    let direct = filter(
        &api,
        &format!("{ENTERPRISE}:manager.value eq \"{deputy_id}\""),
    )
    .await;
    assert_eq!(direct.ids(), [id(&report)]);

    // Removal: `remove`, or an empty value in either form.
    let removals = [
        json!({"op": "Remove", "path": qualified}),
        json!({"op": "remove", "path": "manager"}),
        json!({"op": "Replace", "path": qualified, "value": ""}),
        json!({"op": "Replace", "path": qualified, "value": {"value": ""}}),
        json!({"op": "Add", "path": "manager", "value": ""}),
    ];
    for removal in removals {
        patch_user(
            &api,
            &report,
            json!([{"op": "Add", "path": qualified, "value": {"value": boss_id}}]),
        )
        .await;
        let removed = patch_user(&api, &report, json!([removal.clone()])).await;
        assert_eq!(removed[ENTERPRISE], others, "{removal}");
        assert_eq!(
            removed[VENDOR],
            json!({"gender": "female", "academicTitle": "Dr."}),
            "{removal}: managerEmail goes with the manager"
        );
        assert_eq!(get(&api, &report).await, removed, "{removal}");
        let direct = filter(
            &api,
            &format!("{ENTERPRISE}:manager.value eq \"{boss_id}\""),
        )
        .await;
        assert_eq!(direct.ids(), Vec::<String>::new(), "{removal}");
    }
}

async fn entra_deprovisioning_and_delete<S: Store + Clone>(store: S) {
    let api = api(store);
    let user = create(&api, entra_create("leaver@contoso.example", "ext-leaver")).await;
    let path = user_path(&user);
    // Booleans arrive as strings in any case.
    for (value, want) in [
        ("false", false),
        ("TRUE", true),
        (" FALSE ", false),
        ("true", true),
    ] {
        let toggled = patch_user(
            &api,
            &user,
            json!([{"op": "Replace", "path": "active", "value": value}]),
        )
        .await;
        assert_eq!(toggled["active"], json!(want), "{value:?}");
    }
    // Unassigned or soft-deleted in Entra: active false, still readable.
    let disabled = patch_user(
        &api,
        &user,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(disabled["active"], json!(false));
    let read = get(&api, &user).await;
    assert_eq!(read["active"], json!(false));
    assert_eq!(client_view(&read)["userName"], "leaver@contoso.example");
    let by_name = filter(&api, "userName eq \"leaver@contoso.example\"").await;
    assert_eq!(by_name.ids(), [id(&user)]);
    assert_eq!(by_name.body["Resources"][0]["active"], json!(false));
    let inactive = filter(&api, "active eq false").await;
    assert_eq!(inactive.ids(), [id(&user)]);
    // Restored.
    let restored = patch_user(
        &api,
        &user,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert_eq!(restored["active"], json!(true));
    assert_eq!(
        filter(&api, "active eq false").await.ids(),
        Vec::<String>::new()
    );
    // Deleted for good 30 days later.
    let deleted = api.call("DELETE", &path, None).await.expect(204);
    assert_eq!(deleted.body, Value::Null);
    assert_error(&api.call("DELETE", &path, None).await, 404);
    let gone = api.call("GET", &path, None).await;
    assert_error(&gone, 404);
    assert!(gone.body["detail"].as_str().unwrap().contains(&id(&user)));
    let patch_gone = api
        .call(
            "PATCH",
            &path,
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_error(&patch_gone, 404);
    let after = filter(&api, "userName eq \"leaver@contoso.example\"").await;
    assert_eq!(after.body["totalResults"], 0);
    assert_eq!(after.body["Resources"], json!([]));
}

async fn entra_duplicate_user_name_conflicts<S: Store + Clone>(store: S) {
    let api = api(store);
    let first = create(&api, entra_create("Dup.User@Contoso.example", "ext-dup-1")).await;
    for user_name in [
        "Dup.User@Contoso.example",
        "dup.user@contoso.example",
        "DUP.USER@CONTOSO.EXAMPLE",
    ] {
        let dup = api
            .call("POST", "/Users", Some(entra_create(user_name, "ext-dup-2")))
            .await;
        assert_error(&dup, 409);
        assert_eq!(dup.body["scimType"], "uniqueness", "{user_name}");
    }
    let only = filter(&api, "userName eq \"dup.user@contoso.example\"").await;
    assert_eq!(only.ids(), [id(&first)], "nothing was created");
    let external = filter(&api, "externalId eq \"ext-dup-2\"").await;
    assert_eq!(external.ids(), Vec::<String>::new());
}

// ---------------------------------------------------------------- Okta

const OKTA_PASSWORD: &str = "1mz050nq-Okta-Secret";

fn okta_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": OKTA_PASSWORD,
        "active": true
    })
}

/// Neither the password nor its attribute appears in `body`.
fn assert_no_password(body: &Value, what: &str) {
    let text = body.to_string();
    assert!(!text.contains(OKTA_PASSWORD), "{what}: {text}");
    assert!(
        !text.to_lowercase().contains("\"password\""),
        "{what}: {text}"
    );
}

async fn okta_existence_check_and_create_without_password<S: Store + Clone>(store: S) {
    let api = api(store.clone());
    let check = "/Users?filter=userName eq \"isaac.brock@example.com\"&startIndex=1&count=100";
    let absent = api.call("GET", check, None).await.expect(200);
    assert_list(&absent, 0, 1, 0);
    assert_eq!(absent.body["Resources"], json!([]));

    let created = create(
        &api,
        okta_user("isaac.brock@example.com", "00ujl29u0le5T6Aj10h7"),
    )
    .await;
    assert_no_password(&created, "POST response");
    assert_eq!(
        client_view(&created),
        json!({
            "schemas": [USER],
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": "isaac.brock@example.com",
            "name": {"familyName": "Brock", "givenName": "Isaac"},
            "displayName": "Isaac Brock",
            "locale": "en-US",
            "active": true,
            "emails": [{"value": "isaac.brock@example.com", "type": "work", "primary": true}]
        }),
        "groups: [] and password are not stored"
    );
    let read = get(&api, &created).await;
    assert_no_password(&read, "GET");
    assert_eq!(read, created);
    let asked = api
        .call(
            "GET",
            &format!("{}?attributes=password,userName", user_path(&created)),
            None,
        )
        .await
        .expect(200);
    assert_no_password(&asked.body, "GET ?attributes=password");
    assert_eq!(asked.body["userName"], "isaac.brock@example.com");
    // Not in the store either.
    let stored = store
        .get(&api.tenant, ResourceKind::User, &id(&created))
        .await
        .unwrap()
        .expect("the stored user");
    assert_no_password(&stored.document, "stored document");

    let present = api.call("GET", check, None).await.expect(200);
    assert_list(&present, 1, 1, 1);
    assert_eq!(present.ids(), [id(&created)]);
    assert_no_password(&present.body, "list");
    // A PATCH or PUT carrying a password does not store it either.
    let patched = patch_user(
        &api,
        &created,
        json!([{"op": "replace", "value": {"password": OKTA_PASSWORD, "locale": "en-GB"}}]),
    )
    .await;
    assert_eq!(patched["locale"], "en-GB");
    assert_no_password(&patched, "PATCH response");
    let mut whole = get(&api, &created).await;
    whole["password"] = json!(OKTA_PASSWORD);
    let put = api
        .call("PUT", &user_path(&created), Some(whole))
        .await
        .expect(200);
    assert_no_password(&put.body, "PUT response");
    let stored = store
        .get(&api.tenant, ResourceKind::User, &id(&created))
        .await
        .unwrap()
        .unwrap();
    assert_no_password(&stored.document, "stored document after PATCH and PUT");
}

async fn okta_import_pages_in_one_order<S: Store + Clone>(store: S) {
    let api = api(store);
    for i in 0..5 {
        create(
            &api,
            okta_user(&format!("import{i}@example.com"), &format!("okta-{i}")),
        )
        .await;
    }
    let first = api
        .call("GET", "/Users?startIndex=1&count=100", None)
        .await
        .expect(200);
    assert_list(&first, 5, 1, 5);
    let order = first.ids();
    for r in first.body["Resources"].as_array().unwrap() {
        assert_no_password(r, "import");
    }
    // Then 101: past the end, still a well-formed page.
    let next = api
        .call("GET", "/Users?startIndex=101&count=100", None)
        .await
        .expect(200);
    assert_list(&next, 5, 101, 0);
    assert_eq!(next.body["Resources"], json!([]));
    // Okta's loop with a small count: same order, no gaps, no repeats.
    for count in [1u64, 2, 3, 5] {
        let mut seen = Vec::new();
        let mut start = 1u64;
        loop {
            let page = api
                .call(
                    "GET",
                    &format!("/Users?startIndex={start}&count={count}"),
                    None,
                )
                .await
                .expect(200);
            let items = count.min(5u64.saturating_sub(start - 1));
            assert_list(&page, 5, start, items);
            seen.extend(page.ids());
            start += count;
            if start > page.body["totalResults"].as_u64().unwrap() {
                break;
            }
        }
        assert_eq!(seen, order, "count={count}");
    }
}

async fn okta_update_by_get_then_put<S: Store + Clone>(store: S) {
    let api = api(store);
    let user = create(&api, okta_user("put.user@example.com", "okta-put")).await;
    let path = user_path(&user);
    let mut whole = get(&api, &user).await;
    assert!(whole.get("id").is_some() && whole.get("meta").is_some());
    whole["displayName"] = json!("Isaac B.");
    whole["name"]["givenName"] = json!("Ike");
    whole["title"] = json!("Musician");
    whole["emails"][0]["value"] = json!("ike@example.com");
    let put = api
        .call("PUT", &path, Some(whole.clone()))
        .await
        .expect(200);
    assert_eq!(put.body["id"], user["id"]);
    assert_eq!(put.body["meta"]["created"], user["meta"]["created"]);
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");
    assert_eq!(put.header("etag"), Some("W/\"2\""));
    assert_eq!(
        client_view(&put.body),
        client_view(&whole),
        "the whole resource as sent"
    );
    assert_eq!(get(&api, &user).await, put.body);
    // Some integrations deactivate with PUT.
    let mut inactive = put.body.clone();
    inactive["active"] = json!(false);
    let off = api.call("PUT", &path, Some(inactive)).await.expect(200);
    assert_eq!(off.body["active"], json!(false));
    assert_eq!(filter(&api, "active eq false").await.ids(), [id(&user)]);
    // An id in the body that is not the resource's is ignored.
    let mut other = off.body.clone();
    other["id"] = json!("not-this-one");
    other["active"] = json!(true);
    let on = api.call("PUT", &path, Some(other)).await.expect(200);
    assert_eq!(
        (on.body["id"].clone(), on.body["active"].clone()),
        (user["id"].clone(), json!(true))
    );
}

async fn okta_deactivate_and_reactivate_pathless<S: Store + Clone>(store: S) {
    let api = api(store);
    let user = create(&api, okta_user("toggle@example.com", "okta-toggle")).await;
    let off = patch_user(
        &api,
        &user,
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!(off["active"], json!(false));
    assert_eq!(client_view(&off)["userName"], "toggle@example.com");
    assert_eq!(get(&api, &user).await["active"], json!(false));
    let inactive = filter(&api, "active eq false").await;
    assert_eq!(inactive.ids(), [id(&user)]);
    let on = patch_user(
        &api,
        &user,
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    assert_eq!(on["active"], json!(true));
    assert_eq!(get(&api, &user).await["active"], json!(true));
    let mut want = client_view(&user);
    want["active"] = json!(true);
    assert_eq!(client_view(&on), want, "nothing else changed");
}

async fn okta_spec_test<S: Store + Clone>(store: S) {
    let api = api(store);
    let body = okta_user("spec.user@example.com", "okta-spec");
    let user = create(&api, body.clone()).await;
    create(&api, okta_user("spec.other@example.com", "okta-spec-2")).await;
    // count=1&startIndex=1: a non-empty list with numeric paging fields.
    let one = api
        .call("GET", "/Users?count=1&startIndex=1", None)
        .await
        .expect(200);
    assert_list(&one, 2, 1, 1);
    // Unknown id: 404 with detail.
    let unknown = api
        .call("GET", &format!("/Users/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_error(&unknown, 404);
    // Duplicate create: 409.
    let dup = api.call("POST", "/Users", Some(body)).await;
    assert_error(&dup, 409);
    assert_eq!(dup.body["scimType"], "uniqueness");
    // The upper-cased userName finds the user.
    let upper = filter(&api, "userName eq \"SPEC.USER@EXAMPLE.COM\"").await;
    assert_eq!(upper.ids(), [id(&user)]);
    assert_eq!(upper.body["totalResults"], 1);
}

// ---------------------------------------------------------------- vendor profiles

/// Creates a user and checks that GET returns `expected` (plus id and meta).
async fn round_trip<R: Routes>(api: &Api<R>, sent: Value, expected: &Value) -> Value {
    let created = create(api, sent).await;
    assert_eq!(&client_view(&created), expected, "POST response");
    let read = get(api, &created).await;
    assert_eq!(&client_view(&read), expected, "GET");
    read
}

async fn sosafe_profile<S: Store + Clone>(store: S) {
    let api = api(store);
    // The Responsible person: its work email is what the reports show.
    let responsible = create(
        &api,
        json!({
            "userName": "r.person@acme.onmicrosoft.example",
            "displayName": "Rita Person",
            "externalId": "aad-obj-rita",
            "emails": [
                {"value": "Rita.Person@Acme.example", "type": "work", "primary": true},
                {"value": "rita@home.example", "type": "home"}
            ]
        }),
    )
    .await;
    let responsible_id = id(&responsible);
    let attributes = json!({
        "userName": "Anna.Schmidt@Acme.example",
        "active": true,
        "displayName": "Dr. Anna Schmidt",
        "title": "Head of IT Security",
        "emails": [{"value": "Anna.Schmidt@Acme.example", "type": "work", "primary": true}],
        "preferredLanguage": "de-DE",
        "name": {
            "formatted": "Dr. Anna Maria Schmidt MSc",
            "familyName": "Schmidt",
            "givenName": "Anna",
            "honorificPrefix": "Dr.",
            "honorificSuffix": "MSc"
        },
        "addresses": [{
            "formatted": "Hauptstraße 1\n20095 Hamburg\nDeutschland",
            "streetAddress": "Hauptstraße 1",
            "locality": "Hamburg",
            "region": "HH",
            "postalCode": "20095",
            "country": "DE",
            "type": "work"
        }],
        "phoneNumbers": [{"value": "+49 40 1234567", "type": "work"}],
        "externalId": "aad-obj-anna",
        "nickName": "Anni",
        "userType": "Employee",
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
    });
    let enterprise = json!({
        "employeeNumber": "E-1001",
        "costCenter": "CC-4711",
        "organization": "Acme GmbH",
        "division": "Operations",
        "department": "IT Security"
    });
    let vendor = json!({"gender": "female", "academicTitle": "Dr. rer. nat."});
    // The manager by reference, by the email as a plain string, and by the
    // Entra objectId mapped to externalId.
    let manager_forms = [
        json!({"value": responsible_id}),
        json!("Rita.Person@Acme.example"),
        json!("aad-obj-rita"),
    ];
    for (i, manager) in manager_forms.iter().enumerate() {
        let mut sent = attributes.clone();
        if i > 0 {
            let user_name = format!("anna{i}.schmidt@acme.example");
            sent["userName"] = json!(user_name);
            sent["emails"][0]["value"] = json!(user_name);
            sent["externalId"] = json!(format!("aad-obj-anna-{i}"));
        }
        let mut expected = sent.clone();
        sent["schemas"] = json!([USER, ENTERPRISE]);
        sent[ENTERPRISE] = enterprise.clone();
        sent[ENTERPRISE]["manager"] = manager.clone();
        sent[VENDOR] = vendor.clone();
        // A client value for the read-only email is ignored.
        sent[VENDOR]["managerEmail"] = json!("forged@evil.example");

        expected["schemas"] = json!([USER, ENTERPRISE, VENDOR]);
        expected[ENTERPRISE] = enterprise.clone();
        expected[ENTERPRISE]["manager"] = manager_ref(&api, &responsible_id, "Rita Person");
        expected[VENDOR] = vendor.clone();
        expected[VENDOR]["managerEmail"] = json!("Rita.Person@Acme.example");
        let user = round_trip(&api, sent, &expected).await;

        // userName is filterable, in any case.
        let user_name = expected["userName"].as_str().unwrap();
        for f in [user_name.to_owned(), user_name.to_uppercase()] {
            let found = filter(&api, &format!("userName eq \"{f}\"")).await;
            assert_eq!(found.ids(), [id(&user)], "{f}");
            assert_eq!(found.body["Resources"][0], user, "{f}");
        }
    }
    // The Responsible person's new work email reaches the reports.
    patch_user(
        &api,
        &responsible,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "Rita.P@Acme.example"}]),
    )
    .await;
    let reports = filter(
        &api,
        &format!("{ENTERPRISE}:manager.value eq \"{responsible_id}\""),
    )
    .await;
    assert_eq!(reports.body["totalResults"], 3);
    for r in reports.body["Resources"].as_array().unwrap() {
        assert_eq!(r[VENDOR]["managerEmail"], "Rita.P@Acme.example", "{r}");
    }
}

async fn safeguard_profile<S: Store + Clone>(store: S) {
    let api = api(store);
    // active <- Switch([IsSoftDeleted], , "False", "True", "True", "False").
    let mut users = Vec::new();
    for (upn, switch, active) in [
        ("Max.Muster@Contoso.onmicrosoft.example", "True", true),
        ("Erika.Muster@Contoso.onmicrosoft.example", "False", false),
    ] {
        let sent = json!({
            "schemas": [USER],
            "userName": upn,
            "active": switch,
            "displayName": upn.split('@').next().unwrap().replace('.', " "),
            "preferredLanguage": "de-AT",
            "phoneNumbers": [{"value": "+43 1 234 56 78", "type": "work"}],
            "externalId": format!("ext-{}", upn.to_lowercase())
        });
        let mut expected = sent.clone();
        expected["active"] = json!(active);
        let user = round_trip(&api, sent, &expected).await;
        let found = filter(&api, &format!("userName eq \"{}\"", upn.to_lowercase())).await;
        assert_eq!(found.ids(), [id(&user)], "{upn}");
        users.push(user);
    }
    let (live, soft_deleted) = (&users[0], &users[1]);
    assert_eq!(
        filter(&api, "active eq false").await.ids(),
        [id(soft_deleted)]
    );
    // Restore and soft-delete again with the Switch's strings.
    let restored = patch_user(
        &api,
        soft_deleted,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert_eq!(restored["active"], json!(true));
    let removed = patch_user(
        &api,
        live,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(removed["active"], json!(false));
    assert_eq!(filter(&api, "active eq false").await.ids(), [id(live)]);
}

const CYBSAFE_LANGUAGES: [&str; 18] = [
    "en_gb", "en", "en-us", "nl", "ar", "es", "es-ES", "fr", "de", "it", "pl", "pt-BR", "tr-TR",
    "ru", "ja-JP", "zh-CN", "zh-HK", "ko-KR",
];

async fn cybsafe_profile<S: Store + Clone>(store: S) {
    let api = api(store);
    let manager = create(
        &api,
        json!({
            "userName": "ciso@corp.example",
            "displayName": "Chief Security",
            "emails": [{"value": "ciso@corp.example", "type": "work", "primary": true}]
        }),
    )
    .await;
    let manager_id = id(&manager);
    let mut created = Vec::new();
    for (i, language) in CYBSAFE_LANGUAGES.iter().enumerate() {
        // The UPN differs from the mailbox: the work email is its own value.
        let user_name = format!("u{i}.upn@corp.onmicrosoft.example");
        let email = format!("Jane.Doe{i}@Corp.example");
        let archived = i == CYBSAFE_LANGUAGES.len() - 1;
        let core = json!({
            "externalId": format!("cyb-{i}"),
            "userName": user_name,
            "name": {"familyName": "Doe", "givenName": "Jane"},
            "preferredLanguage": language,
            "locale": "en-GB",
            "active": !archived,
            "emails": [{"value": email, "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+44 7700 900123", "type": "mobile"}],
            "addresses": [{"country": "GB", "type": "work"}]
        });
        let enterprise = json!({
            "employeeNumber": format!("CS-{i:04}"),
            "organization": "Corp Ltd",
            "division": "Engineering",
            "department": "Platform"
        });
        let vendor = json!({
            "employeeType": "Contractor",
            "city": "London",
            "office": "Shoreditch HQ",
            "businessUnit": "Cloud",
            "grade": "L5"
        });
        let mut sent = core.clone();
        sent["schemas"] = json!([USER, ENTERPRISE]);
        sent[ENTERPRISE] = enterprise.clone();
        sent[ENTERPRISE]["manager"] = json!({"value": manager_id});
        sent[VENDOR] = vendor.clone();

        let mut expected = core;
        expected["schemas"] = json!([USER, ENTERPRISE, VENDOR]);
        expected[ENTERPRISE] = enterprise;
        expected[ENTERPRISE]["manager"] = manager_ref(&api, &manager_id, "Chief Security");
        expected[VENDOR] = vendor;
        expected[VENDOR]["managerEmail"] = json!("ciso@corp.example");
        let user = round_trip(&api, sent, &expected).await;
        assert_eq!(
            user["preferredLanguage"], *language,
            "stored exactly as sent"
        );
        created.push((user, user_name, email));
    }
    // userName filters; the work email is kept apart from it and matches too.
    for (user, user_name, email) in &created {
        let by_name = filter(
            &api,
            &format!("userName eq \"{}\"", user_name.to_uppercase()),
        )
        .await;
        assert_eq!(by_name.ids(), [id(user)], "{user_name}");
        let by_email = filter(
            &api,
            &format!("emails[type eq \"work\"].value eq \"{email}\""),
        )
        .await;
        assert_eq!(by_email.ids(), [id(user)], "{email}");
    }
    // Archived (active false) stays readable and filterable.
    let (archived, _, _) = created.last().unwrap();
    assert_eq!(filter(&api, "active eq false").await.ids(), [id(archived)]);
    let all = api.call("GET", "/Users?count=100", None).await.expect(200);
    assert_eq!(all.body["totalResults"], CYBSAFE_LANGUAGES.len() + 1);
}

/// `/Schemas` documents every attribute the profiles use.
async fn schemas_document_the_profile_attributes<S: Store + Clone>(store: S) {
    let api = api(store);
    let list = api.call("GET", "/Schemas", None).await.expect(200);
    assert_eq!(list.body["schemas"], json!([LIST]));
    let schemas = list.body["Resources"].as_array().unwrap();
    let schema = |urn: &str| {
        schemas
            .iter()
            .find(|s| s["id"] == urn)
            .unwrap_or_else(|| panic!("/Schemas lists {urn}"))
            .clone()
    };
    let attribute = |schema: &Value, name: &str| -> Value {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{} documents {name}", schema["id"]))
            .clone()
    };
    let sub = |attr: &Value, name: &str| -> Value {
        attr["subAttributes"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has sub-attributes", attr["name"]))
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{} documents {name}", attr["name"]))
            .clone()
    };
    let read_write_string = |a: &Value, what: &str| {
        assert_eq!(a["type"], "string", "{what}");
        assert_eq!(a["multiValued"], false, "{what}");
        assert_eq!(a["mutability"], "readWrite", "{what}");
        assert_eq!(a["returned"], "default", "{what}");
    };

    let user = schema(USER);
    for name in [
        "userName",
        "displayName",
        "title",
        "preferredLanguage",
        "nickName",
        "userType",
        "locale",
        "timezone",
    ] {
        read_write_string(&attribute(&user, name), name);
    }
    let user_name = attribute(&user, "userName");
    assert_eq!(
        (
            user_name["required"].clone(),
            user_name["uniqueness"].clone(),
            user_name["caseExact"].clone()
        ),
        (json!(true), json!("server"), json!(false)),
        "userName is required, unique and matched in any case"
    );
    let active = attribute(&user, "active");
    assert_eq!(
        (active["type"].clone(), active["mutability"].clone()),
        (json!("boolean"), json!("readWrite"))
    );
    let password = attribute(&user, "password");
    assert_eq!(
        (password["mutability"].clone(), password["returned"].clone()),
        (json!("writeOnly"), json!("never"))
    );
    let name = attribute(&user, "name");
    assert_eq!(name["type"], "complex");
    for s in [
        "givenName",
        "familyName",
        "formatted",
        "honorificPrefix",
        "honorificSuffix",
    ] {
        read_write_string(&sub(&name, s), s);
    }
    let addresses = attribute(&user, "addresses");
    assert_eq!(
        (addresses["type"].clone(), addresses["multiValued"].clone()),
        (json!("complex"), json!(true))
    );
    for s in [
        "formatted",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
    ] {
        read_write_string(&sub(&addresses, s), s);
    }
    for (multi, types) in [
        ("emails", &["work"][..]),
        ("phoneNumbers", &["work", "mobile"][..]),
        ("addresses", &["work"][..]),
    ] {
        let attr = attribute(&user, multi);
        assert_eq!(attr["multiValued"], true, "{multi}");
        let ty = sub(&attr, "type");
        for t in types {
            assert!(
                ty["canonicalValues"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(t)),
                "{multi}.type lists {t}"
            );
        }
        assert_eq!(sub(&attr, "primary")["type"], "boolean", "{multi}.primary");
        if multi != "addresses" {
            read_write_string(&sub(&attr, "value"), multi);
        }
    }

    let enterprise = schema(ENTERPRISE);
    for name in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        read_write_string(&attribute(&enterprise, name), name);
    }
    let manager = attribute(&enterprise, "manager");
    assert_eq!(
        (manager["type"].clone(), manager["multiValued"].clone()),
        (json!("complex"), json!(false))
    );
    assert_eq!(sub(&manager, "value")["mutability"], "readWrite");
    assert_eq!(sub(&manager, "$ref")["type"], "reference");
    assert_eq!(sub(&manager, "displayName")["mutability"], "readOnly");

    let vendor = schema(VENDOR);
    for name in [
        "gender",
        "academicTitle",
        "employeeType",
        "city",
        "office",
        "businessUnit",
        "grade",
    ] {
        read_write_string(&attribute(&vendor, name), name);
    }
    let manager_email = attribute(&vendor, "managerEmail");
    assert_eq!(manager_email["type"], "string");
    assert_eq!(manager_email["mutability"], "readOnly");
    // The vendor schema by its URN, and as an extension of the User type.
    let direct = api
        .call("GET", &format!("/Schemas/{VENDOR}"), None)
        .await
        .expect(200);
    assert_eq!(direct.body, vendor);
    let user_type = api
        .call("GET", "/ResourceTypes/User", None)
        .await
        .expect(200);
    let extensions: Vec<&Value> = user_type.body["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["schema"])
        .collect();
    assert_eq!(extensions, [&json!(ENTERPRISE), &json!(VENDOR)]);
}

both_stores!(
    entra_test_connection_and_matching,
    entra_create_is_stored_clean,
    entra_default_patch_dialect,
    entra_compliant_patch_dialect,
    entra_manager_forms,
    entra_deprovisioning_and_delete,
    entra_duplicate_user_name_conflicts,
    okta_existence_check_and_create_without_password,
    okta_import_pages_in_one_order,
    okta_update_by_get_then_put,
    okta_deactivate_and_reactivate_pathless,
    okta_spec_test,
    sosafe_profile,
    safeguard_profile,
    cybsafe_profile,
    schemas_document_the_profile_attributes,
);
