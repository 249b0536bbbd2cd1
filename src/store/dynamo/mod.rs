//! The DynamoDB adapter: one table, every write a conditional transaction
//! of the resource item and its unique-key markers.
//!
//! `codec` lays records out as items, `transaction` builds transactions
//! whose items carry their role, `memberships`, `purge` and `migrate`
//! (a tenant from the layout before issue 13) hold those operations,
//! `store` implements the [`Store`](super::Store) port;
//! `stream` decodes the table's stream records into committed changes.

mod breaker;
mod codec;
pub mod keys;
mod memberships;
mod migrate;
pub mod ops;
mod purge;
mod reads;
mod store;
pub mod stream;
pub mod table;
mod transaction;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::WriteRequest;

pub use migrate::{Migrated, MigrationProgress};

use super::StoreError;

/// A [`Store`](super::Store) on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long request records are kept (their TTL).
    request_log_retention: std::time::Duration,
}

/// Maps an SDK failure to a [`StoreError`], keeping only the error code
/// (never request content, which may hold personal data): a
/// `ValidationException` is the request's fault (`Rejected`), anything
/// else is the backend's (`Unavailable`).
pub(crate) fn sdk_failure(op: &str, err: &impl ProvideErrorMetadata) -> StoreError {
    let code = err.code().unwrap_or("unknown error");
    let cause = format!("DynamoDB {op} failed: {code}");
    if code == "ValidationException" {
        StoreError::Rejected(cause)
    } else {
        StoreError::Unavailable(cause)
    }
}

/// Whether a conditional write was applied (`false`: its condition failed).
fn applied<T, E: ProvideErrorMetadata>(result: Result<T, E>, op: &str) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(sdk_failure(op, &e)),
    }
}

/// Whether a partition key can exist: DynamoDB refuses to even look up a
/// key over 2048 bytes (a `ValidationException`), and the service never
/// writes one, so a longer key is simply not found.
fn can_exist(pk: &str) -> bool {
    pk.len() <= 2048
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("invalid DynamoDB request: {e}"))
}

/// Most items one `BatchWriteItem` takes.
const BATCH_WRITE_LIMIT: usize = 25;

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            request_log_retention: ops::DEFAULT_REQUEST_LOG_RETENTION,
        }
    }

    /// Keeps request records for `retention` instead of the default 30
    /// days (`SCIM_REQUEST_LOG_TTL_DAYS`).
    pub fn with_request_log_retention(mut self, retention: std::time::Duration) -> Self {
        self.request_log_retention = retention;
        self
    }

    /// Sends up to [`BATCH_WRITE_LIMIT`] writes as one `BatchWriteItem`,
    /// retrying what DynamoDB leaves unprocessed (throttling) with a
    /// growing pause.
    async fn write_batch(&self, mut pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..8u32 {
            if pending.is_empty() {
                return Ok(());
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| sdk_failure("BatchWriteItem", &e))?;
            pending = output
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB BatchWriteItem left items unprocessed".into(),
        ))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
