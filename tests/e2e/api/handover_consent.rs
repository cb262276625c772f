//! Issue 10 §9: a hand-over goes only to an organisation the patient's consent covers.
//! Proposing one to an uncovered receiver answers 422 naming `to_organization` and the
//! rule (in Japanese, on the API and on the web form alike) and changes nothing; a
//! receiver whose cover was withdrawn after the proposal cannot accept it, and is told
//! no more than that it does not exist.

use renkei_testkit::app::send;
use renkei_testkit::builders::days_ago;
use renkei_testkit::{ApiResponse, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{app_or_skip, stroke_plan};
use crate::web_client::{Browser, PASSWORD, web_user};

const RULE: &str = "consent_not_covering";

async fn propose(app: &TestApp, token: &str, plan: &str) -> ApiResponse {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/handovers"),
        token,
        &json!({"to_organization": "recovery-1", "stage": "recovery", "note": "転院調整をお願いします"}),
        None,
    )
    .await
}

async fn record_consent(
    app: &TestApp,
    token: &str,
    plan: &str,
    scope: &str,
    orgs: &[&str],
) -> Value {
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/consents"),
            token,
            &json!({"scope": scope, "organizations": orgs, "purposes": ["care"], "method": "paper",
                    "signer": "self", "obtained_at": days_ago(0)}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body
}

async fn withdraw(app: &TestApp, token: &str, consent: &Value) {
    app.post_json(
        &format!(
            "/api/v1/consents/{}/withdraw",
            consent["id"].as_str().expect("consent id")
        ),
        token,
        &json!({"reason": "本人の申し出"}),
        None,
    )
    .await
    .assert_status(200);
}

async fn handovers(app: &TestApp, token: &str, plan: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/api/v1/care-plans/{plan}/handovers"), token)
        .await;
    res.assert_status(200);
    res.body["handovers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[track_caller]
fn assert_consent_refusal(res: &ApiResponse) {
    res.assert_problem(422, Some("to_organization"));
    let error = res.body["errors"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["field"] == "to_organization"))
        .expect("to_organization error");
    assert_eq!(error["code"], RULE, "{}", res.text);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("同意"), "reason in Japanese: {message}");
}

#[tokio::test]
async fn a_hand_over_to_a_receiver_the_consent_does_not_cover_is_refused_with_the_reason() {
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = stroke_plan(&app, &a, 3).await;
    let r = app
        .user_token("recovery-1", "recovery_hospital", "kaifuku-ns")
        .await;
    let events_before = app.db.query_i64("SELECT COUNT(*) FROM entries").await;

    // No consent at all.
    assert_consent_refusal(&propose(&app, &a, &plan).await);
    // A consent listing other organisations only.
    app.ensure_org("clinic-1", "clinic").await;
    let listed = record_consent(&app, &a, &plan, "listed", &["clinic-1"]).await;
    assert_consent_refusal(&propose(&app, &a, &plan).await);
    // Nothing was created: no hand-over, no chain entry, nothing for the receiver.
    assert!(handovers(&app, &a, &plan).await.is_empty());
    assert_eq!(
        app.db.query_i64("SELECT COUNT(*) FROM entries").await,
        events_before
    );
    let wl = app.get("/api/v1/worklist", &r).await;
    wl.assert_status(200);
    assert!(!wl.text.contains(&plan), "{}", wl.text);

    // Once the consent lists the receiver, the proposal goes through, the receiver sees
    // it and may accept it, and then opens the plan.
    withdraw(&app, &a, &listed).await;
    record_consent(&app, &a, &plan, "listed", &["clinic-1", "recovery-1"]).await;
    let created = propose(&app, &a, &plan).await;
    created.assert_status(201);
    let id = created.body["id"].as_str().expect("id").to_owned();
    app.get(&format!("/api/v1/handovers/{id}"), &r)
        .await
        .assert_status(200);
    let accepted = send(
        app.request(Method::POST, &format!("/api/v1/handovers/{id}/accept"))
            .bearer_auth(&r)
            .header("If-Match", "\"1\""),
    )
    .await;
    accepted.assert_status(200);
    app.get(&format!("/api/v1/care-plans/{plan}"), &r)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_receiver_whose_consent_was_withdrawn_cannot_accept_and_learns_nothing() {
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = stroke_plan(&app, &a, 3).await;
    let r = app
        .user_token("recovery-1", "recovery_hospital", "kaifuku-ns")
        .await;
    let consent = record_consent(&app, &a, &plan, "care_team", &[]).await;
    let created = propose(&app, &a, &plan).await;
    created.assert_status(201);
    let id = created.body["id"].as_str().expect("id").to_owned();

    // The patient withdraws the consent before the receiver answers.
    withdraw(&app, &a, &consent).await;

    let get = app.get(&format!("/api/v1/handovers/{id}"), &r).await;
    get.assert_problem(404, None);
    let accept = send(
        app.request(Method::POST, &format!("/api/v1/handovers/{id}/accept"))
            .bearer_auth(&r)
            .header("If-Match", "\"1\""),
    )
    .await;
    // The same answer as for a hand-over that does not exist: nothing leaks.
    accept.assert_problem(404, None);
    let unknown = send(
        app.request(
            Method::POST,
            &format!("/api/v1/handovers/{}/accept", uuid::Uuid::now_v7()),
        )
        .bearer_auth(&r)
        .header("If-Match", "\"1\""),
    )
    .await;
    assert_eq!(accept.body["detail"], unknown.body["detail"]);
    assert!(!accept.text.contains(&plan));

    // Nothing changed: still proposed, the receiver is not on the care team and still
    // cannot open the plan.
    let list = handovers(&app, &a, &plan).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "proposed");
    assert_eq!(list[0]["version"], 1);
    app.get(&format!("/api/v1/care-plans/{plan}"), &r)
        .await
        .assert_problem(404, None);
    let team = app
        .get(&format!("/api/v1/care-plans/{plan}/care-team"), &a)
        .await;
    team.assert_status(200);
    assert!(!team.text.contains("recovery-1"), "{}", team.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_over_screen_shows_the_same_reason() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "kango-web").await;
    let token = renkei_service::admin::issue_token(&app.services, "kango-web", "test", None)
        .await
        .expect("token");
    let plan = stroke_plan(&app, &token, 3).await;
    app.ensure_org("recovery-1", "recovery_hospital").await;
    let b = Browser::new(&app);
    b.login("kango-web", PASSWORD).await;
    let form = b.get(&format!("/care-plans/{plan}/handovers/new")).await;
    form.assert_status(200);
    let res = b
        .post(
            &format!("/care-plans/{plan}/handovers/new"),
            &[
                ("csrf", &form.csrf()),
                ("receiver", "recovery|recovery-1"),
                ("note", "転院調整をお願いします"),
            ],
        )
        .await;
    res.assert_status(422);
    assert!(
        res.text
            .contains("患者の同意の共有範囲にこの紹介先施設が含まれていません"),
        "{}",
        res.text
    );
    assert!(handovers(&app, &token, &plan).await.is_empty());
}
