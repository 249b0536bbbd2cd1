//! `scim-admin`: the operator's command line for tenants, tokens and the
//! table. Talks to Secrets Manager and DynamoDB through the standard AWS
//! configuration (profiles, region, AWS_ENDPOINT_URL_*).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use scim_serverless::admin::{
    AdminError, DEFAULT_DELETE_WAIT, DeleteProgress, IssuedTokenView, Operator, TenantStatus,
};
use scim_serverless::auth::SecretsManagerSource;
use scim_serverless::config::Config;
use scim_serverless::store::DynamoStore;
use scim_serverless::store::dynamo::MigrationProgress;
use scim_serverless::store::dynamo::table::create_table;
use scim_serverless::tenant::TenantId;
use serde_json::json;

/// Exit code when a destructive command lacks `--confirm`.
const EXIT_REFUSED: u8 = 5;
/// Exit code for invalid arguments (as clap uses for usage errors).
const EXIT_USAGE: u8 = 2;
/// Name of a token issued without one.
const FIRST_TOKEN_NAME: &str = "default";
/// Tenants read per page by `tenant list`.
const LIST_PAGE: usize = 200;

/// The console's address: loopback only, so that nobody else on the
/// network reaches an operator's AWS credentials through it.
fn console_addr(text: String) -> Result<std::net::SocketAddr, Failure> {
    let addr: std::net::SocketAddr = text.parse().map_err(|_| Failure {
        code: EXIT_USAGE,
        message: format!("invalid address '{text}': expected IP:PORT"),
    })?;
    if !addr.ip().is_loopback() {
        return Err(Failure {
            code: EXIT_USAGE,
            message: format!("the console listens on loopback only, not {addr}"),
        });
    }
    Ok(addr)
}

/// Manage the tenants and tokens of a SCIM deployment.
///
/// Configuration comes from the same SCIM_* variables as the functions
/// (SCIM_TABLE_NAME, SCIM_SECRET_NAME_PATTERN) and the standard AWS
/// environment. Exit codes: 0 ok, 1 AWS or other failure, 2 usage,
/// 3 not found, 4 already exists, 5 confirmation missing.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// How Tenant URLs are printed, e.g. the stack output TenantUrlPattern
    /// `https://abc.execute-api.eu-west-1.amazonaws.com/prod/scim/v2/{tenant}`.
    #[arg(long, env = "SCIM_TENANT_URL_PATTERN", global = true)]
    tenant_url_pattern: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tenants: the customers of this deployment.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Bearer tokens of a tenant.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The DynamoDB table.
    #[command(subcommand)]
    Table(TableCommand),
    /// Serve the operator console on this machine, calling AWS with your own
    /// credentials; prints a one-time login link.
    Console {
        /// Where to listen (loopback only).
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: String,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its Tenant URL and first token (shown only once).
    Create {
        tenant: String,
        /// A human-readable name for the tenant.
        #[arg(long)]
        display_name: Option<String>,
        /// A name for the first token (e.g. the identity provider).
        #[arg(long)]
        token_name: Option<String>,
    },
    /// List the tenants.
    List,
    /// Show a tenant and its tokens (ids, names, creation times; never a token).
    Show { tenant: String },
    /// Revoke every token of a tenant and delete all its data.
    Delete {
        tenant: String,
        /// Required: the deletion cannot be undone.
        #[arg(long)]
        confirm: bool,
        /// Seconds between refusing the tenant's tokens and deleting its
        /// data: at least the authorizer's token cache plus API Gateway's
        /// decision cache plus the longest request (default 60+60+30).
        #[arg(long, default_value_t = DEFAULT_DELETE_WAIT.as_secs())]
        wait_secs: u64,
    },
    /// Convert a tenant's data written by a release before the issue-13
    /// layout to the current one, in place, while it is in use; run it
    /// again to resume a run cut short (a converted tenant is not written).
    Migrate { tenant: String },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue an additional token (shown only once).
    Issue(IssueArgs),
    /// Revoke a token.
    Revoke { tenant: String, token_id: String },
    /// Issue a successor of a token; the old one stays valid until revoked.
    Rotate {
        tenant: String,
        token_id: String,
        /// Name of the new token (default: the old token's name).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Args)]
struct IssueArgs {
    tenant: String,
    /// A name for the token (e.g. "okta").
    #[arg(long)]
    name: Option<String>,
    /// When the token stops working (RFC 3339, e.g. 2027-06-30T00:00:00Z).
    #[arg(long)]
    expires_at: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TableCommand {
    /// Create the table with its key schema and indexes (no-op if it exists).
    Create,
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

fn tenant_id(text: &str) -> Result<TenantId, Failure> {
    TenantId::parse(text).map_err(|e| Failure {
        code: EXIT_USAGE,
        message: format!("invalid tenant id '{text}': {e}"),
    })
}

fn print_issued(json: bool, view: &IssuedTokenView) {
    if json {
        println!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
        return;
    }
    if let Some(url) = &view.tenant_url {
        println!("Tenant URL: {url}");
    }
    println!("Token id:   {}", view.id);
    if let Some(at) = &view.expires_at {
        println!("Expires:    {at}");
    }
    println!("Token:      {}", view.token);
    println!("The token is shown only now; store it in the identity provider.");
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let config = Config::from_env().map_err(|e| Failure {
        code: EXIT_USAGE,
        message: e.to_string(),
    })?;
    let aws = scim_serverless::runtime::aws_config(&config).await;
    let mut operator = Operator::new(
        SecretsManagerSource::new(
            aws_sdk_secretsmanager::Client::new(&aws),
            config.secret_name_pattern.clone(),
        ),
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.table_name.clone(),
        )
        .with_request_log_retention(config.request_log_retention),
        cli.tenant_url_pattern,
    );
    let json = cli.json;
    match cli.command {
        Command::Table(TableCommand::Create) => {
            create_table(operator.store.client(), &config.table_name)
                .await
                .map_err(AdminError::from)?;
            if json {
                println!(
                    "{}",
                    json!({ "table": config.table_name, "status": "active" })
                );
            } else {
                println!("table {} is active", config.table_name);
            }
        }
        Command::Tenant(TenantCommand::Create {
            tenant,
            display_name,
            token_name,
        }) => {
            let tenant = tenant_id(&tenant)?;
            operator
                .create_tenant(&tenant, display_name.as_deref())
                .await?;
            let view = operator
                .issue_token(
                    &tenant,
                    token_name.as_deref().unwrap_or(FIRST_TOKEN_NAME),
                    None,
                )
                .await?;
            print_issued(json, &view);
        }
        Command::Tenant(TenantCommand::List) => {
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = operator
                    .list_tenants(None, cursor.as_deref(), LIST_PAGE)
                    .await?;
                ids.extend(page.tenants.into_iter().map(|t| t.id));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            if json {
                println!("{}", json!({ "tenants": ids }));
            } else {
                for t in ids {
                    println!("{t}");
                }
            }
        }
        Command::Tenant(TenantCommand::Show { tenant }) => {
            let tenant = tenant_id(&tenant)?;
            let info = operator.tenant(&tenant).await?;
            let tokens = operator.token_list(&tenant).await?;
            if json {
                let mut shown = serde_json::to_value(&info).unwrap_or_default();
                shown["tokens"] = serde_json::to_value(&tokens).unwrap_or_default();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&shown).unwrap_or_default()
                );
            } else {
                println!("Tenant:     {}", info.id);
                if let Some(name) = &info.display_name {
                    println!("Name:       {name}");
                }
                if let Some(url) = &info.tenant_url {
                    println!("Tenant URL: {url}");
                }
                if let Some(deletion) = &info.deletion {
                    println!(
                        "Deleting:   since {}, {} items deleted",
                        deletion.requested, deletion.items_deleted
                    );
                }
                println!("Tokens:");
                for t in &tokens {
                    let name = t.name.as_deref().unwrap_or("-");
                    let used = t.last_used.as_deref().unwrap_or("never");
                    println!(
                        "  {}  {name}  created {}  last used {used}",
                        t.id, t.created
                    );
                }
            }
        }
        Command::Console { addr } => {
            let addr = console_addr(addr)?;
            scim_serverless::api::local::serve_operator_console(operator, addr)
                .await
                .map_err(|e| Failure {
                    code: 1,
                    message: format!("the console could not be served: {e}"),
                })?;
        }
        Command::Tenant(TenantCommand::Migrate { tenant }) => {
            let tenant = tenant_id(&tenant)?;
            let migrated = operator
                .migrate_tenant(&tenant, |p| match p {
                    MigrationProgress::Resources {
                        kind,
                        seen,
                        rewritten,
                    } => eprintln!(
                        "{}: {seen} looked at, {rewritten} rewritten ...",
                        kind.name()
                    ),
                    MigrationProgress::CounterMoved { kind, total } => {
                        eprintln!("{}: counter ({total}) moved into a shard", kind.name())
                    }
                    MigrationProgress::KeysUnindexed(n) => {
                        eprintln!("{n} markers and email items taken out of gsi1 ...")
                    }
                    MigrationProgress::Census {
                        inactive_users,
                        memberships,
                        set,
                    } => eprintln!(
                        "census: {inactive_users} inactive users, {memberships} memberships{}",
                        if set { " (set)" } else { " (already right)" }
                    ),
                })
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&migrated).unwrap_or_default()
                );
            } else {
                println!(
                    "tenant {tenant} migrated: {} users, {} groups; this run rewrote {} \
                     resources, moved {} counters, unindexed {} markers and email items{}",
                    migrated.users,
                    migrated.groups,
                    migrated.rewritten,
                    migrated.counters_moved,
                    migrated.keys_unindexed,
                    if migrated.census_set {
                        ", set the census counts"
                    } else {
                        ""
                    }
                );
            }
        }
        Command::Tenant(TenantCommand::Delete {
            tenant,
            confirm,
            wait_secs,
        }) => {
            let tenant = tenant_id(&tenant)?;
            if !confirm {
                return Err(Failure {
                    code: EXIT_REFUSED,
                    message: format!(
                        "deleting tenant {tenant} revokes its tokens and deletes all its data; \
                         add --confirm to proceed"
                    ),
                });
            }
            operator.delete_wait = Duration::from_secs(wait_secs);
            let before = operator.tenant(&tenant).await.ok();
            let tokens_revoked = before
                .as_ref()
                .filter(|t| t.status == TenantStatus::Active)
                .map_or(0, |t| t.token_count);
            let items_deleted = match operator
                .delete_tenant_now(&tenant, |p| match p {
                    DeleteProgress::Waiting(left) => eprintln!(
                        "tenant {tenant}: tokens refused; waiting {} s for cached tokens and \
                         requests in flight ...",
                        left.as_secs()
                    ),
                    DeleteProgress::Held => eprintln!(
                        "tenant {tenant}: the scheduled purge holds it; waiting for its step ..."
                    ),
                    DeleteProgress::Deleted(n) => eprintln!("deleted {n} items ..."),
                })
                .await
            {
                // No secret left, but data: the left-overs of an earlier
                // deletion are purged all the same.
                Err(AdminError::NotFound(_)) if before.is_none() => {
                    operator.purge_leftovers(&tenant).await?
                }
                other => other?,
            };
            if json {
                println!(
                    "{}",
                    json!({"tenant": tenant.as_str(), "tokensRevoked": tokens_revoked, "itemsDeleted": items_deleted})
                );
            } else {
                println!(
                    "tenant {tenant} deleted: {tokens_revoked} tokens revoked, {items_deleted} items deleted"
                );
            }
        }
        Command::Token(TokenCommand::Issue(args)) => {
            let view = operator
                .issue_token(
                    &tenant_id(&args.tenant)?,
                    args.name.as_deref().unwrap_or(FIRST_TOKEN_NAME),
                    args.expires_at.as_deref(),
                )
                .await?;
            print_issued(json, &view);
        }
        Command::Token(TokenCommand::Revoke { tenant, token_id }) => {
            let tenant = tenant_id(&tenant)?;
            operator.revoke_token(&tenant, &token_id).await?;
            if json {
                println!(
                    "{}",
                    json!({ "tenant": tenant.as_str(), "revoked": token_id })
                );
            } else {
                println!("token {token_id} of tenant {tenant} revoked");
            }
        }
        Command::Token(TokenCommand::Rotate {
            tenant,
            token_id,
            name,
        }) => {
            let view = operator
                .rotate_token(&tenant_id(&tenant)?, &token_id, name.as_deref())
                .await?;
            print_issued(json, &view);
            if !json {
                println!("Token {token_id} stays valid until you revoke it.");
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
