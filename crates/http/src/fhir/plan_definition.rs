//! PlanDefinition: read and search (by `url`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use renkei_fhir::plan_definition::CAPABILITY;
use renkei_fhir::search::SearchError;
use renkei_service::fhir::Search;

use super::error::{FhirError, fhir_json};
use super::extract::{FhirAuth, FhirBase, FhirQuery, parse_search};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/PlanDefinition", get(search))
        .route("/PlanDefinition/{id}", get(read))
}

async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_plan_definition(&actor, &id)?;
    Ok(fhir_json(StatusCode::OK, &r))
}

async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let (url, rest): (Vec<_>, Vec<_>) = query.iter().cloned().partition(|(k, _)| k == "url");
    if url.len() > 1 {
        return Err(FhirError::search(&SearchError::Invalid("url".into())));
    }
    let params = parse_search(&rest, &CAPABILITY, &[])?;
    if !params.last_updated.is_empty() {
        return Err(FhirError::search(&SearchError::Unknown(
            "_lastUpdated".into(),
        )));
    }
    let search = Search {
        params,
        query: &query,
        base: &base,
    };
    let url = url.first().map(|(_, v)| v.as_str());
    let r = state
        .services
        .fhir_search_plan_definitions(&actor, &search, url)?;
    Ok(fhir_json(StatusCode::OK, &r))
}
