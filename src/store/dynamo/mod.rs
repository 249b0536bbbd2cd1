//! The DynamoDB adapter: one table, every write a conditional transaction
//! of the resource item and its unique-key markers.

pub mod keys;
pub mod table;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};

use super::{Record, Store, StoreError, UniqueKey};
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;
use keys::{GSI1_PK, GSI1_SK, MARKER_SK, PK, RESOURCE_SK, SK};

const ATTR_ID: &str = "id";
const ATTR_VERSION: &str = "ver";
const ATTR_DOC: &str = "doc";
const ATTR_KIND: &str = "kind";
/// Most items one `BatchWriteItem` takes.
const BATCH_WRITE_LIMIT: usize = 25;

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

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("invalid DynamoDB request: {e}"))
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

    fn resource_item(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let doc = serde_json::to_string(&record.document).map_err(build_err)?;
        let mut item = key(
            keys::resource_pk(tenant, record.kind, &record.id),
            RESOURCE_SK,
        );
        item.insert(ATTR_ID.into(), s(&record.id));
        item.insert(ATTR_KIND.into(), s(record.kind.name()));
        item.insert(
            ATTR_VERSION.into(),
            AttributeValue::N(record.version.to_string()),
        );
        item.insert(ATTR_DOC.into(), s(doc));
        item.insert(GSI1_PK.into(), s(keys::collection_pk(tenant, record.kind)));
        item.insert(GSI1_SK.into(), s(&record.id));
        Ok(item)
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
        Ok(TransactWriteItem::builder().put(put).build())
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

    /// Deletes up to 25 items by key, retrying what DynamoDB leaves
    /// unprocessed (throttling) with a growing pause.
    async fn delete_batch(
        &self,
        keys: &[HashMap<String, AttributeValue>],
    ) -> Result<(), StoreError> {
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

    /// Runs a transaction; `explain` turns the index of the first failed
    /// condition (and whether that item existed) into the error to report.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        explain: impl Fn(usize, bool) -> StoreError,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
            err.as_service_error()
        {
            let failed = cancel
                .cancellation_reasons()
                .iter()
                .enumerate()
                .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"));
            if let Some((index, reason)) = failed {
                return Err(explain(index, reason.item().is_some()));
            }
        }
        Err(unavailable("TransactWriteItems", &err))
    }
}

fn decode(
    item: &HashMap<String, AttributeValue>,
    kind: ResourceKind,
) -> Result<Record, StoreError> {
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
    Ok(Record {
        kind,
        id: text(ATTR_ID)?.clone(),
        version,
        document: serde_json::from_str(text(ATTR_DOC)?)
            .map_err(|e| StoreError::Corrupt(format!("document: {e}")))?,
    })
}

impl Store for DynamoStore {
    async fn create(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
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
        self.transact(items, |i, _| {
            StoreError::Conflict(i.checked_sub(1).map(|i| unique[i].clone()))
        })
        .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Record>, StoreError> {
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
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.resource_item(tenant, next)?))
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
        self.transact(items, |i, existed| match i {
            0 if existed => StoreError::VersionMismatch,
            0 => StoreError::NotFound,
            i if i <= removed => StoreError::VersionMismatch,
            i => StoreError::Conflict(Some(added[i - 1 - removed].clone())),
        })
        .await
    }

    async fn delete(&self, tenant: &TenantId, record: &Record) -> Result<(), StoreError> {
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
        self.transact(items, |i, existed| match i {
            0 if !existed => StoreError::NotFound,
            _ => StoreError::VersionMismatch,
        })
        .await
    }

    async fn purge_tenant(&self, tenant: &TenantId, limit: usize) -> Result<usize, StoreError> {
        let mut doomed: Vec<HashMap<String, AttributeValue>> = Vec::new();
        for collection in keys::tenant_collections(tenant) {
            if doomed.len() >= limit {
                break;
            }
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(table::INDEXES[0].0)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", GSI1_PK)
                .expression_attribute_values(":pk", s(collection))
                .projection_expression("pk, sk")
                .limit(i32::try_from(limit - doomed.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            doomed.extend(page.items().iter().cloned());
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::marker_pk(tenant, key_value), MARKER_SK)))
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
}
