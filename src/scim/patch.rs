//! PATCH (RFC 7644 §3.5.2) in every identity-provider dialect: a request is
//! parsed once into typed operations (path-less operations desugared into
//! per-path ones), then applied atomically to a stored resource.
//!
//! Decisions where the RFC or the IdPs leave room:
//! - `schemas` may be missing (tolerated); when present it must contain the
//!   PatchOp URN. `Operations`, `op`, `path`, `value` and the op names match
//!   in any case.
//! - A malformed filter inside a path is `invalidFilter` (RFC 7644 §3.12 lists
//!   PATCH path filters under `invalidFilter`); any other bad path, including
//!   an unknown attribute, is `invalidPath`.
//! - `remove` is idempotent: an absent attribute or a filter matching nothing
//!   succeeds without change (IdPs retry; a retry must not fail).
//! - readOnly attributes (`id`, `meta`, `groups`, `manager.displayName`) and
//!   writeOnly ones (`password`) are silently ignored, whatever their value:
//!   Okta's rename carries the group `id`, same or not.
//! - `add` and `replace` on a singular attribute are the same; on a
//!   multi-valued one `add` appends (identical elements are not duplicated)
//!   and `replace` replaces the list; on a complex one both merge
//!   sub-attributes. Setting `primary` to true clears it on the other
//!   elements (RFC 7644 §3.5.2).
//! - A filtered `add`/`replace` that matches no element creates one from the
//!   filter's `eq` comparisons (`[type eq "work"]` gives `type: "work"`);
//!   without such comparisons it is `noTarget`.
//! - Group `members` are never edited in the document: each operation on them
//!   becomes a [`MemberChange`] for the membership store.
//! - The work is linear in the request: at most
//!   [`MAX_PATCH_OPERATIONS`](super::limits::MAX_PATCH_OPERATIONS) operations
//!   and member ids per request bounded (`400 tooMany`); operations edit one
//!   working copy, and each attribute they touched is validated once.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::filter::{CompValue, CompareOp, Filter, FilterError};
use super::limits::{LimitError, MAX_PATCH_OPERATIONS, MAX_VALUES, check_members, check_values};
use super::path::{AttrPath, ValuePathText, split_value_path};
use super::resource::{
    KeyTarget, ResourceError, check_immutable, check_required, coerce_value, finish,
    ignored_on_input, resolve_key, resolve_name, with_container,
};
use super::schema::{AttributeDef, Registry, ResourceKind, Schema};
use super::value_set::{ValueSet, dedup};

/// The URN every PatchOp request lists in `schemas`.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Why a PATCH request was rejected (RFC 7644 §3.12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("invalid path '{0}'")]
    InvalidPath(String),
    #[error("invalid filter in path: {0}")]
    InvalidFilter(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Mutability(String),
    #[error(transparent)]
    Resource(#[from] ResourceError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl From<FilterError> for PatchError {
    fn from(e: FilterError) -> Self {
        PatchError::InvalidFilter(e.to_string())
    }
}

/// A parsed PATCH request: its operations, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub ops: Vec<PatchOp>,
}

/// One operation. Path-less `add`/`replace` are desugared at parse time into
/// one operation per attribute of their value (RFC 7644 §3.5.2.1/.3 define
/// them that way), and `remove` needs a path, so every operation has one.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    Add {
        path: PatchPath,
        value: Value,
    },
    Replace {
        path: PatchPath,
        value: Value,
    },
    /// `value`, when given, selects the elements of a multi-valued attribute
    /// to remove (Entra's `{"op":"Remove","path":"members","value":[...]}`).
    Remove {
        path: PatchPath,
        value: Option<Value>,
    },
}

impl PatchOp {
    /// The target, whatever the operation.
    pub fn path(&self) -> &PatchPath {
        match self {
            PatchOp::Add { path, .. }
            | PatchOp::Replace { path, .. }
            | PatchOp::Remove { path, .. } => path,
        }
    }
}

/// A resolved PATCH target: `attr` (canonical, `urn` set for extension
/// attributes, never a sub-attribute), an optional value filter on a
/// multi-valued `attr`, and an optional canonical sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl PatchPath {
    fn plain(attr: &AttributeDef, urn: Option<&str>, sub: Option<&AttributeDef>) -> Self {
        PatchPath {
            attr: AttrPath {
                urn: urn.map(str::to_owned),
                name: attr.name.clone(),
                sub: None,
            },
            filter: None,
            sub: sub.map(|s| s.name.clone()),
        }
    }
}

/// A change to a Group's membership, for the caller to apply to the store.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    ReplaceAll(Vec<String>),
    /// Remove the members matching a filter other than `value eq ...`.
    RemoveWhere(Filter),
}

/// The result of applying a PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// Whether the stored document differs from before.
    pub changed: bool,
    /// Group membership changes, in request order.
    pub members: Vec<MemberChange>,
}

/// What a path string designates.
enum Target {
    Path(PatchPath),
    /// A bare extension URN: the whole extension object.
    Extension(Schema),
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Reads a key of `obj` in any case.
fn get_ci<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

impl PatchRequest {
    /// Parses a PatchOp body for resource type `kind`.
    pub fn parse(
        body: &Value,
        kind: ResourceKind,
        registry: &Registry,
    ) -> Result<PatchRequest, PatchError> {
        let syntax = |m: &str| PatchError::InvalidSyntax(m.to_owned());
        let body = body
            .as_object()
            .ok_or_else(|| syntax("the request body must be a JSON object"))?;
        if let Some(schemas) = get_ci(body, "schemas") {
            let listed = schemas.as_array().is_some_and(|s| {
                s.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))
                })
            });
            if !listed {
                return Err(syntax("'schemas' must contain the PatchOp URN"));
            }
        }
        let operations = get_ci(body, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("'Operations' must be an array"))?;
        if operations.len() > MAX_PATCH_OPERATIONS {
            return Err(LimitError::Operations.into());
        }
        let mut ops = Vec::with_capacity(operations.len());
        for op in operations {
            parse_op(op, kind, registry, &mut ops)?;
            if ops.len() > MAX_PATCH_OPERATIONS {
                return Err(LimitError::Operations.into());
            }
        }
        if kind == ResourceKind::Group {
            check_members(ops.iter().map(member_count).sum())?;
        }
        Ok(PatchRequest { ops })
    }

    /// Applies every operation to `resource`, all or nothing: on error the
    /// resource is untouched. Group `members` operations are returned, not
    /// applied. `schemas` is recomputed.
    ///
    /// The operations work on one copy of the document; each attribute they
    /// touched is validated (coerced, de-duplicated, checked) once at the
    /// end, so the cost is linear in the operations and the values.
    pub fn apply(
        &self,
        resource: &mut Value,
        kind: ResourceKind,
        registry: &Registry,
    ) -> Result<PatchOutcome, PatchError> {
        let original = resource.as_object().ok_or_else(|| {
            PatchError::InvalidValue("the stored resource is not an object".to_owned())
        })?;
        let mut doc = original.clone();
        let mut members = Vec::new();
        // At most one entry per attribute of the schemas: a short list.
        let mut touched: Vec<(Option<&str>, &AttributeDef)> = Vec::new();
        for op in &self.ops {
            let path = op.path();
            let Some(resolved) = path.attr.definition(kind, registry) else {
                return Err(PatchError::InvalidPath(path.attr.to_string()));
            };
            let attr = resolved.attr;
            let sub = match &path.sub {
                Some(s) => Some(
                    attr.sub(s)
                        .ok_or_else(|| PatchError::InvalidPath(s.clone()))?,
                ),
                None => None,
            };
            if kind == ResourceKind::Group && path.attr.urn.is_none() && attr.name == "members" {
                members.extend(member_change(op, sub)?);
                continue;
            }
            if ignored_on_input(attr) || sub.is_some_and(ignored_on_input) {
                continue;
            }
            let urn = path.attr.urn.as_deref();
            with_container(&mut doc, urn, |container| {
                let current = container.remove(&attr.name);
                if let Some(v) = apply_op(op, attr, sub, current, kind, registry)? {
                    container.insert(attr.name.clone(), bounded(attr, v)?);
                }
                Ok::<_, PatchError>(())
            })?;
            if !touched
                .iter()
                .any(|(u, a)| *u == urn && a.name == attr.name)
            {
                touched.push((urn, attr));
            }
        }
        for (urn, attr) in touched {
            with_container(&mut doc, urn, |container| {
                // Repeats first, so that the limit counts distinct values.
                let value = container.remove(&attr.name).map(|v| match v {
                    Value::Array(items) => Value::Array(dedup(items)),
                    other => other,
                });
                if let Some(v) = value
                    && let Some(v) = coerce_value(attr, v)?
                {
                    container.insert(attr.name.clone(), v);
                }
                Ok::<_, PatchError>(())
            })?;
        }
        let doc = finish(doc, kind, registry);
        check_required(&doc, kind, registry)?;
        let doc = Value::Object(doc);
        check_immutable(resource, &doc, kind, registry)?;
        let changed = doc != *resource;
        *resource = doc;
        Ok(PatchOutcome { changed, members })
    }
}

/// How many member ids an operation on a Group's `members` names.
fn member_count(op: &PatchOp) -> usize {
    let path = op.path();
    if path.attr.urn.is_some() || path.attr.name != "members" {
        return 0;
    }
    match op {
        PatchOp::Add { value, .. }
        | PatchOp::Replace { value, .. }
        | PatchOp::Remove {
            value: Some(value), ..
        } => value.as_array().map_or(1, Vec::len),
        PatchOp::Remove { value: None, .. } => 0,
    }
}

/// Keeps a multi-valued attribute being patched within bounds between
/// operations: repeats (an `add` appends, the final validation removes
/// them) are dropped once the list has twice [`MAX_VALUES`] elements, so
/// each operation scans a bounded list and de-duplication costs at most
/// one hash per value added.
fn bounded(attr: &AttributeDef, value: Value) -> Result<Value, LimitError> {
    match value {
        Value::Array(items) if items.len() > 2 * MAX_VALUES => {
            let items = dedup(items);
            check_values(attr, items.len())?;
            Ok(Value::Array(items))
        }
        other => Ok(other),
    }
}

fn parse_op(
    op: &Value,
    kind: ResourceKind,
    registry: &Registry,
    ops: &mut Vec<PatchOp>,
) -> Result<(), PatchError> {
    let op = op
        .as_object()
        .ok_or_else(|| PatchError::InvalidSyntax("each operation must be an object".to_owned()))?;
    let name = get_ci(op, "op").and_then(Value::as_str).unwrap_or_default();
    let op_kind = match name {
        n if n.eq_ignore_ascii_case("add") => Kind::Add,
        n if n.eq_ignore_ascii_case("replace") => Kind::Replace,
        n if n.eq_ignore_ascii_case("remove") => Kind::Remove,
        n => return Err(PatchError::InvalidSyntax(format!("unknown op '{n}'"))),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(parse_target(p, kind, registry)?),
        Some(other) => return Err(PatchError::InvalidPath(other.to_string())),
    };
    let value = get_ci(op, "value").cloned();
    match (op_kind, path, value) {
        (Kind::Remove, None, _) => Err(PatchError::NoTarget("'remove' needs a path".to_owned())),
        (Kind::Remove, Some(Target::Path(path)), value) => {
            ops.push(PatchOp::Remove { path, value });
            Ok(())
        }
        (Kind::Remove, Some(Target::Extension(schema)), _) => {
            ops.extend(schema.attributes.iter().map(|a| PatchOp::Remove {
                path: PatchPath::plain(a, Some(&schema.id), None),
                value: None,
            }));
            Ok(())
        }
        (_, _, None) => Err(PatchError::InvalidValue(format!("'{name}' needs a value"))),
        (_, Some(Target::Path(path)), Some(value)) => {
            ops.push(make(op_kind, path, value));
            Ok(())
        }
        (_, Some(Target::Extension(schema)), Some(value)) => {
            desugar_schema(op_kind, &schema, &value, kind, registry, ops)
        }
        (_, None, Some(Value::Object(value))) => desugar(op_kind, &value, kind, registry, ops),
        (_, None, Some(_)) => Err(PatchError::InvalidValue(format!(
            "a path-less '{name}' needs an object value"
        ))),
    }
}

fn make(kind: Kind, path: PatchPath, value: Value) -> PatchOp {
    match kind {
        Kind::Add => PatchOp::Add { path, value },
        Kind::Replace => PatchOp::Replace { path, value },
        Kind::Remove => PatchOp::Remove {
            path,
            value: Some(value),
        },
    }
}

/// One operation per key of a path-less value: plain, dotted
/// (`name.givenName`), URN-qualified, or an extension URN holding an object.
fn desugar(
    op_kind: Kind,
    value: &Map<String, Value>,
    kind: ResourceKind,
    registry: &Registry,
    ops: &mut Vec<PatchOp>,
) -> Result<(), PatchError> {
    for (key, v) in value {
        match resolve_key(key, kind, registry) {
            KeyTarget::Schemas => {}
            KeyTarget::Attr(r) => {
                let urn = r.extension_urn(kind, registry);
                ops.push(make(
                    op_kind,
                    PatchPath::plain(r.attr, urn, r.sub),
                    v.clone(),
                ));
            }
            KeyTarget::Schema(schema) => desugar_schema(op_kind, schema, v, kind, registry, ops)?,
            KeyTarget::Unknown => return Err(PatchError::InvalidPath(key.clone())),
        }
    }
    Ok(())
}

/// The attributes of one schema given as an object (`null` clears them all).
fn desugar_schema(
    op_kind: Kind,
    schema: &Schema,
    value: &Value,
    kind: ResourceKind,
    registry: &Registry,
    ops: &mut Vec<PatchOp>,
) -> Result<(), PatchError> {
    let urn = (schema.id != registry.core_schema(kind).id).then_some(schema.id.as_str());
    match value {
        Value::Object(inner) => {
            // An extension object may repeat its own `schemas` (scim2-models
            // serialises it so): nothing to apply.
            for (key, v) in inner
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
            {
                let KeyTarget::Attr(r) = resolve_name(key, Some(&schema.id), kind, registry) else {
                    return Err(PatchError::InvalidPath(format!("{}:{key}", schema.id)));
                };
                ops.push(make(
                    op_kind,
                    PatchPath::plain(r.attr, urn, r.sub),
                    v.clone(),
                ));
            }
            Ok(())
        }
        Value::Null if urn.is_some() => {
            ops.extend(schema.attributes.iter().map(|a| PatchOp::Remove {
                path: PatchPath::plain(a, urn, None),
                value: None,
            }));
            Ok(())
        }
        _ => Err(PatchError::InvalidValue(format!(
            "'{}' needs an object value",
            schema.id
        ))),
    }
}

/// Parses a `path` string.
fn parse_target(text: &str, kind: ResourceKind, registry: &Registry) -> Result<Target, PatchError> {
    let text = text.trim();
    let invalid = || PatchError::InvalidPath(text.to_owned());
    let split = split_value_path(text).map_err(|_| invalid())?;
    let attr_text = split.map_or(text, |v| v.attr);
    let resolved = match resolve_key(attr_text, kind, registry) {
        KeyTarget::Attr(r) => r,
        KeyTarget::Schema(s) if split.is_none() && s.id != registry.core_schema(kind).id => {
            return Ok(Target::Extension(s.clone()));
        }
        _ => return Err(invalid()),
    };
    let urn = resolved.extension_urn(kind, registry);
    let Some(ValuePathText {
        filter: filter_text,
        sub,
        ..
    }) = split
    else {
        return Ok(Target::Path(PatchPath::plain(
            resolved.attr,
            urn,
            resolved.sub,
        )));
    };
    if resolved.sub.is_some() || !resolved.attr.multi_valued {
        return Err(invalid());
    }
    let attr = PatchPath::plain(resolved.attr, urn, None).attr;
    let sub = match sub {
        Some(s) => Some(resolved.attr.sub(s).ok_or_else(invalid)?.name.clone()),
        None => None,
    };
    let filter = Filter::parse_value_filter(filter_text, kind, registry, &attr)?;
    Ok(Target::Path(PatchPath {
        attr,
        filter: Some(filter),
        sub,
    }))
}

/// Computes the new value of attribute `attr` (not yet coerced as a whole)
/// from its `current` value; `None` removes it.
fn apply_op(
    op: &PatchOp,
    attr: &AttributeDef,
    sub: Option<&AttributeDef>,
    current: Option<Value>,
    kind: ResourceKind,
    registry: &Registry,
) -> Result<Option<Value>, PatchError> {
    let path = op.path();
    let (op_kind, value) = match op {
        PatchOp::Add { value, .. } => (Kind::Add, Some(value)),
        PatchOp::Replace { value, .. } => (Kind::Replace, Some(value)),
        PatchOp::Remove { value, .. } => (Kind::Remove, value.as_ref()),
    };
    if let Some(filter) = &path.filter {
        let items = into_items(current);
        let matched: Vec<bool> = items
            .iter()
            .map(|i| filter.matches_element(i, &path.attr, kind, registry))
            .collect();
        return apply_filtered(op_kind, attr, sub, filter, items, &matched, value).map(Some);
    }
    match (op_kind, sub, value) {
        (Kind::Remove, None, Some(selector)) if attr.multi_valued => {
            let mut items = into_items(current);
            let selectors = match coerce_value(attr, selector.clone())? {
                Some(Value::Array(s)) => s,
                _ => Vec::new(),
            };
            let selectors = Selectors::new(attr, &selectors);
            items.retain(|i| !selectors.select(i));
            Ok(Some(Value::Array(items)))
        }
        (Kind::Remove, None, _) => Ok(None),
        (_, None, Some(value)) => apply_whole(op_kind, attr, current, value),
        (Kind::Remove, Some(sub), _) => Ok(current.map(|c| {
            map_elements(attr, c, |e| {
                e.remove(&sub.name);
            })
        })),
        (_, Some(sub), Some(value)) => {
            let v = coerce_value(sub, value.clone())?;
            let set = |e: &mut Map<String, Value>| match &v {
                Some(v) => {
                    e.insert(sub.name.clone(), v.clone());
                }
                None => {
                    e.remove(&sub.name);
                }
            };
            Ok(Some(match current {
                Some(c) if !(attr.multi_valued && c.as_array().is_some_and(Vec::is_empty)) => {
                    map_elements(attr, c, set)
                }
                _ => {
                    let mut e = Map::new();
                    set(&mut e);
                    if attr.multi_valued {
                        Value::Array(vec![Value::Object(e)])
                    } else {
                        Value::Object(e)
                    }
                }
            }))
        }
        (_, _, None) => Ok(current),
    }
}

/// `add`/`replace` of a whole attribute.
fn apply_whole(
    op_kind: Kind,
    attr: &AttributeDef,
    current: Option<Value>,
    value: &Value,
) -> Result<Option<Value>, PatchError> {
    let Some(new) = coerce_value(attr, value.clone())? else {
        return Ok(None);
    };
    if attr.multi_valued {
        let new = into_items(Some(new));
        let mut items = if op_kind == Kind::Add {
            into_items(current)
        } else {
            Vec::new()
        };
        let primaries: Vec<Value> = new.iter().filter(|n| is_primary(n)).cloned().collect();
        // Repeats are dropped by the validation after the last operation.
        items.extend(new);
        if !primaries.is_empty() {
            let mut keep = ValueSet::default();
            primaries.iter().for_each(|p| {
                keep.insert(p);
            });
            items
                .iter_mut()
                .filter(|i| is_primary(i) && !keep.contains(i))
                .for_each(clear_primary);
        }
        return Ok(Some(Value::Array(items)));
    }
    match (current, value) {
        // Complex: merge the sub-attributes sent, `null` removing one.
        (Some(Value::Object(mut obj)), Value::Object(raw)) if !attr.subs().is_empty() => {
            for (key, v) in raw {
                let Some(sub) = attr.sub(key) else { continue };
                match coerce_value(sub, v.clone())? {
                    _ if ignored_on_input(sub) => {}
                    Some(v) => {
                        obj.insert(sub.name.clone(), v);
                    }
                    None => {
                        obj.remove(&sub.name);
                    }
                }
            }
            Ok(Some(Value::Object(obj)))
        }
        _ => Ok(Some(new)),
    }
}

/// An operation on the elements of `attr` selected by `filter`.
fn apply_filtered(
    op_kind: Kind,
    attr: &AttributeDef,
    sub: Option<&AttributeDef>,
    filter: &Filter,
    mut items: Vec<Value>,
    matched: &[bool],
    value: Option<&Value>,
) -> Result<Value, PatchError> {
    let any = matched.iter().any(|m| *m);
    if op_kind == Kind::Remove {
        let mut flags = matched.iter();
        match sub {
            None => items.retain(|_| !flags.next().copied().unwrap_or(false)),
            Some(sub) => {
                for (item, _) in items.iter_mut().zip(matched).filter(|(_, m)| **m) {
                    if let Value::Object(e) = item {
                        e.remove(&sub.name);
                    }
                }
            }
        }
        return Ok(Value::Array(items));
    }
    let value = value.cloned().unwrap_or(Value::Null);
    // The sub-attributes to write into each selected element.
    let (fields, clear): (Map<String, Value>, Vec<String>) = match sub {
        Some(sub) => match coerce_value(sub, value)? {
            Some(v) => (Map::from_iter([(sub.name.clone(), v)]), Vec::new()),
            None => (Map::new(), vec![sub.name.clone()]),
        },
        None => match coerce_value(attr, value)?.map(|v| into_items(Some(v))) {
            Some(mut v) if v.len() == 1 => match v.remove(0) {
                Value::Object(o) => (o, Vec::new()),
                _ => (Map::new(), Vec::new()),
            },
            Some(_) => {
                return Err(PatchError::InvalidValue(format!(
                    "a filtered '{}' path takes one value",
                    attr.name
                )));
            }
            None => (Map::new(), Vec::new()),
        },
    };
    let sets_primary = fields.get("primary") == Some(&Value::Bool(true));
    if !any {
        if fields.is_empty() {
            return Ok(Value::Array(items));
        }
        let mut element = equalities(filter, attr).ok_or_else(|| {
            PatchError::NoTarget(format!(
                "no '{}' value matches the filter {filter}",
                attr.name
            ))
        })?;
        element.extend(fields);
        if sets_primary {
            items.iter_mut().for_each(clear_primary);
        }
        items.push(Value::Object(element));
        return Ok(Value::Array(items));
    }
    for (item, m) in items.iter_mut().zip(matched) {
        let Value::Object(e) = item else { continue };
        if !*m {
            if sets_primary {
                e.insert("primary".to_owned(), Value::Bool(false));
            }
            continue;
        }
        if sub.is_none() && op_kind == Kind::Replace {
            e.clear();
        }
        for k in &clear {
            e.remove(k);
        }
        e.extend(fields.clone());
    }
    Ok(Value::Array(items))
}

/// The sub-attribute values a filter pins with `eq` joined by `and`
/// (`type eq "work"`), used to create the element a filtered add targets.
fn equalities(filter: &Filter, attr: &AttributeDef) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let sub = attr.sub(&path.name)?;
            let value = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return None,
            };
            Some(Map::from_iter([(sub.name.clone(), value)]))
        }
        Filter::And(a, b) => {
            let mut m = equalities(a, attr)?;
            m.extend(equalities(b, attr)?);
            Some(m)
        }
        _ => None,
    }
}

/// Member ids a `value eq "id"` filter (or an `or` of them) selects.
fn member_ids_of(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.name == "value" => Some(vec![id.clone()]),
        Filter::Or(a, b) => {
            let mut ids = member_ids_of(a)?;
            ids.extend(member_ids_of(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// Turns an operation on a Group's `members` into a membership change.
fn member_change(
    op: &PatchOp,
    sub: Option<&AttributeDef>,
) -> Result<Option<MemberChange>, PatchError> {
    if let Some(sub) = sub {
        if ignored_on_input(sub) {
            return Ok(None);
        }
        return Err(PatchError::Mutability(format!(
            "members.{} is immutable: add or remove the member instead",
            sub.name
        )));
    }
    let path = op.path();
    Ok(Some(match (op, &path.filter) {
        (PatchOp::Add { .. } | PatchOp::Replace { .. }, Some(_)) => {
            return Err(PatchError::Mutability(
                "members are immutable: add or remove the member instead".to_owned(),
            ));
        }
        (PatchOp::Add { value, .. }, None) => match member_ids(value)? {
            ids if ids.is_empty() => return Ok(None),
            ids => MemberChange::Add(ids),
        },
        (PatchOp::Replace { value, .. }, None) => MemberChange::ReplaceAll(member_ids(value)?),
        (
            PatchOp::Remove {
                value: None | Some(Value::Null),
                ..
            },
            None,
        ) => MemberChange::RemoveAll,
        (
            PatchOp::Remove {
                value: Some(value), ..
            },
            None,
        ) => match member_ids(value)? {
            ids if ids.is_empty() => return Ok(None),
            ids => MemberChange::Remove(ids),
        },
        (PatchOp::Remove { .. }, Some(filter)) => match member_ids_of(filter) {
            Some(ids) => MemberChange::Remove(ids),
            None => MemberChange::RemoveWhere(filter.clone()),
        },
    }))
}

/// Member ids from `[{"value": "id"}, ...]` (a single object or bare id
/// strings accepted too).
fn member_ids(value: &Value) -> Result<Vec<String>, PatchError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    items
        .iter()
        .map(|m| {
            let id = match m {
                Value::Object(o) => get_ci(o, "value"),
                other => Some(other),
            };
            match id {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(PatchError::InvalidValue(format!(
                    "a member needs a string 'value', got {m}"
                ))),
            }
        })
        .collect()
}

/// The selectors of a `remove` with a value array, indexed so that each
/// element is tested in expected constant time. A selector selects an
/// element by `value` when it has one (case-insensitively unless `value` is
/// caseExact), else by every sub-attribute it carries; a non-object
/// selector selects an equal element.
struct Selectors<'s> {
    case_exact: bool,
    /// String `value`s, folded unless caseExact.
    strings: HashSet<String>,
    /// Other `value`s, compared exactly.
    values: ValueSet<'s>,
    /// Selectors without `value`, grouped by the sub-attributes they carry:
    /// an element is projected on each group's names and looked up.
    by_fields: Vec<(Vec<&'s String>, ValueSet<'s>)>,
    /// Non-object selectors.
    whole: ValueSet<'s>,
}

impl<'s> Selectors<'s> {
    fn new(attr: &AttributeDef, selectors: &'s [Value]) -> Self {
        let case_exact = attr.sub("value").is_some_and(|v| v.case_exact);
        let mut out = Selectors {
            case_exact,
            strings: HashSet::new(),
            values: ValueSet::default(),
            by_fields: Vec::new(),
            whole: ValueSet::default(),
        };
        for selector in selectors {
            let Value::Object(s) = selector else {
                out.whole.insert(selector);
                continue;
            };
            match s.get("value") {
                Some(Value::String(v)) => {
                    out.strings.insert(out.fold(v));
                }
                Some(v) => {
                    out.values.insert(v);
                }
                None => {
                    let mut names: Vec<&String> = s.keys().collect();
                    names.sort();
                    let set = match out.by_fields.iter_mut().find(|(n, _)| *n == names) {
                        Some((_, set)) => set,
                        None => {
                            out.by_fields.push((names, ValueSet::default()));
                            &mut out.by_fields.last_mut().expect("just pushed").1
                        }
                    };
                    set.insert(selector);
                }
            }
        }
        out
    }

    fn fold(&self, s: &str) -> String {
        if self.case_exact {
            s.to_owned()
        } else {
            s.to_ascii_lowercase()
        }
    }

    fn select(&self, item: &Value) -> bool {
        let Value::Object(i) = item else {
            return self.whole.contains(item);
        };
        let by_value = match i.get("value") {
            Some(Value::String(v)) => self.strings.contains(&self.fold(v)),
            Some(v) => self.values.contains(v),
            None => false,
        };
        by_value
            || self.by_fields.iter().any(|(names, set)| {
                let projected: Option<Map<String, Value>> = names
                    .iter()
                    .map(|n| Some(((*n).clone(), i.get(n.as_str())?.clone())))
                    .collect();
                projected.is_some_and(|p| set.contains(&Value::Object(p)))
            })
    }
}

fn into_items(v: Option<Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
    }
}

/// Applies `f` to the object value of a singular complex attribute, or to
/// every element of a multi-valued one.
fn map_elements(
    attr: &AttributeDef,
    value: Value,
    mut f: impl FnMut(&mut Map<String, Value>),
) -> Value {
    let mut items = if attr.multi_valued {
        into_items(Some(value))
    } else {
        vec![value]
    };
    for item in &mut items {
        if let Value::Object(e) = item {
            f(e);
        }
    }
    if attr.multi_valued {
        Value::Array(items)
    } else {
        items.pop().unwrap_or(Value::Null)
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

fn clear_primary(v: &mut Value) {
    if let Some(Value::Object(e)) = Some(v)
        && e.get("primary") == Some(&Value::Bool(true))
    {
        e.insert("primary".to_owned(), Value::Bool(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::{ScimError, ScimType};
    use crate::scim::limits::MAX_MEMBERS_PER_REQUEST;
    use crate::scim::schema::{DEFAULT_EXTENSION_URN, ENTERPRISE_URN, GROUP_URN, USER_URN};
    use proptest::prelude::*;
    use serde_json::json;

    fn stored_user() -> Value {
        json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "id": "u1",
            "externalId": "e1",
            "meta": {
                "resourceType": "User",
                "created": "2024-01-01T00:00:00Z",
                "lastModified": "2024-01-01T00:00:00Z",
                "version": "W/\"1\""
            },
            "userName": "jane@contoso.com",
            "name": {"familyName": "Doe", "givenName": "Jane"},
            "displayName": "Jane Doe",
            "active": true,
            "emails": [
                {"value": "jane@contoso.com", "type": "work", "primary": true},
                {"value": "jane@home.example", "type": "home"}
            ],
            ENTERPRISE_URN: {"employeeNumber": "42", "department": "Sec", "manager": {"value": "m1"}}
        })
    }

    fn stored_group() -> Value {
        json!({
            "schemas": [GROUP_URN],
            "id": "g1",
            "displayName": "Sales",
            "meta": {"resourceType": "Group", "created": "2024-01-01T00:00:00Z"}
        })
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": ops})
    }

    fn run(
        doc: &Value,
        kind: ResourceKind,
        ops: Value,
    ) -> Result<(Value, PatchOutcome), PatchError> {
        let registry = Registry::default();
        let request = PatchRequest::parse(&body(ops), kind, &registry)?;
        let mut doc = doc.clone();
        let outcome = request.apply(&mut doc, kind, &registry)?;
        Ok((doc, outcome))
    }

    fn user_patch(ops: Value) -> Result<Value, PatchError> {
        run(&stored_user(), ResourceKind::User, ops).map(|(d, _)| d)
    }

    fn ext(attr: &str) -> String {
        format!("/{ENTERPRISE_URN}/{attr}")
    }

    /// Each row: operations, then JSON pointers with their expected value
    /// (`null` = absent).
    #[test]
    fn user_dialects() {
        let work = r#"emails[type eq "work"].value"#;
        let cases: Vec<(Value, Vec<(String, Value)>)> = vec![
            // Entra default dialect: disable with a string boolean.
            (
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
                vec![("/active".into(), json!(false))],
            ),
            // Entra compliant dialect.
            (
                json!([{"op": "replace", "path": "active", "value": false}]),
                vec![("/active".into(), json!(false))],
            ),
            // Okta path-less deactivate.
            (
                json!([{"op": "replace", "value": {"active": false}}]),
                vec![("/active".into(), json!(false))],
            ),
            // Entra default: one Replace per path, URN-qualified extension paths.
            (
                json!([
                    {"op": "Replace", "path": "name.givenName", "value": "K"},
                    {"op": "Replace", "path": format!("{ENTERPRISE_URN}:employeeNumber"), "value": "A"},
                    {"op": "Add", "path": "Title", "value": "CTO"}
                ]),
                vec![
                    ("/name/givenName".into(), json!("K")),
                    ("/name/familyName".into(), json!("Doe")),
                    (ext("employeeNumber"), json!("A")),
                    ("/title".into(), json!("CTO")),
                ],
            ),
            // Entra compliant: path-less with dotted and URN keys.
            (
                json!([{"op": "replace", "value": {
                    "name.givenName": "K",
                    format!("{ENTERPRISE_URN}:employeeNumber"): "A",
                    "title": "CTO"
                }}]),
                vec![
                    ("/name/givenName".into(), json!("K")),
                    ("/name/familyName".into(), json!("Doe")),
                    (ext("employeeNumber"), json!("A")),
                    ("/title".into(), json!("CTO")),
                ],
            ),
            // Replacing the work email leaves the home email alone.
            (
                json!([{"op": "Replace", "path": work, "value": "new@contoso.com"}]),
                vec![(
                    "/emails".into(),
                    json!([
                        {"value": "new@contoso.com", "type": "work", "primary": true},
                        {"value": "jane@home.example", "type": "home"}
                    ]),
                )],
            ),
            // No match: the element is created from the filter's equalities,
            // and several ops on it merge into one element.
            (
                json!([
                    {"op": "Add", "path": r#"addresses[type eq "work"].locality"#, "value": "Leeds"},
                    {"op": "Add", "path": r#"addresses[type eq "work"].region"#, "value": "Yorkshire"},
                    {"op": "replace", "path": r#"addresses[type eq "work"].country"#, "value": "GB"}
                ]),
                vec![(
                    "/addresses".into(),
                    json!([{"locality": "Leeds", "region": "Yorkshire", "country": "GB", "type": "work"}]),
                )],
            ),
            (
                json!([{"op": "Add", "path": r#"phoneNumbers[type eq "mobile"].value"#, "value": "+1 555"}]),
                vec![(
                    "/phoneNumbers".into(),
                    json!([{"value": "+1 555", "type": "mobile"}]),
                )],
            ),
            // Manager in its three forms, bare or URN-qualified path.
            (
                json!([{"op": "Replace", "path": "manager", "value": "boss@contoso.com"}]),
                vec![(ext("manager"), json!({"value": "boss@contoso.com"}))],
            ),
            (
                json!([{"op": "Add", "path": format!("{ENTERPRISE_URN}:manager"),
                        "value": [{"$ref": "https://x/Users/m3", "value": "m3"}]}]),
                vec![(ext("manager"), json!({"value": "m3"}))],
            ),
            (
                json!([{"op": "replace", "path": format!("{ENTERPRISE_URN}:manager"), "value": {"value": "m4"}}]),
                vec![(ext("manager"), json!({"value": "m4"}))],
            ),
            (
                json!([{"op": "Remove", "path": format!("{ENTERPRISE_URN}:manager")}]),
                vec![
                    (ext("manager"), Value::Null),
                    (ext("department"), json!("Sec")),
                ],
            ),
            (
                json!([{"op": "Replace", "path": format!("{ENTERPRISE_URN}:manager"), "value": ""}]),
                vec![(ext("manager"), Value::Null)],
            ),
            (
                json!([{"op": "Replace", "path": "manager", "value": {"value": ""}}]),
                vec![(ext("manager"), Value::Null)],
            ),
            (
                json!([{"op": "Replace", "path": "manager.value", "value": "m5"}]),
                vec![(ext("manager"), json!({"value": "m5"}))],
            ),
            // Remove by value array, by filter, a filtered sub-attribute.
            (
                json!([{"op": "Remove", "path": "emails", "value": [{"value": "JANE@home.example"}]}]),
                vec![(
                    "/emails".into(),
                    json!([{"value": "jane@contoso.com", "type": "work", "primary": true}]),
                )],
            ),
            (
                json!([{"op": "remove", "path": r#"emails[type eq "work"]"#}]),
                vec![(
                    "/emails".into(),
                    json!([{"value": "jane@home.example", "type": "home"}]),
                )],
            ),
            (
                json!([{"op": "remove", "path": work}]),
                vec![(
                    "/emails".into(),
                    json!([{"value": "jane@home.example", "type": "home"}]),
                )],
            ),
            // add appends without duplicates; a new primary clears the old.
            (
                json!([
                    {"op": "add", "path": "emails", "value": [{"value": "o@x", "type": "other", "primary": "true"}]},
                    {"op": "add", "path": "emails", "value": {"value": "o@x", "type": "other", "primary": true}}
                ]),
                vec![(
                    "/emails".into(),
                    json!([
                        {"value": "jane@contoso.com", "type": "work", "primary": false},
                        {"value": "jane@home.example", "type": "home"},
                        {"value": "o@x", "type": "other", "primary": true}
                    ]),
                )],
            ),
            (
                json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x", "type": "work"}]}]),
                vec![(
                    "/emails".into(),
                    json!([{"value": "only@x", "type": "work"}]),
                )],
            ),
            // Complex replace merges; null removes one sub-attribute.
            (
                json!([{"op": "replace", "path": "name", "value": {"givenName": "J", "familyName": null}}]),
                vec![("/name".into(), json!({"givenName": "J"}))],
            ),
            // Explicit null removes.
            (
                json!([{"op": "replace", "path": "displayName", "value": null}]),
                vec![("/displayName".into(), Value::Null)],
            ),
            // A bare extension URN path and an extension object in a path-less value.
            (
                json!([
                    {"op": "replace", "path": ENTERPRISE_URN, "value": {"department": "Ops"}},
                    {"op": "add", "value": {ENTERPRISE_URN: {"costCenter": "C1"}}}
                ]),
                vec![
                    (ext("department"), json!("Ops")),
                    (ext("costCenter"), json!("C1")),
                    (ext("employeeNumber"), json!("42")),
                ],
            ),
            (
                json!([{"op": "remove", "path": ENTERPRISE_URN}]),
                vec![
                    (format!("/{ENTERPRISE_URN}"), Value::Null),
                    ("/schemas".into(), json!([USER_URN])),
                ],
            ),
            // Custom extension under the vendor URN, URN absent from schemas.
            (
                json!([{"op": "add", "value": {DEFAULT_EXTENSION_URN: {"gender": "f"}}}]),
                vec![
                    (format!("/{DEFAULT_EXTENSION_URN}/gender"), json!("f")),
                    (
                        "/schemas".into(),
                        json!([USER_URN, ENTERPRISE_URN, DEFAULT_EXTENSION_URN]),
                    ),
                ],
            ),
            // RFC 7644 §3.5.2.3: replace a filtered element, then a sub-attribute.
            (
                json!([
                    {"op": "replace", "path": r#"emails[type eq "work"]"#, "value": {"type": "work", "value": "b@example.com"}},
                    {"op": "replace", "path": r#"emails[type eq "work"].display"#, "value": "Babs"}
                ]),
                vec![(
                    "/emails/0".into(),
                    json!({"value": "b@example.com", "display": "Babs", "type": "work"}),
                )],
            ),
            // RFC 7644 §3.5.2.3 path-less replace (attribute names in any case).
            (
                json!([{"op": "replace", "value": {"emails": [{"value": "bjensen@example.com", "type": "work"}], "nickname": "Babs"}}]),
                vec![
                    (
                        "/emails".into(),
                        json!([{"value": "bjensen@example.com", "type": "work"}]),
                    ),
                    ("/nickName".into(), json!("Babs")),
                ],
            ),
        ];
        for (ops, checks) in cases {
            let doc = user_patch(ops.clone()).unwrap_or_else(|e| panic!("{ops}: {e}"));
            for (pointer, want) in checks {
                assert_eq!(
                    doc.pointer(&pointer).unwrap_or(&Value::Null),
                    &want,
                    "{ops} {pointer}"
                );
            }
            assert_eq!(doc["id"], "u1");
            assert_eq!(doc["meta"], stored_user()["meta"]);
        }
    }

    #[test]
    fn path_less_equals_per_path() {
        let a = user_patch(json!([{"op": "replace", "value": {
            "name.givenName": "K",
            format!("{ENTERPRISE_URN}:employeeNumber"): "A"
        }}]))
        .unwrap();
        let b = user_patch(json!([
            {"op": "Replace", "path": "name.givenName", "value": "K"},
            {"op": "Replace", "path": format!("{ENTERPRISE_URN}:employeeNumber"), "value": "A"}
        ]))
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ignored_and_idempotent_ops_change_nothing() {
        let cases = [
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            json!([{"op": "replace", "path": "manager.displayName", "value": "Boss"}]),
            json!([{"op": "replace", "path": "password", "value": "secret"}]),
            json!([{"op": "remove", "path": "nickName"}]),
            json!([{"op": "remove", "path": r#"emails[type eq "other"]"#}]),
            json!([{"op": "remove", "path": "emails", "value": [{"value": "nobody@x"}]}]),
            json!([{"op": "replace", "path": "active", "value": "TRUE"}]),
            json!([]),
        ];
        for ops in cases {
            let (doc, outcome) = run(&stored_user(), ResourceKind::User, ops.clone()).unwrap();
            assert!(!outcome.changed, "{ops}");
            assert_eq!(doc, stored_user(), "{ops}");
        }
    }

    #[test]
    fn rejections() {
        let cases: Vec<(Value, ScimType)> = vec![
            (json!({"schemas": [PATCH_OP_URN]}), ScimType::InvalidSyntax),
            (
                json!({"schemas": ["urn:x"], "Operations": []}),
                ScimType::InvalidSyntax,
            ),
            (json!([]), ScimType::InvalidSyntax),
            (
                body(json!([{"op": "merge", "path": "title", "value": "x"}])),
                ScimType::InvalidSyntax,
            ),
            (body(json!(["add"])), ScimType::InvalidSyntax),
            (body(json!([{"op": "remove"}])), ScimType::NoTarget),
            (
                body(json!([{"op": "add", "path": "favouriteColour", "value": "x"}])),
                ScimType::InvalidPath,
            ),
            (
                body(json!([{"op": "add", "value": {"favouriteColour": "x"}}])),
                ScimType::InvalidPath,
            ),
            (
                body(json!([{"op": "add", "path": "name.nope", "value": "x"}])),
                ScimType::InvalidPath,
            ),
            (
                body(json!([{"op": "add", "path": "title[type eq \"x\"]", "value": "x"}])),
                ScimType::InvalidPath,
            ),
            (
                body(json!([{"op": "add", "path": "emails[type eq \"work\"", "value": "x"}])),
                ScimType::InvalidPath,
            ),
            (
                body(json!([{"op": "add", "path": "emails[type eq]", "value": "x"}])),
                ScimType::InvalidFilter,
            ),
            (
                body(json!([{"op": "add", "path": 7, "value": "x"}])),
                ScimType::InvalidPath,
            ),
            (
                body(json!([{"op": "add", "path": "title"}])),
                ScimType::InvalidValue,
            ),
            (
                body(json!([{"op": "add", "value": "x"}])),
                ScimType::InvalidValue,
            ),
            (
                body(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
                ScimType::InvalidValue,
            ),
            (
                body(json!([{"op": "remove", "path": "userName"}])),
                ScimType::InvalidValue,
            ),
            (
                body(
                    json!([{"op": "add", "path": "emails", "value": [{"value": "h2@x", "type": "home"}]}]),
                ),
                ScimType::InvalidValue,
            ),
            (
                body(json!([{"op": "add", "path": "emails", "value": [
                    {"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}
                ]}])),
                ScimType::InvalidValue,
            ),
        ];
        let registry = Registry::default();
        for (request, want) in cases {
            let got = PatchRequest::parse(&request, ResourceKind::User, &registry).and_then(|r| {
                let mut doc = stored_user();
                r.apply(&mut doc, ResourceKind::User, &registry)?;
                Ok(doc)
            });
            let err = ScimError::from(got.expect_err(&request.to_string()));
            assert_eq!(
                (err.status, err.scim_type),
                (400, Some(want)),
                "{request}: {}",
                err.detail
            );
        }
    }

    #[test]
    fn tolerant_envelope() {
        let registry = Registry::default();
        let body = json!({"OPERATIONS": [{"OP": "Replace", "Path": "displayName", "Value": "X"}]});
        let r = PatchRequest::parse(&body, ResourceKind::User, &registry).unwrap();
        let mut doc = stored_user();
        assert!(
            r.apply(&mut doc, ResourceKind::User, &registry)
                .unwrap()
                .changed
        );
        assert_eq!(doc["displayName"], "X");
    }

    #[test]
    fn atomic_on_failure() {
        let registry = Registry::default();
        let r = PatchRequest::parse(
            &body(json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "active", "value": "maybe"}
            ])),
            ResourceKind::User,
            &registry,
        )
        .unwrap();
        let mut doc = stored_user();
        assert!(r.apply(&mut doc, ResourceKind::User, &registry).is_err());
        assert_eq!(doc, stored_user());
    }

    #[test]
    fn rfc_add_example_on_user_without_home_email() {
        let mut user = stored_user();
        user["emails"] = json!([{"value": "jane@contoso.com", "type": "work"}]);
        let (doc, outcome) = run(
            &user,
            ResourceKind::User,
            json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}]),
        )
        .unwrap();
        assert!(outcome.changed);
        assert_eq!(
            doc["emails"],
            json!([{"value": "jane@contoso.com", "type": "work"}, {"value": "babs@jensen.org", "type": "home"}])
        );
        assert_eq!(doc["nickName"], "Babs");
    }

    #[test]
    fn group_members_become_changes() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let cases: Vec<(Value, Vec<MemberChange>)> = vec![
            (
                json!([{"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
                vec![MemberChange::Add(s(&["a", "b"]))],
            ),
            (
                json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}]}]),
                vec![MemberChange::Remove(s(&["a"]))],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
                vec![MemberChange::Remove(s(&["a"]))],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]),
                vec![MemberChange::Remove(s(&["a", "b"]))],
            ),
            (
                json!([{"op": "remove", "path": "members"}]),
                vec![MemberChange::RemoveAll],
            ),
            (
                json!([{"op": "replace", "path": "members", "value": [{"value": "c"}]}]),
                vec![MemberChange::ReplaceAll(s(&["c"]))],
            ),
            (
                json!([
                    {"op": "remove", "path": "members[value eq \"a\"]"},
                    {"op": "add", "path": "members", "value": [{"value": "b", "display": "B"}]}
                ]),
                vec![
                    MemberChange::Remove(s(&["a"])),
                    MemberChange::Add(s(&["b"])),
                ],
            ),
            (
                json!([{"op": "replace", "value": {"displayName": "Sales", "members": [{"value": "x"}]}}]),
                vec![MemberChange::ReplaceAll(s(&["x"]))],
            ),
            (
                json!([{"op": "add", "path": "members", "value": []}]),
                vec![],
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "A"}]),
                vec![],
            ),
        ];
        for (ops, want) in cases {
            let (doc, outcome) = run(&stored_group(), ResourceKind::Group, ops.clone()).unwrap();
            assert_eq!(outcome.members, want, "{ops}");
            assert!(!outcome.changed, "{ops}");
            assert_eq!(doc, stored_group());
        }
    }

    #[test]
    fn group_member_filter_and_errors() {
        let (_, outcome) = run(
            &stored_group(),
            ResourceKind::Group,
            json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
        )
        .unwrap();
        assert!(matches!(
            outcome.members.as_slice(),
            [MemberChange::RemoveWhere(_)]
        ));
        for (ops, want) in [
            (
                json!([{"op": "add", "path": "members", "value": [{"value": 7}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"a\"].value", "value": "b"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}]),
                ScimType::Mutability,
            ),
        ] {
            let err = ScimError::from(
                run(&stored_group(), ResourceKind::Group, ops.clone()).unwrap_err(),
            );
            assert_eq!(err.scim_type, Some(want), "{ops}");
        }
    }

    #[test]
    fn okta_group_rename_carrying_id() {
        for id in ["g1", "another"] {
            let (doc, outcome) = run(
                &stored_group(),
                ResourceKind::Group,
                json!([{"op": "replace", "value": {"id": id, "displayName": "Renamed"}}]),
            )
            .unwrap();
            assert!(outcome.changed);
            assert_eq!(doc["id"], "g1");
            assert_eq!(doc["displayName"], "Renamed");
        }
    }

    fn limit_of(result: Result<(Value, PatchOutcome), PatchError>) -> ScimError {
        let err = ScimError::from(result.expect_err("over a limit"));
        assert_eq!(err.scim_type, Some(ScimType::TooMany), "{}", err.detail);
        err
    }

    #[test]
    fn operations_are_limited() {
        let one = json!({"op": "add", "path": "roles", "value": [{"value": "r"}]});
        let at_limit = Value::Array(vec![one.clone(); MAX_PATCH_OPERATIONS]);
        let (doc, _) = run(&stored_user(), ResourceKind::User, at_limit).unwrap();
        assert_eq!(doc["roles"], json!([{"value": "r"}]));
        let over = Value::Array(vec![one; MAX_PATCH_OPERATIONS + 1]);
        let err = limit_of(run(&stored_user(), ResourceKind::User, over));
        assert!(
            err.detail.contains("operations per PATCH"),
            "{}",
            err.detail
        );
        // Path-less operations count once per attribute they set.
        let wide = json!({"op": "replace", "value": {"displayName": "x", "title": "y"}});
        let over = Value::Array(vec![wide; MAX_PATCH_OPERATIONS / 2 + 1]);
        limit_of(run(&stored_user(), ResourceKind::User, over));
    }

    #[test]
    fn values_are_limited_in_one_operation_and_in_the_result() {
        let roles = |from: usize, n: usize| -> Value {
            (from..from + n)
                .map(|i| json!({"value": format!("r{i}")}))
                .collect()
        };
        let (doc, _) = run(
            &stored_user(),
            ResourceKind::User,
            json!([{"op": "add", "path": "roles", "value": roles(0, MAX_VALUES)}]),
        )
        .unwrap();
        assert_eq!(doc["roles"].as_array().map(Vec::len), Some(MAX_VALUES));
        let err = limit_of(run(
            &stored_user(),
            ResourceKind::User,
            json!([{"op": "add", "path": "roles", "value": roles(0, MAX_VALUES + 1)}]),
        ));
        assert!(err.detail.contains("'roles'"), "{}", err.detail);
        assert!(
            err.detail.contains("values per multi-valued attribute"),
            "{}",
            err.detail
        );
        // One value at a time, past the limit: refused after the last op.
        let ops: Value = (0..=MAX_VALUES)
            .map(|i| json!({"op": "add", "path": "roles", "value": {"value": format!("r{i}")}}))
            .collect();
        limit_of(run(&stored_user(), ResourceKind::User, ops));
        // Many operations re-adding what is there stay one value each.
        let ops: Value = (0..MAX_PATCH_OPERATIONS)
            .map(|i| json!({"op": "add", "path": "roles", "value": roles(i % 3, 1)}))
            .collect();
        let (doc, _) = run(&stored_user(), ResourceKind::User, ops).unwrap();
        assert_eq!(doc["roles"], roles(0, 3));
        // Also on a user at the limit: repeats are not counted.
        let mut full = stored_user();
        full["roles"] = roles(0, MAX_VALUES);
        let ops: Value = (0..MAX_PATCH_OPERATIONS)
            .map(|i| json!({"op": "add", "path": "roles", "value": roles(i % MAX_VALUES, 1)}))
            .collect();
        let (doc, outcome) = run(&full, ResourceKind::User, ops).unwrap();
        assert!(!outcome.changed);
        assert_eq!(doc["roles"], roles(0, MAX_VALUES));
    }

    #[test]
    fn members_are_limited_across_operations() {
        let ids =
            |n: usize| -> Value { (0..n).map(|i| json!({"value": format!("u{i}")})).collect() };
        let half = MAX_MEMBERS_PER_REQUEST / 2;
        let (_, outcome) = run(
            &stored_group(),
            ResourceKind::Group,
            json!([
                {"op": "add", "path": "members", "value": ids(half)},
                {"op": "remove", "path": "members", "value": ids(half)}
            ]),
        )
        .unwrap();
        assert_eq!(outcome.members.len(), 2);
        let err = limit_of(run(
            &stored_group(),
            ResourceKind::Group,
            json!([
                {"op": "add", "path": "members", "value": ids(half)},
                {"op": "remove", "path": "members", "value": ids(half + 1)}
            ]),
        ));
        assert!(err.detail.contains("members per request"), "{}", err.detail);
    }

    /// Whether `selector` selects `item`, by scanning: the rule
    /// [`Selectors`] indexes.
    fn selects_by_scan(attr: &AttributeDef, selector: &Value, item: &Value) -> bool {
        let (Value::Object(s), Value::Object(i)) = (selector, item) else {
            return selector == item;
        };
        match (s.get("value"), i.get("value")) {
            (Some(Value::String(a)), Some(Value::String(b))) => {
                if attr.sub("value").is_some_and(|v| v.case_exact) {
                    a == b
                } else {
                    a.eq_ignore_ascii_case(b)
                }
            }
            (Some(a), b) => Some(a) == b,
            (None, _) => s.iter().all(|(k, v)| i.get(k) == Some(v)),
        }
    }

    fn arb_element() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            prop::sample::select(vec!["a@x", "A@X", "b@x", "work", "home"]).prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            (0i64..2).prop_map(Value::from),
        ];
        prop_oneof![
            4 => prop::collection::vec(
                (prop::sample::select(vec!["value", "type", "primary", "display"]), scalar.clone()),
                1..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            1 => scalar,
        ]
    }

    proptest! {
        #[test]
        fn indexed_selectors_equal_the_scan(
            selectors in prop::collection::vec(arb_element(), 0..6),
            items in prop::collection::vec(arb_element(), 0..8),
        ) {
            let registry = Registry::default();
            for name in ["emails", "roles", "members"] {
                let kind = if name == "members" { ResourceKind::Group } else { ResourceKind::User };
                let attr = registry.resolve(kind, None, name, None).unwrap().attr;
                let indexed = Selectors::new(attr, &selectors);
                for item in &items {
                    let scan = selectors.iter().any(|s| selects_by_scan(attr, s, item));
                    prop_assert_eq!(indexed.select(item), scan, "{} {}", name, item);
                }
            }
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z ]{0,6}".prop_map(Value::String),
            prop::sample::select(vec!["True", "false", "work", "home", "", "a@x"])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((arb_key(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "value",
                "type",
                "primary",
                "display",
                "givenName",
                "userName",
                "active",
                "emails",
                "members",
                "manager",
                "id",
                "name.givenName",
                "$ref",
                "schemas",
                "locality",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:vendor:2.0:User:gender",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z.:\\[\\]\" ]{0,12}",
        ]
    }

    fn arb_path() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            arb_key(),
            prop::sample::select(vec![
                r#"emails[type eq "work"].value"#,
                r#"emails[type eq "work"]"#,
                r#"emails[value eq "a@x" or type eq "home"].primary"#,
                r#"addresses[type eq "work"].locality"#,
                r#"members[value eq "a"]"#,
                r#"members[type eq "User"].value"#,
                "name.givenName",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "emails[",
                "emails[]].x",
            ])
            .prop_map(str::to_owned),
        ])
    }

    fn arb_op() -> impl Strategy<Value = Value> {
        (
            prop::sample::select(vec!["add", "Replace", "REMOVE", "move"]),
            arb_path(),
            prop::option::of(arb_json()),
        )
            .prop_map(|(op, path, value)| {
                let mut o = Map::new();
                o.insert("op".into(), op.into());
                if let Some(p) = path {
                    o.insert("path".into(), p.into());
                }
                if let Some(v) = value {
                    o.insert("value".into(), v);
                }
                Value::Object(o)
            })
    }

    proptest! {
        #[test]
        fn apply_never_panics(ops in prop::collection::vec(arb_op(), 0..5)) {
            let registry = Registry::default();
            for (kind, doc) in [(ResourceKind::User, stored_user()), (ResourceKind::Group, stored_group())] {
                if let Ok(r) = PatchRequest::parse(&body(Value::Array(ops.clone())), kind, &registry) {
                    let mut d = doc.clone();
                    match r.apply(&mut d, kind, &registry) {
                        Ok(_) => prop_assert!(d.is_object()),
                        Err(_) => prop_assert_eq!(&d, &doc),
                    }
                }
            }
        }

        #[test]
        fn add_then_remove_restores(value in "[a-z0-9@.]{1,12}", attr in prop::sample::select(vec!["emails", "roles", "entitlements", "phoneNumbers"])) {
            let value = format!("p-{value}");
            let added = user_patch(json!([{"op": "add", "path": attr, "value": [{"value": value}]}])).unwrap();
            prop_assert_ne!(&added, &stored_user());
            let (restored, _) = run(&added, ResourceKind::User, json!([{"op": "remove", "path": attr, "value": [{"value": value}]}])).unwrap();
            prop_assert_eq!(restored, stored_user());
        }

        #[test]
        fn path_less_replace_equals_per_path_ops(
            fields in prop::collection::vec((
                prop::sample::select(vec![
                    "displayName", "nickName", "title", "active", "name.givenName", "NAME.familyName",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "urn:ietf:params:scim:schemas:extension:vendor:2.0:User:grade",
                ]),
                arb_json(),
            ), 1..5)
        ) {
            let mut value = Map::new();
            for (k, v) in &fields {
                value.insert((*k).to_owned(), v.clone());
            }
            let per_path: Vec<Value> = value
                .iter()
                .map(|(k, v)| json!({"op": "replace", "path": k, "value": v}))
                .collect();
            let a = user_patch(json!([{"op": "replace", "value": value}]));
            let b = user_patch(Value::Array(per_path));
            prop_assert_eq!(a.ok(), b.ok());
        }
    }
}
