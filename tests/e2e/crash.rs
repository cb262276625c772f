//! Crash safety (R1, R2, R7) and backup under load (R4), through the harness in
//! `renkei_testkit::process`: the real `renkei serve` process under concurrent append load.
//!
//! `RENKEI_CRASH_ITERATIONS` sets the kill -9 iterations (3 here by default; the full
//! run is 20, see README "Operations").

use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use renkei_testkit::process::backup_load;
use renkei_testkit::process::crash::{self, CrashConfig};
use renkei_testkit::process::scratch::{Scratch, renkei_bin, workspace_root};
use renkei_testkit::process::server::Renkei;

fn iterations() -> usize {
    std::env::var("RENKEI_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn renkei(database_url: String) -> Renkei {
    Renkei {
        bin: renkei_bin().expect("the renkei binary"),
        database_url,
        pathways: workspace_root().join("pathways"),
        serve_args: Vec::new(),
        taskset: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_append_load_loses_and_duplicates_nothing() {
    let Some(db) = Scratch::new("crash").await.expect("scratch database") else {
        return;
    };
    let app = format!("renkei-crash-{}", uuid::Uuid::new_v4().simple());
    let url = if db.is_postgres() {
        // The server's backends are found (and terminated) by application_name.
        format!("{}&application_name={app}", db.url)
    } else {
        db.url.clone()
    };
    let cfg = CrashConfig {
        renkei: renkei(url),
        iterations: iterations(),
        clients: 4,
        work_dir: db.dir.join("work"),
        sqlite_file: db.sqlite_file.clone(),
        pg_admin_url: db.admin_url.clone(),
        pg_application_name: db.is_postgres().then_some(app),
        kill_after_ms: (300, 1500),
        kill_in_sequencer: false,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7),
    };
    let report = tokio::time::timeout(
        Duration::from_secs(120 + 60 * cfg.iterations as u64),
        crash::run(&cfg),
    )
    .await
    .expect("the crash harness finished in time")
    .expect("the crash harness ran");
    eprintln!(
        "crash harness ({}): {}",
        if db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        report.summary()
    );
    assert!(
        report.problems.is_empty(),
        "{}\n{}",
        report.summary(),
        report.problems.join("\n")
    );
    assert_eq!(report.iterations, cfg.iterations);
    assert!(report.acknowledged > 0, "no append was acknowledged");
    assert_eq!((report.lost, report.duplicated, report.phantom), (0, 0, 0));
    assert_eq!(report.verify_runs, cfg.iterations);
    assert_eq!(report.all_sequenced, cfg.iterations);
    if cfg.sqlite_file.is_some() {
        assert_eq!(report.integrity_checks, cfg.iterations);
    }
    if db.is_postgres() && cfg.iterations > 1 {
        assert!(report.backend_kills > 0);
    }
    db.cleanup().await;
}

/// The same, with every kill landing while the audit sequencer holds a batch it has
/// numbered but not committed (the server pauses there and says so in its log): the
/// batch is redone after the restart, so every audit event ends up sequenced exactly
/// once (`verify` finds each region numbered 1..n, every leaf and every checkpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_the_audit_sequencer_is_mid_batch_loses_and_duplicates_nothing() {
    let Some(db) = Scratch::new("crash-seq").await.expect("scratch database") else {
        return;
    };
    let mut r = renkei(db.url.clone());
    r.serve_args = vec!["--audit-sequencer-pause-ms".into(), "400".into()];
    let cfg = CrashConfig {
        renkei: r,
        iterations: iterations(),
        clients: 4,
        work_dir: db.dir.join("work"),
        sqlite_file: db.sqlite_file.clone(),
        pg_admin_url: None,
        pg_application_name: None,
        kill_after_ms: (200, 800),
        kill_in_sequencer: true,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(11),
    };
    let report = tokio::time::timeout(
        Duration::from_secs(120 + 60 * cfg.iterations as u64),
        crash::run(&cfg),
    )
    .await
    .expect("the crash harness finished in time")
    .expect("the crash harness ran");
    eprintln!("crash harness, sequencer mid-batch: {}", report.summary());
    assert!(
        report.problems.is_empty(),
        "{}\n{}",
        report.summary(),
        report.problems.join("\n")
    );
    assert_eq!(report.sequencer_kills, cfg.iterations);
    assert!(report.acknowledged > 0, "no append was acknowledged");
    assert_eq!((report.lost, report.duplicated, report.phantom), (0, 0, 0));
    assert_eq!(report.verify_runs, cfg.iterations);
    assert_eq!(report.all_sequenced, cfg.iterations);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_append_load_is_a_consistent_restorable_snapshot() {
    let Some(db) = Scratch::new("backup").await.expect("scratch database") else {
        return;
    };
    let r = renkei(db.url.clone());
    if db.is_postgres() {
        r.run_ok(&["migrate"], None).await.expect("migrate");
        let out = r
            .run(
                &["backup", &db.dir.join("b.db").display().to_string()],
                None,
            )
            .await
            .expect("run backup");
        assert!(!out.success, "backup of PostgreSQL must refuse");
        assert!(
            out.stderr.contains("pg_basebackup") && out.stderr.contains("WAL"),
            "{}",
            out.stderr
        );
        db.cleanup().await;
        return;
    }
    let file = db.sqlite_file.clone().expect("SQLite file");
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        backup_load::run(&r, &file, &db.dir.join("work"), 4),
    )
    .await
    .expect("the backup check finished in time")
    .unwrap_or_else(|e| panic!("backup under load: {e:#}"));
    eprintln!("backup under load: {report:?}");
    assert!(report.entries_in_copy > 0);
    assert!(report.plans_checked > 0);
    db.cleanup().await;
}

/// One `/metrics` scrape: (pending audit events, sequencing lag in seconds, appends).
async fn scrape(http: &reqwest::Client, base: &str) -> (f64, f64, f64) {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    };
    (
        value("renkei_audit_pending_events"),
        value("renkei_audit_sequencing_lag_seconds"),
        value("renkei_appends_total"),
    )
}

/// `/metrics` of a real `renkei serve` under concurrent appends: the sequencing lag stays
/// at most 1 s while the load runs, and once it stops the pending events drain to 0
/// within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_show_the_audit_sequencing_lag_bounded_under_appends() {
    let Some(db) = Scratch::new("metrics").await.expect("scratch database") else {
        return;
    };
    let r = renkei(db.url.clone());
    let work = db.dir.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let http = reqwest::Client::new();
    let (mut server, clients) = crash::fixture(&r, &http, 4, "metrics", &work.join("serve.log"))
        .await
        .expect("fixture");
    let stop = Arc::new(AtomicBool::new(false));
    let records = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let (client, http, base) = (client.clone(), http.clone(), server.base.clone());
        let (stop, records) = (stop.clone(), records.clone());
        tasks.push(tokio::spawn(async move {
            crash::client_loop(&http, &base, &client, &format!("m-{c}"), &stop, &records).await
        }));
    }
    let mut scrapes = 0;
    let mut max_lag: f64 = 0.0;
    // Sampled every 50 ms, as a scraper does: scraping in a tight loop made the scrapes
    // the heaviest load on the server's two cores.
    let mut every = tokio::time::interval(Duration::from_millis(50));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while records.lock().await.len() < 400 {
        every.tick().await;
        let (_, lag, _) = scrape(&http, &server.base).await;
        max_lag = max_lag.max(lag);
        scrapes += 1;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("client");
    }
    let acked = records
        .lock()
        .await
        .iter()
        .filter(|r| matches!(r.outcome, crash::Outcome::Acked(_)))
        .count() as f64;
    let stopped = std::time::Instant::now();
    let (pending, lag, appends) = loop {
        let (pending, lag, appends) = scrape(&http, &server.base).await;
        if pending == 0.0 {
            break (pending, lag, appends);
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "{pending} audit events still pending 5 s after the load stopped"
        );
    };
    let drained = stopped.elapsed().as_secs_f64();
    eprintln!(
        "metrics: {scrapes} scrapes under load, max lag {max_lag:.3} s; drained {drained:.3} s after the load stopped; {appends} appends counted for {acked} answered"
    );
    assert!(scrapes > 0);
    assert!(max_lag <= 1.0, "sequencing lag {max_lag} s under load");
    assert!(drained <= 1.0, "pending events took {drained} s to drain");
    assert_eq!((pending, lag), (0.0, 0.0));
    assert!(
        appends >= acked,
        "{appends} appends counted, {acked} answered"
    );
    server.stop().await;
    db.cleanup().await;
}
