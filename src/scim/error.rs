//! The SCIM error response (RFC 7644 §3.12): the one shape every failure
//! takes on the wire.

use serde::Serialize;

use super::filter::FilterError;
use super::limits::LimitError;
use super::patch::PatchError;
use super::resource::ResourceError;

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` values of RFC 7644 §3.12 and RFC 9865 (cursors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    InvalidCursor,
    ExpiredCursor,
    InvalidCount,
}

/// A SCIM error: HTTP status, optional `scimType`, human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {scim_type:?}: {detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Why a 5xx happened, for the operator's log only: never sent to the
    /// client, and built from error codes and operation names, never from
    /// request data.
    pub cause: Option<String>,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
        }
    }

    /// The same error, with the cause the operator's log will show.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// 400 with a `scimType`: the usual answer to a client mistake.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// The error document; `status` is a string as RFC 7644 §3.12 requires.
    /// The cause is not part of it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = serde_json::to_value(t).unwrap_or_default();
        }
        body
    }
}

// The one place where the protocol's typed errors become SCIM errors.

/// Every malformed filter is `400 invalidFilter` (RFC 7644 §3.4.2.2).
impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::bad_request(ScimType::InvalidFilter, e.to_string())
    }
}

/// A declared limit exceeded: `tooMany`, the detail naming the limit.
impl From<LimitError> for ScimError {
    fn from(e: LimitError) -> Self {
        match e {
            LimitError::Body => ScimError::new(413, None, e.to_string()),
            LimitError::Uri => ScimError::new(414, None, e.to_string()),
            _ => ScimError::bad_request(ScimType::TooMany, e.to_string()),
        }
    }
}

/// Bad resource bodies: `invalidSyntax` when not an object, `mutability`
/// for an immutable change, `invalidValue` otherwise.
impl From<ResourceError> for ScimError {
    fn from(e: ResourceError) -> Self {
        let scim_type = match e {
            ResourceError::NotAnObject => ScimType::InvalidSyntax,
            ResourceError::Immutable(_) => ScimType::Mutability,
            ResourceError::Limit(l) => return l.into(),
            _ => ScimType::InvalidValue,
        };
        ScimError::bad_request(scim_type, e.to_string())
    }
}

/// PATCH errors carry their RFC 7644 §3.5.2 `scimType`.
impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> Self {
        let scim_type = match &e {
            PatchError::InvalidSyntax(_) => ScimType::InvalidSyntax,
            PatchError::InvalidPath(_) => ScimType::InvalidPath,
            PatchError::InvalidFilter(_) => ScimType::InvalidFilter,
            PatchError::NoTarget(_) => ScimType::NoTarget,
            PatchError::InvalidValue(_) => ScimType::InvalidValue,
            PatchError::Mutability(_) => ScimType::Mutability,
            PatchError::Resource(r) => return r.clone().into(),
            PatchError::Limit(l) => return l.clone().into(),
        };
        ScimError::bad_request(scim_type, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_status_as_string_and_camel_case_scim_type() {
        let e = ScimError::bad_request(ScimType::InvalidFilter, "bad filter");
        assert_eq!(
            e.to_json(),
            serde_json::json!({
                "schemas": [ERROR_URN],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "bad filter",
            })
        );
    }

    #[test]
    fn the_cause_stays_out_of_the_document() {
        let e = ScimError::new(503, None, "retry later").with_cause("DynamoDB GetItem failed");
        assert_eq!(e.cause.as_deref(), Some("DynamoDB GetItem failed"));
        assert!(!e.to_json().to_string().contains("GetItem"));
    }

    #[test]
    fn omits_scim_type_when_none() {
        let body = ScimError::not_found("no such user").to_json();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }
}
