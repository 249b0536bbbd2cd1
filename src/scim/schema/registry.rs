//! The schemas of one deployment, indexed for case-insensitive resolution of
//! attribute names to their canonical definition.

use super::attribute::{AttributeDef, Schema};
use super::definitions::{
    DEFAULT_EXTENSION_ATTRIBUTES, DEFAULT_EXTENSION_URN, common_attributes, enterprise_schema,
    group_schema, user_schema, vendor_extension_schema,
};

/// The two resource types this service provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The resource type's name (`meta.resourceType`, `/ResourceTypes/{id}`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint relative to the tenant base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
}

/// Configuration of the vendor extension schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionConfig {
    pub urn: String,
    pub attributes: Vec<String>,
}

impl Default for ExtensionConfig {
    fn default() -> Self {
        ExtensionConfig {
            urn: DEFAULT_EXTENSION_URN.to_owned(),
            attributes: DEFAULT_EXTENSION_ATTRIBUTES
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
        }
    }
}

/// An attribute name resolved against the schemas: which schema it belongs
/// to (`None` for the common attributes `id`, `externalId`, `meta`), the
/// attribute and, for `attr.sub`, the sub-attribute.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub schema: Option<&'a Schema>,
    pub attr: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

impl Resolved<'_> {
    /// The innermost definition: the sub-attribute if any, else the attribute.
    pub fn leaf(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// URN of the extension schema holding the attribute, `None` for core and
    /// common attributes (which live at the top level of a resource).
    pub fn extension_urn(&self, kind: ResourceKind, registry: &Registry) -> Option<&str> {
        let schema = self.schema?;
        (schema.id != registry.core_schema(kind).id).then_some(schema.id.as_str())
    }
}

/// Every schema and resource type of a deployment.
#[derive(Debug, Clone)]
pub struct Registry {
    common: Vec<AttributeDef>,
    user: Schema,
    group: Schema,
    enterprise: Schema,
    vendor: Schema,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new(&ExtensionConfig::default())
    }
}

impl Registry {
    pub fn new(extension: &ExtensionConfig) -> Self {
        Registry {
            common: common_attributes(),
            user: user_schema(),
            group: group_schema(),
            enterprise: enterprise_schema(),
            vendor: vendor_extension_schema(&extension.urn, &extension.attributes),
        }
    }

    /// All schemas, in the order `/Schemas` lists them.
    pub fn schemas(&self) -> [&Schema; 4] {
        [&self.user, &self.enterprise, &self.vendor, &self.group]
    }

    /// Case-insensitive lookup by URN (URNs compare case-insensitively).
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    pub fn core_schema(&self, kind: ResourceKind) -> &Schema {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// Extension schemas of a resource type; none is required.
    pub fn extensions(&self, kind: ResourceKind) -> Vec<&Schema> {
        match kind {
            ResourceKind::User => vec![&self.enterprise, &self.vendor],
            ResourceKind::Group => Vec::new(),
        }
    }

    /// The URN of the configurable vendor extension of Users.
    pub fn vendor_urn(&self) -> &str {
        &self.vendor.id
    }

    /// The common attributes `id`, `externalId`, `meta`.
    pub fn common(&self) -> &[AttributeDef] {
        &self.common
    }

    fn common_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.common
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Splits `urn:...:attr[.sub]` into the schema whose URN prefixes it and
    /// the rest; the URN may itself contain dots (`2.0`), so it is matched
    /// against the known URNs instead of being split on `.`. Returns the
    /// schema and an empty rest when `path` is exactly a schema URN.
    pub fn split_urn<'p>(&self, kind: ResourceKind, path: &'p str) -> Option<(&Schema, &'p str)> {
        std::iter::once(self.core_schema(kind))
            .chain(self.extensions(kind))
            .find_map(|schema| {
                let n = schema.id.len();
                let head = path.get(..n)?;
                if !head.eq_ignore_ascii_case(&schema.id) {
                    return None;
                }
                match &path[n..] {
                    "" => Some((schema, "")),
                    rest => rest.strip_prefix(':').map(|r| (schema, r)),
                }
            })
    }

    /// Resolves `name` (optionally within the schema `urn`) and `sub` to their
    /// definitions, case-insensitively. Without a URN the core schema and the
    /// common attributes are searched; extension attributes need their URN.
    pub fn resolve(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<Resolved<'_>> {
        let (schema, attr) = match urn {
            Some(urn) => {
                let core = self.core_schema(kind);
                let schema = std::iter::once(core)
                    .chain(self.extensions(kind))
                    .find(|s| s.id.eq_ignore_ascii_case(urn))?;
                match schema.attribute(name) {
                    Some(a) => (Some(schema), a),
                    // `urn:...:core:2.0:User:id`: common attributes may be
                    // qualified with the core schema's URN.
                    None if std::ptr::eq(schema, core) => (None, self.common_attribute(name)?),
                    None => return None,
                }
            }
            None => {
                let core = self.core_schema(kind);
                match core.attribute(name) {
                    Some(a) => (Some(core), a),
                    None => (None, self.common_attribute(name)?),
                }
            }
        };
        let sub = match sub {
            Some(s) => Some(attr.sub(s)?),
            None => None,
        };
        Some(Resolved { schema, attr, sub })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::definitions::{ENTERPRISE_URN, USER_URN};

    #[test]
    fn resolves_names_case_insensitively_to_canonical_definitions() {
        let r = Registry::default();
        let got = r
            .resolve(ResourceKind::User, None, "USERNAME", None)
            .unwrap();
        assert_eq!(got.attr.name, "userName");
        let got = r
            .resolve(ResourceKind::User, None, "name", Some("GIVENNAME"))
            .unwrap();
        assert_eq!(got.leaf().name, "givenName");
        let got = r
            .resolve(ResourceKind::User, None, "ExternalId", None)
            .unwrap();
        assert!(got.schema.is_none());
        let got = r
            .resolve(ResourceKind::User, Some(USER_URN), "ID", None)
            .unwrap();
        assert_eq!((got.attr.name.as_str(), got.schema.is_none()), ("id", true));
        assert!(
            r.resolve(ResourceKind::User, None, "department", None)
                .is_none()
        );
        assert!(
            r.resolve(ResourceKind::Group, None, "userName", None)
                .is_none()
        );
    }

    #[test]
    fn splits_urns_that_contain_dots() {
        let r = Registry::default();
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";
        let (schema, rest) = r.split_urn(ResourceKind::User, path).unwrap();
        assert_eq!(schema.id, ENTERPRISE_URN);
        assert_eq!(rest, "manager.value");
        let (schema, rest) = r
            .split_urn(
                ResourceKind::User,
                "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:userName",
            )
            .unwrap();
        assert_eq!((schema.id.as_str(), rest), (USER_URN, "userName"));
        let (_, rest) = r.split_urn(ResourceKind::User, ENTERPRISE_URN).unwrap();
        assert_eq!(rest, "");
        assert!(
            r.split_urn(ResourceKind::User, "urn:example:nope:attr")
                .is_none()
        );
        assert!(r.split_urn(ResourceKind::Group, path).is_none());
    }

    #[test]
    fn extension_attributes_resolve_within_their_urn() {
        let r = Registry::default();
        let got = r
            .resolve(
                ResourceKind::User,
                Some(ENTERPRISE_URN),
                "Manager",
                Some("VALUE"),
            )
            .unwrap();
        assert_eq!(
            got.extension_urn(ResourceKind::User, &r),
            Some(ENTERPRISE_URN)
        );
        assert_eq!(got.leaf().name, "value");
        let vendor = ExtensionConfig::default();
        let got = r
            .resolve(ResourceKind::User, Some(&vendor.urn), "grade", None)
            .unwrap();
        assert_eq!(got.attr.name, "grade");
    }
}
