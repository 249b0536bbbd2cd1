//! Cold starts of the Lambda binaries under the Runtime API harness of
//! `tests/common/runtime_api.rs`: per function, init (process start to its
//! first `next` call), the first invocation and warm invocations. Run by
//! `benches/cold_start.sh`, which builds the binaries as `sam build` does
//! and starts DynamoDB Local and moto.
//!
//! `cargo run --example cold_start -- <directory of the binaries> [rounds]`,
//! the directory being cargo's (`target/release`) or `sam build`'s.

// Shared with tests/lambda_runtime.rs, which uses all of it.
#[allow(dead_code)]
#[path = "../tests/common/runtime_api.rs"]
mod runtime_api;

use std::time::{Duration, Instant};

use runtime_api::{Function, Outcome, RuntimeApi};

const TABLE: &str = "scim-cold-start";
const BUS: &str = "scim-cold-start";

/// Variables a function needs beyond the Lambda ones.
type Env = &'static [(&'static str, &'static str)];

/// Function, its logical id in `template.yaml`, event it is fed, extra
/// environment.
const FUNCTIONS: &[(&str, &str, &str, Env)] = &[
    ("schemas", "SchemasFunction", "schemas-list.json", &[]),
    (
        "resource_types",
        "ResourceTypesFunction",
        "resource-types-list.json",
        &[],
    ),
    (
        "service_provider_config",
        "ServiceProviderConfigFunction",
        "service-provider-config.json",
        &[],
    ),
    (
        "users",
        "UsersFunction",
        "users-get.json",
        &[("SCIM_TABLE_NAME", TABLE)],
    ),
    (
        "groups",
        "GroupsFunction",
        "groups-get.json",
        &[("SCIM_TABLE_NAME", TABLE)],
    ),
    (
        "authorizer",
        "AuthorizerFunction",
        "authorizer-request.json",
        &[("SCIM_SECRET_NAME_PATTERN", "scim-cold-start/{tenant}")],
    ),
    (
        "events",
        "EventsFunction",
        "dynamodb-user-deactivated.json",
        &[("SCIM_EVENT_BUS_NAME", BUS)],
    ),
];

/// The binary of a function in `dir`: cargo's layout (`<dir>/users`) or
/// what `sam build` packaged (`<dir>/UsersFunction/bootstrap`).
fn binary(dir: &str, function: &str, logical_id: &str) -> String {
    let built = format!("{dir}/{function}");
    if std::path::Path::new(&built).exists() {
        built
    } else {
        format!("{dir}/{logical_id}/bootstrap")
    }
}

const WARM_INVOCATIONS: usize = 50;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn expect_answer(api: &RuntimeApi, event: &str) {
    if let Outcome::Error(e) = api.invoke(event).await {
        panic!("invocation failed: {e}");
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: cold_start <binary dir> [rounds]");
    let rounds: usize = args.next().map_or(10, |r| r.parse().expect("rounds"));
    let aws = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    scim_serverless::store::dynamo::table::create_table(&client, TABLE)
        .await
        .expect("DynamoDB Local (run through benches/cold_start.sh)");
    aws_sdk_eventbridge::Client::new(&aws)
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .expect("EventBridge on moto (run through benches/cold_start.sh)");

    println!(
        "| function | binary | init (median of {rounds}) | first invocation | warm invocation (median of {WARM_INVOCATIONS}) |"
    );
    println!("|---|---|---|---|---|");
    for (function, logical_id, event_file, env) in FUNCTIONS {
        let binary = binary(&dir, function, logical_id);
        let size = std::fs::metadata(&binary).expect("binary").len();
        let event = std::fs::read_to_string(format!(
            "{}/events/{event_file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let (mut inits, mut firsts, mut warm) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let api = RuntimeApi::start().await;
            let process = Function::start(&binary, &api, env);
            while api.first_next().is_none() {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            inits.push(api.first_next().unwrap() - process.started);
            let started = Instant::now();
            expect_answer(&api, &event).await;
            firsts.push(started.elapsed());
            if round == 0 {
                for _ in 0..WARM_INVOCATIONS {
                    let started = Instant::now();
                    expect_answer(&api, &event).await;
                    warm.push(started.elapsed());
                }
            }
        }
        println!(
            "| `{function}` | {:.1} MB | {} | {} | {} |",
            size as f64 / 1_048_576.0,
            ms(median(inits)),
            ms(median(firsts)),
            ms(median(warm)),
        );
    }
}
