#![doc = include_str!("../README.md")]

pub mod api;
pub mod edge;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod health;
pub mod metrics;
pub mod request_log;
pub mod router;
pub mod serve;
pub mod state;
pub mod ui;
pub mod web;

pub use router::router;
pub use state::AppState;

pub use serve::{ServeOptions, serve};

/// Serves `router` on an already bound listener until `shutdown` resolves, with the
/// default [`ServeOptions`].
pub async fn serve_with_listener(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(router, listener, ServeOptions::default(), shutdown).await
}
