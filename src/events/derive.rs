//! From one committed change to its events, with the most specific type.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::detail::{Detail, Event, EventType, MemberRef, event_id};
use super::{Change, Changed};
use crate::scim::diff;
use crate::scim::schema::ResourceKind;
use crate::store::{Member, Record};

/// The events of one change: at most one. A change that changed no
/// attribute (a member's new version after a membership step, a repeated
/// PATCH) emits nothing; so does a membership that was already so.
pub fn derive(change: &Change) -> Option<Event> {
    match &change.what {
        Changed::Resource { old: None, new } => new.as_ref().map(|new| {
            let t = match new.kind {
                ResourceKind::User => EventType::UserCreated,
                ResourceKind::Group => EventType::GroupCreated,
            };
            resource_event(change, new, t, Vec::new(), None)
        }),
        Changed::Resource {
            old: Some(old),
            new: None,
        } => Some(deleted(change, old)),
        Changed::Resource {
            old: Some(old),
            new: Some(new),
        } => updated(change, old, new),
        Changed::Membership {
            group_id,
            group_version,
            member,
            added,
        } => Some(membership(change, group_id, *group_version, member, *added)),
    }
}

fn deleted(change: &Change, old: &Record) -> Event {
    match old.kind {
        // The user's group list stays until the item is deleted.
        ResourceKind::User => resource_event(
            change,
            old,
            EventType::UserDeleted,
            Vec::new(),
            Some(old.groups.clone()),
        ),
        ResourceKind::Group => {
            resource_event(change, old, EventType::GroupDeleted, Vec::new(), None)
        }
    }
}

fn updated(change: &Change, old: &Record, new: &Record) -> Option<Event> {
    if old.version == new.version {
        return None;
    }
    let changed = diff::changed(&old.document, &new.document);
    let was = is_active(old);
    let now = is_active(new);
    let t = match new.kind {
        ResourceKind::User if was && !now => EventType::UserDeactivated,
        ResourceKind::User if !was && now => EventType::UserReactivated,
        _ if changed.is_empty() => return None,
        ResourceKind::User => EventType::UserUpdated,
        ResourceKind::Group => EventType::GroupUpdated,
    };
    Some(resource_event(change, new, t, changed, None))
}

/// `active` absent counts as active (RFC 7643 leaves it to the provider;
/// identity providers deactivate by sending `false`).
fn is_active(record: &Record) -> bool {
    record.document.get("active").and_then(Value::as_bool) != Some(false)
}

fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

fn committed_at(change: &Change) -> String {
    change.committed_at.format(&Rfc3339).unwrap_or_default()
}

fn resource_event(
    change: &Change,
    record: &Record,
    event_type: EventType,
    changed: Vec<String>,
    groups: Option<Vec<String>>,
) -> Event {
    let text = |name: &str| {
        record
            .document
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let version = etag(record.version);
    let deletion = matches!(change.what, Changed::Resource { new: None, .. });
    let occurred_at = record
        .document
        .get("meta")
        .and_then(|m| m.get("lastModified"))
        .and_then(Value::as_str)
        .filter(|_| !deletion)
        .map_or_else(|| committed_at(change), str::to_owned);
    let mut resource = record.document.clone();
    if let Some(doc) = resource.as_object_mut() {
        doc.insert("id".to_owned(), Value::String(record.id.clone()));
        if let Some(meta) = doc.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("version".to_owned(), Value::String(version.clone()));
        }
    }
    let detail = Detail {
        event_id: event_id(
            change.tenant.as_str(),
            record.kind,
            &record.id,
            record.version,
            event_type,
            None,
        ),
        event_type,
        tenant: change.tenant.as_str().to_owned(),
        resource_type: record.kind.name(),
        id: record.id.clone(),
        external_id: text("externalId"),
        user_name: text("userName"),
        display_name: text("displayName"),
        version,
        occurred_at,
        resource: Some(resource),
        resource_omitted: false,
        changed,
        member: None,
        groups,
        request_id: change.actor.request_id.clone(),
        token_id: change.actor.token_id.clone(),
        user_agent: change.actor.user_agent.clone(),
    };
    Event { detail }
}

/// A member event: about the group (at its version after the step), with
/// the member; no `resource` (the step did not change the group's
/// attributes; consumers read the group by id if they need it).
fn membership(
    change: &Change,
    group_id: &str,
    group_version: u64,
    member: &Member,
    added: bool,
) -> Event {
    let event_type = if added {
        EventType::GroupMemberAdded
    } else {
        EventType::GroupMemberRemoved
    };
    let detail = Detail {
        event_id: event_id(
            change.tenant.as_str(),
            ResourceKind::Group,
            group_id,
            group_version,
            event_type,
            Some(&member.id),
        ),
        event_type,
        tenant: change.tenant.as_str().to_owned(),
        resource_type: ResourceKind::Group.name(),
        id: group_id.to_owned(),
        external_id: None,
        user_name: None,
        display_name: None,
        version: etag(group_version),
        occurred_at: committed_at(change),
        resource: None,
        resource_omitted: false,
        changed: Vec::new(),
        member: Some(MemberRef::from(member)),
        groups: None,
        request_id: change.actor.request_id.clone(),
        token_id: change.actor.token_id.clone(),
        user_agent: change.actor.user_agent.clone(),
    };
    Event { detail }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;
    use crate::events::Actor;
    use crate::tenant::TenantId;

    fn user(version: u64, doc: Value) -> Record {
        Record::new(ResourceKind::User, "u1", version, doc)
    }

    fn group(version: u64, doc: Value) -> Record {
        Record::new(ResourceKind::Group, "g1", version, doc)
    }

    fn change(what: Changed) -> Change {
        Change {
            tenant: TenantId::parse("acme").unwrap(),
            what,
            actor: Actor {
                request_id: Some("req-1".into()),
                token_id: Some("tok_1".into()),
                user_agent: Some("Azure AD SCIM".into()),
            },
            committed_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        }
    }

    fn of(old: Option<Record>, new: Option<Record>) -> Option<Event> {
        derive(&change(Changed::Resource {
            old: old.map(Box::new),
            new: new.map(Box::new),
        }))
    }

    fn kind(e: &Option<Event>) -> Option<&'static str> {
        e.as_ref().map(Event::detail_type)
    }

    fn ada(active: bool, title: &str) -> Value {
        json!({"userName": "ada", "externalId": "e1", "active": active, "title": title,
               "meta": {"resourceType": "User", "lastModified": "2026-12-01T10:00:00Z"}})
    }

    fn member(id: &str) -> Member {
        Member {
            id: id.into(),
            kind: ResourceKind::User,
            display: Some(format!("{id}@x")),
        }
    }

    #[test]
    fn create_update_and_delete_of_a_user() {
        let created = of(None, Some(user(1, ada(true, "a")))).unwrap();
        assert_eq!(created.detail_type(), "user.created");
        let d = &created.detail;
        assert_eq!(d.version, "W/\"1\"");
        assert_eq!(d.user_name.as_deref(), Some("ada"));
        assert_eq!(d.external_id.as_deref(), Some("e1"));
        assert_eq!(d.occurred_at, "2026-12-01T10:00:00Z");
        assert_eq!(d.resource.as_ref().unwrap()["meta"]["version"], "W/\"1\"");
        assert_eq!(d.resource.as_ref().unwrap()["id"], "u1");
        assert_eq!(d.token_id.as_deref(), Some("tok_1"));

        let updated = of(Some(user(1, ada(true, "a"))), Some(user(2, ada(true, "b")))).unwrap();
        assert_eq!(updated.detail_type(), "user.updated");
        assert_eq!(updated.detail.changed, ["title"]);

        let mut old = user(3, ada(true, "a"));
        old.groups = vec!["g1".into(), "g2".into()];
        let deleted = of(Some(old), None).unwrap();
        assert_eq!(deleted.detail_type(), "user.deleted");
        let d = &deleted.detail;
        assert_eq!(
            d.groups.as_deref(),
            Some(&["g1".to_owned(), "g2".into()][..])
        );
        assert_eq!(d.version, "W/\"3\"");
        assert_eq!(d.occurred_at, "2027-01-15T08:00:00Z");
    }

    #[test]
    fn deactivation_wins_over_other_changes_and_reactivation_is_its_own_type() {
        let off = of(
            Some(user(1, ada(true, "a"))),
            Some(user(2, ada(false, "b"))),
        );
        assert_eq!(kind(&off), Some("user.deactivated"));
        assert_eq!(off.unwrap().detail.changed, ["active", "title"]);
        let on = of(
            Some(user(2, ada(false, "b"))),
            Some(user(3, ada(true, "b"))),
        );
        assert_eq!(kind(&on), Some("user.reactivated"));
        let absent = json!({"userName": "ada"});
        let off = of(Some(user(1, absent)), Some(user(2, ada(false, "a"))));
        assert_eq!(kind(&off), Some("user.deactivated"));
    }

    #[test]
    fn no_change_emits_nothing() {
        let same = of(Some(user(1, ada(true, "a"))), Some(user(1, ada(true, "a"))));
        assert_eq!(same, None);
        // A new version that changed only the group list (a membership step
        // seen from the member's side) is not an event of the member.
        let mut bumped = user(2, ada(true, "a"));
        bumped.groups = vec!["g1".into()];
        assert_eq!(of(Some(user(1, ada(true, "a"))), Some(bumped)), None);
        assert_eq!(of(None, None), None);
    }

    #[test]
    fn membership_changes_are_member_events_of_the_group() {
        let added = derive(&change(Changed::Membership {
            group_id: "g1".into(),
            group_version: 4,
            member: member("u3"),
            added: true,
        }))
        .unwrap();
        assert_eq!(added.detail_type(), "group.member_added");
        let d = &added.detail;
        assert_eq!((d.id.as_str(), d.resource_type), ("g1", "Group"));
        assert_eq!(d.version, "W/\"4\"");
        assert_eq!(d.resource, None);
        assert_eq!(d.occurred_at, "2027-01-15T08:00:00Z");
        let m = d.member.as_ref().unwrap();
        assert_eq!((m.value.as_str(), m.kind), ("u3", "User"));
        assert_eq!(m.display.as_deref(), Some("u3@x"));
        let removed = derive(&change(Changed::Membership {
            group_id: "g1".into(),
            group_version: 4,
            member: member("u4"),
            added: false,
        }))
        .unwrap();
        assert_eq!(removed.detail_type(), "group.member_removed");
        assert_ne!(added.detail.event_id, removed.detail.event_id);
    }

    #[test]
    fn rename_is_a_group_update() {
        let old = group(1, json!({"displayName": "Eng"}));
        let new = group(2, json!({"displayName": "Engineering"}));
        let e = of(Some(old), Some(new)).unwrap();
        assert_eq!(e.detail_type(), "group.updated");
        assert_eq!(e.detail.changed, ["displayName"]);
        assert_eq!(e.detail.display_name.as_deref(), Some("Engineering"));
    }

    #[test]
    fn group_delete_is_one_event() {
        let e = of(Some(group(4, json!({"displayName": "Eng"}))), None).unwrap();
        assert_eq!(e.detail_type(), "group.deleted");
        assert_eq!(e.detail.groups, None);
    }

    #[test]
    fn event_ids_are_stable_across_redelivery_and_differ_by_version() {
        let c = change(Changed::Resource {
            old: Some(Box::new(user(1, ada(true, "a")))),
            new: Some(Box::new(user(2, ada(true, "b")))),
        });
        let first = derive(&c).unwrap().detail.event_id;
        assert_eq!(first, derive(&c).unwrap().detail.event_id);
        let later = of(Some(user(2, ada(true, "b"))), Some(user(3, ada(true, "c")))).unwrap();
        assert_ne!(first, later.detail.event_id);
    }

    #[test]
    fn detail_serialises_with_documented_names_and_notice_drops_resource() {
        let e = of(None, Some(user(1, ada(true, "a")))).unwrap();
        let v: Value = serde_json::from_str(&e.detail_json()).unwrap();
        for f in [
            "eventId",
            "type",
            "tenant",
            "resourceType",
            "id",
            "externalId",
            "userName",
            "version",
            "occurredAt",
            "resource",
            "requestId",
            "tokenId",
            "userAgent",
        ] {
            assert!(v.get(f).is_some(), "{f} missing");
        }
        assert_eq!(v["type"], "user.created");
        assert!(v.get("resourceOmitted").is_none());
        let n: Value = serde_json::from_str(&e.notice().detail_json()).unwrap();
        assert!(n.get("resource").is_none());
        assert_eq!(n["resourceOmitted"], true);
        assert_eq!(n["eventId"], v["eventId"]);
        let line: Value = serde_json::from_str(&e.json_line()).unwrap();
        assert_eq!(line["detail-type"], "user.created");
        assert_eq!(line["source"], "scim-serverless");
        assert_eq!(line["detail"], v);
    }
}
