//! The operator flow end to end, through the real binaries, against the
//! local servers: `scim-admin` creates tenants and tokens in Secrets
//! Manager, `scim-local --tokens secretsmanager` verifies them as the
//! authorizer would, and `tenant delete` leaves nothing behind.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use scim_serverless::scim::schema::ResourceKind;
use scim_serverless::store::{DynamoStore, Record, Store, UniqueKey};
use scim_serverless::tenant::TenantId;
use serde_json::{Value, json};

/// One isolated deployment: its own secret prefix and table.
struct Deployment {
    secret_pattern: String,
    table: String,
}

impl Deployment {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Deployment {
            secret_pattern: format!("cli-{}/{{tenant}}", &id[..12]),
            table: format!("cli-{}", &id[..12]),
        }
    }

    fn command(&self, binary: &str) -> Command {
        let mut cmd = Command::new(binary);
        cmd.env("SCIM_SECRET_NAME_PATTERN", &self.secret_pattern)
            .env("SCIM_TABLE_NAME", &self.table)
            .env("SCIM_TOKEN_CACHE_TTL_SECS", "0")
            .env(
                "SCIM_TENANT_URL_PATTERN",
                "https://scim.example.com/scim/v2/{tenant}",
            );
        cmd
    }

    fn admin(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_scim-admin"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `scim-admin --json ...`, expecting success.
    fn admin_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.admin(&all);
        assert!(
            out.status.success(),
            "scim-admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn status(addr: &str, path: &str, token: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split(' ').nth(1).unwrap().parse().unwrap()
}

/// A running `scim-local`; its stdout stays open so that it can print.
struct Local {
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
}

/// `scim-local --store dynamodb --tokens secretsmanager`; returns the
/// process and its address.
fn start_local(d: &Deployment) -> (Local, String) {
    let mut child = d
        .command(env!("CARGO_BIN_EXE_scim-local"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--store",
            "dynamodb",
            "--tokens",
            "secretsmanager",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let Some(out) = child.stdout.take() else {
        let status = child.wait();
        panic!("scim-local has no stdout: {status:?}");
    };
    let mut stdout = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            let status = child.wait();
            panic!("scim-local exited early: {status:?}");
        }
        if let Some(addr) = line.strip_prefix("SCIM service listening on http://") {
            let addr = addr.trim().to_owned();
            return (
                Local {
                    child,
                    _stdout: stdout,
                },
                addr,
            );
        }
    }
}

fn stop(mut local: Local) {
    let pid = local.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(local.child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_flow_create_use_rotate_revoke_isolate_delete() {
    let Some(aws) = common::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await else {
        return;
    };
    if common::aws_config("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .await
        .is_none()
    {
        return;
    }
    let d = Deployment::new();

    let out = d.admin_json(&["table", "create"]);
    assert_eq!(out["status"], "active");
    assert_eq!(
        d.admin_json(&["table", "create"])["table"],
        d.table,
        "idempotent"
    );

    let acme = d.admin_json(&[
        "tenant",
        "create",
        "acme",
        "--display-name",
        "Acme",
        "--token-name",
        "entra",
    ]);
    assert_eq!(acme["tenantUrl"], "https://scim.example.com/scim/v2/acme");
    let acme_token = acme["token"].as_str().unwrap().to_owned();
    let acme_token_id = acme["id"].as_str().unwrap().to_owned();
    assert!(acme_token.starts_with("scim_"));
    let globex = d.admin_json(&["tenant", "create", "globex"]);
    let globex_token = globex["token"].as_str().unwrap().to_owned();

    let dup = d.admin(&["tenant", "create", "acme"]);
    assert_eq!(dup.status.code(), Some(4), "already exists");
    let bad = d.admin(&["tenant", "create", "Not_Valid"]);
    assert_eq!(bad.status.code(), Some(2), "usage");

    let (local, addr) = start_local(&d);
    assert_eq!(status(&addr, "/scim/v2/acme/Schemas", &acme_token), 200);
    assert_eq!(status(&addr, "/scim/v2/globex/Schemas", &globex_token), 200);
    assert_eq!(
        status(&addr, "/scim/v2/globex/Schemas", &acme_token),
        401,
        "isolation"
    );
    assert_eq!(
        status(&addr, "/scim/v2/acme/Schemas", &globex_token),
        401,
        "isolation"
    );

    // Rotate: both valid; revoke the old one: only the new one.
    let rotated = d.admin_json(&["token", "rotate", "acme", &acme_token_id]);
    let new_token = rotated["token"].as_str().unwrap().to_owned();
    assert_eq!(status(&addr, "/scim/v2/acme/Schemas", &acme_token), 200);
    assert_eq!(status(&addr, "/scim/v2/acme/Schemas", &new_token), 200);
    d.admin_json(&["token", "revoke", "acme", &acme_token_id]);
    assert_eq!(status(&addr, "/scim/v2/acme/Schemas", &acme_token), 401);
    assert_eq!(status(&addr, "/scim/v2/acme/Schemas", &new_token), 200);
    let again = d.admin(&["token", "revoke", "acme", &acme_token_id]);
    assert_eq!(again.status.code(), Some(3), "not found");

    let extra = d.admin_json(&["token", "issue", "acme", "--name", "okta"]);
    let shown = d.admin_json(&["tenant", "show", "acme"]);
    assert_eq!(shown["displayName"], "Acme");
    let names: Vec<&str> = shown["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["entra", "okta"]);
    let shown_text = shown.to_string();
    assert!(
        !shown_text.contains(&new_token) && !shown_text.contains(extra["token"].as_str().unwrap())
    );
    assert_eq!(
        d.admin_json(&["tenant", "list"])["tenants"],
        json!(["acme", "globex"])
    );

    // Data of both tenants, then delete acme.
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &d.table);
    let acme_id = TenantId::parse("acme").unwrap();
    let globex_id = TenantId::parse("globex").unwrap();
    for i in 0..30 {
        let user = Record::new(
            ResourceKind::User,
            format!("u{i}"),
            1,
            json!({"userName": format!("user{i}@acme.com")}),
        );
        store.create(&acme_id, &user).await.unwrap();
    }
    let kept = Record::new(
        ResourceKind::User,
        "g1",
        1,
        json!({"userName": "someone@globex.com"}),
    );
    store.create(&globex_id, &kept).await.unwrap();

    let refused = d.admin(&["tenant", "delete", "acme"]);
    assert_eq!(refused.status.code(), Some(5), "needs --confirm");
    let deleted = d.admin_json(&["tenant", "delete", "acme", "--confirm", "--wait-secs", "0"]);
    assert_eq!(deleted["tokensRevoked"], 2);
    // 30 users, their 30 userName markers, the tenant's user counter
    // shards (1 to 16, by the ids' hashes), and the request log's records
    // and activity items of the requests above (one record each, plus a
    // few activity items).
    let deleted_items = deleted["itemsDeleted"].as_u64().unwrap();
    assert!(deleted_items >= 61, "{deleted_items}");
    assert_eq!(status(&addr, "/scim/v2/acme/Schemas", &new_token), 401);
    assert_eq!(
        store.purge_tenant(&acme_id, 100).await.unwrap(),
        0,
        "no item left"
    );
    for i in 0..30 {
        let id = format!("u{i}");
        assert!(
            store
                .get(&acme_id, ResourceKind::User, &id)
                .await
                .unwrap()
                .is_none()
        );
    }
    let marker = UniqueKey::UserName("user0@acme.com".into());
    assert_eq!(store.find_unique(&acme_id, &marker).await.unwrap(), None);
    assert!(
        store
            .get(&globex_id, ResourceKind::User, "g1")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(status(&addr, "/scim/v2/globex/Schemas", &globex_token), 200);
    assert_eq!(
        d.admin_json(&["tenant", "list"])["tenants"],
        json!(["globex"])
    );
    assert_eq!(d.admin(&["tenant", "show", "acme"]).status.code(), Some(3));
    stop(local);
}

/// A deletion interrupted while it waits for the caches: the tenant's
/// tokens are already refused, no token can be issued and the tenant cannot
/// be re-created; the re-run finishes it, and a tenant re-created with the
/// same id starts empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_being_deleted_is_locked_and_a_re_created_one_inherits_nothing() {
    let Some(aws) = common::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await else {
        return;
    };
    if common::aws_config("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .await
        .is_none()
    {
        return;
    }
    let d = Deployment::new();
    d.admin_json(&["table", "create"]);
    let acme = d.admin_json(&["tenant", "create", "acme"]);
    let token = acme["token"].as_str().unwrap().to_owned();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &d.table);
    let acme_id = TenantId::parse("acme").unwrap();
    let user = Record::new(
        ResourceKind::User,
        "u1",
        1,
        json!({"userName": "ada@acme.com"}),
    );
    store.create(&acme_id, &user).await.unwrap();
    let (local, addr) = start_local(&d);
    assert_eq!(status(&addr, "/scim/v2/acme/Users/u1", &token), 200);

    let mut deleting = d
        .command(env!("CARGO_BIN_EXE_scim-admin"))
        .args([
            "tenant",
            "delete",
            "acme",
            "--confirm",
            "--wait-secs",
            "600",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = BufReader::new(deleting.stderr.take().unwrap());
    let mut line = String::new();
    progress.read_line(&mut line).unwrap();
    assert!(line.contains("waiting"), "{line}");

    assert_eq!(
        status(&addr, "/scim/v2/acme/Users/u1", &token),
        401,
        "tokens refused at once"
    );
    let recreate = d.admin(&["tenant", "create", "acme"]);
    assert_eq!(recreate.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&recreate.stderr).contains("being deleted"));
    assert_eq!(d.admin(&["token", "issue", "acme"]).status.code(), Some(4));
    let shown = d.admin_json(&["tenant", "show", "acme"]);
    assert_eq!(shown["status"], "deleting");
    assert!(shown["deletion"]["requested"].is_string(), "{shown}");
    deleting.kill().unwrap();
    deleting.wait().unwrap();
    assert!(
        store
            .get(&acme_id, ResourceKind::User, "u1")
            .await
            .unwrap()
            .is_some()
    );

    let finished = d.admin_json(&["tenant", "delete", "acme", "--confirm", "--wait-secs", "0"]);
    assert_eq!(
        finished["tokensRevoked"], 0,
        "revoked by the interrupted run"
    );
    assert!(
        finished["itemsDeleted"].as_u64().unwrap() >= 3,
        "user, marker, counter (and request records): {finished}"
    );
    let again = d.admin_json(&["tenant", "create", "acme"]);
    let fresh = again["token"].as_str().unwrap().to_owned();
    assert_eq!(
        status(&addr, "/scim/v2/acme/Users/u1", &fresh),
        404,
        "nothing inherited"
    );
    assert_eq!(status(&addr, "/scim/v2/acme/Users/u1", &token), 401);
    stop(local);
}

/// `tenant migrate` through the binary: progress on stderr, a summary on
/// stdout, an unknown tenant is exit 3. (`tests/migration.rs` checks the
/// data a migration converts.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_migrate_reports_progress_and_is_idempotent() {
    let Some(aws) = common::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await else {
        return;
    };
    if common::aws_config("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .await
        .is_none()
    {
        return;
    }
    let d = Deployment::new();
    d.admin_json(&["table", "create"]);
    d.admin_json(&["tenant", "create", "acme"]);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &d.table);
    let acme = TenantId::parse("acme").unwrap();
    let user = Record::new(ResourceKind::User, "u1", 1, json!({"userName": "ann"}));
    store.create(&acme, &user).await.unwrap();

    // Written by the current code: nothing to convert.
    let out = d.admin(&["tenant", "migrate", "acme"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("User: 1 looked at, 0 rewritten"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 users, 0 groups"));
    let again = d.admin_json(&["tenant", "migrate", "acme"]);
    assert_eq!(
        again,
        json!({"users": 1, "groups": 0, "rewritten": 0, "countersMoved": 0, "keysUnindexed": 0, "censusSet": false})
    );
    let unknown = d.admin(&["tenant", "migrate", "initech"]);
    assert_eq!(unknown.status.code(), Some(3), "not found");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["tenant", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["tenant", "list", "--help"],
        vec!["tenant", "show", "--help"],
        vec!["tenant", "delete", "--help"],
        vec!["tenant", "migrate", "--help"],
        vec!["token", "issue", "--help"],
        vec!["token", "revoke", "--help"],
        vec!["token", "rotate", "--help"],
        vec!["table", "create", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_scim-admin"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}
