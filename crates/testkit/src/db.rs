//! `TestDb`: one fresh, isolated database per test, on the backend the environment names.
//!
//! - `RENKEI_TEST_DATABASE_URL` unset (or empty): SQLite, a new file `t.db` in its own
//!   temporary directory.
//! - `RENKEI_TEST_DATABASE_URL=postgres://…`: a new schema `t_<uuid>` in that database;
//!   the server's pool gets `schema: Some(..)` (a `search_path`), and processes such as the
//!   CLI get the same through the URL (`?options=-c search_path=…`, see [`TestDb::cli_url`]).
//!
//! The directory or schema is removed when the `TestDb` is dropped, unless
//! `RENKEI_TEST_KEEP_DB=1` (then its location is printed). When PostgreSQL is named but
//! unreachable the test is skipped with a warning — except under `CI=true`, where that is
//! a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use renkei_service::DbSettings;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
};
use tempfile::TempDir;

/// Environment variable naming the PostgreSQL database for the tests.
pub const DATABASE_URL_VAR: &str = "RENKEI_TEST_DATABASE_URL";
/// Set to `1` to keep every test database for inspection.
pub const KEEP_DB_VAR: &str = "RENKEI_TEST_KEEP_DB";

/// Writes straight to the process's stderr: libtest captures `eprintln!`, and a skipped
/// backend must be visible even when the test passes.
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "renkei-testkit: {message}");
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn keep_db() -> bool {
    std::env::var(KEEP_DB_VAR).is_ok_and(|v| v == "1" || v == "true")
}

enum Backend {
    Sqlite {
        dir: Option<TempDir>,
    },
    Postgres {
        /// The URL as given (no search path): used to create and drop the schema.
        admin_url: String,
        schema: String,
    },
}

/// A fresh database for one test.
pub struct TestDb {
    settings: DbSettings,
    backend: Backend,
}

impl TestDb {
    /// A fresh database on the configured backend, or `None` when PostgreSQL is configured
    /// but unreachable outside CI (the caller skips the test).
    ///
    /// # Panics
    /// When the database cannot be created, or PostgreSQL is unreachable under `CI=true`.
    pub async fn new() -> Option<TestDb> {
        match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url.trim()).await,
            _ => Some(Self::sqlite()),
        }
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("renkei-test-")
            .tempdir()
            .expect("create a temporary directory for the test database");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        TestDb {
            settings: DbSettings::new(url),
            backend: Backend::Sqlite { dir: Some(dir) },
        }
    }

    async fn postgres(url: &str) -> Option<TestDb> {
        assert!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "{DATABASE_URL_VAR} must be a postgres:// URL (unset it to test on SQLite)"
        );
        // Once PostgreSQL was found unreachable, later tests skip (or fail) at once
        // instead of each waiting for the connect timeout.
        static UNREACHABLE: OnceLock<String> = OnceLock::new();
        let unreachable = |message: &str| -> Option<TestDb> {
            if is_ci() {
                panic!("{message} (CI=true: a missing PostgreSQL is a failure)");
            }
            warn(&format!("{message}; SKIPPING this test"));
            None
        };
        if let Some(message) = UNREACHABLE.get() {
            return unreachable(message);
        }
        let admin = match admin_connect(url).await {
            Ok(db) => db,
            Err(e) => {
                let message = format!("PostgreSQL at {} is unreachable: {e}", redact(url));
                let _ = UNREACHABLE.set(message.clone());
                return unreachable(&message);
            }
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .unwrap_or_else(|e| panic!("CREATE SCHEMA {schema} failed: {e}"));
        let _ = admin.close().await;
        let mut settings = DbSettings::new(url);
        settings.schema = Some(schema.clone());
        Some(TestDb {
            settings,
            backend: Backend::Postgres {
                admin_url: url.to_owned(),
                schema,
            },
        })
    }

    /// Settings for `renkei_service::connect` / [`crate::start`] (the schema included).
    pub fn settings(&self) -> &DbSettings {
        &self.settings
    }

    /// Changes the settings the server will be started with (pool size, busy timeout …).
    pub fn settings_mut(&mut self) -> &mut DbSettings {
        &mut self.settings
    }

    /// The database URL without the schema (for PostgreSQL the schema is in
    /// [`DbSettings::schema`]).
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// A URL that reaches this database from another process (the `renkei` CLI, a
    /// server process), which cannot be told a schema: for PostgreSQL the schema goes in
    /// as `options=-c search_path=<schema>`, which sqlx passes to the server at connect.
    pub fn cli_url(&self) -> String {
        match &self.backend {
            Backend::Sqlite { .. } => self.settings.url.clone(),
            Backend::Postgres { admin_url, schema } => {
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                format!("{admin_url}{sep}options=-c%20search_path%3D{schema}")
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    /// The PostgreSQL schema of this test, if any.
    pub fn schema(&self) -> Option<&str> {
        self.settings.schema.as_deref()
    }

    /// The directory holding the SQLite file (a place for other per-test files too).
    pub fn sqlite_dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { dir } => dir.as_ref().map(TempDir::path),
            Backend::Postgres { .. } => None,
        }
    }

    /// A new connection pool to this database (migrations are not run).
    pub async fn connect(&self) -> DatabaseConnection {
        renkei_service::connect(&self.settings)
            .await
            .unwrap_or_else(|e| panic!("connect to the test database: {e}"))
    }

    /// Runs raw SQL (e.g. to tamper with stored rows) and returns the rows affected.
    pub async fn execute(&self, sql: &str) -> u64 {
        let db = self.connect().await;
        let res = db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {sql}: {e}"));
        let _ = db.close().await;
        res.rows_affected()
    }

    /// Runs a query returning one integer (e.g. `SELECT COUNT(*) …`).
    pub async fn query_i64(&self, sql: &str) -> i64 {
        let db = self.connect().await;
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {sql}: {e}"))
            .unwrap_or_else(|| panic!("SQL returned no row: {sql}"));
        let _ = db.close().await;
        row.try_get_by_index::<i64>(0)
            .unwrap_or_else(|e| panic!("SQL did not return an integer: {sql}: {e}"))
    }

    /// Runs a query returning one text value.
    pub async fn query_string(&self, sql: &str) -> String {
        let db = self.connect().await;
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {sql}: {e}"))
            .unwrap_or_else(|| panic!("SQL returned no row: {sql}"));
        let _ = db.close().await;
        row.try_get_by_index::<String>(0)
            .unwrap_or_else(|e| panic!("SQL did not return text: {sql}: {e}"))
    }

    /// Where the database is, for messages (password hidden).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite { dir } => dir
                .as_ref()
                .map(|d| d.path().join("t.db").display().to_string())
                .unwrap_or_default(),
            Backend::Postgres { admin_url, schema } => {
                format!("{} schema {schema}", redact(admin_url))
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let keep = keep_db();
        if keep {
            warn(&format!("keeping test database {}", self.describe()));
        }
        match &mut self.backend {
            Backend::Sqlite { dir } => {
                if keep && let Some(d) = dir.take() {
                    let _: PathBuf = d.keep();
                }
                // Otherwise the TempDir removes itself.
            }
            Backend::Postgres { admin_url, schema } => {
                if keep {
                    return;
                }
                // Drop cannot await, and may run inside a runtime: do the work on a
                // separate thread with its own small runtime, and wait for it.
                let url = admin_url.clone();
                let name = schema.clone();
                let handle = std::thread::spawn(move || drop_schema(&url, &name));
                match handle.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn(&format!("could not drop schema {schema}: {e}")),
                    Err(_) => warn("dropping the test schema panicked"),
                }
            }
        }
    }
}

async fn admin_connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let db = Database::connect(opts).await?;
    debug_assert_eq!(db.get_database_backend(), DatabaseBackend::Postgres);
    Ok(db)
}

fn drop_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let db = admin_connect(url).await?;
        // Never hang a test run on a lock held by a leaked connection.
        db.execute_unprepared("SET lock_timeout = '10s'").await?;
        db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await?;
        let _ = db.close().await;
        Ok(())
    })
}

/// The URL with its password replaced, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
