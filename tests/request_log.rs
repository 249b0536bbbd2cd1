//! The request log end to end, on the embedded store and on DynamoDB
//! Local: an Entra-like run through the front door, each request's record
//! read back through the operator core with its action, target, status and
//! change; filters; no token or password in any record; tenant isolation;
//! and a record that cannot be written never failing the SCIM request.

mod common;

use bytes::Bytes;
use scim_serverless::admin::{AdminError, Operator};
use scim_serverless::api::{Caller, HttpConfig, Routes, serve};
use scim_serverless::auth::MemoryTokenSource;
use scim_serverless::config::Config;
use scim_serverless::request_log::{LogQuery, LogValues, Recorder, RequestRecord};
use scim_serverless::runtime::all_routes;
use scim_serverless::store::Store;
use scim_serverless::store::change::TokenId;
use scim_serverless::store::ops::OpsStore;
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ENTRA: &str = "Azure Active Directory SCIM Client";
const TOKEN: &str = "scim_neverInARecordneverInARecordneverInARecord0";
const PASSWORD: &str = "Sup3r-Secret-Passw0rd!";

/// One tenant's front door with its records collected.
struct Run<R> {
    routes: R,
    tenant: TenantId,
    config: HttpConfig,
    records: UnboundedReceiver<RequestRecord>,
}

impl<R: Routes> Run<R> {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        caller: Caller,
    ) -> (u16, Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("/scim/v2/{}{path}", self.tenant))
            .header("host", "scim.test")
            .header("user-agent", ENTRA)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string())))
            .unwrap();
        request.extensions_mut().insert(TokenId("tok_entra".into()));
        let response = serve(&self.routes, &self.config, request, caller).await;
        let status = response.status().as_u16();
        let body = response.into_body();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (status, body)
    }

    async fn as_tenant(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, body, Caller::Tenant(self.tenant.clone()))
            .await
    }

    /// The records so far, in the order the requests were answered.
    fn taken(&mut self) -> Vec<RequestRecord> {
        let mut out = Vec::new();
        while let Ok(r) = self.records.try_recv() {
            out.push(r);
        }
        out
    }
}

fn run<S: Store + Clone>(store: S, values: LogValues) -> Run<impl Routes> {
    let (feed, records) = unbounded_channel();
    Run {
        routes: all_routes(store, &Config::default()),
        tenant: common::unique_tenant(),
        config: HttpConfig {
            scheme: "http".into(),
            public_base_url: None,
            recorder: Recorder::Channel(feed),
            log_values: values,
        },
        records,
    }
}

fn user(user_name: &str, manager: Option<&str>) -> Value {
    let mut u = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "userName": user_name, "externalId": format!("ext-{}", user_name.split('@').next().unwrap()), "active": true,
        "password": PASSWORD,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        ENT: {"department": "Research"},
    });
    if let Some(m) = manager {
        u[ENT]["manager"] = json!({"value": m});
    }
    u
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn an_entra_run_is_logged_request_by_request<S: Store + OpsStore + Clone>(store: S) {
    let mut run = run(store.clone(), LogValues::Masked);
    let tokens = MemoryTokenSource::default();
    let op = Operator::new(tokens, store.clone(), None);
    op.create_tenant(&run.tenant, None).await.unwrap();

    let (s, boss) = run
        .as_tenant("POST", "/Users", Some(user("grace@example.com", None)))
        .await;
    assert_eq!(s, 201, "{boss}");
    let boss_id = boss["id"].as_str().unwrap().to_owned();
    let (s, ada) = run
        .as_tenant(
            "POST",
            "/Users",
            Some(user("ada@example.com", Some(&boss_id))),
        )
        .await;
    assert_eq!(s, 201, "{ada}");
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    let ada_path = format!("/Users/{ada_id}");
    let (s, _) = run
        .as_tenant("PATCH", &ada_path, Some(patch(json!([
            {"op": "Replace", "path": format!("{ENT}:department"), "value": "Analytical Engines"},
            {"op": "Replace", "path": "name.familyName", "value": "King"},
        ]))))
        .await;
    assert_eq!(s, 200);
    let (s, group) = run
        .as_tenant("POST", "/Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides"})))
        .await;
    assert_eq!(s, 201);
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let (s, _) = run
        .as_tenant(
            "PATCH",
            &group_path,
            Some(patch(json!([
            {"op": "Add", "path": "members", "value": [{"value": ada_id}, {"value": boss_id}]}]))),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = run
        .as_tenant(
            "PATCH",
            &ada_path,
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = run
        .as_tenant("POST", "/Users", Some(user("ada@example.com", None)))
        .await;
    assert_eq!(s, 409);
    let (s, _) = run
        .as_tenant(
            "PATCH",
            &ada_path,
            Some(patch(
                json!([{"op": "explode", "path": "title", "value": 1}]),
            )),
        )
        .await;
    assert_eq!(s, 400);
    let (s, found) = run
        .as_tenant(
            "GET",
            "/Users?filter=userName%20eq%20%22ADA%40example.com%22",
            None,
        )
        .await;
    assert_eq!((s, found["totalResults"].as_u64()), (200, Some(1)));
    let refused = Caller::Refused {
        tenant: run.tenant.clone(),
        token_id: "tok_old".into(),
    };
    let (s, _) = run.call("GET", "/Users?count=1", None, refused).await;
    assert_eq!(s, 401);

    let records = run.taken();
    let seen: Vec<(&str, u16)> = records
        .iter()
        .map(|r| (r.action.as_str(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("user.created", 201),
            ("user.created", 201),
            ("user.updated", 200),
            ("group.created", 201),
            ("group.members_added", 204),
            ("user.deactivated", 200),
            ("rejected", 409),
            ("rejected", 400),
            ("user.lookup", 200),
            ("rejected", 401),
        ]
    );
    // Targets: masked names, their lookup key, the externalId.
    let created = &records[1];
    assert_eq!(created.resource_id.as_deref(), Some(ada_id.as_str()));
    let target = created.target.as_ref().unwrap();
    assert_eq!(target.user_name.as_deref(), Some("ad***"));
    assert_eq!(target.external_id.as_deref(), Some("ext-ada"));
    let change = created.change.as_ref().unwrap();
    let manager = change.attribute(&format!("{ENT}:manager")).unwrap();
    assert_eq!(
        manager.new.as_ref().unwrap()["value"],
        json!(format!("{}***", &boss_id[..2]))
    );
    assert!(manager.old.is_none(), "created: no old value");
    // What a PATCH changed, old and new (masked).
    let updated = records[2].change.as_ref().unwrap();
    let department = updated.attribute(&format!("{ENT}:department")).unwrap();
    assert_eq!(
        (department.old.clone(), department.new.clone()),
        (Some(json!("Re***")), Some(json!("An***")))
    );
    assert_eq!(updated.attributes_total, 2, "{updated:?}");
    // Members added, with their ids and count.
    let added = records[4]
        .change
        .as_ref()
        .unwrap()
        .members_added
        .as_ref()
        .unwrap();
    assert_eq!(added.total, 2);
    assert!(added.ids.contains(&ada_id) && added.ids.contains(&boss_id));
    assert_eq!(
        records[4].target.as_ref().unwrap().display_name.as_deref(),
        Some("To***")
    );
    // Deactivation: active true -> false.
    let active = records[5]
        .change
        .as_ref()
        .unwrap()
        .attribute("active")
        .unwrap()
        .clone();
    assert_eq!(
        (active.old, active.new),
        (Some(json!(true)), Some(json!(false)))
    );
    // Errors: the SCIM error, and the target of a refused create from its body.
    assert_eq!(records[6].scim_type.as_deref(), Some("uniqueness"));
    assert_eq!(
        records[6].target.as_ref().unwrap().user_name.as_deref(),
        Some("ad***")
    );
    assert!(records[6].change.is_none(), "nothing changed");
    assert!(records[7].scim_type.is_some() && records[7].detail.is_some());
    assert_eq!(records[8].matched, Some(true));
    assert_eq!(records[9].token_id.as_deref(), Some("tok_old"));
    for r in &records {
        assert_eq!(r.tenant, run.tenant.as_str());
        assert_eq!(r.user_agent.as_deref(), Some(ENTRA));
        let text = serde_json::to_string(r).unwrap();
        assert!(text.len() <= 4096);
        for secret in [
            TOKEN,
            PASSWORD,
            "ada@example.com",
            "grace@example.com",
            "Lovelace",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    // Stored, and read back newest first through the operator core.
    store.record_requests(&records).await.unwrap();
    let read = |q: &str| {
        let op = &op;
        let tenant = run.tenant.clone();
        let q = LogQuery::parse(Some(q)).unwrap();
        async move { op.requests(&tenant, &q).await.unwrap() }
    };
    let all = read("").await;
    assert_eq!(all.requests.len(), records.len());
    assert!(
        all.requests.windows(2).all(|w| w[0].time >= w[1].time),
        "newest first"
    );
    assert!(all.next_cursor.is_none());
    assert_eq!(read("action=user.deactivated").await.requests.len(), 1);
    assert_eq!(read("status=4xx").await.requests.len(), 3);
    assert_eq!(read("status=409").await.requests.len(), 1);
    let by_name = read("userName=Ada%40Example.com").await.requests;
    assert_eq!(
        by_name.len(),
        5,
        "ada's creation, two PATCHes, the duplicate, the lookup: {by_name:?}"
    );
    let by_id = read(&format!("resourceId={ada_id}")).await.requests;
    assert!(
        by_id
            .iter()
            .all(|r| r.resource_id.as_deref() == Some(ada_id.as_str()))
            && by_id.len() >= 4
    );
    assert!(read("minDurationMs=3600000").await.requests.is_empty());
    // Paging: two at a time, every record once.
    let mut paged = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let q = match &cursor {
            Some(c) => format!(
                "limit=2&cursor={}",
                form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ),
            None => "limit=2".to_owned(),
        };
        let page = read(&q).await;
        paged.extend(page.requests.into_iter().map(|r| r.request_id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let ids: Vec<String> = all.requests.iter().map(|r| r.request_id.clone()).collect();
    assert_eq!(paged, ids);
    // One by its request id; not under another tenant.
    let one = op
        .request(&run.tenant, &records[5].request_id)
        .await
        .unwrap();
    assert_eq!(one, records[5]);
    let other = common::unique_tenant();
    op.create_tenant(&other, None).await.unwrap();
    assert!(matches!(
        op.request(&other, &records[5].request_id).await,
        Err(AdminError::NotFound(_))
    ));
    assert!(
        op.requests(&other, &LogQuery::default())
            .await
            .unwrap()
            .requests
            .is_empty()
    );
}

async fn full_values_are_kept_when_the_deployment_asks<S: Store + OpsStore + Clone>(store: S) {
    let mut run = run(store, LogValues::Full);
    let (s, _) = run
        .as_tenant("POST", "/Users", Some(user("ada@example.com", None)))
        .await;
    assert_eq!(s, 201);
    let record = run.taken().remove(0);
    assert_eq!(
        record.target.unwrap().user_name.as_deref(),
        Some("ada@example.com")
    );
    let text = serde_json::to_string(&record.change).unwrap();
    assert!(
        text.contains("Lovelace") && !text.contains(PASSWORD),
        "{text}"
    );
}

both_stores!(
    an_entra_run_is_logged_request_by_request,
    full_values_are_kept_when_the_deployment_asks,
);

/// The request log's store is down (scim-local's writer task) or gone:
/// the SCIM requests still succeed, and the writer keeps going.
#[tokio::test]
async fn a_record_that_cannot_be_written_never_fails_the_request() {
    let store = scim_serverless::store::MemoryStore::new();
    let (feed, records) = unbounded_channel();
    let unreachable = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "t", "t", None, None, "t",
            ))
            .endpoint_url("http://127.0.0.1:1")
            .build(),
    );
    let writer = tokio::spawn(scim_serverless::request_log::sink::drain(
        records,
        scim_serverless::store::DynamoStore::new(unreachable, "nowhere"),
    ));
    let run = Run {
        routes: all_routes(store.clone(), &Config::default()),
        tenant: common::unique_tenant(),
        config: HttpConfig {
            scheme: "http".into(),
            public_base_url: None,
            recorder: Recorder::Channel(feed),
            log_values: LogValues::Masked,
        },
        records: unbounded_channel().1,
    };
    for name in ["a@example.com", "b@example.com"] {
        let (s, body) = run
            .as_tenant("POST", "/Users", Some(user(name, None)))
            .await;
        assert_eq!(s, 201, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!writer.is_finished(), "the writer survives a failed write");
    }
    // With the writer gone the recorder still never fails a request.
    writer.abort();
    let _ = writer.await;
    let (s, _) = run.as_tenant("GET", "/Users", None).await;
    assert_eq!(s, 200);
    assert_eq!(store.tenant_census(&run.tenant).await.unwrap().users, 2);
}
