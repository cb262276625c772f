//! renkei-http: the axum server — the JSON API under `/api/v1`, problem+json errors,
//! bearer-token authentication, request ids and one log line per request.

pub mod api;
pub mod error;
pub mod extract;
pub mod router;
pub mod state;
pub mod ui;
pub mod web;

pub use router::router;
pub use state::AppState;

/// Serves `router` on an already bound listener until `shutdown` resolves.
pub async fn serve_with_listener(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
