//! Attribute definitions (RFC 7643 §2.2, §7): the single description of every
//! attribute that drives validation, filtering, PATCH, projection and `/Schemas`.

use serde::Serialize;

/// Data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Binary,
    Complex,
}

/// Who may write an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute appears in a response (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// Uniqueness scope of an attribute's value (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute of a schema, rendered as-is in `/Schemas`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_attributes: Option<Vec<AttributeDef>>,
}

impl AttributeDef {
    /// A singular, optional, read-write, case-insensitive attribute of `ty`:
    /// the common case, refined with the builder methods below.
    pub fn new(name: &str, ty: AttrType, description: &str) -> Self {
        AttributeDef {
            name: name.to_owned(),
            ty,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: (ty == AttrType::Complex).then(Vec::new),
        }
    }

    pub fn string(name: &str, description: &str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    pub fn boolean(name: &str, description: &str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }

    pub fn reference(name: &str, types: &[&str], description: &str) -> Self {
        Self::new(name, AttrType::Reference, description).reference_types(types)
    }

    pub fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = Some(subs);
        a
    }

    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    pub fn reference_types(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Sub-attributes of a complex attribute; empty for simple ones.
    pub fn subs(&self) -> &[AttributeDef] {
        self.sub_attributes.as_deref().unwrap_or(&[])
    }

    /// Case-insensitive sub-attribute lookup (attribute names are
    /// case-insensitive, RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.subs()
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// A schema (RFC 7643 §7): a URN and its attributes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// Case-insensitive top-level attribute lookup.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}
