//! Issue 16, the council's pages in headless Chromium with axe-core on every page: on
//! the demo region the regional administrator opens `/council` (a screenshot of it is
//! saved under `target/ui-screenshots/`), narrows the filter (the values stay in the
//! URL), opens a report (its counts, the plans excluded for lack of statistics consent,
//! each chart an image with its table and CSV link), records a meeting (every error at
//! once, then the meeting with its frozen reports), a decision and its link to the
//! version that carried it out; a nurse reads the meeting without the frozen reports.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use renkei_testkit::{TestApp, rows, workspace_root};

use crate::browser::{
    Driver, Findings, audit_page, body, browser, browser_and_app, css, fill, path, submit,
};

const DEMO_PASSWORD: &str = "Renkei-demo-2026";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_council_pages_work_in_a_real_browser_without_axe_violations() {
    let Some((app, chromedriver, chromium)) = browser_and_app().await else {
        return;
    };
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    let driver = Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        Duration::from_secs(300),
        pages(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the council pages finish within 5 minutes");
}

/// Logs `user` of the demo region in (the first-login password change skipped).
async fn login(app: &TestApp, c: &Client, user: &str) {
    rows::edit_practitioner(
        &app.services.db,
        user,
        rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("skip the password change");
    c.goto(&format!("{}/login", app.base_url))
        .await
        .expect("login page");
    fill(c, "#login", user).await;
    fill(c, "#password", DEMO_PASSWORD).await;
    submit(c, "form.stack button[type=submit]").await;
    assert!(!path(c).await.starts_with("/login"), "{user} logged in");
}

async fn screenshot(c: &Client, name: &str) {
    let dir = workspace_root().join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

async fn select(c: &Client, sel: &str, value: &str) {
    css(c, sel)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {sel}: {e}"));
}

/// Sets a date input's value (typed keys follow the browser's locale).
async fn set_date(c: &Client, sel: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![serde_json::json!(sel), serde_json::json!(value)],
    )
    .await
    .expect("set date");
}

async fn count(c: &Client, sel: &str) -> usize {
    c.find_all(Locator::Css(sel)).await.expect(sel).len()
}

async fn pages(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();
    let c = browser(driver, chromium, &profiles.join("kanri"), true).await;
    login(app, &c, "kanri").await;

    // The dashboard, reached from the main navigation.
    c.goto(&format!("{base}/worklist")).await.expect("worklist");
    submit(&c, "nav.mainnav a[href='/council']").await;
    assert_eq!(path(&c).await, "/council");
    let text = body(&c).await;
    assert!(text.contains("地域連携パス協議会"), "{text}");
    assert!(text.contains("記録された会議はまだありません。"), "{text}");
    audit_page(&c, "council dashboard", &mut found).await;
    screenshot(&c, "council-dashboard").await;

    // The filter is a GET form: its values stay in the URL and in the report links.
    select(&c, "#r-pathway", "stroke").await;
    set_date(&c, "#r-from", "2020-01-01").await;
    submit(&c, "#apply-filter").await;
    let here = path(&c).await;
    assert!(
        here.starts_with("/council?")
            && here.contains("pathway=stroke")
            && here.contains("from=2020-01-01"),
        "{here}"
    );
    assert!(
        body(&c).await.contains("連携パス: 脳卒中"),
        "filter summary"
    );
    // The chosen pathway's versions and stages are offered now.
    assert!(count(&c, "#r-versions input[type=checkbox]").await >= 1);
    audit_page(&c, "council dashboard, filtered", &mut found).await;
    let flow = css(&c, "#report-flow")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("report link");
    assert!(flow.contains("pathway=stroke"), "{flow}");

    // A report: its counts, the plans left out for lack of consent, charts with tables.
    submit(&c, "#report-flow").await;
    let here = path(&c).await;
    assert!(here.starts_with("/council/reports/flow?"), "{here}");
    let text = body(&c).await;
    assert!(text.contains("集計した計画"), "{text}");
    assert!(text.contains("統計利用の同意がなく除外した計画"), "{text}");
    let sections = count(&c, "section.report-section").await;
    assert!(sections >= 1, "the flow report has sections: {text}");
    assert_eq!(
        count(&c, "section.report-section table.report-table").await,
        sections,
        "every section has its table"
    );
    assert_eq!(
        count(&c, "section.report-section a.csv-link").await,
        sections,
        "every section has its CSV link"
    );
    let charts = count(&c, "figure.chart svg[role=img][aria-label]").await;
    assert!(charts >= 1, "at least one chart drawn: {text}");
    audit_page(&c, "council report: flow", &mut found).await;
    screenshot(&c, "council-report-flow").await;
    // A bad filter value: the error on the page, the report not read.
    c.goto(&format!(
        "{base}/council/reports/flow?pathway=stroke&from=2026-13-01"
    ))
    .await
    .expect("bad filter");
    assert!(body(&c).await.contains("入力内容を確認してください"));
    audit_page(&c, "council report with a bad filter", &mut found).await;
    for kind in ["goals", "variances", "outcomes", "completeness"] {
        c.goto(&format!("{base}/council/reports/{kind}?pathway=stroke"))
            .await
            .expect("report");
        audit_page(&c, &format!("council report: {kind}"), &mut found).await;
    }

    // Recording a meeting: every error at once, then the meeting.
    c.goto(&format!("{base}/council?pathway=stroke"))
        .await
        .expect("dashboard");
    submit(&c, "#new-meeting").await;
    assert!(path(&c).await.starts_with("/council/meetings/new"));
    audit_page(&c, "council: record a meeting", &mut found).await;
    submit(&c, "#record-meeting").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(2件)"), "{text}");
    audit_page(&c, "council: record a meeting, with errors", &mut found).await;
    fill(&c, "#f-title", "第1回 脳卒中地域連携パス協議会").await;
    c.find(Locator::Css("#f-attending input[type=checkbox]"))
        .await
        .expect("an organisation")
        .click()
        .await
        .expect("tick");
    submit(&c, "#record-meeting").await;
    let here = path(&c).await;
    assert!(
        here.starts_with("/council/meetings/") && here.ends_with("?done=recorded"),
        "{here}"
    );
    let meeting = here.trim_end_matches("?done=recorded").to_owned();
    let text = body(&c).await;
    assert!(text.contains("連携パス: 脳卒中"), "{text}");
    assert!(
        count(&c, "#snapshot-flow section.report-section").await >= 1,
        "{text}"
    );
    audit_page(&c, "council: the meeting", &mut found).await;

    // A decision, then its link to the version that carried it out.
    select(&c, "#f-pathway", "stroke").await;
    fill(&c, "#f-text", "脳卒中 第2版を公開し、目標 g4 を120日とする").await;
    submit(&c, "#record-decision").await;
    assert!(body(&c).await.contains("決定事項を記録しました。"));
    assert!(body(&c).await.contains("未実施"));
    select(&c, "ol.decisions select", "2").await;
    submit(&c, "ol.decisions button.link-version").await;
    let text = body(&c).await;
    assert!(
        text.contains("決定事項を実施した版に結び付けました。"),
        "{text}"
    );
    assert!(text.contains("第2版"), "{text}");
    audit_page(
        &c,
        "council: the meeting with a linked decision",
        &mut found,
    )
    .await;
    c.goto(&format!("{base}/council")).await.expect("dashboard");
    assert_eq!(count(&c, "#meetings tbody tr").await, 1);
    audit_page(&c, "council dashboard with a meeting", &mut found).await;

    // A nurse reads the meeting but not the frozen reports, and may not record one.
    let n = browser(driver, chromium, &profiles.join("sato"), true).await;
    login(app, &n, "sato").await;
    n.goto(&format!("{base}{meeting}")).await.expect("meeting");
    let text = body(&n).await;
    assert!(text.contains("第1回 脳卒中地域連携パス協議会"), "{text}");
    assert!(
        text.contains("会議の時点の報告は、地域の管理者と協議会委員だけが見られます。"),
        "{text}"
    );
    assert_eq!(count(&n, "#f-text").await, 0);
    audit_page(&n, "council: the meeting as a nurse", &mut found).await;
    n.goto(&format!("{base}/council")).await.expect("dashboard");
    assert_eq!(count(&n, "#new-meeting").await, 0);
    audit_page(&n, "council dashboard as a nurse", &mut found).await;

    let _ = c.close().await;
    let _ = n.close().await;
    assert!(
        found.problems.is_empty(),
        "page checks: {:#?}",
        found.problems
    );
    assert!(found.axe.is_empty(), "axe-core: {:#?}", found.axe);
}
