//! Retention: closed plans past the retention period are exported with their chains
//! for archiving, and nothing is deleted — entries and audit events before and after
//! are the same (audit events only grow).

use renkei_testkit::process::server::free_port;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, patient, region};

/// (entries, audit events) from `renkei verify`'s summary line.
fn counts(verify: &str) -> (u64, u64) {
    let line = verify
        .lines()
        .find(|l| l.starts_with("checked "))
        .expect("summary");
    let number_before = |word: &str| -> u64 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words
            .windows(2)
            .position(|w| w[1].trim_end_matches(',') == word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        words[i].parse().expect("a count")
    };
    (number_before("entries"), number_before("audit"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_plans_past_retention_are_exported_with_their_chains_and_nothing_is_deleted() {
    let Some(region) = region("opretain").await else {
        return;
    };
    let mut server = region
        .renkei
        .serve(
            free_port().expect("port"),
            &region.work("log").join("serve.log"),
        )
        .await
        .expect("serve");
    let api = Api::new(&server.base, &region.token);
    let (_, closed, stage) = api
        .patient_with_plan(
            &region.org,
            &patient("保存", "一郎", "ホゾン", "イチロウ", "1940-05-06"),
        )
        .await;
    api.append(&closed, &stage, "closed-1").await;
    api.append(&closed, &stage, "closed-2").await;
    api.ok(
        Method::POST,
        &format!("/care-plans/{closed}/withdraw"),
        Some(&json!({"reason": "転居のため"})),
    )
    .await;
    let (_, active, stage) = api
        .patient_with_plan(
            &region.org,
            &patient("継続", "二郎", "ケイゾク", "ジロウ", "1941-06-07"),
        )
        .await;
    api.append(&active, &stage, "active-1").await;
    server.stop().await;

    let before = region
        .renkei
        .run_ok(&["verify"], None)
        .await
        .expect("verify");
    let out_dir = region.work("archive");
    let out = out_dir.to_str().expect("utf-8");
    // Today nothing is five years old.
    let now = region
        .renkei
        .run_ok(
            &[
                "export",
                "closed-plans",
                "--before-years",
                "5",
                "--out",
                out,
            ],
            None,
        )
        .await
        .expect("export");
    assert!(now.contains("exported 0 closed care plan(s)"), "{now}");
    // Six years on, the withdrawn plan is past its retention period; the active one never is.
    let later = (chrono::Utc::now() + chrono::Duration::days(6 * 366)).to_rfc3339();
    let six = region
        .renkei
        .run_ok(
            &[
                "export",
                "closed-plans",
                "--before-years",
                "5",
                "--as-of",
                &later,
                "--out",
                out,
            ],
            None,
        )
        .await
        .expect("export");
    assert!(six.contains("exported 1 closed care plan(s)"), "{six}");
    let file = six
        .split(" to ")
        .nth(1)
        .and_then(|s| s.split(" (sha256").next())
        .expect("file name");
    let text = std::fs::read_to_string(file).expect("export file");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    let plan = &lines[0];
    assert_eq!(plan["care_plan"]["id"], closed.as_str());
    assert_eq!(plan["care_plan"]["status"], "withdrawn");
    let entries = plan["entries"].as_array().expect("entries");
    assert!(entries.len() >= 3, "{plan}");
    // The chain as stored: each entry's prev_hash is the previous entry's hash.
    for w in entries.windows(2) {
        assert_eq!(w[1]["prev_hash"], w[0]["hash"]);
        assert_eq!(w[1]["seq"].as_i64(), w[0]["seq"].as_i64().map(|s| s + 1));
    }
    assert_eq!(
        entries.last().expect("last")["hash"],
        plan["care_plan"]["head_hash"]
    );
    assert!(std::path::Path::new(&format!("{file}.sha256")).exists());

    let after = region
        .renkei
        .run_ok(&["verify"], None)
        .await
        .expect("verify");
    let (entries_before, audit_before) = counts(&before);
    let (entries_after, audit_after) = counts(&after);
    assert_eq!(entries_after, entries_before, "no entry deleted");
    assert!(audit_after >= audit_before, "no audit event deleted");
    region.db.cleanup().await;
}
