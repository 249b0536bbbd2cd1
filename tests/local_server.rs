//! The local server over real TCP: the README's curl commands, auth
//! failures, and a clean stop on Ctrl-C.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use scim_serverless::api::local::{LocalApp, run};
use scim_serverless::api::{HttpConfig, Routes};
use scim_serverless::auth::token::issue;
use scim_serverless::auth::{
    AuthError, MemoryTokenSource, TokenSet, TokenSource, TokenStore, Verifier,
};
use scim_serverless::config::Config;
use scim_serverless::store::MemoryStore;
use scim_serverless::tenant::TenantId;
use serde_json::Value;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
fn request(addr: &str, method: &str, path: &str, token: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A token source whose backend is down.
struct Down;

impl TokenSource for Down {
    async fn load(&self, _: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        Err(AuthError::Unavailable("down".into()))
    }
}

fn routes() -> impl Routes + 'static {
    scim_serverless::runtime::all_routes(MemoryStore::new(), &Config::default())
}

/// Starts a server in this process; it stops when the returned sender drops.
async fn start<S: TokenSource>(source: S) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = Arc::new(LocalApp {
        operator: None,
        routes: routes(),
        verifier: Verifier::new(source, Duration::from_secs(60)),
        config: HttpConfig {
            scheme: "http".into(),
            public_base_url: None,
            ..HttpConfig::default()
        },
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(listener, app, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test]
async fn discovery_with_a_token_and_scim_errors_without() {
    let source = MemoryTokenSource::default();
    let acme = TenantId::parse("acme").unwrap();
    let globex = TenantId::parse("globex").unwrap();
    let token = issue(None, "t").unwrap();
    let other = issue(None, "t").unwrap();
    source
        .save(&acme, &TokenSet::of(vec![token.record.clone()]))
        .await
        .unwrap();
    source
        .save(&globex, &TokenSet::of(vec![other.record.clone()]))
        .await
        .unwrap();
    let (addr, _stop) = start(source).await;
    let t = token.plain.clone();
    blocking(move || {
        let r = request(&addr, "GET", "/scim/v2/acme/Schemas", Some(&t));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.body["totalResults"], 4);
        assert_eq!(
            r.body["Resources"][0]["meta"]["location"],
            format!(
                "http://{addr}/scim/v2/acme/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
            )
        );

        for token in [None, Some("wrong"), Some(other.plain.as_str())] {
            let r = request(&addr, "GET", "/scim/v2/acme/Schemas", token);
            assert_eq!(r.status, 401, "{token:?}");
            assert_eq!(r.body["status"], "401");
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        }
        // acme's token on globex's path
        let r = request(
            &addr,
            "GET",
            "/scim/v2/globex/ServiceProviderConfig",
            Some(&t),
        );
        assert_eq!(r.status, 401);

        let r = request(&addr, "GET", "/scim/v2/acme/Nope", Some(&t));
        assert_eq!((r.status, r.body["status"].as_str()), (404, Some("404")));
        let r = request(&addr, "GET", "/elsewhere", Some(&t));
        assert_eq!(r.status, 404);
        let r = request(&addr, "POST", "/scim/v2/acme/Schemas", Some(&t));
        assert_eq!(r.status, 405);
        let r = request(&addr, "GET", "/scim/v2/acme/Users", Some(&t));
        assert_eq!((r.status, r.body["totalResults"].as_u64()), (200, Some(0)));
        let r = request(&addr, "POST", "/scim/v2/acme/.search", Some(&t));
        assert_eq!((r.status, r.body["status"].as_str()), (501, Some("501")));
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_token_store_is_503_with_retry_after() {
    let (addr, _stop) = start(Down).await;
    blocking(move || {
        let r = request(&addr, "GET", "/scim/v2/acme/Schemas", Some("anything"));
        assert_eq!(r.status, 503);
        assert_eq!(r.body["status"], "503");
        assert!(r.header("retry-after").is_some());
    })
    .await;
}

#[test]
fn the_binary_prints_tenant_url_and_token_serves_and_stops_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-local"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tenant",
            "demo",
            "--token",
            "fixed-dev-token",
        ])
        .env_remove("SCIM_LOCAL_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut tenant_url = String::new();
    let mut printed_token = String::new();
    let mut line = String::new();
    while tenant_url.is_empty() || printed_token.is_empty() {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "server exited early"
        );
        if let Some(url) = line.strip_prefix("Tenant URL:") {
            tenant_url = url.trim().to_owned();
        }
        if let Some(token) = line.strip_prefix("Token:") {
            printed_token = token.trim().to_owned();
        }
    }
    assert_eq!(printed_token, "fixed-dev-token");
    let rest = tenant_url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    assert_eq!(path, "scim/v2/demo");
    let r = request(
        addr,
        "GET",
        &format!("/{path}/Schemas"),
        Some(&printed_token),
    );
    assert_eq!(r.status, 200);
    let r = request(addr, "GET", &format!("/{path}/Schemas"), Some("nope"));
    assert_eq!(r.status, 401);

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on Ctrl-C, got {status}");
    let mut tail = String::new();
    stdout.read_to_string(&mut tail).unwrap();
    assert!(tail.contains("stopped"));
}

/// Starts the binary with `args`, returns it and its stdout lines up to
/// the one starting with `last`.
fn start_binary(args: &[&str], last: &str) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-local"))
        .args(args)
        .env_remove("SCIM_LOCAL_STORE")
        .env_remove("SCIM_LOCAL_LOG_FORMAT")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    while !lines.last().is_some_and(|l| l.starts_with(last)) {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("exited early: {lines:?}");
        }
        lines.push(line.trim_end().to_owned());
    }
    // Keep reading: a closed pipe would end the server at its next print.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, lines)
}

#[test]
fn the_printed_export_line_works_and_piped_logs_are_json_with_metrics() {
    let (mut child, lines) = start_binary(
        &[
            "--addr",
            "127.0.0.1:0",
            "--tenant",
            "demo",
            "--token",
            "fixed-dev-token",
        ],
        "Shell:",
    );
    let export = lines.last().unwrap().strip_prefix("Shell:").unwrap().trim();
    let vars = export.strip_prefix("export B=").unwrap();
    let (base, rest) = vars.split_once(" TOKEN=").unwrap();
    let (token, operator_key) = rest.split_once(" OPERATOR_KEY=").unwrap();
    assert_eq!(token, "fixed-dev-token");
    assert!(operator_key.starts_with("scimop_"), "{operator_key}");
    let rest = base.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    assert_eq!(path, "scim/v2/demo");
    let r = request(addr, "GET", &format!("/{path}/Schemas"), Some(token));
    assert_eq!(r.status, 200);

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    // stderr is a pipe here, so the logs are JSON lines as on Lambda, with
    // the request line's metrics as an Embedded Metric Format object.
    let request_line = logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("no request line in {logs}"));
    assert_eq!(request_line["route"], "Schemas");
    assert_eq!(request_line["status"], 200);
    assert_eq!(request_line["status_class"], "2xx");
    assert_eq!(request_line["requests"], 1);
    assert_eq!(request_line["errors_5xx"], 0);
    let directive = &request_line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(
        directive["Dimensions"][1],
        serde_json::json!(["route", "status_class"])
    );
    assert!(!logs.contains("fixed-dev-token"));
}

#[test]
fn with_secrets_manager_tokens_the_tenant_url_names_no_fixed_tenant() {
    let (mut child, lines) = start_binary(
        &[
            "--addr",
            "127.0.0.1:0",
            "--tokens",
            "secretsmanager",
            "--log-format",
            "text",
        ],
        "Tenant URL:",
    );
    let _ = child.kill();
    let _ = child.wait();
    let url = lines.last().unwrap();
    assert!(url.contains("/scim/v2/<tenant>"), "{url}");
    assert!(!url.contains("/scim/v2/default"), "{url}");
}

/// Sends `head`, then `body` from another thread (as a client that writes
/// its whole body before reading), and reads the answer.
fn send_whole(addr: &str, head: String, body: Vec<u8>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // The server may close once it has answered and drained enough.
        let _ = writer.write_all(&body);
    });
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A 12 MB body, declared or chunked, is answered `413` with a SCIM error,
/// a request id and `Connection: close`, not a dropped connection; the
/// server keeps serving; a 9 KB URI is `414` with a SCIM error.
#[test]
fn oversized_bodies_and_uris_get_scim_errors_and_the_server_keeps_serving() {
    let (mut child, lines) = start_binary(
        &[
            "--addr",
            "127.0.0.1:0",
            "--tenant",
            "big",
            "--token",
            "big-token",
        ],
        "Token:",
    );
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("Tenant URL:"))
        .unwrap()
        .trim()
        .to_owned();
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let body = vec![b'x'; 12 * 1024 * 1024];
    let head = format!(
        "POST /{path}/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer big-token\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (status, head_text, scim) = send_whole(addr, head, body.clone());
    assert_eq!(status, 413, "{head_text}");
    assert!(head_text.contains("x-request-id:"), "{head_text}");
    assert!(head_text.contains("connection: close"), "{head_text}");
    let error: serde_json::Value = serde_json::from_str(&scim).unwrap();
    assert_eq!(error["status"], "413");
    assert!(error["detail"].as_str().unwrap().contains("request id"));

    // Chunked, no declared length: refused once the limit is read.
    let mut chunked = Vec::new();
    for piece in body.chunks(1024 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /{path}/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer big-token\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let (status, head_text, _) = send_whole(addr, head, chunked);
    assert_eq!(status, 413, "{head_text}");

    let long = format!(
        "/{path}/Users?filter=userName%20eq%20%22{}%22",
        "a".repeat(9000)
    );
    let r = request(addr, "GET", &long, Some("big-token"));
    assert_eq!(r.status, 414);
    assert!(
        r.body["detail"].as_str().unwrap().contains("URI length"),
        "{}",
        r.body
    );

    let r = request(addr, "GET", &format!("/{path}/Schemas"), Some("big-token"));
    assert_eq!(r.status, 200, "still serving");
    let _ = child.kill();
    let _ = child.wait();
}
