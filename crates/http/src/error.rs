//! `ApiError`: every failure leaves as `application/problem+json` (RFC 9457) with the
//! stable code, a Japanese title, the field errors (each with its message in the
//! request's language, `Accept-Language`, Japanese by default) and the request id. 5xx bodies carry
//! no cause; the cause is logged once by the request-log middleware.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_domain::wording::{self, FieldFacts, Lang};
use renkei_service::{ErrorCode, ServiceError};
use serde::Serialize;

/// The HTTP status of each client-visible error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::Duplicate => StatusCode::CONFLICT,
        ErrorCode::StageOutOfOrder => StatusCode::CONFLICT,
        ErrorCode::PlanNotActive => StatusCode::CONFLICT,
        ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::IdempotencyKeyInvalid => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidTransition => StatusCode::CONFLICT,
        ErrorCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorCode::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
    }
}

/// The cause of a 5xx, kept in the response extensions for the log line.
#[derive(Clone, Debug)]
pub struct ErrorCause(pub String);

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    cause: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
            errors: Vec::new(),
            cause: None,
        }
    }

    pub fn field(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Validation,
            detail: None,
            errors: vec![FieldError::new(field, rule, message)],
            cause: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        match err {
            ServiceError::Validation(errors) => ApiError {
                code,
                detail: Some(
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                errors,
                cause: None,
            },
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Conflict { message, .. } => ApiError::new(code, message),
            ServiceError::IdempotencyKeyReused => ApiError {
                code,
                detail: Some(
                    "this Idempotency-Key was already used with a different request".into(),
                ),
                errors: vec![FieldError::new(
                    "Idempotency-Key",
                    Rule::Reused,
                    "already used with a different request body",
                )],
                cause: None,
            },
            ServiceError::Unauthenticated => {
                ApiError::new(code, "send a valid token as Authorization: Bearer <token>")
            }
            ServiceError::Forbidden => ApiError::new(code, "not allowed"),
            ServiceError::PreconditionFailed => ApiError::new(
                code,
                "the resource changed since you read it; read it again and retry with its ETag",
            ),
            ServiceError::PreconditionRequired => {
                ApiError::new(code, "send the resource's ETag as If-Match")
            }
            ServiceError::Unavailable(e) => ApiError {
                code,
                detail: None,
                errors: Vec::new(),
                cause: Some(format!("{e:?}")),
            },
            ServiceError::Internal(e) => ApiError {
                code,
                detail: None,
                errors: Vec::new(),
                cause: Some(format!("{e:#}")),
            },
        }
    }
}

tokio::task_local! {
    /// The language the request asked for (`Accept-Language`), while it is handled.
    static LANG: Lang;
}

/// Handles the request with the language its `Accept-Language` prefers, so every
/// problem+json built while answering it words its `errors[].message` in that language.
pub async fn with_request_language(req: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    LANG.scope(lang, next.run(req)).await
}

/// The language of the request being handled (Japanese outside one).
pub fn request_language() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

/// One field error as the API sends it: the rule's stable name and its words in the
/// request's language.
#[derive(Serialize)]
struct ProblemField<'a> {
    field: &'a str,
    code: Rule,
    message: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ProblemField<'a>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let lang = request_language();
        let errors = self
            .errors
            .iter()
            .map(|e| ProblemField {
                field: &e.field,
                code: e.code,
                message: wording::field_message(e, lang, &FieldFacts::default()),
            })
            .collect();
        let body = Problem {
            kind: format!("urn:renkei:error:{}", self.code.slug()),
            title: self.code.title_ja(),
            status: status.as_u16(),
            detail: self.detail.as_deref(),
            code: self.code.slug(),
            errors,
        };
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(ErrorCause(cause));
        }
        res
    }
}

/// The API answers every error as problem+json. axum's own rejections that reach a
/// response untouched (a path segment that is not UTF-8 answers a plain-text 400) are
/// turned into the same problem body here, at the edge of `/api/v1`.
pub async fn problem_for_bare_errors(res: Response) -> Response {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem || res.status() != StatusCode::BAD_REQUEST {
        return res;
    }
    ApiError::new(
        ErrorCode::MalformedRequest,
        "the request's path could not be read (it must be UTF-8)",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_slug_and_title() {
        let mut slugs = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            let status = status_of(code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
            assert!(slugs.insert(code.slug()), "duplicate slug {}", code.slug());
            assert!(!code.title_ja().is_empty());
        }
        assert_eq!(
            status_of(ErrorCode::Validation),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(ErrorCode::MalformedRequest),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorCode::PayloadTooLarge),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(status_of(ErrorCode::StageOutOfOrder), StatusCode::CONFLICT);
        assert_eq!(
            status_of(ErrorCode::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
