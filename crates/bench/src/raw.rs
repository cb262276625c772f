//! The baseline of P1/P3: the raw single-row durable insert rate of the same database
//! with the same pragmas (WAL, the same `synchronous`, busy timeout), opened by the same
//! `renkei_service::connect`: `connections` tasks, each committing one row per
//! transaction (autocommit INSERT of an entry-sized row), for `duration`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use renkei_service::{DbSettings, SqliteSync};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

/// Rows committed and the seconds it took.
pub async fn raw_insert(
    url: &str,
    sync: SqliteSync,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<(u64, f64)> {
    let mut settings = DbSettings::new(url);
    settings.sqlite_sync = sync;
    settings.max_connections = connections as u32;
    let db = renkei_service::connect(&settings).await?;
    let backend = db.get_database_backend();
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS raw_insert (id TEXT PRIMARY KEY, care_plan_id TEXT NOT NULL, \
         seq BIGINT NOT NULL, payload TEXT NOT NULL)",
    )
    .await?;
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO raw_insert (id, care_plan_id, seq, payload) VALUES ($1, $2, $3, $4)"
        }
        _ => "INSERT INTO raw_insert (id, care_plan_id, seq, payload) VALUES (?, ?, ?, ?)",
    };
    // An entry's stored size: canonical values, hashes, ids (~600 bytes).
    let payload = "x".repeat(600);
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (db, count, payload) = (db.clone(), count.clone(), payload.clone());
        let plan = uuid::Uuid::now_v7().to_string();
        tasks.push(tokio::spawn(async move {
            let mut seq = 0i64;
            while Instant::now() < deadline {
                seq += 1;
                let stmt = Statement::from_sql_and_values(
                    backend,
                    sql,
                    [
                        uuid::Uuid::now_v7().to_string().into(),
                        plan.clone().into(),
                        seq.into(),
                        payload.clone().into(),
                    ],
                );
                match db.execute_raw(stmt).await {
                    Ok(_) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("raw insert {c}: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    db.close().await?;
    Ok((count.load(Ordering::Relaxed), secs))
}
