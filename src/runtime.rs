//! What each Lambda binary runs: configuration, clients and routes built
//! once per container, then requests handed to the library.

use crate::events::{self, publish::Publisher};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};

use crate::api::discovery::Discovery;
use crate::api::groups::Groups;
use crate::api::listing::ListSettings;
use crate::api::users::Users;
use crate::api::{HttpConfig, lambda};
use crate::auth::authorizer::{AuthorizerRequest, SimpleResponse, authorize};
use crate::auth::{SecretsManagerSource, Verifier};
use crate::config::Config;
use crate::scim::discovery::Capabilities;
use crate::scim::schema::Registry;
use crate::store::dynamo::table::TABLE_KEY;
use crate::store::{DynamoStore, Store};

/// Behind API Gateway clients always use HTTPS.
fn http_config(config: &Config) -> HttpConfig {
    HttpConfig {
        scheme: "https".to_owned(),
        public_base_url: config.public_base_url.clone(),
    }
}

/// The discovery functions (`schemas`, `resource_types`,
/// `service_provider_config`): no table, no secrets.
pub async fn discovery_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let registry = Arc::new(Registry::new(&config.extension));
    let routes = Discovery::new(registry, Capabilities::current());
    lambda::run(routes, http_config(&config)).await
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
/// [`Config::aws_timeouts`] on every call.
pub async fn aws_config(config: &Config) -> aws_config::SdkConfig {
    aws_loader(config).load().await
}

/// The loader behind [`aws_config`], for callers that set more (tests).
pub fn aws_loader(config: &Config) -> aws_config::ConfigLoader {
    aws_config::from_env().timeout_config(config.aws_timeouts.sdk())
}

/// How long init waits for its warm-up call; past it the first request
/// opens the connection instead, and init never hangs on an unreachable
/// service.
const WARM_UP_TIMEOUT: Duration = Duration::from_millis(1500);

/// Runs one cheap authorised call during init, so that DNS, TCP, TLS and
/// credential resolution are done before the first request. Its answer
/// (usually "not found") does not matter.
async fn warm_up<T>(service: &'static str, call: impl Future<Output = T>) {
    if tokio::time::timeout(WARM_UP_TIMEOUT, call).await.is_err() {
        tracing::warn!(service, "warm-up call timed out during init");
    }
}

/// The DynamoDB store of a function: the table from configuration, its
/// connection opened by a `GetItem` of a key no item has.
async fn dynamo_store(config: &Config) -> DynamoStore {
    let aws = aws_config(config).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let probe = aws_sdk_dynamodb::types::AttributeValue::S("warm-up".to_owned());
    warm_up(
        "dynamodb",
        client
            .get_item()
            .table_name(&config.table_name)
            .key(TABLE_KEY.0, probe.clone())
            .key(TABLE_KEY.1, probe)
            .send(),
    )
    .await;
    DynamoStore::new(client, config.table_name.clone())
}

/// The `users` function.
pub async fn users_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let store = dynamo_store(&config).await;
    let registry = Arc::new(Registry::new(&config.extension));
    let routes = Users::new(store, registry, list_settings(&config));
    lambda::run(routes, http_config(&config)).await
}

/// The `groups` function.
pub async fn groups_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let store = dynamo_store(&config).await;
    let registry = Arc::new(Registry::new(&config.extension));
    let routes = Groups::new(store, registry, list_settings(&config));
    lambda::run(routes, http_config(&config)).await
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
    warm_up(
        "secretsmanager",
        client.describe_secret().secret_id(probe).send(),
    )
    .await;
    let source = SecretsManagerSource::new(client, config.secret_name_pattern.clone());
    let verifier = &Verifier::new(source, config.token_cache_ttl);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<AuthorizerRequest>| async move {
            Ok::<SimpleResponse, std::convert::Infallible>(
                authorize(verifier, &event.payload).await,
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
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, std::convert::Infallible>(
                events::publish::handle(publisher, event.payload).await,
            )
        },
    ))
    .await
}
