//! No item of a tenant is written by every create (or every delete): on
//! DynamoDB, concurrent transactions on one item cancel each other
//! (`TransactionConflict`), so such an item serialises a tenant's parallel
//! provisioning. DynamoDB Local serialises transactions and never shows
//! the conflict; the keys each request writes, recorded by the cost meter,
//! do.

mod common;

use std::collections::BTreeSet;

use common::cost::{ItemKey, metered_dynamo_store};
use common::http_api::api;
use serde_json::json;

const CREATES: usize = 25;

/// The keys every one of `writes` wrote.
fn common_keys(writes: &[BTreeSet<ItemKey>]) -> BTreeSet<ItemKey> {
    writes.iter().skip(1).fold(writes[0].clone(), |all, w| {
        all.intersection(w).cloned().collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_key_is_written_by_every_create_or_delete() {
    let Some((store, meter)) = metered_dynamo_store().await else {
        return;
    };
    let api = api(store);
    for kind in ["Users", "Groups"] {
        let body = |n: usize| match kind {
            "Users" => {
                json!({"userName": format!("u{n}@x.example"), "externalId": format!("x{n}")})
            }
            _ => json!({"displayName": format!("group {n}")}),
        };
        let (mut creates, mut deletes, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for n in 0..CREATES {
            let path = format!("/{kind}");
            let (created, cost) = meter.request(&api, "POST", &path, Some(body(n)), 201).await;
            let keys = cost.written;
            assert!(!keys.is_empty(), "a create writes");
            creates.push(keys);
            ids.push(created["id"].as_str().unwrap().to_owned());
        }
        for id in &ids {
            let path = format!("/{kind}/{id}");
            deletes.push(
                meter
                    .request(&api, "DELETE", &path, None, 204)
                    .await
                    .1
                    .written,
            );
        }
        assert_eq!(
            common_keys(&creates),
            BTreeSet::new(),
            "written by every create of {kind}"
        );
        assert_eq!(
            common_keys(&deletes),
            BTreeSet::new(),
            "written by every delete of {kind}"
        );
    }
}
