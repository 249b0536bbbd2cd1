//! A tenant's tokens: issued with a name and an optional expiry (the
//! secret shown once), listed as metadata with their last use, revoked.
//! Rotation is issue-then-revoke: both tokens work during the overlap.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AdminError, Operator, now};
use crate::auth::TokenStore;
use crate::auth::token::issue;
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;

/// Longest token name.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;
/// Most active tokens a tenant holds: each is compared on every request.
pub const MAX_TOKENS: usize = 20;

/// A newly issued token: the only time its plain text is available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTokenView {
    pub id: String,
    pub name: Option<String>,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_url: Option<String>,
}

/// A token as shown to operators: never the token, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The newest recorded request with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
}

fn token_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_TOKEN_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::Invalid(format!(
            "name must be 1-{MAX_TOKEN_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// An expiry: RFC 3339, in the future; stored normalised to UTC.
fn expiry(at: Option<&str>) -> Result<Option<String>, AdminError> {
    let Some(at) = at else {
        return Ok(None);
    };
    let parsed = OffsetDateTime::parse(at, &Rfc3339).map_err(|_| {
        AdminError::Invalid(
            "expiresAt must be an RFC 3339 date-time such as 2027-01-31T00:00:00Z".into(),
        )
    })?;
    if parsed <= OffsetDateTime::now_utc() {
        return Err(AdminError::Invalid(
            "expiresAt must be in the future".into(),
        ));
    }
    Ok(Some(
        parsed
            .to_offset(time::UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(|_| AdminError::Invalid("expiresAt is out of range".into()))?,
    ))
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// Adds a token; the tenant's other tokens stay valid.
    pub async fn issue_token(
        &self,
        tenant: &TenantId,
        name: &str,
        expires_at: Option<&str>,
    ) -> Result<IssuedTokenView, AdminError> {
        let name = token_name(name)?;
        let expires_at = expiry(expires_at)?;
        let token = self
            .change_live_tokens(tenant, |set| {
                if set.tokens.len() >= MAX_TOKENS {
                    return Err(AdminError::Invalid(format!(
                        "tenant {tenant} has {MAX_TOKENS} tokens already; revoke one first"
                    )));
                }
                let mut token = issue(Some(&name), &now())?;
                token.record.expires_at.clone_from(&expires_at);
                set.tokens.push(token.record.clone());
                Ok(token)
            })
            .await?;
        Ok(IssuedTokenView {
            id: token.record.id,
            name: token.record.name,
            created: token.record.created,
            expires_at: token.record.expires_at,
            token: token.plain,
            tenant_url: self.tenant_url(tenant),
        })
    }

    /// The tenant's active tokens, with their last recorded use.
    pub async fn token_list(&self, tenant: &TenantId) -> Result<Vec<TokenView>, AdminError> {
        let set = self.existing(tenant).await?;
        let activity = self.store.activity(tenant).await?;
        Ok(set
            .tokens
            .into_iter()
            .map(|t| TokenView {
                last_used: activity.tokens.get(&t.id).cloned(),
                id: t.id,
                name: t.name,
                created: t.created,
                expires_at: t.expires_at,
            })
            .collect())
    }

    /// Revokes a token: refused from the next token-cache refresh on.
    pub async fn revoke_token(&self, tenant: &TenantId, token_id: &str) -> Result<(), AdminError> {
        self.change_live_tokens(tenant, |set| {
            if set.revoke(token_id) {
                Ok(())
            } else {
                Err(AdminError::NotFound(format!(
                    "tenant {tenant} has no token {token_id}"
                )))
            }
        })
        .await
    }

    /// Issues a successor of `token_id` (same name and expiry unless
    /// given) and keeps the old token valid until it is revoked, so an
    /// identity provider can be switched over without downtime.
    pub async fn rotate_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
        name: Option<&str>,
    ) -> Result<IssuedTokenView, AdminError> {
        let set = self.existing(tenant).await?;
        let old = set
            .tokens
            .iter()
            .find(|t| t.id == token_id)
            .ok_or_else(|| {
                AdminError::NotFound(format!("tenant {tenant} has no token {token_id}"))
            })?;
        let name = name
            .map(str::to_owned)
            .or_else(|| old.name.clone())
            .unwrap_or_else(|| token_id.to_owned());
        let expires_at = old.expires_at.clone().filter(|at| {
            OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|t| t > OffsetDateTime::now_utc())
        });
        self.issue_token(tenant, &name, expires_at.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{acme, operator, valid};
    use super::*;
    use crate::request_log::RequestRecord;

    #[tokio::test]
    async fn issue_rotate_revoke_and_list_with_last_use() {
        let op = operator();
        op.create_tenant(&acme(), Some("Acme")).await.unwrap();
        let first = op.issue_token(&acme(), "entra", None).await.unwrap();
        assert_eq!(
            first.tenant_url.as_deref(),
            Some("https://scim.example.com/scim/v2/acme")
        );
        assert!(valid(&op, &acme(), &first.token).await);
        let rotated = op.rotate_token(&acme(), &first.id, None).await.unwrap();
        assert_eq!(rotated.name.as_deref(), Some("entra"));
        assert!(
            valid(&op, &acme(), &first.token).await && valid(&op, &acme(), &rotated.token).await
        );
        op.store
            .record_requests(&[RequestRecord {
                time: "2026-12-07T10:00:00.000Z".into(),
                tenant: "acme".into(),
                request_id: "r1".into(),
                token_id: Some(first.id.clone()),
                user_agent: None,
                method: "GET".into(),
                path: "/scim/v2/acme/Users".into(),
                query: None,
                status: 200,
                scim_type: None,
                detail: None,
                duration_ms: 3,
                action: "list".into(),
                resource_type: None,
                resource_id: None,
                target: None,
                change: None,
                matched: None,
            }])
            .await
            .unwrap();
        let listed = op.token_list(&acme()).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[0].last_used.as_deref(),
            Some("2026-12-07T10:00:00.000Z")
        );
        assert_eq!(listed[1].last_used, None);
        let shown = serde_json::to_string(&listed).unwrap();
        assert!(!shown.contains(&first.token) && !shown.contains("sha256"));
        op.revoke_token(&acme(), &first.id).await.unwrap();
        assert!(
            !valid(&op, &acme(), &first.token).await && valid(&op, &acme(), &rotated.token).await
        );
        let err = op.revoke_token(&acme(), &first.id).await.unwrap_err();
        assert_eq!(err.exit_code(), 3);
    }

    #[tokio::test]
    async fn names_and_expiries_are_checked_and_an_expired_token_is_refused() {
        let op = operator();
        op.create_tenant(&acme(), None).await.unwrap();
        for (name, at) in [
            ("", None),
            ("x\ny", None),
            ("ok", Some("tomorrow")),
            ("ok", Some("2020-01-01T00:00:00Z")),
        ] {
            let err = op.issue_token(&acme(), name, at).await.unwrap_err();
            assert!(
                matches!(err, AdminError::Invalid(_)),
                "{name:?} {at:?}: {err}"
            );
        }
        let soon = (OffsetDateTime::now_utc() + time::Duration::seconds(1))
            .format(&Rfc3339)
            .unwrap();
        let issued = op.issue_token(&acme(), "short", Some(&soon)).await.unwrap();
        assert!(issued.expires_at.is_some());
        assert!(valid(&op, &acme(), &issued.token).await);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert!(!valid(&op, &acme(), &issued.token).await, "expired");
    }

    #[tokio::test]
    async fn a_tenant_holds_a_bounded_number_of_tokens() {
        let op = operator();
        op.create_tenant(&acme(), None).await.unwrap();
        for i in 0..MAX_TOKENS {
            op.issue_token(&acme(), &format!("t{i}"), None)
                .await
                .unwrap();
        }
        let err = op.issue_token(&acme(), "one more", None).await.unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err}");
    }
}
