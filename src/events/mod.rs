//! Provisioning events: what a committed change of a stored item means to
//! the vendor's application (`user.deactivated`, `group.member_added`, ...).
//!
//! The core is pure: a store adapter decodes a committed change (the memory
//! store's, or a stream record of the table) into a [`Change`]; [`derive`]
//! turns it into an [`Event`]; `batch` lays events out as EventBridge
//! entries. `publish` is the AWS side (the `events` function's handler),
//! `sink` the local one (`scim-local --events`). Both use the same code up
//! to the entry, so both publish the same events.

pub mod batch;
pub mod breaker;
mod derive;
mod detail;
pub mod gate;
pub mod publish;
pub mod sink;

use std::future::Future;
use std::pin::Pin;

pub use derive::derive;
pub use detail::{Detail, Event, EventType, MemberRef, SOURCE};

pub use crate::store::change::{Actor, Change, Changed};

/// Where events released from a breaker go: the same bus the `events`
/// function publishes on (EventBridge), or the local sink's file.
pub trait Bus: Send + Sync {
    /// Publishes `entries` in order; an error names why (nothing is then
    /// taken as published).
    fn send<'a>(
        &'a self,
        entries: &'a [batch::Entry],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}
