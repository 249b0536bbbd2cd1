//! Committed changes as the adapters report them (the memory store in
//! process, the DynamoDB adapter from its table's stream), and who made
//! them. `crate::events` turns them into provisioning events.

use std::future::Future;

use time::OffsetDateTime;

use super::{Member, Record};
use crate::tenant::TenantId;

/// The id of the token that authenticated a request (`tok_...`), never the
/// token: the front doors set it as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenId(pub String);

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

/// One committed change of a stored user or group, or of one membership.
/// Other items (markers, counters, email index items) are bookkeeping and
/// not reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub tenant: TenantId,
    pub what: Changed,
    /// Who made the write (for a deletion: what is known of the deleter).
    pub actor: Actor,
    /// When the change was committed, for changes without
    /// `meta.lastModified` (deletions, memberships): the same on every
    /// delivery of the change.
    pub committed_at: OffsetDateTime,
}

/// What one change changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Changed {
    /// A user or group item: created (no `old`), replaced or deleted (no
    /// `new`). A member's new version after a membership step is such a
    /// change too, one that changes no attribute.
    Resource {
        old: Option<Box<Record>>,
        new: Option<Box<Record>>,
    },
    /// A membership began or ended by a membership write (never by the
    /// deletion of its group or member, which is that deletion's event).
    Membership {
        group_id: String,
        /// The group's version after the step that made the change.
        group_version: u64,
        member: Member,
        added: bool,
    },
}
