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
pub(super) const ATTR_DOC: &str = "doc";
pub(super) const ATTR_KIND: &str = "kind";
const ATTR_MANAGER: &str = "mgr";
pub(super) const ATTR_COUNT: &str = "n";
/// A resource counter's list generation (see [`crate::store::Census`]).
pub(super) const ATTR_GENERATION: &str = "gen";
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

/// The key of a resource item.
pub(super) fn resource_key(tenant: &TenantId, kind: ResourceKind, id: &str) -> Item {
    key(keys::resource_pk(tenant, kind, id), RESOURCE_SK)
}

/// The resource item with its index keys: `gsi1` (collection), `gsi2`
/// (`externalId`), `gsi3` (manager reference).
pub(super) fn resource_item(tenant: &TenantId, record: &Record) -> Result<Item, StoreError> {
    let doc = serde_json::to_string(&record.document).map_err(build_err)?;
    let mut item = resource_key(tenant, record.kind, &record.id);
    item.insert(ATTR_ID.into(), s(&record.id));
    item.insert(ATTR_KIND.into(), s(record.kind.name()));
    item.insert(ATTR_VERSION.into(), n(record.version));
    item.insert(ATTR_DOC.into(), s(doc));
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
            ManagerLink::Pending(raw) => keys::pending_reports_pk(tenant, raw),
        };
        item.insert(ATTR_MANAGER.into(), s(encode_manager(link)));
        item.insert(GSI3_PK.into(), s(pk));
        item.insert(GSI3_SK.into(), s(&record.id));
    }
    Ok(item)
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
