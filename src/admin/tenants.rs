//! Tenants: created empty (tokens are issued separately), listed in pages,
//! shown with their deletion's progress, deleted in the background.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AdminError, Operator, being_deleted, not_found, now};
use crate::auth::{AuthError, TokenSet, TokenStore};
use crate::store::Store;
use crate::store::ops::{OpsStore, PurgeJob};
use crate::tenant::TenantId;

/// Longest display name a tenant takes.
pub const MAX_DISPLAY_NAME_CHARS: usize = 256;
/// Most tenants one page lists.
pub const MAX_PAGE: usize = 200;
/// Tenants of a page read at the same time.
const PAGE_READS_AT_ONCE: usize = 16;

/// Whether a tenant is in use or on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Deleting,
}

/// Where a deletion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPhase {
    /// Tokens are refused; caches and requests in flight drain.
    Waiting,
    /// Data is being deleted.
    Purging,
}

/// A deletion's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    pub requested: String,
    pub phase: DeletionPhase,
    pub items_deleted: u64,
}

/// A tenant as operators see it: never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub status: TenantStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_url: Option<String>,
    pub token_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion: Option<Deletion>,
}

/// One page of tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPage {
    pub tenants: Vec<TenantView>,
    /// The id to pass as `cursor` for the next page; none on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Checks a display name: trimmed, non-empty, bounded, no control
/// characters (it is shown in consoles and logs).
fn display_name(name: Option<&str>) -> Result<Option<String>, AdminError> {
    let Some(name) = name.map(str::trim) else {
        return Ok(None);
    };
    if name.is_empty()
        || name.chars().count() > MAX_DISPLAY_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::Invalid(format!(
            "displayName must be 1-{MAX_DISPLAY_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(Some(name.to_owned()))
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// When a deletion asked for at `since` (RFC 3339) may start deleting
    /// data: `delete_wait` later, in Unix seconds.
    pub(super) fn drained_at(&self, since: &str) -> Option<i64> {
        OffsetDateTime::parse(since, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp() + self.delete_wait.as_secs() as i64)
    }

    fn view(&self, tenant: &TenantId, set: &TokenSet, job: Option<&PurgeJob>) -> TenantView {
        let deletion = set.deleted.as_ref().map(|since| {
            let waiting_until = job
                .map(|j| j.not_before)
                .or_else(|| self.drained_at(since))
                .unwrap_or(0);
            Deletion {
                requested: job.map_or_else(|| since.clone(), |j| j.requested.clone()),
                phase: if OffsetDateTime::now_utc().unix_timestamp() < waiting_until {
                    DeletionPhase::Waiting
                } else {
                    DeletionPhase::Purging
                },
                items_deleted: job.map_or(0, |j| j.items_deleted),
            }
        });
        TenantView {
            id: tenant.to_string(),
            display_name: set.display_name.clone(),
            created: set.created.clone(),
            status: if deletion.is_some() {
                TenantStatus::Deleting
            } else {
                TenantStatus::Active
            },
            tenant_url: self.tenant_url(tenant),
            token_count: set.tokens.len(),
            deletion,
        }
    }

    /// Creates a tenant without tokens.
    pub async fn create_tenant(
        &self,
        tenant: &TenantId,
        name: Option<&str>,
    ) -> Result<TenantView, AdminError> {
        let set = TokenSet {
            display_name: display_name(name)?,
            created: Some(now()),
            ..TokenSet::default()
        };
        match self.tokens.create(tenant, &set).await {
            Err(AuthError::AlreadyExists(_)) => {
                let deleting = self.tokens.load(tenant).await?.and_then(|s| s.deleted);
                Err(match deleting {
                    Some(_) => being_deleted(tenant),
                    None => AdminError::AlreadyExists(format!("tenant {tenant} already exists")),
                })
            }
            created => {
                created?;
                Ok(self.view(tenant, &set, None))
            }
        }
    }

    /// A page of tenants in id order: those after `cursor` whose id starts
    /// with `prefix`. The token store lists names only, so each tenant on
    /// the page is read (concurrently).
    pub async fn list_tenants(
        &self,
        prefix: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TenantPage, AdminError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AdminError::Invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let ids: Vec<TenantId> = self
            .tokens
            .list()
            .await?
            .into_iter()
            .filter(|t| prefix.is_none_or(|p| t.as_str().starts_with(p)))
            .filter(|t| cursor.is_none_or(|c| t.as_str() > c))
            .take(limit + 1)
            .collect();
        let more = ids.len() > limit;
        let page = &ids[..ids.len().min(limit)];
        let mut tenants = Vec::with_capacity(page.len());
        for chunk in page.chunks(PAGE_READS_AT_ONCE) {
            let mut reads = Vec::with_capacity(chunk.len());
            for tenant in chunk {
                reads.push(self.tenant_if_any(tenant));
            }
            for view in futures_util::future::join_all(reads).await {
                tenants.extend(view?);
            }
        }
        Ok(TenantPage {
            tenants,
            next_cursor: more.then(|| page.last().map(ToString::to_string)).flatten(),
        })
    }

    /// The tenant, `None` if it has gone meanwhile.
    async fn tenant_if_any(&self, tenant: &TenantId) -> Result<Option<TenantView>, AdminError> {
        let Some(set) = self.tokens.load(tenant).await? else {
            return Ok(None);
        };
        let job = match set.deleted {
            Some(_) => self.store.purge_job(tenant).await?,
            None => None,
        };
        Ok(Some(self.view(tenant, &set, job.as_ref())))
    }

    /// The tenant, with its deletion's progress while one runs.
    pub async fn tenant(&self, tenant: &TenantId) -> Result<TenantView, AdminError> {
        self.tenant_if_any(tenant)
            .await?
            .ok_or_else(|| not_found(tenant))
    }

    /// Starts deleting a tenant: at once its tokens are refused (the
    /// secret is marked deleted, its tokens move to the revoked ones) and
    /// it cannot be created again; its data is deleted in the background
    /// (see [`Operator::advance_purges`]) once `delete_wait` has passed.
    /// Asking again changes nothing and answers the same progress.
    pub async fn delete_tenant(&self, tenant: &TenantId) -> Result<TenantView, AdminError> {
        let set = self
            .change_tokens(tenant, |set| {
                if set.deleted.is_none() {
                    set.revoke_all();
                    set.deleted = Some(now());
                }
                Ok(set.clone())
            })
            .await?;
        let since = set.deleted.clone().unwrap_or_else(now);
        let not_before = self.drained_at(&since).unwrap_or_else(|| {
            OffsetDateTime::now_utc().unix_timestamp() + self.delete_wait.as_secs() as i64
        });
        let job = self
            .store
            .start_purge(&PurgeJob {
                tenant: tenant.clone(),
                requested: since,
                not_before,
                items_deleted: 0,
                lease_until: 0,
            })
            .await?;
        Ok(self.view(tenant, &set, Some(&job)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{acme, operator, valid};
    use super::*;

    #[tokio::test]
    async fn create_list_show_and_refuse_duplicates() {
        let op = operator();
        let view = op
            .create_tenant(&acme(), Some(" Acme Corp "))
            .await
            .unwrap();
        assert_eq!(view.display_name.as_deref(), Some("Acme Corp"));
        assert_eq!(view.status, TenantStatus::Active);
        assert_eq!(
            view.tenant_url.as_deref(),
            Some("https://scim.example.com/scim/v2/acme")
        );
        assert_eq!(view.token_count, 0);
        let again = op.create_tenant(&acme(), None).await.unwrap_err();
        assert!(matches!(again, AdminError::AlreadyExists(_)), "{again}");
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(257)] {
            let err = op
                .create_tenant(&TenantId::parse("other").unwrap(), Some(bad))
                .await
                .unwrap_err();
            assert!(matches!(err, AdminError::Invalid(_)), "{bad:?}");
        }
        assert_eq!(op.tenant(&acme()).await.unwrap(), view);
    }

    #[tokio::test]
    async fn pages_follow_the_cursor_and_the_prefix() {
        let op = operator();
        for id in ["a1", "a2", "a3", "b1", "b2"] {
            op.create_tenant(&TenantId::parse(id).unwrap(), None)
                .await
                .unwrap();
        }
        let ids = |p: &TenantPage| p.tenants.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        let first = op.list_tenants(None, None, 2).await.unwrap();
        assert_eq!(ids(&first), ["a1", "a2"]);
        let second = op
            .list_tenants(None, first.next_cursor.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!(ids(&second), ["a3", "b1"]);
        let last = op
            .list_tenants(None, second.next_cursor.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!(ids(&last), ["b2"]);
        assert_eq!(last.next_cursor, None);
        let b = op.list_tenants(Some("b"), None, 50).await.unwrap();
        assert_eq!(ids(&b), ["b1", "b2"]);
        assert_eq!(b.next_cursor, None, "an exact last page has no cursor");
        assert!(matches!(
            op.list_tenants(None, None, 0).await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            op.list_tenants(None, None, MAX_PAGE + 1).await,
            Err(AdminError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_tenant_being_deleted_refuses_tokens_new_tokens_and_re_creation() {
        let mut op = operator();
        op.delete_wait = std::time::Duration::from_secs(3600);
        op.create_tenant(&acme(), None).await.unwrap();
        let issued = op.issue_token(&acme(), "entra", None).await.unwrap();
        let deleting = op.delete_tenant(&acme()).await.unwrap();
        assert_eq!(deleting.status, TenantStatus::Deleting);
        let deletion = deleting.deletion.clone().unwrap();
        assert_eq!(deletion.phase, DeletionPhase::Waiting);
        assert_eq!(deleting.token_count, 0);
        assert!(!valid(&op, &acme(), &issued.token).await, "refused at once");
        let again = op.create_tenant(&acme(), None).await.unwrap_err();
        assert!(matches!(again, AdminError::BeingDeleted(_)), "{again}");
        let token = op.issue_token(&acme(), "x", None).await.unwrap_err();
        assert!(matches!(token, AdminError::BeingDeleted(_)), "{token}");
        let repeated = op.delete_tenant(&acme()).await.unwrap();
        assert_eq!(repeated.deletion.unwrap().requested, deletion.requested);
    }
}
