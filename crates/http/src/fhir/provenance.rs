//! `GET /Provenance/{id}` and `GET /Provenance?patient=…`.

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
    let r = state.services.fhir_provenance(&actor, &meta, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

pub async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let params = parse(&query, &["patient"], &[])?;
    let page = state
        .services
        .fhir_provenances(&actor, &meta, &params)
        .await?;
    Ok(searchset(&base, "Provenance", &query, page))
}
