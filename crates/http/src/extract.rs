//! Extractors: the bearer-token actor, and JSON bodies whose rejections speak
//! problem+json (syntax 400, wrong shape or type 422 with the field path, 413, 415).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use renkei_service::{Actor, ErrorCode, ServiceError, auth};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated practitioner behind `Authorization: Bearer <token>`.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A token's scopes: `read` allows GET/HEAD/OPTIONS, `write` everything.
        let bearer = bearer(parts, state).await?;
        if !bearer.allows_method(parts.method.as_str()) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token's scopes do not allow this request (a `read` token may only read)",
            ));
        }
        Ok(Auth(bearer.actor))
    }
}

/// The valid bearer token of the request. A missing or refused token answers 401, and
/// is audited first (client address and request id, never the token).
pub async fn bearer(parts: &Parts, state: &AppState) -> Result<auth::tokens::BearerAuth, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let refused = match token {
        None => "no_token",
        Some(token) => match auth::tokens::authenticate_bearer(&state.services, token).await {
            Ok(bearer) => return Ok(bearer),
            Err(ServiceError::Unauthenticated) => "invalid_token",
            Err(e) => return Err(e.into()),
        },
    };
    let meta = crate::web::client::request_meta(parts, &state.services.security);
    auth::record_unauthenticated(&state.services.db, &meta, "auth.bearer", refused).await?;
    Err(ServiceError::Unauthenticated.into())
}

/// A JSON body parsed into `T`, with the raw value kept (idempotency hashes it).
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Value,
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "the body is larger than 1 MiB")
            } else {
                ApiError::new(ErrorCode::MalformedRequest, "the body could not be read")
            }
        })?;
        let raw: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedRequest,
                format!("malformed JSON at line {} column {}", e.line(), e.column()),
            )
        })?;
        let value = parse_value(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Deserialises with the path of the first offending field in the error.
pub fn parse_value<T: DeserializeOwned>(raw: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let message = e.inner().to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ApiError::field(field, "type", message)
    })
}

/// A UUID path segment; anything that is not a UUID is simply not found.
pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

/// Request id and client address, for audit events.
pub struct Meta(pub renkei_service::audit::RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(64).collect());
        let client_addr = crate::web::client::client_addr(parts, &state.services.security);
        Ok(Meta(renkei_service::audit::RequestMeta {
            request_id,
            client_addr,
        }))
    }
}
