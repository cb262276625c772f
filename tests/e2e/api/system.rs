//! Liveness and the OpenAPI document.

use renkei_testkit::app::send;
use reqwest::Method;

use crate::support::app_or_skip;

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_without_authentication() {
    let app = app_or_skip!();
    let res = send(app.request(Method::GET, "/healthz")).await;
    res.assert_status(200);
    assert_eq!(res.body["status"], "ok");
    assert!(res.content_type().starts_with("application/json"));
    assert_eq!(
        res.headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(res.headers.contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_is_3_1_and_lists_the_core_paths() {
    let app = app_or_skip!();
    let res = send(app.request(Method::GET, "/api/openapi.json")).await;
    res.assert_status(200);
    let doc = &res.body;
    let version = doc["openapi"].as_str().expect("openapi member");
    assert!(version.starts_with("3.1."), "openapi version {version}");
    let paths = doc["paths"].as_object().expect("paths object");
    for path in [
        "/healthz",
        "/api/v1/patients",
        "/api/v1/care-plans",
        "/api/v1/care-plans/{id}",
        "/api/v1/care-plans/{id}/entries",
        "/api/v1/care-plans/{id}/goals",
    ] {
        assert!(paths.contains_key(path), "OpenAPI lacks {path}");
    }
    let entries = &paths["/api/v1/care-plans/{id}/entries"];
    assert!(entries["get"].is_object() && entries["post"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_is_problem_json_404() {
    let app = app_or_skip!();
    let token = app.token().await;
    app.get("/api/v1/no-such-thing", &token)
        .await
        .assert_problem(404, None);
}
