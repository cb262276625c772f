//! Bad text at the edge: NUL and other control characters (tab and line breaks aside)
//! and bidirectional overrides are refused with 422 naming the field, before anything is
//! stored, on every kind of input — JSON bodies, form bodies, paths and queries — and the
//! same on both databases (PostgreSQL cannot store NUL and used to answer 500). Also:
//! duplicate JSON keys, client request ids, 405 answers and `Cache-Control`.

use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, entry, patient};
use renkei_testkit::{ApiResponse, TestApp, rows};
use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::support::{app_or_skip, consent, stroke_plan};

/// Row counts of every table a probe could write to.
async fn counts(app: &TestApp) -> Vec<(&'static str, u64)> {
    let db = &app.services.db;
    let mut counts = Vec::new();
    for table in rows::Table::ALL {
        counts.push((table.name(), rows::count(db, table).await.expect("count")));
    }
    counts
}

/// A token of a regional administrator at `acute-1` (may create organisations and read
/// the audit log).
async fn regional_admin(app: &TestApp) -> String {
    app.ensure_org("acute-1", "acute_hospital").await;
    renkei_service::admin::add_practitioner(
        &app.services,
        renkei_service::admin::NewPractitioner {
            organization_code: "acute-1".into(),
            login: "regional".into(),
            name: "地域 管理者".into(),
            profession: "liaison_staff".into(),
            roles: vec!["regional_admin".into(), "org_admin".into()],
            password: None,
        },
    )
    .await
    .expect("add practitioner");
    renkei_service::admin::issue_token(&app.services, "regional", "test", None)
        .await
        .expect("token")
}

/// `POST /login` with `login` as a browser sends it: the pre-login cookie and the
/// form's CSRF token from `GET /login`, answered as JSON.
async fn post_login(app: &TestApp, login: &str) -> ApiResponse {
    let form = app
        .http
        .get(app.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let cookies: Vec<String> = form
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect();
    let html = form.text().await.expect("login page");
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    let csrf = &html[start..start + html[start..].find('"').expect("end of csrf")];
    send(
        app.request(Method::POST, "/login")
            .header(header::COOKIE, cookies.join("; "))
            .header(header::ACCEPT, "application/json")
            .form(&[
                ("login", login),
                ("password", "Wrong-password-42"),
                ("csrf", csrf),
            ]),
    )
    .await
}

/// What is probed, method, path, token, JSON body, and the field the 422 must name.
type Probe<'a> = (&'a str, Method, String, &'a str, Option<Value>, &'a str);

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_are_refused_at_the_edge_on_every_kind_of_input() {
    let app = app_or_skip!();
    let token = app.token().await;
    let admin = regional_admin(&app).await;
    let plan = stroke_plan(&app, &token, 3).await;
    consent(&app, &token, &plan).await;
    let some_id = uuid::Uuid::now_v7();
    let before = counts(&app).await;

    let mut note = entry("acute", "note", &days_ago(1), json!({}));
    note["note"] = json!("経過良好\u{0000}");
    let org = |name: &str, area: &str| json!({"code": "rec-1", "name": name, "kind": "recovery_hospital", "area": area});
    let mut rtl_patient = patient("ヤマダ", "ハナコ", "1950-01-01", "acute-1", "99887766");
    rtl_patient["name"]["family"] = json!("山田\u{202E}");

    // (what, method, path, token, JSON body, field named in the 422)
    let probes: Vec<Probe> = vec![
        (
            "organisation name",
            Method::POST,
            "/api/v1/organizations".into(),
            &admin,
            Some(org("病院\u{0000}", "千葉")),
            "name",
        ),
        (
            "organisation area",
            Method::POST,
            "/api/v1/organizations".into(),
            &admin,
            Some(org("病院", "千葉\u{0000}")),
            "area",
        ),
        (
            "entry note",
            Method::POST,
            format!("/api/v1/care-plans/{plan}/entries"),
            &token,
            Some(note),
            "note",
        ),
        (
            "declaration note",
            Method::POST,
            "/api/v1/organizations/acute-1/declarations".into(),
            &token,
            Some(json!({"pathway": "stroke", "stages": ["acute"], "note": "\u{0000}"})),
            "note",
        ),
        (
            "break-glass reason",
            Method::POST,
            "/api/v1/break-glass".into(),
            &token,
            Some(json!({"care_plan": plan, "reason": "救急搬送\u{0000}のため"})),
            "reason",
        ),
        (
            "plan withdrawal reason",
            Method::POST,
            format!("/api/v1/care-plans/{plan}/withdraw"),
            &token,
            Some(json!({"reason": "本人の希望\u{0000}"})),
            "reason",
        ),
        (
            "consent withdrawal reason",
            Method::POST,
            format!("/api/v1/consents/{some_id}/withdraw"),
            &token,
            Some(json!({"reason": "\u{0000}"})),
            "reason",
        ),
        (
            "token label",
            Method::POST,
            "/api/v1/tokens".into(),
            &token,
            Some(json!({"label": "連携\u{0000}", "scopes": ["read"], "expires_in_days": 30})),
            "label",
        ),
        (
            "escape in a label",
            Method::POST,
            "/api/v1/tokens".into(),
            &token,
            Some(json!({"label": "\u{001b}[31mred", "scopes": ["read"], "expires_in_days": 30})),
            "label",
        ),
        (
            "C1 control in a note",
            Method::POST,
            "/api/v1/organizations/acute-1/declarations".into(),
            &token,
            Some(json!({"pathway": "stroke", "stages": ["acute"], "note": "a\u{0085}b"})),
            "note",
        ),
        (
            "lone carriage return",
            Method::POST,
            "/api/v1/organizations/acute-1/declarations".into(),
            &token,
            Some(json!({"pathway": "stroke", "stages": ["acute"], "note": "a\rb"})),
            "note",
        ),
        (
            "NUL in a key",
            Method::POST,
            "/api/v1/tokens".into(),
            &token,
            Some(json!({"label": "x", "scopes": ["read"], "expires_in_days": 30, "a\u{0000}": 1})),
            "a\\0",
        ),
        (
            "bidi override in a patient name",
            Method::POST,
            "/api/v1/patients".into(),
            &token,
            Some(rtl_patient),
            "name.family",
        ),
        (
            "code in a path",
            Method::GET,
            "/api/v1/organizations/acute-1%00/declarations".into(),
            &token,
            None,
            "path",
        ),
        (
            "code in a path (pathway)",
            Method::GET,
            "/api/v1/pathways/stroke%00/versions/1".into(),
            &token,
            None,
            "path",
        ),
        (
            "code in a query (patients)",
            Method::GET,
            "/api/v1/patients?organization=acute-1%00&identifier=1".into(),
            &token,
            None,
            "organization",
        ),
        (
            "code in a query (directory)",
            Method::GET,
            "/api/v1/directory?pathway=stroke%00".into(),
            &token,
            None,
            "pathway",
        ),
        (
            "code in a query (audit)",
            Method::GET,
            "/api/v1/audit?organization=acute-1%00".into(),
            &admin,
            None,
            "organization",
        ),
        (
            "bidi override in a query",
            Method::GET,
            "/api/v1/directory?area=%E2%80%AE".into(),
            &token,
            None,
            "area",
        ),
    ];
    for (what, method, path, token, body, field) in probes {
        let mut req = app.request(method, &path).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = send(req).await;
        assert_eq!(res.status.as_u16(), 422, "{what}: {}", res.text);
        res.assert_problem(422, Some(field));
        assert_eq!(counts(&app).await, before, "{what} changed something");
    }

    // The login form, without any session.
    let res = post_login(&app, "sato\u{0000}").await;
    assert_eq!(res.status.as_u16(), 422, "login form: {}", res.text);
    res.assert_problem(422, Some("login"));
    assert_eq!(
        counts(&app).await,
        before,
        "the login form changed something"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn free_text_keeps_tabs_and_browser_line_breaks() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let mut note = entry("acute", "note", &days_ago(1), json!({}));
    note["note"] = json!("経過良好\r\n\tリハビリ継続\n以上");
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/entries"),
            &token,
            &note,
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["note"], "経過良好\r\n\tリハビリ継続\n以上");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_json_keys_are_refused() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let before = counts(&app).await;
    let when = days_ago(1);
    for (path, body, field) in [
        (
            format!("/api/v1/care-plans/{plan}/entries"),
            format!(
                r#"{{"stage":"acute","kind":"note","effective_at":"{when}","values":{{}},"note":"a","note":"b"}}"#
            ),
            "",
        ),
        (
            format!("/api/v1/care-plans/{plan}/entries"),
            format!(
                r#"{{"stage":"acute","kind":"observation","effective_at":"{when}","values":{{"mrs":3,"mrs":4}}}}"#
            ),
            "values",
        ),
        (
            "/api/v1/tokens".to_owned(),
            r#"{"label":"a","label":"b","scopes":["read"],"expires_in_days":30}"#.to_owned(),
            "",
        ),
    ] {
        let res = send(
            app.request(Method::POST, &path)
                .bearer_auth(&token)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone()),
        )
        .await;
        assert_eq!(res.status.as_u16(), 422, "{body}: {}", res.text);
        res.assert_problem(422, Some(field));
        assert_eq!(
            res.body["errors"][0]["code"], "duplicate_key",
            "{}",
            res.text
        );
    }
    assert_eq!(
        counts(&app).await,
        before,
        "duplicate keys changed something"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_request_ids_are_used_only_when_plain() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plain = "0193f2a4-7c1e-7d2b-9a51-3c7e0f2b8d10";
    let longest = "a".repeat(64);
    let long = "a".repeat(65);
    for (sent, kept) in [
        (plain, true),
        ("Root=1-67891233-abcdef012345678912345678", true),
        (longest.as_str(), true),
        (long.as_str(), false),
        ("<script>alert(1)</script>", false),
        ("forged request id", false),
        ("id\t1", false),
    ] {
        let res = send(
            app.request(Method::GET, "/api/v1/patients?kana=ヤマダ")
                .bearer_auth(&token)
                .header("x-request-id", sent),
        )
        .await;
        res.assert_status(200);
        let answered = res
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("every answer carries a request id")
            .to_owned();
        // The search is audited with the request id it ran under.
        let events = rows::audit_events(&app.services.db)
            .await
            .expect("audit events");
        let stored = events
            .iter()
            .filter(|e| e.request_id.as_deref() == Some(answered.as_str()))
            .count();
        assert!(
            stored >= 1,
            "the audit event carries the answered id {answered:?}"
        );
        if kept {
            assert_eq!(answered, sent);
        } else {
            assert_ne!(answered, sent, "an unplain id was used as it came");
            assert!(uuid::Uuid::parse_str(&answered).is_ok(), "{answered:?}");
            let leaked = events
                .iter()
                .filter(|e| e.request_id.as_deref() == Some(sent))
                .count();
            assert_eq!(leaked, 0, "{sent:?} reached the audit trail");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn method_not_allowed_answers_problem_json() {
    let app = app_or_skip!();
    let token = app.token().await;
    for (method, path) in [
        (Method::DELETE, "/api/v1/patients"),
        (Method::PUT, "/api/v1/organizations"),
        (Method::PATCH, "/healthz"),
    ] {
        let res = send(app.request(method.clone(), path).bearer_auth(&token)).await;
        res.assert_problem(405, None);
        assert_eq!(res.body["code"], "method_not_allowed", "{}", res.text);
        assert!(
            res.headers.get(header::ALLOW).is_some(),
            "{method} {path}: Allow is kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_answers_with_patient_data_are_not_cached() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 3).await;
    let plan_body = app.get(&format!("/api/v1/care-plans/{plan}"), &token).await;
    let patient_id = plan_body.body["patient_id"]
        .as_str()
        .expect("patient")
        .to_owned();
    for path in [
        format!("/api/v1/care-plans/{plan}"),
        format!("/api/v1/care-plans/{plan}/entries"),
        format!("/api/v1/patients/{patient_id}"),
        "/api/v1/patients?kana=ヤマダ".to_owned(),
        "/api/v1/worklist".to_owned(),
        format!("/api/v1/care-plans/{}", uuid::Uuid::now_v7()),
    ] {
        let res = app.get(&path, &token).await;
        assert_eq!(
            res.headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path} ({})",
            res.status
        );
    }
    // Static assets keep their own caching.
    let css = send(app.request(Method::GET, "/static/ui.css")).await;
    assert_eq!(
        css.headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=3600")
    );
}
