//! Operations, each through the real `renkei` process: the configuration file and
//! variables, the JSON request log, `/readyz`, `/metrics`, graceful shutdown on SIGTERM,
//! backup generations with the restore check, the retention export, and the deployment
//! examples under `crates/cli/deploy/`.

mod backups;
mod config;
mod deploy;
mod logs;
mod metrics;
mod readiness;
mod retention;
mod saturation;
mod shutdown;

use std::path::PathBuf;

use renkei_testkit::process::scratch::{Scratch, renkei_bin, workspace_root};
use renkei_testkit::process::server::Renkei;
use serde_json::{Value, json};

/// The password of the region's practitioner.
pub const PASSWORD: &str = "Unyo-shiken-2026!";

/// A scratch database with one clinic and one physician who can log in (no forced
/// password change) and holds a bearer token.
pub struct Region {
    pub db: Scratch,
    pub renkei: Renkei,
    pub org: String,
    pub login: String,
    pub token: String,
}

pub fn renkei(database_url: String) -> Renkei {
    Renkei {
        bin: renkei_bin().expect("the renkei binary"),
        database_url,
        pathways: workspace_root().join("pathways"),
        serve_args: Vec::new(),
        taskset: None,
    }
}

/// None: PostgreSQL is configured but unreachable outside CI.
pub async fn region(name: &str) -> Option<Region> {
    let db = Scratch::new(name).await.expect("scratch database")?;
    let r = renkei(db.url.clone());
    r.run_ok(&["migrate"], None).await.expect("migrate");
    let org = format!("ops-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    r.run_ok(
        &[
            "org",
            "add",
            "--code",
            &org,
            "--name",
            "運用試験診療所",
            "--kind",
            "clinic",
            "--area",
            "千葉",
        ],
        None,
    )
    .await
    .expect("org add");
    let login = format!("{org}-dr");
    r.run_ok(
        &[
            "user",
            "add",
            "--org",
            &org,
            "--login",
            &login,
            "--name",
            "運用 医師",
            "--profession",
            "physician",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await
    .expect("user add");
    let token = r
        .run_ok(&["token", "issue", "--login", &login], None)
        .await
        .expect("token issue")
        .trim()
        .to_owned();
    let conn = renkei_service::connect(&renkei_service::DbSettings::new(db.url.clone()))
        .await
        .expect("connect");
    renkei_testkit::rows::edit_practitioner(
        &conn,
        &login,
        renkei_testkit::rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("no forced password change");
    conn.close().await.expect("close");
    Some(Region {
        db,
        renkei: r,
        org,
        login,
        token,
    })
}

impl Region {
    pub fn work(&self, name: &str) -> PathBuf {
        let p = self.db.dir.join(name);
        std::fs::create_dir_all(&p).expect("work directory");
        p
    }
}

/// A bearer-token API client for one server.
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            base: base.to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.send(method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }

    /// A patient of `org` and a diabetes plan for them; returns (patient id, plan id,
    /// plan's current stage).
    pub async fn patient_with_plan(&self, org: &str, patient: &Value) -> (String, String, String) {
        let mut body = patient.clone();
        body["identifiers"] = json!([{"organization": org, "value": uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()}]);
        let p = self
            .ok(reqwest::Method::POST, "/patients", Some(&body))
            .await;
        let plan = self
            .ok(
                reqwest::Method::POST,
                "/care-plans",
                Some(&json!({"patient_id": p["id"], "pathway": "diabetes"})),
            )
            .await;
        (
            p["id"].as_str().expect("patient id").to_owned(),
            plan["id"].as_str().expect("plan id").to_owned(),
            plan["current_stage"].as_str().expect("stage").to_owned(),
        )
    }

    pub async fn append(&self, plan: &str, stage: &str, note: &str) -> Value {
        self.ok(
            reqwest::Method::POST,
            &format!("/care-plans/{plan}/entries"),
            Some(&json!({
                "stage": stage,
                "kind": "assessment",
                "effective_at": renkei_service::Clock::default().now().to_rfc3339(),
                "values": {"hba1c": 7.1, "bp_sys": 128, "bp_dia": 76},
                "note": note,
            })),
        )
        .await
    }
}

/// A standard patient body (identifiers added by [`Api::patient_with_plan`]).
pub fn patient(
    family: &str,
    given: &str,
    family_kana: &str,
    given_kana: &str,
    birth: &str,
) -> Value {
    json!({
        "name": {"family": family, "given": given, "family_kana": family_kana, "given_kana": given_kana},
        "birth_date": birth,
        "sex": "female",
    })
}
