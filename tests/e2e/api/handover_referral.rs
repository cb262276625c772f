//! Issue 13 §4: a hand-over the receiver is not stuck on. After an accepted hand-over the
//! receiver records its stage start although the sender has not recorded its stage end;
//! the sender's stage is then flagged 「終了未記録」 on its worklist until it records the
//! end late (dated no later than the receiver's start). The 転院予定日 is proposed by the
//! sender and confirmed or changed on acceptance; the referral carries structured fields,
//! prefilled from the plan, validated with every error at once, and shown in Japanese.

use renkei_testkit::app::send;
use renkei_testkit::builders::days_ago;
use renkei_testkit::{ApiResponse, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, consent, post_entry, stroke_plan};
use crate::web_client::{Browser, PASSWORD, web_user};

async fn propose(app: &TestApp, token: &str, plan: &str, body: Value) -> ApiResponse {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/handovers"),
        token,
        &body,
        None,
    )
    .await
}

async fn accept(app: &TestApp, token: &str, id: &str, body: Option<Value>) -> ApiResponse {
    let mut req = app
        .request(Method::POST, &format!("/api/v1/handovers/{id}/accept"))
        .bearer_auth(token)
        .header("If-Match", "\"1\"");
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

async fn plan_of(app: &TestApp, token: &str, plan: &str) -> Value {
    let res = app.get(&format!("/api/v1/care-plans/{plan}"), token).await;
    res.assert_status(200);
    res.body
}

/// A stroke plan of acute-1 whose acute stage started 5 days ago (not ended), with
/// consent and two FIM measurements, and a recovery-1 nurse token.
async fn acute_in_progress(app: &TestApp, a: &str) -> String {
    let plan = stroke_plan(app, a, 6).await;
    consent(app, a, &plan).await;
    append(
        app,
        a,
        &plan,
        json!({"stage": "acute", "kind": "stage_start", "effective_at": days_ago(5),
               "values": {"nihss_total": 8}}),
    )
    .await;
    append(
        app,
        a,
        &plan,
        json!({"stage": "acute", "kind": "assessment", "effective_at": days_ago(4),
               "values": {"fim_total": 50, "care_level": "applying", "walk_cat": "assisted"}}),
    )
    .await;
    plan
}

#[tokio::test]
async fn the_receiver_starts_its_stage_before_the_sender_records_its_end_and_the_sender_ends_late()
{
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = acute_in_progress(&app, &a).await;
    let r = app
        .user_token("recovery-1", "recovery_hospital", "kaifuku-late")
        .await;

    let created = propose(
        &app,
        &a,
        &plan,
        json!({"to_organization": "recovery-1", "stage": "recovery",
               "planned_transfer_date": "2099-01-10"}),
    )
    .await;
    created.assert_status(201);
    assert_eq!(created.body["proposed_transfer_date"], "2099-01-10");
    assert_eq!(created.body["agreed_transfer_date"], Value::Null);
    let id = created.body["id"].as_str().expect("id").to_owned();

    // Before acceptance the receiver cannot start the stage.
    let early = post_entry(
        &app,
        &r,
        &plan,
        &json!({"stage": "recovery", "kind": "stage_start", "effective_at": days_ago(1)}),
    )
    .await;
    assert!(
        [403, 404, 409].contains(&early.status.as_u16()),
        "no start before acceptance: {}",
        early.text
    );

    // The receiver changes the planned date on acceptance.
    let accepted = accept(&app, &r, &id, Some(json!({"transfer_date": "2099-01-12"}))).await;
    accepted.assert_status(200);
    assert_eq!(accepted.body["proposed_transfer_date"], "2099-01-10");
    assert_eq!(accepted.body["agreed_transfer_date"], "2099-01-12");

    // The sender has not recorded the acute stage end; the receiver starts anyway.
    let started = post_entry(
        &app,
        &r,
        &plan,
        &json!({"stage": "recovery", "kind": "stage_start", "effective_at": days_ago(1)}),
    )
    .await;
    started.assert_status(201);
    let p = plan_of(&app, &a, &plan).await;
    assert_eq!(p["current_stage"], "recovery", "{p}");
    let h = app.get(&format!("/api/v1/handovers/{id}"), &a).await;
    assert_eq!(h.body["state"], "completed", "{}", h.text);

    // The sender's worklist flags the unrecorded end.
    web_user(&app, "acute-1", "acute_hospital", "acute-late-web").await;
    let b = Browser::new(&app);
    b.login("acute-late-web", PASSWORD).await;
    // The web user belongs to acute-1, the organisation that started the acute stage.
    let wl = b.get("/worklist").await;
    wl.assert_status(200);
    assert!(wl.text.contains("終了未記録"), "{}", wl.text);
    let page = b.get(&format!("/care-plans/{plan}")).await;
    assert!(page.text.contains("終了未記録"), "{}", page.text);
    assert!(
        page.text
            .contains("急性期の終了(転院・退院)を記録(終了未記録)"),
        "the sender is offered the late end: {}",
        page.text
    );

    // A late end dated after the receiver's start is refused, naming the rule.
    let too_late = post_entry(
        &app,
        &a,
        &plan,
        &json!({"stage": "acute", "kind": "stage_end", "effective_at": days_ago(0),
                "values": {"mrs": 3}}),
    )
    .await;
    too_late.assert_problem(422, Some("effective_at"));
    assert!(
        too_late.text.contains("after_next_stage_start"),
        "{}",
        too_late.text
    );

    // Dated at or before it, the late end is recorded; the plan stays in recovery.
    let late = post_entry(
        &app,
        &a,
        &plan,
        &json!({"stage": "acute", "kind": "stage_end", "effective_at": days_ago(2),
                "values": {"mrs": 3}}),
    )
    .await;
    late.assert_status(201);
    let p = plan_of(&app, &a, &plan).await;
    assert_eq!(p["current_stage"], "recovery", "{p}");
    let wl = b.get("/worklist").await;
    assert!(!wl.text.contains("終了未記録"), "{}", wl.text);

    // The receiver's stage goes on as usual: its own end is accepted.
    append(
        &app,
        &r,
        &plan,
        json!({"stage": "recovery", "kind": "stage_end", "effective_at": days_ago(0),
               "values": {"destination": "home"}}),
    )
    .await;
}

#[tokio::test]
async fn acceptance_without_a_date_confirms_the_proposed_transfer_date() {
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = acute_in_progress(&app, &a).await;
    let r = app
        .user_token("recovery-1", "recovery_hospital", "kaifuku-date")
        .await;
    let created = propose(
        &app,
        &a,
        &plan,
        json!({"to_organization": "recovery-1", "stage": "recovery",
               "planned_transfer_date": "2099-02-01"}),
    )
    .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let accepted = accept(&app, &r, &id, None).await;
    accepted.assert_status(200);
    assert_eq!(accepted.body["agreed_transfer_date"], "2099-02-01");
}

#[tokio::test]
async fn the_referral_is_prefilled_from_the_plan_and_every_error_is_reported_at_once() {
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = acute_in_progress(&app, &a).await;
    app.ensure_org("recovery-1", "recovery_hospital").await;
    let before = app.db.query_i64("SELECT COUNT(*) FROM handovers").await;

    // Every broken field at once, and nothing written.
    let bad = propose(
        &app,
        &a,
        &plan,
        json!({"to_organization": "recovery-1", "stage": "recovery",
               "planned_transfer_date": "2000-01-01",
               "referral": {"clinical_type": "stroke", "care_insurance": "care_9",
                            "paralysis_side": 1, "blood_type": "A",
                            "key_person_contact": "090-0000-0000"}}),
    )
    .await;
    bad.assert_problem(422, None);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for f in [
        "planned_transfer_date",
        "referral.clinical_type",
        "referral.care_insurance",
        "referral.paralysis_side",
        "referral.blood_type",
        "referral.diagnosis",
        "referral.key_person",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert_eq!(
        app.db.query_i64("SELECT COUNT(*) FROM handovers").await,
        before
    );

    // Without a referral the plan's own values are prefilled; coded fields stay codes
    // on the API.
    let created = propose(
        &app,
        &a,
        &plan,
        json!({"to_organization": "recovery-1", "stage": "recovery"}),
    )
    .await;
    created.assert_status(201);
    let referral = &created.body["summary"]["referral"];
    assert_eq!(referral["diagnosis"], "脳卒中", "{referral}");
    assert_eq!(referral["care_insurance"], "applying", "{referral}");
    let adl = referral["adl"].as_str().unwrap_or_default();
    assert!(
        adl.contains("FIM合計 50点") && adl.contains("介助歩行"),
        "{adl}"
    );
}

#[tokio::test]
async fn the_hand_over_page_shows_the_referral_in_japanese_with_units_and_no_codes() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "acute-ref-web").await;
    web_user(&app, "recovery-1", "recovery_hospital", "rec-ref-web").await;
    let a = renkei_service::admin::issue_token(&app.services, "acute-ref-web", "test", None)
        .await
        .expect("token");
    let plan = acute_in_progress(&app, &a).await;
    append(
        &app,
        &a,
        &plan,
        json!({"stage": "acute", "kind": "assessment", "effective_at": days_ago(3),
               "values": {"bp_sys": 152, "destination": "home"}}),
    )
    .await;

    // The form starts from the plan, marked as prefilled.
    let b = Browser::new(&app);
    b.login("acute-ref-web", PASSWORD).await;
    let form = b.get(&format!("/care-plans/{plan}/handovers/new")).await;
    form.assert_status(200);
    assert!(form.text.contains("自動入力"), "{}", form.text);
    assert!(form.text.contains("value=\"脳卒中\""), "{}", form.text);
    assert!(
        form.text
            .contains("<option value=\"applying\" selected>申請中</option>"),
        "{}",
        form.text
    );

    // Every error at once on the form: no receiver, a bad date, no diagnosis.
    let res = b
        .post(
            &format!("/care-plans/{plan}/handovers/new"),
            &[
                ("csrf", &form.csrf()),
                ("transfer_date", "来週"),
                ("ref_diagnosis", ""),
                ("ref_clinical_type", "ich"),
            ],
        )
        .await;
    res.assert_status(422);
    for want in [
        "紹介先の施設を選んでください",
        "転院予定日は日付",
        "診断名",
        "href=\"#f-ref-diagnosis\"",
        "aria-invalid=\"true\"",
    ] {
        assert!(res.text.contains(want), "{want}: {}", res.text);
    }

    let res = b
        .post(
            &format!("/care-plans/{plan}/handovers/new"),
            &[
                ("csrf", &form.csrf()),
                ("receiver", "recovery|recovery-1"),
                ("transfer_date", "2099-03-03"),
                ("ref_diagnosis", "脳出血(左被殻)"),
                ("ref_clinical_type", "ich"),
                ("ref_paralysis_side", "right"),
                ("ref_diet_form", "soft"),
                ("ref_care_insurance", "care_2"),
                ("ref_infections", "なし"),
                ("ref_key_person", "山田 花子(妻)"),
                ("ref_key_person_contact", "090-1234-5678"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.text);

    // The receiver, not on the care team at enrolment, reads the same fields in words.
    let list = app
        .get(&format!("/api/v1/care-plans/{plan}/handovers"), &a)
        .await;
    let id = list.body["handovers"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = Browser::new(&app);
    r.login("rec-ref-web", PASSWORD).await;
    let page = r.get(&format!("/handovers/{id}")).await;
    page.assert_status(200);
    for want in [
        "脳出血(左被殻)",
        "<dt>病型</dt><dd>脳出血</dd>",
        "<dt>麻痺側</dt><dd>右片麻痺</dd>",
        "<dt>食形態</dt><dd>軟菜</dd>",
        "<dt>介護保険</dt><dd>要介護2</dd>",
        "<dt>キーパーソンの連絡先</dt><dd>090-1234-5678</dd>",
        "2099年3月3日",
        "152 mmHg",
        "FIM合計",
        "50点(評価1回のため利得なし)",
    ] {
        assert!(page.text.contains(want), "{want}: {}", page.text);
    }
    let main = page.text.split("<main").nth(1).unwrap_or_default();
    for code in [
        ">ich<", ">right<", ">care_2<", ">soft<", "\"home\"", ">home<",
    ] {
        assert!(!main.contains(code), "no raw code {code}: {main}");
    }
    assert!(!main.contains("利得 0"), "no gain from one measurement");
    // The same fields once the receiver is on the care team (accepted).
    let accept_form = page.csrf();
    let version = "1";
    let accepted = r
        .post(
            &format!("/handovers/{id}/answer"),
            &[
                ("csrf", &accept_form),
                ("version", version),
                ("event", "accept"),
                ("transfer_date", "2099-03-05"),
            ],
        )
        .await;
    assert_eq!(accepted.status, 303, "{}", accepted.text);
    let after = r.get(&format!("/handovers/{id}")).await;
    for want in [
        "<dt>病型</dt><dd>脳出血</dd>",
        "<dt>介護保険</dt><dd>要介護2</dd>",
        "2099年3月5日(木)(合意済み)",
    ] {
        assert!(after.text.contains(want), "{want}: {}", after.text);
    }
}
