//! `scim-admin tenant migrate` on DynamoDB Local: a tenant as the release
//! before issue 13's layout wrote it (every item captured from that
//! release in `tests/fixtures/old-layout.json`: users with a manager, a
//! pending manager and two emails; groups nested and overlapping; an
//! ended membership's tombstone) is read through the API as it is,
//! migrated, and then read and changed through the API; a run cut short
//! is resumed; a second run changes nothing; a tenant purge, before or
//! after the migration, leaves nothing.
//!
//! The fixture is captured from that release by
//! `tests/capture_old_layout.rs` (how: see there).

mod common;

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use common::census;
use common::http_api::{Api, api};
use scim_serverless::api::Routes;
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::dynamo::{Migrated, MigrationProgress};
use scim_serverless::store::{DynamoStore, GroupCondition, Member, Record, Store};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// How many of the fixture's 6 resource items this release writes
/// otherwise: all (their documents are plain JSON, and they carry `id`,
/// `kind` and a resolved `mgr`).
const REWRITTEN: usize = 6;

/// Most write units migrating the fixture may take (as measured: 6
/// resource items rewritten, 10 markers and email items unindexed, 2
/// counters moved, 53 units; the census counts set in one transaction
/// over the 32 counter shards, 64).
const MIGRATION_WRITE_UNITS: f64 = 117.0;

type Item = HashMap<String, AttributeValue>;

/// A DynamoDB-JSON value as the SDK's.
fn attribute(v: &Value) -> AttributeValue {
    let (ty, v) = v.as_object().unwrap().iter().next().unwrap();
    let strings = || {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    match ty.as_str() {
        "S" => AttributeValue::S(v.as_str().unwrap().to_owned()),
        "N" => AttributeValue::N(v.as_str().unwrap().to_owned()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap()),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings()),
        "L" => AttributeValue::L(v.as_array().unwrap().iter().map(attribute).collect()),
        "M" => AttributeValue::M(
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect(),
        ),
        other => panic!("fixture attribute type {other}"),
    }
}

/// The fixture's ids, and its items written for `tenant`.
async fn write_old_layout(client: &Client, tenant: &TenantId) -> Value {
    let text = include_str!("fixtures/old-layout.json").replace("{tenant}", tenant.as_str());
    let fixture: Value = serde_json::from_str(&text).unwrap();
    for item in fixture["items"].as_array().unwrap() {
        let item: Item = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect();
        client
            .put_item()
            .table_name(common::TEST_TABLE)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    fixture
}

fn names(values: &Value, key: &str) -> BTreeSet<String> {
    values
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v[key].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What the migrated tenant must answer, read through the API.
async fn check_contents<R: Routes>(api: &Api<R>, fixture: &Value) {
    let user = |name: &str| fixture["users"][name].as_str().unwrap().to_owned();
    let group = |name: &str| fixture["groups"][name].as_str().unwrap().to_owned();
    let users = api.call("GET", "/Users", None).await.expect(200);
    assert_eq!(users.body["totalResults"], 4);
    let all: BTreeSet<String> = ["alice", "bob", "carol", "eve"].map(user).into();
    assert_eq!(users.ids().into_iter().collect::<BTreeSet<_>>(), all);
    let groups = api.call("GET", "/Groups", None).await.expect(200);
    assert_eq!(groups.body["totalResults"], 2);

    for (name, memberships) in [
        ("alice", vec!["Sales"]),
        ("bob", vec!["Sales", "All"]),
        ("carol", vec!["All"]),
        ("eve", vec![]),
    ] {
        let got = api
            .call("GET", &format!("/Users/{}", user(name)), None)
            .await
            .expect(200);
        let want: BTreeSet<String> = memberships.into_iter().map(group).collect();
        assert_eq!(names(&got.body["groups"], "value"), want, "{name}'s groups");
    }
    let sales = api
        .call("GET", &format!("/Groups/{}", group("Sales")), None)
        .await
        .expect(200);
    assert_eq!(
        names(&sales.body["members"], "value"),
        ["alice", "bob"].map(user).into()
    );
    let top = api
        .call("GET", &format!("/Groups/{}", group("All")), None)
        .await
        .expect(200);
    assert_eq!(
        names(&top.body["members"], "value"),
        [group("Sales"), user("carol"), user("bob")].into()
    );
    let bob = api
        .call("GET", &format!("/Users/{}", user("bob")), None)
        .await
        .expect(200);
    assert_eq!(
        bob.body[ENTERPRISE]["manager"]["value"],
        user("alice").as_str()
    );

    for (filter, want) in [
        (
            "/Users?filter=userName eq \"ALICE@x.example\"",
            user("alice"),
        ),
        ("/Users?filter=externalId eq \"ext-bob\"", user("bob")),
        (
            "/Users?filter=emails.value eq \"eve@home.example\"",
            user("eve"),
        ),
        ("/Groups?filter=displayName eq \"sales\"", group("Sales")),
    ] {
        let found = api.call("GET", filter, None).await.expect(200);
        assert_eq!(found.ids(), vec![want], "{filter}");
    }
    let of_bob = format!("/Groups?filter=members[value eq \"{}\"]", user("bob"));
    let found = api.call("GET", &of_bob, None).await.expect(200);
    assert_eq!(
        found.ids().into_iter().collect::<BTreeSet<_>>(),
        [group("Sales"), group("All")].into()
    );
}

/// The migrated tenant takes every kind of change.
async fn check_changes<R: Routes>(api: &Api<R>, fixture: &Value) {
    let user = |name: &str| fixture["users"][name].as_str().unwrap().to_owned();
    let group = |name: &str| fixture["groups"][name].as_str().unwrap().to_owned();
    let sales = format!("/Groups/{}", group("Sales"));
    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{}\"]", user("bob"))},
        {"op": "add", "path": "members", "value": [{"value": user("eve")}]},
    ]});
    api.call("PATCH", &sales, Some(patch)).await.expect(204);
    let bob = api
        .call("GET", &format!("/Users/{}", user("bob")), None)
        .await
        .expect(200);
    assert_eq!(names(&bob.body["groups"], "value"), [group("All")].into());
    let eve = api
        .call("GET", &format!("/Users/{}", user("eve")), None)
        .await
        .expect(200);
    assert_eq!(names(&eve.body["groups"], "value"), [group("Sales")].into());

    // Carol waits for dave@x.example as her manager: creating him links her.
    let dave = json!({"userName": "dave@x.example", "emails": [{"value": "dave@x.example", "type": "work"}]});
    let dave = api.call("POST", "/Users", Some(dave)).await.expect(201);
    let carol = api
        .call("GET", &format!("/Users/{}", user("carol")), None)
        .await
        .expect(200);
    assert_eq!(carol.body[ENTERPRISE]["manager"]["value"], dave.body["id"]);

    let taken = json!({"userName": "Alice@x.example"});
    api.call("POST", "/Users", Some(taken)).await.expect(409);
    api.call("DELETE", &format!("/Users/{}", user("alice")), None)
        .await
        .expect(204);
    let bob = api
        .call("GET", &format!("/Users/{}", user("bob")), None)
        .await
        .expect(200);
    // Deleting a manager leaves its reports with an unresolved reference.
    assert_eq!(
        bob.body[ENTERPRISE]["manager"],
        json!({"value": user("alice")}),
        "{}",
        bob.body
    );
    let sales = api.call("GET", &sales, None).await.expect(200);
    assert_eq!(names(&sales.body["members"], "value"), [user("eve")].into());
    let users = api.call("GET", "/Users", None).await.expect(200);
    assert_eq!(users.body["totalResults"], 4, "alice deleted, dave created");
    api.call("DELETE", &format!("/Groups/{}", group("All")), None)
        .await
        .expect(204);
    let groups = api.call("GET", "/Groups", None).await.expect(200);
    assert_eq!(groups.body["totalResults"], 1);
}

async fn migrate(store: &DynamoStore, tenant: &TenantId) -> Migrated {
    let mut reports = Vec::new();
    let migrated = store
        .migrate_tenant(tenant, |p| reports.push(p))
        .await
        .unwrap();
    assert!(!reports.is_empty(), "progress is reported");
    migrated
}

/// How many of the fixture's items are markers and email items.
fn indexed_keys(fixture: &Value) -> usize {
    fixture["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            let sk = i["sk"]["S"].as_str().unwrap();
            (sk == "K" || sk.starts_with("E#")) && i.get("gsi1pk").is_some()
        })
        .count()
}

/// The sum of the counter shards of a kind (`U` or `G`), and how many
/// counter items of that kind there are.
fn counted(items: &[Item], tag: &str) -> (usize, u64) {
    let counters: Vec<&Item> = items
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().ends_with("#C"))
        .filter(|i| i["sk"].as_s().unwrap().split('#').next() == Some(tag))
        .collect();
    let total = counters
        .iter()
        .map(|i| i["n"].as_n().unwrap().parse::<u64>().unwrap())
        .sum();
    (counters.len(), total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_of_the_old_layout_migrates_in_place() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let api = api(store.clone());
    let fixture = write_old_layout(store.client(), &api.tenant).await;
    let keys = indexed_keys(&fixture);
    assert_eq!(keys, 6 + 4, "6 markers, 4 email items in gsi1");
    // The current code reads the old layout as it is.
    check_contents(&api, &fixture).await;
    // That release kept no census counts: until the migration, none.
    let before = store.tenant_census(&api.tenant).await.unwrap();
    assert_eq!(before, census(4, 0, 2, 0));

    let first = migrate(&store, &api.tenant).await;
    assert_eq!(
        first,
        Migrated {
            users: 4,
            groups: 2,
            rewritten: REWRITTEN,
            counters_moved: 2,
            keys_unindexed: keys,
            census_set: true,
        }
    );
    // Sales: alice, bob; All: bob, carol, Sales (eve's edge is a tombstone).
    let after = store.tenant_census(&api.tenant).await.unwrap();
    assert_eq!(after, census(4, 0, 2, 5));
    let after_first = common::tenant_items(store.client(), common::TEST_TABLE, &api.tenant).await;
    for item in &after_first {
        let sk = item["sk"].as_s().unwrap();
        assert!(
            !item.contains_key("gsi1pk") || sk == "R" || sk == "N",
            "only resources and pending-manager counters stay in gsi1: {item:?}"
        );
        assert!(sk != "U" && sk != "G", "the single counters are gone");
    }
    assert_eq!(counted(&after_first, "U"), (1, 4), "one user shard: 4");
    assert_eq!(counted(&after_first, "G"), (1, 2), "one group shard: 2");
    // Every resource item is as the current code writes it: a second run
    // writes nothing.
    let again = migrate(&store, &api.tenant).await;
    assert_eq!(
        again,
        Migrated {
            users: 4,
            groups: 2,
            ..Migrated::default()
        },
        "a second run changes nothing"
    );
    assert_eq!(
        common::tenant_items(store.client(), common::TEST_TABLE, &api.tenant)
            .await
            .len(),
        after_first.len()
    );
    assert_eq!(store.tenant_census(&api.tenant).await.unwrap(), after);
    check_contents(&api, &fixture).await;
    check_changes(&api, &fixture).await;

    store.purge_tenant(&api.tenant, 1000).await.unwrap();
    assert_eq!(
        common::tenant_items(store.client(), common::TEST_TABLE, &api.tenant).await,
        Vec::<Item>::new(),
        "a purge finds every item"
    );
}

/// Creates during a migration count: one made after the users were listed
/// and before their old counter is moved (from the progress report, which
/// the migration awaits) is counted beside the moved count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_during_the_migration_is_counted() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let api = api(store.clone());
    write_old_layout(store.client(), &api.tenant).await;
    let runtime = tokio::runtime::Handle::current();
    let mut created = false;
    store
        .migrate_tenant(&api.tenant, |p| {
            if let MigrationProgress::Resources { .. } = p
                && !created
            {
                created = true;
                let frank = json!({"userName": "frank@x.example"});
                tokio::task::block_in_place(|| {
                    runtime.block_on(async {
                        api.call("POST", "/Users", Some(frank)).await.expect(201);
                    })
                });
            }
        })
        .await
        .unwrap();
    assert!(created);
    let users = api.call("GET", "/Users", None).await.expect(200);
    assert_eq!(users.body["totalResults"], 5);
    assert_eq!(users.ids().len(), 5);
}

/// A run cut short (here: by a panic in its progress report once the
/// users' counter is moved) is finished by the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_migration_cut_short_resumes() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let api = api(store.clone());
    let fixture = write_old_layout(store.client(), &api.tenant).await;
    let (cut, tenant) = (store.clone(), api.tenant.clone());
    let interrupted = tokio::spawn(async move {
        cut.migrate_tenant(&tenant, |p| {
            if matches!(p, MigrationProgress::CounterMoved { .. }) {
                panic!("cut short");
            }
        })
        .await
    })
    .await;
    assert!(interrupted.is_err(), "the first run was cut short");
    let items = common::tenant_items(store.client(), common::TEST_TABLE, &api.tenant).await;
    assert_eq!(counted(&items, "U"), (1, 4), "the users' counter moved");
    assert_eq!(counted(&items, "G").0, 1, "the groups' counter did not");
    assert!(items.iter().any(|i| i["sk"].as_s().unwrap() == "G"));

    let resumed = migrate(&store, &api.tenant).await;
    assert_eq!(resumed.counters_moved, 1, "the groups' counter");
    assert_eq!(resumed.keys_unindexed, indexed_keys(&fixture));
    let items = common::tenant_items(store.client(), common::TEST_TABLE, &api.tenant).await;
    assert_eq!(counted(&items, "G"), (1, 2));
    check_contents(&api, &fixture).await;
    check_changes(&api, &fixture).await;
}

/// A resource item not laid out as this release writes it (here: a
/// migrated one given an attribute it does not write) is rewritten,
/// keeping everything else (version, group list, writer, index keys); the
/// rewrite is not repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resource_item_of_another_layout_is_rewritten() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let api = api(store.clone());
    let fixture = write_old_layout(store.client(), &api.tenant).await;
    migrate(&store, &api.tenant).await;
    let bob = format!(
        "T#{}#U#{}",
        api.tenant,
        fixture["users"]["bob"].as_str().unwrap()
    );
    let read = || async {
        store
            .client()
            .get_item()
            .table_name(common::TEST_TABLE)
            .key("pk", AttributeValue::S(bob.clone()))
            .key("sk", AttributeValue::S("R".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item()
            .cloned()
            .unwrap()
    };
    let migrated = read().await;
    let mut stray = migrated.clone();
    stray.insert("legacy".into(), AttributeValue::S("x".into()));
    store
        .client()
        .put_item()
        .table_name(common::TEST_TABLE)
        .set_item(Some(stray))
        .send()
        .await
        .unwrap();

    assert_eq!(migrate(&store, &api.tenant).await.rewritten, 1);
    // The same item but for the stored document's `meta.lastModified`,
    // which the rewrite takes from `mod`.
    let rewritten = read().await;
    let without_document = |item: &Item| {
        let mut item = item.clone();
        item.remove("doc");
        item
    };
    assert_eq!(without_document(&rewritten), without_document(&migrated));
    assert_eq!(rewritten.len(), migrated.len());
    assert_eq!(migrate(&store, &api.tenant).await.rewritten, 0);
    check_contents(&api, &fixture).await;
}

/// What migrating the fixture's tenant costs, priced by the cost meter
/// (the README's upgrading section quotes it): at most its budget, and a
/// second run only reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_migration_costs() {
    let Some((store, meter)) = common::cost::metered_dynamo_store().await else {
        return;
    };
    let tenant = common::unique_tenant();
    write_old_layout(store.client(), &tenant).await;
    meter.take();
    migrate(&store, &tenant).await;
    let first = meter.take();
    migrate(&store, &tenant).await;
    let second = meter.take();
    eprintln!(
        "migrating 4 users and 2 groups: {} requests, {} write units ({} of them index), {} read units; again: {} requests, {} write units, {} read units",
        first.request_count(),
        first.write_units(),
        first.index_write_units,
        first.read_units,
        second.request_count(),
        second.write_units(),
        second.read_units,
    );
    assert!(first.write_units() <= MIGRATION_WRITE_UNITS, "{first:?}");
    assert_eq!(second.write_units(), 0.0, "{second:?}");
}

/// A tenant still in the old layout is purged completely: its markers,
/// email items and counters are found in their `gsi1` collections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_of_the_old_layout_is_purged_completely() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = common::unique_tenant();
    let fixture = write_old_layout(store.client(), &tenant).await;
    let mut deleted = 0;
    loop {
        let n = store.purge_tenant(&tenant, 7).await.unwrap();
        if n == 0 {
            break;
        }
        deleted += n;
    }
    // A marker may be deleted twice: listed in its old collection by one
    // page, derived from its group by the next.
    assert!(deleted >= fixture["items"].as_array().unwrap().len());
    assert_eq!(
        common::tenant_items(store.client(), common::TEST_TABLE, &tenant).await,
        Vec::<Item>::new()
    );
}

/// A tenant written by the release before the census counts, made here
/// by the current code and then stripped of them (`ni`, `nm`, `cv`): 3
/// users (2 inactive), 2 groups, 5 memberships.
async fn tenant_without_census(store: &DynamoStore) -> TenantId {
    let tenant = common::unique_tenant();
    let user = |id: &str, active: bool| {
        let doc = json!({"userName": format!("{id}@x.example"), "active": active});
        Record::new(ResourceKind::User, id, 1, doc)
    };
    let group = |id: &str| Record::new(ResourceKind::Group, id, 1, json!({"displayName": id}));
    let records = [
        user("u1", true),
        user("u2", false),
        user("u3", false),
        group("g1"),
        group("g2"),
    ];
    for r in &records {
        store.create(&tenant, r).await.unwrap();
    }
    let members = |rs: &[&Record]| rs.iter().map(|r| Member::of(r)).collect::<Vec<_>>();
    let exists = GroupCondition::Exists { seen: 1 };
    let g1_members = members(&[&records[0], &records[1], &records[2]]);
    store
        .add_members(&tenant, "g1", exists, &g1_members)
        .await
        .unwrap();
    let g1 = store
        .get(&tenant, ResourceKind::Group, "g1")
        .await
        .unwrap()
        .unwrap();
    let g2_members = members(&[&records[0], &g1]);
    store
        .add_members(&tenant, "g2", exists, &g2_members)
        .await
        .unwrap();
    assert_eq!(
        store.tenant_census(&tenant).await.unwrap(),
        census(3, 2, 2, 5)
    );
    for item in common::tenant_items(store.client(), common::TEST_TABLE, &tenant).await {
        if !item["pk"].as_s().unwrap().ends_with("#C") {
            continue;
        }
        store
            .client()
            .update_item()
            .table_name(common::TEST_TABLE)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("REMOVE ni, nm, cv")
            .send()
            .await
            .unwrap();
    }
    tenant
}

/// Flips user `id`'s `active`.
async fn flip(store: &DynamoStore, tenant: &TenantId, id: &str) {
    let current = store
        .get(tenant, ResourceKind::User, id)
        .await
        .unwrap()
        .unwrap();
    let mut next = current.clone();
    next.version += 1;
    next.document["active"] = json!(current.is_inactive());
    store.replace(tenant, &current, &next).await.unwrap();
}

/// Before the migration, a tenant's census counts only the changes since
/// the upgrade; the migration counts them from the resources, and a
/// second run finds them right.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_migration_sets_the_census_counts() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = tenant_without_census(&store).await;
    flip(&store, &tenant, "u1").await;
    assert_eq!(
        store.tenant_census(&tenant).await.unwrap(),
        census(3, 1, 2, 0),
        "only the flip since the upgrade"
    );
    let first = migrate(&store, &tenant).await;
    assert!(first.census_set);
    assert_eq!(
        store.tenant_census(&tenant).await.unwrap(),
        census(3, 3, 2, 5)
    );
    let again = migrate(&store, &tenant).await;
    assert!(!again.census_set, "a second run finds them right");
    flip(&store, &tenant, "u2").await;
    assert_eq!(
        store.tenant_census(&tenant).await.unwrap(),
        census(3, 2, 2, 5)
    );
}

/// A flip while the migration counts (made from its progress report,
/// after the users were counted) fails its conditional write: it counts
/// again and ends exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flip_during_the_migration_is_counted() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let tenant = tenant_without_census(&store).await;
    let runtime = tokio::runtime::Handle::current();
    let mut counts = Vec::new();
    let mut flipped = false;
    store
        .migrate_tenant(&tenant, |p| {
            if let MigrationProgress::Resources {
                kind: ResourceKind::User,
                ..
            } = p
                && !flipped
            {
                flipped = true;
                tokio::task::block_in_place(|| runtime.block_on(flip(&store, &tenant, "u2")));
            }
            if let MigrationProgress::Census { inactive_users, .. } = p {
                counts.push(inactive_users);
            }
        })
        .await
        .unwrap();
    assert_eq!(counts, [1], "counted once, after the flip");
    assert_eq!(
        store.tenant_census(&tenant).await.unwrap(),
        census(3, 1, 2, 5)
    );
}
