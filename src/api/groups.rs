//! `/Groups`: create, read, list and search, replace, patch, delete. The
//! group document never holds its members: they are membership edges in
//! the store, read only when a response returns `members` and written in
//! steps (see [`Store::add_members`]). Member ids are checked before
//! anything is written, so a request naming an unknown member changes
//! nothing.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;

use super::Routes;
use super::listing::{self, ListQuery, ListSettings, PageHints};
use super::memberships::{self, MAX_MEMBERS_BYTES, Resolved, member_overhead, members_json};
use super::operation::{self, Failure, Operation};
use super::request::ScimRequest;
use super::resource::{
    check_keys, fetch, json_body, no_content, not_modified, projection, render, same_content,
    single, stamp,
};
use super::response::ScimResponse;
use crate::request_log::audit;
use crate::scim::ScimError;
use crate::scim::patch::{MemberChange, PatchRequest};
use crate::scim::path::AttrPath;
use crate::scim::projection::Projection;
use crate::scim::resource::{check_immutable, names_members, normalize, take_members};
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::{GroupCondition, Member, Record, Store, StoreError};
use crate::tenant::TenantId;
use crate::tenant::settings::{GroupPutWithoutMembers, MembersReplace, TenantPolicy};

const KIND: ResourceKind = ResourceKind::Group;

/// The `/Groups` endpoints of one deployment.
pub struct Groups<S> {
    store: S,
    registry: Arc<Registry>,
    settings: ListSettings,
    hints: PageHints,
}

/// A membership change with its members resolved (checked) up front.
enum Change {
    Add(Vec<Member>),
    Remove(Vec<String>),
    /// The complete new member list.
    Set(Vec<Member>),
    RemoveWhere(crate::scim::filter::Filter),
}

impl<S: Store> Groups<S> {
    pub fn new(store: S, registry: Arc<Registry>, settings: ListSettings) -> Self {
        Groups {
            store,
            registry,
            settings,
            hints: PageHints::default(),
        }
    }

    /// A group's members, or `400 tooMany` when they do not fit a response
    /// (`budget` bytes are left).
    async fn members_within(
        &self,
        req: &ScimRequest,
        id: &str,
        budget: &mut usize,
    ) -> Result<Value, ScimError> {
        // The store stops reading once ids and names alone exceed the budget.
        let members = self
            .store
            .members(&req.tenant, id, *budget)
            .await?
            .ok_or_else(memberships::too_many_members)?;
        let overhead = member_overhead(&req.base_url);
        let bytes: usize = members
            .iter()
            .map(|m| 2 * m.id.len() + m.display.as_deref().map_or(0, str::len) + overhead)
            .sum();
        *budget = budget
            .checked_sub(bytes)
            .ok_or_else(memberships::too_many_members)?;
        Ok(members_json(&members, &req.base_url))
    }

    /// A single group as the response body, with `ETag` (and `Location`);
    /// members are read only when the projection returns them.
    async fn one(
        &self,
        req: &ScimRequest,
        record: &Record,
        projection: &Projection,
        status: StatusCode,
    ) -> Result<ScimResponse, ScimError> {
        let related = if projection.includes("members") {
            let mut budget = MAX_MEMBERS_BYTES;
            Some((
                "members",
                self.members_within(req, &record.id, &mut budget).await?,
            ))
        } else {
            None
        };
        let body = projection.apply(
            &render(record, &req.base_url, &self.registry, related),
            KIND,
            &self.registry,
        );
        Ok(single(req, record, body, status))
    }

    /// Checks member ids: each must be a user or group of the tenant.
    async fn resolve(
        &self,
        tenant: &TenantId,
        group_id: &str,
        ids: &[String],
    ) -> Result<Resolved, ScimError> {
        if ids.is_empty() {
            return Ok(Resolved::default());
        }
        memberships::resolve(&self.store, tenant, group_id, ids).await
    }

    /// The group's current member ids (for replacing the whole list).
    async fn member_ids(&self, tenant: &TenantId, id: &str) -> Result<Vec<String>, ScimError> {
        Ok(self
            .store
            .members(tenant, id, usize::MAX)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.id)
            .collect())
    }

    /// Checks the members a request names (before anything is written).
    async fn resolve_changes(
        &self,
        tenant: &TenantId,
        id: &str,
        requested: Vec<MemberChange>,
    ) -> Result<Vec<Change>, ScimError> {
        let mut changes = Vec::with_capacity(requested.len());
        // Members an earlier change of this request may have touched: for
        // them, what was read before it is no longer what will be.
        let mut touched: HashSet<String> = HashSet::new();
        let mut all_touched = false;
        for c in requested {
            changes.push(match c {
                MemberChange::Add(ids) => {
                    let Resolved { members, present } = self.resolve(tenant, id, &ids).await?;
                    let new = members
                        .into_iter()
                        .filter(|m| {
                            all_touched || touched.contains(&m.id) || !present.contains(&m.id)
                        })
                        .collect();
                    touched.extend(ids);
                    Change::Add(new)
                }
                MemberChange::Remove(ids) => {
                    touched.extend(ids.iter().cloned());
                    Change::Remove(ids)
                }
                MemberChange::RemoveAll => {
                    all_touched = true;
                    Change::Set(Vec::new())
                }
                MemberChange::ReplaceAll(ids) => {
                    all_touched = true;
                    Change::Set(self.resolve(tenant, id, &ids).await?.members)
                }
                MemberChange::RemoveWhere(f) => {
                    all_touched = true;
                    Change::RemoveWhere(f)
                }
            });
        }
        Ok(changes)
    }

    /// Applies resolved membership changes in order, every step
    /// conditional on `condition` as the step before left it; returns the
    /// condition after the last.
    async fn apply(
        &self,
        tenant: &TenantId,
        id: &str,
        mut condition: GroupCondition,
        changes: Vec<Change>,
    ) -> Result<GroupCondition, Failure> {
        let store = &self.store;
        for change in changes {
            condition = match change {
                Change::Add(members) => {
                    let condition = store.add_members(tenant, id, condition, &members).await?;
                    audit::members_added(members.iter().map(|m| m.id.as_str()));
                    condition
                }
                Change::Remove(ids) => {
                    let condition = store.remove_members(tenant, id, condition, &ids).await?;
                    audit::members_removed(ids.iter().map(String::as_str));
                    condition
                }
                Change::Set(members) => {
                    let wanted: BTreeSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
                    let current = self.member_ids(tenant, id).await?;
                    let gone: Vec<String> = current
                        .iter()
                        .filter(|m| !wanted.contains(m.as_str()))
                        .cloned()
                        .collect();
                    let have: BTreeSet<&str> = current.iter().map(String::as_str).collect();
                    let new: Vec<Member> = members
                        .into_iter()
                        .filter(|m| !have.contains(m.id.as_str()))
                        .collect();
                    let condition = store.remove_members(tenant, id, condition, &gone).await?;
                    let condition = store.add_members(tenant, id, condition, &new).await?;
                    audit::members_removed(gone.iter().map(String::as_str));
                    audit::members_added(new.iter().map(|m| m.id.as_str()));
                    condition
                }
                Change::RemoveWhere(filter) => {
                    let members_path = AttrPath {
                        urn: None,
                        name: "members".to_owned(),
                        sub: None,
                    };
                    let members = store
                        .members(tenant, id, usize::MAX)
                        .await?
                        .unwrap_or_default();
                    let doomed: Vec<String> = members
                        .iter()
                        .filter(|m| {
                            let element = serde_json::json!({
                                "value": m.id, "type": m.kind.name(), "display": m.display,
                            });
                            filter.matches_element(&element, &members_path, KIND, &self.registry)
                        })
                        .map(|m| m.id.clone())
                        .collect();
                    let condition = store.remove_members(tenant, id, condition, &doomed).await?;
                    audit::members_removed(doomed.iter().map(String::as_str));
                    condition
                }
            };
        }
        Ok(condition)
    }

    /// `409 uniqueness` for a new displayName another group holds, checked
    /// before membership steps because the document is written after them.
    async fn check_name_free(
        &self,
        tenant: &TenantId,
        current: &Record,
        next: &Record,
    ) -> Result<(), ScimError> {
        let held = current.unique_keys();
        for key in next.unique_keys().into_iter().filter(|k| !held.contains(k)) {
            if let Some(holder) = self.store.find_unique(tenant, &key).await?
                && holder != current.id
            {
                return Err(StoreError::Conflict(Some(key)).into());
            }
        }
        Ok(())
    }

    async fn create(&self, req: &ScimRequest) -> Result<ScimResponse, ScimError> {
        let projection = projection(req, KIND, &self.registry)?;
        let mut doc = normalize(&json_body(req)?, KIND, &self.registry)?;
        let member_ids = take_members(&mut doc);
        stamp(&mut doc, KIND, None);
        let record = Record::new(KIND, uuid::Uuid::new_v4().to_string(), 1, doc);
        check_keys(&record)?;
        let members = self
            .resolve(&req.tenant, &record.id, &member_ids)
            .await?
            .members;
        self.store.create(&req.tenant, &record).await?;
        audit::resource(None, Some(&record.document));
        if members.is_empty() {
            // Nothing to read back: the group has no members yet.
            let body = projection.apply(
                &render(&record, &req.base_url, &self.registry, None),
                KIND,
                &self.registry,
            );
            return Ok(single(req, &record, body, StatusCode::CREATED));
        }
        if let Err(e) = self
            .store
            .add_members(
                &req.tenant,
                &record.id,
                GroupCondition::At(record.version),
                &members,
            )
            .await
        {
            // Nothing of a failed create stays: the group goes again.
            let created = fetch(&self.store, &req.tenant, KIND, &record.id).await?;
            self.store.delete(&req.tenant, &created).await?;
            return Err(e.into());
        }
        audit::members_added(members.iter().map(|m| m.id.as_str()));
        let stored = fetch(&self.store, &req.tenant, KIND, &record.id).await?;
        self.one(req, &stored, &projection, StatusCode::CREATED)
            .await
    }

    async fn get(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let projection = projection(req, KIND, &self.registry)?;
        let record = fetch(&self.store, &req.tenant, KIND, id).await?;
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
        let with_members = query.projection.includes("members");
        let mut budget = MAX_MEMBERS_BYTES;
        let mut resources = Vec::with_capacity(page.records.len());
        for record in &page.records {
            let related = if with_members {
                Some((
                    "members",
                    self.members_within(req, &record.id, &mut budget).await?,
                ))
            } else {
                None
            };
            resources.push(query.projection.apply(
                &render(record, &req.base_url, &self.registry, related),
                KIND,
                &self.registry,
            ));
        }
        page.response(resources)
    }

    /// PUT and PATCH, on the group read (see [`operation::conditionally`]):
    /// the members are checked, then the membership steps run, and the
    /// document is written last. With `If-Match`, a document change, or
    /// members derived from the ones read (replace all, remove by filter),
    /// every step is conditional on the group version the step before left
    /// and the document on the version the last step left: a failed step
    /// leaves the document as it was, and no step applies to a group
    /// another request changed after the read.
    async fn update(
        &self,
        req: &ScimRequest,
        id: &str,
        change: impl Fn(&Record) -> Result<(Option<Value>, Vec<MemberChange>), ScimError>,
    ) -> Result<(), ScimError> {
        let (tenant, change) = (&req.tenant, &change);
        let pinned = req.header("if-match").is_some();
        operation::conditionally(&self.store, req, KIND, id, |current| async move {
            let (doc, member_changes) = change(&current)?;
            let changes = self.resolve_changes(tenant, id, member_changes).await?;
            let next = match doc {
                Some(mut doc) => {
                    check_immutable(&current.document, &doc, KIND, &self.registry)
                        .map_err(ScimError::from)?;
                    stamp(&mut doc, KIND, Some(&current.document));
                    let next = Record {
                        document: doc,
                        ..current.clone()
                    };
                    check_keys(&next)?;
                    (!same_content(&current, &next)).then_some(next)
                }
                None => None,
            };
            if let (Some(next), false) = (&next, changes.is_empty()) {
                self.check_name_free(tenant, &current, next).await?;
            }
            // Adding and removing named members commutes with other
            // writers; anything else is conditional on the version read.
            let derived = changes
                .iter()
                .any(|c| matches!(c, Change::Set(_) | Change::RemoveWhere(_)));
            let condition = if pinned || derived || next.is_some() {
                GroupCondition::At(current.version)
            } else {
                GroupCondition::Exists {
                    seen: current.version,
                }
            };
            let condition = self.apply(tenant, id, condition, changes).await?;
            if let (Some(mut next), GroupCondition::At(version)) = (next, condition) {
                let previous = Record { version, ..current };
                next.version = version + 1;
                self.store.replace(tenant, &previous, &next).await?;
                audit::resource(Some(&previous.document), Some(&next.document));
                memberships::refresh_display(&self.store, tenant, &previous, &next).await;
            }
            Ok(())
        })
        .await
    }

    async fn replace(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let projection = projection(req, KIND, &self.registry)?;
        let body = json_body(req)?;
        let named = names_members(&body);
        let mut doc = normalize(&body, KIND, &self.registry)?;
        let members = put_members(named.then(|| take_members(&mut doc)), &req.policy);
        self.update(req, id, |_| Ok((Some(doc.clone()), members.clone())))
            .await?;
        let stored = fetch(&self.store, &req.tenant, KIND, id).await?;
        self.one(req, &stored, &projection, StatusCode::OK).await
    }

    /// PATCH answers `204` (what Entra expects of groups, and no member
    /// list to send back) unless the client asks for a representation with
    /// `attributes` or `excludedAttributes`.
    async fn patch(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        let projection = projection(req, KIND, &self.registry)?;
        let patch = PatchRequest::parse(&json_body(req)?, KIND, &self.registry)?;
        self.update(req, id, |current| {
            let mut doc = current.document.clone();
            let outcome = patch.apply(&mut doc, KIND, &self.registry)?;
            let members = outcome
                .members
                .into_iter()
                .map(|c| replaced_members(c, &req.policy))
                .collect();
            Ok((outcome.changed.then_some(doc), members))
        })
        .await?;
        let wants_body = req.query_param("attributes").is_some()
            || req.query_param("excludedAttributes").is_some();
        if !wants_body {
            return Ok(no_content());
        }
        let stored = fetch(&self.store, &req.tenant, KIND, id).await?;
        self.one(req, &stored, &projection, StatusCode::OK).await
    }

    async fn delete(&self, req: &ScimRequest, id: &str) -> Result<ScimResponse, ScimError> {
        operation::delete(&self.store, req, KIND, id).await?;
        Ok(no_content())
    }
}

/// The membership change of a group `PUT`: the members it names, and when
/// it names none, the tenant's `groupPutWithoutMembers` decides.
fn put_members(members: Option<Vec<String>>, policy: &TenantPolicy) -> Vec<MemberChange> {
    match (members, policy.group_put_without_members) {
        (Some(ids), _) => vec![MemberChange::ReplaceAll(ids)],
        (None, GroupPutWithoutMembers::Clear) => vec![MemberChange::ReplaceAll(Vec::new())],
        (None, GroupPutWithoutMembers::Keep) => Vec::new(),
    }
}

/// A PATCH `replace` of `members` under the tenant's `membersReplace`: the
/// RFC's "these are the members", or "add these".
fn replaced_members(change: MemberChange, policy: &TenantPolicy) -> MemberChange {
    match (change, policy.members_replace) {
        (MemberChange::ReplaceAll(ids), MembersReplace::Additive) => MemberChange::Add(ids),
        (change, _) => change,
    }
}

impl<S: Store> Routes for Groups<S> {
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
