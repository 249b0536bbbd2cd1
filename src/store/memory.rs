//! The embedded store: one process, no dependencies, the same semantics as
//! DynamoDB (atomic conditional writes, case-insensitive unique keys).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::UnboundedSender;

use super::change::{Change, MembershipStep, ResourceImage, current_actor};
use super::{
    Created, Lookup, MEMBERS_PER_TRANSACTION, ManagerLink, Member, Page, Record, Store, StoreError,
    UniqueKey,
};
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;

#[derive(Debug, Default)]
struct Tables {
    /// Ordered like DynamoDB's per-tenant index: by tenant, kind, id.
    resources: BTreeMap<(TenantId, ResourceKind, String), Record>,
    unique: HashMap<(TenantId, UniqueKey), String>,
    /// Per-tenant resource counters, as the DynamoDB adapter keeps them.
    counts: HashMap<(TenantId, ResourceKind), u64>,
    /// How many users wait for a manager by each value (lower-cased), as
    /// the DynamoDB adapter's pending-manager counters.
    pending: HashMap<(TenantId, String), u64>,
    /// Membership edges: (tenant, group id, member id).
    edges: BTreeMap<(TenantId, String, String), Member>,
}

impl Tables {
    /// Keeps the pending-manager counts when a user's link changes from
    /// `before` to `after`.
    fn count_pending(
        &mut self,
        tenant: &TenantId,
        before: Option<&ManagerLink>,
        after: Option<&ManagerLink>,
    ) {
        let pending = |l: Option<&ManagerLink>| match l {
            Some(ManagerLink::Pending(raw)) => Some(raw.to_lowercase()),
            _ => None,
        };
        if let Some(raw) = pending(before)
            && let Some(n) = self.pending.get_mut(&(tenant.clone(), raw))
        {
            *n = n.saturating_sub(1);
        }
        if let Some(raw) = pending(after) {
            *self.pending.entry((tenant.clone(), raw)).or_default() += 1;
        }
    }

    /// One membership change on both sides: the member's group list and
    /// version, the edge.
    fn link(&mut self, tenant: &TenantId, group_id: &str, member: &Member, add: bool) {
        if let Some(m) = self
            .resources
            .get_mut(&key(tenant, member.kind, &member.id))
        {
            m.groups.retain(|g| g != group_id);
            if add {
                m.groups.push(group_id.to_owned());
                m.groups.sort();
            }
            touch(m, 1);
        }
        let edge = (tenant.clone(), group_id.to_owned(), member.id.clone());
        if add {
            self.edges.insert(edge, member.clone());
        } else {
            self.edges.remove(&edge);
        }
    }

    /// A group's edges.
    fn members_of(&self, tenant: &TenantId, group_id: &str) -> Vec<Member> {
        self.edges
            .range((tenant.clone(), group_id.to_owned(), String::new())..)
            .take_while(|((t, g, _), _)| t == tenant && g == group_id)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Bumps a group's version (and `meta.lastModified`) once per step of
    /// `changes` edges.
    fn bump(&mut self, tenant: &TenantId, group_id: &str, changes: usize) {
        if let Some(g) = self
            .resources
            .get_mut(&key(tenant, ResourceKind::Group, group_id))
        {
            touch(g, changes.div_ceil(MEMBERS_PER_TRANSACTION) as u64);
        }
    }
}

/// An in-memory [`Store`]; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    /// Where committed changes of users and groups go, in commit order.
    feed: Option<UnboundedSender<Change>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that reports every committed change of a user or group to
    /// `feed` (sent under the store's lock, so in commit order).
    pub fn with_feed(feed: UnboundedSender<Change>) -> Self {
        MemoryStore {
            tables: Arc::default(),
            feed: Some(feed),
        }
    }

    fn report(&self, tenant: &TenantId, old: Option<ResourceImage>, new: Option<ResourceImage>) {
        if let Some(feed) = &self.feed {
            // A closed feed means nobody listens any more: nothing to do.
            let _ = feed.send(Change {
                tenant: tenant.clone(),
                old,
                new,
                actor: current_actor(),
                committed_at: time::OffsetDateTime::now_utc(),
            });
        }
    }

    /// The stored group, for a membership step's images.
    fn group_image(t: &Tables, tenant: &TenantId, group_id: &str) -> Option<ResourceImage> {
        t.resources
            .get(&key(tenant, ResourceKind::Group, group_id))
            .cloned()
            .map(ResourceImage::of)
    }

    /// One lock for all data: every operation is a transaction.
    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }
}

/// A membership change: `steps` new versions and a new `meta.lastModified`,
/// as the DynamoDB adapter writes them.
fn touch(record: &mut Record, steps: u64) {
    if steps == 0 {
        return;
    }
    record.version += steps;
    if let Some(meta) = record
        .document
        .get_mut("meta")
        .and_then(|m| m.as_object_mut())
    {
        meta.insert(
            "lastModified".to_owned(),
            crate::scim::resource::now().into(),
        );
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
        let reports_waiting = record.reference_names().into_iter().any(|name| {
            t.pending
                .get(&(tenant.clone(), name))
                .is_some_and(|n| *n > 0)
        });
        t.count_pending(tenant, None, record.manager.as_ref());
        t.resources.insert(k, record.clone());
        *t.counts.entry((tenant.clone(), record.kind)).or_default() += 1;
        self.report(tenant, None, Some(ResourceImage::of(record.clone())));
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
        let mut next = next.clone();
        next.groups = previous.groups.clone();
        t.count_pending(tenant, previous.manager.as_ref(), next.manager.as_ref());
        let old = t.resources.insert(k, next.clone());
        self.report(
            tenant,
            old.map(ResourceImage::of),
            Some(ResourceImage::of(next)),
        );
        Ok(())
    }

    async fn delete(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let k = key(tenant, record.kind, &record.id);
        check_version(&t, &k, record.version)?;
        let old = t.resources.get(&k).cloned().map(ResourceImage::of);
        let this = Member::of(record);
        for group in &record.groups {
            t.link(tenant, group, &this, false);
            t.bump(tenant, group, 1);
        }
        if record.kind == ResourceKind::Group {
            for member in t.members_of(tenant, &record.id) {
                t.link(tenant, &record.id, &member, false);
            }
        }
        for uk in record.unique_keys() {
            t.unique.remove(&(tenant.clone(), uk));
        }
        t.count_pending(tenant, record.manager.as_ref(), None);
        t.resources.remove(&k);
        if let Some(n) = t.counts.get_mut(&(tenant.clone(), record.kind)) {
            *n = n.saturating_sub(1);
        }
        self.report(tenant, old, None);
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
        t.pending.retain(|(owner, _), _| owner != tenant);
        t.edges.retain(|(owner, _, _), _| owner != tenant);
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

    async fn get_many(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        let t = self.lock()?;
        let mut records: Vec<Record> = ids
            .iter()
            .filter_map(|id| t.resources.get(&key(tenant, kind, id)).cloned())
            .collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records.dedup_by(|a, b| a.id == b.id);
        Ok(records)
    }

    async fn members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<Member>>, StoreError> {
        let members = self.lock()?.members_of(tenant, group_id);
        let bytes: usize = members.iter().map(member_bytes).sum();
        Ok((bytes <= max_bytes).then_some(members))
    }

    async fn add_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        members: &[Member],
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        // As in DynamoDB, only a step is conditional on the group: a call
        // with nothing to write succeeds either way.
        if !members.is_empty()
            && !t
                .resources
                .contains_key(&key(tenant, ResourceKind::Group, group_id))
        {
            return Err(StoreError::NotFound);
        }
        for chunk in members.chunks(MEMBERS_PER_TRANSACTION) {
            if let Some(missing) = chunk
                .iter()
                .find(|m| !t.resources.contains_key(&key(tenant, m.kind, &m.id)))
            {
                return Err(StoreError::UnknownMember(missing.id.clone()));
            }
            let old = Self::group_image(&t, tenant, group_id);
            let added = chunk
                .iter()
                .filter(|m| {
                    let edge = (tenant.clone(), group_id.to_owned(), m.id.clone());
                    !t.edges.contains_key(&edge)
                })
                .cloned()
                .collect();
            for member in chunk {
                t.link(tenant, group_id, member, true);
            }
            t.bump(tenant, group_id, chunk.len());
            let new = Self::group_image(&t, tenant, group_id).map(|mut g| {
                g.step = Some(MembershipStep {
                    added,
                    removed: Vec::new(),
                });
                g
            });
            self.report(tenant, old, new);
        }
        Ok(())
    }

    async fn remove_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let current: Vec<Member> = ids
            .iter()
            .filter_map(|id| {
                t.edges
                    .get(&(tenant.clone(), group_id.to_owned(), id.clone()))
                    .cloned()
            })
            .collect();
        if !current.is_empty()
            && !t
                .resources
                .contains_key(&key(tenant, ResourceKind::Group, group_id))
        {
            return Err(StoreError::NotFound);
        }
        let old = Self::group_image(&t, tenant, group_id);
        for member in &current {
            t.link(tenant, group_id, member, false);
        }
        t.bump(tenant, group_id, current.len());
        if !current.is_empty() {
            let new = Self::group_image(&t, tenant, group_id).map(|mut g| {
                g.step = Some(MembershipStep {
                    added: Vec::new(),
                    removed: current,
                });
                g
            });
            self.report(tenant, old, new);
        }
        Ok(())
    }

    async fn refresh_member(
        &self,
        tenant: &TenantId,
        member: &Member,
        groups: &[String],
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        for group in groups {
            let edge = (tenant.clone(), group.clone(), member.id.clone());
            if let Some(m) = t.edges.get_mut(&edge) {
                m.display = member.display.clone();
            }
        }
        Ok(())
    }
}

/// What a member adds to a group's response, roughly: its id and display
/// name (both stores measure the same).
pub(crate) fn member_bytes(member: &Member) -> usize {
    member.id.len() + member.display.as_deref().map_or(0, str::len)
}
