//! An incoming SCIM request, parsed once from the HTTP request: tenant,
//! endpoint, decoded query, body.

use bytes::Bytes;
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;

use crate::tenant::settings::TenantPolicy;
use crate::tenant::{SCIM_PATH_SEGMENT, TenantId, split_scim_path};

/// The SCIM endpoint a path names (RFC 7644 §3.2), below the Tenant URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Users(Option<String>),
    UsersSearch,
    Groups(Option<String>),
    GroupsSearch,
    Schemas(Option<String>),
    ResourceTypes(Option<String>),
    ServiceProviderConfig,
    /// `/Bulk` (RFC 7644 §3.7).
    Bulk,
    /// The Tenant URL itself or its `/.search`: a query across resource
    /// types (RFC 7644 §3.4.2), which this service does not offer.
    Root,
    /// Anything else: answered 404.
    Unknown,
}

impl Endpoint {
    /// Parses the path below the Tenant URL; endpoint names match
    /// case-insensitively, ids are percent-decoded.
    pub fn parse(rest: &str) -> Endpoint {
        let rest = rest.trim_end_matches('/');
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        let id = match tail {
            None => None,
            Some(t) if t.is_empty() || t.contains('/') => return Endpoint::Unknown,
            Some(t) => Some(percent_decode_str(t).decode_utf8_lossy().into_owned()),
        };
        let is = |name: &str| head.eq_ignore_ascii_case(name);
        if tail.is_none() && (head.is_empty() || head == ".search") {
            return Endpoint::Root;
        }
        let search = id.as_deref() == Some(".search");
        match () {
            _ if is("Users") && search => Endpoint::UsersSearch,
            _ if is("Users") => Endpoint::Users(id),
            _ if is("Groups") && search => Endpoint::GroupsSearch,
            _ if is("Groups") => Endpoint::Groups(id),
            _ if is("Schemas") => Endpoint::Schemas(id),
            _ if is("ResourceTypes") => Endpoint::ResourceTypes(id),
            _ if is("ServiceProviderConfig") && id.is_none() => Endpoint::ServiceProviderConfig,
            _ if is("Bulk") && id.is_none() => Endpoint::Bulk,
            _ => Endpoint::Unknown,
        }
    }

    /// A short, personal-data-free name for logs.
    pub fn family(&self) -> &'static str {
        match self {
            Endpoint::Users(_) | Endpoint::UsersSearch => "Users",
            Endpoint::Groups(_) | Endpoint::GroupsSearch => "Groups",
            Endpoint::Schemas(_) => "Schemas",
            Endpoint::ResourceTypes(_) => "ResourceTypes",
            Endpoint::Root => "Root",
            Endpoint::ServiceProviderConfig => "ServiceProviderConfig",
            Endpoint::Bulk => "Bulk",
            Endpoint::Unknown => "Unknown",
        }
    }
}

/// The id of one request, in its log lines, its error bodies and its
/// `X-Request-Id` header, so an identity provider's failure can be found in
/// the logs: API Gateway's `requestContext.requestId` on Lambda, a random
/// one elsewhere. Set it as a request extension; [`RequestId::of`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn new(id: impl Into<String>) -> Self {
        RequestId(id.into())
    }

    /// A fresh random id, for requests that arrive without one.
    pub fn generate() -> Self {
        RequestId(uuid::Uuid::new_v4().to_string())
    }

    /// The id a request carries as an extension, else a fresh one.
    pub fn of<B>(req: &http::Request<B>) -> Self {
        req.extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(Self::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request addressed to one tenant's SCIM endpoint.
#[derive(Debug, Clone)]
pub struct ScimRequest {
    pub method: Method,
    pub tenant: TenantId,
    pub endpoint: Endpoint,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The Tenant URL, for `Location`, `meta.location` and `$ref`.
    pub base_url: String,
    pub request_id: RequestId,
    /// What the tenant's settings decide for it (the RFC's reading when the
    /// caller's credentials carried none).
    pub policy: TenantPolicy,
}

/// Why a request does not address a tenant at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotScim {
    /// The path has no `/scim/v2/{tenant}` part or an invalid tenant id.
    NoTenant,
}

impl ScimRequest {
    /// Parses an HTTP request. `scheme` is how the client reached us
    /// (`https` behind API Gateway); `public_base_url` overrides the
    /// origin derived from the `Host` header (custom domains).
    pub fn parse(
        req: http::Request<Bytes>,
        scheme: &str,
        public_base_url: Option<&str>,
    ) -> Result<ScimRequest, NotScim> {
        let request_id = RequestId::of(&req);
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        let (tenant, rest) = split_scim_path(path).ok_or(NotScim::NoTenant)?;
        let tenant = TenantId::parse(tenant).map_err(|_| NotScim::NoTenant)?;
        let prefix = &path[..path.find(SCIM_PATH_SEGMENT).unwrap_or(0)];
        let origin = match public_base_url {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => {
                let host = parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                    .unwrap_or("localhost");
                format!("{scheme}://{host}{prefix}")
            }
        };
        let query = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Ok(ScimRequest {
            method: parts.method,
            base_url: format!("{origin}{SCIM_PATH_SEGMENT}{tenant}"),
            endpoint: Endpoint::parse(rest),
            tenant,
            query,
            policy: parts
                .extensions
                .get::<TenantPolicy>()
                .copied()
                .unwrap_or_default(),
            headers: parts.headers,
            body,
            request_id,
        })
    }

    /// The first value of a query parameter, matched case-insensitively
    /// (clients send `excludedattributes` as well as `excludedAttributes`).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Longest `User-Agent` kept with a write (it is stored with the item).
const MAX_USER_AGENT_BYTES: usize = 256;

/// The caller's `User-Agent` (visible ASCII only, as `to_str` accepts),
/// cut to [`MAX_USER_AGENT_BYTES`].
pub fn user_agent(headers: &http::HeaderMap) -> Option<String> {
    let text = headers.get(http::header::USER_AGENT)?.to_str().ok()?;
    Some(text[..text.len().min(MAX_USER_AGENT_BYTES)].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_kept_up_to_its_limit() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(user_agent(&headers), None);
        headers.insert(http::header::USER_AGENT, "Okta SCIM".parse().unwrap());
        assert_eq!(user_agent(&headers).as_deref(), Some("Okta SCIM"));
        let long = "a".repeat(1000);
        headers.insert(http::header::USER_AGENT, long.parse().unwrap());
        assert_eq!(user_agent(&headers).unwrap().len(), MAX_USER_AGENT_BYTES);
        let opaque = http::HeaderValue::from_bytes("é".as_bytes()).unwrap();
        headers.insert(http::header::USER_AGENT, opaque);
        assert_eq!(user_agent(&headers), None);
    }

    #[test]
    fn endpoint_table() {
        let cases = [
            ("Users", Endpoint::Users(None)),
            ("users/", Endpoint::Users(None)),
            ("Users/abc", Endpoint::Users(Some("abc".into()))),
            ("Users/.search", Endpoint::UsersSearch),
            ("Groups/a%20b", Endpoint::Groups(Some("a b".into()))),
            ("Groups/.search", Endpoint::GroupsSearch),
            ("Schemas", Endpoint::Schemas(None)),
            (
                "Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                Endpoint::Schemas(Some("urn:ietf:params:scim:schemas:core:2.0:User".into())),
            ),
            (
                "ResourceTypes/User",
                Endpoint::ResourceTypes(Some("User".into())),
            ),
            ("ServiceProviderConfig", Endpoint::ServiceProviderConfig),
            ("ServiceProviderConfig/x", Endpoint::Unknown),
            ("Users/a/b", Endpoint::Unknown),
            ("Bulk", Endpoint::Bulk),
            ("Bulk/x", Endpoint::Unknown),
            ("", Endpoint::Root),
            (".search", Endpoint::Root),
            ("x/.search", Endpoint::Unknown),
        ];
        for (path, want) in cases {
            assert_eq!(Endpoint::parse(path), want, "{path}");
        }
    }

    fn request(uri: &str) -> http::Request<Bytes> {
        http::Request::builder()
            .uri(uri)
            .header("host", "api.example.com")
            .body(Bytes::new())
            .unwrap()
    }

    #[test]
    fn parses_tenant_base_url_and_decoded_query() {
        let req = ScimRequest::parse(
            request("/prod/scim/v2/acme/Users?filter=userName%20eq%20%22a+b%22&count=5"),
            "https",
            None,
        )
        .unwrap();
        assert_eq!(req.tenant.as_str(), "acme");
        assert_eq!(req.endpoint, Endpoint::Users(None));
        assert_eq!(req.base_url, "https://api.example.com/prod/scim/v2/acme");
        assert_eq!(req.query_param("FILTER"), Some("userName eq \"a b\""));
        assert_eq!(req.query_param("count"), Some("5"));
        let req = ScimRequest::parse(
            request("/scim/v2/acme/Schemas"),
            "https",
            Some("https://scim.example.com/"),
        )
        .unwrap();
        assert_eq!(req.base_url, "https://scim.example.com/scim/v2/acme");
    }

    #[test]
    fn rejects_paths_without_a_valid_tenant() {
        for uri in [
            "/Users",
            "/scim/v2/ACME/Users",
            "/scim/v2/a_b/Users",
            "/scim/v2//Users",
        ] {
            assert_eq!(
                ScimRequest::parse(request(uri), "https", None).unwrap_err(),
                NotScim::NoTenant,
                "{uri}"
            );
        }
    }
}
