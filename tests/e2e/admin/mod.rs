//! Issue 18 points 7–8: administration without SQL. Organisations (create, edit, require
//! two-factor login, deactivate) and users (create, edit profession and roles, disable
//! with sessions and tokens revoked at once, reset the password and two-factor login,
//! unlock, not logged in for 90 days) through the JSON API, the `renkei` command as a
//! process and the web pages under `/admin` (over HTTP and in a real browser with
//! axe-core); every change found in the audit log.

mod actions_browser;
mod api;
mod browser;
mod care_team;
mod cli;
mod declarations_web;
mod merge;
mod merge_web;
mod notifications_web;
mod notify;
mod patients;
mod plan_actions;
mod records;
mod web;

use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::{TestApp, rows};
use serde_json::Value;

/// A practitioner of `org` with `roles`, the web password [`crate::web_client::PASSWORD`]
/// (no forced change) and an API token; returns the token.
pub async fn admin_user(
    app: &TestApp,
    org: &str,
    kind: &str,
    login: &str,
    roles: &[&str],
) -> String {
    app.ensure_org(org, kind).await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.into(),
            login: login.into(),
            name: format!("管理 {login}"),
            profession: "liaison_staff".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            password: Some(crate::web_client::PASSWORD.into()),
        },
    )
    .await
    .expect("add practitioner");
    rows::edit_practitioner(
        &app.services.db,
        login,
        rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("clear must_change_password");
    admin::issue_token(&app.services, login, "test", None)
        .await
        .expect("token")
}

/// The regional administrator's token (`region-office`, login `region-admin`).
pub async fn regional(app: &TestApp) -> String {
    admin_user(
        app,
        "region-office",
        "municipality",
        "region-admin",
        &["regional_admin"],
    )
    .await
}

/// The audit actions recorded with `outcome` (newest first), read by the regional
/// administrator through the API.
pub async fn audit_actions(app: &TestApp, regional: &str, outcome: &str) -> Vec<(String, String)> {
    let r = app
        .get_query("/api/v1/audit", regional, &[("limit", "1000")])
        .await;
    r.assert_status(200);
    r.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| e["outcome"] == outcome)
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

pub fn has_action(events: &[(String, String)], action: &str) -> bool {
    events.iter().any(|(a, _)| a == action)
}

pub fn field_names(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}
