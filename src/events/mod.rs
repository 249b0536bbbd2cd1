//! Provisioning events: what a committed change of a stored item means to
//! the vendor's application (`user.deactivated`, `group.member_added`, ...).
//!
//! Pure: a store adapter decodes an item's old and new image into a
//! [`Change`]; [`derive`] turns it into [`Event`]s. The `events` Lambda
//! (DynamoDB Streams) and `scim-local` (memory store, DynamoDB Local's
//! stream) share this code, so both publish the same events.

mod derive;
mod detail;
mod paths;

pub use derive::derive;
pub use detail::{Detail, Event, EventType, MemberRef, SOURCE};

use time::OffsetDateTime;

use crate::store::{Member, Record};
use crate::tenant::TenantId;

/// Who made a write: stored with the item by the write itself, so an event
/// names its cause without a second source. Never the token, only its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub request_id: Option<String>,
    pub token_id: Option<String>,
    pub user_agent: Option<String>,
}

/// The members one membership write added to or removed from a group,
/// recorded on the group by that write. Deletions end memberships without
/// recording a step: deleting a group or a user is one event, not one per
/// membership.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MembershipStep {
    pub added: Vec<Member>,
    pub removed: Vec<Member>,
}

/// A stored user or group as one image of a change shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceImage {
    pub record: Record,
    /// Set on a group by the membership write that produced this image.
    pub step: Option<MembershipStep>,
    /// Groups the resource left in the course of its own deletion (the
    /// memberships end before the resource goes), so `user.deleted` still
    /// lists them.
    pub left_groups: Vec<String>,
}

impl ResourceImage {
    /// An image of a record without membership bookkeeping.
    pub fn of(record: Record) -> Self {
        ResourceImage {
            record,
            step: None,
            left_groups: Vec::new(),
        }
    }
}

/// One committed change of one stored item. Items that are not users or
/// groups (markers, counters, membership edges, email index items) decode to
/// no change at all: they emit nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub tenant: TenantId,
    pub old: Option<ResourceImage>,
    pub new: Option<ResourceImage>,
    /// Who made the write (for a deletion: what is known of the deleter).
    pub actor: Actor,
    /// When the change was committed, for images without `meta.lastModified`
    /// (deletions): the stream record's creation time, stable across
    /// redelivery.
    pub committed_at: OffsetDateTime,
}
