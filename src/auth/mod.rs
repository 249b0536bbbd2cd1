//! Tenant tokens: generation, hashing, storage and verification, shared by
//! the Lambda authorizer and the local server.

pub mod authorizer;
mod cache;
pub mod source;
pub mod token;
pub mod verifier;

pub use source::{
    MemoryTokenSource, SecretVersion, SecretsManagerSource, TokenSource, TokenStore, Versioned,
};
pub use token::{IssuedToken, TokenRecord, TokenSet};
pub use verifier::{Verdict, Verifier};

/// Why a token could not be checked (as opposed to being refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token store did not answer: retry later, never allow.
    #[error("token store unavailable: {0}")]
    Unavailable(String),
    /// A secret exists but does not hold a token set.
    #[error("malformed token secret: {0}")]
    Malformed(String),
    /// The tenant already has a token set.
    #[error("tenant {0} already exists")]
    AlreadyExists(String),
}
