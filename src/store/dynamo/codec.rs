//! Item codec: how records, markers, email index items and membership
//! edges are laid out as DynamoDB items, and read back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::build_err;
use super::keys::{
    self, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, GSI3_PK, GSI3_SK, PK, RESOURCE_SK, SK,
};
use crate::scim::schema::ResourceKind;
use crate::store::change::{Actor, current_actor};
use crate::store::{ManagerLink, Member, Record, StoreError, UniqueKey};
use crate::tenant::TenantId;

pub(super) const ATTR_ID: &str = "id";
pub(super) const ATTR_VERSION: &str = "ver";
/// The stored document, deflate-compressed JSON (binary): a document is
/// most of an item's size, and every index copy of the item pays for it.
const ATTR_DOC_DEFLATED: &str = "dz";
/// The stored document as plain JSON text, as releases before compression
/// wrote it: still read, never written.
const ATTR_DOC: &str = "doc";
/// Most bytes a stored document inflates to: a guard against a corrupt
/// item, well above the largest document a write accepts.
const MAX_INFLATED_BYTES: usize = 4 * crate::store::MAX_DOCUMENT_BYTES;
const ATTR_MANAGER: &str = "mgr";
pub(super) const ATTR_COUNT: &str = "n";
/// A resource counter's list generation (see [`crate::store::Census`]).
pub(super) const ATTR_GENERATION: &str = "gen";
/// On a user counter shard: how many of the users it counts are inactive
/// ([`crate::store::Record::is_inactive`]).
pub(super) const ATTR_INACTIVE: &str = "ni";
/// On a counter shard: its part of the tenant's membership edges. Only the
/// sum over every shard means something: a step counts its edges on the
/// shard of the resource it is conditional on (the group, or the resource
/// being deleted), so one shard may hold a negative part.
pub(super) const ATTR_MEMBERSHIPS: &str = "nm";
/// On a counter shard: how many writes changed its `ni` or `nm`, so that
/// `tenant migrate` can set the counts conditional on no change meanwhile
/// (a count alone could move away and back).
pub(super) const ATTR_CENSUS_VERSION: &str = "cv";
/// The groups a resource is a direct member of (string set).
pub(super) const ATTR_GROUPS: &str = "grp";
/// `meta.lastModified`, kept beside the document so a membership change
/// can set it without rewriting the document.
pub(super) const ATTR_MODIFIED: &str = "mod";
/// A membership edge's member kind and display name.
const ATTR_MEMBER_KIND: &str = "mk";
pub(super) const ATTR_DISPLAY: &str = "disp";
/// Who made the last write of a user, group or edge item (map: `rid`
/// request id, `tid` token id, `ua` User-Agent), for its change event.
pub(super) const ATTR_WRITER: &str = "by";
/// On a resource being deleted: the groups whose memberships its deletion
/// already ended (string set), so the deletion's old image still names
/// every group it was in while `grp` stays true to its edges.
pub(super) const ATTR_LEFT: &str = "left";
/// On an edge: the group's version after the membership step that wrote it.
pub(super) const ATTR_GROUP_VERSION: &str = "gv";
/// On an edge: `true` once the membership ended (a tombstone, so the
/// stream shows the removal as a change of the edge).
pub(super) const ATTR_GONE: &str = "gone";
/// On a tombstone: when DynamoDB may delete it (epoch seconds, the
/// table's TTL attribute).
pub(super) const ATTR_TTL: &str = super::table::TTL_ATTRIBUTE;
/// How long a tombstone stays: longer than any stream consumer lags
/// (records live 24 hours).
const TOMBSTONE_SECONDS: i64 = 2 * 24 * 3600;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The primary key (`pk`, `sk`) of an item.
pub(super) fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| *name == PK || *name == SK)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The string attribute `name` of an item.
pub(super) fn text<'i>(item: &'i Item, name: &str) -> Option<&'i str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// A stored manager reference: `P#{value}` (pending; earlier releases also
/// wrote `R#{id}` for a resolved one, which `gsi3pk` now says).
fn decode_manager(text: &str) -> Result<ManagerLink, StoreError> {
    match text.split_at_checked(2) {
        Some(("R#", id)) => Ok(ManagerLink::Resolved(id.to_owned())),
        Some(("P#", raw)) => Ok(ManagerLink::Pending(raw.to_owned())),
        _ => Err(StoreError::Corrupt("manager reference".into())),
    }
}

/// The key of a resource item.
pub(super) fn resource_key(tenant: &TenantId, kind: ResourceKind, id: &str) -> Item {
    key(keys::resource_pk(tenant, kind, id), RESOURCE_SK)
}

/// The resource item with its index keys: `gsi1` (collection), `gsi2`
/// (`externalId`), `gsi3` (manager reference). Every byte of it is paid
/// again in each index copy, so what the keys already say is not repeated:
/// the kind and id are in `pk`, a resolved manager in `gsi3pk`, and the
/// document leaves out `meta.resourceType` and `meta.lastModified` (`mod`).
pub(super) fn resource_item(tenant: &TenantId, record: &Record) -> Result<Item, StoreError> {
    let mut document = record.document.clone();
    if let Some(meta) = document.get_mut("meta").and_then(|m| m.as_object_mut()) {
        meta.remove("resourceType");
        meta.remove("lastModified");
    }
    let doc = serde_json::to_vec(&document).map_err(build_err)?;
    let mut item = resource_key(tenant, record.kind, &record.id);
    item.insert(ATTR_VERSION.into(), n(record.version));
    item.insert(
        ATTR_DOC_DEFLATED.into(),
        AttributeValue::B(deflate(&doc).into()),
    );
    item.insert(ATTR_WRITER.into(), writer_value(&current_actor()));
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
            ManagerLink::Pending(raw) => {
                // The partition key folds case: the value as sent is kept.
                item.insert(ATTR_MANAGER.into(), s(format!("P#{raw}")));
                keys::pending_reports_pk(tenant, raw)
            }
        };
        item.insert(GSI3_PK.into(), s(pk));
        item.insert(GSI3_SK.into(), s(&record.id));
    }
    Ok(item)
}

/// The kind of a resource item, from its partition key.
pub(super) fn resource_kind(item: &Item) -> Option<ResourceKind> {
    keys::parse_resource_pk(text(item, PK)?).map(|(kind, _)| kind)
}

/// The marker item that reserves `k` for resource `id`.
pub(super) fn marker_item(tenant: &TenantId, k: &UniqueKey, id: &str) -> Item {
    let mut item = key(keys::marker_pk(tenant, k), keys::MARKER_SK);
    item.insert(ATTR_ID.into(), s(id));
    item
}

/// The key of the email index item of `record` for `email`.
pub(super) fn email_key(tenant: &TenantId, record: &Record, email: &str) -> Item {
    key(
        keys::resource_pk(tenant, record.kind, &record.id),
        &keys::email_sk(email),
    )
}

/// The item that finds a user by one of its email addresses (`gsi2`).
pub(super) fn email_item(tenant: &TenantId, record: &Record, email: &str) -> Item {
    let pk = keys::resource_pk(tenant, record.kind, &record.id);
    let sk = keys::email_sk(email);
    let mut item = key(pk, &sk);
    item.insert(ATTR_ID.into(), s(&record.id));
    item.insert(GSI2_PK.into(), s(keys::email_pk(tenant, email)));
    item.insert(GSI2_SK.into(), s(&record.id));
    item
}

/// A number attribute of an item; 0 when absent.
pub(super) fn number(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
}

/// The kind a counter item counts, from its sort key (`U#{s}` or the
/// single counter `U` of the layout before issue 13; `G` alike).
pub(super) fn counter_kind(item: &Item) -> Option<ResourceKind> {
    match text(item, SK)?.split('#').next()? {
        "U" => Some(ResourceKind::User),
        "G" => Some(ResourceKind::Group),
        _ => None,
    }
}

/// The membership edge of `member_id` in group `group_id`.
pub(super) fn edge_key(tenant: &TenantId, group_id: &str, member_id: &str) -> Item {
    key(
        keys::resource_pk(tenant, ResourceKind::Group, group_id),
        &keys::member_sk(member_id),
    )
}

/// The membership edge of `member` in group `group_id`, with its copies of
/// the member's kind and display name, the group's version after the step
/// (`group_version`) and its writer.
pub(super) fn edge_item(
    tenant: &TenantId,
    group_id: &str,
    member: &Member,
    group_version: u64,
) -> Item {
    let mut item = edge_key(tenant, group_id, &member.id);
    item.insert(ATTR_ID.into(), s(&member.id));
    item.insert(ATTR_MEMBER_KIND.into(), s(member.kind.name()));
    if let Some(display) = &member.display {
        item.insert(ATTR_DISPLAY.into(), s(display));
    }
    item.insert(ATTR_GROUP_VERSION.into(), n(group_version));
    item.insert(ATTR_WRITER.into(), writer_value(&current_actor()));
    item
}

/// The tombstone of an ended membership: the edge marked `gone`, expiring
/// after [`TOMBSTONE_SECONDS`].
pub(super) fn tombstone_item(
    tenant: &TenantId,
    group_id: &str,
    member: &Member,
    group_version: u64,
) -> Item {
    let mut item = edge_item(tenant, group_id, member, group_version);
    item.insert(ATTR_GONE.into(), AttributeValue::Bool(true));
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + TOMBSTONE_SECONDS;
    item.insert(ATTR_TTL.into(), n(expires));
    item
}

/// Whether an edge item is a tombstone.
pub(super) fn is_gone(item: &Item) -> bool {
    matches!(item.get(ATTR_GONE), Some(AttributeValue::Bool(true)))
}

/// The groups a deleted resource was in: its `grp` and the groups its
/// deletion had already taken out of it (`left`).
pub(super) fn groups_at_deletion(item: &Item) -> Vec<String> {
    let mut groups: Vec<String> = [ATTR_GROUPS, ATTR_LEFT]
        .iter()
        .filter_map(|name| item.get(*name).and_then(|v| v.as_ss().ok()))
        .flatten()
        .cloned()
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// The writer map of an item.
pub(super) fn writer_value(actor: &Actor) -> AttributeValue {
    let fields = [
        ("rid", &actor.request_id),
        ("tid", &actor.token_id),
        ("ua", &actor.user_agent),
    ];
    AttributeValue::M(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), s(v))))
            .collect(),
    )
}

/// The writer an item records; empty when it records none.
pub(super) fn decode_writer(item: &Item) -> Actor {
    let Some(AttributeValue::M(m)) = item.get(ATTR_WRITER) else {
        return Actor::default();
    };
    let field = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned();
    Actor {
        request_id: field("rid"),
        token_id: field("tid"),
        user_agent: field("ua"),
    }
}

pub(super) fn decode(item: &Item, kind: ResourceKind) -> Result<Record, StoreError> {
    let version = item
        .get(ATTR_VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("missing version".into()))?;
    // Items written before the keys stopped being repeated carry `id`
    // and `mgr` = `R#{id}` as well; either way reads the same.
    let id = text(item, PK)
        .and_then(keys::parse_resource_pk)
        .map(|(_, id)| id)
        .ok_or_else(|| StoreError::Corrupt("resource key".into()))?;
    let manager = match (text(item, ATTR_MANAGER), text(item, GSI3_PK)) {
        (Some(text), _) => Some(decode_manager(text)?),
        (None, Some(pk)) => {
            keys::parse_reports_pk(pk).map(|id| ManagerLink::Resolved(id.to_owned()))
        }
        (None, None) => None,
    };
    let mut document = stored_document(item)?;
    if let Some(meta) = document.get_mut("meta").and_then(|m| m.as_object_mut()) {
        meta.insert("resourceType".to_owned(), kind.name().into());
        if let Some(modified) = text(item, ATTR_MODIFIED) {
            meta.insert("lastModified".to_owned(), modified.into());
        }
    }
    let mut groups = item
        .get(ATTR_GROUPS)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    groups.sort();
    Ok(Record {
        kind,
        id: id.to_owned(),
        version,
        document,
        manager,
        groups,
    })
}

/// The document of a resource item, compressed or (older items) plain.
fn stored_document(item: &Item) -> Result<serde_json::Value, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("document: {e}"));
    match (item.get(ATTR_DOC_DEFLATED), item.get(ATTR_DOC)) {
        (Some(AttributeValue::B(bytes)), _) => {
            let json = inflate(bytes.as_ref()).map_err(|e| corrupt(&e))?;
            serde_json::from_slice(&json).map_err(|e| corrupt(&e))
        }
        (None, Some(AttributeValue::S(json))) => {
            serde_json::from_str(json).map_err(|e| corrupt(&e))
        }
        _ => Err(StoreError::Corrupt("missing document".into())),
    }
}

/// Raw deflate (RFC 1951) at the default level: about half the size of an
/// identity provider's user document.
fn deflate(json: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(json, 6)
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(bytes, MAX_INFLATED_BYTES)
        .map_err(|e| format!("{:?}", e.status))
}

pub(super) fn decode_member(item: &Item) -> Result<Member, StoreError> {
    let kind = match text(item, ATTR_MEMBER_KIND) {
        Some("Group") => ResourceKind::Group,
        Some("User") => ResourceKind::User,
        _ => return Err(StoreError::Corrupt("membership kind".into())),
    };
    Ok(Member {
        id: text(item, ATTR_ID)
            .ok_or_else(|| StoreError::Corrupt("membership id".into()))?
            .to_owned(),
        kind,
        display: text(item, ATTR_DISPLAY).map(str::to_owned),
    })
}

/// The `ExclusiveStartKey` of a `gsi1` query resuming after resource `id`.
pub(super) fn collection_start(tenant: &TenantId, kind: ResourceKind, id: &str) -> Item {
    let mut start = resource_key(tenant, kind, id);
    start.insert(GSI1_PK.into(), s(keys::collection_pk(tenant, kind)));
    start.insert(GSI1_SK.into(), s(id));
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Record {
        let document = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "alice@contoso.example",
            "emails": [{"value": "alice@contoso.example", "type": "work", "primary": true}],
            "meta": {"resourceType": "User", "lastModified": "2026-12-02T00:00:00Z"},
        });
        Record::new(ResourceKind::User, "u1", 3, document)
    }

    #[test]
    fn a_resource_item_stores_its_document_compressed_and_reads_it_back() {
        let tenant = TenantId::parse("acme").unwrap();
        let record = user();
        let item = resource_item(&tenant, &record).unwrap();
        assert!(!item.contains_key(ATTR_DOC), "no plain copy is written");
        let Some(AttributeValue::B(bytes)) = item.get(ATTR_DOC_DEFLATED) else {
            panic!("the document is binary");
        };
        let json = serde_json::to_vec(&record.document).unwrap();
        assert!(bytes.as_ref().len() < json.len());
        assert_eq!(decode(&item, ResourceKind::User).unwrap(), record);
    }

    #[test]
    fn an_item_written_before_compression_is_still_read() {
        let tenant = TenantId::parse("acme").unwrap();
        let record = user();
        let mut item = resource_item(&tenant, &record).unwrap();
        item.remove(ATTR_DOC_DEFLATED);
        let json = serde_json::to_string(&record.document).unwrap();
        item.insert(ATTR_DOC.into(), s(json));
        assert_eq!(decode(&item, ResourceKind::User).unwrap(), record);
    }

    #[test]
    fn a_corrupt_or_oversized_document_is_reported_not_panicked_on() {
        let tenant = TenantId::parse("acme").unwrap();
        let mut item = resource_item(&tenant, &user()).unwrap();
        item.insert(
            ATTR_DOC_DEFLATED.into(),
            AttributeValue::B(vec![0xff; 8].into()),
        );
        assert!(matches!(
            decode(&item, ResourceKind::User),
            Err(StoreError::Corrupt(_))
        ));
        let bomb = deflate(&vec![b' '; MAX_INFLATED_BYTES + 1]);
        item.insert(ATTR_DOC_DEFLATED.into(), AttributeValue::B(bomb.into()));
        assert!(matches!(
            decode(&item, ResourceKind::User),
            Err(StoreError::Corrupt(_))
        ));
        item.remove(ATTR_DOC_DEFLATED);
        assert!(matches!(
            decode(&item, ResourceKind::User),
            Err(StoreError::Corrupt(_))
        ));
    }
}
