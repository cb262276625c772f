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
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;
use pages::{HomePage, WebResult, html, profession_ja};
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

async fn home(
    WebSession {
        session,
        csrf_token,
        actor,
    }: WebSession,
    uri: axum::http::Uri,
) -> WebResult {
    let notice = uri
        .query()
        .is_some_and(|q| q.contains("password_changed"))
        .then_some("パスワードを変更しました。");
    Ok(html(
        StatusCode::OK,
        &HomePage {
            csrf: &csrf_token,
            name: &actor.name,
            login: &actor.login,
            organization_name: &session.organization_name,
            profession: profession_ja(&actor.profession),
            totp_enabled: session.totp_enabled,
            notice,
        },
    ))
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
