//! The OpenAPI document at `/api/openapi.json`: valid (openapi-spec-validator), every
//! error answer described, and no response schemathesis (`--checks all`) finds that
//! the document does not describe. Both tools are Python packages that CI installs
//! (`.ci/run`); outside CI a missing tool skips its test with a loud warning.
//!
//! `RENKEI_PYTHON` names the Python with openapi-spec-validator (default `python3`),
//! `RENKEI_SCHEMATHESIS` the schemathesis executable (default `schemathesis` on PATH),
//! `RENKEI_SCHEMATHESIS_EXAMPLES` the examples per operation (default 25).

use std::process::Stdio;
use std::time::Duration;

use renkei_testkit::TestApp;
use renkei_testkit::access::practitioner;
use renkei_testkit::app::send;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::app_or_skip;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A tool that is not installed: a failure under CI, a loud skip elsewhere.
fn missing_tool(what: &str) {
    let message = format!(
        "{what} is not installed: `pip install -r tests/python-tools.txt` (CI installs it in .ci/run)"
    );
    if in_ci() {
        panic!("{message}");
    }
    // Straight to the process's stderr, past the test harness's capture.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!! SKIPPED: {message} !!!!!!!!!!\n"
    );
}

async fn fetch_document(app: &TestApp) -> Value {
    let res = send(app.request(Method::GET, "/api/openapi.json")).await;
    res.assert_status(200);
    res.body.clone()
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Each operation of the document as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread")]
async fn document_passes_openapi_spec_validator() {
    let app = app_or_skip!();
    let doc = fetch_document(&app).await;
    let python = std::env::var("RENKEI_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = tokio::process::Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !probe.is_ok_and(|s| s.success()) {
        missing_tool("openapi-spec-validator (PyPI)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let out = tokio::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .await
        .expect("run openapi_spec_validator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(": OK"),
        "openapi-spec-validator refused the document ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_parameter_is_where_the_route_reads_it() {
    let app = app_or_skip!();
    let doc = fetch_document(&app).await;
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().expect("parameter name");
            let declared_in_path = p["in"] == "path";
            let in_template = path.contains(&format!("{{{name}}}"));
            assert_eq!(
                declared_in_path,
                in_template,
                "{method} {path}: parameter `{name}` is declared in {} but the route {} it in its path",
                p["in"],
                if in_template { "has" } else { "does not have" }
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_answer_is_documented_as_problem_json() {
    let app = app_or_skip!();
    let doc = fetch_document(&app).await;
    let components = &doc["components"]["responses"];
    let secured_globally = doc["security"].as_array().is_some_and(|s| {
        s.iter()
            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    });
    assert!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer",
        "the bearer security scheme is declared"
    );
    let resolve = |r: &Value| -> Value {
        match r["$ref"].as_str() {
            Some(reference) => {
                let name = reference
                    .strip_prefix("#/components/responses/")
                    .unwrap_or_else(|| panic!("response reference {reference}"));
                components[name].clone()
            }
            None => r.clone(),
        }
    };
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        let authenticated = match op.get("security") {
            Some(reqs) => reqs.as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            }),
            None => secured_globally,
        };
        let mut expected: Vec<&str> = Vec::new();
        if authenticated {
            expected.extend(["401", "503"]);
            if method != "get" {
                expected.push("403");
            }
        }
        if op.get("requestBody").is_some() {
            expected.extend(["400", "413", "415", "422"]);
        }
        if path.contains('{') {
            expected.extend(["400", "404"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let response = resolve(response);
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status} is not described as problem+json"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} error answers documented");
    let problem = &doc["components"]["schemas"]["Problem"];
    for member in ["type", "title", "status", "code"] {
        assert!(
            problem["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|m| m == member)),
            "Problem requires `{member}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_segment_that_is_not_utf8_answers_problem_json() {
    let app = app_or_skip!();
    let token = app.token().await;
    for path in ["/api/v1/patients/%FF", "/api/v1/care-plans/%C3%28/entries"] {
        app.get(path, &token).await.assert_problem(400, None);
    }
}

/// The document's maxLength counts what is sent: surrounding spaces do not buy room.
#[tokio::test(flavor = "multi_thread")]
async fn length_limits_count_what_was_sent() {
    let app = app_or_skip!();
    let token = app.token().await;
    let padded = |n: usize| format!(" {} ", "x".repeat(n - 2));

    let label = app
        .post_json(
            "/api/v1/tokens",
            &token,
            &json!({"label": padded(101), "scopes": ["read"], "expires_in_days": 1}),
            None,
        )
        .await;
    label.assert_problem(422, Some("label"));
    app.post_json(
        "/api/v1/tokens",
        &token,
        &json!({"label": padded(100), "scopes": ["read"], "expires_in_days": 1}),
        None,
    )
    .await
    .assert_status(201);

    let mut body =
        renkei_testkit::builders::patient("ヤマダ", "タロウ", "1950-01-01", "acute-1", "L-1");
    body["name"]["family"] = json!(format!(" {} ", "山".repeat(99)));
    app.post_json("/api/v1/patients", &token, &body, None)
        .await
        .assert_problem(422, Some("name.family"));
    let mut body =
        renkei_testkit::builders::patient("ヤマダ", "タロウ", "1950-01-01", "acute-1", "L-2");
    body["identifiers"][0]["value"] = json!(format!(" {} ", "7".repeat(63)));
    app.post_json("/api/v1/patients", &token, &body, None)
        .await
        .assert_problem(422, Some("identifiers[0].value"));
    let patients = app
        .get_query("/api/v1/patients", &token, &[("kana", "ヤマダ")])
        .await;
    patients.assert_status(200);
    assert_eq!(patients.body["patients"], json!([]), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn worklist_refuses_dropout_days_and_limit_out_of_range() {
    let app = app_or_skip!();
    let token = app.token().await;
    for (param, value) in [
        ("dropout_days", "0"),
        ("dropout_days", "3651"),
        ("dropout_days", "-5"),
        ("limit", "0"),
        ("limit", "501"),
    ] {
        let res = app
            .get_query("/api/v1/worklist", &token, &[(param, value)])
            .await;
        res.assert_problem(422, Some(param));
        if !value.starts_with('-') {
            assert!(
                res.text.contains("\"range\""),
                "{param}={value}: rule `range` expected: {}",
                res.text
            );
        }
    }
    for (param, value) in [
        ("dropout_days", "1"),
        ("dropout_days", "3650"),
        ("limit", "1"),
        ("limit", "500"),
    ] {
        app.get_query("/api/v1/worklist", &token, &[(param, value)])
            .await
            .assert_status(200);
    }
    let doc = fetch_document(&app).await;
    let params = doc["paths"]["/api/v1/worklist"]["get"]["parameters"]
        .as_array()
        .expect("worklist parameters")
        .clone();
    let schema_of = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("worklist documents `{name}`"))
    };
    assert_eq!(schema_of("dropout_days")["minimum"], 1);
    assert_eq!(schema_of("dropout_days")["maximum"], 3650);
    assert_eq!(schema_of("limit")["minimum"], 1);
    assert_eq!(schema_of("limit")["maximum"], 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_refuses_a_limit_out_of_range() {
    let app = app_or_skip!();
    let admin = practitioner(
        &app,
        "region-1",
        "municipality",
        "kanri-openapi",
        "liaison_staff",
        &["regional_admin"],
    )
    .await;
    for value in ["0", "1001"] {
        app.get_query("/api/v1/audit", &admin.token, &[("limit", value)])
            .await
            .assert_problem(422, Some("limit"));
    }
    app.get_query("/api/v1/audit", &admin.token, &[("limit", "1000")])
        .await
        .assert_status(200);
}

/// Runs schemathesis with every check against the test server over the demo region:
/// every operation with a read-and-write token of the acute hospital (without the
/// `tokens` scope, so that the stateful phase cannot revoke the token it runs with),
/// then the administrator's operations (tokens, break-glass review, audit log) with
/// the regional administrator's full token, leaving out revoking tokens.
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_the_document_does_not_describe() {
    let app = app_or_skip!();
    let program = std::env::var("RENKEI_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let version = tokio::process::Command::new(&program)
        .arg("--version")
        .output()
        .await;
    if !version.is_ok_and(|o| o.status.success()) {
        missing_tool("schemathesis (PyPI)");
        return;
    }
    renkei_service::demo::load(&app.services)
        .await
        .expect("load the demo region");
    let full = renkei_service::admin::issue_token(&app.services, "sato", "openapi", None)
        .await
        .expect("token for sato");
    let issued = app
        .post_json(
            "/api/v1/tokens",
            &full,
            &json!({"label": "schemathesis", "scopes": ["read", "write"], "expires_in_days": 1}),
            None,
        )
        .await;
    issued.assert_status(201);
    let read_write = issued.body["token"].as_str().expect("token").to_owned();
    run_schemathesis(&app, &program, &read_write, &[]).await;

    let admin = renkei_service::admin::issue_token(&app.services, "kanri", "openapi", None)
        .await
        .expect("token for kanri");
    run_schemathesis(
        &app,
        &program,
        &admin,
        &[
            "--include-path-regex",
            "^/api/v1/(tokens|break-glass|audit)",
            "--exclude-path",
            "/api/v1/tokens/{id}/revoke",
        ],
    )
    .await;
}

/// One bounded schemathesis run (`--checks all`, RENKEI_SCHEMATHESIS_EXAMPLES examples
/// per operation, fixed seed, at most 240 s); fails the test on any finding.
async fn run_schemathesis(app: &TestApp, program: &str, token: &str, extra: &[&str]) {
    let examples = std::env::var("RENKEI_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let config = renkei_testkit::workspace_root().join("tests/schemathesis.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg("--config-file")
        .arg(&config)
        .args(["run", &app.url("/api/openapi.json")])
        .args(["--checks", "all", "--max-examples", &examples])
        .args(["--workers", "2", "--seed", "20261204"])
        .args(["--generation-database", "none", "--request-timeout", "20"])
        .args([
            "--no-color",
            "--header",
            &format!("Authorization: Bearer {token}"),
        ])
        .args(extra)
        .current_dir(dir.path())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("schemathesis finished within 240 s")
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis {extra:?} found responses or schemas the document does not describe ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(" passed"),
        "schemathesis {extra:?} ran no test case:\n{stdout}"
    );
}
