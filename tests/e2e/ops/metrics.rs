//! `/metrics` scraped and parsed: the series an operator alerts on are there, with
//! values that moved with what the test did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use renkei_testkit::process::server::free_port;
use reqwest::Method;

use super::{Api, patient, region};

/// `name{labels}` → value, from the Prometheus text format (comments skipped; a line
/// that does not parse fails the test).
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("not a value: {line}")),
        };
        out.insert(series.to_owned(), value);
    }
    out
}

fn find<'a>(
    m: &'a BTreeMap<String, f64>,
    name: &str,
    labels: &[&str],
) -> Option<(&'a String, f64)> {
    m.iter()
        .find(|(k, _)| {
            (k.as_str() == name || k.starts_with(&format!("{name}{{")))
                && labels.iter().all(|l| k.contains(l))
        })
        .map(|(k, v)| (k, *v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scrape_has_route_latency_pool_queue_audit_login_and_sweep_series() {
    let Some(mut region) = region("opmetrics").await else {
        return;
    };
    region.renkei.serve_args = vec!["--sweep-period-secs".into(), "1".into()];
    let mut server = region
        .renkei
        .serve(
            free_port().expect("port"),
            &region.work("log").join("serve.log"),
        )
        .await
        .expect("serve");
    let api = Api::new(&server.base, &region.token);
    let (_, plan, stage) = api
        .patient_with_plan(
            &region.org,
            &patient("計測", "花子", "ケイソク", "ハナコ", "1950-01-02"),
        )
        .await;
    for i in 0..3 {
        api.append(&plan, &stage, &format!("m{i}")).await;
    }
    api.ok(Method::GET, &format!("/care-plans/{plan}/entries"), None)
        .await;
    // A refused login counts as a login failure.
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http
        .get(format!("{}/login", server.base))
        .send()
        .await
        .expect("login page");
    let cookies: Vec<String> = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect();
    let html = form.text().await.expect("html");
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf") + marker.len();
    let csrf = &html[start..start + html[start..].find('"').expect("end")];
    let refused = http
        .post(format!("{}/login", server.base))
        .header("Cookie", cookies.join("; "))
        .form(&[
            ("login", region.login.as_str()),
            ("password", "not-the-password-1"),
            ("csrf", csrf),
        ])
        .send()
        .await
        .expect("login");
    assert!(refused.status().as_u16() < 500);

    // The sweep runs every second here: wait for its first duration, then read all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let text = http
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let m = parse(&text);
        if find(&m, "renkei_sweep_duration_seconds_count", &[]).is_some_and(|(_, v)| v >= 1.0) {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no sweep measured in 60 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let need = |name: &str, labels: &[&str]| -> f64 {
        find(&metrics, name, labels)
            .unwrap_or_else(|| {
                panic!(
                    "{name} {labels:?} missing from /metrics: {:#?}",
                    metrics.keys().collect::<Vec<_>>()
                )
            })
            .1
    };
    let route = "route=\"/api/v1/care-plans/{id}/entries\"";
    assert!(
        need(
            "renkei_http_request_duration_seconds_count",
            &[route, "method=\"POST\""]
        ) >= 3.0
    );
    assert!(
        need(
            "renkei_http_request_duration_seconds_bucket",
            &[route, "method=\"POST\"", "le=\"+Inf\""]
        ) >= 3.0
    );
    assert!(
        need(
            "renkei_http_request_duration_seconds_count",
            &[route, "method=\"GET\""]
        ) >= 1.0
    );
    assert!(need("renkei_appends_total", &[]) >= 3.0);
    assert!(need("renkei_login_failures_total", &[]) >= 1.0);
    assert!(need("renkei_db_pool_connections", &["state=\"in_use\""]) >= 0.0);
    assert!(need("renkei_db_pool_connections", &["state=\"idle\""]) >= 0.0);
    assert!(need("renkei_db_pool_max_connections", &[]) >= 1.0);
    assert_eq!(need("renkei_write_queue_depth", &[]), 0.0);
    if !region.db.is_postgres() {
        // SQLite writers queue: every append waited its turn (PostgreSQL has no queue).
        assert!(need("renkei_write_queue_wait_seconds_count", &[]) >= 3.0);
    }
    assert!(need("renkei_audit_sequencing_lag_seconds", &[]) >= 0.0);
    assert!(need("renkei_audit_pending_events", &[]) >= 0.0);
    assert!(need("renkei_sweep_duration_seconds_count", &[]) >= 1.0);
    // The background refreshes' backlogs: the worklist items and the council's report
    // facts of the plan made and changed by the appends are recomputed in the background,
    // after which each gauge reads 0 (a measurement on a loaded dataset waits for that).
    for gauge in [
        "renkei_worklist_stale_plans",
        "renkei_report_facts_stale_plans",
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let backlog = server
                .gauge(gauge)
                .await
                .expect("metrics")
                .unwrap_or_else(|| panic!("{gauge} missing from /metrics"));
            assert!(
                backlog >= 0.0 && backlog.fract() == 0.0,
                "{gauge} {backlog}"
            );
            if backlog == 0.0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{gauge}: still {backlog} stale plans after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Raw paths (with ids) never become series.
    assert!(
        !metrics.keys().any(|k| k.contains(&plan)),
        "a plan id appears in /metrics"
    );
    server.kill9().await;
    region.db.cleanup().await;
}
