//! Patient identifiers and search under attack: numbers only in one's own organisation's
//! namespace (no planting, no probing which numbers exist), adding one's own number to a
//! patient one treats, one written form per number (full-width, zero-width), kana in
//! every form, and search pages that no one can flood with other organisations'
//! patients.

use renkei_testkit::builders::{days_ago, patient};
use renkei_testkit::{ApiResponse, TestApp};
use serde_json::{Value, json};

use crate::support::{app_or_skip, consent, create_patient, team_member};

fn ids_of(res: &ApiResponse) -> Vec<String> {
    res.body["patients"]
        .as_array()
        .unwrap_or_else(|| panic!("patients array: {}", res.text))
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn id_of(p: &Value) -> String {
    p["id"].as_str().expect("patient id").to_owned()
}

/// A patient body with the given identifiers.
fn patient_with(kana: (&str, &str), identifiers: Value) -> Value {
    json!({
        "name": {"family": "偽名", "given": "一郎", "family_kana": kana.0, "given_kana": kana.1},
        "birth_date": "1950-05-05",
        "sex": "male",
        "identifiers": identifiers,
    })
}

/// The parts of a problem that do not change from request to request.
fn problem_core(res: &ApiResponse) -> Value {
    json!({
        "status": res.body["status"],
        "type": res.body["type"],
        "title": res.body["title"],
        "detail": res.body["detail"],
        "errors": res.body["errors"],
    })
}

fn rule_of(res: &ApiResponse, field: &str) -> String {
    res.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["field"] == field)
        .and_then(|e| e["code"].as_str().or_else(|| e["rule"].as_str()))
        .unwrap_or_else(|| panic!("no error on {field}: {}", res.text))
        .to_owned()
}

async fn search_identifier(app: &TestApp, token: &str, org: &str, value: &str) -> Vec<String> {
    let res = app
        .get_query(
            "/api/v1/patients",
            token,
            &[("organization", org), ("identifier", value)],
        )
        .await;
    res.assert_status(200);
    ids_of(&res)
}

#[tokio::test(flavor = "multi_thread")]
async fn another_organisations_number_cannot_be_planted_or_probed() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let outsider = app
        .user_token("home-1", "home_nursing", "home-nurse-planter")
        .await;
    let real = create_patient(&app, &acute, ("ヤマダ", "タロウ"), "1948-04-01", "0012345").await;

    // acute-1's number, existing or not, or an organisation that does not exist: the same
    // 422 on the organisation field, so nothing is learnt about which numbers exist.
    let mut answers = Vec::new();
    for (org, value) in [
        ("acute-1", "0012345"),
        ("acute-1", "0012346"),
        ("no-such-org", "0012345"),
    ] {
        let res = app
            .post_json(
                "/api/v1/patients",
                &outsider,
                &patient_with(
                    ("ニセ", "イチロウ"),
                    json!([{"organization": org, "value": value},
                           {"organization": "home-1", "value": "H-0001"}]),
                ),
                None,
            )
            .await;
        res.assert_problem(422, Some("identifiers[0].organization"));
        assert_eq!(
            rule_of(&res, "identifiers[0].organization"),
            "own_organization_only"
        );
        answers.push(problem_core(&res));
    }
    assert_eq!(answers[0], answers[1], "existence of 0012345 is revealed");
    assert_eq!(answers[0], answers[2]);
    // Only another organisation's number, without one's own: refused the same way.
    let res = app
        .post_json(
            "/api/v1/patients",
            &outsider,
            &patient_with(
                ("ニセ", "イチロウ"),
                json!([{"organization": "acute-1", "value": "0012346"}]),
            ),
            None,
        )
        .await;
    res.assert_problem(422, Some("identifiers[0].organization"));

    // Nothing was planted: the real hospital registers 0012346 later, and its search
    // by that number shows its own patient only.
    let later = create_patient(&app, &acute, ("スズキ", "ハナコ"), "1950-01-02", "0012346").await;
    assert_eq!(
        search_identifier(&app, &acute, "acute-1", "0012346").await,
        vec![id_of(&later)]
    );
    assert_eq!(
        search_identifier(&app, &acute, "acute-1", "0012345").await,
        vec![id_of(&real)]
    );
    // The outsider sees neither patient.
    for p in [&real, &later] {
        app.get(&format!("/api/v1/patients/{}", id_of(p)), &outsider)
            .await
            .assert_problem(404, None);
    }
    assert!(
        search_identifier(&app, &outsider, "acute-1", "0012345")
            .await
            .is_empty()
    );

    // A clash in one's own namespace is told (the caller already sees that patient).
    let res = app
        .post_json(
            "/api/v1/patients",
            &acute,
            &patient("ヤマダ", "ジロウ", "1949-04-01", "acute-1", "0012345"),
            None,
        )
        .await;
    res.assert_problem(409, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_treating_organisation_adds_its_own_number() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let p = create_patient(&app, &acute, ("タナカ", "イサム"), "1944-07-07", "0055501").await;
    let pid = id_of(&p);
    let plan = app
        .post_json(
            "/api/v1/care-plans",
            &acute,
            &json!({"patient_id": pid, "pathway": "stroke", "variant": "standard", "started_at": days_ago(3)}),
            None,
        )
        .await;
    plan.assert_status(201);
    let plan = plan.body["id"].as_str().expect("plan id").to_owned();
    let recovery = team_member(
        &app,
        &acute,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    consent(&app, &acute, &plan).await;
    let outsider = app
        .user_token("home-1", "home_nursing", "home-nurse-adder")
        .await;
    let path = format!("/api/v1/patients/{pid}/identifiers");

    // The recovery hospital, on the care team with consent, adds its own number (in any
    // written form: it is stored normalised).
    let res = app
        .post_json(
            &path,
            &recovery,
            &json!({"organization": "recovery-1", "value": "Ｒ－００７\u{200B}"}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["id"], pid.as_str());
    assert!(
        res.body["identifiers"]
            .as_array()
            .expect("identifiers")
            .contains(&json!({"organization": "recovery-1", "value": "R-007"})),
        "{}",
        res.text
    );
    assert_eq!(
        search_identifier(&app, &recovery, "recovery-1", "R-007").await,
        vec![pid.clone()]
    );
    // The same number again: told, it is the caller's own namespace.
    app.post_json(
        &path,
        &recovery,
        &json!({"organization": "recovery-1", "value": "R-007"}),
        None,
    )
    .await
    .assert_problem(409, None);
    // Another organisation's namespace: refused outright.
    let res = app
        .post_json(
            &path,
            &recovery,
            &json!({"organization": "acute-1", "value": "0055599"}),
            None,
        )
        .await;
    res.assert_problem(422, Some("organization"));
    assert_eq!(rule_of(&res, "organization"), "own_organization_only");

    // An organisation that does not treat the patient: 404, exactly as for no patient.
    let hidden = app
        .post_json(
            &path,
            &outsider,
            &json!({"organization": "home-1", "value": "H-1"}),
            None,
        )
        .await;
    hidden.assert_problem(404, None);
    let unknown = app
        .post_json(
            &format!("/api/v1/patients/{}/identifiers", uuid::Uuid::now_v7()),
            &outsider,
            &json!({"organization": "home-1", "value": "H-1"}),
            None,
        )
        .await;
    unknown.assert_problem(404, None);
    assert_eq!(problem_core(&hidden), problem_core(&unknown));
    app.get(&format!("/api/v1/patients/{pid}"), &outsider)
        .await
        .assert_problem(404, None);

    // On the care team but without the patient's consent: the plan is hidden from it,
    // so it does not treat the patient either.
    let other = create_patient(&app, &acute, ("タナカ", "ジロウ"), "1944-08-08", "0055502").await;
    let other_plan = app
        .post_json(
            "/api/v1/care-plans",
            &acute,
            &json!({"patient_id": id_of(&other), "pathway": "stroke", "variant": "standard", "started_at": days_ago(3)}),
            None,
        )
        .await;
    other_plan.assert_status(201);
    let clinic = team_member(
        &app,
        &acute,
        other_plan.body["id"].as_str().expect("plan id"),
        "clinic-1",
        "clinic",
        &["home"],
    )
    .await;
    let res = app
        .post_json(
            &format!("/api/v1/patients/{}/identifiers", id_of(&other)),
            &clinic,
            &json!({"organization": "clinic-1", "value": "K-1"}),
            None,
        )
        .await;
    res.assert_problem(404, None);
    assert_eq!(problem_core(&res), problem_core(&unknown));

    // Both decisions are audited, against the patient.
    let db = app.db.connect().await;
    let events = renkei_store::queries_access::audit_events(
        &db,
        &renkei_store::queries_access::AuditFilter {
            patient: Some(uuid::Uuid::parse_str(&pid).expect("uuid")),
            ..Default::default()
        },
        1000,
    )
    .await
    .expect("audit events");
    let adds: Vec<&str> = events
        .iter()
        .filter(|e| e.action == "patient.identifier_add")
        .map(|e| e.outcome.as_str())
        .collect();
    assert!(adds.contains(&"allowed"), "{adds:?}");
    assert!(adds.contains(&"denied"), "{adds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_number_in_any_written_form_is_one_identifier() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let p = create_patient(&app, &acute, ("ヤマダ", "タロウ"), "1948-04-01", "0012345").await;
    for variant in [
        "００１２３４５",
        "0012345\u{200B}",
        "\u{FEFF}0012345",
        "　0012345 ",
    ] {
        let res = app
            .post_json(
                "/api/v1/patients",
                &acute,
                &patient("ヤマダ", "タロウ", "1948-04-01", "acute-1", variant),
                None,
            )
            .await;
        res.assert_problem(409, None);
        assert_eq!(
            search_identifier(&app, &acute, "acute-1", variant).await,
            vec![id_of(&p)],
            "search by {variant:?}"
        );
    }
    // Stored in its normal form.
    let q = create_patient(
        &app,
        &acute,
        ("スズキ", "ハナコ"),
        "1950-01-02",
        "Ａ－９\u{200B}",
    )
    .await;
    assert_eq!(
        q["identifiers"],
        json!([{"organization": "acute-1", "value": "A-9"}])
    );
    // Two forms of one number in one request are one number given twice.
    let res = app
        .post_json(
            "/api/v1/patients",
            &acute,
            &patient_with(
                ("サトウ", "イチロウ"),
                json!([{"organization": "acute-1", "value": "0077001"},
                       {"organization": "acute-1", "value": "００７７００１"}]),
            ),
            None,
        )
        .await;
    res.assert_problem(422, Some("identifiers[1].value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn kana_in_every_form_finds_the_same_patient() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let p = create_patient(&app, &acute, ("ヤマダ", "タロウ"), "1948-04-01", "0012345").await;
    for kana in [
        "ヤマダ",
        "やまだ",
        "ﾔﾏﾀﾞ",
        "ﾔﾏﾀﾞ\u{200B}",
        "ヤマダ\u{FEFF}",
        "やま\u{200D}だ",
        "ヤマタ゛",
        "やまた゛ たろう",
    ] {
        let res = app
            .get_query("/api/v1/patients", &acute, &[("kana", kana)])
            .await;
        res.assert_status(200);
        assert_eq!(ids_of(&res), vec![id_of(&p)], "kana {kana:?}");
    }
}

/// Follows `next` links from `first` and returns every id seen, page by page.
async fn all_pages(app: &TestApp, token: &str, first: ApiResponse) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut res = first;
    loop {
        res.assert_status(200);
        pages.push(ids_of(&res));
        match res.body["next"].as_str() {
            Some(next) => res = app.get(next, token).await,
            None => {
                assert!(res.body["next"].is_null(), "next: {}", res.text);
                break;
            }
        }
        assert!(pages.len() < 20, "paging does not end");
    }
    pages
}

#[tokio::test(flavor = "multi_thread")]
async fn other_organisations_patients_cannot_hide_ones_own() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let clinic = app.user_token("clinic-1", "clinic", "clinic-flooder").await;
    // The caller's own アアア, registered first: among the others' in kana order.
    let own_first = create_patient(&app, &acute, ("アア", "ア"), "1940-01-01", "0090000").await;
    for i in 0..205 {
        let res = app
            .post_json(
                "/api/v1/patients",
                &clinic,
                &patient("アア", "ア", "1940-01-01", "clinic-1", &format!("C-{i:04}")),
                None,
            )
            .await;
        res.assert_status(201);
    }
    // Registered after the flood: アアア (last of them by id), アアイ and アアウ beyond.
    let own_last = create_patient(&app, &acute, ("アア", "ア"), "1940-01-01", "0090001").await;
    let aai = create_patient(&app, &acute, ("アア", "イ"), "1940-01-01", "0090002").await;
    let aau = create_patient(&app, &acute, ("アア", "ウ"), "1940-01-01", "0090003").await;
    let own: Vec<String> = [&own_first, &own_last, &aai, &aau]
        .into_iter()
        .map(id_of)
        .collect();

    for query in [
        vec![("kana", "アア")],
        vec![("kana", "あ")],
        vec![("birth_date", "1940-01-01")],
    ] {
        let res = app.get_query("/api/v1/patients", &acute, &query).await;
        res.assert_status(200);
        assert_eq!(ids_of(&res), own, "search {query:?}");
        assert!(res.body["next"].is_null(), "{}", res.text);
    }
    // Page by page: every own match exactly once, in order.
    for limit in ["1", "3"] {
        let first = app
            .get_query(
                "/api/v1/patients",
                &acute,
                &[("kana", "アア"), ("limit", limit)],
            )
            .await;
        let pages = all_pages(&app, &acute, first).await;
        let flat: Vec<String> = pages.iter().flatten().cloned().collect();
        assert_eq!(flat, own, "limit {limit}: pages {pages:?}");
        assert!(pages.iter().all(|p| !p.is_empty()), "{pages:?}");
    }
    // The clinic sees its own 205 a page at a time, none of acute-1's.
    let first = app
        .get_query("/api/v1/patients", &clinic, &[("kana", "アアア")])
        .await;
    let pages = all_pages(&app, &clinic, first).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![50, 50, 50, 50, 5]
    );
    let flat: Vec<String> = pages.iter().flatten().cloned().collect();
    let unique: std::collections::HashSet<&String> = flat.iter().collect();
    assert_eq!(unique.len(), 205);
    assert!(own.iter().all(|id| !unique.contains(id)));
    // A cursor that is not one is refused.
    app.get_query(
        "/api/v1/patients",
        &acute,
        &[("kana", "アア"), ("cursor", "not a cursor")],
    )
    .await
    .assert_problem(422, Some("cursor"));
    app.get_query(
        "/api/v1/patients",
        &acute,
        &[("kana", "アア"), ("limit", "0")],
    )
    .await
    .assert_problem(422, Some("limit"));
}

async fn first_identifier(app: &TestApp, token: &str, p: &Value) -> Value {
    app.get(&format!("/api/v1/patients/{}", id_of(p)), token)
        .await
        .body["identifiers"][0]["value"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn identifiers_stored_before_normalisation_are_migrated() {
    let app = app_or_skip!();
    let acute = app.token().await;
    let p = create_patient(&app, &acute, ("ヤマダ", "タロウ"), "1948-04-01", "0066001").await;
    let dup = create_patient(&app, &acute, ("ヤマダ", "タロウ"), "1948-04-01", "0066002").await;
    let q = create_patient(&app, &acute, ("スズキ", "ハナコ"), "1950-01-02", "0066003").await;
    // As the server stored them before identifiers were normalised: full width, a
    // zero-width space, and a second record under another form of the first number.
    app.db
        .execute("UPDATE patient_identifiers SET value = '００６６００１' WHERE value = '0066001'")
        .await;
    app.db
        .execute("UPDATE patient_identifiers SET value = '0066003\u{200B}' WHERE value = '0066003'")
        .await;
    app.db
        .execute("UPDATE patient_identifiers SET value = '0066001' WHERE value = '0066002'")
        .await;
    let undone = app
        .db
        .execute(
            "DELETE FROM seaql_migrations WHERE version = 'm20261204_000001_identifier_normal_form'",
        )
        .await;
    assert_eq!(undone, 1, "the normalising migration ran at start-up");
    renkei_testkit::migrate(&app.db.connect().await)
        .await
        .expect("migrate");

    // The one that collides keeps its stored form (the organisation merges by hand); the
    // other two are in their normal form and found by any form.
    assert_eq!(first_identifier(&app, &acute, &dup).await, "0066001");
    assert_eq!(first_identifier(&app, &acute, &p).await, "００６６００１");
    assert_eq!(first_identifier(&app, &acute, &q).await, "0066003");
    assert_eq!(
        search_identifier(&app, &acute, "acute-1", "００６６００３").await,
        vec![id_of(&q)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_page_shows_every_match_a_page_at_a_time() {
    use crate::web_client::{Browser, PASSWORD, web_user};
    let app = app_or_skip!();
    let acute = app.token().await;
    for i in 0..53 {
        create_patient(
            &app,
            &acute,
            ("アア", "ア"),
            "1940-01-01",
            &format!("P-{i:04}"),
        )
        .await;
    }
    web_user(&app, "acute-1", "acute_hospital", "pager").await;
    let browser = Browser::new(&app);
    browser.login("pager", PASSWORD).await;
    let rows = |body: &str| body.matches("<tr>").count() - 1; // less the header row
    let first = browser.get("/patients?q=%E3%82%A2%E3%82%A2%E3%82%A2").await;
    first.assert_status(200);
    assert_eq!(rows(&first.text), 50, "one page of 50");
    assert!(first.text.contains("続きがあります"), "says more follow");
    let next = first
        .text
        .split("<a href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.contains("after="))
        .unwrap_or_else(|| panic!("a link to the next page: {}", first.text))
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = browser.get(&next).await;
    second.assert_status(200);
    assert_eq!(rows(&second.text), 3, "the three after the first 50");
    assert!(
        !second.text.contains("after="),
        "the last page links no further"
    );
    let ids = |body: &str| -> Vec<String> {
        body.split("<a href=\"/patients/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter(|id| uuid::Uuid::parse_str(id).is_ok())
            .map(str::to_owned)
            .collect()
    };
    let mut all = ids(&first.text);
    all.extend(ids(&second.text));
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(
        (all.len(), distinct.len()),
        (53, 53),
        "each match exactly once"
    );
}
