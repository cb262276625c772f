//! The flow report (and what every report shares) over the API.

use renkei_testkit::access::practitioner;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{ApiResponse, TestApp, rows};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, create_patient};

/// Enrols a new patient on stroke at `acute-1` with care starting `started_days_ago`
/// days ago and the consent given (`purposes`, none when empty); returns the plan id.
pub async fn plan_with_consent(
    app: &TestApp,
    token: &str,
    started_days_ago: i64,
    purposes: &[&str],
) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = create_patient(app, token, ("サトウ", "ハナコ"), "1950-05-01", &ident[..12]).await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(started_days_ago)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    if !purposes.is_empty() {
        app.post_json(
            &format!("/api/v1/care-plans/{plan}/consents"),
            token,
            &json!({"scope": "care_team", "purposes": purposes, "method": "paper",
                    "signer": "self", "obtained_at": days_ago(started_days_ago)}),
            None,
        )
        .await
        .assert_status(201);
    }
    plan
}

/// An acute stay of `len` days (the first day counted as day 1) starting `start_ago`
/// days ago; `len = None`: still in the acute stage.
pub async fn acute_stay(app: &TestApp, token: &str, plan: &str, start_ago: i64, len: Option<i64>) {
    append(
        app,
        token,
        plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(start_ago),
            json!({"nihss_total": 6}),
        ),
    )
    .await;
    if let Some(len) = len {
        append(
            app,
            token,
            plan,
            entry(
                "acute",
                "stage_end",
                &days_ago(start_ago - (len - 1)),
                json!({"mrs": 3}),
            ),
        )
        .await;
    }
}

pub async fn report(app: &TestApp, token: &str, kind: &str, query: &[(&str, &str)]) -> ApiResponse {
    app.get_query(&format!("/api/v1/reports/{kind}"), token, query)
        .await
}

pub fn section<'a>(page: &'a Value, key: &str) -> &'a Value {
    page["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no section {key} in {page}"))
}

/// The rows of a section whose first or second cell's text starts with `label`.
pub fn rows_labelled<'a>(s: &'a Value, label: &str) -> Vec<&'a Vec<Value>> {
    s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(Value::as_array)
        .filter(|r| {
            r.iter()
                .take(2)
                .any(|c| c["value"].as_str().is_some_and(|t| t.starts_with(label)))
        })
        .collect()
}

/// The column index of `key` in a section.
pub fn col(s: &Value, key: &str) -> usize {
    s["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .position(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no column {key}"))
}

fn suppressed(cell: &Value) -> bool {
    cell["suppressed"] == true && cell["value"].is_null()
}

/// The median by linear interpolation (R type 7), computed here independently.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * 0.5;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

async fn council_member(app: &TestApp) -> String {
    practitioner(
        app,
        "clinic-9",
        "clinic",
        "council-1",
        "physician",
        &["council_member"],
    )
    .await
    .token
}

#[tokio::test]
async fn the_flow_report_counts_the_consenting_plans_and_their_stage_lengths() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let lengths = [5i64, 8, 10, 12, 20, 30];
    for (i, len) in lengths.iter().enumerate() {
        let plan = plan_with_consent(&app, &planner, 70, &["care", "statistics"]).await;
        acute_stay(&app, &planner, &plan, 60 - i as i64, Some(*len)).await;
    }
    // Still in the acute stage, with consent: counted as active, not in the lengths.
    let open = plan_with_consent(&app, &planner, 70, &["care", "statistics"]).await;
    acute_stay(&app, &planner, &open, 20, None).await;
    // Consent for care only, and no consent: left out and counted as excluded.
    let care_only = plan_with_consent(&app, &planner, 70, &["care"]).await;
    acute_stay(&app, &planner, &care_only, 50, Some(20)).await;
    plan_with_consent(&app, &planner, 70, &[]).await;

    let council = council_member(&app).await;
    let res = report(&app, &council, "flow", &[("pathway", "stroke")]).await;
    res.assert_status(200);
    let page = &res.body;
    assert_eq!(page["kind"], "flow");
    assert_eq!(page["counted_plans"], 7);
    assert_eq!(page["excluded_without_consent"], 2);
    assert_eq!(page["filter"]["pathway"], "stroke");

    let plans = section(page, "plans");
    let total = rows_labelled(plans, "地域全体");
    assert_eq!(total.len(), 1);
    assert_eq!(total[0][col(plans, "started")]["value"], 7);
    assert_eq!(total[0][col(plans, "active")]["value"], 7);
    // The council sees the planner broken out.
    let planner_rows = rows_labelled(plans, "acute-1");
    assert_eq!(planner_rows.len(), 1);
    assert_eq!(planner_rows[0][col(plans, "started")]["value"], 7);

    let stage = section(page, "stage_length");
    let acute_total: Vec<_> = stage["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| {
            r[0]["value"]
                .as_str()
                .is_some_and(|s| s.ends_with("急性期"))
        })
        .filter(|r| r[1]["value"] == "地域全体")
        .collect();
    assert_eq!(acute_total.len(), 1);
    let row = acute_total[0];
    assert_eq!(row[col(stage, "n")]["value"], lengths.len());
    let want = median(lengths.iter().map(|l| *l as f64).collect());
    assert_eq!(row[col(stage, "median")]["value"].as_f64(), Some(want));
    assert_eq!(row[col(stage, "min")]["value"].as_f64(), Some(5.0));
    assert_eq!(row[col(stage, "max")]["value"].as_f64(), Some(30.0));
    // Expected 21 days (stroke v1): 30 is over it, once — fewer than 5, suppressed.
    assert!(suppressed(&row[col(stage, "over_expected")]));
    assert!(page["suppressed_cells"].as_u64().unwrap_or_default() > 0);
}

#[tokio::test]
async fn small_cells_are_suppressed_for_others_and_shown_to_the_organisation_they_belong_to() {
    let app = app_or_skip!();
    let planner = app.token().await;
    for i in 0..3 {
        let plan = plan_with_consent(&app, &planner, 40, &["care", "statistics"]).await;
        acute_stay(&app, &planner, &plan, 30 - i, Some(7)).await;
    }
    let council = council_member(&app).await;
    let theirs = report(&app, &council, "flow", &[]).await;
    theirs.assert_status(200);
    let plans = section(&theirs.body, "plans");
    let total = rows_labelled(plans, "地域全体");
    assert!(suppressed(&total[0][col(plans, "started")]));
    assert!(theirs.body["suppressed_cells"].as_u64().unwrap_or_default() > 0);

    // The planning hospital's own user sees its three plans.
    let own = report(&app, &planner, "flow", &[]).await;
    own.assert_status(200);
    let plans = section(&own.body, "plans");
    assert_eq!(
        rows_labelled(plans, "acute-1")[0][col(plans, "started")]["value"],
        3
    );
    assert_eq!(
        rows_labelled(plans, "地域全体")[0][col(plans, "started")]["value"],
        3
    );

    // In CSV a suppressed cell reads `<5`.
    let csv = report(&app, &council, "flow", &[("format", "csv")]).await;
    csv.assert_status(200);
    assert!(csv.content_type().starts_with("text/csv"));
    assert!(csv.text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(csv.text.contains("<5"));
    assert!(csv.text.contains("計画の状況"));
}

#[tokio::test]
async fn another_organisation_sees_the_region_totals_but_not_the_planners_rows() {
    let app = app_or_skip!();
    let planner = app.token().await;
    for i in 0..5 {
        let plan = plan_with_consent(&app, &planner, 40, &["care", "statistics"]).await;
        acute_stay(&app, &planner, &plan, 30 - i, Some(10)).await;
    }
    let other = app
        .user_token("recovery-1", "recovery_hospital", "recovery-nurse")
        .await;
    let res = report(&app, &other, "flow", &[("pathway", "stroke")]).await;
    res.assert_status(200);
    let plans = section(&res.body, "plans");
    assert!(rows_labelled(plans, "acute-1").is_empty());
    assert_eq!(
        rows_labelled(plans, "地域全体")[0][col(plans, "started")]["value"],
        5
    );
    let stage = section(&res.body, "stage_length");
    assert!(rows_labelled(stage, "acute-1").is_empty());
    // Only the council may look at another organisation.
    report(&app, &other, "flow", &[("organization", "acute-1")])
        .await
        .assert_problem(422, Some("organization"));
    let council = council_member(&app).await;
    let theirs = report(&app, &council, "flow", &[("organization", "acute-1")]).await;
    theirs.assert_status(200);
    assert_eq!(theirs.body["counted_plans"], 5);
}

#[tokio::test]
async fn bad_filters_are_refused_listing_every_field() {
    let app = app_or_skip!();
    let token = app.token().await;
    let res = report(
        &app,
        &token,
        "flow",
        &[
            ("from", "2026-13-01"),
            ("to", "tomorrow"),
            ("version", "x"),
            ("period", "middle"),
            ("colour", "red"),
        ],
    )
    .await;
    res.assert_problem(422, None);
    assert!(res.content_type().starts_with("application/problem+json"));
    let mut fields = res.error_fields();
    fields.sort();
    fields.dedup();
    for f in ["colour", "from", "period", "to", "version"] {
        assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
    }
    report(&app, &token, "flow", &[("version", "1")])
        .await
        .assert_problem(422, Some("pathway"));
    report(&app, &token, "flow", &[("pathway", "nosuch")])
        .await
        .assert_problem(422, Some("pathway"));
    report(
        &app,
        &token,
        "flow",
        &[("pathway", "stroke"), ("version", "9")],
    )
    .await
    .assert_problem(422, Some("version"));
    report(
        &app,
        &token,
        "flow",
        &[("pathway", "stroke"), ("stage", "nosuch")],
    )
    .await
    .assert_problem(422, Some("stage"));
    report(
        &app,
        &token,
        "flow",
        &[("from", "2026-02-01"), ("to", "2026-01-01")],
    )
    .await
    .assert_problem(422, Some("to"));
    report(&app, &token, "nosuch", &[])
        .await
        .assert_problem(404, None);
    // Without a token: 401.
    let anonymous =
        renkei_testkit::app::send(app.request(reqwest::Method::GET, "/api/v1/reports/flow")).await;
    anonymous.assert_status(401);
}

#[tokio::test]
async fn every_report_read_is_audited_with_its_filter() {
    let app = app_or_skip!();
    let token = app.token().await;
    report(
        &app,
        &token,
        "flow",
        &[("pathway", "stroke"), ("from", "2026-01-01")],
    )
    .await
    .assert_status(200);
    report(&app, &token, "flow", &[("format", "csv")])
        .await
        .assert_status(200);
    let reads: Vec<_> = rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .into_iter()
        .filter(|e| e.action == "report.read" && e.resource_type == "council_report")
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(reads[0].resource_id.as_deref(), Some("flow"));
    assert_eq!(reads[0].outcome, "allowed");
    assert_eq!(
        reads[0].detail.as_deref(),
        Some("pathway=stroke&from=2026-01-01")
    );
}

#[tokio::test]
async fn an_append_after_a_report_is_counted_by_the_next_report() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let mut open = Vec::new();
    for i in 0..6 {
        let plan = plan_with_consent(&app, &planner, 40, &["care", "statistics"]).await;
        acute_stay(&app, &planner, &plan, 30 - i, (i < 5).then_some(10)).await;
        open.push(plan);
    }
    let council = council_member(&app).await;
    let n_of = |page: &Value| {
        let stage = section(page, "stage_length");
        stage["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r[1]["value"] == "地域全体")
            .map(|r| r[col(stage, "n")]["value"].clone())
    };
    let before = report(&app, &council, "flow", &[]).await;
    assert_eq!(n_of(&before.body), Some(json!(5)));
    // The sixth acute stay ends now: the next report reads it.
    append(
        &app,
        &planner,
        &open[5],
        entry("acute", "stage_end", &days_ago(0), json!({"mrs": 2})),
    )
    .await;
    let after = report(&app, &council, "flow", &[]).await;
    assert_eq!(n_of(&after.body), Some(json!(6)));
    // A consent withdrawn: the plan leaves the count.
    let consents = app
        .get(
            &format!("/api/v1/care-plans/{}/consents", open[0]),
            &planner,
        )
        .await;
    let id = consents.body["consents"][0]["id"]
        .as_str()
        .expect("consent id")
        .to_owned();
    app.post_json(
        &format!("/api/v1/consents/{id}/withdraw"),
        &planner,
        &json!({"reason": "本人の希望"}),
        None,
    )
    .await
    .assert_status(200);
    let withdrawn = report(&app, &council, "flow", &[]).await;
    assert_eq!(withdrawn.body["counted_plans"], 5);
    assert_eq!(withdrawn.body["excluded_without_consent"], 1);
}

#[tokio::test]
async fn the_regional_administrator_grants_the_council_member_role() {
    let app = app_or_skip!();
    let region = practitioner(
        &app,
        "acute-1",
        "acute_hospital",
        "region-admin",
        "physician",
        &["regional_admin"],
    )
    .await
    .token;
    let org_admin = practitioner(
        &app,
        "acute-1",
        "acute_hospital",
        "org-admin",
        "physician",
        &["org_admin"],
    )
    .await
    .token;
    let body = |login: &str| {
        json!({"organization": "acute-1", "login": login, "name": "協議会 委員",
               "profession": "physician", "roles": ["council_member"]})
    };
    app.post_json("/api/v1/users", &org_admin, &body("member-a"), None)
        .await
        .assert_problem(422, Some("roles[0]"));
    let created = app
        .post_json("/api/v1/users", &region, &body("member-b"), None)
        .await;
    created.assert_status(201);
    let users = app.get("/api/v1/users", &region).await;
    users.assert_status(200);
    let member = users.body["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["login"] == "member-b")
        .cloned()
        .expect("member-b listed");
    assert_eq!(member["roles"], json!(["council_member"]));
    // The new member reads the region's reports.
    let token = renkei_service::admin::issue_token(&app.services, "member-b", "test", None)
        .await
        .expect("token");
    report(&app, &token, "flow", &[]).await.assert_status(200);
}
