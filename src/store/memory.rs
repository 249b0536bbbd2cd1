//! The embedded store: one process, no dependencies, the same semantics as
//! DynamoDB (atomic conditional writes, case-insensitive unique keys).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Created, Lookup, ManagerLink, Page, Record, Store, StoreError, UniqueKey};
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;

#[derive(Debug, Default)]
struct Tables {
    /// Ordered like DynamoDB's per-tenant index: by tenant, kind, id.
    resources: BTreeMap<(TenantId, ResourceKind, String), Record>,
    unique: HashMap<(TenantId, UniqueKey), String>,
    /// Per-tenant resource counters, as the DynamoDB adapter keeps them.
    counts: HashMap<(TenantId, ResourceKind), u64>,
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

/// A tenant's resources of one kind, in id order, starting after `after`.
fn range<'t>(
    t: &'t Tables,
    tenant: &TenantId,
    kind: ResourceKind,
    after: Option<&str>,
) -> impl Iterator<Item = &'t Record> {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let start = match after {
        Some(id) => Excluded(key(tenant, kind, id)),
        None => Included(key(tenant, kind, "")),
    };
    let (tenant, kind) = (tenant.clone(), kind);
    t.resources
        .range((start, Unbounded))
        .take_while(move |((t, k, _), _)| *t == tenant && *k == kind)
        .map(|(_, r)| r)
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
    async fn create(&self, tenant: &TenantId, record: &Record) -> Result<Created, StoreError> {
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
        let names = record.reference_names();
        let reports_waiting = range(&t, tenant, ResourceKind::User, None).any(|r| {
            matches!(&r.manager, Some(ManagerLink::Pending(raw)) if names.contains(&raw.to_lowercase()))
        });
        t.resources.insert(k, record.clone());
        *t.counts.entry((tenant.clone(), record.kind)).or_default() += 1;
        Ok(Created { reports_waiting })
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
        if let Some(n) = t.counts.get_mut(&(tenant.clone(), record.kind)) {
            *n = n.saturating_sub(1);
        }
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
        t.counts.retain(|(owner, _), _| owner != tenant);
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

    async fn find(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        lookup: &Lookup,
    ) -> Result<Vec<Record>, StoreError> {
        let t = self.lock()?;
        Ok(range(&t, tenant, kind, None)
            .filter(|r| r.matches(lookup))
            .cloned()
            .collect())
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let t = self.lock()?;
        let records: Vec<Record> = range(&t, tenant, kind, after)
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        Ok(Page::of_overfetched(records, limit))
    }

    async fn id_at(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        position: u64,
    ) -> Result<Option<String>, StoreError> {
        let Some(skip) = usize::try_from(position)
            .ok()
            .and_then(|p| p.checked_sub(1))
        else {
            return Ok(None);
        };
        let t = self.lock()?;
        Ok(range(&t, tenant, kind, None)
            .nth(skip)
            .map(|r| r.id.clone()))
    }

    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<u64, StoreError> {
        let t = self.lock()?;
        Ok(t.counts.get(&(tenant.clone(), kind)).copied().unwrap_or(0))
    }
}
