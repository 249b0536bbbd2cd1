//! Tenant purge: every item of a tenant, found through its `gsi1`
//! collections (the resources, and the auxiliary items and markers of the
//! layout before issue 13), the partitions of its resources, the markers
//! their documents name and its counter partition; deleted in batches.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::codec::{self, Item, decode, text};
use super::keys::{self, PK, RESOURCE_SK, SK};
use super::{BATCH_WRITE_LIMIT, DynamoStore, build_err, sdk_failure};
use crate::scim::schema::ResourceKind;
use crate::store::StoreError;
use crate::tenant::TenantId;

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
                let pk = text(item, PK).unwrap_or_default().to_owned();
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
            doomed.extend(self.partition_keys(keys::counter_pk(tenant), left).await?);
        }
        // The operator plane's partitions: activity, request records, the
        // breaker and its held events.
        for pk in [
            super::ops::activity_pk(tenant.as_str()),
            super::ops::request_log_pk(tenant.as_str()),
            super::breaker::breaker_pk(tenant.as_str()),
        ] {
            if doomed.len() + roots.len() < limit {
                let left = limit - doomed.len() - roots.len();
                doomed.extend(self.partition_keys(pk, left).await?);
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
    async fn partition_keys(&self, pk: String, limit: usize) -> Result<Vec<Item>, StoreError> {
        let partition = self
            .query_partition(pk)
            .projection_expression("pk, sk")
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        Ok(partition.items().to_vec())
    }

    /// Deletes up to [`BATCH_WRITE_LIMIT`] items by key.
    async fn delete_batch(&self, keys: &[Item]) -> Result<(), StoreError> {
        let deletes = keys
            .iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k.clone()))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(build_err)
            })
            .collect::<Result<_, _>>()?;
        self.write_batch(deletes).await
    }
}
