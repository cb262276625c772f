//! Issue 18 point 10, the care team: the planner ends an organisation's access on a date
//! or removes it now (never the planner, never the owner of the stage running now), the
//! member stays listed as ended, and with `care_team.read_after_end_days` set an
//! organisation whose stages all ended reads the plan for that many days, then not at
//! all — over the API (SQLite, and PostgreSQL with `RENKEI_TEST_DATABASE_URL`), with one
//! audit event per change and nothing changed by a refusal.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use renkei_testkit::TestApp;
use renkei_testkit::builders::days_ago;
use serde_json::{Value, json};

use super::{audit_actions, field_names, regional};
use crate::support::{app_or_skip, append, consent, stroke_plan};

/// Adds `org` (a clinic, created when missing) to the plan's care team with `role` and
/// `stages`, and returns a nurse token of that organisation.
async fn member(
    app: &TestApp,
    planner: &str,
    plan: &str,
    org: &str,
    role: &str,
    stages: &[&str],
) -> String {
    let login = format!("{org}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let token = app.user_token(org, "clinic", &login).await;
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/care-team"),
        planner,
        &json!({"organization": org, "stages": stages, "role": role}),
        None,
    )
    .await
    .assert_status(201);
    token
}

async fn team(app: &TestApp, token: &str, plan: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/care-plans/{plan}/care-team"), token)
        .await;
    r.assert_status(200);
    r.body["members"].as_array().cloned().unwrap_or_default()
}

fn member_of<'a>(team: &'a [Value], org: &str) -> &'a Value {
    team.iter()
        .rev()
        .find(|m| m["organization"] == org)
        .unwrap_or_else(|| panic!("{org} is not listed: {team:?}"))
}

async fn end(
    app: &TestApp,
    token: &str,
    plan: &str,
    org: &str,
    body: Value,
) -> renkei_testkit::ApiResponse {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/care-team/{org}/end"),
        token,
        &body,
        None,
    )
    .await
}

/// The Tokyo date of a moment (+09:00, no daylight saving).
fn tokyo_date(t: DateTime<Utc>) -> NaiveDate {
    (t + Duration::hours(9)).date_naive()
}

/// 00:00 Tokyo of `date`.
fn tokyo_midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - Duration::hours(9)
}

fn today(app: &TestApp) -> NaiveDate {
    tokyo_date(app.services.now())
}

/// Records the acute stage's start and end (the planner's nurse).
async fn run_acute_stage(app: &TestApp, planner: &str, plan: &str) {
    append(
        app,
        planner,
        plan,
        json!({"stage": "acute", "kind": "stage_start", "effective_at": days_ago(2),
               "values": {"nihss_total": 10, "mrs_premorbid": 0}}),
    )
    .await;
    append(
        app,
        planner,
        plan,
        json!({"stage": "acute", "kind": "stage_end", "effective_at": days_ago(0),
               "values": {"mrs": 4}}),
    )
    .await;
}

fn count_action(events: &[(String, String)], action: &str) -> usize {
    events.iter().filter(|(a, _)| a == action).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_organisation_loses_access_at_once_and_stays_listed_as_ended() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let region = regional(&app).await;
    let plan = stroke_plan(&app, &planner, 3).await;
    consent(&app, &planner, &plan).await;
    let clinic = member(&app, &planner, &plan, "clinic-1", "contributor", &["home"]).await;
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);

    // Refusals, each answered with the field and the rule, change nothing.
    let planner_end = end(&app, &planner, &plan, "acute-1", json!({"reason": "転院"})).await;
    planner_end.assert_problem(422, Some("organization"));
    assert_eq!(planner_end.body["errors"][0]["code"], "planner_stays");
    let blank = end(&app, &planner, &plan, "clinic-1", json!({"reason": " "})).await;
    blank.assert_problem(422, Some("reason"));
    let yesterday = (today(&app) - Duration::days(1)).to_string();
    let past = end(
        &app,
        &planner,
        &plan,
        "clinic-1",
        json!({"on": yesterday, "reason": "終了"}),
    )
    .await;
    past.assert_problem(422, Some("on"));
    assert_eq!(past.body["errors"][0]["code"], "in_past");
    end(
        &app,
        &planner,
        &plan,
        "clinic-1",
        json!({"on": "2026/13/01", "reason": "終了"}),
    )
    .await
    .assert_problem(422, Some("on"));
    end(
        &app,
        &planner,
        &plan,
        "no-such-org",
        json!({"reason": "終了"}),
    )
    .await
    .assert_status(404);
    // Only the planner manages the team: the clinic sees the plan, so 403.
    end(&app, &clinic, &plan, "clinic-1", json!({"reason": "終了"}))
        .await
        .assert_status(403);
    let unchanged = team(&app, &planner, &plan).await;
    assert!(
        unchanged
            .iter()
            .all(|m| m["active"] == true && m["access_ends_on"].is_null()),
        "{unchanged:?}"
    );
    assert_eq!(
        count_action(
            &audit_actions(&app, &region, "allowed").await,
            "care_team.end"
        ),
        0
    );

    // Removed now: listed as ended today with the reason; the plan is gone for it.
    let removed = end(
        &app,
        &planner,
        &plan,
        "clinic-1",
        json!({"on": null, "reason": "在宅医の変更"}),
    )
    .await;
    removed.assert_status(200);
    let listed = member_of(
        removed.body["members"].as_array().expect("members"),
        "clinic-1",
    );
    assert_eq!(listed["active"], false);
    assert_eq!(listed["access_ends_on"], today(&app).to_string());
    assert_eq!(listed["end_reason"], "在宅医の変更");
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(404);
    app.get(&format!("/api/v1/care-plans/{plan}/entries"), &clinic)
        .await
        .assert_status(404);
    let searched = app
        .get_query("/api/v1/patients", &clinic, &[("kana", "ヤマダ")])
        .await;
    searched.assert_status(200);
    assert!(
        searched.body["patients"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{}",
        searched.text
    );
    let allowed = audit_actions(&app, &region, "allowed").await;
    assert_eq!(count_action(&allowed, "care_team.end"), 1, "{allowed:?}");
    assert!(
        allowed
            .iter()
            .any(|(a, d)| a == "care_team.end" && d.contains("clinic-1")),
        "{allowed:?}"
    );

    // Ending it again is a conflict; adding it again gives it access again.
    end(&app, &planner, &plan, "clinic-1", json!({"reason": "再度"}))
        .await
        .assert_status(409);
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/care-team"),
        &planner,
        &json!({"organization": "clinic-1", "stages": ["home"], "role": "contributor"}),
        None,
    )
    .await
    .assert_status(201);
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);
    let back = team(&app, &planner, &plan).await;
    let rows: Vec<&Value> = back
        .iter()
        .filter(|m| m["organization"] == "clinic-1")
        .collect();
    assert_eq!(rows.len(), 1, "{back:?}");
    assert_eq!(rows[0]["active"], true);
    assert!(rows[0]["access_ends_on"].is_null());
    let allowed = audit_actions(&app, &region, "allowed").await;
    assert_eq!(count_action(&allowed, "care_team.add"), 2, "{allowed:?}");
    assert_eq!(count_action(&allowed, "care_team.end"), 1, "{allowed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn access_ended_on_a_date_lasts_through_that_day_then_stops() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let plan = stroke_plan(&app, &planner, 3).await;
    consent(&app, &planner, &plan).await;
    let clinic = member(&app, &planner, &plan, "clinic-2", "viewer", &["home"]).await;
    let last_day = today(&app) + Duration::days(2);
    let ended = end(
        &app,
        &planner,
        &plan,
        "clinic-2",
        json!({"on": last_day.to_string(), "reason": "契約終了"}),
    )
    .await;
    ended.assert_status(200);
    let listed = member_of(
        ended.body["members"].as_array().expect("members"),
        "clinic-2",
    );
    assert_eq!(listed["access_ends_on"], last_day.to_string());
    assert_eq!(listed["active"], true);
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);
    // The last day, late in the evening (Tokyo): still readable.
    let to_last_evening =
        tokyo_midnight(last_day + Duration::days(1)) - app.services.now() - Duration::minutes(1);
    app.services.clock.advance(to_last_evening);
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);
    // The next day: nothing.
    app.services.clock.advance(Duration::minutes(2));
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(404);
    let now_listed = team(&app, &planner, &plan).await;
    assert_eq!(member_of(&now_listed, "clinic-2")["active"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_of_the_running_stage_cannot_be_ended_before_its_stage_ends() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let region = regional(&app).await;
    let plan = stroke_plan(&app, &planner, 3).await;
    consent(&app, &planner, &plan).await;
    member(&app, &planner, &plan, "clinic-3", "stage_owner", &["acute"]).await;
    let refused = end(&app, &planner, &plan, "clinic-3", json!({"reason": "終了"})).await;
    refused.assert_problem(422, Some("organization"));
    assert_eq!(refused.body["errors"][0]["code"], "stage_running");
    assert_eq!(field_names(&refused.body), ["organization"]);
    assert_eq!(
        member_of(&team(&app, &planner, &plan).await, "clinic-3")["active"],
        true
    );
    assert_eq!(
        count_action(
            &audit_actions(&app, &region, "allowed").await,
            "care_team.end"
        ),
        0
    );
    run_acute_stage(&app, &planner, &plan).await;
    end(&app, &planner, &plan, "clinic-3", json!({"reason": "終了"}))
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_access_after_the_stages_end_lasts_the_configured_period_then_stops() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let plan = stroke_plan(&app, &planner, 3).await;
    consent(&app, &planner, &plan).await;
    let clinic = member(&app, &planner, &plan, "clinic-4", "contributor", &["acute"]).await;
    // A second plan, the period unset at first: the default keeps today's behaviour.
    let open_plan = stroke_plan(&app, &planner, 3).await;
    consent(&app, &planner, &open_plan).await;
    app.post_json(
        &format!("/api/v1/care-plans/{open_plan}/care-team"),
        &planner,
        &json!({"organization": "clinic-4", "stages": ["acute"], "role": "contributor"}),
        None,
    )
    .await
    .assert_status(201);
    run_acute_stage(&app, &planner, &open_plan).await;
    app.services.clock.advance(Duration::days(40));
    app.get(&format!("/api/v1/care-plans/{open_plan}"), &clinic)
        .await
        .assert_status(200);
    app.services.clock.advance(Duration::days(-40));

    app.services.care_team.set_read_after_end_days(Some(7));
    // Before its stage ends: full access (it adds notes).
    append(
        &app,
        &clinic,
        &plan,
        json!({"stage": "acute", "kind": "note", "effective_at": days_ago(0), "note": "申し送り"}),
    )
    .await;
    assert!(member_of(&team(&app, &planner, &plan).await, "clinic-4")["read_until"].is_null());
    run_acute_stage(&app, &planner, &plan).await;
    let read_until = today(&app) + Duration::days(7);
    let listed = team(&app, &planner, &plan).await;
    assert_eq!(
        member_of(&listed, "clinic-4")["read_until"],
        read_until.to_string()
    );
    // Within the period: it reads, but writes no more.
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/entries"),
        &clinic,
        &json!({"stage": "recovery", "kind": "note", "effective_at": days_ago(0), "note": "追記"}),
        None,
    )
    .await
    .assert_status(403);
    // After the last day: nothing, not even the patient in search.
    let after =
        tokyo_midnight(read_until + Duration::days(1)) - app.services.now() + Duration::minutes(1);
    app.services.clock.advance(after);
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(404);
    app.get(&format!("/api/v1/care-plans/{plan}/care-team"), &clinic)
        .await
        .assert_status(404);
    assert_eq!(
        member_of(&team(&app, &planner, &plan).await, "clinic-4")["active"],
        false
    );
    // The other plan, its acute stage ended at the same time, follows the same period.
    app.get(&format!("/api/v1/care-plans/{open_plan}"), &clinic)
        .await
        .assert_status(404);
    let searched = app
        .get_query("/api/v1/patients", &clinic, &[("kana", "ヤマダ")])
        .await;
    searched.assert_status(200);
    assert!(
        searched.body["patients"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{}",
        searched.text
    );
    // Unset again: no limit.
    app.services.care_team.set_read_after_end_days(None);
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);
}

/// The care-team page in headless Chromium, as a nurse of the planning hospital: the
/// link from the plan page, the add form (every error at once, then added), the end of
/// an organisation's access and the withdrawal of consent each through their
/// confirmation page, the page in English; axe-core on every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_care_team_pages_work_in_a_real_browser_without_axe_violations() {
    let Some((app, chromedriver, chromium)) = crate::browser::browser_and_app().await else {
        return;
    };
    let driver = crate::browser::Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        std::time::Duration::from_secs(300),
        care_team_pages(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the care-team pages finish within 5 minutes");
}

async fn care_team_pages(
    app: &TestApp,
    driver: &crate::browser::Driver,
    chromium: &std::path::Path,
    profiles: &std::path::Path,
) {
    use crate::browser::{Findings, audit_page, body, browser, click, fill, path, submit};
    let base = app.base_url.clone();
    let mut found = Findings::default();
    let token = app.token().await;
    let plan = stroke_plan(app, &token, 3).await;
    consent(app, &token, &plan).await;
    app.ensure_org("clinic-5", "clinic").await;
    crate::web_client::web_user(app, "acute-1", "acute_hospital", "acute-team").await;

    let c = browser(driver, chromium, &profiles.join("nurse"), true).await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(&c, "#login", "acute-team").await;
    fill(&c, "#password", crate::web_client::PASSWORD).await;
    submit(&c, "form.stack button[type=submit]").await;
    c.goto(&format!("{base}/care-plans/{plan}"))
        .await
        .expect("plan");
    audit_page(&c, "plan with the care-team link", &mut found).await;
    click(&c, "#care-team-link").await;
    assert_eq!(path(&c).await, format!("/care-plans/{plan}/care-team"));
    audit_page(&c, "care team", &mut found).await;

    // Added with nothing chosen: every problem at once.
    submit(&c, "#add-member").await;
    let text = body(&c).await;
    assert!(text.contains("入力内容を確認してください(2件)"), "{text}");
    audit_page(&c, "care team with errors", &mut found).await;
    fill(&c, "#f-organization", "clinic-5").await;
    click(&c, "#f-stage-home").await;
    submit(&c, "#add-member").await;
    assert_eq!(
        path(&c).await,
        format!("/care-plans/{plan}/care-team?done=added")
    );
    assert!(body(&c).await.contains("ケアチームに施設を追加しました。"));

    // Its access ended at once, through the confirmation page.
    click(&c, "tr[data-org='clinic-5'] a.end-link").await;
    assert_eq!(
        path(&c).await,
        format!("/care-plans/{plan}/care-team/clinic-5/end")
    );
    audit_page(&c, "end of access", &mut found).await;
    submit(&c, "#end-confirm").await;
    assert!(body(&c).await.contains("入力内容を確認してください(1件)"));
    audit_page(&c, "end of access with an error", &mut found).await;
    fill(&c, "#f-reason", "在宅医の変更").await;
    submit(&c, "#end-confirm").await;
    let confirm = body(&c).await;
    assert!(confirm.contains("施設のアクセスの終了の確認"), "{confirm}");
    assert!(confirm.contains("在宅医の変更"), "{confirm}");
    audit_page(&c, "end of access, confirmation", &mut found).await;
    submit(&c, "#confirm").await;
    assert_eq!(
        path(&c).await,
        format!("/care-plans/{plan}/care-team?done=ended")
    );
    assert!(body(&c).await.contains("施設のアクセスを終了しました。"));
    c.find(fantoccini::Locator::Css("tr[data-org='clinic-5'].ended"))
        .await
        .expect("clinic-5 listed as ended");
    audit_page(&c, "care team with an ended member", &mut found).await;

    // The consent withdrawn, through its confirmation page.
    submit(&c, "#withdraw-consent").await;
    assert!(body(&c).await.contains("入力内容を確認してください(1件)"));
    audit_page(&c, "care team, withdrawal without a reason", &mut found).await;
    fill(&c, "#f-reason", "本人の申し出").await;
    submit(&c, "#withdraw-consent").await;
    assert!(body(&c).await.contains("同意の撤回の確認"));
    audit_page(&c, "withdrawal, confirmation", &mut found).await;
    submit(&c, "#confirm").await;
    assert_eq!(
        path(&c).await,
        format!("/care-plans/{plan}/care-team?done=withdrawn")
    );
    assert!(body(&c).await.contains("撤回済"));
    let consents = app
        .get(&format!("/api/v1/care-plans/{plan}/consents"), &token)
        .await;
    assert_eq!(
        consents.body["consents"][0]["active"], false,
        "{}",
        consents.text
    );

    c.goto(&format!(
        "{base}/lang?set=en&back=/care-plans/{plan}/care-team"
    ))
    .await
    .expect("english");
    assert!(body(&c).await.contains("Care team and consent"));
    audit_page(&c, "care team (English)", &mut found).await;
    c.close().await.expect("close");

    assert!(
        found.problems.is_empty(),
        "page checks:\n{}",
        found.problems.join("\n")
    );
    assert!(
        found.axe.is_empty(),
        "axe-core violations:\n{}",
        found.axe.join("\n")
    );
}

/// The care-team page of a member organisation lists the team without any form, and an
/// end of access it posts anyway is refused by the same rule as the API: nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_planners_staff_see_and_use_the_care_team_forms() {
    let app = app_or_skip!();
    let planner = app.token().await;
    let region = regional(&app).await;
    let plan = stroke_plan(&app, &planner, 3).await;
    consent(&app, &planner, &plan).await;
    member(&app, &planner, &plan, "clinic-6", "contributor", &["home"]).await;
    crate::web_client::web_user(&app, "clinic-6", "clinic", "clinic-6-web").await;
    crate::web_client::web_user(&app, "acute-1", "acute_hospital", "acute-1-web").await;

    let own = crate::web_client::Browser::new(&app);
    own.login("acute-1-web", crate::web_client::PASSWORD).await;
    let mine = own.get(&format!("/care-plans/{plan}/care-team")).await;
    mine.assert_status(200);
    assert!(mine.text.contains("id=\"add-member\""), "{}", mine.text);
    assert!(
        mine.text.contains("/care-team/clinic-6/end"),
        "{}",
        mine.text
    );
    assert!(
        mine.text.contains("id=\"withdraw-consent\""),
        "{}",
        mine.text
    );

    let other = crate::web_client::Browser::new(&app);
    other
        .login("clinic-6-web", crate::web_client::PASSWORD)
        .await;
    let theirs = other.get(&format!("/care-plans/{plan}/care-team")).await;
    theirs.assert_status(200);
    assert!(
        theirs.text.contains("data-org=\"clinic-6\""),
        "{}",
        theirs.text
    );
    for form in ["id=\"add-member\"", "/end\"", "id=\"withdraw-consent\""] {
        assert!(!theirs.text.contains(form), "{form}: {}", theirs.text);
    }
    let csrf = theirs.csrf();
    let posted = other
        .post(
            &format!("/care-plans/{plan}/care-team/clinic-6/end"),
            &[("csrf", &csrf), ("on", ""), ("reason", "自分で外す")],
        )
        .await;
    posted.assert_status(403);
    assert_eq!(
        member_of(&team(&app, &planner, &plan).await, "clinic-6")["active"],
        true
    );
    assert_eq!(
        count_action(
            &audit_actions(&app, &region, "allowed").await,
            "care_team.end"
        ),
        0
    );
}
