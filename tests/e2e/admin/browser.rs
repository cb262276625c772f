//! The administration pages in headless Chromium: the regional administrator adds an
//! organisation and a user through the forms (a form with problems comes back with
//! every error and what was typed), edits and deactivates; the page checks and axe-core
//! on every new page, in Japanese and in English.

use std::path::Path;
use std::time::Duration;

use fantoccini::Client;
use renkei_testkit::TestApp;

use crate::browser::{
    Driver, Findings, audit_page, body, browser, browser_and_app, click, fill, path, submit,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administration_pages_work_in_a_real_browser_without_axe_violations() {
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
    .expect("the administration pages finish within 5 minutes");
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

async fn pages(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();
    super::regional(app).await;
    let c = browser(driver, chromium, &profiles.join("admin"), true).await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(&c, "#login", "region-admin").await;
    fill(&c, "#password", crate::web_client::PASSWORD).await;
    submit(&c, "form.stack button[type=submit]").await;
    assert!(!path(&c).await.starts_with("/login"), "logged in");

    c.goto(&format!("{base}/admin")).await.expect("admin");
    audit_page(&c, "admin home", &mut found).await;
    click(&c, "a[href='/admin/organizations']").await;
    assert_eq!(path(&c).await, "/admin/organizations");
    audit_page(&c, "organisations", &mut found).await;

    // A new organisation with three problems: all of them, typed values kept.
    fill(&c, "#f-code", "Bad Code").await;
    fill(&c, "#f-area", "印旛").await;
    submit(&c, "#create-org").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(3件)"), "{text}");
    assert_eq!(value(&c, "#f-code").await, "Bad Code");
    assert_eq!(value(&c, "#f-area").await, "印旛");
    audit_page(&c, "organisations with errors", &mut found).await;
    fill(&c, "#f-code", "acute-7").await;
    fill(&c, "#f-name", "印旛総合病院").await;
    c.find(fantoccini::Locator::Css("#f-kind"))
        .await
        .expect("kind")
        .select_by_value("acute_hospital")
        .await
        .expect("select kind");
    submit(&c, "#create-org").await;
    assert_eq!(path(&c).await, "/admin/organizations/acute-7?done=created");
    audit_page(&c, "organisation", &mut found).await;

    fill(&c, "#f-phone", "043-000-0000").await;
    fill(&c, "#f-fax", "FAX?").await;
    fill(&c, "#f-address", "千葉県佐倉市1-1").await;
    submit(&c, "#save-org").await;
    assert!(body(&c).await.contains("入力内容を確認してください(1件)"));
    assert_eq!(value(&c, "#f-address").await, "千葉県佐倉市1-1");
    audit_page(&c, "organisation with an error", &mut found).await;
    fill(&c, "#f-fax", "043-000-0001").await;
    submit(&c, "#save-org").await;
    assert_eq!(path(&c).await, "/admin/organizations/acute-7?done=saved");
    click(&c, "#f-required").await;
    submit(&c, "#save-two-factor").await;
    assert_eq!(
        path(&c).await,
        "/admin/organizations/acute-7?done=two_factor"
    );

    // A user of it.
    c.goto(&format!("{base}/admin/users")).await.expect("users");
    audit_page(&c, "users", &mut found).await;
    click(&c, "a[href='/admin/users/new']").await;
    audit_page(&c, "new user", &mut found).await;
    c.find(fantoccini::Locator::Css("#f-organization"))
        .await
        .expect("org")
        .select_by_value("acute-7")
        .await
        .expect("select org");
    fill(&c, "#f-login", "inba-ns").await;
    fill(&c, "#f-name", "印旛 看護").await;
    submit(&c, "#save-user").await;
    assert!(body(&c).await.contains("入力内容を確認してください(1件)"));
    assert_eq!(value(&c, "#f-login").await, "inba-ns");
    audit_page(&c, "new user with an error", &mut found).await;
    c.find(fantoccini::Locator::Css("#f-profession"))
        .await
        .expect("profession")
        .select_by_value("nurse")
        .await
        .expect("select profession");
    submit(&c, "#save-user").await;
    assert!(body(&c).await.contains("仮パスワード"));
    audit_page(&c, "temporary password", &mut found).await;
    c.goto(&format!("{base}/admin/users/inba-ns"))
        .await
        .expect("user");
    audit_page(&c, "user", &mut found).await;
    submit(&c, "#disable").await;
    assert!(
        body(&c)
            .await
            .contains("利用停止の確認欄にチェックしてください。")
    );
    audit_page(&c, "user without confirmation", &mut found).await;
    click(&c, "#f-confirm").await;
    submit(&c, "#disable").await;
    assert_eq!(path(&c).await, "/admin/users/inba-ns?done=disabled");

    // Deactivate the organisation, then the same pages in English.
    c.goto(&format!("{base}/admin/organizations/acute-7"))
        .await
        .expect("organisation");
    click(&c, "#f-confirm").await;
    submit(&c, "#deactivate").await;
    assert_eq!(
        path(&c).await,
        "/admin/organizations/acute-7?done=deactivated"
    );
    c.goto(&format!(
        "{base}/lang?set=en&back=/admin/organizations/acute-7"
    ))
    .await
    .expect("english");
    assert!(body(&c).await.contains("Facility details"));
    audit_page(&c, "organisation (English)", &mut found).await;
    c.goto(&format!("{base}/admin/users/inba-ns"))
        .await
        .expect("user");
    assert!(body(&c).await.contains("Account actions"));
    audit_page(&c, "user (English)", &mut found).await;
    c.goto(&format!("{base}/admin/organizations"))
        .await
        .expect("organisations");
    audit_page(&c, "organisations (English)", &mut found).await;

    c.close().await.expect("close");

    // A patient's demographics corrected by a nurse of the treating hospital.
    crate::web_client::web_user(app, "acute-1", "acute_hospital", "acute-corrector").await;
    let token = app.token().await;
    let p =
        crate::support::create_patient(app, &token, ("コンドウ", "ハナ"), "1945-07-08", "A-400")
            .await;
    let id = p["id"].as_str().expect("id").to_owned();
    let n = browser(driver, chromium, &profiles.join("nurse"), true).await;
    n.goto(&format!("{base}/login")).await.expect("login page");
    fill(&n, "#login", "acute-corrector").await;
    fill(&n, "#password", crate::web_client::PASSWORD).await;
    submit(&n, "form.stack button[type=submit]").await;
    n.goto(&format!("{base}/patients/{id}/demographics"))
        .await
        .expect("demographics");
    audit_page(&n, "patient demographics", &mut found).await;
    fill(&n, "#f-family", "近藤").await;
    submit(&n, "#correct").await;
    assert!(body(&n).await.contains("入力内容を確認してください(1件)"));
    assert_eq!(value(&n, "#f-family").await, "近藤");
    audit_page(&n, "patient demographics with an error", &mut found).await;
    fill(&n, "#f-reason", "誤記の訂正").await;
    submit(&n, "#correct").await;
    assert!(body(&n).await.contains("誤記の訂正"));
    audit_page(&n, "patient demographics with history", &mut found).await;

    // The hospital's own second number, from the form on the patient page.
    n.goto(&format!("{base}/patients/{id}"))
        .await
        .expect("patient");
    audit_page(&n, "patient with the identifier form", &mut found).await;
    submit(&n, "#add-identifier").await;
    assert!(body(&n).await.contains("入力内容を確認してください(1件)"));
    audit_page(&n, "own identifier with an error", &mut found).await;
    fill(&n, "#f-value", "A-401").await;
    submit(&n, "#add-identifier").await;
    assert_eq!(path(&n).await, format!("/patients/{id}?identifier=added"));
    assert!(body(&n).await.contains("自施設の患者番号を追加しました。"));
    n.close().await.expect("close");

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
