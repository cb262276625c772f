//! The plan action, declaration and notification pages in headless Chromium: a physician
//! sets an individual target (a form with problems comes back with every error and what
//! was typed), the planner withdraws one plan, migrates another after the preview and
//! completes a third, an outside physician opens a plan through break-glass, and an
//! organisation administrator declares stages and sets its e-mail notifications; the
//! page checks and axe-core on every page, in Japanese and in English.

use std::path::Path;
use std::time::Duration;

use fantoccini::Client;
use renkei_testkit::TestApp;
use renkei_testkit::builders::{days_ago, entry};
use serde_json::json;

use super::plan_actions::web_practitioner;
use crate::browser::{
    Driver, Findings, audit_page, body, browser, browser_and_app, click, fill, path, submit,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_action_declaration_and_notification_pages_work_in_a_real_browser_without_axe_violations()
 {
    let Some((app, chromedriver, chromium)) = browser_and_app().await else {
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        Duration::from_secs(300),
        pages(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the pages finish within 5 minutes");
}

async fn value(c: &Client, sel: &str) -> String {
    c.find(fantoccini::Locator::Css(sel))
        .await
        .expect(sel)
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

async fn log_in(c: &Client, base: &str, login: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(c, "#login", login).await;
    fill(c, "#password", crate::web_client::PASSWORD).await;
    submit(c, "form.stack button[type=submit]").await;
    assert!(!path(c).await.starts_with("/login"), "logged in");
}

async fn pages(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();
    let token = app.token().await;
    let plan = crate::support::stroke_plan(app, &token, 5).await;
    let ended = crate::support::stroke_plan(app, &token, 5).await;
    let p =
        crate::support::create_patient(app, &token, ("ナカノ", "イサオ"), "1949-09-09", "br-mig")
            .await;
    let r = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "version": 1,
                    "started_at": days_ago(5)}),
            None,
        )
        .await;
    r.assert_status(201);
    let old = r.body["id"].as_str().expect("id").to_owned();
    crate::support::append(
        app,
        &token,
        &old,
        entry(
            "acute",
            "stage_start",
            &days_ago(5),
            json!({"nihss_total": 8}),
        ),
    )
    .await;

    // A physician of the planner: an individual target, a withdrawal, a migration, a
    // completion.
    web_practitioner(app, "acute-1", "acute_hospital", "br-doc", "physician").await;
    let c = browser(driver, chromium, &profiles.join("doc"), true).await;
    log_in(&c, &base, "br-doc").await;
    c.goto(&format!("{base}/care-plans/{plan}"))
        .await
        .expect("plan");
    audit_page(&c, "plan with its action links", &mut found).await;
    submit(&c, "#individualize-link").await;
    assert_eq!(path(&c).await, format!("/care-plans/{plan}/individualize"));
    audit_page(&c, "individual targets", &mut found).await;
    submit(&c, "#choose-g5_bp_sys").await;
    audit_page(&c, "individual target form", &mut found).await;
    fill(&c, "#f-value", "百四十").await;
    submit(&c, "#individualize").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(2件)"), "{text}");
    assert_eq!(value(&c, "#f-value").await, "百四十");
    audit_page(&c, "individual target with errors", &mut found).await;
    fill(&c, "#f-value", "140").await;
    fill(&c, "#f-reason", "両側頸動脈狭窄のため140 mmHg未満").await;
    submit(&c, "#individualize").await;
    assert!(body(&c).await.contains("目標を個別に設定しました。"));
    audit_page(&c, "plan after the individual target", &mut found).await;

    c.goto(&format!("{base}/care-plans/{plan}"))
        .await
        .expect("plan");
    submit(&c, "#withdraw-link").await;
    audit_page(&c, "withdrawal", &mut found).await;
    submit(&c, "#withdraw").await;
    assert!(body(&c).await.contains("入力内容を確認してください(2件)"));
    audit_page(&c, "withdrawal with errors", &mut found).await;
    fill(&c, "#f-reason", "本人の希望").await;
    click(&c, "#f-confirm").await;
    submit(&c, "#withdraw").await;
    assert!(body(&c).await.contains("連携パスを中止しました。"));

    c.goto(&format!("{base}/care-plans/{old}"))
        .await
        .expect("v1 plan");
    submit(&c, "#migrate-link").await;
    audit_page(&c, "migration: choose the version", &mut found).await;
    submit(&c, "#preview").await;
    assert!(body(&c).await.contains("家庭拡張期血圧75 mmHg未満"));
    audit_page(&c, "migration preview", &mut found).await;
    submit(&c, "#migrate").await;
    assert!(body(&c).await.contains("確認欄にチェックしてください。"));
    audit_page(&c, "migration with errors", &mut found).await;
    fill(&c, "#f-reason", "地域の改訂版に合わせるため").await;
    click(&c, "#f-confirm").await;
    submit(&c, "#migrate").await;
    assert!(
        body(&c)
            .await
            .contains("連携パスを新しい版へ移行しました。")
    );

    c.goto(&format!("{base}/care-plans/{ended}/complete"))
        .await
        .expect("complete");
    audit_page(&c, "completion", &mut found).await;
    click(&c, "#f-confirm").await;
    submit(&c, "#complete").await;
    assert_eq!(
        path(&c).await,
        format!("/care-plans/{ended}?done=completed")
    );
    c.close().await.expect("close");

    // An outside physician: break-glass with a reason, then the plan read-only.
    web_practitioner(app, "clinic-1", "clinic", "br-er", "physician").await;
    let e = browser(driver, chromium, &profiles.join("er"), true).await;
    log_in(&e, &base, "br-er").await;
    e.goto(&format!("{base}/care-plans/{old}/break-glass"))
        .await
        .expect("break-glass");
    audit_page(&e, "break-glass", &mut found).await;
    fill(&e, "#f-reason", "急").await;
    submit(&e, "#break-glass").await;
    assert!(body(&e).await.contains("入力内容を確認してください(2件)"));
    assert_eq!(value(&e, "#f-reason").await, "急");
    audit_page(&e, "break-glass with errors", &mut found).await;
    fill(&e, "#f-reason", "救急搬送、服薬と既往歴の確認のため").await;
    click(&e, "#f-confirm").await;
    submit(&e, "#break-glass").await;
    assert!(
        body(&e)
            .await
            .contains("緊急アクセス(ブレークグラス)で閲覧中")
    );
    audit_page(&e, "plan through break-glass", &mut found).await;
    e.close().await.expect("close");

    // An organisation administrator: declarations and e-mail notifications.
    super::admin_user(
        app,
        "recovery-9",
        "recovery_hospital",
        "br-admin",
        &["org_admin"],
    )
    .await;
    let a = browser(driver, chromium, &profiles.join("admin"), true).await;
    log_in(&a, &base, "br-admin").await;
    a.goto(&format!("{base}/admin")).await.expect("admin");
    submit(&a, "#declarations-link").await;
    audit_page(&a, "declarations", &mut found).await;
    submit(&a, "#declare-stroke").await;
    assert!(body(&a).await.contains("入力内容を確認してください(1件)"));
    audit_page(&a, "declarations with an error", &mut found).await;
    click(&a, "#f-stroke-recovery").await;
    submit(&a, "#declare-stroke").await;
    assert!(body(&a).await.contains("届出を保存しました。"));
    audit_page(&a, "declarations with history", &mut found).await;
    a.goto(&format!("{base}/admin")).await.expect("admin");
    submit(&a, "#notifications-link").await;
    assert_eq!(
        path(&a).await,
        "/admin/organizations/recovery-9/notifications"
    );
    audit_page(&a, "notifications", &mut found).await;
    fill(&a, "#f-email", "renraku at example").await;
    click(&a, "#f-on_handover").await;
    submit(&a, "#save-notifications").await;
    assert!(body(&a).await.contains("入力内容を確認してください(1件)"));
    assert_eq!(value(&a, "#f-email").await, "renraku at example");
    audit_page(&a, "notifications with an error", &mut found).await;
    fill(&a, "#f-email", "renraku@recovery9.example.jp").await;
    submit(&a, "#save-notifications").await;
    assert!(body(&a).await.contains("通知の設定を保存しました。"));

    // The same pages in English.
    a.goto(&format!("{base}/lang?set=en&back=/admin/declarations"))
        .await
        .expect("english");
    assert!(body(&a).await.contains("Declaration history"));
    audit_page(&a, "declarations (English)", &mut found).await;
    a.goto(&format!(
        "{base}/admin/organizations/recovery-9/notifications"
    ))
    .await
    .expect("notifications");
    assert!(body(&a).await.contains("E-mail address"));
    audit_page(&a, "notifications (English)", &mut found).await;
    a.close().await.expect("close");

    assert!(
        found.problems.is_empty(),
        "page checks:\n{}",
        found.problems.join("\n")
    );
    assert!(
        found.axe.is_empty(),
        "axe-core violations:\n{}",
        found.axe.join("\n")
    );
}
