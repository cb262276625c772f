//! Patient registration and search (kana in any form, birth date, local identifier).

use serde_json::json;

use crate::support::{app_or_skip, create_patient};

#[tokio::test(flavor = "multi_thread")]
async fn create_get_and_search_patients() {
    let app = app_or_skip!();
    let token = app.token().await;
    let yamada = create_patient(&app, &token, ("ヤマダ", "タロウ"), "1948-04-01", "0012345").await;
    let other = create_patient(&app, &token, ("スズキ", "ハナコ"), "1950-01-02", "0099999").await;
    let id = yamada["id"].as_str().expect("patient id");
    assert_eq!(yamada["name"]["family_kana"], "ヤマダ");
    assert_eq!(
        yamada["identifiers"],
        json!([{"organization": "acute-1", "value": "0012345"}])
    );

    let got = app.get(&format!("/api/v1/patients/{id}"), &token).await;
    got.assert_status(200);
    assert_eq!(got.body, yamada);

    let ids_of = |res: &renkei_testkit::ApiResponse| -> Vec<String> {
        res.body["patients"]
            .as_array()
            .expect("patients array")
            .iter()
            .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    // カタカナ, ひらがな and half-width ｶﾀｶﾅ prefixes all find the same patient, and only it.
    for kana in [
        "ヤマ",
        "ヤマダタロウ",
        "やまだ",
        "ﾔﾏﾀﾞ",
        "ﾔﾏﾀﾞ ﾀﾛｳ",
        "やまだ　たろう",
    ] {
        let res = app
            .get_query("/api/v1/patients", &token, &[("kana", kana)])
            .await;
        res.assert_status(200);
        assert_eq!(ids_of(&res), vec![id.to_owned()], "kana search {kana:?}");
    }
    let res = app
        .get_query("/api/v1/patients", &token, &[("kana", "タナカ")])
        .await;
    res.assert_status(200);
    assert!(ids_of(&res).is_empty());

    let res = app
        .get_query("/api/v1/patients", &token, &[("birth_date", "1948-04-01")])
        .await;
    res.assert_status(200);
    assert_eq!(ids_of(&res), vec![id.to_owned()]);

    let res = app
        .get_query(
            "/api/v1/patients",
            &token,
            &[("organization", "acute-1"), ("identifier", "0012345")],
        )
        .await;
    res.assert_status(200);
    assert_eq!(ids_of(&res), vec![id.to_owned()]);
    let res = app
        .get_query(
            "/api/v1/patients",
            &token,
            &[("organization", "acute-1"), ("identifier", "0000000")],
        )
        .await;
    res.assert_status(200);
    assert!(ids_of(&res).is_empty());

    // LIKE wildcards are not wildcards: refused, or they match nothing.
    for kana in ["%", "_", "ヤ%", "%ダ", "__", "ス_キ"] {
        let res = app
            .get_query("/api/v1/patients", &token, &[("kana", kana)])
            .await;
        match res.status.as_u16() {
            422 => {
                res.assert_problem(422, Some("kana"));
            }
            200 => assert!(
                ids_of(&res).is_empty(),
                "kana {kana:?} matched {}",
                res.text
            ),
            other => panic!("kana {kana:?}: unexpected status {other}: {}", res.text),
        }
    }
    // The second patient exists and is found on its own.
    let res = app
        .get_query("/api/v1/patients", &token, &[("kana", "すずき")])
        .await;
    assert_eq!(
        ids_of(&res),
        vec![other["id"].as_str().unwrap_or_default().to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn patient_lookup_errors() {
    let app = app_or_skip!();
    let token = app.token().await;
    app.get("/api/v1/patients/not-a-uuid", &token)
        .await
        .assert_problem(404, None);
    app.get(
        &format!("/api/v1/patients/{}", uuid::Uuid::now_v7()),
        &token,
    )
    .await
    .assert_problem(404, None);
    // A search needs a criterion.
    app.get("/api/v1/patients", &token)
        .await
        .assert_problem(422, None);
    // Bad registration: kanji where kana is required, a date that does not exist.
    let res = app
        .post_json(
            "/api/v1/patients",
            &token,
            &json!({"name": {"family": "山田", "given": "太郎", "family_kana": "山田", "given_kana": "タロウ"},
                    "birth_date": "2026-02-30", "sex": "male"}),
            None,
        )
        .await;
    res.assert_problem(422, Some("name.family_kana"));
    res.assert_problem(422, Some("birth_date"));
}
