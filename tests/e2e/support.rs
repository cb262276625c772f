//! Helpers shared by the e2e modules: a patient enrolled on stroke, the plan's visible
//! state, and hash-chain checks over the API's entry list.

use renkei_testkit::builders::{days_ago, patient};
use renkei_testkit::{ApiResponse, TestApp};
use serde_json::{Value, json};

pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Starts a test app, or returns from the test when its backend is unavailable (outside
/// CI; under CI that is a failure inside `TestApp::spawn`).
macro_rules! app_or_skip {
    () => {
        match renkei_testkit::TestApp::spawn().await {
            Some(app) => app,
            None => return,
        }
    };
}
pub(crate) use app_or_skip;

/// Same for a bare database.
macro_rules! db_or_skip {
    () => {
        match renkei_testkit::TestDb::new().await {
            Some(db) => db,
            None => return,
        }
    };
}
pub(crate) use db_or_skip;

/// The variant a test enrols on when it takes the latest version of `pathway`: the
/// latest stroke and femur versions have variants, and enrolment needs one.
pub fn latest_variant(pathway: &str) -> Option<&'static str> {
    match pathway {
        "stroke" => Some("standard"),
        "femur-fracture" => Some("osteosynthesis"),
        _ => None,
    }
}

/// Registers a patient (unique identifier per call) and returns the response body.
pub async fn create_patient(
    app: &TestApp,
    token: &str,
    kana: (&str, &str),
    birth: &str,
    ident: &str,
) -> Value {
    let res = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient(kana.0, kana.1, birth, "acute-1", ident),
            None,
        )
        .await;
    res.assert_status(201);
    res.body
}

/// Enrols a new patient on stroke with care starting `started_days_ago` days ago;
/// returns the plan id.
pub async fn stroke_plan(app: &TestApp, token: &str, started_days_ago: i64) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = create_patient(app, token, ("ヤマダ", "タロウ"), "1948-04-01", &ident[..12]).await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(started_days_ago)}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("plan id").to_owned()
}

/// Records the patient's consent to share the plan with its care team (the planning
/// organisation's `token`), so that other members see it.
pub async fn consent(app: &TestApp, token: &str, plan: &str) {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/consents"),
        token,
        &json!({"scope": "care_team", "purposes": ["care"], "method": "paper", "signer": "self",
                "obtained_at": days_ago(0)}),
        None,
    )
    .await
    .assert_status(201);
}

/// Puts organisation `org` (created as `kind` when missing) on the plan's care team as
/// owner of `stages` (through the planner's `token`) and returns a token for a nurse of
/// that organisation.
pub async fn team_member(
    app: &TestApp,
    token: &str,
    plan: &str,
    org: &str,
    kind: &str,
    stages: &[&str],
) -> String {
    let login = format!(
        "{org}-nurse-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let member = app.user_token(org, kind, &login).await;
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/care-team"),
        token,
        &json!({"organization": org, "stages": stages, "role": "stage_owner"}),
        None,
    )
    .await
    .assert_status(201);
    member
}

/// Appends an entry and asserts 201; returns the entry.
pub async fn append(app: &TestApp, token: &str, plan: &str, body: Value) -> Value {
    let res = post_entry(app, token, plan, &body).await;
    res.assert_status(201);
    res.body
}

pub async fn post_entry(app: &TestApp, token: &str, plan: &str, body: &Value) -> ApiResponse {
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/entries"),
        token,
        body,
        None,
    )
    .await
}

/// The plan's entries in the order the API gives them.
pub async fn entries(app: &TestApp, token: &str, plan: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/api/v1/care-plans/{plan}/entries"), token)
        .await;
    res.assert_status(200);
    res.body["entries"]
        .as_array()
        .expect("entries array")
        .clone()
}

/// What must not change when a request is rejected: the plan's counters and its
/// whole entry list.
#[derive(Debug, PartialEq)]
pub struct PlanSnapshot {
    pub entry_count: i64,
    pub head_hash: String,
    pub current_stage: String,
    pub entries: Vec<Value>,
}

pub async fn snapshot(app: &TestApp, token: &str, plan: &str) -> PlanSnapshot {
    let res = app.get(&format!("/api/v1/care-plans/{plan}"), token).await;
    res.assert_status(200);
    PlanSnapshot {
        entry_count: res.body["entry_count"].as_i64().expect("entry_count"),
        head_hash: res.body["head_hash"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        current_stage: res.body["current_stage"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        entries: entries(app, token, plan).await,
    }
}

/// Sequence numbers run 1..n in list order, the first `prev_hash` is the genesis hash,
/// and each `prev_hash` is the previous entry's hash.
#[track_caller]
pub fn assert_chain(entries: &[Value]) {
    let mut prev = GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"], json!(i as i64 + 1), "seq of entry {i}: {e}");
        assert_eq!(e["prev_hash"], json!(prev), "prev_hash of seq {}", i + 1);
        let hash = e["hash"].as_str().expect("hash");
        assert!(
            hash.starts_with("sha256:") && hash.len() == 71,
            "hash format: {hash}"
        );
        assert_ne!(hash, prev, "hash equals prev_hash at seq {}", i + 1);
        prev = hash.to_owned();
    }
}
