//! [`OpsStore`] on the table: request records, tenant activity and purge
//! jobs, in partitions of their own that no SCIM read touches.
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | request record | `T#{t}#L` | `Q#{time}#{request id}` | `r` record JSON, `ttl` |
//! | a record by request id | `T#{t}#L` | `I#{request id}` | `q` the record's sk, `ttl` |
//! | last request | `T#{t}#A` | `LAST` | `t`, `m`, `p`, `st`, `ua` |
//! | a token's last use | `T#{t}#A` | `TOK#{token id}` | `lu` |
//! | status counts | `T#{t}#A` | `B#{bucket start, 12 digits}` | `s{status}` counts, `ttl` |
//! | purge job | `OPS#PURGE` | `{tenant}` | `req`, `nb`, `del`, `lease` |

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use time::OffsetDateTime;

use super::codec::{Item, n, s, text};
use super::keys::{PK, SK};
use super::table::TTL_ATTRIBUTE;
use super::{BATCH_WRITE_LIMIT, DynamoStore, applied, build_err, sdk_failure};
use crate::events::breaker::{BreakerState, HeldEvent};
use crate::request_log::activity::BUCKET_RETENTION_SECONDS;
use crate::request_log::{
    Activity, ActivityDelta, LastRequest, LogWindow, RequestRecord, StatusCounts,
};
use crate::store::StoreError;
use crate::store::ops::{OpsStore, PurgeJob};
use crate::tenant::TenantId;

/// The partition of purge jobs.
const PURGE_PK: &str = "OPS#PURGE";
const LAST_SK: &str = "LAST";
const TOKEN_SK_PREFIX: &str = "TOK#";
const BUCKET_SK_PREFIX: &str = "B#";
const RECORD_SK_PREFIX: &str = "Q#";
const REQUEST_ID_SK_PREFIX: &str = "I#";
/// Longest request id in a key (API Gateway's are 16 characters).
const MAX_KEYED_REQUEST_ID: usize = 128;
/// Default retention of request records.
pub const DEFAULT_REQUEST_LOG_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// `T#{tenant}#A`: the tenant's activity.
pub fn activity_pk(tenant: &str) -> String {
    format!("T#{tenant}#A")
}

/// `T#{tenant}#L`: the tenant's request records.
pub fn request_log_pk(tenant: &str) -> String {
    format!("T#{tenant}#L")
}

/// A request id as it appears in keys: bounded, so a client-chosen id can
/// never make a key DynamoDB refuses.
fn keyed_request_id(request_id: &str) -> String {
    request_id.chars().take(MAX_KEYED_REQUEST_ID).collect()
}

/// The sort key of a record at `time` with `request_id`.
fn record_sk(time: &str, request_id: &str) -> String {
    format!("{RECORD_SK_PREFIX}{time}#{}", keyed_request_id(request_id))
}

fn number(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

impl DynamoStore {
    /// Stores up to [`BATCH_WRITE_LIMIT`] items.
    async fn put_batch(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let puts = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(build_err)
            })
            .collect::<Result<_, _>>()?;
        self.write_batch(puts).await
    }

    /// A conditional update whose condition failing means "a newer value
    /// is there already": not an error.
    async fn update_unless_newer(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        applied(result, "UpdateItem").map(drop)
    }

    async fn apply_delta(&self, delta: &ActivityDelta) -> Result<(), StoreError> {
        let pk = activity_pk(&delta.tenant);
        let key = |sk: String| Item::from([(PK.to_owned(), s(pk.clone())), (SK.to_owned(), s(sk))]);
        if let Some(last) = &delta.last {
            let mut values = HashMap::from([
                (":t".to_owned(), s(&last.time)),
                (":m".to_owned(), s(&last.method)),
                (":p".to_owned(), s(&last.path)),
                (":st".to_owned(), n(last.status)),
            ]);
            let mut update = "SET t = :t, m = :m, p = :p, st = :st".to_owned();
            match &last.user_agent {
                Some(ua) => {
                    values.insert(":ua".to_owned(), s(ua));
                    update.push_str(", ua = :ua");
                }
                None => update.push_str(" REMOVE ua"),
            }
            self.update_unless_newer(
                key(LAST_SK.to_owned()),
                &update,
                "attribute_not_exists(t) OR t < :t",
                values,
            )
            .await?;
        }
        for (token, time) in &delta.tokens {
            self.update_unless_newer(
                key(format!("{TOKEN_SK_PREFIX}{token}")),
                "SET lu = :t",
                "attribute_not_exists(lu) OR lu < :t",
                HashMap::from([(":t".to_owned(), s(time))]),
            )
            .await?;
        }
        for (start, counts) in &delta.buckets {
            let mut values =
                HashMap::from([(":ttl".to_owned(), n(start + BUCKET_RETENTION_SECONDS))]);
            let adds: Vec<String> = counts
                .0
                .iter()
                .map(|(status, count)| {
                    values.insert(format!(":s{status}"), n(count));
                    format!("s{status} :s{status}")
                })
                .collect();
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(format!("{BUCKET_SK_PREFIX}{start:012}"))))
                .update_expression(format!("ADD {} SET #ttl = :ttl", adds.join(", ")))
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .set_expression_attribute_values(Some(values))
                .send()
                .await
                .map_err(|e| sdk_failure("UpdateItem", &e))?;
        }
        Ok(())
    }

    fn purge_key(tenant: &TenantId) -> Item {
        Item::from([
            (PK.to_owned(), s(PURGE_PK)),
            (SK.to_owned(), s(tenant.as_str())),
        ])
    }
}

fn decode_job(item: &Item) -> Option<PurgeJob> {
    Some(PurgeJob {
        tenant: TenantId::parse(text(item, SK)?).ok()?,
        requested: text(item, "req").unwrap_or_default().to_owned(),
        not_before: number(item, "nb"),
        items_deleted: number(item, "del").max(0) as u64,
        lease_until: number(item, "lease"),
    })
}

impl OpsStore for DynamoStore {
    async fn record_requests(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        let retention = self.request_log_retention.as_secs() as i64;
        let mut items: HashMap<String, Item> = HashMap::new();
        for r in records {
            let expires = r
                .instant()
                .unwrap_or_else(OffsetDateTime::now_utc)
                .unix_timestamp()
                + retention;
            let pk = request_log_pk(&r.tenant);
            let sk = record_sk(&r.time, &r.request_id);
            let pointer_sk = format!("{REQUEST_ID_SK_PREFIX}{}", keyed_request_id(&r.request_id));
            // One batch may not name a key twice (a redelivered line).
            items.insert(
                format!("{pk}\n{pointer_sk}"),
                Item::from([
                    (PK.to_owned(), s(pk.clone())),
                    (SK.to_owned(), s(pointer_sk)),
                    ("q".to_owned(), s(sk.clone())),
                    (TTL_ATTRIBUTE.to_owned(), n(expires)),
                ]),
            );
            items.insert(
                format!("{pk}\n{sk}"),
                Item::from([
                    (PK.to_owned(), s(pk)),
                    (SK.to_owned(), s(sk)),
                    (
                        "r".to_owned(),
                        s(serde_json::to_string(r).unwrap_or_default()),
                    ),
                    (TTL_ATTRIBUTE.to_owned(), n(expires)),
                ]),
            );
        }
        let items: Vec<Item> = items.into_values().collect();
        for chunk in items.chunks(BATCH_WRITE_LIMIT) {
            self.put_batch(chunk.to_vec()).await?;
        }
        for delta in ActivityDelta::of(records) {
            self.apply_delta(&delta).await?;
        }
        Ok(())
    }

    async fn request_records(
        &self,
        tenant: &TenantId,
        window: &LogWindow,
        limit: usize,
    ) -> Result<(Vec<RequestRecord>, bool), StoreError> {
        let lower = format!("{RECORD_SK_PREFIX}{}", window.from.as_deref().unwrap_or(""));
        // BETWEEN is inclusive: the previous page's last record is read
        // again and dropped (one more item asked for).
        let to = window.to.as_ref().map(|t| format!("{RECORD_SK_PREFIX}{t}"));
        let before = window
            .before
            .as_ref()
            .map(|b| record_sk(&b.time, &b.request_id));
        let upper = match (to, before) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            // Past every `Q#...` sort key (`$` follows `#`).
            (None, None) => "Q$".to_owned(),
        };
        if upper < lower {
            return Ok((Vec::new(), false));
        }
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(request_log_pk(tenant.as_str())))
            .expression_attribute_values(":lo", s(lower))
            .expression_attribute_values(":hi", s(upper))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        let mut records: Vec<RequestRecord> = page
            .items()
            .iter()
            .filter_map(|item| text(item, "r"))
            .filter_map(|r| serde_json::from_str::<RequestRecord>(r).ok())
            .filter(|r| window.contains(r))
            .collect();
        let more =
            records.len() > limit || page.last_evaluated_key().is_some_and(|k| !k.is_empty());
        records.truncate(limit);
        Ok((records, more))
    }

    async fn request_record(
        &self,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        let pk = request_log_pk(tenant.as_str());
        let get = |sk: String| {
            self.client
                .get_item()
                .table_name(&self.table)
                .key(PK, s(pk.clone()))
                .key(SK, s(sk))
                .send()
        };
        let pointer = get(format!(
            "{REQUEST_ID_SK_PREFIX}{}",
            keyed_request_id(request_id)
        ))
        .await
        .map_err(|e| sdk_failure("GetItem", &e))?;
        let Some(sk) = pointer.item().and_then(|i| text(i, "q")) else {
            return Ok(None);
        };
        let got = get(sk.to_owned())
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        Ok(got
            .item()
            .and_then(|i| text(i, "r"))
            .and_then(|r| serde_json::from_str::<RequestRecord>(r).ok())
            .filter(|r| r.request_id == request_id))
    }

    async fn activity(&self, tenant: &TenantId) -> Result<Activity, StoreError> {
        let oldest = OffsetDateTime::now_utc().unix_timestamp() - BUCKET_RETENTION_SECONDS;
        let mut activity = Activity::default();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .query_partition(activity_pk(tenant.as_str()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_failure("Query", &e))?;
            for item in page.items() {
                let sk = text(item, SK).unwrap_or_default();
                if sk == LAST_SK {
                    activity.last = Some(LastRequest {
                        time: text(item, "t").unwrap_or_default().to_owned(),
                        method: text(item, "m").unwrap_or_default().to_owned(),
                        path: text(item, "p").unwrap_or_default().to_owned(),
                        status: u16::try_from(number(item, "st")).unwrap_or(0),
                        user_agent: text(item, "ua").map(str::to_owned),
                    });
                } else if let Some(token) = sk.strip_prefix(TOKEN_SK_PREFIX) {
                    if let Some(at) = text(item, "lu") {
                        activity.tokens.insert(token.to_owned(), at.to_owned());
                    }
                } else if let Some(bucket) = sk.strip_prefix(BUCKET_SK_PREFIX) {
                    let Ok(bucket) = bucket.parse::<i64>() else {
                        continue;
                    };
                    if bucket < oldest {
                        continue;
                    }
                    let counts = item
                        .iter()
                        .filter_map(|(name, v)| {
                            let status = name.strip_prefix('s')?.parse::<u16>().ok()?;
                            let AttributeValue::N(count) = v else {
                                return None;
                            };
                            Some((status, count.parse().ok()?))
                        })
                        .collect();
                    activity.buckets.insert(bucket, StatusCounts(counts));
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(activity),
            }
        }
    }

    async fn start_purge(&self, job: &PurgeJob) -> Result<PurgeJob, StoreError> {
        let mut item = Self::purge_key(&job.tenant);
        item.insert("req".to_owned(), s(&job.requested));
        item.insert("nb".to_owned(), n(job.not_before));
        item.insert("del".to_owned(), n(job.items_deleted));
        item.insert("lease".to_owned(), n(job.lease_until));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if applied(put, "PutItem")? {
            return Ok(job.clone());
        }
        self.purge_job(&job.tenant)
            .await?
            .ok_or_else(|| StoreError::Unavailable("a purge job vanished while read".into()))
    }

    async fn purge_job(&self, tenant: &TenantId) -> Result<Option<PurgeJob>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::purge_key(tenant)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        Ok(got.item().and_then(decode_job))
    }

    async fn purge_jobs(&self, limit: usize) -> Result<Vec<PurgeJob>, StoreError> {
        let page = self
            .query_partition(PURGE_PK.to_owned())
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_failure("Query", &e))?;
        Ok(page.items().iter().filter_map(decode_job).collect())
    }

    async fn lease_purge(
        &self,
        tenant: &TenantId,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let leased = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::purge_key(tenant)))
            .update_expression("SET lease = :until")
            .condition_expression("attribute_exists(pk) AND lease <= :now")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        applied(leased, "UpdateItem")
    }

    async fn advance_purge(&self, tenant: &TenantId, deleted: u64) -> Result<(), StoreError> {
        self.update_unless_newer(
            Self::purge_key(tenant),
            "ADD del :d",
            "attribute_exists(pk)",
            HashMap::from([(":d".to_owned(), n(deleted))]),
        )
        .await
    }

    async fn breaker(&self, tenant: &TenantId) -> Result<(BreakerState, u64), StoreError> {
        self.load_breaker(tenant).await
    }

    async fn save_breaker(
        &self,
        tenant: &TenantId,
        state: &BreakerState,
        expected: u64,
        held: &[HeldEvent],
    ) -> Result<bool, StoreError> {
        self.store_breaker(tenant, state, expected, held).await
    }

    async fn held_events(
        &self,
        tenant: &TenantId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<HeldEvent>, StoreError> {
        self.load_held(tenant, from, limit).await
    }

    async fn drop_held(&self, tenant: &TenantId, held: &[HeldEvent]) -> Result<(), StoreError> {
        self.delete_held(tenant, held).await
    }

    async fn resolving_breakers(&self, limit: usize) -> Result<Vec<TenantId>, StoreError> {
        self.resolving(limit).await
    }

    async fn finish_purge(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::purge_key(tenant)))
            .send()
            .await
            .map_err(|e| sdk_failure("DeleteItem", &e))?;
        Ok(())
    }
}
