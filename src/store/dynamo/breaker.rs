//! The deprovisioning breaker's items: per tenant one partition
//! `T#{tenant}#B` holding the state (`S`, versioned) and the held events
//! (`H#{sequence}`, in order); a marker per tenant whose held events are
//! being released or discarded (`OPS#BREAKER`, for the worker). None has
//! a sort key the events function's stream filter passes.

use aws_sdk_dynamodb::types::{DeleteRequest, Put, PutRequest, TransactWriteItem, WriteRequest};

use super::codec::{Item, n, s, text};
use super::keys::{PK, SK};
use super::{BATCH_WRITE_LIMIT, DynamoStore, applied, build_err, sdk_failure};
use crate::events::breaker::{BreakerState, HeldEvent};
use crate::store::StoreError;
use crate::tenant::TenantId;

const STATE_SK: &str = "S";
const HELD_SK_PREFIX: &str = "H#";
const RESOLVING_PK: &str = "OPS#BREAKER";
/// Most items of one `TransactWriteItems`.
const TRANSACTION_LIMIT: usize = 100;

/// `T#{tenant}#B`: the partition of a tenant's breaker.
pub fn breaker_pk(tenant: &str) -> String {
    format!("T#{tenant}#B")
}

fn held_sk(seq: u64) -> String {
    format!("{HELD_SK_PREFIX}{seq:016}")
}

fn key(pk: String, sk: String) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn held_item(tenant: &TenantId, h: &HeldEvent) -> Item {
    let mut item = key(breaker_pk(tenant.as_str()), held_sk(h.seq));
    item.insert("dt".into(), s(h.detail_type.clone()));
    item.insert("detail".into(), s(h.detail.clone()));
    item.insert("time".into(), s(h.time.clone()));
    item
}

fn decode_held(item: &Item) -> Option<HeldEvent> {
    Some(HeldEvent {
        seq: text(item, SK)?.strip_prefix(HELD_SK_PREFIX)?.parse().ok()?,
        detail_type: text(item, "dt")?.to_owned(),
        detail: text(item, "detail")?.to_owned(),
        time: text(item, "time").unwrap_or_default().to_owned(),
    })
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("a stored breaker {what} does not decode: {e}"))
}

impl DynamoStore {
    pub(super) async fn load_breaker(
        &self,
        tenant: &TenantId,
    ) -> Result<(BreakerState, u64), StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(breaker_pk(tenant.as_str()), STATE_SK.to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        let Some(item) = got.item() else {
            return Ok((BreakerState::default(), 0));
        };
        let version = item
            .get("v")
            .and_then(|v| v.as_n().ok())
            .map_or(Ok(0), |v| v.parse())
            .map_err(|e| corrupt("version", e))?;
        let state = serde_json::from_str(text(item, "state").unwrap_or("{}"))
            .map_err(|e| corrupt("state", e))?;
        Ok((state, version))
    }

    pub(super) async fn store_breaker(
        &self,
        tenant: &TenantId,
        state: &BreakerState,
        expected: u64,
        held: &[HeldEvent],
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(state).map_err(|e| corrupt("state", e))?;
        let mut item = key(breaker_pk(tenant.as_str()), STATE_SK.to_owned());
        item.insert("v".into(), n(expected + 1));
        item.insert("state".into(), s(json));
        let condition = if expected == 0 {
            "attribute_not_exists(pk)"
        } else {
            "v = :expected"
        };
        let resolving = state.trip.as_ref().is_some_and(|t| t.resolution.is_some());
        if held.is_empty() && !resolving {
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition);
            if expected > 0 {
                put = put.expression_attribute_values(":expected", n(expected));
            }
            return applied(put.send().await, "PutItem");
        }
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if expected > 0 {
            put = put.expression_attribute_values(":expected", n(expected));
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .put(put.build().map_err(build_err)?)
                .build(),
        ];
        if resolving {
            let marker = key(RESOLVING_PK.to_owned(), tenant.as_str().to_owned());
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(marker))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            );
        }
        let first = held.len().min(TRANSACTION_LIMIT - items.len());
        for h in &held[..first] {
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(held_item(tenant, h)))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            );
        }
        let written = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        if let Err(e) = &written
            && e.as_service_error()
                .is_some_and(|s| s.is_transaction_canceled_exception())
        {
            return Ok(false);
        }
        written.map_err(|e| sdk_failure("TransactWriteItems", &e))?;
        // The rest of the range the state now claims: no other writer
        // numbers events in it.
        let rest = held[first..]
            .iter()
            .map(|h| {
                PutRequest::builder()
                    .set_item(Some(held_item(tenant, h)))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(build_err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for chunk in rest.chunks(BATCH_WRITE_LIMIT) {
            self.write_batch(chunk.to_vec()).await?;
        }
        Ok(true)
    }

    pub(super) async fn load_held(
        &self,
        tenant: &TenantId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<HeldEvent>, StoreError> {
        let page = self
            .query_partition(breaker_pk(tenant.as_str()))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":from", s(held_sk(from)))
            .expression_attribute_values(":to", s(format!("{HELD_SK_PREFIX}~")))
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        Ok(page.items().iter().filter_map(decode_held).collect())
    }

    pub(super) async fn delete_held(
        &self,
        tenant: &TenantId,
        held: &[HeldEvent],
    ) -> Result<(), StoreError> {
        let deletes = held
            .iter()
            .map(|h| {
                DeleteRequest::builder()
                    .set_key(Some(key(breaker_pk(tenant.as_str()), held_sk(h.seq))))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(build_err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for chunk in deletes.chunks(BATCH_WRITE_LIMIT) {
            self.write_batch(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Tenants with a resolution marker; markers whose resolution has
    /// ended are removed here (the resolution's last write does not).
    pub(super) async fn resolving(&self, limit: usize) -> Result<Vec<TenantId>, StoreError> {
        let page = self
            .query_partition(RESOLVING_PK.to_owned())
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        let mut out = Vec::new();
        for item in page.items() {
            let Some(tenant) = text(item, SK).and_then(|t| TenantId::parse(t).ok()) else {
                continue;
            };
            let (state, _) = self.load_breaker(&tenant).await?;
            if state.trip.is_some_and(|t| t.resolution.is_some()) {
                out.push(tenant);
            } else {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        RESOLVING_PK.to_owned(),
                        tenant.as_str().to_owned(),
                    )))
                    .send()
                    .await
                    .map_err(|e| sdk_failure("DeleteItem", &e))?;
            }
        }
        Ok(out)
    }
}
