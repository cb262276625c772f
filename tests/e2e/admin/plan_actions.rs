//! Issue 18 point 10 on the web pages, over HTTP with the login-form client: emergency
//! access (break-glass) with a reason, completing, withdrawing and migrating a plan (after
//! the migration preview) and a goal's individual target. Every refusal changes nothing
//! (read back through the API), and every change leaves exactly one audit event of its
//! action.

use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{TestApp, rows};
use serde_json::{Value, json};

use super::{audit_actions, regional};
use crate::support::{app_or_skip, append, create_patient, stroke_plan};
use crate::web_client::{Browser, PASSWORD, Page, web_user};

/// A practitioner of `org` with `profession` who can log in on the web at once.
pub async fn web_practitioner(app: &TestApp, org: &str, kind: &str, login: &str, profession: &str) {
    app.ensure_org(org, kind).await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.into(),
            login: login.into(),
            name: format!("試験 {login}"),
            profession: profession.into(),
            roles: Vec::new(),
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .expect("add practitioner");
    rows::edit_practitioner(
        &app.services.db,
        login,
        rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("clear must_change_password");
}

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    let b = Browser::new(app);
    b.login(login, PASSWORD).await;
    b
}

/// Posts `fields` (with the CSRF token of `page`) to `action`.
async fn post_form(b: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let form = b.get(page).await;
    form.assert_status(200);
    let csrf = form.csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

/// The allowed audit events of `action` (with their details).
async fn allowed(app: &TestApp, region: &str, action: &str) -> Vec<String> {
    audit_actions(app, region, "allowed")
        .await
        .into_iter()
        .filter(|(a, _)| a == action)
        .map(|(_, d)| d)
        .collect()
}

async fn plan_json(app: &TestApp, token: &str, plan: &str) -> Value {
    let r = app.get(&format!("/api/v1/care-plans/{plan}"), token).await;
    r.assert_status(200);
    r.body
}

/// The version the form carries for If-Match.
fn plan_version_of(page: &Page) -> String {
    let marker = "name=\"plan_version\" value=\"";
    let start = page.text.find(marker).expect("plan_version field") + marker.len();
    let end = page.text[start..].find('"').expect("end") + start;
    page.text[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_planner_completes_a_plan_on_the_web_only_after_confirming() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    web_user(&app, "acute-1", "acute_hospital", "acute-web").await;
    let b = signed_in(&app, "acute-web").await;
    let plan_url = format!("/care-plans/{plan}");

    let page = b.get(&plan_url).await;
    page.assert_status(200);
    for link in ["id=\"complete-link\"", "id=\"withdraw-link\""] {
        assert!(page.text.contains(link), "{link} on the plan page");
    }
    let form_url = format!("{plan_url}/complete");
    let form = b.get(&form_url).await;
    form.assert_status(200);
    assert!(form.text.contains("連携パスの完了"));

    // Unconfirmed: the error, nothing changed.
    let bad = post_form(&b, &form_url, &form_url, &[("reason", "目標達成")]).await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("確認欄にチェックしてください。"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains(">目標達成</textarea>"), "typed note kept");
    assert_eq!(plan_json(&app, &token, &plan).await["status"], "active");
    assert!(
        allowed(&app, &region, "care_plan.lifecycle")
            .await
            .is_empty()
    );

    // A stale version (another user changed the plan since the form was shown): 412, unchanged.
    let stale = post_form(
        &b,
        &form_url,
        &form_url,
        &[("confirm", "yes"), ("plan_version", "999")],
    )
    .await;
    stale.assert_status(412);
    assert_eq!(plan_json(&app, &token, &plan).await["status"], "active");

    let version = plan_version_of(&b.get(&form_url).await);
    let done = post_form(
        &b,
        &form_url,
        &form_url,
        &[("confirm", "yes"), ("plan_version", &version)],
    )
    .await;
    assert_eq!(
        done.location(),
        Some(format!("{plan_url}?done=completed").as_str())
    );
    assert_eq!(plan_json(&app, &token, &plan).await["status"], "completed");
    let page = b.get(&format!("{plan_url}?done=completed")).await;
    assert!(page.text.contains("連携パスを完了しました。"));
    assert!(
        !page.text.contains("id=\"complete-link\""),
        "no second completion"
    );
    assert_eq!(
        allowed(&app, &region, "care_plan.lifecycle").await,
        ["completed"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_planner_withdraws_a_plan_on_the_web_with_a_reason_and_others_cannot() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    web_user(&app, "acute-1", "acute_hospital", "acute-web").await;
    let b = signed_in(&app, "acute-web").await;
    let form_url = format!("/care-plans/{plan}/withdraw");

    // Every error at once: no reason, no confirmation.
    let bad = post_form(&b, &form_url, &form_url, &[]).await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(2件)"),
        "{}",
        bad.text
    );
    for f in ["#f-reason", "#f-confirm"] {
        assert!(bad.text.contains(f), "{f} linked from the summary");
    }
    assert_eq!(plan_json(&app, &token, &plan).await["status"], "active");

    // Another organisation (not the planner) is offered nothing and refused.
    web_user(&app, "clinic-1", "clinic", "clinic-web").await;
    let other = signed_in(&app, "clinic-web").await;
    other.get(&form_url).await.assert_status(404);
    assert_eq!(plan_json(&app, &token, &plan).await["status"], "active");

    let done = post_form(
        &b,
        &form_url,
        &form_url,
        &[("reason", "本人の希望"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(
        done.location(),
        Some(format!("/care-plans/{plan}?done=withdrawn").as_str())
    );
    assert_eq!(plan_json(&app, &token, &plan).await["status"], "withdrawn");
    assert_eq!(
        allowed(&app, &region, "care_plan.lifecycle").await,
        ["withdrawn"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_planner_migrates_a_plan_after_the_preview_page() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = app.token().await;
    let p = create_patient(
        &app,
        &token,
        ("ナカノ", "イサオ"),
        "1949-09-09",
        "web-mig-1",
    )
    .await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "version": 1,
                    "started_at": days_ago(5)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(5),
            json!({"nihss_total": 8}),
        ),
    )
    .await;
    web_user(&app, "acute-1", "acute_hospital", "acute-web").await;
    let b = signed_in(&app, "acute-web").await;
    let plan_url = format!("/care-plans/{plan}");
    assert!(b.get(&plan_url).await.text.contains("id=\"migrate-link\""));

    let choose = b.get(&format!("{plan_url}/migrate")).await;
    choose.assert_status(200);
    assert!(
        choose.text.contains("<option value=\"2\""),
        "{}",
        choose.text
    );
    let preview_url = format!("{plan_url}/migrate?version=2");
    let preview = b.get(&preview_url).await;
    preview.assert_status(200);
    // The preview of the API, in words: an added goal, items to record.
    assert!(
        preview.text.contains("家庭拡張期血圧75 mmHg未満"),
        "{}",
        preview.text
    );
    assert!(preview.text.contains("id=\"needs-recording\""));
    assert!(preview.text.contains("病型"));

    // No reason, no confirmation: every error, still version 1.
    let action = format!("{plan_url}/migrate");
    let bad = post_form(&b, &preview_url, &action, &[("version", "2")]).await;
    bad.assert_status(422);
    assert!(bad.text.contains("確認欄にチェックしてください。"));
    let bad = post_form(
        &b,
        &preview_url,
        &action,
        &[("version", "2"), ("confirm", "yes")],
    )
    .await;
    bad.assert_status(422);
    assert!(bad.text.contains("id=\"e-reason\""), "{}", bad.text);
    assert_eq!(
        plan_json(&app, &token, &plan).await["pathway"]["version"],
        1
    );
    assert!(
        allowed(&app, &region, "care_plan.lifecycle")
            .await
            .is_empty()
    );

    let done = post_form(
        &b,
        &preview_url,
        &action,
        &[
            ("version", "2"),
            ("reason", "地域の改訂版に合わせるため"),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(
        done.location(),
        Some(format!("{plan_url}?done=migrated").as_str())
    );
    assert_eq!(
        plan_json(&app, &token, &plan).await["pathway"]["version"],
        2
    );
    assert_eq!(
        allowed(&app, &region, "care_plan.lifecycle").await,
        ["migrated"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_physician_sets_an_individual_target_on_the_web_with_its_reason() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    web_practitioner(&app, "acute-1", "acute_hospital", "acute-doc", "physician").await;
    let doc = signed_in(&app, "acute-doc").await;
    let plan_url = format!("/care-plans/{plan}");
    assert!(
        doc.get(&plan_url)
            .await
            .text
            .contains("id=\"individualize-link\"")
    );
    // A nurse is not offered it (the API allows physicians only).
    web_user(&app, "acute-1", "acute_hospital", "acute-web").await;
    let nurse = signed_in(&app, "acute-web").await;
    assert!(
        !nurse
            .get(&plan_url)
            .await
            .text
            .contains("id=\"individualize-link\"")
    );
    nurse
        .get(&format!("{plan_url}/individualize"))
        .await
        .assert_status(403);

    let list = doc.get(&format!("{plan_url}/individualize")).await;
    list.assert_status(200);
    assert!(list.text.contains("id=\"choose-g5_bp_sys\""));
    let form_url = format!("{plan_url}/individualize?goal=g5_bp_sys");
    let form = doc.get(&form_url).await;
    form.assert_status(200);
    assert!(
        form.text.contains("value=\"130\""),
        "the current target prefilled"
    );

    let action = format!("{plan_url}/individualize");
    let bad = post_form(
        &doc,
        &form_url,
        &action,
        &[
            ("goal", "g5_bp_sys"),
            ("shape", "threshold"),
            ("op", "<"),
            ("value", "百四十"),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(2件)"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("数値で入力してください。"));
    assert!(bad.text.contains("value=\"百四十\""), "typed value kept");
    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &token)
        .await;
    let g5 = goals.body["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .find(|g| g["code"] == "g5_bp_sys")
        .cloned()
        .expect("g5");
    assert_eq!(g5["target"]["value"], 130.0, "unchanged: {g5}");
    assert!(
        allowed(&app, &region, "care_plan.individualize")
            .await
            .is_empty()
    );

    // A band whose bounds are the wrong way round: the service's rule, shown on the form.
    let bad = post_form(
        &doc,
        &form_url,
        &action,
        &[
            ("goal", "g5_bp_sys"),
            ("shape", "range"),
            ("min", "140"),
            ("max", "120"),
            ("reason", "両側頸動脈狭窄"),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(bad.text.contains("id=\"e-min\""), "{}", bad.text);

    // JSH2019: < 140 mmHg with bilateral carotid stenosis (the template's own exception).
    let done = post_form(
        &doc,
        &form_url,
        &action,
        &[
            ("goal", "g5_bp_sys"),
            ("shape", "threshold"),
            ("op", "<"),
            ("value", "140"),
            ("reason", "両側頸動脈狭窄のため140 mmHg未満"),
        ],
    )
    .await;
    assert_eq!(
        done.location(),
        Some(format!("{plan_url}?done=individualized#goal-g5_bp_sys").as_str())
    );
    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &token)
        .await;
    let g5 = goals.body["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .find(|g| g["code"] == "g5_bp_sys")
        .cloned()
        .expect("g5");
    assert_eq!(g5["target"]["value"], 140.0, "{g5}");
    assert_eq!(
        allowed(&app, &region, "care_plan.individualize")
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outside_physician_opens_a_plan_read_only_through_break_glass_with_a_reason() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    web_practitioner(&app, "clinic-1", "clinic", "er-doc", "physician").await;
    let b = signed_in(&app, "er-doc").await;
    let plan_url = format!("/care-plans/{plan}");
    b.get(&plan_url).await.assert_status(404);

    let form_url = format!("{plan_url}/break-glass");
    let form = b.get(&form_url).await;
    form.assert_status(200);
    assert!(form.text.contains("緊急に閲覧する理由"));

    // Too short a reason and no confirmation: both errors, nothing granted.
    let bad = post_form(&b, &form_url, &form_url, &[("reason", "急")]).await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(2件)"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains(">急</textarea>"), "typed reason kept");
    b.get(&plan_url).await.assert_status(404);
    let grants = app.get("/api/v1/break-glass", &region).await;
    grants.assert_status(200);
    assert_eq!(grants.body["grants"], json!([]), "{}", grants.body);

    let done = post_form(
        &b,
        &form_url,
        &form_url,
        &[
            ("reason", "救急搬送、服薬と既往歴の確認のため"),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(
        done.location(),
        Some(format!("{plan_url}?done=break_glass").as_str())
    );
    let page = b.get(&format!("{plan_url}?done=break_glass")).await;
    page.assert_status(200);
    assert!(
        page.text.contains("id=\"break-glass-banner\""),
        "{}",
        page.text
    );
    for link in ["complete-link", "withdraw-link", "individualize-link"] {
        assert!(!page.text.contains(link), "read-only: no {link}");
    }
    assert!(
        !page.text.contains("/entries/new"),
        "read-only: no entry form"
    );
    assert_eq!(allowed(&app, &region, "break_glass.grant").await.len(), 1);
    let grants = app.get("/api/v1/break-glass", &region).await;
    assert_eq!(
        grants.body["grants"].as_array().map(Vec::len),
        Some(1),
        "{}",
        grants.body
    );
}
