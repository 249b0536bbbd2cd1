//! A Docker-free stand-in for the Lambda service: serves the Lambda Runtime
//! API (`/2018-06-01/runtime/...`) on loopback and runs a built function
//! binary against it, as Lambda runs `bootstrap`. Used by
//! `tests/lambda_runtime.rs` and by the cold-start benchmark.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::{Notify, mpsc};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function posted back for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../invocation/{id}/response`: the handler's result.
    Response(serde_json::Value),
    /// `POST .../invocation/{id}/error`: the handler failed.
    Error(serde_json::Value),
}

/// A report from the function to the Runtime API.
#[derive(Debug)]
enum Report {
    Invocation(String, Outcome),
    InitError(String),
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<(String, String)>>,
    queued: Notify,
    first_next: Mutex<Option<Instant>>,
}

/// The Runtime API of one function instance.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    reports: tokio::sync::Mutex<mpsc::UnboundedReceiver<Report>>,
    next_id: Mutex<u64>,
}

impl RuntimeApi {
    /// Listens on a free loopback port.
    pub async fn start() -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (sender, reports) = mpsc::unbounded_channel();
        let state = (shared.clone(), sender);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (shared, sender) = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(shared.clone(), sender.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            addr,
            shared,
            reports: tokio::sync::Mutex::new(reports),
            next_id: Mutex::new(0),
        }
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an invocation (the end of init).
    pub fn first_next(&self) -> Option<Instant> {
        *self.shared.first_next.lock().unwrap()
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: &str) -> Outcome {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            format!("00000000-0000-4000-8000-{:012}", *next)
        };
        self.shared
            .queue
            .lock()
            .unwrap()
            .push_back((id.clone(), event.to_owned()));
        self.shared.queued.notify_one();
        let mut reports = self.reports.lock().await;
        let report = tokio::time::timeout(Duration::from_secs(30), reports.recv())
            .await
            .unwrap_or_else(|_| panic!("invocation {id}: no answer within 30 s"))
            .expect("the Runtime API is running");
        match report {
            Report::Invocation(answered, outcome) => {
                assert_eq!(answered, id, "answer for another invocation");
                outcome
            }
            Report::InitError(body) => panic!("init error: {body}"),
        }
    }

    /// Waits until the function reports an init error, or `None` after
    /// `wait`.
    pub async fn init_error(&self, wait: Duration) -> Option<String> {
        let mut reports = self.reports.lock().await;
        match tokio::time::timeout(wait, reports.recv()).await {
            Ok(Some(Report::InitError(body))) => Some(body),
            Ok(other) => panic!("unexpected report {other:?}"),
            Err(_) => None,
        }
    }
}

type Body = Full<Bytes>;

async fn handle(
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Report>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(status(404));
    };
    if method == hyper::Method::GET && rest == "/invocation/next" {
        shared
            .first_next
            .lock()
            .unwrap()
            .get_or_insert_with(Instant::now);
        let (id, event) = loop {
            let queued = shared.queued.notified();
            if let Some(next) = shared.queue.lock().unwrap().pop_front() {
                break next;
            }
            queued.await;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 29_000;
        return Ok(Response::builder()
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:harness",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event)))
            .unwrap());
    }
    if method != hyper::Method::POST {
        return Ok(status(405));
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let report = if rest == "/init/error" {
        Report::InitError(String::from_utf8_lossy(&body).into_owned())
    } else if let Some(id) = rest
        .strip_prefix("/invocation/")
        .and_then(|r| r.strip_suffix("/response"))
    {
        Report::Invocation(id.to_owned(), Outcome::Response(json(&body)))
    } else if let Some(id) = rest
        .strip_prefix("/invocation/")
        .and_then(|r| r.strip_suffix("/error"))
    {
        Report::Invocation(id.to_owned(), Outcome::Error(json(&body)))
    } else {
        return Ok(status(404));
    };
    let _ = sender.send(report);
    Ok(status(202))
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn status(code: u16) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A running function binary; killed when dropped.
pub struct Function {
    child: Child,
    /// When the process was started.
    pub started: Instant,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Function {
    /// Starts `binary` as Lambda does, with the Runtime API of `api` and
    /// the test process's environment plus `env`.
    pub fn start(binary: &str, api: &RuntimeApi, env: &[(&str, &str)]) -> Function {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "harness")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/harness")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "harness")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        Function {
            child,
            started,
            logs,
        }
    }

    /// Every line the function wrote so far (stdout and stderr).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
