//! Manager references between users of a tenant: resolving what a client
//! sent, adopting reports whose manager is provisioned later, and keeping
//! the reports' read-only copies (manager display name and email) current.
//!
//! Follow-up writes to reports are best effort: when one fails, the report
//! keeps its previous state and is put right the next time it is written
//! (a pending reference is resolved again on every write of the report).

use serde_json::Value;

use super::resource::stamp;
use crate::scim::manager;
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::{Created, Lookup, ManagerLink, Record, Store, StoreError, UniqueKey};
use crate::tenant::TenantId;

/// Attempts of a follow-up write to a report that others keep changing.
const REPORT_ATTEMPTS: u32 = 5;

/// Manager operations of one tenant.
pub struct Managers<'a, S> {
    pub store: &'a S,
    pub registry: &'a Registry,
    pub tenant: &'a TenantId,
}

impl<S: Store> Managers<'_, S> {
    /// Links the manager a user document asks for and writes the read-only
    /// copies into it. `previous` is the stored user on updates: an
    /// unchanged, resolved reference costs no read.
    pub async fn link(
        &self,
        doc: &mut Value,
        previous: Option<&Record>,
    ) -> Result<Option<ManagerLink>, StoreError> {
        let Some(value) = manager::requested(doc).map(str::to_owned) else {
            manager::set(doc, None, None, self.registry);
            return Ok(None);
        };
        if let Some(prev) = previous
            && let Some(ManagerLink::Resolved(id)) = &prev.manager
            && manager::requested(&prev.document) == Some(value.as_str())
        {
            let (name, email) = manager::copies(&prev.document, self.registry);
            manager::restore(doc, &value, name, email, self.registry);
            return Ok(Some(ManagerLink::Resolved(id.clone())));
        }
        Ok(Some(match self.resolve(&value).await? {
            Some(m) => {
                manager::set(doc, Some(&m.id), Some(&m.document), self.registry);
                ManagerLink::Resolved(m.id)
            }
            None => {
                manager::set(doc, Some(&value), None, self.registry);
                ManagerLink::Pending(value)
            }
        }))
    }

    /// The user a manager value names: by id, else by externalId, else (an
    /// email) by userName, else by any email address.
    async fn resolve(&self, value: &str) -> Result<Option<Record>, StoreError> {
        let (store, t) = (self.store, self.tenant);
        if let Some(user) = store.get(t, ResourceKind::User, value).await? {
            return Ok(Some(user));
        }
        let lookup = Lookup::ExternalId(value.to_owned());
        if let Some(user) = store
            .find(t, ResourceKind::User, &lookup)
            .await?
            .into_iter()
            .next()
        {
            return Ok(Some(user));
        }
        if !manager::is_email(value) {
            return Ok(None);
        }
        if let Some(id) = store
            .find_unique(t, &UniqueKey::UserName(value.to_lowercase()))
            .await?
            && let Some(user) = store.get(t, ResourceKind::User, &id).await?
        {
            return Ok(Some(user));
        }
        let lookup = Lookup::Email(value.to_owned());
        Ok(store
            .find(t, ResourceKind::User, &lookup)
            .await?
            .into_iter()
            .next())
    }

    /// After `user` was created: resolves the reports waiting for it (the
    /// store tells whether any do).
    pub async fn after_create(&self, user: &Record, created: Created) {
        if created.reports_waiting
            && let Err(e) = self.adopt(None, user).await
        {
            tracing::warn!(error = %e, "resolving pending manager references failed");
        }
    }

    /// After `user` was changed: resolves reports waiting for a name it
    /// took, and refreshes the copies its reports keep.
    pub async fn after_update(&self, previous: &Record, user: &Record) {
        if let Err(e) = self.adopt(Some(previous), user).await {
            tracing::warn!(error = %e, "resolving pending manager references failed");
        }
        let changed = manager::display_name(&previous.document)
            != manager::display_name(&user.document)
            || manager::contact_email(&previous.document) != manager::contact_email(&user.document);
        if changed && let Err(e) = self.refresh_reports(user, Some(&user.document)).await {
            tracing::warn!(error = %e, "refreshing direct reports failed");
        }
    }

    /// After `user` was deleted: its reports keep the reference, unresolved.
    pub async fn after_delete(&self, user: &Record) {
        if let Err(e) = self.refresh_reports(user, None).await {
            tracing::warn!(error = %e, "unlinking direct reports failed");
        }
    }

    /// Resolves the pending references that name `user` by a value it did
    /// not have before (`previous`).
    async fn adopt(&self, previous: Option<&Record>, user: &Record) -> Result<(), StoreError> {
        let old = previous.map(Record::reference_names).unwrap_or_default();
        for value in user
            .reference_names()
            .into_iter()
            .filter(|v| !old.contains(v))
        {
            let lookup = Lookup::PendingManager(value);
            for report in self
                .store
                .find(self.tenant, ResourceKind::User, &lookup)
                .await?
            {
                let Some(ManagerLink::Pending(raw)) = &report.manager else {
                    continue;
                };
                if manager::names(raw, &user.id, &user.document) {
                    self.relink(&report.id, &user.id, Some(&user.document))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Rewrites the copies of every direct report of `user`; `None` as the
    /// manager document leaves the reports with an unresolved reference.
    async fn refresh_reports(&self, user: &Record, doc: Option<&Value>) -> Result<(), StoreError> {
        let lookup = Lookup::DirectReports(user.id.clone());
        for report in self
            .store
            .find(self.tenant, ResourceKind::User, &lookup)
            .await?
        {
            self.relink(&report.id, &user.id, doc).await?;
        }
        Ok(())
    }

    /// Points report `id` at manager `manager_id` (resolved when `doc` is
    /// the manager's document), with a conditional write, re-reading on a
    /// lost race.
    async fn relink(
        &self,
        id: &str,
        manager_id: &str,
        doc: Option<&Value>,
    ) -> Result<(), StoreError> {
        for _ in 0..REPORT_ATTEMPTS {
            let Some(current) = self.store.get(self.tenant, ResourceKind::User, id).await? else {
                return Ok(());
            };
            let mut next = current.clone();
            manager::set(&mut next.document, Some(manager_id), doc, self.registry);
            next.manager = Some(match doc {
                Some(_) => ManagerLink::Resolved(manager_id.to_owned()),
                None => ManagerLink::Pending(manager_id.to_owned()),
            });
            if next == current {
                return Ok(());
            }
            stamp(
                &mut next.document,
                ResourceKind::User,
                Some(&current.document),
            );
            next.version += 1;
            match self.store.replace(self.tenant, &current, &next).await {
                Err(StoreError::VersionMismatch) => continue,
                other => return other,
            }
        }
        Err(StoreError::VersionMismatch)
    }
}
