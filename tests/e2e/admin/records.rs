//! Issue 18 point 9 on the web and from the command: an organisation adds its own
//! patient number to a patient it treats from the form on the patient page (only its
//! own namespace offered; another one posted anyway is refused with what was typed
//! kept) and with `renkei patient add-identifier` as a process.

use renkei_testkit::run_renkei;

use super::{admin_user, audit_actions, has_action, regional};
use crate::support::{app_or_skip, create_patient};
use crate::web_client::{Browser, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_adds_its_own_patient_number_from_the_patient_page_and_only_its_own() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let acute = admin_user(&app, "acute-1", "acute_hospital", "acute-clerk", &[]).await;
    let p = create_patient(&app, &acute, ("ヤマダ", "ハナコ"), "1950-01-02", "A-300").await;
    let id = p["id"].as_str().expect("id");
    let b = Browser::new(&app);
    b.login("acute-clerk", PASSWORD).await;

    // The patient page carries the form, offering the own organisation only.
    let page = b.get(&format!("/patients/{id}")).await;
    page.assert_status(200);
    assert!(
        page.text
            .contains(&format!("action=\"/patients/{id}/identifiers\"")),
        "{}",
        page.text
    );
    assert!(page.text.contains("<option value=\"acute-1\" selected>"));
    assert_eq!(
        page.text.matches("<option value=").count(),
        1,
        "one namespace"
    );
    let csrf = page.csrf();

    // Another organisation's namespace posted anyway: refused, the number kept.
    let refused = b
        .post(
            &format!("/patients/{id}/identifiers"),
            &[
                ("csrf", &csrf),
                ("organization", "clinic-9"),
                ("value", "C-77"),
            ],
        )
        .await;
    refused.assert_status(422);
    assert!(
        refused.text.contains("入力内容を確認してください(1件)"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("href=\"#f-organization\""));
    assert!(refused.text.contains("value=\"C-77\""), "typed number kept");

    // Blank number: the error, on the number.
    let blank = b
        .post(
            &format!("/patients/{id}/identifiers"),
            &[("csrf", &csrf), ("organization", "acute-1"), ("value", " ")],
        )
        .await;
    blank.assert_status(422);
    assert!(blank.text.contains("href=\"#f-value\""), "{}", blank.text);

    // The own namespace: added, back on the patient page with a notice.
    let added = b
        .post(
            &format!("/patients/{id}/identifiers"),
            &[
                ("csrf", &csrf),
                ("organization", "acute-1"),
                ("value", "A-301"),
            ],
        )
        .await;
    assert_eq!(
        added.location().map(str::to_owned),
        Some(format!("/patients/{id}?identifier=added"))
    );
    let after = b.get(&format!("/patients/{id}?identifier=added")).await;
    assert!(after.text.contains("自施設の患者番号を追加しました。"));
    let api = app.get(&format!("/api/v1/patients/{id}"), &acute).await;
    let values: Vec<&str> = api.body["identifiers"]
        .as_array()
        .expect("identifiers")
        .iter()
        .filter_map(|i| i["value"].as_str())
        .collect();
    assert!(values.contains(&"A-301"), "{values:?}");
    assert!(!values.contains(&"C-77"), "{values:?}");

    // The same number twice: a clash, shown on the field.
    let twice = b
        .post(
            &format!("/patients/{id}/identifiers"),
            &[
                ("csrf", &csrf),
                ("organization", "acute-1"),
                ("value", "A-301"),
            ],
        )
        .await;
    twice.assert_status(422);
    assert!(twice.text.contains("すでに別の患者さんに使われています"));

    // In English through the language switch.
    let en = b.get(&format!("/patients/{id}/identifiers?lang=en")).await;
    en.assert_status(200);

    let allowed = audit_actions(&app, &region, "allowed").await;
    assert!(has_action(&allowed, "patient.identifier_add"));
}

async fn run(db: &str, args: &[&str]) -> renkei_testkit::CliOutput {
    let mut all = vec!["--database", db];
    all.extend_from_slice(args);
    run_renkei(&all, None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn renkei_patient_add_identifier_adds_the_own_number_and_refuses_another_namespace() {
    let app = app_or_skip!();
    let acute = admin_user(&app, "acute-1", "acute_hospital", "acute-clerk", &[]).await;
    let p = create_patient(&app, &acute, ("サトウ", "ジロウ"), "1945-05-06", "A-400").await;
    let id = p["id"].as_str().expect("id");
    let db = app.db.cli_url();

    let out = run(
        &db,
        &[
            "patient",
            "add-identifier",
            id,
            "--as",
            "acute-clerk",
            "--value",
            "A-401",
        ],
    )
    .await;
    out.assert_code(0);
    assert!(out.stdout.contains("acute-1\tA-401"), "{}", out.stdout);

    let refused = run(
        &db,
        &[
            "patient",
            "add-identifier",
            id,
            "--as",
            "acute-clerk",
            "--organization",
            "clinic-9",
            "--value",
            "C-1",
        ],
    )
    .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("organization"),
        "{}",
        refused.stderr
    );
    let api = app.get(&format!("/api/v1/patients/{id}"), &acute).await;
    assert!(!api.text.contains("C-1"), "{}", api.text);
}
