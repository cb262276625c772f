//! Issue 10 §10g, i, j with the `renkei` binary as a process: `serve` without `--demo`
//! warns loudly when the demo accounts exist and refuses their tokens; the SQLite
//! database, its `-wal`/`-shm` files and `renkei backup` output are created 0600;
//! `renkei user add` applies the web's password rules.

use renkei_testkit::cli::ServeProcess;
use renkei_testkit::{pathways_dir, run_renkei};

use crate::support::db_or_skip;

const DEMO_TOKEN: &str = "rk_demo_acute1_0000000000000000000000000000000000";

async fn worklist_status(base_url: &str) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("{base_url}/api/v1/worklist"))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_without_demo_warns_about_demo_accounts_and_refuses_their_tokens() {
    let db = db_or_skip!();
    let url = db.cli_url();
    let pathways = pathways_dir().to_string_lossy().into_owned();

    let demo = ServeProcess::start(&url, &["--demo", "--pathways", pathways.as_str()]).await;
    assert_eq!(worklist_status(&demo.base_url).await, 200);
    let out = demo.kill().await;
    assert!(
        !out.stderr.contains("DEMO ACCOUNTS EXIST"),
        "{}",
        out.stderr
    );

    let plain = ServeProcess::start(&url, &["--pathways", pathways.as_str()]).await;
    assert_eq!(worklist_status(&plain.base_url).await, 401);
    let out = plain.kill().await;
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("DEMO ACCOUNTS EXIST"))
        .unwrap_or_else(|| panic!("no warning in:\n{}", out.stderr));
    assert!(warning.contains("WARN"), "{warning}");
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_database_and_its_backups_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("renkei.db");
    let url = format!("sqlite://{}", file.display());
    // `user add` creates and migrates the database; the server then keeps it open in
    // WAL mode, so the -wal and -shm files exist while it runs.
    run_renkei(
        &[
            "org",
            "add",
            "--database",
            &url,
            "--code",
            "acute-7",
            "--name",
            "第七病院",
            "--kind",
            "acute_hospital",
            "--area",
            "千葉",
        ],
        None,
    )
    .await
    .assert_code(0);
    let pathways = pathways_dir().to_string_lossy().into_owned();
    let server = ServeProcess::start(&url, &["--pathways", pathways.as_str()]).await;
    for f in ["renkei.db", "renkei.db-wal", "renkei.db-shm"] {
        assert_eq!(mode(&dir.path().join(f)), 0o600, "{f}");
    }
    let backup = dir.path().join("copy.db");
    let b = backup.to_string_lossy().into_owned();
    run_renkei(&["backup", "--database", &url, &b], None)
        .await
        .assert_code(0);
    assert_eq!(mode(&backup), 0o600, "backup");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_add_applies_the_password_rules_of_the_web() {
    let db = db_or_skip!();
    let url = db.cli_url();
    run_renkei(
        &[
            "org",
            "add",
            "--database",
            &url,
            "--code",
            "acute-8",
            "--name",
            "第八病院",
            "--kind",
            "acute_hospital",
            "--area",
            "千葉",
        ],
        None,
    )
    .await
    .assert_code(0);
    let add = |login: &'static str| {
        [
            "user",
            "add",
            "--database",
            url.as_str(),
            "--org",
            "acute-8",
            "--login",
            login,
            "--name",
            "試験 太郎",
            "--profession",
            "nurse",
            "--password-stdin",
        ]
    };
    // Long enough and mixed, but on the common-password list.
    let common = run_renkei(&add("shiken"), Some("Password2026!!\n")).await;
    common.assert_code(1);
    assert!(common.stderr.contains("password"), "{}", common.stderr);
    assert!(
        common
            .stderr
            .contains("よく使われていて推測されやすいパスワード"),
        "{}",
        common.stderr
    );
    // Containing the login.
    let with_login = run_renkei(&add("shiken"), Some("shiken-Taro-2026\n")).await;
    with_login.assert_code(1);
    assert!(
        with_login.stderr.contains("ログインIDを含むパスワード"),
        "{}",
        with_login.stderr
    );
    // Nobody was created; a good password works.
    let ok = run_renkei(&add("shiken"), Some("Tsukimi-dango-42\n")).await;
    ok.assert_code(0);
}
