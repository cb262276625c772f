//! `GET /Patient/{id}` and `GET /Patient?_id=…|identifier=system|value`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use renkei_service::fhir::patient::PatientSearch;

use crate::extract::Meta;
use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::{FhirAuth, FhirBase, FhirQuery};
use crate::fhir::observation::{parse, searchset, take};
use crate::state::AppState;

pub async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_patient(&actor, &meta, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

pub async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let mut rest = query.clone();
    let mut own = take(&mut rest, &["_id", "identifier"])?.into_iter();
    let id = own.next().flatten();
    let identifier = match own.next().flatten() {
        Some(v) => Some(
            v.split_once('|')
                .map(|(s, v)| (s.to_owned(), v.to_owned()))
                .filter(|(s, v)| !s.is_empty() && !v.is_empty())
                .ok_or_else(|| {
                    FhirError::search(&renkei_fhir::search::SearchError::Invalid(
                        "identifier".into(),
                    ))
                })?,
        ),
        None => None,
    };
    let params = parse(&rest, &[], &[])?;
    let page = state
        .services
        .fhir_patients(&actor, &meta, &PatientSearch { id, identifier }, &params)
        .await?;
    Ok(searchset(&base, "Patient", &query, page))
}
