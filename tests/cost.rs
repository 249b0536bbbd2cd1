//! What an initial Entra ID sync costs on DynamoDB, priced by the cost meter
//! (`common::cost`) against DynamoDB Local, and the budget each operation
//! must stay within. The README's cost table is printed by
//!
//! ```sh
//! SCIM_ONLY_SERVERS=1 SCIM_SERVERS_CMD='cargo test --test cost -- --nocapture' bash tests/run.sh
//! ```

mod common;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use common::cost::{
    Cost, Index, Layout, READ_UNIT, WRITE_UNIT, item_size, metered_dynamo_store, number_size, units,
};
use common::http_api::api;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The scaled-down sync: users, groups, memberships per user, and how many
/// members Entra adds in one group PATCH (an assumption: Entra does not
/// document its batch size).
const USERS: usize = 200;
const GROUPS: usize = 10;
const MEMBERSHIPS: usize = 5;
const MEMBERS_PER_PATCH: usize = 10;
/// The first users have no manager; every later one names an earlier user.
const TOP_MANAGERS: usize = 10;

/// The sync the README prices: this many users, each with a manager, work
/// email, externalId, enterprise attributes and 5 memberships.
const SYNC_USERS: f64 = 100_000.0;

/// us-east-1 list prices, checked 2026-12-02: DynamoDB on-demand (since the
/// November 2024 reduction), API Gateway HTTP API (first 300 million
/// requests a month), Lambda arm64.
const DOLLARS_PER_MILLION_WRITE_UNITS: f64 = 0.625;
const DOLLARS_PER_MILLION_READ_UNITS: f64 = 0.125;
const DOLLARS_PER_MILLION_HTTP_REQUESTS: f64 = 1.00;
const DOLLARS_PER_MILLION_INVOCATIONS: f64 = 0.20;
const DOLLARS_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// `FunctionMemorySize` in template.yaml.
const FUNCTION_MEMORY_GB: f64 = 256.0 / 1024.0;
/// Billed duration of one request, stated (not measured on Lambda here):
/// a handful of DynamoDB round trips of a few milliseconds each.
const BILLED_SECONDS: f64 = 0.050;

/// What one operation may cost at most: DynamoDB requests, write units,
/// read units. Today's layout, as measured; lower them as the layout
/// improves, never raise them.
const BUDGETS: &[(Op, f64, f64, f64)] = &[
    (Op::MatchGet, 1.0, 0.0, 1.0),
    (Op::Create, 1.0, 15.0, 0.0),
    (Op::CreateWithManager, 2.0, 16.0, 1.0),
    (Op::TwoAttributePatch, 2.0, 4.0, 1.0),
    (Op::Deactivate, 2.0, 7.0, 1.0),
    (Op::AddOneMember, 3.0, 11.0, 2.0),
    (Op::ReAddMember, 2.0, 0.0, 2.0),
    (Op::AddBatchPerMember, 0.3, 7.6, 1.1),
    (Op::RemoveMember, 3.0, 11.0, 2.0),
    (Op::DeleteUser, 4.0, 49.0, 1.5),
    (Op::DeleteGroup, 7.0, 676.0, 7.0),
];

/// The most the 100,000-user sync may cost, in dollars (today's layout,
/// as measured; issue 13's target is 1.50, see docs/key-design.md#cost).
const SYNC_BUDGET_DOLLARS: f64 = 3.80;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    MatchGet,
    Create,
    CreateWithManager,
    TwoAttributePatch,
    Deactivate,
    AddOneMember,
    ReAddMember,
    AddBatchPerMember,
    RemoveMember,
    DeleteUser,
    DeleteGroup,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::MatchGet => "`GET /Users?filter=userName eq` (no match)",
            Op::Create => "`POST /Users`, no manager",
            Op::CreateWithManager => "`POST /Users` with manager",
            Op::TwoAttributePatch => "`PATCH /Users` (two attributes)",
            Op::Deactivate => "`PATCH /Users` `active` to false",
            Op::AddOneMember => "`PATCH /Groups` add 1 member",
            Op::ReAddMember => "`PATCH /Groups` re-add a member",
            Op::AddBatchPerMember => "`PATCH /Groups` add 10 members, per member",
            Op::RemoveMember => "`PATCH /Groups` remove 1 member",
            Op::DeleteUser => "`DELETE /Users` (user in 5 groups)",
            Op::DeleteGroup => "`DELETE /Groups` (group of ~95 members)",
        }
    }
}

/// Every sample of every operation; `per` divides a batch by its size.
#[derive(Default)]
struct Samples(BTreeMap<Op, Vec<(f64, f64, f64)>>, BTreeMap<Op, Vec<f64>>);

/// What writing the run's request records cost (the `recorder`'s share).
struct LogCost {
    records: usize,
    write_units: f64,
    requests: usize,
    /// Bytes of the records' log lines, which CloudWatch Logs ingests.
    line_bytes: usize,
}

/// CloudWatch Logs ingestion (standard class), dollars per GB.
const DOLLARS_PER_INGESTED_GB: f64 = 0.50;

/// Request records per recorder batch (a CloudWatch Logs subscription
/// delivers many lines at once; 100 is a modest batch).
const LOG_BATCH: usize = 100;

impl Samples {
    fn record(&mut self, op: Op, cost: &Cost, per: usize) {
        let per = per as f64;
        self.0.entry(op).or_default().push((
            cost.request_count() as f64 / per,
            cost.write_units() / per,
            cost.read_units / per,
        ));
        self.1
            .entry(op)
            .or_default()
            .push(cost.index_write_units / per);
    }

    /// Mean index write units (part of the write units).
    fn index_mean(&self, op: Op) -> f64 {
        let s = &self.1[&op];
        s.iter().sum::<f64>() / s.len() as f64
    }

    fn mean(&self, op: Op) -> (f64, f64, f64) {
        let s = &self.0[&op];
        let n = s.len() as f64;
        let sum = s
            .iter()
            .fold((0.0, 0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1, a.2 + x.2));
        (sum.0 / n, sum.1 / n, sum.2 / n)
    }

    fn max(&self, op: Op) -> (f64, f64, f64) {
        self.0[&op].iter().fold((0.0, 0.0, 0.0), |a, x| {
            (a.0.max(x.0), a.1.max(x.1), a.2.max(x.2))
        })
    }
}

/// A user as Entra creates it: core and enterprise attributes, a work email,
/// an externalId (Entra's object id) and, for most, a manager by id.
fn entra_user(n: usize, manager: Option<&str>) -> Value {
    let mut enterprise = json!({"employeeNumber": format!("{:06}", 100_000 + n),
                                "department": "Engineering", "costCenter": "CC-4711"});
    if let Some(id) = manager {
        enterprise["manager"] = json!({"value": id});
    }
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "userName": format!("user{n:05}@contoso.example"),
        "active": "True",
        "displayName": format!("User {n:05}"),
        "emails": [{"primary": true, "type": "work", "value": format!("user{n:05}@contoso.example")}],
        "name": {"formatted": format!("User {n:05}"), "familyName": format!("{n:05}"), "givenName": "User"},
        "title": "Engineer",
        ENTERPRISE: enterprise,
    })
}

fn add_members(ids: &[String]) -> Value {
    let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": value}]})
}

#[test]
fn the_meter_sizes_items_by_the_documented_rules() {
    assert_eq!(number_size("12345"), 4);
    assert_eq!(number_size("-0.0100"), 2);
    let item = HashMap::from([
        ("pk".to_owned(), AttributeValue::S("abc".into())),
        ("n".to_owned(), AttributeValue::N("7".into())),
        (
            "m".to_owned(),
            AttributeValue::M(HashMap::from([("k".into(), AttributeValue::Bool(true))])),
        ),
        (
            "ss".to_owned(),
            AttributeValue::Ss(vec!["ab".into(), "c".into()]),
        ),
    ]);
    // pk: 2 + 3; n: 1 + 2; m: 1 + 3 + (1 + 1 + 1); ss: 2 + 3.
    assert_eq!(item_size(&item), 5 + 3 + 7 + 5);
    assert_eq!(units(1024, WRITE_UNIT), 1.0);
    assert_eq!(units(1025, WRITE_UNIT), 2.0);
    assert_eq!(
        units(0, READ_UNIT),
        1.0,
        "a read that finds nothing costs the minimum"
    );
}

#[test]
fn the_meter_prices_index_entries_by_key_and_projection() {
    let layout = Layout {
        table: "t".into(),
        key: ["pk".into(), "sk".into()],
        indexes: vec![
            Index {
                name: "all".into(),
                keys: ["a".into(), "b".into()],
                projected: None,
            },
            Index {
                name: "keys".into(),
                keys: ["c".into(), "d".into()],
                projected: Some(Default::default()),
            },
        ],
    };
    let item = |pairs: &[(&str, String)]| -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), AttributeValue::S(v.clone())))
            .collect()
    };
    let big = "x".repeat(1500);
    let keyed = |a: &str, doc: &str| {
        item(&[
            ("pk", "p".into()),
            ("sk", "s".into()),
            ("a", a.into()),
            ("b", "1".into()),
            ("c", "k".into()),
            ("d", "1".into()),
            ("doc", doc.into()),
        ])
    };
    // A new item: one entry in each index; the ALL copy is 2 KB.
    assert_eq!(
        layout.index_writes(None, Some(&keyed("a", &big))),
        2.0 + 1.0
    );
    // A changed document: only the ALL index projects it.
    let changed = format!("{big}!");
    assert_eq!(
        layout.index_writes(Some(&keyed("a", &big)), Some(&keyed("a", &changed))),
        2.0
    );
    // Nothing changed: no index write.
    let same = keyed("a", &big);
    assert_eq!(layout.index_writes(Some(&same), Some(&same)), 0.0);
    // A moved index key: delete and put.
    assert_eq!(
        layout.index_writes(Some(&keyed("a", "")), Some(&keyed("z", ""))),
        2.0
    );
    // An item without an index's keys is not in it.
    let plain = item(&[("pk", "p".into()), ("sk", "s".into()), ("doc", big)]);
    assert_eq!(layout.index_writes(None, Some(&plain)), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_entra_sync_stays_within_the_cost_budget() {
    let Some((store, meter)) = metered_dynamo_store().await else {
        return;
    };
    let mut api = api(store.clone());
    let (feed, mut records) = tokio::sync::mpsc::unbounded_channel();
    api.recorder = scim_serverless::request_log::Recorder::Channel(feed);
    let mut samples = Samples::default();

    let mut users: Vec<String> = Vec::new();
    for n in 0..USERS {
        let user_name = format!("user{n:05}@contoso.example");
        let filter = format!("/Users?filter=userName eq \"{user_name}\"");
        let (found, cost) = meter.request(&api, "GET", &filter, None, 200).await;
        assert_eq!(found["totalResults"], 0);
        samples.record(Op::MatchGet, &cost, 1);

        let manager = (n >= TOP_MANAGERS).then(|| users[n / 8].clone());
        let body = entra_user(n, manager.as_deref());
        let (created, cost) = meter.request(&api, "POST", "/Users", Some(body), 201).await;
        if let Some(manager) = manager {
            assert_eq!(created[ENTERPRISE]["manager"]["value"], manager.as_str());
            samples.record(Op::CreateWithManager, &cost, 1);
        } else {
            samples.record(Op::Create, &cost, 1);
        }
        users.push(created["id"].as_str().unwrap().to_owned());
    }

    for id in users.iter().take(20) {
        let patch = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "title", "value": "Staff Engineer"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Platform"},
        ]});
        let (_, cost) = meter
            .request(&api, "PATCH", &format!("/Users/{id}"), Some(patch), 200)
            .await;
        samples.record(Op::TwoAttributePatch, &cost, 1);
    }
    // Entra's soft delete: the flip also counts the user as inactive.
    for id in users.iter().skip(20).take(10) {
        let patch = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "active", "value": "False"},
        ]});
        let (_, cost) = meter
            .request(&api, "PATCH", &format!("/Users/{id}"), Some(patch), 200)
            .await;
        samples.record(Op::Deactivate, &cost, 1);
    }

    // Each user joins MEMBERSHIPS of the GROUPS; Entra adds them in batches.
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        let body = json!({"displayName": format!("Group {g:02}"), "externalId": uuid::Uuid::new_v4().to_string()});
        let created = api.call("POST", "/Groups", Some(body)).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let members: Vec<String> = users
            .iter()
            .enumerate()
            .filter(|(n, _)| (0..MEMBERSHIPS).any(|k| (n + 2 * k) % GROUPS == g))
            .map(|(_, id)| id.clone())
            .collect();
        for batch in members.chunks(MEMBERS_PER_PATCH) {
            let path = format!("/Groups/{id}");
            let (_, cost) = meter
                .request(&api, "PATCH", &path, Some(add_members(batch)), 204)
                .await;
            samples.record(Op::AddBatchPerMember, &cost, batch.len());
        }
        groups.push((id, members));
    }

    // Single-member changes on a group of its own.
    let solo = api
        .call("POST", "/Groups", Some(json!({"displayName": "Solo"})))
        .await
        .expect(201);
    let solo = format!("/Groups/{}", solo.body["id"].as_str().unwrap());
    for id in users.iter().take(10) {
        let one = add_members(std::slice::from_ref(id));
        let (_, cost) = meter
            .request(&api, "PATCH", &solo, Some(one.clone()), 204)
            .await;
        samples.record(Op::AddOneMember, &cost, 1);
        let (_, cost) = meter.request(&api, "PATCH", &solo, Some(one), 204).await;
        samples.record(Op::ReAddMember, &cost, 1);
    }
    for id in users.iter().take(10) {
        let remove = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": id}]}]});
        let (_, cost) = meter.request(&api, "PATCH", &solo, Some(remove), 204).await;
        samples.record(Op::RemoveMember, &cost, 1);
    }

    // Users without reports (the last ones), each in MEMBERSHIPS groups.
    for id in users.iter().skip(USERS - 10) {
        let (_, cost) = meter
            .request(&api, "DELETE", &format!("/Users/{id}"), None, 204)
            .await;
        samples.record(Op::DeleteUser, &cost, 1);
    }
    for (id, _) in groups.iter().take(2) {
        let (_, cost) = meter
            .request(&api, "DELETE", &format!("/Groups/{id}"), None, 204)
            .await;
        samples.record(Op::DeleteGroup, &cost, 1);
    }

    // The request log: every record of the run, written as the recorder
    // writes a subscription batch (the SCIM requests' costs above leave it
    // out: it is not on their path).
    let mut written = Vec::new();
    while let Ok(record) = records.try_recv() {
        written.push(record);
    }
    meter.take();
    for batch in written.chunks(LOG_BATCH) {
        scim_serverless::store::ops::OpsStore::record_requests(&store, batch)
            .await
            .unwrap();
    }
    let log = meter.take();
    let request_log = LogCost {
        records: written.len(),
        write_units: log.write_units(),
        requests: log.request_count(),
        line_bytes: written.iter().map(|r| r.to_line().len()).sum(),
    };
    assert!(request_log.records > 0, "the run left no request records");

    let (table, dollars) = report(&samples, &request_log);
    println!("{table}");
    let mut over = Vec::new();
    for &(op, requests, write_units, read_units) in BUDGETS {
        let (r, w, rd) = samples.max(op);
        if r > requests || w > write_units || rd > read_units {
            over.push(format!(
                "{}: {r} requests, {w} WRU, {rd} RRU (budget {requests}, {write_units}, {read_units})",
                op.label()
            ));
        }
    }
    if dollars > SYNC_BUDGET_DOLLARS {
        over.push(format!(
            "the sync: ${dollars:.2} (budget ${SYNC_BUDGET_DOLLARS:.2})"
        ));
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}

/// The README's cost table: per operation (mean and worst sample), then the
/// 100,000-user sync priced from the means; and that sync's dollars.
fn report(samples: &Samples, log: &LogCost) -> (String, f64) {
    let mut out = String::from(
        "| operation | DynamoDB requests | write units | of which index | read units | worst write units |\n|---|---|---|---|---|---|\n",
    );
    for &(op, ..) in BUDGETS {
        let (r, w, rd) = samples.mean(op);
        let (_, worst, _) = samples.max(op);
        let index = samples.index_mean(op);
        out += &format!(
            "| {} | {r:.1} | {w:.1} | {index:.1} | {rd:.1} | {worst:.1} |\n",
            op.label()
        );
    }
    let (_, match_w, match_r) = samples.mean(Op::MatchGet);
    let (_, create_w, create_r) = samples.mean(Op::CreateWithManager);
    let (_, member_w, member_r) = samples.mean(Op::AddBatchPerMember);
    let memberships = MEMBERSHIPS as f64;
    let wru = SYNC_USERS * (match_w + create_w + memberships * member_w);
    let rru = SYNC_USERS * (match_r + create_r + memberships * member_r);
    let requests = SYNC_USERS * (2.0 + memberships / MEMBERS_PER_PATCH as f64);
    let dynamo =
        wru / 1e6 * DOLLARS_PER_MILLION_WRITE_UNITS + rru / 1e6 * DOLLARS_PER_MILLION_READ_UNITS;
    let gateway = requests / 1e6 * DOLLARS_PER_MILLION_HTTP_REQUESTS;
    let lambda = requests / 1e6 * DOLLARS_PER_MILLION_INVOCATIONS
        + requests * FUNCTION_MEMORY_GB * BILLED_SECONDS * DOLLARS_PER_GB_SECOND;
    let total = dynamo + gateway + lambda;
    out += &format!(
        "\nInitial Entra sync of {SYNC_USERS} users ({MEMBERSHIPS} memberships each, {MEMBERS_PER_PATCH} members per group PATCH):\n\
         | item | quantity | dollars |\n|---|---|---|\n\
         | DynamoDB write units | {wru:.0} | {:.2} |\n\
         | DynamoDB read units | {rru:.0} | {:.2} |\n\
         | API Gateway HTTP API requests | {requests:.0} | {gateway:.2} |\n\
         | Lambda ({} MB, {} ms each) | {requests:.0} | {lambda:.2} |\n\
         | **total** | | **{:.2}** |\n",
        wru / 1e6 * DOLLARS_PER_MILLION_WRITE_UNITS,
        rru / 1e6 * DOLLARS_PER_MILLION_READ_UNITS,
        FUNCTION_MEMORY_GB * 1024.0,
        BILLED_SECONDS * 1000.0,
        total,
    );
    let per_record = log.write_units / log.records as f64;
    let log_wru = requests * per_record;
    let log_dynamo = log_wru / 1e6 * DOLLARS_PER_MILLION_WRITE_UNITS;
    let batches = requests / LOG_BATCH as f64;
    let recorder = batches / 1e6 * DOLLARS_PER_MILLION_INVOCATIONS
        + batches * FUNCTION_MEMORY_GB * BILLED_SECONDS * DOLLARS_PER_GB_SECOND;
    let gigabytes = requests * (log.line_bytes as f64 / log.records as f64) / 1e9;
    let ingestion = gigabytes * DOLLARS_PER_INGESTED_GB;
    out += &format!(
        "\nIts request log, separately ({} records of the run written in {} DynamoDB requests, {per_record:.2} write units per record):\n\
         | item | quantity | dollars |\n|---|---|---|\n\
         | DynamoDB write units (records, pointers, activity) | {log_wru:.0} | {log_dynamo:.2} |\n\
         | `recorder` invocations ({LOG_BATCH} records each) | {batches:.0} | {recorder:.2} |\n\
         | CloudWatch Logs ingestion of the request lines (GB) | {gigabytes:.3} | {ingestion:.2} |\n\
         | **request log total** | | **{:.2}** |\n",
        log.records,
        log.requests,
        log_dynamo + recorder + ingestion,
    );
    (out, total)
}
