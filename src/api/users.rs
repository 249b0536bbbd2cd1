//! `/Users`: create, read, list and search, replace, patch, delete, on any
//! [`Store`]. Every write is conditional on the version read
//! ([`operation::conditionally`]).

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;

use super::Routes;
use super::listing::{self, ListQuery, ListSettings, PageHints};
use super::managers::Managers;
use super::memberships;
use super::operation::{self, Operation};
use super::request::ScimRequest;
use super::resource::{
    check_keys, fetch, json_body, no_content, not_modified, projection, render, same_content,
    single, stamp,
};
use super::response::ScimResponse;
use crate::request_log::audit;
use crate::scim::ScimError;
use crate::scim::patch::PatchRequest;
use crate::scim::projection::Projection;
use crate::scim::resource::{check_immutable, normalize};
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::{Record, Store};
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
        let projection = projection(req, KIND, &self.registry)?;
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
        audit::resource(None, Some(&record.document));
        managers.after_create(&record, created).await;
        self.one(req, &record, &projection, StatusCode::CREATED)
            .await
    }

    async fn get(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let projection = projection(req, KIND, &self.registry)?;
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
        page.response(resources)
    }

    /// PUT and PATCH: computes the new document with `change` from the
    /// user read and writes it conditionally on that version (see
    /// [`operation::conditionally`]).
    async fn update(
        &self,
        req: &ScimRequest,
        id: &str,
        change: impl Fn(&Record) -> Result<Option<Value>, ScimError>,
    ) -> Result<ScimResponse, ScimError> {
        let projection = projection(req, KIND, &self.registry)?;
        let managers = self.managers(&req.tenant);
        let (change, managers_ref) = (&change, &managers);
        let (current, next) =
            operation::conditionally(&self.store, req, KIND, id, |current| async move {
                let Some(mut doc) = change(&current)? else {
                    return Ok((current, None));
                };
                check_immutable(&current.document, &doc, KIND, &self.registry)
                    .map_err(ScimError::from)?;
                stamp(&mut doc, KIND, Some(&current.document));
                let manager = managers_ref.link(&mut doc, Some(&current)).await?;
                let next = Record {
                    kind: KIND,
                    id: current.id.clone(),
                    version: current.version + 1,
                    document: doc,
                    manager,
                    groups: current.groups.clone(),
                };
                if same_content(&current, &next) {
                    return Ok((current, None));
                }
                check_keys(&next)?;
                self.store.replace(&req.tenant, &current, &next).await?;
                audit::resource(Some(&current.document), Some(&next.document));
                Ok((current, Some(next)))
            })
            .await?;
        let Some(next) = next else {
            return self.one(req, &current, &projection, StatusCode::OK).await;
        };
        managers.after_update(&current, &next).await;
        memberships::refresh_display(&self.store, &req.tenant, &current, &next).await;
        self.one(req, &next, &projection, StatusCode::OK).await
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
