//! A fresh database and the `renkei` binary for the harness (tests/e2e/crash.rs, renkei-bench),
//! following the suite's convention: `RENKEI_TEST_DATABASE_URL` unset → a SQLite file in
//! a temporary directory; set to `postgres://…` → a new schema in that database, dropped
//! by [`Scratch::cleanup`]. Unreachable PostgreSQL skips the test, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};

pub struct Scratch {
    /// Where server logs, backups and the SQLite file go (removed on cleanup).
    pub dir: PathBuf,
    /// The URL a `renkei` process uses (PostgreSQL: with the schema in `options`).
    pub url: String,
    /// PostgreSQL: the URL without the schema (for `pg_terminate_backend`).
    pub admin_url: Option<String>,
    pub schema: Option<String>,
    pub sqlite_file: Option<PathBuf>,
}

impl Scratch {
    /// None: PostgreSQL is configured but unreachable outside CI (skip the test).
    pub async fn new(name: &str) -> anyhow::Result<Option<Scratch>> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("renkei-{name}-{id}"));
        std::fs::create_dir_all(&dir)?;
        match std::env::var("RENKEI_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let url = url.trim().to_owned();
                let schema = format!("t_{name}_{}", &id[..12]);
                let mut opts = ConnectOptions::new(url.clone());
                opts.max_connections(1).sqlx_logging(false);
                let db = match Database::connect(opts).await {
                    Ok(db) => db,
                    Err(e) => {
                        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                            bail!("PostgreSQL unreachable under CI: {e}");
                        }
                        eprintln!("renkei-testkit: PostgreSQL unreachable ({e}); SKIPPING");
                        return Ok(None);
                    }
                };
                db.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await?;
                db.close().await?;
                let sep = if url.contains('?') { '&' } else { '?' };
                Ok(Some(Scratch {
                    url: format!("{url}{sep}options=-c%20search_path%3D{schema}"),
                    admin_url: Some(url),
                    schema: Some(schema),
                    sqlite_file: None,
                    dir,
                }))
            }
            _ => {
                let file = dir.join("t.db");
                Ok(Some(Scratch {
                    url: format!("sqlite://{}", file.display()),
                    admin_url: None,
                    schema: None,
                    sqlite_file: Some(file),
                    dir,
                }))
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin_url.is_some()
    }

    /// Drops the schema and the directory (kept when `RENKEI_TEST_KEEP_DB=1`).
    pub async fn cleanup(self) {
        if std::env::var("RENKEI_TEST_KEEP_DB").is_ok_and(|v| v == "1") {
            eprintln!("keeping {} {:?}", self.dir.display(), self.schema);
            return;
        }
        if let (Some(url), Some(schema)) = (&self.admin_url, &self.schema) {
            let mut opts = ConnectOptions::new(url.clone());
            opts.max_connections(1).sqlx_logging(false);
            if let Ok(db) = Database::connect(opts).await {
                let _ = db
                    .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await;
                let _ = db.close().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The workspace root (this crate sits at crates/testkit).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The `renkei` binary of the running test's profile, built once per test process
/// (`RENKEI_BIN` overrides).
pub fn renkei_bin() -> anyhow::Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn build() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("RENKEI_BIN")
        && !bin.is_empty()
    {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let deps = exe.parent().context("test executable directory")?;
    let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().context("profile directory")?
    } else {
        deps
    };
    let target_dir = profile_dir.parent().context("target directory")?;
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "debug".into());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "renkei", "--bin", "renkei"])
        .arg("--target-dir")
        .arg(target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd.status().context("run cargo build -p renkei")?;
    if !status.success() {
        bail!("cargo build -p renkei failed: {status}");
    }
    let bin = profile_dir.join(format!("renkei{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}
