//! `GET /Organization/{id}` and `GET /Organization[?identifier=…]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::{FhirAuth, FhirBase, FhirQuery};
use crate::fhir::observation::{parse, searchset, take};
use crate::state::AppState;

pub async fn read(
    State(state): State<AppState>,
    FhirAuth(_actor): FhirAuth,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_organization(&id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

pub async fn search(
    State(state): State<AppState>,
    FhirAuth(_actor): FhirAuth,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let mut rest = query.clone();
    let identifier = take(&mut rest, &["identifier"])?.pop().flatten();
    let params = parse(&rest, &[], &[])?;
    let page = state
        .services
        .fhir_organizations(identifier.as_deref(), &params)
        .await?;
    Ok(searchset(&base, "Organization", &query, page))
}
