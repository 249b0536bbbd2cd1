//! `sortBy` / `sortOrder` on both stores: ascending and descending by
//! `userName` (case-insensitive), `externalId`, `displayName` and
//! `meta.created`; index and cursor paging over the sorted matches, every
//! match once; with a filter and on `/.search`; an attribute that cannot be
//! sorted is `400 invalidValue` naming the ones that can; more matches
//! than are sorted is `400 tooMany` asking to narrow the filter.

mod common;

use common::http_api::{Api, api};
use scim_serverless::api::Routes;
use scim_serverless::scim::sort::MAX_SORTED;
use scim_serverless::store::Store;
use serde_json::{Value, json};

fn names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates users whose names sort differently from their ids.
async fn seed<R: Routes>(api: &Api<R>, prefix: &str) -> Vec<String> {
    let mut created = Vec::new();
    for (i, first) in [
        "delta", "Alpha", "charlie", "Bravo", "echo", "foxtrot", "golf",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("{prefix}-{first}@example.com");
        api.call(
            "POST",
            "/Users",
            Some(json!({"userName": name, "externalId": format!("x{}", 9 - i), "displayName": first})),
        )
        .await
        .expect(201);
        created.push(name);
    }
    created
}

async fn sorted_lists_page_in_order<S: Store + Clone>(store: S) {
    let api = api(store);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let created = seed(&api, &run).await;
    let mut want: Vec<String> = created.clone();
    want.sort_by_key(|n| n.to_lowercase());
    let filter = format!("userName sw \"{run}\"");
    let list = |q: String| {
        let api = &api;
        async move {
            api.call("GET", &format!("/Users?{q}"), None)
                .await
                .expect(200)
        }
    };
    let all = list(format!("filter={filter}&sortBy=userName")).await;
    assert_eq!(names(&all.body), want);
    let down = list(format!(
        "filter={filter}&sortBy=userName&sortOrder=descending"
    ))
    .await;
    let mut reversed = want.clone();
    reversed.reverse();
    assert_eq!(names(&down.body), reversed);
    // Index paging: pages of 3, every match once, in order.
    let mut paged = Vec::new();
    for start in [1, 4, 7] {
        let page = list(format!(
            "filter={filter}&sortBy=userName&startIndex={start}&count=3"
        ))
        .await;
        assert_eq!(page.body["totalResults"], 7);
        paged.extend(names(&page.body));
    }
    assert_eq!(paged, want);
    // Cursor paging the same.
    let mut cursor = String::new();
    let mut walked = Vec::new();
    loop {
        let q = format!("filter={filter}&sortBy=userName&count=2&cursor={cursor}");
        let page = list(q).await;
        walked.extend(names(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(walked, want);
    // Other attributes: externalId (case-exact), displayName, meta.created.
    let by_external = list(format!("filter={filter}&sortBy=externalId")).await;
    let mut by_x: Vec<String> = created.clone();
    by_x.reverse();
    assert_eq!(names(&by_external.body), by_x, "x3 .. x9");
    let by_created = list(format!("filter={filter}&sortBy=meta.created")).await;
    let got: Vec<String> = by_created.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["created"].as_str().unwrap().to_owned())
        .collect();
    let mut in_order = got.clone();
    in_order.sort();
    assert_eq!(got, in_order);
    // /.search takes the same.
    let searched = api
        .call(
            "POST",
            "/Users/.search",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": filter, "sortBy": "userName", "sortOrder": "descending", "count": 2})),
        )
        .await
        .expect(200);
    assert_eq!(names(&searched.body), reversed[..2].to_vec());
    // Errors.
    let bad = api
        .call("GET", "/Users?sortBy=title", None)
        .await
        .expect(400);
    assert_eq!(bad.body["scimType"], "invalidValue");
    assert!(
        bad.body["detail"]
            .as_str()
            .unwrap()
            .contains("userName, displayName, externalId, meta.created, meta.lastModified")
    );
    let bad = api
        .call("GET", "/Users?sortBy=userName&sortOrder=sideways", None)
        .await
        .expect(400);
    assert_eq!(bad.body["scimType"], "invalidValue");
    let groups = api
        .call("GET", "/Groups?sortBy=userName", None)
        .await
        .expect(400);
    assert_eq!(groups.body["scimType"], "invalidValue");
    api.call("GET", "/Groups?sortBy=displayName", None)
        .await
        .expect(200);
}

async fn more_matches_than_are_sorted_is_too_many<S: Store + Clone>(store: S) {
    let api = api(store);
    let run = uuid::Uuid::new_v4().simple().to_string();
    for i in 0..=MAX_SORTED {
        api.call(
            "POST",
            "/Users",
            Some(json!({"userName": format!("{run}-{i:04}@example.com")})),
        )
        .await
        .expect(201);
    }
    let filter = format!("userName sw \"{run}\"");
    let reply = api
        .call(
            "GET",
            &format!("/Users?filter={filter}&sortBy=userName"),
            None,
        )
        .await
        .expect(400);
    assert_eq!(reply.body["scimType"], "tooMany");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("narrow the filter")
    );
    let unfiltered = api
        .call("GET", "/Users?sortBy=userName", None)
        .await
        .expect(400);
    assert_eq!(unfiltered.body["scimType"], "tooMany");
    // Without sortBy the same list pages as always.
    api.call("GET", &format!("/Users?filter={filter}&count=5"), None)
        .await
        .expect(200);
}

both_stores!(
    sorted_lists_page_in_order,
    more_matches_than_are_sorted_is_too_many,
);
