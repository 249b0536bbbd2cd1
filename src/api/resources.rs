//! `/Users` and `/Groups`: not served by this build yet; they answer a
//! well-formed SCIM 501 so clients see a clear, standard error.

use super::Routes;
use super::request::{Endpoint, ScimRequest};
use super::response::ScimResponse;
use crate::scim::ScimError;

/// The resource endpoints.
#[derive(Debug, Clone, Default)]
pub struct Resources;

impl Routes for Resources {
    async fn route(&self, req: &ScimRequest) -> Option<Result<ScimResponse, ScimError>> {
        match req.endpoint {
            Endpoint::Users(_)
            | Endpoint::UsersSearch
            | Endpoint::Groups(_)
            | Endpoint::GroupsSearch => Some(Err(ScimError::new(
                501,
                None,
                format!("{} are not served by this version", req.endpoint.family()),
            ))),
            _ => None,
        }
    }
}
