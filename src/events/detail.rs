//! The published form of an event: EventBridge's `detail-type` and the
//! `detail` document, documented field by field in the README.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::scim::schema::ResourceKind;
use crate::store::Member;

/// EventBridge `source` of every event.
pub const SOURCE: &str = "scim-serverless";

/// The event types (EventBridge `detail-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::GroupMemberAdded => "group.member_added",
            EventType::GroupMemberRemoved => "group.member_removed",
        }
    }

    /// The RFC 9967 (SCIM events) event URI this type corresponds to.
    pub fn rfc9967_uri(self) -> &'static str {
        match self {
            EventType::UserCreated | EventType::GroupCreated => {
                "urn:ietf:params:scim:event:prov:create:full"
            }
            EventType::UserUpdated
            | EventType::GroupUpdated
            | EventType::GroupMemberAdded
            | EventType::GroupMemberRemoved => "urn:ietf:params:scim:event:prov:patch:full",
            EventType::UserDeleted | EventType::GroupDeleted => {
                "urn:ietf:params:scim:event:prov:delete"
            }
            EventType::UserDeactivated => "urn:ietf:params:scim:event:prov:deactivate",
            EventType::UserReactivated => "urn:ietf:params:scim:event:prov:activate",
        }
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A member as member events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRef {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl From<&Member> for MemberRef {
    fn from(m: &Member) -> Self {
        MemberRef {
            value: m.id.clone(),
            kind: m.kind.name(),
            display: m.display.clone(),
        }
    }
}

/// The `detail` of an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    /// Stable across redelivery: derived from what the event is about.
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub tenant: String,
    pub resource_type: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The ETag after the change (for deletions, the last one).
    pub version: String,
    pub occurred_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    /// Set when `resource` was left out to fit EventBridge's entry size.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resource_omitted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberRef>,
    /// `user.deleted`: the groups the user was a direct member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// One event: its `detail-type` and `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub detail: Detail,
}

impl Event {
    pub fn detail_type(&self) -> &'static str {
        self.detail.event_type.as_str()
    }

    /// The `detail` as JSON text.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The notice form: everything but `resource`, flagged, for an event
    /// too large to publish whole (consumers fetch the resource by id).
    pub fn notice(&self) -> Event {
        let mut detail = self.detail.clone();
        detail.resource = None;
        detail.resource_omitted = true;
        Event { detail }
    }

    /// The local sink's line: `detail-type`, `detail`, `source`, `time`.
    pub fn json_line(&self) -> String {
        serde_json::json!({
            "detail-type": self.detail_type(),
            "source": SOURCE,
            "time": self.detail.occurred_at,
            "detail": self.detail,
        })
        .to_string()
    }
}

/// An id that is the same whenever the same change is delivered again:
/// a digest of what identifies the event, shaped like a UUID.
pub(crate) fn event_id(
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    version: u64,
    event_type: EventType,
    member: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    for part in [
        tenant,
        kind.name(),
        id,
        &version.to_string(),
        event_type.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    if let Some(m) = member {
        h.update(m.as_bytes());
    }
    uuid_shaped(h)
}

/// A digest's first 16 bytes as a UUID-shaped id.
pub(crate) fn uuid_shaped(h: Sha256) -> String {
    let hex = hex::encode(&h.finalize()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
