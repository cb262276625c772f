//! Scale-out on PostgreSQL with servers the tests start themselves on loopback
//! (`renkei_testkit::process::pg`): reports read from a streaming replica
//! (`serve --read-database-url`), and regions held by other servers as `postgres_fdw`
//! foreign partitions behind one coordinator.
//!
//! They need the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin` or
//! `RENKEI_PG_BIN`); without them a test prints why it did not run, and fails under
//! `CI=true` (`.ci/run` installs them).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use renkei_testkit::cli::{renkei_bin, run_renkei};
use renkei_testkit::process::crash;
use renkei_testkit::process::pg::{self, PgServer};
use renkei_testkit::process::scratch::workspace_root;
use renkei_testkit::process::server::{Renkei, free_port};
use serde_json::{Value, json};

mod foreign_partitions;

/// The PostgreSQL binaries, or None after printing why the test does not run (a
/// failure under `CI=true`).
pub(crate) fn pg_binaries(test: &str) -> Option<PathBuf> {
    match pg::binaries() {
        Ok(bin) => Some(bin),
        Err(why) => {
            let msg = format!("{test}: NOT RUN: {why}");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg} (CI=true: the PostgreSQL binaries must be installed)");
            }
            eprintln!("{msg}");
            None
        }
    }
}

pub(crate) fn renkei(database_url: String, serve_args: Vec<String>) -> Renkei {
    Renkei {
        bin: renkei_bin().to_path_buf(),
        database_url,
        pathways: workspace_root().join("pathways"),
        serve_args,
        taskset: None,
    }
}

/// Appends one assessment to `client`'s plan; returns the new entry's id.
pub(crate) async fn append(
    http: &reqwest::Client,
    base: &str,
    client: &crash::Client,
    note: &str,
) -> String {
    let r = http
        .post(format!("{base}/api/v1/care-plans/{}/entries", client.plan))
        .bearer_auth(&client.token)
        .json(&json!({
            "stage": client.stage,
            "kind": "assessment",
            "effective_at": renkei_service::Clock::default().now().to_rfc3339(),
            "values": {"hba1c": 6.8, "bp_sys": 128, "bp_dia": 76},
            "note": note,
        }))
        .send()
        .await
        .expect("append request");
    let status = r.status();
    let v: Value = r.json().await.expect("append answer");
    assert_eq!(status.as_u16(), 201, "append answered {status}: {v}");
    v["id"].as_str().expect("entry id").to_owned()
}

pub(crate) async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET request");
    let status = r.status();
    let v: Value = r.json().await.expect("JSON answer");
    assert_eq!(status.as_u16(), 200, "GET {url} answered {status}: {v}");
    v
}

/// Whether the patient's access report (as served by `base`) lists an event about
/// resource `id`.
async fn report_names(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    patient: &str,
    id: &str,
) -> bool {
    let events = get_json(
        http,
        &format!("{base}/api/v1/patients/{patient}/access-report"),
        token,
    )
    .await;
    events["events"]
        .as_array()
        .expect("the access report's events")
        .iter()
        .any(|e| e["resource_id"].as_str() == Some(id))
}

/// Polls the access report served by `base` until it names `id` (30 s at most).
async fn wait_report_names(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    patient: &str,
    id: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !report_names(http, base, token, patient, id).await {
        assert!(
            Instant::now() < deadline,
            "the access report from {base} never listed the event about {id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(server: &PgServer, sql: &str) -> i64 {
    server
        .sql("renkei", sql)
        .await
        .expect("count query")
        .parse()
        .expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_report_is_read_from_the_streaming_replica_and_writes_go_to_the_primary() {
    let Some(bin) = pg_binaries("access_report_is_read_from_the_streaming_replica") else {
        return;
    };
    let primary = PgServer::start(&bin, &["wal_level = replica", "max_wal_senders = 4"])
        .await
        .expect("primary");
    primary
        .create_database("renkei", "renkei")
        .await
        .expect("database");
    let replica = PgServer::replica_of(&primary).await.expect("replica");
    eprintln!("primary on {}, replica on {}", primary.port, replica.port);
    let work = tempfile::tempdir().expect("work dir");
    let http = reqwest::Client::new();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    // Server A reads reports from the replica; server B, on the same primary, does not.
    let with_replica = renkei(
        primary.url("renkei", "renkei"),
        vec![
            "--read-database-url".into(),
            replica.url("renkei", "renkei"),
        ],
    );
    let (mut a, clients) =
        crash::fixture(&with_replica, &http, 1, &run_id, &work.path().join("a.log"))
            .await
            .expect("fixture");
    let primary_only = renkei(primary.url("renkei", "renkei"), Vec::new());
    let mut b = primary_only
        .serve(free_port().expect("port"), &work.path().join("b.log"))
        .await
        .expect("second server");
    let client = &clients[0];
    eprintln!(
        "servers {} (with the replica) and {} (primary only)",
        a.base, b.base
    );
    let admin = format!("rep-admin-{run_id}");
    with_replica
        .run_ok(
            &[
                "user",
                "add",
                "--org",
                &format!("crash-{run_id}"),
                "--login",
                &admin,
                "--name",
                "試験 管理者",
                "--profession",
                "physician",
                "--role",
                "org_admin",
            ],
            None,
        )
        .await
        .expect("org admin");
    let admin_token = with_replica
        .run_ok(&["token", "issue", "--login", &admin], None)
        .await
        .expect("token")
        .trim()
        .to_owned();
    let plan = get_json(
        &http,
        &format!("{}/api/v1/care-plans/{}", a.base, client.plan),
        &client.token,
    )
    .await;
    let patient = plan["patient_id"].as_str().expect("patient id").to_owned();

    // Replay running: the report from the replica shows the append once it is replayed.
    let first = append(&http, &a.base, client, "before the pause").await;
    wait_report_names(&http, &a.base, &admin_token, &patient, &first).await;

    // Replay paused: the append is acknowledged (the standby is read-only, so the write
    // went to the primary), the primary has it and server B's report lists it; server
    // A's report, read from the replica, does not.
    replica.pause_replay().await.expect("pause replay");
    let second = append(&http, &a.base, client, "while replay is paused").await;
    let in_entries = format!("SELECT count(*) FROM entries WHERE id = '{second}'");
    assert_eq!(count(&primary, &in_entries).await, 1);
    assert_eq!(count(&replica, &in_entries).await, 0);
    wait_report_names(&http, &b.base, &admin_token, &patient, &second).await;
    let reads = "SELECT count(*) FROM audit_events WHERE action = 'patient.access_report'";
    let (on_primary, on_replica) = (count(&primary, reads).await, count(&replica, reads).await);
    assert!(
        !report_names(&http, &a.base, &admin_token, &patient, &second).await,
        "the access report of the server with --read-database-url listed an event the \
         paused replica has not replayed: it was not read from the replica"
    );
    // The report's own audit event was written on the primary in that request.
    assert_eq!(count(&primary, reads).await, on_primary + 1);
    assert_eq!(count(&replica, reads).await, on_replica);

    // Replay resumed: the replica catches up and its report lists the append.
    replica.resume_replay().await.expect("resume replay");
    replica.wait_replayed(&primary).await.expect("replayed");
    wait_report_names(&http, &a.base, &admin_token, &patient, &second).await;

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn read_database_url_is_refused_for_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let pathways = workspace_root().join("pathways");
    let out = run_renkei(
        &[
            "--database",
            &db,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--pathways",
            pathways.to_str().expect("path"),
            "--read-database-url",
            "postgres://renkei:pw@127.0.0.1:1/renkei",
        ],
        None,
    )
    .await;
    assert_ne!(out.code, 0, "serve started: {}", out.stdout);
    assert!(
        out.stderr.contains("--read-database-url") && out.stderr.contains("SQLite"),
        "{}",
        out.stderr
    );
}
