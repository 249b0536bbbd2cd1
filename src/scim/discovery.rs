//! Discovery documents (RFC 7643 §5–7, RFC 7644 §4): what this deployment
//! supports, rendered from the same registry the rest of the code uses.

use serde_json::{Value, json};

use super::schema::{Registry, ResourceKind, Schema};

pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// What the service really supports; `/ServiceProviderConfig` says exactly
/// this, so a feature is switched on here when it lands, not before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub patch: bool,
    /// `/Bulk`, within `scim::bulk`'s limits.
    pub bulk: bool,
    pub filter: bool,
    pub max_results: u64,
    pub etag: bool,
    pub sort: bool,
    pub change_password: bool,
    pub index_paging: bool,
    pub cursor_paging: bool,
    pub default_page_size: u64,
    pub max_page_size: u64,
    pub documentation_uri: Option<String>,
}

impl Capabilities {
    /// What this build serves. Sorting is bounded (`scim::sort`): lists
    /// come in the stable id order of the store's index, and a `sortBy`
    /// orders at most `MAX_SORTED` matches in memory.
    pub fn current() -> Self {
        Capabilities {
            patch: true,
            bulk: true,
            filter: true,
            max_results: 1000,
            etag: true,
            sort: true,
            change_password: false,
            index_paging: true,
            cursor_paging: true,
            default_page_size: 100,
            max_page_size: 1000,
            documentation_uri: None,
        }
    }
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

/// `GET /ServiceProviderConfig`; `base` is the Tenant URL.
pub fn service_provider_config(caps: &Capabilities, base: &str) -> Value {
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": { "supported": caps.patch },
        "bulk": {
            "supported": caps.bulk,
            "maxOperations": if caps.bulk { super::bulk::MAX_OPERATIONS } else { 0 },
            "maxPayloadSize": if caps.bulk { super::bulk::MAX_PAYLOAD_BYTES } else { 0 },
        },
        "filter": { "supported": caps.filter, "maxResults": caps.max_results },
        "changePassword": { "supported": caps.change_password },
        "sort": { "supported": caps.sort },
        "etag": { "supported": caps.etag },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a long-lived bearer token issued per tenant by the operator.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": meta("ServiceProviderConfig", format!("{base}/ServiceProviderConfig")),
    });
    if caps.index_paging || caps.cursor_paging {
        doc["pagination"] = json!({
            "cursor": caps.cursor_paging,
            "index": caps.index_paging,
            "defaultPaginationMethod": if caps.index_paging { "index" } else { "cursor" },
            "defaultPageSize": caps.default_page_size,
            "maxPageSize": caps.max_page_size,
        });
    }
    if let Some(uri) = &caps.documentation_uri {
        doc["documentationUri"] = json!(uri);
    }
    doc
}

/// Resource types in the order `/ResourceTypes` lists them.
pub const RESOURCE_KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

/// One `ResourceType` document.
pub fn resource_type(registry: &Registry, kind: ResourceKind, base: &str) -> Value {
    let core = registry.core_schema(kind);
    let mut doc = json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": core.description,
        "schema": core.id,
    });
    let extensions: Vec<Value> = registry
        .extensions(kind)
        .iter()
        .map(|s| json!({ "schema": s.id, "required": false }))
        .collect();
    if !extensions.is_empty() {
        doc["schemaExtensions"] = Value::Array(extensions);
    }
    doc["meta"] = meta(
        "ResourceType",
        format!("{base}/ResourceTypes/{}", kind.name()),
    );
    doc
}

/// Finds a resource type by its id, case-insensitively.
pub fn resource_kind(id: &str) -> Option<ResourceKind> {
    RESOURCE_KINDS
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(id))
}

/// One `Schema` document.
pub fn schema(schema: &Schema, base: &str) -> Value {
    let mut doc = json!({ "schemas": [SCHEMA_URN] });
    let body = serde_json::to_value(schema).unwrap_or_default();
    if let (Some(doc), Value::Object(body)) = (doc.as_object_mut(), body) {
        doc.extend(body);
    }
    doc["meta"] = meta("Schema", format!("{base}/Schemas/{}", schema.id));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_URN, GROUP_URN, USER_URN};

    const BASE: &str = "https://scim.example.com/scim/v2/acme";

    fn walk_attributes(attrs: &Value, f: &mut dyn FnMut(&Value)) {
        for a in attrs.as_array().unwrap() {
            f(a);
            if let Some(subs) = a.get("subAttributes") {
                walk_attributes(subs, f);
            }
        }
    }

    #[test]
    fn every_attribute_carries_the_rfc_characteristics_and_no_nulls() {
        let registry = Registry::default();
        for s in registry.schemas() {
            let doc = schema(s, BASE);
            assert_eq!(doc["schemas"], json!([SCHEMA_URN]));
            assert_eq!(doc["meta"]["location"], format!("{BASE}/Schemas/{}", s.id));
            let mut count = 0;
            walk_attributes(&doc["attributes"], &mut |a| {
                count += 1;
                for key in [
                    "name",
                    "type",
                    "multiValued",
                    "description",
                    "required",
                    "caseExact",
                    "mutability",
                    "returned",
                    "uniqueness",
                ] {
                    assert!(a.get(key).is_some(), "{} lacks {key}", a["name"]);
                }
                assert_eq!(a["type"] == "complex", a.get("subAttributes").is_some());
                for v in a.as_object().unwrap().values() {
                    assert!(!v.is_null());
                }
            });
            assert!(count > 0);
        }
    }

    #[test]
    fn user_schema_has_rfc_values_in_camel_case() {
        let registry = Registry::default();
        let doc = schema(registry.schema(USER_URN).unwrap(), BASE);
        let attrs = doc["attributes"].as_array().unwrap();
        let find = |n: &str| attrs.iter().find(|a| a["name"] == n).unwrap().clone();
        let user_name = find("userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["mutability"], "readWrite");
        let password = find("password");
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
        let emails = find("emails");
        assert_eq!(emails["multiValued"], true);
        let ty = emails["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "type")
            .unwrap();
        assert_eq!(ty["canonicalValues"], json!(["work", "home", "other"]));
        assert_eq!(find("groups")["mutability"], "readOnly");
        assert_eq!(find("profileUrl")["referenceTypes"], json!(["external"]));
    }

    #[test]
    fn resource_types_name_their_schemas_and_extensions() {
        let registry = Registry::default();
        let user = resource_type(&registry, ResourceKind::User, BASE);
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_URN);
        assert_eq!(user["schemaExtensions"][0]["schema"], ENTERPRISE_URN);
        assert_eq!(user["schemaExtensions"][0]["required"], false);
        assert_eq!(
            user["meta"]["location"],
            format!("{BASE}/ResourceTypes/User")
        );
        let group = resource_type(&registry, ResourceKind::Group, BASE);
        assert_eq!(group["schema"], GROUP_URN);
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(resource_kind("user"), Some(ResourceKind::User));
        assert_eq!(resource_kind("Nope"), None);
    }

    #[test]
    fn service_provider_config_says_what_is_supported() {
        let mut caps = Capabilities::current();
        let doc = service_provider_config(&caps, BASE);
        assert_eq!(doc["bulk"]["supported"], true);
        assert_eq!(
            doc["bulk"]["maxOperations"],
            super::super::bulk::MAX_OPERATIONS
        );
        assert_eq!(doc["patch"]["supported"], caps.patch);
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            doc["meta"]["location"],
            format!("{BASE}/ServiceProviderConfig")
        );
        assert_eq!(
            doc["pagination"],
            json!({"cursor": true, "index": true, "defaultPaginationMethod": "index",
                   "defaultPageSize": 100, "maxPageSize": 1000})
        );
        assert_eq!(
            doc["filter"],
            json!({"supported": true, "maxResults": 1000})
        );
        assert_eq!(doc["etag"]["supported"], true);
        assert_eq!(doc["sort"]["supported"], true);
        caps.index_paging = false;
        let doc = service_provider_config(&caps, BASE);
        assert_eq!(doc["pagination"]["defaultPaginationMethod"], "cursor");
        caps.cursor_paging = false;
        let doc = service_provider_config(&caps, BASE);
        assert!(doc.get("pagination").is_none());
    }
}
