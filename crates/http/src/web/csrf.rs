//! CSRF protection for every form POST of the HTML pages, as one layer so no form can
//! forget it:
//!
//! 1. a browser-declared cross-site request (`Sec-Fetch-Site: cross-site`, or an
//!    `Origin` that is not this server) is refused;
//! 2. the body's `csrf` field (or an `X-CSRF-Token` header) must equal, in constant
//!    time, the session's token — or, for `POST /login`, the token bound to the
//!    pre-login cookie.
//!
//! A refusal is a 403 (an error page, or problem+json for JSON clients), changes
//! nothing, and is audited. A POST without any live session (other than to `/login`) is
//! sent to the login page, also changing nothing.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use renkei_service::ErrorCode;
use renkei_service::auth::{self, Session};

use super::client::{is_secure, request_meta};
use super::pages::{WebError, error_response, too_many_requests};
use super::session::{Resolved, prelogin_cookie_name, read_cookie, resolve};
use crate::edge::BODY_LIMIT;
use crate::state::AppState;

/// The audit action a refused POST to `path` is recorded under.
fn action_of(path: &str) -> &'static str {
    match path {
        "/login" => "login.password",
        "/login/totp" => "login.totp",
        "/logout" => "logout",
        "/password" => "password.change",
        "/account/totp" => "totp.enrol",
        _ => "form.post",
    }
}

/// Whether the browser says the request comes from another site.
fn cross_site(headers: &HeaderMap, secure: bool) -> bool {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(v) if v.eq_ignore_ascii_case("cross-site") => return true,
        // The browser vouches for the request coming from our own pages.
        Some(v) if v.eq_ignore_ascii_case("same-origin") => return false,
        _ => {}
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if secure { "https" } else { "http" };
    // The Host the browser used: as received, or as a reverse proxy reports it.
    let hosts = [header::HOST.as_str(), "x-forwarded-host"]
        .into_iter()
        .filter_map(|h| headers.get(h).and_then(|v| v.to_str().ok()))
        .filter_map(|v| v.split(',').next().map(str::trim));
    let mut same = false;
    for host in hosts {
        same |= origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"));
    }
    !same
}

/// The `csrf` value of an urlencoded form body, or the `X-CSRF-Token` header.
fn submitted_token(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(h) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Some(h.to_owned());
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return None;
    }
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
}

async fn refuse(state: &AppState, parts: &Parts, session: Option<&Session>, why: &str) -> Response {
    let meta = request_meta(parts, &state.services.security);
    let services = &state.services;
    if parts.uri.path() == "/login" {
        // Counted against the address like a failed login: a flood is answered 429.
        return match auth::refuse_login_post(services, &meta).await {
            Ok(Some(wait)) => too_many_requests(&parts.headers, wait.num_seconds() + 1),
            Ok(None) => error_response(&parts.headers, ErrorCode::Forbidden, why),
            Err(e) => WebError::from(e).into_response(),
        };
    }
    if let Err(e) =
        auth::record_csrf_rejection(services, &meta, action_of(parts.uri.path()), session).await
    {
        return WebError::from(e).into_response();
    }
    error_response(&parts.headers, ErrorCode::Forbidden, why)
}

/// The layer: GET, HEAD and OPTIONS pass; everything else is checked.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let secure = is_secure(&parts.headers);
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                &parts.headers,
                ErrorCode::PayloadTooLarge,
                "送信データが大きすぎます。",
            );
        }
    };
    let is_login = parts.uri.path() == "/login";
    let session = if is_login {
        None
    } else {
        match resolve(&parts, &state).await {
            Ok(s) => s,
            Err(e) => return WebError::from(e).into_response(),
        }
    };
    if cross_site(&parts.headers, secure) {
        return refuse(
            &state,
            &parts,
            session.as_ref(),
            "他のサイトから送信されたフォームは受け付けません。",
        )
        .await;
    }
    let expected = if is_login {
        read_cookie(&parts.headers, prelogin_cookie_name(secure))
            .filter(|c| auth::is_token_shaped(c))
            .map(|c| auth::prelogin_csrf(&c))
    } else {
        match &session {
            Some(s) => Some(s.csrf_token.clone()),
            // Nothing to protect: no session, nothing will change.
            None => return Redirect::to("/login").into_response(),
        }
    };
    let submitted = submitted_token(&parts.headers, &bytes);
    let ok = match (&expected, &submitted) {
        (Some(e), Some(s)) => auth::tokens_equal(e, s),
        _ => false,
    };
    if !ok {
        return refuse(
            &state,
            &parts,
            session.as_ref(),
            "画面の有効期限が切れたか、不正な送信です。画面を開き直してから、もう一度操作してください。",
        )
        .await;
    }
    parts.extensions.insert(Resolved(session.map(Arc::new)));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origin_and_fetch_metadata() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&h, false));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h, false));
        assert!(cross_site(&h, true));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_site(&h, false));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h, false));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h, false));
        // Behind a proxy that rewrites Host but reports the original.
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("renkei.example.jp"),
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://renkei.example.jp"),
        );
        assert!(!cross_site(&h, true));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_site(&h, true));
    }

    #[test]
    fn token_from_form_or_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            submitted_token(&h, b"login=a&csrf=abc%2Bd&password=x").as_deref(),
            Some("abc+d")
        );
        assert_eq!(submitted_token(&h, b"login=a"), None);
        h.insert("x-csrf-token", HeaderValue::from_static("tok"));
        assert_eq!(submitted_token(&h, b"").as_deref(), Some("tok"));
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(submitted_token(&json, br#"{"csrf":"x"}"#), None);
    }
}
