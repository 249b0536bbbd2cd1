//! Declared limits on what one request may ask for, so the work any request
//! causes is bounded (and linear below them). Each is far above what an
//! identity provider sends (Entra: a few dozen operations per PATCH and
//! batches of members; Okta: one path-less operation) and is answered with
//! `400 tooMany` naming the limit (`413` for the body, `414` for the URI),
//! before the expensive work starts.

use super::schema::AttributeDef;

/// Largest request body, in bytes, on `scim-local` and behind API Gateway
/// (whose own limit, with Lambda's, is 6 MB). A PUT of a group with
/// [`MAX_MEMBERS_PER_REQUEST`] members of 36-character ids, display names
/// and `$ref`s is about 2 MB.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Longest request target (path and query), in bytes: far above any
/// filter an identity provider sends, and under what API Gateway and
/// `scim-local`'s HTTP parser take, so the answer is always a SCIM `414`.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most operations in one PATCH, counted after path-less operations are
/// split into one per attribute.
pub const MAX_PATCH_OPERATIONS: usize = 200;

/// Most values of one multi-valued attribute (`emails`, `roles`, ...), in a
/// request and in the resource a PATCH produces. Group `members` are not
/// stored in the document and have their own limit.
pub const MAX_VALUES: usize = 200;

/// Most member ids one request names (POST or PUT of a group, or all the
/// `members` operations of one PATCH together). Twice the 5,000 members
/// tested in one PATCH; each 49 of them are one DynamoDB transaction.
pub const MAX_MEMBERS_PER_REQUEST: usize = 10_000;

/// A declared limit a request went past.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Answered `413`.
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes (limit: request body size)")]
    Body,
    /// Answered `414`.
    #[error(
        "the request's path and query are longer than {MAX_URI_BYTES} bytes (limit: URI length)"
    )]
    Uri,
    #[error(
        "a PATCH request may carry at most {MAX_PATCH_OPERATIONS} operations (limit: operations per PATCH)"
    )]
    Operations,
    #[error(
        "attribute '{0}' may have at most {MAX_VALUES} values (limit: values per multi-valued attribute)"
    )]
    Values(String),
    #[error(
        "a request may name at most {MAX_MEMBERS_PER_REQUEST} members (limit: members per request)"
    )]
    Members,
}

/// Checks that a multi-valued attribute `def` has at most its limit of
/// `count` values: [`MAX_MEMBERS_PER_REQUEST`] for a group's `members`,
/// [`MAX_VALUES`] otherwise.
pub(crate) fn check_values(def: &AttributeDef, count: usize) -> Result<(), LimitError> {
    if def.name == "members" {
        return check_members(count);
    }
    if count > MAX_VALUES {
        return Err(LimitError::Values(def.name.clone()));
    }
    Ok(())
}

/// Checks the number of member ids one request names.
pub(crate) fn check_members(count: usize) -> Result<(), LimitError> {
    if count > MAX_MEMBERS_PER_REQUEST {
        return Err(LimitError::Members);
    }
    Ok(())
}
