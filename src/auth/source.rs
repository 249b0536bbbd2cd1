//! Where tenants' token hashes live: Secrets Manager in production, memory
//! for the embedded local server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use super::AuthError;
use super::token::TokenSet;
use crate::tenant::TenantId;

/// Reads (and, for operators and tests, writes) a tenant's token set.
pub trait TokenSource: Send + Sync + 'static {
    /// The tenant's tokens; `None` when the tenant has no secret.
    fn load(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Option<TokenSet>, AuthError>> + Send;

    /// Creates or overwrites the tenant's token set.
    fn save(
        &self,
        tenant: &TenantId,
        tokens: &TokenSet,
    ) -> impl Future<Output = Result<(), AuthError>> + Send;
}

/// Token sets kept in process memory (local server, tests).
#[derive(Debug, Clone, Default)]
pub struct MemoryTokenSource {
    sets: Arc<RwLock<HashMap<TenantId, TokenSet>>>,
}

impl TokenSource for MemoryTokenSource {
    async fn load(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        let sets = self
            .sets
            .read()
            .map_err(|_| AuthError::Unavailable("token map poisoned".into()))?;
        Ok(sets.get(tenant).cloned())
    }

    async fn save(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        self.sets
            .write()
            .map_err(|_| AuthError::Unavailable("token map poisoned".into()))?
            .insert(tenant.clone(), tokens.clone());
        Ok(())
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

    async fn save(&self, tenant: &TenantId, tokens: &TokenSet) -> Result<(), AuthError> {
        let name = self.secret_name(tenant);
        let body =
            serde_json::to_string(tokens).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let put = self
            .client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(&body)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(&name)
                    .description(format!("SCIM bearer token hashes of tenant {tenant}"))
                    .secret_string(&body)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| unavailable("CreateSecret", &e))
            }
            Err(err) => Err(unavailable("PutSecretValue", &err)),
        }
    }
}
