//! Where tenants' token hashes live: Secrets Manager in production, memory
//! for the embedded local server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
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

    /// Every tenant that has a token set, sorted.
    fn list(&self) -> impl Future<Output = Result<Vec<TenantId>, AuthError>> + Send;

    /// Deletes the tenant's token set at once (no recovery window: its
    /// tokens must stop working); `false` if there was none.
    fn delete(&self, tenant: &TenantId) -> impl Future<Output = Result<bool, AuthError>> + Send;
}

/// Token sets kept in process memory (local server, tests).
#[derive(Debug, Clone, Default)]
pub struct MemoryTokenSource {
    sets: Arc<RwLock<HashMap<TenantId, TokenSet>>>,
}

impl MemoryTokenSource {
    fn sets(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, HashMap<TenantId, TokenSet>>, AuthError> {
        self.sets
            .write()
            .map_err(|_| AuthError::Unavailable("token map poisoned".into()))
    }
}

impl TokenSource for MemoryTokenSource {
    async fn load(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        Ok(self.sets()?.get(tenant).cloned())
    }
}

impl TokenStore for MemoryTokenSource {
    async fn create(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        let mut sets = self.sets()?;
        if sets.contains_key(tenant) {
            return Err(AuthError::AlreadyExists(tenant.to_string()));
        }
        sets.insert(tenant.clone(), tokens.clone());
        Ok(())
    }

    async fn save(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        self.sets()?.insert(tenant.clone(), tokens.clone());
        Ok(())
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

fn unavailable(op: &str, err: &impl ProvideErrorMetadata) -> AuthError {
    AuthError::Unavailable(format!(
        "secrets manager {op} failed: {}",
        err.code().unwrap_or("unknown error")
    ))
}

impl TokenSource for SecretsManagerSource {
    async fn load(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(tenant))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                return match err.as_service_error() {
                    Some(e) if e.is_resource_not_found_exception() => Ok(None),
                    _ => Err(unavailable("GetSecretValue", &err)),
                };
            }
        };
        let text = output
            .secret_string()
            .ok_or_else(|| AuthError::Malformed("secret has no string value".into()))?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| AuthError::Malformed(format!("secret is not a token set: {e}")))
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
