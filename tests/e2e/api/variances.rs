//! Coded automatic variances: the sweep writes each with a code of the variance scheme
//! and its cause (unknown, or system when the goal names a system code); a clinician of
//! the organisation owning the stage classifies or dismisses it through
//! `POST /api/v1/care-plans/{id}/variances/{entry}/classify|dismiss`, each an entry
//! amending the automatic one; a reviewed variance is never raised again.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use renkei_service::admin::{self, NewPractitioner};
use renkei_service::variances::SYSTEM_PRACTITIONER_ID;
use renkei_testkit::builders::{jst, patient};
use renkei_testkit::{ApiResponse, TestApp, TestDb, pathways_dir};
use serde_json::{Value, json};

use crate::support::{app_or_skip, consent, entries, team_member};

/// A practitioner of `org` (which must exist) with `profession`; returns a token.
async fn practitioner(app: &TestApp, org: &str, login: &str, profession: &str) -> String {
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.to_owned(),
            login: login.to_owned(),
            name: format!("{login} テスト"),
            profession: profession.to_owned(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("add practitioner {login}: {e:?}"));
    admin::issue_token(&app.services, login, "variances", None)
        .await
        .unwrap_or_else(|e| panic!("issue token for {login}: {e:?}"))
}

fn now(app: &TestApp) -> DateTime<Utc> {
    app.services.now()
}

async fn add(app: &TestApp, token: &str, plan: &str, body: Value) -> Value {
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/entries"),
            token,
            &body,
            None,
        )
        .await;
    res.assert_status(201);
    res.body
}

/// A femur-fracture plan (version `version`) whose operation came `surgery_after_h`
/// hours after arrival, five days ago.
pub(crate) async fn femur_plan(
    app: &TestApp,
    token: &str,
    version: u32,
    surgery_after_h: i64,
) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let res = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("ヤマダ", "ハナコ", "1940-05-01", "acute-1", &ident[..12]),
            None,
        )
        .await;
    res.assert_status(201);
    let t0 = now(app) - Duration::days(6);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": res.body["id"], "pathway": "femur-fracture",
                    "version": version, "started_at": jst(t0)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    let arrival = t0 + Duration::days(1);
    let surgery = arrival + Duration::hours(surgery_after_h);
    let loading = surgery + Duration::hours(24);
    for (kind, at, values) in [
        (
            "stage_start",
            arrival,
            json!({"arrival_at": jst(arrival), "fracture_type": "neck"}),
        ),
        ("assessment", surgery, json!({"surgery_at": jst(surgery)})),
        (
            "assessment",
            loading,
            json!({"loading_started_at": jst(loading)}),
        ),
    ] {
        add(
            app,
            token,
            &plan,
            json!({"stage": "acute", "kind": kind, "effective_at": jst(at), "values": values}),
        )
        .await;
    }
    plan
}

fn automatic(entries: &[Value]) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| e["kind"] == "variance" && e["variance"]["automatic"] == true)
        .cloned()
        .collect()
}

pub(crate) async fn sweep(app: &TestApp) -> usize {
    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep")
}

async fn review(
    app: &TestApp,
    token: &str,
    plan: &str,
    entry: &str,
    what: &str,
    body: Value,
) -> ApiResponse {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/variances/{entry}/{what}"),
        token,
        &body,
        None,
    )
    .await
}

/// The one automatic variance of `plan` for `goal`.
pub(crate) async fn automatic_for(app: &TestApp, token: &str, plan: &str, goal: &str) -> Value {
    let all = automatic(&entries(app, token, plan).await);
    let found: Vec<&Value> = all
        .iter()
        .filter(|e| e["variance"]["goal"] == goal)
        .collect();
    assert_eq!(found.len(), 1, "one automatic variance for {goal}: {all:?}");
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_writes_each_automatic_variance_with_a_code_and_an_unknown_cause() {
    let app = app_or_skip!();
    let nurse = app.token().await;
    let late = femur_plan(&app, &nurse, 1, 60).await;
    assert_eq!(sweep(&app).await, 1);
    let v = automatic_for(&app, &nurse, &late, "h1_early_surgery").await;
    assert_eq!(v["author"]["id"], SYSTEM_PRACTITIONER_ID.to_string(), "{v}");
    // A time goal missed: negative, a variation, cause not yet known.
    assert_eq!(v["variance"]["code"], "NEG.VAR.UN.UNCLASSIFIED", "{v}");
    assert_eq!(v["variance"]["cause"], "unknown", "{v}");
    assert_eq!(v["variance"]["reason"], "goal_not_met", "{v}");

    // Twenty days on, the acute stage is past its 21 days: the stage-length goal is
    // overdue and gets the same unclassified code.
    app.services.clock.advance(Duration::days(20));
    assert_eq!(sweep(&app).await, 1);
    let v = automatic_for(&app, &nurse, &late, "h3_timely_transfer").await;
    assert_eq!(v["variance"]["code"], "NEG.VAR.UN.UNCLASSIFIED", "{v}");
    assert_eq!(v["variance"]["cause"], "unknown", "{v}");
    assert_eq!(v["variance"]["reason"], "goal_overdue", "{v}");
    assert_eq!(sweep(&app).await, 0);
}

/// Copies the repository's templates to `dir` and adds a femur-fracture version after
/// the newest one whose early-surgery goal names the system code `NEG.VAR.SY.SCHED`
/// (operating slot); returns that version.
fn femur_with_a_system_code(dir: &Path) -> u32 {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read dir") {
            let e = e.expect("dir entry");
            let target = to.join(e.file_name());
            if e.path().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).expect("copy template");
            }
        }
    }
    copy(&pathways_dir(), dir);
    let femur = dir.join("femur-fracture");
    let newest = std::fs::read_dir(&femur)
        .expect("femur dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix('v')?
                .strip_suffix(".toml")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .expect("a femur version");
    let v1 = std::fs::read_to_string(femur.join("v1.toml")).expect("femur v1");
    let goal = "code = \"h1_early_surgery\"\n";
    assert_eq!(v1.matches(goal).count(), 1, "h1 in femur v1");
    assert_eq!(v1.matches("\nversion = 1\n").count(), 1);
    let next = newest + 1;
    let changed = v1
        .replace("\nversion = 1\n", &format!("\nversion = {next}\n"))
        .replace(goal, &format!("{goal}variance = \"NEG.VAR.SY.SCHED\"\n"));
    std::fs::write(femur.join(format!("v{next}.toml")), changed).expect("write femur");
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goal_naming_a_system_code_raises_it_with_the_system_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = femur_with_a_system_code(dir.path());
    let Some(db) = TestDb::new().await else {
        return;
    };
    let first = renkei_testkit::start(db.settings(), dir.path(), true)
        .await
        .unwrap_or_else(|e| panic!("publish from {}: {e}", dir.path().display()));
    let _ = first.db.close().await;
    let app = TestApp::spawn_on(db).await;
    let nurse = app.token().await;
    let plan = femur_plan(&app, &nurse, version, 60).await;
    assert_eq!(sweep(&app).await, 1);
    let v = automatic_for(&app, &nurse, &plan, "h1_early_surgery").await;
    assert_eq!(v["variance"]["code"], "NEG.VAR.SY.SCHED", "{v}");
    assert_eq!(v["variance"]["cause"], "system", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_owner_classifies_an_automatic_variance_and_the_sweep_never_raises_it_again() {
    let app = app_or_skip!();
    let nurse = app.token().await;
    let plan = femur_plan(&app, &nurse, 1, 60).await;
    assert_eq!(sweep(&app).await, 1);
    let auto = automatic_for(&app, &nurse, &plan, "h1_early_surgery").await;
    let id = auto["id"].as_str().expect("id");

    // Refused with every field named: a blank reason, a code the pathway does not list,
    // the unclassified code itself.
    for (body, field) in [
        (
            json!({"code": "NEG.VAR.SY.SCHED", "reason": "  "}),
            "reason",
        ),
        (
            json!({"code": "NEG.VAR.SY.NOPE", "reason": "手術枠"}),
            "code",
        ),
        (
            json!({"code": "NEG.VAR.UN.UNCLASSIFIED", "reason": "手術枠"}),
            "code",
        ),
    ] {
        review(&app, &nurse, &plan, id, "classify", body)
            .await
            .assert_problem(422, Some(field));
    }
    review(
        &app,
        &nurse,
        &plan,
        id,
        "classify",
        json!({"code": "NEG.VAR.SY.SCHED", "reason": "x".repeat(2001)}),
    )
    .await
    .assert_problem(422, Some("reason"));

    let res = review(
        &app,
        &nurse,
        &plan,
        id,
        "classify",
        json!({"code": "NEG.VAR.SY.SCHED", "reason": "手術枠の空きがなかった"}),
    )
    .await;
    res.assert_status(201);
    let c = &res.body;
    assert_eq!(c["kind"], "variance", "{c}");
    assert_eq!(c["stage"], "acute", "{c}");
    assert_eq!(c["amends"], auto["id"], "{c}");
    assert_eq!(c["reason"], "手術枠の空きがなかった", "{c}");
    assert_eq!(c["variance"]["code"], "NEG.VAR.SY.SCHED", "{c}");
    assert_eq!(c["variance"]["cause"], "system", "{c}");
    assert_eq!(c["variance"]["classified"], true, "{c}");
    assert_eq!(c["variance"]["goal"], "h1_early_surgery", "{c}");
    assert_eq!(c["variance"]["automatic_code"], "NEG.VAR.UN.UNCLASSIFIED");

    // The chain keeps both: the automatic variance, now amended, and its classification.
    let all = entries(&app, &nurse, &plan).await;
    let old = all.iter().find(|e| e["id"] == auto["id"]).expect("kept");
    assert_eq!(old["amended_by"], c["id"], "{old}");
    assert_eq!(old["variance"]["code"], "NEG.VAR.UN.UNCLASSIFIED");
    crate::support::assert_chain(&all);

    // Reviewed once only.
    review(
        &app,
        &nurse,
        &plan,
        id,
        "dismiss",
        json!({"reason": "やはり対象外"}),
    )
    .await
    .assert_problem(409, None);
    // Never raised again, even much later.
    assert_eq!(sweep(&app).await, 0);
    app.services.clock.advance(Duration::days(1));
    sweep(&app).await;
    let h1: Vec<Value> = automatic(&entries(&app, &nurse, &plan).await)
        .into_iter()
        .filter(|e| e["variance"]["goal"] == "h1_early_surgery")
        .collect();
    assert_eq!(h1.len(), 1, "{h1:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_owner_dismisses_an_automatic_variance_and_the_sweep_never_raises_it_again() {
    let app = app_or_skip!();
    let nurse = app.token().await;
    let plan = femur_plan(&app, &nurse, 1, 60).await;
    assert_eq!(sweep(&app).await, 1);
    let auto = automatic_for(&app, &nurse, &plan, "h1_early_surgery").await;
    let id = auto["id"].as_str().expect("id");
    review(&app, &nurse, &plan, id, "dismiss", json!({"reason": ""}))
        .await
        .assert_problem(422, Some("reason"));
    let res = review(
        &app,
        &nurse,
        &plan,
        id,
        "dismiss",
        json!({"reason": "到着時刻の記録誤り"}),
    )
    .await;
    res.assert_status(201);
    let d = &res.body;
    assert_eq!(d["amends"], auto["id"], "{d}");
    assert_eq!(d["variance"]["dismissed"], true, "{d}");
    assert_eq!(d["variance"]["goal"], "h1_early_surgery", "{d}");
    assert_eq!(d["reason"], "到着時刻の記録誤り", "{d}");
    review(
        &app,
        &nurse,
        &plan,
        id,
        "classify",
        json!({"code": "NEG.VAR.SY.SCHED", "reason": "手術枠"}),
    )
    .await
    .assert_problem(409, None);
    assert_eq!(sweep(&app).await, 0);
    app.services.clock.advance(Duration::days(1));
    sweep(&app).await;
    let h1: Vec<Value> = automatic(&entries(&app, &nurse, &plan).await)
        .into_iter()
        .filter(|e| e["variance"]["goal"] == "h1_early_surgery")
        .collect();
    assert_eq!(h1.len(), 1, "{h1:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisation_or_profession_may_not_review_and_only_automatic_variances_are_reviewed()
 {
    let app = app_or_skip!();
    let nurse = app.token().await;
    let plan = femur_plan(&app, &nurse, 1, 60).await;
    consent(&app, &nurse, &plan).await;
    let recovery = team_member(
        &app,
        &nurse,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let stranger = app
        .user_token("acute-2", "acute_hospital", "stranger-nurse")
        .await;
    let msw = practitioner(&app, "acute-1", "acute-msw", "msw").await;
    assert_eq!(sweep(&app).await, 1);
    let auto = automatic_for(&app, &nurse, &plan, "h1_early_surgery").await;
    let id = auto["id"].as_str().expect("id");
    let classify = json!({"code": "NEG.VAR.SY.SCHED", "reason": "手術枠"});

    // The recovery hospital sees the plan but does not own the acute stage.
    review(&app, &recovery, &plan, id, "classify", classify.clone())
        .await
        .assert_problem(403, None);
    review(
        &app,
        &recovery,
        &plan,
        id,
        "dismiss",
        json!({"reason": "x"}),
    )
    .await
    .assert_problem(403, None);
    // The acute hospital's social worker has no clinical role.
    review(&app, &msw, &plan, id, "classify", classify.clone())
        .await
        .assert_problem(403, None);
    // An organisation off the care team is not told the plan exists.
    review(&app, &stranger, &plan, id, "classify", classify.clone())
        .await
        .assert_problem(404, None);
    let before = entries(&app, &nurse, &plan).await.len();

    // A person's own variance, an assessment or an unknown id is no automatic variance.
    let own = add(
        &app,
        &nurse,
        &plan,
        json!({"stage": "acute", "kind": "variance", "effective_at": jst(now(&app)),
               "values": {}, "variance": {"code": "NEG.VAR.SY.BED"}}),
    )
    .await;
    review(
        &app,
        &nurse,
        &plan,
        own["id"].as_str().expect("id"),
        "classify",
        classify.clone(),
    )
    .await
    .assert_problem(409, None);
    let assessment = entries(&app, &nurse, &plan)
        .await
        .into_iter()
        .find(|e| e["kind"] == "assessment")
        .expect("an assessment");
    review(
        &app,
        &nurse,
        &plan,
        assessment["id"].as_str().expect("id"),
        "classify",
        classify.clone(),
    )
    .await
    .assert_problem(404, None);
    review(
        &app,
        &nurse,
        &plan,
        &uuid::Uuid::now_v7().to_string(),
        "classify",
        classify.clone(),
    )
    .await
    .assert_problem(404, None);
    assert_eq!(
        entries(&app, &nurse, &plan).await.len(),
        before + 1,
        "only the person's own variance was written"
    );
    // The owner still may.
    review(&app, &nurse, &plan, id, "classify", classify)
        .await
        .assert_status(201);
}

/// An 82-year-old on diabetes v2 (the latest) with hypoglycaemia-risk drugs, category I:
/// HbA1c 6.6 % is below the lower limit 7.0 % of the JDS/JGS 2016 band for 75 and over.
/// The sweep raises that goal once, with its deviation; the bands of other ages and
/// categories do not apply and raise nothing, nor does a goal still waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_below_range_elderly_hba1c_raises_one_variance_and_goals_not_applicable_or_pending_raise_none()
 {
    let app = app_or_skip!();
    let nurse = app.token().await;
    let plan = elderly_diabetes_plan(&app, &nurse).await;

    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &nurse)
        .await;
    goals.assert_status(200);
    let goal = |code: &str| -> Value {
        goals.body["goals"]
            .as_array()
            .expect("goals")
            .iter()
            .find(|g| g["code"] == code)
            .unwrap_or_else(|| panic!("goal {code}: {}", goals.body))
            .clone()
    };
    let band = goal("m1_hba1c_elderly_drugs_1_75");
    assert_eq!(band["status"], "not_met", "{band}");
    assert_eq!(band["deviation"]["direction"], "below_range", "{band}");
    assert_eq!(band["deviation"]["bound"].as_f64(), Some(7.0), "{band}");
    let not_applicable = [
        "m1_hba1c",
        "m1_hba1c_elderly_1_2",
        "m1_hba1c_elderly_drugs_1_65_74",
        "m1_hba1c_elderly_drugs_2",
        "m1_hba1c_elderly_drugs_3",
    ];
    for code in not_applicable {
        assert_eq!(goal(code)["status"], "not_applicable", "{code}");
    }
    assert_eq!(goal("m11_no_severe_hypo")["status"], "pending");

    assert!(sweep(&app).await >= 1);
    let auto = automatic_for(&app, &nurse, &plan, "m1_hba1c_elderly_drugs_1_75").await;
    let v = &auto["variance"];
    assert_eq!(v["code"], "NEG.DEV.UN.UNCLASSIFIED", "{auto}");
    assert_eq!(v["cause"], "unknown", "{auto}");
    assert_eq!(v["reason"], "goal_not_met", "{auto}");
    assert_eq!(v["deviation"]["direction"], "below_range", "{auto}");
    assert_eq!(v["deviation"]["bound"].as_f64(), Some(7.0), "{auto}");
    assert!(
        auto["note"]
            .as_str()
            .is_some_and(|n| n.contains("下限 7 未満")),
        "{auto}"
    );
    let raised: Vec<Value> = automatic(&entries(&app, &nurse, &plan).await)
        .iter()
        .map(|e| e["variance"]["goal"].clone())
        .collect();
    for code in not_applicable.iter().chain(&["m11_no_severe_hypo"]) {
        assert!(!raised.contains(&json!(code)), "{code} raised: {raised:?}");
    }
    assert_eq!(sweep(&app).await, 0, "raised once");
}

/// An 82-year-old (born 1944-02-11) enrolled on diabetes (v2, the latest) 200 days ago at
/// acute-1, with hypoglycaemia-risk drugs, category I and HbA1c 6.6 % ten days ago.
pub(crate) async fn elderly_diabetes_plan(app: &TestApp, token: &str) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let res = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("タナカ", "イチロウ", "1944-02-11", "acute-1", &ident[..12]),
            None,
        )
        .await;
    res.assert_status(201);
    let t0 = now(app) - Duration::days(200);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": res.body["id"], "pathway": "diabetes", "started_at": jst(t0)}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["pathway"]["version"], 2, "{}", res.body);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    add(
        app,
        token,
        &plan,
        json!({"stage": "intro", "kind": "stage_start", "effective_at": jst(t0 + Duration::hours(1)),
               "values": {}}),
    )
    .await;
    add(
        app,
        token,
        &plan,
        json!({"stage": "intro", "kind": "assessment",
               "effective_at": jst(now(app) - Duration::days(10)),
               "values": {"hba1c": 6.6, "hypo_risk_drugs": true, "elderly_category": "category_1"}}),
    )
    .await;

    plan
}
