//! Memberships: edges in the group's partition and the members' group
//! lists, changed together in steps of [`MEMBERS_PER_TRANSACTION`].

use std::collections::BTreeSet;

use super::codec::{self, ATTR_DISPLAY, ATTR_WRITER, Item, decode_member, s};
use super::keys::{self, PK, SK};
use super::transaction::{Failure, GroupListChange, Role, Transaction};
use super::{DynamoStore, sdk_failure};
use crate::scim::schema::ResourceKind;
use crate::store::Store;
use crate::store::change::current_actor;
use crate::store::{GroupCondition, MEMBERS_PER_TRANSACTION, Member, Record, StoreError};
use crate::tenant::TenantId;

/// Attempts of a commuting membership step whose group another writer
/// moved to a new version in between.
const STEP_ATTEMPTS: u32 = 10;

/// One page of a group's edges.
pub(super) struct EdgePage {
    /// Live memberships.
    pub(super) live: Vec<Member>,
    /// Ids of members whose edges are tombstones.
    pub(super) gone: Vec<String>,
    pub(super) next: Option<Item>,
}

impl DynamoStore {
    /// Adds (`add`) or ends the memberships of `members` in a group, in
    /// steps of [`MEMBERS_PER_TRANSACTION`]: each step writes the edges
    /// (an ended one as a tombstone), the members' group lists and the
    /// group's next version atomically, conditional on `condition` as the
    /// step before left it.
    pub(super) async fn write_memberships(
        &self,
        tenant: &TenantId,
        group_id: &str,
        mut condition: GroupCondition,
        members: &[Member],
        add: bool,
    ) -> Result<GroupCondition, StoreError> {
        let now = crate::scim::resource::now();
        for chunk in members.chunks(MEMBERS_PER_TRANSACTION) {
            condition = self
                .write_step(tenant, group_id, condition, chunk, add, &now)
                .await?;
        }
        Ok(condition)
    }

    /// One step. Every edge it writes records the group's version after
    /// it; a commuting step ([`GroupCondition::Exists`]) that finds the
    /// group at another version re-reads it and tries again. The step
    /// counts the edges it really adds or ends in the group's counter
    /// shard: it guesses which are live (none when adding, all when
    /// removing: the callers left out the others) and writes each edge
    /// conditional on that guess; a wrong guess (a concurrent writer, or a
    /// caller that re-adds) reads the edges and tries again.
    async fn write_step(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        chunk: &[Member],
        add: bool,
        now: &str,
    ) -> Result<GroupCondition, StoreError> {
        let mut version = match condition {
            GroupCondition::At(v) | GroupCondition::Exists { seen: v } => v,
        };
        let mut live: BTreeSet<&str> = if add {
            BTreeSet::new()
        } else {
            chunk.iter().map(|m| m.id.as_str()).collect()
        };
        for attempt in 0..STEP_ATTEMPTS {
            let mut tx = Transaction::new(&self.table);
            tx.next_group_version(tenant, group_id, version, now)?;
            for m in chunk {
                let was_live = live.contains(m.id.as_str());
                let change = if add {
                    tx.put_edge(tenant, group_id, m, version + 1, was_live)?;
                    GroupListChange::Add(group_id)
                } else {
                    tx.tombstone_edge(tenant, group_id, m, version + 1, was_live)?;
                    GroupListChange::Remove(group_id)
                };
                let role = Role::MemberGroups(m.id.clone());
                tx.touch(role, tenant, m.kind, &m.id, change, now)?;
            }
            let changed = if add {
                chunk.len() - live.len()
            } else {
                live.len()
            };
            let changed = i64::try_from(changed).unwrap_or(i64::MAX);
            let delta = if add { changed } else { -changed };
            tx.count_memberships(tenant, ResourceKind::Group, group_id, delta)?;
            match (self.run(&tx).await, condition) {
                (Ok(()), GroupCondition::At(_)) => return Ok(GroupCondition::At(version + 1)),
                (Ok(()), GroupCondition::Exists { .. }) => {
                    return Ok(GroupCondition::Exists { seen: version + 1 });
                }
                (Err(Failure::EdgeMoved), _) => {
                    live = self.live_edges(tenant, group_id, chunk).await?;
                }
                (
                    Err(Failure::Store(StoreError::VersionMismatch)),
                    GroupCondition::Exists { .. },
                ) => {
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 10;
                    let pause = (5u64 << attempt.min(5)) + jitter;
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    version = self
                        .get(tenant, ResourceKind::Group, group_id)
                        .await?
                        .ok_or(StoreError::NotFound)?
                        .version;
                }
                (Err(other), _) => return Err(other.into_store_error()),
            }
        }
        Err(StoreError::VersionMismatch)
    }

    /// The ids of `members` whose edges in the group are live (strongly
    /// consistent).
    async fn live_edges<'m>(
        &self,
        tenant: &TenantId,
        group_id: &str,
        members: &'m [Member],
    ) -> Result<BTreeSet<&'m str>, StoreError> {
        let keys = members
            .iter()
            .map(|m| codec::edge_key(tenant, group_id, &m.id))
            .collect();
        let mut live = BTreeSet::new();
        for item in self.get_items(keys).await? {
            if codec::is_gone(&item) {
                continue;
            }
            let id = decode_member(&item)?.id;
            if let Some(m) = members.iter().find(|m| m.id == id) {
                live.insert(m.id.as_str());
            }
        }
        Ok(live)
    }

    /// One page of a group's edges (at most `limit` items, live or not),
    /// after `start`.
    pub(super) async fn edge_page(
        &self,
        tenant: &TenantId,
        group_id: &str,
        start: Option<Item>,
        limit: Option<i32>,
    ) -> Result<EdgePage, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :m)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(
                ":pk",
                s(keys::resource_pk(tenant, ResourceKind::Group, group_id)),
            )
            .expression_attribute_values(":m", s(keys::MEMBER_SK_PREFIX))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .set_limit(limit)
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        let mut edges = EdgePage {
            live: Vec::new(),
            gone: Vec::new(),
            next: page.last_evaluated_key().cloned(),
        };
        for item in page.items() {
            let member = decode_member(item)?;
            if codec::is_gone(item) {
                edges.gone.push(member.id);
            } else {
                edges.live.push(member);
            }
        }
        Ok(edges)
    }

    /// Ends every membership `record` takes part in, in steps conditional on
    /// its version: as a member of its groups (each step also moves them
    /// from its own list to its `left` list and moves its version on), and
    /// (a group) its members'. The edges are deleted, not left as tombstones: the
    /// deletion is the one event. Returns the version the resource has
    /// after the steps.
    pub(super) async fn unlink_all(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> Result<u64, StoreError> {
        let now = crate::scim::resource::now();
        let mut version = record.version;
        for chunk in record.groups.chunks(MEMBERS_PER_TRANSACTION) {
            let mut tx = Transaction::new(&self.table);
            tx.leave_groups(tenant, record, version, chunk, &now)?;
            let ended = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
            tx.count_memberships(tenant, record.kind, &record.id, -ended)?;
            for group in chunk {
                tx.delete_edge(tenant, group, &record.id)?;
                tx.touch(
                    Role::Linked,
                    tenant,
                    ResourceKind::Group,
                    group,
                    GroupListChange::None,
                    &now,
                )?;
            }
            self.commit(&tx).await?;
            version += 1;
        }
        if record.kind != ResourceKind::Group {
            return Ok(version);
        }
        // Pages of edges, live ones and tombstones alike (a tombstone names
        // a former member: it goes with its group). A membership added
        // meanwhile moves the group's version on and fails the next step.
        let limit = i32::try_from(MEMBERS_PER_TRANSACTION).unwrap_or(1);
        let mut start = None;
        loop {
            let edges = self
                .edge_page(tenant, &record.id, start, Some(limit))
                .await?;
            if edges.live.is_empty() && edges.gone.is_empty() {
                return Ok(version);
            }
            let mut tx = Transaction::new(&self.table);
            tx.at_version(tenant, record, version)?;
            for id in &edges.gone {
                tx.delete_edge(tenant, &record.id, id)?;
            }
            let ended = i64::try_from(edges.live.len()).unwrap_or(i64::MAX);
            tx.count_memberships(tenant, record.kind, &record.id, -ended)?;
            for m in &edges.live {
                tx.delete_edge(tenant, &record.id, &m.id)?;
                let change = GroupListChange::Remove(&record.id);
                tx.touch(Role::Linked, tenant, m.kind, &m.id, change, &now)?;
            }
            self.commit(&tx).await?;
            if edges.next.is_none() {
                return Ok(version);
            }
            start = edges.next;
        }
    }

    /// The members of a group, or `None` past `max_bytes` of them.
    pub(super) async fn read_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<Member>>, StoreError> {
        let mut all = Vec::new();
        let mut bytes = 0usize;
        let mut start = None;
        loop {
            let EdgePage {
                live: members,
                next,
                ..
            } = self.edge_page(tenant, group_id, start, None).await?;
            bytes += members
                .iter()
                .map(crate::store::memory::member_bytes)
                .sum::<usize>();
            if bytes > max_bytes {
                return Ok(None);
            }
            all.extend(members);
            start = next;
            if start.is_none() {
                return Ok(Some(all));
            }
        }
    }

    /// Ends the memberships of those of `ids` that are members.
    pub(super) async fn remove_member_ids(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        ids: &[String],
    ) -> Result<GroupCondition, StoreError> {
        // BatchGetItem rejects a request that names a key twice.
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        // A sort key holds at most 1024 bytes: a longer id is no member.
        let keys = ids
            .iter()
            .filter(|id| keys::member_sk(id).len() <= 1024)
            .map(|id| codec::edge_key(tenant, group_id, id))
            .collect();
        let mut current: Vec<Member> = self
            .get_items(keys)
            .await?
            .iter()
            .filter(|item| !codec::is_gone(item))
            .map(decode_member)
            .collect::<Result<_, _>>()?;
        current.sort_by(|a, b| a.id.cmp(&b.id));
        self.write_memberships(tenant, group_id, condition, &current, false)
            .await
    }

    /// Copies a member's display name into its edges in `groups`.
    pub(super) async fn refresh_edges(
        &self,
        tenant: &TenantId,
        member: &Member,
        groups: &[String],
    ) -> Result<(), StoreError> {
        for group in groups {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::edge_key(tenant, group, &member.id)))
                .condition_expression("attribute_exists(pk)");
            let update = match &member.display {
                Some(d) => update
                    .update_expression("SET #d = :d, #by = :by")
                    .expression_attribute_values(":d", s(d)),
                None => update.update_expression("SET #by = :by REMOVE #d"),
            };
            let update = update
                .expression_attribute_names("#d", ATTR_DISPLAY)
                .expression_attribute_names("#by", ATTR_WRITER)
                .expression_attribute_values(":by", codec::writer_value(&current_actor()));
            match update.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk_failure("UpdateItem", &e)),
            }
        }
        Ok(())
    }
}
