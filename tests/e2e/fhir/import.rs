//! Issue 15 §2: `POST /fhir/r4` with a transaction Bundle of lab-result Observations
//! writes entries of the patient's plan in the stage the importer may write, validated
//! like API entries; all or nothing, every fault at its `Bundle.entry[i]`, and the same
//! Bundle twice writes once.

use renkei_testkit::builders::{days_ago, patient};
use renkei_testkit::{ApiResponse, TestApp, rows};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, entries};

const LOINC: &str = "http://loinc.org";
const JLAC10_OID: &str = "urn:oid:1.2.392.200119.4.504";

/// A diabetes patient of `acute-1` (hospital id returned) whose plan's introduction
/// `acute-1` started 9 days ago. Returns (patient id, hospital id, plan id).
async fn diabetes_patient(app: &TestApp, token: &str) -> (String, String, String) {
    let ident = format!("6{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let p = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("スズキ", "イチロウ", "1955-05-05", "acute-1", &ident),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p.body["id"], "pathway": "diabetes", "started_at": days_ago(10)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    append(
        app,
        token,
        &plan,
        json!({"stage": "intro", "kind": "stage_start", "effective_at": days_ago(9),
               "values": {"hba1c": 8.4}}),
    )
    .await;
    (
        p.body["id"].as_str().expect("patient id").to_owned(),
        ident,
        plan,
    )
}

/// A lab-result Observation of `subject` with one coding and a quantity.
pub fn lab(
    subject: Value,
    (system, code): (&str, &str),
    value: f64,
    unit: &str,
    at: &str,
) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory"}]}],
        "code": {"coding": [{"system": system, "code": code}], "text": code},
        "subject": subject,
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    })
}

pub fn transaction(resources: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": resources.into_iter().map(|r| json!({
            "resource": r,
            "request": {"method": "POST", "url": "Observation"},
        })).collect::<Vec<_>>(),
    })
}

pub async fn post_bundle(app: &TestApp, token: &str, bundle: &Value) -> ApiResponse {
    renkei_testkit::app::send(
        app.request(reqwest::Method::POST, "/fhir/r4")
            .bearer_auth(token)
            .header("Content-Type", "application/fhir+json")
            .body(bundle.to_string()),
    )
    .await
}

fn assessments(all: &[Value]) -> Vec<Value> {
    all.iter()
        .filter(|e| e["kind"] == "assessment")
        .cloned()
        .collect()
}

fn expressions(outcome: &Value) -> Vec<String> {
    outcome["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| {
            i["expression"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_bundle_of_lab_results_becomes_one_entry_of_the_plans_current_stage() {
    let app = app_or_skip!();
    let token = app
        .user_token("acute-1", "acute_hospital", "fhir-lab")
        .await;
    let (patient, ident, plan) = diabetes_patient(&app, &token).await;
    let at = days_ago(1);
    let by_id = json!({"reference": format!("Patient/{patient}")});
    let by_ident = json!({"identifier": {
        "system": "https://renkei.example.jp/fhir/sid/patient-id/acute-1", "value": ident}});
    let bundle = transaction(vec![
        lab(by_id.clone(), (LOINC, "4548-4"), 7.2, "%", &at),
        lab(
            by_ident,
            (JLAC10_OID, "8A065000002391901"),
            58.5,
            "mL/min/{1.73_m2}",
            &at,
        ),
        lab(by_id, (LOINC, "2085-9"), 48.0, "mg/dL", &at),
    ]);
    let res = post_bundle(&app, &token, &bundle).await;
    res.assert_status(200);
    assert!(
        res.content_type().starts_with("application/fhir+json"),
        "{}",
        res.content_type()
    );
    assert_eq!(res.body["resourceType"], "Bundle");
    assert_eq!(res.body["type"], "transaction-response");
    let all = entries(&app, &token, &plan).await;
    let written = assessments(&all);
    assert_eq!(written.len(), 1, "{all:?}");
    let entry = &written[0];
    assert_eq!(entry["stage"], "intro");
    assert_eq!(entry["organization"]["code"], "acute-1");
    assert_eq!(
        entry["values"],
        json!({"hba1c": 7.2, "egfr": 58.5, "hdl": 48})
    );
    let id = entry["id"].as_str().expect("entry id");
    let answers: Vec<(String, String)> = res.body["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["response"]["status"].as_str().unwrap_or("").to_owned(),
                e["response"]["location"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        ["hba1c", "egfr", "hdl"]
            .iter()
            .map(|item| ("201 Created".to_owned(), format!("Observation/{id}-{item}")))
            .collect::<Vec<_>>()
    );
    // The same audit event as an API append, naming the FHIR import.
    let events = rows::audit_events(&app.services.db).await.expect("audit");
    let event = events
        .iter()
        .find(|e| e.action == "entry.append" && e.resource_id.as_deref() == Some(id))
        .expect("an entry.append event for the imported entry");
    assert_eq!(event.outcome, "allowed");
    assert!(
        event.detail.as_deref().is_some_and(|d| d.contains("FHIR")),
        "{event:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_unmapped_code_and_out_of_range_value_is_reported_and_nothing_is_written() {
    let app = app_or_skip!();
    let token = app
        .user_token("acute-1", "acute_hospital", "fhir-lab")
        .await;
    let (patient, _, plan) = diabetes_patient(&app, &token).await;
    let subject = json!({"reference": format!("Patient/{patient}")});
    let bundle = transaction(vec![
        lab(subject.clone(), (LOINC, "4548-4"), 7.2, "%", &days_ago(2)),
        lab(
            subject.clone(),
            (LOINC, "0000-0"),
            1.0,
            "mg/dL",
            &days_ago(2),
        ),
        lab(subject.clone(), (LOINC, "4548-4"), 25.0, "%", &days_ago(1)),
        lab(
            subject.clone(),
            (LOINC, "2571-8"),
            120.0,
            "mmol/L",
            &days_ago(1),
        ),
        lab(
            json!({"reference": format!("Patient/{}", uuid::Uuid::new_v4())}),
            (LOINC, "4548-4"),
            7.0,
            "%",
            &days_ago(1),
        ),
        json!({"resourceType": "Observation", "status": "final", "subject": subject,
               "code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
               "valueQuantity": {"value": 7.0, "code": "%"}}),
    ]);
    let res = post_bundle(&app, &token, &bundle).await;
    res.assert_status(422);
    assert_eq!(res.body["resourceType"], "OperationOutcome", "{}", res.text);
    assert!(res.content_type().starts_with("application/fhir+json"));
    let at = expressions(&res.body);
    let expected = [
        "Bundle.entry[1].resource.code",
        "Bundle.entry[2].resource.value[x]",
        "Bundle.entry[3].resource.valueQuantity.code",
        "Bundle.entry[4].resource.subject",
        "Bundle.entry[5].resource.effective[x]",
    ];
    assert_eq!(at, expected, "{}", res.text);
    let codes: Vec<&str> = res.body["issue"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        codes,
        ["code-invalid", "value", "value", "not-found", "required"]
    );
    // Japanese by default: the wording table's words.
    assert!(
        res.body["issue"][1]["details"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("値が評価項目の有効範囲外です")),
        "{}",
        res.text
    );
    assert!(assessments(&entries(&app, &token, &plan).await).is_empty());

    // English on request.
    let en = renkei_testkit::app::send(
        app.request(reqwest::Method::POST, "/fhir/r4")
            .bearer_auth(&token)
            .header("Content-Type", "application/fhir+json")
            .header("Accept-Language", "en")
            .body(bundle.to_string()),
    )
    .await;
    en.assert_status(422);
    assert!(
        en.body["issue"][0]["details"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("No item of the pathway records this test code")),
        "{}",
        en.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_bundle_sent_twice_writes_once() {
    let app = app_or_skip!();
    let token = app
        .user_token("acute-1", "acute_hospital", "fhir-lab")
        .await;
    let (patient, _, plan) = diabetes_patient(&app, &token).await;
    let subject = json!({"reference": format!("Patient/{patient}")});

    // By Bundle.identifier.
    let mut bundle = transaction(vec![lab(
        subject.clone(),
        (LOINC, "4548-4"),
        7.0,
        "%",
        &days_ago(3),
    )]);
    bundle["identifier"] = json!({"system": "urn:example:lab-feed", "value": "batch-1"});
    let first = post_bundle(&app, &token, &bundle).await;
    first.assert_status(200);
    assert_eq!(first.body["entry"][0]["response"]["status"], "201 Created");
    let again = post_bundle(&app, &token, &bundle).await;
    again.assert_status(200);
    assert_eq!(again.body["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(
        again.body["entry"][0]["response"]["location"],
        first.body["entry"][0]["response"]["location"]
    );
    assert_eq!(assessments(&entries(&app, &token, &plan).await).len(), 1);
    // The same identifier with other content is refused.
    let mut other = bundle.clone();
    other["entry"][0]["resource"]["valueQuantity"]["value"] = json!(7.1);
    let reused = post_bundle(&app, &token, &other).await;
    reused.assert_status(422);
    assert_eq!(reused.body["resourceType"], "OperationOutcome");

    // By each Observation's identifier, when the Bundle has none.
    let taken = days_ago(2);
    let mut a = lab(subject.clone(), (LOINC, "4548-4"), 6.8, "%", &taken);
    a["identifier"] = json!([{"system": "urn:example:lab", "value": "R-1"}]);
    let mut b = lab(subject.clone(), (LOINC, "2085-9"), 50.0, "mg/dL", &taken);
    b["identifier"] = json!([{"system": "urn:example:lab", "value": "R-2"}]);
    let first = post_bundle(&app, &token, &transaction(vec![a.clone(), b.clone()])).await;
    first.assert_status(200);
    assert_eq!(assessments(&entries(&app, &token, &plan).await).len(), 2);
    // Sent again with one new result: only the new one is written.
    let mut c = lab(subject, (LOINC, "2571-8"), 130.0, "mg/dL", &days_ago(1));
    c["identifier"] = json!([{"system": "urn:example:lab", "value": "R-3"}]);
    let second = post_bundle(&app, &token, &transaction(vec![a, b, c])).await;
    second.assert_status(200);
    let statuses: Vec<&str> = second.body["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["200 OK", "200 OK", "201 Created"]);
    let written = assessments(&entries(&app, &token, &plan).await);
    assert_eq!(written.len(), 3);
    assert_eq!(written[2]["values"], json!({"tg": 130}));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_off_the_care_team_cannot_import_and_a_missing_token_is_refused() {
    let app = app_or_skip!();
    let token = app
        .user_token("acute-1", "acute_hospital", "fhir-lab")
        .await;
    let (patient, _, plan) = diabetes_patient(&app, &token).await;
    let outsider = app.user_token("clinic-9", "clinic", "outsider-ns").await;
    let bundle = transaction(vec![lab(
        json!({"reference": format!("Patient/{patient}")}),
        (LOINC, "4548-4"),
        7.0,
        "%",
        &days_ago(1),
    )]);
    let res = post_bundle(&app, &outsider, &bundle).await;
    // As the JSON API answers a plan the organisation may not see.
    res.assert_status(404);
    assert_eq!(res.body["resourceType"], "OperationOutcome");
    let unauthenticated = renkei_testkit::app::send(
        app.request(reqwest::Method::POST, "/fhir/r4")
            .header("Content-Type", "application/fhir+json")
            .body(bundle.to_string()),
    )
    .await;
    unauthenticated.assert_status(401);
    assert_eq!(unauthenticated.body["resourceType"], "OperationOutcome");
    let not_json = renkei_testkit::app::send(
        app.request(reqwest::Method::POST, "/fhir/r4")
            .bearer_auth(&token)
            .header("Content-Type", "text/plain")
            .body(bundle.to_string()),
    )
    .await;
    not_json.assert_status(415);
    assert!(assessments(&entries(&app, &token, &plan).await).is_empty());
}
