//! Committed changes as the adapters report them (the memory store in
//! process, the DynamoDB adapter from its table's stream), and who made
//! them. `crate::events` turns them into provisioning events.

use std::future::Future;

use time::OffsetDateTime;

use super::{Member, Record};
use crate::tenant::TenantId;

/// Who made a write: stored with the item by the write itself, so an event
/// names its cause without a second source. Never the token, only its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub request_id: Option<String>,
    pub token_id: Option<String>,
    pub user_agent: Option<String>,
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Runs `work` (one request) with `actor` as the writer of everything it
/// stores: the front door sets it once instead of threading it through
/// every store call.
pub async fn with_actor<F: Future>(actor: Actor, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// The writer of the current request; empty outside one.
pub fn current_actor() -> Actor {
    ACTOR.try_with(Clone::clone).unwrap_or_default()
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
}

impl ResourceImage {
    /// An image of a record without membership bookkeeping.
    pub fn of(record: Record) -> Self {
        ResourceImage { record, step: None }
    }
}

/// One committed change of one stored user or group. Other items
/// (markers, counters, membership edges, email index items) are not
/// reported: they are bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub tenant: TenantId,
    pub old: Option<ResourceImage>,
    pub new: Option<ResourceImage>,
    /// Who made the write (for a deletion: what is known of the deleter).
    pub actor: Actor,
    /// When the change was committed, for images without `meta.lastModified`
    /// (deletions): stable across redelivery of the same change.
    pub committed_at: OffsetDateTime,
}
