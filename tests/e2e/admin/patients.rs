//! Issue 18 point 9 through the API: an organisation registers numbers in its own
//! namespace only (a number in another's is refused, and planting one's own number on
//! a patient one does not treat reveals nothing); demographics are corrected with a
//! reason, the history keeps the values before and after, and `verify` still finds the
//! patient row as the audit log recorded it.

use serde_json::json;

use super::{audit_actions, field_names, regional};
use crate::support::{app_or_skip, create_patient};

#[tokio::test(flavor = "multi_thread")]
async fn another_organisations_namespace_is_refused_and_does_not_open_the_patient() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let outsider = app.user_token("clinic-9", "clinic", "outsider-nurse").await;
    let p = create_patient(&app, &acute, ("ヤマダ", "タロウ"), "1950-01-02", "A-100").await;
    let id = p["id"].as_str().expect("id");

    // In the acute hospital's namespace: refused, whatever the number.
    let planted = app
        .post_json(
            &format!("/api/v1/patients/{id}/identifiers"),
            &outsider,
            &json!({"organization": "acute-1", "value": "A-999"}),
            None,
        )
        .await;
    planted.assert_status(422);
    assert_eq!(field_names(&planted.body), ["organization"]);
    // In its own namespace, on a patient it does not treat: not found, nothing stored.
    app.post_json(
        &format!("/api/v1/patients/{id}/identifiers"),
        &outsider,
        &json!({"organization": "clinic-9", "value": "C-1"}),
        None,
    )
    .await
    .assert_status(404);
    app.get(&format!("/api/v1/patients/{id}"), &outsider)
        .await
        .assert_status(404);
    let found = app
        .get_query(
            "/api/v1/patients",
            &outsider,
            &[("identifier", "C-1"), ("organization", "clinic-9")],
        )
        .await;
    assert!(
        found.body["patients"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{}",
        found.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demographics_are_corrected_with_a_reason_and_the_history_is_kept() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let acute = app.token().await;
    let outsider = app.user_token("clinic-9", "clinic", "outsider-nurse").await;
    let p = create_patient(&app, &acute, ("ワタナベ", "ハナコ"), "1940-03-04", "A-200").await;
    let id = p["id"].as_str().expect("id");
    let url = format!("/api/v1/patients/{id}/demographics");
    let put = |token: &str, body: serde_json::Value| {
        let req = app
            .request(reqwest::Method::PUT, &url)
            .bearer_auth(token)
            .json(&body);
        renkei_testkit::app::send(req)
    };

    // Every problem at once: no reason, a bad date, kana that is not kana.
    let bad = put(
        &acute,
        json!({"name": {"family": "渡邊", "given": "花子", "family_kana": "watanabe", "given_kana": "ハナコ"},
               "birth_date": "1940-13-04", "sex": "female", "reason": " "}),
    )
    .await;
    bad.assert_status(422);
    let mut fields = field_names(&bad.body);
    fields.sort();
    assert_eq!(
        fields,
        ["birth_date", "name.family_kana", "reason"],
        "{}",
        bad.text
    );

    // An organisation that does not treat the patient: not found.
    put(
        &outsider,
        json!({"name": {"family": "渡邊", "given": "花子", "family_kana": "ワタナベ", "given_kana": "ハナコ"},
               "birth_date": "1940-03-14", "sex": "female", "reason": "誤記"}),
    )
    .await
    .assert_status(404);

    let ok = put(
        &acute,
        json!({"name": {"family": "渡邊", "given": "花子", "family_kana": "ワタナベ", "given_kana": "ハナコ"},
               "birth_date": "1940-03-14", "sex": "female", "reason": "保険証と照合し旧字体・生年月日を訂正"}),
    )
    .await;
    ok.assert_status(200);
    assert_eq!(ok.body["name"]["family"], "渡邊");
    assert_eq!(ok.body["birth_date"], "1940-03-14");

    // The same again changes nothing: refused.
    put(
        &acute,
        json!({"name": {"family": "渡邊", "given": "花子", "family_kana": "ワタナベ", "given_kana": "ハナコ"},
               "birth_date": "1940-03-14", "sex": "female", "reason": "再送"}),
    )
    .await
    .assert_status(422);

    let history = app.get(&url, &acute).await;
    history.assert_status(200);
    let changes = history.body["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(changes.len(), 1, "{}", history.text);
    assert_eq!(changes[0]["reason"], "保険証と照合し旧字体・生年月日を訂正");
    assert_eq!(changes[0]["before"]["family"], "山田");
    assert_eq!(changes[0]["before"]["birth_date"], "1940-03-04");
    assert_eq!(changes[0]["after"]["family"], "渡邊");
    app.get(&url, &outsider).await.assert_status(404);

    // Found by the corrected name; the audit names the fields, never the values.
    let allowed = audit_actions(&app, &region, "allowed").await;
    let (_, detail) = allowed
        .iter()
        .find(|(a, _)| a == "patient.correct")
        .expect("audited");
    assert!(
        detail.contains("family") && detail.contains("birth_date"),
        "{detail}"
    );
    assert!(
        !detail.contains("渡邊") && !detail.contains("1940"),
        "{detail}"
    );

    let out = renkei_testkit::run_renkei(&["verify", "--database", &app.db.cli_url()], None).await;
    out.assert_code(0);
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);
}
