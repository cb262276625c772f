//! Issue 13 §6: a diabetes (cyclical) plan enrolled by a clinic makes the clinic the
//! かかりつけ医 — it owns the clinic stage, where the plan starts — and leaves the
//! specialist centre's stages to the centre that joins (未定 until then); a plan enrolled by
//! a hospital with a specialist department still starts with the introduction.

use renkei_testkit::TestApp;
use renkei_testkit::builders::{days_ago, patient};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append};

async fn diabetes_plan(app: &TestApp, token: &str, org: &str) -> Value {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("サトウ", "ハナコ", "1950-02-03", org, &ident[..12]),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p.body["id"], "pathway": "diabetes", "started_at": days_ago(3)}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body
}

#[tokio::test]
async fn a_clinic_enrolling_a_diabetes_patient_is_the_family_physician() {
    let app = app_or_skip!();
    let clinic = app.user_token("clinic-1", "clinic", "kakaritsuke-ns").await;
    let plan = diabetes_plan(&app, &clinic, "clinic-1").await;
    assert_eq!(plan["current_stage"], "clinic", "{plan}");
    let id = plan["id"].as_str().expect("id");
    let team = app
        .get(&format!("/api/v1/care-plans/{id}/care-team"), &clinic)
        .await;
    team.assert_status(200);
    let members = team.body["members"].as_array().cloned().unwrap_or_default();
    let me = members
        .iter()
        .find(|m| m["organization"] == "clinic-1")
        .unwrap_or_else(|| panic!("the clinic on the team: {}", team.text));
    assert_eq!(me["role"], "planner");
    assert_eq!(me["stages"], json!(["clinic"]), "{}", team.text);

    // The clinic runs its own stage and refers to the specialist centre from it.
    append(
        &app,
        &clinic,
        id,
        json!({"stage": "clinic", "kind": "stage_start", "effective_at": days_ago(2),
               "values": {"hba1c": 8.4}}),
    )
    .await;
    app.ensure_org("acute-1", "acute_hospital").await;
    app.post_json(
        &format!("/api/v1/care-plans/{id}/consents"),
        &clinic,
        &json!({"scope": "care_team", "purposes": ["care"], "method": "paper", "signer": "self",
                "obtained_at": days_ago(0)}),
        None,
    )
    .await
    .assert_status(201);
    app.post_json(
        &format!("/api/v1/care-plans/{id}/handovers"),
        &clinic,
        &json!({"to_organization": "acute-1", "stage": "specialist"}),
        None,
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn a_hospital_with_a_specialist_department_starts_the_diabetes_plan_with_the_introduction() {
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = diabetes_plan(&app, &a, "acute-1").await;
    assert_eq!(plan["current_stage"], "intro", "{plan}");
}
