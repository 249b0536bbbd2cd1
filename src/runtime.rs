//! What each Lambda binary runs: configuration, clients and routes built
//! once per container, then requests handed to the library.

use crate::events::{self, publish::Publisher};
use aws_lambda_events::event::cloudwatch_logs::LogsEvent;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_http_client::tls;
use lambda_runtime::{LambdaEvent, service_fn};
use tokio::sync::watch;

use crate::admin::PURGE_STEP_BUDGET;
use crate::api::discovery::Discovery;
use crate::api::groups::Groups;
use crate::api::listing::ListSettings;
use crate::api::manage::lambda::ManageFunction;
use crate::api::users::Users;
use crate::api::{HttpConfig, lambda};
use crate::auth::authorizer::{AuthorizerRequest, SimpleResponse, authorize};
use crate::auth::{SecretsManagerSource, Verifier};
use crate::config::Config;
use crate::request_log::subscription::records_of;
use crate::scim::discovery::Capabilities;
use crate::scim::schema::Registry;
use crate::store::dynamo::table::TABLE_KEY;
use crate::store::ops::OpsStore;
use crate::store::{DynamoStore, Store};

/// Behind API Gateway clients always use HTTPS; request records leave as
/// log lines that the `recorder` function's subscription picks up.
fn http_config(config: &Config) -> HttpConfig {
    HttpConfig {
        scheme: "https".to_owned(),
        public_base_url: config.public_base_url.clone(),
        recorder: crate::request_log::Recorder::Lines,
        log_values: config.request_log_values,
    }
}

/// The discovery functions (`schemas`, `resource_types`,
/// `service_provider_config`): no table, no secrets.
pub async fn discovery_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let registry = Arc::new(Registry::new(&config.extension));
    let routes = Discovery::new(registry, Capabilities::current());
    lambda::run(routes, http_config(&config), || std::future::ready(())).await
}

/// Limits of list requests: page sizes as advertised, the filter scan
/// limit from configuration.
pub fn list_settings(config: &Config) -> ListSettings {
    let capabilities = Capabilities::current();
    ListSettings {
        default_count: capabilities.default_page_size,
        max_count: capabilities.max_page_size,
        scan_limit: config.filter_scan_limit,
    }
}

/// Every route family on one store, as the local server serves them.
pub fn all_routes<S: Store + Clone>(store: S, config: &Config) -> impl crate::api::Routes + use<S> {
    let registry = Arc::new(Registry::new(&config.extension));
    let settings = list_settings(config);
    (
        Discovery::new(registry.clone(), Capabilities::current()),
        (
            Users::new(store.clone(), registry.clone(), settings),
            Groups::new(store, registry, settings),
        ),
    )
}

/// The AWS configuration of every process: the standard environment
/// (region, credentials, `AWS_ENDPOINT_URL_*`) with the time limits of
/// [`Config::aws_timeouts`] on every call, over [`https_client`].
pub async fn aws_config(config: &Config) -> aws_config::SdkConfig {
    aws_loader(config).load().await
}

/// The loader behind [`aws_config`], for callers that set more (tests).
pub fn aws_loader(config: &Config) -> aws_config::ConfigLoader {
    aws_config::from_env()
        .http_client(https_client())
        .timeout_config(config.aws_timeouts.sdk())
}

/// The HTTP client of every AWS call: rustls on ring with the system's
/// root certificates, the one TLS stack of the binaries (the SDK's default
/// client would add aws-lc, a large C library, to every function).
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// How long the warm-up call may take; past it the first request opens
/// the connection instead, and no request waits longer on it.
const WARM_UP_TIMEOUT: Duration = Duration::from_millis(1500);

/// One cheap authorised call (its answer, usually "not found", does not
/// matter) that does the connection set-up of a function: DNS, TCP, TLS,
/// loading the root certificates, resolving credentials and the endpoint.
///
/// Init starts it and asks for the first event at once; the first request
/// then waits for it (the connection is already opening, often open)
/// instead of opening a second one, and later requests find it over.
/// Awaited in init, the whole round trip would count as init, and on a
/// cold start the waiting invocation would pay for it all the same
/// (README, "Cold starts").
struct WarmUp(watch::Receiver<bool>);

impl WarmUp {
    fn start<T: Send + 'static>(
        service: &'static str,
        call: impl Future<Output = T> + Send + 'static,
    ) -> Self {
        let (done, receiver) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::time::timeout(WARM_UP_TIMEOUT, call).await.is_err() {
                tracing::warn!(service, "warm-up call timed out");
            }
            done.send_replace(true);
        });
        WarmUp(receiver)
    }

    /// Returns when the warm-up call is over (or its task is gone).
    async fn finished(&self) {
        let mut receiver = self.0.clone();
        // An error means the task ended without sending: over as well.
        let _ = receiver.wait_for(|done| *done).await;
    }
}

/// The DynamoDB store of a function (the table from configuration) and the
/// warm-up of its connection: a `GetItem` of a key no item has.
async fn dynamo_store(config: &Config) -> (DynamoStore, WarmUp) {
    let aws = aws_config(config).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let probe = aws_sdk_dynamodb::types::AttributeValue::S("warm-up".to_owned());
    let warm_up = WarmUp::start(
        "dynamodb",
        client
            .get_item()
            .table_name(&config.table_name)
            .key(TABLE_KEY.0, probe.clone())
            .key(TABLE_KEY.1, probe)
            .send(),
    );
    (DynamoStore::new(client, config.table_name.clone()), warm_up)
}

/// The `users` function.
pub async fn users_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let (store, warm_up) = dynamo_store(&config).await;
    let registry = Arc::new(Registry::new(&config.extension));
    let routes = Users::new(store, registry, list_settings(&config));
    lambda::run(routes, http_config(&config), || warm_up.finished()).await
}

/// The `groups` function.
pub async fn groups_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let (store, warm_up) = dynamo_store(&config).await;
    let registry = Arc::new(Registry::new(&config.extension));
    let routes = Groups::new(store, registry, list_settings(&config));
    lambda::run(routes, http_config(&config), || warm_up.finished()).await
}

/// The `bulk` function: `/Bulk`, its operations served by the users and
/// groups routes.
pub async fn bulk_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let (store, warm_up) = dynamo_store(&config).await;
    let registry = Arc::new(Registry::new(&config.extension));
    let settings = list_settings(&config);
    let routes = (
        Users::new(store.clone(), registry.clone(), settings),
        Groups::new(store, registry, settings),
    );
    lambda::run(routes, http_config(&config), || warm_up.finished()).await
}

/// The Lambda authorizer: verifies tokens against Secrets Manager.
pub async fn authorizer_function() -> Result<(), lambda_runtime::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let aws = aws_config(&config).await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    // A secret name under the authorizer's prefix that no tenant can have
    // (tenant ids have no `_`): allowed by its policy, answered "not found".
    let probe = config.secret_name_pattern.replace("{tenant}", "_warm-up");
    let warm_up = &WarmUp::start(
        "secretsmanager",
        client.describe_secret().secret_id(probe).send(),
    );
    let source = SecretsManagerSource::new(client, config.secret_name_pattern.clone());
    let verifier = &Verifier::new(source, config.token_cache_ttl);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<AuthorizerRequest>| async move {
            warm_up.finished().await;
            Ok::<SimpleResponse, std::convert::Infallible>(
                authorize(
                    verifier,
                    &event.payload,
                    &crate::request_log::Recorder::Lines,
                )
                .await,
            )
        },
    ))
    .await
}

/// The `events` function: the table's stream to the EventBridge bus named
/// by `SCIM_EVENT_BUS_NAME`.
pub async fn events_function() -> Result<(), lambda_runtime::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let bus = std::env::var("SCIM_EVENT_BUS_NAME")
        .map_err(|_| "SCIM_EVENT_BUS_NAME must name the event bus")?;
    let aws = aws_config(&config).await;
    let publisher = &Publisher::new(aws_sdk_eventbridge::Client::new(&aws), bus);
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.table_name.clone(),
    );
    let settings = SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.secret_name_pattern.clone(),
    );
    let gate = &events::gate::Gate::new(store, Verifier::new(settings, config.token_cache_ttl));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, std::convert::Infallible>(
                // Boxed: the SDK futures nested in the runtime's are deeper
                // than the compiler's default layout depth.
                Box::pin(events::publish::handle(publisher, gate, event.payload)).await,
            )
        },
    ))
    .await
}

/// How long a deleted tenant's tokens may still be honoured somewhere: a
/// warm authorizer's token cache plus API Gateway's authorizer cache
/// (`SCIM_AUTHORIZER_CACHE_TTL_SECS`, the template passes both), and a
/// margin. Its data is purged only after that.
fn delete_wait(config: &Config) -> Result<Duration, crate::config::ConfigError> {
    let gateway = match std::env::var("SCIM_AUTHORIZER_CACHE_TTL_SECS") {
        Ok(v) if !v.trim().is_empty() => {
            v.trim()
                .parse::<u64>()
                .map_err(|_| crate::config::ConfigError::Invalid {
                    name: "SCIM_AUTHORIZER_CACHE_TTL_SECS",
                    reason: format!("{v:?} is not a number of seconds"),
                })?
        }
        _ => 0,
    };
    Ok(config.token_cache_ttl + Duration::from_secs(gateway) + Duration::from_secs(30))
}

/// The `manage` function: the management API behind the HTTP API's IAM
/// authorization, and the schedule's purge steps.
pub async fn manage_function() -> Result<(), lambda_runtime::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let (store, warm_up) = dynamo_store(&config).await;
    let store = store.with_request_log_retention(config.request_log_retention);
    let aws = aws_config(&config).await;
    let tokens = SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.secret_name_pattern.clone(),
    );
    let function = &ManageFunction {
        tokens,
        store,
        public_base_url: config.public_base_url.clone(),
        delete_wait: delete_wait(&config)?,
        purge_budget: PURGE_STEP_BUDGET,
        bus: std::env::var("SCIM_EVENT_BUS_NAME").ok().map(|bus| {
            Arc::new(Publisher::new(aws_sdk_eventbridge::Client::new(&aws), bus))
                as Arc<dyn events::Bus>
        }),
    };
    let warm_up = &warm_up;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            warm_up.finished().await;
            Box::pin(function.handle(event.payload))
                .await
                .map_err(|e| {
                    tracing::error!(cause = %e, request_id = %event.context.request_id, operation = "advance_purges", "manage invocation failed");
                    lambda_runtime::Error::from(e)
                })
        },
    ))
    .await
}

/// The `recorder` function: request records from the functions' log
/// lines (a CloudWatch Logs subscription) into the request log. A batch
/// that cannot be written fails the invocation, and CloudWatch Logs
/// delivers it again.
pub async fn recorder_function() -> Result<(), lambda_runtime::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let (store, warm_up) = dynamo_store(&config).await;
    let store = &store.with_request_log_retention(config.request_log_retention);
    let warm_up = &warm_up;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<LogsEvent>| async move {
        warm_up.finished().await;
        let records = records_of(&event.payload);
        store.record_requests(&records).await.map_err(|e| {
            tracing::error!(cause = %e, request_id = %event.context.request_id, records = records.len(), operation = "record_requests", "request records were not written");
            lambda_runtime::Error::from(e)
        })?;
        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "recorded": records.len() }))
    }))
    .await
}
