//! Recursive-descent parser for RFC 7644 §3.4.2.2 filters:
//!
//! ```text
//! filter  = and *("or" and)
//! and     = unary *("and" unary)
//! unary   = "not" unary / atom          ; "not (...)" is one level
//! atom    = "(" filter ")" / attrExp
//! attrExp = path "pr" / path op value
//!         / path "[" filter "]" ["." sub (op value / "pr")]
//! ```
//!
//! Recursion is bounded by [`MAX_DEPTH`], so no input overflows the stack.

use std::vec::IntoIter;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::lexer::{Token, TokenKind, column, tokenize};
use super::{CompValue, CompareOp, Filter, FilterError, MAX_DEPTH, MAX_FILTER_LEN, MAX_TERMS};
use crate::scim::path::{AttrPath, PathError, has_urn_prefix};
use crate::scim::schema::{AttrType, AttributeDef, Registry, ResourceKind};

/// Parses `text`; with `parent`, as the inside of `parent[...]`.
pub(super) fn parse(
    text: &str,
    kind: ResourceKind,
    registry: &Registry,
    parent: Option<&AttrPath>,
) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(FilterError::TooLong { len: text.len() });
    }
    let element = match parent {
        Some(path) => Some(Element::of(path, kind, registry)?),
        None => None,
    };
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(FilterError::Empty);
    }
    let mut parser = Parser {
        text,
        tokens: tokens.into_iter().peekable(),
        kind,
        registry,
        element,
        depth: 0,
        terms: 0,
    };
    let filter = parser.or()?;
    match parser.tokens.next() {
        None => Ok(filter),
        Some(token) => Err(parser.syntax(
            Some(&token),
            if parent.is_some() {
                "'and', 'or' or the end of the value filter"
            } else {
                "'and', 'or' or the end of the filter"
            },
        )),
    }
}

/// The complex attribute whose elements a value filter's paths refer to.
#[derive(Debug, Clone)]
struct Element<'r> {
    path: AttrPath,
    def: &'r AttributeDef,
}

impl<'r> Element<'r> {
    fn of(
        path: &AttrPath,
        kind: ResourceKind,
        registry: &'r Registry,
    ) -> Result<Self, FilterError> {
        let resolved = path
            .definition(kind, registry)
            .filter(|r| r.sub.is_none() && r.attr.ty == AttrType::Complex)
            .ok_or_else(|| FilterError::InvalidParent(path.to_string()))?;
        Ok(Element {
            path: path
                .resolve(kind, registry)
                .map_err(|_| FilterError::InvalidParent(path.to_string()))?,
            def: resolved.attr,
        })
    }
}

/// A resolved attribute operand: its canonical path, the definition the path
/// names, and how to name it in messages (with the value path's attribute).
struct Operand<'r> {
    path: AttrPath,
    def: &'r AttributeDef,
    label: String,
}

/// A literal as written, before it is fitted to the attribute's type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal<'a> {
    Quoted(String),
    /// An unquoted token that is no keyword or number: a string to clients
    /// that forget the quotes.
    Bare(&'a str),
    /// An unquoted JSON number, as written.
    Number(&'a str),
    Bool(bool),
    Null,
}

impl<'a> Literal<'a> {
    fn of_word(word: &'a str) -> Self {
        if word.eq_ignore_ascii_case("true") {
            Literal::Bool(true)
        } else if word.eq_ignore_ascii_case("false") {
            Literal::Bool(false)
        } else if word.eq_ignore_ascii_case("null") {
            Literal::Null
        } else if is_json_number(word) {
            Literal::Number(word)
        } else {
            Literal::Bare(word)
        }
    }

    /// The literal as a string, when it may stand for one.
    fn text(&self) -> Option<&str> {
        match self {
            Literal::Quoted(s) => Some(s),
            Literal::Bare(s) | Literal::Number(s) => Some(s),
            Literal::Bool(_) | Literal::Null => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Literal::Quoted(s) => CompValue::Str(s.clone()).to_string(),
            Literal::Bare(s) | Literal::Number(s) => (*s).to_owned(),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".to_owned(),
        }
    }
}

/// RFC 8259 number syntax: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

fn type_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Reference => "reference",
        AttrType::Binary => "binary",
        AttrType::Complex => "complex",
    }
}

/// Types whose values are JSON strings, so `co`/`sw`/`ew` apply.
fn is_string_like(ty: AttrType) -> bool {
    matches!(
        ty,
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime
    )
}

struct Parser<'t, 'r> {
    text: &'t str,
    tokens: std::iter::Peekable<IntoIter<Token<'t>>>,
    kind: ResourceKind,
    registry: &'r Registry,
    /// Inside `attr[...]`: the attribute whose sub-attributes paths name.
    element: Option<Element<'r>>,
    depth: usize,
    terms: usize,
}

impl<'t, 'r> Parser<'t, 'r> {
    fn column(&self, at: usize) -> usize {
        column(self.text, at)
    }

    /// Byte offset of the next token, or the end of the text.
    fn here(&mut self) -> usize {
        let end = self.text.len();
        self.tokens.peek().map_or(end, |t| t.start)
    }

    fn syntax(&self, found: Option<&Token<'_>>, expected: &'static str) -> FilterError {
        let (at, found) = match found {
            None => (self.text.len(), "the end of the filter".to_owned()),
            Some(token) => (
                token.start,
                match &token.kind {
                    TokenKind::LParen => "'('".to_owned(),
                    TokenKind::RParen => "')'".to_owned(),
                    TokenKind::LBracket => "'['".to_owned(),
                    TokenKind::RBracket => "']'".to_owned(),
                    TokenKind::Str(s) => format!("string {}", CompValue::Str(s.clone())),
                    TokenKind::Word(w) => format!("'{w}'"),
                },
            ),
        };
        FilterError::Syntax {
            column: self.column(at),
            expected,
            found,
        }
    }

    fn invalid(&self, at: usize, detail: String) -> FilterError {
        FilterError::Invalid {
            column: self.column(at),
            detail,
        }
    }

    /// Consumes the next token if it is the keyword `keyword` (any case).
    fn keyword(&mut self, keyword: &str) -> bool {
        self.tokens
            .next_if(|t| matches!(t.kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(keyword)))
            .is_some()
    }

    /// Consumes the next token, which must be `kind`.
    fn expect(&mut self, kind: &TokenKind<'_>, expected: &'static str) -> Result<(), FilterError> {
        match self.tokens.next() {
            Some(t) if &t.kind == kind => Ok(()),
            other => Err(self.syntax(other.as_ref(), expected)),
        }
    }

    /// Opens a nesting level at byte `at`.
    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::TooDeep {
                column: self.column(at),
            });
        }
        Ok(())
    }

    /// Counts one comparison starting at byte `at`.
    fn term(&mut self, at: usize) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(FilterError::TooManyTerms {
                column: self.column(at),
            });
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        let at = self.here();
        if !self.keyword("not") {
            return self.atom();
        }
        // `not (...)` is one level, as `not` alone is: the printed form
        // `not (x)` of either then nests no deeper than its source.
        let inner = if matches!(self.tokens.peek(), Some(t) if t.kind == TokenKind::LParen) {
            self.atom()?
        } else {
            self.enter(at)?;
            let inner = self.unary()?;
            self.depth -= 1;
            inner
        };
        Ok(Filter::Not(Box::new(inner)))
    }

    fn atom(&mut self) -> Result<Filter, FilterError> {
        match self.tokens.next() {
            Some(Token {
                kind: TokenKind::LParen,
                start,
            }) => {
                self.enter(start)?;
                let filter = self.or()?;
                self.expect(&TokenKind::RParen, "'and', 'or' or ')'")?;
                self.depth -= 1;
                Ok(filter)
            }
            Some(Token {
                kind: TokenKind::Word(word),
                start,
            }) => self.attr_expr(word, start),
            other => Err(self.syntax(other.as_ref(), "an attribute name, 'not' or '('")),
        }
    }

    /// `path pr`, `path op value` or `path[filter]...`, after `path`.
    fn attr_expr(&mut self, word: &'t str, at: usize) -> Result<Filter, FilterError> {
        let operand = self.operand(word, at)?;
        match self.tokens.peek() {
            Some(Token {
                kind: TokenKind::LBracket,
                start,
            }) => {
                let open = *start;
                self.value_path(operand, open)
            }
            _ => self.comparison(operand, at),
        }
    }

    /// Resolves `word` to a canonical path: a sub-attribute of the element
    /// inside `[...]`, otherwise an attribute of the resource type.
    fn operand(&self, word: &str, at: usize) -> Result<Operand<'r>, FilterError> {
        if let Some(element) = &self.element {
            let def = element
                .def
                .sub(word)
                .ok_or_else(|| FilterError::UnknownAttribute {
                    column: self.column(at),
                    path: format!("{}.{word}", element.path),
                })?;
            return Ok(Operand {
                path: AttrPath::new(&def.name),
                def,
                label: format!("{}.{}", element.path, def.name),
            });
        }
        let path = match AttrPath::parse(word, self.kind, self.registry) {
            Ok(path) => path,
            Err(PathError::Unknown(_)) => {
                self.in_one_extension(word)
                    .ok_or_else(|| FilterError::UnknownAttribute {
                        column: self.column(at),
                        path: word.to_owned(),
                    })?
            }
            Err(PathError::Malformed(_) | PathError::Empty) => {
                return Err(FilterError::Syntax {
                    column: self.column(at),
                    expected: "an attribute name, 'not' or '('",
                    found: format!("'{word}'"),
                });
            }
        };
        let resolved = path.definition(self.kind, self.registry).ok_or_else(|| {
            FilterError::UnknownAttribute {
                column: self.column(at),
                path: word.to_owned(),
            }
        })?;
        Ok(Operand {
            label: path.to_string(),
            def: resolved.sub.unwrap_or(resolved.attr),
            path,
        })
    }

    /// `name[.sub]` without URN, when exactly one extension schema of the
    /// resource type defines it (clients write `department` for the
    /// enterprise extension's attribute).
    fn in_one_extension(&self, word: &str) -> Option<AttrPath> {
        if has_urn_prefix(word) {
            return None;
        }
        let (name, sub) = match word.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (word, None),
        };
        let mut found = self
            .registry
            .extensions(self.kind)
            .into_iter()
            .filter_map(|schema| {
                AttrPath::in_extension(&schema.id, name, sub)
                    .resolve(self.kind, self.registry)
                    .ok()
            });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// `path[filter]`, optionally followed by Entra ID's `.sub op value`,
    /// which means the same as `path[filter and sub op value]`.
    fn value_path(&mut self, operand: Operand<'r>, open: usize) -> Result<Filter, FilterError> {
        if self.element.is_some() {
            return Err(self.invalid(open, "value filters cannot be nested".to_owned()));
        }
        if operand.path.sub.is_some() || operand.def.ty != AttrType::Complex {
            return Err(self.invalid(
                open,
                format!(
                    "'{}' is not a complex attribute and takes no value filter",
                    operand.label
                ),
            ));
        }
        self.tokens.next();
        self.enter(open)?;
        self.element = Some(Element {
            path: operand.path.clone(),
            def: operand.def,
        });
        let inner = self.or();
        self.element = None;
        let mut filter = inner?;
        self.expect(&TokenKind::RBracket, "'and', 'or' or ']'")?;
        let sub = self
            .tokens
            .next_if(|t| matches!(t.kind, TokenKind::Word(w) if w.starts_with('.')));
        if let Some(Token {
            kind: TokenKind::Word(word),
            start,
        }) = sub
        {
            // Printed as `attr[(a or b) and sub op value]`: one level more.
            if matches!(filter, Filter::Or(..)) && self.depth == MAX_DEPTH {
                return Err(FilterError::TooDeep {
                    column: self.column(open),
                });
            }
            let def = operand
                .def
                .sub(&word[1..])
                .ok_or_else(|| FilterError::UnknownAttribute {
                    column: self.column(start),
                    path: format!("{}{word}", operand.label),
                })?;
            let last = self.comparison(
                Operand {
                    path: AttrPath::new(&def.name),
                    def,
                    label: format!("{}.{}", operand.label, def.name),
                },
                start,
            )?;
            filter = Filter::And(Box::new(filter), Box::new(last));
        }
        self.depth -= 1;
        Ok(Filter::ValuePath {
            attr: operand.path,
            filter: Box::new(filter),
        })
    }

    /// `pr` or `op value` after the operand that starts at byte `at`.
    fn comparison(&mut self, operand: Operand<'r>, at: usize) -> Result<Filter, FilterError> {
        const EXPECTED: &str = "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
        let token = self.tokens.next();
        let word = match &token {
            Some(Token {
                kind: TokenKind::Word(w),
                ..
            }) => *w,
            _ => return Err(self.syntax(token.as_ref(), EXPECTED)),
        };
        if word.eq_ignore_ascii_case("pr") {
            self.term(at)?;
            return Ok(Filter::Present(operand.path));
        }
        let op = CompareOp::ALL
            .into_iter()
            .find(|op| word.eq_ignore_ascii_case(op.keyword()))
            .ok_or_else(|| self.syntax(token.as_ref(), EXPECTED))?;
        let (literal, value_at) = match self.tokens.next() {
            Some(Token {
                kind: TokenKind::Str(s),
                start,
            }) => (Literal::Quoted(s), start),
            Some(Token {
                kind: TokenKind::Word(w),
                start,
            }) => (Literal::of_word(w), start),
            other => {
                return Err(self.syntax(
                    other.as_ref(),
                    "a value (string, number, true, false or null)",
                ));
            }
        };
        let value = self.fit(&operand, op, literal, value_at)?;
        self.term(at)?;
        Ok(Filter::Compare {
            path: operand.path,
            op,
            value,
        })
    }

    /// Checks `op` against the operand's type and turns the literal into the
    /// value the attribute holds: unquoted words and numbers become strings
    /// for string attributes, `"true"`/`"false"` booleans for booleans.
    fn fit(
        &self,
        operand: &Operand<'_>,
        op: CompareOp,
        literal: Literal<'_>,
        at: usize,
    ) -> Result<CompValue, FilterError> {
        let label = &operand.label;
        let target = operand.def;
        if op.is_ordering()
            && matches!(
                target.ty,
                AttrType::Boolean | AttrType::Binary | AttrType::Complex
            )
        {
            return Err(self.invalid(
                at,
                format!(
                    "'{op}' cannot order the {} attribute '{label}'",
                    type_name(target.ty)
                ),
            ));
        }
        // `eq null` / `ne null` test presence, which every attribute has.
        if literal == Literal::Null {
            return match op {
                CompareOp::Eq | CompareOp::Ne => Ok(CompValue::Null),
                _ => Err(self.invalid(
                    at,
                    format!("null can only be compared with 'eq' or 'ne', not '{op}'"),
                )),
            };
        }
        // A complex attribute is compared through its `value` (`emails co
        // "@x"` tests each email's value).
        let leaf = match target.ty {
            AttrType::Complex => target.sub("value").ok_or_else(|| {
                self.invalid(
                    at,
                    format!("the complex attribute '{label}' has no value; compare one of its sub-attributes"),
                )
            })?,
            _ => target,
        };
        if op.is_substring() && !is_string_like(leaf.ty) {
            return Err(self.invalid(
                at,
                format!(
                    "'{op}' needs a string attribute; '{label}' is {}",
                    type_name(leaf.ty)
                ),
            ));
        }
        let mismatch = |wanted: &str| {
            self.invalid(
                at,
                format!(
                    "'{label}' is {} and compares with {wanted}, not {}",
                    type_name(leaf.ty),
                    literal.describe()
                ),
            )
        };
        match leaf.ty {
            AttrType::Boolean => match &literal {
                Literal::Bool(b) => Ok(CompValue::Bool(*b)),
                Literal::Quoted(s) if s.eq_ignore_ascii_case("true") => Ok(CompValue::Bool(true)),
                Literal::Quoted(s) if s.eq_ignore_ascii_case("false") => Ok(CompValue::Bool(false)),
                _ => Err(mismatch("true or false")),
            },
            AttrType::Integer | AttrType::Decimal => match literal {
                Literal::Number(n) => n
                    .parse()
                    .map(CompValue::Number)
                    .map_err(|_| self.invalid(at, format!("number {n} is out of range"))),
                _ => Err(mismatch("a number")),
            },
            AttrType::DateTime => {
                let text = literal
                    .text()
                    .ok_or_else(|| mismatch("a date and time string"))?;
                if !op.is_substring() && OffsetDateTime::parse(text, &Rfc3339).is_err() {
                    return Err(self.invalid(
                        at,
                        format!(
                            "'{label}' is a dateTime and {} is not an RFC 3339 date and time such as \"2011-05-13T04:42:34Z\"",
                            literal.describe()
                        ),
                    ));
                }
                Ok(CompValue::Str(text.to_owned()))
            }
            AttrType::String | AttrType::Reference | AttrType::Binary => literal
                .text()
                .map(|s| CompValue::Str(s.to_owned()))
                .ok_or_else(|| mismatch("a string")),
            AttrType::Complex => Err(mismatch("a sub-attribute's value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_unquoted_words() {
        let cases: &[(&str, Literal)] = &[
            ("true", Literal::Bool(true)),
            ("TRUE", Literal::Bool(true)),
            ("False", Literal::Bool(false)),
            ("null", Literal::Null),
            ("NULL", Literal::Null),
            ("0", Literal::Number("0")),
            ("42", Literal::Number("42")),
            ("-7", Literal::Number("-7")),
            ("3.25", Literal::Number("3.25")),
            ("-0.5", Literal::Number("-0.5")),
            ("1e5", Literal::Number("1e5")),
            ("2.5E-3", Literal::Number("2.5E-3")),
            ("6e+2", Literal::Number("6e+2")),
            ("01", Literal::Bare("01")),
            ("1.", Literal::Bare("1.")),
            (".5", Literal::Bare(".5")),
            ("-", Literal::Bare("-")),
            ("1e", Literal::Bare("1e")),
            ("1e+", Literal::Bare("1e+")),
            ("+1", Literal::Bare("+1")),
            ("0x10", Literal::Bare("0x10")),
            ("truex", Literal::Bare("truex")),
            ("jyoung", Literal::Bare("jyoung")),
            ("alice@example.com", Literal::Bare("alice@example.com")),
        ];
        for (word, want) in cases {
            assert_eq!(&Literal::of_word(word), want, "{word}");
        }
    }

    /// No attribute of the default schemas is numeric, so numeric typing is
    /// checked on stand-alone definitions.
    #[test]
    fn fits_numbers_to_numeric_attributes() {
        let registry = Registry::default();
        let parser = Parser {
            text: "",
            tokens: Vec::new().into_iter().peekable(),
            kind: ResourceKind::User,
            registry: &registry,
            element: None,
            depth: 0,
            terms: 0,
        };
        let fit = |ty, op, literal| {
            let def = AttributeDef::new("n", ty, "test");
            let operand = Operand {
                path: AttrPath::new("n"),
                def: &def,
                label: "n".to_owned(),
            };
            parser.fit(&operand, op, literal, 0)
        };
        let number = |text: &str| Ok(CompValue::Number(text.parse().unwrap()));
        assert_eq!(
            fit(AttrType::Integer, CompareOp::Gt, Literal::Number("5")),
            number("5")
        );
        assert_eq!(
            fit(AttrType::Integer, CompareOp::Eq, Literal::Number("-7")),
            number("-7")
        );
        assert_eq!(
            fit(AttrType::Decimal, CompareOp::Le, Literal::Number("-1.5e3")),
            number("-1500.0")
        );
        assert_eq!(
            fit(AttrType::Decimal, CompareOp::Ne, Literal::Null),
            Ok(CompValue::Null)
        );
        let invalid = |detail: &str| {
            Err(FilterError::Invalid {
                column: 1,
                detail: detail.to_owned(),
            })
        };
        assert_eq!(
            fit(
                AttrType::Integer,
                CompareOp::Eq,
                Literal::Quoted("5".into())
            ),
            invalid("'n' is integer and compares with a number, not \"5\"")
        );
        assert_eq!(
            fit(AttrType::Decimal, CompareOp::Eq, Literal::Number("1e999")),
            invalid("number 1e999 is out of range")
        );
        assert_eq!(
            fit(AttrType::Integer, CompareOp::Co, Literal::Number("1")),
            invalid("'co' needs a string attribute; 'n' is integer")
        );
    }
}
