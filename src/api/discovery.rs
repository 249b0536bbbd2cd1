//! `/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`: served without
//! any store, from the registry and the capabilities.

use std::sync::Arc;

use http::Method;

use super::Routes;
use super::request::{Endpoint, ScimRequest};
use super::response::ScimResponse;
use crate::scim::ScimError;
use crate::scim::discovery::{
    self, Capabilities, RESOURCE_KINDS, resource_kind, service_provider_config,
};
use crate::scim::list::ListPage;
use crate::scim::schema::Registry;

/// The discovery endpoints of one deployment.
#[derive(Debug, Clone)]
pub struct Discovery {
    registry: Arc<Registry>,
    capabilities: Capabilities,
}

impl Discovery {
    pub fn new(registry: Arc<Registry>, capabilities: Capabilities) -> Self {
        Discovery {
            registry,
            capabilities,
        }
    }

    fn respond(&self, req: &ScimRequest) -> Result<ScimResponse, ScimError> {
        if req.method != Method::GET {
            return Err(method_not_allowed());
        }
        // RFC 7644 §4: filtering discovery resources is not supported.
        if req.query_param("filter").is_some() {
            return Err(ScimError::new(
                403,
                None,
                "filtering is not supported on discovery endpoints",
            ));
        }
        let base = &req.base_url;
        let body = match &req.endpoint {
            Endpoint::ServiceProviderConfig => service_provider_config(&self.capabilities, base),
            Endpoint::Schemas(None) => ListPage::all(
                self.registry
                    .schemas()
                    .into_iter()
                    .map(|s| discovery::schema(s, base))
                    .collect(),
            )
            .to_json(),
            Endpoint::Schemas(Some(id)) => {
                let schema = self
                    .registry
                    .schema(id)
                    .ok_or_else(|| ScimError::not_found(format!("schema {id} not found")))?;
                discovery::schema(schema, base)
            }
            Endpoint::ResourceTypes(None) => ListPage::all(
                RESOURCE_KINDS
                    .into_iter()
                    .map(|k| discovery::resource_type(&self.registry, k, base))
                    .collect(),
            )
            .to_json(),
            Endpoint::ResourceTypes(Some(id)) => {
                let kind = resource_kind(id)
                    .ok_or_else(|| ScimError::not_found(format!("resource type {id} not found")))?;
                discovery::resource_type(&self.registry, kind, base)
            }
            _ => return Err(ScimError::not_found("no such endpoint")),
        };
        Ok(ScimResponse::ok(body))
    }
}

/// 405 for a method an endpoint does not serve.
pub fn method_not_allowed() -> ScimError {
    ScimError::new(405, None, "method not allowed on this endpoint")
}

impl Routes for Discovery {
    async fn route(&self, req: &ScimRequest) -> Option<Result<ScimResponse, ScimError>> {
        match req.endpoint {
            Endpoint::Schemas(_) | Endpoint::ResourceTypes(_) | Endpoint::ServiceProviderConfig => {
                Some(self.respond(req))
            }
            // RFC 7644 §3.12: 501 for an operation the service does not offer.
            Endpoint::Root => Some(Err(ScimError::new(
                501,
                None,
                "queries across resource types are not supported; query /Users or /Groups",
            ))),
            _ => None,
        }
    }
}
