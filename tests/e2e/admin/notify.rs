//! Issue 18 point 11: e-mail notifications, against a local SMTP sink on loopback. An
//! organisation that chose them gets a mail when a hand-over to it arrives, when an
//! amendment notice arrives and when a report back it owes is due or overdue (once per
//! report and state); the mail carries a link and no patient data. Without the setting
//! no mail; with the SMTP server down the request still succeeds.

use std::time::Duration;

use renkei_service::notify::SmtpSettings;
use renkei_store::reports::{self as store_reports, ReportRow};
use renkei_testkit::TestApp;
use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::smtp::{Mail, SmtpSink};
use reqwest::Method;
use serde_json::{Value, json};

use super::{admin_user, audit_actions, has_action, regional};
use crate::support::{app_or_skip, append, consent, entries, stroke_plan, team_member};

const BASE: &str = "https://renkei.example.jp";
const RECOVERY_MAIL: &str = "renraku@recovery.example.jp";
const WAIT: Duration = Duration::from_secs(20);

fn smtp(port: u16) -> Option<SmtpSettings> {
    Some(SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        from: "renkei@example.jp".into(),
        username: None,
        password: None,
        base_url: BASE.into(),
    })
}

/// The recovery hospital's administrator chooses `events` at [`RECOVERY_MAIL`] through
/// the API.
async fn choose(app: &TestApp, events: Value) -> String {
    let admin = admin_user(
        app,
        "recovery-1",
        "recovery_hospital",
        "recovery-admin",
        &["org_admin"],
    )
    .await;
    let mut body = json!({"email": RECOVERY_MAIL});
    for (k, v) in events.as_object().expect("events") {
        body[k] = v.clone();
    }
    let r = send(
        app.request(
            Method::PUT,
            "/api/v1/organizations/recovery-1/notifications",
        )
        .bearer_auth(&admin)
        .json(&body),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.body["email"], RECOVERY_MAIL);
    admin
}

async fn propose(app: &TestApp, token: &str, plan: &str) -> String {
    let r = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/handovers"),
            token,
            &json!({"to_organization": "recovery-1", "stage": "recovery",
                    "note": "ヤマダ様 転院調整をお願いします"}),
            None,
        )
        .await;
    r.assert_status(201);
    r.body["id"].as_str().expect("hand-over id").to_owned()
}

/// A patient-data-free mail: none of the plan's patient's name, kana, birth date or
/// identifier, nor the note.
fn assert_no_patient_data(mail: &Mail, patient: &Value) {
    let text = mail.decoded();
    let mut forbidden: Vec<String> = vec![
        "ヤマダ".into(),
        "タロウ".into(),
        "1948".into(),
        "転院調整".into(),
    ];
    for key in ["name", "family_name", "given_name", "birth_date"] {
        if let Some(v) = patient[key].as_str().filter(|v| !v.is_empty()) {
            forbidden.push(v.to_owned());
        }
    }
    for id in patient["identifiers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if let Some(v) = id["value"].as_str() {
            forbidden.push(v.to_owned());
        }
    }
    for f in &forbidden {
        assert!(
            !text.contains(f.as_str()),
            "the mail carries {f:?}:\n{text}"
        );
    }
}

async fn patient_of(app: &TestApp, token: &str, plan: &str) -> Value {
    let p = app.get(&format!("/api/v1/care-plans/{plan}"), token).await;
    p.assert_status(200);
    let id = p.body["patient_id"]
        .as_str()
        .expect("patient id")
        .to_owned();
    let r = app.get(&format!("/api/v1/patients/{id}"), token).await;
    r.assert_status(200);
    r.body
}

fn to_recovery(mails: &[Mail]) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == RECOVERY_MAIL))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_over_arriving_mails_the_receiving_organisation_a_link_and_no_patient_data() {
    let app = app_or_skip!();
    let sink = SmtpSink::start().await;
    app.services.notifier.configure(smtp(sink.port));
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 1).await;
    consent(&app, &token, &plan).await;
    choose(&app, json!({"on_handover": true})).await;
    let regional = regional(&app).await;
    assert!(has_action(
        &audit_actions(&app, &regional, "allowed").await,
        "organization.notifications"
    ));

    let handover = propose(&app, &token, &plan).await;
    let mails = sink.wait_for(WAIT, |m| !to_recovery(m).is_empty()).await;
    let mails = to_recovery(&mails);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let text = mails[0].decoded();
    assert!(
        text.contains(&format!("{BASE}/handovers/{handover}")),
        "{text}"
    );
    assert!(text.contains("recovery-1 テスト施設"), "{text}");
    assert!(text.contains("引き継ぎ"), "{text}");
    assert_no_patient_data(&mails[0], &patient_of(&app, &token, &plan).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amendment_notice_mails_the_organisation_that_read_the_old_version() {
    let app = app_or_skip!();
    let sink = SmtpSink::start().await;
    app.services.notifier.configure(smtp(sink.port));
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    consent(&app, &token, &plan).await;
    let recovery = team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    choose(&app, json!({"on_notice": true})).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(10), json!({})),
    )
    .await;
    let mrs = append(
        &app,
        &token,
        &plan,
        entry("acute", "assessment", &days_ago(9), json!({"mrs": 4})),
    )
    .await;
    entries(&app, &recovery, &plan).await;
    assert!(to_recovery(&sink.mails()).is_empty(), "no notice, no mail");
    let mut fix = entry("acute", "assessment", &days_ago(9), json!({"mrs": 3}));
    fix["amends"] = mrs["id"].clone();
    fix["reason"] = json!("入力誤り");
    append(&app, &token, &plan, fix).await;

    let mails = sink.wait_for(WAIT, |m| !to_recovery(m).is_empty()).await;
    let mails = to_recovery(&mails);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let text = mails[0].decoded();
    assert!(
        text.contains(&format!("{BASE}/care-plans/{plan}")),
        "{text}"
    );
    assert!(text.contains("訂正"), "{text}");
    assert_no_patient_data(&mails[0], &patient_of(&app, &token, &plan).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_back_due_then_overdue_is_mailed_once_per_state_by_the_sweep() {
    let app = app_or_skip!();
    let sink = SmtpSink::start().await;
    app.services.notifier.configure(smtp(sink.port));
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    consent(&app, &token, &plan).await;
    team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    choose(&app, json!({"on_report": true})).await;
    let end = append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(10), json!({})),
    )
    .await;
    // A report back the recovery hospital owes the planner, due in a day.
    let plan_id: uuid::Uuid = plan.parse().expect("plan id");
    let row = renkei_store::queries::care_plan_by_id(&app.services.db, plan_id)
        .await
        .expect("read plan")
        .expect("plan");
    let recovery_id = renkei_store::queries::organization_by_code(&app.services.db, "recovery-1")
        .await
        .expect("read org")
        .expect("org")
        .id;
    let now = app.services.now();
    let report = ReportRow {
        id: uuid::Uuid::now_v7(),
        care_plan_id: plan_id.into(),
        stage: "recovery".into(),
        from_organization_id: recovery_id.into(),
        to_organization_id: row.planner_organization_id.into(),
        due_at: now + chrono::Duration::days(1),
        sent_at: None,
        sent_by: None,
        content: "{}".into(),
        stage_end_entry_id: end["id"]
            .as_str()
            .and_then(|s| s.parse::<uuid::Uuid>().ok())
            .expect("entry id")
            .into(),
        created_at: now,
    };
    store_reports::insert_report(&app.services.db, &report, &row.region)
        .await
        .expect("stage the report");

    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    let mails = to_recovery(&sink.wait_for(WAIT, |m| !to_recovery(m).is_empty()).await);
    assert_eq!(mails.len(), 1, "one mail: due");
    let text = mails[0].decoded();
    assert!(text.contains("期限が近づいて"), "{text}");
    assert!(
        text.contains(&format!("{BASE}/care-plans/{plan}")),
        "{text}"
    );
    assert_no_patient_data(&mails[0], &patient_of(&app, &token, &plan).await);

    // Swept again in the same state: nothing more.
    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    assert_eq!(to_recovery(&sink.mails()).len(), 1, "due is mailed once");

    // Two days on the report is overdue: one more mail, once.
    app.services.clock.advance(chrono::Duration::days(2));
    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    let mails = to_recovery(&sink.wait_for(WAIT, |m| to_recovery(m).len() >= 2).await);
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails[1].decoded().contains("期限を過ぎて"));
    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    assert_eq!(
        to_recovery(&sink.mails()).len(),
        2,
        "overdue is mailed once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_without_the_setting_gets_no_mail() {
    let app = app_or_skip!();
    let sink = SmtpSink::start().await;
    app.services.notifier.configure(smtp(sink.port));
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 1).await;
    consent(&app, &token, &plan).await;
    app.ensure_org("recovery-1", "recovery_hospital").await;
    propose(&app, &token, &plan).await;
    // Every pending notification sent (none): awaited, not slept on.
    let sent = app
        .services
        .dispatch_notifications(true)
        .await
        .expect("dispatch");
    assert_eq!(sent, 0);
    assert!(sink.mails().is_empty(), "{:?}", sink.mails());

    // Choosing it later does not mail what arrived before.
    choose(&app, json!({"on_handover": true})).await;
    let sent = app
        .services
        .dispatch_notifications(true)
        .await
        .expect("dispatch");
    assert_eq!(sent, 0);
    assert!(sink.mails().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_smtp_server_down_the_hand_over_still_succeeds_and_is_mailed_later() {
    let app = app_or_skip!();
    // A port nobody listens on.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr").port()
    };
    app.services.notifier.configure(smtp(closed));
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 1).await;
    consent(&app, &token, &plan).await;
    choose(&app, json!({"on_handover": true})).await;
    let handover = propose(&app, &token, &plan).await; // 201 asserted inside
    let sent = app
        .services
        .dispatch_notifications(false)
        .await
        .expect("a failed send fails nothing");
    assert_eq!(sent, 0);

    // The server is back: the hand-over is mailed then (the failed claim was given back).
    // The send the proposal started after its commit may still hold the claim when the
    // server comes back; it gives it back on failure, and the next dispatch sends it.
    let sink = SmtpSink::start().await;
    app.services.notifier.configure(smtp(sink.port));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut every = tokio::time::interval(std::time::Duration::from_millis(50));
    while to_recovery(&sink.mails()).is_empty() && std::time::Instant::now() < deadline {
        every.tick().await;
        app.services
            .dispatch_notifications(false)
            .await
            .expect("dispatch");
    }
    let mails = to_recovery(&sink.wait_for(WAIT, |m| !to_recovery(m).is_empty()).await);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0]
            .decoded()
            .contains(&format!("{BASE}/handovers/{handover}"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_organisations_administrators_may_choose_and_an_address_is_required() {
    let app = app_or_skip!();
    let token = app.token().await;
    let r = send(
        app.request(Method::PUT, "/api/v1/organizations/acute-1/notifications")
            .bearer_auth(&token)
            .json(&json!({"email": "a@acute.example.jp", "on_handover": true})),
    )
    .await;
    r.assert_problem(403, None);
    let admin = admin_user(
        &app,
        "acute-1",
        "acute_hospital",
        "acute-admin",
        &["org_admin"],
    )
    .await;
    let r = send(
        app.request(Method::PUT, "/api/v1/organizations/acute-1/notifications")
            .bearer_auth(&admin)
            .json(&json!({"on_handover": true})),
    )
    .await;
    r.assert_problem(422, Some("email"));
    let r = app
        .get("/api/v1/organizations/acute-1/notifications", &admin)
        .await;
    r.assert_status(200);
    assert!(r.body["email"].is_null());
    assert_eq!(r.body["on_handover"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_org_notifications_command_sets_shows_and_stops_them_audited() {
    let app = app_or_skip!();
    app.ensure_org("recovery-1", "recovery_hospital").await;
    let db = app.db.cli_url();
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        renkei_testkit::run_renkei(&refs, None).await
    };
    let base = |rest: &[&str]| {
        let mut a: Vec<String> = [
            "--database",
            db.as_str(),
            "org",
            "notifications",
            "recovery-1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        a.extend(rest.iter().map(|s| (*s).to_owned()));
        a
    };
    let out = run(base(&[
        "--email",
        RECOVERY_MAIL,
        "--events",
        "handover,notice",
    ]))
    .await;
    out.assert_code(0);
    assert!(out.stdout.contains(RECOVERY_MAIL), "{}", out.stdout);
    assert!(out.stdout.contains("handover,notice"), "{}", out.stdout);
    let out = run(base(&[])).await;
    out.assert_code(0);
    assert!(out.stdout.contains("handover,notice"), "{}", out.stdout);
    let out = run(base(&["--off"])).await;
    out.assert_code(0);
    assert!(out.stdout.contains("off"), "{}", out.stdout);
    let out = run(base(&["--email", "not an address"])).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    let regional = regional(&app).await;
    let allowed = audit_actions(&app, &regional, "allowed").await;
    assert!(
        allowed
            .iter()
            .filter(|(a, _)| a == "organization.notifications")
            .count()
            >= 2,
        "{allowed:?}"
    );
}
