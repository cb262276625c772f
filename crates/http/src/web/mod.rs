//! The server-rendered pages: Japanese, system fonts, no JavaScript needed, no CDN.
//! For now the login pages and a minimal home page; the clinical screens come later and
//! take [`WebSession`] (a fully logged-in user with their CSRF token).
//!
//! Every form POST passes the CSRF guard ([`csrf::guard`]); responses are `no-store`;
//! the global security headers (CSP, nosniff, Referrer-Policy; HSTS over TLS via
//! [`hsts`]) apply as to every other response.

pub mod account;
pub mod client;
pub mod csrf;
pub mod login;
pub mod pages;
pub mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;
pub use session::{AnySession, WebSession};

/// The page routes, with their CSRF guard (which needs the state to look up sessions).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::login_form).post(login::login_submit))
        .route(
            "/login/totp",
            get(login::second_factor_form).post(login::second_factor_submit),
        )
        .route("/logout", post(login::logout))
        .route(
            "/password",
            get(account::password_form).post(account::password_submit),
        )
        .route(
            "/account/totp",
            get(account::totp_form).post(account::totp_submit),
        )
        .layer(middleware::from_fn_with_state(state, csrf::guard))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .route("/static/renkei.css", get(stylesheet))
}

/// `/`: the worklist is the home page (ui.md S2). The session is still checked here, so
/// a visitor without one gets the login page (and a lapsed session "expired"). A
/// password-change notice travels along.
/// The regional administrator, who works on no patient, lands on the administration
/// home instead.
async fn home(ws: WebSession, uri: axum::http::Uri) -> Response {
    let regional = renkei_domain::access::decide_global(
        &renkei_service::access::subject(&ws.actor),
        renkei_domain::access::GlobalAction::ReadAudit,
    );
    let base = if regional { "/admin" } else { "/worklist" };
    let to = if uri.query().is_some_and(|q| q.contains("password_changed")) {
        format!("{base}?password_changed=1")
    } else {
        base.to_owned()
    };
    Redirect::to(&to).into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/renkei.css"),
    )
        .into_response()
}

/// `Strict-Transport-Security` on every response served over TLS (S7).
pub async fn hsts(req: Request, next: Next) -> Response {
    let secure = client::is_secure(req.headers());
    let mut res = next.run(req).await;
    if secure {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}
