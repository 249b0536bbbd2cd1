//! The [`Store`] operations on DynamoDB: resources, lookups and lists;
//! memberships and purge delegate to their modules.

use super::codec::{
    self, ATTR_COUNT, ATTR_GENERATION, ATTR_ID, collection_start, decode, key, text,
};
use super::keys::{self, GSI1_SK, MARKER_SK, RESOURCE_SK, SK};
use super::transaction::{Failure, Transaction};
use super::{DynamoStore, can_exist, sdk_failure};
use crate::scim::schema::ResourceKind;
use crate::store::{
    Census, Created, GroupCondition, Lookup, ManagerLink, Member, Page, Record, Store, StoreError,
    UniqueKey,
};
use crate::tenant::TenantId;

impl Store for DynamoStore {
    async fn create(&self, tenant: &TenantId, record: &Record) -> Result<Created, StoreError> {
        let mut tx = Transaction::new(&self.table);
        tx.create_resource(tenant, record)?;
        for k in &record.unique_keys() {
            tx.put_marker(tenant, k, &record.id)?;
        }
        for email in record.email_keys() {
            tx.put_email(tenant, record, &email)?;
        }
        tx.count_by(tenant, record, 1)?;
        tx.pending_moves(tenant, None, record.manager.as_ref())?;
        // Whether reports wait for this user is learnt inside the same
        // transaction: a failed check means "some do", and the create is
        // repeated without the checks.
        let own = match &record.manager {
            Some(ManagerLink::Pending(raw)) => Some(raw.to_lowercase()),
            _ => None,
        };
        let mut checked = tx.clone();
        for name in record.reference_names() {
            if Some(&name) != own.as_ref() {
                checked.none_pending(tenant, &name)?;
            }
        }
        match self.run(&checked).await {
            Ok(()) => Ok(Created {
                reports_waiting: false,
            }),
            Err(Failure::Store(e)) => Err(e),
            Err(Failure::ReportsWaiting) => {
                self.commit(&tx).await?;
                Ok(Created {
                    reports_waiting: true,
                })
            }
        }
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Record>, StoreError> {
        if !can_exist(&keys::resource_pk(tenant, kind, id)) {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(codec::resource_key(tenant, kind, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        output.item().map(|item| decode(item, kind)).transpose()
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        previous: &Record,
        next: &Record,
    ) -> Result<(), StoreError> {
        let mut stored = next.clone();
        stored.groups = previous.groups.clone();
        let mut tx = Transaction::new(&self.table);
        tx.replace_resource(tenant, &stored, previous.version)?;
        let old_keys = previous.unique_keys();
        let new_keys = next.unique_keys();
        for k in old_keys.iter().filter(|k| !new_keys.contains(k)) {
            tx.delete_marker(tenant, k, &previous.id)?;
        }
        for k in new_keys.iter().filter(|k| !old_keys.contains(k)) {
            tx.put_marker(tenant, k, &previous.id)?;
        }
        let (old_emails, new_emails) = (previous.email_keys(), next.email_keys());
        for email in old_emails.iter().filter(|e| !new_emails.contains(e)) {
            tx.delete_email(tenant, previous, email)?;
        }
        for email in new_emails.iter().filter(|e| !old_emails.contains(e)) {
            tx.put_email(tenant, next, email)?;
        }
        tx.pending_moves(tenant, previous.manager.as_ref(), next.manager.as_ref())?;
        self.commit(&tx).await
    }

    async fn delete(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        let version = self.unlink_all(tenant, record).await?;
        let mut tx = Transaction::new(&self.table);
        tx.delete_resource(tenant, record, version)?;
        for k in record.unique_keys() {
            tx.delete_marker(tenant, &k, &record.id)?;
        }
        for email in record.email_keys() {
            tx.delete_email(tenant, record, &email)?;
        }
        tx.count_by(tenant, record, -1)?;
        tx.pending_moves(tenant, record.manager.as_ref(), None)?;
        self.commit(&tx).await
    }

    async fn purge_tenant(&self, tenant: &TenantId, limit: usize) -> Result<usize, StoreError> {
        self.purge(tenant, limit).await
    }

    async fn find_unique(
        &self,
        tenant: &TenantId,
        key_value: &UniqueKey,
    ) -> Result<Option<String>, StoreError> {
        let marker = keys::marker_pk(tenant, key_value);
        if !can_exist(&marker) {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(marker, MARKER_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        Ok(output
            .item()
            .and_then(|item| item.get(ATTR_ID))
            .and_then(|v| v.as_s().ok())
            .cloned())
    }

    async fn find(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        lookup: &Lookup,
    ) -> Result<Vec<Record>, StoreError> {
        let (index, pk) = match lookup {
            Lookup::ExternalId(v) => (1, keys::external_id_pk(tenant, kind, v)),
            Lookup::Email(v) => (1, keys::email_pk(tenant, &v.to_lowercase())),
            Lookup::DirectReports(id) => (2, keys::reports_pk(tenant, id)),
            Lookup::PendingManager(raw) => (2, keys::pending_reports_pk(tenant, raw)),
        };
        if !can_exist(&pk) {
            return Ok(Vec::new());
        }
        let items = self.query_all(index, pk).await?;
        let mut records = if matches!(lookup, Lookup::Email(_)) {
            let mut ids: Vec<String> = items
                .iter()
                .filter_map(|i| i.get(ATTR_ID)?.as_s().ok().cloned())
                .collect();
            ids.sort();
            ids.dedup();
            self.batch_get(tenant, kind, &ids).await?
        } else {
            // The manager partitions (`gsi3`) are shared by every kind:
            // keep only resource items of the kind asked for.
            items
                .iter()
                .filter(|i| {
                    text(i, SK) == Some(RESOURCE_SK) && codec::resource_kind(i) == Some(kind)
                })
                .map(|i| decode(i, kind))
                .collect::<Result<_, _>>()?
        };
        // The index is eventually consistent: keep only what still matches.
        records.retain(|r| r.kind == kind && r.matches(lookup));
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut records = Vec::new();
        let mut start = after.map(|id| collection_start(tenant, kind, id));
        loop {
            let want = limit.saturating_add(1) - records.len();
            let page = self
                .query_index(0, keys::collection_pk(tenant, kind))
                .set_exclusive_start_key(start)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| sdk_failure("Query", &e))?;
            for item in page.items() {
                records.push(decode(item, kind)?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() || records.len() > limit {
                break;
            }
        }
        Ok(Page::of_overfetched(records, limit))
    }

    async fn id_at(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        position: u64,
    ) -> Result<Option<String>, StoreError> {
        let mut remaining = position;
        let mut start: Option<codec::Item> = None;
        while remaining > 0 {
            let page = self
                .query_index(0, keys::collection_pk(tenant, kind))
                .projection_expression("pk, sk, gsi1pk, gsi1sk")
                .set_exclusive_start_key(start)
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| sdk_failure("Query", &e))?;
            let items = page.items();
            let taken = items.len() as u64;
            if taken >= remaining {
                let last = &items[usize::try_from(remaining - 1).unwrap_or(0)];
                return Ok(last.get(GSI1_SK).and_then(|v| v.as_s().ok()).cloned());
            }
            remaining -= taken;
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(None);
            }
        }
        Ok(None)
    }

    // CENSUS-TEMP: walks the tenant; the census helper replaces it with counter shards.
    async fn tenant_census(&self, tenant: &TenantId) -> Result<crate::store::TenantCensus, StoreError> {
        let mut census = crate::store::TenantCensus {
            users: self.count(tenant, ResourceKind::User).await?.total,
            groups: self.count(tenant, ResourceKind::Group).await?.total,
            ..Default::default()
        };
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let mut after: Option<String> = None;
            loop {
                let page = self.list(tenant, kind, after.as_deref(), 500).await?;
                for r in &page.records {
                    if kind == ResourceKind::User && r.document.get("active") == Some(&serde_json::Value::Bool(false)) {
                        census.inactive_users += 1;
                    }
                    if kind == ResourceKind::Group {
                        census.memberships += self.members(tenant, &r.id, usize::MAX).await?.map_or(0, |m| m.len() as u64);
                    }
                }
                match page.records.last() {
                    Some(last) if page.more => after = Some(last.id.clone()),
                    _ => break,
                }
            }
        }
        Ok(census)
    }

    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<Census, StoreError> {
        // Every shard, and the single counter of the layout before issue 13
        // (until `tenant migrate` replaces it), in one `BatchGetItem`.
        let pk = keys::counter_pk(tenant);
        let wanted = keys::counter_shard_sks(kind)
            .chain([keys::old_counter_sk(kind).to_owned()])
            .map(|sk| key(pk.clone(), &sk))
            .collect();
        let counters = self.get_items(wanted).await?;
        let number = |item: &codec::Item, name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let total: i64 = counters.iter().map(|i| number(i, ATTR_COUNT)).sum();
        // Any counter's new generation changes the combination.
        let generation = counters
            .iter()
            .map(|i| u64::try_from(number(i, ATTR_GENERATION)).unwrap_or(0))
            .fold(0, |all, g| all ^ g);
        Ok(Census {
            total: u64::try_from(total).unwrap_or(0),
            generation: if counters.is_empty() {
                0
            } else {
                generation.max(1)
            },
        })
    }

    async fn get_many(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut records = self.batch_get(tenant, kind, &ids).await?;
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }

    async fn members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<Member>>, StoreError> {
        self.read_members(tenant, group_id, max_bytes).await
    }

    async fn add_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        members: &[Member],
    ) -> Result<GroupCondition, StoreError> {
        let members = Member::distinct(members);
        self.write_memberships(tenant, group_id, condition, &members, true)
            .await
    }

    async fn remove_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        ids: &[String],
    ) -> Result<GroupCondition, StoreError> {
        self.remove_member_ids(tenant, group_id, condition, ids)
            .await
    }

    async fn refresh_member(
        &self,
        tenant: &TenantId,
        member: &Member,
        groups: &[String],
    ) -> Result<(), StoreError> {
        self.refresh_edges(tenant, member, groups).await
    }
}
