//! Schema definitions and their registry.

mod attribute;
mod definitions;
mod registry;

pub use attribute::{AttrType, AttributeDef, Mutability, Returned, Schema, Uniqueness};
pub use definitions::{
    DEFAULT_EXTENSION_ATTRIBUTES, DEFAULT_EXTENSION_URN, ENTERPRISE_URN, GROUP_URN, MANAGER_EMAIL,
    USER_URN,
};
pub use registry::{ExtensionConfig, Registry, Resolved, ResourceKind};
