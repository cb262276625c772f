//! The whole URL map and the middleware stack.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use renkei_service::ErrorCode;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::api;
use crate::edge::BODY_LIMIT;
use crate::error::{ApiError, ErrorCause};
use crate::state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    crate::metrics::install();
    Router::new()
        .route("/healthz", get(crate::health::healthz))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/readyz", get(crate::health::readyz))
        .route("/api/openapi.json", get(openapi))
        .nest(
            "/api/v1",
            api::routes().layer(middleware::map_response(crate::error::problem_for_bare_errors)),
        )
        .nest("/fhir/r4", crate::fhir::routes())
        .merge(crate::web::routes(state.clone()))
        .merge(crate::ui::routes().layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::csrf::guard,
        )))
        .fallback(not_found)
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(crate::fhir::error::outcome_at_edge))
                .layer(middleware::from_fn(crate::edge::sanitize_request_id))
                .layer(middleware::from_fn(crate::error::with_request_language))
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
                .layer(middleware::from_fn(log_request))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(middleware::from_fn(method_not_allowed))
                // Patient data must not stay in browser or proxy caches: every answer
                // that does not say otherwise (the static assets do) is `no-store`.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(middleware::from_fn(crate::web::hsts))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                    ),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                ))
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(30),
                ))
                .layer(DefaultBodyLimit::max(BODY_LIMIT))
                .layer(middleware::from_fn(crate::edge::check_request_text)),
        )
        .with_state(state)
}

async fn openapi() -> impl IntoResponse {
    Json(api::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such resource")
}

/// A 405 (a known path, another method) answers problem+json like every other error,
/// keeping the `Allow` header axum sets.
async fn method_not_allowed(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED
        || crate::fhir::error::is_fhir(&res)
    {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let mut problem = ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this method is not allowed here; the Allow header lists the ones that are",
    )
    .into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}

/// One JSON log line per request: method, route template, status, latency, request id
/// and the acting organisation's code; the latency also goes to the per-route histogram
/// of `/metrics`. Never bodies, query strings, raw paths (they hold ids), names or
/// tokens. A 5xx cause is logged here, once.
async fn log_request(mut req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "-".to_owned());
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let org = crate::request_log::LogOrg::default();
    req.extensions_mut().insert(org.clone());
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    let duration_ms = elapsed * 1000.0;
    crate::metrics::record_request(method.as_str(), &route, elapsed);
    let org = org.code().unwrap_or("-");
    if let Some(ErrorCause(cause)) = res.extensions().get::<ErrorCause>() {
        tracing::error!(http.method = %method, http.route = %route, http.status = status,
            request.id = %request_id, duration_ms, org, error = %cause, "request failed");
    } else {
        tracing::info!(http.method = %method, http.route = %route, http.status = status,
            request.id = %request_id, duration_ms, org, "request");
    }
    res
}
