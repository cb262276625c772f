//! Liveness and readiness: `/healthz` answers while the process runs, `/readyz` while the
//! database answers too.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::api::dto::Health;
use crate::error::ApiError;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.db.ping().await {
        Ok(()) => Json(Health { status: "ok" }).into_response(),
        Err(e) => ApiError::from(renkei_service::ServiceError::from(e)).into_response(),
    }
}
