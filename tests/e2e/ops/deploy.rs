//! The deployment examples under `crates/cli/deploy/`, checked offline: the systemd unit
//! with `systemd-analyze verify` (when installed) and its hardening keys, the reverse
//! proxy configuration with `nginx -t` (when nginx is installed; `.ci/run` installs it
//! from Debian) and its TLS and HSTS lines, the container definition's instructions and
//! the files it copies, and the example configuration with `renkei config check`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use renkei_testkit::process::scratch::{renkei_bin, workspace_root};

fn deploy() -> PathBuf {
    workspace_root().join("crates/cli/deploy")
}

fn found(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `key` → every value, over the unit's sections.
fn unit_keys(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        out.entry(k.trim().to_owned())
            .or_default()
            .push(v.trim().to_owned());
    }
    out
}

#[test]
fn systemd_unit_is_hardened_and_verifies() {
    let text = std::fs::read_to_string(deploy().join("renkei.service")).expect("unit");
    let keys = unit_keys(&text);
    for (k, v) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "renkei"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("KillSignal", "SIGTERM"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(
            keys.get(k).and_then(|v| v.last()).map(String::as_str),
            Some(v),
            "{k}"
        );
    }
    assert!(
        keys["ExecStart"][0].ends_with("serve"),
        "{:?}",
        keys["ExecStart"]
    );
    let Some(analyze) = found("systemd-analyze") else {
        assert!(!ci(), "CI=true: systemd-analyze is required for this test");
        eprintln!("systemd-analyze not installed: the unit's keys were checked, not the unit");
        return;
    };
    // The unit names the installed binary; verify it against the one just built.
    let dir = tempfile::tempdir().expect("tmp");
    let unit = dir.path().join("renkei.service");
    let bin = renkei_bin().expect("binary");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/renkei", bin.to_str().expect("utf-8")),
    )
    .expect("write unit");
    let out = Command::new(analyze)
        .arg("verify")
        .arg("--man=no")
        .arg(&unit)
        .output()
        .expect("systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let about_unit: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("renkei.service"))
        .collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

#[test]
fn reverse_proxy_configs_terminate_tls_with_hsts() {
    let nginx = std::fs::read_to_string(deploy().join("nginx.conf")).expect("nginx.conf");
    assert!(nginx.contains("listen 443 ssl"));
    assert!(nginx.contains("ssl_protocols TLSv1.2 TLSv1.3"));
    assert!(
        nginx.contains("Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always")
    );
    assert!(nginx.contains("proxy_pass http://renkei"));
    assert!(nginx.contains("X-Forwarded-For $remote_addr"));
    let caddy = std::fs::read_to_string(deploy().join("Caddyfile")).expect("Caddyfile");
    assert!(caddy.contains("Strict-Transport-Security"));
    assert!(caddy.contains("reverse_proxy 127.0.0.1:8080"));
    let (Some(nginx_bin), Some(openssl)) = (found("nginx"), found("openssl")) else {
        eprintln!(
            "nginx or openssl not installed: nginx.conf's lines were checked, not its syntax"
        );
        return;
    };
    // nginx -t with a throw-away certificate at the paths the example names.
    let dir = tempfile::tempdir().expect("tmp");
    let cert = dir.path().join("fullchain.pem");
    let key = dir.path().join("privkey.pem");
    let status = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=renkei.example.jp",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let site = nginx
        .replace(
            "/etc/ssl/renkei/fullchain.pem",
            cert.to_str().expect("utf-8"),
        )
        .replace("/etc/ssl/renkei/privkey.pem", key.to_str().expect("utf-8"));
    std::fs::write(dir.path().join("renkei.conf"), site).expect("site");
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d};\n  include {d}/renkei.conf;\n}}\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("nginx.conf"), main).expect("main");
    let out = Command::new(nginx_bin)
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .output()
        .expect("nginx -t");
    assert!(
        out.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn containerfile_builds_from_the_workspace_and_runs_unprivileged() {
    let text = std::fs::read_to_string(deploy().join("Containerfile")).expect("Containerfile");
    let mut instructions: Vec<(String, String)> = Vec::new();
    let mut continued = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        continued.push_str(line.trim_end_matches('\\'));
        continued.push(' ');
        if line.ends_with('\\') {
            continue;
        }
        let full = std::mem::take(&mut continued);
        let (op, rest) = full
            .trim()
            .split_once(' ')
            .expect("instruction and arguments");
        assert_eq!(op, op.to_uppercase(), "instruction {op}");
        instructions.push((op.to_owned(), rest.trim().to_owned()));
    }
    let known = [
        "FROM",
        "RUN",
        "COPY",
        "ENV",
        "USER",
        "WORKDIR",
        "VOLUME",
        "EXPOSE",
        "STOPSIGNAL",
        "ENTRYPOINT",
        "CMD",
    ];
    for (op, _) in &instructions {
        assert!(known.contains(&op.as_str()), "unknown instruction {op}");
    }
    let get = |op: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    assert_eq!(get("FROM").len(), 2, "a build stage and a run stage");
    assert!(
        get("USER")
            .last()
            .is_some_and(|u| !u.starts_with("0") && !u.starts_with("root"))
    );
    assert_eq!(get("STOPSIGNAL"), vec!["SIGTERM"]);
    for copy in get("COPY") {
        if copy.starts_with("--from=") {
            continue;
        }
        let source = copy.split_whitespace().next().expect("source");
        if source != "." {
            assert!(
                workspace_root().join(source).exists(),
                "COPY {source}: no such file in the workspace"
            );
        }
    }
    for (_, cmd) in instructions
        .iter()
        .filter(|(o, _)| o == "ENTRYPOINT" || o == "CMD")
    {
        let _: Vec<String> = serde_json::from_str(cmd).expect("exec form (JSON array)");
    }
}

#[test]
fn example_configuration_passes_config_check() {
    let example = deploy().join("renkei.toml");
    let text = std::fs::read_to_string(&example).expect("renkei.toml");
    // The example's paths, moved into a scratch directory.
    let dir = tempfile::tempdir().expect("tmp");
    let local = text.replace(
        "/usr/local/share/renkei/pathways",
        workspace_root().join("pathways").to_str().expect("utf-8"),
    );
    let file = dir.path().join("renkei.toml");
    std::fs::write(&file, local).expect("write");
    let out = Command::new(renkei_bin().expect("binary"))
        .arg("--config")
        .arg(&file)
        .args(["config", "check"])
        .env_remove("RENKEI_DATABASE_URL")
        .output()
        .expect("renkei config check");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
