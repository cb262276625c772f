//! Throw-away PostgreSQL servers on loopback for the scale-out tests and benchmarks: a
//! primary, a streaming replica of it (`pg_basebackup -R`), and plain servers that hold
//! one region each behind a `postgres_fdw` coordinator. Each lives in its own temporary
//! directory on a free port and is stopped (`pg_ctl stop -m immediate`) when dropped.
//!
//! The binaries are taken from `RENKEI_PG_BIN` or the newest `/usr/lib/postgresql/*/bin`.
//! `initdb` refuses to run as root: as root the servers run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::process::server::free_port;

/// Where the PostgreSQL binaries are, or why there are none usable.
pub fn binaries() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("RENKEI_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!("RENKEI_PG_BIN={} has no initdb", dir.display()))
        };
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no PostgreSQL server binaries (/usr/lib/postgresql is absent)".to_owned())?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    let Some((_, bin)) = found.pop() else {
        return Err("no initdb under /usr/lib/postgresql/*/bin".into());
    };
    if is_root() && !user_exists("postgres") {
        return Err("running as root and there is no `postgres` user to run initdb as".into());
    }
    Ok(bin)
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    std::process::Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One running PostgreSQL server.
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

impl PgServer {
    /// `initdb` (trust on loopback, UTF-8) and start on a free port with `settings`
    /// (`name = value` lines appended to postgresql.conf).
    pub async fn start(bin: &Path, settings: &[&str]) -> anyhow::Result<PgServer> {
        let server = PgServer::empty(bin)?;
        server
            .run_pg(
                "initdb",
                &[
                    "-D",
                    &server.data(),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            )
            .await?;
        server.configure(settings)?;
        server.pg_ctl_start().await?;
        Ok(server)
    }

    /// A hot standby streaming from `primary` (`pg_basebackup -R`), started and in
    /// recovery.
    pub async fn replica_of(primary: &PgServer) -> anyhow::Result<PgServer> {
        let server = PgServer::empty(&primary.bin)?;
        std::fs::remove_dir(server.data_path()).ok();
        server
            .run_pg(
                "pg_basebackup",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &primary.port.to_string(),
                    "-U",
                    "postgres",
                    "-D",
                    &server.data(),
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                ],
            )
            .await?;
        // The copy carries the primary's port; the standby listens on its own.
        server.configure(&["hot_standby = on"])?;
        server.pg_ctl_start().await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.sql("postgres", "SELECT pg_is_in_recovery()").await? != "t" {
            if Instant::now() > deadline {
                bail!("the replica on port {} is not in recovery", server.port);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    fn empty(bin: &Path) -> anyhow::Result<PgServer> {
        let dir = tempfile::Builder::new().prefix("renkei-pg-").tempdir()?;
        let as_postgres = is_root();
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        if as_postgres {
            let status = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()?;
            if !status.success() {
                bail!("chown postgres {}", dir.path().display());
            }
        }
        Ok(PgServer {
            bin: bin.to_path_buf(),
            dir,
            port: free_port()?,
            as_postgres,
        })
    }

    fn data_path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn data(&self) -> String {
        self.data_path().display().to_string()
    }

    fn configure(&self, settings: &[&str]) -> anyhow::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_path().join("postgresql.conf"))?;
        writeln!(f, "\nlisten_addresses = '127.0.0.1'")?;
        writeln!(f, "port = {}", self.port)?;
        writeln!(f, "unix_socket_directories = ''")?;
        writeln!(f, "fsync = off")?;
        writeln!(f, "shared_buffers = 32MB")?;
        for s in settings {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let log = self.dir.path().join("server.log").display().to_string();
        self.run_pg("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "start"])
            .await
            .with_context(|| {
                format!(
                    "PostgreSQL on port {} did not start: {}",
                    self.port,
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })?;
        Ok(())
    }

    /// Runs a server binary (as `postgres` when we are root); fails on a non-zero exit.
    async fn run_pg(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut line = shell_quote(&exe.display().to_string());
            for a in args {
                line.push(' ');
                line.push_str(&shell_quote(a));
            }
            let mut c = Command::new("su");
            c.args(["postgres", "-s", "/bin/sh", "-c", &line]);
            c
        } else {
            let mut c = Command::new(&exe);
            c.args(args);
            c
        };
        let out = tokio::time::timeout(
            Duration::from_secs(300),
            cmd.current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .with_context(|| format!("{program} did not finish in 5 minutes"))??;
        if !out.status.success() {
            bail!(
                "{program} {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `sql` as the superuser in `database` with psql; returns the unaligned,
    /// tuples-only output, trimmed.
    pub async fn sql(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-X", "-A", "-t", "-q"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .await
            .context("run psql")?;
        if !out.status.success() {
            bail!(
                "psql on port {} failed for `{sql}`: {}",
                self.port,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Creates login role `user` (password `pw`) and database `database` owned by it.
    pub async fn create_database(&self, user: &str, database: &str) -> anyhow::Result<()> {
        self.sql(
            "postgres",
            &format!("CREATE ROLE {user} LOGIN SUPERUSER PASSWORD 'pw'"),
        )
        .await
        .ok();
        self.sql(
            "postgres",
            &format!("CREATE DATABASE {database} OWNER {user}"),
        )
        .await?;
        Ok(())
    }

    /// `postgres://user:pw@127.0.0.1:PORT/database`.
    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}:pw@127.0.0.1:{}/{database}", self.port)
    }

    /// This server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Waits until this replica has replayed everything `primary` has written so far.
    pub async fn wait_replayed(&self, primary: &PgServer) -> anyhow::Result<()> {
        let lsn = primary
            .sql("postgres", "SELECT pg_current_wal_lsn()")
            .await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let done = self
                .sql(
                    "postgres",
                    &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
                )
                .await?;
            if done == "t" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the replica did not replay up to {lsn} in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pauses WAL replay on this replica and waits until it is paused.
    pub async fn pause_replay(&self) -> anyhow::Result<()> {
        self.sql("postgres", "SELECT pg_wal_replay_pause()").await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self
            .sql("postgres", "SELECT pg_get_wal_replay_pause_state()")
            .await?
            != "paused"
        {
            if Instant::now() > deadline {
                bail!("replay did not pause in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Resumes WAL replay on this replica.
    pub async fn resume_replay(&self) -> anyhow::Result<()> {
        self.sql("postgres", "SELECT pg_wal_replay_resume()")
            .await?;
        Ok(())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl").display().to_string();
        let args = ["-D", &self.data(), "-m", "immediate", "-w", "stop"];
        let status = if self.as_postgres {
            let mut line = shell_quote(&exe);
            for a in args {
                line.push(' ');
                line.push_str(&shell_quote(a));
            }
            std::process::Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", &line])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        } else {
            std::process::Command::new(&exe)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        };
        let _ = status;
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
