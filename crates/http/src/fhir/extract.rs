//! Extractors of the FHIR interface: the bearer-token actor (the same tokens, scopes and
//! audited refusals as `/api/v1`), the absolute base URL of `/fhir/r4` for `fullUrl`s
//! and links, and the query's parameters in order.

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::{header, request::Parts};
use renkei_service::{Actor, ErrorCode};

use crate::fhir::error::{FHIR_PATH, FhirError};
use crate::state::AppState;

/// The authenticated practitioner behind `Authorization: Bearer <token>`.
pub struct FhirAuth(pub Actor);

impl FromRequestParts<AppState> for FhirAuth {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, FhirError> {
        let bearer = crate::extract::bearer(parts, state).await?;
        if !bearer.allows_method(parts.method.as_str()) {
            return Err(FhirError::from_code(ErrorCode::Forbidden));
        }
        Ok(FhirAuth(bearer.actor))
    }
}

/// The absolute URL of `/fhir/r4` as the client reached it: `https` behind a TLS proxy
/// (as the cookies and HSTS decide), the request's `Host` when it is a plain host name.
pub struct FhirBase(pub String);

impl<S: Send + Sync> FromRequestParts<S> for FhirBase {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let scheme = if crate::web::client::is_secure(&parts.headers) {
            "https"
        } else {
            "http"
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.len() <= 255
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            })
            .unwrap_or("localhost");
        Ok(FhirBase(format!("{scheme}://{host}{FHIR_PATH}")))
    }
}

/// The query's parameters, decoded, in the order sent.
pub struct FhirQuery(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for FhirQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state).await?;
        Ok(FhirQuery(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

/// The search parameters of a search on the type `capability` describes, or the 400
/// naming the parameter at fault.
pub fn parse_search(
    query: &[(String, String)],
    capability: &renkei_fhir::capability::ResourceCapability,
    includes: &[&str],
) -> Result<renkei_fhir::search::SearchParams, FhirError> {
    let supported: Vec<&str> = capability.search_params.iter().map(|p| p.name).collect();
    renkei_fhir::search::parse(query, &supported, includes).map_err(|e| FhirError::search(&e))
}
