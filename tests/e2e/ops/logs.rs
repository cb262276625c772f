//! The request log: one JSON object per request, with its request id, route template,
//! status, duration and the actor's organisation, and no patient data or secrets
//! anywhere in the whole log of a journey through the API and the web UI.

use std::time::Duration;

use renkei_testkit::process::server::free_port;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, PASSWORD, patient, region};

/// A form-posting, cookie-keeping client for the web pages.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Default::default(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, String) {
        let cookie = {
            let jar = self.cookies.lock().expect("jar");
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut req = req.header("Accept", "text/html");
        if !cookie.is_empty() {
            req = req.header("Cookie", cookie);
        }
        let r = req.send().await.expect("web request");
        {
            let mut jar = self.cookies.lock().expect("jar");
            for c in r.headers().get_all("set-cookie").iter() {
                let c = c.to_str().unwrap_or("");
                let pair = c.split(';').next().unwrap_or("");
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                if c.to_ascii_lowercase().contains("max-age=0") || value.is_empty() {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> u16 {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
            .0
    }
}

fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    let end = html[start..].find('"').expect("end of csrf") + start;
    html[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journeys_log_is_json_per_request_and_holds_no_patient_data_or_tokens() {
    let Some(region) = region("oplog").await else {
        return;
    };
    let log = region.work("log").join("serve.log");
    let mut server = region
        .renkei
        .serve_with_env(
            free_port().expect("port"),
            &log,
            &[
                ("RENKEI_LOG", "info,sqlx=warn,sea_orm=warn"),
                ("LOG_FORMAT", "json"),
            ],
        )
        .await
        .expect("serve");
    let api = Api::new(&server.base, &region.token);
    let (family, given, family_kana, given_kana, birth) =
        ("秘匿山", "花子", "ヒトクヤマ", "ハナコ", "1948-07-19");
    let note = "極秘の経過メモ、胸部に所見なし";
    let (patient_id, plan, stage) = api
        .patient_with_plan(
            &region.org,
            &patient(family, given, family_kana, given_kana, birth),
        )
        .await;
    api.append(&plan, &stage, note).await;
    api.ok(Method::GET, &format!("/care-plans/{plan}/entries"), None)
        .await;
    api.ok(Method::GET, &format!("/patients/{patient_id}"), None)
        .await;
    // Query strings carry names: the log never shows them.
    let (status, _) = api
        .send(Method::GET, &format!("/patients?kana={family_kana}"), None)
        .await;
    assert!(status < 500, "{status}");
    let (status, _) = api
        .send(
            Method::POST,
            &format!("/care-plans/{plan}/entries"),
            Some(&json!({"stage": stage, "kind": "assessment", "values": {}, "note": note, "effective_at": "not a time"})),
        )
        .await;
    assert!((400..500).contains(&status), "{status}");

    // The web UI: a refused login, a login, the worklist, the patient and the plan.
    let web = Browser::new(&server.base);
    let (_, form) = web.get("/login").await;
    let token = csrf(&form);
    web.post(
        "/login",
        &[
            ("login", &region.login),
            ("password", "wrong-password-123"),
            ("csrf", &token),
        ],
    )
    .await;
    let (_, form) = web.get("/login").await;
    let token = csrf(&form);
    assert_eq!(
        web.post(
            "/login",
            &[
                ("login", &region.login),
                ("password", PASSWORD),
                ("csrf", &token)
            ],
        )
        .await,
        303
    );
    for path in [
        "/worklist".to_owned(),
        format!("/patients/{patient_id}"),
        format!("/care-plans/{plan}"),
        format!("/patients?q={family}"),
    ] {
        let (status, html) = web.get(&path).await;
        assert_eq!(status, 200, "{path}");
        if path.starts_with("/patients/") {
            assert!(html.contains(family), "the page shows the patient");
        }
    }

    server.send_sigterm().expect("SIGTERM");
    let status = server
        .wait_exit(Duration::from_secs(60))
        .await
        .expect("the server exits on SIGTERM");
    assert!(status.success(), "{status}");

    let text = std::fs::read_to_string(&log).expect("read log");
    for secret in [
        family,
        given,
        family_kana,
        given_kana,
        birth,
        "19480719",
        "1948/07/19",
        note,
        "極秘",
        region.token.as_str(),
        PASSWORD,
        "wrong-password-123",
    ] {
        assert!(
            !text.contains(secret),
            "the log holds {secret:?}:\n{}",
            text.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let mut requests = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        if v["message"] == "request" || v["message"] == "request failed" {
            requests.push(v);
        }
    }
    let entry_posts: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["http.route"] == "/api/v1/care-plans/{id}/entries" && r["http.method"] == "POST"
        })
        .collect();
    assert_eq!(entry_posts.len(), 2, "{requests:#?}");
    for r in &entry_posts {
        assert_eq!(r["org"], region.org.as_str(), "{r}");
        assert!(
            r["request.id"].as_str().is_some_and(|id| id.len() >= 16),
            "{r}"
        );
        assert!(r["duration_ms"].as_f64().is_some(), "{r}");
    }
    let statuses: Vec<u64> = entry_posts
        .iter()
        .filter_map(|r| r["http.status"].as_u64())
        .collect();
    assert!(
        statuses.contains(&201) || statuses.contains(&200),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
    let page = requests
        .iter()
        .find(|r| r["http.route"] == "/care-plans/{id}")
        .expect("the plan page's line");
    assert_eq!(page["org"], region.org.as_str(), "{page}");
    assert_eq!(page["http.status"], 200);
    // Every request has its line: ids are unique.
    let mut ids: Vec<&str> = requests
        .iter()
        .filter_map(|r| r["request.id"].as_str())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "one line per request");
    assert!(n >= 14, "{n} request lines");
    region.db.cleanup().await;
}
