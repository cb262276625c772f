//! The FHIR R4 interface under `/fhir/r4`. Thin handlers, as under `/api/v1`: the same
//! bearer tokens, one service call, `application/fhir+json` answers, and every error
//! an `OperationOutcome` (Japanese by default, English on `Accept-Language: en`).

pub mod error;
pub mod extract;

pub mod care_plan;
pub mod care_team;
pub mod goal;
pub mod plan_definition;

pub mod audit_event;
pub mod consent;
pub mod observation;
pub mod organization;
pub mod patient;
pub mod practitioner;
pub mod provenance;
pub mod task;

pub mod document;
pub mod export;

pub mod import;

use axum::Router;
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use renkei_fhir::metadata;

use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::FhirBase;
use crate::state::AppState;

/// The day the CapabilityStatement last changed.
const CAPABILITY_DATE: &str = "2026-12-10";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metadata", get(metadata))
        // PlanDefinition … Goal
        .merge(plan_definition::routes())
        .merge(care_plan::routes())
        .merge(care_team::routes())
        .merge(goal::routes())
        // Observation … AuditEvent
        .route("/Observation", get(observation::search))
        .route("/Observation/{id}", get(observation::read))
        .route("/Patient", get(patient::search))
        .route("/Patient/{id}", get(patient::read))
        .route("/Organization", get(organization::search))
        .route("/Organization/{id}", get(organization::read))
        .route("/Practitioner", get(practitioner::search))
        .route("/Practitioner/{id}", get(practitioner::read))
        .route("/PractitionerRole", get(practitioner::search_roles))
        .route("/PractitionerRole/{id}", get(practitioner::read_role))
        .route("/Task", get(task::search))
        .route("/Task/{id}", get(task::read))
        .route("/Consent", get(consent::search))
        .route("/Consent/{id}", get(consent::read))
        .route("/Provenance", get(provenance::search))
        .route("/Provenance/{id}", get(provenance::read))
        .route("/AuditEvent", get(audit_event::search))
        .route("/AuditEvent/{id}", get(audit_event::read))
        // Composition (the referral letter) and Bulk Data $export
        .route("/Composition/{id}", get(document::read_composition))
        .route("/Composition/{id}/$document", get(document::document))
        .route("/$export", get(export::export))
        .route("/Group/{region}/$export", get(export::group_export))
        .route("/$export-status/{job}", get(export::status))
        .route("/$export-file/{job}/{file}", get(export::file))
        // Import: a transaction Bundle of lab-result Observations
        .route("/", axum::routing::post(import::transaction))
        .fallback(unknown)
        .layer(middleware::map_response(error::outcome_for_bare_errors))
}

/// `GET /metadata`: the CapabilityStatement, listing exactly the types served. Public,
/// as a FHIR server's capabilities are.
async fn metadata(FhirBase(base): FhirBase) -> Response {
    fhir_json(
        axum::http::StatusCode::OK,
        &metadata::capability_statement(&base, env!("CARGO_PKG_VERSION"), CAPABILITY_DATE),
    )
}

async fn unknown() -> FhirError {
    FhirError::from_code(renkei_service::ErrorCode::NotFound)
}
