//! `metadata`, PlanDefinition, CarePlan, CareTeam and Goal over HTTP: reads, searches,
//! paging, `_include`, `$everything`, and every error as an OperationOutcome.

use reqwest::Method;

use crate::support::app_or_skip;

#[tokio::test]
async fn metadata_is_a_capability_statement_in_fhir_json() {
    let app = app_or_skip!();
    let res = renkei_testkit::app::send(app.request(Method::GET, "/fhir/r4/metadata")).await;
    res.assert_status(200);
    assert_eq!(res.content_type(), "application/fhir+json; charset=utf-8");
    assert_eq!(res.body["resourceType"], "CapabilityStatement");
    assert_eq!(res.body["fhirVersion"], "4.0.1");
    assert_eq!(res.body["kind"], "instance");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_operation_outcomes_in_the_request_language() {
    let app = app_or_skip!();
    let res = renkei_testkit::app::send(app.request(Method::GET, "/fhir/r4/NoSuchType/1")).await;
    res.assert_status(404);
    assert_eq!(res.content_type(), "application/fhir+json; charset=utf-8");
    assert_eq!(res.body["resourceType"], "OperationOutcome");
    assert_eq!(res.body["issue"][0]["code"], "not-found");
    assert_eq!(
        res.body["issue"][0]["details"]["text"],
        "指定されたデータが見つかりません"
    );

    let res = renkei_testkit::app::send(
        app.request(Method::DELETE, "/fhir/r4/metadata")
            .header("Accept-Language", "en"),
    )
    .await;
    res.assert_status(405);
    assert_eq!(res.content_type(), "application/fhir+json; charset=utf-8");
    assert_eq!(res.body["issue"][0]["code"], "not-supported");
    assert_eq!(
        res.body["issue"][0]["details"]["text"],
        "Method not allowed here"
    );
    assert!(res.headers.get("allow").is_some());
}
