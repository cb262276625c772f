//! Goal: read and search.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use renkei_fhir::goal::CAPABILITY;
use renkei_service::fhir::Search;

use super::error::{FhirError, fhir_json};
use super::extract::{FhirAuth, FhirBase, FhirQuery, parse_search};
use crate::extract::Meta;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Goal", get(search))
        .route("/Goal/{id}", get(read))
}

async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_goal(&actor, &meta, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let params = parse_search(&query, &CAPABILITY, &[])?;
    let search = Search {
        params,
        query: &query,
        base: &base,
    };
    let r = state
        .services
        .fhir_search_goals(&actor, &meta, &search)
        .await?;
    Ok(fhir_json(StatusCode::OK, &r))
}
