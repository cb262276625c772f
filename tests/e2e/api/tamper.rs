//! Tampering with a populated database by raw SQL, behind Renkei's back: `renkei
//! verify` (the CLI as a process) must report each change and exit 1, and `renkei
//! serve` must refuse a database whose audit head is gone. One test per tampering a
//! security review tried; each first checks that the untouched database verifies.
//!
//! The SQL is the same on both databases except where noted: existing ids are reached
//! through sub-selects; a made-up id or a new one is written per backend (SQLite stores
//! UUIDs as blobs).

use std::process::Stdio;
use std::time::Duration;

use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::cli::{free_port, renkei_command};
use renkei_testkit::{CliOutput, TestApp, run_renkei};
use serde_json::json;

use crate::support::{app_or_skip, append, stroke_plan, team_member};

/// What [`populated`] made: a stroke plan of `acute-1` with three entries, the patient's
/// consent, `recovery-1` on the care team, and a break-glass grant of a nurse of
/// `home-1` (outside the team).
struct Populated {
    plan: String,
    patient: String,
    consent: String,
    grant: String,
    /// The login owning the planner's token, and another practitioner's login.
    owner_login: String,
    other_login: String,
}

async fn populated(app: &TestApp) -> Populated {
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
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/consents"),
            &token,
            &json!({"scope": "care_team", "purposes": ["care"], "method": "paper",
                    "signer": "self", "obtained_at": days_ago(0)}),
            None,
        )
        .await;
    res.assert_status(201);
    let consent = res.body["id"].as_str().expect("consent id").to_owned();
    team_member(
        app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let outsider = app
        .user_token("home-1", "home_nursing", "home-1-nurse")
        .await;
    let res = app
        .post_json(
            "/api/v1/break-glass",
            &outsider,
            &json!({"care_plan": plan, "reason": "夜間救急搬送のため確認"}),
            None,
        )
        .await;
    res.assert_status(201);
    let grant = res.body["id"].as_str().expect("grant id").to_owned();
    let res = app.get(&format!("/api/v1/care-plans/{plan}"), &token).await;
    res.assert_status(200);
    let patient = res.body["patient_id"]
        .as_str()
        .unwrap_or_else(|| panic!("patient id in {}", res.text))
        .to_owned();
    Populated {
        plan,
        patient,
        consent,
        grant,
        owner_login: "acute-user-0".into(),
        other_login: "home-1-nurse".into(),
    }
}

async fn verify(app: &TestApp) -> CliOutput {
    run_renkei(&["verify", "--database", &app.db.cli_url()], None).await
}

/// Populates, checks that verify passes, tampers with `sql` and returns verify's output,
/// which must be a failure.
async fn tampered(app: &TestApp, sql: &str) -> CliOutput {
    let out = verify(app).await;
    out.assert_code(0);
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);
    app.db.execute(sql).await;
    let out = verify(app).await;
    out.assert_code(1);
    out
}

/// The BROKEN line containing every one of `needles`.
#[track_caller]
fn broken_line<'a>(out: &'a CliOutput, needles: &[&str]) -> &'a str {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("BROKEN"))
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no BROKEN line with {needles:?}:\n{}", out.stdout))
}

/// The populated database's only plan, as a sub-select.
const PLAN: &str = "(SELECT id FROM care_plans)";

/// A UUID as an SQL literal: text on PostgreSQL, a 16-byte blob on SQLite.
fn uuid_literal(app: &TestApp, id: uuid::Uuid) -> String {
    if app.db.is_postgres() {
        format!("'{id}'::uuid")
    } else {
        format!("X'{}'", id.simple())
    }
}

/// An SQL expression giving a new random UUID.
fn new_uuid(app: &TestApp) -> &'static str {
    if app.db.is_postgres() {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_tail_with_the_plan_head_rewritten_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    let out = tampered(
        &app,
        &format!(
            "DELETE FROM entries WHERE seq = 3 AND care_plan_id = {PLAN};
             UPDATE care_plans SET last_seq = 2,
                 head_hash = (SELECT hash FROM entries WHERE seq = 2 AND care_plan_id = {PLAN})
             WHERE id = {PLAN};"
        ),
    )
    .await;
    broken_line(
        &out,
        &[&format!("care plan {}", p.plan), "changed outside Renkei"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_emptied_audit_log_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let out = tampered(&app, "DELETE FROM audit_events; DELETE FROM audit_head;").await;
    broken_line(&out, &["audit log's head row is missing"]);

    // The head put back empty: an empty log beside patient data is just as wrong.
    app.db
        .execute("INSERT INTO audit_head (id, last_seq, head_hash) VALUES (1, 0, '')")
        .await;
    let out = verify(&app).await;
    out.assert_code(1);
    broken_line(&out, &["the audit log is empty"]);
    broken_line(&out, &["no audit event records this row"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_care_plan_with_all_its_rows_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    // Children first (foreign keys), the plan last.
    let out = tampered(
        &app,
        &format!(
            "DELETE FROM break_glass_grants WHERE care_plan_id = {PLAN};
             DELETE FROM consents WHERE care_plan_id = {PLAN};
             DELETE FROM care_team_members WHERE care_plan_id = {PLAN};
             DELETE FROM entries WHERE care_plan_id = {PLAN};
             DELETE FROM care_plans WHERE id = {PLAN};"
        ),
    )
    .await;
    assert_eq!(app.db.query_i64("SELECT COUNT(*) FROM care_plans").await, 0);
    broken_line(
        &out,
        &[&format!("care plan {}", p.plan), "deleted outside Renkei"],
    );
    broken_line(
        &out,
        &[&format!("consent {}", p.consent), "deleted outside Renkei"],
    );
    broken_line(&out, &["care-team member", "deleted outside Renkei"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_of_a_plan_that_does_not_exist_are_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    // Copies of the plan's entries under a plan id that exists nowhere. The foreign key
    // is switched off the way a database administrator could.
    let fk_off = if app.db.is_postgres() {
        "ALTER TABLE entries DROP CONSTRAINT fk_entries_care_plan_id;"
    } else {
        "PRAGMA foreign_keys = OFF;"
    };
    let ghost = uuid::Uuid::now_v7();
    let fake_plan = uuid_literal(&app, ghost);
    let new_id = new_uuid(&app);
    let out = tampered(
        &app,
        &format!(
            "{fk_off}
             INSERT INTO entries (id, care_plan_id, region, seq, stage, kind, effective_at,
                 recorded_at, author_id, organization_id, values_json, note, variance, amends,
                 reason, prev_hash, hash)
             SELECT {new_id}, {fake_plan}, region, seq, stage, kind, effective_at,
                 recorded_at, author_id, organization_id, values_json, note, variance, amends,
                 reason, prev_hash, hash
             FROM entries WHERE care_plan_id = {PLAN};"
        ),
    )
    .await;
    broken_line(
        &out,
        &[&format!("care plan {ghost} does not exist"), "3 entries"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_plan_status_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    let out = tampered(&app, "UPDATE care_plans SET status = 'completed'").await;
    broken_line(
        &out,
        &[&format!("care plan {}", p.plan), "changed outside Renkei"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_pinned_template_version_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    let out = tampered(
        &app,
        "UPDATE care_plans SET pathway_version_id =
             (SELECT v.id FROM pathway_versions v WHERE v.code <> 'stroke' ORDER BY v.code LIMIT 1)",
    )
    .await;
    broken_line(
        &out,
        &[&format!("care plan {}", p.plan), "changed outside Renkei"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_consent_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    let out = tampered(
        &app,
        "UPDATE consents SET purposes = '[\"care\",\"research\"]'",
    )
    .await;
    broken_line(
        &out,
        &[&format!("consent {}", p.consent), "changed outside Renkei"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_care_team_row_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    // The recovery hospital's seat handed to the home-nursing station.
    let out = tampered(
        &app,
        "UPDATE care_team_members SET organization_id =
             (SELECT id FROM organizations WHERE code = 'home-1')
         WHERE organization_id = (SELECT id FROM organizations WHERE code = 'recovery-1')",
    )
    .await;
    broken_line(&out, &["care-team member", "changed outside Renkei"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_added_care_team_row_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let new_id = new_uuid(&app);
    // A copy of the recovery hospital's row for the home-nursing station.
    let out = tampered(
        &app,
        &format!(
            "INSERT INTO care_team_members (id, care_plan_id, region, organization_id, role, stages, added_at, added_by)
             SELECT {new_id}, care_plan_id, region, (SELECT id FROM organizations WHERE code = 'home-1'),
                 role, stages, added_at, added_by
             FROM care_team_members
             WHERE organization_id = (SELECT id FROM organizations WHERE code = 'recovery-1')"
        ),
    )
    .await;
    broken_line(
        &out,
        &["care-team member", "no audit event records this row"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_break_glass_grant_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    // The grant moved to another practitioner.
    let out = tampered(
        &app,
        &format!(
            "UPDATE break_glass_grants SET practitioner_id =
                 (SELECT id FROM practitioners WHERE login = '{}')",
            p.owner_login
        ),
    )
    .await;
    broken_line(
        &out,
        &[
            &format!("break-glass grant {}", p.grant),
            "changed outside Renkei",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_patient_name_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    let out = tampered(&app, "UPDATE patients SET family_name = '偽名'").await;
    broken_line(
        &out,
        &[&format!("patient {}", p.patient), "changed outside Renkei"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_number_moved_to_another_organisation_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    // Another namespace's number would show the patient in that organisation's search.
    let out = tampered(
        &app,
        "UPDATE patient_identifiers SET organization_id =
             (SELECT id FROM organizations WHERE code = 'recovery-1')",
    )
    .await;
    broken_line(&out, &["patient number", "changed outside Renkei"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planted_patient_number_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let out = tampered(
        &app,
        &format!(
            "INSERT INTO patient_identifiers (id, patient_id, organization_id, value)
             SELECT {}, patient_id, organization_id, 'planted-1' FROM patient_identifiers",
            new_uuid(&app)
        ),
    )
    .await;
    broken_line(&out, &["patient number", "no audit event records this row"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_moved_to_another_practitioner_is_reported() {
    let app = app_or_skip!();
    let p = populated(&app).await;
    let out = tampered(
        &app,
        &format!(
            "UPDATE api_tokens SET practitioner_id =
                 (SELECT id FROM practitioners WHERE login = '{}')
             WHERE practitioner_id = (SELECT id FROM practitioners WHERE login = '{}')",
            p.other_login, p.owner_login
        ),
    )
    .await;
    broken_line(&out, &["API token", "changed outside Renkei"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_a_database_without_its_audit_head() {
    let app = app_or_skip!();
    populated(&app).await;
    app.db.execute("DELETE FROM audit_head").await;
    let listen = format!("127.0.0.1:{}", free_port());
    let url = app.db.cli_url();
    let mut cmd = renkei_command(&["serve", "--listen", &listen, "--database", &url]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn renkei serve");
    // Today's server would start and serve: it must exit on its own instead.
    let out = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("renkei serve should exit on a database without its audit head")
        .expect("wait for renkei serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("audit log's head row is missing") && stderr.contains("refusing to start"),
        "{stderr}"
    );
}
