//! CSRF protection for every form POST of the HTML pages — the login steps and the
//! clinical screens alike — as one layer so no form can forget it:
//!
//! 1. a form from another site (`cross_site`, the one rule set) is refused;
//! 2. the body's `csrf` field (or an `X-CSRF-Token` header) must equal, in constant
//!    time, the session's token — or, for `POST /login`, the token bound to the
//!    pre-login cookie.
//!
//! A refusal is a 403 (an error page, or problem+json for JSON clients), changes
//! nothing, and is audited. A POST without any live session (other than to `/login`) is
//! sent to the login page, also changing nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use renkei_service::auth::{self, Session};
use renkei_service::{ErrorCode, Security};

use super::client::{is_secure, request_meta};
use super::pages::{WebError, error_response, too_many_requests};
use super::session::{Resolved, prelogin_cookie_name, read_cookie, resolve, to_login};
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
        p if p.ends_with("/entries") => "entry.append",
        _ => "form.post",
    }
}

/// Whether a form comes from another site — the one rule for every HTML form:
///
/// - `Sec-Fetch-Site: cross-site` (or `same-site`: a sibling host is another origin,
///   and `SameSite` cookies still travel with it) is refused;
/// - an `Origin` must name this server: as the browser reached it (`Host`), or as a
///   reverse proxy reports it in `X-Forwarded-Host` — the latter only when the peer is
///   a trusted proxy (`via_trusted_proxy`), so a client cannot name the host it claims;
/// - `Origin: null` (a `no-referrer` document posting to its own origin, Fetch
///   "serializing a request origin") is accepted only with `Sec-Fetch-Site: same-origin`;
/// - neither header (an older client) passes here and rests on the session token,
///   which the guard checks in every case.
fn cross_site(headers: &HeaderMap, secure: bool, via_trusted_proxy: bool) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == "null" {
        return fetch_site.as_deref() != Some("same-origin");
    }
    let scheme = if secure { "https" } else { "http" };
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    let reached = first(header::HOST.as_str());
    let forwarded = first("x-forwarded-host").filter(|_| via_trusted_proxy);
    let same = [reached, forwarded]
        .into_iter()
        .flatten()
        .any(|host| origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")));
    !same
}

/// Whether the socket peer is a configured reverse proxy (`--trusted-proxy`), whose
/// `X-Forwarded-Host` then names the host the browser used.
fn via_trusted_proxy(parts: &Parts, security: &Security) -> bool {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| security.is_trusted_proxy(c.0.ip()))
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

/// Marks a request the guard has let through, so a form extractor can refuse to run
/// behind a router that forgot the layer.
#[derive(Clone, Copy)]
pub(crate) struct Checked;

/// A POST without a live session changes nothing. The login steps' own forms go back
/// to the login page; a clinical form whose session ended says so (and a stale cookie
/// is audited), as a page request would.
async fn no_session(parts: &Parts, state: &AppState) -> Response {
    if action_of(parts.uri.path()) == "form.post" || parts.uri.path().ends_with("/entries") {
        return to_login(parts, state).await;
    }
    Redirect::to("/login").into_response()
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
    let trusted = via_trusted_proxy(&parts, &state.services.security);
    if cross_site(&parts.headers, secure, trusted) {
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
            None => return no_session(&parts, &state).await,
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
    parts.extensions.insert(Checked);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// (case, headers, over TLS, peer is a trusted proxy, refused).
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        bool,
        bool,
        bool,
    );

    /// Every case either old guard covered, in one table: (case, headers, over TLS,
    /// peer is a trusted proxy, refused as cross-site).
    #[test]
    fn one_rule_for_where_a_form_comes_from() {
        const HOST: (&str, &str) = ("host", "127.0.0.1:8080");
        const PROXIED: (&str, &str) = ("x-forwarded-host", "renkei.example.jp");
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("no Origin, no Fetch metadata: the token decides", &[HOST], false, false, false),
            ("Origin names the host as reached", &[HOST, ("origin", "http://127.0.0.1:8080")], false, false, false),
            ("Origin in upper case", &[HOST, ("origin", "HTTP://127.0.0.1:8080")], false, false, false),
            ("Origin with the wrong scheme", &[HOST, ("origin", "http://127.0.0.1:8080")], true, false, true),
            ("Origin of another site", &[HOST, ("origin", "https://evil.example")], false, false, true),
            ("Origin of another port", &[HOST, ("origin", "http://127.0.0.1:9090")], false, false, true),
            ("cross-site alone", &[("sec-fetch-site", "cross-site")], false, false, true),
            ("cross-site with a matching Origin", &[HOST, ("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "cross-site")], false, false, true),
            ("same-site is another origin", &[HOST, ("sec-fetch-site", "same-site")], false, false, true),
            ("same-origin with a matching Origin", &[HOST, ("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "same-origin")], false, false, false),
            ("same-origin does not excuse a foreign Origin", &[HOST, ("origin", "https://evil.example"), ("sec-fetch-site", "same-origin")], false, false, true),
            ("same-origin without Origin", &[HOST, ("sec-fetch-site", "same-origin")], false, false, false),
            ("Fetch metadata `none` with a matching Origin", &[HOST, ("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "none")], false, false, false),
            ("Origin null alone", &[HOST, ("origin", "null")], false, false, true),
            ("Origin null vouched for by same-origin", &[HOST, ("origin", "null"), ("sec-fetch-site", "same-origin")], false, false, false),
            ("Origin null from another site", &[HOST, ("origin", "null"), ("sec-fetch-site", "cross-site")], false, false, true),
            ("Origin null, same-site", &[HOST, ("origin", "null"), ("sec-fetch-site", "same-site")], false, false, true),
            ("behind a trusted proxy: the host it reports", &[HOST, PROXIED, ("origin", "https://renkei.example.jp")], true, true, false),
            ("behind a trusted proxy: another site", &[HOST, PROXIED, ("origin", "https://evil.example")], true, true, true),
            ("behind a trusted proxy: the first of several forwarded hosts", &[HOST, ("x-forwarded-host", "renkei.example.jp, internal"), ("origin", "https://renkei.example.jp")], true, true, false),
            ("behind a trusted proxy: the host as reached still counts", &[HOST, PROXIED, ("origin", "https://127.0.0.1:8080")], true, true, false),
            ("X-Forwarded-Host from a peer that is no proxy", &[HOST, ("x-forwarded-host", "evil.example"), ("origin", "https://evil.example")], true, false, true),
        ];
        for (case, pairs, secure, trusted, refused) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in *pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            assert_eq!(cross_site(&h, *secure, *trusted), *refused, "{case}");
        }
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
