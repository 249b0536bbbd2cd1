//! SCIM responses and their rendering to HTTP: every body is
//! `application/scim+json`, every error an RFC 7644 §3.12 document.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde_json::Value;

use crate::scim::ScimError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A response before rendering: status, optional JSON body, extra headers.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimResponse {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ScimResponse {
    pub fn ok(body: Value) -> Self {
        ScimResponse {
            status: StatusCode::OK,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// An error response; 401 carries the `WWW-Authenticate` challenge and
    /// 503 a `Retry-After`, so clients know what to do next.
    pub fn error(err: &ScimError) -> Self {
        let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let response = ScimResponse {
            status,
            body: Some(err.to_json()),
            headers: Vec::new(),
        };
        match status {
            StatusCode::UNAUTHORIZED => {
                response.with_header(WWW_AUTHENTICATE, "Bearer realm=\"scim\"")
            }
            StatusCode::SERVICE_UNAVAILABLE => response.with_header(RETRY_AFTER, "5"),
            _ => response,
        }
    }

    /// Renders to HTTP. Serialising a `Value` cannot fail, so the body is
    /// always what was built.
    pub fn into_http(self) -> Response<Bytes> {
        let body = self
            .body
            .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap_or_default()))
            .unwrap_or_default();
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

impl From<ScimError> for ScimResponse {
    fn from(err: ScimError) -> Self {
        ScimResponse::error(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimType;

    #[test]
    fn errors_render_as_scim_json_with_challenge_headers() {
        let r = ScimResponse::error(&ScimError::new(401, None, "missing token")).into_http();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[CONTENT_TYPE], SCIM_CONTENT_TYPE);
        assert!(
            r.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["status"], "401");
        let r = ScimResponse::error(&ScimError::new(503, None, "later")).into_http();
        assert_eq!(r.headers()[RETRY_AFTER], "5");
        let r =
            ScimResponse::error(&ScimError::bad_request(ScimType::InvalidFilter, "x")).into_http();
        assert_eq!(r.status(), 400);
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
    }
}
