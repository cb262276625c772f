//! `metadata`, PlanDefinition, CarePlan, CareTeam and Goal over HTTP: reads, searches,
//! paging, `_include`, `$everything`, the JSON API's access rules and audit events, and
//! every error as an OperationOutcome. Snapshots (insta) of one resource of each type
//! live in `tests/e2e/fhir/snapshots/` (UUIDs, dates and times redacted); accept an
//! intended change with `INSTA_UPDATE=always CI= cargo test -p renkei-e2e --test e2e --
//! fhir::read_core::` and review the diff.

use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::rows;
use renkei_testkit::{ApiResponse, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, stroke_plan, team_member};

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

async fn fhir_get(app: &TestApp, path: &str, token: &str) -> ApiResponse {
    send(
        app.request(Method::GET, &format!("/fhir/r4{path}"))
            .bearer_auth(token),
    )
    .await
}

/// GET of an absolute URL the server wrote (a `next` link).
async fn follow(app: &TestApp, url: &str, token: &str) -> ApiResponse {
    let path = url
        .split_once("/fhir/r4")
        .map(|(_, p)| p.to_owned())
        .unwrap_or_else(|| panic!("not a FHIR URL: {url}"));
    fhir_get(app, &path, token).await
}

fn ok(res: &ApiResponse) -> &Value {
    assert_eq!(res.status.as_u16(), 200, "{}", res.text);
    assert_eq!(res.content_type(), FHIR_JSON);
    &res.body
}

fn outcome(res: &ApiResponse, status: u16, code: &str) {
    assert_eq!(res.status.as_u16(), status, "{}", res.text);
    assert_eq!(res.content_type(), FHIR_JSON);
    assert_eq!(res.body["resourceType"], "OperationOutcome", "{}", res.text);
    assert_eq!(res.body["issue"][0]["severity"], "error");
    assert_eq!(res.body["issue"][0]["code"], code, "{}", res.text);
    assert!(res.body["issue"][0]["details"]["text"].is_string());
}

fn ids_of(bundle: &Value, kind: &str) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["resource"]["resourceType"] == kind)
                .filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"].as_array().and_then(|l| {
        l.iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str().map(str::to_owned))
    })
}

/// The patient id of a plan, through the JSON API.
async fn patient_of(app: &TestApp, token: &str, plan: &str) -> String {
    let res = app.get(&format!("/api/v1/care-plans/{plan}"), token).await;
    res.assert_status(200);
    res.body["patient_id"]
        .as_str()
        .expect("patient id")
        .to_owned()
}

#[tokio::test]
async fn metadata_is_a_capability_statement_in_fhir_json() {
    let app = app_or_skip!();
    let res = send(app.request(Method::GET, "/fhir/r4/metadata")).await;
    let body = ok(&res);
    assert_eq!(body["resourceType"], "CapabilityStatement");
    assert_eq!(body["fhirVersion"], "4.0.1");
    assert_eq!(body["kind"], "instance");
    let types: Vec<&str> = body["rest"][0]["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    for kind in ["PlanDefinition", "CarePlan", "CareTeam", "Goal"] {
        assert!(types.contains(&kind), "{kind} missing from {types:?}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_operation_outcomes_in_the_request_language() {
    let app = app_or_skip!();
    let res = send(app.request(Method::GET, "/fhir/r4/NoSuchType/1")).await;
    outcome(&res, 404, "not-found");
    assert_eq!(
        res.body["issue"][0]["details"]["text"],
        "指定されたデータが見つかりません"
    );
    let res = send(
        app.request(Method::DELETE, "/fhir/r4/metadata")
            .header("Accept-Language", "en"),
    )
    .await;
    outcome(&res, 405, "not-supported");
    assert_eq!(
        res.body["issue"][0]["details"]["text"],
        "Method not allowed here"
    );
    assert!(res.headers.get("allow").is_some());
}

/// Every type the statement lists answers its search and an unknown id of it with an
/// OperationOutcome (404), never the router's "no such path": the statement lists
/// exactly what is served.
#[tokio::test]
async fn every_type_the_capability_statement_lists_is_served() {
    let app = app_or_skip!();
    let token = app.token().await;
    let meta = send(app.request(Method::GET, "/fhir/r4/metadata")).await;
    for r in meta.body["rest"][0]["resource"]
        .as_array()
        .expect("resources")
    {
        let kind = r["type"].as_str().expect("type");
        let interactions: Vec<&str> = r["interaction"]
            .as_array()
            .expect("interactions")
            .iter()
            .filter_map(|i| i["code"].as_str())
            .collect();
        if kind == "AuditEvent" {
            // The audit log is the regional administrator's alone, as on /api/v1.
            for path in [
                "/AuditEvent?_count=1",
                "/AuditEvent/00000000-0000-0000-0000-000000000000",
            ] {
                outcome(&fhir_get(&app, path, &token).await, 403, "forbidden");
            }
            continue;
        }
        if interactions.contains(&"search-type") {
            let res = fhir_get(&app, &format!("/{kind}?_count=1"), &token).await;
            assert_eq!(ok(&res)["type"], "searchset", "{kind}");
        }
        if interactions.contains(&"read") {
            let res = fhir_get(
                &app,
                &format!("/{kind}/00000000-0000-0000-0000-000000000000"),
                &token,
            )
            .await;
            outcome(&res, 404, "not-found");
        }
    }
}

#[tokio::test]
async fn care_plan_goal_care_team_and_plan_definition_are_read_and_linked() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let patient = patient_of(&app, &token, &plan).await;

    let res = fhir_get(&app, &format!("/CarePlan/{plan}"), &token).await;
    let cp = ok(&res).clone();
    assert_eq!(cp["resourceType"], "CarePlan");
    assert_eq!(cp["id"], plan.as_str());
    assert_eq!(cp["status"], "active");
    assert_eq!(cp["intent"], "plan");
    assert_eq!(cp["subject"]["reference"], format!("Patient/{patient}"));
    assert_eq!(cp["careTeam"][0]["reference"], format!("CareTeam/{plan}"));
    let canonical = cp["instantiatesCanonical"][0].as_str().expect("canonical");
    let (url, version) = canonical.split_once('|').expect("url|version");
    assert_eq!(url, "https://renkei.example.jp/fhir/PlanDefinition/stroke");
    assert!(!version.is_empty());
    let activities = cp["activity"].as_array().expect("activities");
    assert!(activities.len() >= 2, "one activity per stage");
    for a in activities {
        let s = a["detail"]["status"].as_str().expect("status");
        assert!(
            ["not-started", "in-progress", "completed"].contains(&s),
            "{s}"
        );
    }
    assert!(cp["meta"]["lastUpdated"].is_string());

    // The PlanDefinition the plan pins: found by its url, with that version.
    let res = fhir_get(&app, &format!("/PlanDefinition?url={url}"), &token).await;
    let defs = ok(&res);
    let def = defs["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["version"] == version)
        .expect("the pinned version")
        .clone();
    let res = fhir_get(
        &app,
        &format!("/PlanDefinition/{}", def["id"].as_str().expect("id")),
        &token,
    )
    .await;
    let pd = ok(&res);
    assert_eq!(pd["url"], url);
    assert_eq!(pd["status"], "active");
    assert_eq!(
        pd["action"].as_array().map(Vec::len),
        Some(activities.len())
    );
    assert!(pd["goal"].as_array().is_some_and(|g| !g.is_empty()));
    assert!(
        pd["goal"]
            .as_array()
            .expect("goals")
            .iter()
            .any(|g| g["target"][0]["due"].is_object()),
        "due offsets"
    );

    // Every goal the plan references reads back, with its status from the goal engine.
    let goals = cp["goal"].as_array().expect("goals");
    assert!(!goals.is_empty());
    for g in goals {
        let reference = g["reference"].as_str().expect("reference");
        let res = fhir_get(&app, &format!("/{reference}"), &token).await;
        let goal = ok(&res);
        assert_eq!(goal["resourceType"], "Goal");
        assert_eq!(
            format!("Goal/{}", goal["id"].as_str().expect("id")),
            reference
        );
        let state = goal["extension"][0]["valueCode"]
            .as_str()
            .expect("goal state");
        let lifecycle = if state == "not_applicable" {
            "cancelled"
        } else {
            "active"
        };
        assert_eq!(goal["lifecycleStatus"], lifecycle, "{goal}");
        let achievement = match state {
            "met" => Some("achieved"),
            "not_met" | "overdue" => Some("not-achieved"),
            "pending" => Some("in-progress"),
            _ => None,
        };
        assert_eq!(
            goal["achievementStatus"]["coding"][0]["code"].as_str(),
            achievement
        );
        assert_eq!(goal["subject"]["reference"], format!("Patient/{patient}"));
        assert!(goal["target"].as_array().is_some_and(|t| !t.is_empty()));
        assert!(goal["extension"][0]["valueCode"].is_string());
    }

    let res = fhir_get(&app, &format!("/CareTeam/{plan}"), &token).await;
    let team = ok(&res);
    assert_eq!(team["resourceType"], "CareTeam");
    assert_eq!(team["status"], "active");
    assert!(
        team["participant"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    assert!(
        team["participant"][0]["member"]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("Organization/"))
    );

    // Every read was audited as the JSON API's read, with the FHIR type as detail.
    let events = rows::audit_events(&app.services.db)
        .await
        .expect("audit events");
    for (action, detail) in [
        ("care_plan.read", "fhir:CarePlan"),
        ("goal.read", "fhir:Goal"),
        ("care_team.read", "fhir:CareTeam"),
    ] {
        assert!(
            events.iter().any(|e| e.action == action
                && e.detail.as_deref() == Some(detail)
                && e.care_plan_id.map(|p| p.to_string()) == Some(plan.clone())
                && e.outcome == "allowed"),
            "{action} {detail} not audited"
        );
    }
}

#[tokio::test]
async fn care_plan_search_filters_by_patient_status_and_last_updated_and_pages_with_next() {
    let app = app_or_skip!();
    let token = app.token().await;
    let mut plans = Vec::new();
    for days in [1, 2, 3] {
        plans.push(stroke_plan(&app, &token, days).await);
    }
    let patient = patient_of(&app, &token, &plans[1]).await;

    let res = fhir_get(&app, &format!("/CarePlan?patient={patient}"), &token).await;
    let b = ok(&res);
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 1);
    assert_eq!(ids_of(b, "CarePlan"), vec![plans[1].clone()]);
    assert!(b["entry"][0]["fullUrl"].as_str().is_some_and(
        |u| u.starts_with("http://") && u.ends_with(&format!("/fhir/r4/CarePlan/{}", plans[1]))
    ));
    assert_eq!(b["entry"][0]["search"]["mode"], "match");
    let res = fhir_get(
        &app,
        &format!("/CarePlan?patient=Patient/{patient}"),
        &token,
    )
    .await;
    assert_eq!(ok(&res)["total"], 1);

    let res = fhir_get(&app, "/CarePlan?status=active", &token).await;
    assert_eq!(ok(&res)["total"], 3);
    let res = fhir_get(&app, "/CarePlan?status=active&_count=0", &token).await;
    let only_total = ok(&res);
    assert_eq!(only_total["total"], 3);
    assert!(
        only_total.get("entry").is_none(),
        "no empty arrays in FHIR JSON"
    );
    assert_eq!(next_link(only_total), None);
    let res = fhir_get(&app, "/CarePlan?status=completed,revoked", &token).await;
    assert_eq!(ok(&res)["total"], 0);

    let res = fhir_get(&app, "/CarePlan?_lastUpdated=ge2000-01-01", &token).await;
    assert_eq!(ok(&res)["total"], 3);
    let res = fhir_get(&app, "/CarePlan?_lastUpdated=lt2000-01-01", &token).await;
    assert_eq!(ok(&res)["total"], 0);
    let res = fhir_get(&app, "/CarePlan?_lastUpdated=gt2999-12-31", &token).await;
    assert_eq!(ok(&res)["total"], 0);
    let res = fhir_get(
        &app,
        "/CarePlan?_lastUpdated=le2999-12-31&_lastUpdated=gt2000",
        &token,
    )
    .await;
    assert_eq!(ok(&res)["total"], 3);

    // Paging: one per page, in a stable order, each plan once, the last page without next.
    let mut seen = Vec::new();
    let res = fhir_get(&app, "/CarePlan?_count=1", &token).await;
    let mut page = ok(&res).clone();
    loop {
        assert_eq!(page["total"], 3);
        let ids = ids_of(&page, "CarePlan");
        assert_eq!(ids.len(), 1, "{page}");
        seen.extend(ids);
        match next_link(&page) {
            Some(next) => {
                assert!(
                    next.contains("_count=1") && next.contains("_page="),
                    "{next}"
                );
                let res = follow(&app, &next, &token).await;
                page = ok(&res).clone();
            }
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    let mut expected = plans.clone();
    expected.sort();
    assert_eq!(sorted, expected, "every plan exactly once over the pages");

    // Goals and care teams are searched the same way.
    let res = fhir_get(&app, &format!("/Goal?patient={patient}"), &token).await;
    let goals = ok(&res);
    assert!(goals["total"].as_u64().is_some_and(|n| n > 0));
    assert!(
        ids_of(goals, "Goal")
            .iter()
            .all(|g| g.starts_with(&plans[1]))
    );
    let res = fhir_get(
        &app,
        &format!("/CareTeam?patient={patient}&status=active"),
        &token,
    )
    .await;
    assert_eq!(ids_of(ok(&res), "CareTeam"), vec![plans[1].clone()]);
    let res = fhir_get(&app, "/CareTeam?status=inactive", &token).await;
    assert_eq!(ok(&res)["total"], 0);
}

#[tokio::test]
async fn include_adds_the_plans_goals_and_everything_is_one_bundle_of_the_plan() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 2).await;
    let patient = patient_of(&app, &token, &plan).await;

    let res = fhir_get(
        &app,
        &format!("/CarePlan?patient={patient}&_include=CarePlan:goal"),
        &token,
    )
    .await;
    let b = ok(&res);
    assert_eq!(b["total"], 1, "included resources do not count");
    let cp = &b["entry"][0]["resource"];
    let referenced: Vec<String> = cp["goal"]
        .as_array()
        .expect("goals")
        .iter()
        .filter_map(|g| {
            g["reference"]
                .as_str()
                .map(|r| r.trim_start_matches("Goal/").to_owned())
        })
        .collect();
    assert_eq!(ids_of(b, "Goal"), referenced);
    for e in b["entry"].as_array().expect("entries").iter().skip(1) {
        assert_eq!(e["search"]["mode"], "include");
    }
    let res = fhir_get(
        &app,
        &format!("/CarePlan?patient={patient}&_include=CarePlan:subject"),
        &token,
    )
    .await;
    outcome(&res, 400, "value");

    let res = fhir_get(&app, &format!("/CarePlan/{plan}/$everything"), &token).await;
    let all = ok(&res);
    assert_eq!(all["resourceType"], "Bundle");
    assert_eq!(all["type"], "searchset");
    assert_eq!(ids_of(all, "CarePlan"), vec![plan.clone()]);
    assert_eq!(ids_of(all, "CareTeam"), vec![plan.clone()]);
    assert_eq!(ids_of(all, "Goal"), referenced);
    assert_eq!(ids_of(all, "PlanDefinition").len(), 1);
    for e in all["entry"].as_array().expect("entries") {
        let kind = e["resource"]["resourceType"].as_str().expect("type");
        let id = e["resource"]["id"].as_str().expect("id");
        assert!(
            e["fullUrl"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/fhir/r4/{kind}/{id}")))
        );
    }
    let events = rows::audit_events(&app.services.db)
        .await
        .expect("audit events");
    assert!(events.iter().any(|e| e.action == "care_plan.read"
        && e.detail.as_deref() == Some("fhir:CarePlan $everything")));
}

#[tokio::test]
async fn errors_are_operation_outcomes_with_the_json_apis_statuses() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 1).await;
    let patient = patient_of(&app, &token, &plan).await;

    // 401: no token, a wrong token; audited as the JSON API does.
    let res = send(app.request(Method::GET, &format!("/fhir/r4/CarePlan/{plan}"))).await;
    outcome(&res, 401, "login");
    assert_eq!(
        res.headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    assert_eq!(
        res.body["issue"][0]["details"]["text"],
        "ログインまたはトークンが必要です"
    );
    let res = fhir_get(&app, "/CarePlan", "not-a-token").await;
    outcome(&res, 401, "login");
    let events = rows::audit_events(&app.services.db)
        .await
        .expect("audit events");
    assert!(
        events
            .iter()
            .any(|e| e.action == "auth.bearer" && e.outcome == "denied")
    );

    // 404: an unknown plan, a malformed id, an unknown goal.
    outcome(
        &fhir_get(
            &app,
            "/CarePlan/00000000-0000-0000-0000-000000000000",
            &token,
        )
        .await,
        404,
        "not-found",
    );
    outcome(
        &fhir_get(&app, "/CarePlan/nope", &token).await,
        404,
        "not-found",
    );
    outcome(
        &fhir_get(&app, &format!("/Goal/{plan}-00000000"), &token).await,
        404,
        "not-found",
    );
    outcome(
        &fhir_get(&app, "/CarePlan/nope/$everything", &token).await,
        404,
        "not-found",
    );

    // An organisation outside the care team, and a member without the patient's consent:
    // refused exactly as /api/v1 refuses them, and audited as denied.
    let outsider = app
        .user_token("home-1", "home_nursing", "fhir-outsider")
        .await;
    let member = team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    for who in [&outsider, &member] {
        let api = app.get(&format!("/api/v1/care-plans/{plan}"), who).await;
        assert!(api.status.is_client_error(), "{}", api.text);
        for path in [
            format!("/CarePlan/{plan}"),
            format!("/CareTeam/{plan}"),
            format!("/CarePlan/{plan}/$everything"),
        ] {
            let res = fhir_get(&app, &path, who).await;
            let code = if api.status.as_u16() == 404 {
                "not-found"
            } else {
                "forbidden"
            };
            outcome(&res, api.status.as_u16(), code);
        }
        let res = fhir_get(&app, "/CarePlan", who).await;
        assert_eq!(
            ok(&res)["total"],
            0,
            "a search shows nothing the reads refuse"
        );
        let res = fhir_get(&app, &format!("/CarePlan?patient={patient}"), who).await;
        assert_eq!(ok(&res)["total"], 0);
        let events = rows::audit_events(&app.services.db)
            .await
            .expect("audit events");
        assert!(events.iter().any(|e| e.action == "care_plan.list"
            && e.outcome == "denied"
            && e.detail.as_deref() == Some("fhir:CarePlan search")
            && e.resource_id.as_deref() == Some(patient.as_str())));
    }
    let events = rows::audit_events(&app.services.db)
        .await
        .expect("audit events");
    assert!(events.iter().any(
        |e| e.care_plan_id.map(|p| p.to_string()) == Some(plan.clone()) && e.outcome == "denied"
    ));

    // 400: an unknown parameter, a bad value; English on request.
    let res = send(
        app.request(Method::GET, "/fhir/r4/CarePlan?name=x")
            .bearer_auth(&token)
            .header("Accept-Language", "en"),
    )
    .await;
    outcome(&res, 400, "not-supported");
    assert_eq!(res.body["issue"][0]["expression"][0], "name");
    assert_eq!(
        res.body["issue"][0]["details"]["text"],
        "This search parameter is not supported: name"
    );
    for (q, param) in [
        ("_count=abc", "_count"),
        ("_lastUpdated=yesterday", "_lastUpdated"),
        ("_page=zz", "_page"),
    ] {
        let res = fhir_get(&app, &format!("/CarePlan?{q}"), &token).await;
        outcome(&res, 400, "value");
        assert_eq!(res.body["issue"][0]["expression"][0], param);
        assert_eq!(
            res.body["issue"][0]["details"]["text"],
            format!("検索パラメータの値が正しくありません: {param}")
        );
    }
    // 405, with Allow.
    let res = send(
        app.request(Method::DELETE, &format!("/fhir/r4/CarePlan/{plan}"))
            .bearer_auth(&token),
    )
    .await;
    outcome(&res, 405, "not-supported");
    assert!(res.headers.get("allow").is_some());
    // Refused at the edge, before routing: still an OperationOutcome, naming the parameter.
    let res = fhir_get(&app, "/CarePlan?_count=%01", &token).await;
    assert!(res.status.is_client_error(), "{}", res.text);
    assert_eq!(res.content_type(), FHIR_JSON);
    assert_eq!(res.body["resourceType"], "OperationOutcome", "{}", res.text);
    assert_eq!(
        res.body["issue"][0]["expression"][0], "_count",
        "{}",
        res.text
    );
    let res = fhir_get(&app, "/CarePlan/%01", &token).await;
    assert!(res.status.is_client_error(), "{}", res.text);
    assert_eq!(res.body["resourceType"], "OperationOutcome", "{}", res.text);
    // A type that is not served.
    outcome(
        &fhir_get(&app, "/NoSuchType/1", &token).await,
        404,
        "not-found",
    );
}

/// Replaces UUIDs, dates and times inside every string with fixed markers.
fn scrub(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(scrub_text(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(scrub).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, scrub(v))).collect()),
        other => other,
    }
}

fn scrub_text(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let hex = |c: u8| c.is_ascii_hexdigit();
    while i < b.len() {
        let rest = &b[i..];
        if rest.len() >= 36
            && rest[..36].iter().enumerate().all(|(j, c)| match j {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => hex(*c),
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
            // A date, and the time that may follow it.
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

#[tokio::test]
async fn one_resource_of_each_type_matches_its_snapshot() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 2).await;
    let all = fhir_get(&app, &format!("/CarePlan/{plan}/$everything"), &token).await;
    let all = ok(&all).clone();
    let first = |kind: &str| {
        all["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["resource"].clone())
            .find(|r| r["resourceType"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for kind in ["CarePlan", "Goal", "CareTeam", "PlanDefinition"] {
            insta::assert_json_snapshot!(format!("fhir_{kind}"), scrub(first(kind)));
        }
    });
}

/// A physician of `acute-1` (who may individualise a target), as a bearer token.
async fn physician(app: &TestApp) -> String {
    let login = format!(
        "fhir-doc-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: "acute-1".into(),
            login: login.clone(),
            name: format!("{login} テスト"),
            profession: "physician".into(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .expect("add physician");
    admin::issue_token(&app.services, &login, "fhir", None)
        .await
        .expect("token")
}

/// The Goal of `code` in a plan's `$everything`.
fn goal_of(all: &Value, code: &str) -> Value {
    all["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Goal" && r["description"]["coding"][0]["code"] == code)
        .unwrap_or_else(|| panic!("no goal {code}"))
        .clone()
}

#[tokio::test]
async fn stages_become_activities_with_their_state_and_an_individual_target_is_flagged() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    let before = fhir_get(&app, &format!("/CarePlan/{plan}/$everything"), &token).await;
    let before = ok(&before).clone();
    let shared = goal_of(&before, "g5_bp_sys");
    assert!(
        shared["extension"].as_array().is_some_and(|e| e.len() == 1),
        "{shared}"
    );

    let start = days_ago(4);
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &start,
            json!({"nihss_total": 12, "mrs_premorbid": 0,
                   "stroke_subtype": "atherothrombotic", "diabetes": false}),
        ),
    )
    .await;
    let doc = physician(&app).await;
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/individualize"),
        &doc,
        &json!({"goal": "g5_bp_sys", "target": {"kind": "threshold", "item": "bp_sys", "op": "<", "value": 140},
               "reason": "両側頸動脈狭窄"}),
        None,
    )
    .await
    .assert_status(204);

    let res = fhir_get(&app, &format!("/CarePlan/{plan}"), &token).await;
    let cp = ok(&res);
    assert_eq!(
        cp["activity"][0]["detail"]["code"]["coding"][0]["code"],
        "acute"
    );
    assert_eq!(cp["activity"][0]["detail"]["status"], "in-progress");
    assert!(cp["activity"][0]["detail"]["scheduledPeriod"]["start"].is_string());
    assert!(cp["activity"][0]["detail"]["scheduledPeriod"]["end"].is_null());
    assert_eq!(cp["activity"][1]["detail"]["status"], "not-started");
    assert_ne!(
        cp["meta"]["lastUpdated"],
        before["entry"][0]["resource"]["meta"]["lastUpdated"]
    );

    let after = fhir_get(&app, &format!("/CarePlan/{plan}/$everything"), &token).await;
    let g = goal_of(ok(&after), "g5_bp_sys");
    assert!(
        g["extension"]
            .as_array()
            .expect("extensions")
            .iter()
            .any(|e| e["url"]
                == "https://renkei.example.jp/fhir/StructureDefinition/goal-individualised"
                && e["valueBoolean"] == true),
        "{g}"
    );
    assert_eq!(g["target"][0]["detailQuantity"]["value"], 140.0);
    assert_eq!(g["target"][0]["detailQuantity"]["comparator"], "<");
    assert_ne!(
        g["target"], shared["target"],
        "the individual target replaces the shared one"
    );
}

/// The resources and Bundles of this module, checked by the two independent validators
/// (PyPI `fhir.resources`, npm `@medplum/core`): no errors.
#[tokio::test]
async fn every_resource_and_bundle_of_the_core_types_passes_both_validators() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(2),
            json!({"nihss_total": 12, "mrs_premorbid": 0,
                   "stroke_subtype": "atherothrombotic", "diabetes": false}),
        ),
    )
    .await;
    let patient = patient_of(&app, &token, &plan).await;
    let mut produced = Vec::new();
    let metadata = send(app.request(Method::GET, "/fhir/r4/metadata")).await;
    produced.push(ok(&metadata).clone());
    let all = fhir_get(&app, &format!("/CarePlan/{plan}/$everything"), &token).await;
    let all = ok(&all).clone();
    for e in all["entry"].as_array().expect("entries") {
        produced.push(e["resource"].clone());
    }
    produced.push(all);
    for path in [
        format!("/CarePlan?patient={patient}&_include=CarePlan:goal"),
        "/CarePlan?_count=1".to_owned(),
        "/CarePlan?_count=0".to_owned(),
        "/CareTeam?status=inactive".to_owned(),
        "/Goal?_count=2".to_owned(),
        "/CareTeam".to_owned(),
        "/PlanDefinition".to_owned(),
    ] {
        let res = fhir_get(&app, &path, &token).await;
        produced.push(ok(&res).clone());
    }
    let not_found = fhir_get(&app, "/CarePlan/nope", &token).await;
    produced.push(not_found.body.clone());
    let bad = fhir_get(&app, "/CarePlan?_count=x", &token).await;
    produced.push(bad.body.clone());
    let kinds: std::collections::BTreeSet<&str> = produced
        .iter()
        .filter_map(|r| r["resourceType"].as_str())
        .collect();
    for kind in [
        "CapabilityStatement",
        "CarePlan",
        "CareTeam",
        "Goal",
        "PlanDefinition",
        "Bundle",
        "OperationOutcome",
    ] {
        assert!(kinds.contains(kind), "{kind} not validated");
    }
    let errors = renkei_testkit::fhir_validate_all(&produced);
    assert!(
        errors.is_empty(),
        "validation errors:\n{}",
        errors.join("\n")
    );
}
