//! The local HTTP server: every route in one process, tokens checked by the
//! same [`Verifier`] the Lambda authorizer uses, requests answered by the
//! same front door the Lambda functions use.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::operator::OperatorPlane;
use super::{Caller, HttpConfig, Routes, serve};
use crate::auth::{TokenSource, Verdict, Verifier};
use crate::scim::limits::{LimitError, MAX_BODY_BYTES};
use crate::scim::{ScimError, ScimType};
use crate::store::change::TokenId;
use crate::tenant::settings::TenantPolicy;
use crate::tenant::{TenantId, split_scim_path};

/// Everything one local server needs.
pub struct LocalApp<R, S> {
    pub routes: R,
    pub verifier: Verifier<S>,
    pub config: HttpConfig,
    /// The management API and console, when this server offers them.
    pub operator: Option<Arc<dyn OperatorPlane>>,
}

impl<R: Routes, S: TokenSource> LocalApp<R, S> {
    /// The caller of a request, decided as the authorizer would, with the
    /// id of the token that authenticated it and its tenant's policy.
    pub async fn caller(
        &self,
        req: &http::Request<Bytes>,
    ) -> (Caller, Option<(TokenId, TenantPolicy)>) {
        let Some(tenant) =
            split_scim_path(req.uri().path()).and_then(|(t, _)| TenantId::parse(t).ok())
        else {
            return (Caller::Anonymous, None);
        };
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match self.verifier.verify(&tenant, header).await {
            Ok(Verdict::Allowed {
                tenant,
                token_id,
                policy,
            }) => (Caller::Tenant(tenant), Some((TokenId(token_id), policy))),
            Ok(Verdict::Refused {
                tenant, token_id, ..
            }) => (Caller::Refused { tenant, token_id }, None),
            Ok(Verdict::Denied) => (Caller::Anonymous, None),
            // The token store failed: never an allow, never a 401 either.
            Err(err) => (Caller::Unavailable(err.to_string()), None),
        }
    }

    /// Answers one request; what it writes is attributed to its token.
    /// Operator paths go to the operator plane, which never sees a SCIM
    /// token as a credential (nor the SCIM routes the operator key).
    pub async fn handle(&self, mut req: http::Request<Bytes>) -> http::Response<Bytes> {
        if let Some(plane) = &self.operator
            && plane.claims(req.uri().path())
        {
            return plane.handle(req).await;
        }
        let (caller, allowed) = self.caller(&req).await;
        if let Some((token_id, policy)) = allowed {
            req.extensions_mut().insert(token_id);
            req.extensions_mut().insert(policy);
        }
        serve(&self.routes, &self.config, req, caller).await
    }
}

/// Longest wait for the rest of a request body once its head is read: a
/// client that declares a large body and sends a little holds nothing
/// longer.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a request head on an open connection.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// What is read on (and discarded) after a body was refused, so that a
/// client that writes its whole body before reading hears why: at most
/// this much, for at most [`DRAIN_TIMEOUT`], then the connection closes.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a body was not taken.
enum Refused {
    /// Over the limit (declared or as read); the rest of the body, to drain.
    TooLarge(Option<Incoming>),
    Unreadable,
    TimedOut,
}

/// The request with its body, at most `limit` bytes, or why not. A body
/// whose declared `Content-Length` is over the limit is refused before any
/// of it is read.
async fn take_body(
    req: http::Request<Incoming>,
    limit: usize,
) -> (http::request::Parts, Result<Bytes, Refused>) {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (parts, Err(Refused::TooLarge(Some(body))));
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, read_bounded(body, limit)).await;
    let body = match read {
        Err(_) => Err(Refused::TimedOut),
        Ok(r) => r,
    };
    (parts, body)
}

/// Keeps at most `keep` bytes of `body`; past them, the rest is handed
/// back unread.
async fn read_bounded(mut body: Incoming, keep: usize) -> Result<Bytes, Refused> {
    let mut kept = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Refused::Unreadable);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if kept.len() + data.len() > keep {
            return Err(Refused::TooLarge(Some(body)));
        }
        kept.extend_from_slice(&data);
    }
    Ok(kept.freeze())
}

/// Reads the rest of a refused body in the background, discarding it, so
/// the answer reaches a client still writing; the connection closes after.
fn drain(body: Option<Incoming>) {
    let Some(mut body) = body else { return };
    tokio::spawn(async move {
        let mut seen = 0usize;
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, Bytes::len);
                if seen > DRAIN_BYTES {
                    break;
                }
            }
        })
        .await;
    });
}

/// The request with its body, or the answer to a body refused before the
/// request reached a handler: `413` (declared or read past the limit),
/// `400` (unreadable) or `408` (too slow), each with a request id, a log
/// line and `Connection: close`. Management paths take far less than
/// SCIM, and answer in their own error format.
async fn read_body(
    req: http::Request<Incoming>,
) -> Result<http::Request<Bytes>, http::Response<Bytes>> {
    let manage = super::manage::manage_rest(req.uri().path()).is_some();
    let limit = if manage {
        super::manage::MAX_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let (parts, body) = take_body(req, limit).await;
    let refused = match body {
        Ok(bytes) => return Ok(http::Request::from_parts(parts, bytes)),
        Err(refused) => refused,
    };
    let request_id = super::request::RequestId::generate();
    let (status, reason) = match &refused {
        Refused::TooLarge(_) => (413, "the body is over the limit"),
        Refused::Unreadable => (400, "the body is unreadable"),
        Refused::TimedOut => (408, "the body did not arrive in time"),
    };
    tracing::warn!(
        request_id = %request_id,
        method = %parts.method,
        status,
        limit,
        "request refused before it was read: {reason}"
    );
    let mut response = if manage {
        let error = match &refused {
            Refused::TooLarge(_) => super::manage::ManageError::TooLarge(limit),
            _ => super::manage::ManageError::InvalidJson,
        };
        error.response(request_id.as_str())
    } else {
        let mut error = match &refused {
            Refused::TooLarge(_) => ScimError::from(LimitError::Body),
            Refused::Unreadable => {
                ScimError::bad_request(ScimType::InvalidSyntax, "the request body is unreadable")
            }
            Refused::TimedOut => ScimError::new(
                408,
                None,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            ),
        };
        error.detail = format!("{} (request id {request_id})", error.detail);
        super::response::ScimResponse::error(&error).into_http()
    };
    let headers = response.headers_mut();
    if let Ok(v) = http::HeaderValue::from_str(request_id.as_str()) {
        headers.insert(super::X_REQUEST_ID, v);
    }
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    if let Refused::TooLarge(rest) = refused {
        drain(rest);
    }
    Err(response)
}

/// What the local HTTP loop hands each request to.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        req: http::Request<Bytes>,
    ) -> impl Future<Output = http::Response<Bytes>> + Send;
}

impl<R: Routes + 'static, S: TokenSource> Handler for LocalApp<R, S> {
    async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        LocalApp::handle(self, req).await
    }
}

/// Only the operator plane (`scim-admin console`): everything else is 404.
struct PlaneOnly(Arc<dyn OperatorPlane>);

impl Handler for PlaneOnly {
    async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        if self.0.claims(req.uri().path()) {
            return self.0.handle(req).await;
        }
        let mut response = http::Response::new(Bytes::from_static(b"not found"));
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        response
    }
}

/// Serves the console and the management API of `operator` on `addr`
/// until Ctrl-C, printing the one-time login link (the operator key is
/// random and never shown: the console is the only client).
pub async fn serve_operator_console<T, S>(
    operator: crate::admin::Operator<T, S>,
    addr: std::net::SocketAddr,
) -> std::io::Result<()>
where
    T: crate::auth::TokenStore,
    S: crate::store::Store + crate::store::ops::OpsStore,
{
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let random = |e: crate::auth::token::RandomError| std::io::Error::other(e.to_string());
    let key =
        crate::auth::token::random_secret(super::operator::OPERATOR_KEY_PREFIX).map_err(random)?;
    let plane = super::operator::LocalOperatorPlane::new(
        super::manage::ManageApi::new(operator),
        key,
        addr,
    );
    println!("Console:    {}", plane.login_link().map_err(random)?);
    let shutdown = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    run(listener, Arc::new(PlaneOnly(Arc::new(plane))), shutdown).await
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn run<H: Handler>(
    listener: TcpListener,
    app: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |req: http::Request<Incoming>| {
                    let app = app.clone();
                    async move {
                        let response = match read_body(req).await {
                            Ok(req) => app.handle(req).await,
                            Err(response) => response,
                        };
                        Ok::<_, Infallible>(response.map(Full::new))
                    }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
