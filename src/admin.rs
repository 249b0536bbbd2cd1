//! Operator actions: tenants and their tokens, and deleting a tenant's
//! data. Used by `scim-admin`; every action is one call here so that the
//! CLI only parses arguments and prints.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::token::issue;
use crate::auth::{AuthError, TokenSet, TokenStore};
use crate::store::{Store, StoreError};
use crate::tenant::TenantId;

/// Items deleted per page when purging a tenant.
const PURGE_PAGE: usize = 200;

/// Why an operator action failed; [`AdminError::exit_code`] tells scripts.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("token store: {0}")]
    Tokens(AuthError),
    #[error("table: {0}")]
    Store(#[from] StoreError),
    #[error("could not generate a token: {0}")]
    Random(#[from] crate::auth::token::RandomError),
}

impl From<AuthError> for AdminError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::AlreadyExists(t) => {
                AdminError::AlreadyExists(format!("tenant {t} already exists"))
            }
            other => AdminError::Tokens(other),
        }
    }
}

impl AdminError {
    /// 3 not found, 4 already exists, 1 any backend failure (2 is left to
    /// usage errors, 5 to a refused confirmation).
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::NotFound(_) => 3,
            AdminError::AlreadyExists(_) => 4,
            _ => 1,
        }
    }
}

/// A token as shown to operators: never the token, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created: String,
}

/// A newly issued token: the only time its plain text is available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTokenView {
    pub tenant: String,
    pub tenant_url: Option<String>,
    pub token_id: String,
    pub token: String,
}

/// What `tenant show` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    pub tenant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub tenant_url: Option<String>,
    pub tokens: Vec<TokenInfo>,
}

/// What `tenant delete` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantDeleted {
    pub tenant: String,
    pub tokens_revoked: usize,
    pub items_deleted: usize,
}

/// The operator's view of a deployment: its token store and its table.
pub struct Operator<T, S> {
    pub tokens: T,
    pub store: S,
    /// `https://.../scim/v2/{tenant}`: how Tenant URLs are printed.
    pub tenant_url_pattern: Option<String>,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

impl<T: TokenStore, S: Store> Operator<T, S> {
    fn tenant_url(&self, tenant: &TenantId) -> Option<String> {
        self.tenant_url_pattern
            .as_ref()
            .map(|p| p.replace(crate::auth::source::TENANT_PLACEHOLDER, tenant.as_str()))
    }

    async fn existing(&self, tenant: &TenantId) -> Result<TokenSet, AdminError> {
        self.tokens
            .load(tenant)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("tenant {tenant} does not exist")))
    }

    fn issued(&self, tenant: &TenantId, token_id: String, token: String) -> IssuedTokenView {
        IssuedTokenView {
            tenant: tenant.to_string(),
            tenant_url: self.tenant_url(tenant),
            token_id,
            token,
        }
    }

    /// Creates a tenant with a first token.
    pub async fn create_tenant(
        &self,
        tenant: &TenantId,
        display_name: Option<&str>,
        token_name: Option<&str>,
    ) -> Result<IssuedTokenView, AdminError> {
        let created = now();
        let token = issue(token_name, &created)?;
        let set = TokenSet {
            display_name: display_name.map(str::to_owned),
            created: Some(created),
            tokens: vec![token.record.clone()],
        };
        self.tokens.create(tenant, &set).await?;
        Ok(self.issued(tenant, token.record.id, token.plain))
    }

    pub async fn list_tenants(&self) -> Result<Vec<TenantId>, AdminError> {
        Ok(self.tokens.list().await?)
    }

    pub async fn show_tenant(&self, tenant: &TenantId) -> Result<TenantInfo, AdminError> {
        let set = self.existing(tenant).await?;
        Ok(TenantInfo {
            tenant: tenant.to_string(),
            display_name: set.display_name,
            created: set.created,
            tenant_url: self.tenant_url(tenant),
            tokens: set
                .tokens
                .into_iter()
                .map(|t| TokenInfo {
                    id: t.id,
                    name: t.name,
                    created: t.created,
                })
                .collect(),
        })
    }

    /// Adds a token; the tenant's other tokens stay valid.
    pub async fn issue_token(
        &self,
        tenant: &TenantId,
        name: Option<&str>,
    ) -> Result<IssuedTokenView, AdminError> {
        let mut set = self.existing(tenant).await?;
        let token = issue(name, &now())?;
        set.tokens.push(token.record.clone());
        self.tokens.save(tenant, &set).await?;
        Ok(self.issued(tenant, token.record.id, token.plain))
    }

    pub async fn revoke_token(&self, tenant: &TenantId, token_id: &str) -> Result<(), AdminError> {
        let mut set = self.existing(tenant).await?;
        if !set.revoke(token_id) {
            return Err(AdminError::NotFound(format!(
                "tenant {tenant} has no token {token_id}"
            )));
        }
        self.tokens.save(tenant, &set).await?;
        Ok(())
    }

    /// Issues a successor of `token_id` (same name unless given) and keeps
    /// the old token valid until it is revoked, so an identity provider can
    /// be switched over without downtime.
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
        let name = name.map(str::to_owned).or_else(|| old.name.clone());
        self.issue_token(tenant, name.as_deref()).await
    }

    /// Revokes every token first (the tenant is locked out from then on),
    /// then deletes its items page by page (reporting progress), then its
    /// secret. Safe to re-run after an interruption.
    pub async fn delete_tenant(
        &self,
        tenant: &TenantId,
        mut progress: impl FnMut(usize),
    ) -> Result<TenantDeleted, AdminError> {
        let tokens_revoked = match self.tokens.load(tenant).await? {
            Some(mut set) => {
                let revoked = set.tokens.len();
                set.tokens.clear();
                self.tokens.save(tenant, &set).await?;
                revoked
            }
            None => 0,
        };
        let mut items_deleted = 0;
        loop {
            let deleted = self.store.purge_tenant(tenant, PURGE_PAGE).await?;
            if deleted == 0 {
                break;
            }
            items_deleted += deleted;
            progress(items_deleted);
        }
        let had_secret = self.tokens.delete(tenant).await?;
        if !had_secret && items_deleted == 0 {
            return Err(AdminError::NotFound(format!(
                "tenant {tenant} does not exist"
            )));
        }
        Ok(TenantDeleted {
            tenant: tenant.to_string(),
            tokens_revoked,
            items_deleted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{MemoryTokenSource, TokenSource};
    use crate::scim::schema::ResourceKind;
    use crate::store::{MemoryStore, Record};

    fn operator() -> Operator<MemoryTokenSource, MemoryStore> {
        Operator {
            tokens: MemoryTokenSource::default(),
            store: MemoryStore::new(),
            tenant_url_pattern: Some("https://scim.example.com/scim/v2/{tenant}".into()),
        }
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    async fn valid(op: &Operator<MemoryTokenSource, MemoryStore>, token: &str) -> bool {
        let set = op.tokens.load(&acme()).await.unwrap().unwrap_or_default();
        set.verify(token).is_some()
    }

    #[tokio::test]
    async fn tenant_lifecycle() {
        let op = operator();
        let first = op
            .create_tenant(&acme(), Some("Acme Corp"), Some("entra"))
            .await
            .unwrap();
        assert_eq!(
            first.tenant_url.as_deref(),
            Some("https://scim.example.com/scim/v2/acme")
        );
        assert!(valid(&op, &first.token).await);
        assert!(matches!(
            op.create_tenant(&acme(), None, None).await,
            Err(AdminError::AlreadyExists(_))
        ));
        let rotated = op
            .rotate_token(&acme(), &first.token_id, None)
            .await
            .unwrap();
        assert!(valid(&op, &first.token).await && valid(&op, &rotated.token).await);
        let info = op.show_tenant(&acme()).await.unwrap();
        assert_eq!(info.display_name.as_deref(), Some("Acme Corp"));
        let names: Vec<_> = info.tokens.iter().map(|t| t.name.as_deref()).collect();
        assert_eq!(names, [Some("entra"), Some("entra")]);
        let shown = serde_json::to_string(&info).unwrap();
        assert!(!shown.contains(&first.token) && !shown.contains(&rotated.token));
        op.revoke_token(&acme(), &first.token_id).await.unwrap();
        assert!(!valid(&op, &first.token).await && valid(&op, &rotated.token).await);
        let err = op.revoke_token(&acme(), &first.token_id).await.unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert_eq!(op.list_tenants().await.unwrap(), [acme()]);
    }

    #[tokio::test]
    async fn unknown_tenants_are_not_found() {
        let op = operator();
        let ghost = TenantId::parse("ghost").unwrap();
        for err in [
            op.show_tenant(&ghost).await.unwrap_err(),
            op.issue_token(&ghost, None).await.unwrap_err(),
            op.rotate_token(&ghost, "tok", None).await.unwrap_err(),
            op.delete_tenant(&ghost, |_| {}).await.unwrap_err(),
        ] {
            assert_eq!(err.exit_code(), 3, "{err}");
        }
    }

    #[tokio::test]
    async fn delete_revokes_tokens_and_purges_items_with_progress() {
        let op = operator();
        let created = op.create_tenant(&acme(), None, None).await.unwrap();
        for i in 0..250 {
            let record = Record::new(
                ResourceKind::User,
                format!("u{i}"),
                1,
                serde_json::json!({"userName": format!("u{i}@x.com")}),
            );
            op.store.create(&acme(), &record).await.unwrap();
        }
        let mut reports = Vec::new();
        let deleted = op
            .delete_tenant(&acme(), |n| reports.push(n))
            .await
            .unwrap();
        assert_eq!(deleted.tokens_revoked, 1);
        assert_eq!(deleted.items_deleted, 500);
        assert_eq!(reports, [200, 400, 500]);
        assert!(!valid(&op, &created.token).await);
        assert_eq!(op.tokens.load(&acme()).await.unwrap(), None);
        assert_eq!(op.store.purge_tenant(&acme(), 10).await.unwrap(), 0);
    }
}
