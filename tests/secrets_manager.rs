//! The Secrets Manager token source and the verifier on top of it, against
//! moto: hashes only at rest, rotation, revocation, tenant isolation.

mod common;

use std::time::Duration;

use scim_serverless::admin::Operator;
use scim_serverless::auth::authorizer::{
    AuthorizerRequest, CONTEXT_TENANT, CONTEXT_UNAVAILABLE, authorize,
};
use scim_serverless::auth::token::Refusal;
use scim_serverless::auth::token::issue;
use scim_serverless::auth::{
    AuthError, SecretsManagerSource, TokenSet, TokenSource, TokenStore, Verdict, Verifier,
};
use scim_serverless::config::Config;
use scim_serverless::request_log::Recorder;
use scim_serverless::store::MemoryStore;

const PATTERN: &str = "scim-test/tenants/{tenant}";

async fn source() -> Option<(SecretsManagerSource, aws_sdk_secretsmanager::Client)> {
    let config = common::aws_config("AWS_ENDPOINT_URL_SECRETS_MANAGER").await?;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    Some((SecretsManagerSource::new(client.clone(), PATTERN), client))
}

#[tokio::test]
async fn saves_only_hashes_and_loads_them_back() {
    let Some((source, client)) = source().await else {
        return;
    };
    let tenant = common::unique_tenant();
    assert_eq!(source.load(&tenant).await.unwrap(), None, "no secret yet");
    let token = issue(Some("entra"), "2026-11-23T00:00:00Z").unwrap();
    let set = TokenSet::of(vec![token.record.clone()]);
    source.save(&tenant, &set).await.unwrap();
    assert_eq!(source.load(&tenant).await.unwrap(), Some(set));
    let raw = client
        .get_secret_value()
        .secret_id(format!("scim-test/tenants/{tenant}"))
        .send()
        .await
        .unwrap();
    let stored = raw.secret_string().unwrap();
    assert!(stored.contains(&token.record.sha256));
    assert!(
        !stored.contains(&token.plain),
        "the token itself is never stored"
    );
}

#[tokio::test]
async fn rotation_keeps_both_tokens_valid_until_the_old_one_is_revoked() {
    let Some((source, _)) = source().await else {
        return;
    };
    let tenant = common::unique_tenant();
    let old = issue(Some("old"), "t").unwrap();
    let new = issue(Some("new"), "t").unwrap();
    source
        .save(&tenant, &TokenSet::of(vec![old.record.clone()]))
        .await
        .unwrap();
    let mut set = source.load(&tenant).await.unwrap().unwrap();
    set.tokens.push(new.record.clone());
    source.save(&tenant, &set).await.unwrap();

    let verifier = Verifier::new(source.clone(), Duration::ZERO);
    for t in [&old, &new] {
        let header = format!("Bearer {}", t.plain);
        assert_eq!(
            verifier.verify(&tenant, Some(&header)).await.unwrap(),
            Verdict::Allowed {
                tenant: tenant.clone(),
                token_id: t.record.id.clone(),
                policy: Default::default(),
            }
        );
    }
    assert!(set.revoke(&old.record.id));
    source.save(&tenant, &set).await.unwrap();
    let old_header = format!("Bearer {}", old.plain);
    assert!(
        matches!(
            verifier.verify(&tenant, Some(&old_header)).await.unwrap(),
            Verdict::Refused {
                reason: Refusal::Revoked,
                ..
            }
        ),
        "a revoked token is refused, and recognised as the tenant's"
    );
    let new_header = format!("Bearer {}", new.plain);
    assert!(matches!(
        verifier.verify(&tenant, Some(&new_header)).await.unwrap(),
        Verdict::Allowed { .. }
    ));
}

#[tokio::test]
async fn a_tenants_token_is_refused_on_another_tenant() {
    let Some((source, _)) = source().await else {
        return;
    };
    let a = common::unique_tenant();
    let b = common::unique_tenant();
    let ta = issue(None, "t").unwrap();
    let tb = issue(None, "t").unwrap();
    source
        .save(&a, &TokenSet::of(vec![ta.record.clone()]))
        .await
        .unwrap();
    source
        .save(&b, &TokenSet::of(vec![tb.record.clone()]))
        .await
        .unwrap();
    let verifier = Verifier::new(source, Duration::from_secs(60));
    let header_a = format!("Bearer {}", ta.plain);
    assert!(matches!(
        verifier.verify(&a, Some(&header_a)).await.unwrap(),
        Verdict::Allowed { .. }
    ));
    assert_eq!(
        verifier.verify(&b, Some(&header_a)).await.unwrap(),
        Verdict::Denied
    );
    let stranger = common::unique_tenant();
    assert_eq!(
        verifier.verify(&stranger, Some(&header_a)).await.unwrap(),
        Verdict::Denied
    );
}

#[tokio::test]
async fn a_secret_that_is_not_a_token_set_is_an_error_not_an_allow() {
    let Some((source, client)) = source().await else {
        return;
    };
    let tenant = common::unique_tenant();
    client
        .create_secret()
        .name(format!("scim-test/tenants/{tenant}"))
        .secret_string("not json")
        .send()
        .await
        .unwrap();
    assert!(matches!(
        source.load(&tenant).await,
        Err(AuthError::Malformed(_))
    ));
    let verifier = Verifier::new(source, Duration::from_secs(60));
    assert!(verifier.verify(&tenant, Some("Bearer x")).await.is_err());
}

#[tokio::test]
async fn an_unreachable_secrets_manager_is_unavailable() {
    // A closed loopback port: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
        .build();
    let source =
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::from_conf(config), PATTERN);
    let tenant = common::unique_tenant();
    assert!(matches!(
        source.load(&tenant).await,
        Err(AuthError::Unavailable(_))
    ));
}

/// Secrets Manager accepts the connection and never answers: the
/// authorizer still decides (flagged unavailable, so the function answers
/// 503) within the configured operation timeout, far below API Gateway's
/// 10 s. The test's own guard only turns a hang into a failure.
#[tokio::test]
async fn a_hanging_secrets_manager_still_gets_an_answer_from_the_authorizer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let config = Config::from_lookup(|name| match name {
        "SCIM_AWS_CONNECT_TIMEOUT_MS" => Some("200".into()),
        "SCIM_AWS_ATTEMPT_TIMEOUT_MS" => Some("300".into()),
        "SCIM_AWS_OPERATION_TIMEOUT_MS" => Some("700".into()),
        _ => None,
    })
    .unwrap();
    let aws = scim_serverless::runtime::aws_loader(&config)
        .endpoint_url(format!("http://{addr}"))
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let source = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), PATTERN);
    let verifier = Verifier::new(source, Duration::from_secs(60));
    let request: AuthorizerRequest = serde_json::from_value(serde_json::json!({
        "rawPath": "/scim/v2/acme/Users",
        "headers": {"authorization": "Bearer scim_x"},
        "requestContext": {"requestId": "r-hang"},
    }))
    .unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        authorize(&verifier, &request, &Recorder::Off),
    )
    .await
    .expect("the authorizer answers although Secrets Manager hangs");
    assert!(answer.is_authorized);
    assert_eq!(answer.context[CONTEXT_UNAVAILABLE], true);
    assert_eq!(answer.context[CONTEXT_TENANT], "acme");
    let err = verifier
        .source()
        .load(&common::unique_tenant())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}

/// Operators issuing and revoking tokens of one tenant at the same time:
/// every revoke stays revoked, every issued token stays valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issue_and_revoke_lose_nothing() {
    let Some((source, _)) = source().await else {
        return;
    };
    let tenant = common::unique_tenant();
    let op = std::sync::Arc::new(Operator::new(source, MemoryStore::new(), None));
    op.create_tenant(&tenant, None).await.unwrap();
    let mut doomed = Vec::new();
    for _ in 0..4 {
        doomed.push(op.issue_token(&tenant, "t", None).await.unwrap());
    }
    let mut tasks = Vec::new();
    for t in &doomed {
        let (revoker, tenant_r, id) = (op.clone(), tenant.clone(), t.id.clone());
        tasks.push(tokio::spawn(async move {
            revoker.revoke_token(&tenant_r, &id).await.unwrap();
            None
        }));
        let (issuer, tenant_i) = (op.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            Some(issuer.issue_token(&tenant_i, "t", None).await.unwrap())
        }));
    }
    let mut issued = Vec::new();
    for task in tasks {
        issued.extend(task.await.unwrap());
    }
    let set = op.tokens.load(&tenant).await.unwrap().unwrap();
    for t in &doomed {
        assert_eq!(set.verify(&t.token), None, "revoked {} came back", t.id);
    }
    for t in &issued {
        assert!(set.verify(&t.token).is_some(), "issued {} was lost", t.id);
    }
    assert_eq!(set.tokens.len(), issued.len());
}
