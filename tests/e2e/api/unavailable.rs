//! R5 / R7: when SQLite cannot take a write — another writer holds the file beyond the
//! busy timeout, or the database is full — the API answers 503 with Retry-After,
//! writes nothing, and the same request succeeds once the cause is gone (no restart).
//! Both causes are SQLite's; on PostgreSQL these tests have nothing to provoke and return.

use std::time::Duration;

use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{ApiResponse, TestApp, TestDb};
use sea_orm::{ConnectionTrait, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use serde_json::json;

use crate::support::{append, snapshot, stroke_plan};

async fn sqlite_app(configure: impl FnOnce(&mut renkei_service::DbSettings)) -> Option<TestApp> {
    let mut db = TestDb::new().await?;
    if db.is_postgres() {
        eprintln!("NOTICE: SQLite-only test (busy timeout / full database) skipped on PostgreSQL");
        return None;
    }
    configure(db.settings_mut());
    Some(TestApp::spawn_on(db).await)
}

#[track_caller]
fn assert_unavailable(res: &ApiResponse) {
    res.assert_problem(503, None);
    let retry = res
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry.is_some_and(|s| s >= 1),
        "503 must carry Retry-After in seconds, got {:?}",
        res.headers.get("retry-after")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_blocked_beyond_the_busy_timeout_answers_503_and_writes_nothing() {
    let Some(app) = sqlite_app(|s| s.busy_timeout = Duration::from_millis(800)).await else {
        return;
    };
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(3), json!({})),
    )
    .await;
    let before = snapshot(&app, &token, &plan).await;
    let path = format!("/api/v1/care-plans/{plan}/entries");
    let body = entry("acute", "assessment", &days_ago(2), json!({"mrs": 3}));

    // 1. Another connection (as another process would) holds SQLite's write lock.
    let other = renkei_service::connect(app.db.settings())
        .await
        .expect("second pool");
    let holder = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .expect("take the write lock");
    let res = app.post_json(&path, &token, &body, Some("busy-1")).await;
    assert_unavailable(&res);
    holder.rollback().await.expect("release the write lock");
    assert_eq!(
        snapshot(&app, &token, &plan).await,
        before,
        "nothing written"
    );

    // 2. A writer of this process keeps its turn in the write queue too long.
    let turn = renkei_service::begin_write(&app.services.db)
        .await
        .expect("take the queue");
    let res = app.post_json(&path, &token, &body, Some("busy-1")).await;
    assert_unavailable(&res);
    turn.rollback().await.expect("release the queue");
    assert_eq!(
        snapshot(&app, &token, &plan).await,
        before,
        "nothing written"
    );

    // Once free, the same request (same key) is written exactly once.
    let ok = app.post_json(&path, &token, &body, Some("busy-1")).await;
    ok.assert_status(201);
    let again = app.post_json(&path, &token, &body, Some("busy-1")).await;
    again.assert_status(201);
    assert_eq!(again.body["id"], ok.body["id"]);
    assert_eq!(
        snapshot(&app, &token, &plan).await.entry_count,
        before.entry_count + 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_database_answers_503_writes_nothing_partial_and_resumes_without_restart() {
    // One pooled connection, so the page limit set below applies to every statement.
    let Some(app) = sqlite_app(|s| s.max_connections = 1).await else {
        return;
    };
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(3), json!({})),
    )
    .await;
    let db = &app.services.db;
    let pages = app.db.query_i64("PRAGMA page_count").await;
    // The database may grow by a few pages only: SQLite then fails writes with
    // SQLITE_FULL ("database or disk is full"), as it does when the disk is full.
    db.execute_unprepared(&format!("PRAGMA max_page_count = {}", pages + 8))
        .await
        .expect("cap the database size");

    let path = format!("/api/v1/care-plans/{plan}/entries");
    let note = "経過記録。".repeat(400); // ~6 kB per entry
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let mut body = entry("acute", "note", &days_ago(2), json!({}));
        body["note"] = json!(format!("{i}: {note}"));
        let key = format!("full-{i}");
        let res = app.post_json(&path, &token, &body, Some(&key)).await;
        match res.status.as_u16() {
            201 => acknowledged.push(res.body["id"].clone()),
            503 => {
                assert_unavailable(&res);
                refused = Some((key, body));
                break;
            }
            other => panic!("a write on a full database answered {other}: {}", res.body),
        }
    }
    let (key, body) = refused.expect("the capped database never filled up");

    // Nothing partial: reads on a full database either work or answer 503 (their audit
    // event cannot be stored), never 500.
    let read = app.get(&format!("/api/v1/care-plans/{plan}"), &token).await;
    assert!(
        read.status.as_u16() == 200 || read.status.as_u16() == 503,
        "a read on a full database answered {}",
        read.status
    );

    // Space returns: the same request is written, once, without a restart.
    db.execute_unprepared("PRAGMA max_page_count = 1073741823")
        .await
        .expect("lift the cap");
    let ok = app.post_json(&path, &token, &body, Some(&key)).await;
    ok.assert_status(201);
    let after = snapshot(&app, &token, &plan).await;
    // stage_start + every acknowledged note + the retried one, chained without a gap.
    assert_eq!(after.entry_count as usize, acknowledged.len() + 2);
    let ids: Vec<_> = after.entries.iter().map(|e| e["id"].clone()).collect();
    for id in &acknowledged {
        assert_eq!(ids.iter().filter(|x| *x == id).count(), 1, "entry {id}");
    }
    crate::support::assert_chain(&after.entries);
    let report = renkei_service::verify::verify(db).await.expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
