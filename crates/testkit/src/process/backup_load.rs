//! Backup under write load (R4): `renkei backup` while clients keep appending, then
//! checks on the copy (`renkei verify`, `PRAGMA integrity_check`, a prefix-consistent
//! snapshot of the live database), and `renkei restore` of it in place of the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tokio::sync::Mutex;

use crate::process::crash::{Outcome, Record, client_loop, fixture, integrity, wait_for_acks};
use crate::process::server::Renkei;

/// What the check saw.
#[derive(Debug, Default)]
pub struct BackupLoadReport {
    pub entries_before: u64,
    pub entries_in_copy: u64,
    pub entries_after: u64,
    pub acknowledged_during_load: usize,
    pub plans_checked: usize,
    pub restored_entries: u64,
}

async fn open(file: &Path) -> anyhow::Result<DatabaseConnection> {
    let mut s = renkei_service::DbSettings::new(format!("sqlite://{}", file.display()));
    s.max_connections = 1;
    Ok(renkei_service::connect(&s).await?)
}

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<u64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            sql.to_owned(),
        ))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)? as u64)
}

/// `(plan id, seq) -> (entry id, hash)` for every entry.
async fn chains(db: &DatabaseConnection) -> anyhow::Result<HashMap<String, Vec<(String, String)>>> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let plans = renkei_store::queries::all_care_plans(db).await?;
    for p in plans {
        let rows = renkei_store::queries::entries_of(db, p.id).await?;
        out.insert(
            p.id.to_string(),
            rows.into_iter()
                .map(|r| (r.id.to_string(), r.hash))
                .collect(),
        );
    }
    Ok(out)
}

/// Runs the whole check on the SQLite database `db_file` (which `renkei` serves at
/// `renkei.database_url`); `work_dir` receives the backups and the server log.
pub async fn run(
    renkei: &Renkei,
    db_file: &Path,
    work_dir: &Path,
    clients: usize,
) -> anyhow::Result<BackupLoadReport> {
    std::fs::create_dir_all(work_dir)?;
    let log = work_dir.join("serve.log");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let (mut server, clients) = fixture(renkei, &http, clients, "backup", &log).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let records = Arc::new(Mutex::new(Vec::<Record>::new()));
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let (client, http, base, stop, records) = (
            client.clone(),
            http.clone(),
            server.base.clone(),
            stop.clone(),
            records.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client_loop(&http, &base, &client, &format!("bk-{c}"), &stop, &records).await
        }));
    }
    // Let the load build up, then back up twice while it runs.
    let per_client = 5;
    wait_for_acks(&records, per_client * clients.len()).await?;
    let live = open(db_file).await?;
    let mut report = BackupLoadReport {
        entries_before: count(&live, "SELECT COUNT(*) FROM entries").await?,
        ..Default::default()
    };
    let copy = work_dir.join("backup-1.db");
    let out = renkei.run(&["backup", path_str(&copy)?], None).await?;
    ensure!(
        out.success
            && out.stdout.contains("integrity ok")
            && out.stdout.contains("all chains intact"),
        "renkei backup failed: {}{}",
        out.stdout,
        out.stderr
    );
    // More appends acknowledged since the first copy began.
    let acked = records
        .lock()
        .await
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
        .count();
    wait_for_acks(&records, acked + per_client).await?;
    let copy2 = work_dir.join("backup-2.db");
    renkei.run_ok(&["backup", path_str(&copy2)?], None).await?;
    // A second backup to an existing file is refused.
    let again = renkei.run(&["backup", path_str(&copy)?], None).await?;
    ensure!(
        !again.success,
        "a backup over an existing file was not refused"
    );
    report.entries_after = count(&live, "SELECT COUNT(*) FROM entries").await?;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
    }
    let records = std::mem::take(&mut *records.lock().await);
    report.acknowledged_during_load = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
        .count();
    ensure!(
        report.acknowledged_during_load > 0,
        "no append was acknowledged during the backup"
    );

    // The copy: integrity, chains (renkei verify), and a prefix of the live database.
    ensure!(
        integrity(&copy).await? == "ok",
        "integrity_check of the copy failed"
    );
    let copy_renkei = Renkei {
        database_url: format!("sqlite://{}", copy.display()),
        ..renkei.clone()
    };
    copy_renkei.run_ok(&["verify"], None).await?;
    let copy_db = open(&copy).await?;
    report.entries_in_copy = count(&copy_db, "SELECT COUNT(*) FROM entries").await?;
    ensure!(
        report.entries_before <= report.entries_in_copy
            && report.entries_in_copy <= report.entries_after,
        "the copy holds {} entries, not between {} (before) and {} (after)",
        report.entries_in_copy,
        report.entries_before,
        report.entries_after
    );
    // Every entry carries an idempotency key in this load: the two tables agree.
    let keys = count(&copy_db, "SELECT COUNT(*) FROM idempotency_keys").await?;
    ensure!(
        keys == report.entries_in_copy,
        "the copy holds {} entries but {keys} idempotency keys",
        report.entries_in_copy
    );
    let live_chains = chains(&live).await?;
    let copy_chains = chains(&copy_db).await?;
    for (plan, entries) in &copy_chains {
        let live_entries = live_chains
            .get(plan)
            .with_context(|| format!("plan {plan} of the copy is not live"))?;
        ensure!(
            live_entries.len() >= entries.len() && live_entries[..entries.len()] == entries[..],
            "plan {plan}: the copy's {} entries are not a prefix of the live {}",
            entries.len(),
            live_entries.len()
        );
        report.plans_checked += 1;
    }
    copy_db.close().await?;
    live.close().await?;

    // Restore: refused while the server runs, done once it is stopped.
    let refused = renkei.run(&["restore", path_str(&copy)?], None).await?;
    ensure!(
        !refused.success && refused.stderr.contains("in use"),
        "restore while serving was not refused: {}{}",
        refused.stdout,
        refused.stderr
    );
    server.stop().await;
    let out = renkei.run_ok(&["restore", path_str(&copy)?], None).await?;
    if !out.contains("all chains intact") {
        bail!("restore did not report intact chains: {out}");
    }
    renkei.run_ok(&["verify"], None).await?;
    let restored = open(db_file).await?;
    report.restored_entries = count(&restored, "SELECT COUNT(*) FROM entries").await?;
    restored.close().await?;
    ensure!(
        report.restored_entries == report.entries_in_copy,
        "restored {} entries, the backup had {}",
        report.restored_entries,
        report.entries_in_copy
    );
    ensure!(
        integrity(db_file).await? == "ok",
        "integrity_check after restore failed"
    );
    // The server starts on the restored database.
    let mut again = renkei
        .serve(crate::process::server::free_port()?, &log)
        .await
        .context("serve after restore")?;
    again.stop().await;
    Ok(report)
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str().context("non-UTF-8 path")
}

/// The file behind a `sqlite://` URL.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    renkei_service::backup::sqlite_path(url)
}
