//! The embedded store: one process, no dependencies, the same semantics as
//! DynamoDB (atomic conditional writes, case-insensitive unique keys).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::UnboundedSender;

use super::change::{Change, Changed, current_actor};
use super::ops::OpsTables;
use super::{
    Census, Created, GroupCondition, Lookup, MEMBERS_PER_TRANSACTION, ManagerLink, Member, Page,
    Record, Store, StoreError, TenantCensus, UniqueKey,
};
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;

#[derive(Debug, Default)]
struct Tables {
    /// Ordered like DynamoDB's per-tenant index: by tenant, kind, id.
    resources: BTreeMap<(TenantId, ResourceKind, String), Record>,
    unique: HashMap<(TenantId, UniqueKey), String>,
    /// Per-tenant resource counters and list generations, as the DynamoDB
    /// adapter keeps them.
    counts: HashMap<(TenantId, ResourceKind), Census>,
    /// The last list generation handed out: generations never repeat in
    /// this store, also after a tenant purge.
    generations: u64,
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

    /// Counts a create (`+1`) or delete (`-1`) of a resource and gives the
    /// list a new generation.
    fn count(&mut self, tenant: &TenantId, kind: ResourceKind, delta: i64) {
        self.generations += 1;
        let generation = self.generations;
        let census = self.counts.entry((tenant.clone(), kind)).or_insert(Census {
            total: 0,
            generation,
        });
        census.total = census.total.saturating_add_signed(delta);
        census.generation = generation;
    }

    /// Checks the group of a membership step against `condition`.
    fn check_group(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
    ) -> Result<(), StoreError> {
        let k = key(tenant, ResourceKind::Group, group_id);
        match condition {
            GroupCondition::At(version) => check_version(self, &k, version),
            GroupCondition::Exists { .. } if self.resources.contains_key(&k) => Ok(()),
            GroupCondition::Exists { .. } => Err(StoreError::NotFound),
        }
    }

    /// The group's next version after one step, and the condition of the
    /// step after it.
    fn step(
        &mut self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
    ) -> GroupCondition {
        if let Some(g) = self
            .resources
            .get_mut(&key(tenant, ResourceKind::Group, group_id))
        {
            touch(g, 1);
        }
        match condition {
            GroupCondition::At(version) => GroupCondition::At(version + 1),
            GroupCondition::Exists { seen } => GroupCondition::Exists { seen: seen + 1 },
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
}

/// An in-memory [`Store`]; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    ops: Arc<Mutex<OpsTables>>,
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
            ops: Arc::default(),
            feed: Some(feed),
        }
    }

    /// The operator plane's tables (`store::ops`).
    pub(crate) fn ops_tables(&self) -> &Mutex<OpsTables> {
        &self.ops
    }

    fn report(&self, tenant: &TenantId, what: Changed) {
        if let Some(feed) = &self.feed {
            // A closed feed means nobody listens any more: nothing to do.
            let _ = feed.send(Change {
                tenant: tenant.clone(),
                what,
                actor: current_actor(),
                committed_at: time::OffsetDateTime::now_utc(),
            });
        }
    }

    /// Reports the memberships one step began (`added`) or ended, at the
    /// group's version after the step.
    fn report_step(
        &self,
        t: &Tables,
        tenant: &TenantId,
        group_id: &str,
        members: Vec<Member>,
        added: bool,
    ) {
        let Some(group) = t.resources.get(&key(tenant, ResourceKind::Group, group_id)) else {
            return;
        };
        for member in members {
            let what = Changed::Membership {
                group_id: group_id.to_owned(),
                group_version: group.version,
                member,
                added,
            };
            self.report(tenant, what);
        }
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
        t.count(tenant, record.kind, 1);
        self.report(
            tenant,
            Changed::Resource {
                old: None,
                new: Some(Box::new(record.clone())),
            },
        );
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
            Changed::Resource {
                old: old.map(Box::new),
                new: Some(Box::new(next)),
            },
        );
        Ok(())
    }

    async fn delete(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let k = key(tenant, record.kind, &record.id);
        check_version(&t, &k, record.version)?;
        let old = t.resources.get(&k).cloned();
        let this = Member::of(record);
        for group in &record.groups {
            t.link(tenant, group, &this, false);
            if let Some(g) = t
                .resources
                .get_mut(&key(tenant, ResourceKind::Group, group))
            {
                touch(g, 1);
            }
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
        t.count(tenant, record.kind, -1);
        self.report(
            tenant,
            Changed::Resource {
                old: old.map(Box::new),
                new: None,
            },
        );
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
        let deleted = resources.len() + markers.len();
        if deleted > 0 {
            return Ok(deleted);
        }
        drop(t);
        Ok(self
            .ops
            .lock()
            .map_err(|_| StoreError::Unavailable("the operator tables' lock is poisoned".into()))?
            .purge_tenant(tenant))
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

    async fn tenant_census(&self, tenant: &TenantId) -> Result<TenantCensus, StoreError> {
        let t = self.lock()?;
        let mut census = TenantCensus::default();
        for ((owner, kind, _), record) in &t.resources {
            if owner != tenant {
                continue;
            }
            match kind {
                ResourceKind::User => {
                    census.users += 1;
                    if record.document.get("active") == Some(&serde_json::Value::Bool(false)) {
                        census.inactive_users += 1;
                    }
                }
                ResourceKind::Group => census.groups += 1,
            }
        }
        census.memberships = t.edges.keys().filter(|(owner, _, _)| owner == tenant).count() as u64;
        Ok(census)
    }

    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<Census, StoreError> {
        let t = self.lock()?;
        Ok(t.counts
            .get(&(tenant.clone(), kind))
            .copied()
            .unwrap_or(Census {
                total: 0,
                generation: 0,
            }))
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
        condition: GroupCondition,
        members: &[Member],
    ) -> Result<GroupCondition, StoreError> {
        // Steps of distinct members in id order, as in DynamoDB.
        let members = Member::distinct(members);
        let mut t = self.lock()?;
        let mut condition = condition;
        for chunk in members.chunks(MEMBERS_PER_TRANSACTION) {
            // The group's condition comes first, as in DynamoDB.
            t.check_group(tenant, group_id, condition)?;
            if let Some(missing) = chunk
                .iter()
                .find(|m| !t.resources.contains_key(&key(tenant, m.kind, &m.id)))
            {
                return Err(StoreError::UnknownMember(missing.id.clone()));
            }
            let added: Vec<Member> = chunk
                .iter()
                .filter(|m| {
                    let edge = (tenant.clone(), group_id.to_owned(), m.id.clone());
                    !t.edges.contains_key(&edge)
                })
                .cloned()
                .collect();
            condition = t.step(tenant, group_id, condition);
            for member in chunk {
                t.link(tenant, group_id, member, true);
            }
            self.report_step(&t, tenant, group_id, added, true);
        }
        Ok(condition)
    }

    async fn remove_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        ids: &[String],
    ) -> Result<GroupCondition, StoreError> {
        let ids: std::collections::BTreeSet<&String> = ids.iter().collect();
        let mut t = self.lock()?;
        let current: Vec<Member> = ids
            .into_iter()
            .filter_map(|id| {
                t.edges
                    .get(&(tenant.clone(), group_id.to_owned(), id.clone()))
                    .cloned()
            })
            .collect();
        let mut condition = condition;
        for chunk in current.chunks(MEMBERS_PER_TRANSACTION) {
            t.check_group(tenant, group_id, condition)?;
            condition = t.step(tenant, group_id, condition);
            for member in chunk {
                t.link(tenant, group_id, member, false);
            }
            self.report_step(&t, tenant, group_id, chunk.to_vec(), false);
        }
        Ok(condition)
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
