//! Concurrent appends to one plan: all succeed, sequence numbers are 1..n without gaps or
//! duplicates, and the chain is unbroken (checked over the API and by `renkei verify`).

use std::collections::BTreeSet;

use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::run_renkei;
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{app_or_skip, append, assert_chain, entries, snapshot, stroke_plan};

const CLIENTS: usize = 8;
const PER_CLIENT: usize = 5;

#[tokio::test(flavor = "multi_thread")]
async fn parallel_appends_get_distinct_seqs_and_an_unbroken_chain() {
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

    // Each client is a different practitioner on its own connection.
    let mut tokens = Vec::new();
    for _ in 0..CLIENTS {
        tokens.push(app.token().await);
    }
    let mut tasks = JoinSet::new();
    for (client_no, token) in tokens.into_iter().enumerate() {
        let url = url.clone();
        let at = days_ago(2);
        tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let mut seqs = Vec::new();
            for i in 0..PER_CLIENT {
                let mut body = entry("acute", "note", &at, json!({}));
                body["note"] = json!(format!("client {client_no} note {i}"));
                let res = renkei_testkit::app::send(
                    client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("c{client_no}-{i}"))
                        .json(&body),
                )
                .await;
                assert_eq!(res.status.as_u16(), 201, "client {client_no}: {}", res.text);
                seqs.push(res.body["seq"].as_i64().expect("seq"));
            }
            seqs
        });
    }
    let mut seqs = BTreeSet::new();
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        for seq in done.expect("client task") {
            total += 1;
            assert!(seqs.insert(seq), "seq {seq} handed out twice");
        }
    }
    let n = CLIENTS * PER_CLIENT;
    assert_eq!(total, n);
    let expected: BTreeSet<i64> = (2..=(n as i64 + 1)).collect();
    assert_eq!(seqs, expected);

    let list = entries(&app, &token, &plan).await;
    assert_eq!(list.len(), n + 1);
    assert_chain(&list);
    assert_eq!(
        snapshot(&app, &token, &plan).await.entry_count,
        n as i64 + 1
    );

    let url = app.db.cli_url();
    let out = run_renkei(&["verify", "--database", &url], None).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!("{} entries", n + 1)),
        "{}",
        out.stdout
    );
}

/// Administration writes (here: issuing API tokens) interleaved with appends: on SQLite
/// every write transaction must take the write lock up front, or it fails with "database
/// is locked" when another writer commits between its read and its write.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_can_be_issued_while_entries_are_appended() {
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
    let mut writers = JoinSet::new();
    for w in 0..4 {
        let (url, token) = (url.clone(), token.clone());
        let at = days_ago(2);
        writers.spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            for i in 0..10 {
                let mut body = entry("acute", "note", &at, json!({}));
                body["note"] = json!(format!("writer {w} note {i}"));
                let res =
                    renkei_testkit::app::send(client.post(&url).bearer_auth(&token).json(&body))
                        .await;
                assert_eq!(res.status.as_u16(), 201, "{}", res.text);
            }
        });
    }
    // Meanwhile: new practitioners and tokens through the admin service.
    let mut issued = Vec::new();
    for _ in 0..8 {
        issued.push(app.token().await);
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    for t in &issued {
        app.get(&format!("/api/v1/care-plans/{plan}"), t)
            .await
            .assert_status(200);
    }
    assert_chain(&entries(&app, &token, &plan).await);
}
