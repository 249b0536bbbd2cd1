//! Converts one tenant written by a release before issue 13's layout to
//! the current one, in place (see the README, "Upgrading"):
//!
//! 1. every user and group item is rewritten through [`codec::resource_item`]
//!    when the stored item differs from what the current code writes for
//!    it (a plain-JSON `doc`, an `id`, `kind` or resolved `mgr` the keys
//!    already say), keeping its version, group list, `left` list and
//!    writer, each a
//!    `PutItem` conditional on the version read, so a concurrent SCIM write
//!    wins and is never undone;
//! 2. the single counter item of each kind (`T#{tenant}#C` / `U`, `G`) is
//!    moved into a counter shard: one transaction deletes it (conditional
//!    on the count read) and adds its count to the shard, so the total
//!    never changes, whatever creates and deletes run meanwhile;
//! 3. markers and email items leave `gsi1` (their `gsi1pk`/`gsi1sk` are
//!    removed, conditional on their being there, so an item deleted
//!    meanwhile is not written back);
//! 4. (run after step 2, before step 3) the census counts that releases
//!    before them did not keep (inactive users, membership edges: the `ni`
//!    and `nm` of the counter shards) are counted from the resource items
//!    step 1 read (a user's `active`, each resource's `grp`: one entry per
//!    edge) and, where the shards disagree, corrected on the first shard
//!    of each kind in one transaction conditional on every shard's `cv`
//!    being what it was before step 1 began: a write that changed the
//!    counts meanwhile fails it, and steps 1, 2 and 4 run again (up to
//!    [`CENSUS_ATTEMPTS`] times).
//!
//! Each step writes only what is still in the old layout, so a run cut
//! short is resumed by running it again and a run on a converted tenant
//! writes nothing. The current code reads both layouts, so the tenant's
//! provisioning may go on while it runs. Step 1 lists resources through
//! `gsi1`, which DynamoDB updates within about a second: a resource
//! created in the second before the run may be missed by its count, and a
//! second run corrects it.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};

use super::codec::{
    self, ATTR_CENSUS_VERSION, ATTR_COUNT, ATTR_GENERATION, ATTR_INACTIVE, ATTR_LEFT,
    ATTR_MEMBERSHIPS, ATTR_VERSION, ATTR_WRITER, Item, decode, key, n, number, text,
};
use super::keys::{self, GSI1_PK, GSI1_SK, MARKER_SK, PK, SK};
use super::{DynamoStore, applied, build_err, sdk_failure};
use crate::scim::schema::ResourceKind;
use crate::store::{Record, StoreError};
use crate::tenant::TenantId;

/// Resources listed per `Query` page (and read per `BatchGetItem`).
const PAGE: i32 = 100;

/// Runs of steps 1, 2 and 4 when writes keep changing the census counts while
/// they are counted.
const CENSUS_ATTEMPTS: u32 = 5;

/// Sort-key prefix of an email item.
const EMAIL_SK_PREFIX: &str = "E#";

/// What a migration is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationProgress {
    /// Resources of a kind looked at so far, and how many were rewritten.
    Resources {
        kind: ResourceKind,
        seen: usize,
        rewritten: usize,
    },
    /// The single counter of a kind, counting `total`, moved into a shard.
    CounterMoved { kind: ResourceKind, total: i64 },
    /// Markers and email items taken out of `gsi1` so far.
    KeysUnindexed(usize),
    /// The census counts as step 4 found them, and whether it set them.
    Census {
        inactive_users: u64,
        memberships: u64,
        set: bool,
    },
}

/// What a migration found and changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migrated {
    pub users: usize,
    pub groups: usize,
    /// Resource items rewritten in the current layout in this run.
    pub rewritten: usize,
    /// Single counter items moved into shards in this run.
    pub counters_moved: usize,
    /// Markers and email items taken out of `gsi1` in this run.
    pub keys_unindexed: usize,
    /// Whether this run corrected the inactive-user and membership counts.
    pub census_set: bool,
}

/// What step 1 counted for step 4.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    inactive_users: i64,
    memberships: i64,
}

impl Tally {
    fn add(&mut self, record: &Record) {
        self.inactive_users += i64::from(record.is_inactive());
        self.memberships += i64::try_from(record.groups.len()).unwrap_or(i64::MAX);
    }
}

/// The counter shards as step 4 reads them: each shard's `cv` (absent:
/// `None`), and the counts they hold.
#[derive(Debug, PartialEq)]
struct Shards {
    versions: Vec<(String, Option<AttributeValue>)>,
    held: Tally,
}

impl DynamoStore {
    /// Migrates `tenant` to the current layout; resumable and idempotent.
    pub async fn migrate_tenant(
        &self,
        tenant: &TenantId,
        mut progress: impl FnMut(MigrationProgress),
    ) -> Result<Migrated, StoreError> {
        let mut migrated = Migrated::default();
        for _ in 0..CENSUS_ATTEMPTS {
            let before = self.census_shards(tenant).await?;
            let mut tally = Tally::default();
            for kind in [ResourceKind::User, ResourceKind::Group] {
                let (seen, rewritten) = self
                    .migrate_resources(tenant, kind, &mut tally, &mut progress)
                    .await?;
                match kind {
                    ResourceKind::User => migrated.users = seen,
                    ResourceKind::Group => migrated.groups = seen,
                }
                migrated.rewritten += rewritten;
                if let Some(total) = self.move_counter(tenant, kind).await? {
                    migrated.counters_moved += 1;
                    progress(MigrationProgress::CounterMoved { kind, total });
                }
            }
            let Some(set) = self.set_census(tenant, &before, &tally).await? else {
                continue;
            };
            migrated.census_set = set;
            progress(MigrationProgress::Census {
                inactive_users: u64::try_from(tally.inactive_users).unwrap_or(0),
                memberships: u64::try_from(tally.memberships).unwrap_or(0),
                set,
            });
            migrated.keys_unindexed = self.unindex_keys(tenant, &mut progress).await?;
            return Ok(migrated);
        }
        Err(StoreError::Unavailable(format!(
            "the counts of tenant {tenant} changed during each of {CENSUS_ATTEMPTS} runs; \
             run the migration again"
        )))
    }

    /// The tenant's counter shards of both kinds (strongly consistent).
    async fn census_shards(&self, tenant: &TenantId) -> Result<Shards, StoreError> {
        let pk = keys::counter_pk(tenant);
        let sks: Vec<String> = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .flat_map(keys::counter_shard_sks)
            .collect();
        let wanted = sks.iter().map(|sk| key(pk.clone(), sk)).collect();
        let found = self.get_items(wanted).await?;
        let mut held = Tally::default();
        for item in &found {
            held.inactive_users += number(item, ATTR_INACTIVE);
            held.memberships += number(item, ATTR_MEMBERSHIPS);
        }
        let versions = sks
            .into_iter()
            .map(|sk| {
                let item = found.iter().find(|i| text(i, SK) == Some(sk.as_str()));
                let version = item.and_then(|i| i.get(ATTR_CENSUS_VERSION)).cloned();
                (sk, version)
            })
            .collect();
        Ok(Shards { versions, held })
    }

    /// Step 4: whether it set the counts (`false`: they were right), or
    /// `None` when a write changed them while step 1 counted.
    async fn set_census(
        &self,
        tenant: &TenantId,
        before: &Shards,
        counted: &Tally,
    ) -> Result<Option<bool>, StoreError> {
        let now = self.census_shards(tenant).await?;
        if now.versions != before.versions {
            return Ok(None);
        }
        if &now.held == counted {
            return Ok(Some(false));
        }
        let pk = keys::counter_pk(tenant);
        let corrections = [
            (
                ResourceKind::User,
                ATTR_INACTIVE,
                counted.inactive_users - now.held.inactive_users,
            ),
            (
                ResourceKind::Group,
                ATTR_MEMBERSHIPS,
                counted.memberships - now.held.memberships,
            ),
        ];
        let mut items = Vec::new();
        for (sk, version) in &now.versions {
            // Each shard is where it was before step 1: unchanged since.
            let (condition, mut values) = match version {
                Some(v) => ("#cv = :cv", Item::from([(":cv".to_owned(), v.clone())])),
                None => ("attribute_not_exists(#cv)", Item::new()),
            };
            let correction = corrections.iter().find(|(kind, _, delta)| {
                *delta != 0 && keys::counter_shard_sks(*kind).next().as_ref() == Some(sk)
            });
            let item = if let Some((_, attribute, delta)) = correction {
                values.insert(":d".to_owned(), n(*delta));
                values.insert(":one".to_owned(), n(1));
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.clone(), sk)))
                    .update_expression("ADD #c :d, #cv :one")
                    .condition_expression(condition)
                    .expression_attribute_names("#c", *attribute)
                    .expression_attribute_names("#cv", ATTR_CENSUS_VERSION)
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().update(update).build()
            } else {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.clone(), sk)))
                    .condition_expression(condition)
                    .expression_attribute_names("#cv", ATTR_CENSUS_VERSION)
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().condition_check(check).build()
            };
            items.push(item);
        }
        let written = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match written {
            Ok(_) => Ok(Some(true)),
            // A shard changed after it was read, or a transaction held one.
            Err(e) if e.code() == Some("TransactionCanceledException") => Ok(None),
            Err(e) => Err(sdk_failure("TransactWriteItems", &e)),
        }
    }

    /// Step 1 for the resources of one kind, a page of the kind's `gsi1`
    /// collection at a time: how many there are and how many were
    /// rewritten.
    async fn migrate_resources(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        tally: &mut Tally,
        progress: &mut impl FnMut(MigrationProgress),
    ) -> Result<(usize, usize), StoreError> {
        let (mut seen, mut rewritten) = (0, 0);
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .query_index(0, keys::collection_pk(tenant, kind))
                .projection_expression("pk, sk, gsi1pk, gsi1sk")
                .limit(PAGE)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_failure("Query", &e))?;
            let wanted = page.items().iter().map(codec::key_of).collect();
            // The index copy may be stale: the table's item decides.
            for stored in self.get_items(wanted).await? {
                seen += 1;
                let record = decode(&stored, kind)?;
                tally.add(&record);
                if self.rewrite_resource(tenant, &record, &stored).await? {
                    rewritten += 1;
                }
            }
            progress(MigrationProgress::Resources {
                kind,
                seen,
                rewritten,
            });
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok((seen, rewritten));
            }
        }
    }

    /// Writes one resource item as the current code would, if it differs;
    /// whether it was written.
    async fn rewrite_resource(
        &self,
        tenant: &TenantId,
        record: &Record,
        stored: &Item,
    ) -> Result<bool, StoreError> {
        let mut current = codec::resource_item(tenant, record)?;
        // What the item's last writes recorded stays: who wrote it, and the
        // groups a deletion under way already left.
        for kept in [ATTR_WRITER, ATTR_LEFT] {
            match stored.get(kept) {
                Some(value) => current.insert(kept.to_owned(), value.clone()),
                None => current.remove(kept),
            };
        }
        if &current == stored {
            return Ok(false);
        }
        let version = stored
            .get(ATTR_VERSION)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt("missing version".into()))?;
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(current))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", version)
            .send()
            .await;
        // Not applied: written (by the current code) or deleted since it
        // was read.
        applied(written, "PutItem")
    }

    /// Step 2 for one kind: the single counter's count, if there was one.
    async fn move_counter(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
    ) -> Result<Option<i64>, StoreError> {
        let pk = keys::counter_pk(tenant);
        let old = key(pk.clone(), keys::old_counter_sk(kind));
        let Some(item) = self.get_items(vec![old.clone()]).await?.pop() else {
            return Ok(None);
        };
        let count = item.get(ATTR_COUNT).cloned().unwrap_or_else(|| n(0));
        let total = count
            .as_n()
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(old))
            .condition_expression("#n = :n")
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_values(":n", count.clone())
            .build()
            .map_err(build_err)?;
        // 63 random bits, as the store's own generations.
        let generation = (uuid::Uuid::new_v4().as_u64_pair().0 >> 1).max(1);
        // The first shard takes the count over (any would do: a count is
        // the sum of its shards).
        let shard = keys::counter_shard_sks(kind)
            .next()
            .ok_or_else(|| build_err("no counter shard"))?;
        let add = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, &shard)))
            .update_expression("ADD #n :n SET #gen = :gen")
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_names("#gen", ATTR_GENERATION)
            .expression_attribute_values(":n", count)
            .expression_attribute_values(":gen", n(generation))
            .build()
            .map_err(build_err)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(add).build())
            .send()
            .await
            .map_err(|e| sdk_failure("TransactWriteItems", &e))?;
        Ok(Some(total))
    }

    /// Step 3: markers (`T#{tenant}#K`) and email items (in `T#{tenant}#X`)
    /// leave `gsi1`; how many.
    async fn unindex_keys(
        &self,
        tenant: &TenantId,
        progress: &mut impl FnMut(MigrationProgress),
    ) -> Result<usize, StoreError> {
        let mut done = 0;
        for collection in [
            keys::marker_collection_pk(tenant),
            keys::auxiliary_collection_pk(tenant),
        ] {
            for item in self.query_all(0, collection).await? {
                let (Some(pk), Some(sk)) = (text(&item, PK), text(&item, SK)) else {
                    continue;
                };
                if sk != MARKER_SK && !sk.starts_with(EMAIL_SK_PREFIX) {
                    continue;
                }
                if self.unindex(pk, sk).await? {
                    done += 1;
                }
            }
            progress(MigrationProgress::KeysUnindexed(done));
        }
        Ok(done)
    }

    /// Removes one item's `gsi1` keys; whether it still had them.
    async fn unindex(&self, pk: &str, sk: &str) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned(), sk)))
            .update_expression("REMOVE #h, #r")
            .condition_expression("attribute_exists(#h)")
            .expression_attribute_names("#h", GSI1_PK)
            .expression_attribute_names("#r", GSI1_SK)
            .send()
            .await;
        // Not applied: deleted or rewritten by the current code since it
        // was listed.
        applied(updated, "UpdateItem")
    }
}
