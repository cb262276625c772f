//! Bad input: every rejection is the right 4xx as `application/problem+json`, names the
//! field where there is one, and writes nothing (the plan's counters and its whole entry
//! list are unchanged afterwards).

use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry, fim};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    app_or_skip, append, consent, post_entry, snapshot, stroke_plan, team_member,
};

/// A stroke plan in the acute stage, started, with one assessment.
async fn plan_in_acute(app: &renkei_testkit::TestApp, token: &str) -> String {
    let plan = stroke_plan(app, token, 10).await;
    append(
        app,
        token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(10),
            json!({"nihss_total": 8}),
        ),
    )
    .await;
    append(
        app,
        token,
        &plan,
        entry("acute", "assessment", &days_ago(9), json!({"mrs": 4})),
    )
    .await;
    plan
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_values_are_refused_with_the_field_and_write_nothing() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_in_acute(&app, &token).await;
    let before = snapshot(&app, &token, &plan).await;
    let at = days_ago(8);

    let mut wrong_total = fim([4; 18]);
    wrong_total.insert("fim_total".into(), json!(70)); // the items add up to 72
    let mut partial = fim([4; 18]);
    partial.remove("fim_memory");
    partial.insert("fim_total".into(), json!(68));

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unknown item",
            entry("acute", "assessment", &at, json!({"x": 1})),
            "values.x",
        ),
        (
            "out of range",
            entry("acute", "assessment", &at, json!({"mrs": 7})),
            "values.mrs",
        ),
        (
            "below range",
            entry("acute", "assessment", &at, json!({"mrs": -1})),
            "values.mrs",
        ),
        (
            "string for integer",
            entry("acute", "assessment", &at, json!({"mrs": "4"})),
            "values.mrs",
        ),
        (
            "fraction for integer",
            entry("acute", "assessment", &at, json!({"mrs": 4.5})),
            "values.mrs",
        ),
        (
            "null value",
            entry("acute", "assessment", &at, json!({"mrs": null})),
            "values.mrs",
        ),
        (
            "choice not in options",
            entry("acute", "assessment", &at, json!({"walk_cat": "flying"})),
            "values.walk_cat",
        ),
        (
            "item not recorded in this stage",
            entry("acute", "assessment", &at, json!({"recurrence": true})),
            "values.recurrence",
        ),
        (
            "composite disagreeing with its items",
            entry("acute", "assessment", &at, Value::Object(wrong_total)),
            "values.fim_total",
        ),
        (
            "composite with an item missing",
            entry("acute", "assessment", &at, Value::Object(partial)),
            "values.fim_total",
        ),
        (
            "unknown stage",
            {
                let mut note = entry("icu", "note", &at, json!({}));
                note["note"] = json!("ICU 入室");
                note
            },
            "stage",
        ),
        (
            "unknown kind",
            entry("acute", "diagnosis", &at, json!({"mrs": 3})),
            "kind",
        ),
        (
            "required item missing at stage end",
            entry("acute", "stage_end", &at, json!({})),
            "values.mrs",
        ),
        (
            "required item invalid at stage end",
            entry("acute", "stage_end", &at, json!({"mrs": 9})),
            "values.mrs",
        ),
        (
            "effective_at in the future",
            entry(
                "acute",
                "assessment",
                "2999-01-01T00:00:00+09:00",
                json!({"mrs": 3}),
            ),
            "effective_at",
        ),
        (
            "effective_at before the plan started",
            entry("acute", "assessment", &days_ago(400), json!({"mrs": 3})),
            "effective_at",
        ),
        (
            "effective_at without an offset",
            entry(
                "acute",
                "assessment",
                "2026-11-20T10:00:00",
                json!({"mrs": 3}),
            ),
            "effective_at",
        ),
        (
            "assessment without values",
            entry("acute", "assessment", &at, json!({})),
            "values",
        ),
        (
            "variance without a code",
            entry("acute", "variance", &at, json!({})),
            "variance",
        ),
        (
            "note without text",
            entry("acute", "note", &at, json!({})),
            "note",
        ),
    ];
    for (what, body, field) in &cases {
        let res = post_entry(&app, &token, &plan, body).await;
        assert_eq!(res.status.as_u16(), 422, "{what}: {}", res.text);
        res.assert_problem(422, Some(field));
    }

    let mut unknown_variance = entry("acute", "variance", &at, json!({}));
    unknown_variance["variance"] = json!({"code": "NEG.VAR.XX.NOPE"});
    post_entry(&app, &token, &plan, &unknown_variance)
        .await
        .assert_problem(422, Some("variance.code"));

    let mut amend_missing = entry("acute", "assessment", &at, json!({"mrs": 3}));
    amend_missing["amends"] = json!(uuid::Uuid::now_v7());
    amend_missing["reason"] = json!("訂正");
    post_entry(&app, &token, &plan, &amend_missing)
        .await
        .assert_problem(422, Some("amends"));

    assert_eq!(snapshot(&app, &token, &plan).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_refused_and_write_nothing() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_in_acute(&app, &token).await;
    let path = format!("/api/v1/care-plans/{plan}/entries");
    let good = entry("acute", "assessment", &days_ago(8), json!({"mrs": 3}));
    let good_text = good.to_string();

    // One good write with a key, to reuse the key below.
    let first = app
        .post_json(&path, &token, &good, Some("key-reused-1"))
        .await;
    first.assert_status(201);
    let before = snapshot(&app, &token, &plan).await;

    let post_raw = |content_type: &'static str, body: Vec<u8>| {
        app.request(Method::POST, &path)
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
    };

    // Malformed and truncated JSON: 400.
    for raw in ["{\"stage\": ", "{\"stage\": \"acute\",}", "not json", ""] {
        send(post_raw("application/json", raw.as_bytes().to_vec()))
            .await
            .assert_problem(400, None);
    }
    // Wrong content type: 415 (also when the body is valid JSON).
    send(post_raw("text/plain", good_text.clone().into_bytes()))
        .await
        .assert_problem(415, None);
    send(
        app.request(Method::POST, &path)
            .bearer_auth(&token)
            .body(good_text.clone()),
    )
    .await
    .assert_problem(415, None);
    // Over 1 MiB: 413.
    let mut huge = good.clone();
    huge["note"] = json!("あ".repeat(400_000)); // 1.2 MB of UTF-8
    send(post_raw("application/json", huge.to_string().into_bytes()))
        .await
        .assert_problem(413, None);
    // An unknown member, a wrong member type, a missing member: 422.
    let mut unknown = good.clone();
    unknown["colour"] = json!("red");
    app.post_json(&path, &token, &unknown, None)
        .await
        .assert_problem(422, Some("colour"));
    let mut unknown_nested = good.clone();
    unknown_nested["variance"] = json!({"code": "NEG.VAR.CO.RECEIVE", "colour": "red"});
    app.post_json(&path, &token, &unknown_nested, None)
        .await
        .assert_problem(422, Some("variance.colour"));
    let mut wrong_type = good.clone();
    wrong_type["values"] = json!([1, 2]);
    app.post_json(&path, &token, &wrong_type, None)
        .await
        .assert_problem(422, Some("values"));
    let mut missing = good.clone();
    missing.as_object_mut().map(|o| o.remove("stage"));
    app.post_json(&path, &token, &missing, None)
        .await
        .assert_problem(422, None);
    // A reused Idempotency-Key with another body: 422.
    let mut other = good.clone();
    other["values"] = json!({"mrs": 2});
    app.post_json(&path, &token, &other, Some("key-reused-1"))
        .await
        .assert_problem(422, Some("Idempotency-Key"));
    // A malformed Idempotency-Key: 400.
    app.post_json(&path, &token, &other, Some(&"k".repeat(300)))
        .await
        .assert_problem(400, None);

    assert_eq!(snapshot(&app, &token, &plan).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_and_lookup_failures() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_in_acute(&app, &token).await;
    let path = format!("/api/v1/care-plans/{plan}/entries");
    let body = entry("acute", "assessment", &days_ago(8), json!({"mrs": 3}));
    let before = snapshot(&app, &token, &plan).await;

    // No token, a wrong token, a malformed header: 401 with a Bearer challenge.
    for req in [
        app.request(Method::POST, &path).json(&body),
        app.request(Method::POST, &path)
            .bearer_auth("rk_0000000000000000000000000000000000000000000000000000000000000000")
            .json(&body),
        app.request(Method::POST, &path)
            .bearer_auth("not-a-token")
            .json(&body),
        app.request(Method::POST, &path)
            .header("authorization", format!("Basic {token}"))
            .json(&body),
        app.request(Method::GET, &path),
        app.request(Method::GET, &format!("/api/v1/care-plans/{plan}")),
    ] {
        let res = send(req).await;
        res.assert_problem(401, None);
        assert_eq!(
            res.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
    }

    // Unknown plan and malformed id: 404, for every plan route.
    let unknown = uuid::Uuid::now_v7();
    for id in [unknown.to_string(), "not-a-uuid".to_owned(), "1".to_owned()] {
        app.post_json(
            &format!("/api/v1/care-plans/{id}/entries"),
            &token,
            &body,
            None,
        )
        .await
        .assert_problem(404, None);
        for suffix in ["", "/entries", "/goals"] {
            app.get(&format!("/api/v1/care-plans/{id}{suffix}"), &token)
                .await
                .assert_problem(404, None);
        }
    }
    assert_eq!(snapshot(&app, &token, &plan).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn stage_events_out_of_order_conflict() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_in_acute(&app, &token).await;
    consent(&app, &token, &plan).await;
    let rec = team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let before = snapshot(&app, &token, &plan).await;
    let at = days_ago(8);

    // The recovery hospital cannot start (or end, or record in) its stage while acute is
    // in progress; the acute hospital cannot start acute twice.
    for (who, body) in [
        (&rec, entry("recovery", "stage_start", &at, json!({}))),
        (
            &rec,
            entry("recovery", "stage_end", &at, json!({"destination": "home"})),
        ),
        (
            &rec,
            entry("recovery", "assessment", &at, json!({"mrs": 3})),
        ),
        (&token, entry("acute", "stage_start", &at, json!({}))),
    ] {
        let res = post_entry(&app, who, &plan, &body).await;
        res.assert_problem(409, None);
    }
    // Writing in a stage one does not own is forbidden, whatever the order.
    post_entry(
        &app,
        &token,
        &plan,
        &entry("recovery", "stage_start", &at, json!({})),
    )
    .await
    .assert_problem(403, None);
    post_entry(
        &app,
        &rec,
        &plan,
        &entry("acute", "stage_end", &at, json!({"mrs": 3})),
    )
    .await
    .assert_problem(403, None);
    assert_eq!(snapshot(&app, &token, &plan).await, before);

    // After acute ends, recovery may start — but acute cannot end twice, and home is not
    // next while recovery runs.
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_end", &at, json!({"mrs": 3})),
    )
    .await;
    post_entry(
        &app,
        &token,
        &plan,
        &entry("acute", "stage_end", &at, json!({"mrs": 3})),
    )
    .await
    .assert_problem(409, None);
    append(
        &app,
        &rec,
        &plan,
        entry("recovery", "stage_start", &at, json!({})),
    )
    .await;
    post_entry(
        &app,
        &rec,
        &plan,
        &entry("recovery", "stage_start", &at, json!({})),
    )
    .await
    .assert_problem(409, None);
}

/// An entry in a stage the template does not have is a field error on `stage` — also
/// for the kinds that need a stage owner.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_stage_is_a_field_error_for_every_kind() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_in_acute(&app, &token).await;
    let before = snapshot(&app, &token, &plan).await;
    let at = days_ago(8);
    for (kind, values) in [
        ("assessment", json!({"mrs": 3})),
        ("stage_start", json!({})),
        ("stage_end", json!({"mrs": 3})),
    ] {
        let res = post_entry(&app, &token, &plan, &entry("icu", kind, &at, values)).await;
        assert_eq!(res.status.as_u16(), 422, "{kind}: {}", res.text);
        res.assert_problem(422, Some("stage"));
    }
    assert_eq!(snapshot(&app, &token, &plan).await, before);
}

/// A field error's `message` is in the request's language (Accept-Language, Japanese
/// by default) and comes from the same table as the web pages' words; the rule's code
/// and the precise `detail` do not change with the language.
#[tokio::test(flavor = "multi_thread")]
async fn field_messages_follow_accept_language() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = plan_in_acute(&app, &token).await;
    let body = entry("acute", "assessment", &days_ago(8), json!({"mrs": 9}));
    let path = format!("/api/v1/care-plans/{plan}/entries");
    let ask = |lang: Option<&'static str>| {
        let mut req = app
            .request(Method::POST, &path)
            .bearer_auth(&token)
            .json(&body);
        if let Some(lang) = lang {
            req = req.header("accept-language", lang);
        }
        send(req)
    };
    let mut seen = Vec::new();
    for (lang, message) in [
        (None, "「values.mrs」は 0〜6 の範囲で入力してください。"),
        (
            Some("ja"),
            "「values.mrs」は 0〜6 の範囲で入力してください。",
        ),
        (
            Some("en-US,en;q=0.9,ja;q=0.5"),
            "`values.mrs` must be between 0 and 6.",
        ),
        (
            Some("fr"),
            "「values.mrs」は 0〜6 の範囲で入力してください。",
        ),
    ] {
        let res = ask(lang).await;
        res.assert_problem(422, Some("values.mrs"));
        let error = &res.body["errors"][0];
        assert_eq!(error["code"], "range", "{}", res.text);
        assert_eq!(error["message"], message, "{lang:?}: {}", res.text);
        assert!(
            res.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("values.mrs: must be between")),
            "{}",
            res.text
        );
        seen.push(res.body["detail"].clone());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "detail is one text");
}
