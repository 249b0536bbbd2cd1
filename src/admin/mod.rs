//! The operator core: every action on tenants, their tokens and their
//! data is one method of [`Operator`], so that the management API, the
//! console (through that API) and `scim-admin` share one implementation.
//!
//! `tenants` creates, lists, shows and deletes tenants; `tokens` issues,
//! lists and revokes their tokens; `purge` deletes a tenant's data in
//! bounded steps; `health` adds up what a tenant holds and how its
//! identity provider has been calling; `requests` reads its request log;
//! `settings` reads and changes its settings; `breaker` shows and
//! resolves its deprovisioning breaker.

mod breaker;
mod health;
mod purge;
mod requests;
mod settings;
mod tenants;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::{AuthError, TokenSet, TokenStore, Versioned};
use crate::events::Bus;
use crate::store::ops::OpsStore;
use crate::store::{DynamoStore, Store, StoreError};
use crate::tenant::TenantId;

pub use breaker::{BreakerPhase, BreakerView, HeldPage, HeldView, MAX_HELD_PAGE, TripView};
pub use health::{ErrorCounts, Health, RequestCounts, TokenUse, UserCounts};
pub use purge::{DeleteProgress, PURGE_STEP_BUDGET, PurgeReport};
pub use requests::RequestPage;
pub use settings::{Effective, SettingsView};
pub use tenants::{Deletion, DeletionPhase, TenantPage, TenantStatus, TenantView};
pub use tokens::{IssuedTokenView, TokenView};

use crate::store::dynamo::{Migrated, MigrationProgress};

/// Attempts of a token-set change that other writers keep pre-empting.
const TOKEN_WRITE_ATTEMPTS: u32 = 10;
/// How long a deletion waits, by default, between refusing the tenant's
/// tokens and deleting its data: the authorizer's token cache
/// (`TokenCacheTtlSeconds`, 60 s) plus API Gateway's decision cache
/// (`AuthorizerCacheTtlSeconds`, 60 s) plus the longest request (29 s), so
/// no write can land during or after the purge.
pub const DEFAULT_DELETE_WAIT: Duration = Duration::from_secs(150);

/// Why an operator action failed; the management API maps each to a
/// status and a stable code, [`AdminError::exit_code`] tells scripts.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A tenant being deleted: nothing may be added to it.
    #[error("{0}")]
    BeingDeleted(String),
    /// An argument the action cannot take (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// The thing changed since the version the caller named.
    #[error("{0}")]
    Stale(String),
    /// The action does not fit the thing's state (a breaker not tripped).
    #[error("{0}")]
    Conflict(String),
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
    /// 3 not found, 4 already exists or being deleted, 2 invalid argument,
    /// 1 any backend failure (5 is left to a refused confirmation).
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::NotFound(_) => 3,
            AdminError::AlreadyExists(_)
            | AdminError::BeingDeleted(_)
            | AdminError::Stale(_)
            | AdminError::Conflict(_) => 4,
            AdminError::Invalid(_) => 2,
            _ => 1,
        }
    }
}

/// The operator's view of a deployment: its token store and its table.
pub struct Operator<T, S> {
    pub tokens: T,
    pub store: S,
    /// `https://.../scim/v2/{tenant}`: how Tenant URLs are printed.
    pub tenant_url_pattern: Option<String>,
    /// Between refusing a deleted tenant's tokens and deleting its data.
    pub delete_wait: Duration,
    /// Where released breaker events go; `None` where events are not
    /// published at all.
    pub bus: Option<Arc<dyn Bus>>,
}

impl<T, S> Operator<T, S> {
    pub fn new(tokens: T, store: S, tenant_url_pattern: Option<String>) -> Self {
        Operator {
            tokens,
            store,
            tenant_url_pattern,
            delete_wait: DEFAULT_DELETE_WAIT,
            bus: None,
        }
    }
}

fn not_found(tenant: &TenantId) -> AdminError {
    AdminError::NotFound(format!("tenant {tenant} does not exist"))
}

fn being_deleted(tenant: &TenantId) -> AdminError {
    AdminError::BeingDeleted(format!(
        "tenant {tenant} is being deleted; it can be created again once the deletion has finished"
    ))
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
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
pub(crate) mod tests {
    use super::*;
    use crate::auth::{MemoryTokenSource, TokenSource};
    use crate::store::MemoryStore;

    pub(crate) type Local = Operator<MemoryTokenSource, MemoryStore>;

    pub(crate) fn operator() -> Local {
        let mut op = Operator::new(
            MemoryTokenSource::default(),
            MemoryStore::new(),
            Some("https://scim.example.com/scim/v2/{tenant}".into()),
        );
        op.delete_wait = Duration::ZERO;
        op
    }

    pub(crate) fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    pub(crate) async fn valid(op: &Local, tenant: &TenantId, token: &str) -> bool {
        let set = op.tokens.load(tenant).await.unwrap().unwrap_or_default();
        set.verify(token).is_some()
    }

    #[tokio::test]
    async fn unknown_tenants_are_not_found() {
        let op = operator();
        let ghost = TenantId::parse("ghost").unwrap();
        for err in [
            op.tenant(&ghost).await.unwrap_err(),
            op.issue_token(&ghost, "x", None).await.unwrap_err(),
            op.rotate_token(&ghost, "tok", None).await.unwrap_err(),
            op.token_list(&ghost).await.unwrap_err(),
            op.revoke_token(&ghost, "tok").await.unwrap_err(),
            op.delete_tenant(&ghost).await.unwrap_err(),
            op.health(&ghost).await.unwrap_err(),
        ] {
            assert_eq!(err.exit_code(), 3, "{err}");
        }
    }
}
