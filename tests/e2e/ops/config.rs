//! The configuration file and `RENKEI_SECTION__KEY` variables, through the process.

use std::process::Stdio;
use std::time::{Duration, Instant};

use renkei_testkit::process::scratch::{renkei_bin, workspace_root};
use renkei_testkit::process::server::free_port;
use tokio::process::Command;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn renkei(args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = Command::new(renkei_bin().expect("binary"))
        .args(args)
        .env_remove("RENKEI_DATABASE_URL")
        .env_remove("RENKEI_CONFIG")
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run renkei");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn config_check_and_show_read_the_file_and_variables_and_never_print_secrets() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("renkei.toml");
    let pathways = workspace_root().join("pathways");
    std::fs::write(
        &file,
        format!(
            "[server]\nlisten = \"127.0.0.1:18080\"\n\n[database]\nurl = \"postgres://renkei:db-secret-pw@127.0.0.1:5432/renkei\"\n\n[pathways]\ndir = \"{}\"\n\n[backup]\ndir = \"/var/backups/renkei\"\nkeep = 14\n\n[smtp]\nhost = \"mail.example.jp\"\nport = 587\nfrom = \"renkei@example.jp\"\nusername = \"renkei\"\npassword = \"smtp-secret-pw\"\n\n[retention]\nyears = 5\n\n[care_team]\nread_after_end_days = 30\n",
            pathways.display()
        ),
    )
    .expect("write config");
    let f = file.to_str().expect("utf-8 path");
    let check = renkei(
        &["--config", f, "config", "check"],
        &[("RENKEI_BACKUP__KEEP", "3")],
    )
    .await;
    assert_eq!(check.code, Some(0), "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("configuration ok"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("RENKEI_BACKUP__KEEP"),
        "{}",
        check.stdout
    );

    let show = renkei(
        &["config", "show"],
        &[("RENKEI_CONFIG", f), ("RENKEI_BACKUP__KEEP", "3")],
    )
    .await;
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    let shown: toml::Table = show.stdout.parse().expect("config show prints TOML");
    assert_eq!(
        shown["backup"]["keep"].as_integer(),
        Some(3),
        "the variable wins over the file"
    );
    assert_eq!(shown["smtp"]["host"].as_str(), Some("mail.example.jp"));
    assert_eq!(
        shown["care_team"]["read_after_end_days"].as_integer(),
        Some(30)
    );
    for secret in ["db-secret-pw", "smtp-secret-pw"] {
        assert!(
            !show.stdout.contains(secret),
            "{secret} printed:\n{}",
            show.stdout
        );
        assert!(
            !show.stderr.contains(secret),
            "{secret} printed:\n{}",
            show.stderr
        );
    }
    assert_eq!(shown["smtp"]["password"].as_str(), Some("***"));
    assert_eq!(
        shown["database"]["url"].as_str(),
        Some("postgres://renkei:***@127.0.0.1:5432/renkei")
    );

    // The old single-name variable still wins over the file.
    let show = renkei(
        &["--config", f, "config", "show"],
        &[("RENKEI_DATABASE_URL", "sqlite://flag-wins.db")],
    )
    .await;
    assert!(
        show.stdout.contains("sqlite://flag-wins.db"),
        "{}",
        show.stdout
    );
}

#[tokio::test]
async fn a_wrong_key_stops_the_program_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:8080\"\nlisen = \"typo\"\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8 path");
    for args in [
        vec!["--config", f, "config", "check"],
        vec!["--config", f, "serve"],
    ] {
        let out = renkei(&args, &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("server.lisen"), "{}", out.stderr);
    }
    let out = renkei(
        &["config", "check"],
        &[("RENKEI_SMTP__PORT", "twenty-five")],
    )
    .await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("RENKEI_SMTP__PORT"), "{}", out.stderr);
    let out = renkei(&["config", "check"], &[("RENKEI_SMTP__PASWORD", "x")]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("RENKEI_SMTP__PASWORD"),
        "{}",
        out.stderr
    );
    std::fs::write(&file, "[database]\nurl = \"mysql://u:hunter2@h/db\"\n").expect("write");
    let out = renkei(&["--config", f, "config", "check"], &[]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("database.url"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

#[tokio::test]
async fn serve_takes_its_settings_from_the_file_and_flags_override_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("cfg.db");
    let from_file = free_port().expect("port");
    let from_flag = free_port().expect("port");
    let file = dir.path().join("renkei.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\nlisten = \"127.0.0.1:{from_file}\"\n[database]\nurl = \"sqlite://{}\"\n[pathways]\ndir = \"{}\"\n[audit]\nkey_file = \"{}\"\n",
            db.display(),
            workspace_root().join("pathways").display(),
            dir.path().join("audit.key").display()
        ),
    )
    .expect("write config");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for (extra, port) in [(None, from_file), (Some(from_flag), from_flag)] {
        let mut cmd = Command::new(renkei_bin().expect("binary"));
        cmd.arg("--config").arg(&file).arg("serve");
        if let Some(p) = extra {
            cmd.arg("--listen").arg(format!("127.0.0.1:{p}"));
        }
        let mut child = cmd
            .env_remove("RENKEI_DATABASE_URL")
            .env_remove("RENKEI_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn serve");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                break;
            }
            assert!(child.try_wait().expect("wait").is_none(), "serve exited");
            assert!(Instant::now() < deadline, "not ready on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if extra.is_some() {
            assert!(
                http.get(format!("http://127.0.0.1:{from_file}/healthz"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .is_err(),
                "the flag's address replaces the file's"
            );
        }
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    assert!(db.exists(), "the database of the file was used");
}
