//! `/Groups` over HTTP, the same cases on the embedded store and on DynamoDB
//! Local: lifecycle, uniqueness, every form of member PATCH, both
//! directions of membership, cascades, concurrency and big groups.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::http_api::{Api, api};
use scim_serverless::api::Routes;
use scim_serverless::scim::limits::MAX_MEMBERS_PER_REQUEST;
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{
    Census, Created, GroupCondition, Lookup, Member, MemoryStore, Page, Record, Store, StoreError,
    TenantCensus, UniqueKey,
};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

async fn user<R: Routes>(api: &Api<R>, name: &str) -> String {
    let body = json!({"userName": name, "displayName": format!("User {name}")});
    id(&api
        .call("POST", "/Users", Some(body))
        .await
        .expect(201)
        .body)
}

async fn group<R: Routes>(api: &Api<R>, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let body = json!({"schemas": [GROUP], "displayName": name, "members": members});
    id(&api
        .call("POST", "/Groups", Some(body))
        .await
        .expect(201)
        .body)
}

/// The group's member ids, read through the API.
async fn members<R: Routes>(api: &Api<R>, group: &str) -> BTreeSet<String> {
    let g = api
        .call("GET", &format!("/Groups/{group}?attributes=members"), None)
        .await
        .expect(200)
        .body;
    g["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

async fn lifecycle<S: Store + Clone>(store: S) {
    let api = api(store);
    let alice = user(&api, "alice@x.com").await;
    let created = api
        .call("POST", "/Groups", Some(json!({
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Sales", "externalId": "ext-sales",
            "members": [{"value": alice, "type": "User"}],
        })))
        .await
        .expect(201);
    let g = created.body.clone();
    let gid = id(&g);
    assert_eq!(
        created.header("location"),
        Some(format!("{}/Groups/{gid}", api.base()).as_str())
    );
    assert_eq!(
        created.header("etag").map(str::to_owned),
        g["meta"]["version"].as_str().map(str::to_owned)
    );
    assert_eq!(g["schemas"], json!([GROUP]));
    assert_eq!(g["externalId"], "ext-sales");
    assert_eq!(
        g["members"],
        json!([{"value": alice, "$ref": format!("{}/Users/{alice}", api.base()),
                "type": "User", "display": "User alice@x.com"}])
    );
    let read = api
        .call("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(read.body, g);
    let slim = api
        .call(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert!(slim.body.get("members").is_none());
    assert_eq!(slim.body["displayName"], "Sales");
    // The user sees the group.
    let a = api
        .call("GET", &format!("/Users/{alice}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(
        a["groups"],
        json!([{"value": gid, "$ref": format!("{}/Groups/{gid}", api.base()),
                "type": "direct", "display": "Sales"}])
    );
    api.call("DELETE", &format!("/Groups/{gid}"), None)
        .await
        .expect(204);
    api.call("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(404);
    api.call("DELETE", &format!("/Groups/{gid}"), None)
        .await
        .expect(404);
    let a = api
        .call("GET", &format!("/Users/{alice}"), None)
        .await
        .expect(200)
        .body;
    assert!(
        a.get("groups").is_none(),
        "deleting a group ends its memberships"
    );
}

async fn display_name_is_unique_and_filters_answer_by_key<S: Store + Clone>(store: S) {
    let api = api(store);
    let u = user(&api, "bob@x.com").await;
    let sales = group(&api, "Sales", &[&u]).await;
    let ops = group(&api, "Ops", &[]).await;
    let dup = api
        .call("POST", "/Groups", Some(json!({"displayName": "SALES"})))
        .await
        .expect(409);
    assert_eq!(dup.body["scimType"], "uniqueness");
    let renamed = api
        .call(
            "PATCH",
            &format!("/Groups/{ops}?excludedAttributes=members"),
            Some(patch(json!([
                {"op": "replace", "path": "displayName", "value": "sales"}
            ]))),
        )
        .await
        .expect(409);
    assert_eq!(renamed.body["scimType"], "uniqueness");
    let cases = [
        ("displayName eq \"sales\"".to_owned(), vec![sales.clone()]),
        (format!("members[value eq \"{u}\"]"), vec![sales.clone()]),
        (format!("members.value eq \"{u}\""), vec![sales.clone()]),
        (
            format!("members[value eq \"{u}\"] and displayName eq \"Ops\""),
            vec![],
        ),
        ("members[value eq \"nobody\"]".to_owned(), vec![]),
        ("displayName sw \"O\"".to_owned(), vec![ops.clone()]),
    ];
    for (filter, want) in cases {
        let found = api
            .call(
                "GET",
                &format!("/Groups?excludedAttributes=members&filter={filter}"),
                None,
            )
            .await
            .expect(200);
        assert_eq!(found.ids(), want, "{filter}");
    }
    let refused = api
        .call("GET", "/Groups?filter=members pr", None)
        .await
        .expect(400);
    assert_eq!(refused.body["scimType"], "invalidFilter");
}

async fn every_member_patch_form<S: Store + Clone>(store: S) {
    let api = api(store);
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(user(&api, &format!("m{i}@x.com")).await);
    }
    let [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map(|i| &users[i]);
    let g = group(&api, "Team", &[]).await;
    let path = format!("/Groups/{g}");
    let send = |ops: Value| {
        let (api, path) = (&api, &path);
        async move { api.call("PATCH", path, Some(patch(ops))).await }
    };
    // Entra default dialect: Add with a value array; twice is no error.
    for _ in 0..2 {
        let r = send(json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}, {"value": c}]}])).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(members(&api, &g).await, set(&[a, b, c]));
    // Remove with a value array (Entra default), a non-member included.
    send(json!([{"op": "Remove", "path": "members", "value": [{"value": a}, {"value": d}]}]))
        .await
        .expect(204);
    assert_eq!(members(&api, &g).await, set(&[b, c]));
    // Compliant dialect: remove by filter.
    send(json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]))
        .await
        .expect(204);
    assert_eq!(members(&api, &g).await, set(&[c]));
    // Okta: remove by filter plus add in one request.
    send(json!([
        {"op": "remove", "path": format!("members[value eq \"{c}\"]")},
        {"op": "add", "path": "members", "value": [{"value": d}, {"value": e}]},
    ]))
    .await
    .expect(204);
    assert_eq!(members(&api, &g).await, set(&[d, e]));
    // Replace the whole list.
    send(json!([{"op": "replace", "path": "members", "value": [{"value": e}, {"value": f}]}]))
        .await
        .expect(204);
    assert_eq!(members(&api, &g).await, set(&[e, f]));
    // Okta rename: path-less replace carrying id and displayName.
    let renamed = api
        .call(
            "PATCH",
            &format!("{path}?excludedAttributes=members"),
            Some(patch(json!([
                {"op": "replace", "value": {"id": g, "displayName": "Team Renamed"}}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["displayName"], "Team Renamed");
    assert_eq!(
        members(&api, &g).await,
        set(&[e, f]),
        "a rename keeps members"
    );
    // An unknown member: 400 invalidValue and nothing of the request applied.
    let bad = send(json!([
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]},
    ]))
    .await
    .expect(400);
    assert_eq!(bad.body["scimType"], "invalidValue");
    assert!(
        bad.body["detail"]
            .as_str()
            .unwrap()
            .contains("no-such-user")
    );
    assert_eq!(members(&api, &g).await, set(&[e, f]));
    let still = api
        .call("GET", &format!("{path}?excludedAttributes=members"), None)
        .await
        .expect(200);
    assert_eq!(still.body["displayName"], "Team Renamed");
    // A group cannot contain itself; a group can contain another group.
    send(json!([{"op": "add", "path": "members", "value": [{"value": g}]}]))
        .await
        .expect(400);
    let inner = group(&api, "Inner", &[]).await;
    send(json!([{"op": "add", "path": "members", "value": [{"value": inner}]}]))
        .await
        .expect(204);
    let listed = api
        .call("GET", &format!("{path}?attributes=members"), None)
        .await
        .expect(200);
    let types: BTreeSet<&str> = listed.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, BTreeSet::from(["Group", "User"]));
    // Removing an id longer than any key is removing a non-member.
    let long = "y".repeat(3000);
    send(json!([{"op": "remove", "path": "members", "value": [{"value": long}]}]))
        .await
        .expect(204);
    // Remove all.
    send(json!([{"op": "remove", "path": "members"}]))
        .await
        .expect(204);
    assert!(members(&api, &g).await.is_empty());
    let e_user = api
        .call("GET", &format!("/Users/{e}"), None)
        .await
        .expect(200)
        .body;
    assert!(e_user.get("groups").is_none());
    // PUT replaces the document and the member list.
    let put = api
        .call(
            "PUT",
            &path,
            Some(json!({"schemas": [GROUP], "displayName": "Team", "members": [{"value": a}]})),
        )
        .await
        .expect(200);
    assert_eq!(put.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(members(&api, &g).await, set(&[a]));
}

async fn deleting_a_user_ends_its_memberships<S: Store + Clone>(store: S) {
    let api = api(store);
    let u = user(&api, "carol@x.com").await;
    let other = user(&api, "dave@x.com").await;
    let g1 = group(&api, "G1", &[&u, &other]).await;
    let g2 = group(&api, "G2", &[&u]).await;
    let carol = api
        .call("GET", &format!("/Users/{u}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(carol["groups"].as_array().unwrap().len(), 2);
    // A rename of the user reaches the member lists.
    api.call(
        "PATCH",
        &format!("/Users/{u}"),
        Some(patch(json!([
            {"op": "replace", "path": "displayName", "value": "Carol C."}
        ]))),
    )
    .await
    .expect(200);
    let g = api
        .call("GET", &format!("/Groups/{g2}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(g["members"][0]["display"], "Carol C.");
    api.call("DELETE", &format!("/Users/{u}"), None)
        .await
        .expect(204);
    assert_eq!(members(&api, &g1).await, set(&[&other]));
    assert!(members(&api, &g2).await.is_empty());
    let found = api
        .call(
            "GET",
            &format!("/Groups?filter=members[value eq \"{u}\"]"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 0);
}

async fn concurrent_patches_add_every_member<S: Store + Clone>(store: S) {
    let api = Arc::new(api(store));
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(user(&api, &format!("c{i}@x.com")).await);
    }
    let g = group(&api, "Busy", &[]).await;
    let tasks: Vec<_> = users
        .iter()
        .cloned()
        .map(|u| {
            let (api, path) = (api.clone(), format!("/Groups/{g}"));
            tokio::spawn(async move {
                let body =
                    patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]));
                api.call("PATCH", &path, Some(body)).await.status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 204);
    }
    let want: BTreeSet<String> = users.into_iter().collect();
    assert_eq!(
        members(&api, &g).await,
        want,
        "20 concurrent PATCHes, every member present"
    );
}

/// What another writer does between a request's read and its first
/// membership step.
#[derive(Debug, Clone)]
enum Meddle {
    /// Renames the group (a new version).
    RenameGroup(TenantId, String, String),
    /// Deletes the user.
    DeleteUser(TenantId, String),
}

/// A store that lets another writer in right before the next membership
/// step: deterministic interleaving of two requests.
#[derive(Clone)]
struct Meddler<S> {
    inner: S,
    next: Arc<Mutex<Option<Meddle>>>,
}

impl<S: Store> Meddler<S> {
    fn set(&self, meddle: Meddle) {
        *self.next.lock().unwrap() = Some(meddle);
    }

    async fn meddle(&self) {
        let next = self.next.lock().unwrap().take();
        match next {
            Some(Meddle::RenameGroup(t, id, name)) => {
                let g = self.inner.get(&t, ResourceKind::Group, &id).await;
                let g = g.unwrap().unwrap();
                let mut renamed = g.clone();
                renamed.document["displayName"] = json!(name);
                renamed.version += 1;
                self.inner.replace(&t, &g, &renamed).await.unwrap();
            }
            Some(Meddle::DeleteUser(t, id)) => {
                let u = self.inner.get(&t, ResourceKind::User, &id).await;
                self.inner.delete(&t, &u.unwrap().unwrap()).await.unwrap();
            }
            None => {}
        }
    }
}

impl<S: Store + Clone> Store for Meddler<S> {
    async fn create(&self, t: &TenantId, r: &Record) -> Result<Created, StoreError> {
        self.inner.create(t, r).await
    }
    async fn get(
        &self,
        t: &TenantId,
        k: ResourceKind,
        id: &str,
    ) -> Result<Option<Record>, StoreError> {
        self.inner.get(t, k, id).await
    }
    async fn replace(&self, t: &TenantId, p: &Record, n: &Record) -> Result<(), StoreError> {
        self.inner.replace(t, p, n).await
    }
    async fn delete(&self, t: &TenantId, r: &Record) -> Result<(), StoreError> {
        self.inner.delete(t, r).await
    }
    async fn purge_tenant(&self, t: &TenantId, limit: usize) -> Result<usize, StoreError> {
        self.inner.purge_tenant(t, limit).await
    }
    async fn find_unique(&self, t: &TenantId, k: &UniqueKey) -> Result<Option<String>, StoreError> {
        self.inner.find_unique(t, k).await
    }
    async fn find(
        &self,
        t: &TenantId,
        k: ResourceKind,
        l: &Lookup,
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.find(t, k, l).await
    }
    async fn list(
        &self,
        t: &TenantId,
        k: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.inner.list(t, k, after, limit).await
    }
    async fn id_at(
        &self,
        t: &TenantId,
        k: ResourceKind,
        position: u64,
    ) -> Result<Option<String>, StoreError> {
        self.inner.id_at(t, k, position).await
    }
    async fn get_many(
        &self,
        t: &TenantId,
        k: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.get_many(t, k, ids).await
    }
    async fn members(
        &self,
        t: &TenantId,
        g: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<Member>>, StoreError> {
        self.inner.members(t, g, max_bytes).await
    }
    async fn add_members(
        &self,
        t: &TenantId,
        g: &str,
        c: GroupCondition,
        m: &[Member],
    ) -> Result<GroupCondition, StoreError> {
        self.meddle().await;
        self.inner.add_members(t, g, c, m).await
    }
    async fn remove_members(
        &self,
        t: &TenantId,
        g: &str,
        c: GroupCondition,
        ids: &[String],
    ) -> Result<GroupCondition, StoreError> {
        self.meddle().await;
        self.inner.remove_members(t, g, c, ids).await
    }
    async fn refresh_member(
        &self,
        t: &TenantId,
        m: &Member,
        groups: &[String],
    ) -> Result<(), StoreError> {
        self.inner.refresh_member(t, m, groups).await
    }
    async fn count(&self, t: &TenantId, k: ResourceKind) -> Result<Census, StoreError> {
        self.inner.count(t, k).await
    }
    async fn tenant_census(&self, t: &TenantId) -> Result<TenantCensus, StoreError> {
        self.inner.tenant_census(t).await
    }
}

async fn display_name<R: Routes>(api: &Api<R>, group: &str) -> Value {
    let path = format!("/Groups/{group}?excludedAttributes=members");
    api.call("GET", &path, None).await.expect(200).body["displayName"].clone()
}

/// A PATCH of document and members applies to the version it read (and
/// its `If-Match` named) or not at all, and a failed member step leaves
/// the document as it was.
async fn group_writes_apply_to_the_version_read<S: Store + Clone>(store: S) {
    let meddler = Meddler {
        inner: store,
        next: Arc::default(),
    };
    let api = api(meddler.clone());
    let (t, u1, u2) = (
        api.tenant.clone(),
        user(&api, "m1@x.com").await,
        user(&api, "m2@x.com").await,
    );
    let g = group(&api, "Original", &[]).await;
    let path = format!("/Groups/{g}");
    let rename_and_add = |name: &str, member: &str| {
        patch(json!([
            {"op": "replace", "path": "displayName", "value": name},
            {"op": "add", "path": "members", "value": [{"value": member}]},
        ]))
    };
    // Another writer renames the group after the PATCH read it: nothing of
    // a PATCH pinned to the version read applies.
    meddler.set(Meddle::RenameGroup(t.clone(), g.clone(), "Theirs".into()));
    let pinned = api
        .call_with(
            "PATCH",
            &path,
            Some(rename_and_add("Mine", &u1)),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(pinned.status, 412, "{}", pinned.body);
    assert!(members(&api, &g).await.is_empty(), "no member step applied");
    assert_eq!(display_name(&api, &g).await, "Theirs");
    // Unpinned, it starts again from a fresh read and applies whole.
    meddler.set(Meddle::RenameGroup(t.clone(), g.clone(), "Again".into()));
    api.call("PATCH", &path, Some(rename_and_add("Mine", &u1)))
        .await
        .expect(204);
    assert_eq!(members(&api, &g).await, set(&[&u1]));
    assert_eq!(display_name(&api, &g).await, "Mine");
    // A member step that fails (its member was deleted after the check)
    // leaves the document as it was.
    meddler.set(Meddle::DeleteUser(t.clone(), u2.clone()));
    let failed = api
        .call("PATCH", &path, Some(rename_and_add("Renamed", &u2)))
        .await
        .expect(400);
    assert_eq!(failed.body["scimType"], "invalidValue");
    assert_eq!(display_name(&api, &g).await, "Mine");
    assert_eq!(members(&api, &g).await, set(&[&u1]));
}

/// Concurrent PATCHes pinned to the same version: exactly one applies.
async fn concurrent_pinned_patches_one_wins<S: Store + Clone>(store: S) {
    let api = Arc::new(api(store));
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(user(&api, &format!("p{i}@x.com")).await);
    }
    let g = group(&api, "Pinned", &[]).await;
    let tasks: Vec<_> = users
        .iter()
        .cloned()
        .map(|u| {
            let (api, path) = (api.clone(), format!("/Groups/{g}"));
            tokio::spawn(async move {
                let body =
                    patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]));
                let pin = [("if-match", "W/\"1\"")];
                api.call_with("PATCH", &path, Some(body), &pin).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [204, 412, 412, 412, 412, 412, 412, 412]);
    assert_eq!(members(&api, &g).await.len(), 1);
}

/// Seeds `n` users straight into the store (fast), returning their ids.
async fn seed_users<S: Store + Clone>(
    store: &S,
    tenant: &scim_serverless::tenant::TenantId,
    n: usize,
    display: &str,
) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("seed-{i:06}")).collect();
    let chunks: Vec<Vec<String>> = ids
        .chunks(n.div_ceil(16).max(1))
        .map(<[String]>::to_vec)
        .collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (store, tenant, display) = (store.clone(), tenant.clone(), display.to_owned());
            tokio::spawn(async move {
                for id in chunk {
                    let doc = json!({"userName": format!("{id}@x.com"), "displayName": format!("{display}{id}"),
                                     "meta": {"created": "2026-01-01T00:00:00Z", "lastModified": "2026-01-01T00:00:00Z"}});
                    store.create(&tenant, &Record::new(ResourceKind::User, &id, 1, doc)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    ids
}

async fn five_thousand_members_in_one_patch<S: Store + Clone>(store: S) {
    let api = api(store.clone());
    let ids = seed_users(&store, &api.tenant, 5000, "").await;
    let g = group(&api, "Everyone", &[]).await;
    let value: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
    api.call(
        "PATCH",
        &format!("/Groups/{g}"),
        Some(patch(json!([
            {"op": "Add", "path": "members", "value": value}
        ]))),
    )
    .await
    .expect(204);
    let got = members(&api, &g).await;
    assert_eq!(got.len(), 5000);
    assert_eq!(got, ids.iter().cloned().collect::<BTreeSet<_>>());
    let last = api
        .call("GET", &format!("/Users/{}", ids[4999]), None)
        .await
        .expect(200)
        .body;
    assert_eq!(last["groups"][0]["value"], g);
    // Entra's read never touches the members.
    let slim = api
        .call(
            "GET",
            &format!("/Groups/{g}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert!(slim.body.get("members").is_none());
    api.call("DELETE", &format!("/Groups/{g}"), None)
        .await
        .expect(204);
    let last = api
        .call("GET", &format!("/Users/{}", ids[4999]), None)
        .await
        .expect(200)
        .body;
    assert!(last.get("groups").is_none());
}

/// A group whose members would not fit a 6 MB response: a clear SCIM error
/// pointing at `excludedAttributes=members`, never a truncated body.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_too_big_for_one_response_is_a_scim_error() {
    let store = MemoryStore::new();
    let api = api(store.clone());
    let long = "x".repeat(200);
    let ids = seed_users(&store, &api.tenant, 20_000, &long).await;
    let g = group(&api, "Huge", &[]).await;
    let members: Vec<scim_serverless::store::Member> = store
        .get_many(&api.tenant, ResourceKind::User, &ids)
        .await
        .unwrap()
        .iter()
        .map(scim_serverless::store::Member::of)
        .collect();
    store
        .add_members(
            &api.tenant,
            &g,
            scim_serverless::store::GroupCondition::Exists { seen: 1 },
            &members,
        )
        .await
        .unwrap();
    for path in [format!("/Groups/{g}"), "/Groups".to_owned()] {
        let r = api.call("GET", &path, None).await.expect(400);
        assert_eq!(r.body["scimType"], "tooMany", "{path}");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("excludedAttributes=members")
        );
    }
    api.call(
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        None,
    )
    .await
    .expect(200);
    let by_member = api
        .call(
            "GET",
            &format!(
                "/Groups?excludedAttributes=members&filter=members[value eq \"{}\"]",
                ids[7]
            ),
            None,
        )
        .await
        .expect(200);
    assert_eq!(by_member.ids(), [g]);
}

/// More members than one request may name: `400 tooMany` on PATCH, POST
/// and PUT, checked before any member is looked up or written.
async fn members_per_request_are_limited<S: Store + Clone>(store: S) {
    let api = api(store);
    let g = group(&api, "Limited", &[]).await;
    let value: Vec<Value> = (0..=MAX_MEMBERS_PER_REQUEST)
        .map(|i| json!({"value": format!("nobody-{i}")}))
        .collect();
    let too_many = |reply: common::http_api::Reply| {
        let reply = reply.expect(400);
        assert_eq!(reply.body["scimType"], "tooMany", "{}", reply.body);
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains("members per request"), "{detail}");
    };
    too_many(
        api.call(
            "PATCH",
            &format!("/Groups/{g}"),
            Some(patch(
                json!([{"op": "Add", "path": "members", "value": value}]),
            )),
        )
        .await,
    );
    let body = json!({"schemas": [GROUP], "displayName": "Huge", "members": value});
    too_many(api.call("POST", "/Groups", Some(body.clone())).await);
    too_many(api.call("PUT", &format!("/Groups/{g}"), Some(body)).await);
    let after = api
        .call("GET", &format!("/Groups/{g}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(after["displayName"], "Limited");
    assert_eq!(after["meta"]["version"], "W/\"1\"");
}

/// The group's version (its ETag), read through the API.
async fn group_version<R: Routes>(api: &Api<R>, path: &str) -> String {
    let g = api.call("GET", path, None).await.expect(200).body;
    g["meta"]["version"].as_str().unwrap().to_owned()
}

/// Adding members who already are members changes nothing: no write, so
/// the group keeps its version (ETag). Within one PATCH, what an earlier
/// operation did counts: a member removed and added again stays, one added
/// and removed again goes.
async fn re_adding_members_changes_nothing<S: Store + Clone>(store: S) {
    let api = api(store);
    let a = user(&api, "readd-a@x.com").await;
    let b = user(&api, "readd-b@x.com").await;
    let g = group(&api, "Readd", &[&a]).await;
    let path = format!("/Groups/{g}");
    let add = |ids: &[&String]| {
        let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        json!({"op": "add", "path": "members", "value": value})
    };
    let remove =
        |id: &String| json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")});

    let before = group_version(&api, &path).await;
    api.call("PATCH", &path, Some(patch(json!([add(&[&a])]))))
        .await
        .expect(204);
    assert_eq!(
        group_version(&api, &path).await,
        before,
        "a re-add writes nothing"
    );

    api.call("PATCH", &path, Some(patch(json!([add(&[&a, &b])]))))
        .await
        .expect(204);
    assert_ne!(
        group_version(&api, &path).await,
        before,
        "adding b is a change"
    );
    assert_eq!(members(&api, &g).await, set(&[&a, &b]));

    let again = patch(json!([remove(&a), add(&[&a])]));
    api.call("PATCH", &path, Some(again)).await.expect(204);
    assert_eq!(
        members(&api, &g).await,
        set(&[&a, &b]),
        "removed, then added"
    );

    let gone = patch(json!([add(&[&b]), remove(&b)]));
    api.call("PATCH", &path, Some(gone)).await.expect(204);
    assert_eq!(members(&api, &g).await, set(&[&a]), "added, then removed");
}

both_stores!(
    lifecycle,
    re_adding_members_changes_nothing,
    display_name_is_unique_and_filters_answer_by_key,
    every_member_patch_form,
    deleting_a_user_ends_its_memberships,
    concurrent_patches_add_every_member,
    group_writes_apply_to_the_version_read,
    concurrent_pinned_patches_one_wins,
    five_thousand_members_in_one_patch,
    members_per_request_are_limited,
);
