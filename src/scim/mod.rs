//! The SCIM protocol, pure: no AWS, no HTTP framework, no I/O.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod manager;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};
