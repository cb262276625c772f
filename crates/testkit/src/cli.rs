//! Running the `renkei` binary as a process.
//!
//! `CARGO_BIN_EXE_renkei` exists only for the integration tests of the package that owns
//! the binary, and a dev-dependency on a binary-only package does not build it. So the
//! binary is looked up next to the running test executable (`<target>/<profile>/renkei`,
//! the test itself being `<target>/<profile>/deps/<name>-<hash>`), after one
//! `cargo build -p renkei` per test process with the same profile and target directory,
//! so it is never stale. `RENKEI_BIN=/path/to/renkei` skips the build.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::app::workspace_root;
use crate::db::warn;

/// The `renkei` binary, built on first use.
pub fn renkei_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("RENKEI_BIN")
            && !bin.is_empty()
        {
            return PathBuf::from(bin);
        }
        build_renkei()
    })
}

fn build_renkei() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    // <target>/<profile>/deps/<test>-<hash>
    let deps = exe.parent().expect("deps directory");
    let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("profile directory")
    } else {
        deps
    };
    let target_dir = profile_dir.parent().expect("target directory");
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "debug".into());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    // Cargo gives the running test its package's variables (CARGO_MANIFEST_DIR, CARGO_PKG_*
    // …). Build scripts that read them record them, so passing them on would make this
    // build and the next `cargo test` invalidate each other's artifacts.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || matches!(
                key.as_ref(),
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            )
        {
            cmd.env_remove(key.as_ref());
        }
    }
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
    let status = cmd.status().expect("run cargo build -p renkei");
    assert!(status.success(), "cargo build -p renkei failed: {status}");
    let bin = profile_dir.join(format!("renkei{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// A finished `renkei` run.
#[derive(Debug)]
pub struct CliOutput {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A `renkei` command with the environment the tests want: run from the workspace root
/// (so `pathways` resolves), no inherited database URL, quiet logs.
pub fn renkei_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(renkei_bin());
    cmd.args(args)
        .current_dir(workspace_root())
        .env_remove("RENKEI_DATABASE_URL")
        .env_remove("RENKEI_LISTEN")
        .env_remove("RENKEI_PATHWAYS")
        .env("RENKEI_LOG", "warn")
        // One audit signing key for every test process, outside the repository (the
        // default for PostgreSQL would be the working directory).
        .env(
            "RENKEI_AUDIT_KEY_FILE",
            std::env::temp_dir().join("renkei-test-audit.key"),
        )
        .kill_on_drop(true);
    cmd
}

/// Runs `renkei args…`, feeding `stdin` when given, and waits (at most two minutes).
pub async fn run_renkei(args: &[&str], stdin: Option<&str>) -> CliOutput {
    let mut cmd = renkei_command(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn renkei");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("renkei {args:?} did not finish within 2 minutes"))
        .expect("wait for renkei");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A free port on 127.0.0.1 (bound and released; another process could take it in
/// between, which is unlikely enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// A `renkei serve` process, killed when dropped.
pub struct ServeProcess {
    pub base_url: String,
    child: Child,
}

impl ServeProcess {
    /// Starts `renkei serve --listen 127.0.0.1:<free port> --database <url> <extra…>` and
    /// waits until `/healthz` answers (polling, at most 60 s).
    pub async fn start(database_url: &str, extra: &[&str]) -> ServeProcess {
        Self::start_in(&workspace_root(), database_url, extra).await
    }

    /// [`ServeProcess::start`] with `dir` as the working directory.
    pub async fn start_in(dir: &Path, database_url: &str, extra: &[&str]) -> ServeProcess {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen, "--database", database_url];
        args.extend_from_slice(extra);
        let mut cmd = renkei_command(&args);
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn renkei serve");
        let mut process = ServeProcess {
            base_url: format!("http://{listen}"),
            child,
        };
        process.wait_healthy().await;
        process
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let url = format!("{}/healthz", self.base_url);
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                let out = self.collect().await;
                panic!("renkei serve exited early with {status}\n{out}");
            }
            if let Ok(res) = client.get(&url).send().await
                && res.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.start_kill();
        let out = self.collect().await;
        panic!("renkei serve did not answer {url} within 60 s\n{out}");
    }

    async fn collect(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let mut s = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut s).await;
            out.push_str("--- stdout\n");
            out.push_str(&s);
        }
        if let Some(mut stderr) = self.child.stderr.take() {
            let mut s = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut s).await;
            out.push_str("\n--- stderr\n");
            out.push_str(&s);
        }
        out
    }

    /// Kills the server (SIGKILL: acknowledged writes are durable by design) and returns
    /// what it printed.
    pub async fn kill(mut self) -> CliOutput {
        let _ = self.child.start_kill();
        let status = self.child.wait().await.ok();
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut s, &mut stdout).await;
        }
        if let Some(mut s) = self.child.stderr.take() {
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut s, &mut stderr).await;
        }
        CliOutput {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if self.child.id().is_some() {
            let _ = self.child.start_kill();
            warn_if_panicking();
        }
    }
}

fn warn_if_panicking() {
    if std::thread::panicking() {
        warn("killed a renkei serve process left running by a failed test");
    }
}
