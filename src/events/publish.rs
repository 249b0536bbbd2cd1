//! The AWS side of events: a batch of DynamoDB Streams records (the
//! `events` function's input) decoded, derived and published to an
//! EventBridge bus, with the records whose events could not be published
//! reported back (`ReportBatchItemFailures`) so the shard retries from the
//! first of them.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::batch::{Entry, batches};
use super::derive;
use super::detail::SOURCE;
use super::gate::Gate;
use crate::auth::TokenSource;
use crate::store::Store;
use crate::store::dynamo::stream::lambda_change;
use crate::store::ops::OpsStore;

/// Attempts of each entry before its record is reported failed.
const PUT_ATTEMPTS: u32 = 4;

/// Publishes entries on one EventBridge bus.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    /// First back-off between attempts, doubled after each.
    backoff: Duration,
}

impl Publisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Publisher {
            client,
            bus: bus.into(),
            backoff: Duration::from_millis(100),
        }
    }

    /// Publishes `entries` in batches, retrying failed entries (and failed
    /// requests) with back-off; returns the origins of the entries that
    /// still failed, smallest first.
    pub async fn publish(&self, entries: &[Entry]) -> Vec<usize> {
        let mut pending: Vec<Entry> = entries.to_vec();
        let mut pause = self.backoff;
        for attempt in 1..=PUT_ATTEMPTS {
            let mut failed = Vec::new();
            for batch in batches(&pending) {
                failed.extend(self.put(batch).await);
            }
            if failed.is_empty() {
                return Vec::new();
            }
            pending = failed;
            if attempt < PUT_ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        let mut origins: Vec<usize> = pending.iter().map(|e| e.origin).collect();
        origins.sort_unstable();
        origins.dedup();
        origins
    }

    /// One `PutEvents`; returns the entries that failed.
    async fn put(&self, batch: &[Entry]) -> Vec<Entry> {
        let request: Vec<PutEventsRequestEntry> = batch
            .iter()
            .map(|e| {
                let time = time::OffsetDateTime::parse(
                    &e.time,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()
                .map(|t| aws_sdk_eventbridge::primitives::DateTime::from_secs(t.unix_timestamp()));
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .set_time(time)
                    .build()
            })
            .collect();
        match self
            .client
            .put_events()
            .set_entries(Some(request))
            .send()
            .await
        {
            Ok(out) => batch
                .iter()
                .zip(out.entries())
                .filter(|(_, r)| r.error_code().is_some())
                .map(|(e, r)| {
                    tracing::warn!(
                        operation = "EventBridge PutEvents",
                        cause = r.error_code().unwrap_or_default(),
                        detail_type = %e.detail_type,
                        "an event entry was not published"
                    );
                    e.clone()
                })
                .chain(batch.iter().skip(out.entries().len()).cloned())
                .collect(),
            Err(err) => {
                let cause = aws_sdk_eventbridge::error::ProvideErrorMetadata::code(&err)
                    .unwrap_or("request failed")
                    .to_owned();
                tracing::warn!(
                    operation = "EventBridge PutEvents",
                    cause,
                    entries = batch.len(),
                    "a PutEvents request failed"
                );
                batch.to_vec()
            }
        }
    }
}

impl super::Bus for Publisher {
    fn send<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let failed = self.publish(entries).await;
            match failed.len() {
                0 => Ok(()),
                n => Err(format!(
                    "{n} of {} entries were not published",
                    entries.len()
                )),
            }
        })
    }
}

/// Handles one batch of stream records: every record's events go through
/// their tenant's breaker (published, or held while it is tripped), in
/// order, up to the first record that cannot be decoded (a poison record)
/// or whose events could not be published; that record is reported as the
/// batch's failure, so Lambda retries the shard from it (and, past the
/// mapping's retries, sends it to the dead-letter queue). When the breaker
/// store fails the whole batch is retried.
pub async fn handle<S: Store + OpsStore, T: TokenSource>(
    publisher: &Publisher,
    gate: &Gate<S, T>,
    event: StreamEvent,
) -> DynamoDbEventResponse {
    let records = &event.records;
    let mut entries = Vec::new();
    let mut first_failed = None;
    for (i, record) in records.iter().enumerate() {
        match lambda_change(record) {
            Ok(change) => {
                if let Some((change, e)) = change.as_ref().and_then(|c| Some((c, derive(c)?))) {
                    entries.push((change.tenant.clone(), Entry::of(&e, i)));
                }
            }
            Err(err) => {
                tracing::error!(
                    operation = "decode stream record",
                    cause = %err,
                    record = %record.event_id,
                    "a stream record could not be decoded"
                );
                first_failed = Some(i);
                break;
            }
        }
    }
    let passed = match gate.pass(entries).await {
        Ok(passed) => passed,
        Err(err) => {
            tracing::error!(
                operation = "breaker",
                cause = %err,
                "the batch could not pass the tenants' breakers; it is retried"
            );
            let mut response = DynamoDbEventResponse::default();
            if let Some(first) = records.first() {
                response.batch_item_failures.push(failure(first));
            }
            return response;
        }
    };
    let failed = publisher.publish(&passed.publish).await;
    if let Some(i) = failed.first() {
        tracing::error!(
            operation = "EventBridge PutEvents",
            record = %records[*i].event_id,
            "events of a stream record could not be published; the shard retries from it"
        );
        first_failed = Some(first_failed.map_or(*i, |f: usize| f.min(*i)));
    } else if let Err(err) = gate.announced(&passed.announcing).await {
        // Announced again with the next batch: at least once.
        tracing::warn!(operation = "breaker", cause = %err, "a trip's announcement was not marked");
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(i) = first_failed {
        response.batch_item_failures.push(failure(&records[i]));
    }
    response
}

fn failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut f = DynamoDbBatchItemFailure::default();
    f.item_identifier = record.change.sequence_number.clone();
    f
}
