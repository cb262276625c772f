//! Logins for people, end to end over HTTP with a cookie-keeping client (issue 3 §6–7,
//! quality S5–S7, P10): password login and the first-login password change, wrong
//! passwords and lockout, the throttle answering 429 before any hashing, CSRF
//! rejection, session fixation, logout and replay, idle and absolute expiry, TOTP
//! (enrolment, window, replay, recovery codes, organisation-required enrolment), API
//! tokens; and an audit event for every login attempt.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use renkei_service::admin::{self, NewPractitioner};
use renkei_service::auth::{password, totp};
use renkei_testkit::{TestApp, rows};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode, redirect};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Starts a test app, or returns from the test when its PostgreSQL is unavailable
/// outside CI.
macro_rules! app_or_skip {
    () => {
        match TestApp::spawn().await {
            Some(app) => app,
            None => return,
        }
    };
}

const INITIAL: &str = "Shoki-Pass-2026";
const NEW_PASSWORD: &str = "tsukimi-dango-42";

// ---------------------------------------------------------------- a small browser

/// An HTTP client that keeps cookies like a browser (path `/`, no domain matching: one
/// server), never follows redirects, and asks for HTML.
#[derive(Clone)]
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Arc<Mutex<BTreeMap<String, String>>>,
    /// Extra headers on every request (e.g. `X-Forwarded-Proto`).
    extra: HeaderMap,
}

#[derive(Debug)]
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    set_cookies: Vec<String>,
    text: String,
}

impl Page {
    fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    fn assert_redirect(&self, to: &str) -> &Self {
        assert!(
            self.status == StatusCode::SEE_OTHER,
            "expected 303 to {to}, got {} {:?}; body: {}",
            self.status,
            self.location(),
            self.text
        );
        assert_eq!(self.location(), Some(to), "redirect target");
        self
    }

    #[track_caller]
    fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// The value of the hidden `csrf` field.
    #[track_caller]
    fn csrf(&self) -> String {
        field_value(&self.text, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `name="NAME" value="VALUE"` in a page.
fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.base_url.clone(),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Arc::default(),
            extra: HeaderMap::new(),
        }
    }

    async fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().await.get(name).cloned()
    }

    async fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .await
            .insert(name.to_owned(), value.to_owned());
    }

    async fn send(&self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .headers(self.extra.clone());
        let jar = self.cookies.lock().await.clone();
        if !jar.is_empty() {
            let cookie = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.header(header::COOKIE, cookie);
        }
        if let Some(form) = form {
            req = req.form(form);
        }
        let res = req.send().await.expect("HTTP request");
        let status = res.status();
        let headers = res.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        {
            let mut jar = self.cookies.lock().await;
            for c in &set_cookies {
                let pair = c.split(';').next().unwrap_or("");
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let removed = c.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
                if removed {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let text = res.text().await.expect("body");
        Page {
            status,
            headers,
            set_cookies,
            text,
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Opens the login form and submits it.
    async fn login(&self, login: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        form.assert_status(200);
        let csrf = form.csrf();
        self.post(
            "/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// The CSRF token of the page at `path`.
    async fn csrf_of(&self, path: &str) -> String {
        let page = self.get(path).await;
        page.assert_status(200);
        page.csrf()
    }

    async fn logout(&self) -> Page {
        let csrf = self.csrf_of("/worklist").await;
        self.post("/logout", &[("csrf", &csrf)]).await
    }
}

// ---------------------------------------------------------------- set-up and checks

/// A practitioner with a password at `acute-1`; `must_change` as given.
async fn user(app: &TestApp, login: &str, must_change: bool) {
    app.ensure_org("acute-1", "acute_hospital").await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: "acute-1".into(),
            login: login.into(),
            name: format!("佐藤 {login}"),
            profession: "nurse".into(),
            roles: Vec::new(),
            password: Some(INITIAL.into()),
        },
    )
    .await
    .expect("add practitioner");
    if !must_change {
        rows::edit_practitioner(
            &app.services.db,
            login,
            rows::PractitionerEdit {
                must_change_password: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("clear must_change_password");
    }
}

async fn practitioner(app: &TestApp, login: &str) -> rows::PractitionerRow {
    rows::practitioner(&app.services.db, login)
        .await
        .expect("query")
        .expect("practitioner exists")
}

/// Audit events whose action starts with `prefix`, in order.
async fn events(app: &TestApp, prefix: &str) -> Vec<rows::AuditRow> {
    rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .into_iter()
        .filter(|e| e.action.starts_with(prefix))
        .collect()
}

fn summary(events: &[rows::AuditRow]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.action.clone(),
                e.outcome.clone(),
                e.detail.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn ev(action: &str, outcome: &str, detail: &str) -> (String, String, String) {
    (action.into(), outcome.into(), detail.into())
}

async fn live_sessions(app: &TestApp) -> u64 {
    rows::sessions(&app.services.db)
        .await
        .expect("count sessions")
        .iter()
        .filter(|s| s.revoked_at.is_none())
        .count() as u64
}

/// The secret of the enrolment page (from its otpauth URI).
fn secret_of(page: &Page) -> Vec<u8> {
    let start = page.text.find("secret=").expect("otpauth URI") + "secret=".len();
    let end = page.text[start..].find('&').expect("end of secret") + start;
    totp::base32_decode(&page.text[start..end]).expect("base32 secret")
}

/// The TOTP step the server is in, by its clock.
fn step_now(app: &TestApp) -> i64 {
    totp::step_at(app.services.now().timestamp())
}

/// Moves the server's clock to the start of the next 30 s step, so a code computed now is
/// still judged against the same step when the server sees it.
fn fresh_step(app: &TestApp) {
    let into = app
        .services
        .now()
        .timestamp()
        .rem_euclid(totp::STEP_SECONDS);
    app.services
        .clock
        .advance(Duration::seconds(totp::STEP_SECONDS - into));
}

/// `<code>…</code>` contents of a page.
fn codes_of(html: &str) -> Vec<String> {
    html.split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn login_page_is_japanese_with_csrf_and_security_headers() {
    let app = app_or_skip!();
    let b = Browser::new(&app);
    let page = b.get("/login").await;
    page.assert_status(200);
    assert!(
        page.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(page.text.contains("<html lang=\"ja\">"));
    assert!(page.text.contains("ログインID"));
    assert!(page.text.contains("type=\"hidden\" name=\"csrf\""));
    assert!(!page.text.contains("<script"), "works without JavaScript");
    assert!(!page.text.contains("https://"), "no CDN");
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.header("referrer-policy").is_some());
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("strict-transport-security").is_none(),
        "no HSTS on plain HTTP"
    );
    let pre = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("renkei_pre="))
        .expect("pre-login cookie");
    assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Strict") && pre.contains("Path=/"));
    assert!(!pre.contains("Secure"));
    let css = b.get("/static/renkei.css").await;
    css.assert_status(200);
    assert!(css.text.contains("Hiragino Sans"));

    // Behind a TLS proxy: __Host- cookies, Secure, HSTS.
    let mut tls = Browser::new(&app);
    tls.extra
        .insert("x-forwarded-proto", "https".parse().expect("header"));
    let page = tls.get("/login").await;
    let pre = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-renkei_pre="))
        .expect("__Host- pre-login cookie over TLS");
    assert!(pre.contains("Secure"));
    assert!(page.header("strict-transport-security").is_some());
    user(&app, "tls-user", false).await;
    let res = tls.login("tls-user", INITIAL).await;
    res.assert_redirect("/");
    let session = res
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-renkei_session="))
        .expect("__Host- session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attr), "{attr} in {session}");
    }
    assert!(!session.contains("Domain"), "{session}");
    tls.get("/").await.assert_redirect("/worklist");
}

#[tokio::test]
async fn login_then_forced_password_change() {
    let app = app_or_skip!();
    user(&app, "sato", true).await;
    let b = Browser::new(&app);

    let res = b.login("sato", INITIAL).await;
    res.assert_redirect("/password");
    let cookie = res
        .set_cookies
        .iter()
        .find(|c| c.starts_with("renkei_session="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP loopback: no Secure");
    let token = b
        .cookie("renkei_session")
        .await
        .expect("session cookie kept");
    assert!(token.len() >= 43, "≥ 256 bits");
    assert!(
        b.cookie("renkei_pre").await.is_none(),
        "pre-login cookie dropped"
    );

    // Nothing else is reachable until the password is changed.
    b.get("/").await.assert_redirect("/password");
    let form = b.get("/password").await;
    form.assert_status(200);
    assert!(form.text.contains("初期パスワード"));
    let csrf = form.csrf();
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let b = b.clone();
        let csrf = csrf.clone();
        async move {
            b.post(
                "/password",
                &[
                    ("csrf", csrf.as_str()),
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm", confirm),
                ],
            )
            .await
        }
    };
    // Too short without two-factor (8 is enough only with TOTP).
    let r = change(INITIAL, "Kx7-mqv2", "Kx7-mqv2").await;
    r.assert_status(422);
    assert!(r.text.contains("13文字以上"), "{}", r.text);
    // One character class.
    change(INITIAL, "abcdefghijklmnop", "abcdefghijklmnop")
        .await
        .assert_status(422);
    // On the blocklist.
    let r = change(INITIAL, "Password2026!!", "Password2026!!").await;
    r.assert_status(422);
    assert!(r.text.contains("推測されやすい"));
    // Same as the old one.
    change(INITIAL, INITIAL, INITIAL).await.assert_status(422);
    // Confirmation differs.
    change(INITIAL, NEW_PASSWORD, "tsukimi-dango-43")
        .await
        .assert_status(422);
    // Wrong current password.
    let r = change("Wrong-Pass-2026", NEW_PASSWORD, NEW_PASSWORD).await;
    r.assert_status(422);
    assert!(r.text.contains("現在のパスワードが正しくありません"));
    b.get("/").await.assert_redirect("/password");

    change(INITIAL, NEW_PASSWORD, NEW_PASSWORD)
        .await
        .assert_redirect("/?password_changed=1");
    b.get("/").await.assert_redirect("/worklist");
    let home = b.get("/worklist?password_changed=1").await;
    home.assert_status(200);
    assert!(home.text.contains("パスワードを変更しました"));
    assert!(home.text.contains("佐藤 sato"));
    assert!(home.text.contains("acute-1 テスト施設"));
    assert!(home.text.contains("action=\"/logout\""));
    let p = practitioner(&app, "sato").await;
    assert!(!p.must_change_password);
    assert!(p.password_changed_at.is_some());
    assert!(
        p.password_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
    );

    b.logout().await.assert_redirect("/login?logged_out=1");
    let b = Browser::new(&app);
    b.login("sato", INITIAL).await.assert_status(401);
    b.login("sato", NEW_PASSWORD).await.assert_redirect("/");

    let changes = summary(&events(&app, "password.change").await);
    assert_eq!(changes.iter().filter(|e| e.1 == "denied").count(), 6);
    assert_eq!(changes.iter().filter(|e| e.1 == "allowed").count(), 1);
    let logins = summary(&events(&app, "login.password").await);
    assert_eq!(
        logins,
        vec![
            ev("login.password", "allowed", "ok"),
            ev("login.password", "denied", "bad_password"),
            ev("login.password", "allowed", "ok"),
        ]
    );
    assert_eq!(summary(&events(&app, "logout").await).len(), 1);
}

#[tokio::test]
async fn weaker_hashes_are_upgraded_at_login() {
    let app = app_or_skip!();
    user(&app, "old-hash", false).await;
    // An argon2id hash at m=8 MiB, t=1 (from before the parameters were raised).
    let weak_hash = password::hash_with_params(INITIAL, 8 * 1024, 1).expect("weak hash");
    assert!(weak_hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
    rows::edit_practitioner(
        &app.services.db,
        "old-hash",
        rows::PractitionerEdit {
            password_hash: Some(weak_hash.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("store weak hash");
    Browser::new(&app)
        .login("old-hash", INITIAL)
        .await
        .assert_redirect("/");
    let stored = practitioner(&app, "old-hash")
        .await
        .password_hash
        .expect("hash");
    assert_ne!(stored, weak_hash);
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let last = events(&app, "login.password").await;
    assert_eq!(
        last.last().and_then(|e| e.detail.clone()).as_deref(),
        Some("ok; rehashed")
    );
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_after_five() {
    let app = app_or_skip!();
    user(&app, "suzuki", false).await;
    let b = Browser::new(&app);
    for i in 1..=5 {
        let r = b.login("suzuki", "Wrong-Pass-2026").await;
        r.assert_status(401);
        assert!(
            r.text
                .contains("ログインIDまたはパスワードが正しくありません"),
            "attempt {i}"
        );
    }
    // The failures are counted; the lockout holds for this address (the throttle), not
    // for the account everywhere (see auth_hardening).
    let p = practitioner(&app, "suzuki").await;
    assert_eq!(p.failed_logins, 5);

    // Locked: even the right password is refused, without hashing, with Retry-After.
    let r = b.login("suzuki", INITIAL).await;
    r.assert_status(429);
    let retry: i64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((60..=15 * 60 + 1).contains(&retry), "{retry}");
    assert!(r.text.contains("一時的にログインできません"));
    assert_eq!(live_sessions(&app).await, 0);

    let logins = summary(&events(&app, "login.").await);
    let mut expected = vec![ev("login.password", "denied", "bad_password"); 5];
    expected.push(ev(
        "login.lockout",
        "denied",
        "5 failures from this address; locked there for 15 min",
    ));
    expected.push(ev("login.password", "denied", "throttled:login"));
    assert_eq!(logins, expected);

    // Sixteen minutes later (on the service clock): the lock and the window are over.
    app.services.clock.advance(Duration::minutes(16));
    b.login("suzuki", INITIAL).await.assert_redirect("/");
    let p = practitioner(&app, "suzuki").await;
    assert_eq!(p.failed_logins, 0);
    assert!(p.locked_until.is_none());
}

#[tokio::test]
async fn unknown_logins_look_like_wrong_passwords() {
    let app = app_or_skip!();
    user(&app, "tanaka", false).await;
    let b = Browser::new(&app);
    let unknown = b.login("nobody", "Wrong-Pass-2026").await;
    let wrong = b.login("tanaka", "Wrong-Pass-2026").await;
    unknown.assert_status(401);
    wrong.assert_status(401);
    let msg = |p: &Page| {
        p.text
            .contains("ログインIDまたはパスワードが正しくありません")
    };
    assert!(msg(&unknown) && msg(&wrong));
    // Full-width and upper-case input is the same login.
    b.login("ＴＡＮＡＫＡ", INITIAL).await.assert_redirect("/");
    let logins = summary(&events(&app, "login.password").await);
    assert_eq!(
        logins,
        vec![
            ev("login.password", "denied", "unknown_login"),
            ev("login.password", "denied", "bad_password"),
            ev("login.password", "allowed", "ok"),
        ]
    );
    let first = &events(&app, "login.password").await[0];
    assert!(first.practitioner_id.is_none());
    assert_eq!(first.client_addr.as_deref(), Some("127.0.0.1"));
    assert!(first.request_id.is_some());
}

/// P10: 1,000 bad logins from one address → ≥ 99 % answered 429, before any hashing.
#[tokio::test]
async fn a_thousand_bad_logins_from_one_address_are_throttled_before_hashing() {
    // Served behind a reverse proxy on this machine, so another client can be told
    // apart by the X-Forwarded-For the proxy adds (only a configured proxy's counts).
    let Some(app) = TestApp::spawn_with(renkei_service::Security {
        trusted_proxies: renkei_service::Security::parse_trusted_proxies("127.0.0.1")
            .expect("proxy"),
        ..TestApp::test_security()
    })
    .await
    else {
        return;
    };
    let b = Browser::new(&app);
    let csrf = b.csrf_of("/login").await;
    const N: usize = 1000;
    const PARALLEL: usize = 16;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..PARALLEL {
        let (b, csrf, next) = (b.clone(), csrf.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= N {
                    break;
                }
                // A different login each time: only the per-address limit applies.
                let login = format!("ghost-{i}");
                let r = b
                    .post(
                        "/login",
                        &[
                            ("login", login.as_str()),
                            ("password", "guess-123456"),
                            ("csrf", csrf.as_str()),
                        ],
                    )
                    .await;
                out.push((r.status.as_u16(), r.header("retry-after").is_some()));
            }
            out
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.expect("task"));
    }
    assert_eq!(answers.len(), N);
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    let rejected = answers.iter().filter(|(s, _)| *s == 401).count();
    assert_eq!(throttled + rejected, N, "only 401 and 429: {answers:?}");
    assert!(
        throttled * 100 >= N * 99,
        "{throttled} of {N} answered 429 (need ≥ 99 %)"
    );
    assert!(
        answers.iter().all(|(s, r)| *s != 429 || *r),
        "429 without Retry-After"
    );

    // Hashing happened only for the attempts that were not throttled: the audit log
    // records every attempt, and only `unknown_login` ones got as far as argon2.
    let logins = events(&app, "login.password").await;
    assert_eq!(logins.len(), N, "one audit event per attempt");
    let hashed = logins
        .iter()
        .filter(|e| e.detail.as_deref() == Some("unknown_login"))
        .count();
    let before_hashing = logins
        .iter()
        .filter(|e| e.detail.as_deref() == Some("throttled:address"))
        .count();
    assert_eq!(hashed, rejected);
    assert_eq!(before_hashing, throttled);
    assert!(hashed <= 10, "{hashed} attempts reached argon2");
    println!("P10: {throttled}/{N} answered 429 before hashing; {hashed} hashed");

    // Another client (behind the local reverse proxy) is not affected.
    let mut other = Browser::new(&app);
    other
        .extra
        .insert("x-forwarded-for", "192.0.2.7".parse().expect("header"));
    user(&app, "kato", false).await;
    other.login("kato", INITIAL).await.assert_redirect("/");
    let last = events(&app, "login.password").await;
    assert_eq!(
        last.last().and_then(|e| e.client_addr.clone()).as_deref(),
        Some("192.0.2.7")
    );
}

/// A flood of login posts that do not even carry the form token is throttled too.
#[tokio::test]
async fn login_floods_without_the_form_token_are_throttled_as_well() {
    let app = app_or_skip!();
    let mut statuses = Vec::new();
    for i in 0..40 {
        let res = app
            .request(Method::POST, "/login")
            .header(header::ACCEPT, "application/json")
            .form(&[("login", format!("ghost-{i}")), ("password", "x".into())])
            .send()
            .await
            .expect("request");
        if res.status() == 429 {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[403; 10]);
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    let logins = summary(&events(&app, "login.password").await);
    assert_eq!(logins.len(), 40, "every attempt audited");
    assert_eq!(logins.iter().filter(|e| e.2 == "csrf").count(), 10);
    assert_eq!(
        logins.iter().filter(|e| e.2 == "throttled:address").count(),
        30
    );
}

#[tokio::test]
async fn form_posts_without_the_csrf_token_are_refused() {
    let app = app_or_skip!();
    user(&app, "ito", false).await;
    let b = Browser::new(&app);
    let csrf = b.csrf_of("/login").await;
    let creds = |token: Option<&'static str>| {
        let mut f = vec![("login", "ito"), ("password", INITIAL)];
        if let Some(t) = token {
            f.push(("csrf", t));
        }
        f
    };
    // No token, a wrong token.
    b.post("/login", &creds(None)).await.assert_status(403);
    b.post("/login", &creds(Some("not-the-token")))
        .await
        .assert_status(403);
    // The right token but another browser (no pre-login cookie).
    let stranger = Browser::new(&app);
    stranger
        .post(
            "/login",
            &[("login", "ito"), ("password", INITIAL), ("csrf", &csrf)],
        )
        .await
        .assert_status(403);
    // The right token from a cross-site form.
    let mut evil = b.clone();
    evil.extra.insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("header"),
    );
    evil.post(
        "/login",
        &[("login", "ito"), ("password", INITIAL), ("csrf", &csrf)],
    )
    .await
    .assert_status(403);
    // A JSON client gets problem+json.
    let res = app
        .request(Method::POST, "/login")
        .header(header::ACCEPT, "application/json")
        .form(&[("login", "ito"), ("password", INITIAL)])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .starts_with("application/problem+json")
    );
    assert_eq!(live_sessions(&app).await, 0, "nothing changed");
    let p = practitioner(&app, "ito").await;
    assert_eq!(p.failed_logins, 0);

    // Logged in: logout needs the session's token.
    b.login("ito", INITIAL).await.assert_redirect("/");
    let session_csrf = b.csrf_of("/worklist").await;
    b.post("/logout", &[]).await.assert_status(403);
    b.post("/logout", &[("csrf", csrf.as_str())])
        .await
        .assert_status(403);
    let mut evil = b.clone();
    evil.extra
        .insert("sec-fetch-site", "cross-site".parse().expect("header"));
    evil.post("/logout", &[("csrf", session_csrf.as_str())])
        .await
        .assert_status(403);
    b.get("/").await.assert_redirect("/worklist");
    assert_eq!(live_sessions(&app).await, 1, "still logged in");
    b.post("/logout", &[("csrf", session_csrf.as_str())])
        .await
        .assert_redirect("/login?logged_out=1");
    assert_eq!(live_sessions(&app).await, 0);

    let refused = summary(&events(&app, "").await)
        .into_iter()
        .filter(|e| e.2 == "csrf")
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 8, "{refused:?}");
    assert_eq!(
        refused.iter().filter(|e| e.0 == "login.password").count(),
        5
    );
    assert_eq!(refused.iter().filter(|e| e.0 == "logout").count(), 3);
}

/// Header names and values of one request.
type Headers = Vec<(&'static str, String)>;

/// The one cross-site rule of every HTML form, over HTTP, on a clinical form (the
/// login steps' forms are above): each case either refused 403 before the form is read,
/// or let through to the page (a 404 for a care plan that does not exist). The
/// `X-Forwarded-Host` cases run once on a server with no trusted proxy and once behind
/// a trusted proxy on this machine.
#[tokio::test]
async fn every_form_follows_one_cross_site_rule() {
    let Some(proxied) = TestApp::spawn_with(renkei_service::Security {
        trusted_proxies: renkei_service::Security::parse_trusted_proxies("127.0.0.1")
            .expect("proxy"),
        ..TestApp::test_security()
    })
    .await
    else {
        return;
    };
    let app = app_or_skip!();
    let own = app.base_url.clone();
    let own_proxied = proxied.base_url.clone();
    let form = format!("/care-plans/{}/entries/review", uuid::Uuid::now_v7());
    // (case, headers, behind the trusted proxy, refused)
    #[rustfmt::skip]
    let cases: Vec<(&str, Headers, bool, bool)> = vec![
        ("no Origin, no Fetch metadata", vec![], false, false),
        ("Origin of this server", vec![("origin", own.clone())], false, false),
        ("Origin of another site", vec![("origin", "https://evil.example".into())], false, true),
        ("cross-site", vec![("sec-fetch-site", "cross-site".into())], false, true),
        ("same-site", vec![("sec-fetch-site", "same-site".into())], false, true),
        ("same-origin with this server's Origin", vec![("sec-fetch-site", "same-origin".into()), ("origin", own.clone())], false, false),
        ("same-origin with another site's Origin", vec![("sec-fetch-site", "same-origin".into()), ("origin", "https://evil.example".into())], false, true),
        ("Origin null alone", vec![("origin", "null".into())], false, true),
        ("Origin null, same-origin", vec![("origin", "null".into()), ("sec-fetch-site", "same-origin".into())], false, false),
        ("Origin null, cross-site", vec![("origin", "null".into()), ("sec-fetch-site", "cross-site".into())], false, true),
        ("X-Forwarded-Host from a client", vec![("x-forwarded-host", "renkei.example.jp".into()), ("origin", "http://renkei.example.jp".into())], false, true),
        ("X-Forwarded-Host from the trusted proxy", vec![("x-forwarded-host", "renkei.example.jp".into()), ("origin", "http://renkei.example.jp".into())], true, false),
        ("behind the proxy, another site", vec![("x-forwarded-host", "renkei.example.jp".into()), ("origin", "https://evil.example".into())], true, true),
        ("behind the proxy, the host as reached", vec![("x-forwarded-host", "renkei.example.jp".into()), ("origin", own_proxied.clone())], true, false),
    ];
    let mut browsers = Vec::new();
    for server in [&app, &proxied] {
        user(server, "ito", false).await;
        let b = Browser::new(server);
        b.login("ito", INITIAL).await.assert_redirect("/");
        let csrf = b.csrf_of("/worklist").await;
        browsers.push((b, csrf));
    }
    let mut refusals = [0, 0];
    for (case, headers, behind_proxy, refused) in &cases {
        let (b, csrf) = &browsers[usize::from(*behind_proxy)];
        let mut b = b.clone();
        for (name, value) in headers {
            b.extra.insert(
                header::HeaderName::from_static(name),
                value.parse().expect("header"),
            );
        }
        let res = b.post(&form, &[("csrf", csrf.as_str())]).await;
        let want = if *refused { 403 } else { 404 };
        assert_eq!(res.status.as_u16(), want, "{case}: {}", res.text);
        if *refused {
            refusals[usize::from(*behind_proxy)] += 1;
            assert!(
                res.text.contains("他のサイトから送信されたフォーム"),
                "{case}"
            );
        }
    }
    for (i, server) in [&app, &proxied].into_iter().enumerate() {
        let audited = summary(&events(server, "form.post").await)
            .into_iter()
            .filter(|e| e.1 == "denied" && e.2 == "csrf")
            .count();
        assert_eq!(audited, refusals[i], "every refusal audited");
    }
}

#[tokio::test]
async fn a_cookie_planted_before_login_is_not_the_session_after_it() {
    let app = app_or_skip!();
    user(&app, "victim", false).await;
    user(&app, "attacker", false).await;

    // A made-up value.
    let b = Browser::new(&app);
    let planted = "A".repeat(43);
    b.set_cookie("renkei_session", &planted).await;
    b.login("victim", INITIAL).await.assert_redirect("/");
    let after = b.cookie("renkei_session").await.expect("session");
    assert_ne!(after, planted);

    // The attacker's own real session, planted in the victim's browser.
    let attacker = Browser::new(&app);
    attacker
        .login("attacker", INITIAL)
        .await
        .assert_redirect("/");
    let attacker_cookie = attacker.cookie("renkei_session").await.expect("session");
    let victim = Browser::new(&app);
    let csrf = victim.csrf_of("/login").await;
    victim.set_cookie("renkei_session", &attacker_cookie).await;
    victim
        .post(
            "/login",
            &[("login", "victim"), ("password", INITIAL), ("csrf", &csrf)],
        )
        .await
        .assert_redirect("/");
    let victim_cookie = victim.cookie("renkei_session").await.expect("session");
    assert_ne!(victim_cookie, attacker_cookie, "the id changes at login");
    victim.get("/").await.assert_redirect("/worklist");
    let home = victim.get("/worklist").await;
    home.assert_status(200);
    assert!(home.text.contains("佐藤 victim"));
    // The planted session was revoked by the login: it is no one's session now.
    attacker.get("/").await.assert_redirect("/login?expired=1");
    // And a stale cookie replayed in a fresh browser gets nothing either.
    let replay = Browser::new(&app);
    replay.set_cookie("renkei_session", &planted).await;
    replay.get("/").await.assert_redirect("/login?expired=1");
}

#[tokio::test]
async fn after_logout_the_old_cookie_is_worthless() {
    let app = app_or_skip!();
    user(&app, "yamada", false).await;
    let b = Browser::new(&app);
    b.login("yamada", INITIAL).await.assert_redirect("/");
    let old = b.cookie("renkei_session").await.expect("cookie");
    let res = b.logout().await;
    res.assert_redirect("/login?logged_out=1");
    assert!(
        res.set_cookies
            .iter()
            .any(|c| c.starts_with("renkei_session=;")
                || c.starts_with("renkei_session=\"\"")
                || c.contains("Max-Age=0")),
        "cookie cleared: {:?}",
        res.set_cookies
    );
    let replay = Browser::new(&app);
    replay.set_cookie("renkei_session", &old).await;
    replay.get("/").await.assert_redirect("/login?expired=1");
    // Posting with the old cookie changes nothing either.
    replay
        .post("/logout", &[("csrf", "x")])
        .await
        .assert_redirect("/login");
    let logout = summary(&events(&app, "logout").await);
    assert_eq!(logout, vec![ev("logout", "allowed", "")]);
}

#[tokio::test]
async fn sessions_end_after_thirty_idle_minutes_and_twelve_hours() {
    let app = app_or_skip!();
    user(&app, "kimura", false).await;
    let b = Browser::new(&app);
    b.login("kimura", INITIAL).await.assert_redirect("/");
    let row = rows::sessions(&app.services.db)
        .await
        .expect("query")
        .into_iter()
        .next()
        .expect("session row");
    assert_eq!(row.expires_at - row.created_at, Duration::hours(12));
    let token = b.cookie("renkei_session").await.expect("cookie");
    assert_ne!(row.token_hash, token, "only the hash is stored");

    // The service clock moves; the session rows stay as the server wrote them.
    let clock = &app.services.clock;
    // 29 idle minutes: still in.
    clock.advance(Duration::minutes(29));
    b.get("/").await.assert_redirect("/worklist");
    // Activity moved last_seen_at forward.
    let seen = rows::sessions(&app.services.db)
        .await
        .expect("query")
        .into_iter()
        .next()
        .expect("row")
        .last_seen_at;
    assert!(seen > app.services.now() - Duration::minutes(1));
    // 31 idle minutes: out.
    clock.advance(Duration::minutes(31));
    b.get("/").await.assert_redirect("/login?expired=1");

    // Absolute limit: active all along (never 30 minutes idle), but 12 hours are over.
    let b = Browser::new(&app);
    b.login("kimura", INITIAL).await.assert_redirect("/");
    let started = app.services.now();
    while app.services.now() + Duration::minutes(29) < started + Duration::hours(12) {
        clock.advance(Duration::minutes(29));
        b.get("/").await.assert_redirect("/worklist");
    }
    clock.advance(Duration::minutes(29));
    b.get("/").await.assert_redirect("/login?expired=1");
}

#[tokio::test]
async fn totp_enrolment_window_replay_and_recovery_codes() {
    let app = app_or_skip!();
    user(&app, "nakamura", false).await;
    let b = Browser::new(&app);
    b.login("nakamura", INITIAL).await.assert_redirect("/");

    // Enrol: QR code (inline SVG) and otpauth URI; the secret stays until confirmed.
    let page = b.get("/account/totp").await;
    page.assert_status(200);
    assert!(page.text.contains("<svg role=\"img\""));
    assert!(
        page.text
            .contains("otpauth://totp/Renkei:nakamura%40acute-1?secret=")
    );
    let secret = secret_of(&page);
    assert_eq!(secret_of(&b.get("/account/totp").await), secret);
    let csrf = page.csrf();
    b.post(
        "/account/totp",
        &[("csrf", &csrf), ("password", INITIAL), ("code", "000000")],
    )
    .await
    .assert_status(422);
    fresh_step(&app);
    let code = totp::code_at(&secret, step_now(&app));
    let done = b
        .post(
            "/account/totp",
            &[("csrf", &csrf), ("password", INITIAL), ("code", &code)],
        )
        .await;
    done.assert_status(200);
    let recovery = codes_of(&done.text);
    assert_eq!(recovery.len(), 10, "{}", done.text);
    let p = practitioner(&app, "nakamura").await;
    assert!(p.totp_enabled);
    assert!(
        !p.recovery_codes
            .clone()
            .unwrap_or_default()
            .contains(&recovery[0]),
        "recovery codes are stored hashed"
    );
    // The session was rotated at enrolment; the page keeps working.
    b.get("/").await.assert_redirect("/worklist");
    b.logout().await;

    // Pretend enrolment was long ago, so earlier steps are not "already used".
    let long_ago = step_now(&app) - 100;
    rows::edit_practitioner(
        &app.services.db,
        "nakamura",
        rows::PractitionerEdit {
            totp_last_step: Some(long_ago),
            ..Default::default()
        },
    )
    .await
    .expect("age the last step");

    // Login now needs the second factor; the half-done session gives no access.
    let b = Browser::new(&app);
    b.login("nakamura", INITIAL)
        .await
        .assert_redirect("/login/totp");
    let half = b.cookie("renkei_session").await.expect("cookie");
    b.get("/").await.assert_redirect("/login/totp");
    b.get("/password").await.assert_redirect("/login/totp");
    b.get("/account/totp").await.assert_redirect("/login/totp");
    let csrf = b.csrf_of("/login/totp").await;
    fresh_step(&app);
    let now = step_now(&app);
    // Two steps ago: outside the ±1 window.
    b.post(
        "/login/totp",
        &[("csrf", &csrf), ("code", &totp::code_at(&secret, now - 2))],
    )
    .await
    .assert_status(401);
    // The previous step: accepted (clock drift, slow typing).
    let prev = totp::code_at(&secret, now - 1);
    b.post("/login/totp", &[("csrf", &csrf), ("code", &prev)])
        .await
        .assert_redirect("/");
    let full = b.cookie("renkei_session").await.expect("cookie");
    assert_ne!(
        full, half,
        "the session id changes when the second factor is done"
    );
    b.get("/").await.assert_redirect("/worklist");
    let stale = Browser::new(&app);
    stale.set_cookie("renkei_session", &half).await;
    stale.get("/").await.assert_redirect("/login?expired=1");
    b.logout().await;

    // The same code again: refused (each step once), then the current one: accepted.
    let b = Browser::new(&app);
    b.login("nakamura", INITIAL)
        .await
        .assert_redirect("/login/totp");
    let csrf = b.csrf_of("/login/totp").await;
    b.post("/login/totp", &[("csrf", &csrf), ("code", &prev)])
        .await
        .assert_status(401);
    fresh_step(&app);
    let current = totp::code_at(&secret, step_now(&app));
    b.post("/login/totp", &[("csrf", &csrf), ("code", &current)])
        .await
        .assert_redirect("/");
    b.logout().await;

    // The current code once more, in a new login within the same step: refused.
    let b = Browser::new(&app);
    b.login("nakamura", INITIAL)
        .await
        .assert_redirect("/login/totp");
    let csrf = b.csrf_of("/login/totp").await;
    if totp::code_at(&secret, step_now(&app)) == current {
        b.post("/login/totp", &[("csrf", &csrf), ("code", &current)])
            .await
            .assert_status(401);
    }
    // A recovery code works once (typed in upper case with spaces, too).
    let typed = recovery[3].to_uppercase().replace('-', " ");
    b.post("/login/totp", &[("csrf", &csrf), ("code", &typed)])
        .await
        .assert_redirect("/");
    b.logout().await;
    let b = Browser::new(&app);
    b.login("nakamura", INITIAL)
        .await
        .assert_redirect("/login/totp");
    let csrf = b.csrf_of("/login/totp").await;
    b.post("/login/totp", &[("csrf", &csrf), ("code", &recovery[3])])
        .await
        .assert_status(401);
    b.post("/login/totp", &[("csrf", &csrf), ("code", &recovery[4])])
        .await
        .assert_redirect("/");
    let page = b.get("/account/totp").await;
    assert!(page.text.contains("残り 8 個"), "{}", page.text);

    let totp_events = summary(&events(&app, "login.totp").await);
    let allowed: Vec<&str> = totp_events
        .iter()
        .filter(|e| e.1 == "allowed")
        .map(|e| e.2.as_str())
        .collect();
    assert_eq!(allowed, ["totp", "totp", "recovery_code", "recovery_code"]);
    let denied = totp_events.iter().filter(|e| e.1 == "denied").count();
    assert!((3..=4).contains(&denied), "{totp_events:?}");
    let enrol = summary(&events(&app, "totp.enrol").await);
    assert_eq!(
        enrol,
        vec![
            ev("totp.enrol", "denied", "bad_code"),
            ev("totp.enrol", "allowed", "enabled")
        ]
    );
}

#[tokio::test]
async fn an_organisation_can_require_two_factor() {
    let app = app_or_skip!();
    user(&app, "mori", true).await;
    rows::edit_organization(
        &app.services.db,
        "acute-1",
        rows::OrganizationEdit {
            require_totp: Some(true),
            ..Default::default()
        },
    )
    .await
    .expect("require TOTP");
    let b = Browser::new(&app);
    // Enrolment comes before everything, even the password change.
    b.login("mori", INITIAL)
        .await
        .assert_redirect("/account/totp");
    b.get("/").await.assert_redirect("/account/totp");
    b.get("/password").await.assert_redirect("/account/totp");
    let page = b.get("/account/totp").await;
    assert!(page.text.contains("二要素認証が必須"));
    let secret = secret_of(&page);
    fresh_step(&app);
    let code = totp::code_at(&secret, step_now(&app));
    let done = b
        .post(
            "/account/totp",
            &[
                ("csrf", &page.csrf()),
                ("password", INITIAL),
                ("code", &code),
            ],
        )
        .await;
    done.assert_status(200);
    assert!(
        done.text.contains("href=\"/password\""),
        "next: the password"
    );
    b.get("/").await.assert_redirect("/password");
    // With two-factor on, 8 characters are enough.
    let csrf = b.csrf_of("/password").await;
    b.post(
        "/password",
        &[
            ("csrf", csrf.as_str()),
            ("current_password", INITIAL),
            ("new_password", "Kx7-mqv2"),
            ("confirm", "Kx7-mqv2"),
        ],
    )
    .await
    .assert_redirect("/?password_changed=1");
    b.get("/").await.assert_redirect("/worklist");

    // A user of that organisation who already has TOTP goes to the second step.
    b.logout().await;
    let b = Browser::new(&app);
    b.login("mori", "Kx7-mqv2")
        .await
        .assert_redirect("/login/totp");
}

#[tokio::test]
async fn api_tokens_are_scoped_expiring_listed_and_revocable() {
    let app = app_or_skip!();
    let admin_token = app.token().await; // CLI-issued: legacy scope "api"
    let other_token = app.token().await;

    let list = app.get("/api/v1/tokens", &admin_token).await;
    list.assert_status(200);
    assert_eq!(list.body["tokens"].as_array().map(Vec::len), Some(1));
    assert!(!list.text.contains(&admin_token));

    let issued = app
        .post_json(
            "/api/v1/tokens",
            &admin_token,
            &json!({"label": "連携バッチ", "scopes": ["read"], "expires_in_days": 30}),
            None,
        )
        .await;
    issued.assert_status(201);
    let read_token = issued.body["token"].as_str().expect("secret").to_owned();
    let id = issued.body["id"].as_str().expect("id").to_owned();
    assert_eq!(issued.body["scopes"], json!(["read"]));
    assert_eq!(issued.body["label"], "連携バッチ");
    let expires = issued.body["expires_at"].as_str().expect("expires_at");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).expect("RFC 3339");
    let days = (expires.with_timezone(&Utc) - app.services.now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");

    let list = app.get("/api/v1/tokens", &admin_token).await;
    let tokens = list.body["tokens"].as_array().expect("tokens").clone();
    assert_eq!(tokens.len(), 2);
    assert!(!list.text.contains(&read_token), "never the secret");
    assert!(tokens.iter().all(|t| t.get("token").is_none()));
    let mine: &Value = tokens
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("listed");
    assert!(mine["revoked_at"].is_null());
    assert!(mine["created_at"].is_string());

    // The read token reads, but may not write or manage tokens.
    app.get("/api/v1/pathways", &read_token)
        .await
        .assert_status(200);
    app.post_json(
        "/api/v1/organizations",
        &read_token,
        &json!({"code": "x-1", "name": "x", "kind": "clinic", "area": "千葉"}),
        None,
    )
    .await
    .assert_problem(403, None);
    app.get("/api/v1/tokens", &read_token)
        .await
        .assert_problem(403, None);

    // Bad requests.
    for (body, field) in [
        (
            json!({"label": "x", "scopes": ["admin"], "expires_in_days": 30}),
            "scopes[0]",
        ),
        (
            json!({"label": "x", "scopes": ["read"], "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"label": "x", "scopes": ["read"], "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"label": " ", "scopes": ["read"], "expires_in_days": 1}),
            "label",
        ),
        (
            json!({"label": "x", "scopes": [], "expires_in_days": 1}),
            "scopes",
        ),
    ] {
        app.post_json("/api/v1/tokens", &admin_token, &body, None)
            .await
            .assert_problem(422, Some(field));
    }

    // Someone else's token is not found; one's own is revoked (twice is harmless).
    app.post_json(
        &format!("/api/v1/tokens/{id}/revoke"),
        &other_token,
        &json!({}),
        None,
    )
    .await
    .assert_problem(404, None);
    let revoked = app
        .post_json(
            &format!("/api/v1/tokens/{id}/revoke"),
            &admin_token,
            &json!({}),
            None,
        )
        .await;
    revoked.assert_status(200);
    assert!(revoked.body["revoked_at"].is_string());
    app.post_json(
        &format!("/api/v1/tokens/{id}/revoke"),
        &admin_token,
        &json!({}),
        None,
    )
    .await
    .assert_status(200);
    app.get("/api/v1/pathways", &read_token)
        .await
        .assert_problem(401, None);
    app.get("/api/v1/tokens", &admin_token)
        .await
        .assert_status(200);

    let doc = app.get("/api/openapi.json", &admin_token).await;
    assert!(doc.body["paths"]["/api/v1/tokens"]["post"].is_object());
    assert!(doc.body["paths"]["/api/v1/tokens/{id}/revoke"]["post"].is_object());

    let audit = summary(&events(&app, "token.").await);
    assert_eq!(
        audit,
        vec![
            ev("token.issue", "allowed", "scopes=read"),
            ev("token.revoke", "allowed", ""),
        ]
    );
}
