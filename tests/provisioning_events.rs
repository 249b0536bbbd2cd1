//! Provisioning events of the Entra and Okta sequences, through the local
//! server's front door (token check included), on both stores: the exact
//! events, in order, with who caused them. On DynamoDB Local the changes
//! come from the table's stream (DynamoDB Local serves the Streams API),
//! decoded by the same code as in the `events` function.

mod common;

use std::time::Duration;

use bytes::Bytes;
use scim_serverless::api::local::LocalApp;
use scim_serverless::api::{HttpConfig, Routes};
use scim_serverless::auth::token::issue;
use scim_serverless::auth::{MemoryTokenSource, TokenSet, TokenStore, Verifier};
use scim_serverless::config::Config;
use scim_serverless::events::{Change, Event, derive};
use scim_serverless::runtime::all_routes;
use scim_serverless::store::dynamo::stream::StreamReader;
use scim_serverless::store::{MemoryStore, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Where a harness reads the committed changes from.
enum Feed {
    Memory(UnboundedReceiver<Change>),
    Dynamo(Box<StreamReader>),
}

struct Harness<R> {
    app: LocalApp<R, MemoryTokenSource>,
    tenant: TenantId,
    token: String,
    token_id: String,
    feed: Feed,
}

async fn harness_on<S: Store + Clone>(store: S, feed: Feed) -> Harness<impl Routes> {
    let tenant = common::unique_tenant();
    let issued = issue(Some("entra"), "2026-12-01T00:00:00Z").unwrap();
    let tokens = MemoryTokenSource::default();
    tokens
        .save(&tenant, &TokenSet::of(vec![issued.record.clone()]))
        .await
        .unwrap();
    Harness {
        app: LocalApp {
            operator: None,
            routes: all_routes(store, &Config::default()),
            verifier: Verifier::new(tokens, Duration::from_secs(60)),
            config: HttpConfig {
                scheme: "http".into(),
                public_base_url: None,
                ..HttpConfig::default()
            },
        },
        tenant,
        token: issued.plain,
        token_id: issued.record.id,
        feed,
    }
}

async fn memory() -> Harness<impl Routes> {
    let (feed, changes) = tokio::sync::mpsc::unbounded_channel();
    harness_on(MemoryStore::with_feed(feed), Feed::Memory(changes)).await
}

async fn dynamo() -> Option<Harness<impl Routes>> {
    let store = common::dynamo_store().await?;
    let config = common::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await?;
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let reader = StreamReader::open(streams, store.table()).await.unwrap();
    Some(harness_on(store, Feed::Dynamo(Box::new(reader))).await)
}

impl<R: Routes> Harness<R> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("/scim/v2/{}{path}", self.tenant))
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

    fn is_dynamo(&self) -> bool {
        matches!(self.feed, Feed::Dynamo(..))
    }

    /// The changes committed since the last call (on DynamoDB: the
    /// tenant's records of the stream, read until it has nothing new).
    async fn changes(&mut self) -> Vec<Change> {
        match &mut self.feed {
            Feed::Memory(rx) => std::iter::from_fn(|| rx.try_recv().ok()).collect(),
            Feed::Dynamo(reader) => common::stream_changes(reader, &self.tenant).await,
        }
    }

    /// The events of the changes committed since the last call, checking
    /// the fields every event carries.
    async fn all_events(&mut self) -> Vec<Event> {
        let events: Vec<Event> = self.changes().await.iter().filter_map(derive).collect();
        for e in &events {
            let d = serde_json::to_value(&e.detail).unwrap();
            assert_eq!(d["tenant"], self.tenant.as_str());
            if d.get("member").is_none() {
                assert_eq!(d["resource"]["meta"]["version"], d["version"]);
            }
            // A DynamoDB delete leaves no new image to say who deleted.
            let deletion = d["type"].as_str().unwrap().ends_with(".deleted");
            if deletion && self.is_dynamo() {
                assert!(d.get("tokenId").is_none(), "{d}");
                continue;
            }
            assert_eq!(d["tokenId"], self.token_id.as_str(), "{d}");
            assert_eq!(d["userAgent"], "Azure AD SCIM Provisioning");
            assert!(d["requestId"].as_str().is_some_and(|r| r.len() == 36));
        }
        events
    }

    /// `(type, resource id, member id)` of [`Harness::all_events`].
    async fn events(&mut self) -> Vec<(String, String, Option<String>)> {
        self.all_events()
            .await
            .iter()
            .map(|e| {
                let member = e.detail.member.as_ref().map(|m| m.value.clone());
                (e.detail_type().to_owned(), e.detail.id.clone(), member)
            })
            .collect()
    }
}

fn ev(t: &str, id: &str, member: Option<&str>) -> (String, String, Option<String>) {
    (t.to_owned(), id.to_owned(), member.map(str::to_owned))
}

fn patch(ops: Value) -> Option<Value> {
    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))
}

async fn entra_sequence<R: Routes>(mut h: Harness<R>) {
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
    assert_eq!(h.events().await, [ev("user.created", &u, None)]);

    let title = patch(
        json!([{"op": "Replace", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": format!("{ENT}:department"), "value": "R&D"}]),
    );
    h.call("PATCH", &format!("/Users/{u}"), title.clone()).await;
    let updated = h.all_events().await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].detail_type(), "user.updated");
    assert_eq!(
        updated[0].detail.changed,
        ["title".to_owned(), format!("{ENT}:department")]
    );
    // The same PATCH again changes nothing and emits nothing.
    h.call("PATCH", &format!("/Users/{u}"), title).await;
    assert_eq!(h.events().await, []);

    let off = patch(
        json!([{"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "title", "value": "Former"}]),
    );
    h.call("PATCH", &format!("/Users/{u}"), off).await;
    assert_eq!(h.events().await, [ev("user.deactivated", &u, None)]);
    let on = patch(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    h.call("PATCH", &format!("/Users/{u}"), on).await;
    assert_eq!(h.events().await, [ev("user.reactivated", &u, None)]);

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
    assert_eq!(h.events().await, [ev("group.created", &g, None)]);

    let add = patch(json!([{"op": "Add", "path": "members", "value": [{"value": u}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), add.clone()).await;
    let added = h.all_events().await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].detail_type(), "group.member_added");
    let member = serde_json::to_value(&added[0].detail.member).unwrap();
    assert_eq!(
        member,
        json!({"value": u, "type": "User", "display": "ada@example.com"})
    );
    // Re-adding a member changes no membership: no event.
    h.call("PATCH", &format!("/Groups/{g}"), add.clone()).await;
    assert_eq!(h.events().await, []);

    let remove = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": u}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), remove).await;
    assert_eq!(h.events().await, [ev("group.member_removed", &g, Some(&u))]);
    h.call("PATCH", &format!("/Groups/{g}"), add).await;
    assert_eq!(h.events().await, [ev("group.member_added", &g, Some(&u))]);

    // Deleting the user: one event carrying its groups, no member events.
    h.call("DELETE", &format!("/Users/{u}"), None).await;
    let deleted = h.all_events().await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].detail_type(), "user.deleted");
    assert_eq!(deleted[0].detail.groups, Some(vec![g.clone()]));
    assert_eq!(h.events().await, []);

    h.call("DELETE", &format!("/Groups/{g}"), None).await;
    assert_eq!(h.events().await, [ev("group.deleted", &g, None)]);
}

async fn okta_sequence<R: Routes>(mut h: Harness<R>) {
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
    assert_eq!(h.events().await, [ev("user.created", &u, None)]);
    let other = h
        .call(
            "POST",
            "/Users",
            Some(json!({"userName": "alan@example.com"})),
        )
        .await;
    let o = other["id"].as_str().unwrap().to_owned();
    assert_eq!(h.events().await, [ev("user.created", &o, None)]);

    // Okta's update: GET then PUT of the whole resource.
    user["name"]["givenName"] = json!("G.");
    h.call("PUT", &format!("/Users/{u}"), Some(user.clone()))
        .await;
    let updated = h.all_events().await;
    assert_eq!(updated[0].detail_type(), "user.updated");
    assert_eq!(updated[0].detail.changed, ["name.givenName"]);
    // The same PUT again is no change.
    h.call("PUT", &format!("/Users/{u}"), Some(user)).await;
    assert_eq!(h.events().await, []);

    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    h.call("PATCH", &format!("/Users/{u}"), off).await;
    assert_eq!(h.events().await, [ev("user.deactivated", &u, None)]);

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
    assert_eq!(h.events().await, [ev("group.created", &g, None)]);
    let rename = patch(json!([{"op": "replace", "value": {"id": g, "displayName": "Operations"}}]));
    h.call("PATCH", &format!("/Groups/{g}"), rename).await;
    assert_eq!(h.events().await, [ev("group.updated", &g, None)]);
    let both =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": o}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), both).await;
    let mut got = h.events().await;
    got.sort();
    let mut want = vec![
        ev("group.member_added", &g, Some(&u)),
        ev("group.member_added", &g, Some(&o)),
    ];
    want.sort();
    assert_eq!(got, want);
    let only_o = patch(json!([{"op": "replace", "path": "members", "value": [{"value": o}]}]));
    h.call("PATCH", &format!("/Groups/{g}"), only_o).await;
    assert_eq!(h.events().await, [ev("group.member_removed", &g, Some(&u))]);

    // Deleting the group: one event, no member events.
    h.call("DELETE", &format!("/Groups/{g}"), None).await;
    assert_eq!(h.events().await, [ev("group.deleted", &g, None)]);
}

#[tokio::test]
async fn entra_sequence_emits_exactly_its_events_memory() {
    entra_sequence(memory().await).await;
}

#[tokio::test]
async fn entra_sequence_emits_exactly_its_events_dynamo() {
    if let Some(h) = dynamo().await {
        entra_sequence(h).await;
    }
}

#[tokio::test]
async fn okta_sequence_emits_exactly_its_events_memory() {
    okta_sequence(memory().await).await;
}

#[tokio::test]
async fn okta_sequence_emits_exactly_its_events_dynamo() {
    if let Some(h) = dynamo().await {
        okta_sequence(h).await;
    }
}

/// `scim-local --events FILE`: the binary appends one JSON line per event
/// with `detail-type`, `detail`, `source` and `time`.
#[test]
fn the_binary_appends_event_lines() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    let file = std::env::temp_dir().join(format!("scim-events-{}.jsonl", uuid::Uuid::new_v4()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-local"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--token",
            "events-token",
            "--events",
        ])
        .arg(&file)
        .env_remove("SCIM_LOCAL_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "server exited early"
        );
        if let Some(url) = line.strip_prefix("SCIM service listening on http://") {
            break url.trim().to_owned();
        }
    };
    let body = r#"{"userName":"ada@example.com"}"#;
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /scim/v2/default/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer events-token\r\nUser-Agent: Okta SCIM\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let event: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(event["detail-type"], "user.created");
    assert_eq!(event["source"], "scim-serverless");
    assert_eq!(event["time"], event["detail"]["occurredAt"]);
    assert_eq!(event["detail"]["userName"], "ada@example.com");
    assert_eq!(event["detail"]["tokenId"], "tok_local");
    assert_eq!(event["detail"]["userAgent"], "Okta SCIM");
}
