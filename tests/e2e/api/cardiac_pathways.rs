//! Issue 17 points 2 and 3 over HTTP: a patient enrolled on the acute myocardial
//! infarction (`ami`) and on the heart failure (`heart-failure`) pathway, entries appended
//! by each stage's organisation, the goals read back (targets on the latest values, the
//! readmission windows judged on dates), the readmission's automatic variance raised by the
//! sweep and classified, the FHIR PlanDefinition and CarePlan (both validators), and the
//! printed plan — with no line of template-specific code outside `pathways/`.

use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{TestApp, fhir_validate_all};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::variances::automatic_for;
use crate::support::{app_or_skip, append, consent, create_patient, post_entry, team_member};
use crate::web_client::{Browser, PASSWORD, web_user};

pub(crate) fn goal<'a>(goals: &'a Value, code: &str) -> &'a Value {
    goals["goals"]
        .as_array()
        .and_then(|l| l.iter().find(|g| g["code"] == code))
        .unwrap_or_else(|| panic!("goal {code} missing in {goals}"))
}

pub(crate) async fn enrol(
    app: &TestApp,
    token: &str,
    pathway: &str,
    kana: (&str, &str),
    days: i64,
) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = create_patient(app, token, kana, "1950-02-02", &ident[..12]).await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p["id"], "pathway": pathway, "started_at": days_ago(days)}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["pathway"]["code"], pathway, "{}", res.body);
    res.body["id"].as_str().expect("plan id").to_owned()
}

/// The plan's CarePlan and the PlanDefinition it pins, read over `/fhir/r4` and passed
/// through both validators; returns (CarePlan, PlanDefinition).
pub(crate) async fn fhir_plan_and_definition(
    app: &TestApp,
    token: &str,
    plan: &str,
) -> (Value, Value) {
    let get = |path: String| async move {
        let res = send(
            app.request(Method::GET, &format!("/fhir/r4{path}"))
                .bearer_auth(token),
        )
        .await;
        res.assert_status(200);
        res.body
    };
    let cp = get(format!("/CarePlan/{plan}")).await;
    let canonical = cp["instantiatesCanonical"][0].as_str().expect("canonical");
    let (url, version) = canonical.split_once('|').expect("url|version");
    let defs = get(format!("/PlanDefinition?url={url}")).await;
    let def = defs["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["resource"].clone())
        .find(|r| r["version"] == version)
        .expect("the pinned version");
    let pd = get(format!(
        "/PlanDefinition/{}",
        def["id"].as_str().expect("id")
    ))
    .await;
    let errors = fhir_validate_all(&[cp.clone(), pd.clone(), defs]);
    assert!(
        errors.is_empty(),
        "the FHIR validators found {} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
    (cp, pd)
}

/// The patient and staff copies of the printed plan, as the planner's web user, after the
/// plan page and the assessment form have rendered with the template's wording (`shown`).
pub(crate) async fn printed(
    app: &TestApp,
    login: &str,
    plan: &str,
    shown: &[&str],
) -> (String, String) {
    let b = Browser::new(app);
    b.login(login, PASSWORD).await;
    let page = b.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    let form = b
        .get(&format!("/care-plans/{plan}/entries/new?kind=assessment"))
        .await;
    form.assert_status(200);
    for text in shown {
        assert!(
            page.text.contains(text) || form.text.contains(text),
            "{text} on the plan page or the form"
        );
    }
    let patient = b.get(&format!("/care-plans/{plan}/print")).await;
    patient.assert_status(200);
    let staff = b
        .get(&format!("/care-plans/{plan}/print?version=staff"))
        .await;
    staff.assert_status(200);
    (patient.text, staff.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ami_plan_goals_readmission_variance_fhir_and_print_over_http() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "ami-web").await;
    let acute = renkei_service::admin::issue_token(&app.services, "ami-web", "test", None)
        .await
        .expect("token");

    let res = app.get("/api/v1/pathways/ami/versions/1", &acute).await;
    res.assert_status(200);
    let stages: Vec<&str> = res.body["template"]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    assert_eq!(stages, ["acute", "cardiac_rehab", "clinic"]);

    let plan = enrol(&app, &acute, "ami", ("ナカムラ", "オサム"), 170).await;
    consent(&app, &acute, &plan).await;
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(170),
            json!({"revascularization": "pci", "culprit_vessel": "lad", "stent": true,
                   "ldl": 150, "bp_sys": 148, "bp_dia": 90, "smoking": "current",
                   "diabetes": false}),
        ),
    )
    .await;
    // A culprit vessel the template does not list is refused, naming the field.
    post_entry(
        &app,
        &acute,
        &plan,
        &entry(
            "acute",
            "assessment",
            &days_ago(169),
            json!({"culprit_vessel": "aorta"}),
        ),
    )
    .await
    .assert_problem(422, Some("values.culprit_vessel"));
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "stage_end",
            &days_ago(160),
            json!({"lvef": 48.0, "nt_probnp": 980.0, "dapt_end_date": "2027-12-01",
                   "smoking": "former"}),
        ),
    )
    .await;
    // The acute hospital also runs the outpatient cardiac rehabilitation.
    append(
        &app,
        &acute,
        &plan,
        entry("cardiac_rehab", "stage_start", &days_ago(158), json!({})),
    )
    .await;
    append(
        &app,
        &acute,
        &plan,
        entry(
            "cardiac_rehab",
            "assessment",
            &days_ago(140),
            json!({"readmission": "cardiovascular"}),
        ),
    )
    .await;
    append(
        &app,
        &acute,
        &plan,
        entry(
            "cardiac_rehab",
            "assessment",
            &days_ago(60),
            json!({"ldl": 64, "bp_sys": 126, "bp_dia": 78, "cpx_done": true,
                   "peak_vo2": 18.5, "exercise_capacity_mets": 5.3}),
        ),
    )
    .await;
    // The end of cardiac rehabilitation must say whether the patient was readmitted.
    post_entry(
        &app,
        &acute,
        &plan,
        &entry("cardiac_rehab", "stage_end", &days_ago(30), json!({})),
    )
    .await
    .assert_problem(422, Some("values.readmission"));
    append(
        &app,
        &acute,
        &plan,
        entry(
            "cardiac_rehab",
            "stage_end",
            &days_ago(30),
            json!({"readmission": "none"}),
        ),
    )
    .await;
    let clinic = team_member(&app, &acute, &plan, "clinic-1", "clinic", &["clinic"]).await;
    append(
        &app,
        &clinic,
        &plan,
        entry(
            "clinic",
            "stage_start",
            &days_ago(28),
            json!({"ldl": 74, "bp_sys": 124, "bp_dia": 76}),
        ),
    )
    .await;

    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &clinic)
        .await;
    goals.assert_status(200);
    let g = &goals.body;
    let ldl = goal(g, "a1_ldl");
    assert_eq!(ldl["status"], "not_met", "{ldl}");
    assert_eq!(ldl["latest"]["value"], 74);
    assert_eq!(ldl["deviation"]["direction"], "above_range", "{ldl}");
    assert_eq!(ldl["deviation"]["bound"], 70.0);
    assert_eq!(goal(g, "a2_bp_sys")["status"], "met");
    assert_eq!(goal(g, "a2_bp_dia")["status"], "met");
    assert_eq!(goal(g, "a3_hba1c")["status"], "not_applicable");
    assert_eq!(goal(g, "a4_no_smoking")["status"], "met");
    let readmission = goal(g, "a5_no_readmission");
    assert_eq!(readmission["status"], "not_met", "{readmission}");
    assert_eq!(readmission["latest"]["value"], "cardiovascular");

    // The 150th day of cardiac rehabilitation has passed: the sweep raises the readmission
    // as an automatic variance in the current stage, whose owner (the clinic) classifies it.
    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    let auto = automatic_for(&app, &acute, &plan, "a5_no_readmission").await;
    assert_eq!(
        auto["variance"]["code"], "NEG.DEV.UN.UNCLASSIFIED",
        "{auto}"
    );
    let res = app
        .post_json(
            &format!(
                "/api/v1/care-plans/{plan}/variances/{}/classify",
                auto["id"].as_str().expect("id")
            ),
            &clinic,
            &json!({"code": "NEG.DEV.PT.CONDITION", "reason": "再梗塞で再入院"}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["variance"]["cause"], "patient", "{}", res.body);
    // No automatic variance for goals without a due date (LDL above target).
    let entries = crate::support::entries(&app, &acute, &plan).await;
    assert!(
        !entries.iter().any(|e| e["variance"]["goal"] == "a1_ldl"),
        "LDL has no due date"
    );

    let (cp, pd) = fhir_plan_and_definition(&app, &acute, &plan).await;
    assert_eq!(cp["activity"].as_array().map(Vec::len), Some(3), "{cp}");
    assert_eq!(pd["action"].as_array().map(Vec::len), Some(3), "{pd}");
    let pd_text = pd.to_string();
    assert!(pd_text.contains("LDL-C 70 mg/dL未満"), "{pd_text}");

    let (patient_copy, staff_copy) = printed(
        &app,
        "ami-web",
        &plan,
        &["心臓リハビリテーション", "LDLコレステロール"],
    )
    .await;
    assert!(patient_copy.contains("急性心筋梗塞地域連携パス"));
    assert!(patient_copy.contains("悪玉(LDL)コレステロールが70未満"));
    assert!(staff_copy.contains("心臓リハビリテーション"));
    assert!(staff_copy.contains("LDL-C 70 mg/dL未満"));
    println!(
        "ami plan {plan}: {} goals, {} entries, CarePlan with {} activities, printed {} + {} bytes",
        g["goals"].as_array().map_or(0, Vec::len),
        entries.len(),
        cp["activity"].as_array().map_or(0, Vec::len),
        patient_copy.len(),
        staff_copy.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heart_failure_plan_shared_at_home_readmission_windows_fhir_and_print_over_http() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "hf-web").await;
    let acute = renkei_service::admin::issue_token(&app.services, "hf-web", "test", None)
        .await
        .expect("token");
    let plan = enrol(&app, &acute, "heart-failure", ("キムラ", "トメ"), 100).await;
    consent(&app, &acute, &plan).await;
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(100),
            json!({"weight": 55.0, "nyha": "class_4", "bnp": 1400.0, "lvef": 30.0,
                   "hf_type": "hfref", "symptom_dyspnea": true, "symptom_edema": true}),
        ),
    )
    .await;
    post_entry(
        &app,
        &acute,
        &plan,
        &entry(
            "acute",
            "assessment",
            &days_ago(99),
            json!({"nyha": "class_5"}),
        ),
    )
    .await
    .assert_problem(422, Some("values.nyha"));
    // Discharged on day 0 = days_ago(95): the windows close on days_ago(65) and days_ago(5).
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "stage_end",
            &days_ago(95),
            json!({"weight": 50.2, "nyha": "class_2", "gdmt_arni_acei_arb": true,
                   "gdmt_beta_blocker": true, "gdmt_mra": false, "gdmt_sglt2i": true,
                   "selfcare_daily_weight": true}),
        ),
    )
    .await;
    // The home stage is shared by the clinic, home-visit nursing and the care manager.
    let clinic = team_member(&app, &acute, &plan, "clinic-1", "clinic", &["home"]).await;
    let nurse = team_member(&app, &acute, &plan, "hf-nursing", "home_nursing", &["home"]).await;
    let care_manager =
        team_member(&app, &acute, &plan, "hf-care", "care_management", &["home"]).await;
    let home_start = append(
        &app,
        &clinic,
        &plan,
        entry(
            "home",
            "stage_start",
            &days_ago(94),
            json!({"bp_sys": 118, "bp_dia": 68}),
        ),
    )
    .await;
    assert_eq!(home_start["stage"], "home");
    append(
        &app,
        &nurse,
        &plan,
        entry(
            "home",
            "assessment",
            &days_ago(88),
            json!({"weight": 50.6, "pulse": 74, "symptom_edema": false,
                   "selfcare_medication": true, "selfcare_bp_pulse": true}),
        ),
    )
    .await;
    // Day 15 after discharge: readmitted for worsening heart failure.
    append(
        &app,
        &care_manager,
        &plan,
        entry(
            "home",
            "assessment",
            &days_ago(80),
            json!({"readmission": "heart_failure"}),
        ),
    )
    .await;
    append(
        &app,
        &clinic,
        &plan,
        entry(
            "home",
            "assessment",
            &days_ago(50),
            json!({"readmission": "none", "nt_probnp": 760.0, "nyha": "class_2"}),
        ),
    )
    .await;

    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &nurse)
        .await;
    goals.assert_status(200);
    for code in ["f1_no_readmission_30d", "f2_no_readmission_90d"] {
        let g = goal(&goals.body, code);
        assert_eq!(g["status"], "not_met", "{g}");
        assert_eq!(g["latest"]["value"], "heart_failure", "{g}");
    }
    // The 30-day window closes before the 90-day one.
    let thirty = goal(&goals.body, "f1_no_readmission_30d");
    let ninety = goal(&goals.body, "f2_no_readmission_90d");
    assert!(
        thirty["due"].as_str() < ninety["due"].as_str(),
        "{thirty} {ninety}"
    );

    app.services
        .sweep_automatic_variances()
        .await
        .expect("sweep");
    for code in ["f1_no_readmission_30d", "f2_no_readmission_90d"] {
        let auto = automatic_for(&app, &clinic, &plan, code).await;
        assert_eq!(
            auto["variance"]["code"], "NEG.DEV.UN.UNCLASSIFIED",
            "{auto}"
        );
    }
    let auto = automatic_for(&app, &clinic, &plan, "f1_no_readmission_30d").await;
    let res = app
        .post_json(
            &format!(
                "/api/v1/care-plans/{plan}/variances/{}/classify",
                auto["id"].as_str().expect("id")
            ),
            &clinic,
            &json!({"code": "NEG.DEV.PT.CONDITION", "reason": "心不全増悪で再入院"}),
            None,
        )
        .await;
    res.assert_status(201);

    let (cp, pd) = fhir_plan_and_definition(&app, &nurse, &plan).await;
    assert_eq!(cp["activity"].as_array().map(Vec::len), Some(2), "{cp}");
    assert!(pd.to_string().contains("退院後30日以内の再入院なし"));

    let (patient_copy, staff_copy) =
        printed(&app, "hf-web", &plan, &["NYHA心機能分類", "再入院"]).await;
    assert!(patient_copy.contains("心不全地域連携パス"));
    assert!(patient_copy.contains("退院してから30日の間に再び入院しない"));
    assert!(staff_copy.contains("在宅(外来・在宅療養)"));
    println!(
        "heart-failure plan {plan}: {} goals, CarePlan with {} activities, printed {} + {} bytes",
        goals.body["goals"].as_array().map_or(0, Vec::len),
        cp["activity"].as_array().map_or(0, Vec::len),
        patient_copy.len(),
        staff_copy.len()
    );
}
