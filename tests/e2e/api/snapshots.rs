//! Snapshots (insta) of one problem+json body per error category the API answers, and of
//! `/api/openapi.json`: a change of wording, of a field or of the document shows up as a
//! diff in review. Ids, timestamps and request ids are redacted.
//!
//! The snapshots live in `tests/e2e/api/snapshots/`. Under `CI=true` a missing or
//! different snapshot fails and nothing is written. To accept new bodies after an
//! intended change (cargo-insta is not needed), run the snapshot tests with
//! `INSTA_UPDATE=always` and review the diff of the `.snap` files:
//!
//! ```text
//! INSTA_UPDATE=always CI= cargo test -p renkei-e2e --test e2e -- api::snapshots::
//! git diff tests/e2e/api/snapshots/
//! ```

use std::time::Duration;

use renkei_testkit::access::practitioner;
use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{ApiResponse, TestApp, TestDb};
use reqwest::Method;
use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, post_entry, stroke_plan};

/// Replaces what changes from run to run inside strings (UUIDs, RFC 3339 times) with a
/// fixed marker, everywhere in the body.
fn scrub(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(scrub_text(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, scrub(v))).collect()),
        other => other,
    }
}

fn scrub_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if is_uuid(&chars[i..]) {
            out.push_str("[uuid]");
            i += 36;
        } else if let Some(n) = timestamp_len(&chars[i..]) {
            out.push_str("[timestamp]");
            i += n;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn is_uuid(c: &[char]) -> bool {
    c.len() >= 36
        && c[..36].iter().enumerate().all(|(i, ch)| match i {
            8 | 13 | 18 | 23 => *ch == '-',
            _ => ch.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DDTHH:MM:SS` followed by fractions and an offset, if any.
fn timestamp_len(c: &[char]) -> Option<usize> {
    let shape = "dddd-dd-ddTdd:dd:dd";
    if c.len() < shape.len()
        || !shape.chars().zip(c).all(|(p, ch)| match p {
            'd' => ch.is_ascii_digit(),
            _ => p == *ch,
        })
    {
        return None;
    }
    let rest = c[shape.len()..]
        .iter()
        .take_while(|ch| ch.is_ascii_digit() || matches!(ch, '.' | '+' | '-' | ':' | 'Z'))
        .count();
    Some(shape.len() + rest)
}

/// Snapshots a problem+json answer under `name`, after checking its status and type.
#[track_caller]
fn assert_problem_snapshot(name: &str, res: &ApiResponse, status: u16) {
    res.assert_status(status);
    assert!(
        res.content_type().starts_with("application/problem+json"),
        "{name}: {}",
        res.content_type()
    );
    insta::assert_json_snapshot!(name, scrub(res.body.clone()), {
        ".instance" => "[instance]",
        ".request_id" => "[request_id]",
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_problem_bodies_per_error_category() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(3), json!({})),
    )
    .await;
    let entries = format!("/api/v1/care-plans/{plan}/entries");

    // 422 with errors[]: a value out of the item's range.
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry("acute", "assessment", &days_ago(2), json!({"mrs": 9})),
    )
    .await;
    assert_problem_snapshot("problem_422_validation", &res, 422);

    // 401: no credentials.
    let res = send(app.request(Method::GET, &format!("/api/v1/care-plans/{plan}"))).await;
    assert_problem_snapshot("problem_401_unauthenticated", &res, 401);

    // 403: a therapist of the planning hospital may not complete the plan.
    let therapist = practitioner(
        &app,
        "acute-1",
        "acute_hospital",
        "snap-pt",
        "therapist",
        &[],
    )
    .await;
    let res = send(
        app.request(Method::POST, &format!("/api/v1/care-plans/{plan}/complete"))
            .bearer_auth(&therapist.token),
    )
    .await;
    assert_problem_snapshot("problem_403_forbidden", &res, 403);

    // 404: a plan that does not exist.
    let res = app
        .get(
            &format!("/api/v1/care-plans/{}", uuid::Uuid::new_v4()),
            &token,
        )
        .await;
    assert_problem_snapshot("problem_404_not_found", &res, 404);

    // 409: the stage has already started.
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry("acute", "stage_start", &days_ago(2), json!({})),
    )
    .await;
    assert_problem_snapshot("problem_409_conflict", &res, 409);

    // 412: a stale If-Match.
    let res = send(
        app.request(Method::POST, &format!("/api/v1/care-plans/{plan}/complete"))
            .bearer_auth(&token)
            .header("If-Match", "\"999\""),
    )
    .await;
    assert_problem_snapshot("problem_412_precondition_failed", &res, 412);

    // 413: a body over 1 MiB.
    let mut huge = entry("acute", "note", &days_ago(1), json!({}));
    huge["note"] = json!("あ".repeat(400_000));
    let res = send(
        app.request(Method::POST, &entries)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(huge.to_string()),
    )
    .await;
    assert_problem_snapshot("problem_413_payload_too_large", &res, 413);

    // 415: not JSON.
    let res = send(
        app.request(Method::POST, &entries)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_problem_snapshot("problem_415_unsupported_media_type", &res, 415);
}

/// 503: SQLite's write lock held by another connection beyond the busy timeout (SQLite
/// only: PostgreSQL has nothing to provoke it with).
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_problem_503_unavailable() {
    let Some(mut db) = TestDb::new().await else {
        return;
    };
    if db.is_postgres() {
        eprintln!("NOTICE: SQLite-only snapshot (busy timeout) skipped on PostgreSQL");
        return;
    }
    db.settings_mut().busy_timeout = Duration::from_millis(500);
    let app = TestApp::spawn_on(db).await;
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let other = renkei_service::connect(app.db.settings())
        .await
        .expect("a second connection");
    let lock = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .expect("take the write lock");
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry("acute", "stage_start", &days_ago(3), json!({})),
    )
    .await;
    lock.rollback().await.expect("release the lock");
    assert_problem_snapshot("problem_503_unavailable", &res, 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_openapi_document() {
    let app = app_or_skip!();
    let res = send(app.request(Method::GET, "/api/openapi.json")).await;
    res.assert_status(200);
    insta::assert_json_snapshot!("openapi", res.body);
}
