//! `/Users`: create, read, list and search, replace, patch, delete, on any
//! [`Store`]. Every write is conditional on the version read; a lost race
//! is retried from a fresh read unless the client pinned a version with
//! `If-Match` (then it is `412`).

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;

use super::Routes;
use super::listing::{self, ListQuery, ListSettings, PageHints};
use super::managers::Managers;
use super::memberships;
use super::operation::{self, Operation, WRITE_ATTEMPTS};
use super::request::ScimRequest;
use super::resource::{
    backoff, check_if_match, fetch, json_body, no_content, not_modified, render, single, stamp,
};
use super::response::ScimResponse;
use crate::scim::list::ListPage;
use crate::scim::patch::PatchRequest;
use crate::scim::projection::Projection;
use crate::scim::resource::{check_immutable, normalize};
use crate::scim::schema::{Registry, ResourceKind};
use crate::scim::{ScimError, ScimType};
use crate::store::{Member, Record, Store, StoreError};
use crate::tenant::TenantId;

const KIND: ResourceKind = ResourceKind::User;

/// The `/Users` endpoints of one deployment.
pub struct Users<S> {
    store: S,
    registry: Arc<Registry>,
    settings: ListSettings,
    hints: PageHints,
}

impl<S: Store> Users<S> {
    pub fn new(store: S, registry: Arc<Registry>, settings: ListSettings) -> Self {
        Users {
            store,
            registry,
            settings,
            hints: PageHints::default(),
        }
    }

    fn managers<'a>(&'a self, tenant: &'a TenantId) -> Managers<'a, S> {
        Managers {
            store: &self.store,
            registry: &self.registry,
            tenant,
        }
    }

    /// The projection asked for by `attributes`/`excludedAttributes`.
    fn projection(&self, req: &ScimRequest) -> Result<Projection, ScimError> {
        Projection::parse(
            req.query_param("attributes"),
            req.query_param("excludedAttributes"),
            KIND,
            &self.registry,
        )
    }

    /// A single user as the response body, with `ETag` (and `Location`).
    async fn one(
        &self,
        req: &ScimRequest,
        record: &Record,
        projection: &Projection,
        status: StatusCode,
    ) -> Result<ScimResponse, ScimError> {
        let base = &req.base_url;
        let mut groups = memberships::groups_of(
            &self.store,
            &req.tenant,
            base,
            std::slice::from_ref(record),
            projection,
        )
        .await?;
        let related = groups.remove(&record.id).map(|g| ("groups", g));
        let body = projection.apply(
            &render(record, base, &self.registry, related),
            KIND,
            &self.registry,
        );
        Ok(single(req, record, body, status))
    }

    async fn fetch(&self, tenant: &TenantId, id: &str) -> Result<Record, ScimError> {
        fetch(&self.store, tenant, KIND, id).await
    }

    async fn create(&self, req: &ScimRequest) -> Result<ScimResponse, ScimError> {
        let projection = self.projection(req)?;
        let mut doc = normalize(&json_body(req)?, KIND, &self.registry)?;
        stamp(&mut doc, KIND, None);
        let managers = self.managers(&req.tenant);
        let manager = managers.link(&mut doc, None).await?;
        let record = Record {
            kind: KIND,
            id: uuid::Uuid::new_v4().to_string(),
            version: 1,
            document: doc,
            manager,
            groups: Vec::new(),
        };
        check_keys(&record)?;
        let created = self.store.create(&req.tenant, &record).await?;
        managers.after_create(&record, created).await;
        self.one(req, &record, &projection, StatusCode::CREATED)
            .await
    }

    async fn get(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let projection = self.projection(req)?;
        let record = self.fetch(&req.tenant, id).await?;
        if let Some(response) = not_modified(req, record.version) {
            return Ok(response);
        }
        self.one(req, &record, &projection, StatusCode::OK).await
    }

    async fn list(&self, req: &ScimRequest, query: ListQuery) -> Result<ScimResponse, ScimError> {
        let page = listing::list(
            &self.store,
            &req.tenant,
            KIND,
            &self.registry,
            &self.settings,
            &self.hints,
            &query,
        )
        .await?;
        let mut groups = memberships::groups_of(
            &self.store,
            &req.tenant,
            &req.base_url,
            &page.records,
            &query.projection,
        )
        .await?;
        let resources = page
            .records
            .iter()
            .map(|r| {
                let related = groups.remove(&r.id).map(|g| ("groups", g));
                query.projection.apply(
                    &render(r, &req.base_url, &self.registry, related),
                    KIND,
                    &self.registry,
                )
            })
            .collect();
        Ok(ScimResponse::ok(
            ListPage {
                resources,
                total_results: page.total_results,
                start_index: page.start_index,
                next_cursor: page.next_cursor,
            }
            .to_json(),
        ))
    }

    /// PUT and PATCH: reads, computes the new document with `change`,
    /// writes conditionally; a lost race starts again from a fresh read.
    async fn update(
        &self,
        req: &ScimRequest,
        id: &str,
        change: impl Fn(&Record) -> Result<Option<Value>, ScimError>,
    ) -> Result<ScimResponse, ScimError> {
        let projection = self.projection(req)?;
        let managers = self.managers(&req.tenant);
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let current = self.fetch(&req.tenant, id).await?;
            check_if_match(req, current.version)?;
            let Some(mut doc) = change(&current)? else {
                return self.one(req, &current, &projection, StatusCode::OK).await;
            };
            check_immutable(&current.document, &doc, KIND, &self.registry)?;
            stamp(&mut doc, KIND, Some(&current.document));
            let manager = managers.link(&mut doc, Some(&current)).await?;
            let next = Record {
                kind: KIND,
                id: current.id.clone(),
                version: current.version + 1,
                document: doc,
                manager,
                groups: current.groups.clone(),
            };
            if same_content(&current, &next) {
                return self.one(req, &current, &projection, StatusCode::OK).await;
            }
            check_keys(&next)?;
            match self.store.replace(&req.tenant, &current, &next).await {
                Ok(()) => {
                    managers.after_update(&current, &next).await;
                    let member = Member::of(&next);
                    if member.display != Member::of(&current).display
                        && let Err(e) = self
                            .store
                            .refresh_member(&req.tenant, &member, &next.groups)
                            .await
                    {
                        tracing::warn!(error = %e, "refreshing membership display names failed");
                    }
                    return self.one(req, &next, &projection, StatusCode::OK).await;
                }
                Err(StoreError::VersionMismatch) if req.header("if-match").is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(operation::contended(KIND))
    }

    async fn replace(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let doc = normalize(&json_body(req)?, KIND, &self.registry)?;
        self.update(req, id, |_| Ok(Some(doc.clone()))).await
    }

    async fn patch(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let patch = PatchRequest::parse(&json_body(req)?, KIND, &self.registry)?;
        self.update(req, id, |current| {
            let mut doc = current.document.clone();
            let outcome = patch.apply(&mut doc, KIND, &self.registry)?;
            Ok(outcome.changed.then_some(doc))
        })
        .await
    }

    async fn delete(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let deleted = operation::delete(&self.store, req, KIND, id).await?;
        self.managers(&req.tenant).after_delete(&deleted).await;
        Ok(no_content())
    }
}

/// Whether a write would change nothing but `meta.lastModified`.
fn same_content(current: &Record, next: &Record) -> bool {
    let strip = |doc: &Value| {
        let mut doc = doc.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("meta");
        }
        doc
    };
    current.manager == next.manager && strip(&current.document) == strip(&next.document)
}

fn check_keys(record: &Record) -> Result<(), ScimError> {
    match record.key_problem() {
        Some(detail) => Err(ScimError::bad_request(ScimType::InvalidValue, detail)),
        None => Ok(()),
    }
}

impl<S: Store> Routes for Users<S> {
    async fn route(&self, req: &ScimRequest) -> Option<Result<ScimResponse, ScimError>> {
        let op = match Operation::of(req, KIND, &self.registry, &self.settings)? {
            Ok(op) => op,
            Err(e) => return Some(Err(e)),
        };
        Some(match op {
            Operation::List(query) => self.list(req, query).await,
            Operation::Create => self.create(req).await,
            Operation::Get(id) => self.get(req, id).await,
            Operation::Replace(id) => self.replace(req, id).await,
            Operation::Patch(id) => self.patch(req, id).await,
            Operation::Delete(id) => self.delete(req, id).await,
        })
    }
}
