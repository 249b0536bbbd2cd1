//! Fault injection against DynamoDB Local: the Users and Groups write
//! sequences run through an SDK interceptor that injects throttling,
//! internal errors (before the request is applied, or after it with the
//! response lost), transaction conflicts and a hanging connection, at every
//! DynamoDB request of each SCIM request in turn. Every answer is a success
//! or `503` with `Retry-After`; after every attempt the tenant's items are
//! scanned and must be consistent (markers match resources, edges match
//! both sides, counters match the items); the identity provider's retry of
//! the same request completes what a failure left undone.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use common::http_api::{Api, Reply};
use scim_serverless::api::Routes;
use scim_serverless::config::Config;
use scim_serverless::runtime::all_routes;
use scim_serverless::store::DynamoStore;
use scim_serverless::store::dynamo::table::create_table;
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

/// A table of its own: the invariant checks scan it.
const FAULT_TABLE: &str = "scim-fault-tests";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ProvisionedThroughputExceeded,
    Throttling,
    /// An internal error before the request is applied.
    InternalError,
    /// The request is applied, its response replaced by an internal error.
    LostResponse,
    /// A transaction cancelled because of another one; a single-item
    /// write refused because a transaction holds its item.
    TransactionConflict,
    /// The connection is accepted and never answered.
    Hang,
}

/// Which requests fail: from the `from`-th one counted (1-based) on, every
/// one (`persistent`) or that one only.
#[derive(Debug)]
struct Plan {
    fault: Fault,
    from: usize,
    persistent: bool,
    seen: usize,
    fired: usize,
}

/// The fault decided for one attempt and its operation, kept for its
/// response.
#[derive(Debug, Clone)]
struct Injected(Option<Fault>, String);

impl Storable for Injected {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct Injector {
    plan: Arc<Mutex<Option<Plan>>>,
    /// Address that accepts connections and never answers.
    black_hole: String,
}

impl Injector {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let black_hole = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Injector {
            plan: Arc::default(),
            black_hole,
        }
    }

    fn arm(&self, fault: Fault, from: usize, persistent: bool) {
        *self.plan.lock().unwrap() = Some(Plan {
            fault,
            from,
            persistent,
            seen: 0,
            fired: 0,
        });
    }

    /// Stops injecting; how many faults were injected.
    fn disarm(&self) -> usize {
        self.plan.lock().unwrap().take().map_or(0, |p| p.fired)
    }

    fn decide(&self, operation: &str) -> Option<Fault> {
        let mut plan = self.plan.lock().unwrap();
        let plan = plan.as_mut()?;
        // Conflicts only meet writes.
        let write = ["TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"];
        if plan.fault == Fault::TransactionConflict && !write.contains(&operation) {
            return None;
        }
        plan.seen += 1;
        if plan.seen < plan.from || (!plan.persistent && plan.fired > 0) {
            return None;
        }
        plan.fired += 1;
        // One response is lost; the retries after it fail before applying.
        Some(match plan.fault {
            Fault::LostResponse if plan.fired > 1 => Fault::InternalError,
            f => f,
        })
    }
}

impl Intercept for Injector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        let fault = self.decide(&operation);
        match fault {
            None | Some(Fault::LostResponse) => {}
            Some(Fault::Hang) => {
                request.set_uri(format!("http://{}/", self.black_hole))?;
            }
            // Not applied: DynamoDB Local answers a harmless read instead.
            Some(_) => {
                let headers = request.headers_mut();
                headers.insert("x-amz-target", "DynamoDB_20120810.DescribeLimits");
                headers.insert("content-length", "2");
                *request.body_mut() = SdkBody::from("{}");
            }
        }
        cfg.interceptor_state()
            .store_put(Injected(fault, operation));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Injected(Some(fault), operation)) = cfg.load::<Injected>().cloned() else {
            return Ok(());
        };
        let (status, body) = match fault {
            Fault::ProvisionedThroughputExceeded => (
                400,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                       "message": "injected"}),
            ),
            Fault::Throttling => (
                400,
                json!({"__type": "com.amazon.coral.availability#ThrottlingException",
                       "message": "injected"}),
            ),
            Fault::InternalError | Fault::LostResponse => (
                500,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                       "message": "injected"}),
            ),
            Fault::TransactionConflict if operation != "TransactWriteItems" => (
                400,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                       "message": "injected"}),
            ),
            Fault::TransactionConflict => (
                400,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                       "Message": "injected",
                       "CancellationReasons": [{"Code": "TransactionConflict", "Message": "injected"}]}),
            ),
            Fault::Hang => return Ok(()),
        };
        let body = body.to_string();
        let mut response = HttpResponse::new(status.try_into()?, SdkBody::from(body.clone()));
        let headers = response.headers_mut();
        headers.insert("content-type", "application/x-amz-json-1.0");
        headers.insert("content-length", body.len().to_string());
        *context.response_mut() = response;
        Ok(())
    }
}

/// A store on DynamoDB Local whose requests pass through `injector`, with
/// short timeouts and back-off, each client with its own retry quota.
async fn faulty_store(injector: &Injector) -> Option<DynamoStore> {
    static CLIENTS: AtomicUsize = AtomicUsize::new(0);
    let config = common::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await?;
    let n = CLIENTS.fetch_add(1, Ordering::Relaxed);
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(injector.clone())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(5)),
            )
            .retry_partition(RetryPartition::new(format!("faults-{n}")))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build(),
    );
    create_table(&client, FAULT_TABLE)
        .await
        .expect("create the fault table on DynamoDB Local");
    Some(DynamoStore::new(client, FAULT_TABLE))
}

type Item = std::collections::HashMap<String, AttributeValue>;

fn text<'i>(item: &'i Item, name: &str) -> Option<&'i str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// The tenant's items agree with each other: every resource holds its
/// unique-key marker and email items and nothing else holds them, every
/// edge has both ends and each end knows it, counters count the resources,
/// the inactive users and the edges.
/// A resource item's document: deflate-compressed JSON in `dz`.
fn stored_document(item: &Item) -> Value {
    let deflated = item["dz"].as_b().expect("a binary document");
    let json = miniz_oxide::inflate::decompress_to_vec(deflated.as_ref()).unwrap();
    serde_json::from_slice(&json).unwrap()
}

async fn check_invariants(client: &aws_sdk_dynamodb::Client, tenant: &TenantId, when: &str) {
    let items = common::tenant_items(client, FAULT_TABLE, tenant).await;
    let prefix = format!("T#{tenant}#");
    let mut resources: BTreeMap<String, (&str, Value, BTreeSet<String>)> = BTreeMap::new();
    let mut markers: BTreeMap<String, String> = BTreeMap::new();
    let mut emails: BTreeSet<(String, String)> = BTreeSet::new();
    let mut edges: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut counters: BTreeMap<String, i64> = BTreeMap::new();
    let number = |item: &Item, name: &str| -> i64 {
        item.get(name)
            .map_or(0, |v| v.as_n().unwrap().parse().unwrap())
    };
    let (mut inactive_counted, mut edges_counted) = (0, 0);
    for item in &items {
        let pk = text(item, "pk").unwrap().strip_prefix(&prefix).unwrap();
        let sk = text(item, "sk").unwrap();
        let id = text(item, "id").map(str::to_owned);
        if sk == "R" {
            let doc = stored_document(item);
            let groups = item
                .get("grp")
                .and_then(|v| v.as_ss().ok())
                .map(|g| g.iter().cloned().collect())
                .unwrap_or_default();
            // The kind and id are in the key (`U#{id}` / `G#{id}`).
            let (kind, id) = match pk.split_once('#') {
                Some(("U", id)) => ("User", id),
                Some(("G", id)) => ("Group", id),
                _ => panic!("a resource item outside a resource partition: {pk}"),
            };
            resources.insert(id.to_owned(), (kind, doc, groups));
        } else if sk == "K" {
            markers.insert(pk.to_owned(), id.unwrap());
        } else if let Some(email) = sk.strip_prefix("E#") {
            emails.insert((id.unwrap(), email.to_owned()));
        } else if let Some(member) = sk.strip_prefix("M#") {
            // A tombstone records an ended membership for the stream.
            if item.get("gone").is_some_and(|g| g.as_bool() == Ok(&true)) {
                continue;
            }
            let group = pk.strip_prefix("G#").unwrap().to_owned();
            let kind = text(item, "mk").unwrap().to_owned();
            edges.insert((group, member.to_owned(), kind));
        } else if pk == "C" {
            // The shards of a kind (`U#{s}`, `G#{s}`) add up.
            let kind = sk.split('#').next().unwrap().to_owned();
            *counters.entry(kind).or_default() += number(item, "n");
            inactive_counted += number(item, "ni");
            edges_counted += number(item, "nm");
        }
    }
    let mut expected_markers = BTreeMap::new();
    let mut expected_emails = BTreeSet::new();
    let mut expected_edges = BTreeSet::new();
    for (id, (kind, doc, groups)) in &resources {
        let (tag, field) = if *kind == "User" {
            ("UN", "userName")
        } else {
            ("GN", "displayName")
        };
        let name = doc[field].as_str().unwrap().to_lowercase();
        expected_markers.insert(format!("{tag}#{name}"), id.clone());
        for email in doc["emails"].as_array().into_iter().flatten() {
            let value = email["value"].as_str().unwrap().to_lowercase();
            expected_emails.insert((id.clone(), value));
        }
        for group in groups {
            expected_edges.insert((group.clone(), id.clone(), (*kind).to_owned()));
        }
    }
    assert_eq!(markers, expected_markers, "{when}: markers match resources");
    assert_eq!(emails, expected_emails, "{when}: email items match users");
    assert_eq!(edges, expected_edges, "{when}: edges match group lists");
    for (group, _, _) in &edges {
        assert_eq!(
            resources.get(group).map(|r| r.0),
            Some("Group"),
            "{when}: edge in an existing group"
        );
    }
    for (tag, kind) in [("U", "User"), ("G", "Group")] {
        let count = resources.values().filter(|r| r.0 == kind).count() as i64;
        assert_eq!(
            counters.get(tag).copied().unwrap_or(0),
            count,
            "{when}: {kind} counter"
        );
    }
    let inactive = resources
        .values()
        .filter(|(kind, doc, _)| *kind == "User" && doc["active"] == json!(false))
        .count() as i64;
    assert_eq!(inactive_counted, inactive, "{when}: inactive users counted");
    assert_eq!(edges_counted, edges.len() as i64, "{when}: edges counted");
}

/// One identity provider's view: the API, the injector and a clean client
/// for checks.
struct Harness<R> {
    api: Api<R>,
    injector: Injector,
    clean: aws_sdk_dynamodb::Client,
}

impl<R: Routes> Harness<R> {
    /// Sends a request with `fault` injected persistently from its first,
    /// second, ... DynamoDB request on: each failed attempt is `503` with
    /// `Retry-After` and leaves the items consistent; the first attempt
    /// that succeeds (no fault fired, or only in best-effort follow-ups) is
    /// the identity provider's successful retry.
    async fn through_faults(
        &self,
        fault: Fault,
        method: &str,
        path: &str,
        body: Option<Value>,
        ok: &[u16],
    ) -> Reply {
        for from in 1..200 {
            self.injector.arm(fault, from, true);
            let reply = self.api.call(method, path, body.clone()).await;
            let fired = self.injector.disarm();
            let when = format!("{fault:?} from request {from} of {method} {path}");
            check_invariants(&self.clean, &self.api.tenant, &when).await;
            // Follow-ups after the write (pending manager references,
            // copies of display names) are best effort: the write stands.
            if fired == 0 || ok.contains(&reply.status) {
                assert!(ok.contains(&reply.status), "{when}: {}", reply.body);
                return reply;
            }
            assert_eq!(reply.status, 503, "{when}: {}", reply.body);
            assert!(reply.header("retry-after").is_some(), "{when}: Retry-After");
        }
        panic!("{method} {path} kept failing");
    }

    /// Sends a request with one `fault` at its `at`-th DynamoDB request:
    /// the SDK's or the store's bounded retries absorb it.
    async fn with_one_fault(
        &self,
        fault: Fault,
        at: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
        ok: &[u16],
    ) -> Reply {
        self.injector.arm(fault, at, false);
        let reply = self.api.call(method, path, body).await;
        self.injector.disarm();
        let when = format!("one {fault:?} at request {at} of {method} {path}");
        check_invariants(&self.clean, &self.api.tenant, &when).await;
        assert!(ok.contains(&reply.status), "{when}: {}", reply.body);
        reply
    }

    async fn id_of(&self, resource: &str, filter: &str) -> String {
        let found = self
            .api
            .call("GET", &format!("/{resource}?filter={filter}"), None)
            .await
            .expect(200);
        found.ids().pop().expect("found")
    }
}

async fn harness(injector: Injector) -> Option<Harness<impl Routes>> {
    let store = faulty_store(&injector).await?;
    let clean =
        aws_sdk_dynamodb::Client::new(&common::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await?);
    Some(Harness {
        api: Api {
            routes: all_routes(store, &Config::default()),
            tenant: common::unique_tenant(),
            recorder: scim_serverless::request_log::Recorder::Off,
        },
        injector,
        clean,
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The Users write sequence with `fault` at every request of every step.
async fn users_sequence(fault: Fault) {
    let Some(h) = harness(Injector::new()).await else {
        return;
    };
    let ada = json!({"userName": "ada@example.com", "externalId": "ext-ada",
                     "emails": [{"value": "ada@example.com", "type": "work"},
                                {"value": "Ada.L@example.com", "type": "home"}]});
    // A lost response of a create that was applied: the retry is 409.
    h.through_faults(fault, "POST", "/Users", Some(ada), &[201, 409])
        .await;
    let id = h.id_of("Users", "userName eq \"ada@example.com\"").await;
    let path = format!("/Users/{id}");
    let rename = patch(json!([
        {"op": "replace", "path": "userName", "value": "ada.k@example.com"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada.k@example.com"}
    ]));
    let renamed = h
        .through_faults(fault, "PATCH", &path, Some(rename), &[200])
        .await;
    assert_eq!(renamed.body["userName"], "ada.k@example.com");
    let replacement = json!({"userName": "countess@example.com", "externalId": "ext-ada",
                             "emails": [{"value": "countess@example.com", "type": "work"}]});
    let replaced = h
        .through_faults(fault, "PUT", &path, Some(replacement), &[200])
        .await;
    assert_eq!(replaced.body["userName"], "countess@example.com");
    h.through_faults(fault, "DELETE", &path, None, &[204, 404])
        .await;
    h.api.call("GET", &path, None).await.expect(404);
    check_invariants(&h.clean, &h.api.tenant, "after the Users sequence").await;
}

/// The Groups write sequence (memberships of several steps) with `fault`
/// at every request of every step.
async fn groups_sequence(fault: Fault) {
    let Some(h) = harness(Injector::new()).await else {
        return;
    };
    let mut users = Vec::new();
    for i in 0..60 {
        let body = json!({"userName": format!("member{i}@example.com")});
        let created = h.api.call("POST", "/Users", Some(body)).await.expect(201);
        users.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let group = json!({"displayName": "Engineering"});
    h.through_faults(fault, "POST", "/Groups", Some(group), &[201, 409])
        .await;
    let gid = h.id_of("Groups", "displayName eq \"engineering\"").await;
    let path = format!("/Groups/{gid}");
    let values = |ids: &[String]| -> Value { ids.iter().map(|id| json!({"value": id})).collect() };
    // 60 members: two transactions of up to 49.
    let add = patch(json!([{"op": "add", "path": "members", "value": values(&users)}]));
    h.through_faults(fault, "PATCH", &path, Some(add), &[204])
        .await;
    let remove = patch(json!([{"op": "remove", "path": "members", "value": values(&users[..55])}]));
    h.through_faults(fault, "PATCH", &path, Some(remove), &[204])
        .await;
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "R&D"}]));
    h.through_faults(fault, "PATCH", &path, Some(rename), &[204])
        .await;
    let member = format!("/Users/{}", users[59]);
    h.through_faults(fault, "DELETE", &member, None, &[204, 404])
        .await;
    let read = h.api.call("GET", &path, None).await.expect(200);
    assert_eq!(read.body["displayName"], "R&D");
    let members: BTreeSet<&str> = read.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = users[55..59].iter().map(String::as_str).collect();
    assert_eq!(members, expected);
    h.through_faults(fault, "DELETE", &path, None, &[204, 404])
        .await;
    h.api.call("GET", &path, None).await.expect(404);
    check_invariants(&h.clean, &h.api.tenant, "after the Groups sequence").await;
}

/// One fault at a time is absorbed by bounded retries.
async fn transient(fault: Fault) {
    let Some(h) = harness(Injector::new()).await else {
        return;
    };
    let mut users = Vec::new();
    for i in 0..3 {
        let body = json!({"userName": format!("t{i}@example.com")});
        let created = h
            .with_one_fault(fault, 1, "POST", "/Users", Some(body), &[201])
            .await;
        users.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let path = format!("/Users/{}", users[0]);
    let ops = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    // A GetItem, then one conditional PutItem: the fault meets the PutItem,
    // the 2nd request, or for a conflict (counted on writes only) the 1st.
    let at = if fault == Fault::TransactionConflict {
        1
    } else {
        2
    };
    h.with_one_fault(fault, at, "PATCH", &path, Some(ops), &[200])
        .await;
    let group =
        json!({"displayName": "Ops", "members": [{"value": users[1]}, {"value": users[2]}]});
    let created = h
        .with_one_fault(fault, 1, "POST", "/Groups", Some(group), &[201])
        .await;
    let gpath = format!("/Groups/{}", created.body["id"].as_str().unwrap());
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]));
    h.with_one_fault(fault, 2, "PATCH", &gpath, Some(add), &[204])
        .await;
    h.with_one_fault(fault, 2, "DELETE", &gpath, None, &[204])
        .await;
    h.with_one_fault(fault, 2, "DELETE", &path, None, &[204])
        .await;
}

macro_rules! fault_cases {
    ($($name:ident: $fault:expr),* $(,)?) => {
        mod users {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::users_sequence($fault).await;
                }
            )*
        }
        mod groups {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::groups_sequence($fault).await;
                }
            )*
        }
        mod one_fault {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::transient($fault).await;
                }
            )*
        }
    };
}

fault_cases!(
    provisioned_throughput_exceeded: super::Fault::ProvisionedThroughputExceeded,
    throttling: super::Fault::Throttling,
    internal_error: super::Fault::InternalError,
    lost_response: super::Fault::LostResponse,
    transaction_conflict: super::Fault::TransactionConflict,
    hang: super::Fault::Hang,
);
