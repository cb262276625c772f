//! `FhirError`: every failure under `/fhir/r4` leaves as an `OperationOutcome` with the
//! issue type of its error code and the wording table's words in the request's language.
//! 5xx bodies carry no cause; the cause is logged once by the request-log middleware.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_domain::wording::{self, FieldFacts, Lang};
use renkei_fhir::outcome::{self, Issue, IssueType, issue_type_of};
use renkei_fhir::search::SearchError;
use renkei_service::{ErrorCode, ServiceError};
use serde_json::Value;

use crate::error::{ApiError, ErrorCause, request_language, status_of};

/// The path `/fhir/r4` is served under.
pub const FHIR_PATH: &str = "/fhir/r4";

/// An error of the FHIR interface.
#[derive(Debug)]
pub struct FhirError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
    cause: Option<String>,
}

impl FhirError {
    /// The error of `code`, worded by the wording table.
    pub fn from_code(code: ErrorCode) -> Self {
        Self::from_code_in(code, request_language())
    }

    /// The error of `code`, worded in `lang`.
    pub fn from_code_in(code: ErrorCode, lang: Lang) -> Self {
        let text = wording::title(code, lang).to_owned();
        FhirError {
            status: status_of(code),
            issues: vec![Issue::error(issue_type_of(code), text)],
            cause: None,
        }
    }

    /// A search the server cannot run: 400 with the parameter at fault.
    pub fn search(e: &SearchError) -> Self {
        let lang = request_language();
        let (kind, words) = match e {
            SearchError::Unknown(_) => (
                IssueType::NotSupported,
                wording::ui_text("この検索パラメータには対応していません", lang),
            ),
            SearchError::Invalid(_) => (
                IssueType::Value,
                wording::ui_text("検索パラメータの値が正しくありません", lang),
            ),
        };
        FhirError {
            status: StatusCode::BAD_REQUEST,
            issues: vec![
                Issue::error(kind, format!("{words}: {}", e.parameter())).at(e.parameter()),
            ],
            cause: None,
        }
    }
}

impl From<ServiceError> for FhirError {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        let lang = request_language();
        match err {
            ServiceError::Validation(errors) if !errors.is_empty() => FhirError {
                status: status_of(code),
                issues: errors
                    .iter()
                    .map(|e| {
                        let text = wording::field_message(e, lang, &FieldFacts::default());
                        let issue = Issue::error(IssueType::Invalid, text);
                        if e.field.is_empty() {
                            issue
                        } else {
                            issue.at(e.field.clone())
                        }
                    })
                    .collect(),
                cause: None,
            },
            ServiceError::Unavailable(e) => FhirError {
                cause: Some(format!("{e:?}")),
                ..FhirError::from_code(code)
            },
            ServiceError::Internal(e) => FhirError {
                cause: Some(format!("{e:#}")),
                ..FhirError::from_code(code)
            },
            _ => FhirError::from_code(code),
        }
    }
}

impl From<ApiError> for FhirError {
    fn from(err: ApiError) -> Self {
        let code = err.code;
        let errors = err.errors.clone();
        let res = err.into_response();
        let cause = res.extensions().get::<ErrorCause>().map(|c| c.0.clone());
        let mut out = if errors.is_empty() {
            FhirError::from_code(code)
        } else {
            FhirError::from(ServiceError::Validation(errors))
        };
        out.status = status_of(code);
        out.cause = cause;
        out
    }
}

/// A FHIR resource as the answer, `application/fhir+json; charset=utf-8`.
pub fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(renkei_fhir::common::MEDIA_TYPE),
    );
    res
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let mut res = fhir_json(self.status, &outcome::operation_outcome(&self.issues));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(ErrorCause(cause));
        }
        res
    }
}

/// Whether a response is already FHIR JSON.
pub fn is_fhir(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/fhir+json"))
}

/// The error code an HTTP error status stands for.
fn code_of_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Validation,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_client_error() => ErrorCode::MalformedRequest,
        _ => ErrorCode::Internal,
    }
}

/// Answers every error under `/fhir/r4` as an `OperationOutcome`, also those refused
/// before routing (the edge's text checks answer problem+json or an HTML page, the
/// timeout a bare 503): the status, `Allow`, `Retry-After` and the logged cause stay, the
/// fields a problem names become the issues' `expression`s. Outermost layer of the router.
pub async fn outcome_at_edge(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with(FHIR_PATH) {
        return next.run(req).await;
    }
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let res = next.run(req).await;
    let status = res.status();
    if is_fhir(&res) || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let mut out = FhirError::from_code_in(code_of_status(status), lang);
    out.status = status;
    if is_problem
        && let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await
        && let Ok(problem) = serde_json::from_slice::<Value>(&bytes)
        && let Some(errors) = problem["errors"].as_array()
    {
        let kind = out
            .issues
            .first()
            .map(|i| i.code)
            .unwrap_or(IssueType::Invalid);
        let issues: Vec<Issue> = errors
            .iter()
            .filter_map(|e| {
                let text = e["message"].as_str()?;
                let issue = Issue::error(kind, text);
                Some(match e["field"].as_str().filter(|f| !f.is_empty()) {
                    Some(f) => issue.at(f),
                    None => issue,
                })
            })
            .collect();
        if !issues.is_empty() {
            out.issues = issues;
        }
    }
    let mut converted = out.into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            converted.headers_mut().insert(name, v.clone());
        }
    }
    if let Some(cause) = parts.extensions.get::<ErrorCause>() {
        converted.extensions_mut().insert(cause.clone());
    }
    converted
}

/// Turns every error that reaches the edge of `/fhir/r4` in another form (axum's own
/// 405, 400, 413, 415 rejections) into an `OperationOutcome`, keeping `Allow` and the
/// logged cause.
pub async fn outcome_for_bare_errors(res: Response) -> Response {
    let status = res.status();
    if is_fhir(&res) || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let mut out = FhirError::from_code(code_of_status(status));
    out.status = status;
    let allow = res.headers().get(header::ALLOW).cloned();
    let cause = res.extensions().get::<ErrorCause>().cloned();
    let mut converted = out.into_response();
    if let Some(allow) = allow {
        converted.headers_mut().insert(header::ALLOW, allow);
    }
    if let Some(cause) = cause {
        converted.extensions_mut().insert(cause);
    }
    converted
}
