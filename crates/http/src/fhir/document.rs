//! `GET /Composition/{hand-over id}`: the referral letter's Composition;
//! `GET /Composition/{hand-over id}/$document`: the letter as a FHIR document Bundle
//! (診療情報提供書, JP_Bundle_eReferral sections). Read under the hand-over's read rule.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use crate::extract::Meta;
use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::{FhirAuth, FhirBase};
use crate::state::AppState;

fn handover_id(id: &str) -> Result<Uuid, FhirError> {
    Uuid::parse_str(id).map_err(|_| FhirError::from_code(renkei_service::ErrorCode::NotFound))
}

pub async fn read_composition(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = handover_id(&id)?;
    let c = state.services.fhir_composition(&actor, &meta, id).await?;
    Ok(fhir_json(StatusCode::OK, &c))
}

pub async fn document(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = handover_id(&id)?;
    let b = state
        .services
        .fhir_referral_document(&actor, &meta, id, &base)
        .await?;
    Ok(fhir_json(StatusCode::OK, &b))
}
