//! `GET /lang?set=…&back=…` (no login needed) goes back only to a page of this site:
//! whatever `back` holds, the `Location` a browser resolves stays on this origin, and
//! nothing answers 500.

use renkei_testkit::TestApp;
use reqwest::{StatusCode, Url, header, redirect};

use crate::support::app_or_skip;

/// `GET /lang?set=en&back=<raw>` (`raw` already percent-encoded as an attacker would send
/// it); the status and the `Location` as raw bytes.
async fn switch(app: &TestApp, raw: &str) -> (StatusCode, Option<String>) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client");
    // Built by hand so the query reaches the server exactly as written.
    let res = client
        .get(format!("{}/lang?set=en&back={raw}", app.base_url))
        .send()
        .await
        .expect("GET /lang");
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    (res.status(), location)
}

#[tokio::test(flavor = "multi_thread")]
async fn lang_goes_back_only_to_pages_of_this_site() {
    let app = app_or_skip!();
    let base = Url::parse(&format!("{}/", app.base_url)).expect("base URL");
    let attacks = [
        "//evil.example",
        "//evil.example/path",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D/evil.example",
        "%09//evil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "%5C%5Cevil.example",
        "/%5C/evil.example",
        "/.//evil.example",
        "/./%2F/evil.example",
        "https://evil.example",
        "https:evil.example",
        "http:/evil.example",
        "HTTP://evil.example",
        "//evil.example%40renkei",
        "http://127.0.0.1@evil.example/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "%20javascript:alert(1)",
        "data:text/html,x",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%0d%0a%0d%0a<script>",
        "%2F%2Fevil.example",
        "/%2F/evil.example",
        "%E3%80%80//evil.example",
        "/%E2%80%AE/evil.example",
        "",
        "worklist",
    ];
    for raw in attacks {
        let (status, location) = switch(&app, raw).await;
        assert!(!status.is_server_error(), "back={raw}: answered {status}");
        if let Some(location) = location {
            let target = base.join(&location).unwrap_or_else(|e| {
                panic!("back={raw}: Location {location:?} does not parse: {e}")
            });
            assert_eq!(
                target.origin(),
                base.origin(),
                "back={raw}: Location {location:?} leaves the site ({target})"
            );
            assert!(
                location.starts_with('/') && !location.starts_with("//"),
                "back={raw}: Location {location:?} is not a plain path"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lang_goes_back_to_the_page_it_came_from() {
    let app = app_or_skip!();
    for (raw, expected) in [
        ("/worklist", "/worklist"),
        (
            "/patients%3Fkana%3D%E3%83%A4%E3%83%9E%E3%83%80",
            "/patients?kana=%E3%83%A4%E3%83%9E%E3%83%80",
        ),
        (
            "/care-plans/0193f2a4-7c1e-7d2b-9a51-3c7e0f2b8d10",
            "/care-plans/0193f2a4-7c1e-7d2b-9a51-3c7e0f2b8d10",
        ),
    ] {
        let (status, location) = switch(&app, raw).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "back={raw}");
        assert_eq!(location.as_deref(), Some(expected), "back={raw}");
    }
}
