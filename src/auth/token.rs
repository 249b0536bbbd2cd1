//! Bearer tokens: generation, hashing and constant-time verification
//! against the hashes a tenant's secret holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::tenant::settings::StoredSettings;

/// Every token starts with this, so leaked tokens are recognisable by
/// secret scanners and operators.
pub const TOKEN_PREFIX: &str = "scim_";
/// Random bytes per token: 256 bits of entropy.
const TOKEN_BYTES: usize = 32;

/// A freshly generated token: the plain text is shown once, only the
/// record (with the hash) is stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub plain: String,
    pub record: TokenRecord,
}

/// A stored token: never the token itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Lower-case hex SHA-256 of the whole token, prefix included.
    pub sha256: String,
    pub created: String,
    /// RFC 3339 instant from which the token is refused; none: no expiry.
    #[serde(default, rename = "expiresAt", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl TokenRecord {
    /// Whether the token is past its expiry at `now`. An expiry that does
    /// not parse counts as past: a token must never outlive a limit
    /// because the limit was garbled.
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at
            .as_deref()
            .is_some_and(|at| OffsetDateTime::parse(at, &Rfc3339).map_or(true, |at| at <= now))
    }
}

/// The content of one tenant's secret: all of its active tokens, so a
/// token can be rotated without downtime, and what operators named it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub tokens: Vec<TokenRecord>,
    /// When the tenant's deletion began (RFC 3339): from then on no token
    /// of it is accepted and it cannot be re-created until the deletion
    /// has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// The most recently revoked tokens (at most [`KEPT_REVOKED`]), never
    /// accepted: kept so that a request with one is recognised as this
    /// tenant's (the request log records it) instead of as garbage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<TokenRecord>,
    /// The tenant's settings, read with its tokens (one cache for both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<StoredSettings>,
}

/// How many revoked tokens a tenant's set remembers.
pub const KEPT_REVOKED: usize = 20;

/// What a presented token is to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMatch<'a> {
    /// An active token: its id.
    Valid(&'a str),
    /// This tenant's token, refused for this reason: its id.
    Refused(&'a str, Refusal),
    /// Nothing of this tenant's.
    Unknown,
}

/// Why a token of the tenant is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Refusal {
    Expired,
    Revoked,
}

/// Why token material could not be produced.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(buf)
}

/// SHA-256 of a token, hex encoded.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random secret: `prefix`, then 256 bits in URL-safe base64 (tokens,
/// operator keys, console sessions and login links).
pub fn random_secret(prefix: &str) -> Result<String, RandomError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>()?)
    ))
}

/// A new random token with its record; `created` is an RFC 3339 instant.
pub fn issue(name: Option<&str>, created: &str) -> Result<IssuedToken, RandomError> {
    let plain = random_secret(TOKEN_PREFIX)?;
    Ok(IssuedToken {
        record: TokenRecord {
            id: format!("tok_{}", hex::encode(random_bytes::<6>()?)),
            name: name.map(str::to_owned),
            sha256: hash_token(&plain),
            created: created.to_owned(),
            expires_at: None,
        },
        plain,
    })
}

/// Extracts the token from an `Authorization` header value: scheme
/// `Bearer` in any case, surrounding whitespace tolerated.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl TokenSet {
    /// What the tenant's settings decide for its SCIM requests.
    pub fn policy(&self) -> crate::tenant::settings::TenantPolicy {
        self.settings
            .as_ref()
            .map(|s| s.settings.policy())
            .unwrap_or_default()
    }

    /// A token set holding just these tokens.
    pub fn of(tokens: Vec<TokenRecord>) -> Self {
        TokenSet {
            tokens,
            ..TokenSet::default()
        }
    }

    /// The id of the active, unexpired record matching `token`.
    pub fn verify(&self, token: &str) -> Option<&str> {
        match self.classify(token, OffsetDateTime::now_utc()) {
            TokenMatch::Valid(id) => Some(id),
            _ => None,
        }
    }

    /// What `token` is to this tenant at `now`. Every record, active and
    /// revoked, is compared in constant time, so timing tells nothing about
    /// which or how many match.
    pub fn classify(&self, token: &str, now: OffsetDateTime) -> TokenMatch<'_> {
        let presented = Sha256::digest(token.as_bytes());
        let matches = |record: &TokenRecord| {
            let stored = hex::decode(&record.sha256).unwrap_or_default();
            bool::from(presented.as_slice().ct_eq(stored.as_slice()))
        };
        let mut found = TokenMatch::Unknown;
        for record in &self.tokens {
            if matches(record) {
                found = if self.deleted.is_some() {
                    TokenMatch::Refused(&record.id, Refusal::Revoked)
                } else if record.expired_at(now) {
                    TokenMatch::Refused(&record.id, Refusal::Expired)
                } else {
                    TokenMatch::Valid(&record.id)
                };
            }
        }
        for record in &self.revoked {
            if matches(record) && found == TokenMatch::Unknown {
                found = TokenMatch::Refused(&record.id, Refusal::Revoked);
            }
        }
        found
    }

    /// Moves a token to the revoked ones; `false` when no active token has
    /// that id.
    pub fn revoke(&mut self, id: &str) -> bool {
        let Some(at) = self.tokens.iter().position(|t| t.id == id) else {
            return false;
        };
        let record = self.tokens.remove(at);
        self.retire([record]);
        true
    }

    /// Moves every active token to the revoked ones.
    pub fn revoke_all(&mut self) {
        let all = std::mem::take(&mut self.tokens);
        self.retire(all);
    }

    /// Remembers `records` as revoked, newest first, bounded.
    fn retire(&mut self, records: impl IntoIterator<Item = TokenRecord>) {
        for record in records {
            self.revoked.insert(0, record);
        }
        self.revoked.truncate(KEPT_REVOKED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_marked_deleted_accepts_no_token() {
        let token = issue(None, "t").unwrap();
        let mut set = TokenSet::of(vec![token.record.clone()]);
        assert!(set.verify(&token.plain).is_some());
        set.deleted = Some("2026-12-01T00:00:00Z".into());
        assert_eq!(set.verify(&token.plain), None);
    }

    #[test]
    fn issued_tokens_are_prefixed_random_and_stored_only_as_hash() {
        let a = issue(Some("entra"), "2026-11-23T00:00:00Z").unwrap();
        let b = issue(None, "2026-11-23T00:00:00Z").unwrap();
        assert!(a.plain.starts_with(TOKEN_PREFIX));
        assert_eq!(a.plain.len(), TOKEN_PREFIX.len() + 43);
        assert_ne!(a.plain, b.plain);
        assert_ne!(a.record.id, b.record.id);
        assert_eq!(a.record.sha256, hash_token(&a.plain));
        let stored = serde_json::to_string(&a.record).unwrap();
        assert!(!stored.contains(&a.plain));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn two_active_tokens_verify_and_a_revoked_one_does_not() {
        let old = issue(Some("old"), "t").unwrap();
        let new = issue(Some("new"), "t").unwrap();
        let mut set = TokenSet::of(vec![old.record.clone(), new.record.clone()]);
        assert_eq!(set.verify(&old.plain), Some(old.record.id.as_str()));
        assert_eq!(set.verify(&new.plain), Some(new.record.id.as_str()));
        assert!(set.revoke(&old.record.id));
        assert!(!set.revoke(&old.record.id));
        assert_eq!(set.verify(&old.plain), None);
        assert_eq!(set.verify(&new.plain), Some(new.record.id.as_str()));
        assert_eq!(set.verify(""), None);
        assert_eq!(set.verify(&new.record.sha256), None);
    }

    #[test]
    fn expired_and_revoked_tokens_are_recognised_but_refused() {
        let now = OffsetDateTime::parse("2026-12-07T10:00:00Z", &Rfc3339).unwrap();
        let mut soon = issue(Some("soon"), "t").unwrap();
        soon.record.expires_at = Some("2026-12-07T10:00:01Z".into());
        let mut past = issue(Some("past"), "t").unwrap();
        past.record.expires_at = Some("2026-12-07T10:00:00Z".into());
        let mut garbled = issue(Some("garbled"), "t").unwrap();
        garbled.record.expires_at = Some("next week".into());
        let gone = issue(Some("gone"), "t").unwrap();
        let mut set = TokenSet::of(vec![
            soon.record.clone(),
            past.record.clone(),
            garbled.record.clone(),
            gone.record.clone(),
        ]);
        assert!(set.revoke(&gone.record.id));
        assert_eq!(
            set.classify(&soon.plain, now),
            TokenMatch::Valid(&soon.record.id)
        );
        assert_eq!(
            set.classify(&past.plain, now),
            TokenMatch::Refused(&past.record.id, Refusal::Expired)
        );
        assert_eq!(
            set.classify(&garbled.plain, now),
            TokenMatch::Refused(&garbled.record.id, Refusal::Expired)
        );
        assert_eq!(
            set.classify(&gone.plain, now),
            TokenMatch::Refused(&gone.record.id, Refusal::Revoked)
        );
        assert_eq!(set.classify("scim_garbage", now), TokenMatch::Unknown);
        for _ in 0..KEPT_REVOKED + 5 {
            let t = issue(None, "t").unwrap();
            set.tokens.push(t.record.clone());
            set.revoke(&t.record.id);
        }
        assert_eq!(set.revoked.len(), KEPT_REVOKED, "bounded");
        assert_eq!(set.classify(&gone.plain, now), TokenMatch::Unknown);
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc  "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer   "), None);
        assert_eq!(bearer_token(""), None);
    }
}
