//! SCIM filters (RFC 7644 §3.4.2.2): parsed once into a typed AST whose
//! attribute paths are canonical and whose literals match the attribute
//! types, then evaluated against resources, printed back as canonical text,
//! and reduced to an [`IndexTerm`] a store can look up by key.
//!
//! The parser accepts the full RFC grammar plus what identity providers
//! really send where the meaning is unambiguous: Entra ID's
//! `emails[type eq "work"].value eq "x"`, unquoted values
//! (`externalId eq jyoung`), booleans as strings (`active eq "True"`), any
//! whitespace, and extension attributes without their URN when exactly one
//! extension defines them.

mod eval;
mod index;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

pub use index::IndexTerm;

use super::path::AttrPath;
use super::schema::{Registry, ResourceKind};

/// Longest filter text accepted, in bytes: real filters are far shorter, and
/// the bound keeps parsing cost and error messages small.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting accepted: each `(`, `[` and `not` opens one level. Bounds
/// the parser's recursion so hostile input fails instead of overflowing the
/// stack.
pub const MAX_DEPTH: usize = 32;

/// Most comparisons (`attr op value` and `attr pr`) in one filter: bounds the
/// cost of evaluating a filter against every candidate resource.
pub const MAX_TERMS: usize = 64;

/// A parsed filter. Paths are canonical (as [`AttrPath::resolve`] makes
/// them); inside [`Filter::ValuePath`] they name a sub-attribute of the
/// value path's attribute (`AttrPath::new("type")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// Both hold; `a and b and c` nests to the left.
    And(Box<Filter>, Box<Filter>),
    /// Either holds; `a or b or c` nests to the left.
    Or(Box<Filter>, Box<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the complex attribute `attr` matches
    /// `filter`, whose paths are relative to that element.
    ValuePath { attr: AttrPath, filter: Box<Filter> },
}

/// Comparison operators of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's keyword as printed (operators parse case-insensitively).
    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// `gt`, `ge`, `lt`, `le`: meaningless on booleans, binaries and complex
    /// attributes.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw`, `ew`: defined on string-like attributes only.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A comparison literal. After parsing, its kind fits the attribute: strings
/// (dateTimes included) for string-like attributes, booleans for booleans,
/// numbers for integers and decimals; `Null` only with `eq`/`ne`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    /// A string, dateTime or reference, unescaped.
    Str(String),
    /// A number, for integer and decimal attributes.
    Number(serde_json::Number),
    /// A boolean, for boolean attributes.
    Bool(bool),
    /// `null`: `eq null` means "not present", `ne null` "present".
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// Why a filter was rejected; every variant becomes a 400 `invalidFilter`.
/// Columns count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Nothing but whitespace.
    #[error("filter is empty")]
    Empty,
    /// Longer than [`MAX_FILTER_LEN`].
    #[error("filter is {len} bytes long; at most {MAX_FILTER_LEN} are allowed")]
    TooLong { len: usize },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("filter nests deeper than {MAX_DEPTH} levels at column {column}")]
    TooDeep { column: usize },
    /// More comparisons than [`MAX_TERMS`].
    #[error("filter has more than {MAX_TERMS} comparisons at column {column}")]
    TooManyTerms { column: usize },
    /// The grammar wanted `expected` where the text has `found`.
    #[error("expected {expected} at column {column}, found {found}")]
    Syntax {
        column: usize,
        expected: &'static str,
        found: String,
    },
    /// An unterminated string or a bad escape.
    #[error("invalid string literal at column {column}: {reason}")]
    InvalidString { column: usize, reason: &'static str },
    /// No schema of the resource type defines the attribute.
    #[error("unknown attribute '{path}' at column {column}")]
    UnknownAttribute { column: usize, path: String },
    /// Well-formed but meaningless: an operator or literal that does not fit
    /// the attribute's type, a value filter on a simple attribute, ...
    #[error("{detail} at column {column}")]
    Invalid { column: usize, detail: String },
    /// [`Filter::parse_value_filter`] was given a parent that is not a
    /// complex attribute.
    #[error("'{0}' is not a complex attribute and takes no value filter")]
    InvalidParent(String),
}

impl Filter {
    /// Parses `text` for resource type `kind`: names resolved to canonical
    /// paths, literals checked against the attribute types.
    ///
    /// The canonical text printed by `Display` parses back to an equal
    /// filter whenever it fits [`MAX_FILTER_LEN`] (printing may add quotes
    /// around unquoted values and escape control characters).
    ///
    /// ```
    /// use scim_serverless::scim::filter::{Filter, IndexTerm};
    /// use scim_serverless::scim::schema::{Registry, ResourceKind};
    ///
    /// let registry = Registry::default();
    /// // What Entra ID sends to match a user: attribute names in any case.
    /// let filter = Filter::parse(r#"UserName eq "Bjensen@example.com""#, ResourceKind::User, &registry)?;
    /// assert_eq!(filter.to_string(), r#"userName eq "Bjensen@example.com""#);
    /// assert_eq!(
    ///     filter.index_term(ResourceKind::User),
    ///     Some(IndexTerm::UserName("Bjensen@example.com".into()))
    /// );
    /// let user = serde_json::json!({"userName": "bjensen@EXAMPLE.com"});
    /// assert!(filter.matches(&user, ResourceKind::User, &registry));
    /// # Ok::<(), scim_serverless::scim::filter::FilterError>(())
    /// ```
    pub fn parse(text: &str, kind: ResourceKind, registry: &Registry) -> Result<Self, FilterError> {
        parser::parse(text, kind, registry, None)
    }

    /// Parses the inside of `parent[...]` (PATCH paths such as
    /// `emails[type eq "work"]`): paths name sub-attributes of the complex
    /// attribute `parent`, as inside a [`Filter::ValuePath`].
    pub fn parse_value_filter(
        text: &str,
        kind: ResourceKind,
        registry: &Registry,
        parent: &AttrPath,
    ) -> Result<Self, FilterError> {
        parser::parse(text, kind, registry, Some(parent))
    }

    /// Whether the resource (a JSON object with canonical attribute names,
    /// extension attributes inside an object keyed by the extension URN)
    /// matches: strings compare case-insensitively unless `caseExact`,
    /// dateTimes as instants, numbers numerically; a multi-valued attribute
    /// matches when any element does; `ne` is the negation of `eq` (so true
    /// on an absent attribute); `pr` is false for absent, null and empty
    /// values, and `eq null` means "not present". Never panics, whatever the
    /// JSON.
    pub fn matches(&self, resource: &Value, kind: ResourceKind, registry: &Registry) -> bool {
        eval::Scope::resource(kind, registry).eval(self, resource)
    }

    /// Whether one element of the complex attribute `parent` matches a filter
    /// from [`Filter::parse_value_filter`] (PATCH uses it to pick targets).
    /// False when `parent` is not a complex attribute.
    pub fn matches_element(
        &self,
        element: &Value,
        parent: &AttrPath,
        kind: ResourceKind,
        registry: &Registry,
    ) -> bool {
        eval::Scope::element(parent, kind, registry).is_some_and(|scope| scope.eval(self, element))
    }

    /// Binding strength, for printing only the parentheses that matter.
    fn precedence(&self) -> Precedence {
        match self {
            Filter::Or(..) => Precedence::Or,
            Filter::And(..) => Precedence::And,
            _ => Precedence::Atom,
        }
    }

    /// Prints `self`, parenthesised if it binds looser than `min`.
    fn write(&self, f: &mut fmt::Formatter<'_>, min: Precedence) -> fmt::Result {
        let paren = self.precedence() < min;
        if paren {
            f.write_str("(")?;
        }
        match self {
            // Both operators associate to the left, as the parser builds
            // them, so a right operand of equal strength needs parentheses.
            Filter::Or(a, b) => {
                a.write(f, Precedence::Or)?;
                f.write_str(" or ")?;
                b.write(f, Precedence::And)?;
            }
            Filter::And(a, b) => {
                a.write(f, Precedence::And)?;
                f.write_str(" and ")?;
                b.write(f, Precedence::Atom)?;
            }
            Filter::Not(inner) => {
                f.write_str("not (")?;
                inner.write(f, Precedence::Or)?;
                f.write_str(")")?;
            }
            Filter::Present(path) => write!(f, "{path} pr")?,
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}")?,
            Filter::ValuePath { attr, filter } => {
                write!(f, "{attr}[")?;
                filter.write(f, Precedence::Or)?;
                f.write_str("]")?;
            }
        }
        if paren {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// How tightly a node binds: `or` < `and` < everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    Or,
    And,
    Atom,
}

/// Canonical text: lower-case keywords, canonical paths, JSON-quoted
/// strings, single spaces, parentheses only where precedence needs them.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, Precedence::Or)
    }
}
