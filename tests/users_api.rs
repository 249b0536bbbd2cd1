//! `/Users` over HTTP, the same cases on the embedded store and on DynamoDB
//! Local: lifecycle, uniqueness, filters, paging, conditional requests,
//! PATCH dialects, managers, soft delete, concurrency.

mod common;

use common::http_api::{Api, api, api_with};
use scim_serverless::api::Routes;
use scim_serverless::config::Config;
use scim_serverless::scim::limits::{MAX_BODY_BYTES, MAX_PATCH_OPERATIONS};
use scim_serverless::store::Store;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const VENDOR: &str = "urn:ietf:params:scim:schemas:extension:vendor:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(user_name: &str) -> Value {
    json!({"schemas": [USER], "userName": user_name, "active": true,
           "emails": [{"value": user_name, "type": "work", "primary": true}]})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn create<R: Routes>(api: &Api<R>, body: Value) -> Value {
    api.call("POST", "/Users", Some(body))
        .await
        .expect(201)
        .body
}

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

async fn lifecycle<S: Store + Clone>(store: S) {
    let api = api(store);
    let created = api
        .call("POST", "/Users", Some(user("alice@example.com")))
        .await
        .expect(201);
    let alice = created.body.clone();
    let alice_id = id(&alice);
    assert_eq!(
        created.header("location"),
        Some(format!("{}/Users/{alice_id}", api.base()).as_str())
    );
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(alice["meta"]["version"], "W/\"1\"");
    assert_eq!(alice["meta"]["resourceType"], "User");
    assert_eq!(alice["meta"]["created"], alice["meta"]["lastModified"]);

    let got = api
        .call("GET", &format!("/Users/{alice_id}"), None)
        .await
        .expect(200);
    assert_eq!(got.body, alice);
    assert_eq!(got.header("etag"), Some("W/\"1\""));

    api.call("DELETE", &format!("/Users/{alice_id}"), None)
        .await
        .expect(204);
    let gone = api
        .call("GET", &format!("/Users/{alice_id}"), None)
        .await
        .expect(404);
    assert_eq!(gone.body["status"], "404");
    assert!(gone.body["detail"].as_str().unwrap().contains(&alice_id));
    api.call("DELETE", &format!("/Users/{alice_id}"), None)
        .await
        .expect(404);
    api.call(
        "PATCH",
        &format!("/Users/{alice_id}"),
        Some(patch(json!([
            {"op": "replace", "path": "active", "value": false}
        ]))),
    )
    .await
    .expect(404);
    api.call(
        "PUT",
        &format!("/Users/{alice_id}"),
        Some(user("alice@example.com")),
    )
    .await
    .expect(404);
    // Ids and filter values longer than any key are simply not found.
    let long = "x".repeat(3000);
    api.call("GET", &format!("/Users/{long}"), None)
        .await
        .expect(404);
    let none = api
        .call(
            "GET",
            &format!("/Users?filter=userName eq \"{long}\""),
            None,
        )
        .await
        .expect(200);
    assert_eq!(none.body["totalResults"], 0);
    for filter in ["externalId", "emails.value"] {
        let none = api
            .call(
                "GET",
                &format!("/Users?filter={filter} eq \"{long}\""),
                None,
            )
            .await
            .expect(200);
        assert_eq!(none.body["totalResults"], 0, "{filter}");
    }
    // The userName is free again.
    api.call("POST", "/Users", Some(user("Alice@Example.com")))
        .await
        .expect(201);
}

async fn user_name_is_unique_case_insensitively<S: Store + Clone>(store: S) {
    let api = api(store);
    let bob = create(&api, user("bob@example.com")).await;
    let dup = api
        .call("POST", "/Users", Some(user("BOB@example.COM")))
        .await
        .expect(409);
    assert_eq!(dup.body["scimType"], "uniqueness");
    // A rename moves the name: the old one is free, the new one taken.
    let renamed = api
        .call(
            "PATCH",
            &format!("/Users/{}", id(&bob)),
            Some(patch(json!([
                {"op": "Replace", "path": "userName", "value": "robert@example.com"}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["userName"], "robert@example.com");
    create(&api, user("bob@example.com")).await;
    let taken = api
        .call(
            "PUT",
            &format!("/Users/{}", id(&bob)),
            Some(user("Bob@Example.com")),
        )
        .await
        .expect(409);
    assert_eq!(taken.body["scimType"], "uniqueness");
    let still = api
        .call("GET", &format!("/Users/{}", id(&bob)), None)
        .await
        .expect(200);
    assert_eq!(
        still.body["userName"], "robert@example.com",
        "a failed PUT changes nothing"
    );
}

async fn bad_input_gets_scim_errors<S: Store + Clone>(store: S) {
    let api = api(store);
    type Case<'a> = (&'a str, &'a str, Option<Value>, u16, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/Users",
            Some(json!({"schemas": [USER]})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            Some(json!([1, 2])),
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users",
            Some(json!({"userName": "x", "nickName": 5})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            Some(json!({"userName": "x", "shoeSize": 5})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            Some(json!({"userName": "x".repeat(1100)})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            Some(json!({"userName": "big", "title": "x".repeat(400_000)})),
            400,
            Some("invalidValue"),
        ),
        (
            "GET",
            "/Users?filter=userName eq",
            None,
            400,
            Some("invalidFilter"),
        ),
        (
            "GET",
            "/Users?filter=nosuch eq \"x\"",
            None,
            400,
            Some("invalidFilter"),
        ),
        (
            "GET",
            "/Users?cursor=garbage",
            None,
            400,
            Some("invalidCursor"),
        ),
        (
            "GET",
            "/Users?cursor=&count=many",
            None,
            400,
            Some("invalidCount"),
        ),
        (
            "GET",
            "/Users?attributes=name[",
            None,
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users/.search",
            Some(json!({"filter": 5})),
            400,
            Some("invalidFilter"),
        ),
        (
            "POST",
            "/Users/.search",
            Some(json!({"attributes": {"a": 1}})),
            400,
            Some("invalidValue"),
        ),
        ("DELETE", "/Users", None, 405, None),
        ("PUT", "/Users/.search", None, 405, None),
    ];
    for (method, path, body, status, scim_type) in cases {
        let reply = api.call(method, path, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!(
            reply.body["scimType"].as_str(),
            scim_type,
            "{method} {path}"
        );
    }
    // A raw non-JSON body.
    let u = create(&api, user("carol@example.com")).await;
    for method in ["PUT", "PATCH"] {
        let reply = api
            .call(
                method,
                &format!("/Users/{}", id(&u)),
                Some(json!("not an object")),
            )
            .await;
        assert_eq!(reply.status, 400, "{method}: {}", reply.body);
    }
    let bad_patch = api
        .call("PATCH", &format!("/Users/{}", id(&u)), Some(patch(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
            {"op": "replace", "path": "nosuch", "value": 1},
        ]))))
        .await
        .expect(400);
    assert_eq!(bad_patch.body["scimType"], "invalidPath");
    let after = api
        .call("GET", &format!("/Users/{}", id(&u)), None)
        .await
        .expect(200);
    assert_eq!(after.body, u, "a failed PATCH leaves nothing half-written");
}

async fn lookups_by_key<S: Store + Clone>(store: S) {
    let api = api(store);
    // Entra's Test Connection: 200 with an empty list, never 404.
    let empty = api
        .call(
            "GET",
            "/Users?filter=userName eq \"7d0fe9a0-1d3c-4a5e-9b1f-000000000000\"",
            None,
        )
        .await
        .expect(200);
    assert_eq!(empty.body["totalResults"], 0);
    assert_eq!(empty.body["Resources"], json!([]));

    let mut body = user("Dana.Scully@Example.com");
    body["externalId"] = json!("ext-dana");
    body["emails"] = json!([
        {"value": "dana@fbi.example", "type": "work", "primary": true},
        {"value": "dana@home.example", "type": "home"},
    ]);
    let dana = create(&api, body).await;
    create(&api, user("fox.mulder@example.com")).await;
    let dana_id = id(&dana);
    let filters = [
        "userName eq \"dana.scully@example.com\"".to_owned(),
        "userName eq \"DANA.SCULLY@EXAMPLE.COM\"".to_owned(),
        "externalId eq \"ext-dana\"".to_owned(),
        "externalId eq ext-dana".to_owned(),
        format!("id eq \"{dana_id}\""),
        "emails[type eq \"work\"].value eq \"dana@fbi.example\"".to_owned(),
        "emails.value eq \"DANA@HOME.example\"".to_owned(),
        "userName eq \"dana.scully@example.com\" and externalId eq \"ext-dana\"".to_owned(),
        "externalId eq \"ext-dana\" and active eq true".to_owned(),
    ];
    for filter in filters {
        let found = api
            .call("GET", &format!("/Users?filter={filter}"), None)
            .await
            .expect(200);
        assert_eq!(found.ids(), std::slice::from_ref(&dana_id), "{filter}");
        assert_eq!(found.body["totalResults"], 1, "{filter}");
    }
    let misses = [
        "externalId eq \"EXT-DANA\"",
        "emails[type eq \"home\"].value eq \"dana@fbi.example\"",
        "userName eq \"dana.scully@example.com\" and active eq false",
    ];
    for filter in misses {
        let found = api
            .call("GET", &format!("/Users?filter={filter}"), None)
            .await
            .expect(200);
        assert_eq!(found.ids(), Vec::<String>::new(), "{filter}");
    }
}

async fn other_filters_scan_within_a_limit<S: Store + Clone>(store: S) {
    let config = Config {
        filter_scan_limit: 1000,
        ..Config::default()
    };
    let api = api_with(store.clone(), &config);
    let mut ids = Vec::new();
    for i in 0..6 {
        let mut body = user(&format!("user{i}@example.com"));
        body["title"] = json!(if i % 2 == 0 { "Engineer" } else { "Manager" });
        ids.push(id(&create(&api, body).await));
    }
    let deactivated = &ids[1];
    api.call(
        "PATCH",
        &format!("/Users/{deactivated}"),
        Some(patch(json!([
            {"op": "Replace", "path": "active", "value": "False"}
        ]))),
    )
    .await
    .expect(200);
    let inactive = api
        .call("GET", "/Users?filter=active eq false", None)
        .await
        .expect(200);
    assert_eq!(inactive.ids(), std::slice::from_ref(deactivated));
    let engineers = api
        .call(
            "GET",
            "/Users?filter=title eq \"engineer\" or userName sw \"USER5\"",
            None,
        )
        .await
        .expect(200);
    let mut want: Vec<String> = [0, 2, 4, 5].iter().map(|i| ids[*i].clone()).collect();
    want.sort();
    assert_eq!(engineers.ids(), want, "case-insensitive, in id order");
    // A store of more users than a filter may examine: 400 tooMany.
    let tight = Config {
        filter_scan_limit: 2,
        ..Config::default()
    };
    let mut limited = api_with(store, &tight);
    limited.tenant = api.tenant.clone();
    let refused = limited
        .call("GET", "/Users?filter=title eq \"Engineer\"", None)
        .await
        .expect(400);
    assert_eq!(refused.body["scimType"], "tooMany");
    // Key lookups are not limited.
    limited
        .call(
            "GET",
            "/Users?filter=userName eq \"user3@example.com\"",
            None,
        )
        .await
        .expect(200);
}

async fn paging_is_stable_by_index_and_cursor<S: Store + Clone>(store: S) {
    let api = api(store);
    for i in 0..7 {
        create(&api, user(&format!("p{i}@example.com"))).await;
    }
    let all = api.call("GET", "/Users", None).await.expect(200);
    assert_eq!(all.body["totalResults"], 7);
    let order = all.ids();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "lists come in id order");
    for count in [1, 2, 3, 100] {
        let mut seen = Vec::new();
        let mut start = 1;
        loop {
            let page = api
                .call(
                    "GET",
                    &format!("/Users?startIndex={start}&count={count}"),
                    None,
                )
                .await
                .expect(200);
            assert_eq!(page.body["totalResults"], 7);
            assert_eq!(page.body["startIndex"], start);
            let ids = page.ids();
            assert_eq!(page.body["itemsPerPage"], ids.len());
            if ids.is_empty() {
                break;
            }
            seen.extend(ids);
            start += count;
        }
        assert_eq!(
            seen, order,
            "count={count}: same order, no gaps, no repeats"
        );
    }
    // Out of range and zero counts.
    let beyond = api
        .call("GET", "/Users?startIndex=50&count=10", None)
        .await
        .expect(200);
    assert_eq!(
        (beyond.body["totalResults"].clone(), beyond.ids().len()),
        (json!(7), 0)
    );
    let zero = api.call("GET", "/Users?count=0", None).await.expect(200);
    assert_eq!(
        (zero.body["totalResults"].clone(), zero.ids().len()),
        (json!(7), 0)
    );
    // Cursor paging (RFC 9865), also with a filter.
    for filter in ["", "&filter=userName sw \"p\""] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = api
                .call(
                    "GET",
                    &format!("/Users?count=3&cursor={cursor}{filter}"),
                    None,
                )
                .await
                .expect(200);
            assert_eq!(page.body["totalResults"], 7);
            assert!(page.body.get("startIndex").is_none());
            seen.extend(page.ids());
            match page.body["nextCursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, order, "cursor paging{filter}");
    }
    // A cursor of one query does not serve another.
    let first = api
        .call("GET", "/Users?count=3&cursor=", None)
        .await
        .expect(200);
    let next = first.body["nextCursor"].as_str().unwrap().to_owned();
    let other = api
        .call(
            "GET",
            &format!("/Users?count=3&cursor={next}&filter=active eq true"),
            None,
        )
        .await
        .expect(400);
    assert_eq!(other.body["scimType"], "invalidCursor");
}

async fn search_and_projection<S: Store + Clone>(store: S) {
    let api = api(store);
    let mut body = user("erin@example.com");
    body["name"] = json!({"givenName": "Erin", "familyName": "Example"});
    let erin = create(&api, body).await;
    let found = api
        .call(
            "POST",
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName eq \"ERIN@example.com\"",
                "attributes": ["name.givenName"],
                "startIndex": 1, "count": 10
            })),
        )
        .await
        .expect(200);
    let r = &found.body["Resources"][0];
    assert_eq!(r["id"], erin["id"], "id is always returned");
    assert_eq!(r["name"], json!({"givenName": "Erin"}));
    assert!(r.get("emails").is_none() && r.get("userName").is_none());
    let excluded = api
        .call(
            "GET",
            &format!("/Users/{}?excludedAttributes=emails,name", id(&erin)),
            None,
        )
        .await
        .expect(200);
    assert!(excluded.body.get("emails").is_none() && excluded.body.get("name").is_none());
    assert_eq!(excluded.body["userName"], "erin@example.com");
}

async fn put_and_conditional_requests<S: Store + Clone>(store: S) {
    let api = api(store);
    let frank = create(&api, user("frank@example.com")).await;
    let path = format!("/Users/{}", id(&frank));
    // Okta: GET, then PUT the whole resource back with id and meta.
    let mut full = api.call("GET", &path, None).await.expect(200).body;
    full["displayName"] = json!("Frank");
    full["id"] = json!("some-other-id");
    let put = api.call("PUT", &path, Some(full)).await.expect(200);
    assert_eq!(put.body["id"], frank["id"], "id in the body is ignored");
    assert_eq!(put.body["displayName"], "Frank");
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");
    assert_eq!(put.body["meta"]["created"], frank["meta"]["created"]);
    // A full replace drops what the body leaves out.
    let mut bare = user("frank@example.com");
    bare.as_object_mut().unwrap().remove("emails");
    let put = api.call("PUT", &path, Some(bare)).await.expect(200);
    assert!(put.body.get("emails").is_none() && put.body.get("displayName").is_none());
    assert_eq!(put.header("etag"), Some("W/\"3\""));
    // The same PUT again changes nothing and writes nothing.
    let mut bare = user("frank@example.com");
    bare.as_object_mut().unwrap().remove("emails");
    let again = api.call("PUT", &path, Some(bare)).await.expect(200);
    assert_eq!(again.header("etag"), Some("W/\"3\""));

    let stale = [("if-match", "W/\"1\"")];
    let change = patch(json!([{"op": "add", "path": "nickName", "value": "F"}]));
    api.call_with("PATCH", &path, Some(change.clone()), &stale)
        .await
        .expect(412);
    api.call_with("PUT", &path, Some(user("frank@example.com")), &stale)
        .await
        .expect(412);
    api.call_with("DELETE", &path, None, &stale)
        .await
        .expect(412);
    let current = [("if-match", "W/\"3\"")];
    api.call_with("PATCH", &path, Some(change), &current)
        .await
        .expect(200);
    let not_modified = api
        .call_with("GET", &path, None, &[("if-none-match", "W/\"4\"")])
        .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.body, Value::Null);
    api.call_with("GET", &path, None, &[("if-none-match", "W/\"3\"")])
        .await
        .expect(200);
    api.call_with("DELETE", &path, None, &[("if-match", "*")])
        .await
        .expect(204);
}

async fn patch_dialects_and_soft_delete<S: Store + Clone>(store: S) {
    let api = api(store);
    let gina = create(&api, user("gina@example.com")).await;
    let path = format!("/Users/{}", id(&gina));
    // Entra default dialect.
    let entra = api
        .call("PATCH", &format!("{path}?attributes=active,title"), Some(patch(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "title", "value": "CISO"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Security"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"},
        ]))))
        .await
        .expect(200);
    assert_eq!(entra.body["active"], false);
    assert_eq!(entra.body["title"], "CISO");
    assert!(
        entra.body.get("userName").is_none(),
        "attributes= honoured on PATCH"
    );
    let stored = api.call("GET", &path, None).await.expect(200).body;
    assert_eq!(stored[ENTERPRISE]["department"], "Security");
    assert_eq!(
        stored["phoneNumbers"],
        json!([{"value": "+1 555 0100", "type": "work"}])
    );
    // A whole extension object, repeating its own `schemas` (scim2-models).
    let whole = api
        .call("PATCH", &path, Some(patch(json!([
            {"op": "add", "path": ENTERPRISE, "value": {"schemas": [ENTERPRISE], "costCenter": "CC-1"}}
        ]))))
        .await
        .expect(200);
    assert_eq!(whole.body[ENTERPRISE]["costCenter"], "CC-1");
    assert_eq!(
        whole.body[ENTERPRISE]["department"], "Security",
        "add merges"
    );
    // Okta: path-less replace reactivates.
    let okta = api
        .call(
            "PATCH",
            &path,
            Some(patch(json!([
                {"op": "replace", "value": {"active": true, "name.givenName": "Gina"}}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(okta.body["active"], true);
    assert_eq!(okta.body["name"]["givenName"], "Gina");
    // PUT deactivates too; the user stays readable and filterable.
    let mut body = stored.clone();
    body["active"] = json!(false);
    api.call("PUT", &path, Some(body)).await.expect(200);
    let inactive = api
        .call("GET", "/Users?filter=active eq false", None)
        .await
        .expect(200);
    assert_eq!(inactive.ids(), [id(&gina)]);
    let by_name = api
        .call(
            "GET",
            "/Users?filter=userName eq \"gina@example.com\"",
            None,
        )
        .await
        .expect(200);
    assert_eq!(by_name.body["Resources"][0]["active"], false);
}

async fn managers_resolve_in_any_order<S: Store + Clone>(store: S) {
    let api = api(store);
    // A report whose manager (an email) is not provisioned yet.
    let mut body = user("report@example.com");
    body[ENTERPRISE] = json!({"manager": "Boss@Example.com"});
    let report = create(&api, body).await;
    assert_eq!(
        report[ENTERPRISE]["manager"],
        json!({"value": "Boss@Example.com"})
    );
    assert!(report.get(VENDOR).is_none());
    let report_path = format!("/Users/{}", id(&report));
    // The manager arrives: the report is resolved.
    let mut boss = user("boss@example.com");
    boss["displayName"] = json!("The Boss");
    boss["externalId"] = json!("obj-boss");
    let boss = create(&api, boss).await;
    let boss_id = id(&boss);
    let resolved = api.call("GET", &report_path, None).await.expect(200).body;
    assert_eq!(
        resolved[ENTERPRISE]["manager"],
        json!({"value": boss_id, "$ref": format!("{}/Users/{boss_id}", api.base()), "displayName": "The Boss"})
    );
    assert_eq!(resolved[VENDOR]["managerEmail"], "boss@example.com");
    // Direct reports by key, either filter form.
    for filter in [
        format!("{ENTERPRISE}:manager.value eq \"{boss_id}\""),
        format!("{ENTERPRISE}:manager eq \"{boss_id}\""),
    ] {
        let reports = api
            .call("GET", &format!("/Users?filter={filter}"), None)
            .await
            .expect(200);
        assert_eq!(reports.ids(), [id(&report)], "{filter}");
    }
    // By reference, by externalId (a one-element array), by id.
    let forms = [
        json!({"value": boss_id}),
        json!([{"value": "obj-boss", "$ref": "ignored"}]),
        json!(boss_id),
    ];
    for form in forms {
        let mut body = user(&format!("r{}@example.com", uuid::Uuid::new_v4().simple()));
        body[ENTERPRISE] = json!({"manager": form.clone()});
        let r = create(&api, body).await;
        assert_eq!(r[ENTERPRISE]["manager"]["value"], boss_id, "{form}");
        assert_eq!(r[VENDOR]["managerEmail"], "boss@example.com", "{form}");
    }
    // The manager's new name and email reach the reports.
    api.call("PATCH", &format!("/Users/{boss_id}"), Some(patch(json!([
        {"op": "replace", "path": "displayName", "value": "Chief"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "chief@example.com"},
    ])))).await.expect(200);
    let refreshed = api.call("GET", &report_path, None).await.expect(200).body;
    assert_eq!(refreshed[ENTERPRISE]["manager"]["displayName"], "Chief");
    assert_eq!(refreshed[VENDOR]["managerEmail"], "chief@example.com");
    // The read-only copies cannot be written by clients.
    let ignored = api
        .call("PATCH", &report_path, Some(patch(json!([
            {"op": "replace", "path": format!("{VENDOR}:managerEmail"), "value": "x@evil.example"}
        ]))))
        .await
        .expect(200);
    assert_eq!(ignored.body[VENDOR]["managerEmail"], "chief@example.com");
    // Removing the manager clears the copies.
    let removed = api
        .call(
            "PATCH",
            &report_path,
            Some(patch(json!([
                {"op": "Remove", "path": format!("{ENTERPRISE}:manager")}
            ]))),
        )
        .await
        .expect(200);
    assert!(removed.body.get(ENTERPRISE).is_none() && removed.body.get(VENDOR).is_none());
    // Deleting a manager leaves its reports with an unresolved reference.
    api.call(
        "PATCH",
        &report_path,
        Some(patch(json!([
            {"op": "add", "path": "manager", "value": {"value": boss_id}}
        ]))),
    )
    .await
    .expect(200);
    api.call("DELETE", &format!("/Users/{boss_id}"), None)
        .await
        .expect(204);
    let orphan = api.call("GET", &report_path, None).await.expect(200).body;
    assert_eq!(orphan[ENTERPRISE]["manager"], json!({"value": boss_id}));
    assert!(orphan.get(VENDOR).is_none());
}

async fn concurrent_patches_lose_nothing<S: Store + Clone>(store: S) {
    let api = std::sync::Arc::new(api(store));
    let henry = create(&api, user("henry@example.com")).await;
    let path = format!("/Users/{}", id(&henry));
    let writers = 12;
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let (api, path) = (api.clone(), path.clone());
            tokio::spawn(async move {
                let body = patch(json!([
                    {"op": "add", "path": "emails", "value": [{"value": format!("w{i}@example.com")}]}
                ]));
                (i, api.call("PATCH", &path, Some(body)).await.status)
            })
        })
        .collect();
    let mut applied = Vec::new();
    for task in tasks {
        let (i, status) = task.await.unwrap();
        assert!(status == 200 || status == 409, "writer {i}: {status}");
        if status == 200 {
            applied.push(format!("w{i}@example.com"));
        }
    }
    assert!(!applied.is_empty());
    let last = api.call("GET", &path, None).await.expect(200).body;
    let mut emails: Vec<String> = last["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_owned())
        .filter(|e| e.starts_with('w'))
        .collect();
    emails.sort();
    applied.sort();
    assert_eq!(
        emails, applied,
        "every acknowledged PATCH is kept, nothing else"
    );
    assert_eq!(
        last["meta"]["version"],
        format!("W/\"{}\"", 1 + applied.len())
    );
}

/// Declared limits answer `400 tooMany` naming the limit, before any work,
/// and leave the user as it was; a request at the limits succeeds.
async fn requests_past_the_limits_are_refused<S: Store + Clone>(store: S) {
    let api = api(store);
    let u = id(&create(&api, user("limits@example.com")).await);
    let path = format!("/Users/{u}");
    let too_many = |reply: common::http_api::Reply, limit: &str| {
        let reply = reply.expect(400);
        assert_eq!(reply.body["scimType"], "tooMany", "{}", reply.body);
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains(limit), "{detail}");
    };

    let role = |i: usize| json!({"op": "add", "path": "roles", "value": [{"value": format!("role-{i:04}")}]});
    let ops: Vec<Value> = (0..5_000).map(role).collect();
    too_many(
        api.call("PATCH", &path, Some(patch(Value::Array(ops))))
            .await,
        "operations per PATCH",
    );
    let ops: Vec<Value> = (0..MAX_PATCH_OPERATIONS).map(role).collect();
    let patched = api
        .call("PATCH", &path, Some(patch(Value::Array(ops))))
        .await
        .expect(200)
        .body;
    assert_eq!(
        patched["roles"].as_array().map(Vec::len),
        Some(MAX_PATCH_OPERATIONS)
    );
    too_many(
        api.call(
            "PATCH",
            &path,
            Some(patch(
                json!([{"op": "add", "path": "roles", "value": [{"value": "one-too-many"}]}]),
            )),
        )
        .await,
        "values per multi-valued attribute",
    );

    let emails: Vec<Value> = (0..50_000)
        .map(|i| json!({"value": format!("e{i}@example.com")}))
        .collect();
    let mut body = user("many-emails@example.com");
    body["emails"] = Value::Array(emails);
    too_many(
        api.call("POST", "/Users", Some(body)).await,
        "values per multi-valued attribute",
    );

    let mut body = user("big-body@example.com");
    body["nickName"] = json!("x".repeat(MAX_BODY_BYTES));
    let reply = api.call("POST", "/Users", Some(body)).await.expect(413);
    assert_eq!(reply.body["status"], "413");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("request body size")
    );
    let long = format!("/Users?filter=userName eq \"{}\"", "a".repeat(9000));
    let reply = api.call("GET", &long, None).await.expect(414);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("URI length")
    );

    let after = api.call("GET", &path, None).await.expect(200).body;
    assert_eq!(after["meta"]["version"], "W/\"2\"");
    let listed = api
        .call("GET", "/Users?filter=userName sw \"many-emails\"", None)
        .await
        .expect(200);
    assert_eq!(listed.body["totalResults"], 0);
}

/// Every id of the tenant's users, by a fresh cursor walk.
async fn cursor_walk<R: Routes>(api: &Api<R>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/Users?count=100&cursor={cursor}&attributes=id");
        let page = api.call("GET", &path, None).await.expect(200);
        ids.extend(page.ids());
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return ids,
        }
    }
}

/// The ids of one index page.
async fn index_page<R: Routes>(api: &Api<R>, start: usize, count: usize) -> Vec<String> {
    let path = format!("/Users?startIndex={start}&count={count}&attributes=id");
    api.call("GET", &path, None).await.expect(200).ids()
}

/// What index page `start` must hold: that slice of a fresh walk.
fn slice(walk: &[String], start: usize, count: usize) -> Vec<String> {
    walk.iter().skip(start - 1).take(count).cloned().collect()
}

/// Okta's import after the tenant changed: a walk at count=25, then 100
/// creates and 75 deletes; pages the walk passed must be read afresh.
async fn index_pages_stay_exact_after_creates_and_deletes<S: Store + Clone>(store: S) {
    let api = api(store);
    for i in 0..150 {
        create(&api, user(&format!("w{i:03}@example.com"))).await;
    }
    let mut start = 1;
    while !index_page(&api, start, 25).await.is_empty() {
        start += 25;
    }
    for i in 0..100 {
        create(&api, user(&format!("n{i:03}@example.com"))).await;
    }
    let walk = cursor_walk(&api).await;
    for id in walk.iter().step_by(3).take(75) {
        api.call("DELETE", &format!("/Users/{id}"), None)
            .await
            .expect(204);
    }
    let walk = cursor_walk(&api).await;
    assert_eq!(walk.len(), 175);
    for start in [26, 51, 101] {
        assert_eq!(
            index_page(&api, start, 25).await,
            slice(&walk, start, 25),
            "startIndex={start}"
        );
    }
}

/// Index pages read while users are created and deleted between them,
/// each compared with a fresh cursor walk.
async fn index_pages_stay_exact_between_writes<S: Store + Clone>(store: S) {
    let api = api(store);
    for i in 0..40 {
        create(&api, user(&format!("i{i:03}@example.com"))).await;
    }
    for round in 0..4 {
        let mut start = 1;
        loop {
            let walk = cursor_walk(&api).await;
            let want = slice(&walk, start, 10);
            assert_eq!(
                index_page(&api, start, 10).await,
                want,
                "round {round}, startIndex={start}"
            );
            if want.is_empty() {
                break;
            }
            // Change the list before the next page: a user earlier in it
            // goes, or a new one comes.
            if (start / 10 + round) % 2 == 0 {
                api.call("DELETE", &format!("/Users/{}", walk[start / 2]), None)
                    .await
                    .expect(204);
            } else {
                create(&api, user(&format!("r{round}-{start}@example.com"))).await;
            }
            start += 10;
        }
    }
}

/// A page that would not fit in a response is `400 tooMany`, never a
/// truncated body; fewer resources or fewer attributes fit.
async fn lists_too_large_for_a_response_are_refused<S: Store + Clone>(store: S) {
    let api = api(store);
    let title = "t".repeat(300_000);
    for i in 0..18 {
        let mut body = user(&format!("big{i:02}@example.com"));
        body["title"] = json!(title);
        create(&api, body).await;
    }
    for path in [
        "/Users",
        "/Users?startIndex=1&count=100",
        "/Users?count=100&cursor=",
    ] {
        let r = api.call("GET", path, None).await.expect(400);
        assert_eq!(r.body["scimType"], "tooMany", "{path}");
        assert!(
            r.body["detail"].as_str().unwrap().contains("count"),
            "{}",
            r.body
        );
    }
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "userName sw \"big\""});
    let r = api.call("POST", "/Users/.search", Some(search)).await;
    assert_eq!(
        (r.status, r.body["scimType"].clone()),
        (400, json!("tooMany"))
    );
    let fewer = api.call("GET", "/Users?count=10", None).await.expect(200);
    assert_eq!(fewer.ids().len(), 10);
    let slim = api
        .call("GET", "/Users?count=100&excludedAttributes=title", None)
        .await
        .expect(200);
    assert_eq!(slim.ids().len(), 18);
}

both_stores!(
    index_pages_stay_exact_after_creates_and_deletes,
    index_pages_stay_exact_between_writes,
    lists_too_large_for_a_response_are_refused,
    lifecycle,
    user_name_is_unique_case_insensitively,
    bad_input_gets_scim_errors,
    lookups_by_key,
    other_filters_scan_within_a_limit,
    paging_is_stable_by_index_and_cursor,
    search_and_projection,
    put_and_conditional_requests,
    patch_dialects_and_soft_delete,
    managers_resolve_in_any_order,
    concurrent_patches_lose_nothing,
    requests_past_the_limits_are_refused,
);
