//! `GET/POST /password` (change the password; forced after the first login) and
//! `GET/POST /account/totp` (enrol TOTP two-factor: QR code, confirmation, recovery
//! codes).

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use qrcode::QrCode;
use qrcode::render::svg;
use renkei_service::ServiceError;
use renkei_service::auth::{
    self, ConfirmResult, Enrolment, PasswordChange, Session, Step, password,
};
use serde::Deserialize;

use super::client::{is_secure, request_meta};
use super::login::PartsOf;
use super::pages::{
    EnabledPage, EnrolPage, PasswordPage, RecoveryCodesPage, WebError, WebResult, Words,
    error_response, html, with_retry_after,
};
use super::session::{AnySession, cookie, session_cookie_name, step_url};
use crate::state::AppState;

/// The enrolment form: the account's password again and a code from the app.
#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub code: String,
}

fn password_page(words: Words, s: &Session, status: StatusCode, errors: Vec<String>) -> Response {
    let two_factor = s.totp_enabled;
    html(
        status,
        &PasswordPage {
            words,
            csrf: &s.csrf_token,
            required: s.must_change_password,
            min_length: if two_factor {
                password::MIN_LENGTH_WITH_TOTP
            } else {
                password::MIN_LENGTH
            },
            two_factor,
            errors,
        },
    )
}

/// The password page is for sessions that owe a password change or are fully in.
fn password_step_ok(s: &Session) -> Option<Response> {
    match s.next_step() {
        Step::ChangePassword | Step::Ready => None,
        other => Some(Redirect::to(step_url(other)).into_response()),
    }
}

pub async fn password_form(headers: HeaderMap, AnySession(s): AnySession) -> WebResult {
    if let Some(r) = password_step_ok(&s) {
        return Ok(r);
    }
    Ok(password_page(
        Words::of(&headers),
        &s,
        StatusCode::OK,
        Vec::new(),
    ))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub confirm: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    PartsOf(parts): PartsOf,
    AnySession(s): AnySession,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> WebResult {
    if let Some(r) = password_step_ok(&s) {
        return Ok(r);
    }
    let Ok(Form(form)) = form else {
        return Ok(password_page(
            Words::of(&parts.headers),
            &s,
            StatusCode::BAD_REQUEST,
            vec!["フォームの内容を読み取れませんでした。".into()],
        ));
    };
    let meta = request_meta(&parts, &state.services.security);
    match auth::change_password(
        &state.services,
        &meta,
        &s,
        &form.current_password,
        &form.new_password,
        &form.confirm,
    )
    .await
    {
        Ok(PasswordChange::Changed) => Ok(Redirect::to("/?password_changed=1").into_response()),
        Ok(PasswordChange::Throttled { retry_after }) => Ok(with_retry_after(
            password_page(
                Words::of(&parts.headers),
                &s,
                StatusCode::TOO_MANY_REQUESTS,
                vec!["現在のパスワードの誤りが続いたため、しばらく変更できません。15分ほど待ってから、もう一度お試しください。".into()],
            ),
            retry_after.num_seconds() + 1,
        )),
        Err(ServiceError::Validation(errors)) => Ok(password_page(
            Words::of(&parts.headers),
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors.into_iter().map(|e| e.message).collect(),
        )),
        Err(e) => Err(WebError(e)),
    }
}

/// Enrolment is open to any session that is past its second factor (or owes enrolment).
fn enrol_step_ok(s: &Session) -> Option<Response> {
    match s.next_step() {
        Step::SecondFactor => Some(Redirect::to(step_url(Step::SecondFactor)).into_response()),
        _ => None,
    }
}

/// An inline SVG of the QR code (no data: URL, which the CSP forbids).
fn qr_svg(uri: &str, label: &str) -> Result<String, ServiceError> {
    let code = QrCode::new(uri.as_bytes())
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let svg = svg
        .split_once("?>")
        .map_or(svg.as_str(), |(_, rest)| rest)
        .replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{label}\" "),
            1,
        );
    Ok(svg)
}

fn enrol_page(
    words: Words,
    s: &Session,
    secret: &str,
    uri: &str,
    status: StatusCode,
    error: Option<&str>,
) -> WebResult {
    let svg = qr_svg(uri, words.t("二要素認証の登録用QRコード"))?;
    let secret_groups = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Ok(html(
        status,
        &EnrolPage {
            words,
            csrf: &s.csrf_token,
            required: s.next_step() == Step::EnrolTotp,
            secret_groups,
            uri,
            qr_svg: &svg,
            error,
        },
    ))
}

pub async fn totp_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    AnySession(s): AnySession,
) -> WebResult {
    if let Some(r) = enrol_step_ok(&s) {
        return Ok(r);
    }
    match auth::totp_enrolment(&state.services, &s).await? {
        Enrolment::Enabled {
            recovery_codes_left,
        } => Ok(html(
            StatusCode::OK,
            &EnabledPage {
                words: Words::of(&headers),
                recovery_codes_left,
            },
        )),
        Enrolment::Pending { secret, uri } => {
            enrol_page(Words::of(&headers), &s, &secret, &uri, StatusCode::OK, None)
        }
    }
}

pub async fn totp_submit(
    State(state): State<AppState>,
    PartsOf(parts): PartsOf,
    jar: CookieJar,
    AnySession(s): AnySession,
    form: Result<Form<EnrolForm>, FormRejection>,
) -> WebResult {
    if let Some(r) = enrol_step_ok(&s) {
        return Ok(r);
    }
    let Ok(Form(form)) = form else {
        return Ok(error_response(
            &parts.headers,
            renkei_service::ErrorCode::MalformedRequest,
            "フォームの内容を読み取れませんでした。",
        ));
    };
    let meta = request_meta(&parts, &state.services.security);
    let secure = is_secure(&parts.headers);
    let (services, session, headers) = (&state.services, &s, &parts.headers);
    let again = |status, error| async move {
        match auth::totp_enrolment(services, session).await? {
            Enrolment::Pending { secret, uri } => enrol_page(
                Words::of(headers),
                session,
                &secret,
                &uri,
                status,
                Some(error),
            ),
            Enrolment::Enabled { .. } => Ok(Redirect::to("/account/totp").into_response()),
        }
    };
    match auth::confirm_totp(&state.services, &meta, &s, &form.password, &form.code).await {
        Ok(ConfirmResult::Enabled {
            recovery_codes,
            session,
            next,
        }) => {
            let jar = jar.add(cookie(session_cookie_name(secure), session.token, secure));
            let page = html(
                StatusCode::OK,
                &RecoveryCodesPage {
                    words: Words::of(&parts.headers),
                    codes: &recovery_codes,
                    next_url: step_url(next),
                },
            );
            Ok((jar, page).into_response())
        }
        Ok(ConfirmResult::Rejected) => {
            again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "確認コードが正しくありません。アプリに表示されている最新の6桁を入力してください。",
            )
            .await
        }
        Ok(ConfirmResult::WrongPassword) => {
            again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "パスワードが正しくありません。本人確認のため、ログインに使うパスワードを入力してください。",
            )
            .await
        }
        Ok(ConfirmResult::Throttled { retry_after }) => Ok(with_retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                "確認コードの誤りが続いたため、しばらく入力できません。15分ほど待ってから、もう一度お試しください。",
            )
            .await?,
            retry_after.num_seconds() + 1,
        )),
        Err(ServiceError::Conflict { .. }) => Ok(Redirect::to("/account/totp").into_response()),
        Err(e) => Err(WebError(e)),
    }
}
