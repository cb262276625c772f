//! Issue 14 §4: the worklist as of now is read from its index (each plan's items kept up
//! to date after every change and whenever time alone moves one of them); it equals the
//! full evaluation at the same moment (an explicit `as_of`) on the demo region and on a
//! set of generated plans, as the clock moves and after appends, corrections, voids, team
//! and consent changes.

use chrono::{DateTime, Duration, Utc};
use renkei_testkit::TestApp;
use renkei_testkit::builders::{days_ago, entry, jst, patient};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, consent, stroke_plan, team_member};

/// The worklist as of now (the index) and the full evaluation at the moment it names;
/// asserts they are equal for several limits and dropout thresholds and returns it.
async fn assert_index_equals_full(app: &TestApp, token: &str, what: &str) -> Value {
    let mut first = Value::Null;
    for (limit, dropout) in [("500", "90"), ("3", "90"), ("500", "14"), ("1", "365")] {
        let params = [("limit", limit), ("dropout_days", dropout)];
        let indexed = app.get_query("/api/v1/worklist", token, &params).await;
        indexed.assert_status(200);
        let as_of = indexed.body["as_of"].as_str().expect("as_of").to_owned();
        let mut explicit = params.to_vec();
        explicit.push(("as_of", &as_of));
        let full = app.get_query("/api/v1/worklist", token, &explicit).await;
        full.assert_status(200);
        assert_eq!(
            indexed.body, full.body,
            "{what} (limit {limit}, dropout_days {dropout}): the index differs from the full \
             evaluation"
        );
        if first.is_null() {
            first = indexed.body;
        }
    }
    first
}

fn count(wl: &Value, list: &str) -> u64 {
    wl[list]["count"].as_u64().unwrap_or(0)
}

fn service_now(app: &TestApp) -> DateTime<Utc> {
    app.services.now()
}

/// A diabetes plan enrolled by the clinic `token` with care starting `started_days_ago`
/// days ago; returns the plan id.
async fn diabetes_plan(app: &TestApp, token: &str, started_days_ago: i64) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("サトウ", "ハナコ", "1950-02-03", "clinic-1", &ident[..12]),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p.body["id"], "pathway": "diabetes",
                    "started_at": days_ago(started_days_ago)}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("plan id").to_owned()
}

async fn record_consent(app: &TestApp, token: &str, plan: &str) -> String {
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/consents"),
            token,
            &json!({"scope": "care_team", "purposes": ["care"], "method": "paper",
                    "signer": "self", "obtained_at": jst(service_now(app))}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("consent id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn indexed_worklist_equals_full_evaluation_on_the_demo_region() {
    let app = app_or_skip!();
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    let orgs = [
        ("acute-1", "acute_hospital"),
        ("recovery-1", "recovery_hospital"),
        ("clinic-1", "clinic"),
        ("homecare-1", "home_nursing"),
    ];
    let mut tokens = Vec::new();
    for (i, (code, kind)) in orgs.iter().enumerate() {
        tokens.push(app.user_token(code, kind, &format!("wl-index-{i}")).await);
    }
    let mut listed = 0;
    for step in [0, 1, 10, 25, 40, 100, 200] {
        app.services.clock.advance(Duration::days(step));
        for (token, (code, _)) in tokens.iter().zip(orgs) {
            let wl = assert_index_equals_full(&app, token, &format!("{code}, +{step} days")).await;
            listed += [
                "schedule_due",
                "goals_overdue",
                "consent_missing",
                "dropouts",
            ]
            .iter()
            .map(|l| count(&wl, l))
            .sum::<u64>();
        }
    }
    assert!(listed > 0, "the demo region lists something");
}

#[tokio::test(flavor = "multi_thread")]
async fn indexed_worklist_follows_appends_corrections_team_consent_and_the_clock() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let clinic = app.user_token("clinic-1", "clinic", "wl-clinic").await;
    app.ensure_org("recovery-1", "recovery_hospital").await;

    // Stroke plans of the acute hospital at various ages, some shared.
    let mut stroke = Vec::new();
    for (i, started) in [1i64, 5, 12, 25, 40, 95, 150, 400].into_iter().enumerate() {
        let plan = stroke_plan(&app, &acute, started).await;
        append(
            &app,
            &acute,
            &plan,
            entry("acute", "stage_start", &days_ago(started), json!({})),
        )
        .await;
        if i % 2 == 0 {
            append(
                &app,
                &acute,
                &plan,
                entry(
                    "acute",
                    "assessment",
                    &days_ago(started / 2),
                    json!({"mrs": 4}),
                ),
            )
            .await;
        }
        if i % 3 == 0 {
            consent(&app, &acute, &plan).await;
        }
        stroke.push(plan);
    }
    // Diabetes plans of the clinic (cyclical schedules), some with the hospital on the team.
    let mut diabetes = Vec::new();
    for (i, started) in [2i64, 20, 45, 100, 200, 380].into_iter().enumerate() {
        let plan = diabetes_plan(&app, &clinic, started).await;
        append(
            &app,
            &clinic,
            &plan,
            entry(
                "clinic",
                "stage_start",
                &days_ago(started),
                json!({"hba1c": 7.5, "bp_sys": 130, "bp_dia": 80}),
            ),
        )
        .await;
        if i % 2 == 1 {
            record_consent(&app, &clinic, &plan).await;
            app.post_json(
                &format!("/api/v1/care-plans/{plan}/care-team"),
                &clinic,
                &json!({"organization": "acute-1", "stages": ["specialist"],
                        "role": "stage_owner"}),
                None,
            )
            .await
            .assert_status(201);
        }
        diabetes.push(plan);
    }
    let recovery = team_member(
        &app,
        &acute,
        &stroke[0],
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let parties = [
        ("acute-1", &acute),
        ("clinic-1", &clinic),
        ("recovery-1", &recovery),
    ];
    let check = |what: String| {
        let app = &app;
        async move {
            for (org, token) in parties {
                assert_index_equals_full(app, token, &format!("{org}: {what}")).await;
            }
        }
    };
    check("as generated".into()).await;
    // Every plan is on one of these teams: the requests brought the whole index up to date.
    assert_eq!(
        app.services
            .refresh_stale_work(10_000)
            .await
            .expect("refresh"),
        0
    );

    for (round, step) in [1i64, 6, 20, 31, 60, 120, 400].into_iter().enumerate() {
        app.services.clock.advance(Duration::days(step));
        check(format!("round {round}, after {step} more days")).await;

        let now = service_now(&app);
        let s = &stroke[round % stroke.len()];
        let d = &diabetes[round % diabetes.len()];
        // Appends: an assessment on a stroke plan, a clinic visit on a diabetes plan.
        let assessed = append(
            &app,
            &acute,
            s,
            entry(
                "acute",
                "assessment",
                &jst(now - Duration::hours(1)),
                json!({"mrs": 3}),
            ),
        )
        .await;
        append(
            &app,
            &clinic,
            d,
            entry(
                "clinic",
                "assessment",
                &jst(now - Duration::hours(2)),
                json!({"hba1c": 6.9, "bp_sys": 126, "bp_dia": 76}),
            ),
        )
        .await;
        check(format!("round {round}, after appends")).await;

        // A correction, then a void of the corrected chain.
        let mut fix = entry(
            "acute",
            "assessment",
            assessed["effective_at"].as_str().unwrap(),
            json!({"mrs": 2}),
        );
        fix["amends"] = assessed["id"].clone();
        fix["reason"] = json!("入力誤り");
        let corrected = append(&app, &acute, s, fix).await;
        check(format!("round {round}, after a correction")).await;
        let mut void = entry(
            "acute",
            "entered_in_error",
            corrected["effective_at"].as_str().unwrap(),
            json!({}),
        );
        void["amends"] = corrected["id"].clone();
        void["reason"] = json!("別患者");
        append(&app, &acute, s, void).await;
        check(format!("round {round}, after a void")).await;

        // Team and consent changes.
        // (Plans generated without consent; a withdrawn one may be recorded again.)
        {
            let p = &stroke[[1, 2, 4, 5, 7][round % 5]];
            let consent_id = record_consent(&app, &acute, p).await;
            check(format!("round {round}, after a consent")).await;
            let member = app
                .post_json(
                    &format!("/api/v1/care-plans/{p}/care-team"),
                    &acute,
                    &json!({"organization": "clinic-1", "stages": ["home"],
                            "role": "stage_owner"}),
                    None,
                )
                .await;
            assert!(
                member.status.as_u16() == 201 || member.status.as_u16() == 409,
                "{}",
                member.text
            );
            check(format!("round {round}, after a team change")).await;
            app.post_json(
                &format!("/api/v1/consents/{consent_id}/withdraw"),
                &acute,
                &json!({"reason": "本人の希望"}),
                None,
            )
            .await
            .assert_status(200);
            check(format!("round {round}, after a withdrawal")).await;
        }
    }
}

/// The refresher recomputes a plan's items outside the write turn: it claims the plan,
/// reads and evaluates it, then writes the items. A change committed between the claim
/// and the write leaves the plan stale, so the items computed before it are replaced on
/// the next pass; a claim whose write never comes (a crash) brings the plan back by its
/// expiry.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_during_a_refresh_keeps_the_plan_stale_until_the_next_pass() {
    use renkei_store::work_index::{claim, plan_state, plans_to_refresh, replace_items};
    let app = app_or_skip!();
    let clinic = app.user_token("clinic-1", "clinic", "wl-claim").await;
    let plan = diabetes_plan(&app, &clinic, 40).await;
    let id: uuid::Uuid = plan.parse().expect("plan id");
    let db = &app.services.db;
    assert!(
        app.services
            .refresh_stale_work(10_000)
            .await
            .expect("refresh")
            >= 1
    );
    assert!(
        !plan_state(db, id).await.expect("state").expect("plan").0,
        "refreshed plans are not stale"
    );

    // The refresher claims the plan; then a visit is recorded before the refresher writes
    // the items it computed from its earlier read.
    claim(db, &[id], service_now(&app)).await.expect("claim");
    assert!(!plan_state(db, id).await.expect("state").expect("plan").0);
    let now = service_now(&app);
    append(
        &app,
        &clinic,
        &plan,
        entry(
            "clinic",
            "assessment",
            &jst(now - Duration::hours(1)),
            json!({"hba1c": 6.9, "bp_sys": 126, "bp_dia": 76}),
        ),
    )
    .await;
    replace_items(db, &[(id, None)], Vec::new())
        .await
        .expect("items computed before the visit");
    assert!(
        plan_state(db, id).await.expect("state").expect("plan").0,
        "a plan changed after its claim stays stale"
    );
    assert!(
        app.services
            .refresh_stale_work(10_000)
            .await
            .expect("refresh")
            >= 1
    );
    assert!(!plan_state(db, id).await.expect("state").expect("plan").0);
    assert_index_equals_full(&app, &clinic, "after the next pass").await;

    // A claim that is never followed by its write: the plan's items expire at once.
    let at = service_now(&app);
    claim(db, &[id], at).await.expect("claim");
    let due = plans_to_refresh(db, at, 10_000).await.expect("due plans");
    assert!(due.contains(&id), "an abandoned claim is picked up again");
}
