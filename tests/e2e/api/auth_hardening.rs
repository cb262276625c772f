//! Issue 10 §10d, e, g, h, k, n over HTTP: refused tokens and session cookies are
//! audited (bounded per address, never with the token); a login lockout holds only for
//! the address that caused it, and `X-Forwarded-For` counts only from configured
//! proxies; the demo tokens work only in demo mode; TOTP secrets are stored encrypted
//! (and plain-text ones are sealed on next use), enrolment asks for the password again
//! and is refused without a key; a break-glass reason counts visible characters only.

use renkei_service::Security;
use renkei_service::auth::totp;
use renkei_testkit::app::send;
use renkei_testkit::{TestApp, rows};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{app_or_skip, stroke_plan};
use crate::web_client::{Browser, PASSWORD, Page, web_user};

const WRONG: &str = "Machigai-pass-2026";

async fn events(app: &TestApp, action: &str) -> Vec<rows::AuditRow> {
    rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

async fn practitioner(app: &TestApp, login: &str) -> rows::PractitionerRow {
    rows::practitioner(&app.services.db, login)
        .await
        .expect("practitioner")
        .expect("exists")
}

async fn spawn_with(security: Security) -> Option<TestApp> {
    TestApp::spawn_with(security).await
}

macro_rules! app_with_or_skip {
    ($security:expr) => {
        match spawn_with($security).await {
            Some(app) => app,
            None => return,
        }
    };
}

// ---------------------------------------------------------------- 10d: 401s audited

#[tokio::test]
async fn refused_tokens_and_session_cookies_are_audited_without_the_token() {
    let app = app_or_skip!();
    let bogus = format!("rk_{}", "5a".repeat(32));
    let res = send(
        app.request(Method::GET, "/api/v1/patients")
            .bearer_auth(&bogus)
            .header("X-Request-Id", "req-401-bad-token"),
    )
    .await;
    res.assert_problem(401, None);
    send(app.request(Method::GET, "/api/v1/worklist"))
        .await
        .assert_problem(401, None);
    // The token endpoints answer 401 through the same check.
    send(
        app.request(Method::GET, "/api/v1/tokens")
            .bearer_auth("rk_nothing"),
    )
    .await
    .assert_problem(401, None);

    let refused = events(&app, "auth.bearer").await;
    let details: Vec<_> = refused
        .iter()
        .map(|e| e.detail.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        details,
        [
            "unauthenticated: invalid_token",
            "unauthenticated: no_token",
            "unauthenticated: invalid_token"
        ]
    );
    for e in &refused {
        assert_eq!(e.outcome, "denied");
        assert_eq!(e.client_addr.as_deref(), Some("127.0.0.1"));
        assert!(e.request_id.is_some());
        assert!(e.practitioner_id.is_none());
    }
    assert_eq!(refused[0].request_id.as_deref(), Some("req-401-bad-token"));
    // The token value is stored nowhere in the audit log.
    let leaked = app
        .db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%{bogus}%' \
             OR resource_id LIKE '%{bogus}%' OR request_id LIKE '%{bogus}%'"
        ))
        .await;
    assert_eq!(leaked, 0);

    // A browser whose session cookie opens no session is sent to log in, audited.
    let b = Browser::new(&app);
    b.set_cookie("renkei_session", &"A".repeat(43)).await;
    let page = b.get("/worklist").await;
    page.assert_status(303);
    assert_eq!(page.location(), Some("/login?expired=1"));
    let session = events(&app, "auth.session").await;
    assert_eq!(session.len(), 1);
    assert_eq!(session[0].outcome, "denied");
    assert_eq!(
        session[0].detail.as_deref(),
        Some("unauthenticated: invalid_session")
    );
    assert_eq!(session[0].client_addr.as_deref(), Some("127.0.0.1"));
    assert!(
        !session[0]
            .detail
            .clone()
            .unwrap_or_default()
            .contains("AAAA")
    );
}

#[tokio::test]
async fn a_flood_of_refused_tokens_audits_a_bounded_number() {
    let app = app_or_skip!();
    let limit = renkei_service::auth::UNAUTHENTICATED_AUDIT_LIMIT as usize;
    for _ in 0..limit + 20 {
        app.get("/api/v1/patients", "rk_flood")
            .await
            .assert_status(401);
    }
    assert_eq!(events(&app, "auth.bearer").await.len(), limit);
}

// ---------------------------------------------------------------- 10e: lockout per address

fn behind_local_proxy() -> Security {
    Security {
        trusted_proxies: Security::parse_trusted_proxies("127.0.0.1").expect("proxy"),
        ..TestApp::test_security()
    }
}

#[tokio::test]
async fn bad_logins_from_one_address_do_not_lock_the_owner_out_at_another() {
    let app = app_with_or_skip!(behind_local_proxy());
    web_user(&app, "acute-1", "acute_hospital", "sato").await;
    let attacker = Browser::new(&app).with_header("x-forwarded-for", "198.51.100.66");
    for _ in 0..renkei_service::auth::LOCKOUT_AFTER {
        attacker.try_login("sato", WRONG).await.assert_status(401);
    }
    // Locked for the attacker's address, even with the right password …
    attacker
        .try_login("sato", PASSWORD)
        .await
        .assert_status(429);
    // … but not for sato at the hospital.
    let owner = Browser::new(&app).with_header("x-forwarded-for", "203.0.113.10");
    owner.login("sato", PASSWORD).await;

    let lockouts = events(&app, "login.lockout").await;
    assert_eq!(lockouts.len(), 1);
    assert_eq!(lockouts[0].client_addr.as_deref(), Some("198.51.100.66"));
    let ok = events(&app, "login.password").await;
    let last = ok.last().expect("login events");
    assert_eq!(last.outcome, "allowed");
    assert_eq!(last.client_addr.as_deref(), Some("203.0.113.10"));
}

#[tokio::test]
async fn x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    // The default: no trusted proxy. The test client connects from 127.0.0.1.
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "tanaka").await;
    let attacker = Browser::new(&app).with_header("x-forwarded-for", "198.51.100.66");
    for _ in 0..renkei_service::auth::LOCKOUT_AFTER {
        attacker.try_login("tanaka", WRONG).await.assert_status(401);
    }
    // Claiming another address does not escape the lockout of the real one …
    let claims_other = Browser::new(&app).with_header("x-forwarded-for", "203.0.113.10");
    claims_other
        .try_login("tanaka", PASSWORD)
        .await
        .assert_status(429);
    // … and the audit log records the socket's address, not the claim.
    let logins = events(&app, "login.password").await;
    assert!(!logins.is_empty());
    for e in &logins {
        assert_eq!(e.client_addr.as_deref(), Some("127.0.0.1"), "{e:?}");
    }
    // The same through the API's audit events.
    let token = app.token().await;
    send(
        app.request(
            Method::GET,
            &format!("/api/v1/care-plans/{}", uuid::Uuid::now_v7()),
        )
        .bearer_auth(&token)
        .header("x-forwarded-for", "198.51.100.66"),
    )
    .await
    .assert_status(404);
    let denied = events(&app, "care_plan.read").await;
    assert_eq!(
        denied.last().and_then(|e| e.client_addr.as_deref()),
        Some("127.0.0.1")
    );
}

// ---------------------------------------------------------------- 10g: demo tokens

const DEMO_TOKEN: &str = "rk_demo_acute1_0000000000000000000000000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_tokens_are_refused_unless_the_server_runs_in_demo_mode() {
    let app = app_with_or_skip!(Security {
        demo: false,
        ..TestApp::test_security()
    });
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    app.get("/api/v1/worklist", DEMO_TOKEN)
        .await
        .assert_problem(401, None);
    // An ordinary token of the same database works.
    let token = app.token().await;
    app.get("/api/v1/worklist", &token).await.assert_status(200);

    // The test server's default is demo mode (like `serve --demo`): accepted there.
    let demo = app_or_skip!();
    renkei_service::demo::load(&demo.services)
        .await
        .expect("demo region");
    demo.get("/api/v1/worklist", DEMO_TOKEN)
        .await
        .assert_status(200);
}

// ---------------------------------------------------------------- 10h, 10k: TOTP

fn secret_of(page: &Page) -> (String, Vec<u8>) {
    let start = page.text.find("secret=").expect("otpauth URI") + "secret=".len();
    let end = page.text[start..].find('&').expect("end of secret") + start;
    let b32 = page.text[start..end].to_owned();
    let raw = totp::base32_decode(&b32).expect("base32 secret");
    (b32, raw)
}

/// The TOTP step the server is in, by its clock.
fn step_now(app: &TestApp) -> i64 {
    totp::step_at(app.services.now().timestamp())
}

/// Logs in with password and a TOTP code; returns where the code step sent us.
async fn login_with_totp(app: &TestApp, login: &str, code: &str) -> Page {
    let b = Browser::new(app);
    let first = b.try_login(login, PASSWORD).await;
    first.assert_status(303);
    assert_eq!(first.location(), Some("/login/totp"));
    let form = b.get("/login/totp").await;
    form.assert_status(200);
    b.post("/login/totp", &[("csrf", &form.csrf()), ("code", code)])
        .await
}

#[tokio::test]
async fn enrolment_asks_for_the_password_and_stores_the_secret_encrypted() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "nakamura").await;
    let b = Browser::new(&app);
    b.login("nakamura", PASSWORD).await;
    let page = b.get("/account/totp").await;
    page.assert_status(200);
    assert!(page.text.contains("name=\"password\""), "password field");
    let (b32, raw) = secret_of(&page);
    let csrf = page.csrf();

    // The pending secret is already stored sealed.
    let stored = practitioner(&app, "nakamura")
        .await
        .totp_secret
        .expect("pending");
    assert!(stored.starts_with("enc:dev:"), "{stored}");

    // A right code without the password, or with a wrong one, enables nothing.
    let code = totp::code_at(&raw, step_now(&app));
    b.post("/account/totp", &[("csrf", &csrf), ("code", &code)])
        .await
        .assert_status(422);
    let wrong = b
        .post(
            "/account/totp",
            &[("csrf", &csrf), ("password", WRONG), ("code", &code)],
        )
        .await;
    wrong.assert_status(422);
    assert!(
        wrong.text.contains("パスワードが正しくありません"),
        "{}",
        wrong.text
    );
    assert!(!practitioner(&app, "nakamura").await.totp_enabled);
    let denied = events(&app, "totp.enrol").await;
    assert!(
        denied
            .iter()
            .any(|e| e.outcome == "denied" && e.detail.as_deref() == Some("bad_password")),
        "{denied:?}"
    );

    // With the password: enabled.
    let code = totp::code_at(&raw, step_now(&app));
    b.post(
        "/account/totp",
        &[("csrf", &csrf), ("password", PASSWORD), ("code", &code)],
    )
    .await
    .assert_status(200);
    let p = practitioner(&app, "nakamura").await;
    assert!(p.totp_enabled);
    let stored = p.totp_secret.expect("secret");
    assert!(stored.starts_with("enc:dev:"), "{stored}");
    assert!(
        !stored.contains(&b32),
        "base32 secret in the column: {stored}"
    );
    assert!(
        !stored.to_uppercase().contains(&hex_upper(&raw)),
        "raw secret in the column"
    );

    // Login with TOTP still works (the next step: the enrolment used this one).
    let next = totp::code_at(&raw, step_now(&app) + 1);
    let done = login_with_totp(&app, "nakamura", &next).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location(), Some("/"));
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[tokio::test]
async fn a_secret_stored_in_plain_text_still_works_and_is_sealed_on_use() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "kimura").await;
    let raw = totp::new_secret();
    let b32 = totp::base32_encode(&raw);
    rows::edit_practitioner(
        &app.services.db,
        "kimura",
        rows::PractitionerEdit {
            totp_secret: Some(b32.clone()),
            totp_enabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .expect("plain-text secret from before");
    let done = login_with_totp(&app, "kimura", &totp::code_at(&raw, step_now(&app))).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location(), Some("/"));
    let stored = practitioner(&app, "kimura")
        .await
        .totp_secret
        .expect("secret");
    assert!(stored.starts_with("enc:dev:"), "{stored}");
    assert!(!stored.contains(&b32));
}

#[tokio::test]
async fn without_a_secret_key_enrolment_is_refused_with_a_clear_message() {
    let app = app_with_or_skip!(Security {
        secret_key: None,
        ..TestApp::test_security()
    });
    web_user(&app, "acute-1", "acute_hospital", "yamamoto").await;
    let b = Browser::new(&app);
    b.login("yamamoto", PASSWORD).await;
    let page = b.get("/account/totp").await;
    page.assert_status(409);
    assert!(
        page.text.contains("暗号化する鍵が設定されていない"),
        "{}",
        page.text
    );
    assert!(practitioner(&app, "yamamoto").await.totp_secret.is_none());
}

// ---------------------------------------------------------------- 10n: break-glass reason

#[tokio::test]
async fn a_break_glass_reason_counts_visible_characters_only() {
    let app = app_or_skip!();
    let a = app.token().await;
    let plan = stroke_plan(&app, &a, 2).await;
    let outsider = app.user_token("home-1", "home_nursing", "houmon-ns").await;
    let ask = |reason: &'static str| {
        let (app, outsider, plan) = (&app, outsider.clone(), plan.clone());
        async move {
            app.post_json(
                "/api/v1/break-glass",
                &outsider,
                &json!({"care_plan": plan, "reason": reason}),
                None,
            )
            .await
        }
    };
    for reason in [
        "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}",
        "急\u{200B}\u{200D}\u{2060}\u{FEFF}",
        "ab\u{3000}\u{3000}\u{3000}\u{3164}",
        "a\u{7}\u{1b}\u{200F}\u{202E}b",
        "e\u{301}\u{301}\u{301}\u{301}",
    ] {
        ask(reason).await.assert_problem(422, Some("reason"));
    }
    assert_eq!(
        app.db
            .query_i64("SELECT COUNT(*) FROM break_glass_grants")
            .await,
        0
    );
    ask("夜間救急搬送").await.assert_status(201);
}
