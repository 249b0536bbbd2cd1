//! Validation and normalisation of resources written by clients (POST, PUT,
//! and every value a PATCH writes): the one place where the schema decides
//! what is stored, so every identity-provider dialect is reduced to one clean
//! stored shape.
//!
//! Stored shape: `schemas` (core URN, then each extension present), `id`,
//! `externalId`, `meta`, core attributes in schema order, then one object per
//! extension keyed by its URN. Names are canonical; values are kept as sent
//! apart from type coercion (string booleans, numeric strings, wrapped
//! singletons).

use std::collections::HashSet;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::limits::{LimitError, check_values};
use super::path::has_urn_prefix;
use super::schema::{AttrType, AttributeDef, Mutability, Registry, Resolved, ResourceKind, Schema};
use super::value_set::dedup;

/// Why a written resource or value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("the request body must be a JSON object")]
    NotAnObject,
    #[error("unknown attribute '{0}'")]
    UnknownAttribute(String),
    #[error("attribute '{attr}': {reason}")]
    InvalidValue { attr: String, reason: String },
    #[error("required attribute '{0}' is missing")]
    Required(String),
    #[error("attribute '{attr}' has more than one value of type '{ty}'")]
    DuplicateType { attr: String, ty: String },
    #[error("attribute '{0}' has more than one primary value")]
    MultiplePrimary(String),
    #[error("attribute '{0}' is immutable and cannot be changed")]
    Immutable(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl ResourceError {
    fn invalid(attr: &str, reason: impl Into<String>) -> Self {
        ResourceError::InvalidValue {
            attr: attr.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What a top-level key of a written resource (or of a path-less PATCH
/// value) designates.
pub(crate) enum KeyTarget<'r> {
    /// `schemas`: recomputed, never taken from the client.
    Schemas,
    /// A schema URN on its own: an object of that schema's attributes.
    Schema(&'r Schema),
    /// An attribute, possibly `attr.sub`, possibly URN-qualified.
    Attr(Resolved<'r>),
    /// Nothing this deployment knows.
    Unknown,
}

/// Resolves a key: `attr`, `attr.sub`, `urn:...:attr[.sub]` or a schema URN.
/// A bare name that is not a core or common attribute is looked up in the
/// extensions, in registry order (Entra sends `manager` unqualified).
pub(crate) fn resolve_key<'r>(
    key: &str,
    kind: ResourceKind,
    registry: &'r Registry,
) -> KeyTarget<'r> {
    if key.eq_ignore_ascii_case("schemas") {
        return KeyTarget::Schemas;
    }
    if has_urn_prefix(key) {
        return match registry.split_urn(kind, key) {
            Some((schema, "")) => KeyTarget::Schema(schema),
            Some((schema, rest)) => resolve_name(rest, Some(&schema.id), kind, registry),
            None => KeyTarget::Unknown,
        };
    }
    match resolve_name(key, None, kind, registry) {
        KeyTarget::Unknown => registry
            .extensions(kind)
            .into_iter()
            .map(|s| resolve_name(key, Some(&s.id), kind, registry))
            .find(|t| matches!(t, KeyTarget::Attr(_)))
            .unwrap_or(KeyTarget::Unknown),
        found => found,
    }
}

/// Resolves `name[.sub]` within `urn` (or the core and common attributes).
pub(crate) fn resolve_name<'r>(
    text: &str,
    urn: Option<&str>,
    kind: ResourceKind,
    registry: &'r Registry,
) -> KeyTarget<'r> {
    let (name, sub) = match text.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (text, None),
    };
    match registry.resolve(kind, urn, name, sub) {
        Some(r) => KeyTarget::Attr(r),
        None => KeyTarget::Unknown,
    }
}

/// Whether client-sent values for `def` are ignored: readOnly attributes
/// (RFC 7643 §7: "any values provided SHALL be ignored") and writeOnly ones,
/// which this service never stores (`password`).
pub(crate) fn ignored_on_input(def: &AttributeDef) -> bool {
    matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly)
}

/// The current time as SCIM writes it (`meta.created`, `meta.lastModified`).
pub fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Validates and normalises a resource sent with POST or PUT. Returns the
/// document to store, without `id` and `meta` (the caller adds them). For
/// Groups the validated `members` stay in the result: see [`take_members`].
///
/// Unknown attributes are rejected (`invalidValue`) except: `schemas`, `id`,
/// `meta`, readOnly attributes such as `groups` and writeOnly ones such as
/// `password` (all dropped), and keys that are unknown schema URNs listed in
/// the request's own `schemas` (an extension the client declares but this
/// deployment does not serve is dropped; undeclared ones are rejected so a
/// mis-configured custom extension shows up as an error instead of data
/// silently lost). Known extension URNs are accepted whether or not `schemas`
/// lists them, and `schemas` itself is never validated (Entra sends a
/// malformed URN there, and a non-RFC one on Groups).
pub fn normalize(
    input: &Value,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<Value, ResourceError> {
    let obj = input.as_object().ok_or(ResourceError::NotAnObject)?;
    let declared: Vec<&str> = obj
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .filter_map(|(_, v)| v.as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Map::new();
    for (key, value) in obj {
        fold_key(&mut out, key, value, &declared, kind, registry)?;
    }
    let out = finish(out, kind, registry);
    check_required(&out, kind, registry)?;
    Ok(Value::Object(out))
}

fn fold_key(
    out: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    declared: &[&str],
    kind: ResourceKind,
    registry: &Registry,
) -> Result<(), ResourceError> {
    match resolve_key(key, kind, registry) {
        KeyTarget::Schemas => Ok(()),
        KeyTarget::Attr(resolved) => assign(out, resolved, value.clone(), kind, registry),
        KeyTarget::Schema(schema) => match value {
            Value::Null => Ok(()),
            Value::Object(inner) => inner
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
                .try_for_each(
                    |(k, v)| match resolve_name(k, Some(&schema.id), kind, registry) {
                        KeyTarget::Attr(r) => assign(out, r, v.clone(), kind, registry),
                        _ => Err(ResourceError::UnknownAttribute(format!(
                            "{}:{k}",
                            schema.id
                        ))),
                    },
                ),
            _ => Err(ResourceError::invalid(
                &schema.id,
                "an extension must be an object",
            )),
        },
        KeyTarget::Unknown if declared.iter().any(|d| d.eq_ignore_ascii_case(key)) => Ok(()),
        KeyTarget::Unknown => Err(ResourceError::UnknownAttribute(key.to_owned())),
    }
}

/// Writes one client value for a resolved attribute (or sub-attribute) into
/// the document being built; `null` removes it.
fn assign(
    out: &mut Map<String, Value>,
    resolved: Resolved<'_>,
    value: Value,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<(), ResourceError> {
    if ignored_on_input(resolved.attr) || ignored_on_input(resolved.leaf()) {
        return Ok(());
    }
    let attr = resolved.attr;
    with_container(out, resolved.extension_urn(kind, registry), |container| {
        let new = match resolved.sub {
            None => coerce_value(attr, value)?,
            Some(sub) => {
                if attr.multi_valued {
                    return Err(ResourceError::invalid(
                        &attr.name,
                        format!("'{}.{}' needs an array of values", attr.name, sub.name),
                    ));
                }
                let mut obj = match container.remove(&attr.name) {
                    Some(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                match coerce_value(sub, value)? {
                    Some(v) => obj.insert(sub.name.clone(), v),
                    None => obj.remove(&sub.name),
                };
                coerce_value(attr, Value::Object(obj))?
            }
        };
        match new {
            Some(v) => container.insert(attr.name.clone(), v),
            None => container.remove(&attr.name),
        };
        Ok(())
    })
}

/// Runs `f` on the object holding an attribute: the document itself, or the
/// extension object keyed by `urn` (created when missing or not an object).
pub(crate) fn with_container<T>(
    doc: &mut Map<String, Value>,
    urn: Option<&str>,
    f: impl FnOnce(&mut Map<String, Value>) -> T,
) -> T {
    let Some(urn) = urn else { return f(doc) };
    let mut inner = match doc.remove(urn) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let result = f(&mut inner);
    doc.insert(urn.to_owned(), Value::Object(inner));
    result
}

/// Coerces a client value for `def` to its stored form: `Ok(None)` means "no
/// value" (`null`, an empty array, an empty object, a reference with an empty
/// `value`). Shared by POST/PUT and PATCH.
///
/// - booleans: JSON booleans or the strings `true`/`false` in any case;
/// - integers and decimals: numbers or numeric strings (IdP mapping
///   expressions produce strings), stored as numbers;
/// - dateTime: RFC 3339 strings, stored as sent;
/// - string, reference, binary: strings, stored as sent;
/// - complex: objects; a bare scalar or a one-element array is accepted for a
///   complex attribute with a `value` sub-attribute (Entra's `manager`);
///   readOnly and writeOnly sub-attributes are dropped, unknown ones rejected;
///   a singular reference (`value` + `$ref`, i.e. `manager`) keeps `value` only
///   (the HTTP layer rebuilds `$ref`);
/// - multi-valued: arrays, a single value is wrapped; identical elements and
///   elements carrying only `type`/`primary` are dropped; `type` labels must be
///   unique where the schema suggests canonical labels, and at most one
///   element may be `primary`.
pub fn coerce_value(def: &AttributeDef, value: Value) -> Result<Option<Value>, ResourceError> {
    if def.multi_valued {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            single => vec![single],
        };
        check_values(def, items.len())?;
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(def, item)? {
                out.push(v);
            }
        }
        let out = dedup(out);
        if out.is_empty() {
            return Ok(None);
        }
        check_multi(def, &out)?;
        return Ok(Some(Value::Array(out)));
    }
    match value {
        Value::Array(mut items) => match items.len() {
            0 => Ok(None),
            1 => coerce_single(def, items.remove(0)),
            _ => Err(ResourceError::invalid(
                &def.name,
                "expected a single value, got an array",
            )),
        },
        v => coerce_single(def, v),
    }
}

fn coerce_single(def: &AttributeDef, value: Value) -> Result<Option<Value>, ResourceError> {
    let wrong = |expected: &str| ResourceError::invalid(&def.name, format!("expected {expected}"));
    let v = match (def.ty, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Complex, v) => return coerce_complex(def, v),
        (AttrType::String | AttrType::Reference | AttrType::Binary, v @ Value::String(_)) => v,
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => {
            return Err(wrong("a string"));
        }
        (AttrType::Boolean, v @ Value::Bool(_)) => v,
        (AttrType::Boolean, Value::String(s)) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            t if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("a boolean")),
        },
        (AttrType::Boolean, _) => return Err(wrong("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
        (AttrType::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => return Err(wrong("an integer")),
        },
        (AttrType::Integer, _) => return Err(wrong("an integer")),
        (AttrType::Decimal, v @ Value::Number(_)) => v,
        (AttrType::Decimal, Value::String(s)) => match s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            Some(n) => Value::Number(n),
            None => return Err(wrong("a decimal number")),
        },
        (AttrType::Decimal, _) => return Err(wrong("a decimal number")),
        (AttrType::DateTime, Value::String(s)) => {
            if OffsetDateTime::parse(&s, &Rfc3339).is_err() {
                return Err(wrong("an RFC 3339 date-time"));
            }
            Value::String(s)
        }
        (AttrType::DateTime, _) => return Err(wrong("an RFC 3339 date-time")),
    };
    Ok(Some(v))
}

/// A singular complex attribute that points at another resource
/// (`value` + `$ref`): `manager`.
fn is_reference(def: &AttributeDef) -> bool {
    !def.multi_valued && def.sub("value").is_some() && def.sub("$ref").is_some()
}

fn coerce_complex(def: &AttributeDef, value: Value) -> Result<Option<Value>, ResourceError> {
    let obj = match value {
        Value::Object(o) => o,
        Value::Array(_) => return Err(ResourceError::invalid(&def.name, "expected an object")),
        scalar if def.sub("value").is_some() => Map::from_iter([("value".to_owned(), scalar)]),
        _ => return Err(ResourceError::invalid(&def.name, "expected an object")),
    };
    let mut subs: Vec<(usize, String, Value)> = Vec::with_capacity(obj.len());
    for (key, v) in obj {
        let (index, sub) = def
            .subs()
            .iter()
            .enumerate()
            .find(|(_, s)| s.name.eq_ignore_ascii_case(&key))
            .ok_or_else(|| ResourceError::UnknownAttribute(format!("{}.{key}", def.name)))?;
        if ignored_on_input(sub) {
            continue;
        }
        subs.retain(|(i, _, _)| *i != index);
        if let Some(v) = coerce_value(sub, v).map_err(|e| prefix(e, &def.name))? {
            subs.push((index, sub.name.clone(), v));
        }
    }
    subs.sort_by_key(|(i, _, _)| *i);
    let mut out: Map<String, Value> = subs.into_iter().map(|(_, k, v)| (k, v)).collect();
    if is_reference(def) {
        return Ok(match out.remove("value") {
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(Value::Object(Map::from_iter([("value".to_owned(), v)]))),
            None => None,
        });
    }
    let label_only = def.multi_valued && out.keys().all(|k| k == "type" || k == "primary");
    Ok((!out.is_empty() && !label_only).then_some(Value::Object(out)))
}

/// Qualifies a sub-attribute error with its parent's name.
fn prefix(e: ResourceError, parent: &str) -> ResourceError {
    match e {
        ResourceError::InvalidValue { attr, reason } => ResourceError::InvalidValue {
            attr: format!("{parent}.{attr}"),
            reason,
        },
        other => other,
    }
}

/// Unique `type` labels (where the schema suggests canonical labels and the
/// label is client-writable: emails, phoneNumbers, addresses, ims, photos —
/// the attributes IdPs address with `[type eq "..."]`) and at most one
/// `primary` (RFC 7643 §2.4).
fn check_multi(def: &AttributeDef, items: &[Value]) -> Result<(), ResourceError> {
    let labelled = def
        .sub("type")
        .is_some_and(|t| !t.canonical_values.is_empty() && t.mutability == Mutability::ReadWrite);
    if labelled {
        let mut seen: HashSet<String> = HashSet::with_capacity(items.len());
        for ty in items.iter().filter_map(|i| i.get("type")?.as_str()) {
            let ty = ty.to_lowercase();
            if seen.contains(&ty) {
                return Err(ResourceError::DuplicateType {
                    attr: def.name.clone(),
                    ty,
                });
            }
            seen.insert(ty);
        }
    }
    let primaries = items
        .iter()
        .filter(|i| i.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ResourceError::MultiplePrimary(def.name.clone()));
    }
    Ok(())
}

/// Puts a document in stored form: `schemas` recomputed (core URN, then each
/// extension with at least one attribute), common attributes, core attributes
/// in schema order, extensions in registry order; empty extension objects
/// dropped. Keys the schema does not know are kept at the end.
pub(crate) fn finish(
    doc: Map<String, Value>,
    kind: ResourceKind,
    registry: &Registry,
) -> Map<String, Value> {
    let core = registry.core_schema(kind);
    let extensions = registry.extensions(kind);
    let top = || registry.common().iter().chain(&core.attributes);
    let known = top().count();
    let mut entries: Vec<(usize, String, Value)> = Vec::with_capacity(doc.len());
    for (key, value) in doc {
        if key == "schemas" {
            continue;
        }
        if let Some(rank) = top().position(|a| a.name == key) {
            entries.push((rank, key, value));
        } else if let Some(rank) = extensions.iter().position(|e| e.id == key) {
            if let Value::Object(inner) = value
                && !inner.is_empty()
            {
                let ordered = in_order(inner, &extensions[rank].attributes);
                entries.push((known + rank, key, Value::Object(ordered)));
            }
        } else {
            entries.push((usize::MAX, key, value));
        }
    }
    entries.sort_by_key(|(rank, _, _)| *rank);
    let schemas = std::iter::once(core.id.clone())
        .chain(
            entries
                .iter()
                .filter(|(r, _, _)| (known..usize::MAX).contains(r))
                .map(|(_, k, _)| k.clone()),
        )
        .map(Value::String)
        .collect();
    let mut out = Map::with_capacity(entries.len() + 1);
    out.insert("schemas".to_owned(), Value::Array(schemas));
    out.extend(entries.into_iter().map(|(_, k, v)| (k, v)));
    out
}

/// `obj` with the attributes of `attrs` first, in schema order.
fn in_order(obj: Map<String, Value>, attrs: &[AttributeDef]) -> Map<String, Value> {
    let mut entries: Vec<(usize, String, Value)> = obj
        .into_iter()
        .map(|(k, v)| {
            (
                attrs.iter().position(|a| a.name == k).unwrap_or(usize::MAX),
                k,
                v,
            )
        })
        .collect();
    entries.sort_by_key(|(rank, _, _)| *rank);
    entries.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// Required core attributes (`userName`, Group `displayName`) must be
/// present and not blank.
pub(crate) fn check_required(
    doc: &Map<String, Value>,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<(), ResourceError> {
    match registry.core_schema(kind).attributes.iter().find(|a| {
        a.required
            && doc
                .get(&a.name)
                .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
    }) {
        Some(a) => Err(ResourceError::Required(a.name.clone())),
        None => Ok(()),
    }
}

/// Rejects a replace or PATCH that changes an immutable attribute (or an
/// immutable sub-attribute of a singular complex one) that already had a
/// value (RFC 7643 §7). Elements of multi-valued attributes have no identity
/// but their value, so changing one is a remove plus an add and is allowed.
pub fn check_immutable(
    before: &Value,
    after: &Value,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<(), ResourceError> {
    let core = registry.core_schema(kind);
    let scopes = std::iter::once((None, registry.common()))
        .chain(std::iter::once((None, core.attributes.as_slice())))
        .chain(
            registry
                .extensions(kind)
                .into_iter()
                .map(|s| (Some(s.id.as_str()), s.attributes.as_slice())),
        );
    for (urn, attrs) in scopes {
        let (b, a) = match urn {
            Some(u) => (before.get(u), after.get(u)),
            None => (Some(before), Some(after)),
        };
        for attr in attrs.iter().filter(|a| !a.multi_valued) {
            let (old, new) = (
                b.and_then(|b| b.get(&attr.name)),
                a.and_then(|a| a.get(&attr.name)),
            );
            if attr.mutability == Mutability::Immutable && old.is_some() && old != new {
                return Err(ResourceError::Immutable(attr.name.clone()));
            }
            for sub in attr
                .subs()
                .iter()
                .filter(|s| s.mutability == Mutability::Immutable)
            {
                let old_sub = old.and_then(|o| o.get(&sub.name));
                if old_sub.is_some() && old_sub != new.and_then(|n| n.get(&sub.name)) {
                    return Err(ResourceError::Immutable(format!(
                        "{}.{}",
                        attr.name, sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Removes a normalised Group's `members` and returns their ids: members are
/// stored as membership edges, never inside the group document.
pub fn take_members(doc: &mut Value) -> Vec<String> {
    let Some(Value::Array(members)) = doc.as_object_mut().and_then(|d| d.remove("members")) else {
        return Vec::new();
    };
    members
        .iter()
        .filter_map(|m| m.get("value")?.as_str().map(str::to_owned))
        .collect()
}

/// Whether a Group body as sent names `members` at all (`[]` and `null`
/// included, which normalising drops): a group `PUT` without them may mean
/// two things (see `GroupPutWithoutMembers`).
pub fn names_members(body: &Value) -> bool {
    body.as_object().is_some_and(|o| {
        o.keys().any(|k| {
            k.eq_ignore_ascii_case("members")
                || k.to_ascii_lowercase()
                    .strip_suffix(":members")
                    .is_some_and(|urn| urn.eq_ignore_ascii_case(crate::scim::schema::GROUP_URN))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::{ScimError, ScimType};
    use crate::scim::limits::{MAX_MEMBERS_PER_REQUEST, MAX_VALUES};
    use crate::scim::schema::{DEFAULT_EXTENSION_URN, ENTERPRISE_URN, GROUP_URN, USER_URN};
    use serde_json::json;

    fn user(input: Value) -> Result<Value, ResourceError> {
        normalize(&input, ResourceKind::User, &Registry::default())
    }

    fn group(input: Value) -> Result<Value, ResourceError> {
        normalize(&input, ResourceKind::Group, &Registry::default())
    }

    #[test]
    fn entra_create_is_cleaned() {
        let got = user(json!({
            "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:", ENTERPRISE_URN],
            "externalId": "0a21f0f2",
            "UserName": "Test_User@contoso.com",
            "active": "True",
            "displayName": "Test User",
            "title": null,
            "emails": [{"Primary": true, "type": "work", "value": "Test_User@contoso.com"}],
            "meta": {"resourceType": "User"},
            "roles": [],
            "name": {"Formatted": "Test User", "familyName": "User", "givenName": "Test", "middleName": null},
            ENTERPRISE_URN: {"employeeNumber": "123", "Department": "Eng", "manager": {"value": "m1", "displayName": "Boss"}}
        }))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "schemas": [USER_URN, ENTERPRISE_URN],
                "externalId": "0a21f0f2",
                "userName": "Test_User@contoso.com",
                "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
                "displayName": "Test User",
                "active": true,
                "emails": [{"value": "Test_User@contoso.com", "type": "work", "primary": true}],
                ENTERPRISE_URN: {"employeeNumber": "123", "department": "Eng", "manager": {"value": "m1"}}
            })
        );
        // Canonical order: schemas first, then common, core, extensions.
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        assert_eq!(keys[..3], ["schemas", "externalId", "userName"]);
    }

    #[test]
    fn okta_create_drops_password_and_groups() {
        let got = user(json!({
            "schemas": [USER_URN],
            "userName": "isaac@example.com",
            "name": {"givenName": "Isaac", "familyName": "Brock"},
            "emails": [{"primary": true, "value": "isaac@example.com", "type": "work"}],
            "displayName": "Isaac Brock",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        }))
        .unwrap();
        assert_eq!(got.get("password"), None);
        assert_eq!(got.get("groups"), None);
        assert_eq!(got["locale"], "en-US");
        assert_eq!(got["active"], true);
    }

    #[test]
    fn okta_put_ignores_id_and_meta() {
        let got = user(json!({
            "schemas": [USER_URN],
            "id": "abc",
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
            "userName": "u@x",
            "active": false
        }))
        .unwrap();
        assert_eq!(
            got,
            json!({"schemas": [USER_URN], "userName": "u@x", "active": false})
        );
    }

    #[test]
    fn manager_forms() {
        let cases = [
            (json!({"value": "m1"}), Some(json!({"value": "m1"}))),
            (
                json!("boss@example.com"),
                Some(json!({"value": "boss@example.com"})),
            ),
            (
                json!([{"$ref": "https://x/Users/m1", "value": "m1"}]),
                Some(json!({"value": "m1"})),
            ),
            (
                json!({"value": "m1", "displayName": "Boss"}),
                Some(json!({"value": "m1"})),
            ),
            (json!(""), None),
            (json!({"value": ""}), None),
            (json!(null), None),
            (json!([]), None),
        ];
        for (manager, want) in cases {
            let got = user(json!({"userName": "u", ENTERPRISE_URN: {"manager": manager.clone()}}))
                .unwrap();
            assert_eq!(
                got.get(ENTERPRISE_URN).and_then(|e| e.get("manager")),
                want.as_ref(),
                "{manager}"
            );
            if want.is_none() {
                assert_eq!(got["schemas"], json!([USER_URN]), "{manager}");
            }
        }
    }

    #[test]
    fn string_booleans_and_numbers() {
        let def = AttributeDef::boolean("active", "");
        for (input, want) in [
            (json!("True"), json!(true)),
            (json!("false"), json!(false)),
            (json!(" FALSE "), json!(false)),
            (json!(true), json!(true)),
        ] {
            assert_eq!(coerce_value(&def, input).unwrap(), Some(want));
        }
        assert!(coerce_value(&def, json!("yes")).is_err());
        assert!(coerce_value(&def, json!(1)).is_err());
        let int = AttributeDef::new("n", AttrType::Integer, "");
        assert_eq!(coerce_value(&int, json!("42")).unwrap(), Some(json!(42)));
        assert!(coerce_value(&int, json!(1.5)).is_err());
        let dec = AttributeDef::new("d", AttrType::Decimal, "");
        assert_eq!(coerce_value(&dec, json!("1.5")).unwrap(), Some(json!(1.5)));
        assert!(coerce_value(&dec, json!("NaN")).is_err());
        let dt = AttributeDef::new("t", AttrType::DateTime, "");
        assert_eq!(
            coerce_value(&dt, json!("2024-02-29T10:00:00+01:00")).unwrap(),
            Some(json!("2024-02-29T10:00:00+01:00"))
        );
        assert!(coerce_value(&dt, json!("yesterday")).is_err());
    }

    #[test]
    fn rejections() {
        let cases = [
            (json!([1]), ResourceError::NotAnObject),
            (
                json!({"userName": "u", "favouriteColour": "red"}),
                ResourceError::UnknownAttribute("favouriteColour".into()),
            ),
            (
                json!({"userName": "u", "name": {"nope": "x"}}),
                ResourceError::UnknownAttribute("name.nope".into()),
            ),
            (
                json!({"displayName": "x"}),
                ResourceError::Required("userName".into()),
            ),
            (
                json!({"userName": null}),
                ResourceError::Required("userName".into()),
            ),
            (
                json!({"userName": "u", "emails": [{"type": "work", "value": "a@x"}, {"type": "Work", "value": "b@x"}]}),
                ResourceError::DuplicateType {
                    attr: "emails".into(),
                    ty: "work".into(),
                },
            ),
            (
                json!({"userName": "u", "emails": [{"primary": true, "value": "a@x"}, {"primary": "True", "value": "b@x"}]}),
                ResourceError::MultiplePrimary("emails".into()),
            ),
            (
                json!({"userName": "u", "active": "yes"}),
                ResourceError::invalid("active", "expected a boolean"),
            ),
            (
                json!({"userName": 7}),
                ResourceError::invalid("userName", "expected a string"),
            ),
            (
                json!({"userName": "u", "emails": [{"value": 1}]}),
                ResourceError::invalid("emails.value", "expected a string"),
            ),
            (
                json!({"userName": "u", "name": "Bob"}),
                ResourceError::invalid("name", "expected an object"),
            ),
            (
                json!({"userName": "u", "urn:example:custom:2.0:User": {"x": 1}}),
                ResourceError::UnknownAttribute("urn:example:custom:2.0:User".into()),
            ),
            (
                json!({"userName": "u", ENTERPRISE_URN: "x"}),
                ResourceError::invalid(ENTERPRISE_URN, "an extension must be an object"),
            ),
            (
                json!({"userName": "u", ENTERPRISE_URN: {"shoeSize": "9"}}),
                ResourceError::UnknownAttribute(format!("{ENTERPRISE_URN}:shoeSize")),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(user(input.clone()), Err(want), "{input}");
        }
        assert_eq!(
            group(json!({"members": []})),
            Err(ResourceError::Required("displayName".into()))
        );
    }

    #[test]
    fn multi_valued_attributes_are_limited() {
        let emails = |n: usize| -> Value {
            (0..n)
                .map(|i| json!({"value": format!("u{i}@x")}))
                .collect()
        };
        let at = user(json!({"userName": "u", "emails": emails(MAX_VALUES)})).unwrap();
        assert_eq!(at["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
        let over = user(json!({"userName": "u", "emails": emails(50_000)}));
        assert_eq!(over, Err(LimitError::Values("emails".into()).into()));
        let e = ScimError::from(over.unwrap_err());
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::TooMany)));
        // Repeats count as sent: the limit is checked before any work.
        let repeated = vec![json!({"value": "a@x"}); MAX_VALUES + 1];
        assert!(user(json!({"userName": "u", "emails": repeated})).is_err());
        // Group members have their own, higher limit.
        let members: Value = (0..MAX_MEMBERS_PER_REQUEST)
            .map(|i| json!({"value": format!("m{i}")}))
            .collect();
        let mut g = group(json!({"displayName": "g", "members": members})).unwrap();
        assert_eq!(take_members(&mut g).len(), MAX_MEMBERS_PER_REQUEST);
        let members: Value = (0..=MAX_MEMBERS_PER_REQUEST)
            .map(|i| json!({"value": format!("m{i}")}))
            .collect();
        assert_eq!(
            group(json!({"displayName": "g", "members": members})),
            Err(LimitError::Members.into())
        );
    }

    #[test]
    fn errors_map_to_scim_types() {
        let cases = [
            (ResourceError::NotAnObject, ScimType::InvalidSyntax),
            (
                ResourceError::UnknownAttribute("x".into()),
                ScimType::InvalidValue,
            ),
            (ResourceError::Required("x".into()), ScimType::InvalidValue),
            (ResourceError::Immutable("x".into()), ScimType::Mutability),
        ];
        for (e, want) in cases {
            let e = ScimError::from(e);
            assert_eq!((e.status, e.scim_type), (400, Some(want)));
        }
    }

    #[test]
    fn folds_dotted_and_urn_qualified_keys() {
        let got = user(json!({
            "urn:ietf:params:scim:schemas:core:2.0:User:userName": "u",
            "name.givenName": "Kim",
            "name": {"familyName": "Lee"},
            "name.FamilyName": "Park",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E1",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "m2"
        }))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "schemas": [USER_URN, ENTERPRISE_URN],
                "userName": "u",
                "name": {"familyName": "Park"},
                ENTERPRISE_URN: {"employeeNumber": "E1", "manager": {"value": "m2"}}
            })
        );
    }

    #[test]
    fn unknown_extension_tolerated_when_declared() {
        let got = user(json!({
            "schemas": [USER_URN, "urn:example:custom:2.0:User"],
            "userName": "u",
            "urn:example:custom:2.0:User": {"x": 1}
        }))
        .unwrap();
        assert_eq!(got, json!({"schemas": [USER_URN], "userName": "u"}));
    }

    #[test]
    fn multi_valued_shapes() {
        let got = user(json!({
            "userName": "u",
            "emails": {"value": "a@x", "type": "work"},
            "phoneNumbers": [{"value": "1", "type": "work"}, {"value": "1", "type": "work"}, null, {"type": "mobile"}],
            "addresses": [{"type": "work", "country": "DE"}],
            "roles": [{"value": "admin", "type": "x"}, {"value": "user", "type": "x"}],
        }))
        .unwrap();
        assert_eq!(got["emails"], json!([{"value": "a@x", "type": "work"}]));
        assert_eq!(got["phoneNumbers"], json!([{"value": "1", "type": "work"}]));
        assert_eq!(got["addresses"], json!([{"country": "DE", "type": "work"}]));
        assert_eq!(got["roles"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn group_create_with_microsoft_schema_and_members() {
        let mut got = group(json!({
            "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0",
            "displayName": "Group1DisplayName",
            "members": [{"value": "u1", "display": "U1"}, {"value": "u2", "type": "User"}],
            "meta": {"resourceType": "Group"}
        }))
        .unwrap();
        assert_eq!(take_members(&mut got), ["u1", "u2"]);
        assert_eq!(
            got,
            json!({"schemas": [GROUP_URN], "externalId": "8aa1a0c0", "displayName": "Group1DisplayName"})
        );
        let mut okta =
            group(json!({"schemas": [GROUP_URN], "displayName": "G", "members": []})).unwrap();
        assert!(take_members(&mut okta).is_empty());
        for (body, named) in [
            (json!({"displayName": "G", "members": []}), true),
            (json!({"displayName": "G", "Members": null}), true),
            (json!({format!("{GROUP_URN}:members"): []}), true),
            (json!({"displayName": "G"}), false),
        ] {
            assert_eq!(names_members(&body), named, "{body}");
        }
    }

    /// Every attribute of the three vendor profiles round-trips unchanged.
    #[test]
    fn vendor_profiles_round_trip() {
        let sosafe = json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "externalId": "e-1",
            "userName": "jane@contoso.com",
            "name": {
                "formatted": "Dr. Jane Doe MSc", "familyName": "Doe", "givenName": "Jane",
                "honorificPrefix": "Dr.", "honorificSuffix": "MSc"
            },
            "displayName": "Jane Doe",
            "nickName": "JD",
            "title": "Engineer",
            "userType": "Employee",
            "preferredLanguage": "en_gb",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "active": true,
            "emails": [{"value": "jane@contoso.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
            "addresses": [{
                "formatted": "1 Main St, London", "streetAddress": "1 Main St", "locality": "London",
                "region": "Greater London", "postalCode": "EC1A 1AA", "country": "GB", "type": "work"
            }],
            ENTERPRISE_URN: {
                "employeeNumber": "42", "costCenter": "CC1", "organization": "Contoso",
                "division": "R&D", "department": "Security", "manager": {"value": "boss@contoso.com"}
            },
        });
        assert_eq!(user(sosafe.clone()).unwrap(), sosafe);

        // The vendor extension arrives without its URN in `schemas`.
        let vendor = json!({
            "schemas": [USER_URN],
            "userName": "jane@contoso.com",
            DEFAULT_EXTENSION_URN: {"gender": "female", "academicTitle": "Dr."}
        });
        assert_eq!(
            user(vendor).unwrap(),
            json!({
                "schemas": [USER_URN, DEFAULT_EXTENSION_URN],
                "userName": "jane@contoso.com",
                DEFAULT_EXTENSION_URN: {"gender": "female", "academicTitle": "Dr."}
            })
        );

        let safeguard = user(json!({
            "userName": "upn@contoso.com", "active": "False", "displayName": "X",
            "preferredLanguage": "de", "phoneNumbers": [{"type": "work", "value": "123"}]
        }))
        .unwrap();
        assert_eq!(safeguard["active"], false);

        for lang in [
            "en_gb", "en", "en-us", "nl", "ar", "es", "es-ES", "fr", "de", "it", "pl", "pt-BR",
            "tr-TR", "ru", "ja-JP", "zh-CN", "zh-HK", "ko-KR",
        ] {
            let cybsafe = json!({
                "schemas": [USER_URN, ENTERPRISE_URN, DEFAULT_EXTENSION_URN],
                "externalId": "x1",
                "userName": "sam@corp.example",
                "name": {"familyName": "Roe", "givenName": "Sam"},
                "preferredLanguage": lang,
                "locale": "en-GB",
                "active": false,
                "emails": [{"value": "sam@corp.example", "type": "work", "primary": true}],
                "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
                "addresses": [{"country": "GB", "type": "work"}],
                ENTERPRISE_URN: {
                    "employeeNumber": "7", "organization": "Corp", "division": "D", "department": "Ops",
                    "manager": {"value": "m9"}
                },
                DEFAULT_EXTENSION_URN: {
                    "employeeType": "Contractor", "city": "Leeds", "office": "HQ",
                    "businessUnit": "BU", "grade": "G7"
                }
            });
            assert_eq!(user(cybsafe.clone()).unwrap(), cybsafe, "{lang}");
        }
    }

    #[test]
    fn immutable_checks_pass_for_writable_changes() {
        let r = Registry::default();
        let before = json!({"userName": "a", ENTERPRISE_URN: {"manager": {"value": "m"}}});
        let after = json!({"userName": "b"});
        assert_eq!(
            check_immutable(&before, &after, ResourceKind::User, &r),
            Ok(())
        );
        let g1 = json!({"displayName": "g", "members": [{"value": "a"}]});
        let g2 = json!({"displayName": "g", "members": [{"value": "b"}]});
        assert_eq!(check_immutable(&g1, &g2, ResourceKind::Group, &r), Ok(()));
    }
}
