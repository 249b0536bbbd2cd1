//! Batched and paged reads shared by the Store operations.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::codec::{self, Item, decode, s};
use super::{DynamoStore, build_err, can_exist, keys, sdk_failure, table};
use crate::scim::schema::ResourceKind;
use crate::store::{Record, StoreError};
use crate::tenant::TenantId;

/// Most keys one `BatchGetItem` takes.
const BATCH_GET_LIMIT: usize = 100;

impl DynamoStore {
    /// Reads resource items by id (strongly consistent), retrying unprocessed
    /// keys; missing ones are skipped.
    pub(super) async fn batch_get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        let keys: Vec<Item> = ids
            .iter()
            .filter(|id| can_exist(&keys::resource_pk(tenant, kind, id)))
            .map(|id| codec::resource_key(tenant, kind, id))
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
    pub(super) async fn get_items(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
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
                    .map_err(|e| sdk_failure("BatchGetItem", &e))?;
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

    /// A `Query` of one partition of the table itself.
    pub(super) fn query_partition(&self, pk: String) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(pk))
    }

    /// A `Query` of one partition of an index: `INDEXES[index]`.
    pub(super) fn query_index(&self, index: usize, pk: String) -> QueryFluentBuilder {
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
    pub(super) async fn query_all(
        &self,
        index: usize,
        pk: String,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .query_index(index, pk.clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_failure("Query", &e))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}
