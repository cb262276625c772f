//! Checks at the edge, before any handler, extractor or log line sees a request:
//!
//! - the text of the path, the query and urlencoded form bodies holds no control
//!   characters (other than tab and line breaks in form fields) and no bidirectional
//!   controls — 422 naming the field, the same on both databases (JSON bodies get the
//!   same check in [`crate::extract::ApiJson`]);
//! - a client's `X-Request-Id` is kept only when it is short and plain; otherwise it is
//!   dropped and the server makes its own, so nothing a client chooses reaches the log
//!   or the audit trail unchecked.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_domain::text::{check_input, is_bidi_control};
use renkei_service::{ErrorCode, ServiceError};

use crate::error::ApiError;
use crate::web::pages::{error_response, wants_json};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Longest accepted `X-Request-Id`.
pub const REQUEST_ID_MAX: usize = 64;

/// Whether a client's request id may be used as it is: 1–64 ASCII letters, digits and
/// `-_.:+/=@` (UUIDs, ULIDs, hex ids and the trace ids of common proxies).
pub fn is_plain_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= REQUEST_ID_MAX
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(b))
}

/// Drops an `X-Request-Id` that is not plain (the next layer generates one instead).
pub async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let headers = req.headers_mut();
    let plain = headers
        .get_all("x-request-id")
        .iter()
        .all(|v| is_plain_request_id(v.as_bytes()));
    if !plain || headers.get_all("x-request-id").iter().count() > 1 {
        headers.remove("x-request-id");
    }
    next.run(req).await
}

/// The path, query and (for urlencoded forms) body text checks.
pub async fn check_request_text(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let json = parts.uri.path().starts_with("/api/") || wants_json(&parts.headers);
    let refuse = |e: FieldError| refusal(&parts.headers, json, e);
    let path = percent_decode_str(parts.uri.path()).decode_utf8_lossy();
    if let Some(c) = path.chars().find(|c| c.is_control() || is_bidi_control(*c)) {
        return refuse(FieldError::new(
            "path",
            Rule::ControlCharacter,
            format!(
                "the path must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    if let Some(query) = parts.uri.query()
        && let Err(e) = check_pairs(query.as_bytes())
    {
        return refuse(e);
    }
    if parts.method == Method::GET || parts.method == Method::HEAD || !is_form(&parts.headers) {
        return next.run(Request::from_parts(parts, body)).await;
    }
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
    if let Err(e) = check_pairs(&bytes) {
        return refuse(e);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Checks every name and value of `a=b&c=d` (decoded), naming the field.
fn check_pairs(encoded: &[u8]) -> Result<(), FieldError> {
    for (name, value) in form_urlencoded::parse(encoded) {
        let field = name.escape_debug().to_string();
        check_input(&field, &name)?;
        check_input(&field, &value)?;
    }
    Ok(())
}

/// 422: problem+json with the field for API clients, an error page for browsers.
fn refusal(headers: &HeaderMap, json: bool, e: FieldError) -> Response {
    if json {
        return ApiError::from(ServiceError::Validation(vec![e])).into_response();
    }
    error_response(
        headers,
        ErrorCode::Validation,
        "入力に使用できない制御文字が含まれています。",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(is_plain_request_id(b"0193f2a4-7c1e-7d2b-9a51-3c7e0f2b8d10"));
        assert!(is_plain_request_id(
            b"Root=1-67891233-abcdef012345678912345678"
        ));
        for bad in [
            &b""[..],
            b"a b",
            b"x\r\nforged: 1",
            b"<script>",
            "東京".as_bytes(),
            &[b'a'; 65][..],
        ] {
            assert!(!is_plain_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn form_pairs() {
        assert!(check_pairs(b"note=%E7%B5%8C%E9%81%8E%0D%0A%09ok&x=1").is_ok());
        assert_eq!(
            check_pairs(b"a=1&login=sato%00").map_err(|e| (e.field, e.code.as_str())),
            Err(("login".to_owned(), "control_character"))
        );
        assert_eq!(
            check_pairs(b"q=%E2%80%AEabc").map_err(|e| e.code.as_str()),
            Err("bidi_control")
        );
    }
}
