//! Per-tenant identity-provider profiles, on both stores, through the
//! local front door: the tenant's settings (changed through the operator
//! core) reach its requests with its tokens, and the same PATCH or PUT
//! gives the documented different result on an `rfc` tenant and on an
//! `entra` or `okta` one; an explicit switch overrides the profile.

mod common;

use std::time::Duration;

use scim_serverless::admin::Operator;
use scim_serverless::api::local::LocalApp;
use scim_serverless::api::{HttpConfig, Routes};
use scim_serverless::auth::{MemoryTokenSource, Verifier};
use scim_serverless::config::Config;
use scim_serverless::runtime::all_routes;
use scim_serverless::store::ops::OpsStore;
use scim_serverless::store::{MemoryStore, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

struct Tenant<R, S> {
    app: LocalApp<R, MemoryTokenSource>,
    operator: Operator<MemoryTokenSource, S>,
    id: TenantId,
    token: String,
}

async fn tenant<S: Store + OpsStore + Clone>(store: S, settings: Value) -> Tenant<impl Routes, S> {
    let tokens = MemoryTokenSource::default();
    let operator = Operator::new(tokens.clone(), store.clone(), None);
    let id = common::unique_tenant();
    operator.create_tenant(&id, None).await.unwrap();
    let token = operator.issue_token(&id, "idp", None).await.unwrap().token;
    operator
        .change_settings(&id, &settings, None, "test")
        .await
        .unwrap();
    Tenant {
        app: LocalApp {
            operator: None,
            routes: all_routes(store, &Config::default()),
            verifier: Verifier::new(tokens, Duration::ZERO),
            config: HttpConfig {
                scheme: "http".into(),
                ..HttpConfig::default()
            },
        },
        operator,
        id,
        token,
    }
}

impl<R: Routes, S: Store + OpsStore> Tenant<R, S> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        common::call_local(&self.app, &self.id, &self.token, method, path, body).await
    }

    async fn user(&self, name: &str) -> String {
        let (status, body) = self
            .call("POST", "/Users", Some(json!({"userName": name})))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// A group of users `a` and `b`, and a third user `c` outside it.
    async fn group_of_two(&self) -> (String, [String; 3]) {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let users = [
            self.user(&format!("a-{run}@example.com")).await,
            self.user(&format!("b-{run}@example.com")).await,
            self.user(&format!("c-{run}@example.com")).await,
        ];
        let (status, group) = self
            .call(
                "POST",
                "/Groups",
                Some(json!({
                    "schemas": [GROUP],
                    "displayName": format!("Sales {run}"),
                    "members": [{"value": users[0]}, {"value": users[1]}],
                })),
            )
            .await;
        assert_eq!(status, 201, "{group}");
        (group["id"].as_str().unwrap().to_owned(), users)
    }

    async fn members(&self, group: &str) -> Vec<String> {
        let (status, body) = self.call("GET", &format!("/Groups/{group}"), None).await;
        assert_eq!(status, 200);
        let mut ids: Vec<String> = body["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| m["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// `{"op":"replace","path":"members","value":[c]}`; the members after.
    async fn replace_members_with_the_third(&self) -> (Vec<String>, [String; 3]) {
        let (group, users) = self.group_of_two().await;
        let (status, body) = self
            .call(
                "PATCH",
                &format!("/Groups/{group}"),
                Some(json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "members", "value": [{"value": users[2]}]}],
                })),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        (self.members(&group).await, users)
    }

    /// A group `PUT` that names no members; the members after.
    async fn put_without_members(&self) -> (Vec<String>, [String; 3]) {
        let (group, users) = self.group_of_two().await;
        let (status, body) = self
            .call(
                "PUT",
                &format!("/Groups/{group}"),
                Some(json!({"schemas": [GROUP], "displayName": format!("EMEA {group}")})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["displayName"], format!("EMEA {group}"));
        (self.members(&group).await, users)
    }
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

async fn profiles_differ_where_the_rfc_allows<S: Store + OpsStore + Clone>(store: S) {
    // PATCH replace of members: the RFC's "these are the members" ...
    let rfc = tenant(store.clone(), json!({})).await;
    let (members, users) = rfc.replace_members_with_the_third().await;
    assert_eq!(members, sorted(&[&users[2]]));
    // ... Entra's profile adds them ...
    let entra = tenant(store.clone(), json!({"idp": "entra"})).await;
    let (members, users) = entra.replace_members_with_the_third().await;
    assert_eq!(members, sorted(&[&users[0], &users[1], &users[2]]));
    // ... unless the switch says otherwise.
    let strict = tenant(
        store.clone(),
        json!({"idp": "entra", "membersReplace": "rfc"}),
    )
    .await;
    let (members, users) = strict.replace_members_with_the_third().await;
    assert_eq!(members, sorted(&[&users[2]]));

    // A group PUT without members: cleared under the RFC ...
    let (members, _) = rfc.put_without_members().await;
    assert!(members.is_empty(), "{members:?}");
    // ... kept for Okta ...
    let okta = tenant(store.clone(), json!({"idp": "okta"})).await;
    let (members, users) = okta.put_without_members().await;
    assert_eq!(members, sorted(&[&users[0], &users[1]]));
    // ... whose PATCH replace keeps the RFC's meaning.
    let (members, users) = okta.replace_members_with_the_third().await;
    assert_eq!(members, sorted(&[&users[2]]));
    // A PUT that names members replaces them whatever the profile.
    let (group, users) = okta.group_of_two().await;
    let (status, _) = okta
        .call(
            "PUT",
            &format!("/Groups/{group}"),
            Some(json!({"schemas": [GROUP], "displayName": format!("All {group}"), "members": [{"value": users[2]}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(okta.members(&group).await, sorted(&[&users[2]]));
    // An empty list is named too: it clears whatever the profile.
    let (status, _) = okta
        .call(
            "PUT",
            &format!("/Groups/{group}"),
            Some(
                json!({"schemas": [GROUP], "displayName": format!("None {group}"), "members": []}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert!(okta.members(&group).await.is_empty());
    // An rfc tenant that keeps: the switch alone.
    let keeping = tenant(store, json!({"groupPutWithoutMembers": "keep"})).await;
    let (members, users) = keeping.put_without_members().await;
    assert_eq!(members, sorted(&[&users[0], &users[1]]));
    let view = keeping.operator.settings(&keeping.id).await.unwrap();
    assert_eq!(
        serde_json::to_value(&view.effective).unwrap(),
        json!({"membersReplace": "rfc", "groupPutWithoutMembers": "keep"})
    );
}

#[tokio::test]
async fn profiles_differ_where_the_rfc_allows_memory() {
    profiles_differ_where_the_rfc_allows(MemoryStore::new()).await;
}

#[tokio::test]
async fn profiles_differ_where_the_rfc_allows_dynamo() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    profiles_differ_where_the_rfc_allows(store).await;
}
