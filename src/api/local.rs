//! The local HTTP server: every route in one process, tokens checked by the
//! same [`Verifier`] the Lambda authorizer uses, requests answered by the
//! same front door the Lambda functions use.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
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

async fn read_body(
    req: http::Request<Incoming>,
) -> Result<http::Request<Bytes>, http::Response<Bytes>> {
    let (parts, body) = req.into_parts();
    // Management paths take far less than SCIM, and answer in their own
    // error format. Either way a body is read on (discarded) up to the SCIM
    // limit, so that a client that writes its whole body before reading
    // still hears why it was refused.
    if super::manage::manage_rest(parts.uri.path()).is_some() {
        let limit = super::manage::MAX_BODY_BYTES;
        return match read_bounded(body, limit, MAX_BODY_BYTES).await {
            BodyRead::Whole(bytes) => Ok(http::Request::from_parts(parts, bytes)),
            refused => {
                let error = match refused {
                    BodyRead::TooLarge => super::manage::ManageError::TooLarge(limit),
                    _ => super::manage::ManageError::InvalidJson,
                };
                Err(error.response(super::request::RequestId::generate().as_str()))
            }
        };
    }
    match read_bounded(body, MAX_BODY_BYTES, MAX_BODY_BYTES).await {
        BodyRead::Whole(bytes) => Ok(http::Request::from_parts(parts, bytes)),
        refused => {
            let error = match refused {
                BodyRead::TooLarge => ScimError::from(LimitError::Body),
                _ => ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    "the request body is unreadable",
                ),
            };
            Err(super::response::ScimResponse::error(&error).into_http())
        }
    }
}

/// A request body as far as it was read.
enum BodyRead {
    Whole(Bytes),
    TooLarge,
    Unreadable,
}

/// Keeps at most `keep` bytes of `body`; a longer one is read on and
/// discarded up to `drain` bytes, then abandoned (the connection closes).
async fn read_bounded(mut body: Incoming, keep: usize, drain: usize) -> BodyRead {
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Unreadable;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= keep {
            kept.extend_from_slice(&data);
        } else if seen > drain {
            return BodyRead::TooLarge;
        }
    }
    if seen > keep {
        BodyRead::TooLarge
    } else {
        BodyRead::Whole(kept.freeze())
    }
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
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
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
