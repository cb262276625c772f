//! Issue 18 point 11: the e-mail notification settings as a web page
//! (`/admin/organizations/{code}/notifications`), over HTTP: the organisation's
//! administrator sets its own, the regional administrator any organisation's; a bad
//! address is refused with what was typed kept and nothing changed; another
//! organisation's administrator is refused; each save leaves exactly one audit event.

use renkei_testkit::TestApp;
use serde_json::Value;

use super::{admin_user, audit_actions, regional};
use crate::support::app_or_skip;
use crate::web_client::{Browser, PASSWORD, Page};

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    let b = Browser::new(app);
    b.login(login, PASSWORD).await;
    b
}

async fn post_form(b: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let form = b.get(page).await;
    form.assert_status(200);
    let csrf = form.csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

async fn settings(app: &TestApp, token: &str, org: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/organizations/{org}/notifications"), token)
        .await;
    r.assert_status(200);
    r.body
}

async fn saves(app: &TestApp, region: &str, outcome: &str) -> usize {
    audit_actions(app, region, outcome)
        .await
        .iter()
        .filter(|(a, _)| a == "organization.notifications")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_administrator_sets_its_e_mail_notifications_on_the_web() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = admin_user(
        &app,
        "recovery-8",
        "recovery_hospital",
        "recovery8-admin",
        &["org_admin"],
    )
    .await;
    let b = signed_in(&app, "recovery8-admin").await;
    let home = b.get("/admin").await;
    assert!(home.text.contains("href=\"/admin/notifications\""));
    let go = b.get("/admin/notifications").await;
    assert_eq!(
        go.location(),
        Some("/admin/organizations/recovery-8/notifications")
    );
    let url = "/admin/organizations/recovery-8/notifications";
    let page = b.get(url).await;
    page.assert_status(200);
    assert!(
        !page.text.contains("id=\"switch-org\""),
        "own organisation only"
    );

    // A bad address: the error, what was typed kept, nothing saved.
    let bad = post_form(
        &b,
        url,
        url,
        &[("email", "renraku at example"), ("on_handover", "yes")],
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(1件)"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("value=\"renraku at example\""));
    assert!(
        bad.text
            .contains("id=\"f-on_handover\" name=\"on_handover\" value=\"yes\" checked")
    );
    assert_eq!(
        settings(&app, &token, "recovery-8").await["email"],
        Value::Null
    );
    assert_eq!(saves(&app, &region, "allowed").await, 0);

    let done = post_form(
        &b,
        url,
        url,
        &[
            ("email", "renraku@recovery8.example.jp"),
            ("on_handover", "yes"),
            ("on_notice", "yes"),
        ],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/admin/organizations/recovery-8/notifications?done=saved")
    );
    let s = settings(&app, &token, "recovery-8").await;
    assert_eq!(s["email"], "renraku@recovery8.example.jp");
    assert_eq!(
        (
            s["on_handover"].as_bool(),
            s["on_report"].as_bool(),
            s["on_notice"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    let page = b.get(&format!("{url}?done=saved")).await;
    assert!(page.text.contains("通知の設定を保存しました。"));
    assert!(page.text.contains("value=\"renraku@recovery8.example.jp\""));
    assert_eq!(saves(&app, &region, "allowed").await, 1);

    // Another organisation's administrator is refused and changes nothing.
    admin_user(&app, "clinic-8", "clinic", "clinic8-admin", &["org_admin"]).await;
    let other = signed_in(&app, "clinic8-admin").await;
    other.get(url).await.assert_status(403);
    let own = other
        .get("/admin/organizations/clinic-8/notifications")
        .await;
    own.assert_status(200);
    other
        .post(
            url,
            &[
                ("csrf", own.csrf().as_str()),
                ("email", "x@clinic8.example.jp"),
            ],
        )
        .await
        .assert_status(403);
    assert_eq!(
        settings(&app, &token, "recovery-8").await["email"],
        "renraku@recovery8.example.jp"
    );
    assert_eq!(saves(&app, &region, "allowed").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_regional_administrator_sets_any_organisations_notifications_on_the_web() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    app.ensure_org("home-8", "home_nursing").await;
    let b = signed_in(&app, "region-admin").await;
    let go = b.get("/admin/notifications?org=home-8").await;
    assert_eq!(
        go.location(),
        Some("/admin/organizations/home-8/notifications")
    );
    let url = "/admin/organizations/home-8/notifications";
    let page = b.get(url).await;
    page.assert_status(200);
    assert!(
        page.text.contains("id=\"switch-org\""),
        "the facility choice"
    );
    let done = post_form(
        &b,
        url,
        url,
        &[("email", "home8@example.jp"), ("on_report", "yes")],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/admin/organizations/home-8/notifications?done=saved")
    );
    let s = settings(&app, &region, "home-8").await;
    assert_eq!(s["email"], "home8@example.jp");
    assert_eq!(s["on_report"], true);
    assert_eq!(saves(&app, &region, "allowed").await, 1);
}
