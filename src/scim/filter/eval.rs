//! Evaluation of a filter against a resource or one element of a complex
//! attribute.
//!
//! Semantics (RFC 7644 §3.4.2.2, made precise where the RFC is not):
//! - strings compare case-insensitively unless the attribute is `caseExact`;
//!   `gt`/`lt`/... order them by code point after that folding;
//! - dateTimes compare as instants (RFC 3339), whatever their offsets;
//!   `co`/`sw`/`ew` on them compare text;
//! - numbers compare numerically, booleans by equality;
//! - a multi-valued attribute matches when any element does; without a
//!   sub-attribute, a comparison on a complex attribute tests each element's
//!   `value`;
//! - `ne` is the negation of `eq`: true for an absent attribute, and for a
//!   multi-valued one when no element is equal;
//! - `pr` is false for absent, `null`, `""`, `[]` and `{}`; `eq null` is
//!   "not present", `ne null` is "present";
//! - values of the wrong JSON type never match; nothing panics.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, AttributeDef, Registry, ResourceKind};

/// What the paths of a filter are resolved against: a resource type, or the
/// elements of one complex attribute (inside `attr[...]`).
pub(super) struct Scope<'r> {
    kind: ResourceKind,
    registry: &'r Registry,
    element_of: Option<&'r AttributeDef>,
}

/// The JSON value an attribute path names, with the definitions needed to
/// interpret it.
struct Target<'r, 'v> {
    attr: &'r AttributeDef,
    sub: Option<&'r AttributeDef>,
    value: &'v Value,
}

impl<'r> Scope<'r> {
    pub(super) fn resource(kind: ResourceKind, registry: &'r Registry) -> Self {
        Scope {
            kind,
            registry,
            element_of: None,
        }
    }

    /// The scope of `parent`'s elements; `None` unless `parent` is complex.
    pub(super) fn element(
        parent: &AttrPath,
        kind: ResourceKind,
        registry: &'r Registry,
    ) -> Option<Self> {
        let resolved = parent.definition(kind, registry)?;
        let def = resolved.sub.unwrap_or(resolved.attr);
        (def.ty == AttrType::Complex).then_some(Scope {
            kind,
            registry,
            element_of: Some(def),
        })
    }

    pub(super) fn eval(&self, filter: &Filter, root: &Value) -> bool {
        match filter {
            Filter::And(a, b) => self.eval(a, root) && self.eval(b, root),
            Filter::Or(a, b) => self.eval(a, root) || self.eval(b, root),
            Filter::Not(inner) => !self.eval(inner, root),
            Filter::Present(path) => self.present(path, root),
            Filter::Compare {
                path,
                op,
                value: CompValue::Null,
            } => match op {
                CompareOp::Eq => !self.present(path, root),
                CompareOp::Ne => self.present(path, root),
                _ => false,
            },
            Filter::Compare {
                path,
                op: CompareOp::Ne,
                value,
            } => !self.compare(path, CompareOp::Eq, value, root),
            Filter::Compare { path, op, value } => self.compare(path, *op, value, root),
            Filter::ValuePath { attr, filter } => {
                let Some(target) = self.lookup(attr, root) else {
                    return false;
                };
                let scope = Scope {
                    element_of: Some(target.attr),
                    ..*self
                };
                elements(target.value)
                    .iter()
                    .any(|e| e.is_object() && scope.eval(filter, e))
            }
        }
    }

    /// Finds the value `path` names in `root`; `None` when it is absent or
    /// the path is unknown in this scope.
    fn lookup<'v>(&self, path: &AttrPath, root: &'v Value) -> Option<Target<'r, 'v>> {
        let (container, attr, sub) = match self.element_of {
            Some(parent) => {
                let attr = parent.sub(&path.name)?;
                let sub = match &path.sub {
                    Some(s) => Some(attr.sub(s)?),
                    None => None,
                };
                (root, attr, sub)
            }
            None => {
                let resolved = self.registry.resolve(
                    self.kind,
                    path.urn.as_deref(),
                    &path.name,
                    path.sub.as_deref(),
                )?;
                let container = match resolved.extension_urn(self.kind, self.registry) {
                    Some(urn) => root.get(urn)?,
                    None => root,
                };
                (container, resolved.attr, resolved.sub)
            }
        };
        Some(Target {
            attr,
            sub,
            value: container.get(&attr.name)?,
        })
    }

    fn present(&self, path: &AttrPath, root: &Value) -> bool {
        self.lookup(path, root)
            .is_some_and(|t| t.any(false, |_, v| is_present(v)))
    }

    fn compare(&self, path: &AttrPath, op: CompareOp, literal: &CompValue, root: &Value) -> bool {
        self.lookup(path, root)
            .is_some_and(|t| t.any(true, |leaf, v| compare(leaf, op, literal, v)))
    }
}

/// The elements of a multi-valued attribute; a singular value is its own
/// only element.
fn elements(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

impl Target<'_, '_> {
    /// Whether `test` holds for some leaf value: each element's
    /// sub-attribute, or with `through_value` each complex element's
    /// `value`, or each element itself.
    fn any(
        &self,
        through_value: bool,
        mut test: impl FnMut(&AttributeDef, &Value) -> bool,
    ) -> bool {
        elements(self.value).iter().any(|element| {
            let leaf = match (self.sub, self.attr.ty) {
                (Some(sub), _) => Some((sub, element.get(&sub.name))),
                (None, AttrType::Complex) if through_value => self
                    .attr
                    .sub("value")
                    .map(|def| (def, element.get(&def.name))),
                (None, _) => Some((self.attr, Some(element))),
            };
            matches!(leaf, Some((def, Some(v))) if test(def, v))
        })
    }
}

/// RFC 7644 §3.4.2.2 `pr`: a value that is neither null nor empty.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `value op literal` for one leaf value of the attribute `def`.
fn compare(def: &AttributeDef, op: CompareOp, literal: &CompValue, value: &Value) -> bool {
    match (literal, value) {
        (CompValue::Str(lit), Value::String(s))
            if def.ty == AttrType::DateTime && !op.is_substring() =>
        {
            match (instant(s), instant(lit)) {
                (Some(a), Some(b)) => ordered(op, a.cmp(&b)),
                _ => false,
            }
        }
        (CompValue::Str(lit), Value::String(s)) => {
            let (s, lit) = (fold(s, def.case_exact), fold(lit, def.case_exact));
            match op {
                CompareOp::Co => s.contains(lit.as_ref()),
                CompareOp::Sw => s.starts_with(lit.as_ref()),
                CompareOp::Ew => s.ends_with(lit.as_ref()),
                _ => ordered(op, s.cmp(&lit)),
            }
        }
        (CompValue::Number(lit), Value::Number(n)) => {
            number_cmp(n, lit).is_some_and(|o| ordered(op, o))
        }
        (CompValue::Bool(lit), Value::Bool(b)) => op == CompareOp::Eq && b == lit,
        _ => false,
    }
}

/// Whether `op` accepts a value that orders `ordering` against the literal.
fn ordered(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// `s` lower-cased unless the attribute is case-exact; borrowed when that
/// changes nothing (the common case).
fn fold(s: &str, case_exact: bool) -> Cow<'_, str> {
    if case_exact || !s.chars().any(char::is_uppercase) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Exact for integers, `f64` otherwise.
fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}
