//! Merging two records of one person (名寄せ) on the web, in headless Chromium with
//! axe-core on every page: the regional administrator goes from the patient page to
//! 「名寄せ」, chooses the other record by search, compares the two side by side (the
//! difference marked, each record's plans and numbers), confirms with a reason (the
//! different birth date ticked as checked; every problem at once, the reason kept),
//! then reverses the merge from the link page; and starts again from the admin home.
//! A user without the role is refused the pages.

use std::path::Path;
use std::time::Duration;

use renkei_testkit::TestApp;
use serde_json::json;

use crate::browser::{
    Driver, Findings, audit_page, body, browser, browser_and_app, fill, path, submit,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merge_pages_work_in_a_real_browser_without_axe_violations() {
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
    .expect("the merge pages finish within 5 minutes");
}

async fn value(c: &fantoccini::Client, sel: &str) -> String {
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
    let acute = app.token().await;
    // A regional administrator working at the acute hospital sees its patients' pages.
    super::admin_user(
        app,
        "acute-1",
        "acute_hospital",
        "acute-merger",
        &["regional_admin"],
    )
    .await;
    let keep =
        crate::support::create_patient(app, &acute, ("ナカムラ", "ケン"), "1949-02-03", "A-500")
            .await;
    let keep = keep["id"].as_str().expect("id").to_owned();
    let other = app
        .post_json(
            "/api/v1/patients",
            &acute,
            &json!({"name": {"family": "山田", "given": "太郎", "family_kana": "ナカムラ", "given_kana": "ケン"},
                    "birth_date": "1949-03-02", "sex": "male",
                    "identifiers": [{"organization": "acute-1", "value": "A-501"}]}),
            None,
        )
        .await;
    other.assert_status(201);
    let other = other.body["id"].as_str().expect("id").to_owned();
    app.post_json(
        "/api/v1/care-plans",
        &acute,
        &json!({"patient_id": other, "pathway": "stroke", "variant": "standard", "started_at": renkei_testkit::builders::days_ago(2)}),
        None,
    )
    .await
    .assert_status(201);

    let c = browser(driver, chromium, &profiles.join("merger"), true).await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(&c, "#login", "acute-merger").await;
    fill(&c, "#password", crate::web_client::PASSWORD).await;
    submit(&c, "form.stack button[type=submit]").await;
    assert!(!path(&c).await.starts_with("/login"), "logged in");

    // The patient page → 「名寄せ」.
    c.goto(&format!("{base}/patients/{keep}"))
        .await
        .expect("patient");
    audit_page(&c, "patient page with the merge link", &mut found).await;
    // Two records of one name: the banner warns of a namesake.
    assert!(body(&c).await.contains("同姓同名あり"));
    submit(&c, "#merge-link").await;
    assert_eq!(path(&c).await, format!("/patients/{keep}/merge"));
    audit_page(&c, "merge: the record kept", &mut found).await;

    // A malformed birth date: the error, what was typed kept.
    fill(&c, "#f-birth_date", "1949-13-02").await;
    submit(&c, "#find-records").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(1件)"), "{text}");
    assert_eq!(value(&c, "#f-birth_date").await, "1949-13-02");
    audit_page(&c, "merge: search with an error", &mut found).await;
    fill(&c, "#f-birth_date", "").await;
    fill(&c, "#f-kana", "なかむら").await;
    submit(&c, "#find-records").await;
    let text = body(&c).await;
    assert!(text.contains("A-501"), "{text}");
    audit_page(&c, "merge: search results", &mut found).await;
    submit(&c, "a.choose-other").await;
    assert_eq!(
        path(&c).await,
        format!("/patients/{keep}/merge/preview?other={other}")
    );
    // Side by side: the birth date marked, each record's numbers and plans.
    let text = body(&c).await;
    assert!(
        text.contains("1949-02-03") && text.contains("1949-03-02"),
        "{text}"
    );
    assert!(text.contains("相違: 1"), "{text}");
    assert!(
        text.contains("acute-1: A-500") && text.contains("acute-1: A-501"),
        "{text}"
    );
    assert!(text.contains("脳卒中"), "{text}");
    let marked = c
        .find_all(fantoccini::Locator::Css("#comparison tr.differs"))
        .await
        .expect("rows");
    assert_eq!(marked.len(), 1);
    audit_page(&c, "merge: preview", &mut found).await;

    // Neither a reason nor the difference checked: both errors at once.
    submit(&c, "#merge").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(2件)"), "{text}");
    audit_page(&c, "merge: preview with errors", &mut found).await;
    fill(&c, "#f-reason", "保険証で同一人物と確認、生年月日の誤登録").await;
    submit(&c, "#merge").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(1件)"), "{text}");
    assert_eq!(
        value(&c, "#f-reason").await,
        "保険証で同一人物と確認、生年月日の誤登録"
    );
    c.find(fantoccini::Locator::Css("input[name=confirm_differences]"))
        .await
        .expect("checkbox")
        .click()
        .await
        .expect("tick");
    submit(&c, "#merge").await;
    let here = path(&c).await;
    assert!(
        here.starts_with("/admin/patient-links/") && here.ends_with("?done=merged"),
        "{here}"
    );
    assert!(body(&c).await.contains("2つの記録を名寄せしました。"));
    audit_page(&c, "merge: the link", &mut found).await;
    // The merged record now reads as the one kept: its page lists the merged record's
    // plan, and the merged record is no namesake any more.
    let read = app.get(&format!("/api/v1/patients/{other}"), &acute).await;
    assert_eq!(read.body["id"], keep.as_str());
    let link_url = here.trim_end_matches("?done=merged").to_owned();
    c.goto(&format!("{base}/patients/{other}"))
        .await
        .expect("patient");
    let text = body(&c).await;
    assert!(text.contains("脳卒中地域連携パス"), "{text}");
    assert!(
        text.contains("acute-1: A-500") && text.contains("acute-1: A-501"),
        "{text}"
    );
    assert!(!text.contains("同姓同名あり"), "{text}");
    audit_page(&c, "patient page after the merge", &mut found).await;
    c.goto(&format!("{base}{link_url}")).await.expect("link");

    // Reversal: a reason is required.
    submit(&c, "#unmerge").await;
    assert!(body(&c).await.contains("入力内容を確認してください(1件)"));
    audit_page(&c, "merge: reversal with an error", &mut found).await;
    fill(&c, "#f-reason", "別人と判明").await;
    submit(&c, "#unmerge").await;
    let text = body(&c).await;
    assert!(
        text.contains("名寄せを取り消しました。") && text.contains("別人と判明"),
        "{text}"
    );
    audit_page(&c, "merge: the reversed link", &mut found).await;
    let read = app.get(&format!("/api/v1/patients/{other}"), &acute).await;
    assert_eq!(read.body["id"], other.as_str());

    // From the admin home, in English too.
    c.goto(&format!("{base}/admin")).await.expect("admin");
    submit(&c, "a[href='/admin/patients/merge']").await;
    audit_page(&c, "merge: start", &mut found).await;
    fill(&c, "#f-kana", "ナカムラ").await;
    submit(&c, "#find-records").await;
    let choices = c
        .find_all(fantoccini::Locator::Css("a.choose-survivor"))
        .await
        .expect("choices");
    assert_eq!(choices.len(), 2);
    audit_page(&c, "merge: start with results", &mut found).await;
    c.goto(&format!("{base}/lang?set=en&back=/admin"))
        .await
        .expect("english");
    c.goto(&format!(
        "{base}/patients/{keep}/merge/preview?other={other}"
    ))
    .await
    .expect("preview");
    audit_page(&c, "merge: preview in English", &mut found).await;
    c.close().await.expect("close");

    // A nurse without the role: refused.
    let nurse = browser(driver, chromium, &profiles.join("nurse"), true).await;
    super::admin_user(app, "acute-1", "acute_hospital", "acute-plain", &[]).await;
    nurse
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    fill(&nurse, "#login", "acute-plain").await;
    fill(&nurse, "#password", crate::web_client::PASSWORD).await;
    submit(&nurse, "form.stack button[type=submit]").await;
    nurse
        .goto(&format!("{base}/patients/{keep}/merge"))
        .await
        .expect("merge page");
    assert!(
        body(&nurse)
            .await
            .contains("この操作を行う権限がありません")
    );
    nurse
        .goto(&format!("{base}/patients/{keep}"))
        .await
        .expect("patient");
    assert!(!body(&nurse).await.contains("名寄せ"));
    nurse.close().await.expect("close");

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
