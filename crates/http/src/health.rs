//! Liveness and readiness: `/healthz` answers while the process runs; `/readyz` answers
//! 200 when every readiness check passes (database reachable, migrations current,
//! pathway templates loaded, write queue not saturated), else 503 naming the failing
//! checks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::dto::Health;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: `{"status": "ok", "checks": {name: "ok"}}`, or 503 with
/// `{"status": "unavailable", "failing": [names], "checks": {name: "ok" | why}}`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let checks = state.services.readiness().await;
    let failing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    let detail: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .map(|c| {
            (
                c.name.to_owned(),
                serde_json::Value::String(if c.ok { "ok".into() } else { c.detail.clone() }),
            )
        })
        .collect();
    if failing.is_empty() {
        Json(serde_json::json!({"status": "ok", "checks": detail})).into_response()
    } else {
        tracing::warn!(failing = %failing.join(","), "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({"status": "unavailable", "failing": failing, "checks": detail}),
            ),
        )
            .into_response()
    }
}
