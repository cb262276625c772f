//! Idempotent writes: a retried POST with the same Idempotency-Key gets the first answer
//! and writes nothing more.

use renkei_testkit::builders::{days_ago, entry};
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{app_or_skip, append, create_patient, entries, snapshot, stroke_plan};

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

#[tokio::test(flavor = "multi_thread")]
async fn enrolment_with_a_key_creates_one_plan_however_often_it_is_sent() {
    let app = app_or_skip!();
    let token = app.token().await;
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = create_patient(
        &app,
        &token,
        ("サトウ", "ハナコ"),
        "1950-02-03",
        &ident[..12],
    )
    .await;
    let body = json!({"patient_id": p["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(1)});

    // Eight concurrent sends of one enrolment (a double click, a retrying client).
    let mut set = JoinSet::new();
    for _ in 0..8 {
        let (http, url, token, body) = (
            app.http.clone(),
            app.url("/api/v1/care-plans"),
            token.clone(),
            body.clone(),
        );
        set.spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "enrol-1")
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.expect("json");
            (status, body["id"].as_str().unwrap_or_default().to_owned())
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = set.join_next().await {
        let (status, id) = r.expect("task");
        assert_eq!(status, 201, "every send answers the plan");
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one plan for the key: {ids:?}");
    let patient_id = p["id"].as_str().expect("patient id");
    let list = app
        .get_query("/api/v1/care-plans", &token, &[("patient_id", patient_id)])
        .await;
    list.assert_status(200);
    assert_eq!(list.body["care_plans"].as_array().map(Vec::len), Some(1));

    // The key with another request is refused and creates nothing.
    let other = json!({"patient_id": p["id"], "pathway": "diabetes", "started_at": days_ago(1)});
    let res = app
        .post_json("/api/v1/care-plans", &token, &other, Some("enrol-1"))
        .await;
    res.assert_problem(422, None);
    let list = app
        .get_query("/api/v1/care-plans", &token, &[("patient_id", patient_id)])
        .await;
    assert_eq!(list.body["care_plans"].as_array().map(Vec::len), Some(1));

    // Without a key, each request is a new enrolment (as before).
    app.post_json("/api/v1/care-plans", &token, &other, None)
        .await
        .assert_status(201);
}
