//! The `events` function's handler on the DynamoDB Streams events of
//! `events/dynamodb-*.json` (records of DynamoDB Local's stream, written
//! by `events/stream-fixtures.py`), publishing to an EventBridge bus on
//! moto whose rule forwards to an SQS queue the test reads: each file
//! publishes exactly its event; redelivery publishes the same eventIds; a
//! `PutEvents` entry that failed is published again; a record that cannot
//! be decoded is reported as the batch's failure after the events before
//! it were published.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_sdk_eventbridge::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_eventbridge::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::body::SdkBody;
use scim_serverless::auth::{MemoryTokenSource, Verifier};
use scim_serverless::events::gate::Gate;
use scim_serverless::events::publish::{Publisher, handle};
use scim_serverless::store::MemoryStore;
use serde_json::{Value, json};

/// Each fixture and the one event it publishes.
const FIXTURES: &[(&str, &str)] = &[
    ("dynamodb-user-created.json", "user.created"),
    ("dynamodb-user-updated.json", "user.updated"),
    ("dynamodb-user-deactivated.json", "user.deactivated"),
    ("dynamodb-user-reactivated.json", "user.reactivated"),
    ("dynamodb-user-deleted.json", "user.deleted"),
    ("dynamodb-group-created.json", "group.created"),
    ("dynamodb-group-updated.json", "group.updated"),
    ("dynamodb-group-deleted.json", "group.deleted"),
    ("dynamodb-group-member-added.json", "group.member_added"),
    ("dynamodb-group-member-removed.json", "group.member_removed"),
];

/// A gate whose tenants have the default settings and nothing tripped.
fn open_gate() -> Gate<MemoryStore, MemoryTokenSource> {
    Gate::new(
        MemoryStore::new(),
        Verifier::new(MemoryTokenSource::default(), Duration::ZERO),
    )
}

fn fixture(name: &str) -> StreamEvent {
    let text = std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// A bus with a rule sending everything to a queue.
struct Bus {
    config: aws_config::SdkConfig,
    name: String,
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

async fn bus() -> Option<Bus> {
    let config = common::aws_config("AWS_ENDPOINT_URL_EVENTBRIDGE").await?;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = format!("scim-{}", uuid::Uuid::new_v4().simple());
    events.create_event_bus().name(&name).send().await.unwrap();
    let queue = sqs.create_queue().queue_name(&name).send().await.unwrap();
    let queue = queue.queue_url().unwrap().to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("all")
        .event_bus_name(&name)
        .event_pattern(json!({"source": ["scim-serverless"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("all")
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Some(Bus {
        config,
        name,
        sqs,
        queue,
    })
}

impl Bus {
    fn publisher(&self) -> Publisher {
        Publisher::new(aws_sdk_eventbridge::Client::new(&self.config), &self.name)
    }

    /// The events the rule delivered so far (EventBridge's envelopes).
    async fn delivered(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let page = self
                .sqs
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if page.messages().is_empty() {
                return out;
            }
            for m in page.messages() {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test]
async fn each_fixture_publishes_exactly_its_event() {
    let Some(bus) = bus().await else { return };
    let publisher = bus.publisher();
    for (file, kind) in FIXTURES {
        let response = handle(&publisher, &open_gate(), fixture(file)).await;
        assert!(response.batch_item_failures.is_empty(), "{file}");
        let delivered = bus.delivered().await;
        assert_eq!(delivered.len(), 1, "{file}: {delivered:?}");
        let e = &delivered[0];
        assert_eq!(e["detail-type"], *kind, "{file}");
        assert_eq!(e["source"], "scim-serverless");
        let d = &e["detail"];
        assert_eq!(d["type"], *kind);
        assert_eq!(d["tenant"], "acme");
        assert_eq!(
            d["tokenId"].is_string(),
            !kind.ends_with(".deleted"),
            "{file}"
        );
        if !kind.ends_with(".deleted") {
            assert_eq!(d["userAgent"], "Azure AD SCIM Provisioning", "{file}");
        }
        match *kind {
            "group.member_added" | "group.member_removed" => {
                assert_eq!(d["member"]["type"], "User");
                assert_eq!(d["member"]["display"], "ada@example.com");
                assert!(d.get("resource").is_none());
            }
            "user.deleted" => {
                assert_eq!(d["groups"].as_array().map(Vec::len), Some(1), "{d}");
                assert_eq!(d["resource"]["userName"], "ada@example.com");
            }
            "user.deactivated" => {
                assert_eq!(d["resource"]["active"], false);
                assert_eq!(d["changed"], json!(["active"]));
            }
            _ => assert!(d["resource"]["meta"]["version"] == d["version"], "{d}"),
        }
    }
}

#[tokio::test]
async fn redelivery_publishes_the_same_event_ids() {
    let Some(bus) = bus().await else { return };
    let publisher = bus.publisher();
    let mut ids = Vec::new();
    for _ in 0..2 {
        for (file, _) in FIXTURES {
            handle(&publisher, &open_gate(), fixture(file)).await;
        }
        let delivered = bus.delivered().await;
        let mut round: Vec<String> = delivered
            .iter()
            .map(|e| e["detail"]["eventId"].as_str().unwrap().to_owned())
            .collect();
        round.sort();
        ids.push(round);
    }
    assert_eq!(ids[0].len(), FIXTURES.len());
    assert_eq!(ids[0], ids[1]);
}

/// Answers the first `PutEvents` as if EventBridge had failed its first
/// entry (after moto published it).
#[derive(Debug, Default)]
struct FailFirstEntry {
    calls: AtomicUsize,
}

impl Intercept for FailFirstEntry {
    fn name(&self) -> &'static str {
        "FailFirstEntry"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) > 0 {
            return Ok(());
        }
        let body = json!({"FailedEntryCount": 1, "Entries": [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}]})
        .to_string();
        *context.response_mut().body_mut() = SdkBody::from(body);
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_entry_is_published_again() {
    let Some(bus) = bus().await else { return };
    let failing = Arc::new(FailFirstEntry::default());
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&bus.config)
            .interceptor(SharedFail(failing.clone()))
            .build(),
    );
    let publisher = Publisher::new(client, &bus.name);
    let response = handle(
        &publisher,
        &open_gate(),
        fixture("dynamodb-user-deactivated.json"),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(failing.calls.load(Ordering::SeqCst), 2);
    let delivered = bus.delivered().await;
    assert_eq!(
        delivered.len(),
        2,
        "published, reported failed, published again"
    );
    assert_eq!(
        delivered[0]["detail"]["eventId"],
        delivered[1]["detail"]["eventId"]
    );
}

#[derive(Debug)]
struct SharedFail(Arc<FailFirstEntry>);

impl Intercept for SharedFail {
    fn name(&self) -> &'static str {
        "SharedFail"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.modify_before_deserialization(context, rc, cfg)
    }
}

#[tokio::test]
async fn a_poison_record_is_the_batch_failure_and_the_records_before_it_are_published() {
    let Some(bus) = bus().await else { return };
    let publisher = bus.publisher();
    let created = fixture("dynamodb-user-created.json");
    let mut batch = fixture("dynamodb-user-updated.json");
    let mut poison = created
        .records
        .iter()
        .find(|r| r.change.keys.get("sk") == Some(&serde_dynamo::AttributeValue::S("R".into())))
        .unwrap()
        .clone();
    poison.change.sequence_number = Some("poison".into());
    // A user item whose compressed document does not inflate: it cannot
    // be decoded.
    poison
        .change
        .new_image
        .insert("dz".into(), serde_dynamo::AttributeValue::B(vec![0xff; 8]));
    let tail = fixture("dynamodb-user-deactivated.json").records;
    batch.records.push(poison);
    batch.records.extend(tail);
    let response = handle(&publisher, &open_gate(), batch).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [Some("poison".to_owned())]);
    let delivered = bus.delivered().await;
    let kinds: Vec<&str> = delivered
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["user.updated"], "nothing after the poison record");
}

#[tokio::test]
async fn events_that_cannot_be_published_fail_their_record() {
    let Some(bus) = bus().await else { return };
    let publisher = Publisher::new(aws_sdk_eventbridge::Client::new(&bus.config), "no-such-bus");
    let event = fixture("dynamodb-user-updated.json");
    let first = event
        .records
        .iter()
        .position(|r| r.change.keys.get("sk") == Some(&serde_dynamo::AttributeValue::S("R".into())))
        .unwrap();
    let expected = event.records[first].change.sequence_number.clone();
    let response = handle(&publisher, &open_gate(), event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [expected]);
}

/// Holding and releasing on the `events` handler: a batch of
/// deactivations of tenant `acme` (threshold 1, no share rule) publishes
/// the first and the tripped event and holds the rest; the operator's
/// release publishes them on the same bus, in order, and the next batch
/// is published at once.
#[tokio::test]
async fn the_handler_holds_past_the_breaker_and_a_release_publishes_them() {
    use scim_serverless::admin::{BreakerPhase, Operator};
    use scim_serverless::events::breaker::ResolutionAction;
    use scim_serverless::tenant::TenantId;

    let Some(bus) = bus().await else { return };
    let publisher = bus.publisher();
    let tokens = MemoryTokenSource::default();
    let store = MemoryStore::new();
    let acme = TenantId::parse("acme").unwrap();
    let mut operator = Operator::new(tokens.clone(), store.clone(), None);
    operator.bus = Some(Arc::new(bus.publisher()));
    operator.create_tenant(&acme, None).await.unwrap();
    operator
        .change_settings(
            &acme,
            &json!({"breaker": {"threshold": 1, "percent": 0}}),
            None,
            "test",
        )
        .await
        .unwrap();
    let gate = Gate::new(store, Verifier::new(tokens, Duration::ZERO));
    let one = fixture("dynamodb-user-deactivated.json");
    let mut batch = fixture("dynamodb-user-deactivated.json");
    for i in 0..3 {
        let mut record = one.records[0].clone();
        record.change.sequence_number = Some(format!("1000{i}"));
        batch.records.push(record);
    }
    let response = handle(&publisher, &gate, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let delivered = bus.delivered().await;
    let kinds: Vec<&str> = delivered
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"user.deactivated") && kinds.contains(&"tenant.breaker.tripped"));
    let tripped = delivered
        .iter()
        .find(|e| e["detail-type"] == "tenant.breaker.tripped")
        .unwrap();
    assert_eq!(tripped["detail"]["tenant"], "acme");
    assert_eq!(tripped["detail"]["count"], 2);
    let breaker = operator.breaker(&acme).await.unwrap();
    assert_eq!(breaker.state, BreakerPhase::Tripped);
    assert_eq!(breaker.trip.as_ref().unwrap().held, 3);

    // A redelivered batch while tripped: held again, nothing published.
    let response = handle(&publisher, &gate, fixture("dynamodb-user-updated.json")).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(bus.delivered().await.is_empty());

    let released = operator
        .resolve_breaker(
            &acme,
            ResolutionAction::Release,
            "arn:aws:iam::1:role/support",
            None,
        )
        .await
        .unwrap();
    assert_eq!(released.state, BreakerPhase::Armed);
    let delivered = bus.delivered().await;
    let kinds: Vec<&str> = delivered
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "user.deactivated").count(),
        3
    );
    let response = handle(&publisher, &gate, fixture("dynamodb-user-created.json")).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(bus.delivered().await.len(), 1, "published at once again");
}
