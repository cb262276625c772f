//! Who is on the other end: the client address (for the login throttle and the audit
//! log), the request id, and whether the browser reached us over TLS.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, request::Parts};
use renkei_service::audit::RequestMeta;

/// The client's address: the peer's, or — when the peer is a reverse proxy on this
/// machine (loopback) — the last address that proxy appended to `X-Forwarded-For`.
/// A remote peer cannot choose its address this way.
pub fn client_addr(parts: &Parts) -> Option<String> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if peer.is_loopback()
        && let Some(forwarded) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return Some(forwarded.to_string());
    }
    Some(peer.to_string())
}

/// The request id set by the request-id layer (truncated) and the client address.
pub fn request_meta(parts: &Parts) -> RequestMeta {
    RequestMeta {
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(64).collect()),
        client_addr: client_addr(parts),
    }
}

/// Whether the browser talks to us over TLS: a TLS-terminating proxy says so with
/// `X-Forwarded-Proto: https` (or `Forwarded: proto=https`), or the operator sets
/// `RENKEI_TLS=1`. Then cookies get `Secure` and the `__Host-` prefix, and responses
/// carry HSTS. A client that lies about it only makes its own cookies unusable over
/// plain HTTP.
pub fn is_secure(headers: &HeaderMap) -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let forced = *FORCED.get_or_init(|| {
        std::env::var("RENKEI_TLS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    });
    if forced {
        return true;
    }
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .next()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
        });
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split([';', ','])
                .any(|p| p.trim().eq_ignore_ascii_case("proto=https"))
        });
    proto || forwarded
}
