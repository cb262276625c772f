//! Schedules and goals read at a moment over HTTP: visits counted only when done, Tokyo
//! calendar due dates, stage events that cannot end a stage before it starts, individual
//! stage limits, intervals and following targets, and the two moments `as_of` (clinical
//! time) and `known_at` (the record as it stood).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SubsecRound as _, Utc};
use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::TestApp;
use renkei_testkit::builders::jst;
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, create_patient, post_entry};
use crate::web_client::{Browser, PASSWORD, web_user};

/// Enrols a new patient on the latest version of `pathway`, care starting at `started`.
async fn plan_on(app: &TestApp, token: &str, pathway: &str, started: DateTime<Utc>) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = create_patient(app, token, ("サトウ", "ハナコ"), "1950-05-05", &ident[..12]).await;
    let mut body = json!({"patient_id": p["id"], "pathway": pathway, "started_at": jst(started)});
    if let Some(v) = crate::support::latest_variant(pathway) {
        body["variant"] = json!(v);
    }
    let res = app
        .post_json("/api/v1/care-plans", token, &body, None)
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("plan id").to_owned()
}

/// A diabetes plan started `days` days ago, its work-up stage started an hour later.
async fn diabetes(app: &TestApp, token: &str, days: i64) -> (String, DateTime<Utc>) {
    let started = now_s(app) - Duration::days(days);
    let plan = plan_on(app, token, "diabetes", started).await;
    append(
        app,
        token,
        &plan,
        entry(
            "intro",
            "stage_start",
            started + Duration::hours(1),
            json!({}),
        ),
    )
    .await;
    (plan, started)
}

fn entry(stage: &str, kind: &str, at: DateTime<Utc>, values: Value) -> Value {
    json!({"stage": stage, "kind": kind, "effective_at": jst(at), "values": values})
}

fn amendment(stage: &str, kind: &str, at: DateTime<Utc>, values: Value, of: &Value) -> Value {
    let mut e = entry(stage, kind, at, values);
    e["amends"] = of["id"].clone();
    e["reason"] = json!("日付の入力誤り");
    e
}

/// The service clock to the second (entries are sent with whole seconds).
fn now_s(app: &TestApp) -> DateTime<Utc> {
    app.services.now().trunc_subsecs(0)
}

/// A physician of the planning hospital (who may set individual targets).
async fn physician(app: &TestApp) -> String {
    let login = format!(
        "acute-doc-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: "acute-1".into(),
            login: login.clone(),
            name: format!("{login} テスト"),
            profession: "physician".into(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .expect("add physician");
    admin::issue_token(&app.services, &login, "clinical-time", None)
        .await
        .expect("token")
}

/// The Asia/Tokyo calendar date of a moment.
fn tokyo_date(t: DateTime<Utc>) -> NaiveDate {
    let jst = FixedOffset::east_opt(9 * 3600).expect("+09:00");
    t.with_timezone(&jst).date_naive()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .with_timezone(&Utc)
}

fn date(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(
        v.as_str().unwrap_or_else(|| panic!("not a date: {v}")),
        "%Y-%m-%d",
    )
    .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// GET `path` with `query`, asserting 200.
async fn read(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let res = app.get_query(path, token, query).await;
    res.assert_status(200);
    res.body
}

fn find<'a>(list: &'a Value, key: &str, code: &str) -> &'a Value {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing: {list}"))
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("{code} missing: {list}"))
}

async fn rule(app: &TestApp, token: &str, plan: &str, code: &str, q: &[(&str, &str)]) -> Value {
    let s = read(
        app,
        token,
        &format!("/api/v1/care-plans/{plan}/schedule"),
        q,
    )
    .await;
    find(&s, "schedule", code).clone()
}

async fn goal(app: &TestApp, token: &str, plan: &str, code: &str, q: &[(&str, &str)]) -> Value {
    let g = read(app, token, &format!("/api/v1/care-plans/{plan}/goals"), q).await;
    find(&g, "goals", code).clone()
}

/// The rule names of the field errors of a problem body for `field`.
fn rules_of(body: &Value, field: &str) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter(|e| e["field"] == field)
                .filter_map(|e| e["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eye_exam_recorded_as_not_done_does_not_reset_the_schedule() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, _) = diabetes(&app, &token, 120).await;
    let now = now_s(&app);
    let done_at = now - Duration::days(100);
    append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "assessment",
            done_at,
            json!({"eye_exam_done": true}),
        ),
    )
    .await;
    let before = rule(&app, &token, &plan, "eye_exam", &[]).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "assessment",
            now - Duration::days(10),
            json!({"eye_exam_done": false}),
        ),
    )
    .await;
    let eye = rule(&app, &token, &plan, "eye_exam", &[]).await;
    assert_eq!(time(&eye["last_done"]), done_at, "{eye}");
    assert_eq!(
        date(&eye["due_date"]),
        tokyo_date(done_at) + Duration::days(365),
        "{eye}"
    );
    assert_eq!(eye["interval_source"], "template", "{eye}");
    assert_eq!(eye, before, "a false eye_exam_done changes nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amended_exam_date_counts_once_and_known_at_shows_the_record_before_it() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, _) = diabetes(&app, &token, 120).await;
    let now = now_s(&app);
    let wrong = now - Duration::days(50);
    let right = now - Duration::days(80);
    let original = append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "assessment",
            wrong,
            json!({"eye_exam_done": true, "ldl": 150}),
        ),
    )
    .await;
    // A moment after the original was recorded and before the correction was.
    let before_fix = now_s(&app) + Duration::minutes(30);
    app.services.clock.advance(Duration::hours(1));
    let fix = append(
        &app,
        &token,
        &plan,
        amendment(
            "intro",
            "assessment",
            right,
            json!({"eye_exam_done": true, "ldl": 90}),
            &original,
        ),
    )
    .await;

    // As known now: the corrected exam, once.
    let eye = rule(&app, &token, &plan, "eye_exam", &[]).await;
    assert_eq!(time(&eye["last_done"]), right, "{eye}");
    assert_eq!(
        date(&eye["due_date"]),
        tokyo_date(right) + Duration::days(365)
    );
    let ldl = goal(&app, &token, &plan, "m3_ldl", &[]).await;
    assert_eq!(ldl["latest"]["value"], 90, "{ldl}");
    assert_eq!(ldl["latest"]["entry_id"], fix["id"], "{ldl}");

    // As the record stood before the correction: the original date and value.
    let known = jst(before_fix);
    let q = [("known_at", known.as_str())];
    let eye = rule(&app, &token, &plan, "eye_exam", &q).await;
    assert_eq!(time(&eye["last_done"]), wrong, "{eye}");
    let ldl = goal(&app, &token, &plan, "m3_ldl", &q).await;
    assert_eq!(ldl["latest"]["value"], 150, "{ldl}");
    assert_eq!(ldl["latest"]["entry_id"], original["id"], "{ldl}");
    let goals = read(
        &app,
        &token,
        &format!("/api/v1/care-plans/{plan}/goals"),
        &q,
    )
    .await;
    assert_eq!(time(&goals["known_at"]), before_fix, "{goals}");

    // Clinical time before the exam: not done yet, the value not yet measured.
    let early = jst(right - Duration::days(1));
    let q = [("as_of", early.as_str())];
    let eye = rule(&app, &token, &plan, "eye_exam", &q).await;
    assert!(eye["last_done"].is_null(), "{eye}");
    let ldl = goal(&app, &token, &plan, "m3_ldl", &q).await;
    assert!(ldl["latest"].is_null(), "{ldl}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_uacr_measured_at_0800_jst_on_1_december_is_due_on_the_same_day_in_schedule_and_goal() {
    let app = app_or_skip!();
    let token = app.token().await;
    let start = time(&json!("2026-11-20T09:00:00+09:00"));
    let measured = time(&json!("2026-12-01T08:00:00+09:00"));
    let plan = plan_on(&app, &token, "diabetes", start).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "stage_start",
            start + Duration::hours(1),
            json!({}),
        ),
    )
    .await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "assessment",
            measured,
            json!({"dkd_stage": "stage_1", "uacr": 45.0}),
        ),
    )
    .await;
    // Every 3 months for kidney-disease stages 1–2 (v2): 90 Tokyo days in the schedule,
    // 3 calendar months in the goal — both 1 March, not 28 February (UTC).
    let s = rule(&app, &token, &plan, "uacr_test", &[]).await;
    assert_eq!(s["due_date"], "2027-03-01", "{s}");
    assert_eq!(time(&s["due"]), time(&json!("2027-03-01T00:00:00+09:00")));
    let g = goal(&app, &token, &plan, "m9_uacr", &[]).await;
    assert_eq!(g["due_date"], "2027-03-01", "{g}");
    // Stages 3–4 take the protein/creatinine ratio instead.
    let upcr = rule(&app, &token, &plan, "upcr_test", &[]).await;
    assert_eq!(upcr["state"], "not_applicable", "{upcr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stage_end_or_an_amended_stage_event_before_the_stage_start_is_refused() {
    let app = app_or_skip!();
    let token = app.token().await;
    let now = now_s(&app);
    let started = now - Duration::days(30);
    let plan = plan_on(&app, &token, "diabetes", started).await;
    let start_at = now - Duration::days(10);
    let start = append(
        &app,
        &token,
        &plan,
        entry("intro", "stage_start", start_at, json!({})),
    )
    .await;

    let res = post_entry(
        &app,
        &token,
        &plan,
        &entry(
            "intro",
            "stage_end",
            start_at - Duration::days(1),
            json!({}),
        ),
    )
    .await;
    res.assert_problem(422, Some("effective_at"));
    assert_eq!(rules_of(&res.body, "effective_at"), ["before_stage_start"]);

    let end_at = now - Duration::days(5);
    let end = append(
        &app,
        &token,
        &plan,
        entry("intro", "stage_end", end_at, json!({})),
    )
    .await;

    // An amended end before the start.
    let res = post_entry(
        &app,
        &token,
        &plan,
        &amendment(
            "intro",
            "stage_end",
            start_at - Duration::days(2),
            json!({}),
            &end,
        ),
    )
    .await;
    res.assert_problem(422, Some("effective_at"));
    assert_eq!(rules_of(&res.body, "effective_at"), ["before_stage_start"]);

    // An amended start after the end.
    let res = post_entry(
        &app,
        &token,
        &plan,
        &amendment(
            "intro",
            "stage_start",
            end_at + Duration::days(1),
            json!({}),
            &start,
        ),
    )
    .await;
    res.assert_problem(422, Some("effective_at"));
    assert_eq!(rules_of(&res.body, "effective_at"), ["after_stage_end"]);

    // An amended start still before the end moves the stay.
    append(
        &app,
        &token,
        &plan,
        amendment(
            "intro",
            "stage_start",
            start_at - Duration::days(3),
            json!({}),
            &start,
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_180_day_recovery_limit_changes_the_stage_and_its_stage_length_goal() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_on(&app, &token, "stroke", now_s(&app) - Duration::days(3)).await;
    let g4 = goal(&app, &token, &plan, "g4_recovery_within_limit", &[]).await;
    assert_eq!(g4["target"]["days"], 150, "{g4}");

    let doc = physician(&app).await;
    let url = format!("/api/v1/care-plans/{plan}/individualize");
    app.post_json(
        &url,
        &doc,
        &json!({"stage": "recovery", "reason": "重症"}),
        None,
    )
    .await
    .assert_problem(422, Some("max_days"));
    app.post_json(
        &url,
        &doc,
        &json!({"stage": "ward", "max_days": 180, "reason": "重症"}),
        None,
    )
    .await
    .assert_problem(422, Some("stage"));
    app.post_json(
        &url,
        &doc,
        &json!({"stage": "recovery", "max_days": 180,
                "reason": "高次脳機能障害を伴う重症脳血管障害のため180日"}),
        None,
    )
    .await
    .assert_status(204);

    let g4 = goal(&app, &token, &plan, "g4_recovery_within_limit", &[]).await;
    assert_eq!(g4["target"]["days"], 180, "{g4}");
    // The acute stage keeps its own length goal.
    let g1 = goal(&app, &token, &plan, "g1_transfer_on_time", &[]).await;
    assert_eq!(g1["target"]["days"], 21, "{g1}");

    // The plan page shows the individual limit.
    web_user(&app, "acute-1", "acute_hospital", "limit-nurse").await;
    let web = Browser::new(&app);
    web.login("limit-nurse", PASSWORD).await;
    let page = web.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    assert!(page.text.contains("上限 180日"), "{}", page.text);
    assert!(!page.text.contains("上限 150日"), "{}", page.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retinopathy_grade_sets_the_eye_exam_interval_until_one_is_individualised() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, _) = diabetes(&app, &token, 60).await;
    let at = now_s(&app) - Duration::days(20);
    append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "assessment",
            at,
            json!({"eye_exam_done": true, "retinopathy_grade": "pre_proliferative"}),
        ),
    )
    .await;
    let eye = rule(&app, &token, &plan, "eye_exam", &[]).await;
    assert_eq!(eye["interval_days"], 60, "{eye}");
    assert_eq!(eye["interval_source"], "item", "{eye}");
    assert_eq!(date(&eye["due_date"]), tokyo_date(at) + Duration::days(60));

    app.post_json(
        &format!("/api/v1/care-plans/{plan}/individualize"),
        &physician(&app).await,
        &json!({"schedule": "eye_exam", "interval_days": 30, "reason": "黄斑浮腫の経過観察"}),
        None,
    )
    .await
    .assert_status(204);
    let eye = rule(&app, &token, &plan, "eye_exam", &[]).await;
    assert_eq!(eye["interval_days"], 30, "{eye}");
    assert_eq!(eye["interval_source"], "individual", "{eye}");
    assert_eq!(eye["individualised"], true, "{eye}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_non_hdl_target_follows_the_individual_ldl_target_plus_30() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, _) = diabetes(&app, &token, 10).await;
    let ldl = goal(&app, &token, &plan, "m3_ldl", &[]).await;
    let nonhdl = goal(&app, &token, &plan, "m4_nonhdl", &[]).await;
    assert_eq!(ldl["target"]["value"], 120.0, "{ldl}");
    assert_eq!(nonhdl["target"]["value"], 150.0, "{nonhdl}");

    app.post_json(
        &format!("/api/v1/care-plans/{plan}/individualize"),
        &physician(&app).await,
        &json!({"goal": "m3_ldl",
                "target": {"kind": "threshold", "item": "ldl", "op": "<", "value": 100.0},
                "reason": "細小血管症あり(LDL 100未満)"}),
        None,
    )
    .await
    .assert_status(204);
    let nonhdl = goal(&app, &token, &plan, "m4_nonhdl", &[]).await;
    assert_eq!(nonhdl["target"]["value"], 130.0, "{nonhdl}");
    // Before the individual target took effect, the template's.
    let before = jst(now_s(&app) - Duration::days(1));
    let nonhdl = goal(
        &app,
        &token,
        &plan,
        "m4_nonhdl",
        &[("as_of", before.as_str())],
    )
    .await;
    assert_eq!(nonhdl["target"]["value"], 150.0, "{nonhdl}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_as_of_and_known_at_are_422_problems_naming_each_field() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, _) = diabetes(&app, &token, 10).await;
    for path in ["goals", "schedule"] {
        let url = format!("/api/v1/care-plans/{plan}/{path}");
        let res = app
            .get_query(
                &url,
                &token,
                &[("as_of", "2026-12-01"), ("known_at", "yesterday")],
            )
            .await;
        res.assert_problem(422, Some("as_of"));
        res.assert_problem(422, Some("known_at"));
        assert_eq!(rules_of(&res.body, "as_of"), ["format"]);
        assert_eq!(rules_of(&res.body, "known_at"), ["format"]);
        app.get_query(&url, &token, &[("asof", "2026-12-01T00:00:00+09:00")])
            .await
            .assert_problem(422, Some("query"));
        let ok = app
            .get_query(&url, &token, &[("known_at", "2026-12-01T00:00:00+09:00")])
            .await;
        ok.assert_status(200);
        assert_eq!(
            time(&ok.body["known_at"]),
            time(&json!("2026-12-01T00:00:00+09:00"))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_page_shows_the_plan_as_of_a_day() {
    let app = app_or_skip!();
    let token = app.token().await;
    let now = now_s(&app);
    let plan = plan_on(&app, &token, "stroke", now - Duration::days(10)).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            now - Duration::days(3),
            json!({"mrs": 4}),
        ),
    )
    .await;
    web_user(&app, "acute-1", "acute_hospital", "asof-nurse").await;
    let web = Browser::new(&app);
    web.login("asof-nurse", PASSWORD).await;
    let today = web.get(&format!("/care-plans/{plan}")).await;
    today.assert_status(200);
    let acute = r#"<span class="st">急性期</span> <span class="badge"#;
    assert!(
        today
            .text
            .contains(&format!(r#"{acute} info">進行中</span>"#)),
        "{}",
        today.text
    );
    let day = tokyo_date(now - Duration::days(5)).to_string();
    let then = web.get(&format!("/care-plans/{plan}?as_of={day}")).await;
    then.assert_status(200);
    assert!(
        then.text
            .contains(&format!(r#"{acute} wait">開始前</span>"#)),
        "{}",
        then.text
    );
    assert!(
        then.text.contains(&format!("value=\"{day}\"")),
        "{}",
        then.text
    );
    assert!(then.text.contains("時点の記録"), "{}", then.text);
    web.get(&format!("/care-plans/{plan}?as_of=2026-02-30"))
        .await
        .assert_status(422);
}
