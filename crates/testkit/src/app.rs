//! `TestApp`: the real router served on a real socket over a fresh [`TestDb`], with the
//! services it was built from, and a small HTTP client for the tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use renkei_service::admin::{self, NewOrganization, NewPractitioner};
use renkei_service::auth::secret_key::SecretKey;
use renkei_service::{Security, Services, startup};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::db::TestDb;

/// The workspace root (where `Cargo.toml`, `pathways/` and `target/` live).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .expect("crates/testkit sits two levels below the workspace root")
}

/// Brings the schema of `db` up to date, as `renkei migrate` does, in the PostgreSQL
/// layout `RENKEI_PG_LAYOUT` names (`partitioned`, or plain when unset).
pub async fn migrate(
    db: &renkei_service::DatabaseConnection,
) -> Result<(), renkei_migration::DbErr> {
    use renkei_migration::MigratorTrait;
    use renkei_migration::layout::{self, Layout};
    renkei_migration::Migrator::up(db, None).await?;
    let layout = Layout::from_env().map_err(renkei_migration::DbErr::Custom)?;
    layout::apply(db, layout).await
}

/// Start-up as `renkei serve` does it: connect, migrate when `run_migrations`, then
/// [`startup::start_on`] (publish the templates under `pathways_dir`, load the registry).
pub async fn start(
    settings: &renkei_service::DbSettings,
    pathways_dir: &std::path::Path,
    run_migrations: bool,
) -> Result<Services, startup::StartupError> {
    let db = renkei_service::connect(settings).await?;
    if run_migrations {
        migrate(&db).await?;
    }
    startup::start_on(db, pathways_dir).await
}

/// The published templates of the repository.
pub fn pathways_dir() -> PathBuf {
    workspace_root().join("pathways")
}

/// A running server for one test. Dropping it stops the server, then drops the database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base_url: String,
    /// The services the server runs on (same pool): for set-up that has no API yet.
    pub services: Services,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    users: AtomicUsize,
    // Last: the database outlives the server and its pool.
    pub db: TestDb,
}

impl TestApp {
    /// Starts a server on a fresh database; `None` when the configured PostgreSQL is
    /// unreachable outside CI (skip the test).
    pub async fn spawn() -> Option<TestApp> {
        let db = TestDb::new().await?;
        Some(Self::spawn_on(db).await)
    }

    /// Starts a server with other security settings than [`TestApp::test_security`].
    pub async fn spawn_with(security: Security) -> Option<TestApp> {
        let db = TestDb::new().await?;
        Some(Self::spawn_on_with(db, security).await)
    }

    /// The test server's security settings: like `serve --demo` (the demo tokens work,
    /// TOTP secrets are sealed with the development key), no trusted proxy.
    pub fn test_security() -> Security {
        Security {
            demo: true,
            trusted_proxies: Vec::new(),
            secret_key: Some(SecretKey::development()),
        }
    }

    /// Starts a server on `db` with [`TestApp::test_security`].
    pub async fn spawn_on(db: TestDb) -> TestApp {
        Self::spawn_on_with(db, Self::test_security()).await
    }

    /// Starts a server on `db`: binds `127.0.0.1:0` first (so the address is known and
    /// connections queue before the server task runs), migrates and publishes the
    /// repository's templates, then serves the real router in a task.
    pub async fn spawn_on_with(db: TestDb, security: Security) -> TestApp {
        Self::spawn_on_configured(db, security, renkei_http::ServeOptions::default()).await
    }

    /// Starts a server on a fresh database with the given connection options (header
    /// read timeout, connections per address); `None` as for [`TestApp::spawn`].
    pub async fn spawn_with_options(options: renkei_http::ServeOptions) -> Option<TestApp> {
        let db = TestDb::new().await?;
        Some(Self::spawn_on_configured(db, Self::test_security(), options).await)
    }

    /// [`TestApp::spawn_on`] with the given security settings and connection options.
    pub async fn spawn_on_configured(
        db: TestDb,
        security: Security,
        options: renkei_http::ServeOptions,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let services = start(db.settings(), &pathways_dir(), true)
            .await
            .unwrap_or_else(|e| panic!("start on {}: {e}", db.describe()))
            .with_security(security);
        let router = renkei_http::router(renkei_http::AppState {
            services: services.clone(),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(renkei_http::serve(router, listener, options, async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("HTTP client");
        TestApp {
            base_url: format!("http://{addr}"),
            services,
            http,
            shutdown: Some(tx),
            server: Some(server),
            users: AtomicUsize::new(0),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    // ------------------------------------------------------------ set-up through admin

    /// Creates an organisation (through `renkei_service::admin`) unless it exists.
    pub async fn ensure_org(&self, code: &str, kind: &str) {
        let orgs = admin::list_organizations(&self.services.db)
            .await
            .expect("list organizations");
        if orgs.iter().any(|o| o.code == code) {
            return;
        }
        admin::add_organization(
            &self.services,
            NewOrganization {
                code: code.to_owned(),
                name: format!("{code} テスト施設"),
                kind: kind.to_owned(),
                area: "千葉".to_owned(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("add organization {code}: {e:?}"));
    }

    /// Creates a practitioner `login` in organisation `org_code` (created as `kind` when
    /// missing) and issues an API token; returns the bearer token.
    pub async fn user_token(&self, org_code: &str, kind: &str, login: &str) -> String {
        self.ensure_org(org_code, kind).await;
        admin::add_practitioner(
            &self.services,
            NewPractitioner {
                organization_code: org_code.to_owned(),
                login: login.to_owned(),
                name: format!("{login} テスト"),
                profession: "nurse".to_owned(),
                roles: Vec::new(),
                password: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("add practitioner {login}: {e:?}"));
        admin::issue_token(&self.services, login, "test", None)
            .await
            .unwrap_or_else(|e| panic!("issue token for {login}: {e:?}"))
    }

    /// A token for a new practitioner of the acute hospital `acute-1`.
    pub async fn token(&self) -> String {
        let n = self.users.fetch_add(1, Ordering::SeqCst);
        self.user_token("acute-1", "acute_hospital", &format!("acute-user-{n}"))
            .await
    }

    // ------------------------------------------------------------ HTTP

    /// A request to `path` with no authentication and no body yet.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> ApiResponse {
        send(self.request(Method::GET, path).bearer_auth(token)).await
    }

    /// `GET path?query` with a bearer token (the query is percent-encoded, so `+09:00`
    /// and kana survive).
    pub async fn get_query(&self, path: &str, token: &str, query: &[(&str, &str)]) -> ApiResponse {
        send(
            self.request(Method::GET, path)
                .bearer_auth(token)
                .query(query),
        )
        .await
    }

    /// `POST path` with a JSON body, a bearer token and an optional `Idempotency-Key`.
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> ApiResponse {
        let mut req = self
            .request(Method::POST, path)
            .bearer_auth(token)
            .json(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        send(req).await
    }

    /// Asks the server to stop and waits for it (dropping the app does the same, without
    /// waiting).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// What a test needs of an HTTP response.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON (`Value::Null` when empty or not JSON; see `text`).
    pub body: Value,
    pub text: String,
}

impl ApiResponse {
    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `field` of every entry of a problem's `errors[]`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the status (with the body in the message when it differs).
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts an `application/problem+json` answer with `status`, a matching `status`
    /// member, and — when `field` is given — that field among `errors[].field`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, field: Option<&str>) -> &Self {
        self.assert_status(status);
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "content type {:?} is not problem+json; body: {}",
            self.content_type(),
            self.text
        );
        assert_eq!(
            self.body["status"], status,
            "problem status member: {}",
            self.text
        );
        assert!(self.body["type"].is_string(), "problem type: {}", self.text);
        assert!(
            self.body["title"].is_string(),
            "problem title: {}",
            self.text
        );
        if let Some(field) = field {
            let fields = self.error_fields();
            assert!(
                fields.iter().any(|f| f == field),
                "expected errors[].field {field:?}, got {fields:?}; body: {}",
                self.text
            );
        }
        self
    }
}

/// Sends a request and reads the whole answer.
pub async fn send(req: RequestBuilder) -> ApiResponse {
    let res = req.send().await.expect("HTTP request failed");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("read HTTP body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    ApiResponse {
        status,
        headers,
        body,
        text,
    }
}
