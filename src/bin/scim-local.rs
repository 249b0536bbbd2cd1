//! `scim-local`: every SCIM route, the management API and the console in
//! one process on 127.0.0.1, with the embedded store, a printed token, an
//! operator key and a console login link: the first command a new user runs.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use scim_serverless::admin::{Operator, PURGE_STEP_BUDGET};
use scim_serverless::api::local::{self, LocalApp};
use scim_serverless::api::manage::ManageApi;
use scim_serverless::api::operator::{LocalOperatorPlane, OPERATOR_KEY_PREFIX, OperatorPlane};
use scim_serverless::api::{HttpConfig, Routes};
use scim_serverless::auth::token::{RandomError, TokenRecord, hash_token, issue, random_secret};
use scim_serverless::auth::{
    MemoryTokenSource, SecretsManagerSource, TokenSet, TokenSource, TokenStore, Verifier,
};
use scim_serverless::config::Config;
use scim_serverless::events::Bus;
use scim_serverless::events::Change;
use scim_serverless::events::gate::Gate;
use scim_serverless::events::sink::{LineBus, write_lines};
use scim_serverless::request_log::Recorder;
use scim_serverless::request_log::sink::drain;
use scim_serverless::runtime::all_routes;
use scim_serverless::store::dynamo::stream::StreamReader;
use scim_serverless::store::dynamo::table::create_table;
use scim_serverless::store::ops::OpsStore;
use scim_serverless::store::{DynamoStore, MemoryStore, Store};
use scim_serverless::tenant::TenantId;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// Embedded, in process memory; gone when the process stops.
    Memory,
    /// DynamoDB through the standard AWS environment
    /// (e.g. AWS_ENDPOINT_URL_DYNAMODB), table from SCIM_TABLE_NAME.
    Dynamodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TokenKind {
    /// One token for --tenant, printed at start (or --token).
    Memory,
    /// Every tenant's tokens from Secrets Manager, verified exactly as the
    /// Lambda authorizer does (manage them with scim-admin).
    Secretsmanager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// JSON lines when stderr is not a terminal (a file, a pipe, a log
    /// collector), text otherwise.
    Auto,
    /// JSON lines, as the Lambda functions write them.
    Json,
    /// Human-readable text.
    Text,
}

/// Serves the SCIM API locally. Configuration variables of the Lambda
/// functions (SCIM_*) apply here too.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SCIM_LOCAL_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Tenant served (its Tenant URL is printed).
    #[arg(long, env = "SCIM_LOCAL_TENANT", default_value = "default")]
    tenant: String,
    /// Fixed bearer token instead of a random one.
    #[arg(long, env = "SCIM_LOCAL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where resources are stored.
    #[arg(long, env = "SCIM_LOCAL_STORE", value_enum, default_value = "memory")]
    store: StoreKind,
    /// With --store dynamodb: create the table if it does not exist.
    #[arg(long, env = "SCIM_LOCAL_CREATE_TABLE")]
    create_table: bool,
    /// Append every provisioning event as one JSON line to this file
    /// (`/dev/stdout` to watch them).
    #[arg(long, env = "SCIM_LOCAL_EVENTS")]
    events: Option<PathBuf>,
    /// Where tokens are checked.
    #[arg(long, env = "SCIM_LOCAL_TOKENS", value_enum, default_value = "memory")]
    tokens: TokenKind,
    /// The operator key of the management API (`/manage/v1`, `Authorization:
    /// Bearer <key>`); a random one is printed when not given.
    #[arg(long, env = "SCIM_LOCAL_OPERATOR_KEY", hide_env_values = true)]
    operator_key: Option<String>,
    /// Seconds between a tenant's deletion (its tokens refused at once) and
    /// the purge of its data; default: the token cache's lifetime plus 5.
    #[arg(long, env = "SCIM_LOCAL_DELETE_WAIT_SECS")]
    delete_wait_secs: Option<u64>,
    /// Log format (logs go to stderr).
    #[arg(
        long,
        env = "SCIM_LOCAL_LOG_FORMAT",
        value_enum,
        default_value = "auto"
    )]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    scim_serverless::logging::init(match args.log_format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    });
    let config = Config::from_env()?;
    let tenant = TenantId::parse(&args.tenant)?;

    // The AWS configuration is resolved once, and only when something uses it.
    let aws = if args.store == StoreKind::Dynamodb || args.tokens == TokenKind::Secretsmanager {
        Some(scim_serverless::runtime::aws_config(&config).await)
    } else {
        None
    };

    match (args.store, &aws) {
        (StoreKind::Dynamodb, Some(aws)) => {
            let client = aws_sdk_dynamodb::Client::new(aws);
            if args.create_table {
                create_table(&client, &config.table_name).await?;
            } else {
                client
                    .describe_table()
                    .table_name(&config.table_name)
                    .send()
                    .await
                    .map_err(|e| format!("table {} is not reachable: {e}", config.table_name))?;
            }
            let sink = match &args.events {
                Some(path) => {
                    let streams = aws_sdk_dynamodbstreams::Client::new(aws);
                    let reader = StreamReader::open(streams, &config.table_name).await?;
                    let (sink, feed) = EventSink::open(path)?;
                    follow_stream(reader, feed);
                    Some(sink)
                }
                None => None,
            };
            let store = DynamoStore::new(client, config.table_name.clone())
                .with_request_log_retention(config.request_log_retention);
            launch(args, tenant, Some(aws.clone()), store, sink, &config).await
        }
        _ => {
            let (store, sink) = match &args.events {
                Some(path) => {
                    let (sink, feed) = EventSink::open(path)?;
                    (MemoryStore::with_feed(feed), Some(sink))
                }
                None => (MemoryStore::new(), None),
            };
            launch(args, tenant, aws, store, sink, &config).await
        }
    }
}

/// `--events`: the file events are appended to, and the changes to derive
/// them from, written once the tenants' settings can be read.
struct EventSink {
    bus: LineBus,
    changes: UnboundedReceiver<Change>,
}

impl EventSink {
    /// Opens `path` for appending; the sink and the feed of changes it
    /// takes.
    fn open(path: &PathBuf) -> std::io::Result<(EventSink, UnboundedSender<Change>)> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (feed, changes) = tokio::sync::mpsc::unbounded_channel();
        let bus = LineBus::new(file);
        Ok((EventSink { bus, changes }, feed))
    }

    /// Writes the changes' events in the background, through the breakers
    /// of `store` under the settings of `tokens`; the bus releases go to.
    fn start<S: Store + OpsStore, T: TokenSource>(
        self,
        store: S,
        tokens: T,
        ttl: std::time::Duration,
    ) -> LineBus {
        let EventSink { bus, changes } = self;
        let out = bus.clone();
        tokio::spawn(async move {
            let gate = Gate::new(store, Verifier::new(tokens, ttl));
            if let Err(e) = write_lines(changes, &gate, &out).await {
                tracing::error!(error = %e, "the event file can no longer be written");
            }
        });
        bus
    }
}

/// Sends the changes the table's stream shows to `feed`, in the
/// background; a record that does not decode is logged and skipped.
fn follow_stream(mut reader: StreamReader, feed: UnboundedSender<Change>) {
    tokio::spawn(async move {
        let followed = reader
            .follow(|change| match change {
                Ok(change) => {
                    let _ = feed.send(change);
                }
                Err(e) => tracing::error!(cause = %e, "a stream record could not be decoded"),
            })
            .await;
        if let Err(e) = followed {
            tracing::error!(cause = %e, "the table's stream can no longer be read");
        }
    });
}

/// Binds, prints the Tenant URL, the token, the operator key and the
/// console's login link, and serves every route on `store` until Ctrl-C.
async fn launch<S: Store + OpsStore + Clone>(
    args: Args,
    tenant: TenantId,
    aws: Option<aws_config::SdkConfig>,
    store: S,
    sink: Option<EventSink>,
    config: &Config,
) -> Result<(), Box<dyn std::error::Error>> {
    let (records, recorded) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(drain(recorded, store.clone()));
    let http = HttpConfig {
        scheme: "http".to_owned(),
        public_base_url: config.public_base_url.clone(),
        recorder: Recorder::Channel(records),
        log_values: config.request_log_values,
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let addr = listener.local_addr()?;
    let origin = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let operator_key = match args.operator_key.clone() {
        Some(key) => key,
        None => random_secret(OPERATOR_KEY_PREFIX)?,
    };
    let setup = PlaneSetup {
        pattern: format!("{origin}/scim/v2/{{tenant}}"),
        operator_key: operator_key.clone(),
        addr,
        delete_wait_secs: args.delete_wait_secs,
    };
    let routes = all_routes(store.clone(), config);
    println!("SCIM service listening on http://{addr}");
    match args.tokens {
        TokenKind::Memory => {
            let (token, record) = local_token(args.token.clone())?;
            let tokens = MemoryTokenSource::default();
            tokens
                .save(
                    &tenant,
                    &TokenSet {
                        display_name: Some("scim-local".to_owned()),
                        created: Some(scim_serverless::request_log::record::now_text()),
                        ..TokenSet::of(vec![record])
                    },
                )
                .await?;
            let base = format!("http://{addr}/scim/v2/{tenant}");
            println!("Tenant URL: {base}");
            println!("Token:      {token}");
            // In one process a revoke needs no cache to expire: tokens are
            // read from memory on every request.
            let ttl = std::time::Duration::ZERO;
            let bus = sink.map(|s| s.start(store.clone(), tokens.clone(), ttl));
            let plane = setup.start(tokens.clone(), store, ttl, bus)?;
            println!("Shell:      export B={base} TOKEN={token} OPERATOR_KEY={operator_key}");
            println!("Try:        curl -H \"Authorization: Bearer $TOKEN\" $B/Schemas");
            println!(
                "Manage:     curl -H \"Authorization: Bearer $OPERATOR_KEY\" http://{addr}/manage/v1/tenants"
            );
            serve(listener, routes, tokens, ttl, plane, http).await?;
        }
        TokenKind::Secretsmanager => {
            let aws = aws.ok_or("AWS configuration was not loaded")?;
            let tokens = SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(&aws),
                config.secret_name_pattern.clone(),
            );
            println!(
                "Tenant URL: http://{addr}/scim/v2/<tenant>, for each tenant created with the management API or scim-admin"
            );
            println!(
                "Tokens:     from Secrets Manager ({}), cached {} s",
                config.secret_name_pattern,
                config.token_cache_ttl.as_secs()
            );
            let ttl = config.token_cache_ttl;
            let bus = sink.map(|s| s.start(store.clone(), tokens.clone(), ttl));
            let plane = setup.start(tokens.clone(), store, ttl, bus)?;
            println!(
                "Manage:     curl -H \"Authorization: Bearer $OPERATOR_KEY\" http://{addr}/manage/v1/tenants"
            );
            serve(listener, routes, tokens, ttl, plane, http).await?;
        }
    }
    println!("stopped");
    Ok(())
}

/// What the operator plane of this server is set up with, whichever
/// token store serves it.
struct PlaneSetup {
    /// `http://127.0.0.1:8080/scim/v2/{tenant}`: how Tenant URLs are shown.
    pattern: String,
    operator_key: String,
    addr: SocketAddr,
    /// `--delete-wait-secs`, if given.
    delete_wait_secs: Option<u64>,
}

impl PlaneSetup {
    /// The management API and console on `tokens` and `store`, with the
    /// purge worker that finishes deletions in the background; prints the
    /// operator key and the first login link.
    fn start<T: TokenStore + Clone, S: Store + OpsStore + Clone>(
        &self,
        tokens: T,
        store: S,
        token_ttl: std::time::Duration,
        bus: Option<LineBus>,
    ) -> Result<Arc<dyn OperatorPlane>, RandomError> {
        let delete_wait = std::time::Duration::from_secs(
            self.delete_wait_secs
                .unwrap_or(token_ttl.as_secs() + DELETE_WAIT_MARGIN_SECS),
        );
        let bus: Option<Arc<dyn Bus>> = bus.map(|b| Arc::new(b) as Arc<dyn Bus>);
        let operator = |tokens: T, store: S| {
            let mut op = Operator::new(tokens, store, Some(self.pattern.clone()));
            op.delete_wait = delete_wait;
            op.bus.clone_from(&bus);
            op
        };
        let worker = operator(tokens.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = worker.advance_purges(PURGE_STEP_BUDGET).await {
                    tracing::error!(cause = %e, operation = "advance_purges", "a purge step failed");
                }
                if let Err(e) = worker.advance_resolutions(PURGE_STEP_BUDGET).await {
                    tracing::error!(cause = %e, operation = "advance_resolutions", "a breaker release or discard step failed");
                }
                tokio::time::sleep(PURGE_INTERVAL).await;
            }
        });
        let plane = LocalOperatorPlane::new(
            ManageApi::new(operator(tokens, store)),
            self.operator_key.clone(),
            self.addr,
        );
        println!("Operator:   {}", self.operator_key);
        println!("Console:    {}", plane.login_link()?);
        Ok(Arc::new(plane))
    }
}

/// How often the purge worker looks for deletions to advance.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// Added to the token cache's lifetime to let requests in flight end
/// before a deleted tenant's data goes.
const DELETE_WAIT_MARGIN_SECS: u64 = 5;

/// The token of `--tenant` in memory mode: `--token` or a random one.
fn local_token(fixed: Option<String>) -> Result<(String, TokenRecord), RandomError> {
    Ok(match fixed {
        Some(token) => {
            let record = TokenRecord {
                id: "tok_local".to_owned(),
                name: Some("scim-local".to_owned()),
                sha256: hash_token(&token),
                created: "1970-01-01T00:00:00Z".to_owned(),
                expires_at: None,
            };
            (token, record)
        }
        None => {
            let issued = issue(Some("scim-local"), "1970-01-01T00:00:00Z")?;
            (issued.plain, issued.record)
        }
    })
}

/// Serves until Ctrl-C.
async fn serve<R: Routes + 'static, S: TokenSource>(
    listener: tokio::net::TcpListener,
    routes: R,
    tokens: S,
    token_ttl: std::time::Duration,
    plane: Arc<dyn OperatorPlane>,
    http: HttpConfig,
) -> std::io::Result<()> {
    let app = Arc::new(LocalApp {
        routes,
        verifier: Verifier::new(tokens, token_ttl),
        config: http,
        operator: Some(plane),
    });
    let shutdown = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    local::run(listener, app, shutdown).await
}
