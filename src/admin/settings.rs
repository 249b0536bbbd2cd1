//! A tenant's settings, read and changed by operators: a merge patch,
//! validated, applied only to the version the operator saw (when they say
//! which), recorded with who made it.

use serde::Serialize;
use serde_json::Value;

use super::{AdminError, Operator, now};
use crate::auth::TokenStore;
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;
use crate::tenant::settings::{
    GroupPutWithoutMembers, MembersReplace, SettingsChange, StoredSettings, TenantSettings,
};

/// What the profile's switches come to, whichever way they were set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    pub members_replace: MembersReplace,
    pub group_put_without_members: GroupPutWithoutMembers,
}

/// A tenant's settings as the management API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// Increases by one with every change; the API's ETag.
    pub version: u64,
    pub settings: TenantSettings,
    pub effective: Effective,
    /// The most recent changes, newest first.
    pub history: Vec<SettingsChange>,
}

impl From<&StoredSettings> for SettingsView {
    fn from(stored: &StoredSettings) -> Self {
        let policy = stored.settings.policy();
        SettingsView {
            version: stored.version,
            settings: stored.settings.clone(),
            effective: Effective {
                members_replace: policy.members_replace,
                group_put_without_members: policy.group_put_without_members,
            },
            history: stored.history.clone(),
        }
    }
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// The tenant's settings (the defaults until they are first changed).
    pub async fn settings(&self, tenant: &TenantId) -> Result<SettingsView, AdminError> {
        let set = self.existing(tenant).await?;
        Ok(SettingsView::from(&set.settings.unwrap_or_default()))
    }

    /// Merges `patch` (RFC 7396) into the tenant's settings, if they are
    /// still at `expected` (when given), as `by`. A patch that changes
    /// nothing makes no new version.
    pub async fn change_settings(
        &self,
        tenant: &TenantId,
        patch: &Value,
        expected: Option<u64>,
        by: &str,
    ) -> Result<SettingsView, AdminError> {
        let view = self
            .change_live_tokens(tenant, |set| {
                let stored = set.settings.get_or_insert_with(StoredSettings::default);
                // An invalid patch is refused as such, whatever its version.
                let next = stored
                    .settings
                    .merged(patch)
                    .map_err(|e| AdminError::Invalid(e.0))?;
                if let Some(expected) = expected
                    && expected != stored.version
                {
                    return Err(AdminError::Stale(format!(
                        "the settings of tenant {tenant} changed: they are at W/\"{}\", not the version If-Match names; read them again",
                        stored.version
                    )));
                }
                if let Some(change) = stored.change(next, by, &now()) {
                    tracing::info!(
                        tenant = %tenant,
                        version = change.version,
                        by = %change.by,
                        changed = ?change.changed,
                        "tenant settings changed"
                    );
                }
                Ok(SettingsView::from(&*stored))
            })
            .await?;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{acme, operator};
    use crate::auth::TokenSource;
    use crate::tenant::settings::IdpKind;

    #[tokio::test]
    async fn settings_change_by_version_and_reach_the_token_set() {
        let op = operator();
        op.create_tenant(&acme(), None).await.unwrap();
        let first = op.settings(&acme()).await.unwrap();
        assert_eq!(first.version, 0);
        assert_eq!(first.settings.breaker.threshold, 20);
        let changed = op
            .change_settings(&acme(), &json!({"idp": "okta"}), Some(0), "tester")
            .await
            .unwrap();
        assert_eq!(changed.version, 1);
        assert_eq!(changed.settings.idp, IdpKind::Okta);
        assert_eq!(changed.history[0].by, "tester");
        assert_eq!(changed.history[0].changed, ["idp"]);
        let stale = op
            .change_settings(&acme(), &json!({"idp": "entra"}), Some(0), "late")
            .await
            .unwrap_err();
        assert!(matches!(stale, super::AdminError::Stale(_)), "{stale}");
        let invalid = op
            .change_settings(&acme(), &json!({"breaker": {"percent": 300}}), None, "x")
            .await
            .unwrap_err();
        assert_eq!(invalid.exit_code(), 2);
        let same = op
            .change_settings(&acme(), &json!({"idp": "okta"}), None, "x")
            .await
            .unwrap();
        assert_eq!(same.version, 1, "nothing changed, no new version");
        let set = op.tokens.load(&acme()).await.unwrap().unwrap();
        assert_eq!(
            set.policy().group_put_without_members,
            super::GroupPutWithoutMembers::Keep
        );
    }
}
