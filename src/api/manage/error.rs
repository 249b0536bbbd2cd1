//! The management API's errors: one enum, mapped to a status and a stable
//! `code` in one place.

use bytes::Bytes;
use serde_json::json;

use crate::admin::AdminError;

/// Why a management request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("the body is not a JSON object")]
    InvalidJson,
    #[error("{0}")]
    Invalid(String),
    #[error(
        "valid credentials are required: a SigV4 signature on AWS, the operator key or a console session locally"
    )]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("this route does not take {method}")]
    MethodNotAllowed {
        method: http::Method,
        allow: &'static str,
    },
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` names a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("the body is over {0} bytes")]
    TooLarge(usize),
    #[error("the path and query are over {0} bytes")]
    UriTooLong(usize),
    /// A backend failed: the cause goes to the log, not to the caller.
    #[error("the request could not be completed; its request id is in the logs")]
    Internal(String),
}

impl From<AdminError> for ManageError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(m) => ManageError::NotFound(m),
            AdminError::AlreadyExists(m)
            | AdminError::BeingDeleted(m)
            | AdminError::Conflict(m) => ManageError::Conflict(m),
            AdminError::Invalid(m) => ManageError::Invalid(m),
            AdminError::Stale(m) => ManageError::PreconditionFailed(m),
            other => ManageError::Internal(other.to_string()),
        }
    }
}

impl ManageError {
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            ManageError::InvalidJson | ManageError::Invalid(_) => S::BAD_REQUEST,
            ManageError::Unauthorized => S::UNAUTHORIZED,
            ManageError::Forbidden(_) => S::FORBIDDEN,
            ManageError::NotFound(_) => S::NOT_FOUND,
            ManageError::MethodNotAllowed { .. } => S::METHOD_NOT_ALLOWED,
            ManageError::Conflict(_) => S::CONFLICT,
            ManageError::PreconditionFailed(_) => S::PRECONDITION_FAILED,
            ManageError::TooLarge(_) => S::PAYLOAD_TOO_LARGE,
            ManageError::UriTooLong(_) => S::URI_TOO_LONG,
            ManageError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ManageError::InvalidJson => "invalid_json",
            ManageError::Invalid(_) => "invalid_request",
            ManageError::Unauthorized => "unauthorized",
            ManageError::Forbidden(_) => "forbidden",
            ManageError::NotFound(_) => "not_found",
            ManageError::MethodNotAllowed { .. } => "method_not_allowed",
            ManageError::Conflict(_) => "conflict",
            ManageError::PreconditionFailed(_) => "precondition_failed",
            ManageError::TooLarge(_) => "payload_too_large",
            ManageError::UriTooLong(_) => "uri_too_long",
            ManageError::Internal(_) => "internal_error",
        }
    }

    /// The error as a response; the cause of a 500 is logged here, once.
    pub fn response(&self, request_id: &str) -> http::Response<Bytes> {
        if let ManageError::Internal(cause) = self {
            tracing::error!(cause = %cause, request_id, "management request failed");
        }
        let body =
            json!({"code": self.code(), "message": self.to_string(), "requestId": request_id});
        let mut response = super::json_response(self.status(), &body);
        if let ManageError::MethodNotAllowed { allow, .. } = self
            && let Ok(v) = http::HeaderValue::from_str(allow)
        {
            response.headers_mut().insert(http::header::ALLOW, v);
        }
        if let ManageError::Unauthorized = self {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"manage\""),
            );
        }
        response
    }
}
