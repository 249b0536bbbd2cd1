//! The operator's front door on a local address (`scim-local`, `scim-admin
//! console`): who may call the management API (the operator key, or a
//! console session with its CSRF header), the console's files, its
//! one-time login links, and the `Host` check against DNS rebinding.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use subtle::ConstantTimeEq;

use super::manage::{ManageApi, ManageError, Principal, manage_rest};
use super::request::RequestId;
use crate::auth::TokenStore;
use crate::auth::token::{RandomError, bearer_token, random_secret};
use crate::store::Store;
use crate::store::ops::OpsStore;

/// The console's path.
pub const CONSOLE_PREFIX: &str = "/console";
/// What every operator key starts with, so a leaked one is recognisable
/// (and told apart from a tenant's `scim_` token).
pub const OPERATOR_KEY_PREFIX: &str = "scimop_";
/// The session cookie.
const SESSION_COOKIE: &str = "scim_console";
/// The header a state-changing console call carries.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a console session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most sessions at once; the oldest goes first.
const MAX_SESSIONS: usize = 64;

const INDEX_HTML: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const APP_CSS: &str = include_str!("console/app.css");

/// Serves what the local server hands it: the paths it
/// [`claims`](OperatorPlane::claims).
pub trait OperatorPlane: Send + Sync {
    /// Whether `path` is the operator plane's (management API, console).
    fn claims(&self, path: &str) -> bool {
        manage_rest(path).is_some() || is_console(path)
    }

    fn handle<'a>(
        &'a self,
        req: http::Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = http::Response<Bytes>> + Send + 'a>>;
}

fn is_console(path: &str) -> bool {
    path == CONSOLE_PREFIX || path.starts_with("/console/")
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

struct Session {
    csrf: String,
    started: Instant,
}

/// Console sessions and the pending one-time login secret.
struct Sessions {
    login: Option<String>,
    sessions: HashMap<String, Session>,
}

/// The management API and the console on a local address.
pub struct LocalOperatorPlane<T, S> {
    api: ManageApi<T, S>,
    operator_key: String,
    /// `Host` values this server answers to (`127.0.0.1:8080`, ...).
    hosts: Vec<String>,
    /// Where a new login link is printed (`http://127.0.0.1:8080`).
    origin: String,
    sessions: Mutex<Sessions>,
}

impl<T: TokenStore, S: Store + OpsStore> LocalOperatorPlane<T, S> {
    /// Serves `api` for the holder of `operator_key` and for console
    /// sessions, on the address `addr` (its `Host` forms are accepted).
    pub fn new(api: ManageApi<T, S>, operator_key: String, addr: std::net::SocketAddr) -> Self {
        let port = addr.port();
        let mut hosts = vec![addr.to_string()];
        if addr.ip().is_loopback() {
            hosts.push(format!("localhost:{port}"));
        }
        LocalOperatorPlane {
            api,
            operator_key,
            hosts,
            origin: format!("http://{addr}"),
            sessions: Mutex::new(Sessions {
                login: None,
                sessions: HashMap::new(),
            }),
        }
    }

    /// A new one-time console login link (the previous one stops working).
    pub fn login_link(&self) -> Result<String, RandomError> {
        let key = random_secret("")?;
        if let Ok(mut s) = self.sessions.lock() {
            s.login = Some(key.clone());
        }
        Ok(format!("{}{CONSOLE_PREFIX}/login?key={key}", self.origin))
    }

    fn host_allowed(&self, req: &http::Request<Bytes>) -> bool {
        req.headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    fn session_csrf(&self, req: &http::Request<Bytes>) -> Option<String> {
        let id = cookie(req, SESSION_COOKIE)?;
        let mut s = self.sessions.lock().ok()?;
        s.sessions.retain(|_, v| v.started.elapsed() < SESSION_TTL);
        let found = s.sessions.iter().find(|(k, _)| same(k, &id))?;
        Some(found.1.csrf.clone())
    }

    /// Who a management request comes from, or why it is refused.
    fn principal(&self, req: &http::Request<Bytes>) -> Result<Principal, ManageError> {
        if let Some(header) = req.headers().get(http::header::AUTHORIZATION) {
            let presented = header.to_str().ok().and_then(bearer_token);
            return match presented {
                Some(key) if same(key, &self.operator_key) => Ok(Principal::OperatorKey),
                _ => Err(ManageError::Unauthorized),
            };
        }
        let csrf = self.session_csrf(req).ok_or(ManageError::Unauthorized)?;
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let presented = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if safe || same(presented, &csrf) {
            Ok(Principal::Console)
        } else {
            Err(ManageError::Forbidden(
                "a console call that changes something needs the X-CSRF-Token header",
            ))
        }
    }

    /// Consumes the login secret, starts a session and prints the next link.
    fn login(&self, req: &http::Request<Bytes>) -> http::Response<Bytes> {
        let presented = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let (Ok(id), Ok(csrf)) = (random_secret(""), random_secret("")) else {
            tracing::error!(
                operation = "console login",
                cause = "no randomness for a session",
                "console login failed"
            );
            return page(StatusCode::INTERNAL_SERVER_ERROR, SESSION_FAILED);
        };
        let started = self.sessions.lock().ok().and_then(|mut s| {
            let login = s.login.take()?;
            if !same(&presented, &login) {
                s.login = Some(login);
                return None;
            }
            if s.sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = s
                    .sessions
                    .iter()
                    .min_by_key(|(_, v)| v.started)
                    .map(|(k, _)| k.clone())
            {
                s.sessions.remove(&oldest);
            }
            s.sessions.insert(
                id.clone(),
                Session {
                    csrf,
                    started: Instant::now(),
                },
            );
            Some(id)
        });
        let Some(id) = started else {
            return page(StatusCode::UNAUTHORIZED, LOGIN_NEEDED);
        };
        tracing::info!("console login");
        match self.login_link() {
            Ok(link) => println!("Console:    {link} (the next one-time login link)"),
            Err(e) => {
                tracing::error!(operation = "console login link", cause = %e, "no next login link")
            }
        }
        let mut response = page(StatusCode::SEE_OTHER, "");
        let headers = response.headers_mut();
        headers.insert(
            http::header::LOCATION,
            HeaderValue::from_static(CONSOLE_PREFIX),
        );
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            SESSION_TTL.as_secs()
        )) {
            headers.insert(http::header::SET_COOKIE, v);
        }
        response
    }

    fn console(&self, req: &http::Request<Bytes>) -> http::Response<Bytes> {
        if req.method() != Method::GET {
            return page(StatusCode::METHOD_NOT_ALLOWED, "");
        }
        let path = req.uri().path();
        match path {
            "/console/login" => self.login(req),
            "/console/app.js" => asset(APP_JS, "text/javascript; charset=utf-8"),
            "/console/app.css" => asset(APP_CSS, "text/css; charset=utf-8"),
            "/console" | "/console/" => match self.session_csrf(req) {
                Some(csrf) => page(StatusCode::OK, &INDEX_HTML.replace("{{CSRF_TOKEN}}", &csrf)),
                None => page(StatusCode::UNAUTHORIZED, LOGIN_NEEDED),
            },
            _ => page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE),
        }
    }
}

impl<T: TokenStore, S: Store + OpsStore> OperatorPlane for LocalOperatorPlane<T, S> {
    fn handle<'a>(
        &'a self,
        req: http::Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = http::Response<Bytes>> + Send + 'a>> {
        Box::pin(async move {
            if !self.host_allowed(&req) {
                tracing::warn!("operator request with a foreign Host refused");
                return ManageError::Forbidden("this Host is not the one served here")
                    .response(RequestId::of(&req).as_str());
            }
            if is_console(req.uri().path()) {
                return self.console(&req);
            }
            match self.principal(&req) {
                Ok(principal) => self.api.handle(req, &principal).await,
                Err(e) => e.response(RequestId::of(&req).as_str()),
            }
        })
    }
}

/// A cookie's value.
fn cookie(req: &http::Request<Bytes>, name: &str) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A console answer, with the headers every one carries: no framing, no
/// inline script, no referrer (the login link holds a secret), no caching.
fn console_response(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    response
}

fn page(status: StatusCode, html: &str) -> http::Response<Bytes> {
    console_response(
        status,
        Bytes::from(html.to_owned()),
        "text/html; charset=utf-8",
    )
}

fn asset(text: &'static str, content_type: &'static str) -> http::Response<Bytes> {
    console_response(
        StatusCode::OK,
        Bytes::from_static(text.as_bytes()),
        content_type,
    )
}

const LOGIN_NEEDED: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in - SCIM console</title><link rel=\"icon\" href=\"data:,\">",
    "<link rel=\"stylesheet\" href=\"/console/app.css\"></head><body class=\"login-needed\">",
    "<main class=\"card narrow\" data-testid=\"login-needed\"><h1>Log in to the console</h1>",
    "<p>Open the one-time login link that <code>scim-local</code> (or <code>scim-admin console</code>) printed in its terminal. ",
    "Each link works once; after you use it, the next one is printed.</p></main></body></html>"
);

const SESSION_FAILED: &str = "<!doctype html><title>Console</title><p>No session could be started; see the server's log.</p>";

const NOT_FOUND_PAGE: &str = "<!doctype html><title>Not found</title><p>Not found.</p>";
