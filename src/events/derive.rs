//! From one committed change to its events, with the most specific type.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::detail::{Detail, Event, EventType, MemberRef, event_id};
use super::{Change, ResourceImage, paths};
use crate::scim::schema::ResourceKind;
use crate::store::{Member, Record};

/// The events of one change, resource event first, then one per member
/// added or removed. A change that changed no attribute and no membership
/// emits nothing.
pub fn derive(change: &Change) -> Vec<Event> {
    match (&change.old, &change.new) {
        (None, None) => Vec::new(),
        (None, Some(new)) => {
            let t = match new.record.kind {
                ResourceKind::User => EventType::UserCreated,
                ResourceKind::Group => EventType::GroupCreated,
            };
            vec![event(change, &new.record, t, Vec::new(), None, None)]
        }
        (Some(old), None) => vec![deleted(change, old)],
        (Some(old), Some(new)) => updated(change, old, new),
    }
}

fn deleted(change: &Change, old: &ResourceImage) -> Event {
    match old.record.kind {
        ResourceKind::User => {
            // Deletion ends the memberships but keeps the user's group
            // list until the user itself goes, in both stores.
            let groups = Some(old.record.groups.clone());
            let t = EventType::UserDeleted;
            event(change, &old.record, t, Vec::new(), None, groups)
        }
        ResourceKind::Group => event(
            change,
            &old.record,
            EventType::GroupDeleted,
            Vec::new(),
            None,
            None,
        ),
    }
}

fn updated(change: &Change, old: &ResourceImage, new: &ResourceImage) -> Vec<Event> {
    if old.record.version == new.record.version {
        return Vec::new();
    }
    let changed = paths::changed(&old.record.document, &new.record.document);
    let was = is_active(&old.record);
    let now = is_active(&new.record);
    let resource_type = match new.record.kind {
        ResourceKind::User if was && !now => Some(EventType::UserDeactivated),
        ResourceKind::User if !was && now => Some(EventType::UserReactivated),
        _ if changed.is_empty() => None,
        ResourceKind::User => Some(EventType::UserUpdated),
        ResourceKind::Group => Some(EventType::GroupUpdated),
    };
    let mut events: Vec<Event> = resource_type
        .map(|t| event(change, &new.record, t, changed, None, None))
        .into_iter()
        .collect();
    if let Some(step) = &new.step {
        let members = step
            .added
            .iter()
            .map(|m| (EventType::GroupMemberAdded, m))
            .chain(
                step.removed
                    .iter()
                    .map(|m| (EventType::GroupMemberRemoved, m)),
            );
        for (t, m) in members {
            events.push(event(change, &new.record, t, Vec::new(), Some(m), None));
        }
    }
    events
}

/// `active` absent counts as active (RFC 7643 leaves it to the provider;
/// identity providers deactivate by sending `false`).
fn is_active(record: &Record) -> bool {
    record.document.get("active").and_then(Value::as_bool) != Some(false)
}

fn event(
    change: &Change,
    record: &Record,
    event_type: EventType,
    changed: Vec<String>,
    member: Option<&Member>,
    groups: Option<Vec<String>>,
) -> Event {
    let text = |name: &str| {
        record
            .document
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let version = format!("W/\"{}\"", record.version);
    let occurred_at = record
        .document
        .get("meta")
        .and_then(|m| m.get("lastModified"))
        .and_then(Value::as_str)
        .filter(|_| change.new.is_some())
        .map(str::to_owned)
        .or_else(|| change.committed_at.format(&Rfc3339).ok())
        .unwrap_or_default();
    let mut resource = record.document.clone();
    if let Some(doc) = resource.as_object_mut() {
        doc.insert("id".to_owned(), Value::String(record.id.clone()));
        if let Some(meta) = doc.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("version".to_owned(), Value::String(version.clone()));
        }
    }
    Event {
        detail: Detail {
            event_id: event_id(
                change.tenant.as_str(),
                record.kind,
                &record.id,
                record.version,
                event_type,
                member.map(|m| m.id.as_str()),
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
            member: member.map(MemberRef::from),
            groups,
            request_id: change.actor.request_id.clone(),
            token_id: change.actor.token_id.clone(),
            user_agent: change.actor.user_agent.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;
    use crate::events::{Actor, MembershipStep};
    use crate::tenant::TenantId;

    fn user(version: u64, doc: Value) -> ResourceImage {
        ResourceImage::of(Record::new(ResourceKind::User, "u1", version, doc))
    }

    fn group(version: u64, doc: Value) -> ResourceImage {
        ResourceImage::of(Record::new(ResourceKind::Group, "g1", version, doc))
    }

    fn change(old: Option<ResourceImage>, new: Option<ResourceImage>) -> Change {
        Change {
            tenant: TenantId::parse("acme").unwrap(),
            old,
            new,
            actor: Actor {
                request_id: Some("req-1".into()),
                token_id: Some("tok_1".into()),
                user_agent: Some("Azure AD SCIM".into()),
            },
            committed_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        }
    }

    fn types(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(Event::detail_type).collect()
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
        let created = derive(&change(None, Some(user(1, ada(true, "a")))));
        assert_eq!(types(&created), ["user.created"]);
        let d = &created[0].detail;
        assert_eq!(d.version, "W/\"1\"");
        assert_eq!(d.user_name.as_deref(), Some("ada"));
        assert_eq!(d.external_id.as_deref(), Some("e1"));
        assert_eq!(d.occurred_at, "2026-12-01T10:00:00Z");
        assert_eq!(d.resource.as_ref().unwrap()["meta"]["version"], "W/\"1\"");
        assert_eq!(d.resource.as_ref().unwrap()["id"], "u1");
        assert_eq!(d.token_id.as_deref(), Some("tok_1"));

        let updated = derive(&change(
            Some(user(1, ada(true, "a"))),
            Some(user(2, ada(true, "b"))),
        ));
        assert_eq!(types(&updated), ["user.updated"]);
        assert_eq!(updated[0].detail.changed, ["title"]);

        let mut old = user(3, ada(true, "a"));
        old.record.groups = vec!["g1".into(), "g2".into()];
        let deleted = derive(&change(Some(old), None));
        assert_eq!(types(&deleted), ["user.deleted"]);
        let d = &deleted[0].detail;
        assert_eq!(
            d.groups.as_deref(),
            Some(&["g1".to_owned(), "g2".into()][..])
        );
        assert_eq!(d.version, "W/\"3\"");
        assert_eq!(d.occurred_at, "2027-01-15T08:00:00Z");
    }

    #[test]
    fn deactivation_wins_over_other_changes_and_reactivation_is_its_own_type() {
        let off = derive(&change(
            Some(user(1, ada(true, "a"))),
            Some(user(2, ada(false, "b"))),
        ));
        assert_eq!(types(&off), ["user.deactivated"]);
        assert_eq!(off[0].detail.changed, ["active", "title"]);
        let on = derive(&change(
            Some(user(2, ada(false, "b"))),
            Some(user(3, ada(true, "b"))),
        ));
        assert_eq!(types(&on), ["user.reactivated"]);
        let absent = json!({"userName": "ada"});
        let off = derive(&change(
            Some(user(1, absent)),
            Some(user(2, ada(false, "a"))),
        ));
        assert_eq!(types(&off)[0], "user.deactivated");
    }

    #[test]
    fn no_change_emits_nothing() {
        let same = derive(&change(
            Some(user(1, ada(true, "a"))),
            Some(user(1, ada(true, "a"))),
        ));
        assert!(same.is_empty());
        // A new version that changed only the group list (a membership step
        // seen from the member's side) is not an event of the member.
        let mut bumped = user(2, ada(true, "a"));
        bumped.record.groups = vec!["g1".into()];
        assert!(derive(&change(Some(user(1, ada(true, "a"))), Some(bumped))).is_empty());
        assert!(derive(&change(None, None)).is_empty());
    }

    #[test]
    fn membership_step_emits_one_event_per_member_and_no_group_update() {
        let old = group(1, json!({"displayName": "Eng"}));
        let mut new = group(2, json!({"displayName": "Eng"}));
        new.step = Some(MembershipStep {
            added: vec![member("u1"), member("u2")],
            removed: vec![member("u3")],
        });
        let events = derive(&change(Some(old), Some(new)));
        assert_eq!(
            types(&events),
            [
                "group.member_added",
                "group.member_added",
                "group.member_removed"
            ]
        );
        let m = events[2].detail.member.as_ref().unwrap();
        assert_eq!((m.value.as_str(), m.kind), ("u3", "User"));
        assert_eq!(m.display.as_deref(), Some("u3@x"));
        let ids: std::collections::HashSet<_> =
            events.iter().map(|e| e.detail.event_id.clone()).collect();
        assert_eq!(ids.len(), 3, "each member event has its own id");
    }

    #[test]
    fn rename_with_members_is_update_then_member_events() {
        let old = group(1, json!({"displayName": "Eng"}));
        let mut new = group(2, json!({"displayName": "Engineering"}));
        new.step = Some(MembershipStep {
            added: vec![member("u1")],
            removed: Vec::new(),
        });
        let events = derive(&change(Some(old), Some(new)));
        assert_eq!(types(&events), ["group.updated", "group.member_added"]);
        assert_eq!(events[0].detail.changed, ["displayName"]);
        assert_eq!(
            events[0].detail.display_name.as_deref(),
            Some("Engineering")
        );
    }

    #[test]
    fn group_delete_is_one_event() {
        let events = derive(&change(Some(group(4, json!({"displayName": "Eng"}))), None));
        assert_eq!(types(&events), ["group.deleted"]);
        assert_eq!(events[0].detail.groups, None);
    }

    #[test]
    fn event_ids_are_stable_across_redelivery_and_differ_by_version() {
        let c = change(Some(user(1, ada(true, "a"))), Some(user(2, ada(true, "b"))));
        assert_eq!(derive(&c)[0].detail.event_id, derive(&c)[0].detail.event_id);
        let later = change(Some(user(2, ada(true, "b"))), Some(user(3, ada(true, "c"))));
        assert_ne!(
            derive(&c)[0].detail.event_id,
            derive(&later)[0].detail.event_id
        );
    }

    #[test]
    fn detail_serialises_with_documented_names_and_notice_drops_resource() {
        let e = derive(&change(None, Some(user(1, ada(true, "a")))))
            .pop()
            .unwrap();
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
