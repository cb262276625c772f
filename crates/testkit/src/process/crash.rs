//! Crash-safety harness (R1, R2, R7): the real `renkei serve` under concurrent append
//! load, killed with SIGKILL at random moments (and, on PostgreSQL, the database backends
//! serving it terminated), restarted, the writes in flight retried with their
//! Idempotency-Key, and then checked against the client's log:
//!
//! - every acknowledged (2xx) entry is present exactly once, with the id it was
//!   acknowledged with;
//! - every write in flight at the kill settles to exactly one entry when retried;
//! - no entry exists that no client sent; sequence numbers are 1..n per plan;
//! - `renkei verify` passes, and SQLite's `PRAGMA integrity_check` says `ok`.
//!
//! Every loop is bounded in time and count.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::process::server::{Renkei, free_port};

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashConfig {
    /// `renkei` with the database URL a separate process can use.
    pub renkei: Renkei,
    pub iterations: usize,
    /// Concurrent clients, each appending to its own care plan.
    pub clients: usize,
    /// Where server logs go.
    pub work_dir: PathBuf,
    /// The SQLite file, for `PRAGMA integrity_check` (None on PostgreSQL).
    pub sqlite_file: Option<PathBuf>,
    /// PostgreSQL: a URL from which `pg_terminate_backend` may end the server's
    /// backends (a superuser, or the server's own role). The server's connections are
    /// found by `application_name`, which must be set in `renkei.database_url`.
    pub pg_admin_url: Option<String>,
    pub pg_application_name: Option<String>,
    /// Kill moments are drawn from this range after the load starts (ms).
    pub kill_after_ms: (u64, u64),
    /// After the drawn moment, wait until the server's audit sequencer says it is
    /// paused inside a batch's transaction, and kill it there (the server must run
    /// with `--audit-sequencer-pause-ms`).
    pub kill_in_sequencer: bool,
    pub seed: u64,
}

/// The counts a run ends with. A run with any `problems` failed.
#[derive(Debug, Default, Clone)]
pub struct CrashReport {
    pub iterations: usize,
    /// Requests answered 2xx before the kill.
    pub acknowledged: usize,
    /// Requests without an answer (or with an error) at the kill: retried with their key.
    pub in_flight: usize,
    /// In-flight requests the database already had (retry replayed them).
    pub in_flight_committed: usize,
    /// Acknowledged requests re-sent with their key to check the replay.
    pub replays_checked: usize,
    pub backend_kills: usize,
    pub backends_terminated: usize,
    pub entries_checked: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub phantom: usize,
    pub verify_runs: usize,
    /// Runs of `verify` that found every audit event sequenced.
    pub all_sequenced: usize,
    /// Kills that landed while the sequencer held a numbered, uncommitted batch.
    pub sequencer_kills: usize,
    pub integrity_checks: usize,
    pub problems: Vec<String>,
}

impl CrashReport {
    pub fn summary(&self) -> String {
        format!(
            "{} iterations: {} acknowledged, {} in flight at kill ({} already committed), \
             {} replays checked, {} backend kills ({} backends terminated), {} entries checked; \
             lost {}, duplicated {}, phantom {}; verify passed {}×, all audit events sequenced {}×, \
             {} kills mid-sequencer-batch, integrity_check ok {}×; {} problem(s)",
            self.iterations,
            self.acknowledged,
            self.in_flight,
            self.in_flight_committed,
            self.replays_checked,
            self.backend_kills,
            self.backends_terminated,
            self.entries_checked,
            self.lost,
            self.duplicated,
            self.phantom,
            self.verify_runs,
            self.all_sequenced,
            self.sequencer_kills,
            self.integrity_checks,
            self.problems.len()
        )
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Acked(String),
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct Record {
    pub key: String,
    pub plan: String,
    pub token: String,
    pub body: Value,
    pub outcome: Outcome,
}

pub struct Client {
    pub token: String,
    pub plan: String,
    /// The stage the plan starts in (a clinic enrolling on diabetes starts at `clinic`).
    pub stage: String,
}

/// Runs the harness; Err only when the harness itself could not run.
pub async fn run(cfg: &CrashConfig) -> anyhow::Result<CrashReport> {
    std::fs::create_dir_all(&cfg.work_dir)?;
    let log = cfg.work_dir.join("serve.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let run_id = format!("{:08x}", rng.r#gen::<u32>());
    let r = &cfg.renkei;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let (mut server, clients) = fixture(r, &http, cfg.clients, &run_id, &log).await?;

    let mut report = CrashReport::default();
    let mut all: Vec<Record> = Vec::new();
    for iter in 0..cfg.iterations {
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let log_records = Arc::new(Mutex::new(Vec::<Record>::new()));
        let mut tasks = Vec::new();
        for (c, client) in clients.iter().enumerate() {
            let client = client.clone();
            let http = http.clone();
            let base = server.base.clone();
            let stop = stop.clone();
            let records = log_records.clone();
            let prefix = format!("crash-{run_id}-{iter}-{c}");
            tasks.push(tokio::spawn(async move {
                client_loop(&http, &base, &client, &prefix, &stop, &records).await
            }));
        }
        let kill_at = rng.gen_range(cfg.kill_after_ms.0..=cfg.kill_after_ms.1);
        let kill_backend = cfg.pg_admin_url.is_some() && iter % 2 == 1;
        if kill_backend {
            tokio::time::sleep(Duration::from_millis(kill_at / 2)).await;
            let n = terminate_backends(cfg).await?;
            report.backend_kills += 1;
            report.backends_terminated += n;
            tokio::time::sleep(Duration::from_millis(kill_at - kill_at / 2)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(kill_at)).await;
        }
        if cfg.kill_in_sequencer {
            if wait_for_sequencer_pause(&log).await? {
                report.sequencer_kills += 1;
            } else {
                report.problems.push(format!(
                    "iteration {iter}: the sequencer never paused mid-batch"
                ));
            }
        }
        server.kill9().await;
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
        }
        let mut records = std::mem::take(&mut *log_records.lock().await);
        let acked = records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
            .count();
        let unknown = records.len() - acked;
        report.acknowledged += acked;
        report.in_flight += unknown;

        server = r.serve(free_port()?, &log).await?;
        // Settle the writes in flight: same key, same body.
        for rec in records.iter_mut() {
            if let Outcome::Unknown(why) = &rec.outcome {
                let why = why.clone();
                let url = format!("{}/api/v1/care-plans/{}/entries", server.base, rec.plan);
                match post_retrying(&http, &url, &rec.token, &rec.key, &rec.body).await {
                    Ok((status, id)) => {
                        if status == 200 {
                            report.in_flight_committed += 1;
                        }
                        rec.outcome = Outcome::Acked(id);
                    }
                    Err(e) => report.problems.push(format!(
                        "iteration {iter}: in-flight {} ({why}) did not settle: {e}",
                        rec.key
                    )),
                }
            }
        }
        // Replays of acknowledged requests answer the same entry (sample).
        for rec in records.iter().step_by(7) {
            if let Outcome::Acked(id) = &rec.outcome {
                let url = format!("{}/api/v1/care-plans/{}/entries", server.base, rec.plan);
                match post_retrying(&http, &url, &rec.token, &rec.key, &rec.body).await {
                    Ok((_, again)) if &again == id => report.replays_checked += 1,
                    Ok((status, again)) => report.problems.push(format!(
                        "iteration {iter}: replay of {} answered {status} with entry {again}, not {id}",
                        rec.key
                    )),
                    Err(e) => report.problems.push(format!(
                        "iteration {iter}: replay of {} failed: {e}",
                        rec.key
                    )),
                }
            }
        }
        all.extend(records);
        check_entries(&http, &server.base, &clients, &all, iter, &mut report).await?;
        let verify = r.run(&["verify"], None).await?;
        if verify.stdout.contains("audit events (0 not yet sequenced)") {
            report.all_sequenced += 1;
        }
        if verify.success {
            report.verify_runs += 1;
        } else {
            report.problems.push(format!(
                "iteration {iter}: renkei verify failed: {}{}",
                verify.stdout, verify.stderr
            ));
        }
        if let Some(file) = &cfg.sqlite_file {
            match integrity(file).await {
                Ok(s) if s == "ok" => report.integrity_checks += 1,
                Ok(s) => report
                    .problems
                    .push(format!("iteration {iter}: integrity_check: {s}")),
                Err(e) => report
                    .problems
                    .push(format!("iteration {iter}: integrity_check failed: {e}")),
            }
        }
        report.iterations += 1;
        eprintln!(
            "crash iteration {}/{}: killed after {kill_at} ms{}; {acked} acknowledged, {unknown} in flight; \
             {} entries in total; {} problem(s) so far; {:.1} s",
            iter + 1,
            cfg.iterations,
            if kill_backend {
                " (PostgreSQL backends terminated half-way)"
            } else {
                ""
            },
            report.entries_checked,
            report.problems.len(),
            started.elapsed().as_secs_f64()
        );
    }
    server.stop().await;
    Ok(report)
}

/// Waits (at most 30 s) until the server log gains a line saying the audit sequencer
/// paused inside a batch's transaction; whether it did.
async fn wait_for_sequencer_pause(log: &std::path::Path) -> anyhow::Result<bool> {
    let mark = "audit sequencer paused mid-batch";
    let seen = std::fs::read_to_string(log)?.matches(mark).count();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::fs::read_to_string(log)?.matches(mark).count() > seen {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(false)
}

/// One clinic, one practitioner and one diabetes care plan per client; returns the
/// running server and the clients.
pub async fn fixture(
    r: &Renkei,
    http: &reqwest::Client,
    n_clients: usize,
    run_id: &str,
    log: &std::path::Path,
) -> anyhow::Result<(crate::process::server::Server, Vec<Arc<Client>>)> {
    // Fixture: one clinic, one practitioner and one care plan per client.
    r.run_ok(&["migrate"], None).await?;
    let org = format!("crash-{run_id}");
    r.run_ok(
        &[
            "org",
            "add",
            "--code",
            &org,
            "--name",
            "クラッシュ試験診療所",
            "--kind",
            "clinic",
            "--area",
            "千葉",
        ],
        None,
    )
    .await?;
    let mut tokens = Vec::new();
    for c in 0..n_clients {
        let login = format!("{org}-u{c}");
        r.run_ok(
            &[
                "user",
                "add",
                "--org",
                &org,
                "--login",
                &login,
                "--name",
                "試験 医師",
                "--profession",
                "physician",
            ],
            None,
        )
        .await?;
        let token = r
            .run_ok(&["token", "issue", "--login", &login], None)
            .await?;
        tokens.push(token.trim().to_owned());
    }
    let server = r.serve(free_port()?, log).await?;
    let mut clients = Vec::new();
    let mut latest_start = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    for (c, token) in tokens.iter().enumerate() {
        let patient = post_ok(
            http,
            &format!("{}/api/v1/patients", server.base),
            token,
            None,
            &json!({
                "name": {"family": "試験", "given": format!("患者{c}"),
                         "family_kana": "シケン", "given_kana": "カンジャ"},
                "birth_date": "1950-04-01", "sex": "female",
                "identifiers": [{"organization": org, "value": format!("CR-{c}")}]
            }),
        )
        .await?;
        let plan = post_ok(
            http,
            &format!("{}/api/v1/care-plans", server.base),
            token,
            None,
            &json!({"patient_id": patient["id"], "pathway": "diabetes"}),
        )
        .await?;
        if let Some(start) = plan["started_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            latest_start = latest_start.max(start.with_timezone(&chrono::Utc));
        }
        clients.push(Arc::new(Client {
            token: token.clone(),
            plan: plan["id"]
                .as_str()
                .context("care plan without id")?
                .to_owned(),
            stage: plan["current_stage"]
                .as_str()
                .context("care plan without a current stage")?
                .to_owned(),
        }));
    }
    // Entries must not predate their plan's start: the clients' clock has passed it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while renkei_service::Clock::default().now() <= latest_start {
        if Instant::now() > deadline {
            bail!("the clock did not pass the plans' start ({latest_start})");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((server, clients))
}

/// Waits until at least `n` appends are acknowledged in `records` (60 s at most).
pub async fn wait_for_acks(records: &Mutex<Vec<Record>>, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let acked = records
            .lock()
            .await
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
            .count();
        if acked >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {acked} of {n} appends acknowledged in 60 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn client_loop(
    http: &reqwest::Client,
    base: &str,
    client: &Client,
    prefix: &str,
    stop: &AtomicBool,
    records: &Mutex<Vec<Record>>,
) {
    let url = format!("{base}/api/v1/care-plans/{}/entries", client.plan);
    // Bounded: the server is killed within seconds; never more than 100k requests.
    for n in 0..100_000u32 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let key = format!("{prefix}-{n}");
        let body = json!({
            "stage": client.stage,
            "kind": "assessment",
            "effective_at": renkei_service::Clock::default().now().to_rfc3339(),
            "values": {
                "hba1c": 6.0 + f64::from(n % 30) / 10.0,
                "bp_sys": 110 + n % 40,
                "bp_dia": 65 + n % 20
            },
            "note": key,
        });
        let res = http
            .post(&url)
            .bearer_auth(&client.token)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        let (outcome, transport_error) = match res {
            Ok(r) if r.status().is_success() => {
                let status = r.status();
                match r.json::<Value>().await {
                    Ok(v) => match v["id"].as_str() {
                        Some(id) => (Outcome::Acked(id.to_owned()), false),
                        None => (Outcome::Unknown(format!("{status} without id")), false),
                    },
                    // The answer was cut off: not acknowledged.
                    Err(e) => (Outcome::Unknown(format!("{status}, body lost: {e}")), true),
                }
            }
            Ok(r) => (Outcome::Unknown(format!("status {}", r.status())), false),
            Err(e) => (Outcome::Unknown(format!("transport: {e}")), true),
        };
        records.lock().await.push(Record {
            key,
            plan: client.plan.clone(),
            token: client.token.clone(),
            body,
            outcome,
        });
        if transport_error {
            return;
        }
    }
}

/// POSTs until a 2xx (bounded: 200 tries over at most ~60 s); returns status and id.
async fn post_retrying(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<(u16, String)> {
    let mut last = String::new();
    for _ in 0..200 {
        match http
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                let status = r.status().as_u16();
                let v: Value = r.json().await?;
                let id = v["id"].as_str().context("answer without id")?.to_owned();
                return Ok((status, id));
            }
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 409 => {
                last = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(r) => {
                bail!(
                    "answered {}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                )
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    bail!("no 2xx after 200 tries; last: {last}")
}

async fn post_ok(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let mut req = http.post(url).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url} answered {status}: {v}");
    }
    Ok(v)
}

/// Compares every plan's stored entries with the log of everything ever sent.
async fn check_entries(
    http: &reqwest::Client,
    base: &str,
    clients: &[Arc<Client>],
    log: &[Record],
    iter: usize,
    report: &mut CrashReport,
) -> anyhow::Result<()> {
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    let mut total = 0;
    for client in clients {
        let r = http
            .get(format!("{base}/api/v1/care-plans/{}/entries", client.plan))
            .bearer_auth(&client.token)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("listing entries answered {}", r.status());
        }
        let v: Value = r.json().await?;
        let entries = v["entries"].as_array().context("no entries array")?;
        for (i, e) in entries.iter().enumerate() {
            if e["seq"].as_i64() != Some(i as i64 + 1) {
                report.problems.push(format!(
                    "iteration {iter}: plan {} entry {} has seq {} at position {}",
                    client.plan,
                    e["id"],
                    e["seq"],
                    i + 1
                ));
            }
            let note = e["note"].as_str().unwrap_or_default().to_owned();
            let id = e["id"].as_str().unwrap_or_default().to_owned();
            stored.entry(note).or_default().push(id);
        }
        total += entries.len();
    }
    let mut lost = 0;
    let mut duplicated = 0;
    for rec in log {
        let ids = stored.remove(&rec.key).unwrap_or_default();
        match (&rec.outcome, ids.len()) {
            (Outcome::Acked(id), 1) if ids[0] == *id => {}
            (Outcome::Acked(id), 0) => {
                lost += 1;
                report.problems.push(format!(
                    "iteration {iter}: LOST acknowledged entry {id} (key {})",
                    rec.key
                ));
            }
            (Outcome::Acked(id), 1) => report.problems.push(format!(
                "iteration {iter}: key {} acknowledged as {id} but stored as {}",
                rec.key, ids[0]
            )),
            (Outcome::Acked(_), n) => {
                duplicated += 1;
                report.problems.push(format!(
                    "iteration {iter}: DUPLICATE: key {} stored {n} times",
                    rec.key
                ));
            }
            (Outcome::Unknown(_), _) => {} // already reported as not settled
        }
    }
    for (note, ids) in stored {
        report.phantom += ids.len();
        report.problems.push(format!(
            "iteration {iter}: {} entr(y/ies) no client sent (note {note:?})",
            ids.len()
        ));
    }
    report.lost = report.lost.max(lost);
    report.duplicated = report.duplicated.max(duplicated);
    report.entries_checked = total;
    Ok(())
}

/// `PRAGMA integrity_check` on a SQLite file (opened like the server opens it).
pub async fn integrity(file: &std::path::Path) -> anyhow::Result<String> {
    let mut settings = renkei_service::DbSettings::new(format!("sqlite://{}", file.display()));
    settings.max_connections = 1;
    let db = renkei_service::connect(&settings).await?;
    let s = renkei_service::backup::integrity_check(&db).await?;
    db.close().await?;
    Ok(s)
}

/// Ends every PostgreSQL backend serving the server (found by application_name).
async fn terminate_backends(cfg: &CrashConfig) -> anyhow::Result<usize> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let (Some(url), Some(app)) = (&cfg.pg_admin_url, &cfg.pg_application_name) else {
        return Ok(0);
    };
    let mut opts = sea_orm::ConnectOptions::new(url.clone());
    opts.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(opts).await?;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            [app.clone().into()],
        ))
        .await?;
    db.close().await?;
    Ok(rows.len())
}
