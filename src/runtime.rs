//! What each Lambda binary runs: configuration, clients and routes built
//! once per container, then requests handed to the library.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

use crate::api::discovery::Discovery;
use crate::api::resources::Resources;
use crate::api::{HttpConfig, lambda};
use crate::auth::authorizer::{AuthorizerRequest, SimpleResponse, authorize};
use crate::auth::{SecretsManagerSource, Verifier};
use crate::config::Config;
use crate::scim::discovery::Capabilities;
use crate::scim::schema::Registry;

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

/// The `users` and `groups` functions.
pub async fn resources_function() -> Result<(), lambda_http::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    lambda::run(Resources, http_config(&config)).await
}

/// The Lambda authorizer: verifies tokens against Secrets Manager.
pub async fn authorizer_function() -> Result<(), lambda_runtime::Error> {
    crate::logging::init(true);
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let source = SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.secret_name_pattern.clone(),
    );
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
