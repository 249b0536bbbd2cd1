//! Tenant purge: every item of a tenant, found through its `gsi1`
//! collections, deleted in batches.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::codec::{Item, s};
use super::keys::{self, PK};
use super::{DynamoStore, build_err, unavailable};
use crate::scim::schema::ResourceKind;
use crate::store::StoreError;
use crate::tenant::TenantId;

/// Most items one `BatchWriteItem` takes.
const BATCH_WRITE_LIMIT: usize = 25;

impl DynamoStore {
    /// Deletes up to `limit` items of the tenant; the number deleted.
    pub(super) async fn purge(&self, tenant: &TenantId, limit: usize) -> Result<usize, StoreError> {
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
}
