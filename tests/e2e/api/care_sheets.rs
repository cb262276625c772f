//! Issue 17 point 5: the hand-off sheets (千葉県地域生活連携シート A表/B表, 入院時情報提供書,
//! 退院・退所情報記録書) as structured entries on a plan, over HTTP. The care manager's
//! office on the care team writes an A表 and reads it back (and the hospital reads it);
//! an office not on the team is told nothing (404); a care manager on a plan whose consent
//! does not reach the office is told nothing either; bad values are refused field by field
//! in Japanese, and a refused sheet writes nothing. The fields and options the test sends
//! come from `pathways/care-forms.toml` as the file says them.

use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::TestApp;
use serde_json::{Value, json};

use crate::support::{app_or_skip, assert_chain, consent, entries, stroke_plan};

/// A care manager (profession `care_manager`) of office `org`; returns an API token.
pub(crate) async fn care_manager(app: &TestApp, org: &str, login: &str) -> String {
    app.ensure_org(org, "care_management").await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.into(),
            login: login.into(),
            name: format!("{login} 介護支援専門員"),
            profession: "care_manager".into(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .expect("add care manager");
    admin::issue_token(&app.services, login, "test", None)
        .await
        .expect("token")
}

/// Puts office `org` on the plan's care team (a contributor taking part in `home`).
pub(crate) async fn add_office(app: &TestApp, planner: &str, plan: &str, org: &str) {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/care-team"),
        planner,
        &json!({"organization": org, "stages": ["home"], "role": "contributor"}),
        None,
    )
    .await
    .assert_status(201);
}

/// The shared forms file as the repository holds it.
fn forms_file() -> toml::Value {
    let path = renkei_testkit::pathways_dir().join("care-forms.toml");
    let src = std::fs::read_to_string(&path).expect("pathways/care-forms.toml");
    toml::from_str(&src).expect("care-forms.toml is TOML")
}

/// The option codes of field `field` of section `section` in the file.
fn options(file: &toml::Value, section: &str, field: &str) -> Vec<(String, String)> {
    let s = file["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .find(|s| s["code"].as_str() == Some(section))
        .unwrap_or_else(|| panic!("section {section}"));
    let f = s["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["code"].as_str() == Some(field))
        .unwrap_or_else(|| panic!("field {field}"));
    f["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| {
            (
                o["code"].as_str().unwrap_or_default().to_owned(),
                o["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn a_sheet_values(file: &toml::Value) -> Value {
    let disab = options(file, "independence", "disab_elderly");
    let mobility = options(file, "body_and_life", "adl_mobility");
    let indoor = options(file, "body_and_life", "mobility_indoor");
    json!({
        "admitted_on": "2026-11-02",
        "disab_elderly": disab[4].0,          // A2
        "adl_mobility": mobility[2].0,        // 一部介助
        "mobility_indoor": [indoor[2].0, indoor[0].0],
        "patient_wish": "自宅で妻と暮らしたい",
        "accompany_home_visit": true,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_care_manager_on_the_team_writes_an_a_sheet_and_an_outsider_is_told_nothing() {
    let app = app_or_skip!();
    let file = forms_file();
    let acute = app.token().await;
    let plan = stroke_plan(&app, &acute, 3).await;
    consent(&app, &acute, &plan).await;
    let cm = care_manager(&app, "kyotaku-1", "cm-sheet-1").await;
    add_office(&app, &acute, &plan, "kyotaku-1").await;
    let outsider = care_manager(&app, "kyotaku-2", "cm-sheet-2").await;
    let sheets_url = format!("/api/v1/care-plans/{plan}/sheets");

    // The office is on the team although the plan is still in the acute stage.
    let res = app
        .post_json(
            &sheets_url,
            &cm,
            &json!({"form": "chiba_a", "values": a_sheet_values(&file)}),
            None,
        )
        .await;
    res.assert_status(201);
    let sheet = res.body.clone();
    assert_eq!(sheet["form"], "chiba_a");
    assert_eq!(sheet["title"], "千葉県地域生活連携シート A表(入院時等)");
    assert_eq!(sheet["organization"]["code"], "kyotaku-1");
    assert_eq!(sheet["author"]["profession"], "care_manager");
    assert_eq!(sheet["values"]["disab_elderly"], "a2");
    // A multi field is stored in the form's order, whatever the order sent.
    let indoor = options(&file, "body_and_life", "mobility_indoor");
    assert_eq!(
        sheet["values"]["mobility_indoor"],
        json!([indoor[0].0, indoor[2].0])
    );

    // The care manager reads it back; so does the hospital.
    for token in [&cm, &acute] {
        let list = app.get(&sheets_url, token).await;
        list.assert_status(200);
        let sheets = list.body["sheets"].as_array().expect("sheets");
        assert_eq!(sheets.len(), 1, "{}", list.text);
        assert_eq!(sheets[0]["id"], sheet["id"]);
        assert_eq!(sheets[0]["values"]["patient_wish"], "自宅で妻と暮らしたい");
    }
    // It is an entry of the plan's hash chain.
    let all = entries(&app, &acute, &plan).await;
    assert_chain(&all);
    let e = all
        .iter()
        .find(|e| e["id"] == sheet["id"])
        .expect("the sheet is an entry");
    assert_eq!(e["kind"], "sheet");
    assert_eq!(e["values"]["form"], "chiba_a");
    assert_eq!(e["hash"], sheet["hash"]);

    // An office not on the team: the plan does not exist for it.
    let refused = app
        .post_json(
            &sheets_url,
            &outsider,
            &json!({"form": "chiba_a", "values": a_sheet_values(&file)}),
            None,
        )
        .await;
    refused.assert_problem(404, None);
    app.get(&sheets_url, &outsider)
        .await
        .assert_problem(404, None);

    // Without the patient's consent reaching the office, nor for the office on the team.
    let plan2 = stroke_plan(&app, &acute, 3).await;
    add_office(&app, &acute, &plan2, "kyotaku-1").await;
    app.post_json(
        &format!("/api/v1/care-plans/{plan2}/sheets"),
        &cm,
        &json!({"form": "chiba_a", "values": a_sheet_values(&file)}),
        None,
    )
    .await
    .assert_problem(404, None);

    // The hospital writes the B表 at discharge.
    let dysphagia = options(&file, "nutrition_oral", "dysphagia");
    let b = app
        .post_json(
            &sheets_url,
            &acute,
            &json!({"form": "chiba_b", "values": {
                "diagnosis": "アテローム血栓性脳梗塞",
                "onset_on": "2026-11-01",
                "dysphagia": dysphagia[1].0,
                "services": ["visiting_nurse", "day_rehab"],
            }}),
            None,
        )
        .await;
    b.assert_status(201);
    assert_eq!(
        b.body["values"]["services"],
        json!(["day_rehab", "visiting_nurse"])
    );
    let list = app.get(&sheets_url, &cm).await;
    assert_eq!(list.body["sheets"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_sheet_is_refused_field_by_field_in_japanese_and_writes_nothing() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let plan = stroke_plan(&app, &acute, 3).await;
    consent(&app, &acute, &plan).await;
    let cm = care_manager(&app, "kyotaku-3", "cm-sheet-3").await;
    add_office(&app, &acute, &plan, "kyotaku-3").await;
    let sheets_url = format!("/api/v1/care-plans/{plan}/sheets");
    let before = entries(&app, &acute, &plan).await.len();

    let res = app
        .post_json(
            &sheets_url,
            &cm,
            &json!({"form": "chiba_a", "values": {
                "disab_elderly": "z9",
                "mobility_indoor": "cane",
                "care_level": "kaigo_2",
                "accompany_home_visit": "はい",
            }}),
            None,
        )
        .await;
    res.assert_problem(422, Some("values.disab_elderly"));
    let errors = res.body["errors"].as_array().expect("errors");
    let rule_of = |field: &str| {
        errors
            .iter()
            .find(|e| e["field"] == field)
            .unwrap_or_else(|| panic!("no error on {field}: {}", res.text))["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(rule_of("values.disab_elderly"), "allowed");
    assert_eq!(rule_of("values.mobility_indoor"), "type");
    assert_eq!(rule_of("values.care_level"), "not_on_form");
    assert_eq!(rule_of("values.accompany_home_visit"), "type");
    // 入院日 is required on the A表.
    assert_eq!(rule_of("values.admitted_on"), "form_required");
    for e in errors {
        let message = e["message"].as_str().unwrap_or_default();
        assert!(
            message
                .chars()
                .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
            "the message is not Japanese: {message}"
        );
    }
    // An unknown form.
    app.post_json(
        &sheets_url,
        &cm,
        &json!({"form": "kaigo_hoken_sheet", "values": {}}),
        None,
    )
    .await
    .assert_problem(422, Some("form"));
    // A pharmacist of the office on the team sees the plan but writes no sheet (403).
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: "kyotaku-3".into(),
            login: "ph-sheet-3".into(),
            name: "薬剤 師子".into(),
            profession: "pharmacist".into(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .expect("add pharmacist");
    let pharmacist = admin::issue_token(&app.services, "ph-sheet-3", "test", None)
        .await
        .expect("token");
    app.post_json(
        &sheets_url,
        &pharmacist,
        &json!({"form": "chiba_a", "values": {"admitted_on": "2026-11-02"}}),
        None,
    )
    .await
    .assert_problem(403, None);
    assert_eq!(entries(&app, &acute, &plan).await.len(), before);
    assert_eq!(
        app.get(&sheets_url, &cm).await.body["sheets"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shared_forms_are_served_with_their_fields_and_options() {
    let app = app_or_skip!();
    let token = app.token().await;
    let res = app.get("/api/v1/care-forms", &token).await;
    res.assert_status(200);
    let file = forms_file();
    let codes: Vec<&str> = res.body["forms"]
        .as_array()
        .expect("forms")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    let want: Vec<&str> = file["forms"]
        .as_array()
        .expect("forms")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, want);
    assert!(codes.contains(&"admission_info") && codes.contains(&"discharge_record"));
}
