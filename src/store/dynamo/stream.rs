//! The table's stream as committed changes: one stream record (an item's
//! old and new image) decodes to at most one [`Change`]. The layout
//! knowledge stays here; `crate::events` turns changes into events. Used
//! by the `events` function (Lambda's DynamoDB Streams records) and by
//! `scim-local --store dynamodb --events` (the Streams API of DynamoDB
//! Local), so both publish the same events.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use time::OffsetDateTime;

use super::codec::{self, ATTR_GROUP_VERSION, Item, decode_member, text};
use super::keys::{MEMBER_SK_PREFIX, PK, RESOURCE_SK, SK};
use crate::store::StoreError;
use crate::store::change::{Change, Changed};
use crate::tenant::TenantId;

/// The change one stream record shows, `None` for bookkeeping items
/// (markers, counters, email index items) and for edge records that begin
/// or end no membership (a cascade's delete, a TTL expiry, a rewrite).
/// `committed_at` is the record's creation time (the same on every
/// delivery). An item of this table that does not decode is `Corrupt`.
pub fn change_of(
    old: Option<&Item>,
    new: Option<&Item>,
    committed_at: OffsetDateTime,
) -> Result<Option<Change>, StoreError> {
    let Some(any) = new.or(old) else {
        return Ok(None);
    };
    let (Some(pk), Some(sk)) = (text(any, PK), text(any, SK)) else {
        return Ok(None);
    };
    let Some((tenant, rest)) = pk.strip_prefix("T#").and_then(|p| p.split_once('#')) else {
        return Ok(None);
    };
    let tenant = TenantId::parse(tenant)
        .map_err(|_| StoreError::Corrupt(format!("tenant of a stream record: {tenant}")))?;
    let what = if sk == RESOURCE_SK {
        resource_change(old, new)?
    } else if let (Some(group_id), true) =
        (rest.strip_prefix("G#"), sk.starts_with(MEMBER_SK_PREFIX))
    {
        membership_change(group_id, old, new)?
    } else {
        None
    };
    Ok(what.map(|what| Change {
        tenant,
        what,
        // A deletion writes nothing: its deleter is not in the record.
        actor: new.map(codec::decode_writer).unwrap_or_default(),
        committed_at,
    }))
}

fn resource_change(old: Option<&Item>, new: Option<&Item>) -> Result<Option<Changed>, StoreError> {
    let Some(kind) = new.or(old).and_then(codec::resource_kind) else {
        return Ok(None);
    };
    let mut old_record = old.map(|i| codec::decode(i, kind)).transpose()?;
    if let (Some(record), Some(item), None) = (&mut old_record, old, new) {
        record.groups = codec::groups_at_deletion(item);
    }
    Ok(Some(Changed::Resource {
        old: old_record.map(Box::new),
        new: new
            .map(|i| codec::decode(i, kind))
            .transpose()?
            .map(Box::new),
    }))
}

/// An edge that became live (new, or a tombstone revived) is a member
/// added; a live edge that became a tombstone, a member removed.
fn membership_change(
    group_id: &str,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<Option<Changed>, StoreError> {
    let Some(new) = new else {
        return Ok(None);
    };
    let was_live = old.is_some_and(|o| !codec::is_gone(o));
    let is_live = !codec::is_gone(new);
    if was_live == is_live {
        return Ok(None);
    }
    let group_version = new
        .get(ATTR_GROUP_VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("edge without its group version".into()))?;
    Ok(Some(Changed::Membership {
        group_id: group_id.to_owned(),
        group_version,
        member: decode_member(new)?,
        added: is_live,
    }))
}

/// A record of Lambda's DynamoDB Streams event.
pub fn lambda_change(
    record: &aws_lambda_events::event::dynamodb::EventRecord,
) -> Result<Option<Change>, StoreError> {
    let image = |i: &serde_dynamo::Item| {
        (!i.is_empty()).then(|| {
            i.iter()
                .map(|(k, v)| (k.clone(), from_lambda(v)))
                .collect::<Item>()
        })
    };
    let old = image(&record.change.old_image);
    let new = image(&record.change.new_image);
    let nanos = record
        .change
        .approximate_creation_date_time
        .timestamp_nanos_opt()
        .unwrap_or_default();
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    change_of(old.as_ref(), new.as_ref(), at)
}

fn from_lambda(v: &serde_dynamo::AttributeValue) -> AttributeValue {
    use serde_dynamo::AttributeValue as L;
    match v {
        L::N(n) => AttributeValue::N(n.clone()),
        L::S(s) => AttributeValue::S(s.clone()),
        L::Bool(b) => AttributeValue::Bool(*b),
        L::B(b) => AttributeValue::B(b.clone().into()),
        L::Null(b) => AttributeValue::Null(*b),
        L::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), from_lambda(v))).collect()),
        L::L(l) => AttributeValue::L(l.iter().map(from_lambda).collect()),
        L::Ss(s) => AttributeValue::Ss(s.clone()),
        L::Ns(n) => AttributeValue::Ns(n.clone()),
        L::Bs(b) => AttributeValue::Bs(b.iter().map(|b| b.clone().into()).collect()),
    }
}

/// A record of the DynamoDB Streams API.
pub fn streams_change(
    record: &aws_sdk_dynamodbstreams::types::Record,
) -> Result<Option<Change>, StoreError> {
    let Some(data) = record.dynamodb() else {
        return Ok(None);
    };
    let image = |i: Option<&HashMap<String, StreamValue>>| {
        i.map(|i| {
            i.iter()
                .map(|(k, v)| (k.clone(), from_streams(v)))
                .collect::<Item>()
        })
    };
    let at = data
        .approximate_creation_date_time()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    change_of(
        image(data.old_image()).as_ref(),
        image(data.new_image()).as_ref(),
        at,
    )
}

fn from_streams(v: &StreamValue) -> AttributeValue {
    match v {
        StreamValue::N(n) => AttributeValue::N(n.clone()),
        StreamValue::S(s) => AttributeValue::S(s.clone()),
        StreamValue::Bool(b) => AttributeValue::Bool(*b),
        StreamValue::B(b) => AttributeValue::B(b.clone()),
        StreamValue::Null(b) => AttributeValue::Null(*b),
        StreamValue::M(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), from_streams(v)))
                .collect(),
        ),
        StreamValue::L(l) => AttributeValue::L(l.iter().map(from_streams).collect()),
        StreamValue::Ss(s) => AttributeValue::Ss(s.clone()),
        StreamValue::Ns(n) => AttributeValue::Ns(n.clone()),
        StreamValue::Bs(b) => AttributeValue::Bs(b.clone()),
        _ => AttributeValue::Null(true),
    }
}

/// Reads the table's stream through the Streams API (DynamoDB Local
/// serves it), every shard from the records written after it started.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// The next iterator of each shard seen so far (`None`: closed).
    shards: HashMap<String, Option<String>>,
}

impl StreamReader {
    /// A reader of `table`'s latest stream, from now on.
    pub async fn open(
        client: aws_sdk_dynamodbstreams::Client,
        table: &str,
    ) -> Result<Self, StoreError> {
        let listed = client
            .list_streams()
            .table_name(table)
            .send()
            .await
            .map_err(|e| super::sdk_failure("ListStreams", &e))?;
        let stream_arn = listed
            .streams()
            .last()
            .and_then(|s| s.stream_arn())
            .ok_or_else(|| StoreError::Unavailable(format!("table {table} has no stream")))?
            .to_owned();
        let mut reader = StreamReader {
            client,
            stream_arn,
            shards: HashMap::new(),
        };
        reader.discover(ShardIteratorType::Latest).await?;
        Ok(reader)
    }

    /// Adds the shards not seen yet, read from `from`.
    async fn discover(&mut self, from: ShardIteratorType) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| super::sdk_failure("DescribeStream", &e))?;
        let shards = described
            .stream_description()
            .map(|d| d.shards().to_vec())
            .unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id() else { continue };
            if self.shards.contains_key(id) {
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(id)
                .shard_iterator_type(from.clone())
                .send()
                .await
                .map_err(|e| super::sdk_failure("GetShardIterator", &e))?;
            self.shards
                .insert(id.to_owned(), iterator.shard_iterator().map(str::to_owned));
        }
        Ok(())
    }

    /// The records written since the last call, in order per shard (per
    /// item), as raw stream records.
    pub async fn poll(
        &mut self,
    ) -> Result<Vec<aws_sdk_dynamodbstreams::types::Record>, StoreError> {
        self.discover(ShardIteratorType::TrimHorizon).await?;
        let mut records = Vec::new();
        for iterator in self.shards.values_mut() {
            let Some(current) = iterator.clone() else {
                continue;
            };
            let page = self
                .client
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(|e| super::sdk_failure("GetRecords", &e))?;
            records.extend(page.records().iter().cloned());
            *iterator = page.next_shard_iterator().map(str::to_owned);
        }
        Ok(records)
    }

    /// Polls until `stop` says so, handing every change to `each`, with a
    /// pause between empty polls.
    pub async fn follow(
        &mut self,
        mut each: impl FnMut(Result<Change, StoreError>),
    ) -> Result<(), StoreError> {
        loop {
            let records = self.poll().await?;
            if records.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for record in &records {
                match streams_change(record) {
                    Ok(Some(change)) => each(Ok(change)),
                    Ok(None) => {}
                    Err(e) => each(Err(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::ResourceKind;
    use crate::store::change::Actor;
    use crate::store::{Member, Record, UniqueKey};

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn ada() -> Member {
        Member {
            id: "u1".into(),
            kind: ResourceKind::User,
            display: Some("ada".into()),
        }
    }

    #[test]
    fn resource_items_decode_to_their_change_and_bookkeeping_to_none() {
        let tenant = acme();
        let record = Record::new(ResourceKind::User, "u1", 3, json!({"userName": "ada"}));
        let item = codec::resource_item(&tenant, &record).unwrap();
        let change = change_of(None, Some(&item), at()).unwrap().unwrap();
        assert_eq!(change.tenant, tenant);
        assert_eq!(
            change.what,
            Changed::Resource {
                old: None,
                new: Some(Box::new(record.clone()))
            }
        );
        let gone = change_of(Some(&item), None, at()).unwrap().unwrap();
        assert!(matches!(gone.what, Changed::Resource { new: None, .. }));
        assert_eq!(gone.actor, Actor::default());

        let marker = codec::marker_item(&tenant, &UniqueKey::UserName("ada".into()), "u1");
        assert_eq!(change_of(None, Some(&marker), at()).unwrap(), None);
        let email = codec::email_item(&tenant, &record, "ada@x");
        assert_eq!(change_of(None, Some(&email), at()).unwrap(), None);
    }

    #[test]
    fn a_deleted_user_names_the_groups_its_deletion_left_and_the_rest() {
        let mut record = Record::new(ResourceKind::User, "u1", 5, json!({"userName": "ada"}));
        record.groups = vec!["g2".into()];
        let mut item = codec::resource_item(&acme(), &record).unwrap();
        item.insert(
            codec::ATTR_LEFT.into(),
            AttributeValue::Ss(vec!["g1".into(), "g3".into()]),
        );
        let change = change_of(Some(&item), None, at()).unwrap().unwrap();
        let Changed::Resource { old: Some(old), .. } = change.what else {
            panic!("{change:?}");
        };
        assert_eq!(old.groups, ["g1", "g2", "g3"]);
    }

    #[test]
    fn edges_begin_and_end_memberships_and_cascades_emit_nothing() {
        let tenant = acme();
        let live = codec::edge_item(&tenant, "g1", &ada(), 2);
        let dead = codec::tombstone_item(&tenant, "g1", &ada(), 3);
        let revived = codec::edge_item(&tenant, "g1", &ada(), 4);
        let what = |old: Option<&Item>, new: Option<&Item>| {
            change_of(old, new, at()).unwrap().map(|c| c.what)
        };
        let added = |v, yes| {
            Some(Changed::Membership {
                group_id: "g1".into(),
                group_version: v,
                member: ada(),
                added: yes,
            })
        };
        assert_eq!(what(None, Some(&live)), added(2, true));
        assert_eq!(what(Some(&live), Some(&dead)), added(3, false));
        assert_eq!(what(Some(&dead), Some(&revived)), added(4, true));
        // Re-adding a member, a removal of a removed one, a cascade's
        // delete, a TTL expiry and a new tombstone: no membership changed.
        assert_eq!(what(Some(&live), Some(&revived)), None);
        assert_eq!(what(Some(&dead), Some(&dead)), None);
        assert_eq!(what(Some(&live), None), None);
        assert_eq!(what(Some(&dead), None), None);
        assert_eq!(what(None, Some(&dead)), None);
    }

    #[test]
    fn an_edge_without_its_group_version_is_corrupt() {
        let mut edge = codec::edge_item(&acme(), "g1", &ada(), 2);
        edge.remove(ATTR_GROUP_VERSION);
        assert!(matches!(
            change_of(None, Some(&edge), at()),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn writer_round_trips_through_an_item() {
        let actor = Actor {
            request_id: Some("r".into()),
            token_id: Some("tok_1".into()),
            user_agent: None,
        };
        let mut item = Item::new();
        item.insert(codec::ATTR_WRITER.into(), codec::writer_value(&actor));
        assert_eq!(codec::decode_writer(&item), actor);
    }
}
