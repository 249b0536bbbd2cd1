//! The worst requests within the declared limits (`scim::limits`), each
//! served end to end in process on the memory store (what `scim-local`
//! does): body parsing, validation, PATCH, member resolution, store write,
//! response. Criterion reports the time per request.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use scim_serverless::api::{Caller, HttpConfig, Routes, serve};
use scim_serverless::config::Config;
use scim_serverless::runtime::all_routes;
use scim_serverless::scim::bulk::{BULK_REQUEST_URN, MAX_OPERATIONS};
use scim_serverless::scim::limits::{
    MAX_BODY_BYTES, MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS, MAX_VALUES,
};
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{MemoryStore, Record, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Bench<R> {
    rt: Runtime,
    routes: R,
    tenant: TenantId,
}

impl<R: Routes> Bench<R> {
    /// Serves one request; panics unless the status is `want`.
    fn call(&self, method: &str, path: &str, body: &Bytes, want: u16) -> Value {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("/scim/v2/{}{path}", self.tenant))
            .header("host", "bench.test")
            .header("content-type", "application/scim+json")
            .body(body.clone())
            .unwrap();
        let config = HttpConfig {
            scheme: "http".into(),
            public_base_url: None,
            ..HttpConfig::default()
        };
        let response = self.rt.block_on(serve(
            &self.routes,
            &config,
            request,
            Caller::Tenant(self.tenant.clone()),
        ));
        let status = response.status().as_u16();
        let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        assert_eq!(status, want, "{body}");
        body
    }
}

fn bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn patch(ops: Vec<Value>) -> Bytes {
    bytes(&json!({"schemas": [PATCH_OP], "Operations": ops}))
}

fn role(i: usize) -> Value {
    json!({"value": format!("role-{i:05}"), "display": format!("Role number {i}"), "type": "app"})
}

fn worst_requests(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let store = MemoryStore::new();
    let tenant = TenantId::parse("bench").unwrap();
    let users: Vec<String> = (0..MAX_MEMBERS_PER_REQUEST)
        .map(|i| format!("member-{i:06}"))
        .collect();
    rt.block_on(async {
        for id in &users {
            let doc = json!({"userName": format!("{id}@x.com"), "displayName": id,
                             "meta": {"created": "2026-01-01T00:00:00Z", "lastModified": "2026-01-01T00:00:00Z"}});
            store
                .create(&tenant, &Record::new(ResourceKind::User, id, 1, doc))
                .await
                .unwrap();
        }
    });
    let bench = Bench {
        rt,
        routes: all_routes(store, &Config::default()),
        tenant,
    };
    let roles: Vec<Value> = (0..MAX_VALUES).map(role).collect();
    let user = bench.call(
        "POST",
        "/Users",
        &bytes(&json!({"userName": "worst@example.com", "roles": roles})),
        201,
    );
    let user_path = format!("/Users/{}", user["id"].as_str().unwrap());

    let mut group = c.benchmark_group("limits");
    group.sample_size(10);

    // Every operation a filtered path scanning all the roles, alternating
    // between two values so that each request changes and writes the user.
    let filtered: Vec<Bytes> = ["a", "b"]
        .iter()
        .map(|v| {
            patch(
                (0..MAX_PATCH_OPERATIONS)
                    .map(|i| json!({"op": "replace", "path": format!("roles[value eq \"role-{:05}\"].display", i % MAX_VALUES), "value": format!("{v}{i}")}))
                    .collect(),
            )
        })
        .collect();
    let mut turn = 0;
    group.bench_function(
        format!("PATCH user: {MAX_PATCH_OPERATIONS} filtered replaces over {MAX_VALUES} roles"),
        |b| {
            b.iter(|| {
                turn += 1;
                black_box(bench.call("PATCH", &user_path, &filtered[turn % 2], 200))
            })
        },
    );

    // The longest list operations can scan: a first operation doubles the
    // roles (repeats are only dropped past twice the limit), every other
    // one scans them all; the result is over the limit, so `400`.
    let doubled: Vec<Value> = std::iter::once(json!({"op": "add", "path": "roles", "value": (MAX_VALUES..2 * MAX_VALUES).map(role).collect::<Vec<_>>()}))
        .chain((1..MAX_PATCH_OPERATIONS).map(|i| json!({"op": "replace", "path": format!("roles[value eq \"role-{:05}\"].display", i % MAX_VALUES), "value": "c"})))
        .collect();
    let doubled = patch(doubled);
    group.bench_function(
        format!(
            "PATCH user: {MAX_VALUES} roles added, then filtered replaces over twice as many (400)"
        ),
        |b| b.iter(|| black_box(bench.call("PATCH", &user_path, &doubled, 400))),
    );

    // Every operation re-adding existing roles: the most de-duplication (on
    // a user of its own, whose roles the other cases do not change).
    let other = bench.call(
        "POST",
        "/Users",
        &bytes(&json!({"userName": "readd@example.com", "roles": roles})),
        201,
    );
    let other_path = format!("/Users/{}", other["id"].as_str().unwrap());
    let readd = patch(
        (0..MAX_PATCH_OPERATIONS)
            .map(|i| json!({"op": "add", "path": "roles", "value": [role(i % MAX_VALUES)]}))
            .collect(),
    );
    group.bench_function(
        format!("PATCH user: {MAX_PATCH_OPERATIONS} adds of existing roles"),
        |b| b.iter(|| black_box(bench.call("PATCH", &other_path, &readd, 200))),
    );

    // A remove whose selectors carry no `value`: matched by their fields.
    let by_fields: Vec<Value> = (0..MAX_VALUES)
        .map(|i| json!({"display": format!("nobody {i}"), "type": "app"}))
        .collect();
    let remove = patch(vec![
        json!({"op": "remove", "path": "roles", "value": by_fields}),
    ]);
    group.bench_function(
        format!("PATCH user: remove with {MAX_VALUES} field selectors over {MAX_VALUES} roles"),
        |b| b.iter(|| black_box(bench.call("PATCH", &user_path, &remove, 200))),
    );

    let mut created = 0;
    group.bench_function(format!("POST user with {MAX_VALUES} roles"), |b| {
        b.iter(|| {
            created += 1;
            let body =
                bytes(&json!({"userName": format!("new-{created}@example.com"), "roles": roles}));
            black_box(bench.call("POST", "/Users", &body, 201))
        })
    });

    let huge = bytes(
        &json!({"userName": "huge@example.com", "nickName": "x".repeat(MAX_BODY_BYTES - 100)}),
    );
    group.bench_function("POST user with a body at the size limit (400)", |b| {
        b.iter(|| black_box(bench.call("POST", "/Users", &huge, 400)))
    });

    let g = bench.call(
        "POST",
        "/Groups",
        &bytes(&json!({"displayName": "Everyone"})),
        201,
    );
    let group_path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let members: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let add_remove = [
        patch(vec![
            json!({"op": "add", "path": "members", "value": members}),
        ]),
        patch(vec![
            json!({"op": "remove", "path": "members", "value": members}),
        ]),
    ];
    let mut turn = 0;
    group.bench_function(
        format!("PATCH group: add or remove {MAX_MEMBERS_PER_REQUEST} members"),
        |b| {
            b.iter(|| {
                turn += 1;
                black_box(bench.call("PATCH", &group_path, &add_remove[turn % 2], 204))
            })
        },
    );

    let full = bytes(&json!({"displayName": "Everyone", "members": members}));
    let empty = bytes(&json!({"displayName": "Everyone", "members": []}));
    let mut turn = 0;
    group.bench_function(
        format!("PUT group: {MAX_MEMBERS_PER_REQUEST} members, alternately none"),
        |b| {
            b.iter(|| {
                turn += 1;
                let body = if turn % 2 == 0 { &full } else { &empty };
                black_box(bench.call("PUT", &group_path, body, 200))
            })
        },
    );

    // The largest Bulk request: maxOperations operations, a group first
    // naming every user the rest create, by bulkId.
    let mut turn = 0;
    group.bench_function(
        format!("POST /Bulk: a group and {} users it names by bulkId", MAX_OPERATIONS - 1),
        |b| {
            b.iter(|| {
                turn += 1;
                let users = MAX_OPERATIONS - 1;
                let mut ops = vec![json!({"method": "POST", "path": "/Groups", "bulkId": "g",
                    "data": {"displayName": format!("Bulk {turn}"),
                             "members": (0..users).map(|i| json!({"value": format!("bulkId:u{i}")})).collect::<Vec<_>>()}})];
                ops.extend((0..users).map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": {"userName": format!("bulk-{turn}-{i}@example.com")}})));
                let body = bytes(&json!({"schemas": [BULK_REQUEST_URN], "Operations": ops}));
                black_box(bench.call("POST", "/Bulk", &body, 200))
            })
        },
    );
    group.finish();
}

criterion_group!(benches, worst_requests);
criterion_main!(benches);
