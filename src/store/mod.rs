//! Storage: the [`Store`] port and its adapters, `memory` (embedded) and
//! `dynamo` (production). Both pass the contract suite in `tests/`.

pub mod dynamo;
pub mod memory;

use std::future::Future;

use serde_json::Value;

use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

/// A value that must be unique within a tenant, compared case-insensitively
/// (RFC 7643: `userName` is case-insensitive; Entra matches group
/// `displayName` the same way). Enforced by a marker item written in the
/// same transaction as the resource, never by a check through an index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UniqueKey {
    UserName(String),
    GroupDisplayName(String),
}

impl UniqueKey {
    /// The keys a resource document claims.
    pub fn for_document(kind: ResourceKind, document: &Value) -> Vec<UniqueKey> {
        let field = match kind {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        };
        let Some(value) = document.get(field).and_then(Value::as_str) else {
            return Vec::new();
        };
        let folded = value.to_lowercase();
        vec![match kind {
            ResourceKind::User => UniqueKey::UserName(folded),
            ResourceKind::Group => UniqueKey::GroupDisplayName(folded),
        }]
    }

    /// The attribute name, for `409 uniqueness` details.
    pub fn attribute(&self) -> &'static str {
        match self {
            UniqueKey::UserName(_) => "userName",
            UniqueKey::GroupDisplayName(_) => "displayName",
        }
    }
}

/// A stored resource: its document and the version every write is
/// conditional on (also its ETag).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: ResourceKind,
    pub id: String,
    pub version: u64,
    pub document: Value,
}

impl Record {
    pub fn unique_keys(&self) -> Vec<UniqueKey> {
        UniqueKey::for_document(self.kind, &self.document)
    }
}

/// Why a store operation did not happen. Nothing is half-written in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("resource not found")]
    NotFound,
    /// Another writer changed the resource since it was read.
    #[error("resource was modified concurrently")]
    VersionMismatch,
    /// The resource id or a unique value is taken.
    #[error("{} is already taken", .0.as_ref().map_or("id", |k| k.attribute()))]
    Conflict(Option<UniqueKey>),
    /// The backend failed or throttled: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item could not be decoded.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// The storage port. Every write is atomic and conditional: on the
/// resource not existing (create) or on the version read (replace, delete).
pub trait Store: Send + Sync + 'static {
    /// Stores a new resource and its unique keys; `record.version` is its
    /// first version.
    fn create(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a resource (strongly consistent).
    fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Replaces `previous` by `next` if the stored version is still
    /// `previous.version`, moving unique keys that changed.
    fn replace(
        &self,
        tenant: &TenantId,
        previous: &Record,
        next: &Record,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes `record` and its unique keys if its version is unchanged.
    fn delete(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes up to `limit` items of the tenant, of every kind, and
    /// returns how many it deleted: 0 once nothing is left. Operators call
    /// it until it returns 0; an interrupted purge is resumed by calling it
    /// again.
    fn purge_tenant(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The id holding a unique key, if any.
    fn find_unique(
        &self,
        tenant: &TenantId,
        key: &UniqueKey,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}
