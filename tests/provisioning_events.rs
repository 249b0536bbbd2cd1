//! Provisioning events of the Entra and Okta sequences, through the local
//! server's front door (token check included) on the memory store: the
//! exact events, in order, with who caused them.

use std::time::Duration;

use bytes::Bytes;
use scim_serverless::api::HttpConfig;
use scim_serverless::api::local::LocalApp;
use scim_serverless::auth::token::issue;
use scim_serverless::auth::{MemoryTokenSource, TokenSet, TokenStore, Verifier};
use scim_serverless::config::Config;
use scim_serverless::events::{Change, derive};
use scim_serverless::runtime::all_routes;
use scim_serverless::store::MemoryStore;
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

struct Harness<R> {
    app: LocalApp<R, MemoryTokenSource>,
    token: String,
    token_id: String,
    changes: UnboundedReceiver<Change>,
}

async fn harness() -> Harness<impl scim_serverless::api::Routes> {
    let (feed, changes) = tokio::sync::mpsc::unbounded_channel();
    let config = Config::default();
    let tenant = TenantId::parse("acme").unwrap();
    let issued = issue(Some("entra"), "2026-12-01T00:00:00Z").unwrap();
    let tokens = MemoryTokenSource::default();
    tokens
        .save(&tenant, &TokenSet::of(vec![issued.record.clone()]))
        .await
        .unwrap();
    Harness {
        app: LocalApp {
            routes: all_routes(MemoryStore::with_feed(feed), &config),
            verifier: Verifier::new(tokens, Duration::from_secs(60)),
            config: HttpConfig {
                scheme: "http".into(),
                public_base_url: None,
            },
        },
        token: issued.plain,
        token_id: issued.record.id,
        changes,
    }
}

impl<R: scim_serverless::api::Routes> Harness<R> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("/scim/v2/acme{path}"))
            .header("host", "scim.test")
            .header("authorization", format!("Bearer {}", self.token))
            .header("user-agent", "Azure AD SCIM Provisioning")
            .header("content-type", "application/scim+json")
            .body(body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string())))
            .unwrap();
        let res = self.app.handle(req).await;
        assert!(
            res.status().is_success(),
            "{method} {path}: {}",
            res.status()
        );
        let body = res.into_body();
        if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        }
    }

    /// The events of every change committed since the last call, as
    /// `(type, resource id, member id)`, checking the common fields.
    fn events(&mut self) -> Vec<(String, String, Option<String>)> {
        let mut out = Vec::new();
        while let Ok(change) = self.changes.try_recv() {
            for e in derive(&change) {
                let d = serde_json::to_value(&e.detail).unwrap();
                assert_eq!(d["tenant"], "acme");
                assert_eq!(d["tokenId"], self.token_id.as_str(), "{d}");
                assert_eq!(d["userAgent"], "Azure AD SCIM Provisioning");
                assert!(d["requestId"].as_str().is_some_and(|r| r.len() == 36));
                assert_eq!(d["resource"]["meta"]["version"], d["version"]);
                let member = d["member"]["value"].as_str().map(str::to_owned);
                out.push((e.detail_type().to_owned(), e.detail.id.clone(), member));
            }
        }
        out
    }
}

fn ev(t: &str, id: &str, member: Option<&str>) -> (String, String, Option<String>) {
    (t.to_owned(), id.to_owned(), member.map(str::to_owned))
}

fn patch(ops: Value) -> Option<Value> {
    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))
}

#[tokio::test]
async fn entra_sequence_emits_exactly_its_events() {
    let mut h = harness().await;
    let user = h
        .call(
            "POST",
            "/Users",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": "ada@example.com", "externalId": "ada", "active": "True",
            "emails": [{"type": "work", "value": "ada@example.com", "primary": true}]})),
        )
        .await;
    let u = user["id"].as_str().unwrap().to_owned();
    assert_eq!(h.events(), [ev("user.created", &u, None)]);

    let title = patch(
        json!([{"op": "Replace", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": format!("{ENT}:department"), "value": "R&D"}]),
    );
    h.call("PATCH", &format!("/Users/{u}"), title.clone()).await;
    let mut change = h.changes.try_recv().unwrap();
    let updated = derive(&change);
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].detail_type(), "user.updated");
    assert_eq!(
        updated[0].detail.changed,
        ["title".to_owned(), format!("{ENT}:department")]
    );
    // The same PATCH again changes nothing and emits nothing.
    h.call("PATCH", &format!("/Users/{u}"), title).await;
    assert_eq!(h.events(), []);

    let off = patch(
        json!([{"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "title", "value": "Former"}]),
    );
    h.call("PATCH", &format!("/Users/{u}"), off).await;
    assert_eq!(h.events(), [ev("user.deactivated", &u, None)]);
    let on = patch(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    h.call("PATCH", &format!("/Users/{u}"), on).await;
    assert_eq!(h.events(), [ev("user.reactivated", &u, None)]);

    let group = h
        .call(
            "POST",
            "/Groups",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering", "externalId": "eng"})),
        )
        .await;
    let g = group["id"].as_str().unwrap().to_owned();
    assert_eq!(h.events(), [ev("group.created", &g, None)]);

    let add = patch(json!([{"op": "Add", "path": "members", "value": [{"value": u}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), add.clone()).await;
    change = h.changes.try_recv().unwrap();
    let added = derive(&change);
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].detail_type(), "group.member_added");
    let member = serde_json::to_value(&added[0].detail.member).unwrap();
    assert_eq!(
        member,
        json!({"value": u, "type": "User", "display": "ada@example.com"})
    );
    // Re-adding a member emits nothing.
    h.call("PATCH", &format!("/Groups/{g}"), add.clone()).await;
    assert_eq!(h.events(), []);

    let remove = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": u}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), remove).await;
    assert_eq!(h.events(), [ev("group.member_removed", &g, Some(&u))]);
    h.call("PATCH", &format!("/Groups/{g}"), add).await;
    assert_eq!(h.events(), [ev("group.member_added", &g, Some(&u))]);

    // Deleting the user: one event carrying its groups, no member events.
    h.call("DELETE", &format!("/Users/{u}"), None).await;
    change = h.changes.try_recv().unwrap();
    let deleted = derive(&change);
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].detail_type(), "user.deleted");
    assert_eq!(deleted[0].detail.groups, Some(vec![g.clone()]));
    assert_eq!(h.events(), []);

    h.call("DELETE", &format!("/Groups/{g}"), None).await;
    assert_eq!(h.events(), [ev("group.deleted", &g, None)]);
}

#[tokio::test]
async fn okta_sequence_emits_exactly_its_events() {
    let mut h = harness().await;
    let mut user = h
        .call(
            "POST",
            "/Users",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "grace@example.com", "active": true, "password": "x", "groups": [],
            "name": {"givenName": "Grace", "familyName": "Hopper"}})),
        )
        .await;
    let u = user["id"].as_str().unwrap().to_owned();
    let other = h
        .call(
            "POST",
            "/Users",
            Some(json!({"userName": "alan@example.com"})),
        )
        .await;
    let o = other["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.events(),
        [ev("user.created", &u, None), ev("user.created", &o, None)]
    );

    // Okta's update: GET then PUT of the whole resource.
    user["name"]["givenName"] = json!("G.");
    h.call("PUT", &format!("/Users/{u}"), Some(user.clone()))
        .await;
    let change = h.changes.try_recv().unwrap();
    let updated = derive(&change);
    assert_eq!(updated[0].detail_type(), "user.updated");
    assert_eq!(updated[0].detail.changed, ["name.givenName"]);
    // The same PUT again is no change.
    h.call("PUT", &format!("/Users/{u}"), Some(user)).await;
    assert_eq!(h.events(), []);

    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    h.call("PATCH", &format!("/Users/{u}"), off).await;
    assert_eq!(h.events(), [ev("user.deactivated", &u, None)]);

    // Group push: create with members: [], rename with id in the value,
    // then the whole member list replaced.
    let group = h
        .call(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Ops", "members": []})),
        )
        .await;
    let g = group["id"].as_str().unwrap().to_owned();
    assert_eq!(h.events(), [ev("group.created", &g, None)]);
    let rename = patch(json!([{"op": "replace", "value": {"id": g, "displayName": "Operations"}}]));
    h.call("PATCH", &format!("/Groups/{g}"), rename).await;
    assert_eq!(h.events(), [ev("group.updated", &g, None)]);
    let both =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": o}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), both).await;
    let mut got = h.events();
    got.sort();
    let mut want = vec![
        ev("group.member_added", &g, Some(&u)),
        ev("group.member_added", &g, Some(&o)),
    ];
    want.sort();
    assert_eq!(got, want);
    let only_o = patch(json!([{"op": "replace", "path": "members", "value": [{"value": o}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), only_o).await;
    assert_eq!(h.events(), [ev("group.member_removed", &g, Some(&u))]);

    // Deleting the group: one event, no member events.
    h.call("DELETE", &format!("/Groups/{g}"), None).await;
    assert_eq!(h.events(), [ev("group.deleted", &g, None)]);
}
