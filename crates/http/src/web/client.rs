//! Who is on the other end: the client address (for the login throttle and the audit
//! log), the request id, and whether the browser reached us over TLS.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, request::Parts};
use renkei_service::Security;
use renkei_service::audit::RequestMeta;

/// The client's address: the socket peer's, or — only when the peer is a configured
/// reverse proxy (`--trusted-proxy`; none by default) — the address that proxy put in
/// `X-Forwarded-For`: the right-most entry that is not itself a trusted proxy. Anyone
/// else's `X-Forwarded-For` is ignored, so a client cannot choose its address.
pub fn client_addr(parts: &Parts, security: &Security) -> Option<String> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    Some(forwarded_client(peer, &parts.headers, security).to_string())
}

fn forwarded_client(peer: IpAddr, headers: &HeaderMap, security: &Security) -> IpAddr {
    if !security.is_trusted_proxy(peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for hop in value.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // A hop we cannot read: trust nothing to its left.
                Err(_) => hops.clear(),
            }
        }
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !security.is_trusted_proxy(hop) {
            break;
        }
    }
    client
}

/// The request id set by the request-id layer (truncated) and the client address.
pub fn request_meta(parts: &Parts, security: &Security) -> RequestMeta {
    RequestMeta {
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(64).collect()),
        client_addr: client_addr(parts, security),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let none = Security::default();
        let h = headers(&["198.51.100.9"]);
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &h, &none),
            ip("127.0.0.1")
        );

        let proxies = Security {
            trusted_proxies: Security::parse_trusted_proxies("127.0.0.1, 10.0.0.0/8")
                .expect("proxies"),
            ..Security::default()
        };
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &h, &proxies),
            ip("198.51.100.9")
        );
        // The client's own claim sits left of what the proxies appended.
        let h = headers(&["6.6.6.6, 198.51.100.9, 10.1.2.3"]);
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &h, &proxies),
            ip("198.51.100.9")
        );
        // Not from a proxy: ignored.
        assert_eq!(
            forwarded_client(ip("192.0.2.1"), &h, &proxies),
            ip("192.0.2.1")
        );
        // Garbage trusts nothing to its left; no header keeps the peer.
        let h = headers(&["6.6.6.6, junk"]);
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &h, &proxies),
            ip("127.0.0.1")
        );
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &HeaderMap::new(), &proxies),
            ip("127.0.0.1")
        );
        assert!(Security::parse_trusted_proxies("nonsense").is_err());
    }
}
