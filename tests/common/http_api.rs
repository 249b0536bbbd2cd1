//! Drives the HTTP API in process, exactly as both binaries do (the one
//! front door `api::serve`), and counts DynamoDB requests per operation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_smithy_runtime_api::box_error::BoxError;
use bytes::Bytes;
use scim_serverless::api::{Caller, HttpConfig, Routes, serve};
use scim_serverless::config::Config;
use scim_serverless::request_log::Recorder;
use scim_serverless::runtime::all_routes;
use scim_serverless::store::dynamo::table::create_table;
use scim_serverless::store::{DynamoStore, Store};
use scim_serverless::tenant::TenantId;
use serde_json::Value;

pub const HOST: &str = "scim.test";

/// A response, with its body parsed (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Resources[*].id` of a ListResponse.
    pub fn ids(&self) -> Vec<String> {
        self.body["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("not a ListResponse: {}", self.body))
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Panics with the body unless the status is `want`.
    pub fn expect(self, want: u16) -> Reply {
        assert_eq!(self.status, want, "unexpected status; body: {}", self.body);
        self
    }
}

/// One tenant's view of the API on some routes.
pub struct Api<R> {
    pub routes: R,
    pub tenant: TenantId,
    /// Where request records go (none by default).
    pub recorder: Recorder,
}

impl<R: Routes> Api<R> {
    pub fn base(&self) -> String {
        format!("http://{HOST}/scim/v2/{}", self.tenant)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    /// `path` is relative to the Tenant URL (`/Users?filter=...`); the query
    /// may hold spaces and quotes, which are encoded here.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let encoded = encode_query(path);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("/scim/v2/{}{encoded}", self.tenant))
            .header("host", HOST)
            .header("content-type", "application/scim+json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let request = builder.body(body).unwrap();
        let config = HttpConfig {
            scheme: "http".into(),
            public_base_url: None,
            recorder: self.recorder.clone(),
            ..HttpConfig::default()
        };
        let response = serve(
            &self.routes,
            &config,
            request,
            Caller::Tenant(self.tenant.clone()),
        )
        .await;
        assert_eq!(
            response.headers()["content-type"],
            "application/scim+json",
            "every response is SCIM JSON"
        );
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// Percent-encodes the query part of `path` (values as written in tests).
fn encode_query(path: &str) -> String {
    let Some((path, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv.to_owned(), String::new()),
        })
        .collect();
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{encoded}")
}

/// The API of a fresh tenant on `store`, with every route family.
pub fn api<S: Store + Clone>(store: S) -> Api<impl Routes> {
    api_with(store, &Config::default())
}

pub fn api_with<S: Store + Clone>(store: S, config: &Config) -> Api<impl Routes + use<S>> {
    Api {
        routes: all_routes(store, config),
        tenant: super::unique_tenant(),
        recorder: Recorder::Off,
    }
}

/// DynamoDB requests by operation name, counted by an SDK interceptor: what
/// the round-trip budget in the README is measured with.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl RequestCounter {
    /// Returns the counts so far and starts again from zero.
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The operation input's Debug form names its type:
        // `Input(TypeErasedBox[!Clone]:GetItemInput { .. })`.
        let debug = format!("{:?}", context.input());
        let name = debug
            .split([' ', '{', '(', ':'])
            .find_map(|w| w.strip_suffix("Input").filter(|n| !n.is_empty()))
            .unwrap_or("unknown")
            .to_owned();
        *self.counts.lock().unwrap().entry(name).or_default() += 1;
        Ok(())
    }
}

/// A DynamoDB Local store whose requests are counted.
pub async fn counted_dynamo_store() -> Option<(DynamoStore, RequestCounter)> {
    let config = super::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await?;
    let counter = RequestCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    create_table(&client, super::TEST_TABLE)
        .await
        .expect("create the test table on DynamoDB Local");
    Some((DynamoStore::new(client, super::TEST_TABLE), counter))
}
