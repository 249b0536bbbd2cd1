//! `scim-local`: every SCIM route in one process on 127.0.0.1, with the
//! embedded store and a printed token — the first command a new user runs.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use scim_serverless::api::HttpConfig;
use scim_serverless::api::discovery::Discovery;
use scim_serverless::api::local::{self, LocalApp};
use scim_serverless::api::resources::Resources;
use scim_serverless::auth::token::{TokenRecord, hash_token, issue};
use scim_serverless::auth::{MemoryTokenSource, TokenSet, TokenSource, Verifier};
use scim_serverless::config::Config;
use scim_serverless::scim::discovery::Capabilities;
use scim_serverless::scim::schema::Registry;
use scim_serverless::store::dynamo::table::create_table;
use scim_serverless::tenant::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// Embedded, in process memory; gone when the process stops.
    Memory,
    /// DynamoDB through the standard AWS environment
    /// (e.g. AWS_ENDPOINT_URL_DYNAMODB), table from SCIM_TABLE_NAME.
    Dynamodb,
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
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    scim_serverless::logging::init(false);
    let args = Args::parse();
    let config = Config::from_env()?;
    let tenant = TenantId::parse(&args.tenant)?;

    if args.store == StoreKind::Dynamodb {
        let aws = aws_config::load_from_env().await;
        let client = aws_sdk_dynamodb::Client::new(&aws);
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
    }

    let (token, record) = match args.token {
        Some(token) => {
            let record = TokenRecord {
                id: "tok_local".to_owned(),
                name: Some("scim-local".to_owned()),
                sha256: hash_token(&token),
                created: "1970-01-01T00:00:00Z".to_owned(),
            };
            (token, record)
        }
        None => {
            let issued = issue(Some("scim-local"), "1970-01-01T00:00:00Z")?;
            (issued.plain, issued.record)
        }
    };
    let tokens = MemoryTokenSource::default();
    tokens
        .save(
            &tenant,
            &TokenSet {
                tokens: vec![record],
            },
        )
        .await?;

    let registry = Arc::new(Registry::new(&config.extension));
    let app = Arc::new(LocalApp {
        routes: (Discovery::new(registry, Capabilities::current()), Resources),
        verifier: Verifier::new(tokens, config.token_cache_ttl),
        config: HttpConfig {
            scheme: "http".to_owned(),
            public_base_url: config.public_base_url.clone(),
        },
    });
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let addr = listener.local_addr()?;
    println!("SCIM service listening on http://{addr}");
    println!("Tenant URL: http://{addr}/scim/v2/{tenant}");
    println!("Token:      {token}");
    println!(
        "Try:        curl -H \"Authorization: Bearer {token}\" http://{addr}/scim/v2/{tenant}/Schemas"
    );
    let shutdown = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    local::run(listener, app, shutdown).await?;
    println!("stopped");
    Ok(())
}
