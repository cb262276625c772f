//! Issue 17 points 5 and 6 in a real browser. The care manager's office on the team
//! records an A表 (over the API); the acute nurse follows 「連携シート」 from the plan
//! page and prints the sheet: the A4 form with every option's box, the ticked ones
//! chosen, no raw codes, the patient's name and 「n / N」 on every page. The demo's
//! diabetes patient's 糖尿病連携手帳 opens from the plan page and prints. Every page
//! passes the page checks and axe-core.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_a_sheet_prints_as_its_a4_form_from_the_plan_page() {
    let Some((app, chromedriver, chromium)) = browser_and_app().await else {
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        Duration::from_secs(240),
        sheet(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the sheet checks finish within 4 minutes");
}

async fn sheet(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();
    let nurse = format!("e-sheet-{}", &Uuid::new_v4().simple().to_string()[..8]);
    crate::web_client::web_user(app, "acute-1", "acute_hospital", &nurse).await;
    let token = app.token().await;
    let plan = crate::support::stroke_plan(app, &token, 3).await;
    crate::support::consent(app, &token, &plan).await;
    let cm = crate::api::care_sheets::care_manager(app, "kyotaku-b", "cm-browser").await;
    crate::api::care_sheets::add_office(app, &token, &plan, "kyotaku-b").await;
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/sheets"),
        &cm,
        &json!({"form": "chiba_a", "values": {
            "admitted_on": "2026-11-02",
            "disab_elderly": "a2",
            "dementia_elderly": "iia",
            "adl_mobility": "partial",
            "mobility_indoor": ["wheelchair"],
            "patient_wish": "自宅で妻と暮らしたい",
            "accompany_home_visit": true,
        }}),
        None,
    )
    .await
    .assert_status(201);

    let c = browser(driver, chromium, &profiles.join("sheet"), true).await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(&c, "#login", &nurse).await;
    fill(&c, "#password", crate::web_client::PASSWORD).await;
    submit(&c, "form.stack button[type=submit]").await;
    assert!(!path(&c).await.starts_with("/login"), "logged in");
    c.goto(&format!("{base}/care-plans/{plan}"))
        .await
        .expect("plan page");
    click_link(&c, "連携シート").await;
    assert_eq!(path(&c).await, format!("/care-plans/{plan}/sheets"));
    audit_page(&c, "hand-off sheets", &mut found).await;
    let list = text(&c, "main").await;
    assert!(list.contains("cm-browser"), "the author is listed: {list}");
    click_link(&c, "千葉県地域生活連携シート A表(入院時等)を印刷").await;
    assert!(path(&c).await.ends_with("/print"), "{}", path(&c).await);
    audit_page(&c, "A表 print", &mut found).await;
    screenshot(&c, "sheet-chiba-a").await;
    let page = text(&c, "main").await;
    for want in [
        "千葉県地域生活連携シート A表(入院時等)",
        "日常生活自立度",
        "障害高齢者の日常生活自立度(寝たきり度)",
        "☑A2",
        "☐B1",
        "☑Ⅱa",
        "☑一部介助",
        "☑車いす",
        "2026年11月2日(月)",
        "自宅で妻と暮らしたい",
        "☑はい",
        "身体・生活機能の状況/療養生活上の課題",
        "ヤマダ タロウ",
    ] {
        assert!(page.contains(want), "the sheet lacks {want:?}:\n{page}");
    }
    for code in ["a2", "iia", "partial", "wheelchair", "chiba_a"] {
        assert!(
            !page.split_whitespace().any(|w| w == code),
            "the sheet shows the raw code {code:?}"
        );
    }
    let pages = print_pdf(&c, "sheet-chiba-a").await;
    check_printed(&pages, "A表", "山田 太郎", 4);
    let printed: String = pages.iter().map(|p| squeeze(&p.text)).collect();
    assert!(
        printed.contains(&squeeze("千葉県地域生活連携シートA表")),
        "the printed sheet names its form"
    );
    c.close().await.expect("close");
    assert!(
        found.problems.is_empty(),
        "page checks:\n{}",
        found.problems.join("\n")
    );
    assert!(
        found.axe.is_empty(),
        "axe-core (WCAG 2.0 A/AA) violations:\n{}",
        found.axe.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diabetes_handbook_opens_from_the_plan_page_and_prints() {
    let Some((app, chromedriver, chromium)) = browser_and_app().await else {
        return;
    };
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    let driver = Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        Duration::from_secs(240),
        handbook(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the handbook checks finish within 4 minutes");
}

async fn handbook(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();
    let plan = crate::web::handbook::demo_diabetes_plan(app).await;
    let c = browser(driver, chromium, &profiles.join("handbook"), true).await;
    login(app, &c, &base, "sato").await;
    c.goto(&format!("{base}/care-plans/{plan}"))
        .await
        .expect("plan page");
    click_link(&c, "糖尿病連携手帳").await;
    assert_eq!(path(&c).await, format!("/care-plans/{plan}/handbook"));
    audit_page(&c, "diabetes handbook", &mut found).await;
    screenshot(&c, "handbook-diabetes").await;
    let page = text(&c, "main").await;
    for want in [
        "糖尿病連携手帳",
        "治療の目標と今の状況",
        "検査結果 1〜4回目",
        "糖尿病眼手帳(眼科)",
        "網膜症なし(NDR)",
        "次回の予定",
    ] {
        assert!(page.contains(want), "the handbook lacks {want:?}:\n{page}");
    }
    // The handbook asks for A5 pages (`@page handbook`); WebDriver prints on the paper it
    // is given (A4) unless the browser honours the page size: either is a handbook page.
    let pages = print_pdf(&c, "handbook-diabetes").await;
    let n = pages.len();
    assert!((1..=10).contains(&n), "handbook: {n} pages");
    for (i, p) in pages.iter().enumerate() {
        let a4 = (p.width - 595.28).abs() <= 1.0 && (p.height - 841.89).abs() <= 1.0;
        let a5 = (p.width - 419.53).abs() <= 1.0 && (p.height - 595.28).abs() <= 1.0;
        assert!(
            a4 || a5,
            "handbook page {} is {}×{} pt",
            i + 1,
            p.width,
            p.height
        );
        let text = squeeze(&p.text);
        assert!(
            text.contains(&squeeze("伊藤 誠")),
            "page {} lacks the name",
            i + 1
        );
        assert!(
            text.contains(&format!("{}/{n}", i + 1)),
            "page {} lacks 「{} / {n}」",
            i + 1,
            i + 1
        );
        assert!(
            !text.contains("連携パスに戻る"),
            "page {} shows the navigation",
            i + 1
        );
    }
    c.close().await.expect("close");
    assert!(
        found.problems.is_empty(),
        "page checks:\n{}",
        found.problems.join("\n")
    );
    assert!(
        found.axe.is_empty(),
        "axe-core (WCAG 2.0 A/AA) violations:\n{}",
        found.axe.join("\n")
    );
}
