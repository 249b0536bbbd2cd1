//! The embedded store: one process, no dependencies, the same semantics as
//! DynamoDB (atomic conditional writes, case-insensitive unique keys).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Record, Store, StoreError, UniqueKey};
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;

#[derive(Debug, Default)]
struct Tables {
    resources: HashMap<(TenantId, ResourceKind, String), Record>,
    unique: HashMap<(TenantId, UniqueKey), String>,
}

/// An in-memory [`Store`]; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// One lock for all data: every operation is a transaction.
    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }
}

fn key(tenant: &TenantId, kind: ResourceKind, id: &str) -> (TenantId, ResourceKind, String) {
    (tenant.clone(), kind, id.to_owned())
}

/// Fails with `Conflict` when a key is held by another resource.
fn check_unique(
    t: &Tables,
    tenant: &TenantId,
    keys: &[UniqueKey],
    own_id: &str,
) -> Result<(), StoreError> {
    for k in keys {
        if t.unique
            .get(&(tenant.clone(), k.clone()))
            .is_some_and(|holder| holder != own_id)
        {
            return Err(StoreError::Conflict(Some(k.clone())));
        }
    }
    Ok(())
}

/// The condition of every update: the resource exists at `version`.
fn check_version(
    t: &Tables,
    k: &(TenantId, ResourceKind, String),
    version: u64,
) -> Result<(), StoreError> {
    match t.resources.get(k) {
        None => Err(StoreError::NotFound),
        Some(current) if current.version != version => Err(StoreError::VersionMismatch),
        Some(_) => Ok(()),
    }
}

impl Store for MemoryStore {
    async fn create(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let k = key(tenant, record.kind, &record.id);
        if t.resources.contains_key(&k) {
            return Err(StoreError::Conflict(None));
        }
        let keys = record.unique_keys();
        check_unique(&t, tenant, &keys, &record.id)?;
        for uk in keys {
            t.unique.insert((tenant.clone(), uk), record.id.clone());
        }
        t.resources.insert(k, record.clone());
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self.lock()?.resources.get(&key(tenant, kind, id)).cloned())
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        previous: &Record,
        next: &Record,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let k = key(tenant, previous.kind, &previous.id);
        check_version(&t, &k, previous.version)?;
        let new_keys = next.unique_keys();
        check_unique(&t, tenant, &new_keys, &previous.id)?;
        for old in previous.unique_keys() {
            t.unique.remove(&(tenant.clone(), old));
        }
        for uk in new_keys {
            t.unique.insert((tenant.clone(), uk), previous.id.clone());
        }
        t.resources.insert(k, next.clone());
        Ok(())
    }

    async fn delete(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let k = key(tenant, record.kind, &record.id);
        check_version(&t, &k, record.version)?;
        for uk in record.unique_keys() {
            t.unique.remove(&(tenant.clone(), uk));
        }
        t.resources.remove(&k);
        Ok(())
    }

    async fn purge_tenant(&self, tenant: &TenantId, limit: usize) -> Result<usize, StoreError> {
        let mut t = self.lock()?;
        let resources: Vec<_> = t
            .resources
            .keys()
            .filter(|(owner, _, _)| owner == tenant)
            .take(limit)
            .cloned()
            .collect();
        for k in &resources {
            t.resources.remove(k);
        }
        let markers: Vec<_> = t
            .unique
            .keys()
            .filter(|(owner, _)| owner == tenant)
            .take(limit - resources.len())
            .cloned()
            .collect();
        for k in &markers {
            t.unique.remove(k);
        }
        Ok(resources.len() + markers.len())
    }

    async fn find_unique(
        &self,
        tenant: &TenantId,
        key: &UniqueKey,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()?
            .unique
            .get(&(tenant.clone(), key.clone()))
            .cloned())
    }
}
