//! Issue 15 §2: `POST /fhir/r4` with a transaction Bundle of lab-result Observations
//! writes entries of the patient's plan in the stage the importer may write, validated
//! like API entries; all or nothing, every fault at its `Bundle.entry[i]`, and the same
//! Bundle twice writes once.

use renkei_testkit::builders::{days_ago, patient};
use renkei_testkit::fhir::fhir_validate;
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
        "system": "https://renkei.example.jp/fhir/NamingSystem/patient-number/acute-1", "value": ident}});
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
    assert_eq!(fhir_validate(&res.body), Vec::<String>::new());
    assert_eq!(
        fhir_validate(&bundle),
        Vec::<String>::new(),
        "the request is valid FHIR"
    );
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
    assert_eq!(fhir_validate(&res.body), Vec::<String>::new());
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

// ------------------------------------------------------------------ round trip (§5)

async fn goal_statuses(app: &TestApp, token: &str, plan: &str) -> Vec<(String, Value)> {
    let res = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), token)
        .await;
    res.assert_status(200);
    res.body["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .map(|g| {
            (
                g["code"].as_str().unwrap_or("").to_owned(),
                json!({"status": g["status"], "latest": g["latest"]["value"]}),
            )
        })
        .collect()
}

/// A new patient of `acute-1` born on `birth` enrolled on `pathway` started `days` ago.
/// Returns (patient id, plan id).
async fn enrolled(app: &TestApp, token: &str, pathway: &str, birth: &str) -> (String, String) {
    let ident = format!("5{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let p = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("タナカ", "ハナコ", birth, "acute-1", &ident),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &{
                let mut body = json!({"patient_id": p.body["id"], "pathway": pathway, "started_at": days_ago(10)});
                if let Some(v) = crate::support::latest_variant(pathway) {
                    body["variant"] = json!(v);
                }
                body
            },
            None,
        )
        .await;
    res.assert_status(201);
    (
        p.body["id"].as_str().expect("patient").to_owned(),
        res.body["id"].as_str().expect("plan").to_owned(),
    )
}

/// Exports plan `from` with `$everything`, and imports the Observations of its
/// assessment entries into plan `to` of patient `patient`.
async fn import_assessments(app: &TestApp, token: &str, from: &str, patient: &str, to: &str) {
    let source = entries(app, token, from).await;
    let assessment_ids: Vec<&str> = source
        .iter()
        .filter(|e| e["kind"] == "assessment")
        .filter_map(|e| e["id"].as_str())
        .collect();
    let everything = app
        .get(&format!("/fhir/r4/CarePlan/{from}/$everything"), token)
        .await;
    everything.assert_status(200);
    let observations: Vec<Value> = everything.body["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["resource"].clone())
        .filter(|r| r["resourceType"] == "Observation" && r["status"] != "entered-in-error")
        .filter(|r| {
            r["id"]
                .as_str()
                .and_then(|id| id.get(..36))
                .is_some_and(|entry| assessment_ids.contains(&entry))
        })
        .map(|mut r| {
            let o = r.as_object_mut().expect("object");
            o.remove("id");
            o.remove("meta");
            o.insert(
                "subject".into(),
                json!({"reference": format!("Patient/{patient}")}),
            );
            o.insert(
                "basedOn".into(),
                json!([{"reference": format!("CarePlan/{to}")}]),
            );
            r
        })
        .collect();
    assert!(!observations.is_empty(), "{}", everything.text);
    let res = post_bundle(app, token, &transaction(observations)).await;
    res.assert_status(200);
    assert!(
        res.body["entry"]
            .as_array()
            .expect("answers")
            .iter()
            .all(|e| e["response"]["status"] == "201 Created"),
        "{}",
        res.text
    );
}

/// The stage events of plan `from`, written to plan `to` through the JSON API with the
/// same times and values (an import writes assessments only).
async fn copy_stage_event(app: &TestApp, token: &str, from: &str, to: &str, kind: &str) {
    let source = entries(app, token, from).await;
    for e in source.iter().filter(|e| e["kind"] == kind) {
        append(
            app,
            token,
            to,
            json!({"stage": e["stage"], "kind": kind, "effective_at": e["effective_at"],
                   "values": e["values"]}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diabetes_plan_exported_and_imported_into_a_fresh_plan_has_the_same_goal_statuses() {
    let app = app_or_skip!();
    let token = app
        .user_token("acute-1", "acute_hospital", "fhir-lab")
        .await;
    let (_, a) = enrolled(&app, &token, "diabetes", "1958-03-03").await;
    append(
        &app,
        &token,
        &a,
        json!({"stage": "intro", "kind": "stage_start", "effective_at": days_ago(9),
               "values": {"hba1c": 8.6}}),
    )
    .await;
    for (days, values) in [
        (
            6,
            json!({"hba1c": 7.6, "ldl": 132, "hdl": 44, "tg": 180, "egfr": 61.0,
                   "bp_sys": 138.0, "bp_dia": 84.0, "weight": 71.2}),
        ),
        (
            2,
            json!({"hba1c": 6.8, "ldl": 96, "uacr": 24.0, "bp_sys": 126.0, "bp_dia": 76.0,
                   "bp_sys_home": 128.0, "bp_dia_home": 73.0, "nonhdl": 128}),
        ),
    ] {
        append(
            &app,
            &token,
            &a,
            json!({"stage": "intro", "kind": "assessment", "effective_at": days_ago(days),
                   "values": values}),
        )
        .await;
    }
    let (patient_b, b) = enrolled(&app, &token, "diabetes", "1958-03-03").await;
    copy_stage_event(&app, &token, &a, &b, "stage_start").await;
    import_assessments(&app, &token, &a, &patient_b, &b).await;

    let before = goal_statuses(&app, &token, &a).await;
    assert!(
        before.iter().any(|(_, s)| s["status"] == "met")
            && before.iter().any(|(_, s)| s["status"] == "not_met"),
        "the plan decides goals both ways: {before:?}"
    );
    assert_eq!(goal_statuses(&app, &token, &b).await, before);
    // The imported values are the recorded ones, home and office blood pressure apart.
    let imported: Vec<Value> = assessments(&entries(&app, &token, &b).await)
        .iter()
        .map(|e| e["values"].clone())
        .collect();
    assert!(
        imported
            .iter()
            .any(|v| v["bp_sys_home"] == json!(128.0) && v["bp_sys"] == json!(126.0)),
        "{imported:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stroke_plan_whose_acute_stage_ended_round_trips_to_the_same_goal_statuses() {
    use renkei_testkit::builders::fim;
    let app = app_or_skip!();
    let token = app
        .user_token("acute-1", "acute_hospital", "fhir-lab")
        .await;
    let (_, a) = enrolled(&app, &token, "stroke", "1946-07-07").await;
    append(
        &app,
        &token,
        &a,
        json!({"stage": "acute", "kind": "stage_start", "effective_at": days_ago(9),
               "values": {"nihss_total": 12, "mrs_premorbid": 0}}),
    )
    .await;
    let mut values = fim([4, 4, 3, 3, 3, 4, 5, 5, 4, 4, 3, 3, 2, 5, 5, 4, 4, 4]);
    values.insert("bp_sys".into(), json!(142.0));
    values.insert("bp_dia".into(), json!(78.0));
    values.insert("ldl".into(), json!(92));
    values.insert("nihss_total".into(), json!(6));
    append(
        &app,
        &token,
        &a,
        json!({"stage": "acute", "kind": "assessment", "effective_at": days_ago(4),
               "values": values}),
    )
    .await;
    append(
        &app,
        &token,
        &a,
        json!({"stage": "acute", "kind": "stage_end", "effective_at": days_ago(1),
               "values": {"mrs": 3}}),
    )
    .await;
    let (patient_b, b) = enrolled(&app, &token, "stroke", "1946-07-07").await;
    copy_stage_event(&app, &token, &a, &b, "stage_start").await;
    import_assessments(&app, &token, &a, &patient_b, &b).await;
    copy_stage_event(&app, &token, &a, &b, "stage_end").await;

    let before = goal_statuses(&app, &token, &a).await;
    assert!(
        before
            .iter()
            .any(|(c, s)| c == "g1_transfer_on_time" && s["status"] == "met"),
        "{before:?}"
    );
    assert_eq!(goal_statuses(&app, &token, &b).await, before);
    // The total computed from the imported FIM items is the exported one.
    let imported = assessments(&entries(&app, &token, &b).await);
    let source = assessments(&entries(&app, &token, &a).await);
    assert_eq!(imported[0]["values"], source[0]["values"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_capability_statement_offers_the_transaction_import() {
    let app = app_or_skip!();
    let res = app
        .request(reqwest::Method::GET, "/fhir/r4/metadata")
        .send()
        .await;
    let body: Value = res.expect("metadata").json().await.expect("json");
    assert_eq!(
        body["rest"][0]["interaction"][0]["code"], "transaction",
        "{body}"
    );
}
