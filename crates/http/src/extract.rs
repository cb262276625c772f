//! Extractors: the bearer-token actor, and JSON bodies whose rejections speak
//! problem+json (syntax 400, wrong shape or type 422 with the field path, 413, 415).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use renkei_domain::Rule;
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
        crate::request_log::note_org(&parts.extensions, &bearer.actor.organization_code);
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
    auth::record_unauthenticated(&state.services, &meta, "auth.bearer", refused).await?;
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
        refuse_duplicate_keys(&bytes)?;
        check_strings(&raw, &mut String::new())?;
        let value = parse_value(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Refuses a body that names a key twice in one object: `serde_json` would silently
/// keep the last, so two readers of the same body could disagree on what it says. 422
/// with the path of the object and the key. (Runs on syntactically valid JSON only.)
fn refuse_duplicate_keys(bytes: &[u8]) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, UniqueKeys>(&mut de)
        .map(|_| ())
        .map_err(|e| path_error(&e, Rule::DuplicateKey))
}

/// A `serde_path_to_error` failure as a field error: the path of the offending field
/// (none for the whole body) and serde's message without its line and column.
fn path_error<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>, rule: Rule) -> ApiError {
    let path = e.path().to_string();
    let field = if path == "." { String::new() } else { path };
    let message = e.inner().to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    ApiError::field(field, rule, message.to_owned())
}

/// Walks a JSON document checking that no object names a key twice; builds nothing.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{}` appears more than once",
                    key.escape_debug()
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(self)
    }
}

/// Refuses control characters (other than tab and line breaks) and bidirectional
/// controls in every string and key of a body, with the path of the first one: 422,
/// the same on both databases (PostgreSQL cannot store NUL at all).
fn check_strings(value: &Value, path: &mut String) -> Result<(), ApiError> {
    let invalid = |e: renkei_domain::FieldError| {
        ApiError::from(renkei_service::ServiceError::Validation(vec![e]))
    };
    match value {
        Value::String(s) => renkei_domain::text::check_input(path, s).map_err(invalid),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_strings(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.escape_debug().to_string());
                renkei_domain::text::check_input(path, key).map_err(invalid)?;
                check_strings(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Deserialises with the path of the first offending field in the error.
pub fn parse_value<T: DeserializeOwned>(raw: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(raw).map_err(|e| path_error(&e, Rule::Type))
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
        // The edge has replaced any request id that is not plain (crate::edge); checked
        // again here so nothing else can reach the audit trail.
        let request_id = parts
            .headers
            .get("x-request-id")
            .filter(|v| crate::edge::is_plain_request_id(v.as_bytes()))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let client_addr = crate::web::client::client_addr(parts, &state.services.security);
        Ok(Meta(renkei_service::audit::RequestMeta {
            request_id,
            client_addr,
        }))
    }
}
