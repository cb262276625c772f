//! Graceful shutdown: SIGTERM under append load. Every acknowledged write is in the
//! database afterwards, no accepted request got a 5xx, the process exits 0 by itself,
//! and the chains and the audit log verify.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use renkei_testkit::process::crash::{self, Outcome, Record};
use renkei_testkit::process::server::free_port;
use serde_json::Value;
use tokio::sync::Mutex;

use super::renkei;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_append_load_keeps_every_acknowledged_write_and_answers_no_5xx() {
    let Some(db) = renkei_testkit::process::scratch::Scratch::new("opterm")
        .await
        .expect("scratch")
    else {
        return;
    };
    let r = renkei(db.url.clone());
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let work = db.dir.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let log = work.join("serve.log");
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (mut fixture_server, clients) =
        crash::fixture(&r, &http, 4, &run_id, &work.join("fixture.log"))
            .await
            .expect("fixture");
    fixture_server.stop().await;
    // Again with the info lines, which say what the shutdown did.
    let mut server = r
        .serve_with_env(free_port().expect("port"), &log, &[("RENKEI_LOG", "info")])
        .await
        .expect("serve");
    let stop = Arc::new(AtomicBool::new(false));
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let (http, base, c, stop, records) = (
            http.clone(),
            server.base.clone(),
            c.clone(),
            stop.clone(),
            records.clone(),
        );
        let prefix = format!("term-{run_id}-{i}");
        tasks.push(tokio::spawn(async move {
            crash::client_loop(&http, &base, &c, &prefix, &stop, &records).await;
        }));
    }
    crash::wait_for_acks(&records, 40)
        .await
        .expect("appends under way");
    server.send_sigterm().expect("SIGTERM");
    let status = server
        .wait_exit(Duration::from_secs(60))
        .await
        .expect("the server exits by itself after SIGTERM");
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("client task");
    }
    assert!(status.success(), "exit status {status}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("in-flight requests finished"), "{text}");
    assert!(text.contains("audit log sequenced"), "{text}");
    assert!(text.contains("shutdown complete"), "{text}");

    let records = records.lock().await.clone();
    let server_errors: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(&r.outcome, Outcome::Unknown(s) if s.starts_with("status 5") || s.contains("body lost")))
        .collect();
    assert!(
        server_errors.is_empty(),
        "accepted requests answered 5xx or cut off: {:?}",
        server_errors.iter().map(|r| &r.outcome).collect::<Vec<_>>()
    );
    let acked: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
        .collect();
    assert!(acked.len() >= 40);

    // Every acknowledged entry is there after a restart.
    let mut server = r
        .serve(free_port().expect("port"), &work.join("serve-after.log"))
        .await
        .expect("restart");
    for c in &clients {
        let entries: Value = http
            .get(format!(
                "{}/api/v1/care-plans/{}/entries",
                server.base, c.plan
            ))
            .bearer_auth(&c.token)
            .send()
            .await
            .expect("entries")
            .json()
            .await
            .expect("json");
        let ids: BTreeSet<&str> = entries["entries"]
            .as_array()
            .expect("a list of entries")
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        for rec in acked.iter().filter(|rec| rec.plan == c.plan) {
            if let Outcome::Acked(id) = &rec.outcome {
                assert!(ids.contains(id.as_str()), "acknowledged entry {id} lost");
            }
        }
    }
    server.stop().await;
    let verify = r.run(&["verify"], None).await.expect("verify");
    assert!(verify.success, "{}\n{}", verify.stdout, verify.stderr);
    db.cleanup().await;
}
