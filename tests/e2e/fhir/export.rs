//! Issue 15 §4: FHIR Bulk Data `$export` over HTTP — asynchronous (202 and a status URL,
//! 202 while running, then the manifest), ndjson per type, only the plans whose consent
//! includes `statistics`, pseudonymised (no names, no identifiers, birth year only, the
//! same pseudonyms on the next export), the regional administrator only, audited.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use crate::support::{app_or_skip, consent, stroke_plan};
use renkei_testkit::TestApp;
use renkei_testkit::app::send;

/// Kicks off `path`, polls the status URL until the manifest comes (every answer before
/// it a 202), and downloads each file: (type, resources).
pub async fn run_export(app: &TestApp, token: &str, path: &str) -> Vec<(String, Vec<Value>)> {
    let kick = send(
        app.request(Method::GET, path)
            .bearer_auth(token)
            .header("Accept", "application/fhir+json")
            .header("Prefer", "respond-async"),
    )
    .await;
    kick.assert_status(202);
    let status_url = kick
        .headers
        .get("content-location")
        .and_then(|v| v.to_str().ok())
        .expect("Content-Location")
        .to_owned();
    assert!(status_url.starts_with("http://"), "{status_url}");
    let manifest = loop {
        let res = send(
            app.request(Method::GET, path_of(&status_url))
                .bearer_auth(token),
        )
        .await;
        match res.status.as_u16() {
            202 => {
                assert!(res.headers.get("retry-after").is_some());
                tokio::task::yield_now().await;
            }
            200 => break res,
            other => panic!("status URL answered {other}: {}", res.text),
        }
    };
    assert_eq!(manifest.content_type(), "application/json");
    assert_eq!(manifest.body["requiresAccessToken"], true);
    assert!(manifest.body["transactionTime"].is_string());
    assert!(
        manifest.body["request"]
            .as_str()
            .is_some_and(|r| r.ends_with(path))
    );
    let mut files = Vec::new();
    for o in manifest.body["output"].as_array().expect("output") {
        let url = o["url"].as_str().expect("url");
        let res = send(app.request(Method::GET, path_of(url)).bearer_auth(token)).await;
        res.assert_status(200);
        assert_eq!(res.content_type(), "application/fhir+ndjson");
        let lines: Vec<Value> = res
            .text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one resource per line"))
            .collect();
        assert_eq!(o["count"].as_u64(), Some(lines.len() as u64));
        let kind = o["type"].as_str().expect("type").to_owned();
        assert!(lines.iter().all(|r| r["resourceType"] == kind.as_str()));
        files.push((kind, lines));
    }
    files
}

/// The path of an absolute URL of the test server.
fn path_of(url: &str) -> &str {
    let at = url.find("/fhir/r4").expect("a URL under /fhir/r4");
    &url[at..]
}

/// The demo region plus one plan of the same region whose consent leaves out
/// `statistics`, and one plan without any consent.
async fn region_with_consents(app: &TestApp) -> (String, String, String) {
    renkei_service::demo::load(&app.services)
        .await
        .expect("load the demo region");
    let sato = renkei_service::admin::issue_token(&app.services, "sato", "export", None)
        .await
        .expect("sato");
    let kanri = renkei_service::admin::issue_token(&app.services, "kanri", "export", None)
        .await
        .expect("kanri");
    let care_only = stroke_plan(app, &sato, 3).await;
    // Consent to care only: shared with the care team, not for statistics.
    consent(app, &sato, &care_only).await;
    let none = stroke_plan(app, &sato, 2).await;
    (sato, kanri, format!("{care_only} {none}"))
}

/// How many plans have an active consent whose purposes include `statistics`.
async fn plans_consenting_to_statistics(app: &TestApp) -> usize {
    let plans = renkei_store::queries::all_care_plans(&app.services.db)
        .await
        .expect("plans");
    let ids: Vec<uuid::Uuid> = plans.iter().map(|p| p.id).collect();
    let consents = renkei_store::queries_access::consents_of_plans(&app.services.db, &ids)
        .await
        .expect("consents");
    plans
        .iter()
        .filter(|p| {
            consents.iter().any(|c| {
                c.care_plan_id == p.id
                    && c.withdrawn_at.is_none()
                    && c.purposes.contains("\"statistics\"")
            })
        })
        .count()
}

fn by_type(files: &[(String, Vec<Value>)]) -> BTreeMap<String, Vec<Value>> {
    files.iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_regional_administrator_exports_consenting_plans_pseudonymised_as_ndjson() {
    let app = app_or_skip!();
    let (_, kanri, _) = region_with_consents(&app).await;
    let files = run_export(&app, &kanri, "/fhir/r4/$export").await;
    let files = by_type(&files);
    for kind in ["Patient", "CarePlan", "Goal", "Observation"] {
        assert!(
            files.get(kind).is_some_and(|f| !f.is_empty()),
            "no {kind}.ndjson"
        );
    }

    // Only the plans whose active consent includes statistics.
    let consenting = plans_consenting_to_statistics(&app).await;
    assert_eq!(
        files["CarePlan"].len(),
        consenting,
        "one CarePlan per consenting plan"
    );

    // Pseudonymised: no names, identifiers, free text or full birth dates.
    let patients = &files["Patient"];
    for p in patients {
        let keys: Vec<&String> = p.as_object().expect("object").keys().collect();
        assert_eq!(
            keys.len(),
            4,
            "only resourceType, id, gender, birthDate: {p}"
        );
        assert!(
            p["birthDate"].as_str().is_some_and(|b| b.len() == 4),
            "birth year only: {p}"
        );
        assert!(p.get("name").is_none() && p.get("identifier").is_none());
    }
    let everything = serde_json::to_string(&files).expect("json");
    for secret in [
        "佐々木",
        "ササキ",
        "伊藤",
        "イトウ",
        "identifier",
        "\"note\"",
        "Practitioner/",
        "Organization/",
    ] {
        assert!(!everything.contains(secret), "the export contains {secret}");
    }
    // No Renkei id (UUID) leaks: the ids are pseudonyms.
    let real_ids: Vec<String> = renkei_store::queries::all_care_plans(&app.services.db)
        .await
        .expect("plans")
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    for id in &real_ids {
        assert!(
            !everything.contains(id.as_str()),
            "plan id {id} in the export"
        );
    }
    // References resolve within the export.
    let patient_ids: Vec<&str> = patients.iter().filter_map(|p| p["id"].as_str()).collect();
    for plan in &files["CarePlan"] {
        let subject = plan["subject"]["reference"].as_str().expect("subject");
        assert!(
            patient_ids
                .iter()
                .any(|p| subject == format!("Patient/{p}"))
        );
    }

    // Stable: the next export gives the same pseudonyms.
    let again = by_type(&run_export(&app, &kanri, "/fhir/r4/$export").await);
    let ids = |f: &BTreeMap<String, Vec<Value>>, k: &str| -> Vec<String> {
        let mut v: Vec<String> = f[k]
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&files, "Patient"), ids(&again, "Patient"));
    assert_eq!(ids(&files, "CarePlan"), ids(&again, "CarePlan"));

    // `_type` narrows the files; the group form names the administrator's region.
    let only = run_export(&app, &kanri, "/fhir/r4/$export?_type=Patient").await;
    assert_eq!(
        only.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["Patient"]
    );
    let group = run_export(&app, &kanri, "/fhir/r4/Group/%E5%8D%83%E8%91%89/$export").await;
    assert_eq!(by_type(&group)["CarePlan"].len(), consenting);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_regional_administrator_exports_and_every_step_is_audited() {
    let app = app_or_skip!();
    let (sato, kanri, _) = region_with_consents(&app).await;
    // A clinician: 403 OperationOutcome, audited as denied.
    let res = send(
        app.request(Method::GET, "/fhir/r4/$export")
            .bearer_auth(&sato)
            .header("Prefer", "respond-async"),
    )
    .await;
    res.assert_status(403);
    assert_eq!(res.body["resourceType"], "OperationOutcome");
    // Without Prefer: respond-async, 400 naming the header.
    let res = send(
        app.request(Method::GET, "/fhir/r4/$export")
            .bearer_auth(&kanri),
    )
    .await;
    res.assert_status(400);
    assert_eq!(res.body["resourceType"], "OperationOutcome");
    assert_eq!(res.body["issue"][0]["expression"][0], "Prefer");
    // An unknown type: 400.
    let res = send(
        app.request(Method::GET, "/fhir/r4/$export?_type=Practitioner")
            .bearer_auth(&kanri)
            .header("Prefer", "respond-async"),
    )
    .await;
    res.assert_status(400);
    // Another region's group: 404.
    let res = send(
        app.request(Method::GET, "/fhir/r4/Group/other/$export")
            .bearer_auth(&kanri)
            .header("Prefer", "respond-async"),
    )
    .await;
    res.assert_status(404);

    let files = run_export(&app, &kanri, "/fhir/r4/$export").await;
    // Someone else cannot poll or download the job.
    let kick = send(
        app.request(Method::GET, "/fhir/r4/$export")
            .bearer_auth(&kanri)
            .header("Prefer", "respond-async"),
    )
    .await;
    let status = path_of(kick.headers["content-location"].to_str().expect("url")).to_owned();
    let res = send(app.request(Method::GET, &status).bearer_auth(&sato)).await;
    res.assert_status(403);

    let events = renkei_testkit::rows::audit_events(&app.services.db)
        .await
        .expect("audit");
    let count = |action: &str, outcome: &str| {
        events
            .iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count("fhir.export", "denied"), 1);
    assert!(count("fhir.export", "allowed") >= 2);
    assert_eq!(count("fhir.export.download", "allowed"), files.len());
    assert!(count("fhir.export.status", "denied") >= 1);
}
