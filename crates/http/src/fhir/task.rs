//! `GET /Task/{id}` and `GET /Task?patient=…`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::extract::Meta;
use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::{FhirAuth, FhirBase, FhirQuery};
use crate::fhir::observation::{parse, searchset};
use crate::state::AppState;

pub async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_task(&actor, &meta, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

pub async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let params = parse(&query, &["patient", "status"], &[])?;
    let page = state.services.fhir_tasks(&actor, &meta, &params).await?;
    Ok(searchset(&base, "Task", &query, page))
}
