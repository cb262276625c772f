//! The real `renkei` binary as a child process: `serve` on a loopback port, killed with
//! SIGKILL, and the one-shot CLI commands the harnesses need.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How to run `renkei`.
#[derive(Debug, Clone)]
pub struct Renkei {
    pub bin: PathBuf,
    pub database_url: String,
    pub pathways: PathBuf,
    /// Extra `serve` arguments (e.g. `--sqlite-sync normal`).
    pub serve_args: Vec<String>,
    /// CPUs to pin `serve` to with `taskset -c` (benchmarks), if any.
    pub taskset: Option<String>,
}

/// The audit signing key the harnesses' processes share: the caller's
/// `RENKEI_AUDIT_KEY_FILE`, else one file in the temporary directory (never the
/// working directory, the default for PostgreSQL).
fn audit_key_file() -> PathBuf {
    std::env::var_os("RENKEI_AUDIT_KEY_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("renkei-test-audit.key"))
}

/// A finished one-shot command.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Renkei {
    /// Runs `renkei --database URL ARGS…` to completion (bounded to 10 minutes).
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Output> {
        use tokio::io::AsyncWriteExt;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--database")
            .arg(&self.database_url)
            .args(args)
            .env("RENKEI_LOG", "warn")
            .env("RENKEI_AUDIT_KEY_FILE", audit_key_file())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("run {}", self.bin.display()))?;
        if let Some(input) = stdin
            && let Some(mut pipe) = child.stdin.take()
        {
            pipe.write_all(input.as_bytes()).await?;
            drop(pipe);
        }
        let out = tokio::time::timeout(Duration::from_secs(600), child.wait_with_output())
            .await
            .with_context(|| format!("renkei {args:?} did not finish in 10 minutes"))??;
        Ok(Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Like [`Renkei::run`] but fails unless the command succeeds; returns stdout.
    pub async fn run_ok(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        let out = self.run(args, stdin).await?;
        if !out.success {
            bail!(
                "renkei {args:?} failed ({:?}):\n{}\n{}",
                out.code,
                out.stdout,
                out.stderr
            );
        }
        Ok(out.stdout)
    }

    /// Starts `renkei serve` on `127.0.0.1:port` and waits until `/readyz` answers 200.
    pub async fn serve(&self, port: u16, log: &Path) -> anyhow::Result<Server> {
        self.serve_with_env(port, log, &[]).await
    }

    /// [`Renkei::serve`] with extra environment variables for the server (they win over
    /// the defaults set here, e.g. `RENKEI_LOG`).
    pub async fn serve_with_env(
        &self,
        port: u16,
        log: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        let mut cmd = match &self.taskset {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.arg("--database")
            .arg(&self.database_url)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--pathways")
            .arg(&self.pathways)
            // The load generator opens all its connections from loopback: no per-address cap.
            .arg("--max-connections-per-address")
            .arg("0")
            .args(&self.serve_args)
            .env("RENKEI_AUDIT_KEY_FILE", audit_key_file())
            .env(
                "RENKEI_LOG",
                std::env::var("RENKEI_LOG").unwrap_or("warn".into()),
            )
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let child = cmd.spawn().context("spawn renkei serve")?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "renkei serve exited with {status} before it was ready; log: {}",
                    log.display()
                );
            }
            if let Ok(r) = client
                .get(format!("{}/readyz", server.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.kill9().await;
                bail!("renkei serve not ready in 120 s; log: {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running `renkei serve`.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The value of a gauge on `/metrics` (`None` when the page does not list it).
    pub async fn gauge(&self, name: &str) -> anyhow::Result<Option<f64>> {
        let page = reqwest::Client::new()
            .get(format!("{}/metrics", self.base))
            .timeout(Duration::from_secs(30))
            .send()
            .await?
            .text()
            .await?;
        Ok(page
            .lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|v| v.trim().parse().ok()))
    }

    /// Waits until the worklist index and the council's report facts hold no stale plan
    /// (`renkei_worklist_stale_plans` and `renkei_report_facts_stale_plans` are 0): a
    /// dataset loaded without the server is indexed by the server's background refresh,
    /// and a measurement taken meanwhile would measure that refresh too. Polls
    /// every half second up to `limit`; answers how long it took.
    pub async fn wait_until_indexed(&self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let worklist = self.gauge("renkei_worklist_stale_plans").await?;
            let facts = self.gauge("renkei_report_facts_stale_plans").await?;
            if worklist == Some(0.0) && facts == Some(0.0) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!(
                    "the background refreshes were still running after {limit:?} \
                     (worklist {worklist:?}, report facts {facts:?} stale plans)"
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// SIGKILL (no shutdown hook runs), then reap the process.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// SIGTERM (graceful shutdown), waiting up to 30 s, then SIGKILL.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        self.kill9().await;
    }

    /// Sends SIGTERM without waiting.
    pub fn send_sigterm(&self) -> anyhow::Result<()> {
        let pid = self.child.id().context("the server has already exited")?;
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -TERM {pid} failed: {status}");
        }
        Ok(())
    }

    /// Waits (at most `limit`) for the server to exit by itself; its exit status, or an
    /// error (after SIGKILL) when it did not exit in time.
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<std::process::ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.kill9().await;
                bail!("renkei serve did not exit within {limit:?} of SIGTERM");
            }
        }
    }

    /// Peak resident set size (VmHWM) and current RSS (VmRSS) in KiB, from /proc.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let pid = self.pid()?;
        // Under taskset the child is taskset, which execs renkei: same pid.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
