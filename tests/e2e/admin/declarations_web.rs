//! Issue 18 point 10: declaring (手挙げ) the pathways and stages an organisation takes on
//! the web page `/admin/declarations`, over HTTP: the organisation's administrator
//! declares for its own organisation, the regional administrator for any; a declaration
//! without a stage is refused with nothing changed, another organisation's
//! administrator is refused; each declaration leaves exactly one audit event.

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

async fn declarations(app: &TestApp, token: &str, org: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/organizations/{org}/declarations"), token)
        .await;
    r.assert_status(200);
    r.body["declarations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn declare_events(app: &TestApp, region: &str, outcome: &str) -> Vec<String> {
    audit_actions(app, region, outcome)
        .await
        .into_iter()
        .filter(|(a, _)| a == "organization.declare")
        .map(|(_, d)| d)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_administrator_declares_the_stages_it_takes_on_the_web() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = admin_user(
        &app,
        "recovery-7",
        "recovery_hospital",
        "recovery7-admin",
        &["org_admin"],
    )
    .await;
    let b = signed_in(&app, "recovery7-admin").await;
    let home = b.get("/admin").await;
    assert!(home.text.contains("href=\"/admin/declarations\""));
    let page = b.get("/admin/declarations").await;
    page.assert_status(200);
    assert!(page.text.contains("id=\"declare-stroke\""), "{}", page.text);

    // No stage checked: refused, the note kept, nothing declared.
    let bad = post_form(
        &b,
        "/admin/declarations",
        "/admin/declarations",
        &[
            ("org", "recovery-7"),
            ("pathway", "stroke"),
            ("note", "回復期リハ病棟 40床"),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(1件)"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("#f-stages-stroke"));
    assert!(bad.text.contains(">回復期リハ病棟 40床</textarea>"));
    assert!(declarations(&app, &token, "recovery-7").await.is_empty());
    assert!(declare_events(&app, &region, "allowed").await.is_empty());

    let done = post_form(
        &b,
        "/admin/declarations",
        "/admin/declarations",
        &[
            ("org", "recovery-7"),
            ("pathway", "stroke"),
            ("stages", "recovery"),
            ("note", "回復期リハ病棟 40床"),
        ],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/admin/declarations?org=recovery-7&done=declared")
    );
    let list = declarations(&app, &token, "recovery-7").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["pathway"], "stroke");
    assert_eq!(list[0]["stages"], serde_json::json!(["recovery"]));
    assert_eq!(list[0]["note"], "回復期リハ病棟 40床");
    let page = b
        .get("/admin/declarations?org=recovery-7&done=declared")
        .await;
    assert!(page.text.contains("届出を保存しました。"));
    assert!(page.text.contains("id=\"declaration-history\""));
    assert_eq!(declare_events(&app, &region, "allowed").await, ["stroke"]);

    // The directory (手挙げ) finds it.
    let dir = app
        .get_query(
            "/api/v1/directory",
            &token,
            &[("pathway", "stroke"), ("stage", "recovery")],
        )
        .await;
    dir.assert_status(200);
    assert!(dir.body.to_string().contains("recovery-7"), "{}", dir.body);

    // Another organisation's administrator: refused, nothing changed, the refusal audited.
    admin_user(&app, "clinic-7", "clinic", "clinic7-admin", &["org_admin"]).await;
    let other = signed_in(&app, "clinic7-admin").await;
    other
        .get("/admin/declarations?org=recovery-7")
        .await
        .assert_status(403);
    let own = other.get("/admin/declarations").await;
    own.assert_status(200);
    let refused = other
        .post(
            "/admin/declarations",
            &[
                ("csrf", own.csrf().as_str()),
                ("org", "recovery-7"),
                ("pathway", "stroke"),
                ("stages", "acute"),
            ],
        )
        .await;
    refused.assert_status(403);
    assert_eq!(declarations(&app, &token, "recovery-7").await.len(), 1);
    assert_eq!(declare_events(&app, &region, "denied").await.len(), 1);
    assert_eq!(declare_events(&app, &region, "allowed").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_regional_administrator_declares_for_any_organisation_on_the_web() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    app.ensure_org("home-7", "home_nursing").await;
    let b = signed_in(&app, "region-admin").await;
    let page = b.get("/admin/declarations?org=home-7").await;
    page.assert_status(200);
    assert!(
        page.text.contains("id=\"switch-org\""),
        "the facility choice"
    );
    let done = post_form(
        &b,
        "/admin/declarations?org=home-7",
        "/admin/declarations",
        &[("org", "home-7"), ("pathway", "stroke"), ("stages", "home")],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/admin/declarations?org=home-7&done=declared")
    );
    let list = declarations(&app, &region, "home-7").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["stages"], serde_json::json!(["home"]));
    assert_eq!(declare_events(&app, &region, "allowed").await.len(), 1);
}
