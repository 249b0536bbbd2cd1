//! The part of a filter a store can answer by key lookup.

use super::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{ENTERPRISE_URN, ResourceKind};

/// An equality on a keyed attribute: every resource matching the filter has
/// this value, so a store fetches the candidates by key and then runs
/// [`Filter::matches`] on them. The value is as written in the filter; the
/// store applies the attribute's case rule (`userName`, `displayName`,
/// `emails.value` and `manager.value` are case-insensitive; `id`,
/// `externalId` and `members.value` are case-exact).
///
/// Variants are ordered from the most to the least selective.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndexTerm {
    /// `id eq` (Users and Groups).
    Id(String),
    /// `userName eq` (Users).
    UserName(String),
    /// `externalId eq` (Users and Groups).
    ExternalId(String),
    /// `emails.value eq`, `emails[value eq ...]` (Users).
    EmailValue(String),
    /// `displayName eq` (Groups: unique there, not on Users).
    DisplayName(String),
    /// `members.value eq`, `members[value eq ...]` (Groups).
    MemberValue(String),
    /// The enterprise extension's `manager.value eq` (Users).
    ManagerValue(String),
}

impl IndexTerm {
    /// The value to look up.
    pub fn value(&self) -> &str {
        match self {
            IndexTerm::Id(v)
            | IndexTerm::UserName(v)
            | IndexTerm::ExternalId(v)
            | IndexTerm::EmailValue(v)
            | IndexTerm::DisplayName(v)
            | IndexTerm::MemberValue(v)
            | IndexTerm::ManagerValue(v) => v,
        }
    }

    /// Rank by selectivity: the variant's position.
    fn rank(&self) -> u8 {
        match self {
            IndexTerm::Id(_) => 0,
            IndexTerm::UserName(_) => 1,
            IndexTerm::ExternalId(_) => 2,
            IndexTerm::EmailValue(_) => 3,
            IndexTerm::DisplayName(_) => 4,
            IndexTerm::MemberValue(_) => 5,
            IndexTerm::ManagerValue(_) => 6,
        }
    }
}

/// The more selective of two terms (the left one on a tie).
fn best(a: Option<IndexTerm>, b: Option<IndexTerm>) -> Option<IndexTerm> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.rank() < a.rank() { b } else { a }),
        (a, b) => a.or(b),
    }
}

impl Filter {
    /// Whether the filter reads the core attribute `name` anywhere (top
    /// level, in a value path, under `and`/`or`/`not`).
    pub fn mentions(&self, name: &str) -> bool {
        match self {
            Filter::Compare { path, .. } | Filter::Present(path) => {
                path.urn.is_none() && path.name == name
            }
            Filter::ValuePath { attr, .. } => attr.urn.is_none() && attr.name == name,
            Filter::And(a, b) | Filter::Or(a, b) => a.mentions(name) || b.mentions(name),
            Filter::Not(f) => f.mentions(name),
        }
    }

    /// The most selective key lookup that every match of this filter (parsed
    /// for `kind`) satisfies: `eq` on a keyed attribute, directly, inside a
    /// value path, or on either side of an `and`. `None` for `or`, `not` and
    /// other operators, which need a scan.
    pub fn index_term(&self, kind: ResourceKind) -> Option<IndexTerm> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::Str(v),
            } => term(kind, path, v),
            Filter::And(a, b) => best(a.index_term(kind), b.index_term(kind)),
            Filter::ValuePath { attr, filter } => element_term(kind, attr, filter),
            _ => None,
        }
    }
}

/// The term of `path eq value`, if `path` is keyed for `kind`. A complex
/// attribute without sub-attribute compares its `value`.
fn term(kind: ResourceKind, path: &AttrPath, value: &str) -> Option<IndexTerm> {
    let value = value.to_owned();
    let sub = path.sub.as_deref();
    Some(match (kind, path.urn.as_deref(), path.name.as_str(), sub) {
        (_, None, "id", None) => IndexTerm::Id(value),
        (ResourceKind::User, None, "userName", None) => IndexTerm::UserName(value),
        (_, None, "externalId", None) => IndexTerm::ExternalId(value),
        (ResourceKind::User, None, "emails", None | Some("value")) => IndexTerm::EmailValue(value),
        (ResourceKind::Group, None, "displayName", None) => IndexTerm::DisplayName(value),
        (ResourceKind::Group, None, "members", None | Some("value")) => {
            IndexTerm::MemberValue(value)
        }
        (ResourceKind::User, Some(ENTERPRISE_URN), "manager", None | Some("value")) => {
            IndexTerm::ManagerValue(value)
        }
        _ => return None,
    })
}

/// The term of `attr[filter]`: an `eq` on a keyed sub-attribute of `attr`.
fn element_term(kind: ResourceKind, attr: &AttrPath, filter: &Filter) -> Option<IndexTerm> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(v),
        } if path.sub.is_none() => term(
            kind,
            &AttrPath {
                sub: Some(path.name.clone()),
                ..attr.clone()
            },
            v,
        ),
        Filter::And(a, b) => best(element_term(kind, attr, a), element_term(kind, attr, b)),
        _ => None,
    }
}
