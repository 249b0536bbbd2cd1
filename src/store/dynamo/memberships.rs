//! Memberships: edges in the group's partition and the members' group
//! lists, changed together in steps of [`MEMBERS_PER_TRANSACTION`].

use super::codec::{self, ATTR_DISPLAY, Item, decode_member, s};
use super::keys::{self, PK, SK};
use super::transaction::{GroupListChange, Role, Transaction};
use super::{DynamoStore, unavailable};
use crate::scim::schema::ResourceKind;
use crate::store::{MEMBERS_PER_TRANSACTION, Member, Record, StoreError};
use crate::tenant::TenantId;

impl DynamoStore {
    /// Adds (`add`) or ends the memberships of `members` in a group, in
    /// steps of [`MEMBERS_PER_TRANSACTION`]: each step writes the edges,
    /// the members' group lists and a new group version atomically.
    pub(super) async fn write_memberships(
        &self,
        tenant: &TenantId,
        group_id: &str,
        members: &[Member],
        add: bool,
    ) -> Result<(), StoreError> {
        let now = crate::scim::resource::now();
        for chunk in members.chunks(MEMBERS_PER_TRANSACTION) {
            let mut tx = Transaction::new(&self.table);
            let step = if add {
                codec::step_value(chunk, &[])
            } else {
                codec::step_value(&[], chunk)
            };
            tx.touch(
                Role::Group,
                tenant,
                ResourceKind::Group,
                group_id,
                GroupListChange::None,
                Some(step),
                &now,
            )?;
            for m in chunk {
                let change = if add {
                    tx.put_edge(tenant, group_id, m)?;
                    GroupListChange::Add(group_id)
                } else {
                    tx.delete_edge(tenant, group_id, &m.id)?;
                    GroupListChange::Remove(group_id)
                };
                let role = Role::MemberGroups(m.id.clone());
                tx.touch(role, tenant, m.kind, &m.id, change, None, &now)?;
            }
            self.commit(&tx).await?;
        }
        Ok(())
    }

    /// One page of a group's edges (at most `limit`), after `start`.
    pub(super) async fn edge_page(
        &self,
        tenant: &TenantId,
        group_id: &str,
        start: Option<Item>,
        limit: Option<i32>,
    ) -> Result<(Vec<Member>, Option<Item>), StoreError> {
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
            .map_err(|e| unavailable("Query", &e))?;
        let members = page
            .items()
            .iter()
            .map(decode_member)
            .collect::<Result<_, _>>()?;
        Ok((members, page.last_evaluated_key().cloned()))
    }

    /// Ends every membership `record` takes part in, in steps conditional on
    /// its version: as a member of its groups, and (a group) its members'.
    pub(super) async fn unlink_all(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> Result<(), StoreError> {
        let now = crate::scim::resource::now();
        for chunk in record.groups.chunks(MEMBERS_PER_TRANSACTION) {
            let mut tx = Transaction::new(&self.table);
            tx.at_version(tenant, record)?;
            for group in chunk {
                tx.delete_edge(tenant, group, &record.id)?;
                tx.touch(
                    Role::Linked,
                    tenant,
                    ResourceKind::Group,
                    group,
                    GroupListChange::None,
                    None,
                    &now,
                )?;
            }
            self.commit(&tx).await?;
        }
        if record.kind != ResourceKind::Group {
            return Ok(());
        }
        loop {
            let limit = i32::try_from(MEMBERS_PER_TRANSACTION).unwrap_or(1);
            let (members, _) = self
                .edge_page(tenant, &record.id, None, Some(limit))
                .await?;
            if members.is_empty() {
                return Ok(());
            }
            let mut tx = Transaction::new(&self.table);
            tx.at_version(tenant, record)?;
            for m in &members {
                tx.delete_edge(tenant, &record.id, &m.id)?;
                let change = GroupListChange::Remove(&record.id);
                tx.touch(Role::Linked, tenant, m.kind, &m.id, change, None, &now)?;
            }
            self.commit(&tx).await?;
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
            let (members, next) = self.edge_page(tenant, group_id, start, None).await?;
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
        ids: &[String],
    ) -> Result<(), StoreError> {
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
            .map(decode_member)
            .collect::<Result<_, _>>()?;
        current.sort_by(|a, b| a.id.cmp(&b.id));
        self.write_memberships(tenant, group_id, &current, false)
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
                    .update_expression("SET #d = :d")
                    .expression_attribute_names("#d", ATTR_DISPLAY)
                    .expression_attribute_values(":d", s(d)),
                None => update
                    .update_expression("REMOVE #d")
                    .expression_attribute_names("#d", ATTR_DISPLAY),
            };
            match update.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable("UpdateItem", &e)),
            }
        }
        Ok(())
    }
}
