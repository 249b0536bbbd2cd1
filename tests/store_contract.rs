//! The storage contract: the same cases against the embedded store and
//! DynamoDB Local, so both adapters behave identically.

mod common;

use std::sync::Arc;

use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{MemoryStore, Record, Store, StoreError, UniqueKey};
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

async fn purging_a_tenant_deletes_its_items_in_pages_and_nothing_else(store: &impl Store) {
    let doomed = common::unique_tenant();
    let kept = common::unique_tenant();
    for i in 0..7 {
        store
            .create(
                &doomed,
                &user(&format!("u{i}"), &format!("user{i}@x.com"), 1),
            )
            .await
            .unwrap();
    }
    store.create(&doomed, &group("g1", "Sales")).await.unwrap();
    store
        .create(&kept, &user("u0", "user0@x.com", 1))
        .await
        .unwrap();
    // 8 resources and 8 markers, deleted 5 at a time.
    let mut pages = Vec::new();
    loop {
        let deleted = store.purge_tenant(&doomed, 5).await.unwrap();
        if deleted == 0 {
            break;
        }
        assert!(deleted <= 5);
        pages.push(deleted);
    }
    assert_eq!(pages.iter().sum::<usize>(), 16, "{pages:?}");
    for i in 0..7 {
        let id = format!("u{i}");
        assert_eq!(
            store.get(&doomed, ResourceKind::User, &id).await.unwrap(),
            None
        );
        let key = UniqueKey::UserName(format!("user{i}@x.com"));
        assert_eq!(store.find_unique(&doomed, &key).await.unwrap(), None);
    }
    assert_eq!(
        store.get(&doomed, ResourceKind::Group, "g1").await.unwrap(),
        None
    );
    assert!(
        store
            .get(&kept, ResourceKind::User, "u0")
            .await
            .unwrap()
            .is_some()
    );
    let kept_key = UniqueKey::UserName("user0@x.com".into());
    assert_eq!(
        store
            .find_unique(&kept, &kept_key)
            .await
            .unwrap()
            .as_deref(),
        Some("u0")
    );
    // The tenant's names are free again.
    store
        .create(&doomed, &user("u0", "user0@x.com", 1))
        .await
        .unwrap();
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
    create_then_get_round_trips,
    tenants_are_isolated,
    user_name_is_unique_case_insensitively,
    replace_is_conditional_on_the_version,
    rename_moves_the_unique_key_atomically,
    delete_is_conditional_and_releases_keys,
    concurrent_writers_never_lose_an_update,
    purging_a_tenant_deletes_its_items_in_pages_and_nothing_else,
);
