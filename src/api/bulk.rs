//! `POST /Bulk`: each operation of a BulkRequest answered by the front door
//! exactly as the single request it stands for (the same parsing,
//! validation, atomicity, events from the stream and request-log record,
//! under a request id of its own: the Bulk request's with `-{n}`), in an
//! order where every `bulkId` is created before it is used.

use std::collections::HashMap;

use bytes::Bytes;
use http::Method;

use super::request::{RequestId, ScimRequest};
use super::response::ScimResponse;
use super::{Caller, HttpConfig, Routes, serve_boxed};
use crate::scim::bulk::{
    BulkMethod, BulkOperation, BulkRequest, BulkResult, MAX_PAYLOAD_BYTES, Step, plan, resolve,
    resolve_path, response, too_large,
};
use crate::scim::{ScimError, ScimType};
use crate::store::change::TokenId;

/// Runs a BulkRequest; the operations' answers in a BulkResponse.
pub(super) async fn run<R: Routes>(
    routes: &R,
    config: &HttpConfig,
    req: &ScimRequest,
    caller: &Caller,
    token_id: Option<&str>,
) -> Result<ScimResponse, ScimError> {
    if req.method != Method::POST {
        return Err(ScimError::new(405, None, "/Bulk takes POST"));
    }
    if req.body.len() > MAX_PAYLOAD_BYTES {
        return Err(too_large(format!(
            "a BulkRequest is at most {MAX_PAYLOAD_BYTES} bytes (maxPayloadSize), this one {}",
            req.body.len()
        )));
    }
    let bulk = BulkRequest::parse(&req.body)?;
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(bulk.operations.len());
    let mut errors = 0;
    for (n, step) in plan(&bulk.operations).into_iter().enumerate() {
        if bulk.fail_on_errors.is_some_and(|most| errors >= most) {
            break;
        }
        let (index, result) = match step {
            Step::Unresolvable(i, why) => (
                i,
                BulkResult::refused(
                    &bulk.operations[i],
                    &ScimError::new(409, Some(ScimType::InvalidValue), why),
                ),
            ),
            Step::Run(i) => {
                let sub = Sub {
                    routes,
                    config,
                    bulk: req,
                    caller,
                    token_id,
                    n,
                };
                let (result, id) = sub.run(&bulk.operations[i], &created).await;
                if let (Some(bulk_id), Some(id)) = (&bulk.operations[i].bulk_id, id) {
                    created.insert(bulk_id.clone(), id);
                }
                (i, result)
            }
        };
        if result.status >= 400 {
            errors += 1;
        }
        results.push((index, result));
    }
    Ok(ScimResponse::ok(response(&results)))
}

/// One operation's request, below its Bulk request.
struct Sub<'a, R> {
    routes: &'a R,
    config: &'a HttpConfig,
    bulk: &'a ScimRequest,
    caller: &'a Caller,
    token_id: Option<&'a str>,
    /// Its place in the run, for its request id.
    n: usize,
}

impl<R: Routes> Sub<'_, R> {
    /// Runs `op` through the front door; its result, and the id of what a
    /// POST created.
    async fn run(
        &self,
        op: &BulkOperation,
        created: &HashMap<String, String>,
    ) -> (BulkResult, Option<String>) {
        let resolved = resolve_path(&op.path, created).and_then(|path| {
            let data = op.data.as_ref().map(|d| resolve(d, created)).transpose()?;
            Ok((path, data))
        });
        let (path, data) = match resolved {
            Ok(r) => r,
            Err(missing) => {
                let err = ScimError::new(
                    409,
                    Some(ScimType::InvalidValue),
                    format!("the POST with bulkId {missing} failed, so nothing refers to it"),
                );
                return (BulkResult::refused(op, &err), None);
            }
        };
        let request = match self.request(op, &path, data.as_ref()) {
            Ok(r) => r,
            Err(err) => return (BulkResult::refused(op, &err), None),
        };
        let answer = serve_boxed(self.routes, self.config, request, self.caller.clone()).await;
        let status = answer.status().as_u16();
        let header = |name: http::HeaderName| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let version = header(http::header::ETAG);
        let location = header(http::header::LOCATION).or_else(|| {
            (op.method != BulkMethod::Post && status < 300)
                .then(|| format!("{}{path}", self.bulk.base_url))
        });
        let body: Option<serde_json::Value> = serde_json::from_slice(answer.body()).ok();
        let id = (op.method == BulkMethod::Post && status == 201)
            .then(|| body.as_ref()?.get("id")?.as_str().map(str::to_owned))
            .flatten();
        let result = BulkResult {
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            version,
            location,
            status,
            error: body.filter(|_| status >= 400),
        };
        (result, id)
    }

    /// The HTTP request `op` stands for, with the Bulk request's headers
    /// (Host, User-Agent, forwarding), `If-Match` from its `version`, and
    /// the caller's token id and tenant policy.
    fn request(
        &self,
        op: &BulkOperation,
        path: &str,
        data: Option<&serde_json::Value>,
    ) -> Result<http::Request<Bytes>, ScimError> {
        let base = &self.bulk.base_url;
        let scim_path = base
            .find("://")
            .and_then(|at| base[at + 3..].find('/').map(|p| &base[at + 3 + p..]))
            .unwrap_or("");
        let body = data.map_or_else(Bytes::new, |d| Bytes::from(d.to_string()));
        let method = match op.method {
            BulkMethod::Post => Method::POST,
            BulkMethod::Put => Method::PUT,
            BulkMethod::Patch => Method::PATCH,
            BulkMethod::Delete => Method::DELETE,
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{scim_path}{path}"))
            .body(body)
            .map_err(|_| {
                ScimError::bad_request(ScimType::InvalidPath, "the path is not a valid URI path")
            })?;
        let headers = request.headers_mut();
        for (name, value) in &self.bulk.headers {
            let kept = !matches!(
                name.as_str(),
                "content-length" | "content-type" | "if-match" | "if-none-match"
            );
            if kept {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/scim+json"),
        );
        if let Some(version) = &op.version {
            let value = http::HeaderValue::from_str(version).map_err(|_| {
                ScimError::bad_request(ScimType::InvalidVers, "version is not a valid ETag")
            })?;
            headers.insert(http::header::IF_MATCH, value);
        }
        let extensions = request.extensions_mut();
        extensions.insert(RequestId::new(format!(
            "{}-{}",
            self.bulk.request_id, self.n
        )));
        extensions.insert(self.bulk.policy);
        if let Some(id) = self.token_id {
            extensions.insert(TokenId(id.to_owned()));
        }
        Ok(request)
    }
}
