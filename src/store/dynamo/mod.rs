//! The DynamoDB adapter: one table, every write a conditional transaction
//! of the resource item and its unique-key markers.
//!
//! `codec` lays records out as items, `transaction` builds transactions
//! whose items carry their role, `memberships` and `purge` hold those
//! operations, `store` implements the [`Store`](super::Store) port.

mod codec;
pub mod keys;
mod memberships;
mod purge;
mod reads;
mod store;
pub mod table;
mod transaction;

pub use codec::change_of;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::StoreError;

/// A [`Store`](super::Store) on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// Maps an SDK failure to `Unavailable`, keeping only the error code (never
/// request content, which may hold personal data).
pub(crate) fn unavailable(op: &str, err: &impl ProvideErrorMetadata) -> StoreError {
    StoreError::Unavailable(format!(
        "DynamoDB {op} failed: {}",
        err.code().unwrap_or("unknown error")
    ))
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
