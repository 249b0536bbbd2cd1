//! The DynamoDB adapter: one table, every write a conditional transaction
//! of the resource item and its unique-key markers.
//!
//! `codec` lays records out as items, `transaction` builds transactions
//! whose items carry their role, `memberships`, `purge` and `migrate`
//! (a tenant from the layout before issue 13) hold those operations,
//! `store` implements the [`Store`](super::Store) port;
//! `stream` decodes the table's stream records into committed changes.

mod codec;
pub mod keys;
mod memberships;
mod migrate;
mod purge;
mod reads;
mod store;
pub mod stream;
pub mod table;
mod transaction;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;

pub use migrate::{Migrated, MigrationProgress};

use super::StoreError;

/// A [`Store`](super::Store) on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
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

/// Whether a partition key can exist: DynamoDB refuses to even look up a
/// key over 2048 bytes (a `ValidationException`), and the service never
/// writes one, so a longer key is simply not found.
fn can_exist(pk: &str) -> bool {
    pk.len() <= 2048
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("invalid DynamoDB request: {e}"))
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
