//! Template variants over HTTP: a plan is enrolled on a variant of a pathway version that
//! branches (required there, one of its own, refused elsewhere, in Japanese), keeps it,
//! and shows it in its JSON, its goals, the FHIR CarePlan, the plan page and the prints.

use renkei_testkit::builders::days_ago;
use renkei_testkit::fhir::fhir_validate;
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, consent, create_patient};
use crate::web_client::{Browser, PASSWORD, web_user};

async fn patient(app: &renkei_testkit::TestApp, token: &str) -> Value {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    create_patient(app, token, ("ヤマダ", "タロウ"), "1948-04-01", &ident[..12]).await
}

/// The one field error of a problem+json body.
fn only_error(body: &Value) -> &Value {
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    &errors[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolment_requires_a_variant_of_the_version_where_it_branches() {
    let app = app_or_skip!();
    let token = app.token().await;
    let p = patient(&app, &token).await;
    let post = |body: Value| {
        let app = &app;
        let token = &token;
        async move {
            app.post_json("/api/v1/care-plans", token, &body, None)
                .await
        }
    };
    // The latest stroke version branches: no variant is refused, in Japanese.
    let res = post(json!({"patient_id": p["id"], "pathway": "stroke"})).await;
    res.assert_problem(422, Some("variant"));
    let e = only_error(&res.body);
    assert_eq!(e["code"], "required", "{}", res.body);
    let message = e["message"].as_str().expect("message");
    assert!(message.contains("パスの種類"), "{message}");
    // A variant of another pathway, or of none.
    let res =
        post(json!({"patient_id": p["id"], "pathway": "stroke", "variant": "hemiarthroplasty"}))
            .await;
    res.assert_problem(422, Some("variant"));
    assert_eq!(only_error(&res.body)["code"], "unknown");
    assert!(
        only_error(&res.body)["message"]
            .as_str()
            .is_some_and(|m| m.contains("パスの種類")),
        "{}",
        res.body
    );
    let res = post(
        json!({"patient_id": p["id"], "pathway": "stroke", "version": 2, "variant": "standard"}),
    )
    .await;
    res.assert_problem(422, Some("variant"));
    let res =
        post(json!({"patient_id": p["id"], "pathway": "diabetes", "variant": "standard"})).await;
    res.assert_problem(422, Some("variant"));
    // Nothing was created.
    let pid = p["id"].as_str().expect("patient id");
    let plans = app
        .get_query("/api/v1/care-plans", &token, &[("patient_id", pid)])
        .await;
    assert_eq!(plans.body["care_plans"], json!([]));

    // An older version without variants takes none, and shows none.
    let res = post(json!({"patient_id": p["id"], "pathway": "stroke", "version": 2})).await;
    res.assert_status(201);
    assert_eq!(res.body["variant"], Value::Null);
    // Femur branches by the operation.
    let res = post(
        json!({"patient_id": p["id"], "pathway": "femur-fracture", "variant": "hemiarthroplasty"}),
    )
    .await;
    res.assert_status(201);
    assert_eq!(res.body["pathway"]["version"], 3);
    assert_eq!(
        res.body["variant"],
        json!({"code": "hemiarthroplasty", "title_ja": "人工骨頭置換術", "title_en": "Hemiarthroplasty"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recovery_limit_follows_the_variant_in_the_goals_and_everywhere_the_plan_is() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "variant-web").await;
    let token = renkei_service::admin::issue_token(&app.services, "variant-web", "test", None)
        .await
        .expect("token");
    let mut plans = Vec::new();
    for variant in ["standard", "severe_higher_brain_dysfunction"] {
        let p = patient(&app, &token).await;
        let res = app
            .post_json(
                "/api/v1/care-plans",
                &token,
                &json!({"patient_id": p["id"], "pathway": "stroke", "variant": variant,
                        "started_at": days_ago(20)}),
                None,
            )
            .await;
        res.assert_status(201);
        assert_eq!(res.body["variant"]["code"], variant);
        let id = res.body["id"].as_str().expect("plan id").to_owned();
        consent(&app, &token, &id).await;
        append(
            &app,
            &token,
            &id,
            json!({"stage": "acute", "kind": "stage_start", "effective_at": days_ago(19)}),
        )
        .await;
        // GET keeps the variant.
        let got = app.get(&format!("/api/v1/care-plans/{id}"), &token).await;
        got.assert_status(200);
        assert_eq!(got.body["variant"]["code"], variant);
        plans.push(id);
    }
    let goal = |plan: String| {
        let app = &app;
        let token = &token;
        async move {
            let res = app
                .get(&format!("/api/v1/care-plans/{plan}/goals"), token)
                .await;
            res.assert_status(200);
            res.body["goals"]
                .as_array()
                .expect("goals")
                .iter()
                .find(|g| g["code"] == "g4_recovery_within_limit")
                .cloned()
                .expect("g4")
        }
    };
    let standard = goal(plans[0].clone()).await;
    let severe = goal(plans[1].clone()).await;
    assert_eq!(standard["target"]["days"], 150, "{standard}");
    assert_eq!(severe["target"]["days"], 180, "{severe}");
    assert_eq!(severe["status"], "pending");

    // FHIR: the variant is a second category of the CarePlan, coded, with its words.
    let fhir = app
        .get(&format!("/fhir/r4/CarePlan/{}", plans[1]), &token)
        .await;
    fhir.assert_status(200);
    let category = &fhir.body["category"][1];
    assert_eq!(
        category["coding"][0]["system"],
        "https://renkei.example.jp/fhir/CodeSystem/stroke-variants"
    );
    assert_eq!(
        category["coding"][0]["code"],
        "severe_higher_brain_dysfunction"
    );
    assert_eq!(
        category["text"],
        "高次脳機能障害を伴った重症脳血管障害(回復期上限180日)"
    );
    assert_eq!(fhir_validate(&fhir.body), Vec::<String>::new());
    let plain = app
        .get(&format!("/fhir/r4/CarePlan/{}", plans[0]), &token)
        .await;
    assert_eq!(plain.body["category"][1]["coding"][0]["code"], "standard");

    // The plan page header, the recovery column and both prints name the variant.
    let b = Browser::new(&app);
    b.login("variant-web", PASSWORD).await;
    let page = b.get(&format!("/care-plans/{}", plans[1])).await;
    page.assert_status(200);
    assert!(
        page.text.contains("パスの種類 <strong class=\"plan-variant\">高次脳機能障害を伴った重症脳血管障害(回復期上限180日)</strong>"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("severe_higher_brain_dysfunction"));
    let page = b.get(&format!("/care-plans/{}", plans[0])).await;
    assert!(page.text.contains("脳血管疾患(回復期上限150日)"));
    for print in ["print", "print?version=staff"] {
        let res = b.get(&format!("/care-plans/{}/{print}", plans[1])).await;
        res.assert_status(200);
        assert!(
            res.text
                .contains("(第3版・高次脳機能障害を伴った重症脳血管障害(回復期上限180日))"),
            "{print}: {}",
            res.text
        );
    }
}
