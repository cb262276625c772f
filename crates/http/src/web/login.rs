//! `GET/POST /login`, `GET/POST /login/totp`, `POST /logout`.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use renkei_service::ErrorCode;
use renkei_service::auth::{self, LoginResult, SecondFactorResult, Step};
use serde::Deserialize;

use super::client::{is_secure, request_meta};
use super::pages::{
    LoginPage, SecondFactorPage, WebResult, Words, error_response, html, with_retry_after,
};
use super::session::{
    AnySession, cookie, expired_cookie, prelogin_cookie_name, read_cookie, resolve,
    session_cookie_name, session_token, step_url,
};
use crate::state::AppState;

const BAD_CREDENTIALS: &str =
    "ログインIDまたはパスワードが正しくありません。入力を確かめて、もう一度お試しください。";
const LOCKED: &str = "ログインの失敗が続いたため、このIDは一時的にログインできません。15分ほど待ってから、もう一度お試しください。";
const THROTTLED: &str =
    "この端末からのログイン失敗が多すぎます。しばらく待ってから、もう一度お試しください。";

/// The request's parts, for handlers that also take a body.
pub struct PartsOf(pub Parts);

impl<S: Send + Sync> FromRequestParts<S> for PartsOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PartsOf(parts.clone()))
    }
}

fn bad_form(headers: &HeaderMap) -> Response {
    error_response(
        headers,
        ErrorCode::MalformedRequest,
        "フォームの内容を読み取れませんでした。画面を開き直してください。",
    )
}

/// Shows the login form with a fresh (or the browser's existing) pre-login cookie.
fn login_page(
    headers: &HeaderMap,
    jar: CookieJar,
    status: StatusCode,
    login: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let secure = is_secure(headers);
    let name = prelogin_cookie_name(secure);
    let pre = read_cookie(headers, name)
        .filter(|c| auth::is_token_shaped(c))
        .unwrap_or_else(auth::new_prelogin);
    let csrf = auth::prelogin_csrf(&pre);
    let jar = jar.add(cookie(name, pre, secure));
    let page = html(
        status,
        &LoginPage {
            words: Words::of(headers),
            csrf: &csrf,
            login,
            error,
            notice,
        },
    );
    (jar, page).into_response()
}

pub async fn login_form(
    State(state): State<AppState>,
    PartsOf(parts): PartsOf,
    jar: CookieJar,
) -> WebResult {
    if let Some(s) = resolve(&parts, &state).await?
        && s.next_step() == Step::Ready
    {
        return Ok(Redirect::to("/").into_response());
    }
    let query = parts.uri.query().unwrap_or("");
    let notice = if query.contains("logged_out") {
        Some("ログアウトしました。")
    } else if query.contains("expired") {
        Some("一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。")
    } else {
        None
    };
    Ok(login_page(
        &parts.headers,
        jar,
        StatusCode::OK,
        "",
        None,
        notice,
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub password: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    PartsOf(parts): PartsOf,
    jar: CookieJar,
    form: Result<Form<LoginForm>, FormRejection>,
) -> WebResult {
    let Ok(Form(form)) = form else {
        return Ok(bad_form(&parts.headers));
    };
    let meta = request_meta(&parts, &state.services.security);
    let secure = is_secure(&parts.headers);
    let presented = session_token(&parts.headers);
    let result = auth::login(
        &state.services,
        &meta,
        &form.login,
        &form.password,
        presented.as_deref(),
    )
    .await?;
    let login_shown: String = form.login.chars().take(64).collect();
    Ok(match result {
        LoginResult::LoggedIn { session, next } => {
            let jar = jar
                .add(cookie(session_cookie_name(secure), session.token, secure))
                .add(expired_cookie(prelogin_cookie_name(secure), secure));
            (jar, Redirect::to(step_url(next))).into_response()
        }
        LoginResult::Rejected => login_page(
            &parts.headers,
            jar,
            StatusCode::UNAUTHORIZED,
            &login_shown,
            Some(BAD_CREDENTIALS),
            None,
        ),
        LoginResult::Locked { retry_after } => with_retry_after(
            login_page(
                &parts.headers,
                jar,
                StatusCode::TOO_MANY_REQUESTS,
                &login_shown,
                Some(LOCKED),
                None,
            ),
            retry_after.num_seconds() + 1,
        ),
        LoginResult::Throttled { retry_after } => with_retry_after(
            login_page(
                &parts.headers,
                jar,
                StatusCode::TOO_MANY_REQUESTS,
                &login_shown,
                Some(THROTTLED),
                None,
            ),
            retry_after.num_seconds() + 1,
        ),
    })
}

pub async fn second_factor_form(headers: HeaderMap, AnySession(s): AnySession) -> WebResult {
    if s.next_step() != Step::SecondFactor {
        return Ok(Redirect::to(step_url(s.next_step())).into_response());
    }
    Ok(html(
        StatusCode::OK,
        &SecondFactorPage {
            words: Words::of(&headers),
            csrf: &s.csrf_token,
            name: &s.actor.name,
            error: None,
        },
    ))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
}

pub async fn second_factor_submit(
    State(state): State<AppState>,
    PartsOf(parts): PartsOf,
    jar: CookieJar,
    AnySession(s): AnySession,
    form: Result<Form<CodeForm>, FormRejection>,
) -> WebResult {
    if s.next_step() != Step::SecondFactor {
        return Ok(Redirect::to(step_url(s.next_step())).into_response());
    }
    let Ok(Form(form)) = form else {
        return Ok(bad_form(&parts.headers));
    };
    let meta = request_meta(&parts, &state.services.security);
    let secure = is_secure(&parts.headers);
    let page = |status, error| {
        html(
            status,
            &SecondFactorPage {
                words: Words::of(&parts.headers),
                csrf: &s.csrf_token,
                name: &s.actor.name,
                error: Some(error),
            },
        )
    };
    Ok(
        match auth::second_factor(&state.services, &meta, &s, &form.code).await? {
            SecondFactorResult::Passed { session, next } => {
                let jar = jar.add(cookie(session_cookie_name(secure), session.token, secure));
                (jar, Redirect::to(step_url(next))).into_response()
            }
            SecondFactorResult::Rejected => page(
                StatusCode::UNAUTHORIZED,
                "確認コードが正しくないか、すでに使われています。新しいコードが表示されるのを待って入力してください。",
            ),
            SecondFactorResult::Throttled { retry_after } => with_retry_after(
                page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "確認コードの誤りが続いたため、しばらく入力できません。15分ほど待ってから、もう一度お試しください。",
                ),
                retry_after.num_seconds() + 1,
            ),
        },
    )
}

pub async fn logout(
    State(state): State<AppState>,
    PartsOf(parts): PartsOf,
    jar: CookieJar,
    AnySession(s): AnySession,
) -> WebResult {
    let secure = is_secure(&parts.headers);
    auth::logout(
        &state.services,
        &request_meta(&parts, &state.services.security),
        &s,
    )
    .await?;
    let jar = jar.add(expired_cookie(session_cookie_name(secure), secure));
    Ok((jar, Redirect::to("/login?logged_out=1")).into_response())
}
