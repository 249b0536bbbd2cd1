//! Item codec: how records, markers, email index items and membership
//! edges are laid out as DynamoDB items, and read back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::build_err;
use super::keys::{
    self, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, GSI3_PK, GSI3_SK, PK, RESOURCE_SK, SK,
};
use crate::scim::schema::ResourceKind;
use crate::store::change::{Actor, Change, MembershipStep, ResourceImage, current_actor};
use crate::store::{ManagerLink, Member, Record, StoreError, UniqueKey};
use crate::tenant::TenantId;

pub(super) const ATTR_ID: &str = "id";
pub(super) const ATTR_VERSION: &str = "ver";
const ATTR_DOC: &str = "doc";
pub(super) const ATTR_KIND: &str = "kind";
const ATTR_MANAGER: &str = "mgr";
pub(super) const ATTR_COUNT: &str = "n";
/// The groups a resource is a direct member of (string set).
pub(super) const ATTR_GROUPS: &str = "grp";
/// `meta.lastModified`, kept beside the document so a membership change
/// can set it without rewriting the document.
pub(super) const ATTR_MODIFIED: &str = "mod";
/// A membership edge's member kind and display name.
const ATTR_MEMBER_KIND: &str = "mk";
pub(super) const ATTR_DISPLAY: &str = "disp";
/// Who made the last write of a resource item (map: `rid` request id,
/// `tid` token id, `ua` User-Agent), for its change event.
pub(super) const ATTR_WRITER: &str = "by";
/// The members the membership step that wrote a group item added (`a`)
/// and removed (`r`), as lists of maps (`id`, `k` kind, `d` display);
/// absent after any other write.
pub(super) const ATTR_STEP: &str = "stp";
/// Sort key of a pending-manager counter.
pub(super) const PENDING_SK: &str = "N";

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
    let marker_pk = keys::marker_pk(tenant, k);
    let mut item = key(marker_pk.clone(), keys::MARKER_SK);
    item.insert(ATTR_ID.into(), s(id));
    item.insert(GSI1_PK.into(), s(keys::marker_collection_pk(tenant)));
    item.insert(GSI1_SK.into(), s(marker_pk));
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
    let mut item = key(pk.clone(), &sk);
    item.insert(ATTR_ID.into(), s(&record.id));
    item.insert(GSI1_PK.into(), s(keys::auxiliary_collection_pk(tenant)));
    item.insert(GSI1_SK.into(), s(format!("{pk}#{sk}")));
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
/// the member's kind and display name.
pub(super) fn edge_item(tenant: &TenantId, group_id: &str, member: &Member) -> Item {
    let mut item = edge_key(tenant, group_id, &member.id);
    item.insert(ATTR_ID.into(), s(&member.id));
    item.insert(ATTR_MEMBER_KIND.into(), s(member.kind.name()));
    if let Some(display) = &member.display {
        item.insert(ATTR_DISPLAY.into(), s(display));
    }
    item
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

/// The writer map of a resource item.
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

fn decode_writer(item: &Item) -> Actor {
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

/// Most bytes of member display names one step map holds: a group item
/// with the largest document must still fit DynamoDB's 400 KB item limit
/// (past it, later members' events carry no `display`).
const STEP_DISPLAY_BYTES: usize = 16_000;

/// The step map of a group item: the members one membership step added
/// and removed.
pub(super) fn step_value(added: &[Member], removed: &[Member]) -> AttributeValue {
    let mut budget = STEP_DISPLAY_BYTES;
    let mut list = |members: &[Member]| {
        AttributeValue::L(
            members
                .iter()
                .map(|m| {
                    let mut e = HashMap::from([
                        ("id".to_owned(), s(&m.id)),
                        ("k".to_owned(), s(m.kind.name())),
                    ]);
                    if let Some(d) = m.display.as_ref().filter(|d| d.len() <= budget) {
                        budget -= d.len();
                        e.insert("d".to_owned(), s(d));
                    }
                    AttributeValue::M(e)
                })
                .collect(),
        )
    };
    AttributeValue::M(HashMap::from([
        ("a".to_owned(), list(added)),
        ("r".to_owned(), list(removed)),
    ]))
}

fn decode_step(item: &Item) -> Result<Option<MembershipStep>, StoreError> {
    let Some(AttributeValue::M(m)) = item.get(ATTR_STEP) else {
        return Ok(None);
    };
    let list = |k: &str| -> Result<Vec<Member>, StoreError> {
        let Some(AttributeValue::L(entries)) = m.get(k) else {
            return Ok(Vec::new());
        };
        entries
            .iter()
            .map(|e| {
                let e = e
                    .as_m()
                    .map_err(|_| StoreError::Corrupt("membership step".into()))?;
                let mut edge = e.clone();
                edge.insert(
                    ATTR_MEMBER_KIND.into(),
                    e.get("k").cloned().unwrap_or(s("")),
                );
                if let Some(d) = e.get("d") {
                    edge.insert(ATTR_DISPLAY.into(), d.clone());
                }
                decode_member(&edge)
            })
            .collect()
    };
    Ok(Some(MembershipStep {
        added: list("a")?,
        removed: list("r")?,
    }))
}

/// The tenant and kind of a resource item; `None` for every other item
/// (markers, counters, edges, email index items).
fn resource_of(item: &Item) -> Option<(TenantId, ResourceKind)> {
    if text(item, SK) != Some(RESOURCE_SK) {
        return None;
    }
    let kind = match text(item, ATTR_KIND)? {
        "User" => ResourceKind::User,
        "Group" => ResourceKind::Group,
        _ => return None,
    };
    let (tenant, _) = text(item, PK)?.strip_prefix("T#")?.split_once('#')?;
    Some((TenantId::parse(tenant).ok()?, kind))
}

fn image(item: &Item, kind: ResourceKind) -> Result<ResourceImage, StoreError> {
    Ok(ResourceImage {
        record: decode(item, kind)?,
        step: decode_step(item)?,
    })
}

/// The change of a user or group that a stream record's old and new image
/// show, `None` for any other item. `committed_at` is the record's
/// creation time (the same on every delivery).
pub fn change_of(
    old: Option<&Item>,
    new: Option<&Item>,
    committed_at: time::OffsetDateTime,
) -> Result<Option<Change>, StoreError> {
    let Some((tenant, kind)) = new.or(old).and_then(resource_of) else {
        return Ok(None);
    };
    Ok(Some(Change {
        tenant,
        old: old.map(|i| image(i, kind)).transpose()?,
        new: new.map(|i| image(i, kind)).transpose()?,
        actor: new.map(decode_writer).unwrap_or_default(),
        committed_at,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn a_resource_item_decodes_to_its_change_and_other_items_to_none() {
        let tenant = TenantId::parse("acme").unwrap();
        let record = Record::new(ResourceKind::User, "u1", 3, json!({"userName": "ada"}));
        let item = resource_item(&tenant, &record).unwrap();
        let change = change_of(None, Some(&item), at()).unwrap().unwrap();
        assert_eq!(change.tenant, tenant);
        assert_eq!(change.new.unwrap().record, record);
        assert!(change.old.is_none());
        let gone = change_of(Some(&item), None, at()).unwrap().unwrap();
        assert_eq!(gone.old.unwrap().record.id, "u1");

        let marker = marker_item(&tenant, &UniqueKey::UserName("ada".into()), "u1");
        assert_eq!(change_of(None, Some(&marker), at()).unwrap(), None);
        let member = Member {
            id: "u1".into(),
            kind: ResourceKind::User,
            display: None,
        };
        let edge = edge_item(&tenant, "g1", &member);
        assert_eq!(change_of(Some(&edge), None, at()).unwrap(), None);
        let email = email_item(&tenant, &record, "ada@x");
        assert_eq!(change_of(None, Some(&email), at()).unwrap(), None);
    }

    #[test]
    fn writer_and_step_round_trip() {
        let actor = Actor {
            request_id: Some("r".into()),
            token_id: Some("tok_1".into()),
            user_agent: None,
        };
        let mut item = Item::new();
        item.insert(ATTR_WRITER.into(), writer_value(&actor));
        assert_eq!(decode_writer(&item), actor);
        let m = |id: &str, kind| Member {
            id: id.into(),
            kind,
            display: Some(format!("{id}!")),
        };
        let added = vec![m("u1", ResourceKind::User), m("g2", ResourceKind::Group)];
        let removed = vec![m("u3", ResourceKind::User)];
        item.insert(ATTR_STEP.into(), step_value(&added, &removed));
        let step = decode_step(&item).unwrap().unwrap();
        assert_eq!((step.added, step.removed), (added, removed));
    }

    #[test]
    fn step_display_names_stay_within_their_budget() {
        let long = "x".repeat(1024);
        let members: Vec<Member> = (0..49)
            .map(|i| Member {
                id: format!("u{i}"),
                kind: ResourceKind::User,
                display: Some(long.clone()),
            })
            .collect();
        let mut item = Item::new();
        item.insert(ATTR_STEP.into(), step_value(&members, &[]));
        let step = decode_step(&item).unwrap().unwrap();
        assert_eq!(step.added.len(), 49);
        let shown = step.added.iter().filter(|m| m.display.is_some()).count();
        assert_eq!(shown, STEP_DISPLAY_BYTES / 1024);
    }
}
