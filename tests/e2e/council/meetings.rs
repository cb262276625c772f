//! Issue 16 point 6, the council's meetings through the JSON API: the regional
//! administrator (and council members) record a meeting with its attending
//! organisations and the reports it reviewed frozen as a snapshot, record decisions and
//! link each to the template version that carried it out (only an existing version of
//! the decision's own pathway); everyone of the region reads the meetings, without the
//! snapshot; every write is audited.

use renkei_testkit::TestApp;
use serde_json::{Value, json};

use crate::admin::{audit_actions, field_names, has_action, regional};
use crate::support::app_or_skip;

/// Records a meeting through `token`.
async fn record(app: &TestApp, token: &str, body: Value) -> renkei_testkit::ApiResponse {
    app.post_json("/api/v1/council/meetings", token, &body, None)
        .await
}

fn meeting_body() -> Value {
    json!({
        "held_on": "2026-11-20",
        "title": "第3回 脳卒中地域連携パス協議会",
        "attending": ["acute-1", "rehab-1", "acute-1"],
        "reports": ["flow"],
        "filter": {"pathway": ["stroke"]},
    })
}

#[tokio::test]
async fn the_regional_administrator_records_a_meeting_and_links_its_decision_to_a_version() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    app.ensure_org("acute-1", "acute_hospital").await;
    app.ensure_org("rehab-1", "recovery_hospital").await;

    let created = record(&app, &region, meeting_body()).await;
    created.assert_status(201);
    let meeting = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body["held_on"], "2026-11-20");
    assert_eq!(created.body["title"], "第3回 脳卒中地域連携パス協議会");
    // Each attending organisation once, with its name.
    let attending: Vec<&str> = created.body["attending"]
        .as_array()
        .expect("attending")
        .iter()
        .filter_map(|a| a["code"].as_str())
        .collect();
    assert_eq!(attending, vec!["acute-1", "rehab-1"]);
    assert_eq!(created.body["attending"][0]["name"], "acute-1 テスト施設");
    // The flow report as it read now, frozen.
    assert_eq!(
        created.body["snapshot"][0]["kind"], "flow",
        "{}",
        created.text
    );
    let frozen_excluded = created.body["snapshot"][0]["excluded_without_consent"].clone();
    assert!(frozen_excluded.is_u64(), "{}", created.text);
    assert_eq!(
        created.body["snapshot_filter"]["pathway"],
        json!(["stroke"])
    );

    // A decision about stroke, then linked to the version that carried it out.
    let decided = app
        .post_json(
            &format!("/api/v1/council/meetings/{meeting}/decisions"),
            &region,
            &json!({"text": "脳卒中 v2 を公開し、目標 g4 を120日とする", "pathway": "stroke"}),
            None,
        )
        .await;
    decided.assert_status(201);
    let decision = decided.body["id"].as_str().expect("decision id").to_owned();
    assert!(decided.body["carried_by"].is_null());

    // Another pathway's version, and a version that does not exist: 422, nothing linked.
    let link = format!("/api/v1/council/decisions/{decision}/link");
    let wrong = app
        .post_json(
            &link,
            &region,
            &json!({"pathway": "femur-fracture", "version": 1}),
            None,
        )
        .await;
    wrong.assert_problem(422, Some("pathway"));
    let missing = app
        .post_json(
            &link,
            &region,
            &json!({"pathway": "stroke", "version": 99}),
            None,
        )
        .await;
    missing.assert_problem(422, Some("version"));
    let linked = app
        .post_json(
            &link,
            &region,
            &json!({"pathway": "stroke", "version": 2}),
            None,
        )
        .await;
    linked.assert_status(200);
    assert_eq!(linked.body["carried_by"]["pathway"], "stroke");
    assert_eq!(linked.body["carried_by"]["version"], 2);

    // The meeting reads back with its decision and the frozen snapshot.
    let read = app
        .get(&format!("/api/v1/council/meetings/{meeting}"), &region)
        .await;
    read.assert_status(200);
    assert_eq!(read.body["decisions"].as_array().map(Vec::len), Some(1));
    assert_eq!(read.body["decisions"][0]["carried_by"]["version"], 2);
    assert_eq!(read.body["snapshot"], created.body["snapshot"]);

    // Later data changes the live report, never the meeting's snapshot: a plan enrolled
    // now (without a statistics consent) is one more plan left out.
    let nurse = app.token().await;
    let patient =
        crate::support::create_patient(&app, &nurse, ("カイギ", "タロウ"), "1950-01-02", "M-1")
            .await;
    app.post_json(
        "/api/v1/care-plans",
        &nurse,
        &json!({"patient_id": patient["id"], "pathway": "stroke", "variant": "standard",
                "started_at": renkei_testkit::builders::days_ago(1)}),
        None,
    )
    .await
    .assert_status(201);
    let live = app
        .get_query("/api/v1/reports/flow", &region, &[("pathway", "stroke")])
        .await;
    live.assert_status(200);
    assert_eq!(
        live.body["excluded_without_consent"].as_u64(),
        frozen_excluded.as_u64().map(|n| n + 1),
        "{}",
        live.text
    );
    let again = app
        .get(&format!("/api/v1/council/meetings/{meeting}"), &region)
        .await;
    assert_eq!(again.body["snapshot"], created.body["snapshot"]);
    assert_eq!(
        again.body["snapshot"][0]["excluded_without_consent"],
        frozen_excluded
    );
    let list = app.get("/api/v1/council/meetings", &region).await;
    list.assert_status(200);
    assert_eq!(list.body["meetings"][0]["id"], meeting.as_str());
    assert!(list.body["meetings"][0]["snapshot"].is_null());

    let events = audit_actions(&app, &region, "allowed").await;
    for action in [
        "council.meeting.create",
        "council.decision.create",
        "council.decision.link",
        "council.meeting.read",
    ] {
        assert!(has_action(&events, action), "{action} in {events:?}");
    }
}

#[tokio::test]
async fn other_users_read_meetings_without_the_snapshot_and_may_not_record_them() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    app.ensure_org("rehab-1", "recovery_hospital").await;
    let nurse = app.token().await;
    let meeting = record(&app, &region, meeting_body()).await;
    meeting.assert_status(201);
    let id = meeting.body["id"].as_str().expect("id").to_owned();

    record(&app, &nurse, meeting_body())
        .await
        .assert_problem(403, None);
    app.post_json(
        &format!("/api/v1/council/meetings/{id}/decisions"),
        &nurse,
        &json!({"text": "x", "pathway": "stroke"}),
        None,
    )
    .await
    .assert_problem(403, None);
    let list = app.get("/api/v1/council/meetings", &nurse).await;
    list.assert_status(200);
    assert_eq!(list.body["meetings"].as_array().map(Vec::len), Some(1));
    let read = app
        .get(&format!("/api/v1/council/meetings/{id}"), &nurse)
        .await;
    read.assert_status(200);
    assert!(read.body["snapshot"].is_null(), "{}", read.text);
    assert_eq!(read.body["title"], "第3回 脳卒中地域連携パス協議会");

    let denied = audit_actions(&app, &region, "denied").await;
    assert!(has_action(&denied, "council.meeting.create"), "{denied:?}");
    assert!(has_action(&denied, "council.decision.create"), "{denied:?}");
    // An unknown meeting is 404.
    app.get(
        "/api/v1/council/meetings/0190f1d2-0000-7000-8000-000000000000",
        &nurse,
    )
    .await
    .assert_problem(404, None);
}

#[tokio::test]
async fn a_meeting_or_decision_with_bad_fields_is_refused_listing_every_field() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let bad = record(
        &app,
        &region,
        json!({"held_on": "2099-01-01", "title": " ", "attending": ["nowhere"]}),
    )
    .await;
    bad.assert_problem(422, None);
    assert_eq!(
        field_names(&bad.body),
        vec!["held_on", "title", "attending[0]"]
    );
    let malformed = record(
        &app,
        &region,
        json!({"held_on": "20-11-2026", "title": "t", "attending": []}),
    )
    .await;
    malformed.assert_problem(422, None);
    assert_eq!(field_names(&malformed.body), vec!["held_on", "attending"]);

    app.ensure_org("acute-1", "acute_hospital").await;
    app.ensure_org("rehab-1", "recovery_hospital").await;
    let ok = record(&app, &region, meeting_body()).await;
    ok.assert_status(201);
    let id = ok.body["id"].as_str().expect("id");
    let bad = app
        .post_json(
            &format!("/api/v1/council/meetings/{id}/decisions"),
            &region,
            &json!({"text": "", "pathway": "no-such-pathway"}),
            None,
        )
        .await;
    bad.assert_problem(422, None);
    assert_eq!(field_names(&bad.body), vec!["text", "pathway"]);
}

#[tokio::test]
async fn a_council_member_records_meetings_as_the_regional_administrator_does() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let member = crate::admin::admin_user(
        &app,
        "acute-1",
        "acute_hospital",
        "council-member",
        &["council_member"],
    )
    .await;
    app.ensure_org("rehab-1", "recovery_hospital").await;
    let created = record(&app, &member, meeting_body()).await;
    created.assert_status(201);
    let id = created.body["id"].as_str().expect("id");
    let read = app
        .get(&format!("/api/v1/council/meetings/{id}"), &member)
        .await;
    read.assert_status(200);
    assert!(read.body["snapshot"].is_array(), "{}", read.text);
    // An unknown report kind or a bad filter value: 422, nothing recorded.
    let mut bad = meeting_body();
    bad["reports"] = json!(["flow", "nonsense"]);
    bad["filter"] = json!({"from": ["2026-13-01"]});
    let refused = record(&app, &member, bad).await;
    refused.assert_problem(422, Some("reports[1]"));
    assert!(
        field_names(&refused.body)
            .iter()
            .any(|f| f == "filter.from"),
        "{}",
        refused.text
    );
    let list = app.get("/api/v1/council/meetings", &region).await;
    assert_eq!(list.body["meetings"].as_array().map(Vec::len), Some(1));
}
