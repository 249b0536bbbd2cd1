//! Where tenants' token hashes live: Secrets Manager in production, memory
//! for the embedded local server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};

use super::AuthError;
use super::token::TokenSet;
use crate::tenant::TenantId;

/// Reads a tenant's token set: all the authorizer needs.
pub trait TokenSource: Send + Sync + 'static {
    /// The tenant's tokens; `None` when the tenant has no secret.
    fn load(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Option<TokenSet>, AuthError>> + Send;
}

/// Writes token sets: what operators (and tests) need on top of reading.
pub trait TokenStore: TokenSource {
    /// Creates the tenant's token set; `AlreadyExists` if it has one.
    fn create(
        &self,
        tenant: &TenantId,
        tokens: &TokenSet,
    ) -> impl Future<Output = Result<(), AuthError>> + Send;

    /// Creates or overwrites the tenant's token set.
    fn save(
        &self,
        tenant: &TenantId,
        tokens: &TokenSet,
    ) -> impl Future<Output = Result<(), AuthError>> + Send;

    /// The tenant's tokens with the version they were read at; `None`
    /// when the tenant has no secret.
    fn load_versioned(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Option<Versioned>, AuthError>> + Send;

    /// Replaces the token set read at `version`. `Ok(false)`, with nothing
    /// changed, when another writer changed it since: read it again, so
    /// that a concurrent revoke is never undone by a write based on older
    /// contents.
    fn replace(
        &self,
        tenant: &TenantId,
        tokens: &TokenSet,
        version: &SecretVersion,
    ) -> impl Future<Output = Result<bool, AuthError>> + Send;

    /// Every tenant that has a token set, sorted.
    fn list(&self) -> impl Future<Output = Result<Vec<TenantId>, AuthError>> + Send;

    /// Deletes the tenant's token set at once (no recovery window: its
    /// tokens must stop working); `false` if there was none.
    fn delete(&self, tenant: &TenantId) -> impl Future<Output = Result<bool, AuthError>> + Send;
}

/// Which write of a tenant's token set a read saw (the secret's
/// `VersionId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion(String);

/// A token set and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub tokens: TokenSet,
    pub version: SecretVersion,
}

/// Token sets kept in process memory (local server, tests).
#[derive(Debug, Clone, Default)]
pub struct MemoryTokenSource {
    sets: Arc<RwLock<HashMap<TenantId, Versioned>>>,
}

impl MemoryTokenSource {
    fn sets(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, HashMap<TenantId, Versioned>>, AuthError> {
        self.sets
            .write()
            .map_err(|_| AuthError::Unavailable("token map poisoned".into()))
    }
}

impl TokenSource for MemoryTokenSource {
    async fn load(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        Ok(self.sets()?.get(tenant).map(|v| v.tokens.clone()))
    }
}

/// A fresh version id.
fn new_version() -> SecretVersion {
    SecretVersion(uuid::Uuid::new_v4().to_string())
}

impl TokenStore for MemoryTokenSource {
    async fn create(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        let mut sets = self.sets()?;
        if sets.contains_key(tenant) {
            return Err(AuthError::AlreadyExists(tenant.to_string()));
        }
        insert(&mut sets, tenant, tokens);
        Ok(())
    }

    async fn save(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        let mut sets = self.sets()?;
        insert(&mut sets, tenant, tokens);
        Ok(())
    }

    async fn load_versioned(&self, tenant: &TenantId) -> Result<Option<Versioned>, AuthError> {
        Ok(self.sets()?.get(tenant).cloned())
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        tokens: &TokenSet,
        version: &SecretVersion,
    ) -> Result<bool, AuthError> {
        let mut sets = self.sets()?;
        if sets.get(tenant).map(|v| &v.version) != Some(version) {
            return Ok(false);
        }
        insert(&mut sets, tenant, tokens);
        Ok(true)
    }

    async fn list(&self) -> Result<Vec<TenantId>, AuthError> {
        let mut tenants: Vec<TenantId> = self.sets()?.keys().cloned().collect();
        tenants.sort();
        Ok(tenants)
    }

    async fn delete(&self, tenant: &TenantId) -> Result<bool, AuthError> {
        Ok(self.sets()?.remove(tenant).is_some())
    }
}

/// Stores a token set under a new version.
fn insert(sets: &mut HashMap<TenantId, Versioned>, tenant: &TenantId, tokens: &TokenSet) {
    let versioned = Versioned {
        tokens: tokens.clone(),
        version: new_version(),
    };
    sets.insert(tenant.clone(), versioned);
}

/// Placeholder in secret-name patterns, replaced by the tenant id.
pub const TENANT_PLACEHOLDER: &str = "{tenant}";

/// One Secrets Manager secret per tenant, named by a pattern such as
/// `scim/tenants/{tenant}`, holding the JSON of a [`TokenSet`].
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
    name_pattern: String,
}

impl SecretsManagerSource {
    pub fn new(client: Client, name_pattern: impl Into<String>) -> Self {
        SecretsManagerSource {
            client,
            name_pattern: name_pattern.into(),
        }
    }

    /// The secret name of a tenant.
    pub fn secret_name(&self, tenant: &TenantId) -> String {
        self.name_pattern
            .replace(TENANT_PLACEHOLDER, tenant.as_str())
    }
}

/// A staging label of our own for a version written but not yet current:
/// without `AWSCURRENT` nobody reads it until the compare-and-swap below
/// moves `AWSCURRENT` to it.
const PENDING_STAGE: &str = "SCIMPENDING";
/// The version readers get. Asked for by name on every read: the default
/// is the same on AWS, but moto's default does not follow a moved label.
const CURRENT_STAGE: &str = "AWSCURRENT";

/// Maps an SDK failure to `Unavailable`, described for the log by the
/// operation and what went wrong: the service's error code, a timeout or a
/// failed connection. Service messages are left out (they may echo
/// request values).
fn unavailable<E: ProvideErrorMetadata, R>(op: &str, err: &SdkError<E, R>) -> AuthError {
    let what = match err {
        SdkError::ServiceError(e) => e.err().code().unwrap_or("unknown error code").to_owned(),
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_io() => "connection failed".to_owned(),
        SdkError::DispatchFailure(_) => "could not be sent".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        _ => "could not be built".to_owned(),
    };
    AuthError::Unavailable(format!("Secrets Manager {op} failed: {what}"))
}

impl TokenSource for SecretsManagerSource {
    async fn load(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        Ok(self.load_versioned(tenant).await?.map(|v| v.tokens))
    }
}

fn to_json(tokens: &TokenSet) -> Result<String, AuthError> {
    serde_json::to_string(tokens).map_err(|e| AuthError::Malformed(e.to_string()))
}

impl TokenStore for SecretsManagerSource {
    async fn create(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        let created = self
            .client
            .create_secret()
            .name(self.secret_name(tenant))
            .description(format!("SCIM bearer token hashes of tenant {tenant}"))
            .secret_string(to_json(tokens)?)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception()) =>
            {
                Err(AuthError::AlreadyExists(tenant.to_string()))
            }
            Err(err) => Err(unavailable("CreateSecret", &err)),
        }
    }

    async fn save(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        let put = self
            .client
            .put_secret_value()
            .secret_id(self.secret_name(tenant))
            .secret_string(to_json(tokens)?)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                self.create(tenant, tokens).await
            }
            Err(err) => Err(unavailable("PutSecretValue", &err)),
        }
    }

    async fn load_versioned(&self, tenant: &TenantId) -> Result<Option<Versioned>, AuthError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(tenant))
            .version_stage(CURRENT_STAGE)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(unavailable("GetSecretValue", &err)),
        };
        let version = output
            .version_id()
            .ok_or_else(|| AuthError::Malformed("secret has no version id".into()))?;
        let text = output
            .secret_string()
            .ok_or_else(|| AuthError::Malformed("secret has no string value".into()))?;
        let tokens = serde_json::from_str(text)
            .map_err(|e| AuthError::Malformed(format!("secret is not a token set: {e}")))?;
        Ok(Some(Versioned {
            tokens,
            version: SecretVersion(version.to_owned()),
        }))
    }

    /// Writes a new version staged [`PENDING_STAGE`], then moves
    /// `AWSCURRENT` to it from the version read: Secrets Manager refuses
    /// that move when `AWSCURRENT` is no longer on the version read, which
    /// makes it a compare-and-swap.
    async fn replace(
        &self,
        tenant: &TenantId,
        tokens: &TokenSet,
        version: &SecretVersion,
    ) -> Result<bool, AuthError> {
        let name = self.secret_name(tenant);
        let next = new_version();
        let put = self
            .client
            .put_secret_value()
            .secret_id(&name)
            .client_request_token(&next.0)
            .secret_string(to_json(tokens)?)
            .version_stages(PENDING_STAGE)
            .send()
            .await;
        match put {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(false);
            }
            Err(err) => return Err(unavailable("PutSecretValue", &err)),
        }
        let moved = self
            .client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage(CURRENT_STAGE)
            .remove_from_version_id(&version.0)
            .move_to_version_id(&next.0)
            .send()
            .await;
        match moved {
            Ok(_) => Ok(true),
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_invalid_parameter_exception() || e.is_resource_not_found_exception()
                }) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable("UpdateSecretVersionStage", &err)),
        }
    }

    async fn list(&self) -> Result<Vec<TenantId>, AuthError> {
        let (prefix, suffix) = self
            .name_pattern
            .split_once(TENANT_PLACEHOLDER)
            .unwrap_or((self.name_pattern.as_str(), ""));
        let mut pages = self
            .client
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            )
            .into_paginator()
            .send();
        let mut tenants = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("ListSecrets", &e))?;
            for secret in page.secret_list() {
                let tenant = secret
                    .name()
                    .and_then(|n| n.strip_prefix(prefix))
                    .and_then(|n| n.strip_suffix(suffix))
                    .and_then(|t| TenantId::parse(t).ok());
                // Secrets scheduled for deletion are no tenant any more.
                if secret.deleted_date().is_none() {
                    tenants.extend(tenant);
                }
            }
        }
        tenants.sort();
        tenants.dedup();
        Ok(tenants)
    }

    async fn delete(&self, tenant: &TenantId) -> Result<bool, AuthError> {
        let deleted = self
            .client
            .delete_secret()
            .secret_id(self.secret_name(tenant))
            .force_delete_without_recovery(true)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable("DeleteSecret", &err)),
        }
    }
}
