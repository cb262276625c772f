//! Creating organisations: only the regional administrator may (403 otherwise, audited),
//! the creation is audited, and codes, names and areas are bounded and plain — through
//! the API and `renkei org add` alike.

use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::cli::run_renkei;
use renkei_testkit::{TestApp, rows};
use serde_json::{Value, json};

use crate::support::app_or_skip;

/// A token for a new practitioner of `acute-1` with `roles`.
async fn token_with_roles(app: &TestApp, login: &str, roles: &[&str]) -> String {
    app.ensure_org("acute-1", "acute_hospital").await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: "acute-1".into(),
            login: login.into(),
            name: format!("{login} テスト"),
            profession: "liaison_staff".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            password: None,
        },
    )
    .await
    .expect("add practitioner");
    admin::issue_token(&app.services, login, "test", None)
        .await
        .expect("issue token")
}

async fn org_count(app: &TestApp) -> u64 {
    rows::count(&app.services.db, rows::Table::Organizations)
        .await
        .expect("count organizations")
}

async fn org_events(app: &TestApp) -> Vec<rows::AuditRow> {
    rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .into_iter()
        .filter(|e| e.action == "organization.create")
        .collect()
}

fn org(code: &str, name: &str, area: &str) -> Value {
    json!({"code": code, "name": name, "kind": "recovery_hospital", "area": area})
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_regional_administrator_creates_organisations_and_it_is_audited() {
    let app = app_or_skip!();
    let nurse = app.token().await;
    let org_admin = token_with_roles(&app, "org-admin", &["org_admin"]).await;
    let regional = token_with_roles(&app, "regional", &["regional_admin"]).await;
    let before = org_count(&app).await;

    for token in [&nurse, &org_admin] {
        app.post_json(
            "/api/v1/organizations",
            token,
            &org("recovery-7", "みなと回復期病院", "千葉"),
            None,
        )
        .await
        .assert_problem(403, None);
    }
    assert_eq!(org_count(&app).await, before, "a refusal creates nothing");
    let denied: Vec<_> = org_events(&app)
        .await
        .into_iter()
        .filter(|e| e.outcome == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "each refusal is audited: {denied:?}");

    let res = app
        .post_json(
            "/api/v1/organizations",
            &regional,
            &org("recovery-7", "みなと回復期病院", "千葉"),
            None,
        )
        .await;
    res.assert_status(201);
    let id = res.body["id"].as_str().expect("id").to_owned();
    assert_eq!(org_count(&app).await, before + 1);
    let allowed: Vec<_> = org_events(&app)
        .await
        .into_iter()
        .filter(|e| e.outcome == "allowed")
        .collect();
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert_eq!(allowed[0].resource_id.as_deref(), Some(id.as_str()));
    assert!(allowed[0].practitioner_id.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn organisation_codes_names_and_areas_are_bounded_and_plain() {
    let app = app_or_skip!();
    let regional = token_with_roles(&app, "regional", &["regional_admin"]).await;
    let before = org_count(&app).await;
    let huge = "病".repeat(300_000); // ~900 KB, under the body limit
    let cases: Vec<(Value, &str)> = vec![
        (org("<script>", "病院", "千葉"), "code"),
        (org("Recovery-1", "病院", "千葉"), "code"),
        (org(&"a".repeat(65), "病院", "千葉"), "code"),
        (org("ｒｅｃ", "病院", "千葉"), "code"),
        (org("rec-1", &huge, "千葉"), "name"),
        (org("rec-1", &"病".repeat(201), "千葉"), "name"),
        (org("rec-1", "病院\u{202E}gpj.exe", "千葉"), "name"),
        (org("rec-1", "\u{2066}病院\u{2069}", "千葉"), "name"),
        (org("rec-1", "病院\u{0000}", "千葉"), "name"),
        (org("rec-1", "病院\u{0007}", "千葉"), "name"),
        (org("rec-1", "病院\n二行目", "千葉"), "name"),
        (org("rec-1", "   ", "千葉"), "name"),
        (org("rec-1", "病院", &"千".repeat(101)), "area"),
        (org("rec-1", "病院", "千葉\u{202D}"), "area"),
        (org("rec-1", "病院", "千葉\u{0000}"), "area"),
        (org("rec-1", "病院", ""), "area"),
    ];
    for (body, field) in &cases {
        let res = app
            .post_json("/api/v1/organizations", &regional, body, None)
            .await;
        assert_eq!(
            res.status.as_u16(),
            422,
            "{field}: {}",
            &res.text[..res.text.len().min(300)]
        );
        res.assert_problem(422, Some(field));
    }
    assert_eq!(org_count(&app).await, before, "bad input creates nothing");
    assert!(
        org_events(&app)
            .await
            .iter()
            .all(|e| e.outcome != "allowed"),
        "nothing was created"
    );
    // At the limits it is accepted.
    app.post_json(
        "/api/v1/organizations",
        &regional,
        &org(&"a".repeat(64), &"病".repeat(200), &"千".repeat(100)),
        None,
    )
    .await
    .assert_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn renkei_org_add_applies_the_same_rules() {
    let app = app_or_skip!();
    let db = app.db.cli_url();
    let before = org_count(&app).await;
    let long = "病".repeat(201);
    for (code, name, area, field) in [
        ("rec-1", "病院\u{202E}gpj.exe", "千葉", "name"),
        ("rec-1", long.as_str(), "千葉", "name"),
        ("rec-1", "病院\u{0007}", "千葉", "name"),
        ("rec-1", "病院", "千葉\u{2067}", "area"),
        ("Rec 1", "病院", "千葉", "code"),
    ] {
        let out = run_renkei(
            &[
                "org",
                "add",
                "--database",
                &db,
                "--code",
                code,
                "--name",
                name,
                "--kind",
                "recovery_hospital",
                "--area",
                area,
            ],
            None,
        )
        .await;
        out.assert_code(1);
        assert!(
            out.stderr.contains(&format!("{field}:")),
            "{field}: {}",
            out.stderr
        );
    }
    assert_eq!(org_count(&app).await, before, "bad input creates nothing");
}
