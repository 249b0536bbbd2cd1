//! The storage contract: the same cases against the embedded store and
//! DynamoDB Local, so both adapters behave identically.

mod common;

use common::census;

use std::sync::Arc;

use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{
    Census, GroupCondition, Lookup, MAX_INDEXED_EMAILS, MEMBERS_PER_TRANSACTION, ManagerLink,
    Member, MemoryStore, Record, Store, StoreError, TenantCensus, UniqueKey,
};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

fn user(id: &str, user_name: &str, version: u64) -> Record {
    Record {
        kind: ResourceKind::User,
        id: id.to_owned(),
        version,
        document: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": id,
            "userName": user_name,
            "emails": [{"value": user_name, "type": "work"}],
        }),
        manager: None,
        groups: Vec::new(),
    }
}

fn group(id: &str, name: &str) -> Record {
    Record::new(
        ResourceKind::Group,
        id.to_owned(),
        1,
        json!({"id": id, "displayName": name}),
    )
}

/// A user with an optional `externalId`, any email addresses and an
/// optional manager reference.
fn person(
    id: &str,
    external_id: Option<&str>,
    emails: &[&str],
    manager: Option<ManagerLink>,
) -> Record {
    let mut document = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": format!("{id}@people.test"),
        "emails": emails.iter().map(|e| json!({"value": e})).collect::<Vec<_>>(),
    });
    if let Some(external_id) = external_id {
        document["externalId"] = json!(external_id);
    }
    let mut record = Record::new(ResourceKind::User, id, 1, document);
    record.manager = manager;
    record
}

fn resolved(id: &str) -> Option<ManagerLink> {
    Some(ManagerLink::Resolved(id.to_owned()))
}

fn pending(raw: &str) -> Option<ManagerLink> {
    Some(ManagerLink::Pending(raw.to_owned()))
}

/// The next version of `record`, changed by `change`.
fn changed(record: &Record, change: impl FnOnce(&mut Record)) -> Record {
    let mut next = record.clone();
    next.version += 1;
    change(&mut next);
    next
}

fn with_emails(record: &Record, emails: &[&str]) -> Record {
    changed(record, |r| {
        r.document["emails"] = emails.iter().map(|e| json!({"value": e})).collect();
    })
}

fn with_manager(record: &Record, manager: Option<ManagerLink>) -> Record {
    changed(record, |r| r.manager = manager)
}

/// The ids `find` returns, in its order.
async fn found(
    store: &impl Store,
    t: &TenantId,
    kind: ResourceKind,
    lookup: Lookup,
) -> Vec<String> {
    store
        .find(t, kind, &lookup)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn external(v: &str) -> Lookup {
    Lookup::ExternalId(v.to_owned())
}

fn email(v: &str) -> Lookup {
    Lookup::Email(v.to_owned())
}

fn reports(id: &str) -> Lookup {
    Lookup::DirectReports(id.to_owned())
}

fn pending_of(raw: &str) -> Lookup {
    Lookup::PendingManager(raw.to_owned())
}

fn renamed(record: &Record, user_name: &str) -> Record {
    let mut next = record.clone();
    next.version += 1;
    next.document["userName"] = json!(user_name);
    next
}

async fn create_then_get_round_trips(store: &impl Store) {
    let t = common::unique_tenant();
    let alice = user("u1", "Alice@Example.com", 1);
    store.create(&t, &alice).await.unwrap();
    assert_eq!(
        store.get(&t, ResourceKind::User, "u1").await.unwrap(),
        Some(alice)
    );
    assert_eq!(store.get(&t, ResourceKind::User, "u2").await.unwrap(), None);
    assert_eq!(
        store.get(&t, ResourceKind::Group, "u1").await.unwrap(),
        None,
        "a user id is not a group id"
    );
}

async fn tenants_are_isolated(store: &impl Store) {
    let a = common::unique_tenant();
    let b = common::unique_tenant();
    store.create(&a, &user("u1", "bob@x.com", 1)).await.unwrap();
    assert_eq!(store.get(&b, ResourceKind::User, "u1").await.unwrap(), None);
    let key = UniqueKey::UserName("bob@x.com".into());
    assert_eq!(store.find_unique(&b, &key).await.unwrap(), None);
    // The same userName and even the same id are free in another tenant.
    store.create(&b, &user("u1", "bob@x.com", 1)).await.unwrap();
    let other = user("u1", "bob@x.com", 1);
    assert_eq!(store.delete(&b, &other).await, Ok(()));
    assert!(
        store
            .get(&a, ResourceKind::User, "u1")
            .await
            .unwrap()
            .is_some()
    );
}

async fn user_name_is_unique_case_insensitively(store: &impl Store) {
    let t = common::unique_tenant();
    store
        .create(&t, &user("u1", "Carol@X.com", 1))
        .await
        .unwrap();
    let err = store
        .create(&t, &user("u2", "carol@x.COM", 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict(Some(UniqueKey::UserName("carol@x.com".into())))
    );
    assert_eq!(
        store.get(&t, ResourceKind::User, "u2").await.unwrap(),
        None,
        "nothing half-written"
    );
    let err = store
        .create(&t, &user("u1", "other@x.com", 1))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(None), "duplicate id");
    assert_eq!(
        store
            .find_unique(&t, &UniqueKey::UserName("other@x.com".into()))
            .await
            .unwrap(),
        None,
        "the failed create left no marker"
    );
    // Groups have their own namespace.
    store.create(&t, &group("g1", "carol@x.com")).await.unwrap();
    let err = store
        .create(&t, &group("g2", "CAROL@x.com"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict(Some(UniqueKey::GroupDisplayName("carol@x.com".into())))
    );
}

async fn replace_is_conditional_on_the_version(store: &impl Store) {
    let t = common::unique_tenant();
    let v1 = user("u1", "dave@x.com", 1);
    store.create(&t, &v1).await.unwrap();
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.document["title"] = json!("Engineer");
    store.replace(&t, &v1, &v2).await.unwrap();
    assert_eq!(
        store.get(&t, ResourceKind::User, "u1").await.unwrap(),
        Some(v2.clone())
    );
    let mut stale = v1.clone();
    stale.version = 2;
    stale.document["title"] = json!("Lost update");
    assert_eq!(
        store.replace(&t, &v1, &stale).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(
        store.get(&t, ResourceKind::User, "u1").await.unwrap(),
        Some(v2)
    );
    let ghost = user("nope", "ghost@x.com", 1);
    assert_eq!(
        store.replace(&t, &ghost, &renamed(&ghost, "g@x.com")).await,
        Err(StoreError::NotFound)
    );
}

async fn rename_moves_the_unique_key_atomically(store: &impl Store) {
    let t = common::unique_tenant();
    let erin = user("u1", "erin@x.com", 1);
    let frank = user("u2", "frank@x.com", 1);
    store.create(&t, &erin).await.unwrap();
    store.create(&t, &frank).await.unwrap();
    // Renaming onto a taken name fails and changes nothing.
    let clash = renamed(&erin, "FRANK@x.com");
    assert_eq!(
        store.replace(&t, &erin, &clash).await,
        Err(StoreError::Conflict(Some(UniqueKey::UserName(
            "frank@x.com".into()
        ))))
    );
    assert_eq!(
        store.get(&t, ResourceKind::User, "u1").await.unwrap(),
        Some(erin.clone())
    );
    let erin_key = UniqueKey::UserName("erin@x.com".into());
    assert_eq!(
        store.find_unique(&t, &erin_key).await.unwrap().as_deref(),
        Some("u1")
    );
    // A free name moves the marker: the old name is released.
    let moved = renamed(&erin, "erin.new@x.com");
    store.replace(&t, &erin, &moved).await.unwrap();
    assert_eq!(store.find_unique(&t, &erin_key).await.unwrap(), None);
    let new_key = UniqueKey::UserName("erin.new@x.com".into());
    assert_eq!(
        store.find_unique(&t, &new_key).await.unwrap().as_deref(),
        Some("u1")
    );
    store
        .create(&t, &user("u3", "erin@x.com", 1))
        .await
        .unwrap();
    // A change of case only keeps the same marker.
    let recased = renamed(&moved, "ERIN.NEW@x.com");
    store.replace(&t, &moved, &recased).await.unwrap();
    assert_eq!(
        store.find_unique(&t, &new_key).await.unwrap().as_deref(),
        Some("u1")
    );
}

async fn delete_is_conditional_and_releases_keys(store: &impl Store) {
    let t = common::unique_tenant();
    let v1 = user("u1", "gina@x.com", 1);
    store.create(&t, &v1).await.unwrap();
    let v2 = renamed(&v1, "gina@x.com");
    store.replace(&t, &v1, &v2).await.unwrap();
    assert_eq!(
        store.delete(&t, &v1).await,
        Err(StoreError::VersionMismatch)
    );
    assert!(
        store
            .get(&t, ResourceKind::User, "u1")
            .await
            .unwrap()
            .is_some()
    );
    store.delete(&t, &v2).await.unwrap();
    assert_eq!(store.get(&t, ResourceKind::User, "u1").await.unwrap(), None);
    assert_eq!(store.delete(&t, &v2).await, Err(StoreError::NotFound));
    let key = UniqueKey::UserName("gina@x.com".into());
    assert_eq!(store.find_unique(&t, &key).await.unwrap(), None);
    store
        .create(&t, &user("u9", "gina@x.com", 1))
        .await
        .unwrap();
}

/// Read-modify-write with retry on a lost race, as the API does.
async fn append_tag<S: Store>(store: &S, t: &TenantId, tag: String) -> u32 {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = store
            .get(t, ResourceKind::User, "u1")
            .await
            .unwrap()
            .unwrap();
        let mut next = current.clone();
        next.version += 1;
        let tags = next.document["tags"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut tags: Vec<Value> = tags;
        tags.push(json!(tag));
        next.document["tags"] = Value::Array(tags);
        match store.replace(t, &current, &next).await {
            Ok(()) => return attempts,
            Err(StoreError::VersionMismatch) => continue,
            Err(e) => panic!("unexpected {e}"),
        }
    }
}

async fn concurrent_writers_never_lose_an_update<S: Store + Clone>(store: &S) {
    let t = common::unique_tenant();
    store.create(&t, &user("u1", "hal@x.com", 1)).await.unwrap();
    let store = Arc::new(store.clone());
    let writers = 12;
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let store = store.clone();
            let t = t.clone();
            tokio::spawn(async move { append_tag(&*store, &t, format!("w{i}")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let last = store
        .get(&t, ResourceKind::User, "u1")
        .await
        .unwrap()
        .unwrap();
    let mut tags: Vec<String> = last.document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    let mut want: Vec<String> = (0..writers).map(|i| format!("w{i}")).collect();
    want.sort();
    assert_eq!(tags, want);
    assert_eq!(last.version, 1 + writers as u64);
}

/// Fills `doomed` with users (with externalId, emails, manager links), a
/// group and their markers, and `kept` with one user.
async fn fill_tenants_for_purge(store: &impl Store, doomed: &TenantId, kept: &TenantId) {
    for i in 0..7 {
        let mut r = user(&format!("u{i}"), &format!("user{i}@x.com"), 1);
        r.document["externalId"] = json!(format!("ext{i}"));
        r.document["emails"] = json!([
            {"value": format!("user{i}@x.com")},
            {"value": format!("home{i}@x.com")},
        ]);
        r.manager = if i % 2 == 0 {
            Some(ManagerLink::Resolved("u1".into()))
        } else {
            Some(ManagerLink::Pending("boss@x.com".into()))
        };
        store.create(doomed, &r).await.unwrap();
    }
    store.create(doomed, &group("g1", "Sales")).await.unwrap();
    let mut k = user("u0", "user0@x.com", 1);
    k.document["externalId"] = json!("ext0");
    k.manager = Some(ManagerLink::Resolved("u1".into()));
    store.create(kept, &k).await.unwrap();
}

/// Purges `tenant` `limit` items at a time; returns the page sizes.
async fn purge_in_pages(store: &impl Store, tenant: &TenantId, limit: usize) -> Vec<usize> {
    let mut pages = Vec::new();
    loop {
        let deleted = store.purge_tenant(tenant, limit).await.unwrap();
        if deleted == 0 {
            return pages;
        }
        assert!(deleted <= limit, "{deleted} > {limit}");
        pages.push(deleted);
        assert!(pages.len() < 100, "purge does not end: {pages:?}");
    }
}

/// A purged tenant lists no user and no group.
async fn assert_lists_empty(store: &impl Store, tenant: &TenantId) {
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let page = store.list(tenant, kind, None, 10).await.unwrap();
        assert!(page.records.is_empty(), "{kind:?} left");
    }
}

async fn purging_a_tenant_deletes_its_items_in_pages_and_nothing_else(store: &impl Store) {
    let doomed = common::unique_tenant();
    let kept = common::unique_tenant();
    fill_tenants_for_purge(store, &doomed, &kept).await;
    // 8 resources and 8 markers at least (an adapter may keep more items:
    // lookups, counters), deleted 5 at a time.
    let pages = purge_in_pages(store, &doomed, 5).await;
    assert!(pages.iter().sum::<usize>() >= 16, "{pages:?}");
    assert_eq!(
        store.purge_tenant(&doomed, 5).await.unwrap(),
        0,
        "stays empty"
    );
    let (u, g) = (ResourceKind::User, ResourceKind::Group);
    for i in 0..7 {
        let id = format!("u{i}");
        assert_eq!(store.get(&doomed, u, &id).await.unwrap(), None);
        let key = UniqueKey::UserName(format!("user{i}@x.com"));
        assert_eq!(store.find_unique(&doomed, &key).await.unwrap(), None);
        for lookup in [
            external(&format!("ext{i}")),
            email(&format!("user{i}@x.com")),
            email(&format!("home{i}@x.com")),
        ] {
            assert!(found(store, &doomed, u, lookup).await.is_empty());
        }
    }
    assert!(found(store, &doomed, u, reports("u1")).await.is_empty());
    assert!(
        found(store, &doomed, u, pending_of("boss@x.com"))
            .await
            .is_empty()
    );
    assert_eq!(store.get(&doomed, g, "g1").await.unwrap(), None);
    let group_key = UniqueKey::GroupDisplayName("sales".into());
    assert_eq!(store.find_unique(&doomed, &group_key).await.unwrap(), None);
    assert_lists_empty(store, &doomed).await;
    assert_eq!(store.id_at(&doomed, u, 1).await.unwrap(), None);
    assert_eq!(
        store.count(&doomed, u).await.unwrap().total,
        0,
        "counter purged"
    );
    assert_eq!(
        store.count(&doomed, g).await.unwrap().total,
        0,
        "counter purged"
    );

    // The other tenant is untouched.
    assert!(store.get(&kept, u, "u0").await.unwrap().is_some());
    let kept_key = UniqueKey::UserName("user0@x.com".into());
    assert_eq!(
        store
            .find_unique(&kept, &kept_key)
            .await
            .unwrap()
            .as_deref(),
        Some("u0")
    );
    assert_eq!(found(store, &kept, u, email("user0@x.com")).await, ["u0"]);
    assert_eq!(found(store, &kept, u, external("ext0")).await, ["u0"]);
    assert_eq!(found(store, &kept, u, reports("u1")).await, ["u0"]);
    assert_eq!(store.count(&kept, u).await.unwrap().total, 1);

    // The tenant's names are free again, and its counter starts over.
    store
        .create(&doomed, &user("u0", "user0@x.com", 1))
        .await
        .unwrap();
    assert_eq!(store.count(&doomed, u).await.unwrap().total, 1);
    assert_eq!(store.count(&doomed, g).await.unwrap().total, 0);
    assert_eq!(found(store, &doomed, u, email("user0@x.com")).await, ["u0"]);
    assert!(found(store, &doomed, u, external("ext0")).await.is_empty());
}

async fn find_by_external_id_is_exact_and_per_kind(store: &impl Store) {
    let t = common::unique_tenant();
    let u1 = person("u1", Some("Ext-1"), &[], None);
    let u2 = person("u2", Some("ext-1"), &[], None);
    let u3 = person("u3", None, &[], None);
    // externalId is not unique: both are found, in id order.
    let u5 = person("u5", Some("shared"), &[], None);
    let u4 = person("u4", Some("shared"), &[], None);
    for r in [&u1, &u2, &u3, &u5, &u4] {
        store.create(&t, r).await.unwrap();
    }
    let mut g1 = group("g1", "Sales");
    g1.document["externalId"] = json!("Ext-1");
    store.create(&t, &g1).await.unwrap();

    let user = ResourceKind::User;
    let grp = ResourceKind::Group;
    assert_eq!(
        store.find(&t, user, &external("Ext-1")).await.unwrap(),
        vec![u1.clone()],
        "the whole record is returned"
    );
    assert_eq!(found(store, &t, user, external("ext-1")).await, ["u2"]);
    assert!(
        found(store, &t, user, external("EXT-1")).await.is_empty(),
        "externalId is case-exact"
    );
    assert!(found(store, &t, user, external("Ext")).await.is_empty());
    assert!(found(store, &t, user, external("")).await.is_empty());
    assert_eq!(
        found(store, &t, user, external("shared")).await,
        ["u4", "u5"]
    );
    // Groups and users have separate externalId namespaces.
    assert_eq!(
        store.find(&t, grp, &external("Ext-1")).await.unwrap(),
        vec![g1.clone()]
    );
    assert!(found(store, &t, grp, external("ext-1")).await.is_empty());
    assert!(found(store, &t, grp, external("shared")).await.is_empty());

    // A changed externalId is found under the new value only.
    let u1v2 = changed(&u1, |r| r.document["externalId"] = json!("Ext-2"));
    store.replace(&t, &u1, &u1v2).await.unwrap();
    assert!(found(store, &t, user, external("Ext-1")).await.is_empty());
    assert_eq!(
        store.find(&t, user, &external("Ext-2")).await.unwrap(),
        vec![u1v2.clone()]
    );
    // A removed externalId is found no more.
    let u1v3 = changed(&u1v2, |r| {
        r.document.as_object_mut().unwrap().remove("externalId");
    });
    store.replace(&t, &u1v2, &u1v3).await.unwrap();
    assert!(found(store, &t, user, external("Ext-2")).await.is_empty());
    // A deleted resource is found no more.
    store.delete(&t, &u2).await.unwrap();
    assert!(found(store, &t, user, external("ext-1")).await.is_empty());
    store.delete(&t, &g1).await.unwrap();
    assert!(found(store, &t, grp, external("Ext-1")).await.is_empty());
    assert_eq!(
        found(store, &t, user, external("shared")).await,
        ["u4", "u5"]
    );
}

async fn find_by_email_matches_any_address_in_any_case(store: &impl Store) {
    let t = common::unique_tenant();
    let user = ResourceKind::User;
    let u3 = person("u3", None, &["Ann@example.COM"], None);
    let u1 = person(
        "u1",
        None,
        &["Ann@Example.com", "ann.work@example.com"],
        None,
    );
    let u2 = person("u2", None, &["bob@x.com"], None);
    // The same address twice (in two cases) is one key.
    let u4 = person("u4", None, &["Dup@x.com", "dup@X.COM", "other@x.com"], None);
    let u5 = person("u5", None, &[], None);
    for r in [&u3, &u1, &u2, &u4, &u5] {
        store.create(&t, r).await.unwrap();
    }
    assert_eq!(
        store
            .find(&t, user, &email("ann@example.com"))
            .await
            .unwrap(),
        vec![u1.clone(), u3.clone()],
        "every holder, in id order, whole records"
    );
    assert_eq!(
        found(store, &t, user, email("ANN@EXAMPLE.COM")).await,
        ["u1", "u3"]
    );
    assert_eq!(
        found(store, &t, user, email("Ann.Work@Example.com")).await,
        ["u1"],
        "the second address finds the user too"
    );
    assert_eq!(found(store, &t, user, email("DUP@x.com")).await, ["u4"]);
    assert_eq!(found(store, &t, user, email("other@x.com")).await, ["u4"]);
    assert!(
        found(store, &t, user, email("nobody@x.com"))
            .await
            .is_empty()
    );
    assert!(found(store, &t, user, email("ann")).await.is_empty());
    // userName is not an email address.
    assert!(
        found(store, &t, user, email("u5@people.test"))
            .await
            .is_empty()
    );

    // A replace that changes the addresses moves the lookups.
    let u1v2 = with_emails(&u1, &["ann.new@example.com", "ANN.WORK@example.com"]);
    store.replace(&t, &u1, &u1v2).await.unwrap();
    assert_eq!(
        found(store, &t, user, email("ann@example.com")).await,
        ["u3"],
        "the old address no longer finds u1"
    );
    assert_eq!(
        store
            .find(&t, user, &email("Ann.New@example.com"))
            .await
            .unwrap(),
        vec![u1v2.clone()]
    );
    assert_eq!(
        store
            .find(&t, user, &email("ann.work@example.com"))
            .await
            .unwrap(),
        vec![u1v2.clone()],
        "a kept address finds the new version"
    );
    // A change of case only keeps the address.
    let u2v2 = with_emails(&u2, &["BOB@X.com"]);
    store.replace(&t, &u2, &u2v2).await.unwrap();
    assert_eq!(found(store, &t, user, email("bob@x.com")).await, ["u2"]);
    // Removing every address removes every lookup.
    let u4v2 = with_emails(&u4, &[]);
    store.replace(&t, &u4, &u4v2).await.unwrap();
    assert!(found(store, &t, user, email("dup@x.com")).await.is_empty());
    assert!(
        found(store, &t, user, email("other@x.com"))
            .await
            .is_empty()
    );
    // Adding addresses to a user that had none.
    let u5v2 = with_emails(&u5, &["Eve@x.com"]);
    store.replace(&t, &u5, &u5v2).await.unwrap();
    assert_eq!(found(store, &t, user, email("eve@X.com")).await, ["u5"]);
    // A failed replace leaves the lookups as they were.
    let stale = with_emails(&u5, &["mallory@x.com"]);
    assert_eq!(
        store.replace(&t, &u5, &stale).await,
        Err(StoreError::VersionMismatch)
    );
    assert!(
        found(store, &t, user, email("mallory@x.com"))
            .await
            .is_empty()
    );
    assert_eq!(found(store, &t, user, email("eve@x.com")).await, ["u5"]);
    // A deleted user is not found.
    store.delete(&t, &u3).await.unwrap();
    assert!(
        found(store, &t, user, email("ann@example.com"))
            .await
            .is_empty()
    );
    // Groups are not found by email, even one with a user's id.
    let mut g = group("u1", "Ann's group");
    g.document["emails"] = json!([{"value": "ann.work@example.com"}]);
    store.create(&t, &g).await.unwrap();
    assert!(
        found(
            store,
            &t,
            ResourceKind::Group,
            email("ann.work@example.com")
        )
        .await
        .is_empty()
    );
    assert_eq!(
        found(store, &t, user, email("ann.work@example.com")).await,
        ["u1"]
    );
}

async fn only_the_first_emails_are_indexed(store: &impl Store) {
    let t = common::unique_tenant();
    let addresses: Vec<String> = (0..=MAX_INDEXED_EMAILS)
        .map(|i| format!("a{i:02}@x.com"))
        .collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    store
        .create(&t, &person("u1", None, &refs, None))
        .await
        .unwrap();
    let user = ResourceKind::User;
    assert_eq!(found(store, &t, user, email(&addresses[0])).await, ["u1"]);
    let last_indexed = &addresses[MAX_INDEXED_EMAILS - 1];
    assert_eq!(found(store, &t, user, email(last_indexed)).await, ["u1"]);
    let beyond = &addresses[MAX_INDEXED_EMAILS];
    assert!(found(store, &t, user, email(beyond)).await.is_empty());
}

async fn find_direct_reports_and_pending_managers(store: &impl Store) {
    let t = common::unique_tenant();
    let user = ResourceKind::User;
    let m1 = person("m1", None, &[], None);
    let m2 = person("m2", None, &[], None);
    let r2 = person("r2", None, &[], resolved("m1"));
    let r1 = person("r1", None, &[], resolved("m1"));
    let r3 = person("r3", None, &[], resolved("m2"));
    let p2 = person("p2", None, &[], pending("boss@example.com"));
    let p1 = person("p1", None, &[], pending("Boss@Example.com"));
    let p3 = person("p3", None, &[], pending("other"));
    // A pending reference whose value happens to be an id.
    let p4 = person("p4", None, &[], pending("m1"));
    for r in [&m1, &m2, &r2, &r1, &r3, &p2, &p1, &p3, &p4] {
        store.create(&t, r).await.unwrap();
    }
    assert_eq!(
        store.get(&t, user, "p1").await.unwrap(),
        Some(p1.clone()),
        "the manager link round-trips"
    );
    assert_eq!(
        store.find(&t, user, &reports("m1")).await.unwrap(),
        vec![r1.clone(), r2.clone()],
        "whole records with their manager link, in id order"
    );
    assert_eq!(found(store, &t, user, reports("m2")).await, ["r3"]);
    assert!(
        found(store, &t, user, reports("M1")).await.is_empty(),
        "ids are exact"
    );
    assert!(found(store, &t, user, reports("r1")).await.is_empty());
    assert!(
        found(store, &t, user, reports("Boss@Example.com"))
            .await
            .is_empty(),
        "a pending reference is not a resolved one"
    );
    assert_eq!(
        store
            .find(&t, user, &pending_of("BOSS@example.COM"))
            .await
            .unwrap(),
        vec![p1.clone(), p2.clone()],
        "any case; the value is kept as sent"
    );
    assert_eq!(found(store, &t, user, pending_of("OTHER")).await, ["p3"]);
    assert_eq!(
        found(store, &t, user, pending_of("m1")).await,
        ["p4"],
        "a resolved reference is not a pending one"
    );
    assert!(found(store, &t, user, pending_of("boss")).await.is_empty());
    // Groups have no manager.
    let grp = ResourceKind::Group;
    store.create(&t, &group("g1", "Team")).await.unwrap();
    assert!(found(store, &t, grp, reports("m1")).await.is_empty());
    assert!(
        found(store, &t, grp, pending_of("boss@example.com"))
            .await
            .is_empty()
    );
    // Deleting a report removes it; deleting the manager does not rewrite
    // the reports (the API resolves that).
    store.delete(&t, &r2).await.unwrap();
    assert_eq!(found(store, &t, user, reports("m1")).await, ["r1"]);
    store.delete(&t, &p2).await.unwrap();
    assert_eq!(
        found(store, &t, user, pending_of("boss@example.com")).await,
        ["p1"]
    );
    store.delete(&t, &m2).await.unwrap();
    assert_eq!(found(store, &t, user, reports("m2")).await, ["r3"]);
}

async fn changing_the_manager_moves_the_user_between_lookups(store: &impl Store) {
    let t = common::unique_tenant();
    let user = ResourceKind::User;
    let r1 = person("r1", None, &[], pending("Boss@x.com"));
    store.create(&t, &r1).await.unwrap();
    assert_eq!(
        found(store, &t, user, pending_of("boss@x.com")).await,
        ["r1"]
    );

    // The manager is provisioned: the pending reference is resolved.
    store
        .create(&t, &person("m1", None, &["boss@x.com"], None))
        .await
        .unwrap();
    let v2 = with_manager(&r1, resolved("m1"));
    store.replace(&t, &r1, &v2).await.unwrap();
    assert!(
        found(store, &t, user, pending_of("boss@x.com"))
            .await
            .is_empty()
    );
    assert_eq!(
        store.find(&t, user, &reports("m1")).await.unwrap(),
        vec![v2.clone()]
    );
    assert_eq!(store.get(&t, user, "r1").await.unwrap(), Some(v2.clone()));

    // Another manager.
    let v3 = with_manager(&v2, resolved("m2"));
    store.replace(&t, &v2, &v3).await.unwrap();
    assert!(found(store, &t, user, reports("m1")).await.is_empty());
    assert_eq!(found(store, &t, user, reports("m2")).await, ["r1"]);

    // A failed replace does not move the user.
    let stale = with_manager(&v2, resolved("m3"));
    assert_eq!(
        store.replace(&t, &v2, &stale).await,
        Err(StoreError::VersionMismatch)
    );
    assert!(found(store, &t, user, reports("m3")).await.is_empty());
    assert_eq!(found(store, &t, user, reports("m2")).await, ["r1"]);

    // No manager.
    let v4 = with_manager(&v3, None);
    store.replace(&t, &v3, &v4).await.unwrap();
    assert!(found(store, &t, user, reports("m2")).await.is_empty());
    assert_eq!(
        store.get(&t, user, "r1").await.unwrap().unwrap().manager,
        None
    );

    // Back to a pending reference, then deleted.
    let v5 = with_manager(&v4, pending("Later@x.com"));
    store.replace(&t, &v4, &v5).await.unwrap();
    assert_eq!(
        found(store, &t, user, pending_of("later@X.com")).await,
        ["r1"]
    );
    assert!(
        found(store, &t, user, pending_of("boss@x.com"))
            .await
            .is_empty()
    );
    store.delete(&t, &v5).await.unwrap();
    assert!(
        found(store, &t, user, pending_of("later@x.com"))
            .await
            .is_empty()
    );
}

async fn lookups_are_per_tenant(store: &impl Store) {
    let a = common::unique_tenant();
    let b = common::unique_tenant();
    let user = ResourceKind::User;
    let in_a = person("u1", Some("e1"), &["x@x.com"], resolved("m1"));
    let pending_in_a = person("u2", Some("e2"), &[], pending("boss"));
    store.create(&a, &in_a).await.unwrap();
    store.create(&a, &pending_in_a).await.unwrap();
    let lookups = [
        external("e1"),
        email("x@x.com"),
        reports("m1"),
        pending_of("boss"),
    ];
    for lookup in &lookups {
        assert!(
            store.find(&b, user, lookup).await.unwrap().is_empty(),
            "{lookup:?} crossed tenants"
        );
    }
    // The same values in the other tenant find only that tenant's users.
    let mut in_b = person("u1", Some("e1"), &["x@x.com"], resolved("m1"));
    in_b.document["title"] = json!("in b");
    let mut pending_in_b = person("u2", Some("e2"), &[], pending("boss"));
    pending_in_b.document["title"] = json!("in b");
    store.create(&b, &in_b).await.unwrap();
    store.create(&b, &pending_in_b).await.unwrap();
    for (lookup, want_a, want_b) in [
        (&lookups[0], &in_a, &in_b),
        (&lookups[1], &in_a, &in_b),
        (&lookups[2], &in_a, &in_b),
        (&lookups[3], &pending_in_a, &pending_in_b),
    ] {
        assert_eq!(
            store.find(&a, user, lookup).await.unwrap(),
            vec![want_a.clone()]
        );
        assert_eq!(
            store.find(&b, user, lookup).await.unwrap(),
            vec![want_b.clone()]
        );
    }
    // Deleting in one tenant leaves the other's lookups alone.
    store.delete(&b, &in_b).await.unwrap();
    assert_eq!(found(store, &a, user, email("x@x.com")).await, ["u1"]);
    assert!(found(store, &b, user, email("x@x.com")).await.is_empty());
}

/// Creates users with these ids (in this order) and returns them.
async fn create_users(store: &impl Store, t: &TenantId, ids: &[&str]) -> Vec<Record> {
    let mut records = Vec::new();
    for id in ids {
        let r = person(id, None, &[&format!("{id}@mail.test")], None);
        store.create(t, &r).await.unwrap();
        records.push(r);
    }
    records
}

fn page_ids(page: &scim_serverless::store::Page) -> Vec<&str> {
    page.records.iter().map(|r| r.id.as_str()).collect()
}

async fn list_pages_in_id_order(store: &impl Store) {
    let t = common::unique_tenant();
    let user = ResourceKind::User;
    // Created out of order; ids sort as strings ("u10" before "u2").
    let mut users = create_users(store, &t, &["u5", "u10", "u2", "u6", "u1", "u4", "u3"]).await;
    users.sort_by(|a, b| a.id.cmp(&b.id));
    store.create(&t, &group("g1", "Sales")).await.unwrap();
    let other = common::unique_tenant();
    create_users(store, &other, &["u0", "u7"]).await;

    let first = store.list(&t, user, None, 3).await.unwrap();
    assert_eq!(first.records, users[..3].to_vec(), "whole records");
    assert_eq!(page_ids(&first), ["u1", "u10", "u2"]);
    assert!(first.more);
    let second = store.list(&t, user, Some("u2"), 3).await.unwrap();
    assert_eq!(page_ids(&second), ["u3", "u4", "u5"]);
    assert!(second.more);
    let third = store.list(&t, user, Some("u5"), 3).await.unwrap();
    assert_eq!(third.records, users[6..].to_vec());
    assert!(!third.more);
    // Following `more` from the start visits every user once, in order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let page = store.list(&t, user, after.as_deref(), 3).await.unwrap();
        sizes.push(page.records.len());
        seen.extend(page.records.iter().cloned());
        after = page.records.last().map(|r| r.id.clone());
        if !page.more {
            break;
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(seen, users);

    // Exactly `limit` left: no more.
    let all = store.list(&t, user, None, 7).await.unwrap();
    assert_eq!(all.records, users);
    assert!(!all.more);
    let but_one = store.list(&t, user, None, 6).await.unwrap();
    assert_eq!(but_one.records.len(), 6);
    assert!(but_one.more);
    let big = store.list(&t, user, None, 1000).await.unwrap();
    assert_eq!(big.records, users);
    assert!(!big.more);
    let unbounded = store.list(&t, user, None, usize::MAX).await.unwrap();
    assert_eq!(unbounded.records, users);
    assert!(!unbounded.more);
    // A limit of 0 returns nothing but tells whether anything follows.
    let none = store.list(&t, user, None, 0).await.unwrap();
    assert!(none.records.is_empty() && none.more);
    let none = store.list(&t, user, Some("u6"), 0).await.unwrap();
    assert!(none.records.is_empty() && !none.more);
    // After the last id, or past it: an empty last page.
    let end = store.list(&t, user, Some("u6"), 3).await.unwrap();
    assert!(end.records.is_empty() && !end.more);
    let past = store.list(&t, user, Some("zzz"), 3).await.unwrap();
    assert!(past.records.is_empty() && !past.more);
    // After an id that is not there (a resource deleted between pages):
    // resumes at the next id.
    let gap = store.list(&t, user, Some("u25"), 2).await.unwrap();
    assert_eq!(page_ids(&gap), ["u3", "u4"]);
    assert!(gap.more);
    store.delete(&t, &users[3]).await.unwrap(); // u3
    let resumed = store.list(&t, user, Some("u3"), 3).await.unwrap();
    assert_eq!(page_ids(&resumed), ["u4", "u5", "u6"]);
    assert!(!resumed.more);
    let before_first = store.list(&t, user, Some("a"), 2).await.unwrap();
    assert_eq!(page_ids(&before_first), ["u1", "u10"]);

    // Kinds are listed separately.
    let groups = store.list(&t, ResourceKind::Group, None, 10).await.unwrap();
    assert_eq!(page_ids(&groups), ["g1"]);
    assert!(!groups.more);
    let no_users = store.list(&t, user, None, 10).await.unwrap();
    assert!(no_users.records.iter().all(|r| r.kind == user));
    assert_eq!(no_users.records.len(), 6);

    // An empty tenant, and a kind the tenant has none of.
    let empty = common::unique_tenant();
    let page = store.list(&empty, user, None, 3).await.unwrap();
    assert!(page.records.is_empty() && !page.more);
    let page = store
        .list(&other, ResourceKind::Group, None, 3)
        .await
        .unwrap();
    assert!(page.records.is_empty() && !page.more);
}

async fn id_at_finds_a_position_in_id_order(store: &impl Store) {
    let t = common::unique_tenant();
    let user = ResourceKind::User;
    create_users(store, &t, &["u4", "u1", "u5", "u3", "u2"]).await;
    store.create(&t, &group("g1", "Sales")).await.unwrap();
    let at = |position: u64| store.id_at(&t, user, position);
    assert_eq!(at(1).await.unwrap().as_deref(), Some("u1"), "first");
    assert_eq!(at(3).await.unwrap().as_deref(), Some("u3"), "middle");
    assert_eq!(at(5).await.unwrap().as_deref(), Some("u5"), "last");
    assert_eq!(at(6).await.unwrap(), None, "past the end");
    assert_eq!(at(0).await.unwrap(), None, "positions start at 1");
    assert_eq!(at(u64::MAX).await.unwrap(), None);
    // Agrees with list: listing after the id at position p starts at p + 1.
    for p in 1..=4u64 {
        let id = at(p).await.unwrap().unwrap();
        let next = store.list(&t, user, Some(&id), 1).await.unwrap();
        assert_eq!(Some(next.records[0].id.clone()), at(p + 1).await.unwrap());
    }
    // Groups have their own positions.
    let group_at = |position: u64| store.id_at(&t, ResourceKind::Group, position);
    assert_eq!(group_at(1).await.unwrap().as_deref(), Some("g1"));
    assert_eq!(group_at(2).await.unwrap(), None);
    // A delete shifts the positions after it.
    let u2 = store.get(&t, user, "u2").await.unwrap().unwrap();
    store.delete(&t, &u2).await.unwrap();
    assert_eq!(at(2).await.unwrap().as_deref(), Some("u3"));
    assert_eq!(at(4).await.unwrap().as_deref(), Some("u5"));
    assert_eq!(at(5).await.unwrap(), None);
    // An empty tenant has no positions.
    let empty = common::unique_tenant();
    assert_eq!(store.id_at(&empty, user, 1).await.unwrap(), None);
}

async fn count_follows_creates_and_deletes_per_kind(store: &impl Store) {
    let t = common::unique_tenant();
    let other = common::unique_tenant();
    let (users_k, grp) = (ResourceKind::User, ResourceKind::Group);
    assert_eq!(
        store.count(&t, users_k).await.unwrap().total,
        0,
        "new tenant"
    );
    assert_eq!(store.count(&t, grp).await.unwrap().total, 0, "new tenant");

    let users = create_users(store, &t, &["u1", "u2", "u3"]).await;
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 3);
    assert_eq!(store.count(&t, grp).await.unwrap().total, 0, "per kind");
    store.create(&t, &group("g1", "Sales")).await.unwrap();
    assert_eq!(store.count(&t, grp).await.unwrap().total, 1);
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 3);
    assert_eq!(
        store.count(&other, users_k).await.unwrap().total,
        0,
        "per tenant"
    );

    // Failed creates do not count.
    assert_eq!(
        store.create(&t, &user("u9", "u1@people.test", 1)).await,
        Err(StoreError::Conflict(Some(UniqueKey::UserName(
            "u1@people.test".into()
        ))))
    );
    assert_eq!(
        store.create(&t, &person("u2", None, &[], None)).await,
        Err(StoreError::Conflict(None))
    );
    assert!(matches!(
        store.create(&t, &group("g2", "SALES")).await,
        Err(StoreError::Conflict(Some(_)))
    ));
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 3);
    assert_eq!(store.count(&t, grp).await.unwrap().total, 1);

    // A replace does not count.
    let u1v2 = with_emails(&users[0], &["new@x.com"]);
    store.replace(&t, &users[0], &u1v2).await.unwrap();
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 3);

    // Deletes count down; failed deletes do not.
    store.delete(&t, &users[1]).await.unwrap();
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 2);
    assert_eq!(
        store.delete(&t, &users[0]).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(store.delete(&t, &users[1]).await, Err(StoreError::NotFound));
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 2);
    store.delete(&t, &group("g1", "Sales")).await.unwrap();
    assert_eq!(store.count(&t, grp).await.unwrap().total, 0);
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 2);
    store.delete(&t, &u1v2).await.unwrap();
    store.delete(&t, &users[2]).await.unwrap();
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 0);
    // And up again.
    create_users(store, &t, &["u1"]).await;
    assert_eq!(store.count(&t, users_k).await.unwrap().total, 1);
}

async fn concurrent_creates_and_deletes_are_all_counted<S: Store + Clone>(store: &S) {
    let t = common::unique_tenant();
    let store = Arc::new(store.clone());
    let n = 12;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            let t = t.clone();
            tokio::spawn(async move {
                let r = person(&format!("u{i:02}"), None, &["same@x.com"], None);
                store.create(&t, &r).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap().total, n);
    assert_eq!(
        found(&*store, &t, ResourceKind::User, email("same@x.com"))
            .await
            .len() as u64,
        n
    );
    let tasks: Vec<_> = (0..n / 2)
        .map(|i| {
            let store = store.clone();
            let t = t.clone();
            tokio::spawn(async move {
                let r = person(&format!("u{i:02}"), None, &["same@x.com"], None);
                store.delete(&t, &r).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        store.count(&t, ResourceKind::User).await.unwrap().total,
        n - n / 2
    );
}

// ---------------------------------------------------------------- memberships

/// A stored resource (it must exist).
async fn fetch(store: &impl Store, t: &TenantId, kind: ResourceKind, id: &str) -> Record {
    store
        .get(t, kind, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{kind:?} {id} is not stored"))
}

async fn fetch_user(store: &impl Store, t: &TenantId, id: &str) -> Record {
    fetch(store, t, ResourceKind::User, id).await
}

async fn fetch_group(store: &impl Store, t: &TenantId, id: &str) -> Record {
    fetch(store, t, ResourceKind::Group, id).await
}

/// The whole member list of a group (no byte limit).
async fn members_of(store: &impl Store, t: &TenantId, group_id: &str) -> Vec<Member> {
    store
        .members(t, group_id, usize::MAX)
        .await
        .unwrap()
        .expect("no byte limit")
}

/// The ids of a group's members, in the order `members` returns them.
async fn member_ids(store: &impl Store, t: &TenantId, group_id: &str) -> Vec<String> {
    members_of(store, t, group_id)
        .await
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// Creates groups with these ids (display name `Group {id}`).
async fn create_groups(store: &impl Store, t: &TenantId, ids: &[&str]) -> Vec<Record> {
    let mut records = Vec::new();
    for id in ids {
        let g = group(id, &format!("Group {id}"));
        store.create(t, &g).await.unwrap();
        records.push(g);
    }
    records
}

fn ids(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// `Store::add_members` on a group that exists.
async fn add_members(
    store: &impl Store,
    t: &TenantId,
    group: &str,
    members: &[Member],
) -> Result<GroupCondition, StoreError> {
    store
        .add_members(t, group, GroupCondition::Exists { seen: 1 }, members)
        .await
}

/// `Store::remove_members` on a group that exists.
async fn remove_members(
    store: &impl Store,
    t: &TenantId,
    group: &str,
    ids: &[String],
) -> Result<GroupCondition, StoreError> {
    store
        .remove_members(t, group, GroupCondition::Exists { seen: 1 }, ids)
        .await
}

fn members(records: &[Record]) -> Vec<Member> {
    records.iter().map(Member::of).collect()
}

/// A user that is not stored in the tenant, as a member to add.
fn ghost_user(id: &str) -> Member {
    Member {
        id: id.to_owned(),
        kind: ResourceKind::User,
        display: Some("ghost".into()),
    }
}

async fn adding_and_removing_members_is_idempotent(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1", "u2", "u3"]).await;
    create_groups(store, &t, &["g1"]).await;
    assert!(member_ids(store, &t, "g1").await.is_empty());

    add_members(store, &t, "g1", &members(&users[..2]))
        .await
        .unwrap();
    assert_eq!(
        members_of(store, &t, "g1").await,
        members(&users[..2]),
        "kind and display name as Member::of gave them"
    );
    assert_eq!(fetch_user(store, &t, "u1").await.groups, ["g1"]);
    assert_eq!(fetch_user(store, &t, "u2").await.groups, ["g1"]);
    assert!(fetch_user(store, &t, "u3").await.groups.is_empty());

    // Adding members again, or twice in one call, changes nothing.
    add_members(store, &t, "g1", &members(&users[..1]))
        .await
        .unwrap();
    let twice = [Member::of(&users[1]), Member::of(&users[1])];
    add_members(store, &t, "g1", &twice).await.unwrap();
    add_members(store, &t, "g1", &[]).await.unwrap();
    assert_eq!(member_ids(store, &t, "g1").await, ["u1", "u2"]);
    assert_eq!(fetch_user(store, &t, "u1").await.groups, ["g1"]);
    assert_eq!(fetch_user(store, &t, "u2").await.groups, ["g1"]);

    // Removing ends the membership on both sides.
    remove_members(store, &t, "g1", &ids(&["u1"]))
        .await
        .unwrap();
    assert_eq!(member_ids(store, &t, "g1").await, ["u2"]);
    assert!(fetch_user(store, &t, "u1").await.groups.is_empty());
    assert_eq!(fetch_user(store, &t, "u2").await.groups, ["g1"]);

    // Removing a non-member (a former one, a user that never was, an id
    // that names nothing), nobody, or one member twice: no error.
    let before = fetch_group(store, &t, "g1").await;
    remove_members(store, &t, "g1", &ids(&["u1", "u3", "nobody"]))
        .await
        .unwrap();
    remove_members(store, &t, "g1", &[]).await.unwrap();
    assert_eq!(member_ids(store, &t, "g1").await, ["u2"]);
    assert!(fetch_user(store, &t, "u3").await.groups.is_empty());
    assert_eq!(
        fetch_group(store, &t, "g1").await.groups,
        before.groups,
        "nothing to change on the group"
    );
    remove_members(store, &t, "g1", &ids(&["u2", "u2"]))
        .await
        .unwrap();
    assert!(member_ids(store, &t, "g1").await.is_empty());
    assert!(fetch_user(store, &t, "u2").await.groups.is_empty());

    // And back again.
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    assert_eq!(member_ids(store, &t, "g1").await, ["u1", "u2", "u3"]);
}

async fn group_lists_are_sorted_and_direct(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1", "u2"]).await;
    // Created and joined out of order.
    create_groups(store, &t, &["g3", "g10", "g1", "g2"]).await;
    for g in ["g3", "g1", "g10", "g2"] {
        add_members(store, &t, g, &members(&users[..1]))
            .await
            .unwrap();
    }
    add_members(store, &t, "g2", &members(&users[1..]))
        .await
        .unwrap();
    let u1 = fetch_user(store, &t, "u1").await;
    assert_eq!(u1.groups, ["g1", "g10", "g2", "g3"], "sorted as strings");
    assert_eq!(fetch_user(store, &t, "u2").await.groups, ["g2"]);
    // get_many and list return the group lists too.
    let many = store
        .get_many(&t, ResourceKind::User, &ids(&["u1"]))
        .await
        .unwrap();
    assert_eq!(many[0].groups, u1.groups);
    let page = store.list(&t, ResourceKind::User, None, 10).await.unwrap();
    assert_eq!(page.records[0], u1);
    remove_members(store, &t, "g10", &ids(&["u1"]))
        .await
        .unwrap();
    assert_eq!(fetch_user(store, &t, "u1").await.groups, ["g1", "g2", "g3"]);
}

/// A user and a group whose documents carry `meta.lastModified`, as the
/// API writes them.
fn stamped(mut record: Record) -> Record {
    record.document["meta"] = json!({"lastModified": "2000-01-01T00:00:00Z"});
    record
}

fn last_modified(record: &Record) -> &str {
    record.document["meta"]["lastModified"].as_str().unwrap()
}

async fn memberships_give_both_sides_new_versions(store: &impl Store) {
    let t = common::unique_tenant();
    let u1 = stamped(person("u1", None, &[], None));
    let g1 = stamped(group("g1", "Sales"));
    store.create(&t, &u1).await.unwrap();
    store.create(&t, &g1).await.unwrap();

    add_members(store, &t, "g1", &[Member::of(&u1)])
        .await
        .unwrap();
    let (u1_in, g1_in) = (
        fetch_user(store, &t, "u1").await,
        fetch_group(store, &t, "g1").await,
    );
    assert!(u1_in.version > u1.version, "the member has a new version");
    assert!(g1_in.version > g1.version, "the group has a new version");
    assert_ne!(last_modified(&u1_in), "2000-01-01T00:00:00Z");
    assert_ne!(last_modified(&g1_in), "2000-01-01T00:00:00Z");
    // Nothing else of the documents changes.
    let without_meta = |r: &Record| {
        let mut d = r.document.clone();
        d.as_object_mut().unwrap().remove("meta");
        d
    };
    assert_eq!(without_meta(&u1_in), without_meta(&u1));
    assert_eq!(without_meta(&g1_in), without_meta(&g1));

    // So a writer that read either side before loses the race.
    let stale_user = changed(&u1, |r| r.document["title"] = json!("stale"));
    assert_eq!(
        store.replace(&t, &u1, &stale_user).await,
        Err(StoreError::VersionMismatch)
    );
    let stale_group = changed(&g1, |r| r.document["displayName"] = json!("Stale"));
    assert_eq!(
        store.replace(&t, &g1, &stale_group).await,
        Err(StoreError::VersionMismatch)
    );

    remove_members(store, &t, "g1", &ids(&["u1"]))
        .await
        .unwrap();
    let (u1_out, g1_out) = (
        fetch_user(store, &t, "u1").await,
        fetch_group(store, &t, "g1").await,
    );
    assert!(u1_out.version > u1_in.version);
    assert!(g1_out.version > g1_in.version);
    assert!(u1_out.groups.is_empty());
    // A fresh read can be written.
    let next = changed(&u1_out, |r| r.document["title"] = json!("fresh"));
    store.replace(&t, &u1_out, &next).await.unwrap();
}

async fn adding_an_unknown_member_fails_and_writes_nothing(store: &impl Store) {
    let t = common::unique_tenant();
    let other = common::unique_tenant();
    let users = create_users(store, &t, &["u1", "u2"]).await;
    create_groups(store, &t, &["g1"]).await;
    create_users(store, &other, &["u9"]).await;
    let g1 = fetch_group(store, &t, "g1").await;

    let unknown = [
        // An id that names nothing.
        (vec![Member::of(&users[0]), ghost_user("ghost")], "ghost"),
        // A user named as a group.
        (
            vec![
                Member::of(&users[0]),
                Member {
                    id: "u2".into(),
                    kind: ResourceKind::Group,
                    display: None,
                },
            ],
            "u2",
        ),
        // A user of another tenant.
        (vec![ghost_user("u9"), Member::of(&users[1])], "u9"),
    ];
    for (batch, bad) in unknown {
        assert_eq!(
            add_members(store, &t, "g1", &batch).await,
            Err(StoreError::UnknownMember(bad.to_owned())),
            "{batch:?}"
        );
        assert!(member_ids(store, &t, "g1").await.is_empty(), "no edge");
        assert_eq!(fetch_group(store, &t, "g1").await, g1, "group unchanged");
        assert_eq!(fetch_user(store, &t, "u1").await, users[0], "u1 unchanged");
        assert_eq!(fetch_user(store, &t, "u2").await, users[1], "u2 unchanged");
    }
    assert_eq!(
        fetch_user(store, &other, "u9").await.groups,
        Vec::<String>::new()
    );

    // A group that does not exist (or is a user) is NotFound, even when a
    // member is unknown too.
    for missing in ["g2", "u1"] {
        assert_eq!(
            add_members(store, &t, missing, &members(&users)).await,
            Err(StoreError::NotFound)
        );
    }
    assert_eq!(
        add_members(store, &t, "g2", &[ghost_user("ghost")]).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(fetch_user(store, &t, "u1").await, users[0]);
    assert!(member_ids(store, &t, "g2").await.is_empty());
    assert!(member_ids(store, &t, "u1").await.is_empty());
}

async fn more_members_than_one_step_all_land(store: &impl Store) {
    let t = common::unique_tenant();
    let n = 120;
    assert!(n > 2 * MEMBERS_PER_TRANSACTION);
    let names: Vec<String> = (0..n).map(|i| format!("u{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut users = create_users(store, &t, &refs).await;
    create_groups(store, &t, &["g1"]).await;
    let g1 = fetch_group(store, &t, "g1").await;
    // Sent in reverse order, with a duplicate.
    users.reverse();
    let mut batch = members(&users);
    batch.push(Member::of(&users[7]));
    add_members(store, &t, "g1", &batch).await.unwrap();
    assert_eq!(member_ids(store, &t, "g1").await, names, "all, in id order");
    assert!(fetch_group(store, &t, "g1").await.version > g1.version);

    // get_many reads them all (more than one batch read) in id order,
    // duplicates once, missing ids skipped.
    let mut wanted = names.clone();
    wanted.reverse();
    wanted.extend(["u005".to_owned(), "missing".to_owned(), "u119".to_owned()]);
    let all = store
        .get_many(&t, ResourceKind::User, &wanted)
        .await
        .unwrap();
    assert_eq!(all.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), names);
    assert!(all.iter().all(|r| r.groups == ["g1"]), "every group list");

    // Removed the same way: all of them, in one call.
    let mut doomed = names.clone();
    doomed.push("missing".into());
    remove_members(store, &t, "g1", &doomed).await.unwrap();
    assert!(member_ids(store, &t, "g1").await.is_empty());
    let all = store
        .get_many(&t, ResourceKind::User, &names)
        .await
        .unwrap();
    assert_eq!(all.len(), n);
    assert!(all.iter().all(|r| r.groups.is_empty()), "every group list");
}

async fn members_are_in_id_order_within_a_byte_budget(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u2", "u10", "u1"]).await;
    create_groups(store, &t, &["g1", "g2"]).await;
    let nameless = Member {
        id: "g2".into(),
        kind: ResourceKind::Group,
        display: None,
    };
    let mut batch = members(&users);
    batch.insert(1, nameless.clone());
    add_members(store, &t, "g1", &batch).await.unwrap();
    let want = vec![
        nameless.clone(),
        Member::of(&users[2]),
        Member::of(&users[1]),
        Member::of(&users[0]),
    ];
    assert_eq!(want[1].display.as_deref(), Some("u1@people.test"));
    assert_eq!(
        members_of(store, &t, "g1").await,
        want,
        "id order (as strings)"
    );

    // Ids and display names count; exactly the total fits.
    let total: usize = want
        .iter()
        .map(|m| m.id.len() + m.display.as_deref().map_or(0, str::len))
        .sum();
    assert_eq!(total, 2 + (2 + 14) + (3 + 15) + (2 + 14));
    assert_eq!(
        store.members(&t, "g1", total).await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(store.members(&t, "g1", total - 1).await.unwrap(), None);
    assert_eq!(store.members(&t, "g1", 0).await.unwrap(), None);
    // A group without members fits any budget.
    assert_eq!(store.members(&t, "g2", 0).await.unwrap(), Some(Vec::new()));
    assert_eq!(
        store.members(&t, "nope", 0).await.unwrap(),
        Some(Vec::new()),
        "a group that does not exist has no members"
    );
}

async fn groups_can_be_members_of_groups(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1"]).await;
    let groups = create_groups(store, &t, &["g1", "g2"]).await;
    add_members(store, &t, "g2", &members(&users))
        .await
        .unwrap();
    add_members(store, &t, "g1", &members(&groups[1..]))
        .await
        .unwrap();
    assert_eq!(
        members_of(store, &t, "g1").await,
        [Member {
            id: "g2".into(),
            kind: ResourceKind::Group,
            display: Some("Group g2".into()),
        }]
    );
    let g2 = fetch_group(store, &t, "g2").await;
    assert_eq!(g2.groups, ["g1"]);
    assert_eq!(
        fetch_user(store, &t, "u1").await.groups,
        ["g2"],
        "direct memberships only"
    );
    assert!(fetch_group(store, &t, "g1").await.groups.is_empty());
    assert_eq!(
        store
            .get_many(&t, ResourceKind::Group, &ids(&["g2", "g1"]))
            .await
            .unwrap()
            .iter()
            .map(|g| g.groups.clone())
            .collect::<Vec<_>>(),
        [vec![], vec!["g1".to_owned()]]
    );

    // Deleting the inner group ends both of its memberships.
    let g1 = fetch_group(store, &t, "g1").await;
    store.delete(&t, &g2).await.unwrap();
    assert!(member_ids(store, &t, "g1").await.is_empty());
    assert!(fetch_user(store, &t, "u1").await.groups.is_empty());
    assert!(fetch_group(store, &t, "g1").await.version > g1.version);

    // A group removed as a member.
    create_groups(store, &t, &["g3"]).await;
    let g3 = fetch_group(store, &t, "g3").await;
    add_members(store, &t, "g1", &[Member::of(&g3)])
        .await
        .unwrap();
    assert_eq!(fetch_group(store, &t, "g3").await.groups, ["g1"]);
    remove_members(store, &t, "g1", &ids(&["g3"]))
        .await
        .unwrap();
    assert!(fetch_group(store, &t, "g3").await.groups.is_empty());
    assert!(member_ids(store, &t, "g1").await.is_empty());
}

async fn replace_keeps_the_stored_groups(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1"]).await;
    create_groups(store, &t, &["g1", "g2"]).await;
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    let g1 = fetch_group(store, &t, "g1").await;
    add_members(store, &t, "g2", &members(&[g1])).await.unwrap();

    let u1 = fetch_user(store, &t, "u1").await;
    assert_eq!(u1.groups, ["g1"]);
    // A writer's groups (none, or made up) are not stored.
    let cleared = changed(&u1, |r| {
        r.document["title"] = json!("Engineer");
        r.groups = Vec::new();
    });
    store.replace(&t, &u1, &cleared).await.unwrap();
    let stored = fetch_user(store, &t, "u1").await;
    assert_eq!(stored.groups, ["g1"]);
    assert_eq!(stored.document["title"], "Engineer");
    let made_up = changed(&stored, |r| r.groups = ids(&["g2", "g9"]));
    store.replace(&t, &stored, &made_up).await.unwrap();
    assert_eq!(fetch_user(store, &t, "u1").await.groups, ["g1"]);
    assert_eq!(member_ids(store, &t, "g1").await, ["u1"]);
    assert_eq!(member_ids(store, &t, "g2").await, ["g1"]);

    // The same for a group: its own memberships and its members stay.
    let g1 = fetch_group(store, &t, "g1").await;
    let renamed_group = changed(&g1, |r| {
        r.document["displayName"] = json!("Renamed");
        r.groups = Vec::new();
    });
    store.replace(&t, &g1, &renamed_group).await.unwrap();
    let g1 = fetch_group(store, &t, "g1").await;
    assert_eq!(g1.groups, ["g2"]);
    assert_eq!(g1.document["displayName"], "Renamed");
    assert_eq!(member_ids(store, &t, "g1").await, ["u1"]);
    assert_eq!(member_ids(store, &t, "g2").await, ["g1"]);
}

async fn deleting_a_member_ends_its_memberships(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1", "u2", "u3"]).await;
    create_groups(store, &t, &["g1", "g2", "g3"]).await;
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    add_members(store, &t, "g2", &members(&users[..1]))
        .await
        .unwrap();
    let (g1, g2) = (
        fetch_group(store, &t, "g1").await,
        fetch_group(store, &t, "g2").await,
    );

    let u1 = fetch_user(store, &t, "u1").await;
    assert_eq!(u1.groups, ["g1", "g2"]);
    store.delete(&t, &u1).await.unwrap();
    assert_eq!(store.get(&t, ResourceKind::User, "u1").await.unwrap(), None);
    assert_eq!(member_ids(store, &t, "g1").await, ["u2", "u3"]);
    assert!(member_ids(store, &t, "g2").await.is_empty());
    assert!(fetch_group(store, &t, "g1").await.version > g1.version);
    assert!(fetch_group(store, &t, "g2").await.version > g2.version);
    assert_eq!(fetch_user(store, &t, "u2").await.groups, ["g1"]);
    assert_eq!(
        store.delete(&t, &u1).await,
        Err(StoreError::NotFound),
        "deleted already"
    );
    // The id is free and joins nothing.
    create_users(store, &t, &["u1"]).await;
    assert!(fetch_user(store, &t, "u1").await.groups.is_empty());
    assert_eq!(member_ids(store, &t, "g1").await, ["u2", "u3"]);

    // A delete with a stale version removes nothing: not the user, not
    // one of its memberships.
    let u2 = fetch_user(store, &t, "u2").await;
    add_members(store, &t, "g3", &members(&users[1..2]))
        .await
        .unwrap();
    assert_eq!(
        store.delete(&t, &u2).await,
        Err(StoreError::VersionMismatch)
    );
    let u3 = fetch_user(store, &t, "u3").await;
    let u3v2 = changed(&u3, |r| r.document["title"] = json!("Engineer"));
    store.replace(&t, &u3, &u3v2).await.unwrap();
    assert_eq!(
        store.delete(&t, &u3).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(member_ids(store, &t, "g1").await, ["u2", "u3"]);
    assert_eq!(member_ids(store, &t, "g3").await, ["u2"]);
    assert_eq!(fetch_user(store, &t, "u2").await.groups, ["g1", "g3"]);
    assert_eq!(fetch_user(store, &t, "u3").await.groups, ["g1"]);
    // Read again, it goes.
    let u2 = fetch_user(store, &t, "u2").await;
    store.delete(&t, &u2).await.unwrap();
    assert_eq!(member_ids(store, &t, "g1").await, ["u3"]);
    assert!(member_ids(store, &t, "g3").await.is_empty());
}

async fn deleting_a_group_ends_its_members_memberships(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1", "u2"]).await;
    create_groups(store, &t, &["g0", "g1", "g2", "g3"]).await;
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    add_members(store, &t, "g3", &members(&users[..1]))
        .await
        .unwrap();
    let g2 = fetch_group(store, &t, "g2").await;
    add_members(store, &t, "g1", &[Member::of(&g2)])
        .await
        .unwrap();
    let g1 = fetch_group(store, &t, "g1").await;
    add_members(store, &t, "g0", &[Member::of(&g1)])
        .await
        .unwrap();

    // A stale version removes nothing.
    let g1 = fetch_group(store, &t, "g1").await;
    let g1v2 = changed(&g1, |r| r.document["description"] = json!("v2"));
    store.replace(&t, &g1, &g1v2).await.unwrap();
    assert_eq!(
        store.delete(&t, &g1).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(member_ids(store, &t, "g1").await, ["g2", "u1", "u2"]);
    assert_eq!(member_ids(store, &t, "g0").await, ["g1"]);
    assert_eq!(fetch_user(store, &t, "u1").await.groups, ["g1", "g3"]);
    assert_eq!(fetch_group(store, &t, "g2").await.groups, ["g1"]);

    let (u1, g0) = (
        fetch_user(store, &t, "u1").await,
        fetch_group(store, &t, "g0").await,
    );
    let g1 = fetch_group(store, &t, "g1").await;
    store.delete(&t, &g1).await.unwrap();
    assert_eq!(
        store.get(&t, ResourceKind::Group, "g1").await.unwrap(),
        None
    );
    assert!(member_ids(store, &t, "g1").await.is_empty());
    assert!(member_ids(store, &t, "g0").await.is_empty());
    assert!(fetch_group(store, &t, "g0").await.version > g0.version);
    let u1_after = fetch_user(store, &t, "u1").await;
    assert_eq!(u1_after.groups, ["g3"], "other memberships stay");
    assert!(
        u1_after.version > u1.version,
        "the member has a new version"
    );
    assert!(fetch_user(store, &t, "u2").await.groups.is_empty());
    assert!(fetch_group(store, &t, "g2").await.groups.is_empty());
    assert_eq!(member_ids(store, &t, "g3").await, ["u1"]);
    assert_eq!(store.delete(&t, &g1).await, Err(StoreError::NotFound));
    // The id is free again, without members.
    create_groups(store, &t, &["g1"]).await;
    assert!(member_ids(store, &t, "g1").await.is_empty());
}

async fn deleting_a_group_with_many_members_ends_every_membership(store: &impl Store) {
    let t = common::unique_tenant();
    let n = 2 * MEMBERS_PER_TRANSACTION + 3;
    let names: Vec<String> = (0..n).map(|i| format!("u{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = create_users(store, &t, &refs).await;
    create_groups(store, &t, &["g1", "g2"]).await;
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    add_members(store, &t, "g2", &members(&users[..2]))
        .await
        .unwrap();

    // Stale: nothing removed.
    let g1 = fetch_group(store, &t, "g1").await;
    let g1v2 = changed(&g1, |r| r.document["description"] = json!("v2"));
    store.replace(&t, &g1, &g1v2).await.unwrap();
    assert_eq!(
        store.delete(&t, &g1).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(member_ids(store, &t, "g1").await.len(), n);

    let g1 = fetch_group(store, &t, "g1").await;
    store.delete(&t, &g1).await.unwrap();
    assert!(member_ids(store, &t, "g1").await.is_empty());
    let all = store
        .get_many(&t, ResourceKind::User, &names)
        .await
        .unwrap();
    assert_eq!(all.len(), n);
    for r in &all {
        let want: &[&str] = if r.id < names[2] { &["g2"] } else { &[] };
        assert_eq!(r.groups, want, "{}", r.id);
    }
    create_groups(store, &t, &["g1"]).await;
    assert!(member_ids(store, &t, "g1").await.is_empty(), "no edge left");
    assert_eq!(member_ids(store, &t, "g2").await, ["u000", "u001"]);
}

async fn deleting_a_member_of_many_groups_ends_every_membership(store: &impl Store) {
    let t = common::unique_tenant();
    let n = MEMBERS_PER_TRANSACTION + 6;
    let names: Vec<String> = (0..n).map(|i| format!("g{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    create_groups(store, &t, &refs).await;
    let users = create_users(store, &t, &["u1", "u2"]).await;
    for g in &names {
        add_members(store, &t, g, &members(&users)).await.unwrap();
    }
    let u1 = fetch_user(store, &t, "u1").await;
    assert_eq!(u1.groups, names);
    store.delete(&t, &u1).await.unwrap();
    for g in &names {
        assert_eq!(member_ids(store, &t, g).await, ["u2"], "{g}");
    }
    assert_eq!(fetch_user(store, &t, "u2").await.groups, names);
}

async fn refresh_member_rewrites_display_names(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1", "u2"]).await;
    create_groups(store, &t, &["g1", "g2", "g3"]).await;
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    add_members(store, &t, "g2", &members(&users[..1]))
        .await
        .unwrap();
    let u1 = fetch_user(store, &t, "u1").await;
    let g1 = fetch_group(store, &t, "g1").await;

    let renamed_u1 = Member {
        display: Some("ann@new.test".into()),
        ..Member::of(&u1)
    };
    // g3 has no edge of u1 and "gone" is no group: both are skipped.
    store
        .refresh_member(&t, &renamed_u1, &ids(&["g1", "g2", "g3", "gone"]))
        .await
        .unwrap();
    assert_eq!(
        members_of(store, &t, "g1").await,
        [renamed_u1.clone(), Member::of(&users[1])],
        "only u1's edge changes"
    );
    assert_eq!(members_of(store, &t, "g2").await, vec![renamed_u1.clone()]);
    assert!(member_ids(store, &t, "g3").await.is_empty(), "no edge made");
    assert_eq!(
        fetch_user(store, &t, "u1").await,
        u1,
        "the member is not written"
    );
    assert_eq!(fetch_group(store, &t, "g1").await.groups, g1.groups);

    // Only the groups named are refreshed; no display name is allowed.
    let nameless = Member {
        display: None,
        ..Member::of(&u1)
    };
    store
        .refresh_member(&t, &nameless, &ids(&["g2"]))
        .await
        .unwrap();
    assert_eq!(members_of(store, &t, "g2").await, [nameless]);
    assert_eq!(members_of(store, &t, "g1").await[0], renamed_u1);
    store.refresh_member(&t, &renamed_u1, &[]).await.unwrap();
}

async fn memberships_are_per_tenant(store: &impl Store) {
    let a = common::unique_tenant();
    let b = common::unique_tenant();
    let users_a = create_users(store, &a, &["u1", "u2"]).await;
    create_groups(store, &a, &["g1"]).await;
    let users_b = create_users(store, &b, &["u1"]).await;
    create_groups(store, &b, &["g1"]).await;
    add_members(store, &a, "g1", &members(&users_a))
        .await
        .unwrap();
    assert!(member_ids(store, &b, "g1").await.is_empty());
    assert!(fetch_user(store, &b, "u1").await.groups.is_empty());
    assert_eq!(store.members(&b, "g1", 0).await.unwrap(), Some(Vec::new()));
    // A's user u2 is unknown in b; a group only a has is not found in b.
    assert_eq!(
        add_members(store, &b, "g1", &members(&users_a[1..])).await,
        Err(StoreError::UnknownMember("u2".into()))
    );
    let c = common::unique_tenant();
    assert_eq!(
        add_members(store, &c, "g1", &members(&users_a)).await,
        Err(StoreError::NotFound)
    );
    add_members(store, &b, "g1", &members(&users_b))
        .await
        .unwrap();
    assert_eq!(member_ids(store, &a, "g1").await, ["u1", "u2"]);
    assert_eq!(member_ids(store, &b, "g1").await, ["u1"]);

    // Removing, refreshing and deleting in one tenant leave the other alone.
    remove_members(store, &b, "g1", &ids(&["u1", "u2"]))
        .await
        .unwrap();
    assert_eq!(member_ids(store, &a, "g1").await, ["u1", "u2"]);
    assert_eq!(fetch_user(store, &a, "u1").await.groups, ["g1"]);
    let renamed = Member {
        display: Some("renamed".into()),
        ..Member::of(&users_b[0])
    };
    store
        .refresh_member(&b, &renamed, &ids(&["g1"]))
        .await
        .unwrap();
    assert_eq!(members_of(store, &a, "g1").await, members(&users_a));
    add_members(store, &b, "g1", &members(&users_b))
        .await
        .unwrap();
    let g1_b = fetch_group(store, &b, "g1").await;
    store.delete(&b, &g1_b).await.unwrap();
    assert_eq!(member_ids(store, &a, "g1").await, ["u1", "u2"]);
    assert_eq!(fetch_user(store, &a, "u1").await.groups, ["g1"]);
    assert!(fetch_user(store, &b, "u1").await.groups.is_empty());
    assert_eq!(
        store
            .get_many(&b, ResourceKind::User, &ids(&["u1", "u2"]))
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["u1"],
        "get_many reads one tenant"
    );
}

async fn get_many_skips_missing_ids_and_sorts(store: &impl Store) {
    let t = common::unique_tenant();
    let mut users = create_users(store, &t, &["u3", "u10", "u2"]).await;
    users.sort_by(|a, b| a.id.cmp(&b.id));
    create_groups(store, &t, &["g1"]).await;
    let user = ResourceKind::User;
    assert_eq!(
        store
            .get_many(&t, user, &ids(&["u3", "nope", "u2", "u10", "u3", "u2"]))
            .await
            .unwrap(),
        users,
        "whole records in id order, each once"
    );
    assert_eq!(
        store.get_many(&t, user, &ids(&["u2", "g1"])).await.unwrap(),
        vec![users[1].clone()],
        "a group is not a user"
    );
    assert_eq!(
        store
            .get_many(&t, ResourceKind::Group, &ids(&["u2", "g1", "g1"]))
            .await
            .unwrap(),
        vec![group("g1", "Group g1")]
    );
    assert!(store.get_many(&t, user, &[]).await.unwrap().is_empty());
    assert!(
        store
            .get_many(&t, user, &ids(&["x", "y"]))
            .await
            .unwrap()
            .is_empty()
    );
    // A deleted resource is skipped.
    store.delete(&t, &users[0]).await.unwrap();
    assert_eq!(
        store
            .get_many(&t, user, &ids(&["u10", "u2", "u3"]))
            .await
            .unwrap(),
        users[1..].to_vec()
    );
}

/// A call with nothing to write takes no step, so it has no condition to
/// fail: it succeeds whether or not the group exists. (Edges of a group
/// that does not exist cannot exist.)
async fn membership_calls_with_nothing_to_write_succeed(store: &impl Store) {
    let t = common::unique_tenant();
    let users = create_users(store, &t, &["u1"]).await;
    create_groups(store, &t, &["g1"]).await;
    let g1 = fetch_group(store, &t, "g1").await;
    for group_id in ["g1", "nope"] {
        add_members(store, &t, group_id, &[]).await.unwrap();
        remove_members(store, &t, group_id, &[]).await.unwrap();
        remove_members(store, &t, group_id, &ids(&["u1", "nobody"]))
            .await
            .unwrap();
    }
    assert_eq!(fetch_group(store, &t, "g1").await, g1, "nothing written");
    assert_eq!(fetch_user(store, &t, "u1").await, users[0]);
    assert_eq!(
        add_members(store, &t, "nope", &members(&users)).await,
        Err(StoreError::NotFound),
        "a step is conditional on the group"
    );
}

/// Fills `doomed` with `n` users, two groups with memberships (one group a
/// member of the other) and a user of `kept` with a membership.
async fn fill_tenants_with_memberships(
    store: &impl Store,
    doomed: &TenantId,
    kept: &TenantId,
    n: usize,
) {
    let names: Vec<String> = (0..n).map(|i| format!("u{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = create_users(store, doomed, &refs).await;
    let groups = create_groups(store, doomed, &["g1", "g2"]).await;
    add_members(store, doomed, "g1", &members(&users))
        .await
        .unwrap();
    add_members(store, doomed, "g2", &members(&users[..3]))
        .await
        .unwrap();
    add_members(store, doomed, "g1", &members(&groups[1..]))
        .await
        .unwrap();
    let kept_users = create_users(store, kept, &["u000"]).await;
    create_groups(store, kept, &["g1"]).await;
    add_members(store, kept, "g1", &members(&kept_users))
        .await
        .unwrap();
}

async fn purging_a_tenant_with_memberships_leaves_nothing(store: &impl Store) {
    let doomed = common::unique_tenant();
    let kept = common::unique_tenant();
    let n = MEMBERS_PER_TRANSACTION + 11;
    fill_tenants_with_memberships(store, &doomed, &kept, n).await;
    // Small pages, so a purge stops inside a group's members.
    purge_in_pages(store, &doomed, 7).await;
    assert_lists_empty(store, &doomed).await;
    assert!(member_ids(store, &doomed, "g1").await.is_empty());
    assert!(member_ids(store, &doomed, "g2").await.is_empty());
    // Recreated, the ids have no memberships left over.
    create_groups(store, &doomed, &["g1", "g2"]).await;
    create_users(store, &doomed, &["u000"]).await;
    assert!(member_ids(store, &doomed, "g1").await.is_empty());
    assert!(member_ids(store, &doomed, "g2").await.is_empty());
    assert!(fetch_user(store, &doomed, "u000").await.groups.is_empty());
    assert!(fetch_group(store, &doomed, "g2").await.groups.is_empty());
    // The other tenant keeps its memberships.
    assert_eq!(member_ids(store, &kept, "g1").await, ["u000"]);
    assert_eq!(fetch_user(store, &kept, "u000").await.groups, ["g1"]);
}

/// A list generation is new after every create and delete, never repeats
/// (not after a purge either), and stays through writes that change no id.
async fn list_generation_changes_with_every_create_and_delete(store: &impl Store) {
    let t = common::unique_tenant();
    let u = ResourceKind::User;
    let start = store_count(store, &t, u).await;
    assert_eq!((start.total, start.generation), (0, 0), "new tenant");
    let mut seen = vec![0];
    let mut expect_new = |generation: u64, what: &str| {
        assert!(
            !seen.contains(&generation),
            "{what}: {generation} repeats {seen:?}"
        );
        seen.push(generation);
    };
    let users = create_users(store, &t, &["u1", "u2"]).await;
    let after_creates = store_count(store, &t, u).await;
    assert_eq!(after_creates.total, 2);
    expect_new(after_creates.generation, "create");
    create_groups(store, &t, &["g1"]).await;
    assert_eq!(store_count(store, &t, u).await, after_creates, "per kind");
    let mut renamed = users[0].clone();
    renamed.document["userName"] = json!("renamed@mail.test");
    renamed.version += 1;
    store.replace(&t, &users[0], &renamed).await.unwrap();
    add_members(store, &t, "g1", &members(&users))
        .await
        .unwrap();
    assert_eq!(
        store_count(store, &t, u).await,
        after_creates,
        "no id changed"
    );
    store
        .delete(&t, &fetch_user(store, &t, "u2").await)
        .await
        .unwrap();
    let after_delete = store_count(store, &t, u).await;
    assert_eq!(after_delete.total, 1);
    expect_new(after_delete.generation, "delete");
    // A delete and a create leave the count as it was, not the generation.
    create_users(store, &t, &["u3"]).await;
    store
        .delete(&t, &fetch_user(store, &t, "u3").await)
        .await
        .unwrap();
    let back = store_count(store, &t, u).await;
    assert_eq!(back.total, 1);
    expect_new(back.generation, "delete and create");
    while store.purge_tenant(&t, 100).await.unwrap() > 0 {}
    create_users(store, &t, &["u1"]).await;
    let recreated = store_count(store, &t, u).await;
    assert_eq!(recreated.total, 1);
    expect_new(recreated.generation, "after a purge");
}

async fn store_count(store: &impl Store, t: &TenantId, kind: ResourceKind) -> Census {
    store.count(t, kind).await.unwrap()
}

/// Membership steps at a version: each requires the version the step
/// before left, so a change based on a stale read applies nothing.
async fn membership_steps_require_the_version_they_expect(store: &impl Store) {
    let t = common::unique_tenant();
    let names: Vec<String> = (0..60).map(|i| format!("u{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = create_users(store, &t, &names).await;
    create_groups(store, &t, &["g1"]).await;
    let at = GroupCondition::At;
    let tenant = &t;
    let add = |condition, m: Vec<Member>| async move {
        store.add_members(tenant, "g1", condition, &m).await
    };
    assert_eq!(add(at(1), members(&users[..1])).await, Ok(at(2)));
    assert_eq!(fetch_group(store, &t, "g1").await.version, 2);
    // A writer that read version 1 changes nothing.
    assert_eq!(
        add(at(1), members(&users[1..2])).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(
        store.remove_members(&t, "g1", at(1), &ids(&["u000"])).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(member_ids(store, &t, "g1").await, ["u000"]);
    assert!(fetch_user(store, &t, "u001").await.groups.is_empty());
    assert_eq!(fetch_group(store, &t, "g1").await.version, 2);
    // Two steps (49 + 10 members) advance the version twice.
    assert_eq!(add(at(2), members(&users[1..])).await, Ok(at(4)));
    assert_eq!(fetch_group(store, &t, "g1").await.version, 4);
    assert_eq!(member_ids(store, &t, "g1").await.len(), 60);
    assert_eq!(
        store
            .remove_members(&t, "g1", at(4), &ids(&["u000", "u001"]))
            .await,
        Ok(at(5))
    );
    // Nothing to write: no check, no write.
    assert_eq!(add(at(9), Vec::new()).await, Ok(at(9)));
    assert_eq!(fetch_group(store, &t, "g1").await.version, 5);
    // An unknown member fails its step; a missing group is NotFound.
    assert_eq!(
        add(at(5), vec![ghost_user("nobody")]).await,
        Err(StoreError::UnknownMember("nobody".into()))
    );
    assert_eq!(fetch_group(store, &t, "g1").await.version, 5);
    let missing = store
        .add_members(&t, "g9", at(1), &members(&users[..1]))
        .await;
    assert_eq!(missing, Err(StoreError::NotFound));
    let missing = store
        .add_members(
            &t,
            "g9",
            GroupCondition::Exists { seen: 1 },
            &members(&users[..1]),
        )
        .await;
    assert_eq!(missing, Err(StoreError::NotFound));
}

// ---------------------------------------------------------------- census

async fn census_of(store: &impl Store, t: &TenantId) -> TenantCensus {
    store.tenant_census(t).await.unwrap()
}

/// `record` at its next version with `active` set to `active`.
fn with_active(record: &Record, active: Value) -> Record {
    changed(record, |r| r.document["active"] = active)
}

async fn tenant_census_follows_activity_and_memberships(store: &impl Store) {
    let t = common::unique_tenant();
    let other = common::unique_tenant();
    assert_eq!(census_of(store, &t).await, TenantCensus::default());

    // Absent `active` is active; `false` (or Entra's "False", should a
    // document reach the store without normalisation) is inactive.
    let u1 = user("u1", "u1@x.com", 1);
    let mut u2 = user("u2", "u2@x.com", 1);
    u2.document["active"] = json!(false);
    let mut u3 = user("u3", "u3@x.com", 1);
    u3.document["active"] = json!(true);
    let mut u4 = user("u4", "u4@x.com", 1);
    u4.document["active"] = json!("False");
    for u in [&u1, &u2, &u3, &u4] {
        store.create(&t, u).await.unwrap();
    }
    store.create(&other, &u2).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 0, 0));
    assert_eq!(
        census_of(store, &other).await,
        census(1, 1, 0, 0),
        "per tenant"
    );

    // Flips count; a replace that keeps `active` changes nothing.
    let u1_off = with_active(&u1, json!(false));
    store.replace(&t, &u1, &u1_off).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 3, 0, 0));
    let u2_on = with_active(&u2, json!(true));
    store.replace(&t, &u2, &u2_on).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 0, 0));
    let u1_titled = changed(&u1_off, |r| r.document["title"] = json!("Boss"));
    store.replace(&t, &u1_off, &u1_titled).await.unwrap();
    let u3_quiet = with_active(&u3, json!(true));
    store.replace(&t, &u3, &u3_quiet).await.unwrap();
    let u4_normalised = with_active(&u4, json!(false));
    store.replace(&t, &u4, &u4_normalised).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 0, 0));

    // Memberships: only edges really added or ended count.
    create_groups(store, &t, &["g1", "g2"]).await;
    assert_eq!(census_of(store, &t).await, census(4, 2, 2, 0));
    let u = |id: &str| Member {
        id: id.to_owned(),
        kind: ResourceKind::User,
        display: None,
    };
    add_members(store, &t, "g1", &[u("u1"), u("u2")])
        .await
        .unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 2, 2));
    add_members(store, &t, "g1", &[u("u1"), u("u3"), u("u3")])
        .await
        .unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 2, 3), "u1 again");
    add_members(store, &t, "g1", &[u("u1")]).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 2, 3), "re-added");
    let nested = Member::of(&fetch_group(store, &t, "g2").await);
    add_members(store, &t, "g1", &[nested]).await.unwrap();
    add_members(store, &t, "g2", &[u("u1")]).await.unwrap();
    assert_eq!(
        census_of(store, &t).await,
        census(4, 2, 2, 5),
        "a group is a member"
    );
    remove_members(store, &t, "g1", &ids(&["u2", "nobody"]))
        .await
        .unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 2, 4));
    remove_members(store, &t, "g1", &ids(&["u2"]))
        .await
        .unwrap();
    assert_eq!(
        census_of(store, &t).await,
        census(4, 2, 2, 4),
        "removed twice"
    );
    add_members(store, &t, "g1", &[u("u2")]).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(4, 2, 2, 5), "back again");

    // Deleting an inactive user in two groups ends its two edges.
    let u1_stored = fetch_user(store, &t, "u1").await;
    assert!(u1_stored.is_inactive());
    store.delete(&t, &u1_stored).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(3, 1, 2, 3));
    // Deleting a group ends its members' edges (u2, u3, g2) and its own.
    add_members(store, &t, "g2", &[u("u4")]).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(3, 1, 2, 4));
    let g1 = fetch_group(store, &t, "g1").await;
    store.delete(&t, &g1).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(3, 1, 1, 1));
    let g2 = fetch_group(store, &t, "g2").await;
    store.delete(&t, &g2).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(3, 1, 0, 0));
    let u4_stored = fetch_user(store, &t, "u4").await;
    store.delete(&t, &u4_stored).await.unwrap();
    assert_eq!(census_of(store, &t).await, census(2, 0, 0, 0));
    assert_eq!(census_of(store, &other).await, census(1, 1, 0, 0));
}

/// Sets user `id`'s `active` to `active`, re-reading it after a lost race.
async fn set_active<S: Store>(store: &S, t: &TenantId, id: &str, active: bool) {
    loop {
        let current = fetch_user(store, t, id).await;
        let next = with_active(&current, json!(active));
        match store.replace(t, &current, &next).await {
            Ok(()) => return,
            Err(StoreError::VersionMismatch) => continue,
            Err(e) => panic!("unexpected {e}"),
        }
    }
}

async fn concurrent_flips_and_member_adds_stay_exact<S: Store + Clone>(store: &S) {
    let t = common::unique_tenant();
    let names: Vec<String> = (0..6).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = create_users(store, &t, &names).await;
    create_groups(store, &t, &["g1", "g2"]).await;
    let store = Arc::new(store.clone());
    let mut tasks = Vec::new();
    // Each user flips three times (ends inactive) or twice (ends active),
    // while every member is added to g1 by three writers at once (all
    // but the first of each edge change nothing) and to g2 by one.
    for (i, id) in names.iter().enumerate() {
        let (store, t, id) = (store.clone(), t.clone(), (*id).to_owned());
        tasks.push(tokio::spawn(async move {
            for flip in 0..2 + i % 2 {
                set_active(&*store, &t, &id, flip % 2 == 1).await;
            }
        }));
    }
    for group in ["g1", "g1", "g1", "g2"] {
        let (store, t, all) = (store.clone(), t.clone(), members(&users));
        tasks.push(tokio::spawn(async move {
            loop {
                match add_members(&*store, &t, group, &all).await {
                    Ok(_) => return,
                    Err(StoreError::VersionMismatch) => continue,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Users with an odd index flipped three times: false, true, false.
    assert_eq!(census_of(&*store, &t).await, census(6, 3, 2, 12));
    assert_eq!(member_ids(&*store, &t, "g1").await.len(), 6);
    for id in &names {
        assert_eq!(fetch_user(&*store, &t, id).await.groups, ["g1", "g2"]);
    }
    // And concurrent removals, each member named by two writers.
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (store, t) = (store.clone(), t.clone());
        let gone = ids(&names[..4]);
        tasks.push(tokio::spawn(async move {
            loop {
                match remove_members(&*store, &t, "g1", &gone).await {
                    Ok(_) => return,
                    Err(StoreError::VersionMismatch) => continue,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(census_of(&*store, &t).await, census(6, 3, 2, 8));
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(&MemoryStore::new()).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(store) = super::common::dynamo_store().await {
                        super::$case(&store).await;
                    }
                }
            )*
        }
    };
}

contract!(
    list_generation_changes_with_every_create_and_delete,
    membership_steps_require_the_version_they_expect,
    create_then_get_round_trips,
    tenants_are_isolated,
    user_name_is_unique_case_insensitively,
    replace_is_conditional_on_the_version,
    rename_moves_the_unique_key_atomically,
    delete_is_conditional_and_releases_keys,
    concurrent_writers_never_lose_an_update,
    purging_a_tenant_deletes_its_items_in_pages_and_nothing_else,
    find_by_external_id_is_exact_and_per_kind,
    find_by_email_matches_any_address_in_any_case,
    only_the_first_emails_are_indexed,
    find_direct_reports_and_pending_managers,
    changing_the_manager_moves_the_user_between_lookups,
    lookups_are_per_tenant,
    list_pages_in_id_order,
    id_at_finds_a_position_in_id_order,
    count_follows_creates_and_deletes_per_kind,
    concurrent_creates_and_deletes_are_all_counted,
    adding_and_removing_members_is_idempotent,
    group_lists_are_sorted_and_direct,
    memberships_give_both_sides_new_versions,
    adding_an_unknown_member_fails_and_writes_nothing,
    more_members_than_one_step_all_land,
    members_are_in_id_order_within_a_byte_budget,
    groups_can_be_members_of_groups,
    replace_keeps_the_stored_groups,
    deleting_a_member_ends_its_memberships,
    deleting_a_group_ends_its_members_memberships,
    deleting_a_group_with_many_members_ends_every_membership,
    deleting_a_member_of_many_groups_ends_every_membership,
    refresh_member_rewrites_display_names,
    memberships_are_per_tenant,
    get_many_skips_missing_ids_and_sorts,
    purging_a_tenant_with_memberships_leaves_nothing,
    membership_calls_with_nothing_to_write_succeed,
    tenant_census_follows_activity_and_memberships,
    concurrent_flips_and_member_adds_stay_exact,
);

/// Every item of the table whose key belongs to `tenant`, but for its
/// counter shards (how many of those exist depends on the ids' hashes).
async fn tenant_items(store: &scim_serverless::store::DynamoStore, tenant: &TenantId) -> usize {
    items_under(store, &format!("T#{tenant}#")).await - counter_shards(store, tenant).await
}

/// The tenant's counter shards.
async fn counter_shards(store: &scim_serverless::store::DynamoStore, tenant: &TenantId) -> usize {
    items_under(store, &format!("T#{tenant}#C")).await
}

/// Every item of the table whose partition key starts with `prefix` (a
/// Scan: tests only).
async fn items_under(store: &scim_serverless::store::DynamoStore, prefix: &str) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut count = 0;
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table())
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += page.items().len();
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return count;
        }
    }
}

/// DynamoDB only: email items and counters are invisible through the port
/// once their user is gone, so the table itself is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_purge_leaves_no_item_of_the_tenant() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let doomed = common::unique_tenant();
    let kept = common::unique_tenant();
    fill_tenants_for_purge(&store, &doomed, &kept).await;
    assert_eq!(
        tenant_items(&store, &doomed).await,
        8 + 8 + 14 + 1,
        "resources, markers, email items, the pending-manager counter"
    );
    let shards = counter_shards(&store, &doomed).await;
    assert!(shards > 0);
    let pages = purge_in_pages(&store, &doomed, 5).await;
    assert_eq!(pages.iter().sum::<usize>(), 31 + shards, "{pages:?}");
    assert_eq!(tenant_items(&store, &doomed).await, 0, "nothing left");
    assert_eq!(counter_shards(&store, &doomed).await, 0, "no counter left");
    assert_eq!(
        tenant_items(&store, &kept).await,
        3,
        "the other tenant keeps its resource, marker and email item"
    );
    assert_eq!(counter_shards(&store, &kept).await, 1, "and its counter");
}

/// DynamoDB only: a user's email items are written, moved and deleted in
/// the user's transactions (stale ones would be invisible through `find`,
/// which re-checks every record, so the table itself is checked).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_email_items_follow_their_user() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let t = common::unique_tenant();
    let v1 = person("u1", None, &["A@x.com", "a@X.com", "b@x.com"], None);
    store.create(&t, &v1).await.unwrap();
    // The resource, its marker, two email items (a duplicate is one), and
    // a counter shard.
    assert_eq!(tenant_items(&store, &t).await, 4);
    assert_eq!(counter_shards(&store, &t).await, 1);
    let v2 = with_emails(&v1, &["b@x.com", "c@x.com", "d@x.com"]);
    store.replace(&t, &v1, &v2).await.unwrap();
    assert_eq!(tenant_items(&store, &t).await, 5, "a@x.com's item is gone");
    let stale = with_emails(&v1, &["e@x.com"]);
    assert_eq!(
        store.replace(&t, &v1, &stale).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(
        tenant_items(&store, &t).await,
        5,
        "a failed replace writes nothing"
    );
    store.delete(&t, &v2).await.unwrap();
    assert_eq!(
        tenant_items(&store, &t).await,
        0,
        "only the counter is left"
    );
    assert_eq!(counter_shards(&store, &t).await, 1);
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap().total, 0);
}

/// DynamoDB only: membership edges are items of their group's partition,
/// reachable by a purge only through the group, so the table itself is
/// checked (with pages that stop inside a group's edges).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_purge_leaves_no_membership_edge() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let doomed = common::unique_tenant();
    let kept = common::unique_tenant();
    let n = MEMBERS_PER_TRANSACTION + 11;
    fill_tenants_with_memberships(&store, &doomed, &kept, n).await;
    let edges = n + 3 + 1;
    assert_eq!(
        tenant_items(&store, &doomed).await,
        3 * n + 2 * 2 + edges,
        "users (resource, marker, email item), groups (resource, marker), edges"
    );
    let kept_items = tenant_items(&store, &kept).await;
    assert_eq!(kept_items, 3 + 2 + 1);
    let shards = counter_shards(&store, &doomed).await;
    let pages = purge_in_pages(&store, &doomed, 7).await;
    assert_eq!(
        pages.iter().sum::<usize>(),
        3 * n + 4 + edges + shards,
        "{pages:?}"
    );
    assert_eq!(tenant_items(&store, &doomed).await, 0, "nothing left");
    assert_eq!(counter_shards(&store, &doomed).await, 0, "no counter left");
    assert_eq!(tenant_items(&store, &kept).await, kept_items);
}

/// DynamoDB only: deletes remove every edge item they end, on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_deletes_leave_no_membership_edge() {
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let t = common::unique_tenant();
    let other = common::unique_tenant();
    let n = MEMBERS_PER_TRANSACTION + 11;
    fill_tenants_with_memberships(&store, &t, &other, n).await;
    // A member deleted: its edges in g1 and g2 go.
    let u000 = fetch_user(&store, &t, "u000").await;
    store.delete(&t, &u000).await.unwrap();
    let edges = (n - 1) + 2 + 1;
    assert_eq!(tenant_items(&store, &t).await, 3 * (n - 1) + 4 + edges);
    // A group deleted: its members' edges and its own edge in g1 go.
    let g2 = fetch_group(&store, &t, "g2").await;
    store.delete(&t, &g2).await.unwrap();
    assert_eq!(tenant_items(&store, &t).await, 3 * (n - 1) + 2 + (n - 1));
    // The group with many members: no edge is left.
    let g1 = fetch_group(&store, &t, "g1").await;
    store.delete(&t, &g1).await.unwrap();
    assert_eq!(tenant_items(&store, &t).await, 3 * (n - 1));
    assert_eq!(tenant_items(&store, &other).await, 3 + 2 + 1);
}

/// DynamoDB only: the single counter item of the layout before the counter
/// shards keeps counting beside them until `tenant migrate` replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_counts_an_earlier_single_counter_with_the_shards() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(store) = common::dynamo_store().await else {
        return;
    };
    let t = common::unique_tenant();
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S(format!("T#{t}#C")))
        .item("sk", AttributeValue::S("U".into()))
        .item("n", AttributeValue::N("3".into()))
        .item("gen", AttributeValue::N("77".into()))
        .send()
        .await
        .unwrap();
    let before = store.count(&t, ResourceKind::User).await.unwrap();
    assert_eq!(before.total, 3);
    create_users(&store, &t, &["u1"]).await;
    let after = store.count(&t, ResourceKind::User).await.unwrap();
    assert_eq!(after.total, 4);
    assert_ne!(after.generation, before.generation);
    assert_eq!(store.count(&t, ResourceKind::Group).await.unwrap().total, 0);
}
