//! Issue 15 §5: every resource type and Bundle the server produces passes the two
//! independent validators (PyPI `fhir.resources` R4B and npm `@medplum/core`, see
//! `renkei_testkit::fhir`) with 0 errors. The types come from `metadata`, so a type the
//! server starts serving is validated without a change here: each is searched (the
//! searchset Bundle) and one of its resources read, over HTTP, from the demo region
//! built through the services; plus `$everything`, the referral document, the Bulk Data
//! export's ndjson and the OperationOutcomes of errors.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use crate::support::app_or_skip;
use renkei_testkit::app::send;
use renkei_testkit::{TestApp, fhir_validate_all};

/// The demo region with a full-access token of each organisation's user.
async fn demo_tokens(app: &TestApp) -> Vec<(String, String)> {
    renkei_service::demo::load(&app.services)
        .await
        .expect("load the demo region");
    let mut out = Vec::new();
    for login in ["sato", "tanaka", "suzuki", "takahashi", "kanri"] {
        let token =
            renkei_service::admin::issue_token(&app.services, login, "fhir-validation", None)
                .await
                .expect("token");
        out.push((login.to_owned(), token));
    }
    out
}

async fn fhir_get(app: &TestApp, path: &str, token: Option<&str>) -> renkei_testkit::ApiResponse {
    let mut req = app.request(Method::GET, path);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

/// The types `metadata` lists with their interactions.
async fn served_types(app: &TestApp) -> (Value, Vec<(String, Vec<String>, Vec<String>)>) {
    let res = fhir_get(app, "/fhir/r4/metadata", None).await;
    res.assert_status(200);
    let mut types = Vec::new();
    for r in res.body["rest"][0]["resource"]
        .as_array()
        .expect("rest.resource")
    {
        let kind = r["type"].as_str().expect("type").to_owned();
        let interactions = r["interaction"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["code"].as_str().map(str::to_owned))
            .collect();
        let operations = r["operation"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str().map(str::to_owned))
            .collect();
        types.push((kind, interactions, operations));
    }
    (res.body, types)
}

fn assert_valid(what: &str, resources: &[Value]) {
    let errors = fhir_validate_all(resources);
    assert!(
        errors.is_empty(),
        "{what}: the FHIR validators found {} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_served_type_and_bundle_passes_both_validators() {
    let app = app_or_skip!();
    let tokens = demo_tokens(&app).await;
    let (capability, types) = served_types(&app).await;
    assert!(!types.is_empty(), "metadata lists no resource type");

    // Everything read goes into one batch per validator run; `found` names what each
    // type produced so that a type nobody can read fails the test.
    let mut batch: Vec<(String, Value)> = vec![("metadata".into(), capability)];
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    let patients: Vec<String> = renkei_store::queries::all_care_plans(&app.services.db)
        .await
        .expect("plans")
        .iter()
        .map(|p| p.patient_id.to_string())
        .collect();
    for (kind, interactions, _) in &types {
        if !interactions.iter().any(|i| i == "search-type") {
            continue;
        }
        for (login, token) in &tokens {
            let mut res = fhir_get(&app, &format!("/fhir/r4/{kind}?_count=5"), Some(token)).await;
            // A type searched per patient (or by id): each patient of the demo until one
            // search has entries.
            if res.status == 400 {
                batch.push((
                    format!("{kind} search without parameters"),
                    res.body.clone(),
                ));
                'patients: for patient in &patients {
                    for query in [
                        format!("patient=Patient/{patient}"),
                        format!("_id={patient}"),
                    ] {
                        let narrowed = fhir_get(
                            &app,
                            &format!("/fhir/r4/{kind}?{query}&_count=5"),
                            Some(token),
                        )
                        .await;
                        if narrowed.status == 200 {
                            let has_entries = narrowed.body["entry"]
                                .as_array()
                                .is_some_and(|e| !e.is_empty());
                            res = narrowed;
                            if has_entries {
                                break 'patients;
                            }
                        }
                    }
                }
            }
            if res.status != 200 {
                // A type the user may not search (the audit trail for others) answers an
                // OperationOutcome, itself validated.
                assert_eq!(
                    res.body["resourceType"], "OperationOutcome",
                    "{kind} as {login}: {}",
                    res.text
                );
                batch.push((format!("{kind} search refused to {login}"), res.body));
                continue;
            }
            assert_eq!(res.body["type"], "searchset", "{kind} as {login}");
            let entries = res.body["entry"].as_array().cloned().unwrap_or_default();
            batch.push((format!("{kind} searchset as {login}"), res.body.clone()));
            if let Some(first) = entries
                .iter()
                .find(|e| e["resource"]["resourceType"] == kind.as_str())
            {
                *found.entry(kind.clone()).or_default() += 1;
                let id = first["resource"]["id"].as_str().expect("id");
                if interactions.iter().any(|i| i == "read") {
                    let read = fhir_get(&app, &format!("/fhir/r4/{kind}/{id}"), Some(token)).await;
                    read.assert_status(200);
                    assert_eq!(read.body["resourceType"], kind.as_str());
                    batch.push((format!("{kind}/{id} as {login}"), read.body));
                }
            }
        }
    }
    // Types that are read but not searched (Composition): reached through the hand-overs.
    let (_, sato) = &tokens[0];
    let mut handover_ids = Vec::new();
    for plan in renkei_store::queries::all_care_plans(&app.services.db)
        .await
        .expect("plans")
    {
        let res = app
            .get(&format!("/api/v1/care-plans/{}/handovers", plan.id), sato)
            .await;
        if res.status == 200 {
            handover_ids.extend(
                res.body["handovers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|h| h["id"].as_str().map(str::to_owned)),
            );
        }
    }
    assert!(!handover_ids.is_empty(), "the demo region has hand-overs");
    for (kind, interactions, operations) in &types {
        if kind == "Composition" {
            for id in &handover_ids {
                if interactions.iter().any(|i| i == "read") {
                    let c = fhir_get(&app, &format!("/fhir/r4/Composition/{id}"), Some(sato)).await;
                    c.assert_status(200);
                    batch.push((format!("Composition/{id}"), c.body));
                    *found.entry(kind.clone()).or_default() += 1;
                }
                if operations.iter().any(|o| o == "document") {
                    let d = fhir_get(
                        &app,
                        &format!("/fhir/r4/Composition/{id}/$document"),
                        Some(sato),
                    )
                    .await;
                    d.assert_status(200);
                    assert_eq!(d.body["type"], "document");
                    batch.push((format!("Composition/{id}/$document"), d.body));
                }
            }
        }
        if kind == "CarePlan" && operations.iter().any(|o| o == "everything") {
            let plans = fhir_get(&app, "/fhir/r4/CarePlan?_count=50", Some(sato)).await;
            for e in plans.body["entry"].as_array().into_iter().flatten() {
                let id = e["resource"]["id"].as_str().expect("id");
                let all = fhir_get(
                    &app,
                    &format!("/fhir/r4/CarePlan/{id}/$everything"),
                    Some(sato),
                )
                .await;
                all.assert_status(200);
                batch.push((format!("CarePlan/{id}/$everything"), all.body));
            }
        }
    }
    // OperationOutcomes: unknown id, no token, unknown type.
    for (path, token) in [
        (
            "/fhir/r4/CarePlan/00000000-0000-7000-8000-000000000000",
            Some(sato.as_str()),
        ),
        ("/fhir/r4/CarePlan", None),
        ("/fhir/r4/NoSuchType", Some(sato.as_str())),
    ] {
        let res = fhir_get(&app, path, token).await;
        assert_eq!(res.body["resourceType"], "OperationOutcome", "{path}");
        batch.push((format!("OperationOutcome of {path}"), res.body));
    }

    for (kind, interactions, _) in &types {
        if interactions
            .iter()
            .any(|i| i == "search-type" || i == "read")
        {
            assert!(
                found.get(kind).copied().unwrap_or(0) > 0,
                "no demo user could read a {kind}: the validation would not cover it"
            );
        }
    }
    let (names, resources): (Vec<String>, Vec<Value>) = batch.into_iter().unzip();
    let errors = fhir_validate_all(&resources);
    let described: Vec<String> = errors
        .iter()
        .map(|e| {
            let index = e
                .split_once(": #")
                .and_then(|(_, rest)| rest.split_once(' '))
                .and_then(|(i, _)| i.parse::<usize>().ok());
            match index {
                Some(i) => format!("{} — {e}", names[i]),
                None => e.clone(),
            }
        })
        .collect();
    assert!(
        described.is_empty(),
        "the FHIR validators found {} errors:\n{}",
        described.len(),
        described.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bulk_export_files_pass_both_validators() {
    let app = app_or_skip!();
    let tokens = demo_tokens(&app).await;
    let (_, kanri) = tokens.iter().find(|(l, _)| l == "kanri").expect("kanri");
    let files = crate::fhir::export::run_export(&app, kanri, "/fhir/r4/$export").await;
    assert!(!files.is_empty(), "the export wrote no file");
    for (kind, lines) in files {
        assert_valid(&format!("{kind}.ndjson"), &lines);
    }
}

/// One resource of each type `metadata` lists, from the demo region, against its insta
/// snapshot (`tests/e2e/fhir/snapshots/`), ids, hashes and times redacted: of the
/// resources the demo users can search, the first in the order of their redacted JSON,
/// so the choice does not depend on ids or times.
#[tokio::test(flavor = "multi_thread")]
async fn one_resource_of_each_type_matches_its_snapshot() {
    let app = app_or_skip!();
    let tokens = demo_tokens(&app).await;
    let (_, types) = served_types(&app).await;
    let patients: Vec<String> = renkei_store::queries::all_care_plans(&app.services.db)
        .await
        .expect("plans")
        .iter()
        .map(|p| p.patient_id.to_string())
        .collect();
    let (_, sato) = &tokens[0];
    for (kind, interactions, _) in &types {
        let mut candidates: Vec<Value> = Vec::new();
        if interactions.iter().any(|i| i == "search-type") {
            for (_, token) in &tokens {
                let mut queries = vec![String::new()];
                for p in &patients {
                    queries.push(format!("patient=Patient/{p}&"));
                    queries.push(format!("_id={p}&"));
                }
                for q in queries {
                    // Every page: the snapshot is the least of all matches, whatever order
                    // the random ids give the pages.
                    let mut path = Some(format!("/fhir/r4/{kind}?{q}_count=200"));
                    while let Some(p) = path.take() {
                        let res = fhir_get(&app, &p, Some(token)).await;
                        if res.status != 200 {
                            break;
                        }
                        candidates.extend(
                            res.body["entry"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter(|e| e["resource"]["resourceType"] == kind.as_str())
                                .map(|e| crate::fhir::document::redact(e["resource"].clone())),
                        );
                        path = res.body["link"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|l| l["relation"] == "next")
                            .and_then(|l| l["url"].as_str())
                            .and_then(|u| u.find("/fhir/r4/").map(|i| u[i..].to_owned()));
                    }
                    if q.is_empty() && !candidates.is_empty() {
                        break;
                    }
                }
            }
        } else if kind == "Composition" {
            for plan in renkei_store::queries::all_care_plans(&app.services.db)
                .await
                .expect("plans")
            {
                let res = app
                    .get(&format!("/api/v1/care-plans/{}/handovers", plan.id), sato)
                    .await;
                for h in res.body["handovers"].as_array().into_iter().flatten() {
                    let id = h["id"].as_str().expect("id");
                    let c = fhir_get(&app, &format!("/fhir/r4/Composition/{id}"), Some(sato)).await;
                    if c.status == 200 {
                        candidates.push(crate::fhir::document::redact(c.body));
                    }
                }
            }
        }
        candidates.sort_by_key(|v| v.to_string());
        let first = candidates
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {kind} to snapshot"));
        insta::assert_json_snapshot!(format!("resource_{kind}"), first);
    }
}
