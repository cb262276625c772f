//! CarePlan: read, search (with `_include=CarePlan:goal`) and `$everything`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use renkei_fhir::care_plan::{CAPABILITY, INCLUDE_GOAL};
use renkei_service::fhir::Search;

use super::error::{FhirError, fhir_json};
use super::extract::{FhirAuth, FhirBase, FhirQuery, parse_search};
use crate::extract::Meta;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/CarePlan", get(search))
        .route("/CarePlan/{id}", get(read))
        .route("/CarePlan/{id}/$everything", get(everything))
}

async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_care_plan(&actor, &meta, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let params = parse_search(&query, &CAPABILITY, &[INCLUDE_GOAL])?;
    let search = Search {
        params,
        query: &query,
        base: &base,
    };
    let r = state
        .services
        .fhir_search_care_plans(&actor, &meta, &search)
        .await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

async fn everything(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state
        .services
        .fhir_everything(&actor, &meta, &id, &base)
        .await?;
    Ok(fhir_json(StatusCode::OK, &r))
}
