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
pub mod sink;

pub use derive::derive;
pub use detail::{Detail, Event, EventType, MemberRef, SOURCE};

pub use crate::store::change::{Actor, Change, MembershipStep, ResourceImage};
