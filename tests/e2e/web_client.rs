//! A small cookie-keeping browser for the hardening tests: forms with their CSRF token,
//! extra headers (e.g. `X-Forwarded-For`), and a practitioner who can log in at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use renkei_service::admin::{self, NewPractitioner};
use renkei_testkit::{TestApp, rows};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, redirect};
use tokio::sync::Mutex;

/// The password of every practitioner made by [`web_user`].
pub const PASSWORD: &str = "Kyoka-shiken-2026";

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub text: String,
}

impl Page {
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        self
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.text.find(marker).expect("csrf field") + marker.len();
        let end = self.text[start..].find('"').expect("end of csrf") + start;
        self.text[start..end].to_owned()
    }
}

#[derive(Clone)]
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Arc<Mutex<BTreeMap<String, String>>>,
    extra: HeaderMap,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
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

    /// The same browser sending `name: value` on every request.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Browser {
        self.extra.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("header value"),
        );
        self
    }

    pub async fn send(&self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .headers(self.extra.clone())
            .header(header::ACCEPT, "text/html");
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
        {
            let mut jar = self.cookies.lock().await;
            for c in headers.get_all(header::SET_COOKIE).iter() {
                let c = c.to_str().unwrap_or("");
                let pair = c.split(';').next().unwrap_or("");
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                if c.to_ascii_lowercase().contains("max-age=0") || value.is_empty() {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let bytes = res.bytes().await.expect("body").to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Page {
            status,
            headers,
            bytes,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Posts the login form (with the CSRF token of a fresh form) and returns the answer.
    pub async fn try_login(&self, login: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        form.assert_status(200);
        let csrf = form.csrf();
        self.post(
            "/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Logs in; panics unless the session is fully established.
    pub async fn login(&self, login: &str, password: &str) {
        let res = self.try_login(login, password).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "login: {}", res.text);
        self.get("/worklist").await.assert_status(200);
    }

    pub async fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .await
            .insert(name.to_owned(), value.to_owned());
    }
}

/// A nurse `login` of `org` (created as `kind` when missing) with [`PASSWORD`], who
/// need not change it at first login.
pub async fn web_user(app: &TestApp, org: &str, kind: &str, login: &str) {
    app.ensure_org(org, kind).await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.into(),
            login: login.into(),
            name: format!("試験 {login}"),
            profession: "nurse".into(),
            roles: Vec::new(),
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .expect("add practitioner");
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
