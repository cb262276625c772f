//! Goal semantics through the goals API on the published v2 templates: goals read their
//! own stage or window, `none` goals see every value in the window, goals whose
//! conditions fail are not applicable, a missed range says on which side, and stays
//! count Tokyo calendar days (also after a corrected stage start).

use chrono::{Duration, NaiveDate, Utc};
use renkei_testkit::TestApp;
use renkei_testkit::builders::days_ago;
use serde_json::{Value, json};

use crate::support::{
    app_or_skip, append, consent, create_patient, post_entry, stroke_plan, team_member,
};

async fn goals(app: &TestApp, token: &str, plan: &str) -> Value {
    let res = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), token)
        .await;
    res.assert_status(200);
    res.body
}

fn goal<'a>(goals: &'a Value, code: &str) -> &'a Value {
    goals["goals"]
        .as_array()
        .expect("goals array")
        .iter()
        .find(|g| g["code"] == code)
        .unwrap_or_else(|| panic!("goal {code} missing in {goals}"))
}

fn entry(stage: &str, kind: &str, at: &str, values: Value) -> Value {
    json!({"stage": stage, "kind": kind, "effective_at": at, "values": values})
}

/// `hh:mm` Japan time on the Tokyo date `days` days before today.
fn tokyo(days: i64, hh: u32, mm: u32) -> String {
    let today: NaiveDate = (Utc::now() + Duration::hours(9)).date_naive();
    let d = today - Duration::days(days);
    format!("{}T{hh:02}:{mm:02}:00+09:00", d.format("%Y-%m-%d"))
}

/// A stroke plan (v3, the latest: v2's goals with the recovery limit by variant, here the
/// standard 150 days) with a recovery hospital and a clinic on its team.
async fn stroke_team(app: &TestApp, started_days_ago: i64) -> (String, String, String, String) {
    let acute = app.token().await;
    let plan = stroke_plan(app, &acute, started_days_ago).await;
    consent(app, &acute, &plan).await;
    let rec = team_member(
        app,
        &acute,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let clinic = team_member(app, &acute, &plan, "clinic-1", "clinic", &["home"]).await;
    (plan, acute, rec, clinic)
}

#[tokio::test(flavor = "multi_thread")]
async fn stroke_goals_read_their_own_stage_and_apply_only_when_their_conditions_hold() {
    let app = app_or_skip!();
    let (plan, acute, rec, clinic) = stroke_team(&app, 40).await;
    let plan_body = app.get(&format!("/api/v1/care-plans/{plan}"), &acute).await;
    assert_eq!(
        plan_body.body["pathway"]["version"], 3,
        "{}",
        plan_body.body
    );

    // Nothing recorded about subtype or diabetes: the conditional goals do not apply.
    append(
        &app,
        &acute,
        &plan,
        entry("acute", "stage_start", &days_ago(30), json!({})),
    )
    .await;
    let g = goals(&app, &acute, &plan).await;
    assert_eq!(goal(&g, "g6_ldl")["status"], "not_applicable");
    assert_eq!(goal(&g, "g7_hba1c")["status"], "not_applicable");

    // A lacunar infarction in a diabetic patient; an acute HbA1c below 7.0 %.
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "assessment",
            &days_ago(29),
            json!({"stroke_subtype": "lacunar", "diabetes": true, "hba1c": 6.5, "ldl": 150}),
        ),
    )
    .await;
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "stage_end",
            &days_ago(20),
            json!({"mrs": 3, "destination": "other_hospital"}),
        ),
    )
    .await;
    append(
        &app,
        &rec,
        &plan,
        entry("recovery", "stage_start", &days_ago(20), json!({})),
    )
    .await;

    let g = goals(&app, &acute, &plan).await;
    // The acute transfer destination does not judge the recovery discharge.
    let home = goal(&g, "g3_return_home");
    assert_eq!(home["status"], "pending", "{home}");
    assert!(home["latest"].is_null(), "{home}");
    // LDL goals are for atherothrombotic infarction only.
    assert_eq!(goal(&g, "g6_ldl")["status"], "not_applicable");
    assert_eq!(goal(&g, "g6_ldl_diabetes")["status"], "not_applicable");
    // HbA1c applies (diabetes) but reads the home stage: the acute value does not count.
    let hba1c = goal(&g, "g7_hba1c");
    assert_eq!(hba1c["status"], "pending", "{hba1c}");
    assert!(hba1c["latest"].is_null(), "{hba1c}");

    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "stage_end",
            &days_ago(3),
            json!({"mrs": 2, "destination": "home"}),
        ),
    )
    .await;
    append(
        &app,
        &clinic,
        &plan,
        entry("home", "stage_start", &days_ago(3), json!({})),
    )
    .await;
    let g = goals(&app, &acute, &plan).await;
    let home = goal(&g, "g3_return_home");
    assert_eq!(
        (&home["status"], &home["latest"]["value"]),
        (&json!("met"), &json!("home")),
        "{home}"
    );
    assert_eq!(goal(&g, "g7_hba1c")["status"], "pending");

    append(
        &app,
        &clinic,
        &plan,
        entry("home", "assessment", &days_ago(1), json!({"hba1c": 7.4})),
    )
    .await;
    let g = goals(&app, &acute, &plan).await;
    let hba1c = goal(&g, "g7_hba1c");
    assert_eq!(hba1c["status"], "not_met", "{hba1c}");
    assert_eq!(
        hba1c["deviation"],
        json!({"direction": "above_range", "bound": 7.0}),
        "{hba1c}"
    );
    assert!(hba1c["due_date"].is_string(), "{hba1c}");
    // A goal that is met or not applicable carries no deviation.
    assert!(goal(&g, "g6_ldl").get("deviation").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_stay_counts_tokyo_days_and_a_corrected_start_keeps_it_right() {
    let app = app_or_skip!();
    let (plan, acute, rec, _) = stroke_team(&app, 175).await;
    append(
        &app,
        &acute,
        &plan,
        entry("acute", "stage_start", &tokyo(170, 10, 0), json!({})),
    )
    .await;
    append(
        &app,
        &acute,
        &plan,
        entry("acute", "stage_end", &tokyo(160, 9, 0), json!({"mrs": 3})),
    )
    .await;
    // Admitted at 15:00, discharged at 10:00 150 calendar days later: 149.8 elapsed days
    // but 151 hospital days counting the day of admission.
    let start = append(
        &app,
        &rec,
        &plan,
        entry("recovery", "stage_start", &tokyo(160, 15, 0), json!({})),
    )
    .await;
    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "stage_end",
            &tokyo(10, 10, 0),
            json!({"mrs": 2, "destination": "home"}),
        ),
    )
    .await;
    let g = goals(&app, &acute, &plan).await;
    let stay = goal(&g, "g4_recovery_within_limit");
    assert_eq!(stay["status"], "not_met", "{stay}");
    assert_eq!(stay["latest"]["value"], 151, "{stay}");
    // The acute stay: 10 days after its start, 11 hospital days.
    assert_eq!(goal(&g, "g1_transfer_on_time")["latest"]["value"], 11);

    // The admission was really the next day: the corrected start moves the stay.
    let mut fix = entry("recovery", "stage_start", &tokyo(159, 15, 0), json!({}));
    fix["amends"] = start["id"].clone();
    fix["reason"] = json!("入院日の誤り");
    let res = post_entry(&app, &rec, &plan, &fix).await;
    res.assert_status(201);
    let g = goals(&app, &acute, &plan).await;
    let stay = goal(&g, "g4_recovery_within_limit");
    assert_eq!(stay["status"], "met", "{stay}");
    assert_eq!(stay["latest"]["value"], 150, "{stay}");
}

/// A diabetes plan (v2) for a patient born in 1948, recorded in its introduction stage.
async fn diabetes_plan(app: &TestApp, token: &str) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = create_patient(app, token, ("サトウ", "ハナコ"), "1948-04-01", &ident[..12]).await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p["id"], "pathway": "diabetes", "started_at": days_ago(120)}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["pathway"]["version"], 2, "{}", res.body);
    res.body["id"].as_str().expect("plan id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn severe_hypoglycaemia_once_in_the_window_is_not_met_and_an_elderly_low_hba1c_is_below_range()
 {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = diabetes_plan(&app, &token).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "stage_start",
            &days_ago(110),
            json!({"hypo_risk_drugs": true, "elderly_category": "category_1"}),
        ),
    )
    .await;
    let g = goals(&app, &token, &plan).await;
    assert_eq!(goal(&g, "m11_no_severe_hypo")["status"], "pending");

    // One severe hypoglycaemia two months ago, none reported a month later.
    let hypo = append(
        &app,
        &token,
        &plan,
        entry(
            "intro",
            "assessment",
            &days_ago(60),
            json!({"severe_hypo": 1}),
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
            &days_ago(30),
            json!({"severe_hypo": 0}),
        ),
    )
    .await;
    // HbA1c 6.8 % at 78 with drugs that risk hypoglycaemia: below the 7.0 % lower limit.
    append(
        &app,
        &token,
        &plan,
        entry("intro", "assessment", &days_ago(20), json!({"hba1c": 6.8})),
    )
    .await;
    let g = goals(&app, &token, &plan).await;
    let hypo_goal = goal(&g, "m11_no_severe_hypo");
    assert_eq!(hypo_goal["status"], "not_met", "{hypo_goal}");
    assert_eq!(hypo_goal["latest"]["entry_id"], hypo["id"], "{hypo_goal}");
    assert!(hypo_goal.get("deviation").is_none(), "{hypo_goal}");

    let band = goal(&g, "m1_hba1c_elderly_drugs_1_75");
    assert_eq!(band["status"], "not_met", "{band}");
    assert_eq!(
        band["deviation"],
        json!({"direction": "below_range", "bound": 7.0}),
        "{band}"
    );
    // The goals for other ages and categories do not apply.
    for code in [
        "m1_hba1c",
        "m1_hba1c_elderly_drugs_1_65_74",
        "m1_hba1c_elderly_drugs_2",
        "m1_hba1c_elderly_1_2",
    ] {
        assert_eq!(goal(&g, code)["status"], "not_applicable", "{code}");
    }
}

/// Point 8 through the API: the FIM-gain goal waits (`pending`, never `not_met`) while the
/// discharge value is missing; motor and cognitive FIM recorded in separate entries of the
/// admission day form the admission total; a total sent with subtotals that do not add up
/// is refused with every field named, and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_fim_gain_waits_for_its_second_value_and_sums_subtotals_recorded_apart() {
    let app = app_or_skip!();
    let (plan, acute, rec, _clinic) = stroke_team(&app, 60).await;
    append(
        &app,
        &acute,
        &plan,
        entry("acute", "stage_start", &tokyo(50, 10, 0), json!({})),
    )
    .await;
    append(
        &app,
        &acute,
        &plan,
        entry(
            "acute",
            "stage_end",
            &tokyo(40, 10, 0),
            json!({"mrs": 3, "destination": "other_hospital"}),
        ),
    )
    .await;
    append(
        &app,
        &rec,
        &plan,
        entry("recovery", "stage_start", &tokyo(40, 14, 0), json!({})),
    )
    .await;
    // Admission FIM recorded as two subtotals, by two entries on the same Tokyo day.
    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "assessment",
            &tokyo(40, 15, 0),
            json!({"fim_motor": 40}),
        ),
    )
    .await;
    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "assessment",
            &tokyo(40, 16, 0),
            json!({"fim_cognitive": 20}),
        ),
    )
    .await;
    let g = goals(&app, &rec, &plan).await;
    let gain = goal(&g, "g2_fim_gain");
    assert_eq!(gain["status"], "pending", "{gain}");
    assert!(gain["latest"].is_null(), "{gain}");

    // Subtotals that do not add up to the total sent with them: refused, nothing written.
    let before = crate::support::entries(&app, &rec, &plan).await.len();
    let res = post_entry(
        &app,
        &rec,
        &plan,
        &entry(
            "recovery",
            "assessment",
            &tokyo(10, 10, 0),
            json!({"fim_motor": 60, "fim_cognitive": 25, "fim_total": 90}),
        ),
    )
    .await;
    res.assert_problem(422, Some("values.fim_total"));
    assert!(
        res.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e["code"] == "composite_mismatch"),
        "{}",
        res.body
    );
    assert_eq!(
        crate::support::entries(&app, &rec, &plan).await.len(),
        before
    );

    // Discharge: the total the subtotals add up to; the gain is judged from 60 to 85.
    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "stage_end",
            &tokyo(5, 10, 0),
            json!({"fim_motor": 60, "fim_cognitive": 25, "fim_total": 85, "mrs": 2, "destination": "home"}),
        ),
    )
    .await;
    let g = goals(&app, &rec, &plan).await;
    let gain = goal(&g, "g2_fim_gain");
    assert_eq!(gain["status"], "met", "{gain}");
    assert_eq!(gain["latest"]["value"], 25, "{gain}");
}
