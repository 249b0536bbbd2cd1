//! The deprovisioning circuit breaker end to end, on the embedded store
//! and on DynamoDB Local: SCIM requests through the local front door
//! (token check included), their committed changes through the same gate
//! the `events` function and `scim-local --events` use, the breaker
//! resolved through the operator core. With a threshold of 5, ten
//! deactivations are ten 2xx answers, five events and one tripped event
//! published, the rest held in order; a release publishes them in order
//! (per resource by version); a discard drops them and the store keeps the
//! users inactive. And `scim-local` on DynamoDB keeps a trip over a restart.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scim_serverless::admin::{BreakerPhase, Operator};
use scim_serverless::api::local::LocalApp;
use scim_serverless::api::{HttpConfig, Routes};
use scim_serverless::auth::token::issue;
use scim_serverless::auth::{MemoryTokenSource, Verifier};
use scim_serverless::config::Config;
use scim_serverless::events::batch::Entry;
use scim_serverless::events::breaker::{ResolutionAction, TRIPPED};
use scim_serverless::events::gate::Gate;
use scim_serverless::events::{Bus, Change, derive};
use scim_serverless::runtime::all_routes;
use scim_serverless::store::dynamo::stream::StreamReader;
use scim_serverless::store::ops::OpsStore;
use scim_serverless::store::{MemoryStore, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

/// The bus of the test: what was published, in order.
#[derive(Clone, Default)]
struct Published(Arc<Mutex<Vec<Entry>>>);

impl Published {
    fn take(&self) -> Vec<Entry> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Bus for Published {
    fn send<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        self.0.lock().unwrap().extend(entries.iter().cloned());
        Box::pin(async { Ok(()) })
    }
}

enum Feed {
    Memory(UnboundedReceiver<Change>),
    Dynamo(Box<StreamReader>),
}

struct Harness<R, S> {
    app: LocalApp<R, MemoryTokenSource>,
    operator: Operator<MemoryTokenSource, S>,
    gate: Gate<S, MemoryTokenSource>,
    bus: Published,
    tenant: TenantId,
    token: String,
    feed: Feed,
}

async fn harness<S: Store + OpsStore + Clone>(store: S, feed: Feed) -> Harness<impl Routes, S> {
    let tenant = common::unique_tenant();
    let tokens = MemoryTokenSource::default();
    let bus = Published::default();
    let mut operator = Operator::new(tokens.clone(), store.clone(), None);
    operator.bus = Some(Arc::new(bus.clone()));
    operator.create_tenant(&tenant, None).await.unwrap();
    let issued = operator.issue_token(&tenant, "entra", None).await.unwrap();
    let changed = operator
        .change_settings(
            &tenant,
            &json!({"breaker": {"threshold": 5}}),
            Some(0),
            "test",
        )
        .await
        .unwrap();
    assert_eq!(changed.settings.breaker.threshold, 5);
    Harness {
        app: LocalApp {
            operator: None,
            routes: all_routes(store.clone(), &Config::default()),
            verifier: Verifier::new(tokens.clone(), Duration::ZERO),
            config: HttpConfig {
                scheme: "http".into(),
                ..HttpConfig::default()
            },
        },
        gate: Gate::new(store, Verifier::new(tokens, Duration::ZERO)),
        operator,
        bus,
        tenant,
        token: issued.token,
        feed,
    }
}

impl<R: Routes, S: Store + OpsStore> Harness<R, S> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        common::call_local(&self.app, &self.tenant, &self.token, method, path, body).await
    }

    /// The changes committed since the last call, through the gate, onto
    /// the bus (as the events function does with a stream batch).
    async fn pump(&mut self) {
        let changes: Vec<Change> = match &mut self.feed {
            Feed::Memory(rx) => std::iter::from_fn(|| rx.try_recv().ok()).collect(),
            Feed::Dynamo(reader) => common::stream_changes(reader, &self.tenant).await,
        };
        let entries = changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.tenant.clone(), Entry::of(&derive(c)?, i))))
            .collect();
        let passed = self.gate.pass(entries).await.unwrap();
        self.bus.send(&passed.publish).await.unwrap();
        self.gate.announced(&passed.announcing).await.unwrap();
    }

    async fn create_users(&mut self, n: usize, prefix: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let (status, body) = self
                .call(
                    "POST",
                    "/Users",
                    Some(json!({"userName": format!("{prefix}{i}@example.com"), "active": true})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_str().unwrap().to_owned());
        }
        ids
    }

    async fn deactivate(&self, id: &str) -> u16 {
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        });
        self.call("PATCH", &format!("/Users/{id}"), Some(patch))
            .await
            .0
    }
}

fn detail(e: &Entry) -> Value {
    serde_json::from_str(&e.detail).unwrap()
}

/// Every resource's events come in increasing version order.
fn assert_per_resource_order(entries: &[Entry]) {
    let mut last: HashMap<String, u64> = HashMap::new();
    for e in entries.iter().filter(|e| e.detail_type != TRIPPED) {
        let d = detail(e);
        let version: u64 = d["version"]
            .as_str()
            .unwrap()
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse()
            .unwrap();
        let id = d["id"].as_str().unwrap().to_owned();
        if let Some(before) = last.insert(id.clone(), version) {
            assert!(before < version, "{id}: version {version} after {before}");
        }
    }
}

async fn trip_release_then_discard<R: Routes, S: Store + OpsStore>(mut h: Harness<R, S>) {
    let users = h.create_users(20, "u").await;
    h.pump().await;
    assert_eq!(h.bus.take().len(), 20, "creations pass");

    // Ten deactivations: every one answered 2xx.
    for id in &users[..10] {
        assert_eq!(h.deactivate(id).await, 200);
    }
    // A later change of one of the held users: held after its deactivation.
    let (status, _) = h
        .call(
            "PATCH",
            &format!("/Users/{}", users[9]),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Nine"}],
            })),
        )
        .await;
    assert_eq!(status, 200);
    h.pump().await;
    let published = h.bus.take();
    let types: Vec<&str> = published.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "user.deactivated").count(),
        5,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == TRIPPED).count(),
        1,
        "{types:?}"
    );
    let tripped = detail(published.iter().find(|e| e.detail_type == TRIPPED).unwrap());
    assert_eq!(tripped["count"], 6);
    assert_eq!(tripped["threshold"], 5);
    assert_eq!(tripped["tenant"], h.tenant.as_str());

    let breaker = h.operator.breaker(&h.tenant).await.unwrap();
    assert_eq!(breaker.state, BreakerPhase::Tripped);
    let trip = breaker.trip.as_ref().unwrap();
    assert_eq!(trip.held, 6);
    assert_eq!(trip.held_by_type["user.deactivated"], 5);
    assert_eq!(trip.held_by_type["user.updated"], 1);
    let held = h.operator.held(&h.tenant, None, 4, None).await.unwrap();
    assert_eq!(held.events.len(), 4);
    let rest = h
        .operator
        .held(&h.tenant, held.next_cursor.as_deref(), 4, None)
        .await
        .unwrap();
    assert_eq!(rest.events.len(), 2);
    assert!(rest.next_cursor.is_none());
    let only = h
        .operator
        .held(&h.tenant, None, 50, Some("user.updated"))
        .await
        .unwrap();
    assert_eq!(only.events.len(), 1);
    assert_eq!(only.events[0].id.as_deref(), Some(users[9].as_str()));

    // While tripped, a creation is held too (per-resource order holds for
    // every type).
    h.create_users(1, "late").await;
    h.pump().await;
    assert!(h.bus.take().is_empty(), "nothing passes while tripped");

    // Release: the held events in their order, then publishing resumes.
    let released = h
        .operator
        .resolve_breaker(&h.tenant, ResolutionAction::Release, "support@vendor", None)
        .await
        .unwrap();
    assert_eq!(released.state, BreakerPhase::Armed, "{released:?}");
    assert_eq!(released.resolved[0].resolution.by, "support@vendor");
    assert_eq!(released.resolved[0].held, 7);
    let out = h.bus.take();
    let types: Vec<&str> = out.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(
        types,
        ["user.deactivated"; 5]
            .into_iter()
            .chain(["user.updated", "user.created"])
            .collect::<Vec<_>>()
    );
    assert_per_resource_order(&out);
    assert!(
        h.operator
            .held(&h.tenant, None, 50, None)
            .await
            .unwrap()
            .events
            .is_empty()
    );
    let (status, _) = h
        .call(
            "PATCH",
            &format!("/Users/{}", users[0]),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": true}],
            })),
        )
        .await;
    assert_eq!(status, 200);
    h.pump().await;
    assert_eq!(
        h.bus
            .take()
            .iter()
            .map(|e| e.detail_type.as_str())
            .collect::<Vec<_>>(),
        ["user.reactivated"],
        "re-armed: events flow again"
    );

    // Trip again, then discard: nothing published, the store keeps what
    // the identity provider said.
    for id in &users[10..20] {
        assert_eq!(h.deactivate(id).await, 200);
    }
    h.pump().await;
    assert_eq!(h.bus.take().len(), 6, "five deactivations and the trip");
    let no_reason = h
        .operator
        .resolve_breaker(&h.tenant, ResolutionAction::Discard, "support@vendor", None)
        .await;
    assert!(no_reason.is_err(), "a discard needs a reason");
    let discarded = h
        .operator
        .resolve_breaker(
            &h.tenant,
            ResolutionAction::Discard,
            "support@vendor",
            Some("a scoping rule removed the sales OU by mistake"),
        )
        .await
        .unwrap();
    assert_eq!(discarded.state, BreakerPhase::Armed);
    let last = &discarded.resolved[0];
    assert_eq!(last.resolution.action, ResolutionAction::Discard);
    assert_eq!(
        last.resolution.reason.as_deref(),
        Some("a scoping rule removed the sales OU by mistake")
    );
    assert!(
        h.bus.take().is_empty(),
        "discarded events are not published"
    );
    for id in &users[10..20] {
        let (status, user) = h.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(user["active"], false, "the store is untouched");
    }
    // Not tripped: nothing to resolve.
    let err = h
        .operator
        .resolve_breaker(&h.tenant, ResolutionAction::Release, "x", None)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
}

#[tokio::test]
async fn the_breaker_holds_releases_and_discards_memory() {
    let (feed, changes) = tokio::sync::mpsc::unbounded_channel();
    let h = harness(MemoryStore::with_feed(feed), Feed::Memory(changes)).await;
    trip_release_then_discard(h).await;
}

#[tokio::test]
async fn the_breaker_holds_releases_and_discards_dynamo() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let config = common::aws_config("AWS_ENDPOINT_URL_DYNAMODB")
        .await
        .unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let reader = StreamReader::open(streams, store.table()).await.unwrap();
    let h = harness(store, Feed::Dynamo(Box::new(reader))).await;
    trip_release_then_discard(h).await;
}

/// A small tenant's ordinary leaver passes; the default share rule holds
/// a large wave only.
#[tokio::test]
async fn below_the_share_nothing_is_held() {
    let (feed, changes) = tokio::sync::mpsc::unbounded_channel();
    let mut h = harness(MemoryStore::with_feed(feed), Feed::Memory(changes)).await;
    h.operator
        .change_settings(
            &h.tenant,
            &json!({"breaker": {"threshold": 2, "percent": 50}}),
            None,
            "test",
        )
        .await
        .unwrap();
    let users = h.create_users(10, "s").await;
    for id in &users[..4] {
        assert_eq!(h.deactivate(id).await, 200);
    }
    h.pump().await;
    assert_eq!(h.bus.take().len(), 14, "4 of 10 is under half: all pass");
    assert_eq!(h.operator.breaker(&h.tenant).await.unwrap().window_count, 4);
}

// ------------------------------------------------------------------ scim-local

struct Local {
    child: std::process::Child,
    addr: String,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_local(args: &[&str], env: &[(&str, &str)]) -> Local {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-local"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SCIM_LOCAL_STORE")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "scim-local exited"
        );
        if let Some(a) = line
            .trim()
            .strip_prefix("SCIM service listening on http://")
        {
            addr = Some(a.to_owned());
        }
        if line.starts_with("Console:") {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    Local {
        child,
        addr: addr.unwrap(),
    }
}

fn http(addr: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stream, &mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn event_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// `scim-local --store dynamodb --events`: a trip is kept in the table
/// over a restart, and released after it into the same event file.
#[test]
fn a_trip_survives_a_restart_of_scim_local_on_dynamodb() {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") else {
        return;
    };
    let table = format!("breaker-{}", uuid::Uuid::new_v4().simple());
    let events = std::env::temp_dir().join(format!("{table}.jsonl"));
    let token = issue(None, "2026-12-08T00:00:00Z").unwrap().plain;
    let key = "scimop_breaker-test-operator-key-0123456789";
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--store",
        "dynamodb",
        "--create-table",
        "--tenant",
        "acme",
        "--token",
        &token,
        "--operator-key",
        key,
        "--events",
        events.to_str().unwrap(),
    ];
    let env = [
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("SCIM_TABLE_NAME", table.as_str()),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ];
    let local = start_local(&args, &env);
    let a = local.addr.clone();
    let (status, _) = http(
        &a,
        "PATCH",
        "/manage/v1/tenants/acme/settings",
        key,
        Some(json!({"breaker": {"threshold": 1, "percent": 0}})),
    );
    assert_eq!(status, 200);
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, user) = http(
            &a,
            "POST",
            "/scim/v2/acme/Users",
            &token,
            Some(json!({"userName": format!("r{i}@example.com")})),
        );
        assert_eq!(status, 201, "{user}");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let (status, _) = http(
            &a,
            "PATCH",
            &format!("/scim/v2/acme/Users/{id}"),
            &token,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}],
            })),
        );
        assert_eq!(status, 200);
    }
    wait_for("the tripped event", || {
        event_lines(&events)
            .iter()
            .any(|l| l["detail-type"] == TRIPPED)
    });
    wait_for("the held events", || {
        http(&a, "GET", "/manage/v1/tenants/acme/breaker", key, None).1["trip"]["held"] == 2
    });
    drop(local);

    // The settings of the memory token store are gone with the process;
    // the trip is in the table.
    let local = start_local(&args, &env);
    let a = local.addr.clone();
    let (status, breaker) = http(&a, "GET", "/manage/v1/tenants/acme/breaker", key, None);
    assert_eq!(status, 200);
    assert_eq!(breaker["state"], "tripped", "{breaker}");
    assert_eq!(breaker["trip"]["held"], 2);
    let before = event_lines(&events).len();
    let (status, released) = http(
        &a,
        "POST",
        "/manage/v1/tenants/acme/breaker/release",
        key,
        Some(json!({"reason": "checked with the customer"})),
    );
    assert_eq!(status, 202, "{released}");
    wait_for("the release", || {
        http(&a, "GET", "/manage/v1/tenants/acme/breaker", key, None).1["state"] == "armed"
    });
    let lines = event_lines(&events);
    let released: Vec<&Value> = lines[before..].iter().collect();
    assert_eq!(released.len(), 2, "{released:?}");
    for l in released {
        assert_eq!(l["detail-type"], "user.deactivated");
    }
}
