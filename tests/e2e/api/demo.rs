//! `renkei serve --demo` as a process, twice on the same database: the second run adds
//! nothing, the demo tokens work, and `renkei verify` passes.

use renkei_testkit::cli::ServeProcess;
use renkei_testkit::{CliOutput, pathways_dir, run_renkei};
use serde_json::Value;

use crate::support::db_or_skip;

const DEMO_TOKEN: &str = "rk_demo_acute1_0000000000000000000000000000000000";

/// `(care plans, entries)` from `renkei verify`'s summary line.
fn counts(out: &CliOutput) -> (u64, u64) {
    // "checked 3 pathway versions, 6 care plans, 31 entries: all chains intact"
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("checked "))
        .unwrap_or_else(|| panic!("no summary:\n{}", out.stdout));
    let number_before = |word: &str| -> u64 {
        let i = line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        line[..i]
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("number before {word} in {line}"))
    };
    (number_before(" care plans"), number_before(" entries"))
}

async fn demo_patients(base_url: &str) -> Vec<Value> {
    let res = renkei_testkit::app::send(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(format!("{base_url}/api/v1/patients"))
            .bearer_auth(DEMO_TOKEN)
            .query(&[("kana", "ヤマダ")]),
    )
    .await;
    res.assert_status(200);
    res.body["patients"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_twice_adds_nothing_the_second_time() {
    let db = db_or_skip!();
    let url = db.cli_url();
    let pathways = pathways_dir().to_string_lossy().into_owned();
    let args = ["--demo", "--pathways", pathways.as_str()];

    let first = ServeProcess::start(&url, &args).await;
    let first_url = first.base_url.clone();
    assert_eq!(demo_patients(&first.base_url).await.len(), 1);
    let out = first.kill().await;
    assert!(out.stdout.contains("Demo region loaded"), "{}", out.stdout);
    assert!(out.stdout.contains(DEMO_TOKEN), "{}", out.stdout);
    // A newcomer is told where the web UI is and how to log in.
    assert!(
        out.stdout.contains(&format!("Web UI: {}/", first_url)),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Renkei-demo-2026"), "{}", out.stdout);

    let verified = run_renkei(&["verify", "--database", &url], None).await;
    verified.assert_code(0);
    let (plans, entries) = counts(&verified);
    assert!(plans >= 3 && entries > plans, "{}", verified.stdout);

    let second = ServeProcess::start(&url, &args).await;
    assert_eq!(demo_patients(&second.base_url).await.len(), 1);
    let out = second.kill().await;
    assert!(out.stdout.contains("already present"), "{}", out.stdout);

    let verified = run_renkei(&["verify", "--database", &url], None).await;
    verified.assert_code(0);
    assert!(
        verified.stdout.contains("all chains intact"),
        "{}",
        verified.stdout
    );
    assert_eq!(
        counts(&verified),
        (plans, entries),
        "the second run added data"
    );
}
