//! The SCIM protocol, pure: no AWS, no HTTP framework, no I/O.

pub mod bulk;
pub mod diff;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod limits;
pub mod list;
pub mod manager;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod sort;
mod value_set;

pub use error::{ScimError, ScimType};
