//! In-process requests for P7: the real router (`renkei_http::router`) over a SQLite
//! database, driven with `tower::ServiceExt::oneshot` — no sockets — so that valgrind's
//! callgrind can count the instructions per request. Run it twice, with N and with 0
//! requests: the difference divided by N is the cost of one request, set-up excluded.

use std::path::Path;

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::{Request, header};
use renkei_service::DbSettings;
use renkei_service::admin::{self, NewOrganization, NewPractitioner};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(b)?))?,
        None => req.body(Body::empty())?,
    };
    let res = router.clone().oneshot(req).await?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20).await?;
    if !status.is_success() {
        bail!(
            "{method} {uri} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn entry_body(i: usize) -> Value {
    json!({
        "stage": "clinic", "kind": "assessment",
        "effective_at": renkei_service::Clock::default().now().to_rfc3339(),
        "values": {"hba1c": 6.5 + (i % 20) as f64 / 10.0, "bp_sys": 120 + i % 30, "bp_dia": 70 + i % 15,
                   "weight": 70.5}
    })
}

/// Sets up one clinic, user, patient and diabetes plan (its clinic stage, where a clinic
/// writes) with 24 entries, then makes `n`
/// requests of `op` (`append` or `goals`).
pub async fn run(database_url: &str, pathways: &Path, op: &str, n: usize) -> anyhow::Result<()> {
    let settings = DbSettings::new(database_url);
    let services = renkei_testkit::start(&settings, pathways, true).await?;
    admin::add_organization(
        &services,
        NewOrganization {
            code: "cg-clinic".into(),
            name: "計測診療所".into(),
            kind: "clinic".into(),
            area: "千葉".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    admin::add_practitioner(
        &services,
        NewPractitioner {
            organization_code: "cg-clinic".into(),
            login: "cg-user".into(),
            name: "計測 医師".into(),
            profession: "physician".into(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = admin::issue_token(&services, "cg-user", "callgrind", None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let router = renkei_http::router(renkei_http::AppState { services });
    let patient = call(
        &router,
        "POST",
        "/api/v1/patients",
        &token,
        None,
        Some(&json!({
            "name": {"family": "計測", "given": "太郎", "family_kana": "ケイソク", "given_kana": "タロウ"},
            "birth_date": "1950-04-01", "sex": "male",
            "identifiers": [{"organization": "cg-clinic", "value": "CG-1"}]
        })),
    )
    .await?;
    let plan = call(
        &router,
        "POST",
        "/api/v1/care-plans",
        &token,
        None,
        Some(&json!({"patient_id": patient["id"], "pathway": "diabetes"})),
    )
    .await?;
    let plan = plan["id"].as_str().context("plan id")?.to_owned();
    let entries = format!("/api/v1/care-plans/{plan}/entries");
    for i in 0..24 {
        call(
            &router,
            "POST",
            &entries,
            &token,
            Some(&format!("setup-{i}")),
            Some(&entry_body(i)),
        )
        .await?;
    }
    let goals = format!("/api/v1/care-plans/{plan}/goals");
    for i in 0..n {
        match op {
            "append" => {
                call(
                    &router,
                    "POST",
                    &entries,
                    &token,
                    Some(&format!("k-{i}")),
                    Some(&entry_body(i)),
                )
                .await?;
            }
            "goals" => {
                call(&router, "GET", &goals, &token, None, None).await?;
            }
            other => bail!("unknown op {other} (append or goals)"),
        }
    }
    Ok(())
}
