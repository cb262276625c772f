//! `/metrics`: the server's measurements in the Prometheus text format. Counters and
//! histograms are kept by the code that counts (through the `metrics` crate's global
//! recorder, installed once per process by [`install`]); gauges that describe the
//! database and the pool are read when the page is scraped. To add one: count it where
//! it happens with `metrics::counter!`/`histogram!`, or set it in [`refresh`].
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `renkei_http_request_duration_seconds{method,route}` | histogram | request latency per route template |
//! | `renkei_appends_total` | counter | accepted appends (`rate()` gives appends per second) |
//! | `renkei_db_pool_connections{state="in_use"\|"idle"\|"waiting"}`, `renkei_db_pool_max_connections` | gauge | the primary database pool; `waiting`: queries waiting for a connection ([`PoolWaitLayer`]) |
//! | `renkei_write_queue_depth` | gauge | writers waiting for the SQLite write queue |
//! | `renkei_write_queue_wait_seconds` | histogram | how long each writer waited for its turn |
//! | `renkei_write_queue_timeouts_total` | counter | writers that gave up waiting (answered 503) |
//! | `renkei_audit_pending_events`, `renkei_audit_sequencing_lag_seconds` | gauge | audit sequencing |
//! | `renkei_worklist_stale_plans` | gauge | plans whose worklist items wait to be recomputed (the background refresh's backlog) |
//! | `renkei_report_facts_stale_plans` | gauge | plans whose council report facts wait to be recomputed (the background refresh's backlog) |
//! | `renkei_login_failures_total` | counter | refused password logins |
//! | `renkei_sweep_duration_seconds` | histogram | automatic variance sweeps |

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::ApiError;
use crate::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Histogram buckets, in seconds: 1 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .build_recorder();
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
            metrics::describe_gauge!(
                "renkei_worklist_stale_plans",
                "Plans whose worklist items wait to be recomputed (changed, or moved on by time)."
            );
            metrics::describe_gauge!(
                "renkei_report_facts_stale_plans",
                "Plans whose council report facts wait to be recomputed (changed since computed, or new)."
            );
            metrics::describe_histogram!(
                "renkei_http_request_duration_seconds",
                "Request latency per route template and method."
            );
            metrics::describe_gauge!(
                "renkei_db_pool_connections",
                "Connections of the primary database pool, in use or idle; waiting: queries waiting for a connection."
            );
            metrics::describe_gauge!(
                "renkei_db_pool_max_connections",
                "The most connections the primary database pool opens."
            );
            metrics::describe_gauge!(
                "renkei_write_queue_depth",
                "Writers waiting for their turn in the SQLite write queue (0 on PostgreSQL)."
            );
            metrics::describe_histogram!(
                "renkei_write_queue_wait_seconds",
                "How long each writer waited for its turn in the write queue."
            );
            metrics::describe_counter!(
                "renkei_write_queue_timeouts_total",
                "Writers that gave up waiting in the write queue (answered 503)."
            );
            metrics::describe_counter!(
                "renkei_login_failures_total",
                "Refused password logins (wrong password, unknown or locked account)."
            );
            metrics::describe_histogram!(
                "renkei_sweep_duration_seconds",
                "Duration of each automatic variance sweep."
            );
            metrics::counter!("renkei_appends_total").increment(0);
            metrics::counter!("renkei_login_failures_total").increment(0);
            metrics::counter!("renkei_write_queue_timeouts_total").increment(0);
            Some(handle)
        })
        .as_ref()
}

/// How long a scrape waits for a connection to count the unsequenced audit events (or the
/// worklist's backlog): with
/// the pool exhausted the page still answers (with the pool's state, which is then what
/// matters) and keeps the audit gauges' last values.
const AUDIT_READ_WAIT: Duration = Duration::from_secs(2);

/// Sets the gauges read from the pool (first, without a connection) and the database.
async fn refresh(state: &AppState) -> Result<(), ApiError> {
    let pool = state.services.pool_stats();
    metrics::gauge!("renkei_db_pool_connections", "state" => "in_use").set(pool.in_use() as f64);
    metrics::gauge!("renkei_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("renkei_db_pool_connections", "state" => "waiting").set(pool_waiting() as f64);
    metrics::gauge!("renkei_db_pool_max_connections").set(f64::from(pool.max));
    metrics::gauge!("renkei_write_queue_depth")
        .set(renkei_service::ops::write_queue_depth() as f64);
    if let Ok(pending) = tokio::time::timeout(AUDIT_READ_WAIT, state.services.audit_pending()).await
    {
        let pending = pending?;
        metrics::gauge!("renkei_audit_pending_events").set(pending as f64);
        metrics::gauge!("renkei_audit_sequencing_lag_seconds")
            .set(renkei_service::sequencer::sequencing_lag(pending));
    }
    if let Ok(backlog) =
        tokio::time::timeout(AUDIT_READ_WAIT, state.services.worklist_backlog()).await
    {
        metrics::gauge!("renkei_worklist_stale_plans").set(backlog? as f64);
    }
    if let Ok(backlog) =
        tokio::time::timeout(AUDIT_READ_WAIT, state.services.report_facts_backlog()).await
    {
        metrics::gauge!("renkei_report_facts_stale_plans").set(backlog? as f64);
    }
    Ok(())
}

// ------------------------------------------------------------------ pool waiters

/// Queries of this process waiting for a connection of a database pool now.
static POOL_WAITING: AtomicI64 = AtomicI64::new(0);

/// Queries waiting for a pool connection now (0 when no [`PoolWaitLayer`] is installed).
pub fn pool_waiting() -> i64 {
    POOL_WAITING.load(Ordering::Relaxed).max(0)
}

/// Marks a query span that has not been handed its connection yet.
struct Waiting;

/// A `tracing` layer that counts the queries waiting for a pool connection. Each query on
/// the pool runs in a span of sea-orm's driver (`sea_orm::driver::sqlx_*`, opened before
/// it asks the pool), and the pool tells when it hands out a connection (the
/// `sqlx::pool::acquire` event, switched on in `renkei_store::db::connect`, emitted inside
/// that span): a span counts as waiting from its start until that event, or until it
/// closes without one (a timeout or an error). Queries inside a transaction use the
/// transaction's connection and are not counted. Install it with [`pool_wait_filter`].
pub struct PoolWaitLayer;

/// The spans and events [`PoolWaitLayer`] needs, whatever the log level.
pub fn pool_wait_filter() -> tracing_subscriber::filter::Targets {
    tracing_subscriber::filter::Targets::new()
        .with_target("sea_orm::driver::sqlx_sqlite", tracing::Level::TRACE)
        .with_target("sea_orm::driver::sqlx_postgres", tracing::Level::TRACE)
        .with_target("sqlx::pool::acquire", tracing::Level::TRACE)
}

impl<S> tracing_subscriber::Layer<S> for PoolWaitLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if !attrs
            .metadata()
            .target()
            .starts_with("sea_orm::driver::sqlx_")
        {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Waiting);
            POOL_WAITING.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::pool::acquire" {
            return;
        }
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if span.extensions_mut().remove::<Waiting>().is_some() {
                    POOL_WAITING.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && span.extensions_mut().remove::<Waiting>().is_some()
        {
            POOL_WAITING.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Records one request's latency under its route template (never the raw path: ids
/// would make a series per patient).
pub fn record_request(method: &str, route: &str, seconds: f64) {
    metrics::histogram!(
        "renkei_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(seconds);
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
