//! `/metrics`: the server's measurements in the Prometheus text format. Counters are
//! kept by the code that counts (through the `metrics` crate's global recorder,
//! installed once per process by [`install`]); gauges that describe the database are
//! read when the page is scraped. To add one: count it where it happens with
//! `metrics::counter!`/`histogram!`, or set it in [`refresh`].

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::ApiError;
use crate::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            metrics::describe_counter!(
                "renkei_appends_total",
                "Entries appended to care plans (accepted appends)."
            );
            metrics::describe_gauge!(
                "renkei_audit_pending_events",
                "Audit events written but not yet sequenced into their region's tree."
            );
            metrics::describe_gauge!(
                "renkei_audit_sequencing_lag_seconds",
                "0 when every audit event is sequenced, else the seconds since the log was last wholly sequenced."
            );
            metrics::counter!("renkei_appends_total").increment(0);
            Some(handle)
        })
        .as_ref()
}

/// Sets the gauges read from the database.
async fn refresh(state: &AppState) -> Result<(), ApiError> {
    let pending = state.services.audit_pending().await?;
    metrics::gauge!("renkei_audit_pending_events").set(pending as f64);
    metrics::gauge!("renkei_audit_sequencing_lag_seconds")
        .set(renkei_service::sequencer::sequencing_lag(pending));
    Ok(())
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(e) = refresh(&state).await {
        return e.into_response();
    }
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}
