//! Attribute paths `attr`, `attr.sub`, `urn:...:attr[.sub]` (RFC 7644
//! §3.10), parsed once and resolved to canonical names.

use super::schema::{Registry, Resolved, ResourceKind};

/// Why a path could not be parsed or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("attribute path is empty")]
    Empty,
    #[error("malformed attribute path '{0}'")]
    Malformed(String),
    #[error("unknown attribute '{0}'")]
    Unknown(String),
}

/// An attribute reference with canonical names after [`AttrPath::resolve`].
/// `urn` is `Some` only for extension attributes (core attributes live at
/// the top level of a resource, so their URN carries no information).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn new(name: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub: None,
        }
    }

    pub fn with_sub(name: &str, sub: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub: Some(sub.to_owned()),
        }
    }

    pub fn in_extension(urn: &str, name: &str, sub: Option<&str>) -> Self {
        AttrPath {
            urn: Some(urn.to_owned()),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    /// Parses and resolves `text` for resource type `kind`: the schema URN
    /// prefix is matched against the registry, names are canonicalised.
    pub fn parse(text: &str, kind: ResourceKind, registry: &Registry) -> Result<Self, PathError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let (urn, rest) = if text.len() > 4 && has_urn_prefix(text) {
            let (schema, rest) = registry
                .split_urn(kind, text)
                .ok_or_else(|| PathError::Unknown(text.to_owned()))?;
            (Some(schema.id.clone()), rest)
        } else {
            (None, text)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            let mut chars = s.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(PathError::Malformed(text.to_owned()));
        }
        AttrPath {
            urn,
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
        .resolve(kind, registry)
    }

    /// Canonicalises the names against the registry.
    pub fn resolve(&self, kind: ResourceKind, registry: &Registry) -> Result<Self, PathError> {
        let resolved = self
            .definition(kind, registry)
            .ok_or_else(|| PathError::Unknown(self.to_string()))?;
        Ok(AttrPath {
            urn: resolved.extension_urn(kind, registry).map(str::to_owned),
            name: resolved.attr.name.clone(),
            sub: resolved.sub.map(|s| s.name.clone()),
        })
    }

    /// The definitions this path names, if any.
    pub fn definition<'r>(
        &self,
        kind: ResourceKind,
        registry: &'r Registry,
    ) -> Option<Resolved<'r>> {
        registry.resolve(kind, self.urn.as_deref(), &self.name, self.sub.as_deref())
    }

    /// The path without its sub-attribute.
    pub fn parent(&self) -> AttrPath {
        AttrPath {
            urn: self.urn.clone(),
            name: self.name.clone(),
            sub: None,
        }
    }
}

/// Whether `text` starts with `urn:` in any case; safe on any UTF-8 (the
/// fourth byte may fall inside a character).
pub(crate) fn has_urn_prefix(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case("urn:"))
}

/// The text parts of a value path `attr[filter]` or `attr[filter].sub`
/// (RFC 7644 §3.5.2), before resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValuePathText<'a> {
    pub attr: &'a str,
    pub filter: &'a str,
    pub sub: Option<&'a str>,
}

/// Cuts a value path into its parts; `Ok(None)` when `text` has no `[`. The
/// closing bracket is found outside quoted strings, so
/// `emails[value eq "a]b"]` splits right.
pub fn split_value_path(text: &str) -> Result<Option<ValuePathText<'_>>, PathError> {
    let Some(open) = text.find('[') else {
        return Ok(None);
    };
    let malformed = || PathError::Malformed(text.to_owned());
    let (mut in_string, mut escaped, mut close) = (false, false, None);
    for (i, c) in text[open + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => {
                close = Some(open + 1 + i);
                break;
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(malformed)?;
    let sub = match &text[close + 1..] {
        "" => None,
        rest => Some(
            rest.strip_prefix('.')
                .filter(|s| !s.is_empty())
                .ok_or_else(malformed)?,
        ),
    };
    Ok(Some(ValuePathText {
        attr: &text[..open],
        filter: &text[open + 1..close],
        sub,
    }))
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_URN, USER_URN};

    fn parse(text: &str) -> Result<AttrPath, PathError> {
        AttrPath::parse(text, ResourceKind::User, &Registry::default())
    }

    #[test]
    fn table() {
        let cases: &[(&str, Result<AttrPath, PathError>)] = &[
            ("userName", Ok(AttrPath::new("userName"))),
            ("USERNAME", Ok(AttrPath::new("userName"))),
            (
                "name.GivenName",
                Ok(AttrPath::with_sub("name", "givenName")),
            ),
            ("emails.value", Ok(AttrPath::with_sub("emails", "value"))),
            (
                "meta.lastModified",
                Ok(AttrPath::with_sub("meta", "lastModified")),
            ),
            (
                &format!("{USER_URN}:userName"),
                Ok(AttrPath::new("userName")),
            ),
            (
                &format!("{ENTERPRISE_URN}:manager.value"),
                Ok(AttrPath::in_extension(
                    ENTERPRISE_URN,
                    "manager",
                    Some("value"),
                )),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT",
                Ok(AttrPath::in_extension(ENTERPRISE_URN, "department", None)),
            ),
            ("", Err(PathError::Empty)),
            ("nope", Err(PathError::Unknown("nope".into()))),
            ("name.nope", Err(PathError::Unknown("name.nope".into()))),
            ("a b", Err(PathError::Malformed("a b".into()))),
            ("name.", Err(PathError::Malformed("name.".into()))),
            ("urn:x:y", Err(PathError::Unknown("urn:x:y".into()))),
            ("¥ꝯ𖼶", Err(PathError::Malformed("¥ꝯ𖼶".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(&parse(text), want, "{text}");
        }
    }

    #[test]
    fn splits_value_paths_outside_quotes() {
        let vp = |attr, filter, sub| Ok(Some(ValuePathText { attr, filter, sub }));
        let cases: &[(&str, Result<Option<ValuePathText>, PathError>)] = &[
            ("emails", Ok(None)),
            (
                r#"emails[type eq "work"]"#,
                vp("emails", r#"type eq "work""#, None),
            ),
            (
                r#"emails[type eq "work"].value"#,
                vp("emails", r#"type eq "work""#, Some("value")),
            ),
            (
                r#"members[value eq "a]\"b"]"#,
                vp("members", r#"value eq "a]\"b""#, None),
            ),
            (
                r#"emails[type eq "work""#,
                Err(PathError::Malformed(r#"emails[type eq "work""#.into())),
            ),
            ("emails[x].", Err(PathError::Malformed("emails[x].".into()))),
            ("emails[x]y", Err(PathError::Malformed("emails[x]y".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(&split_value_path(text), want, "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "userName",
            "name.givenName",
            &format!("{ENTERPRISE_URN}:manager.value"),
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }
}
