//! `renkei serve` as a new user meets it: the help names the web UI and the first-login
//! password change, a missing template directory is refused before any database is
//! created (the message names `--pathways`), and `serve --demo` works from a directory
//! without `./pathways` (the templates installed or built with the binary).

use renkei_testkit::{ServeProcess, renkei_bin};

#[tokio::test(flavor = "multi_thread")]
async fn serve_help_mentions_the_web_ui_and_the_first_login() {
    let out = renkei_testkit::run_renkei(&["serve", "--help"], None).await;
    out.assert_code(0);
    for needle in [
        "web UI",
        "first login asks for a new password",
        "--pathways",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle:?} not in\n{}",
            out.stdout
        );
    }
    let top = renkei_testkit::run_renkei(&["--help"], None).await;
    assert!(top.stdout.contains("web UI"), "{}", top.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_with_a_missing_template_directory_creates_no_database_and_names_the_option() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tokio::process::Command::new(renkei_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--pathways",
            "no-such-templates",
        ])
        .current_dir(dir.path())
        .env_remove("RENKEI_DATABASE_URL")
        .env_remove("RENKEI_PATHWAYS")
        .env("RENKEI_LOG", "warn")
        .output()
        .await
        .expect("run renkei serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started: {stderr}");
    assert!(stderr.contains("--pathways"), "{stderr}");
    assert!(stderr.contains("no-such-templates"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read temp dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_works_from_a_directory_without_pathways() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(!dir.path().join("pathways").exists());
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let server = ServeProcess::start_in(dir.path(), &url, &["--demo"]).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let res = client
        .get(format!("{}/api/v1/pathways", server.base_url))
        .send()
        .await
        .expect("GET pathways");
    // The list needs a login; that it answers at all shows the templates were published.
    assert!(res.status().as_u16() < 500, "{}", res.status());
    let out = server.kill().await;
    assert!(
        !out.stderr.contains("error"),
        "serve complained:\n{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("sato"),
        "demo instructions: {}",
        out.stdout
    );
}
