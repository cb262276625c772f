//! The server under a held database, through the real process: with the writes blocked
//! (another process holds SQLite's write lock, or a PostgreSQL lock on the plans) and
//! requests kept coming, `/metrics` shows queries waiting for a pool connection
//! (`renkei_db_pool_connections{state="waiting"}`) and back to none after, and `/readyz`
//! answers 503 naming the write queue while it is saturated, then 200 again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use renkei_testkit::process::server::free_port;
use reqwest::Method;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use serde_json::{Value, json};

use super::{Api, Region, patient, region};

/// Holds the database's writes until dropped: SQLite's write lock (`BEGIN IMMEDIATE` from
/// this process), or on PostgreSQL an exclusive lock on the plans table.
enum Hold {
    Sqlite { _txn: renkei_service::WriteTxn },
    Postgres { _txn: sea_orm::DatabaseTransaction },
}

async fn hold_writes(region: &Region) -> (DatabaseConnection, Hold) {
    let conn = renkei_service::connect(&renkei_service::DbSettings::new(region.db.url.clone()))
        .await
        .expect("connect");
    let hold = if region.db.sqlite_file.is_some() {
        Hold::Sqlite {
            _txn: renkei_service::begin_write(&conn)
                .await
                .expect("write lock"),
        }
    } else {
        let txn = conn.begin().await.expect("begin");
        txn.execute_unprepared("LOCK TABLE care_plans IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock the plans");
        Hold::Postgres { _txn: txn }
    };
    (conn, hold)
}

/// `n` clients that keep sending `body` to `path` (each waits for its answer, whatever it
/// is, and sends again) until `stop`.
fn keep_sending(
    api: &Arc<Api>,
    n: usize,
    method: Method,
    path: String,
    body: Option<Value>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (api, stop, method, path, body) = (
                api.clone(),
                stop.clone(),
                method.clone(),
                path.clone(),
                body.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = api.send(method.clone(), &path, body.as_ref()).await;
                }
            })
        })
        .collect()
}

fn entry_body(stage: &str) -> Value {
    json!({
        "stage": stage,
        "kind": "assessment",
        "effective_at": renkei_service::Clock::default().now().to_rfc3339(),
        "values": {"hba1c": 7.1},
    })
}

/// The value of the series `name{…labels…}` in a scrape (None: not there).
fn sample(text: &str, name: &str, label: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            (l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
                && l.contains(label)
        })
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

async fn scrape(http: &reqwest::Client, base: &str) -> String {
    let res = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status().as_u16(), 200);
    res.text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_queries_waiting_for_a_pool_connection_when_the_pool_is_exhausted() {
    let Some(mut region) = region("oppool").await else {
        return;
    };
    // One connection: the write held by the lock keeps it, everything else waits.
    region.renkei.serve_args = vec!["--db-connections".into(), "1".into()];
    let mut server = region
        .renkei
        .serve(
            free_port().expect("port"),
            &region.work("log").join("serve.log"),
        )
        .await
        .expect("serve");
    let api = Arc::new(Api::new(&server.base, &region.token));
    let (_, plan, stage) = api
        .patient_with_plan(
            &region.org,
            &patient("待機", "花子", "タイキ", "ハナコ", "1950-02-03"),
        )
        .await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let idle = scrape(&http, &server.base).await;
    assert_eq!(
        sample(&idle, "renkei_db_pool_connections", "state=\"waiting\""),
        Some(0.0),
        "{idle}"
    );
    assert_eq!(
        sample(&idle, "renkei_db_pool_max_connections", ""),
        Some(1.0)
    );

    let (conn, hold) = hold_writes(&region).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = keep_sending(
        &api,
        1,
        Method::POST,
        format!("/care-plans/{plan}/entries"),
        Some(entry_body(&stage)),
        &stop,
    );
    clients.extend(keep_sending(
        &api,
        4,
        Method::GET,
        format!("/care-plans/{plan}"),
        None,
        &stop,
    ));
    // The scrape answers with the pool exhausted and counts the queries waiting.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (waiting, in_use) = loop {
        let text = scrape(&http, &server.base).await;
        let waiting = sample(&text, "renkei_db_pool_connections", "state=\"waiting\"");
        let in_use = sample(&text, "renkei_db_pool_connections", "state=\"in_use\"");
        if waiting.is_some_and(|w| w >= 1.0) {
            break (waiting, in_use);
        }
        assert!(
            Instant::now() < deadline,
            "no query counted as waiting with the pool held: {text}"
        );
        tokio::task::yield_now().await;
    };
    assert!(waiting >= Some(1.0));
    assert_eq!(in_use, Some(1.0), "the one connection is in use");

    // Released: the waiting queries get their turn and the gauge goes back to none.
    drop(hold);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("client");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(&http, &server.base).await;
        if sample(&text, "renkei_db_pool_connections", "state=\"waiting\"") == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queries still counted as waiting after the release: {text}"
        );
        tokio::task::yield_now().await;
    }
    conn.close().await.expect("close");
    server.kill9().await;
    region.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_answers_503_naming_the_write_queue_while_it_is_saturated() {
    let Some(region) = region("opqueue").await else {
        return;
    };
    if region.db.sqlite_file.is_none() {
        // PostgreSQL has no write queue (row locks order the writers): nothing to saturate.
        eprintln!("the write queue is SQLite's; skipped on PostgreSQL");
        region.db.cleanup().await;
        return;
    }
    let mut server = region
        .renkei
        .serve(
            free_port().expect("port"),
            &region.work("log").join("serve.log"),
        )
        .await
        .expect("serve");
    let api = Arc::new(Api::new(&server.base, &region.token));
    let (_, plan, stage) = api
        .patient_with_plan(
            &region.org,
            &patient("飽和", "太郎", "ホウワ", "タロウ", "1951-03-04"),
        )
        .await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("{}/readyz", server.base);
    let ready = http.get(&url).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);

    // Another process holds the write lock: every writer queues behind the first.
    let (conn, hold) = hold_writes(&region).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = keep_sending(
        &api,
        300,
        Method::POST,
        format!("/care-plans/{plan}/entries"),
        Some(entry_body(&stage)),
        &stop,
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let body = loop {
        let res = http.get(&url).send().await.expect("readyz");
        let status = res.status().as_u16();
        let body: Value = res.json().await.expect("json");
        if status == 503 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            Instant::now() < deadline,
            "the write queue never counted as saturated: {body}"
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["failing"], json!(["write_queue"]), "{body}");
    assert!(
        body["checks"]["write_queue"]
            .as_str()
            .is_some_and(|d| d.contains("saturated")),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok", "{body}");

    // Released and the load gone: ready again.
    drop(hold);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("client");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = http.get(&url).send().await.expect("readyz");
        if res.status().as_u16() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again after the load");
        tokio::task::yield_now().await;
    }
    conn.close().await.expect("close");
    server.kill9().await;
    region.db.cleanup().await;
}
