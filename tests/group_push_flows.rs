//! Group provisioning as the identity providers really push it
//! (`/work/shared/idp-traffic.md`), request by request over HTTP, the same
//! cases on the embedded store and on DynamoDB Local: Microsoft Entra ID in
//! its default and its compliant (`aadOptscim062020`) PATCH dialect, and Okta
//! Group Push with its import and spec-test requests. After every membership
//! step both sides are checked: the group's exact member list and every
//! user's `groups`.

mod common;

use std::collections::BTreeSet;

use common::http_api::{Api, Reply, api};
use scim_serverless::api::Routes;
use scim_serverless::store::Store;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The non-RFC schema URI Entra lists when it creates a group.
const MS_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

// ---------------------------------------------------------------- helpers

/// A user created through `POST /Users`.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    user_name: String,
    display: String,
}

/// What one group should be: its id, displayName and member ids.
struct Expected<'a> {
    id: &'a str,
    name: &'a str,
    members: BTreeSet<String>,
}

fn expected<'a>(id: &'a str, name: &'a str, members: &[&Person]) -> Expected<'a> {
    Expected {
        id,
        name,
        members: members.iter().map(|p| p.id.clone()).collect(),
    }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn unknown_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `displayName eq "<name>"` as Entra matches groups: members never read.
fn matching(name: &str) -> String {
    format!("/Groups?filter=displayName eq \"{name}\"&excludedAttributes=members")
}

/// A ListResponse whose paging fields are JSON integers.
fn assert_list(reply: &Reply, total: u64, start: u64, items: u64) {
    let b = &reply.body;
    assert_eq!(reply.status, 200, "{b}");
    assert_eq!(b["schemas"], json!([LIST]), "{b}");
    for field in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(b[field].is_u64(), "{field} is an integer: {b}");
    }
    assert_eq!(b["totalResults"], total, "{b}");
    assert_eq!(b["startIndex"], start, "{b}");
    assert_eq!(b["itemsPerPage"], items, "{b}");
    assert_eq!(reply.ids().len() as u64, items, "{b}");
}

/// A SCIM error document with `status`, a detail and, when given, `scimType`.
fn assert_error(reply: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["schemas"], json!([ERROR]), "{}", reply.body);
    assert_eq!(reply.body["status"], status.to_string(), "{}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "a detail: {}", reply.body);
    if let Some(t) = scim_type {
        assert_eq!(reply.body["scimType"], t, "{}", reply.body);
    }
}

/// `204 No Content`: no body at all.
fn assert_no_content(reply: &Reply) {
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(reply.body, Value::Null, "a 204 has no body");
}

/// A group read with `excludedAttributes=members`: everything but members.
fn assert_slim(group: &Value, id: &str, name: &str) {
    assert_eq!(group["id"], id, "{group}");
    assert_eq!(group["displayName"], name, "{group}");
    assert_eq!(group["schemas"], json!([GROUP]), "{group}");
    assert_eq!(group["meta"]["resourceType"], "Group", "{group}");
    assert!(
        group.get("members").is_none(),
        "excludedAttributes=members never returns members: {group}"
    );
}

async fn create_user<R: Routes>(api: &Api<R>, body: Value) -> Person {
    let created = api
        .call("POST", "/Users", Some(body))
        .await
        .expect(201)
        .body;
    Person {
        id: id(&created),
        user_name: created["userName"].as_str().unwrap().to_owned(),
        display: created["displayName"].as_str().unwrap().to_owned(),
    }
}

/// `n` users as Entra creates them (`POST /Users`, core + enterprise).
async fn entra_users<R: Routes>(api: &Api<R>, prefix: &str, n: usize) -> Vec<Person> {
    let mut people = Vec::with_capacity(n);
    for i in 0..n {
        let user_name = format!("{prefix}{i:03}@contoso.example");
        people.push(
            create_user(
                api,
                json!({
                    "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "externalId": format!("{prefix}-ext-{i:03}"),
                    "userName": user_name,
                    "active": "True",
                    "displayName": format!("{prefix} user {i:03}"),
                    "emails": [{"primary": true, "type": "work", "value": user_name}],
                }),
            )
            .await,
        );
    }
    people
}

/// The group's `members` as the server must render them.
fn member_elements<R: Routes>(api: &Api<R>, people: &[Person], ids: &BTreeSet<String>) -> Value {
    Value::Array(
        ids.iter()
            .map(|m| {
                let p = people
                    .iter()
                    .find(|p| &p.id == m)
                    .unwrap_or_else(|| panic!("{m} is one of the test's users"));
                json!({
                    "value": p.id,
                    "$ref": format!("{}/Users/{}", api.base(), p.id),
                    "type": "User",
                    "display": p.display,
                })
            })
            .collect(),
    )
}

/// `members` of a group response sorted by `value` (`Null` when absent).
fn sorted_members(group: &Value) -> Value {
    match group.get("members") {
        None => Value::Null,
        Some(Value::Array(items)) => {
            let mut items = items.clone();
            items.sort_by(|a, b| a["value"].as_str().cmp(&b["value"].as_str()));
            Value::Array(items)
        }
        Some(other) => panic!("members is not an array: {other}"),
    }
}

/// What `members` must be in a response: absent for an empty group.
fn want_members<R: Routes>(api: &Api<R>, people: &[Person], ids: &BTreeSet<String>) -> Value {
    if ids.is_empty() {
        Value::Null
    } else {
        member_elements(api, people, ids)
    }
}

/// Both sides of the membership, exactly: each group's `members` read with
/// `GET /Groups/{id}?attributes=members`, and the `groups` of every user of
/// the tenant (all pages of `GET /Users?attributes=groups`, and
/// `GET /Users/{id}` of the first and last user).
async fn assert_memberships<R: Routes>(api: &Api<R>, people: &[Person], groups: &[Expected<'_>]) {
    for g in groups {
        let read = api
            .call("GET", &format!("/Groups/{}?attributes=members", g.id), None)
            .await
            .expect(200)
            .body;
        assert_eq!(read["id"], g.id);
        assert_eq!(
            sorted_members(&read),
            want_members(api, people, &g.members),
            "members of {} ({})",
            g.name,
            g.id
        );
    }
    let want_groups = |p: &Person| -> Option<Value> {
        let mut refs: Vec<Value> = groups
            .iter()
            .filter(|g| g.members.contains(&p.id))
            .map(|g| {
                json!({
                    "value": g.id,
                    "$ref": format!("{}/Groups/{}", api.base(), g.id),
                    "type": "direct",
                    "display": g.name,
                })
            })
            .collect();
        refs.sort_by(|a, b| a["value"].as_str().cmp(&b["value"].as_str()));
        (!refs.is_empty()).then_some(Value::Array(refs))
    };
    let sorted_groups = |user: &Value| -> Option<Value> {
        user.get("groups").map(|g| {
            let mut refs = g.as_array().expect("groups is an array").clone();
            refs.sort_by(|a, b| a["value"].as_str().cmp(&b["value"].as_str()));
            Value::Array(refs)
        })
    };
    // Every user of the tenant, page by page.
    let mut listed = Vec::new();
    let mut start = 1;
    loop {
        let page = api
            .call(
                "GET",
                &format!("/Users?attributes=groups&startIndex={start}&count=100"),
                None,
            )
            .await
            .expect(200)
            .body;
        let resources = page["Resources"].as_array().unwrap().clone();
        if resources.is_empty() {
            break;
        }
        start += resources.len();
        listed.extend(resources);
    }
    assert_eq!(listed.len(), people.len(), "every user listed once");
    for p in people {
        let user = listed
            .iter()
            .find(|u| u["id"] == p.id.as_str())
            .unwrap_or_else(|| panic!("{} is listed", p.user_name));
        assert_eq!(
            sorted_groups(user),
            want_groups(p),
            "groups of {} in the list",
            p.user_name
        );
    }
    for p in [people.first(), people.last()].into_iter().flatten() {
        let user = api
            .call("GET", &format!("/Users/{}", p.id), None)
            .await
            .expect(200)
            .body;
        assert_eq!(user["userName"], p.user_name.as_str());
        assert_eq!(
            sorted_groups(&user),
            want_groups(p),
            "groups of {} by id",
            p.user_name
        );
    }
}

async fn patch_group<R: Routes>(api: &Api<R>, group: &str, ops: Value) -> Reply {
    api.call("PATCH", &format!("/Groups/{group}"), Some(patch(ops)))
        .await
}

/// `[{"value": id}, ...]` of `people`.
fn values(people: &[&Person]) -> Value {
    Value::Array(people.iter().map(|p| json!({"value": p.id})).collect())
}

/// Okta's member values also carry `display` (Okta sends the userName).
fn okta_values(people: &[&Person]) -> Value {
    Value::Array(
        people
            .iter()
            .map(|p| json!({"value": p.id, "display": p.user_name}))
            .collect(),
    )
}

/// `GET /Groups/{id}`, `PATCH` and `DELETE` of an id the tenant does not
/// have: `404` with a SCIM error body, whatever the request.
async fn assert_unknown_group<R: Routes>(api: &Api<R>, someone: &Person) {
    let missing = unknown_id();
    let path = format!("/Groups/{missing}");
    let got = api
        .call("GET", &format!("{path}?excludedAttributes=members"), None)
        .await;
    assert_error(&got, 404, None);
    let got = api.call("GET", &path, None).await;
    assert_error(&got, 404, None);
    let patched = patch_group(
        api,
        &missing,
        json!([{"op": "Add", "path": "members", "value": [{"value": someone.id}]}]),
    )
    .await;
    assert_error(&patched, 404, None);
    let patched = patch_group(
        api,
        &missing,
        json!([{"op": "Replace", "path": "displayName", "value": "Ghost"}]),
    )
    .await;
    assert_error(&patched, 404, None);
    let deleted = api.call("DELETE", &path, None).await;
    assert_error(&deleted, 404, None);
}

// ---------------------------------------------------------------- Entra ID

/// Entra's default dialect: capitalised ops, membership by value arrays
/// (150 members in one PATCH), rename by `Replace displayName`, every read
/// with `excludedAttributes=members`, uniqueness, unknown ids, delete.
async fn entra_default_dialect<S: Store + Clone>(store: S) {
    let api = api(store);
    let people = entra_users(&api, "entra", 150).await;
    let name = "Entra Sales";
    let external_id = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";

    // Matching before create: an empty ListResponse, never 404.
    let none = api.call("GET", &matching(name), None).await;
    assert_list(&none, 0, 1, 0);
    assert_eq!(none.body["Resources"], json!([]));

    // Create: no members, Microsoft's schema URI, externalId, meta to ignore.
    let created = api
        .call(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": [GROUP, MS_GROUP],
                "externalId": external_id,
                "displayName": name,
                "meta": {"resourceType": "Group"},
            })),
        )
        .await
        .expect(201);
    let group = created.body.clone();
    let gid = id(&group);
    assert_eq!(
        created.header("location"),
        Some(format!("{}/Groups/{gid}", api.base()).as_str())
    );
    assert_eq!(group["schemas"], json!([GROUP]), "answered in RFC form");
    assert_eq!(group["displayName"], name);
    assert_eq!(group["externalId"], external_id);
    assert_eq!(group["meta"]["resourceType"], "Group");
    assert_eq!(
        group["meta"]["location"],
        format!("{}/Groups/{gid}", api.base())
    );
    assert!(group.get("members").is_none(), "no members yet: {group}");

    // Matching after create, by the name as sent and in another case.
    for n in [name, "ENTRA SALES", "entra sales"] {
        let found = api.call("GET", &matching(n), None).await;
        assert_list(&found, 1, 1, 1);
        assert_eq!(found.ids(), std::slice::from_ref(&gid), "{n}");
        assert_slim(&found.body["Resources"][0], &gid, name);
        assert_eq!(found.body["Resources"][0]["externalId"], external_id);
    }
    assert_memberships(&api, &people, &[expected(&gid, name, &[])]).await;

    // 150 members in one PATCH.
    let everyone: Vec<&Person> = people.iter().collect();
    let added = patch_group(
        &api,
        &gid,
        json!([{"op": "Add", "path": "members", "value": values(&everyone)}]),
    )
    .await;
    assert_no_content(&added);
    let mut members: Vec<&Person> = everyone.clone();
    assert_memberships(&api, &people, &[expected(&gid, name, &members)]).await;

    // Entra's reads of a populated group never carry members.
    let slim = api
        .call(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert_slim(&slim.body, &gid, name);
    assert_eq!(slim.body["externalId"], external_id);
    assert_eq!(
        slim.header("etag"),
        slim.body["meta"]["version"].as_str(),
        "ETag is meta.version"
    );
    let found = api.call("GET", &matching(name), None).await;
    assert_list(&found, 1, 1, 1);
    assert_slim(&found.body["Resources"][0], &gid, name);
    let all = api
        .call("GET", "/Groups?excludedAttributes=members", None)
        .await;
    assert_list(&all, 1, 1, 1);
    assert_slim(&all.body["Resources"][0], &gid, name);

    // Adding members again is no error and changes nothing.
    let again = patch_group(
        &api,
        &gid,
        json!([{"op": "Add", "path": "members", "value": values(&members[..3])}]),
    )
    .await;
    assert_no_content(&again);
    assert_memberships(&api, &people, &[expected(&gid, name, &members)]).await;

    // Removal by value array, one member.
    let removed = patch_group(
        &api,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": people[0].id}]}]),
    )
    .await;
    assert_no_content(&removed);
    members.retain(|p| p.id != people[0].id);
    assert_memberships(&api, &people, &[expected(&gid, name, &members)]).await;

    // Several at once, with one that is no longer a member.
    let removed = patch_group(
        &api,
        &gid,
        json!([{"op": "Remove", "path": "members",
                "value": values(&[&people[0], &people[1], &people[149]])}]),
    )
    .await;
    assert_no_content(&removed);
    members.retain(|p| p.id != people[1].id && p.id != people[149].id);
    assert_eq!(members.len(), 147);
    assert_memberships(&api, &people, &[expected(&gid, name, &members)]).await;

    // Removing a non-member alone is no error either.
    let removed = patch_group(
        &api,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": people[0].id}]}]),
    )
    .await;
    assert_no_content(&removed);
    assert_memberships(&api, &people, &[expected(&gid, name, &members)]).await;

    // Rename: the users' groups show the new name, the members stay.
    let renamed_to = "Entra Sales EMEA";
    let renamed = patch_group(
        &api,
        &gid,
        json!([{"op": "Replace", "path": "displayName", "value": renamed_to}]),
    )
    .await;
    assert_no_content(&renamed);
    assert_memberships(&api, &people, &[expected(&gid, renamed_to, &members)]).await;
    let old = api.call("GET", &matching(name), None).await;
    assert_list(&old, 0, 1, 0);
    let new = api.call("GET", &matching(renamed_to), None).await;
    assert_list(&new, 1, 1, 1);
    assert_slim(&new.body["Resources"][0], &gid, renamed_to);
    assert_eq!(new.body["Resources"][0]["externalId"], external_id);

    // An unknown member: 400 invalidValue, nothing of the request applied
    // (neither the rename nor the removal before it).
    let ghost = unknown_id();
    let bad = patch_group(
        &api,
        &gid,
        json!([
            {"op": "Replace", "path": "displayName", "value": "Never Applied"},
            {"op": "Remove", "path": "members", "value": [{"value": people[2].id}]},
            {"op": "Add", "path": "members", "value": [{"value": people[0].id}, {"value": ghost}]},
        ]),
    )
    .await;
    assert_error(&bad, 400, Some("invalidValue"));
    assert!(
        bad.body["detail"].as_str().unwrap().contains(&ghost),
        "the detail names the unknown member: {}",
        bad.body
    );
    assert_memberships(&api, &people, &[expected(&gid, renamed_to, &members)]).await;

    // Duplicate displayName: 409 uniqueness, on create and on rename.
    for dup_name in [renamed_to, "entra sales emea"] {
        let dup = api
            .call(
                "POST",
                "/Groups",
                Some(json!({
                    "schemas": [GROUP, MS_GROUP],
                    "externalId": unknown_id(),
                    "displayName": dup_name,
                })),
            )
            .await;
        assert_error(&dup, 409, Some("uniqueness"));
    }
    let other = api
        .call(
            "POST",
            "/Groups",
            Some(
                json!({"schemas": [GROUP, MS_GROUP], "externalId": "ext-marketing",
                        "displayName": "Entra Marketing", "meta": {"resourceType": "Group"}}),
            ),
        )
        .await
        .expect(201);
    let other_id = id(&other.body);
    let clash = patch_group(
        &api,
        &other_id,
        json!([{"op": "Replace", "path": "displayName", "value": renamed_to}]),
    )
    .await;
    assert_error(&clash, 409, Some("uniqueness"));
    let kept = api
        .call(
            "GET",
            &format!("/Groups/{other_id}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert_slim(&kept.body, &other_id, "Entra Marketing");
    assert_memberships(
        &api,
        &people,
        &[
            expected(&gid, renamed_to, &members),
            expected(&other_id, "Entra Marketing", &[]),
        ],
    )
    .await;

    // Unknown ids: 404 with a SCIM error body on GET, PATCH, DELETE.
    assert_unknown_group(&api, &people[0]).await;

    // Delete: 204, then 404 for every request on it; memberships end.
    let deleted = api.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_no_content(&deleted);
    let gone = api
        .call(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await;
    assert_error(&gone, 404, None);
    let gone = patch_group(
        &api,
        &gid,
        json!([{"op": "Add", "path": "members", "value": [{"value": people[0].id}]}]),
    )
    .await;
    assert_error(&gone, 404, None);
    let gone = api.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_error(&gone, 404, None);
    let found = api.call("GET", &matching(renamed_to), None).await;
    assert_list(&found, 0, 1, 0);
    assert_memberships(
        &api,
        &people,
        &[expected(&other_id, "Entra Marketing", &[])],
    )
    .await;
}

/// Entra's compliant dialect (`aadOptscim062020`): lower-case ops, removal
/// by a filtered path, one operation per removed member.
async fn entra_compliant_dialect<S: Store + Clone>(store: S) {
    let api = api(store);
    let people = entra_users(&api, "aad", 6).await;
    let [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map(|i| &people[i]);
    let name = "AAD Compliant Team";

    let none = api.call("GET", &matching(name), None).await;
    assert_list(&none, 0, 1, 0);
    let created = api
        .call(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": [GROUP, MS_GROUP],
                "externalId": "4f2c5d5c-0000-4000-8000-000000000062",
                "displayName": name,
                "meta": {"resourceType": "Group"},
            })),
        )
        .await
        .expect(201);
    let gid = id(&created.body);
    assert_eq!(created.body["schemas"], json!([GROUP]));
    assert!(created.body.get("members").is_none());
    let found = api.call("GET", &matching(name), None).await;
    assert_list(&found, 1, 1, 1);
    assert_slim(&found.body["Resources"][0], &gid, name);

    // add with a value array.
    let r = patch_group(
        &api,
        &gid,
        json!([{"op": "add", "path": "members", "value": values(&[a, b, c])}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, name, &[a, b, c])]).await;

    // add with an existing member among new ones: no error.
    let r = patch_group(
        &api,
        &gid,
        json!([{"op": "add", "path": "members", "value": values(&[c, d])}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, name, &[a, b, c, d])]).await;

    // remove by filtered path.
    let by_filter =
        |p: &Person| json!({"op": "remove", "path": format!("members[value eq \"{}\"]", p.id)});
    let r = patch_group(&api, &gid, json!([by_filter(b)])).await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, name, &[a, c, d])]).await;

    // The same removal again (a retry): no error, no change.
    let r = patch_group(&api, &gid, json!([by_filter(b)])).await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, name, &[a, c, d])]).await;

    // A removal of an id that was never a member nor a user: no error.
    let r = patch_group(
        &api,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", unknown_id())}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, name, &[a, c, d])]).await;

    // Several removals and an add in one request.
    let r = patch_group(
        &api,
        &gid,
        json!([
            by_filter(a),
            by_filter(c),
            {"op": "add", "path": "members", "value": values(&[e, f])},
        ]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, name, &[d, e, f])]).await;

    // Rename with a lower-case replace.
    let renamed_to = "AAD Compliant Team (renamed)";
    let r = patch_group(
        &api,
        &gid,
        json!([{"op": "replace", "path": "displayName", "value": renamed_to}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &[expected(&gid, renamed_to, &[d, e, f])]).await;
    let found = api.call("GET", &matching(renamed_to), None).await;
    assert_list(&found, 1, 1, 1);
    assert_slim(&found.body["Resources"][0], &gid, renamed_to);

    // An unknown member: 400 invalidValue, the removal before it not applied.
    let ghost = unknown_id();
    let bad = patch_group(
        &api,
        &gid,
        json!([
            by_filter(d),
            {"op": "add", "path": "members", "value": [{"value": a.id}, {"value": ghost}]},
        ]),
    )
    .await;
    assert_error(&bad, 400, Some("invalidValue"));
    assert!(bad.body["detail"].as_str().unwrap().contains(&ghost));
    assert_memberships(&api, &people, &[expected(&gid, renamed_to, &[d, e, f])]).await;

    // Reads with excludedAttributes=members.
    let slim = api
        .call(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert_slim(&slim.body, &gid, renamed_to);

    let dup = api
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP, MS_GROUP], "displayName": renamed_to})),
        )
        .await;
    assert_error(&dup, 409, Some("uniqueness"));
    assert_unknown_group(&api, a).await;

    let deleted = api.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_no_content(&deleted);
    let gone = api.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_error(&gone, 404, None);
    assert_memberships(&api, &people, &[]).await;
}

// ---------------------------------------------------------------- Okta

async fn okta_users<R: Routes>(api: &Api<R>, n: usize) -> Vec<Person> {
    let mut people = Vec::with_capacity(n);
    for i in 0..n {
        let user_name = format!("okta.user{i}@example.com");
        people.push(
            create_user(
                api,
                json!({
                    "schemas": [USER],
                    "userName": user_name,
                    "name": {"givenName": "Okta", "familyName": format!("User{i}")},
                    "emails": [{"primary": true, "value": user_name, "type": "work"}],
                    "displayName": format!("Okta User{i}"),
                    "locale": "en-US",
                    "externalId": format!("00u{i:017}"),
                    "groups": [],
                    "password": "1mz050nq",
                    "active": true,
                }),
            )
            .await,
        );
    }
    people
}

/// `POST /Groups` as Okta Group Push sends it.
async fn okta_push<R: Routes>(api: &Api<R>, name: &str) -> String {
    let created = api
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name, "members": []})),
        )
        .await
        .expect(201);
    let g = created.body;
    assert_eq!(g["schemas"], json!([GROUP]));
    assert_eq!(g["displayName"], name);
    assert!(
        g.get("members").is_none(),
        "an empty group has no members: {g}"
    );
    id(&g)
}

/// Okta's three pushed groups.
struct Pushed {
    eng: String,
    design: String,
    support: String,
}

impl Pushed {
    /// The expected state: Engineering (named `eng_name`) and Design with
    /// these members, Support empty.
    fn state<'a>(
        &'a self,
        eng_name: &'a str,
        eng: &[&Person],
        design: &[&Person],
    ) -> Vec<Expected<'a>> {
        vec![
            expected(&self.eng, eng_name, eng),
            expected(&self.design, "Okta Design", design),
            expected(&self.support, "Okta Support", &[]),
        ]
    }
}

/// Okta Group Push: create with `members: []`, path-less rename carrying
/// `id`, remove-by-filter plus add in one PATCH, replace of the whole list,
/// `PUT` with the full list, import paging and its spec-test items.
async fn okta_group_push<S: Store + Clone>(store: S) {
    let api = api(store);
    let people = okta_users(&api, 6).await;
    let [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map(|i| &people[i]);
    let mut eng_name = "Okta Engineering".to_owned();
    let eng = okta_push(&api, &eng_name).await;
    let design = okta_push(&api, "Okta Design").await;
    let support = okta_push(&api, "Okta Support").await;
    let pushed = Pushed {
        eng: eng.clone(),
        design: design.clone(),
        support: support.clone(),
    };
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[], &[])).await;

    // Push the members (Okta's values carry display).
    let r = patch_group(
        &api,
        &eng,
        json!([{"op": "add", "path": "members", "value": okta_values(&[a, b, c])}]),
    )
    .await;
    assert_no_content(&r);
    let r = patch_group(
        &api,
        &design,
        json!([{"op": "add", "path": "members", "value": okta_values(&[c, d])}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[a, b, c], &[c, d])).await;

    // Rename: path-less replace whose value carries id and displayName.
    eng_name = "Okta Engineering Team".to_owned();
    let r = patch_group(
        &api,
        &eng,
        json!([{"op": "replace", "value": {"id": eng, "displayName": eng_name}}]),
    )
    .await;
    assert_no_content(&r);
    let slim = api
        .call(
            "GET",
            &format!("/Groups/{eng}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert_slim(&slim.body, &eng, &eng_name);
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[a, b, c], &[c, d])).await;

    // remove by filter plus add with a value array, in one PATCH.
    let by_filter =
        |p: &Person| json!({"op": "remove", "path": format!("members[value eq \"{}\"]", p.id)});
    let r = patch_group(
        &api,
        &eng,
        json!([
            by_filter(a),
            by_filter(b),
            {"op": "add", "path": "members", "value": okta_values(&[d, e])},
        ]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[c, d, e], &[c, d])).await;

    // Retried: an existing member added, a non-member removed; no error.
    let r = patch_group(
        &api,
        &eng,
        json!([
            by_filter(a),
            {"op": "add", "path": "members", "value": okta_values(&[c, d, e])},
        ]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[c, d, e], &[c, d])).await;

    // replace of the whole members list.
    let r = patch_group(
        &api,
        &eng,
        json!([{"op": "replace", "path": "members", "value": okta_values(&[a, e, f])}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[a, e, f], &[c, d])).await;

    // ... and with an empty list.
    let r = patch_group(
        &api,
        &design,
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert_no_content(&r);
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[a, e, f], &[])).await;

    // PUT with the full member list (and the id, as Okta sends it).
    let put = api
        .call(
            "PUT",
            &format!("/Groups/{eng}"),
            Some(json!({
                "schemas": [GROUP],
                "id": eng,
                "displayName": eng_name,
                "members": okta_values(&[b, f]),
            })),
        )
        .await
        .expect(200);
    assert_eq!(put.body["id"], eng.as_str());
    assert_eq!(put.body["displayName"], eng_name.as_str());
    assert_eq!(
        sorted_members(&put.body),
        member_elements(
            &api,
            &people,
            &[b, f].iter().map(|p| p.id.clone()).collect()
        ),
        "the PUT response carries the new member list"
    );
    assert_memberships(&api, &people, &pushed.state(&eng_name, &[b, f], &[])).await;

    // PUT renaming and listing every user.
    eng_name = "Okta Platform".to_owned();
    let put = api
        .call(
            "PUT",
            &format!("/Groups/{eng}"),
            Some(json!({
                "schemas": [GROUP],
                "id": eng,
                "displayName": eng_name,
                "members": okta_values(&[a, b, c, d, e, f]),
            })),
        )
        .await
        .expect(200);
    assert_eq!(put.body["displayName"], eng_name.as_str());
    assert_memberships(
        &api,
        &people,
        &pushed.state(&eng_name, &[a, b, c, d, e, f], &[]),
    )
    .await;
    let put = api
        .call(
            "PUT",
            &format!("/Groups/{design}"),
            Some(json!({
                "schemas": [GROUP],
                "id": design,
                "displayName": "Okta Design",
                "members": okta_values(&[a, f]),
            })),
        )
        .await
        .expect(200);
    assert_eq!(put.body["id"], design.as_str());
    assert_memberships(
        &api,
        &people,
        &pushed.state(&eng_name, &[a, b, c, d, e, f], &[a, f]),
    )
    .await;

    // An unknown member in a PATCH: 400 invalidValue, nothing applied.
    let ghost = unknown_id();
    let bad = patch_group(
        &api,
        &eng,
        json!([
            by_filter(a),
            {"op": "add", "path": "members", "value": okta_values(&[b])},
            {"op": "add", "path": "members", "value": [{"value": ghost, "display": "ghost@example.com"}]},
        ]),
    )
    .await;
    assert_error(&bad, 400, Some("invalidValue"));
    assert!(bad.body["detail"].as_str().unwrap().contains(&ghost));
    // ... and in a PUT: neither the name nor the list changes.
    let bad = api
        .call(
            "PUT",
            &format!("/Groups/{design}"),
            Some(json!({
                "schemas": [GROUP],
                "id": design,
                "displayName": "Okta Design Renamed",
                "members": [{"value": b.id}, {"value": ghost}],
            })),
        )
        .await;
    assert_error(&bad, 400, Some("invalidValue"));
    let slim = api
        .call(
            "GET",
            &format!("/Groups/{design}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert_slim(&slim.body, &design, "Okta Design");
    assert_memberships(
        &api,
        &people,
        &pushed.state(&eng_name, &[a, b, c, d, e, f], &[a, f]),
    )
    .await;

    // Import: startIndex=1&count=100, members included, integer paging.
    let want = pushed.state(&eng_name, &[a, b, c, d, e, f], &[a, f]);
    let first = api
        .call("GET", "/Groups?startIndex=1&count=100", None)
        .await;
    assert_list(&first, 3, 1, 3);
    let order = first.ids();
    assert_eq!(
        order.iter().cloned().collect::<BTreeSet<_>>(),
        want.iter()
            .map(|g| g.id.to_owned())
            .collect::<BTreeSet<_>>()
    );
    for resource in first.body["Resources"].as_array().unwrap() {
        let g = want.iter().find(|g| resource["id"] == g.id).unwrap();
        assert_eq!(resource["displayName"], g.name);
        assert_eq!(resource["schemas"], json!([GROUP]));
        assert_eq!(
            sorted_members(resource),
            want_members(&api, &people, &g.members),
            "members of {} in the import",
            g.name
        );
    }
    let past = api
        .call("GET", "/Groups?startIndex=101&count=100", None)
        .await;
    assert_list(&past, 3, 101, 0);
    assert_eq!(past.body["Resources"], json!([]));
    // Small counts: the same order, no gaps, no repeats (the spec test's
    // count=1&startIndex=1 is the first page of the first loop).
    for count in [1u64, 2, 3] {
        let mut seen = Vec::new();
        let mut start = 1u64;
        while start <= 3 {
            let page = api
                .call(
                    "GET",
                    &format!("/Groups?startIndex={start}&count={count}"),
                    None,
                )
                .await;
            assert_list(&page, 3, start, count.min(4 - start));
            seen.extend(page.ids());
            start += count;
        }
        assert_eq!(seen, order, "count={count}");
    }

    // Okta's spec test: unknown id is 404 with detail; duplicate create 409.
    let unknown = api
        .call("GET", &format!("/Groups/{}", unknown_id()), None)
        .await;
    assert_error(&unknown, 404, None);
    let dup = api
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Okta Design", "members": []})),
        )
        .await;
    assert_error(&dup, 409, Some("uniqueness"));

    // Unlinking a pushed group with delete.
    let deleted = api.call("DELETE", &format!("/Groups/{design}"), None).await;
    assert_no_content(&deleted);
    let gone = api.call("GET", &format!("/Groups/{design}"), None).await;
    assert_error(&gone, 404, None);
    assert_memberships(
        &api,
        &people,
        &[
            expected(&eng, &eng_name, &[a, b, c, d, e, f]),
            expected(&support, "Okta Support", &[]),
        ],
    )
    .await;
    let rest = api
        .call("GET", "/Groups?startIndex=1&count=100", None)
        .await;
    assert_list(&rest, 2, 1, 2);
    let kept: Vec<String> = order.into_iter().filter(|g| g != &design).collect();
    assert_eq!(rest.ids(), kept, "the remaining groups in the same order");
}

both_stores!(
    entra_default_dialect,
    entra_compliant_dialect,
    okta_group_push,
);
