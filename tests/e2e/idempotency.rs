//! Idempotent writes: a retried POST with the same Idempotency-Key gets the first answer
//! and writes nothing more.

use renkei_testkit::builders::{days_ago, entry};
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{app_or_skip, append, entries, snapshot, stroke_plan};

#[tokio::test(flavor = "multi_thread")]
async fn same_key_same_body_replays_the_first_answer() {
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
    let path = format!("/api/v1/care-plans/{plan}/entries");
    let body = entry("acute", "assessment", &days_ago(2), json!({"mrs": 2}));

    let first = app.post_json(&path, &token, &body, Some("retry-1")).await;
    first.assert_status(201);
    let second = app.post_json(&path, &token, &body, Some("retry-1")).await;
    second.assert_status(201);
    assert_eq!(
        first.body, second.body,
        "the retry must replay the first answer"
    );
    let third = app.post_json(&path, &token, &body, Some("retry-1")).await;
    assert_eq!(third.body, first.body);

    let list = entries(&app, &token, &plan).await;
    assert_eq!(list.len(), 2, "exactly one entry for the key");
    assert_eq!(list[1]["id"], first.body["id"]);

    // The same body under another key is a new entry.
    let other = app.post_json(&path, &token, &body, Some("retry-2")).await;
    other.assert_status(201);
    assert_ne!(other.body["id"], first.body["id"]);
    assert_eq!(snapshot(&app, &token, &plan).await.entry_count, 3);

    // Keys are per client: another practitioner's identical key is not a replay.
    let token2 = app.token().await;
    let theirs = app.post_json(&path, &token2, &body, Some("retry-1")).await;
    theirs.assert_status(201);
    assert_ne!(theirs.body["id"], first.body["id"]);
    assert_eq!(snapshot(&app, &token, &plan).await.entry_count, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_retries_with_one_key_write_one_entry() {
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
    let url = app.url(&format!("/api/v1/care-plans/{plan}/entries"));
    let body = entry("acute", "assessment", &days_ago(2), json!({"mrs": 2}));

    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (url, token, body) = (url.clone(), token.clone(), body.clone());
        tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            renkei_testkit::app::send(
                client
                    .post(url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", "burst-1")
                    .json(&body),
            )
            .await
        });
    }
    let mut ids = Vec::new();
    while let Some(res) = tasks.join_next().await {
        let res = res.expect("task");
        // 201 with the replayed answer (409 would be allowed while the first is in flight).
        match res.status.as_u16() {
            201 => ids.push(res.body["id"].clone()),
            409 => {}
            other => panic!("unexpected {other}: {}", res.text),
        }
    }
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "different entries: {ids:?}"
    );
    assert_eq!(entries(&app, &token, &plan).await.len(), 2);
}
