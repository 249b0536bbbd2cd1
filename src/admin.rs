//! Operator actions: tenants and their tokens, and deleting a tenant's
//! data. Used by `scim-admin`; every action is one call here so that the
//! CLI only parses arguments and prints.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::token::issue;
use crate::auth::{AuthError, TokenSet, TokenStore, Versioned};
use crate::store::dynamo::{Migrated, MigrationProgress};
use crate::store::{DynamoStore, Store, StoreError};
use crate::tenant::TenantId;

/// Items deleted per page when purging a tenant.
const PURGE_PAGE: usize = 200;
/// Attempts of a token-set change that other writers keep pre-empting.
const TOKEN_WRITE_ATTEMPTS: u32 = 10;
/// How long `tenant delete` waits, by default, between refusing the
/// tenant's tokens and deleting its data: the authorizer's token cache
/// (`TokenCacheTtlSeconds`, 60 s) plus API Gateway's decision cache
/// (`AuthorizerCacheTtlSeconds`, 60 s) plus the longest request (29 s), so
/// no write can land during or after the purge.
pub const DEFAULT_DELETE_WAIT: Duration = Duration::from_secs(150);

/// What `tenant delete` is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProgress {
    /// Tokens are refused; waiting this long for caches and in-flight
    /// requests before deleting data.
    Waiting(Duration),
    /// Items deleted so far.
    Deleted(usize),
}

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
    /// When its deletion began, if it is being deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleting_since: Option<String>,
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

fn not_found(tenant: &TenantId) -> AdminError {
    AdminError::NotFound(format!("tenant {tenant} does not exist"))
}

fn being_deleted(tenant: &TenantId) -> AdminError {
    AdminError::NotFound(format!(
        "tenant {tenant} is being deleted; finish with `scim-admin tenant delete {tenant} --confirm`"
    ))
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
            .ok_or_else(|| not_found(tenant))
    }

    /// Changes the tenant's token set with `change`, applied to the
    /// current contents and written only if nobody wrote in between (else
    /// re-read and re-applied), so concurrent operators never undo each
    /// other (a revoke stays revoked whatever is issued at the same time).
    async fn change_tokens<R>(
        &self,
        tenant: &TenantId,
        mut change: impl FnMut(&mut TokenSet) -> Result<R, AdminError>,
    ) -> Result<R, AdminError> {
        for attempt in 0..TOKEN_WRITE_ATTEMPTS {
            let Versioned {
                mut tokens,
                version,
            } = self
                .tokens
                .load_versioned(tenant)
                .await?
                .ok_or_else(|| not_found(tenant))?;
            let result = change(&mut tokens)?;
            if self.tokens.replace(tenant, &tokens, &version).await? {
                return Ok(result);
            }
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 50;
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt + 1) + jitter)).await;
        }
        Err(AdminError::Tokens(AuthError::Unavailable(format!(
            "the tokens of tenant {tenant} kept changing concurrently; retry"
        ))))
    }

    /// Like [`Self::change_tokens`], for a tenant that is not being deleted.
    async fn change_live_tokens<R>(
        &self,
        tenant: &TenantId,
        mut change: impl FnMut(&mut TokenSet) -> Result<R, AdminError>,
    ) -> Result<R, AdminError> {
        self.change_tokens(tenant, |set| {
            if set.deleted.is_some() {
                return Err(being_deleted(tenant));
            }
            change(set)
        })
        .await
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
            deleted: None,
        };
        match self.tokens.create(tenant, &set).await {
            Err(AuthError::AlreadyExists(_)) => {
                let deleting = self.tokens.load(tenant).await?.and_then(|s| s.deleted);
                Err(AdminError::AlreadyExists(match deleting {
                    Some(since) => format!(
                        "tenant {tenant} is being deleted (since {since}); finish with \
                         `scim-admin tenant delete {tenant} --confirm` before creating it again"
                    ),
                    None => format!("tenant {tenant} already exists"),
                }))
            }
            created => {
                created?;
                Ok(self.issued(tenant, token.record.id, token.plain))
            }
        }
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
            deleting_since: set.deleted,
        })
    }

    /// Adds a token; the tenant's other tokens stay valid.
    pub async fn issue_token(
        &self,
        tenant: &TenantId,
        name: Option<&str>,
    ) -> Result<IssuedTokenView, AdminError> {
        let token = self
            .change_live_tokens(tenant, |set| {
                let token = issue(name, &now())?;
                set.tokens.push(token.record.clone());
                Ok(token)
            })
            .await?;
        Ok(self.issued(tenant, token.record.id, token.plain))
    }

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

    /// Deletes a tenant so that nothing of it survives and nothing lands
    /// after: first its secret is marked deleted and its tokens removed
    /// (the authorizer refuses every token from then on, and the tenant
    /// cannot be re-created), then it waits `wait` from that mark so that
    /// cached decisions expire and requests in flight end, then it deletes
    /// the tenant's items page by page, then the secret. Safe to re-run
    /// after an interruption: the mark keeps its first time, so a re-run
    /// only waits for what is left.
    pub async fn delete_tenant(
        &self,
        tenant: &TenantId,
        wait: Duration,
        mut progress: impl FnMut(DeleteProgress),
    ) -> Result<TenantDeleted, AdminError> {
        let marked = self
            .change_tokens(tenant, |set| {
                let revoked = set.tokens.len();
                set.tokens.clear();
                let since = set.deleted.get_or_insert_with(now).clone();
                Ok((revoked, since))
            })
            .await;
        let (tokens_revoked, had_secret) = match marked {
            Ok((revoked, since)) => {
                let remaining =
                    OffsetDateTime::parse(&since, &Rfc3339)
                        .ok()
                        .map_or(wait, |since| {
                            let elapsed = OffsetDateTime::now_utc() - since;
                            wait.saturating_sub(elapsed.try_into().unwrap_or(Duration::ZERO))
                        });
                if !remaining.is_zero() {
                    progress(DeleteProgress::Waiting(remaining));
                    tokio::time::sleep(remaining).await;
                }
                (revoked, true)
            }
            // No secret: only left-over items, if any, remain to purge.
            Err(AdminError::NotFound(_)) => (0, false),
            Err(e) => return Err(e),
        };
        let mut items_deleted = 0;
        loop {
            let deleted = self.store.purge_tenant(tenant, PURGE_PAGE).await?;
            if deleted == 0 {
                break;
            }
            items_deleted += deleted;
            progress(DeleteProgress::Deleted(items_deleted));
        }
        let had_secret = self.tokens.delete(tenant).await? || had_secret;
        if !had_secret && items_deleted == 0 {
            return Err(not_found(tenant));
        }
        Ok(TenantDeleted {
            tenant: tenant.to_string(),
            tokens_revoked,
            items_deleted,
        })
    }
}

impl<T: TokenStore> Operator<T, DynamoStore> {
    /// Converts a tenant's items from the layout before issue 13 to the
    /// current one (`DynamoStore::migrate_tenant`): resumable, idempotent,
    /// safe beside the tenant's provisioning.
    pub async fn migrate_tenant(
        &self,
        tenant: &TenantId,
        progress: impl FnMut(MigrationProgress),
    ) -> Result<Migrated, AdminError> {
        self.existing(tenant).await?;
        Ok(self.store.migrate_tenant(tenant, progress).await?)
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
            op.delete_tenant(&ghost, Duration::ZERO, |_| {})
                .await
                .unwrap_err(),
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
            .delete_tenant(&acme(), Duration::ZERO, |p| reports.push(p))
            .await
            .unwrap();
        assert_eq!(deleted.tokens_revoked, 1);
        assert_eq!(deleted.items_deleted, 500);
        assert_eq!(
            reports,
            [200, 400, 500].map(DeleteProgress::Deleted),
            "no wait asked for, none reported"
        );
        assert!(!valid(&op, &created.token).await);
        assert_eq!(op.tokens.load(&acme()).await.unwrap(), None);
        assert_eq!(op.store.purge_tenant(&acme(), 10).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_tenant_being_deleted_refuses_tokens_new_tokens_and_re_creation() {
        let op = operator();
        let created = op.create_tenant(&acme(), None, None).await.unwrap();
        let user = Record::new(
            ResourceKind::User,
            "u1",
            1,
            serde_json::json!({"userName": "u1@x.com"}),
        );
        op.store.create(&acme(), &user).await.unwrap();
        let waiting = tokio::sync::Notify::new();
        let tenant = acme();
        let delete = op.delete_tenant(&tenant, Duration::from_millis(300), |p| {
            if matches!(p, DeleteProgress::Waiting(_)) {
                waiting.notify_one();
            }
        });
        let during = async {
            waiting.notified().await;
            assert!(!valid(&op, &created.token).await, "tokens refused at once");
            let again = op.create_tenant(&acme(), None, None).await.unwrap_err();
            assert_eq!(again.exit_code(), 4);
            assert!(again.to_string().contains("being deleted"), "{again}");
            let issued = op.issue_token(&acme(), None).await.unwrap_err();
            assert!(issued.to_string().contains("being deleted"), "{issued}");
            let info = op.show_tenant(&acme()).await.unwrap();
            assert!(info.deleting_since.is_some() && info.tokens.is_empty());
        };
        let (deleted, ()) = tokio::join!(delete, during);
        assert_eq!(deleted.unwrap().items_deleted, 2);
        let fresh = op.create_tenant(&acme(), None, None).await.unwrap();
        assert!(valid(&op, &fresh.token).await && !valid(&op, &created.token).await);
        assert_eq!(
            op.store.purge_tenant(&acme(), 10).await.unwrap(),
            0,
            "nothing inherited"
        );
    }

    #[tokio::test]
    async fn a_write_based_on_an_old_version_is_re_applied_never_lost() {
        let op = operator();
        let first = op.create_tenant(&acme(), None, None).await.unwrap();
        let stale = op.tokens.load_versioned(&acme()).await.unwrap().unwrap();
        op.revoke_token(&acme(), &first.token_id).await.unwrap();
        let mut resurrected = stale.tokens.clone();
        resurrected.tokens.push(issue(None, "t").unwrap().record);
        assert!(
            !op.tokens
                .replace(&acme(), &resurrected, &stale.version)
                .await
                .unwrap(),
            "a write based on the version before the revoke is refused"
        );
        assert!(!valid(&op, &first.token).await);
    }
}
