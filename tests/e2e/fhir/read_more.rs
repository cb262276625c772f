//! Observation, Patient, Organization, Practitioner, PractitionerRole, Task, Consent,
//! Provenance and AuditEvent over HTTP: each read and search, `_include`, paging with
//! `next` links, corrections and voids, the refusals as OperationOutcome and the audit
//! events they write.

use chrono::{DateTime, Duration, Utc};
use renkei_testkit::access::practitioner;
use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{ApiResponse, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, consent, stroke_plan};

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

async fn fhir(app: &TestApp, token: &str, path: &str) -> ApiResponse {
    let res = app.get(&format!("/fhir/r4/{path}"), token).await;
    assert_eq!(res.content_type(), FHIR_JSON, "{path}: {}", res.text);
    res
}

async fn fhir_ok(app: &TestApp, token: &str, path: &str) -> Value {
    let res = fhir(app, token, path).await;
    res.assert_status(200);
    res.body
}

async fn search(app: &TestApp, token: &str, kind: &str, query: &[(&str, &str)]) -> Value {
    let res = app
        .get_query(&format!("/fhir/r4/{kind}"), token, query)
        .await;
    assert_eq!(res.content_type(), FHIR_JSON, "{kind}: {}", res.text);
    res.assert_status(200);
    assert_eq!(res.body["resourceType"], "Bundle");
    assert_eq!(res.body["type"], "searchset");
    res.body
}

/// Follows `next` links from `first` and returns every matched resource.
async fn all_pages(app: &TestApp, token: &str, first: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut page = first;
    for _ in 0..100 {
        for e in page["entry"].as_array().into_iter().flatten() {
            if e["search"]["mode"] == "match" {
                out.push(e["resource"].clone());
            }
        }
        let next = page["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .map(str::to_owned);
        let Some(next) = next else {
            return out;
        };
        let path = next
            .split_once("/fhir/r4/")
            .map(|(_, p)| p.to_owned())
            .unwrap_or_else(|| panic!("next link {next}"));
        page = fhir_ok(app, token, &path).await;
    }
    panic!("more than 100 pages")
}

fn matched(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"].clone())
        .collect()
}

fn assert_outcome(res: &ApiResponse, status: u16, code: &str) {
    res.assert_status(status);
    assert_eq!(res.content_type(), FHIR_JSON, "{}", res.text);
    assert_eq!(res.body["resourceType"], "OperationOutcome", "{}", res.text);
    assert_eq!(res.body["issue"][0]["severity"], "error", "{}", res.text);
    assert_eq!(res.body["issue"][0]["code"], code, "{}", res.text);
    assert!(
        res.body["issue"][0]["details"]["text"].is_string(),
        "{}",
        res.text
    );
}

fn fim(score: i64) -> serde_json::Map<String, Value> {
    [
        "fim_eating",
        "fim_grooming",
        "fim_bathing",
        "fim_dressing_upper",
        "fim_dressing_lower",
        "fim_toileting",
        "fim_bladder",
        "fim_bowel",
        "fim_transfer_bed",
        "fim_transfer_toilet",
        "fim_transfer_tub",
        "fim_locomotion",
        "fim_stairs",
        "fim_comprehension",
        "fim_expression",
        "fim_social",
        "fim_problem_solving",
        "fim_memory",
    ]
    .into_iter()
    .map(|c| (c.to_owned(), json!(score)))
    .collect()
}

fn correction(of: &Value, values: Value, reason: &str) -> Value {
    let mut body = entry(
        of["stage"].as_str().expect("stage"),
        of["kind"].as_str().expect("kind"),
        of["effective_at"].as_str().expect("effective_at"),
        values,
    );
    body["amends"] = of["id"].clone();
    body["reason"] = json!(reason);
    body
}

fn void(of: &Value, reason: &str) -> Value {
    let mut body = entry(
        of["stage"].as_str().expect("stage"),
        "entered_in_error",
        of["effective_at"].as_str().expect("effective_at"),
        json!({}),
    );
    body["amends"] = of["id"].clone();
    body["reason"] = json!(reason);
    body
}

async fn patient_of(app: &TestApp, token: &str, plan: &str) -> String {
    let res = app.get(&format!("/api/v1/care-plans/{plan}"), token).await;
    res.assert_status(200);
    res.body["patient"]["id"]
        .as_str()
        .or_else(|| res.body["patient_id"].as_str())
        .unwrap_or_else(|| panic!("patient of {}", res.text))
        .to_owned()
}

fn obs_id(entry: &Value, item: &str) -> String {
    format!(
        "{}-{}",
        entry["id"].as_str().expect("entry id"),
        item.replace('_', "-")
    )
}

fn find<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not among {}", list.len()))
}

fn instant(s: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s.as_str().unwrap_or_else(|| panic!("instant {s}")))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A stroke plan with a FIM assessment (items and the computed total), an mRS that was
/// corrected, and an NIHSS that was voided. Returns (plan, patient, fim entry, original
/// mRS, correction, voided entry).
async fn recorded_plan(app: &TestApp, token: &str) -> (String, String, Value, Value, Value, Value) {
    let plan = stroke_plan(app, token, 10).await;
    let patient = patient_of(app, token, &plan).await;
    append(
        app,
        token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(10),
            json!({"nihss_total": 10, "mrs_premorbid": 0}),
        ),
    )
    .await;
    let fim_entry = append(
        app,
        token,
        &plan,
        entry("acute", "assessment", &days_ago(9), Value::Object(fim(4))),
    )
    .await;
    let original = append(
        app,
        token,
        &plan,
        entry("acute", "assessment", &days_ago(8), json!({"mrs": 4})),
    )
    .await;
    let corrected = append(
        app,
        token,
        &plan,
        correction(&original, json!({"mrs": 3}), "入力誤り"),
    )
    .await;
    let wrong = append(
        app,
        token,
        &plan,
        entry(
            "acute",
            "assessment",
            &days_ago(7),
            json!({"nihss_total": 30}),
        ),
    )
    .await;
    append(app, token, &plan, void(&wrong, "別の患者の値")).await;
    (plan, patient, fim_entry, original, corrected, wrong)
}

#[tokio::test(flavor = "multi_thread")]
async fn observations_carry_codes_derived_totals_times_and_correction_statuses() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, patient, fim_entry, original, corrected, wrong) = recorded_plan(&app, &token).await;

    let bundle = search(
        &app,
        &token,
        "Observation",
        &[("patient", &patient), ("_count", "200")],
    )
    .await;
    let list = matched(&bundle);
    // 2 at the start, 18 FIM items + motor, cognitive and total, 1 + 1 mRS, 1 NIHSS voided.
    assert_eq!(bundle["total"].as_u64(), Some(list.len() as u64));

    let total = find(&list, &obs_id(&fim_entry, "fim_total"));
    assert_eq!(total["resourceType"], "Observation");
    assert_eq!(total["status"], "final");
    assert_eq!(total["valueInteger"], 72);
    assert_eq!(total["subject"]["reference"], format!("Patient/{patient}"));
    assert_eq!(total["basedOn"][0]["reference"], format!("CarePlan/{plan}"));
    let from: Vec<&str> = total["derivedFrom"]
        .as_array()
        .expect("derivedFrom")
        .iter()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    assert_eq!(from.len(), 18, "{total}");
    assert!(from.contains(&format!("Observation/{}", obs_id(&fim_entry, "fim_eating")).as_str()));
    for r in &from {
        let id = r.trim_start_matches("Observation/");
        assert_eq!(find(&list, id)["valueInteger"], 4);
    }
    assert_eq!(
        total["code"]["coding"][0]["system"],
        "https://renkei.example.jp/fhir/CodeSystem/stroke-items"
    );
    assert_eq!(total["code"]["coding"][0]["code"], "fim_total");

    // Observed vs recorded.
    let eff = instant(&total["effectiveDateTime"]);
    let issued = instant(&total["issued"]);
    assert_eq!(eff, instant(&fim_entry["effective_at"]));
    assert_eq!(issued, instant(&fim_entry["recorded_at"]));
    assert!(issued - eff > Duration::days(8), "{eff} {issued}");

    // The mRS has a LOINC code; the original is entered-in-error, its correction amended.
    let old = find(&list, &obs_id(&original, "mrs"));
    let new = find(&list, &obs_id(&corrected, "mrs"));
    assert_eq!(old["status"], "entered-in-error");
    assert_eq!(old["valueInteger"], 4);
    assert_eq!(new["status"], "amended");
    assert_eq!(new["valueInteger"], 3);
    assert_eq!(new["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(new["code"]["coding"][0]["code"], "75859-9");
    assert_eq!(new["code"]["coding"][1]["code"], "mrs");
    assert_eq!(new["note"][0]["text"], "入力誤り");
    // The voided NIHSS is entered-in-error; the void itself is no observation.
    assert_eq!(
        find(&list, &obs_id(&wrong, "nihss_total"))["status"],
        "entered-in-error"
    );

    // Status search.
    let amended = search(
        &app,
        &token,
        "Observation",
        &[("patient", &patient), ("status", "amended")],
    )
    .await;
    let ids: Vec<&str> = matched(&amended).iter().map(|_| "").collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(matched(&amended)[0]["id"], obs_id(&corrected, "mrs"));
    let errors = search(
        &app,
        &token,
        "Observation",
        &[("patient", &patient), ("status", "entered-in-error")],
    )
    .await;
    assert_eq!(errors["total"], 2);

    // A read of one.
    let one = fhir_ok(
        &app,
        &token,
        &format!("Observation/{}", obs_id(&corrected, "mrs")),
    )
    .await;
    assert_eq!(&one, new);
}

#[tokio::test(flavor = "multi_thread")]
async fn observation_searches_page_with_next_links_filter_by_last_update_and_include_the_patient() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (_plan, patient, ..) = recorded_plan(&app, &token).await;
    let everything = search(
        &app,
        &token,
        "Observation",
        &[("patient", &patient), ("_count", "200")],
    )
    .await;
    let all = matched(&everything);
    let total = everything["total"].as_u64().expect("total");
    assert!(total > 20, "{total}");

    let first = search(
        &app,
        &token,
        "Observation",
        &[("patient", &patient), ("_count", "7")],
    )
    .await;
    assert_eq!(first["total"].as_u64(), Some(total));
    assert_eq!(matched(&first).len(), 7);
    let self_link = first["link"][0]["url"].as_str().expect("self");
    assert!(
        self_link.starts_with("http") && self_link.contains("/fhir/r4/Observation?"),
        "{self_link}"
    );
    assert!(
        first["entry"][0]["fullUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("http") && u.contains("/fhir/r4/Observation/"))
    );
    let paged = all_pages(&app, &token, first).await;
    assert_eq!(paged.len() as u64, total);
    let mut ids: Vec<&str> = paged.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, total, "no resource twice across pages");
    let order: Vec<(DateTime<Utc>, String)> = paged
        .iter()
        .map(|r| {
            (
                instant(&r["meta"]["lastUpdated"]),
                r["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "pages in the stable order");
    assert_eq!(all.len() as u64, total);

    // _lastUpdated: nothing after now, everything since a day before the plan.
    let later = (Utc::now() + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let none = search(
        &app,
        &token,
        "Observation",
        &[
            ("patient", &patient),
            ("_lastUpdated", &format!("gt{later}")),
        ],
    )
    .await;
    assert_eq!(none["total"], 0);
    let since = (Utc::now() - Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let some = search(
        &app,
        &token,
        "Observation",
        &[
            ("patient", &patient),
            ("_lastUpdated", &format!("ge{since}")),
            ("_count", "1"),
        ],
    )
    .await;
    assert_eq!(some["total"].as_u64(), Some(total));

    // _include=Observation:patient adds the patient once, as an include.
    let with = search(
        &app,
        &token,
        "Observation",
        &[
            ("patient", &patient),
            ("_include", "Observation:patient"),
            ("_count", "3"),
        ],
    )
    .await;
    let included: Vec<&Value> = with["entry"]
        .as_array()
        .expect("entry")
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .collect();
    assert_eq!(included.len(), 1, "{with}");
    assert_eq!(included[0]["resource"]["resourceType"], "Patient");
    assert_eq!(included[0]["resource"]["id"], patient.as_str());

    // Bad parameters are refused, naming the parameter.
    let res = app
        .get_query(
            "/fhir/r4/Observation",
            &token,
            &[("patient", &patient), ("code", "x")],
        )
        .await;
    assert_outcome(&res, 400, "not-supported");
    assert_eq!(res.body["issue"][0]["expression"][0], "code");
    let res = app
        .get_query(
            "/fhir/r4/Observation",
            &token,
            &[("patient", &patient), ("_page", "zz")],
        )
        .await;
    assert_outcome(&res, 400, "value");
    let res = app
        .get_query(
            "/fhir/r4/Observation",
            &token,
            &[("patient", &patient), ("_include", "Observation:subject")],
        )
        .await;
    assert_outcome(&res, 400, "value");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_patient_follows_jp_core_with_kanji_and_kana_names_and_namespaced_numbers() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let patient = patient_of(&app, &token, &plan).await;
    let p = fhir_ok(&app, &token, &format!("Patient/{patient}")).await;
    assert_eq!(p["resourceType"], "Patient");
    assert_eq!(
        p["meta"]["profile"][0],
        "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
    );
    let rep = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";
    assert_eq!(p["name"][0]["extension"][0]["url"], rep);
    assert_eq!(p["name"][0]["extension"][0]["valueCode"], "IDE");
    assert_eq!(p["name"][1]["extension"][0]["valueCode"], "SYL");
    assert_eq!(p["name"][1]["family"], "ヤマダ");
    assert_eq!(p["name"][1]["given"][0], "タロウ");
    assert_eq!(p["name"][1]["text"], "ヤマダ タロウ");
    assert!(p["name"][0]["family"].is_string());
    assert_eq!(p["birthDate"], "1948-04-01");
    assert!(matches!(
        p["gender"].as_str(),
        Some("male" | "female" | "other" | "unknown")
    ));
    assert_eq!(
        p["identifier"][0]["system"],
        "https://renkei.example.jp/fhir/NamingSystem/patient-number/acute-1"
    );
    assert!(p["identifier"][0]["value"].is_string());
    let org = p["identifier"][0]["assigner"]["reference"]
        .as_str()
        .expect("assigner")
        .to_owned();

    // Search by id and by identifier.
    let by_id = search(&app, &token, "Patient", &[("_id", &patient)]).await;
    assert_eq!(by_id["total"], 1);
    let ident = format!(
        "{}|{}",
        p["identifier"][0]["system"].as_str().unwrap_or_default(),
        p["identifier"][0]["value"].as_str().unwrap_or_default()
    );
    let by_ident = search(&app, &token, "Patient", &[("identifier", &ident)]).await;
    assert_eq!(matched(&by_ident)[0]["id"], patient.as_str());

    // The assigner resolves to a JP Core Organization.
    let o = fhir_ok(&app, &token, &org).await;
    assert_eq!(o["resourceType"], "Organization");
    assert_eq!(o["identifier"][0]["value"], "acute-1");

    // Another organisation sees nothing: 404 for the read, an empty search.
    let other = app.user_token("clinic-1", "clinic", "clinic-fhir-1").await;
    assert_outcome(
        &fhir(&app, &other, &format!("Patient/{patient}")).await,
        404,
        "not-found",
    );
    let none = search(&app, &other, "Patient", &[("_id", &patient)]).await;
    assert_eq!(none["total"], 0);
    let none = search(&app, &other, "Observation", &[("patient", &patient)]).await;
    assert_eq!(none["total"], 0);
}

async fn propose(app: &TestApp, token: &str, plan: &str) -> Value {
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/handovers"),
            token,
            &json!({"to_organization": "recovery-1", "stage": "recovery", "note": "転院調整をお願いします"}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body
}

/// A stroke plan handed over to `recovery-1`, accepted, whose recovery stage ended: a
/// completed hand-over and a report back due. Returns (plan, patient, hand-over id,
/// the recovery hospital's token).
async fn handed_over_plan(app: &TestApp, a: &str) -> (String, String, String, String) {
    let r = app
        .user_token("recovery-1", "recovery_hospital", "kaifuku-fhir")
        .await;
    let plan = stroke_plan(app, a, 40).await;
    let patient = patient_of(app, a, &plan).await;
    consent(app, a, &plan).await;
    append(
        app,
        a,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(40),
            json!({"nihss_total": 10, "mrs_premorbid": 0}),
        ),
    )
    .await;
    append(
        app,
        a,
        &plan,
        entry("acute", "stage_end", &days_ago(30), json!({"mrs": 4})),
    )
    .await;
    let h = propose(app, a, &plan).await;
    let hid = h["id"].as_str().expect("hand-over id").to_owned();
    send(
        app.request(Method::POST, &format!("/api/v1/handovers/{hid}/accept"))
            .bearer_auth(&r)
            .header("If-Match", "\"1\""),
    )
    .await
    .assert_status(200);
    append(
        app,
        &r,
        &plan,
        entry(
            "recovery",
            "stage_start",
            &days_ago(29),
            Value::Object(fim(3)),
        ),
    )
    .await;
    append(
        app,
        &r,
        &plan,
        entry(
            "recovery",
            "assessment",
            &days_ago(3),
            Value::Object(fim(5)),
        ),
    )
    .await;
    append(
        app,
        &r,
        &plan,
        entry(
            "recovery",
            "stage_end",
            &days_ago(2),
            json!({"destination": "home", "mrs": 2}),
        ),
    )
    .await;
    (plan, patient, hid, r)
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_overs_and_reports_back_are_tasks_with_mapped_statuses() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (plan, patient, hid, r) = handed_over_plan(&app, &a).await;

    let bundle = search(&app, &a, "Task", &[("patient", &patient)]).await;
    let tasks = matched(&bundle);
    assert_eq!(bundle["total"], 2, "{bundle}");
    let h = find(&tasks, &hid);
    assert_eq!(h["resourceType"], "Task");
    assert_eq!(h["status"], "completed");
    assert_eq!(h["businessStatus"]["coding"][0]["code"], "completed");
    assert_eq!(h["intent"], "order");
    assert_eq!(h["focus"]["reference"], format!("CarePlan/{plan}"));
    assert_eq!(h["for"]["reference"], format!("Patient/{patient}"));
    assert_eq!(h["code"]["coding"][0]["code"], "handover");
    let report = tasks
        .iter()
        .find(|t| t["code"]["coding"][0]["code"] == "report-back")
        .unwrap_or_else(|| panic!("no report back in {bundle}"));
    assert_eq!(report["status"], "requested");
    assert_eq!(report["businessStatus"]["coding"][0]["code"], "due");
    assert!(report["restriction"]["period"]["end"].is_string());
    // The report is owed by the recovery hospital to the planner.
    assert_eq!(report["owner"]["reference"], h["owner"]["reference"]);
    assert_eq!(
        report["requester"]["reference"],
        h["requester"]["reference"]
    );

    // Both parties read each Task; the status filter works.
    let rid = report["id"].as_str().expect("report id");
    for token in [&a, &r] {
        assert_eq!(
            fhir_ok(&app, token, &format!("Task/{hid}")).await["status"],
            "completed"
        );
        assert_eq!(
            fhir_ok(&app, token, &format!("Task/{rid}")).await["status"],
            "requested"
        );
    }
    let open = search(
        &app,
        &a,
        "Task",
        &[("patient", &patient), ("status", "requested")],
    )
    .await;
    assert_eq!(open["total"], 1);

    // Once sent, the report back is completed.
    app.post_json(&format!("/api/v1/reports/{rid}/send"), &r, &json!({}), None)
        .await
        .assert_status(200);
    let sent = fhir_ok(&app, &a, &format!("Task/{rid}")).await;
    assert_eq!(sent["status"], "completed");
    assert_eq!(sent["businessStatus"]["coding"][0]["code"], "sent");

    // An outsider learns nothing.
    let other = app
        .user_token("clinic-1", "clinic", "clinic-fhir-task")
        .await;
    assert_outcome(
        &fhir(&app, &other, &format!("Task/{hid}")).await,
        404,
        "not-found",
    );
    assert_outcome(
        &fhir(&app, &other, &format!("Task/{}", uuid::Uuid::now_v7())).await,
        404,
        "not-found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn consents_and_provenance_are_read_and_searched_by_patient() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (plan, patient, fim_entry, original, corrected, _wrong) = recorded_plan(&app, &token).await;
    consent(&app, &token, &plan).await;

    let consents = search(&app, &token, "Consent", &[("patient", &patient)]).await;
    assert_eq!(consents["total"], 1);
    let c = &matched(&consents)[0];
    assert_eq!(c["resourceType"], "Consent");
    assert_eq!(c["status"], "active");
    assert_eq!(c["scope"]["coding"][0]["code"], "patient-privacy");
    assert_eq!(c["patient"]["reference"], format!("Patient/{patient}"));
    assert_eq!(c["provision"]["purpose"][0]["code"], "TREAT");
    assert_eq!(
        c["provision"]["data"][0]["reference"]["reference"],
        format!("CarePlan/{plan}")
    );
    let id = c["id"].as_str().expect("consent id");
    assert_eq!(&fhir_ok(&app, &token, &format!("Consent/{id}")).await, c);
    let inactive = search(
        &app,
        &token,
        "Consent",
        &[("patient", &patient), ("status", "inactive")],
    )
    .await;
    assert_eq!(inactive["total"], 0);

    // One Provenance per entry, the entry hash as the signature's data.
    let entries = crate::support::entries(&app, &token, &plan).await;
    let provs = all_pages(
        &app,
        &token,
        search(
            &app,
            &token,
            "Provenance",
            &[("patient", &patient), ("_count", "3")],
        )
        .await,
    )
    .await;
    assert_eq!(provs.len(), entries.len());
    let fim_id = fim_entry["id"].as_str().expect("id");
    let p = fhir_ok(&app, &token, &format!("Provenance/prov-{fim_id}")).await;
    assert_eq!(p["resourceType"], "Provenance");
    assert_eq!(
        p["agent"][0]["who"]["reference"],
        format!(
            "Practitioner/{}",
            fim_entry["author"]["id"].as_str().expect("author")
        )
    );
    assert_eq!(
        p["agent"][0]["onBehalfOf"]["reference"],
        format!(
            "Organization/{}",
            fim_entry["organization"]["id"].as_str().expect("org")
        )
    );
    assert_eq!(instant(&p["recorded"]), instant(&fim_entry["recorded_at"]));
    let hash = fim_entry["hash"]
        .as_str()
        .expect("hash")
        .trim_start_matches("sha256:");
    let data = p["signature"][0]["data"].as_str().expect("signature data");
    assert_eq!(hex_of_base64(data), hash);
    assert!(p["target"].as_array().is_some_and(|t| t.len() == 21), "{p}");
    let c = fhir_ok(
        &app,
        &token,
        &format!("Provenance/prov-{}", corrected["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(c["activity"]["coding"][0]["code"], "UPDATE");
    assert_eq!(
        c["entity"][1]["what"]["identifier"]["value"],
        original["id"]
    );

    // An outsider: 404 and empty searches.
    let other = app.user_token("clinic-1", "clinic", "clinic-fhir-2").await;
    assert_outcome(
        &fhir(&app, &other, &format!("Consent/{id}")).await,
        404,
        "not-found",
    );
    assert_outcome(
        &fhir(&app, &other, &format!("Provenance/prov-{fim_id}")).await,
        404,
        "not-found",
    );
    assert_outcome(
        &fhir(
            &app,
            &other,
            &format!("Observation/{}", obs_id(&fim_entry, "fim_total")),
        )
        .await,
        404,
        "not-found",
    );
    assert_eq!(
        search(&app, &other, "Consent", &[("patient", &patient)]).await["total"],
        0
    );
    assert_eq!(
        search(&app, &other, "Provenance", &[("patient", &patient)]).await["total"],
        0
    );
}

fn hex_of_base64(s: &str) -> String {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::new();
    for ch in s.chars().filter(|c| *c != '=') {
        bits = (bits << 6) | ALPHABET.find(ch).unwrap_or_else(|| panic!("base64 {ch}")) as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push_str(&format!("{:02x}", (bits >> n) & 0xff));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn organizations_practitioners_and_roles_are_read_within_their_organisation() {
    let app = app_or_skip!();
    let nurse = practitioner(
        &app,
        "acute-1",
        "acute_hospital",
        "fhir-nurse",
        "nurse",
        &[],
    )
    .await;
    let org_admin = practitioner(
        &app,
        "acute-1",
        "acute_hospital",
        "fhir-admin",
        "physician",
        &["org_admin"],
    )
    .await;
    let outsider = practitioner(&app, "clinic-1", "clinic", "fhir-clinic", "physician", &[]).await;

    let orgs = search(&app, &nurse.token, "Organization", &[]).await;
    let list = matched(&orgs);
    assert!(list.len() >= 2);
    let acute = list
        .iter()
        .find(|o| o["identifier"][0]["value"] == "acute-1")
        .unwrap_or_else(|| panic!("acute-1 in {orgs}"));
    assert_eq!(
        acute["meta"]["profile"][0],
        "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Organization"
    );
    let acute_id = acute["id"].as_str().expect("id").to_owned();
    let one = search(
        &app,
        &nurse.token,
        "Organization",
        &[("identifier", "acute-1")],
    )
    .await;
    assert_eq!(one["total"], 1);
    assert_eq!(
        &fhir_ok(&app, &outsider.token, &format!("Organization/{acute_id}")).await,
        acute
    );

    let p = fhir_ok(
        &app,
        &nurse.token,
        &format!("Practitioner/{}", org_admin.id),
    )
    .await;
    assert_eq!(p["resourceType"], "Practitioner");
    assert_eq!(
        p["meta"]["profile"][0],
        "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Practitioner"
    );
    assert_eq!(p["name"][0]["text"], "fhir-admin テスト");
    assert_eq!(
        p["qualification"][0]["code"]["coding"][0]["code"],
        "physician"
    );
    assert!(!p.to_string().contains("password"), "{p}");
    let role = fhir_ok(
        &app,
        &nurse.token,
        &format!("PractitionerRole/role-{}", org_admin.id),
    )
    .await;
    assert_eq!(
        role["practitioner"]["reference"],
        format!("Practitioner/{}", org_admin.id)
    );
    assert_eq!(
        role["organization"]["reference"],
        format!("Organization/{acute_id}")
    );
    assert_eq!(role["code"][1]["coding"][0]["code"], "org_admin");

    let staff = search(&app, &nurse.token, "Practitioner", &[("_count", "1")]).await;
    let all = all_pages(&app, &nurse.token, staff).await;
    assert!(all.iter().any(|p| p["id"] == nurse.id.to_string()));
    assert!(all.iter().all(|p| p["id"] != outsider.id.to_string()));
    let roles = search(&app, &nurse.token, "PractitionerRole", &[]).await;
    assert!(
        matched(&roles)
            .iter()
            .all(|r| r["organization"]["reference"] == format!("Organization/{acute_id}"))
    );

    // Another organisation's people are not found.
    assert_outcome(
        &fhir(&app, &outsider.token, &format!("Practitioner/{}", nurse.id)).await,
        404,
        "not-found",
    );
    assert_outcome(
        &fhir(
            &app,
            &outsider.token,
            &format!("PractitionerRole/role-{}", nurse.id),
        )
        .await,
        404,
        "not-found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_events_are_for_the_regional_administrator_and_every_fhir_read_is_audited() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (_plan, patient, fim_entry, ..) = recorded_plan(&app, &token).await;
    let regional = practitioner(
        &app,
        "region-1",
        "municipality",
        "fhir-regional",
        "physician",
        &["regional_admin"],
    )
    .await;
    let outsider = app.user_token("clinic-1", "clinic", "clinic-fhir-3").await;

    // Reads and a refusal through FHIR.
    fhir_ok(
        &app,
        &token,
        &format!("Observation/{}", obs_id(&fim_entry, "fim_total")),
    )
    .await;
    fhir_ok(&app, &token, &format!("Patient/{patient}")).await;
    fhir(&app, &outsider, &format!("Patient/{patient}"))
        .await
        .assert_status(404);

    // The nurse may not read the audit log: 403 as an OperationOutcome, audited.
    assert_outcome(&fhir(&app, &token, "AuditEvent").await, 403, "forbidden");
    let events = search(
        &app,
        &regional.token,
        "AuditEvent",
        &[("patient", &patient), ("_count", "200")],
    )
    .await;
    let list = matched(&events);
    let fhir_reads: Vec<&Value> = list
        .iter()
        .filter(|e| {
            e["outcomeDesc"]
                .as_str()
                .is_some_and(|d| d.starts_with("fhir:"))
        })
        .collect();
    assert!(
        fhir_reads
            .iter()
            .any(|e| e["subtype"][0]["code"] == "entry.list"
                && e["outcomeDesc"] == "fhir:Observation"
                && e["outcome"] == "0"),
        "{events}"
    );
    assert!(
        fhir_reads
            .iter()
            .any(|e| e["subtype"][0]["code"] == "patient.read"
                && e["outcomeDesc"] == "fhir:Patient"
                && e["outcome"] == "4"),
        "the refusal is audited: {events}"
    );
    let e = list[0].clone();
    assert_eq!(e["resourceType"], "AuditEvent");
    assert!(e["entity"].as_array().is_some_and(|x| {
        x.iter()
            .any(|x| x["what"]["reference"] == format!("Patient/{patient}"))
    }));
    let id = e["id"].as_str().expect("id");
    assert_eq!(
        fhir_ok(&app, &regional.token, &format!("AuditEvent/{id}")).await["id"],
        id
    );
    assert_outcome(
        &fhir(&app, &token, &format!("AuditEvent/{id}")).await,
        403,
        "forbidden",
    );

    // Paging: newest first, a next link, no event twice.
    let first = search(
        &app,
        &regional.token,
        "AuditEvent",
        &[("patient", &patient), ("_count", "2")],
    )
    .await;
    let paged = all_pages(&app, &regional.token, first).await;
    let mut ids: Vec<&str> = paged.iter().filter_map(|e| e["id"].as_str()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert!(n >= list.len());

    // An organisation administrator reads the events of a patient the organisation sees
    // (the access report), and of no other.
    let org_admin = practitioner(
        &app,
        "acute-1",
        "acute_hospital",
        "fhir-org-admin",
        "physician",
        &["org_admin"],
    )
    .await;
    let report = search(
        &app,
        &org_admin.token,
        "AuditEvent",
        &[("patient", &patient), ("_count", "200")],
    )
    .await;
    assert!(!matched(&report).is_empty());
    assert!(
        matched(&report)
            .iter()
            .all(|e| e["entity"][0]["what"]["reference"] == format!("Patient/{patient}")),
        "{report}"
    );
    let clinic_admin = practitioner(
        &app,
        "clinic-1",
        "clinic",
        "fhir-clinic-admin",
        "physician",
        &["org_admin"],
    )
    .await;
    let res = app
        .get_query(
            "/fhir/r4/AuditEvent",
            &clinic_admin.token,
            &[("patient", patient.as_str())],
        )
        .await;
    assert_outcome(&res, 404, "not-found");
    assert_outcome(
        &fhir(&app, &org_admin.token, "AuditEvent").await,
        403,
        "forbidden",
    );

    // The denied audit read itself is on the log.
    let denied = search(&app, &regional.token, "AuditEvent", &[("_count", "50")]).await;
    assert!(
        matched(&denied)
            .iter()
            .any(|e| e["subtype"][0]["code"] == "audit.read" && e["outcome"] == "4"),
        "{denied}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_operation_outcomes_in_the_request_language() {
    let app = app_or_skip!();
    let token = app.token().await;
    let (_plan, patient, ..) = recorded_plan(&app, &token).await;
    // No token: 401.
    let res = send(app.request(Method::GET, &format!("/fhir/r4/Patient/{patient}"))).await;
    assert_outcome(&res, 401, "login");
    // A value that cannot be read, an unknown parameter.
    let res = app
        .get_query("/fhir/r4/Observation", &token, &[("_count", "many")])
        .await;
    assert_outcome(&res, 400, "value");
    assert_eq!(res.body["issue"][0]["expression"][0], "_count");
    let res = send(
        app.request(Method::GET, "/fhir/r4/Consent")
            .query(&[("patient", patient.as_str()), ("foo", "1")])
            .bearer_auth(&token)
            .header("Accept-Language", "en"),
    )
    .await;
    assert_outcome(&res, 400, "not-supported");
    assert!(
        res.body["issue"][0]["details"]["text"]
            .as_str()
            .is_some_and(|t| t.is_ascii()),
        "{}",
        res.text
    );
    // Unknown ids of every type.
    for kind in [
        "Observation",
        "Patient",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Task",
        "Consent",
        "Provenance",
    ] {
        assert_outcome(
            &fhir(&app, &token, &format!("{kind}/{}", uuid::Uuid::now_v7())).await,
            404,
            "not-found",
        );
    }
    // Writes are not served.
    let res = send(
        app.request(Method::DELETE, &format!("/fhir/r4/Patient/{patient}"))
            .bearer_auth(&token),
    )
    .await;
    assert_outcome(&res, 405, "not-supported");
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_of_a_plan_holds_its_patient_values_provenance_tasks_consents_and_parties() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (plan, patient, hid, _r) = handed_over_plan(&app, &a).await;
    let all = fhir_ok(&app, &a, &format!("CarePlan/{plan}/$everything")).await;
    let resources: Vec<Value> = all["entry"]
        .as_array()
        .expect("entry")
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    let of = |kind: &str| -> Vec<&Value> {
        resources
            .iter()
            .filter(|r| r["resourceType"] == kind)
            .collect()
    };
    assert_eq!(of("Patient").len(), 1);
    assert_eq!(of("Patient")[0]["id"], patient.as_str());
    let observations = search(
        &app,
        &a,
        "Observation",
        &[("patient", &patient), ("_count", "200")],
    )
    .await;
    assert_eq!(
        of("Observation").len() as u64,
        observations["total"].as_u64().expect("total")
    );
    let entries = crate::support::entries(&app, &a, &plan).await;
    assert_eq!(of("Provenance").len(), entries.len());
    assert!(of("Task").iter().any(|t| t["id"] == hid.as_str()));
    assert_eq!(of("Task").len(), 2);
    assert_eq!(of("Consent").len(), 1);
    let orgs: Vec<&str> = of("Organization")
        .iter()
        .filter_map(|o| o["identifier"][0]["value"].as_str())
        .collect();
    assert!(
        orgs.contains(&"acute-1") && orgs.contains(&"recovery-1"),
        "{orgs:?}"
    );
    assert!(!of("Practitioner").is_empty());
    // Every reference to a resource of these types resolves inside the Bundle.
    let ids: std::collections::HashSet<String> = resources
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            )
        })
        .collect();
    for o in of("Observation") {
        for r in o["derivedFrom"].as_array().into_iter().flatten() {
            assert!(
                ids.contains(r["reference"].as_str().unwrap_or_default()),
                "{r}"
            );
        }
        assert!(ids.contains(o["performer"][1]["reference"].as_str().unwrap_or_default()));
    }
    // A goal's latest value is one of the plan's Observations.
    let mut outcomes = 0;
    for g in of("Goal") {
        for r in g["outcomeReference"].as_array().into_iter().flatten() {
            outcomes += 1;
            assert!(
                ids.contains(r["reference"].as_str().unwrap_or_default()),
                "{r}"
            );
        }
    }
    assert!(outcomes > 0, "no goal names its latest value");
    for p in of("Provenance") {
        for t in p["target"].as_array().into_iter().flatten() {
            assert!(
                ids.contains(t["reference"].as_str().unwrap_or_default()),
                "{t}"
            );
        }
    }
}

/// A stroke plan with every resource type of this module: values (a total with its
/// items, a correction, a void), a hand-over and a report back, a consent. Returns
/// (plan, patient, a regional administrator's token).
async fn full_plan(app: &TestApp, a: &str) -> (String, String, String) {
    let (plan, patient, _hid, r) = handed_over_plan(app, a).await;
    let fim_entry = append(
        app,
        &r,
        &plan,
        entry(
            "recovery",
            "assessment",
            &days_ago(1),
            Value::Object(fim(6)),
        ),
    )
    .await;
    append(
        app,
        &r,
        &plan,
        correction(&fim_entry, Value::Object(fim(5)), "転記ミス"),
    )
    .await;
    let wrong = append(
        app,
        &r,
        &plan,
        entry("recovery", "assessment", &days_ago(1), json!({"mrs": 5})),
    )
    .await;
    append(app, &r, &plan, void(&wrong, "別の患者の値")).await;
    let regional = practitioner(
        app,
        "region-1",
        "municipality",
        "fhir-regional-v",
        "physician",
        &["regional_admin"],
    )
    .await;
    (plan, patient, regional.token)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_resource_and_bundle_of_these_types_passes_both_validators() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (plan, patient, regional) = full_plan(&app, &a).await;
    let mut produced = Vec::new();
    for (kind, query) in [
        (
            "Observation",
            vec![
                ("patient", patient.as_str()),
                ("_include", "Observation:patient"),
                ("_count", "200"),
            ],
        ),
        (
            "Observation",
            vec![("patient", patient.as_str()), ("_count", "2")],
        ),
        ("Patient", vec![("_id", patient.as_str())]),
        ("Organization", vec![]),
        ("Practitioner", vec![]),
        ("PractitionerRole", vec![]),
        ("Task", vec![("patient", patient.as_str())]),
        ("Consent", vec![("patient", patient.as_str())]),
        ("Provenance", vec![("patient", patient.as_str())]),
    ] {
        let bundle = search(&app, &a, kind, &query).await;
        for e in bundle["entry"].as_array().into_iter().flatten() {
            produced.push(e["resource"].clone());
        }
        produced.push(bundle);
    }
    let audit = search(
        &app,
        &regional,
        "AuditEvent",
        &[("patient", patient.as_str()), ("_count", "20")],
    )
    .await;
    for e in audit["entry"].as_array().into_iter().flatten() {
        produced.push(e["resource"].clone());
    }
    produced.push(audit);
    produced.push(fhir_ok(&app, &a, &format!("CarePlan/{plan}/$everything")).await);
    produced.push(fhir(&app, &a, "Task/nope").await.body);
    produced.push(app.get("/fhir/r4/Observation", &a).await.body);
    let kinds: std::collections::BTreeSet<&str> = produced
        .iter()
        .filter_map(|r| r["resourceType"].as_str())
        .collect();
    for kind in [
        "Observation",
        "Patient",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Task",
        "Consent",
        "Provenance",
        "AuditEvent",
        "Bundle",
        "OperationOutcome",
    ] {
        assert!(kinds.contains(kind), "{kind} not validated");
    }
    let statuses: std::collections::BTreeSet<&str> = produced
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["amended", "entered-in-error", "final"]
            .into_iter()
            .collect()
    );
    let errors = renkei_testkit::fhir_validate_all(&produced);
    assert!(
        errors.is_empty(),
        "validation errors:\n{}",
        errors.join("\n")
    );
}

/// Replaces what changes from run to run (UUIDs, dates and times, the entry hashes as
/// signature data, audit leaf hashes) with fixed markers.
fn scrub(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(scrub_text(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(scrub).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| match k.as_str() {
                    "data" => (k, json!("[signature]")),
                    "valueString" => (k, json!("[hash]")),
                    _ => (k, scrub(v)),
                })
                .collect(),
        ),
        other => other,
    }
}

fn scrub_text(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.len() >= 36
            && rest[..36].iter().enumerate().all(|(j, c)| match j {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
        {
            out.push_str("[uuid]");
            i += 36;
        } else if rest.len() >= 10
            && rest[..10].iter().enumerate().all(|(j, c)| match j {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
        {
            let mut n = 10;
            if rest.get(10) == Some(&b'T') {
                n = rest
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || b":.+-".contains(c)))
                    .unwrap_or(rest.len());
            }
            out.push_str("[time]");
            i += n;
        } else {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn one_resource_of_each_of_these_types_matches_its_snapshot() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (plan, patient, regional) = full_plan(&app, &a).await;
    let all = fhir_ok(&app, &a, &format!("CarePlan/{plan}/$everything")).await;
    let resources: Vec<Value> = all["entry"]
        .as_array()
        .expect("entry")
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    let pick = |kind: &str, f: &dyn Fn(&Value) -> bool| -> Value {
        resources
            .iter()
            .find(|r| r["resourceType"] == kind && f(r))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let mut shots = vec![
        (
            "Observation",
            pick("Observation", &|o| {
                o["id"].as_str().is_some_and(|i| i.ends_with("-fim-total"))
                    && o["status"] == "final"
            }),
        ),
        ("Patient", pick("Patient", &|_| true)),
        (
            "Organization",
            pick("Organization", &|o| {
                o["identifier"][0]["value"] == "recovery-1"
            }),
        ),
        (
            "Practitioner",
            pick("Practitioner", &|p| {
                p["name"][0]["text"] == "acute-user-0 テスト"
            }),
        ),
        (
            "Task",
            pick("Task", &|t| t["code"]["coding"][0]["code"] == "handover"),
        ),
        ("Consent", pick("Consent", &|_| true)),
        (
            "Provenance",
            pick("Provenance", &|p| {
                p["activity"]["coding"][0]["code"] == "UPDATE"
            }),
        ),
    ];
    let role = search(&app, &a, "PractitionerRole", &[]).await;
    shots.push(("PractitionerRole", matched(&role)[0].clone()));
    let audit = search(
        &app,
        &regional,
        "AuditEvent",
        &[("patient", patient.as_str()), ("_count", "1")],
    )
    .await;
    shots.push(("AuditEvent", matched(&audit)[0].clone()));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (kind, resource) in shots {
            let mut r = scrub(resource);
            if kind == "Patient" {
                // The test patient's number is random.
                r["identifier"][0]["value"] = json!("[number]");
            }
            insta::assert_json_snapshot!(format!("fhir_{kind}"), r);
        }
    });
}
