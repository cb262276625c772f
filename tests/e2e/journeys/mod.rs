//! Journey tests for the "連携" of issue 4: the facility directory, hand-overs (with
//! If-Match / ETag), reports back, automatic variances, cyclical schedules, individual
//! targets, worklists and the plan lifecycle — always through the real server over HTTP,
//! on a fresh database per test (SQLite, or PostgreSQL when `RENKEI_TEST_DATABASE_URL`
//! is set). Time moves with the service clock (`Services::clock`), never with sleeps.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use renkei_service::admin::{self, NewOrganization, NewPractitioner};
use renkei_service::variances::SYSTEM_PRACTITIONER_ID;
use renkei_testkit::app::send;
use renkei_testkit::builders::{fim, jst, patient};
use renkei_testkit::{ApiResponse, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const AREA: &str = "千葉";
const OTHER_AREA: &str = "東葛北部";

// ====================================================================== helpers

const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Starts a test app, or returns from the test when its backend is unavailable (outside
/// CI; under CI that is a failure inside `TestApp::spawn`).
macro_rules! app_or_skip {
    () => {
        match TestApp::spawn().await {
            Some(app) => app,
            None => return,
        }
    };
}

/// Sequence numbers run 1..n in list order, the first `prev_hash` is the genesis hash,
/// and each `prev_hash` is the previous entry's hash.
#[track_caller]
fn assert_chain(entries: &[Value]) {
    let mut prev = GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"], json!(i as i64 + 1), "seq of entry {i}: {e}");
        assert_eq!(e["prev_hash"], json!(prev), "prev_hash of seq {}", i + 1);
        let hash = e["hash"].as_str().expect("hash");
        assert!(
            hash.starts_with("sha256:") && hash.len() == 71,
            "hash format: {hash}"
        );
        assert_ne!(hash, prev, "hash equals prev_hash at seq {}", i + 1);
        prev = hash.to_owned();
    }
}

/// Adds an organisation in `area`.
async fn add_org(app: &TestApp, code: &str, kind: &str, area: &str) {
    admin::add_organization(
        &app.services,
        NewOrganization {
            code: code.to_owned(),
            name: format!("{code} テスト施設"),
            kind: kind.to_owned(),
            area: area.to_owned(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("add organization {code}: {e:?}"));
}

/// Adds a practitioner and returns a bearer token for them.
async fn staff(app: &TestApp, org: &str, login: &str, profession: &str, roles: &[&str]) -> String {
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.to_owned(),
            login: login.to_owned(),
            name: format!("{login} テスト"),
            profession: profession.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            password: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("add practitioner {login}: {e:?}"));
    admin::issue_token(&app.services, login, "journey", None)
        .await
        .unwrap_or_else(|e| panic!("issue token for {login}: {e:?}"))
}

/// The service's now (moved by `clock.advance`).
fn now(app: &TestApp) -> DateTime<Utc> {
    app.services.now()
}

/// Registers a patient at `org` and enrols them on `pathway`; returns the plan id.
async fn enrol(
    app: &TestApp,
    token: &str,
    org: &str,
    pathway: &str,
    version: Option<u32>,
    started_at: DateTime<Utc>,
) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let res = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("ヤマダ", "タロウ", "1944-02-11", org, &ident[..12]),
            None,
        )
        .await;
    res.assert_status(201);
    let mut body =
        json!({"patient_id": res.body["id"], "pathway": pathway, "started_at": jst(started_at)});
    match version {
        Some(v) => body["version"] = json!(v),
        None => {
            if let Some(v) = crate::support::latest_variant(pathway) {
                body["variant"] = json!(v);
            }
        }
    }
    let res = app
        .post_json("/api/v1/care-plans", token, &body, None)
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("plan id").to_owned()
}

/// Records the patient's consent to sharing with the care team.
async fn consent(app: &TestApp, token: &str, plan: &str, at: DateTime<Utc>) {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/consents"),
        token,
        &json!({"scope": "care_team", "purposes": ["care"], "method": "paper", "signer": "self",
                "obtained_at": jst(at)}),
        None,
    )
    .await
    .assert_status(201);
}

fn entry_body(stage: &str, kind: &str, at: DateTime<Utc>, values: Value) -> Value {
    json!({"stage": stage, "kind": kind, "effective_at": jst(at), "values": values})
}

async fn post_entry(app: &TestApp, token: &str, plan: &str, body: &Value) -> ApiResponse {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/entries"),
        token,
        body,
        None,
    )
    .await
}

/// Appends an entry and asserts 201.
async fn add(
    app: &TestApp,
    token: &str,
    plan: &str,
    stage: &str,
    kind: &str,
    at: DateTime<Utc>,
    values: Value,
) -> Value {
    let res = post_entry(app, token, plan, &entry_body(stage, kind, at, values)).await;
    res.assert_status(201);
    res.body
}

async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let res = app.get(path, token).await;
    res.assert_status(200);
    res.body
}

async fn plan_entries(app: &TestApp, token: &str, plan: &str) -> Vec<Value> {
    get_ok(app, &format!("/api/v1/care-plans/{plan}/entries"), token).await["entries"]
        .as_array()
        .expect("entries")
        .clone()
}

/// The entries of one kind.
fn of_kind<'a>(entries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["kind"] == kind).collect()
}

async fn goal(app: &TestApp, token: &str, plan: &str, code: &str) -> Value {
    let goals = get_ok(app, &format!("/api/v1/care-plans/{plan}/goals"), token).await;
    goals["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .find(|g| g["code"] == code)
        .unwrap_or_else(|| panic!("goal {code} missing: {goals}"))
        .clone()
}

async fn schedule_rule(app: &TestApp, token: &str, plan: &str, code: &str) -> Value {
    let s = get_ok(app, &format!("/api/v1/care-plans/{plan}/schedule"), token).await;
    s["schedule"]
        .as_array()
        .expect("schedule")
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("schedule rule {code} missing: {s}"))
        .clone()
}

async fn worklist(app: &TestApp, token: &str) -> Value {
    get_ok(app, "/api/v1/worklist", token).await
}

/// `(care_plan_id, subject, state)` of every item of one list, after checking that the
/// count matches the items (lists here are short).
fn items(wl: &Value, list: &str) -> Vec<(String, String, String)> {
    let l = &wl[list];
    let items = l["items"]
        .as_array()
        .unwrap_or_else(|| panic!("worklist {list} missing: {wl}"));
    assert_eq!(l["count"], json!(items.len()), "count of {list}: {wl}");
    items
        .iter()
        .map(|i| {
            (
                i["care_plan_id"].as_str().unwrap_or_default().to_owned(),
                i["subject"].as_str().unwrap_or_default().to_owned(),
                i["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn item(plan: &str, subject: &str, state: &str) -> (String, String, String) {
    (plan.to_owned(), subject.to_owned(), state.to_owned())
}

/// POSTs a hand-over move (`accept` / `decline` / `withdraw`) with an optional If-Match.
async fn handover_move(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> ApiResponse {
    let mut req = app
        .request(Method::POST, &format!("/api/v1/handovers/{id}/{action}"))
        .bearer_auth(token);
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

/// POSTs to a plan lifecycle route with an optional If-Match.
async fn lifecycle(
    app: &TestApp,
    token: &str,
    plan: &str,
    action: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> ApiResponse {
    let mut req = app
        .request(Method::POST, &format!("/api/v1/care-plans/{plan}/{action}"))
        .bearer_auth(token);
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

fn etag(res: &ApiResponse) -> String {
    res.headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no ETag header: {:?}", res.headers))
        .to_owned()
}

/// Proposes a hand-over and checks the 201 with ETag "1"; returns the hand-over.
async fn propose(app: &TestApp, token: &str, plan: &str, to: &str, stage: &str) -> Value {
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/handovers"),
            token,
            &json!({"to_organization": to, "stage": stage, "note": "ADL評価・嚥下評価済み"}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(etag(&res), "\"1\"");
    assert_eq!(res.body["state"], "proposed", "{}", res.text);
    assert_eq!(res.body["version"], 1);
    res.body
}

/// The chain as the API shows it is unbroken, and `renkei verify` (the same function)
/// finds nothing wrong anywhere in the database.
async fn assert_verified(app: &TestApp, token: &str, plan: &str) {
    assert_chain(&plan_entries(app, token, plan).await);
    let report = renkei_service::verify::verify(&app.services.db)
        .await
        .expect("verify runs");
    assert!(report.problems.is_empty(), "verify: {:?}", report.problems);
    assert!(report.entries > 0);
}

/// When a report back for a stage that ended at `ended` is due by default: the last
/// second of the following month, Japan time.
/// The Asia/Tokyo calendar date of a moment.
fn tokyo_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&FixedOffset::east_opt(9 * 3600).expect("+09:00"))
        .date_naive()
}

fn end_of_following_month_jst(ended: DateTime<Utc>) -> DateTime<Utc> {
    let tz = FixedOffset::east_opt(9 * 3600).expect("JST");
    let d = ended.with_timezone(&tz).date_naive();
    let (y, m) = if d.month() >= 11 {
        (d.year() + 1, d.month() - 10)
    } else {
        (d.year(), d.month() + 2)
    };
    let first = NaiveDate::from_ymd_opt(y, m, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    tz.from_local_datetime(&first)
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc)
        - Duration::seconds(1)
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("not RFC 3339: {v}: {e}"))
        .with_timezone(&Utc)
}

// ====================================================================== 1. stroke

/// Enrol at the acute hospital, find a recovery hospital in the directory, hand over,
/// FIM at admission and discharge, report back, hand over to the clinic for home — with
/// the worklists of every organisation checked along the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stroke_journey_from_acute_through_recovery_to_home() {
    let app = app_or_skip!();
    add_org(&app, "acute-1", "acute_hospital", AREA).await;
    add_org(&app, "recovery-1", "recovery_hospital", AREA).await;
    add_org(&app, "recovery-far", "recovery_hospital", OTHER_AREA).await;
    add_org(&app, "clinic-1", "clinic", AREA).await;
    let a = staff(&app, "acute-1", "a-nurse", "nurse", &[]).await;
    let a_doc = staff(&app, "acute-1", "a-doc", "physician", &[]).await;
    let r = staff(&app, "recovery-1", "r-nurse", "nurse", &[]).await;
    let r_liaison = staff(&app, "recovery-1", "r-liaison", "liaison_staff", &[]).await;
    let far_admin = staff(
        &app,
        "recovery-far",
        "far-admin",
        "physician",
        &["org_admin"],
    )
    .await;
    let c = staff(&app, "clinic-1", "c-doc", "physician", &[]).await;
    let c_admin = staff(&app, "clinic-1", "c-admin", "nurse", &["org_admin"]).await;

    // --- the directory (手挙げ): only the organisation's admin or liaison staff declare.
    let declare = |org: &'static str, stages: Value| json!({"pathway": "stroke", "stages": stages, "note": format!("{org}: 脳卒中パス受入れ可")});
    app.post_json(
        "/api/v1/organizations/recovery-1/declarations",
        &r,
        &declare("recovery-1", json!(["recovery"])),
        None,
    )
    .await
    .assert_problem(403, None);
    app.post_json(
        "/api/v1/organizations/recovery-1/declarations",
        &a,
        &declare("recovery-1", json!(["recovery"])),
        None,
    )
    .await
    .assert_problem(403, None);
    let first = app
        .post_json(
            "/api/v1/organizations/recovery-1/declarations",
            &r_liaison,
            &declare("recovery-1", json!(["acute"])),
            None,
        )
        .await;
    first.assert_status(201);
    app.post_json(
        "/api/v1/organizations/recovery-1/declarations",
        &r_liaison,
        &declare("recovery-1", json!(["recovery"])),
        None,
    )
    .await
    .assert_status(201);
    app.post_json(
        "/api/v1/organizations/recovery-1/declarations",
        &r_liaison,
        &declare("recovery-1", json!(["rehab"])),
        None,
    )
    .await
    .assert_problem(422, Some("stages[0]"));
    app.post_json(
        "/api/v1/organizations/recovery-far/declarations",
        &far_admin,
        &declare("recovery-far", json!(["recovery"])),
        None,
    )
    .await
    .assert_status(201);
    app.post_json(
        "/api/v1/organizations/clinic-1/declarations",
        &c_admin,
        &declare("clinic-1", json!(["home"])),
        None,
    )
    .await
    .assert_status(201);
    // History is kept: the first declaration is superseded, not gone.
    let history = get_ok(&app, "/api/v1/organizations/recovery-1/declarations", &a).await;
    let history = history["declarations"].as_array().expect("declarations");
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        history
            .iter()
            .any(|d| d["id"] == first.body["id"] && d["superseded_at"].is_string())
    );
    assert_eq!(
        history
            .iter()
            .filter(|d| d["superseded_at"].is_null())
            .count(),
        1
    );

    let found = app
        .get_query(
            "/api/v1/directory",
            &a,
            &[("pathway", "stroke"), ("stage", "recovery"), ("area", AREA)],
        )
        .await;
    found.assert_status(200);
    let codes: Vec<&str> = found.body["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .filter_map(|o| o["code"].as_str())
        .collect();
    assert_eq!(codes, ["recovery-1"], "{}", found.text);
    assert_eq!(found.body["organizations"][0]["area"], AREA);
    let everywhere = app
        .get_query(
            "/api/v1/directory",
            &a,
            &[("pathway", "stroke"), ("stage", "recovery")],
        )
        .await;
    assert_eq!(
        everywhere.body["organizations"].as_array().map(Vec::len),
        Some(2)
    );
    let target = codes[0].to_owned();

    // --- enrolment at the acute hospital, consent.
    let t0 = now(&app) - Duration::days(80);
    let plan = enrol(&app, &a, "acute-1", "stroke", None, t0).await;
    consent(&app, &a, &plan, t0 + Duration::minutes(20)).await;
    let wl = worklist(&app, &a).await;
    assert!(items(&wl, "consent_missing").is_empty());

    // --- acute stage.
    let acute_start = t0 + Duration::minutes(30);
    add(
        &app,
        &a,
        &plan,
        "acute",
        "stage_start",
        acute_start,
        json!({"nihss_total": 10, "mrs_premorbid": 0}),
    )
    .await;
    add(
        &app,
        &a_doc,
        &plan,
        "acute",
        "assessment",
        acute_start + Duration::days(1),
        json!({"mrs": 4, "nihss_total": 8, "swallow_grade": 7}),
    )
    .await;
    let acute_end = acute_start + Duration::days(14);
    // mrs is required at the end of the acute stage.
    post_entry(
        &app,
        &a,
        &plan,
        &entry_body("acute", "stage_end", acute_end, json!({})),
    )
    .await
    .assert_problem(422, Some("values.mrs"));
    add(
        &app,
        &a,
        &plan,
        "acute",
        "stage_end",
        acute_end,
        json!({"mrs": 4}),
    )
    .await;
    // The recovery hospital does not see the plan yet.
    app.get(&format!("/api/v1/care-plans/{plan}"), &r)
        .await
        .assert_problem(404, None);

    // --- hand-over to the recovery hospital found in the directory.
    let h = propose(&app, &a, &plan, &target, "recovery").await;
    let hid = h["id"].as_str().expect("id").to_owned();
    assert_eq!(h["from_organization"], "acute-1");
    assert_eq!(h["to_organization"], "recovery-1");
    assert_eq!(h["from_stage"], "acute");
    let summary = &h["summary"];
    let g1 = summary["goals"]
        .as_array()
        .expect("summary goals")
        .iter()
        .find(|g| g["code"] == "g1_transfer_on_time")
        .unwrap_or_else(|| panic!("g1 in summary: {summary}"));
    assert_eq!(g1["status"], "met", "{summary}");
    assert_eq!(summary["latest_values"]["mrs"]["value"], 4, "{summary}");
    assert_eq!(
        summary["latest_values"]["nihss_total"]["value"], 8,
        "{summary}"
    );
    assert_eq!(summary["stage_outcome"]["stage"], "acute");
    // The admission day is day 1.
    assert_eq!(summary["stage_outcome"]["length_of_stay_days"], 15);
    assert_eq!(summary["note"], "ADL評価・嚥下評価済み");

    let wl_r = worklist(&app, &r).await;
    assert_eq!(
        items(&wl_r, "handovers_incoming"),
        [item(&plan, &hid, "proposed")]
    );
    let wl_a = worklist(&app, &a).await;
    assert_eq!(
        items(&wl_a, "handovers_outgoing"),
        [item(&plan, &hid, "proposed")]
    );
    assert!(items(&wl_a, "handovers_incoming").is_empty());

    // The receiver reads the referral (ETag "1"), then accepts with If-Match.
    let seen = app.get(&format!("/api/v1/handovers/{hid}"), &r).await;
    seen.assert_status(200);
    assert_eq!(etag(&seen), "\"1\"");
    assert_eq!(seen.body["summary"], h["summary"]);
    let accepted = handover_move(&app, &r, &hid, "accept", Some("\"1\""), None).await;
    accepted.assert_status(200);
    assert_eq!(etag(&accepted), "\"2\"");
    assert_eq!(accepted.body["state"], "accepted");
    assert_eq!(accepted.body["version"], 2);

    assert!(items(&worklist(&app, &r).await, "handovers_incoming").is_empty());
    assert_eq!(
        items(&worklist(&app, &a).await, "handovers_outgoing"),
        [item(&plan, &hid, "accepted")]
    );
    // The receiver now sees the plan; the sender (the planning hospital) may not start
    // the new stage.
    get_ok(&app, &format!("/api/v1/care-plans/{plan}"), &r).await;
    let recovery_start = acute_end + Duration::hours(4);
    post_entry(
        &app,
        &a,
        &plan,
        &entry_body("recovery", "stage_start", recovery_start, json!({})),
    )
    .await
    .assert_problem(403, None);

    // --- recovery stage: FIM on admission (18 items) and discharge.
    let admission = add(
        &app,
        &r,
        &plan,
        "recovery",
        "stage_start",
        recovery_start,
        Value::Object(fim([3; 18])),
    )
    .await;
    assert_eq!(
        admission["values"]["fim_total"], 54,
        "fim_total is computed"
    );
    let done = get_ok(&app, &format!("/api/v1/handovers/{hid}"), &r).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(done["completed_at"].is_string());
    assert!(items(&worklist(&app, &a).await, "handovers_outgoing").is_empty());

    // The sender keeps read access and may add notes, but no stage entries.
    get_ok(&app, &format!("/api/v1/care-plans/{plan}"), &a).await;
    let mut note = entry_body(
        "recovery",
        "note",
        recovery_start + Duration::days(1),
        json!({}),
    );
    note["note"] = json!("急性期主治医より: 抗血小板薬継続をお願いします");
    post_entry(&app, &a, &plan, &note).await.assert_status(201);
    post_entry(
        &app,
        &a,
        &plan,
        &entry_body(
            "recovery",
            "assessment",
            recovery_start + Duration::days(1),
            json!({"mrs": 3}),
        ),
    )
    .await
    .assert_problem(403, None);

    add(
        &app,
        &r,
        &plan,
        "recovery",
        "assessment",
        recovery_start + Duration::days(30),
        json!({"mrs": 3}),
    )
    .await;
    let discharge_at = recovery_start + Duration::days(60);
    add(
        &app,
        &r,
        &plan,
        "recovery",
        "assessment",
        discharge_at,
        Value::Object(fim([5; 18])),
    )
    .await;
    post_entry(
        &app,
        &r,
        &plan,
        &entry_body(
            "recovery",
            "stage_end",
            discharge_at + Duration::hours(1),
            json!({"mrs": 2}),
        ),
    )
    .await
    .assert_problem(422, Some("values.destination"));
    // No report is due before the stage ends.
    let none = get_ok(&app, &format!("/api/v1/care-plans/{plan}/reports"), &r).await;
    assert_eq!(none["reports"], json!([]));
    let recovery_end = discharge_at + Duration::hours(1);
    add(
        &app,
        &r,
        &plan,
        "recovery",
        "stage_end",
        recovery_end,
        json!({"destination": "home", "mrs": 2}),
    )
    .await;

    // --- the report back to the planning hospital.
    let reports = get_ok(&app, &format!("/api/v1/care-plans/{plan}/reports"), &a).await;
    let reports = reports["reports"].as_array().expect("reports").clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let rep = &reports[0];
    let rid = rep["id"].as_str().expect("report id").to_owned();
    assert_eq!(rep["stage"], "recovery");
    assert_eq!(rep["from_organization"], "recovery-1");
    assert_eq!(rep["to_organization"], "acute-1");
    assert!(rep["sent_at"].is_null());
    assert_eq!(rep["overdue"], false);
    assert_eq!(
        parse_time(&rep["due_at"]),
        end_of_following_month_jst(recovery_end),
        "{rep}"
    );
    let content = &rep["content"];
    assert_eq!(
        content["fim_total_admission"].as_f64(),
        Some(54.0),
        "{content}"
    );
    assert_eq!(
        content["fim_total_discharge"].as_f64(),
        Some(90.0),
        "{content}"
    );
    assert_eq!(content["fim_total_gain"].as_f64(), Some(36.0), "{content}");
    // Tokyo calendar days, the admission day being day 1.
    let stay = (tokyo_day(recovery_end) - tokyo_day(recovery_start)).num_days() + 1;
    assert_eq!(content["length_of_stay_days"], stay, "{content}");
    assert_eq!(content["destination"], "home");

    assert_eq!(
        items(&worklist(&app, &r).await, "reports_owed"),
        [item(&plan, &rid, "due")]
    );
    assert_eq!(
        items(&worklist(&app, &a).await, "reports_owed_to_me"),
        [item(&plan, &rid, "due")]
    );
    assert!(items(&worklist(&app, &a).await, "reports_owed").is_empty());

    // Only the recovery hospital sends it, once.
    app.post_json(&format!("/api/v1/reports/{rid}/send"), &a, &json!({}), None)
        .await
        .assert_problem(403, None);
    let sent = app
        .post_json(
            &format!("/api/v1/reports/{rid}/send"),
            &r,
            &json!({"note": "自宅退院。FIM 54→90。"}),
            None,
        )
        .await;
    sent.assert_status(200);
    assert!(sent.body["sent_at"].is_string());
    app.post_json(&format!("/api/v1/reports/{rid}/send"), &r, &json!({}), None)
        .await
        .assert_problem(409, None);
    assert!(items(&worklist(&app, &r).await, "reports_owed").is_empty());
    assert!(items(&worklist(&app, &a).await, "reports_owed_to_me").is_empty());
    let all = plan_entries(&app, &a, &plan).await;
    let report_entries = of_kind(&all, "report");
    assert_eq!(report_entries.len(), 1);
    assert_eq!(report_entries[0]["values"]["report_id"], rid.as_str());
    assert_eq!(report_entries[0]["organization"]["code"], "recovery-1");

    for (code, status) in [
        ("g2_fim_gain", "met"),
        ("g3_return_home", "met"),
        ("g4_recovery_within_limit", "met"),
    ] {
        assert_eq!(
            goal(&app, &a, &plan, code).await["status"],
            status,
            "{code}"
        );
    }

    // --- hand-over to the clinic for the home stage.
    let h2 = propose(&app, &r, &plan, "clinic-1", "home").await;
    let h2id = h2["id"].as_str().expect("id").to_owned();
    assert_eq!(
        h2["summary"]["stage_outcome"]["fim_total_gain"].as_f64(),
        Some(36.0)
    );
    assert_eq!(
        items(&worklist(&app, &c).await, "handovers_incoming"),
        [item(&plan, &h2id, "proposed")]
    );
    assert_eq!(
        items(&worklist(&app, &r).await, "handovers_outgoing"),
        [item(&plan, &h2id, "proposed")]
    );
    assert!(items(&worklist(&app, &a).await, "handovers_outgoing").is_empty());
    handover_move(&app, &c, &h2id, "accept", Some("\"1\""), None)
        .await
        .assert_status(200);
    let home_start = now(&app) - Duration::days(2);
    add(
        &app,
        &c,
        &plan,
        "home",
        "stage_start",
        home_start,
        json!({"bp_sys": 138, "bp_dia": 84}),
    )
    .await;
    assert_eq!(
        get_ok(&app, &format!("/api/v1/handovers/{h2id}"), &c).await["state"],
        "completed"
    );
    for t in [&a, &r, &c] {
        let wl = worklist(&app, t).await;
        assert!(items(&wl, "handovers_incoming").is_empty(), "{wl}");
        assert!(items(&wl, "handovers_outgoing").is_empty(), "{wl}");
        assert!(items(&wl, "reports_owed").is_empty(), "{wl}");
    }
    // The earlier owners keep reading and adding notes, but write no stage entries in the
    // clinic's stage.
    let mut note = entry_body("home", "note", now(&app), json!({}));
    note["note"] = json!("回復期より: 自主トレーニング継続");
    post_entry(&app, &r, &plan, &note).await.assert_status(201);
    post_entry(&app, &a, &plan, &note).await.assert_status(201);
    for t in [&a, &r] {
        post_entry(
            &app,
            t,
            &plan,
            &entry_body("home", "stage_end", now(&app), json!({})),
        )
        .await
        .assert_problem(403, None);
    }
    post_entry(
        &app,
        &a,
        &plan,
        &entry_body("home", "assessment", now(&app), json!({"bp_sys": 120})),
    )
    .await
    .assert_problem(403, None);
    post_entry(
        &app,
        &r,
        &plan,
        &entry_body("home", "assessment", now(&app), json!({"bp_sys": 120})),
    )
    .await
    .assert_problem(403, None);
    let p = get_ok(&app, &format!("/api/v1/care-plans/{plan}"), &c).await;
    assert_eq!(p["current_stage"], "home");
    assert_eq!(p["status"], "active");

    // --- every move is in the chain, and the chain verifies.
    let all = plan_entries(&app, &c, &plan).await;
    let moves: Vec<(String, String)> = of_kind(&all, "handover")
        .iter()
        .map(|e| {
            (
                e["values"]["handover_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["values"]["event"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        (&hid, "proposed"),
        (&hid, "accepted"),
        (&hid, "completed"),
        (&h2id, "proposed"),
        (&h2id, "accepted"),
        (&h2id, "completed"),
    ]
    .iter()
    .map(|(h, e)| ((*h).clone(), (*e).to_owned()))
    .collect();
    assert_eq!(moves, expected);
    let stages: Vec<(&str, &str)> = all
        .iter()
        .filter(|e| e["kind"] == "stage_start" || e["kind"] == "stage_end")
        .map(|e| {
            (
                e["stage"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("acute", "stage_start"),
            ("acute", "stage_end"),
            ("recovery", "stage_start"),
            ("recovery", "stage_end"),
            ("home", "stage_start")
        ]
    );
    assert_verified(&app, &a, &plan).await;
}

// ====================================================================== 2. hand-over rules

/// Issue 4: "the sender keeps read access and may add notes but not stage entries" —
/// also when the sender is the planning hospital.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_sender_writes_no_stage_entries() {
    let Some(HandoverSetup { app, a, r, .. }) = handover_setup().await else {
        return;
    };
    let plan = acute_done(&app, &a).await;
    let h = propose(&app, &a, &plan, "recovery-1", "recovery").await;
    let hid = h["id"].as_str().expect("id").to_owned();
    handover_move(&app, &r, &hid, "accept", Some("\"1\""), None)
        .await
        .assert_status(200);
    let at = now(&app) - Duration::days(1);
    post_entry(
        &app,
        &a,
        &plan,
        &entry_body("recovery", "stage_start", at, json!({})),
    )
    .await
    .assert_problem(403, None);
    add(&app, &r, &plan, "recovery", "stage_start", at, json!({})).await;
    post_entry(
        &app,
        &a,
        &plan,
        &entry_body("recovery", "assessment", at, json!({"mrs": 3})),
    )
    .await
    .assert_problem(403, None);
    let mut note = entry_body("recovery", "note", at, json!({}));
    note["note"] = json!("急性期より");
    post_entry(&app, &a, &plan, &note).await.assert_status(201);
}

struct HandoverSetup {
    app: TestApp,
    /// acute-1 nurse (sender).
    a: String,
    /// recovery-1 nurse (receiver).
    r: String,
    /// recovery-1 therapist (may not answer).
    r_pt: String,
    /// recovery-2 nurse (not a party).
    other: String,
}

async fn handover_setup() -> Option<HandoverSetup> {
    let app = TestApp::spawn().await?;
    add_org(&app, "acute-1", "acute_hospital", AREA).await;
    add_org(&app, "recovery-1", "recovery_hospital", AREA).await;
    add_org(&app, "recovery-2", "recovery_hospital", AREA).await;
    let a = staff(&app, "acute-1", "a-nurse", "nurse", &[]).await;
    let r = staff(&app, "recovery-1", "r-nurse", "nurse", &[]).await;
    let r_pt = staff(&app, "recovery-1", "r-pt", "therapist", &[]).await;
    let other = staff(&app, "recovery-2", "o-nurse", "nurse", &[]).await;
    Some(HandoverSetup {
        app,
        a,
        r,
        r_pt,
        other,
    })
}

/// A stroke plan whose acute stage has ended, with consent.
async fn acute_done(app: &TestApp, a: &str) -> String {
    let t0 = now(app) - Duration::days(20);
    let plan = enrol(app, a, "acute-1", "stroke", None, t0).await;
    consent(app, a, &plan, t0 + Duration::minutes(5)).await;
    add(
        app,
        a,
        &plan,
        "acute",
        "stage_start",
        t0 + Duration::minutes(10),
        json!({"nihss_total": 6}),
    )
    .await;
    add(
        app,
        a,
        &plan,
        "acute",
        "stage_end",
        t0 + Duration::days(10),
        json!({"mrs": 3}),
    )
    .await;
    plan
}

async fn entry_count(app: &TestApp, token: &str, plan: &str) -> i64 {
    get_ok(app, &format!("/api/v1/care-plans/{plan}"), token).await["entry_count"]
        .as_i64()
        .expect("entry_count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handover_state_machine_and_preconditions() {
    let Some(HandoverSetup {
        app,
        a,
        r,
        r_pt,
        other,
    }) = handover_setup().await
    else {
        return;
    };
    let plan = acute_done(&app, &a).await;

    // Proposals that break the rules write nothing.
    let before = entry_count(&app, &a, &plan).await;
    let bad = |to: &str, stage: &str| json!({"to_organization": to, "stage": stage});
    let url = format!("/api/v1/care-plans/{plan}/handovers");
    app.post_json(&url, &a, &bad("recovery-1", "home"), None)
        .await
        .assert_problem(422, Some("stage"));
    app.post_json(&url, &a, &bad("acute-1", "recovery"), None)
        .await
        .assert_problem(422, Some("to_organization"));
    app.post_json(&url, &a, &bad("nowhere-9", "recovery"), None)
        .await
        .assert_problem(422, Some("to_organization"));
    app.post_json(&url, &r, &bad("recovery-1", "recovery"), None)
        .await
        .assert_problem(404, None);
    assert_eq!(entry_count(&app, &a, &plan).await, before);

    let h = propose(&app, &a, &plan, "recovery-1", "recovery").await;
    let hid = h["id"].as_str().expect("id").to_owned();
    // Only one open hand-over per plan.
    app.post_json(&url, &a, &bad("recovery-2", "recovery"), None)
        .await
        .assert_problem(409, None);

    let before = entry_count(&app, &a, &plan).await;
    // Preconditions: If-Match required (428), current (412).
    handover_move(&app, &r, &hid, "accept", None, None)
        .await
        .assert_problem(428, None);
    handover_move(&app, &r, &hid, "accept", Some("\"7\""), None)
        .await
        .assert_problem(412, None);
    handover_move(&app, &r, &hid, "accept", Some("\"0\""), None)
        .await
        .assert_problem(412, None);
    handover_move(&app, &r, &hid, "accept", Some("garbage"), None)
        .await
        .assert_problem(412, None);
    // The wrong organisation: not a party → 404, the sender → 403; a party's profession
    // that may not answer → 403; the receiver may not withdraw.
    handover_move(&app, &other, &hid, "accept", Some("\"1\""), None)
        .await
        .assert_problem(404, None);
    app.get(&format!("/api/v1/handovers/{hid}"), &other)
        .await
        .assert_problem(404, None);
    handover_move(&app, &a, &hid, "accept", Some("\"1\""), None)
        .await
        .assert_problem(403, None);
    handover_move(&app, &r_pt, &hid, "accept", Some("\"1\""), None)
        .await
        .assert_problem(403, None);
    handover_move(&app, &r, &hid, "withdraw", Some("\"1\""), None)
        .await
        .assert_problem(403, None);
    // A decline needs a reason.
    handover_move(&app, &r, &hid, "decline", Some("\"1\""), Some(json!({})))
        .await
        .assert_problem(422, Some("reason"));
    handover_move(
        &app,
        &r,
        &hid,
        "decline",
        Some("\"1\""),
        Some(json!({"reason": "  "})),
    )
    .await
    .assert_problem(422, Some("reason"));
    assert_eq!(
        entry_count(&app, &a, &plan).await,
        before,
        "refused moves write nothing"
    );
    assert_eq!(
        get_ok(&app, &format!("/api/v1/handovers/{hid}"), &a).await["version"],
        1
    );

    let declined = handover_move(
        &app,
        &r,
        &hid,
        "decline",
        Some("\"1\""),
        Some(json!({"reason": "満床のため"})),
    )
    .await;
    declined.assert_status(200);
    assert_eq!(etag(&declined), "\"2\"");
    assert_eq!(declined.body["state"], "declined");
    assert_eq!(declined.body["decline_reason"], "満床のため");
    // Terminal: accept after decline, decline again, withdraw → 409 (with the current version).
    handover_move(&app, &r, &hid, "accept", Some("\"2\""), None)
        .await
        .assert_problem(409, None);
    handover_move(
        &app,
        &r,
        &hid,
        "decline",
        Some("\"2\""),
        Some(json!({"reason": "再"})),
    )
    .await
    .assert_problem(409, None);
    handover_move(&app, &a, &hid, "withdraw", Some("\"2\""), None)
        .await
        .assert_problem(409, None);
    // With the old version it is the precondition that fails first.
    handover_move(&app, &r, &hid, "accept", Some("\"1\""), None)
        .await
        .assert_problem(412, None);
    assert!(items(&worklist(&app, &r).await, "handovers_incoming").is_empty());
    assert!(items(&worklist(&app, &a).await, "handovers_outgoing").is_empty());

    // A new proposal to another hospital may follow; the sender withdraws it.
    let w = propose(&app, &a, &plan, "recovery-2", "recovery").await;
    let wid = w["id"].as_str().expect("id").to_owned();
    handover_move(&app, &a, &wid, "withdraw", Some("\"1\""), None)
        .await
        .assert_status(200);
    handover_move(&app, &other, &wid, "accept", Some("\"2\""), None)
        .await
        .assert_problem(409, None);

    // Accepted: accepting again, declining and withdrawing are refused.
    let h3 = propose(&app, &a, &plan, "recovery-1", "recovery").await;
    let h3id = h3["id"].as_str().expect("id").to_owned();
    let acc = handover_move(&app, &r, &h3id, "accept", Some("\"1\""), None).await;
    acc.assert_status(200);
    assert_eq!(etag(&acc), "\"2\"");
    handover_move(&app, &r, &h3id, "accept", Some("\"2\""), None)
        .await
        .assert_problem(409, None);
    handover_move(
        &app,
        &r,
        &h3id,
        "decline",
        Some("\"2\""),
        Some(json!({"reason": "やはり"})),
    )
    .await
    .assert_problem(409, None);
    handover_move(&app, &a, &h3id, "withdraw", Some("\"2\""), None)
        .await
        .assert_problem(409, None);
    // Still open (accepted, waiting for the stage start): no second proposal.
    app.post_json(&url, &a, &bad("recovery-2", "recovery"), None)
        .await
        .assert_problem(409, None);

    let list = get_ok(&app, &format!("/api/v1/care-plans/{plan}/handovers"), &a).await;
    let states: Vec<&str> = list["handovers"]
        .as_array()
        .expect("handovers")
        .iter()
        .filter_map(|h| h["state"].as_str())
        .collect();
    assert_eq!(states, ["declined", "withdrawn", "accepted"]);
    let all = plan_entries(&app, &a, &plan).await;
    let events: Vec<&str> = of_kind(&all, "handover")
        .iter()
        .filter_map(|e| e["values"]["event"].as_str())
        .collect();
    assert_eq!(
        events,
        [
            "proposed",
            "declined",
            "proposed",
            "withdrawn",
            "proposed",
            "accepted"
        ]
    );
    assert_eq!(of_kind(&all, "handover")[1]["note"], "満床のため");
    assert_verified(&app, &a, &plan).await;
}

/// Eight clients answer the same proposal at once with the same If-Match: exactly one
/// wins, the others get 412 (or 409), and the chain holds exactly one answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accept_and_decline_of_one_handover() {
    const CLIENTS: usize = 8;
    let Some(HandoverSetup { app, a, .. }) = handover_setup().await else {
        return;
    };
    let mut tokens = Vec::new();
    for i in 0..CLIENTS {
        tokens.push(staff(&app, "recovery-1", &format!("r-race-{i}"), "nurse", &[]).await);
    }
    for round in 0..3 {
        let plan = acute_done(&app, &a).await;
        let h = propose(&app, &a, &plan, "recovery-1", "recovery").await;
        let hid = h["id"].as_str().expect("id").to_owned();
        let url = app.url(&format!("/api/v1/handovers/{hid}"));
        let barrier = Arc::new(Barrier::new(CLIENTS));
        let mut tasks = JoinSet::new();
        for (i, token) in tokens.iter().cloned().enumerate() {
            let barrier = barrier.clone();
            let url = url.clone();
            tasks.spawn(async move {
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .expect("client");
                let (action, body) = if (i + round) % 2 == 0 {
                    ("accept", None)
                } else {
                    ("decline", Some(json!({"reason": format!("client {i}")})))
                };
                let mut req = client
                    .post(format!("{url}/{action}"))
                    .bearer_auth(&token)
                    .header("If-Match", "\"1\"");
                if let Some(b) = body {
                    req = req.json(&b);
                }
                barrier.wait().await;
                let res = send(req).await;
                (action, res)
            });
        }
        let mut winners = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (action, res) = done.expect("client task");
            match res.status.as_u16() {
                200 => winners.push((action, res.body)),
                412 | 409 => {}
                other => panic!(
                    "round {round}: unexpected {other} for {action}: {}",
                    res.text
                ),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one move wins: {winners:?}"
        );
        let (action, body) = &winners[0];
        let state = if *action == "accept" {
            "accepted"
        } else {
            "declined"
        };
        assert_eq!(body["state"], state);
        let now_h = get_ok(&app, &format!("/api/v1/handovers/{hid}"), &a).await;
        assert_eq!(now_h["state"], state, "round {round}");
        assert_eq!(now_h["version"], 2, "round {round}");
        let all = plan_entries(&app, &a, &plan).await;
        let answers: Vec<&Value> = of_kind(&all, "handover")
            .into_iter()
            .filter(|e| {
                e["values"]["handover_id"] == hid.as_str() && e["values"]["event"] != "proposed"
            })
            .collect();
        assert_eq!(
            answers.len(),
            1,
            "round {round}: one answer in the chain: {answers:?}"
        );
        assert_eq!(answers[0]["values"]["event"], state);
        assert_chain(&all);
    }
    let report = renkei_service::verify::verify(&app.services.db)
        .await
        .expect("verify");
    assert!(report.problems.is_empty(), "verify: {:?}", report.problems);
}

// ====================================================================== 3. femur

/// A late operation (60 h after arrival) leaves h1_early_surgery not met; the sweep
/// records exactly one system-authored variance for it, and never twice; a variance a
/// person recorded for a goal keeps the sweep from raising that goal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn femur_late_surgery_raises_one_automatic_variance() {
    let app = app_or_skip!();
    add_org(&app, "acute-1", "acute_hospital", AREA).await;
    let a = staff(&app, "acute-1", "a-nurse", "nurse", &[]).await;
    let t0 = now(&app) - Duration::days(6);
    let arrival = t0 + Duration::days(1);

    let femur = |surgery_after_h: i64| {
        let app = &app;
        let a = &a;
        async move {
            // Pinned to v1: this journey reads v1's arrival clock (`arrival_at`) and its h1
            // for every age; v2 counts from `er_arrival_at` for patients aged 75 and over.
            let plan = enrol(app, a, "acute-1", "femur-fracture", Some(1), t0).await;
            add(
                app,
                a,
                &plan,
                "acute",
                "stage_start",
                arrival,
                json!({"arrival_at": jst(arrival), "fracture_type": "neck"}),
            )
            .await;
            let surgery = arrival + Duration::hours(surgery_after_h);
            add(
                app,
                a,
                &plan,
                "acute",
                "assessment",
                surgery,
                json!({"surgery_at": jst(surgery)}),
            )
            .await;
            let loading = surgery + Duration::hours(24);
            add(
                app,
                a,
                &plan,
                "acute",
                "assessment",
                loading,
                json!({"loading_started_at": jst(loading)}),
            )
            .await;
            plan
        }
    };
    let late = femur(60).await;
    let on_time = femur(20).await;

    let h1 = goal(&app, &a, &late, "h1_early_surgery").await;
    assert_eq!(h1["status"], "not_met", "{h1}");
    assert_eq!(h1["latest"]["value"].as_f64(), Some(60.0), "{h1}");
    assert_eq!(
        goal(&app, &a, &late, "h2_early_loading").await["status"],
        "met"
    );
    assert_eq!(
        goal(&app, &a, &on_time, "h1_early_surgery").await["status"],
        "met"
    );

    // A person explains in advance why the transfer will be late (for h3).
    let mut explained = entry_body(
        "acute",
        "variance",
        now(&app) - Duration::hours(1),
        json!({}),
    );
    explained["variance"] = json!({"code": "NEG.VAR.CO.RECEIVE", "goal": "h3_timely_transfer",
                                  "note": "回復期病棟の空床待ち"});
    post_entry(&app, &a, &late, &explained)
        .await
        .assert_status(201);
    let mut unknown_goal = explained.clone();
    unknown_goal["variance"]["goal"] = json!("h99");
    post_entry(&app, &a, &late, &unknown_goal)
        .await
        .assert_problem(422, Some("variance.goal"));

    let automatic = |entries: &[Value]| -> Vec<Value> {
        entries
            .iter()
            .filter(|e| e["kind"] == "variance" && e["variance"]["automatic"] == true)
            .cloned()
            .collect()
    };

    let written = app
        .services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    assert_eq!(written, 1, "only the late surgery is a finding");
    let entries = plan_entries(&app, &a, &late).await;
    let auto = automatic(&entries);
    assert_eq!(auto.len(), 1, "{auto:?}");
    let v = &auto[0];
    assert_eq!(v["author"]["id"], SYSTEM_PRACTITIONER_ID.to_string(), "{v}");
    assert_eq!(v["variance"]["automatic"], true);
    assert_eq!(v["variance"]["goal"], "h1_early_surgery");
    assert_eq!(v["variance"]["reason"], "goal_not_met");
    assert_eq!(v["stage"], "acute");
    assert!(
        v["note"].as_str().is_some_and(|n| n.starts_with("[自動]")),
        "{v}"
    );
    assert!(automatic(&plan_entries(&app, &a, &on_time).await).is_empty());

    // Sweeping again adds nothing.
    assert_eq!(
        app.services
            .sweep_automatic_variances()
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(plan_entries(&app, &a, &late).await.len(), entries.len());

    // Twenty days on, the acute stage passes its 21 days on both plans: only the plan
    // without a person's variance for h3 gets an automatic one.
    app.services.clock.advance(Duration::days(20));
    assert_eq!(
        goal(&app, &a, &late, "h3_timely_transfer").await["status"],
        "overdue"
    );
    assert_eq!(
        goal(&app, &a, &on_time, "h3_timely_transfer").await["status"],
        "overdue"
    );
    let overdue = items(&worklist(&app, &a).await, "goals_overdue");
    assert!(
        overdue.contains(&item(&late, "h3_timely_transfer", "overdue")),
        "{overdue:?}"
    );
    assert!(
        overdue.contains(&item(&on_time, "h3_timely_transfer", "overdue")),
        "{overdue:?}"
    );
    assert_eq!(
        app.services
            .sweep_automatic_variances()
            .await
            .expect("sweep"),
        1
    );
    let auto_late = automatic(&plan_entries(&app, &a, &late).await);
    assert_eq!(
        auto_late.len(),
        1,
        "the person's variance suppresses h3: {auto_late:?}"
    );
    let auto_on_time = automatic(&plan_entries(&app, &a, &on_time).await);
    assert_eq!(auto_on_time.len(), 1, "{auto_on_time:?}");
    assert_eq!(auto_on_time[0]["variance"]["goal"], "h3_timely_transfer");
    assert_eq!(auto_on_time[0]["variance"]["reason"], "goal_overdue");
    assert_eq!(
        app.services
            .sweep_automatic_variances()
            .await
            .expect("sweep"),
        0
    );

    // System entries do not count as activity, and the chains verify.
    assert_verified(&app, &a, &late).await;
    assert_verified(&app, &a, &on_time).await;
}

// ====================================================================== 4. diabetes

/// A monthly clinic visit as an assessment, dated by the service clock.
fn visit(hba1c: f64) -> Value {
    json!({"hba1c": hba1c, "fpg": 128, "bp_sys": 126, "bp_dia": 74, "weight": 64.5, "severe_hypo": 0})
}

/// Two diabetes plans over 18 simulated months (31-day steps of the service clock): one
/// eye exam at month 1, then none. Plan A keeps the default intervals; plan B gets a
/// 180-day eye-exam interval at month 8 and stops coming after month 14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diabetes_eighteen_months_schedule_individual_targets_and_dropout() {
    let app = app_or_skip!();
    add_org(&app, "spec-1", "acute_hospital", AREA).await;
    add_org(&app, "clinic-1", "clinic", AREA).await;
    let s = staff(&app, "spec-1", "s-doc", "physician", &[]).await;
    let c = staff(&app, "clinic-1", "c-doc", "physician", &[]).await;
    let c_nurse = staff(&app, "clinic-1", "c-nurse", "nurse", &[]).await;

    let t0 = now(&app);
    let start = t0 - Duration::days(1);
    let mut plans = Vec::new();
    for _ in 0..2 {
        // Pinned to v1: this journey reads v1's schedule (eye grace 30 days, UACR in the
        // 6-monthly panel) and v1's HbA1c goal for every age.
        let plan = enrol(&app, &s, "spec-1", "diabetes", Some(1), start).await;
        consent(&app, &s, &plan, start + Duration::minutes(10)).await;
        add(
            &app,
            &s,
            &plan,
            "intro",
            "stage_start",
            start + Duration::hours(1),
            visit(8.4),
        )
        .await;
        add(
            &app,
            &s,
            &plan,
            "intro",
            "stage_end",
            start + Duration::hours(3),
            json!({"smoking": "never"}),
        )
        .await;
        let h = propose(&app, &s, &plan, "clinic-1", "clinic").await;
        let hid = h["id"].as_str().expect("id").to_owned();
        handover_move(&app, &c_nurse, &hid, "accept", Some("\"1\""), None)
            .await
            .assert_status(200);
        add(
            &app,
            &c,
            &plan,
            "clinic",
            "stage_start",
            start + Duration::hours(20),
            json!({}),
        )
        .await;
        plans.push(plan);
    }
    let (pa, pb) = (plans[0].clone(), plans[1].clone());

    let eye = |p: &str| {
        let p = p.to_owned();
        let app = &app;
        let c = &c;
        async move { schedule_rule(app, c, &p, "eye_exam").await }
    };

    for month in 1..=18 {
        app.services.clock.advance(Duration::days(31));
        let at = now(&app) - Duration::minutes(1);
        add(&app, &c, &pa, "clinic", "assessment", at, visit(7.5)).await;
        if month <= 14 {
            add(&app, &c, &pb, "clinic", "assessment", at, visit(7.2)).await;
        }
        if month == 1 {
            for p in [&pa, &pb] {
                add(
                    &app,
                    &c,
                    p,
                    "clinic",
                    "assessment",
                    at,
                    json!({"eye_exam_done": true, "retinopathy_l": "ndr", "retinopathy_r": "ndr"}),
                )
                .await;
            }
            let e = eye(&pa).await;
            assert_eq!(e["state"], "scheduled");
            assert_eq!(e["interval_days"], 365);
            assert_eq!(e["grace_days"], 30);
            assert_eq!(e["owner"], "ophthal");
            assert_eq!(
                e["due_date"].as_str(),
                Some(
                    (tokyo_day(parse_time(&e["last_done"])) + Duration::days(365))
                        .to_string()
                        .as_str()
                )
            );
        }
        match month {
            7 => {
                assert_eq!(eye(&pb).await["state"], "scheduled");
            }
            8 => {
                // Plan B: moderate retinopathy found → eye exam every 180 days.
                let url = format!("/api/v1/care-plans/{pb}/individualize");
                app.post_json(
                    &url,
                    &s,
                    &json!({"schedule": "eye_exam", "interval_days": 180, "reason": ""}),
                    None,
                )
                .await
                .assert_problem(422, Some("reason"));
                app.post_json(
                    &url,
                    &s,
                    &json!({"schedule": "eye_check", "interval_days": 180, "reason": "x"}),
                    None,
                )
                .await
                .assert_problem(422, Some("schedule"));
                app.post_json(
                    &url,
                    &c_nurse,
                    &json!({"schedule": "eye_exam", "interval_days": 180, "reason": "x"}),
                    None,
                )
                .await
                .assert_problem(403, None);
                app.post_json(&url, &s,
                    &json!({"schedule": "eye_exam", "interval_days": 180, "reason": "単純網膜症(SDR)のため6か月毎"}), None)
                    .await
                    .assert_status(204);
                let b = eye(&pb).await;
                assert_eq!(b["interval_days"], 180);
                assert_eq!(b["individualised"], true);
                assert_eq!(
                    b["state"], "overdue",
                    "180 + 30 days have passed since month 1: {b}"
                );
                assert_eq!(
                    b["due_date"].as_str(),
                    Some(
                        (tokyo_day(parse_time(&b["last_done"])) + Duration::days(180))
                            .to_string()
                            .as_str()
                    )
                );
                let a = eye(&pa).await;
                assert_eq!(a["state"], "scheduled", "plan A keeps 365 days: {a}");
                assert_eq!(a["individualised"], false);
                let wl = worklist(&app, &c).await;
                let due = items(&wl, "schedule_due");
                assert!(due.contains(&item(&pb, "eye_exam", "overdue")), "{due:?}");
                assert!(
                    !due.iter().any(|(p, s, _)| p == &pa && s == "eye_exam"),
                    "{due:?}"
                );
            }
            12 => assert_eq!(eye(&pa).await["state"], "scheduled"),
            13 => assert_eq!(
                eye(&pa).await["state"],
                "due",
                "past 365 days, within the grace"
            ),
            14 => {
                let a = eye(&pa).await;
                assert_eq!(a["state"], "overdue", "past 365 + 30 days: {a}");
                assert_eq!(
                    schedule_rule(&app, &c, &pa, "clinic_visit").await["state"],
                    "scheduled"
                );
                // The clinic fills the ophthalmology owner kind; the specialist centre does not.
                let due = items(&worklist(&app, &c).await, "schedule_due");
                assert!(due.contains(&item(&pa, "eye_exam", "overdue")), "{due:?}");
                assert!(due.contains(&item(&pb, "eye_exam", "overdue")), "{due:?}");
                assert!(
                    !due.iter().any(|(_, s, _)| s == "specialist_review"),
                    "{due:?}"
                );
                let due = items(&worklist(&app, &s).await, "schedule_due");
                assert!(!due.iter().any(|(_, s, _)| s == "eye_exam"), "{due:?}");
                assert!(
                    due.contains(&item(&pa, "specialist_review", "overdue")),
                    "{due:?}"
                );
                // Nobody dropped out yet.
                assert!(items(&worklist(&app, &c).await, "dropouts").is_empty());
            }
            15 => {
                // Plan A: an elderly patient's HbA1c band instead of < 7.0 %.
                let before = goal(&app, &c, &pa, "m1_hba1c").await;
                assert_eq!(before["status"], "not_met", "{before}");
                assert_eq!(before["kind"], "threshold");
                let url = format!("/api/v1/care-plans/{pa}/individualize");
                let band = json!({"kind": "range", "item": "hba1c", "min": 7.0, "max": 8.0});
                app.post_json(
                    &url,
                    &s,
                    &json!({"goal": "m1_hba1c", "target": band, "reason": ""}),
                    None,
                )
                .await
                .assert_problem(422, Some("reason"));
                app.post_json(&url, &s,
                    &json!({"goal": "m1_hba1c", "target": {"kind": "range", "item": "fpg", "min": 7.0, "max": 8.0}, "reason": "x"}), None)
                    .await
                    .assert_problem(422, Some("target.item"));
                app.post_json(&url, &s,
                    &json!({"goal": "m1_hba1c", "target": {"kind": "range", "item": "hba1c", "min": 8.0, "max": 7.0}, "reason": "x"}), None)
                    .await
                    .assert_problem(422, Some("target.min"));
                app.post_json(&url, &s,
                    &json!({"goal": "m1_hba1c", "target": {"kind": "membership", "item": "hba1c", "values": ["7"]}, "reason": "x"}), None)
                    .await
                    .assert_problem(422, Some("target.kind"));
                app.post_json(&url, &s,
                    &json!({"goal": "m1_hba1c", "target": band, "reason": "高齢者(75歳以上・低血糖リスクあり): 7.0–8.0%"}), None)
                    .await
                    .assert_status(204);
                let after = goal(&app, &c, &pa, "m1_hba1c").await;
                assert_eq!(after["kind"], "range", "{after}");
                assert_eq!(after["target"]["min"].as_f64(), Some(7.0), "{after}");
                assert_eq!(after["target"]["max"].as_f64(), Some(8.0), "{after}");
                assert_eq!(after["status"], "met", "7.5 % is inside the band: {after}");
                // Plan B keeps the template's target.
                let b = goal(&app, &c, &pb, "m1_hba1c").await;
                assert_eq!(b["kind"], "threshold", "{b}");
            }
            16 => {
                // 62 days without an entry: not yet a dropout.
                assert!(items(&worklist(&app, &c).await, "dropouts").is_empty());
            }
            17 => {
                let drop = items(&worklist(&app, &c).await, "dropouts");
                assert_eq!(
                    drop,
                    [item(&pb, "no_entry", "dropout")],
                    "93 days without an entry"
                );
                assert_eq!(
                    schedule_rule(&app, &c, &pb, "clinic_visit").await["state"],
                    "overdue"
                );
            }
            _ => {}
        }
    }
    // Month 18: plan A is still on schedule for visits, plan B still a dropout (the
    // specialist centre sees it too); the individual interval is an entry with its reason.
    assert_eq!(
        schedule_rule(&app, &c, &pa, "clinic_visit").await["state"],
        "scheduled"
    );
    let drop = items(&worklist(&app, &s).await, "dropouts");
    assert_eq!(drop, [item(&pb, "no_entry", "dropout")]);
    let entries_b = plan_entries(&app, &c, &pb).await;
    let ind = of_kind(&entries_b, "individualize");
    assert_eq!(ind.len(), 1);
    assert_eq!(
        ind[0]["values"],
        json!({"schedule": "eye_exam", "interval_days": 180})
    );
    assert_eq!(ind[0]["note"], "単純網膜症(SDR)のため6か月毎");
    let a_entries = plan_entries(&app, &c, &pa).await;
    assert_eq!(of_kind(&a_entries, "assessment").len(), 18 + 1);
    assert_verified(&app, &c, &pa).await;
}

// ====================================================================== 5. lifecycle

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_lifecycle_complete_withdraw_and_migrate() {
    let app = app_or_skip!();
    add_org(&app, "acute-1", "acute_hospital", AREA).await;
    add_org(&app, "recovery-1", "recovery_hospital", AREA).await;
    let a = staff(&app, "acute-1", "a-nurse", "nurse", &[]).await;
    let a_pt = staff(&app, "acute-1", "a-pt", "therapist", &[]).await;
    let r = staff(&app, "recovery-1", "r-nurse", "nurse", &[]).await;
    let t0 = now(&app) - Duration::days(3);

    // --- complete.
    let p1 = enrol(&app, &a, "acute-1", "stroke", Some(1), t0).await;
    add(
        &app,
        &a,
        &p1,
        "acute",
        "stage_start",
        t0 + Duration::hours(1),
        json!({}),
    )
    .await;
    let plan = app.get(&format!("/api/v1/care-plans/{p1}"), &a).await;
    plan.assert_status(200);
    let version = etag(&plan);
    assert_eq!(
        plan.body["version"],
        json!(
            version
                .trim_matches('"')
                .parse::<i64>()
                .expect("numeric ETag")
        )
    );
    lifecycle(&app, &r, &p1, "complete", None, None)
        .await
        .assert_problem(404, None);
    lifecycle(&app, &a_pt, &p1, "complete", None, None)
        .await
        .assert_problem(403, None);
    lifecycle(&app, &a, &p1, "complete", Some("\"999\""), None)
        .await
        .assert_problem(412, None);
    lifecycle(&app, &a, &p1, "complete", Some(&version), None)
        .await
        .assert_status(204);
    let done = app.get(&format!("/api/v1/care-plans/{p1}"), &a).await;
    assert_eq!(done.body["status"], "completed");
    assert_ne!(etag(&done), version, "the version moves with every change");
    // Stale If-Match is 412 even on a finished plan; without it, 409.
    lifecycle(&app, &a, &p1, "complete", Some(&version), None)
        .await
        .assert_problem(412, None);
    lifecycle(&app, &a, &p1, "complete", None, None)
        .await
        .assert_problem(409, None);
    lifecycle(
        &app,
        &a,
        &p1,
        "withdraw",
        None,
        Some(json!({"reason": "本人の希望"})),
    )
    .await
    .assert_problem(409, None);
    post_entry(
        &app,
        &a,
        &p1,
        &entry_body("acute", "assessment", now(&app), json!({"mrs": 2})),
    )
    .await
    .assert_problem(409, None);
    app.get(&format!("/api/v1/care-plans/{p1}/migration?version=2"), &a)
        .await
        .assert_status(200);
    app.post_json(
        &format!("/api/v1/care-plans/{p1}/migrate"),
        &a,
        &json!({"version": 2, "reason": "x"}),
        None,
    )
    .await
    .assert_problem(409, None);

    // --- withdraw.
    let p2 = enrol(&app, &a, "acute-1", "stroke", Some(1), t0).await;
    lifecycle(&app, &a, &p2, "withdraw", None, Some(json!({"reason": ""})))
        .await
        .assert_problem(422, Some("reason"));
    lifecycle(
        &app,
        &a,
        &p2,
        "withdraw",
        Some("\"42\""),
        Some(json!({"reason": "死亡"})),
    )
    .await
    .assert_problem(412, None);
    lifecycle(
        &app,
        &a,
        &p2,
        "withdraw",
        None,
        Some(json!({"reason": "死亡"})),
    )
    .await
    .assert_status(204);
    lifecycle(
        &app,
        &a,
        &p2,
        "withdraw",
        None,
        Some(json!({"reason": "死亡"})),
    )
    .await
    .assert_problem(409, None);
    lifecycle(&app, &a, &p2, "complete", None, None)
        .await
        .assert_problem(409, None);
    assert_eq!(
        get_ok(&app, &format!("/api/v1/care-plans/{p2}"), &a).await["status"],
        "withdrawn"
    );
    let e2 = plan_entries(&app, &a, &p2).await;
    let life = of_kind(&e2, "lifecycle");
    assert_eq!(life.len(), 1);
    assert_eq!(life[0]["values"]["event"], "withdrawn");
    assert_eq!(life[0]["note"], "死亡");
    let e1 = plan_entries(&app, &a, &p1).await;
    assert_eq!(of_kind(&e1, "lifecycle")[0]["values"]["event"], "completed");

    // --- migration to v2: preview, then an explicit move with a reason.
    let p3 = enrol(&app, &a, "acute-1", "stroke", Some(1), t0).await;
    add(
        &app,
        &a,
        &p3,
        "acute",
        "stage_start",
        t0 + Duration::hours(1),
        json!({"nihss_total": 4}),
    )
    .await;
    let plan = get_ok(&app, &format!("/api/v1/care-plans/{p3}"), &a).await;
    assert_eq!(plan["pathway"]["version"], 1);
    let v1_hash = plan["pathway"]["hash"].clone();
    let latest = app
        .post_json(
            "/api/v1/care-plans",
            &a,
            &json!({"patient_id": plan["patient_id"], "pathway": "stroke", "variant": "standard"}),
            None,
        )
        .await;
    latest.assert_status(201);
    assert_eq!(
        latest.body["pathway"]["version"], 3,
        "a new plan takes the latest version"
    );

    // The preview of the published stroke v2 (current guidelines) for this running plan.
    let preview = get_ok(
        &app,
        &format!("/api/v1/care-plans/{p3}/migration?version=2"),
        &a,
    )
    .await;
    assert_eq!(
        (&preview["from_version"], &preview["to_version"]),
        (&json!(1), &json!(2)),
        "{preview}"
    );
    let codes = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let items_added = codes(&preview["items"]["added"]);
    for item in ["stroke_subtype", "diabetes", "bp_sys_home", "bp_dia_home"] {
        assert!(items_added.iter().any(|c| c == item), "{item}: {preview}");
    }
    assert_eq!(preview["items"]["removed"], json!([]), "{preview}");
    assert!(
        codes(&preview["items"]["changed"])
            .iter()
            .any(|c| c == "hba1c")
    );
    let goals_added = codes(&preview["goals"]["added"]);
    for goal in ["g5_bp_sys_home", "g5_bp_dia_home", "g6_ldl_diabetes"] {
        assert!(goals_added.iter().any(|c| c == goal), "{goal}: {preview}");
    }
    assert_eq!(preview["goals"]["removed"], json!([]), "{preview}");
    // Each change says what it is: the BP goal lost the JSH2019 exceptions and reads the
    // life stage only; the acute stage lost the 2-month admission rule.
    let detail = |section: &str, code: &str| -> Value {
        preview[section]["details"]
            .as_array()
            .and_then(|d| d.iter().find(|x| x["code"] == code).cloned())
            .unwrap_or_else(|| panic!("{section}.{code} in {preview}"))
    };
    let field = |d: &Value, name: &str| -> Value {
        d["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|x| x["field"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} in {d}"))
    };
    let bp = detail("goals", "g5_bp_sys");
    assert_eq!(bp["change"], "changed");
    assert_eq!(bp["title"]["ja"], "収縮期血圧130 mmHg未満(診察室)");
    let title = field(&bp, "title");
    assert!(
        title["before"]["ja"]
            .as_str()
            .unwrap_or_default()
            .contains("140"),
        "{bp}"
    );
    assert_eq!(field(&bp, "scope")["after"]["stage"], "home", "{bp}");
    let home = detail("goals", "g5_bp_sys_home");
    assert_eq!(home["change"], "added");
    assert_eq!(home["title"]["ja"], "家庭収縮期血圧125 mmHg未満");
    assert_eq!(codes(&preview["stages"]["changed"]), ["acute"], "{preview}");
    let exit = field(&detail("stages", "acute"), "exit_criteria");
    assert!(
        exit["before"]
            .as_str()
            .unwrap_or_default()
            .contains("2か月以内")
    );
    assert!(!exit["after"].as_str().unwrap_or_default().contains("2か月"));
    let hba1c = detail("items", "hba1c");
    assert_eq!(
        field(&hba1c, "codes")["after"][0]["code"],
        "4548-4",
        "{hba1c}"
    );
    // This plan has recorded neither the subtype nor diabetes: the new LDL and HbA1c
    // goals would not apply until it does.
    let needs = preview["needs_recording"]
        .as_array()
        .expect("needs_recording");
    let need = |item: &str| {
        needs
            .iter()
            .find(|n| n["item"] == item)
            .unwrap_or_else(|| panic!("{item} in {preview}"))
    };
    assert_eq!(
        need("stroke_subtype")["read_by"],
        json!(["g6_ldl", "g6_ldl_diabetes"])
    );
    assert_eq!(need("stroke_subtype")["title"]["ja"], "病型");
    assert_eq!(
        need("diabetes")["read_by"],
        json!(["g6_ldl", "g6_ldl_diabetes", "g7_hba1c"])
    );
    assert_eq!(preview["recorded_items_removed"], json!([]), "{preview}");
    app.get(&format!("/api/v1/care-plans/{p3}/migration?version=9"), &a)
        .await
        .assert_problem(422, Some("version"));
    app.get(&format!("/api/v1/care-plans/{p3}/migration?version=2"), &r)
        .await
        .assert_problem(404, None);
    // Nothing migrates implicitly: previewing changed nothing.
    assert_eq!(
        get_ok(&app, &format!("/api/v1/care-plans/{p3}"), &a).await["pathway"]["version"],
        1
    );
    let subtype = entry_body(
        "acute",
        "assessment",
        now(&app) - Duration::minutes(5),
        json!({"stroke_subtype": "atherothrombotic"}),
    );
    post_entry(&app, &a, &p3, &subtype)
        .await
        .assert_problem(422, Some("values.stroke_subtype"));

    let migrate = format!("/api/v1/care-plans/{p3}/migrate");
    app.post_json(&migrate, &a, &json!({"version": 2, "reason": " "}), None)
        .await
        .assert_problem(422, Some("reason"));
    app.post_json(&migrate, &a, &json!({"version": 1, "reason": "x"}), None)
        .await
        .assert_problem(409, None);
    app.post_json(&migrate, &a, &json!({"version": 5, "reason": "x"}), None)
        .await
        .assert_problem(422, Some("version"));
    app.post_json(&migrate, &a_pt, &json!({"version": 2, "reason": "x"}), None)
        .await
        .assert_problem(403, None);
    let stale = send(
        app.request(Method::POST, &migrate)
            .bearer_auth(&a)
            .header("If-Match", "\"1\"")
            .json(&json!({"version": 2, "reason": "パス委員会の改訂"})),
    )
    .await;
    stale.assert_problem(412, None);
    app.post_json(
        &migrate,
        &a,
        &json!({"version": 2, "reason": "パス委員会の改訂(2026年度)"}),
        None,
    )
    .await
    .assert_status(204);
    let plan = get_ok(&app, &format!("/api/v1/care-plans/{p3}"), &a).await;
    assert_eq!(plan["pathway"]["version"], 2, "{plan}");
    assert_ne!(plan["pathway"]["hash"], v1_hash);
    post_entry(&app, &a, &p3, &subtype).await.assert_status(201);
    let home_bp = goal(&app, &a, &p3, "g5_bp_sys_home").await;
    assert_eq!(
        home_bp["target"]["value"].as_f64(),
        Some(125.0),
        "{home_bp}"
    );
    // Recorded now: the preview (to the same version) no longer asks for the subtype.
    let again = get_ok(
        &app,
        &format!("/api/v1/care-plans/{p3}/migration?version=2"),
        &a,
    )
    .await;
    assert!(
        !again["needs_recording"]
            .as_array()
            .expect("needs_recording")
            .iter()
            .any(|n| n["item"] == "stroke_subtype"),
        "{again}"
    );
    app.post_json(
        &migrate,
        &a,
        &json!({"version": 2, "reason": "again"}),
        None,
    )
    .await
    .assert_problem(409, None);
    let e3 = plan_entries(&app, &a, &p3).await;
    let life = of_kind(&e3, "lifecycle");
    assert_eq!(life.len(), 1);
    assert_eq!(life[0]["values"]["event"], "migrated");
    assert_eq!(life[0]["values"]["from_version"], 1);
    assert_eq!(life[0]["values"]["to_version"], 2);
    assert_eq!(life[0]["values"]["to_hash"], plan["pathway"]["hash"]);
    assert_eq!(life[0]["note"], "パス委員会の改訂(2026年度)");
    assert_verified(&app, &a, &p3).await;
}
