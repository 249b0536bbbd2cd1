//! What a request to a resource endpoint (`/Users`, `/Groups`) asks for,
//! decided once from the endpoint and method, and the steps both resource
//! families share.

use http::Method;

use super::discovery::method_not_allowed;
use super::listing::{ListQuery, ListSettings};
use super::request::{Endpoint, ScimRequest};
use super::resource::{backoff, check_if_match, fetch, json_body};
use crate::request_log::audit;
use crate::scim::ScimError;
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::{Record, Store, StoreError};

/// Read-modify-write attempts before a contended write gives up with 409.
pub const WRITE_ATTEMPTS: u32 = 10;

/// One operation on a resource type.
#[derive(Debug, Clone)]
pub enum Operation<'r> {
    /// `GET /Users` or `POST /Users/.search`.
    List(ListQuery),
    Create,
    Get(&'r str),
    Replace(&'r str),
    Patch(&'r str),
    Delete(&'r str),
}

impl<'r> Operation<'r> {
    /// The operation `req` asks of resource type `kind`: `None` when the
    /// request is for another endpoint, `405` for a method the endpoint
    /// does not serve, a SCIM error for an unreadable list query.
    pub fn of(
        req: &'r ScimRequest,
        kind: ResourceKind,
        registry: &Registry,
        settings: &ListSettings,
    ) -> Option<Result<Operation<'r>, ScimError>> {
        let (collection, search, item) = match (&req.endpoint, kind) {
            (Endpoint::Users(id), ResourceKind::User)
            | (Endpoint::Groups(id), ResourceKind::Group) => (id.is_none(), false, id.as_deref()),
            (Endpoint::UsersSearch, ResourceKind::User)
            | (Endpoint::GroupsSearch, ResourceKind::Group) => (false, true, None),
            _ => return None,
        };
        let method = &req.method;
        Some(match (collection, search, item) {
            (true, _, _) if method == Method::GET => {
                ListQuery::from_params(req, kind, registry, settings).map(Operation::List)
            }
            (true, _, _) if method == Method::POST => Ok(Operation::Create),
            (_, true, _) if method == Method::POST => json_body(req)
                .and_then(|b| ListQuery::from_search(&b, kind, registry, settings))
                .map(Operation::List),
            (_, _, Some(id)) => match *method {
                Method::GET => Ok(Operation::Get(id)),
                Method::PUT => Ok(Operation::Replace(id)),
                Method::PATCH => Ok(Operation::Patch(id)),
                Method::DELETE => Ok(Operation::Delete(id)),
                _ => Err(method_not_allowed()),
            },
            _ => Err(method_not_allowed()),
        })
    }
}

/// `409` for a write that kept losing races.
pub fn contended(kind: ResourceKind) -> ScimError {
    ScimError::new(
        409,
        None,
        format!(
            "the {} is being modified by other requests; retry",
            kind.name().to_lowercase()
        ),
    )
}

/// Why one attempt of a conditional write did not finish.
#[derive(Debug)]
pub enum Failure {
    /// Another writer changed the resource after it was read.
    Raced,
    /// An answer for the client.
    Error(ScimError),
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Failure::Error(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionMismatch => Failure::Raced,
            e => Failure::Error(e.into()),
        }
    }
}

/// The one read → precondition → write loop of every PUT, PATCH and
/// DELETE: reads the resource (`404` when it is gone), checks `If-Match`
/// (`412`), and runs `write` on what it read. A write that lost a race
/// starts again from a fresh read after a jittered pause, unless the client
/// pinned the version with `If-Match` (then it is `412` at once); after
/// [`WRITE_ATTEMPTS`] lost races it is `409`.
pub async fn conditionally<S: Store, T, W: Future<Output = Result<T, Failure>>>(
    store: &S,
    req: &ScimRequest,
    kind: ResourceKind,
    id: &str,
    write: impl Fn(Record) -> W,
) -> Result<T, ScimError> {
    let pinned = req.header("if-match").is_some();
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            backoff(attempt).await;
        }
        let current = fetch(store, &req.tenant, kind, id).await?;
        audit::subject(&current.document);
        check_if_match(req, current.version)?;
        match write(current).await {
            Ok(done) => return Ok(done),
            Err(Failure::Raced) if !pinned => {}
            Err(Failure::Raced) => return Err(StoreError::VersionMismatch.into()),
            Err(Failure::Error(e)) => return Err(e),
        }
    }
    Err(contended(kind))
}

/// Deletes a resource, conditional on the version read; returns what was
/// deleted.
pub async fn delete<S: Store>(
    store: &S,
    req: &ScimRequest,
    kind: ResourceKind,
    id: &str,
) -> Result<Record, ScimError> {
    conditionally(store, req, kind, id, |current| async move {
        match store.delete(&req.tenant, &current).await {
            Ok(()) => {
                audit::resource(Some(&current.document), None);
                Ok(current)
            }
            Err(StoreError::NotFound) => Err(Failure::Error(ScimError::not_found(format!(
                "{} {id} not found",
                kind.name()
            )))),
            Err(e) => Err(e.into()),
        }
    })
    .await
}
