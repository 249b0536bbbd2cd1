//! Tenant purge: every item of a tenant, found through its `gsi1`
//! collections (the resources, and the auxiliary items and markers of the
//! layout before issue 13), the partitions of its resources, the markers
//! their documents name and its counter partition; deleted in batches.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};

use super::codec::{self, Item, decode, s, text};
use super::keys::{self, PK, RESOURCE_SK, SK};
use super::{DynamoStore, build_err, sdk_failure};
use crate::scim::schema::ResourceKind;
use crate::store::StoreError;
use crate::tenant::TenantId;

/// Most items one `BatchWriteItem` takes.
const BATCH_WRITE_LIMIT: usize = 25;

impl DynamoStore {
    /// Deletes up to `limit` items of the tenant; the number deleted.
    pub(super) async fn purge(&self, tenant: &TenantId, limit: usize) -> Result<usize, StoreError> {
        let kinds = [ResourceKind::User, ResourceKind::Group];
        // Resource items are deleted after every other item found, in
        // batches of their own: a purge cut short finds the rest of their
        // partitions and their markers through them next time.
        let mut doomed: Vec<Item> = Vec::new();
        let mut roots: Vec<Item> = Vec::new();
        for collection in keys::tenant_collections(tenant) {
            if doomed.len() + roots.len() >= limit {
                break;
            }
            let kind = kinds
                .into_iter()
                .find(|k| keys::collection_pk(tenant, *k) == collection);
            let page = self
                .query_index(0, collection)
                .limit(i32::try_from(limit - doomed.len() - roots.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| sdk_failure("Query", &e))?;
            for item in page.items() {
                let room = limit.saturating_sub(doomed.len() + roots.len());
                let Some(kind) = kind else {
                    if room == 0 {
                        break;
                    }
                    doomed.push(codec::key_of(item));
                    continue;
                };
                // The markers of the resource's unique values, named by its
                // document (one that does not decode claims none the purge
                // can know of), go with the resource item, once the rest of
                // its partition (membership edges and email items, which
                // sort before it) is gone.
                let markers: Vec<Item> = decode(item, kind)
                    .map(|r| r.unique_keys())
                    .unwrap_or_default()
                    .iter()
                    .map(|k| codec::key(keys::marker_pk(tenant, k), keys::MARKER_SK))
                    .collect();
                if room <= markers.len() && !(doomed.is_empty() && roots.is_empty()) {
                    break;
                }
                let pk = item.get(PK).cloned().unwrap_or_else(|| s(""));
                let take = room.saturating_sub(markers.len()).max(1);
                let mut items = self.partition_keys(pk, take).await?;
                if items.last().and_then(|i| text(i, SK)) == Some(RESOURCE_SK) {
                    roots.extend(items.pop());
                    doomed.extend(markers);
                }
                doomed.extend(items);
            }
        }
        // The counter shards are found by their partition, once the
        // resources they count are gone.
        if doomed.len() + roots.len() < limit {
            let left = limit - doomed.len() - roots.len();
            let counters = s(keys::counter_pk(tenant));
            doomed.extend(self.partition_keys(counters, left).await?);
        }
        // The operator plane's partitions: activity and request records.
        for pk in [
            super::ops::activity_pk(tenant.as_str()),
            super::ops::request_log_pk(tenant.as_str()),
        ] {
            if doomed.len() + roots.len() < limit {
                let left = limit - doomed.len() - roots.len();
                doomed.extend(self.partition_keys(s(pk), left).await?);
            }
        }
        // An item found twice (the single counter of the layout before
        // issue 13 is also in the auxiliary collection) is deleted once: a
        // batch must not name a key twice.
        let mut seen = HashSet::new();
        doomed.retain(|k| {
            seen.insert((
                text(k, PK).map(str::to_owned),
                text(k, SK).map(str::to_owned),
            ))
        });
        for chunk in doomed.chunks(BATCH_WRITE_LIMIT) {
            self.delete_batch(chunk).await?;
        }
        for chunk in roots.chunks(BATCH_WRITE_LIMIT) {
            self.delete_batch(chunk).await?;
        }
        Ok(doomed.len() + roots.len())
    }

    /// The keys of up to `limit` items of the partition `pk`, in key order.
    async fn partition_keys(
        &self,
        pk: AttributeValue,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let partition = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", pk)
            .projection_expression("pk, sk")
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        Ok(partition.items().to_vec())
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
                .map_err(|e| sdk_failure("BatchWriteItem", &e))?;
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
