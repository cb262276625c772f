//! Session cookies and the extractors of the HTML pages.
//!
//! - [`WebSession`]: a fully logged-in user (second factor done, initial password
//!   changed). Any other state redirects to the step it still owes, and no session at
//!   all redirects to `/login`.
//! - [`AnySession`]: a live session in any state, for the login steps themselves.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use renkei_service::auth::{self, Session, Step};
use renkei_service::{Actor, ServiceError};

use super::client::is_secure;
use super::pages::WebError;
use crate::state::AppState;

/// The session cookie over TLS (`__Host-`: Secure, Path=/, no Domain: no other host can
/// plant it) …
pub const SESSION_COOKIE_TLS: &str = "__Host-renkei_session";
/// … and on plain HTTP (development on loopback).
pub const SESSION_COOKIE_PLAIN: &str = "renkei_session";
/// The pre-login cookie the login form's CSRF token is bound to.
pub const PRELOGIN_COOKIE_TLS: &str = "__Host-renkei_pre";
pub const PRELOGIN_COOKIE_PLAIN: &str = "renkei_pre";

pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_TLS
    } else {
        SESSION_COOKIE_PLAIN
    }
}

pub fn prelogin_cookie_name(secure: bool) -> &'static str {
    if secure {
        PRELOGIN_COOKIE_TLS
    } else {
        PRELOGIN_COOKIE_PLAIN
    }
}

/// A cookie of ours by name. Over TLS only the `__Host-` names count, so a cookie
/// planted over plain HTTP is never read.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_owned())
}

/// The session token the browser presented.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    read_cookie(headers, session_cookie_name(is_secure(headers)))
}

/// HttpOnly, SameSite=Strict, Path=/, Secure over TLS; no Max-Age (the browser drops it
/// when closed; the server ends it after 30 idle minutes or 12 hours anyway).
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .build()
}

/// A cookie that deletes `name` (with the same attributes, which `__Host-` needs).
pub fn expired_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure);
    c.make_removal();
    c
}

/// The session resolved by the CSRF guard of a form POST, so the handler does not look
/// it up (and touch it) twice.
#[derive(Clone)]
pub(crate) struct Resolved(pub Option<Arc<Session>>);

/// The live session of this request, if any.
pub(crate) async fn resolve(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Session>, ServiceError> {
    if let Some(Resolved(s)) = parts.extensions.get::<Resolved>() {
        return Ok(s.as_deref().cloned());
    }
    match session_token(&parts.headers) {
        Some(token) => auth::resume_session(&state.services, &token).await,
        None => Ok(None),
    }
}

/// Where a session that still owes `step` is sent.
pub fn step_url(step: Step) -> &'static str {
    match step {
        Step::SecondFactor => "/login/totp",
        Step::EnrolTotp => "/account/totp",
        Step::ChangePassword => "/password",
        Step::Ready => "/",
    }
}

/// No live session: to the login page, saying the session ended if a cookie was sent.
/// A cookie that no longer opens a session is audited like a refused API token.
pub(crate) async fn to_login(parts: &Parts, state: &AppState) -> Response {
    if session_token(&parts.headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    let meta = super::client::request_meta(parts, &state.services.security);
    match auth::record_unauthenticated(&state.services, &meta, "auth.session", "invalid_session")
        .await
    {
        Ok(()) => Redirect::to("/login?expired=1").into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// A fully logged-in user, for the HTML pages.
pub struct WebSession {
    pub actor: Actor,
    /// The value every form of this session must send as `csrf`.
    pub csrf_token: String,
    pub session: Session,
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(session) = resolve(parts, state)
            .await
            .map_err(|e| WebError::from(e).into_response())?
        else {
            return Err(to_login(parts, state).await);
        };
        crate::request_log::note_org(&parts.extensions, &session.actor.organization_code);
        match session.next_step() {
            Step::Ready => Ok(WebSession {
                actor: session.actor.clone(),
                csrf_token: session.csrf_token.clone(),
                session,
            }),
            step => Err(Redirect::to(step_url(step)).into_response()),
        }
    }
}

/// A live session in any state (the login steps, logout).
pub struct AnySession(pub Session);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match resolve(parts, state)
            .await
            .map_err(|e| WebError::from(e).into_response())?
        {
            Some(s) => {
                crate::request_log::note_org(&parts.extensions, &s.actor.organization_code);
                Ok(AnySession(s))
            }
            None => Err(to_login(parts, state).await),
        }
    }
}
