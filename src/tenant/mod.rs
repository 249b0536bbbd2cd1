//! Tenant ids: the `{tenant}` of `/scim/v2/{tenant}/...` and the first part
//! of every stored key.

pub mod settings;

use std::fmt;

/// A validated tenant id: 1–63 lowercase ASCII letters, digits and `-`
/// (no `_`: Okta rejects it in base URLs), not starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

/// Why a string is not a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant ids are 1-63 lowercase letters, digits and '-', not starting or ending with '-'")]
pub struct InvalidTenantId;

impl TenantId {
    /// ```
    /// use scim_serverless::tenant::TenantId;
    /// assert_eq!(TenantId::parse("acme-eu").unwrap().as_str(), "acme-eu");
    /// assert!(TenantId::parse("Acme_EU").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, InvalidTenantId> {
        let ok = (1..=63).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-')
            && !text.ends_with('-');
        if ok {
            Ok(TenantId(text.to_owned()))
        } else {
            Err(InvalidTenantId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits a request path at its `/scim/v2/` segment into the tenant and
/// the rest (`Users/123`). Anything before the segment (an API Gateway
/// stage such as `/prod`) is ignored. The tenant is not validated here.
pub fn split_scim_path(path: &str) -> Option<(&str, &str)> {
    let (_, after) = path.split_once(SCIM_PATH_SEGMENT)?;
    Some(after.split_once('/').unwrap_or((after, "")))
}

/// The path segment that precedes the tenant in every Tenant URL.
pub const SCIM_PATH_SEGMENT: &str = "/scim/v2/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_paths_after_the_scim_segment() {
        assert_eq!(
            split_scim_path("/scim/v2/acme/Users/1"),
            Some(("acme", "Users/1"))
        );
        assert_eq!(
            split_scim_path("/prod/scim/v2/acme/Schemas"),
            Some(("acme", "Schemas"))
        );
        assert_eq!(split_scim_path("/scim/v2/acme"), Some(("acme", "")));
        assert_eq!(split_scim_path("/other/acme"), None);
    }

    #[test]
    fn accepts_dns_label_like_ids_only() {
        for ok in ["default", "acme", "a", "acme-corp-2", &"a".repeat(63)] {
            assert_eq!(TenantId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "Acme",
            "acme_corp",
            "-acme",
            "acme-",
            "ac me",
            "acmé",
            "../x",
            &"a".repeat(64),
        ] {
            assert_eq!(TenantId::parse(bad), Err(InvalidTenantId), "{bad:?}");
        }
    }
}
