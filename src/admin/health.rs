//! A tenant's health, for "our users are not showing up": what it holds
//! (exact counts) and how its identity provider has been calling (the
//! request log's activity: the last request, requests and errors over the
//! last hour and day, each token's last use).

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::{AdminError, Operator};
use crate::auth::TokenStore;
use crate::request_log::LastRequest;
use crate::request_log::activity::Window;
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Users by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserCounts {
    pub total: u64,
    pub active: u64,
    pub inactive: u64,
}

/// Requests over the last hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCounts {
    pub last_hour: u64,
    pub last_day: u64,
}

/// Error answers over a window, by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCounts {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
}

impl ErrorCounts {
    fn of(window: &Window) -> Self {
        ErrorCounts {
            total: window.errors.total(),
            by_status: window
                .errors
                .0
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
        }
    }
}

/// Errors over the last hour and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorWindows {
    pub last_hour: ErrorCounts,
    pub last_day: ErrorCounts,
}

/// A token's last use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
}

/// What `GET /manage/v1/tenants/{id}/health` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub tenant: String,
    pub users: UserCounts,
    pub groups: u64,
    pub memberships: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_request: Option<LastRequest>,
    pub requests: RequestCounts,
    pub errors: ErrorWindows,
    pub tokens: Vec<TokenUse>,
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// The tenant's health now.
    pub async fn health(&self, tenant: &TenantId) -> Result<Health, AdminError> {
        let set = self.existing(tenant).await?;
        let census = self.store.tenant_census(tenant).await?;
        let activity = self.store.activity(tenant).await?;
        let now = OffsetDateTime::now_utc();
        let (hour, day) = (activity.window(now, HOUR), activity.window(now, DAY));
        Ok(Health {
            tenant: tenant.to_string(),
            users: UserCounts {
                total: census.users,
                active: census.users.saturating_sub(census.inactive_users),
                inactive: census.inactive_users,
            },
            groups: census.groups,
            memberships: census.memberships,
            last_request: activity.last.clone(),
            requests: RequestCounts {
                last_hour: hour.requests,
                last_day: day.requests,
            },
            errors: ErrorWindows {
                last_hour: ErrorCounts::of(&hour),
                last_day: ErrorCounts::of(&day),
            },
            tokens: set
                .tokens
                .into_iter()
                .map(|t| TokenUse {
                    last_used: activity.tokens.get(&t.id).cloned(),
                    id: t.id,
                    name: t.name,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{acme, operator};
    use crate::request_log::RequestRecord;
    use crate::request_log::record::format_time;
    use crate::scim::schema::ResourceKind;
    use crate::store::ops::OpsStore;
    use crate::store::{Record, Store};
    use time::OffsetDateTime;

    fn record(token: &str, status: u16, ago_secs: i64) -> RequestRecord {
        let at = OffsetDateTime::now_utc() - time::Duration::seconds(ago_secs);
        RequestRecord {
            time: format_time(at),
            tenant: "acme".into(),
            request_id: format!("r{ago_secs}"),
            token_id: Some(token.into()),
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
            method: "POST".into(),
            path: "/scim/v2/acme/Users".into(),
            query: None,
            status,
            scim_type: None,
            detail: None,
            duration_ms: 5,
            action: "user.created".into(),
            resource_type: None,
            resource_id: None,
            target: None,
            change: None,
            matched: None,
        }
    }

    #[tokio::test]
    async fn health_counts_what_the_tenant_holds_and_how_it_was_called() {
        let op = operator();
        op.create_tenant(&acme(), None).await.unwrap();
        let token = op.issue_token(&acme(), "okta", None).await.unwrap();
        let idle = op.health(&acme()).await.unwrap();
        assert_eq!(idle.last_request, None);
        assert_eq!((idle.users.total, idle.requests.last_day), (0, 0));
        for (i, active) in [true, true, false].into_iter().enumerate() {
            let user = Record::new(
                ResourceKind::User,
                format!("u{i}"),
                1,
                serde_json::json!({"userName": format!("u{i}@x.com"), "active": active}),
            );
            op.store.create(&acme(), &user).await.unwrap();
        }
        op.store
            .record_requests(&[
                record(&token.id, 201, 10),
                record(&token.id, 409, 20),
                record(&token.id, 401, 7200),
                record(&token.id, 500, 2 * 86_400),
            ])
            .await
            .unwrap();
        let health = op.health(&acme()).await.unwrap();
        assert_eq!(
            (
                health.users.total,
                health.users.active,
                health.users.inactive
            ),
            (3, 2, 1)
        );
        let last = health.last_request.unwrap();
        assert_eq!((last.method.as_str(), last.status), ("POST", 201));
        assert_eq!(last.user_agent.as_deref(), Some("Okta SCIM Client 1.0.0"));
        assert_eq!(health.requests.last_hour, 2);
        assert_eq!(health.requests.last_day, 3);
        assert_eq!(health.errors.last_hour.by_status["409"], 1);
        assert_eq!(health.errors.last_day.total, 2);
        assert!(!health.errors.last_day.by_status.contains_key("500"));
        assert_eq!(health.tokens.len(), 1);
        assert!(health.tokens[0].last_used.is_some());
    }
}
