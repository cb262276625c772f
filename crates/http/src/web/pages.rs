//! The askama templates of the login pages, and how a page or an error becomes a
//! response (HTML for browsers, problem+json for clients that ask for JSON).

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use renkei_service::{ErrorCode, ServiceError};

use crate::error::{ApiError, ErrorCause, status_of};

/// Renders a page with `status`; a template error is a 500 whose cause is logged.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            let mut res = (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    "<!doctype html><title>エラー</title><p>システムエラーが発生しました。"
                        .to_owned(),
                ),
            )
                .into_response();
            res.extensions_mut()
                .insert(ErrorCause(format!("template: {e}")));
            res
        }
    }
}

/// Adds `Retry-After` (whole seconds, at least 1).
pub fn with_retry_after(mut res: Response, seconds: i64) -> Response {
    let secs = seconds.max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Whether the client prefers JSON to HTML (API clients, tests); browsers ask for HTML.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !accept.contains("text/html")
        && (accept.contains("json") || accept.is_empty() || accept.contains("*/*"))
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub status: u16,
}

/// An error page for browsers, or the same error as problem+json for JSON clients.
pub fn error_response(headers: &HeaderMap, code: ErrorCode, message: &str) -> Response {
    if wants_json(headers) {
        return ApiError::new(code, message).into_response();
    }
    let status = status_of(code);
    html(
        status,
        &ErrorPage {
            title: code.title_ja(),
            message,
            status: status.as_u16(),
        },
    )
}

/// 429 with `Retry-After`: an error page, or problem+json for JSON clients.
pub fn too_many_requests(headers: &HeaderMap, retry_after: i64) -> Response {
    const TITLE: &str = "試行回数が多すぎます";
    const MESSAGE: &str = "しばらく待ってから、もう一度お試しください。";
    let res = if wants_json(headers) {
        let body = serde_json::json!({
            "type": "urn:renkei:error:too_many_requests",
            "title": TITLE,
            "status": 429,
            "detail": "too many failed login attempts from this address; retry later",
            "code": "too_many_requests",
        });
        let mut res = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    } else {
        html(
            StatusCode::TOO_MANY_REQUESTS,
            &ErrorPage {
                title: TITLE,
                message: MESSAGE,
                status: 429,
            },
        )
    };
    with_retry_after(res, retry_after)
}

/// A failure inside a page handler: an HTML error page with the status of its code; a
/// 5xx page says nothing about the cause, which is logged once by the request log.
#[derive(Debug)]
pub struct WebError(pub ServiceError);

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        WebError(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let status = status_of(code);
        let message = match &self.0 {
            ServiceError::Unavailable(_) => {
                "しばらく待ってから、もう一度お試しください。".to_owned()
            }
            ServiceError::Internal(_) => {
                "時間をおいて再度お試しください。解決しない場合はシステム管理者に連絡してください。"
                    .to_owned()
            }
            ServiceError::Unauthenticated => "ログインし直してください。".to_owned(),
            ServiceError::Validation(errors) => errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        };
        let mut res = html(
            status,
            &ErrorPage {
                title: code.title_ja(),
                message: &message,
                status: status.as_u16(),
            },
        );
        if status.is_server_error() {
            res.extensions_mut()
                .insert(ErrorCause(format!("{:#}", anyhow_of(&self.0))));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res = with_retry_after(res, 1);
        }
        res
    }
}

fn anyhow_of(e: &ServiceError) -> String {
    match e {
        ServiceError::Internal(e) => format!("{e:#}"),
        ServiceError::Unavailable(e) => format!("{e:?}"),
        other => other.to_string(),
    }
}

pub type WebResult = Result<Response, WebError>;

// ---------------------------------------------------------------- the pages

/// The fixed words of a login page in the language of the `renkei_lang` cookie (the
/// switch of the logged-in screens; these pages have no shell).
pub struct Words {
    pub en: bool,
}

impl Words {
    /// The language the browser chose with `/lang`.
    pub fn of(headers: &HeaderMap) -> Words {
        Words {
            en: axum_extra::extract::cookie::CookieJar::from_headers(headers)
                .get("renkei_lang")
                .is_some_and(|c| c.value() == "en"),
        }
    }

    /// A fixed word as plain text (for `<title>`).
    pub fn t(&self, ja: &'static str) -> &'static str {
        debug_assert!(
            renkei_domain::wording::ui_text_known(ja),
            "no English for the screen word {ja:?}"
        );
        let lang = if self.en {
            renkei_domain::wording::Lang::En
        } else {
            renkei_domain::wording::Lang::Ja
        };
        renkei_domain::wording::ui_text(ja, lang)
    }

    /// A fixed word as HTML: the Japanese as plain text, the English in a
    /// `<span lang="en">`. Use with `|safe`.
    pub fn w(&self, ja: &'static str) -> String {
        let escaped = self
            .t(ja)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        if self.en {
            format!("<span lang=\"en\">{escaped}</span>")
        } else {
            escaped
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub words: Words,
    pub csrf: &'a str,
    pub login: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "login_totp.html")]
pub struct SecondFactorPage<'a> {
    pub words: Words,
    pub csrf: &'a str,
    pub name: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
pub struct EnrolPage<'a> {
    pub words: Words,
    pub csrf: &'a str,
    pub required: bool,
    pub secret_groups: Vec<String>,
    pub uri: &'a str,
    pub qr_svg: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "totp_enabled.html")]
pub struct EnabledPage {
    pub words: Words,
    pub recovery_codes_left: usize,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub words: Words,
    pub codes: &'a [String],
    pub next_url: &'a str,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage<'a> {
    pub words: Words,
    pub csrf: &'a str,
    pub required: bool,
    pub min_length: usize,
    pub two_factor: bool,
    pub errors: Vec<String>,
}
