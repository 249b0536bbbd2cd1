//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) applied with the
//! `returned` rules of RFC 7643 §7, so every read answers the same way.
//!
//! Decisions:
//! - Names match in any case, URN-qualified or not (a bare extension
//!   attribute name is looked up in the extensions); a schema URN alone names
//!   every attribute of that schema.
//! - A filter in a listed path (`emails[type eq "work"].value`) is ignored:
//!   the path counts as `emails.value`.
//! - Unknown attribute names are ignored (a client asking for an attribute
//!   this deployment lacks just does not get it); a malformed entry is
//!   `400 invalidValue`.
//! - When both parameters are given, `attributes` wins and
//!   `excludedAttributes` is ignored.
//! - `schemas` and `returned: always` attributes (`id`) are always present,
//!   `returned: never` ones (`password`) never; `schemas` lists only the
//!   extensions left in the response.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::path::{AttrPath, PathError, ValuePathText, split_value_path};
use super::resource::{KeyTarget, resolve_key};
use super::schema::{AttributeDef, Registry, ResourceKind, Returned};

/// A parsed `attributes` or `excludedAttributes` list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    mode: Mode,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    All,
    Include(Vec<Selector>),
    Exclude(Vec<Selector>),
}

/// One listed name: an attribute (`urn` set for extension ones), optionally a
/// sub-attribute, or with `name` unset a whole schema.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    urn: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

impl Selector {
    fn names(&self, urn: Option<&str>, attr: &str) -> bool {
        self.urn.as_deref() == urn && self.name.as_deref().is_none_or(|n| n == attr)
    }
}

impl Projection {
    /// Parses the query parameters (either may be absent).
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        kind: ResourceKind,
        registry: &Registry,
    ) -> Result<Projection, ScimError> {
        let mode = match (attributes, excluded) {
            (Some(list), _) => Mode::Include(parse_list(list, kind, registry)?),
            (None, Some(list)) => Mode::Exclude(parse_list(list, kind, registry)?),
            (None, None) => Mode::All,
        };
        Ok(Projection { mode })
    }

    /// Whether a response includes the core attribute `name` (returned by
    /// default, such as Group `members` and User `groups`), so the caller
    /// can skip reading the membership store (Entra reads groups with
    /// `excludedAttributes=members`).
    pub fn includes(&self, name: &str) -> bool {
        match &self.mode {
            Mode::All => true,
            Mode::Include(sels) => sels.iter().any(|s| s.names(None, name)),
            Mode::Exclude(sels) => !sels.iter().any(|s| s.names(None, name) && s.sub.is_none()),
        }
    }

    /// The response form of a stored `resource`.
    pub fn apply(&self, resource: &Value, kind: ResourceKind, registry: &Registry) -> Value {
        let Some(obj) = resource.as_object() else {
            return resource.clone();
        };
        let extensions = registry.extensions(kind);
        let mut out = Map::with_capacity(obj.len());
        for (key, value) in obj {
            if key == "schemas" {
                out.insert(key.clone(), value.clone());
            } else if let Some(ext) = extensions.iter().find(|s| s.id.eq_ignore_ascii_case(key)) {
                let Value::Object(inner) = value else {
                    continue;
                };
                let projected: Map<String, Value> = inner
                    .iter()
                    .filter_map(|(k, v)| {
                        let def = ext.attribute(k)?;
                        Some((k.clone(), self.project(Some(&ext.id), def, v)?))
                    })
                    .collect();
                if !projected.is_empty() {
                    out.insert(key.clone(), Value::Object(projected));
                }
            } else if let Some(r) = registry.resolve(kind, None, key, None)
                && let Some(v) = self.project(None, r.attr, value)
            {
                out.insert(key.clone(), v);
            }
        }
        if let Some(Value::Array(schemas)) = out.get("schemas") {
            let kept: Vec<Value> = schemas
                .iter()
                .filter(|u| {
                    let u = u.as_str().unwrap_or_default();
                    !extensions.iter().any(|e| e.id.eq_ignore_ascii_case(u)) || out.contains_key(u)
                })
                .cloned()
                .collect();
            out.insert("schemas".to_owned(), Value::Array(kept));
        }
        Value::Object(out)
    }

    fn project(&self, urn: Option<&str>, def: &AttributeDef, value: &Value) -> Option<Value> {
        let visible = |s: &AttributeDef| s.returned != Returned::Never;
        match def.returned {
            Returned::Never => return None,
            Returned::Always => return project_subs(def, value, visible),
            Returned::Default | Returned::Request => {}
        }
        let named: Vec<&Selector> = match &self.mode {
            Mode::All => {
                return (def.returned == Returned::Default)
                    .then(|| {
                        project_subs(def, value, |s| {
                            matches!(s.returned, Returned::Default | Returned::Always)
                        })
                    })
                    .flatten();
            }
            Mode::Include(sels) | Mode::Exclude(sels) => {
                sels.iter().filter(|s| s.names(urn, &def.name)).collect()
            }
        };
        let whole = named.iter().any(|s| s.sub.is_none());
        let subs: Vec<&str> = named.iter().filter_map(|s| s.sub.as_deref()).collect();
        match &self.mode {
            Mode::Include(_) if whole => project_subs(def, value, visible),
            Mode::Include(_) if !subs.is_empty() => project_subs(def, value, |s| {
                s.returned == Returned::Always || (visible(s) && subs.contains(&s.name.as_str()))
            }),
            Mode::Exclude(_) if !whole && def.returned == Returned::Default => {
                project_subs(def, value, |s| {
                    s.returned == Returned::Always
                        || (s.returned == Returned::Default && !subs.contains(&s.name.as_str()))
                })
            }
            _ => None,
        }
    }
}

/// Keeps the sub-attributes `keep` accepts (in every element of a
/// multi-valued attribute); empty results vanish.
fn project_subs(
    def: &AttributeDef,
    value: &Value,
    keep: impl Fn(&AttributeDef) -> bool,
) -> Option<Value> {
    if def.subs().is_empty() {
        return Some(value.clone());
    }
    let element = |v: &Value| -> Option<Value> {
        let Value::Object(obj) = v else { return None };
        let kept: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| def.sub(k).is_some_and(&keep))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(element).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        v => element(v),
    }
}

fn parse_list(
    list: &str,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<Vec<Selector>, ScimError> {
    let malformed = |e: PathError| ScimError::bad_request(ScimType::InvalidValue, e.to_string());
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let text = match split_value_path(item).map_err(malformed)? {
            Some(ValuePathText {
                attr,
                sub: Some(sub),
                ..
            }) => format!("{attr}.{sub}"),
            Some(ValuePathText {
                attr, sub: None, ..
            }) => attr.to_owned(),
            None => item.to_owned(),
        };
        match resolve_key(&text, kind, registry) {
            KeyTarget::Attr(r) => out.push(Selector {
                urn: r.extension_urn(kind, registry).map(str::to_owned),
                name: Some(r.attr.name.clone()),
                sub: r.sub.map(|s| s.name.clone()),
            }),
            KeyTarget::Schema(s) => out.push(Selector {
                urn: (s.id != registry.core_schema(kind).id).then(|| s.id.clone()),
                name: None,
                sub: None,
            }),
            KeyTarget::Schemas => {}
            KeyTarget::Unknown => {
                if let Err(e @ (PathError::Malformed(_) | PathError::Empty)) =
                    AttrPath::parse(&text, kind, registry)
                {
                    return Err(malformed(e));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{DEFAULT_EXTENSION_URN, ENTERPRISE_URN, GROUP_URN, USER_URN};
    use proptest::prelude::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_URN, ENTERPRISE_URN, DEFAULT_EXTENSION_URN],
            "id": "u1",
            "externalId": "e1",
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "version": "W/\"1\""},
            "userName": "jane",
            "name": {"familyName": "Doe", "givenName": "Jane"},
            "active": true,
            "password": "never-stored-but-never-returned",
            "emails": [
                {"value": "jane@work", "type": "work", "primary": true},
                {"value": "jane@home", "type": "home"}
            ],
            ENTERPRISE_URN: {"department": "Sec", "manager": {"value": "m1"}},
            DEFAULT_EXTENSION_URN: {"gender": "f"}
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let registry = Registry::default();
        Projection::parse(attributes, excluded, ResourceKind::User, &registry)
            .unwrap()
            .apply(&user(), ResourceKind::User, &registry)
    }

    #[test]
    fn table() {
        let mut all = user();
        all.as_object_mut().unwrap().remove("password");
        let manager = format!("{ENTERPRISE_URN}:manager,meta.version,password");
        let whole = format!("department,{DEFAULT_EXTENSION_URN},nosuchattr");
        let excluded =
            format!("emails.type,emails.primary,name,meta,id,schemas,{ENTERPRISE_URN},gender");
        let cases: Vec<(Option<&str>, Option<&str>, Value)> = vec![
            (None, None, all),
            (
                Some("userName"),
                None,
                json!({"schemas": [USER_URN], "id": "u1", "userName": "jane"}),
            ),
            (
                Some("USERNAME, name.givenName,emails[type eq \"work\"].value"),
                None,
                json!({
                    "schemas": [USER_URN], "id": "u1", "userName": "jane", "name": {"givenName": "Jane"},
                    "emails": [{"value": "jane@work"}, {"value": "jane@home"}]
                }),
            ),
            (
                Some(&manager),
                None,
                json!({
                    "schemas": [USER_URN, ENTERPRISE_URN], "id": "u1", "meta": {"version": "W/\"1\""},
                    ENTERPRISE_URN: {"manager": {"value": "m1"}}
                }),
            ),
            (
                Some(&whole),
                None,
                json!({
                    "schemas": [USER_URN, ENTERPRISE_URN, DEFAULT_EXTENSION_URN], "id": "u1",
                    ENTERPRISE_URN: {"department": "Sec"}, DEFAULT_EXTENSION_URN: {"gender": "f"}
                }),
            ),
            (
                None,
                Some(&excluded),
                json!({
                    "schemas": [USER_URN], "id": "u1", "externalId": "e1", "userName": "jane", "active": true,
                    "emails": [{"value": "jane@work"}, {"value": "jane@home"}]
                }),
            ),
            // `attributes` wins over `excludedAttributes`.
            (
                Some("userName"),
                Some("userName"),
                json!({"schemas": [USER_URN], "id": "u1", "userName": "jane"}),
            ),
        ];
        for (attributes, excluded, want) in cases {
            assert_eq!(
                project(attributes, excluded),
                want,
                "{attributes:?} {excluded:?}"
            );
        }
    }

    #[test]
    fn malformed_lists_are_rejected() {
        let registry = Registry::default();
        for list in ["user name", "emails[type eq \"work\"", "name."] {
            let err =
                Projection::parse(Some(list), None, ResourceKind::User, &registry).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{list}");
        }
    }

    #[test]
    fn members_query() {
        let registry = Registry::default();
        let p = |a: Option<&str>, e: Option<&str>| {
            Projection::parse(a, e, ResourceKind::Group, &registry)
                .unwrap()
                .includes("members")
        };
        assert!(p(None, None));
        assert!(!p(None, Some("members")));
        assert!(!p(None, Some("Members,displayName")));
        assert!(p(None, Some("members.display")));
        assert!(p(Some("members.value"), None));
        assert!(!p(Some("displayName"), None));
        assert!(p(Some(GROUP_URN), None));
        let group = json!({
            "schemas": [GROUP_URN], "id": "g1", "displayName": "G",
            "members": [{"value": "a", "display": "A", "type": "User"}]
        });
        let got = Projection::parse(
            None,
            Some("members.display"),
            ResourceKind::Group,
            &registry,
        )
        .unwrap()
        .apply(&group, ResourceKind::Group, &registry);
        assert_eq!(got["members"], json!([{"value": "a", "type": "User"}]));
    }

    proptest! {
        #[test]
        fn never_panics(
            attributes in prop::option::of("[a-zA-Z.:,\\[\\]\" ]{0,40}"),
            excluded in prop::option::of(prop::collection::vec(
                prop::sample::select(vec!["emails.value", "name", "meta.created", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "id", "x[", "manager"]), 0..4,
            ).prop_map(|v| v.join(","))),
        ) {
            let registry = Registry::default();
            if let Ok(p) = Projection::parse(attributes.as_deref(), excluded.as_deref(), ResourceKind::User, &registry) {
                let got = p.apply(&user(), ResourceKind::User, &registry);
                prop_assert_eq!(&got["id"], "u1");
                prop_assert!(got.get("password").is_none());
            }
        }
    }
}
