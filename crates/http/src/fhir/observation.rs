//! `GET /Observation/{id}` and `GET /Observation?patient=…` (with
//! `_include=Observation:patient`); and the searchset answer every search of this
//! block shares: `self` and `next` links rebuilt from the request's own parameters.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use renkei_fhir::bundle::{self, SearchEntry, SearchSet};
use renkei_fhir::search::{self, SearchError, SearchParams};
use renkei_service::fhir::hits::Page;

use crate::extract::Meta;
use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::{FhirAuth, FhirBase, FhirQuery};
use crate::state::AppState;

/// Parses a search of a type supporting `supported` and `includes`, answering 400
/// naming the parameter at fault.
pub fn parse(
    query: &[(String, String)],
    supported: &[&str],
    includes: &[&str],
) -> Result<SearchParams, FhirError> {
    search::parse(query, supported, includes).map_err(|e| FhirError::search(&e))
}

/// Takes the parameters `names` out of `query` (for the types that search by more than
/// the common parameters); each may appear once.
pub fn take(
    query: &mut Vec<(String, String)>,
    names: &[&str],
) -> Result<Vec<Option<String>>, FhirError> {
    let mut out = vec![None; names.len()];
    let mut rest = Vec::with_capacity(query.len());
    for (k, v) in query.drain(..) {
        match names.iter().position(|n| *n == k) {
            Some(i) if out[i].is_none() && !v.is_empty() => out[i] = Some(v),
            Some(_) => return Err(FhirError::search(&SearchError::Invalid(k))),
            None => rest.push((k, v)),
        }
    }
    *query = rest;
    Ok(out)
}

fn url(base: &str, kind: &str, pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        format!("{base}/{kind}")
    } else {
        format!("{base}/{kind}?{q}")
    }
}

/// The searchset Bundle of a page, with the `self` link of this request and the `next`
/// link of the page after it.
pub fn searchset(base: &str, kind: &str, query: &[(String, String)], page: Page) -> Response {
    let kept: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "_page")
        .cloned()
        .collect();
    let next_link = page.next.map(|c| {
        let mut q = kept.clone();
        q.push(("_page".into(), c.encode()));
        url(base, kind, &q)
    });
    let mut entries: Vec<SearchEntry> =
        page.matches.into_iter().map(SearchEntry::matched).collect();
    entries.extend(page.included.into_iter().map(SearchEntry::included));
    fhir_json(
        StatusCode::OK,
        &bundle::searchset(
            base,
            SearchSet {
                total: page.total,
                self_link: url(base, kind, query),
                next_link,
                entries,
            },
        ),
    )
}

pub async fn read(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = state.services.fhir_observation(&actor, &meta, &id).await?;
    Ok(fhir_json(StatusCode::OK, &r))
}

pub async fn search(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    FhirQuery(query): FhirQuery,
) -> Result<Response, FhirError> {
    let params = parse(&query, &["patient", "status"], &["Observation:patient"])?;
    let page = state
        .services
        .fhir_observations(&actor, &meta, &params)
        .await?;
    Ok(searchset(&base, "Observation", &query, page))
}
