//! The plan page's goal statuses and automatic variances, over HTTP with a logged-in
//! cookie client: 対象外 and 下限未満 with the bound, an automatic variance's cause
//! 「未分類」 until a clinician of the stage's organisation classifies it with the form on
//! the variance list (or dismisses it); others get no form and a refusal.

use renkei_service::admin;
use reqwest::StatusCode;

use crate::api::variances::{automatic_for, elderly_diabetes_plan, femur_plan, sweep};
use crate::support::{app_or_skip, consent};
use crate::web_client::{Browser, PASSWORD, web_user};

async fn token_of(app: &renkei_testkit::TestApp, login: &str) -> String {
    admin::issue_token(&app.services, login, "web", None)
        .await
        .expect("token")
}

/// The variance section of a plan page.
fn variance_section(text: &str) -> &str {
    let start = text.find("id=\"variances\"").expect("variance section");
    let end = text[start..].find("</section>").expect("end of section") + start;
    &text[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_page_shows_not_applicable_and_below_range_goals_in_japanese() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "dm-nurse").await;
    let token = token_of(&app, "dm-nurse").await;
    let plan = elderly_diabetes_plan(&app, &token).await;
    // An office systolic pressure above its target (< 130 mmHg): above range.
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/entries"),
            &token,
            &serde_json::json!({"stage": "intro", "kind": "assessment",
                   "effective_at": chrono::Utc::now().to_rfc3339(),
                   "values": {"bp_sys": 152, "bp_dia": 70}}),
            None,
        )
        .await;
    res.assert_status(201);
    let browser = Browser::new(&app);
    browser.login("dm-nurse", PASSWORD).await;
    let page = browser.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    let goal_row = |code: &str| -> String {
        let marker = format!("<tr id=\"goal-{code}\">");
        let at = page
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("goal {code} on the page: {}", page.text));
        let end = page.text[at..].find("</tr>").expect("end of row") + at;
        page.text[at..end].to_owned()
    };
    // 75 and over, category I, with risk drugs: 7.0 % ≤ HbA1c < 8.0 %; 6.6 % is below.
    let band = goal_row("m1_hba1c_elderly_drugs_1_75");
    assert!(band.contains("下限未満(下限 7"), "{band}");
    let young = goal_row("m1_hba1c_elderly_drugs_1_65_74");
    assert!(young.contains("対象外"), "{young}");
    assert!(!young.contains("期限超過"), "{young}");
    assert!(!page.text.contains("not_applicable"), "no raw status codes");
    assert!(!page.text.contains("below_range"), "no raw status codes");
    let bp = goal_row("m2_bp_sys");
    assert!(bp.contains("上限超過(上限 130"), "{bp}");
    assert!(
        bp.contains("152") && !bp.contains("152.0"),
        "the value as clinicians read it: {bp}"
    );
    assert!(!page.text.contains("above_range"), "no raw status codes");

    // The staff print says the same.
    let print = browser
        .get(&format!("/care-plans/{plan}/print?version=staff"))
        .await;
    print.assert_status(200);
    assert!(print.text.contains("下限未満(下限 7"), "{}", print.text);
    assert!(print.text.contains("対象外"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_owner_classifies_an_automatic_variance_from_the_plan_page() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "fx-nurse").await;
    let token = token_of(&app, "fx-nurse").await;
    let plan = femur_plan(&app, &token, 1, 60).await;
    consent(&app, &token, &plan).await;
    assert_eq!(sweep(&app).await, 1);
    let auto = automatic_for(&app, &token, &plan, "h1_early_surgery").await;
    let entry = auto["id"].as_str().expect("id");

    let browser = Browser::new(&app);
    browser.login("fx-nurse", PASSWORD).await;
    let page = browser.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    let list = variance_section(&page.text);
    assert!(
        list.contains("自動検出: 達成目標「来院から48時間以内の手術(地域設定値)」"),
        "{list}"
    );
    assert!(list.contains("未分類"), "{list}");
    assert!(list.contains("負・変動"), "{list}");
    let action = format!("/care-plans/{plan}/variances/{entry}/review");
    assert!(list.contains(&action), "{list}");
    let csrf = page.csrf();

    // No reason: nothing is written, the page says why.
    let res = browser
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("decision", "classify"),
                ("code", "NEG.VAR.SY.SCHED"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let back = res.location().expect("location").to_owned();
    assert!(back.contains("variance=reason_missing"), "{back}");
    let page = browser.get(&back).await;
    assert!(page.text.contains("理由を入力してください"));
    assert!(
        variance_section(&page.text).contains(&action),
        "still offered"
    );

    let res = browser
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("decision", "classify"),
                ("code", "NEG.VAR.SY.SCHED"),
                ("reason", "手術枠の空きがなかった"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let back = res.location().expect("location").to_owned();
    assert!(back.contains("variance=classified"), "{back}");
    let page = browser.get(&back).await;
    assert!(page.text.contains("バリアンスの要因を分類しました。"));
    let list = variance_section(&page.text);
    assert!(list.contains("分類済み"), "{list}");
    assert!(list.contains("施設・システム要因"), "{list}");
    assert!(list.contains("手術枠の空きがなかった"), "{list}");
    assert!(!list.contains("未分類"), "{list}");
    assert!(!list.contains(&action), "reviewed once: {list}");
    assert_eq!(sweep(&app).await, 0);

    // A second review is refused with a notice.
    let res = browser
        .post(
            &action,
            &[("csrf", &csrf), ("decision", "dismiss"), ("reason", "x")],
        )
        .await;
    assert!(
        res.location()
            .is_some_and(|l| l.contains("variance=already_reviewed")),
        "{:?}",
        res.location()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisation_gets_no_review_form_and_a_refusal() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "fx-owner").await;
    let token = token_of(&app, "fx-owner").await;
    let plan = femur_plan(&app, &token, 1, 60).await;
    consent(&app, &token, &plan).await;
    web_user(&app, "recovery-1", "recovery_hospital", "rc-nurse").await;
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/care-team"),
        &token,
        &serde_json::json!({"organization": "recovery-1", "stages": ["recovery"], "role": "stage_owner"}),
        None,
    )
    .await
    .assert_status(201);
    assert_eq!(sweep(&app).await, 1);
    let auto = automatic_for(&app, &token, &plan, "h1_early_surgery").await;
    let entry = auto["id"].as_str().expect("id");
    let action = format!("/care-plans/{plan}/variances/{entry}/review");

    let browser = Browser::new(&app);
    browser.login("rc-nurse", PASSWORD).await;
    let page = browser.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    let list = variance_section(&page.text);
    assert!(list.contains("未分類"), "{list}");
    assert!(
        !list.contains(&action),
        "no form for another organisation: {list}"
    );
    let res = browser
        .post(
            &action,
            &[
                ("csrf", &page.csrf()),
                ("decision", "dismiss"),
                ("reason", "記録誤り"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let again = automatic_for(&app, &token, &plan, "h1_early_surgery").await;
    assert!(again["amended_by"].is_null(), "{again}");
}
