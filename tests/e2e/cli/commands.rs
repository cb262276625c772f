//! The `renkei` binary as a process, against the test's database: template checks,
//! administration bootstrap, `verify` and tamper detection, and immutability of published
//! templates.
//!
//! On PostgreSQL the CLI reaches the test's schema through the URL
//! (`?options=-c search_path=<schema>`, see `TestDb::cli_url`).

use std::path::{Path, PathBuf};

use renkei_service::startup::StartupError;
use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{TestApp, pathways_dir, run_renkei};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, db_or_skip, stroke_plan};

#[tokio::test(flavor = "multi_thread")]
async fn pathways_check_accepts_the_repository_templates() {
    let out = run_renkei(&["pathways", "check", "pathways"], None).await;
    out.assert_code(0);
    for code in [
        "stroke v1",
        "femur-fracture v1",
        "diabetes v1",
        "ami v1",
        "heart-failure v1",
        "cancer-colorectal v1",
        "cancer-gastric v1",
        "cancer-liver v1",
        "cancer-lung v1",
        "cancer-breast v1",
    ] {
        assert!(
            out.stdout.contains(&format!("ok {code} sha256:")),
            "{}",
            out.stdout
        );
    }
}

/// A template with four independent errors, each on a line the test finds by its text.
const BROKEN: &str = r#"code = "broken"
version = 1
title = { ja = "壊れたパス", en = "Broken pathway" }
colour = "red"

[[stages]]
code = "acute"
title = { ja = "急性期", en = "Acute" }
provider_kinds = ["acute_hosp"]

[[items]]
code = "mrs"
title = { ja = "mRS", en = "mRS" }
type = "integer"
min = 0
max = 6
stages = ["acute"]

[[items]]
code = "mrs"
title = { ja = "mRS(重複)", en = "mRS (duplicate)" }
type = "integer"
min = 0
max = 6
stages = ["acute"]

[[items]]
code = "nihss_total"
title = { ja = "NIHSS", en = "NIHSS" }
type = "integer"
min = 42
max = 0
stages = ["acute"]

[[goals]]
code = "g1"
title = { ja = "目標", en = "Goal" }
target = { kind = "threshold", item = "no_such_item", op = "<", value = 3 }
"#;

/// 1-based line of the `nth` (0-based) line of `source` that contains `needle`.
fn line_of(source: &str, needle: &str, nth: usize) -> usize {
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the template"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pathways_check_reports_every_error_with_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("broken")).expect("mkdir");
    let file = dir.path().join("broken").join("v1.toml");
    std::fs::write(&file, BROKEN).expect("write template");
    let dir_arg = dir.path().to_string_lossy().into_owned();

    let out = run_renkei(&["pathways", "check", &dir_arg], None).await;
    out.assert_code(1);
    let file = file.display().to_string();
    let expected = [
        (line_of(BROKEN, "colour", 0), "colour"),
        (line_of(BROKEN, "code = \"mrs\"", 1), "mrs"),
        (line_of(BROKEN, "min = 42", 0), "min"),
        (line_of(BROKEN, "no_such_item", 0), "no_such_item"),
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    for (line, word) in expected {
        let prefix = format!("{file}:{line}:");
        let hit = lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no error at {prefix} (about {word}) in:\n{}", out.stdout));
        // file:line:column: message
        let rest = &hit[prefix.len()..];
        let (column, message) = rest.split_once(": ").expect("column and message");
        assert!(
            column.parse::<usize>().is_ok_and(|c| c >= 1),
            "column in {hit}"
        );
        assert!(!message.trim().is_empty(), "message in {hit}");
        assert!(
            hit.contains(word),
            "error at line {line} should mention {word}: {hit}"
        );
    }
    // Every line of the report names the file.
    assert!(lines.iter().all(|l| l.starts_with(&file)), "{}", out.stdout);
    // A syntax error stops at its position.
    std::fs::write(
        dir.path().join("broken").join("v1.toml"),
        "code = \"broken\"\nversion = \n",
    )
    .expect("write");
    let out = run_renkei(&["pathways", "check", &dir_arg], None).await;
    out.assert_code(1);
    assert!(
        out.stdout.starts_with(&format!("{file}:2:")),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pathways_schema_prints_a_json_schema() {
    let out = run_renkei(&["pathways", "schema"], None).await;
    out.assert_code(0);
    let schema: Value = serde_json::from_str(&out.stdout).expect("schema is JSON");
    assert!(schema["$schema"].is_string(), "{schema}");
    assert!(schema["properties"]["stages"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_bootstrap_issues_a_working_token() {
    let app = app_or_skip!();
    let db = app.db.cli_url();
    let out = run_renkei(
        &[
            "org",
            "add",
            "--database",
            &db,
            "--code",
            "recovery-9",
            "--name",
            "ちば回復期病院",
            "--kind",
            "recovery_hospital",
            "--area",
            "千葉",
        ],
        None,
    )
    .await;
    out.assert_code(0);
    assert!(
        uuid::Uuid::parse_str(out.stdout.trim()).is_ok(),
        "{}",
        out.stdout
    );

    // Same code again: refused.
    run_renkei(
        &[
            "org",
            "add",
            "--database",
            &db,
            "--code",
            "recovery-9",
            "--name",
            "x",
            "--kind",
            "recovery_hospital",
            "--area",
            "千葉",
        ],
        None,
    )
    .await
    .assert_code(1);

    let user = [
        "user",
        "add",
        "--database",
        &db,
        "--org",
        "recovery-9",
        "--login",
        "kato",
        "--name",
        "加藤 次郎",
        "--profession",
        "therapist",
        "--password-stdin",
    ];
    // A weak password is refused and creates nobody.
    let weak = run_renkei(&user, Some("short\n")).await;
    weak.assert_code(1);
    assert!(weak.stderr.contains("password"), "{}", weak.stderr);
    let out = run_renkei(&user, Some("Correct-horse-battery-42\n")).await;
    out.assert_code(0);

    let out = run_renkei(
        &["token", "issue", "--database", &db, "--login", "kato"],
        None,
    )
    .await;
    out.assert_code(0);
    let token = out.stdout.trim_end_matches('\n');
    assert!(
        !token.contains('\n'),
        "only the token on stdout: {:?}",
        out.stdout
    );
    assert!(token.starts_with("rk_") && token.len() > 40, "{token:?}");

    // The token works against a server on the same database.
    let res = app.get("/api/v1/organizations", token).await;
    res.assert_status(200);
    assert!(
        res.body["organizations"]
            .as_array()
            .expect("organizations")
            .iter()
            .any(|o| o["code"] == "recovery-9" && o["kind"] == "recovery_hospital"),
        "{}",
        res.text
    );
    // An unknown login gets no token.
    run_renkei(
        &["token", "issue", "--database", &db, "--login", "nobody"],
        None,
    )
    .await
    .assert_code(1);
}

/// A plan with three entries; returns the plan id.
async fn plan_with_three_entries(app: &TestApp) -> String {
    let token = app.token().await;
    let plan = stroke_plan(app, &token, 5).await;
    for body in [
        entry(
            "acute",
            "stage_start",
            &days_ago(5),
            json!({"nihss_total": 5}),
        ),
        entry("acute", "assessment", &days_ago(4), json!({"mrs": 3})),
        entry("acute", "assessment", &days_ago(3), json!({"mrs": 2})),
    ] {
        append(app, &token, &plan, body).await;
    }
    plan
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_detects_a_changed_entry() {
    let app = app_or_skip!();
    let plan = plan_with_three_entries(&app).await;
    let db = app.db.cli_url();

    let out = run_renkei(&["verify", "--database", &db], None).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains("1 care plans, 3 entries"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);

    // Change the values of seq 2 behind the application's back.
    let changed = app
        .db
        .execute(r#"UPDATE entries SET values_json = '{"mrs":0}' WHERE seq = 2"#)
        .await;
    assert_eq!(changed, 1);
    let out = run_renkei(&["verify", "--database", &db], None).await;
    out.assert_code(1);
    let broken = out
        .stdout
        .lines()
        .find(|l| l.starts_with("BROKEN"))
        .unwrap_or_else(|| panic!("no BROKEN line:\n{}", out.stdout));
    assert!(broken.contains(&plan), "names the plan: {broken}");
    assert!(broken.contains("seq 2"), "names the seq: {broken}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_detects_a_deleted_last_entry() {
    let app = app_or_skip!();
    let plan = plan_with_three_entries(&app).await;
    let db = app.db.cli_url();
    assert_eq!(app.db.execute("DELETE FROM entries WHERE seq = 3").await, 1);
    let out = run_renkei(&["verify", "--database", &db], None).await;
    out.assert_code(1);
    let broken = out
        .stdout
        .lines()
        .find(|l| l.starts_with("BROKEN"))
        .unwrap_or_else(|| panic!("no BROKEN line:\n{}", out.stdout));
    assert!(broken.contains(&plan), "names the plan: {broken}");
    assert!(
        broken.contains("chain has 2 entries but the plan records 3"),
        "{broken}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_detects_a_deleted_middle_entry() {
    let app = app_or_skip!();
    let plan = plan_with_three_entries(&app).await;
    let db = app.db.cli_url();
    assert_eq!(app.db.execute("DELETE FROM entries WHERE seq = 2").await, 1);
    let out = run_renkei(&["verify", "--database", &db], None).await;
    out.assert_code(1);
    assert!(
        out.stdout
            .contains(&format!("care plan {plan}: entry seq 3")),
        "{}",
        out.stdout
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_published_template_is_refused() {
    let db = db_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let pathways: PathBuf = dir.path().join("pathways");
    copy_dir(&pathways_dir(), &pathways);

    // Publish, then start again unchanged: fine.
    let services = renkei_testkit::start(db.settings(), &pathways, true)
        .await
        .expect("first start publishes");
    drop(services);
    renkei_testkit::start(db.settings(), &pathways, true)
        .await
        .expect("unchanged restart");

    // Edit a title of the published stroke v1.
    let file = pathways.join("stroke").join("v1.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    let edited = text.replacen(
        "en = \"Stroke regional care pathway\"",
        "en = \"Stroke pathway (edited)\"",
        1,
    );
    assert_ne!(text, edited);
    std::fs::write(&file, edited).expect("write");

    let err = match renkei_testkit::start(db.settings(), &pathways, true).await {
        Ok(_) => panic!("start accepted a changed published template"),
        Err(e) => e,
    };
    assert!(matches!(err, StartupError::Templates(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("stroke v1"), "{message}");

    let out = run_renkei(
        &[
            "pathways",
            "check",
            &pathways.to_string_lossy(),
            "--against",
            &db.cli_url(),
        ],
        None,
    )
    .await;
    out.assert_code(1);
    assert!(
        out.stdout.contains(&file.display().to_string()),
        "{}",
        out.stdout
    );
    // Without --against the file is valid.
    run_renkei(&["pathways", "check", &pathways.to_string_lossy()], None)
        .await
        .assert_code(0);
    // The server refuses to start on it too.
    let serve = run_renkei(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db.cli_url(),
            "--pathways",
            &pathways.to_string_lossy(),
        ],
        None,
    )
    .await;
    serve.assert_code(1);
    assert!(
        serve.stderr.contains(&file.display().to_string()),
        "{}",
        serve.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_the_schema_and_runs_again_harmlessly() {
    let db = db_or_skip!();
    let url = db.cli_url();
    let pool = db.connect().await;
    assert!(
        renkei_store::audit::pending_count(&pool).await.is_err(),
        "a fresh database has no schema yet"
    );
    for _ in 0..2 {
        let out = run_renkei(&["migrate", "--database", &url], None).await;
        out.assert_code(0);
        assert!(out.stdout.contains("migrations applied"), "{}", out.stdout);
    }
    assert_eq!(
        renkei_store::audit::pending_count(&pool)
            .await
            .expect("the audit log's tables exist"),
        0,
        "the migrations create an empty audit log"
    );
    let out = run_renkei(&["verify", "--database", &url], None).await;
    out.assert_code(0);
}

/// S4: `renkei verify` checks the audit log at ≥ 100 k events/s (release build). Loads a
/// generated log of `RENKEI_VERIFY_EVENTS` events (100 000 by default) through the bulk
/// path (`append_sequenced`, one signed checkpoint per 10 000), then times the whole
/// `verify` command and prints the rate of the build under test.
#[tokio::test(flavor = "multi_thread")]
async fn verify_checks_a_generated_audit_log_and_prints_its_rate() {
    use renkei_service::audit::{self, AuditRecord, Outcome, RequestMeta};
    use renkei_service::sequencer::{AuditKey, append_sequenced};
    use sea_orm::TransactionTrait;

    let db = db_or_skip!();
    let url = db.cli_url();
    run_renkei(&["migrate", "--database", &url], None)
        .await
        .assert_code(0);
    let pool = db.connect().await;
    // The key the CLI processes of the tests use (see renkei_testkit::cli).
    let key = AuditKey::load_or_create(&std::env::temp_dir().join("renkei-test-audit.key"))
        .expect("audit key");
    let n: usize = std::env::var("RENKEI_VERIFY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let at = chrono::Utc::now();
    let meta = RequestMeta {
        request_id: Some("generated".into()),
        client_addr: Some("127.0.0.1".into()),
    };
    let mut left = n;
    while left > 0 {
        let k = left.min(10_000);
        left -= k;
        let mut events: Vec<_> = (0..k)
            .map(|i| {
                let r = AuditRecord {
                    practitioner_id: None,
                    organization_id: None,
                    action: "login.password",
                    resource_type: "session",
                    resource_id: Some(format!("generated-{left}-{i}")),
                    patient_id: None,
                    care_plan_id: None,
                    outcome: Outcome::Denied,
                    detail: Some("bad_password".into()),
                    region: String::new(),
                    writes: Vec::new(),
                };
                audit::prepare(at, &meta, r, &[])
            })
            .collect();
        let txn = pool.begin().await.expect("begin");
        append_sequenced(&txn, &key, "", &mut events, at)
            .await
            .expect("append the generated events");
        txn.commit().await.expect("commit");
    }
    let started = std::time::Instant::now();
    let out = run_renkei(&["verify", "--database", &url], None).await;
    let secs = started.elapsed().as_secs_f64();
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("{n} audit events (0 not yet sequenced)")),
        "{}",
        out.stdout
    );
    eprintln!(
        "verify: {n} audit events in {secs:.2} s = {:.0} events/s (whole command, {} build)",
        n as f64 / secs,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
