//! The DynamoDB adapter: one table, every write a conditional transaction
//! of the resource item and its unique-key markers.

pub mod keys;
pub mod table;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};

use super::{
    Census, Created, GroupCondition, Lookup, MEMBERS_PER_TRANSACTION, ManagerLink, Member, Page,
    Record, Store, StoreError, UniqueKey,
};
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;
use keys::{GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, GSI3_PK, GSI3_SK, MARKER_SK, PK, RESOURCE_SK, SK};

const ATTR_ID: &str = "id";
const ATTR_VERSION: &str = "ver";
const ATTR_DOC: &str = "doc";
const ATTR_KIND: &str = "kind";
const ATTR_MANAGER: &str = "mgr";
const ATTR_COUNT: &str = "n";
/// A resource counter's list generation (see [`Census`]).
const ATTR_GENERATION: &str = "gen";
/// The groups a resource is a direct member of (string set).
const ATTR_GROUPS: &str = "grp";
/// `meta.lastModified`, kept beside the document so a membership change
/// can set it without rewriting the document.
const ATTR_MODIFIED: &str = "mod";
/// A membership edge's member kind and display name.
const ATTR_MEMBER_KIND: &str = "mk";
const ATTR_DISPLAY: &str = "disp";
/// Sort key of a pending-manager counter.
const PENDING_SK: &str = "N";
/// Most items one `BatchWriteItem` takes.
const BATCH_WRITE_LIMIT: usize = 25;
/// Most keys one `BatchGetItem` takes.
const BATCH_GET_LIMIT: usize = 100;
/// Attempts of a transaction that another transaction on the same item
/// (the tenant counter) cancelled.
const TRANSACTION_ATTEMPTS: u32 = 6;

/// A [`Store`] on one DynamoDB table.
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

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

type Item = HashMap<String, AttributeValue>;

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
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

fn write(p: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(p).build()
}

/// How the manager reference is stored: `R#{id}` or `P#{value}`.
fn encode_manager(link: &ManagerLink) -> String {
    match link {
        ManagerLink::Resolved(id) => format!("R#{id}"),
        ManagerLink::Pending(raw) => format!("P#{raw}"),
    }
}

fn decode_manager(text: &str) -> Result<ManagerLink, StoreError> {
    match text.split_at_checked(2) {
        Some(("R#", id)) => Ok(ManagerLink::Resolved(id.to_owned())),
        Some(("P#", raw)) => Ok(ManagerLink::Pending(raw.to_owned())),
        _ => Err(StoreError::Corrupt("manager reference".into())),
    }
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

    /// The resource item with its index keys: `gsi1` (collection), `gsi2`
    /// (`externalId`), `gsi3` (manager reference).
    fn resource_item(&self, tenant: &TenantId, record: &Record) -> Result<Item, StoreError> {
        let doc = serde_json::to_string(&record.document).map_err(build_err)?;
        let mut item = key(
            keys::resource_pk(tenant, record.kind, &record.id),
            RESOURCE_SK,
        );
        item.insert(ATTR_ID.into(), s(&record.id));
        item.insert(ATTR_KIND.into(), s(record.kind.name()));
        item.insert(ATTR_VERSION.into(), n(record.version));
        item.insert(ATTR_DOC.into(), s(doc));
        if !record.groups.is_empty() {
            item.insert(
                ATTR_GROUPS.into(),
                AttributeValue::Ss(record.groups.clone()),
            );
        }
        if let Some(modified) = record
            .document
            .get("meta")
            .and_then(|m| m.get("lastModified"))
            .and_then(|v| v.as_str())
        {
            item.insert(ATTR_MODIFIED.into(), s(modified));
        }
        item.insert(GSI1_PK.into(), s(keys::collection_pk(tenant, record.kind)));
        item.insert(GSI1_SK.into(), s(&record.id));
        if let Some(external_id) = record.external_id() {
            let pk = keys::external_id_pk(tenant, record.kind, external_id);
            item.insert(GSI2_PK.into(), s(pk));
            item.insert(GSI2_SK.into(), s(&record.id));
        }
        if let Some(link) = &record.manager {
            let pk = match link {
                ManagerLink::Resolved(id) => keys::reports_pk(tenant, id),
                ManagerLink::Pending(raw) => keys::pending_reports_pk(tenant, raw),
            };
            item.insert(ATTR_MANAGER.into(), s(encode_manager(link)));
            item.insert(GSI3_PK.into(), s(pk));
            item.insert(GSI3_SK.into(), s(&record.id));
        }
        Ok(item)
    }

    /// An unconditional put of `item`.
    fn put_item(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build_err)?;
        Ok(write(put))
    }

    /// An unconditional delete of the item at `key`.
    fn delete_item(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn put_marker(
        &self,
        tenant: &TenantId,
        k: &UniqueKey,
        id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let marker_pk = keys::marker_pk(tenant, k);
        let mut item = key(marker_pk.clone(), MARKER_SK);
        item.insert(ATTR_ID.into(), s(id));
        item.insert(GSI1_PK.into(), s(keys::marker_collection_pk(tenant)));
        item.insert(GSI1_SK.into(), s(marker_pk));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err)?;
        Ok(write(put))
    }

    fn delete_marker(
        &self,
        tenant: &TenantId,
        k: &UniqueKey,
        id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::marker_pk(tenant, k), MARKER_SK)))
            .condition_expression("#id = :id")
            .expression_attribute_names("#id", ATTR_ID)
            .expression_attribute_values(":id", s(id))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The item that finds a user by one of its email addresses (`gsi2`).
    fn put_email(
        &self,
        tenant: &TenantId,
        record: &Record,
        email: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let pk = keys::resource_pk(tenant, record.kind, &record.id);
        let sk = keys::email_sk(email);
        let mut item = key(pk.clone(), &sk);
        item.insert(ATTR_ID.into(), s(&record.id));
        item.insert(GSI1_PK.into(), s(keys::auxiliary_collection_pk(tenant)));
        item.insert(GSI1_SK.into(), s(format!("{pk}#{sk}")));
        item.insert(GSI2_PK.into(), s(keys::email_pk(tenant, email)));
        item.insert(GSI2_SK.into(), s(&record.id));
        self.put_item(item)
    }

    fn delete_email(
        &self,
        tenant: &TenantId,
        record: &Record,
        email: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.delete_item(key(
            keys::resource_pk(tenant, record.kind, &record.id),
            &keys::email_sk(email),
        ))
    }

    /// Adds `delta` to the tenant's counter of `kind` and gives its list a
    /// new, random generation.
    fn count_by(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        // 63 random bits: a positive DynamoDB number that never repeats.
        let random = uuid::Uuid::new_v4().as_u64_pair().0;
        let generation = (random >> 1).max(1);
        self.add_to_counter(
            tenant,
            keys::counter_pk(tenant),
            keys::counter_sk(kind),
            delta,
            Some(generation),
        )
    }

    /// Adds `delta` to the counter item at `pk`/`sk` (and sets its
    /// `generation`), creating it in the tenant's auxiliary collection (so
    /// a tenant purge finds it).
    fn add_to_counter(
        &self,
        tenant: &TenantId,
        pk: String,
        sk: &str,
        delta: i64,
        generation: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), sk)));
        update = match generation {
            Some(g) => update
                .update_expression("ADD #n :d SET #g1 = :g1, #s1 = :s1, #gen = :gen")
                .expression_attribute_names("#gen", ATTR_GENERATION)
                .expression_attribute_values(":gen", n(g)),
            None => update.update_expression("ADD #n :d SET #g1 = :g1, #s1 = :s1"),
        };
        let update = update
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_names("#g1", GSI1_PK)
            .expression_attribute_names("#s1", GSI1_SK)
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":g1", s(keys::auxiliary_collection_pk(tenant)))
            .expression_attribute_values(":s1", s(format!("{pk}#{sk}")))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Deletes up to 25 items by key, retrying what DynamoDB leaves
    /// unprocessed (throttling) with a growing pause.
    async fn delete_batch(&self, keys: &[Item]) -> Result<(), StoreError> {
        let mut pending: Vec<WriteRequest> = keys
            .iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k.clone()))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(build_err)
            })
            .collect::<Result<_, _>>()?;
        for attempt in 0..8u32 {
            if pending.is_empty() {
                return Ok(());
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| unavailable("BatchWriteItem", &e))?;
            pending = output
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB BatchWriteItem left items unprocessed".into(),
        ))
    }

    /// Reads resource items by id (strongly consistent), retrying unprocessed
    /// keys; missing ones are skipped.
    async fn batch_get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        let keys: Vec<Item> = ids
            .iter()
            .map(|id| keys::resource_pk(tenant, kind, id))
            .filter(|pk| can_exist(pk))
            .map(|pk| key(pk, RESOURCE_SK))
            .collect();
        self.get_items(keys)
            .await?
            .iter()
            .map(|item| decode(item, kind))
            .collect()
    }

    /// Reads items by key (strongly consistent), 100 per `BatchGetItem`,
    /// retrying what DynamoDB leaves unprocessed; missing ones are skipped.
    /// Keys must be distinct.
    async fn get_items(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?,
            );
            for attempt in 0..8u32 {
                let Some(request) = pending.take() else { break };
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", &e))?;
                if let Some(found) = output.responses().and_then(|r| r.get(&self.table)) {
                    items.extend(found.iter().cloned());
                }
                pending = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if pending.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
            if pending.is_some() {
                return Err(StoreError::Unavailable(
                    "DynamoDB BatchGetItem left keys unprocessed".into(),
                ));
            }
        }
        Ok(items)
    }

    /// Adds (`add`) or ends the memberships of `members` in a group, in
    /// steps of [`MEMBERS_PER_TRANSACTION`]: each step writes the edges,
    /// the members' group lists and a new group version atomically,
    /// conditional on `condition` as the step before left it.
    async fn write_memberships(
        &self,
        tenant: &TenantId,
        group_id: &str,
        mut condition: GroupCondition,
        members: &[Member],
        add: bool,
    ) -> Result<GroupCondition, StoreError> {
        let now = crate::scim::resource::now();
        for chunk in members.chunks(MEMBERS_PER_TRANSACTION) {
            let group = match condition {
                GroupCondition::At(version) => {
                    self.next_version(tenant, group_id, version, &now)?
                }
                GroupCondition::Exists => {
                    let none = GroupListChange::None;
                    self.touch(tenant, ResourceKind::Group, group_id, none, &now)?
                }
            };
            let mut items = vec![group];
            for m in chunk {
                items.push(if add {
                    self.put_edge(tenant, group_id, m)?
                } else {
                    self.delete_edge(tenant, group_id, &m.id)?
                });
                let change = if add {
                    GroupListChange::Add(group_id)
                } else {
                    GroupListChange::Remove(group_id)
                };
                items.push(self.touch(tenant, m.kind, &m.id, change, &now)?);
            }
            self.transact(items, |i, existed| match i {
                0 if existed => StoreError::VersionMismatch,
                0 => StoreError::NotFound,
                i => StoreError::UnknownMember(chunk[(i - 1) / 2].id.clone()),
            })
            .await?;
            if let GroupCondition::At(version) = condition {
                condition = GroupCondition::At(version + 1);
            }
        }
        Ok(condition)
    }

    /// The next version and modification time of a group that is at
    /// `version`.
    fn next_version(
        &self,
        tenant: &TenantId,
        group_id: &str,
        version: u64,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::resource_pk(tenant, ResourceKind::Group, group_id),
                RESOURCE_SK,
            )))
            .update_expression("SET #v = :next, #m = :now")
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_names("#m", ATTR_MODIFIED)
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":now", s(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A `Query` of one partition of an index: `INDEXES[index]`.
    fn query_index(&self, index: usize, pk: String) -> QueryFluentBuilder {
        let (name, (pk_name, _)) = table::INDEXES[index];
        self.client
            .query()
            .table_name(&self.table)
            .index_name(name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(pk))
    }

    /// Every item of an index partition (following `LastEvaluatedKey`).
    async fn query_all(&self, index: usize, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .query_index(index, pk.clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Runs a transaction; `explain` turns the index of the first failed
    /// condition (and whether that item existed) into the error to report.
    /// A transaction cancelled by a concurrent one on a shared item (the
    /// tenant counter) is retried with jittered back-off.
    async fn transact<E: From<StoreError>>(
        &self,
        items: Vec<TransactWriteItem>,
        explain: impl Fn(usize, bool) -> E,
    ) -> Result<(), E> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                err.as_service_error()
            else {
                return Err(unavailable("TransactWriteItems", &err).into());
            };
            let reasons = cancel.cancellation_reasons();
            if let Some((index, reason)) = reasons
                .iter()
                .enumerate()
                .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
            {
                return Err(explain(index, reason.item().is_some()));
            }
            if !reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(unavailable("TransactWriteItems", &err).into());
            }
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
            tokio::time::sleep(std::time::Duration::from_millis((20 << attempt) + jitter)).await;
        }
        Err(StoreError::Unavailable(
            "DynamoDB TransactWriteItems kept conflicting; retry later".into(),
        )
        .into())
    }

    /// Adds `delta` to the number of users waiting for a manager named
    /// `raw` (the pending-manager counter).
    fn count_pending(
        &self,
        tenant: &TenantId,
        raw: &str,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let pk = keys::pending_reports_pk(tenant, raw);
        self.add_to_counter(tenant, pk, PENDING_SK, delta, None)
    }

    /// A condition that no user waits for a manager named `name`.
    fn none_pending(&self, tenant: &TenantId, name: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::pending_reports_pk(tenant, name),
                PENDING_SK,
            )))
            .condition_expression("attribute_not_exists(#n) OR #n <= :z")
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_values(":z", n(0))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The pending-counter changes of a change of manager link.
    fn pending_moves(
        &self,
        tenant: &TenantId,
        before: Option<&ManagerLink>,
        after: Option<&ManagerLink>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pending = |l: Option<&ManagerLink>| match l {
            Some(ManagerLink::Pending(raw)) => Some(raw.to_lowercase()),
            _ => None,
        };
        let (old, new) = (pending(before), pending(after));
        if old == new {
            return Ok(Vec::new());
        }
        let mut items = Vec::new();
        if let Some(raw) = old {
            items.push(self.count_pending(tenant, &raw, -1)?);
        }
        if let Some(raw) = new {
            items.push(self.count_pending(tenant, &raw, 1)?);
        }
        Ok(items)
    }

    /// The membership edge of `member` in group `group_id`.
    fn edge_key(&self, tenant: &TenantId, group_id: &str, member_id: &str) -> Item {
        key(
            keys::resource_pk(tenant, ResourceKind::Group, group_id),
            &keys::member_sk(member_id),
        )
    }

    /// A new version and modification time for a resource that exists, and
    /// the change of its group list that a membership step makes.
    fn touch(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        groups: GroupListChange<'_>,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let (expression, group) = match groups {
            GroupListChange::None => ("ADD #v :one SET #m = :now", None),
            GroupListChange::Add(g) => ("ADD #g :g, #v :one SET #m = :now", Some(g)),
            GroupListChange::Remove(g) => ("DELETE #g :g ADD #v :one SET #m = :now", Some(g)),
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::resource_pk(tenant, kind, id), RESOURCE_SK)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_names("#m", ATTR_MODIFIED)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now));
        if let Some(g) = group {
            update = update
                .expression_attribute_names("#g", ATTR_GROUPS)
                .expression_attribute_values(":g", AttributeValue::Ss(vec![g.to_owned()]));
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(build_err)?)
            .build())
    }

    /// A condition that a resource is still at `version`.
    fn at_version(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::resource_pk(tenant, record.kind, &record.id),
                RESOURCE_SK,
            )))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", n(record.version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    fn put_edge(
        &self,
        tenant: &TenantId,
        group_id: &str,
        member: &Member,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = self.edge_key(tenant, group_id, &member.id);
        item.insert(ATTR_ID.into(), s(&member.id));
        item.insert(ATTR_MEMBER_KIND.into(), s(member.kind.name()));
        if let Some(display) = &member.display {
            item.insert(ATTR_DISPLAY.into(), s(display));
        }
        self.put_item(item)
    }

    fn delete_edge(
        &self,
        tenant: &TenantId,
        group_id: &str,
        member_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.delete_item(self.edge_key(tenant, group_id, member_id))
    }

    /// One page of a group's edges (at most `limit`), after `start`.
    async fn edge_page(
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
    async fn unlink_all(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        let now = crate::scim::resource::now();
        // Only the version check can fail: every other item is
        // unconditional or a resource the edges prove exists.
        let step = |items| async {
            self.transact(items, |i, existed| match i {
                0 if !existed => StoreError::NotFound,
                _ => StoreError::VersionMismatch,
            })
            .await
        };
        for chunk in record.groups.chunks(MEMBERS_PER_TRANSACTION) {
            let mut items = vec![self.at_version(tenant, record)?];
            for group in chunk {
                items.push(self.delete_edge(tenant, group, &record.id)?);
                items.push(self.touch(
                    tenant,
                    ResourceKind::Group,
                    group,
                    GroupListChange::None,
                    &now,
                )?);
            }
            step(items).await?;
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
            let mut items = vec![self.at_version(tenant, record)?];
            for m in &members {
                items.push(self.delete_edge(tenant, &record.id, &m.id)?);
                let change = GroupListChange::Remove(&record.id);
                items.push(self.touch(tenant, m.kind, &m.id, change, &now)?);
            }
            step(items).await?;
        }
    }
}

/// How a membership step changes a resource's group list (`grp`).
#[derive(Clone, Copy)]
enum GroupListChange<'g> {
    None,
    Add(&'g str),
    Remove(&'g str),
}

/// Why a create transaction was cancelled.
enum CreateFailure {
    Store(StoreError),
    /// A pending-manager counter of one of the new user's names is positive.
    ReportsWaiting,
}

impl From<StoreError> for CreateFailure {
    fn from(e: StoreError) -> Self {
        CreateFailure::Store(e)
    }
}

fn decode(item: &Item, kind: ResourceKind) -> Result<Record, StoreError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("missing {name}")))
    };
    let version = item
        .get(ATTR_VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("missing version".into()))?;
    let manager = match item.get(ATTR_MANAGER).and_then(|v| v.as_s().ok()) {
        Some(text) => Some(decode_manager(text)?),
        None => None,
    };
    let mut document: serde_json::Value = serde_json::from_str(text(ATTR_DOC)?)
        .map_err(|e| StoreError::Corrupt(format!("document: {e}")))?;
    if let (Some(modified), Some(meta)) = (
        item.get(ATTR_MODIFIED).and_then(|v| v.as_s().ok()),
        document.get_mut("meta").and_then(|m| m.as_object_mut()),
    ) {
        meta.insert("lastModified".to_owned(), modified.clone().into());
    }
    let mut groups = item
        .get(ATTR_GROUPS)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    groups.sort();
    Ok(Record {
        kind,
        id: text(ATTR_ID)?.clone(),
        version,
        document,
        manager,
        groups,
    })
}

fn decode_member(item: &Item) -> Result<Member, StoreError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    let kind = match text(ATTR_MEMBER_KIND).map(String::as_str) {
        Some("Group") => ResourceKind::Group,
        Some("User") => ResourceKind::User,
        _ => return Err(StoreError::Corrupt("membership kind".into())),
    };
    Ok(Member {
        id: text(ATTR_ID)
            .ok_or_else(|| StoreError::Corrupt("membership id".into()))?
            .clone(),
        kind,
        display: text(ATTR_DISPLAY).cloned(),
    })
}

/// The `ExclusiveStartKey` of a `gsi1` query resuming after resource `id`.
fn collection_start(tenant: &TenantId, kind: ResourceKind, id: &str) -> Item {
    let mut start = key(keys::resource_pk(tenant, kind, id), RESOURCE_SK);
    start.insert(GSI1_PK.into(), s(keys::collection_pk(tenant, kind)));
    start.insert(GSI1_SK.into(), s(id));
    start
}

impl Store for DynamoStore {
    async fn create(&self, tenant: &TenantId, record: &Record) -> Result<Created, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.resource_item(tenant, record)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err)?;
        let unique = record.unique_keys();
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for k in &unique {
            items.push(self.put_marker(tenant, k, &record.id)?);
        }
        for email in record.email_keys() {
            items.push(self.put_email(tenant, record, &email)?);
        }
        items.push(self.count_by(tenant, record.kind, 1)?);
        items.extend(self.pending_moves(tenant, None, record.manager.as_ref())?);
        // Whether reports wait for this user is learnt inside the same
        // transaction: a failed check means "some do", and the create is
        // repeated without the checks.
        let checks_from = items.len();
        let own = match &record.manager {
            Some(ManagerLink::Pending(raw)) => Some(raw.to_lowercase()),
            _ => None,
        };
        let mut checked = items.clone();
        for name in record.reference_names() {
            if Some(&name) != own.as_ref() {
                checked.push(self.none_pending(tenant, &name)?);
            }
        }
        let explain = |i: usize, _| match i {
            0 => CreateFailure::Store(StoreError::Conflict(None)),
            i if i >= checks_from => CreateFailure::ReportsWaiting,
            i => CreateFailure::Store(StoreError::Conflict(unique.get(i - 1).cloned())),
        };
        match self.transact(checked, explain).await {
            Ok(()) => Ok(Created {
                reports_waiting: false,
            }),
            Err(CreateFailure::Store(e)) => Err(e),
            Err(CreateFailure::ReportsWaiting) => {
                self.transact(items, |i, _| match i {
                    0 => StoreError::Conflict(None),
                    i => StoreError::Conflict(unique.get(i - 1).cloned()),
                })
                .await?;
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
            .set_key(Some(key(keys::resource_pk(tenant, kind, id), RESOURCE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
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
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.resource_item(tenant, &stored)?))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", AttributeValue::N(previous.version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let old_keys = previous.unique_keys();
        let new_keys = next.unique_keys();
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for k in old_keys.iter().filter(|k| !new_keys.contains(k)) {
            items.push(self.delete_marker(tenant, k, &previous.id)?);
        }
        let added: Vec<UniqueKey> = new_keys
            .into_iter()
            .filter(|k| !old_keys.contains(k))
            .collect();
        for k in &added {
            items.push(self.put_marker(tenant, k, &previous.id)?);
        }
        let removed = items.len() - 1 - added.len();
        let (old_emails, new_emails) = (previous.email_keys(), next.email_keys());
        for email in old_emails.iter().filter(|e| !new_emails.contains(e)) {
            items.push(self.delete_email(tenant, previous, email)?);
        }
        for email in new_emails.iter().filter(|e| !old_emails.contains(e)) {
            items.push(self.put_email(tenant, next, email)?);
        }
        items.extend(self.pending_moves(
            tenant,
            previous.manager.as_ref(),
            next.manager.as_ref(),
        )?);
        self.transact(items, |i, existed| match i {
            0 if existed => StoreError::VersionMismatch,
            0 => StoreError::NotFound,
            i if i <= removed => StoreError::VersionMismatch,
            i => StoreError::Conflict(added.get(i - 1 - removed).cloned()),
        })
        .await
    }

    async fn delete(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
        self.unlink_all(tenant, record).await?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::resource_pk(tenant, record.kind, &record.id),
                RESOURCE_SK,
            )))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", AttributeValue::N(record.version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        for k in record.unique_keys() {
            items.push(self.delete_marker(tenant, &k, &record.id)?);
        }
        for email in record.email_keys() {
            items.push(self.delete_email(tenant, record, &email)?);
        }
        items.push(self.count_by(tenant, record.kind, -1)?);
        items.extend(self.pending_moves(tenant, record.manager.as_ref(), None)?);
        self.transact(items, |i, existed| match i {
            0 if !existed => StoreError::NotFound,
            _ => StoreError::VersionMismatch,
        })
        .await
    }

    async fn purge_tenant(&self, tenant: &TenantId, limit: usize) -> Result<usize, StoreError> {
        let groups = keys::collection_pk(tenant, ResourceKind::Group);
        let mut doomed: Vec<Item> = Vec::new();
        for collection in keys::tenant_collections(tenant) {
            if doomed.len() >= limit {
                break;
            }
            let is_groups = collection == groups;
            let page = self
                .query_index(0, collection)
                .projection_expression("pk, sk")
                .limit(i32::try_from(limit - doomed.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            for item in page.items() {
                if doomed.len() >= limit {
                    break;
                }
                if !is_groups {
                    doomed.push(item.clone());
                    continue;
                }
                // A group's partition: its membership edges sort before the
                // group item, so the group goes last and a purge cut short
                // finds the rest through it next time.
                let partition = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(
                        ":pk",
                        item.get(PK).cloned().unwrap_or_else(|| s("")),
                    )
                    .projection_expression("pk, sk")
                    .limit(i32::try_from(limit - doomed.len()).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(|e| unavailable("Query", &e))?;
                doomed.extend(partition.items().iter().cloned());
            }
        }
        let deleted = doomed.len();
        for chunk in doomed.chunks(BATCH_WRITE_LIMIT) {
            self.delete_batch(chunk).await?;
        }
        Ok(deleted)
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
            .map_err(|e| unavailable("GetItem", &e))?;
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
            fn text<'i>(item: &'i Item, name: &str) -> Option<&'i str> {
                item.get(name)?.as_s().ok().map(String::as_str)
            }
            items
                .iter()
                .filter(|i| {
                    text(i, SK) == Some(RESOURCE_SK) && text(i, ATTR_KIND) == Some(kind.name())
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
                .map_err(|e| unavailable("Query", &e))?;
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
        let mut start: Option<Item> = None;
        while remaining > 0 {
            let page = self
                .query_index(0, keys::collection_pk(tenant, kind))
                .projection_expression("pk, sk, gsi1pk, gsi1sk")
                .set_exclusive_start_key(start)
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
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

    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<Census, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::counter_pk(tenant), keys::counter_sk(kind))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        let number = |name: &str| {
            output
                .item()
                .and_then(|i| i.get(name))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .map_or(0, |v| u64::try_from(v).unwrap_or(0))
        };
        Ok(Census {
            total: number(ATTR_COUNT),
            generation: number(ATTR_GENERATION),
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
        let mut all = Vec::new();
        let mut bytes = 0usize;
        let mut start = None;
        loop {
            let (members, next) = self.edge_page(tenant, group_id, start, None).await?;
            bytes += members
                .iter()
                .map(super::memory::member_bytes)
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

    async fn add_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        members: &[Member],
    ) -> Result<GroupCondition, StoreError> {
        let mut members = members.to_vec();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        members.dedup_by(|a, b| a.id == b.id);
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
        // BatchGetItem rejects a request that names a key twice.
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        // A sort key holds at most 1024 bytes: a longer id is no member.
        let keys = ids
            .iter()
            .filter(|id| keys::member_sk(id).len() <= 1024)
            .map(|id| self.edge_key(tenant, group_id, id))
            .collect();
        let mut current: Vec<Member> = self
            .get_items(keys)
            .await?
            .iter()
            .map(decode_member)
            .collect::<Result<_, _>>()?;
        current.sort_by(|a, b| a.id.cmp(&b.id));
        self.write_memberships(tenant, group_id, condition, &current, false)
            .await
    }

    async fn refresh_member(
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
                .set_key(Some(self.edge_key(tenant, group, &member.id)))
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
