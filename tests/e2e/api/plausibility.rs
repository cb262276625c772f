//! Every error of a request at once, and the plausibility rules of stated times, over
//! the JSON API: an entry with several bad values, a time in the future and a partly
//! filled FIM gets all of them in one problem+json `errors[]` (field and rule each); an
//! onset in the future or after the admission and a stage start before the onset are
//! refused; registration names every missing field at once, and a birth date making the
//! patient over 120 is refused until it is confirmed (`confirm: true`).

use renkei_testkit::ApiResponse;
use renkei_testkit::builders::{days_ago, entry, from_now_secs, patient};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, post_entry, stroke_plan};

/// The (field, rule) pairs of a 422 problem.
#[track_caller]
fn rules(res: &ApiResponse) -> Vec<(String, String)> {
    res.assert_status(422);
    res.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors[]: {}", res.text))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn has(rules: &[(String, String)], field: &str, rule: &str) {
    assert!(
        rules.iter().any(|(f, r)| f == field && r == rule),
        "{field} {rule} in {rules:?}"
    );
}

/// Every message is in Japanese and says more than 「入力の形式が正しくありません」.
#[track_caller]
fn messages_say_what_is_expected(res: &ApiResponse) {
    for e in res.body["errors"].as_array().into_iter().flatten() {
        let m = e["message"].as_str().unwrap_or_default();
        assert!(!m.is_empty() && !m.is_ascii(), "{e}");
        assert!(!m.starts_with("入力の形式が正しくありません"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_of_an_entry_comes_at_once() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(4),
            json!({"nihss_total": 12}),
        ),
    )
    .await;
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry(
            "acute",
            "assessment",
            &from_now_secs(7200),
            json!({"mrs": 9, "nihss_total": 50, "fim_eating": 5}),
        ),
    )
    .await;
    let r = rules(&res);
    has(&r, "values.mrs", "range");
    has(&r, "values.nihss_total", "range");
    has(&r, "effective_at", "in_future");
    has(&r, "values.fim_motor", "incomplete");
    messages_say_what_is_expected(&res);
    let mrs = res.body["errors"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["field"] == "values.mrs"))
        .expect("mrs error");
    assert!(
        mrs["message"].as_str().unwrap_or_default().contains("0〜6"),
        "the range in the message: {mrs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_onset_in_the_future_is_refused() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry(
            "acute",
            "stage_start",
            &days_ago(1),
            json!({"onset_at": from_now_secs(86_400)}),
        ),
    )
    .await;
    let r = rules(&res);
    has(&r, "values.onset_at", "in_future");
    has(&r, "values.onset_at", "after_admission");
    messages_say_what_is_expected(&res);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_onset_after_the_admission_is_refused_in_the_stage_start_and_later() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry(
            "acute",
            "stage_start",
            &days_ago(3),
            json!({"onset_at": days_ago(2)}),
        ),
    )
    .await;
    assert_eq!(
        rules(&res),
        [("values.onset_at".to_owned(), "after_admission".to_owned())]
    );
    let message = res.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("入院"), "{message}");
    // Admitted with a plausible onset; an assessment stating a later onset is refused too.
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(3),
            json!({"onset_at": days_ago(4)}),
        ),
    )
    .await;
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry(
            "acute",
            "assessment",
            &days_ago(1),
            json!({"onset_at": days_ago(2), "nihss_total": 4}),
        ),
    )
    .await;
    assert_eq!(
        rules(&res),
        [("values.onset_at".to_owned(), "after_admission".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stage_start_before_the_recorded_onset_is_refused() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    // The onset is recorded first (an assessment), then the admission.
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "assessment",
            &days_ago(3),
            json!({"onset_at": days_ago(4), "nihss_total": 8}),
        ),
    )
    .await;
    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry("acute", "stage_start", &days_ago(5), json!({})),
    )
    .await;
    assert_eq!(
        rules(&res),
        [("effective_at".to_owned(), "before_onset".to_owned())]
    );
    let message = res.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("発症"), "{message}");
    // After the onset it is accepted.
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &from_now_secs(-4 * 86_400 + 3600),
            json!({}),
        ),
    )
    .await;
}

fn empty_patient() -> Value {
    json!({
        "name": {"family": "", "given": "", "family_kana": "", "given_kana": ""},
        "birth_date": "",
        "sex": "",
        "identifiers": [],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_names_every_missing_field_at_once() {
    let app = app_or_skip!();
    let token = app.token().await;
    let res = app
        .post_json("/api/v1/patients", &token, &empty_patient(), None)
        .await;
    let r = rules(&res);
    for field in [
        "name.family",
        "name.given",
        "name.family_kana",
        "name.given_kana",
        "birth_date",
        "sex",
        "identifiers",
    ] {
        assert!(r.iter().any(|(f, _)| f == field), "{field} in {r:?}");
    }
    messages_say_what_is_expected(&res);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_birth_date_over_120_years_ago_needs_confirmation() {
    let app = app_or_skip!();
    let token = app.token().await;
    let ident = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let body = patient("コガ", "ハル", "1900-01-01", "acute-1", &ident);
    let res = app.post_json("/api/v1/patients", &token, &body, None).await;
    assert_eq!(
        rules(&res),
        [("birth_date".to_owned(), "implausible".to_owned())]
    );
    let message = res.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("120") && message.contains("この内容で登録する"),
        "{message}"
    );
    // Together with every other error of the request.
    let mut bad = body.clone();
    bad["sex"] = json!("");
    let r = rules(&app.post_json("/api/v1/patients", &token, &bad, None).await);
    has(&r, "birth_date", "implausible");
    has(&r, "sex", "allowed");
    // Confirmed, it is registered.
    let mut confirmed = body.clone();
    confirmed["confirm"] = json!(true);
    app.post_json("/api/v1/patients", &token, &confirmed, None)
        .await
        .assert_status(201);
    // A birth date in the future is impossible: confirming does not help.
    let mut future = patient(
        "コガ",
        "ナツ",
        "2200-01-01",
        "acute-1",
        &format!("{ident}x"),
    );
    future["confirm"] = json!(true);
    let r = rules(
        &app.post_json("/api/v1/patients", &token, &future, None)
            .await,
    );
    has(&r, "birth_date", "in_future");
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolment_reports_an_unknown_pathway_and_a_future_start_at_once() {
    let app = app_or_skip!();
    let token = app.token().await;
    let ident = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let p = app
        .post_json(
            "/api/v1/patients",
            &token,
            &patient("ヤマダ", "ハナ", "1950-02-03", "acute-1", &ident),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p.body["id"], "pathway": "no-such-pathway", "started_at": from_now_secs(3 * 86_400)}),
            None,
        )
        .await;
    let r = rules(&res);
    has(&r, "pathway", "unknown");
    has(&r, "started_at", "in_future");
    messages_say_what_is_expected(&res);
}
