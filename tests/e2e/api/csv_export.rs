//! Issue 10 §10c: no cell of a CSV export starts a formula. The audit log export (the
//! only CSV download) is fetched by the regional administrator after practitioners and
//! a facility whose names begin with `=`, `+`, `-`, `@` and a tab acted; every such
//! cell comes back prefixed with a single quote, and no cell begins a formula.

use renkei_testkit::{TestApp, rows};
use reqwest::header;

use crate::support::app_or_skip;
use crate::web_client::{Browser, PASSWORD, web_user};

async fn rename_practitioner(app: &TestApp, login: &str, name: &str) {
    rows::edit_practitioner(
        &app.services.db,
        login,
        rows::PractitionerEdit {
            name: Some(name.to_owned()),
            ..Default::default()
        },
    )
    .await
    .expect("rename practitioner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_export_neutralises_formula_cells() {
    let app = app_or_skip!();
    let names = [
        ("formula-eq", "=HYPERLINK(\"http://evil.example\",\"詳細\")"),
        ("formula-plus", "+81-3-0000-0000"),
        ("formula-minus", "-2+3"),
        ("formula-at", "@SUM(1+1)"),
        ("formula-tab", "\t=1+1"),
    ];
    for (login, name) in names {
        let token = app.user_token("acute-1", "acute_hospital", login).await;
        rename_practitioner(&app, login, name).await;
        // Something audited by this practitioner: a read of a plan that is not there.
        app.get(
            &format!("/api/v1/care-plans/{}", uuid::Uuid::now_v7()),
            &token,
        )
        .await
        .assert_status(404);
    }
    // A facility whose name is a formula.
    let token = app.user_token("clinic-9", "clinic", "clinic-9-ns").await;
    rows::edit_organization(
        &app.services.db,
        "clinic-9",
        rows::OrganizationEdit {
            name: Some("=1+1".to_owned()),
            ..Default::default()
        },
    )
    .await
    .expect("rename organisation");
    app.get(
        &format!("/api/v1/care-plans/{}", uuid::Uuid::now_v7()),
        &token,
    )
    .await
    .assert_status(404);

    web_user(&app, "region-1", "municipality", "kansa").await;
    rows::edit_practitioner(
        &app.services.db,
        "kansa",
        rows::PractitionerEdit {
            roles: Some("[\"regional_admin\"]".to_owned()),
            ..Default::default()
        },
    )
    .await
    .expect("regional admin");
    let b = Browser::new(&app);
    b.login("kansa", PASSWORD).await;
    let csv = b.get("/admin/audit.csv").await;
    csv.assert_status(200);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(&csv.bytes[3..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("CSV record")).collect();
    assert!(!rows.is_empty());
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?} in {row:?}"
            );
        }
    }
    let users: Vec<&str> = rows.iter().filter_map(|r| r.get(2)).collect();
    for (login, name) in names {
        let expected = format!("'{name}({login})");
        assert!(
            users.contains(&expected.as_str()),
            "{expected:?} among {users:?}"
        );
    }
    let facilities: Vec<&str> = rows.iter().filter_map(|r| r.get(3)).collect();
    assert!(facilities.contains(&"'=1+1"), "{facilities:?}");
}
