//! Reading a tenant's request log: one store read per page, filtered
//! here, with a cursor where the read stopped.

use serde::Serialize;

use super::{AdminError, Operator};
use crate::auth::TokenStore;
use crate::request_log::query::EXAMINED_PER_PAGE;
use crate::request_log::{LogPosition, LogQuery, RequestRecord};
use crate::store::Store;
use crate::store::ops::OpsStore;
use crate::tenant::TenantId;

/// One page of a tenant's request log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPage {
    pub requests: Vec<RequestRecord>,
    /// Pass as `cursor` for older records; none once the log is read to
    /// its start (or the range's). A page may hold fewer records than
    /// asked for and still have a cursor: it examined as many as one
    /// read allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: TokenStore, S: Store + OpsStore> Operator<T, S> {
    /// The records of `tenant` that `query` selects.
    pub async fn requests(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<RequestPage, AdminError> {
        self.existing(tenant).await?;
        let (examined, more) = self
            .store
            .request_records(tenant, &query.window(), EXAMINED_PER_PAGE)
            .await?;
        let mut requests = Vec::new();
        let mut last = None;
        for record in examined {
            last = Some(LogPosition::of(&record));
            if query.matches(&record) {
                requests.push(record);
                if requests.len() == query.limit {
                    break;
                }
            }
        }
        let full = requests.len() == query.limit;
        let next_cursor = last.filter(|_| more || full).map(|p| p.cursor());
        Ok(RequestPage {
            requests,
            next_cursor,
        })
    }

    /// One record of `tenant` by its request id.
    pub async fn request(
        &self,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<RequestRecord, AdminError> {
        self.existing(tenant).await?;
        self.store
            .request_record(tenant, request_id)
            .await?
            .ok_or_else(|| {
                AdminError::NotFound(format!("tenant {tenant} has no request {request_id}"))
            })
    }
}
