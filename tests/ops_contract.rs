//! The operator plane's storage contract (`store::ops`): request records
//! and the activity they add up to, purge jobs and their leases, and a
//! tenant purge that takes both with it, on the embedded store and on
//! DynamoDB Local alike.

mod common;

use scim_serverless::request_log::RequestRecord;
use scim_serverless::request_log::record::format_time;
use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::ops::{OpsStore, PurgeJob};
use scim_serverless::store::{Record, Store};
use scim_serverless::tenant::TenantId;
use time::OffsetDateTime;

fn record(tenant: &TenantId, id: &str, token: &str, status: u16, ago_secs: i64) -> RequestRecord {
    RequestRecord {
        time: format_time(OffsetDateTime::now_utc() - time::Duration::seconds(ago_secs)),
        tenant: tenant.to_string(),
        request_id: id.to_owned(),
        token_id: Some(token.to_owned()),
        user_agent: Some("Azure Active Directory SCIM Client".to_owned()),
        method: "POST".to_owned(),
        path: format!("/scim/v2/{tenant}/Users"),
        query: None,
        status,
        scim_type: None,
        detail: None,
        duration_ms: 4,
        action: "user.created".to_owned(),
        resource_type: Some("User".to_owned()),
        resource_id: None,
        target: None,
        change: None,
        matched: None,
    }
}

async fn activity_adds_up_per_tenant_across_batches(store: impl Store + OpsStore) {
    let (a, b) = (common::unique_tenant(), common::unique_tenant());
    store
        .record_requests(&[
            record(&a, "r1", "tok_a1", 201, 30),
            record(&b, "r2", "tok_b", 200, 20),
            record(&a, "r3", "tok_a2", 409, 10),
        ])
        .await
        .unwrap();
    // A later batch with an older request changes neither the last
    // request nor the last use.
    store
        .record_requests(&[record(&a, "r0", "tok_a1", 401, 7200)])
        .await
        .unwrap();
    let activity = store.activity(&a).await.unwrap();
    let last = activity.last.clone().unwrap();
    assert_eq!(last.status, 409);
    assert_eq!(
        last.user_agent.as_deref(),
        Some("Azure Active Directory SCIM Client")
    );
    assert_eq!(activity.tokens.len(), 2);
    assert!(activity.tokens["tok_a1"] < activity.tokens["tok_a2"]);
    let now = OffsetDateTime::now_utc();
    let hour = activity.window(now, 3600);
    assert_eq!(hour.requests, 2);
    assert_eq!(hour.errors.total(), 1);
    assert_eq!(activity.window(now, 86_400).requests, 3);
    let other = store.activity(&b).await.unwrap();
    assert_eq!(other.last.unwrap().status, 200, "tenants do not mix");
    assert!(!other.tokens.contains_key("tok_a1"));
    let nobody = store.activity(&common::unique_tenant()).await.unwrap();
    assert_eq!(nobody.last, None);
}

async fn a_purge_job_is_started_once_leased_by_one_worker_and_finished(
    store: impl Store + OpsStore,
) {
    let t = common::unique_tenant();
    let job = PurgeJob {
        tenant: t.clone(),
        requested: "2026-12-07T10:00:00Z".to_owned(),
        not_before: 100,
        items_deleted: 0,
        lease_until: 0,
    };
    assert_eq!(store.start_purge(&job).await.unwrap(), job);
    let again = PurgeJob {
        not_before: 999,
        ..job.clone()
    };
    assert_eq!(
        store.start_purge(&again).await.unwrap(),
        job,
        "the first request's job stays"
    );
    assert!(store.lease_purge(&t, 1000, 1060).await.unwrap());
    assert!(
        !store.lease_purge(&t, 1010, 1070).await.unwrap(),
        "held by the first worker"
    );
    assert!(
        store.lease_purge(&t, 1060, 1120).await.unwrap(),
        "free once the lease ran out"
    );
    store.advance_purge(&t, 200).await.unwrap();
    store.advance_purge(&t, 50).await.unwrap();
    let stored = store.purge_job(&t).await.unwrap().unwrap();
    assert_eq!((stored.items_deleted, stored.lease_until), (250, 1120));
    let listed = store.purge_jobs(1000).await.unwrap();
    assert!(listed.iter().any(|j| j.tenant == t));
    store.finish_purge(&t).await.unwrap();
    assert_eq!(store.purge_job(&t).await.unwrap(), None);
    assert!(!store.lease_purge(&t, 2000, 2060).await.unwrap(), "no job");
    store.advance_purge(&t, 1).await.unwrap();
    assert_eq!(
        store.purge_job(&t).await.unwrap(),
        None,
        "advancing a finished job does not bring it back"
    );
}

async fn a_tenant_purge_takes_its_request_log_and_activity(store: impl Store + OpsStore) {
    let (t, other) = (common::unique_tenant(), common::unique_tenant());
    let user = Record::new(
        ResourceKind::User,
        "u1",
        1,
        serde_json::json!({"userName": "ada@example.com"}),
    );
    store.create(&t, &user).await.unwrap();
    store
        .record_requests(&[
            record(&t, "r1", "tok", 201, 5),
            record(&other, "r2", "tok", 201, 5),
        ])
        .await
        .unwrap();
    let mut deleted = 0;
    loop {
        let n = store.purge_tenant(&t, 200).await.unwrap();
        if n == 0 {
            break;
        }
        deleted += n;
    }
    assert!(
        deleted >= 3,
        "user, marker, records and activity: {deleted}"
    );
    assert_eq!(store.activity(&t).await.unwrap().last, None);
    assert!(
        store.activity(&other).await.unwrap().last.is_some(),
        "another tenant's activity stays"
    );
}

both_stores!(
    activity_adds_up_per_tenant_across_batches,
    a_purge_job_is_started_once_leased_by_one_worker_and_finished,
    a_tenant_purge_takes_its_request_log_and_activity,
);
