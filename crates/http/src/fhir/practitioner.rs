//! `GET /Practitioner/{id}`, `GET /PractitionerRole/{id}` and their searches (by
//! `organization`, default the caller's own).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use renkei_fhir::search::SearchError;
use uuid::Uuid;

use crate::extract::Meta;
use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::{FhirAuth, FhirBase, FhirQuery};
use crate::fhir::observation::{parse, searchset, take};
use crate::state::AppState;

pub async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_practitioner(&actor, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

pub async fn read_role(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_practitioner_role(&actor, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

async fn search_of(
    state: AppState,
    actor: renkei_service::Actor,
    meta: renkei_service::audit::RequestMeta,
    base: String,
    query: Vec<(String, String)>,
    roles: bool,
) -> Result<Response, FhirError> {
    let mut rest = query.clone();
    let organization = match take(&mut rest, &["organization"])?.pop().flatten() {
        Some(o) => Some(
            Uuid::parse_str(o.strip_prefix("Organization/").unwrap_or(&o))
                .map_err(|_| FhirError::search(&SearchError::Invalid("organization".into())))?,
        ),
        None => None,
    };
    let params = parse(&rest, &[], &[])?;
    let page = state
        .services
        .fhir_practitioners(&actor, &meta, organization, roles, &params)
        .await?;
    let kind = if roles {
        "PractitionerRole"
    } else {
        "Practitioner"
    };
    Ok(searchset(&base, kind, &query, page))
}

pub async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    search_of(state, actor, meta, base, query, false).await
}

pub async fn search_roles(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    search_of(state, actor, meta, base, query, true).await
}
