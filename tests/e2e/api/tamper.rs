//! Tampering with a populated database by raw SQL, behind Renkei's back: `renkei
//! verify` (the CLI as a process) must report each change and exit 1. One test per
//! tampering a security review tried; each first checks that the untouched database
//! verifies. The audit log's own tests change, delete, insert, reorder and truncate
//! events, and cut the log back together with its checkpoints (caught by a witness
//! checkpoint kept outside the database).
//!
//! The SQL is the same on both databases except where noted: existing ids are reached
//! through sub-selects; a made-up id or a new one is written per backend (SQLite stores
//! UUIDs as blobs).

use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::cli::ServeProcess;
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
    broken_line(&out, &["the audit log is empty"]);
    broken_line(&out, &["stored checkpoint records", "cut back"]);

    // The checkpoints and trees removed too: an empty log beside patient data is just
    // as wrong.
    app.db
        .execute("DELETE FROM audit_checkpoints; DELETE FROM audit_trees;")
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

/// The audit head row of the hash-chained log is no longer part of the audit log: the
/// server starts without it and `verify` does not need it.
#[tokio::test(flavor = "multi_thread")]
async fn serve_starts_and_verify_passes_without_the_retired_audit_head() {
    let app = app_or_skip!();
    populated(&app).await;
    app.db.execute("DELETE FROM audit_head").await;
    let out = verify(&app).await;
    out.assert_code(0);
    // Starts (the helper waits for /healthz and fails the test if it never answers).
    let server = ServeProcess::start(&app.db.cli_url(), &[]).await;
    let out = server.kill().await;
    assert!(!out.stderr.contains("refusing to start"), "{}", out.stderr);
}

/// `renkei audit checkpoint`'s output, as a witness stores it.
async fn witness(app: &TestApp, dir: &std::path::Path) -> std::path::PathBuf {
    let out = run_renkei(
        &["audit", "checkpoint", "--database", &app.db.cli_url()],
        None,
    )
    .await;
    out.assert_code(0);
    assert!(
        out.stdout.starts_with("renkei-audit-checkpoint v1"),
        "{}",
        out.stdout
    );
    let path = dir.join("witness.txt");
    std::fs::write(&path, &out.stdout).expect("write the witness file");
    path
}

/// The region whose log the populated plan's events joined: the one with the most events.
async fn busiest_region(app: &TestApp) -> String {
    app.db
        .query_string(
            "SELECT region FROM audit_events GROUP BY region ORDER BY COUNT(*) DESC, region LIMIT 1",
        )
        .await
}

/// The number of sequenced audit events of `region` (all of them once `verify` has run).
async fn sequenced(app: &TestApp, region: &str) -> i64 {
    app.db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE seq IS NOT NULL AND region = '{region}'"
        ))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_audit_event_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    let out = tampered(
        &app,
        &format!(
            "UPDATE audit_events SET outcome = 'denied' WHERE seq = 3 AND region = '{region}'"
        ),
    )
    .await;
    broken_line(&out, &["audit event seq 3", "do not match its leaf hash"]);
    broken_line(&out, &["does not match the stored checkpoint"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_audit_event_with_its_leaf_hash_rewritten_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    // The leaf hash is public arithmetic: a careful forger rewrites it too. The signed
    // checkpoints still hold the old tree.
    let out = tampered(
        &app,
        &format!(
            "UPDATE audit_events SET detail = 'nothing to see', leaf_hash = \
             '0000000000000000000000000000000000000000000000000000000000000000' \
         WHERE seq = 2 AND region = '{region}'"
        ),
    )
    .await;
    broken_line(&out, &["does not match the stored checkpoint"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_audit_event_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    let out = tampered(
        &app,
        &format!("DELETE FROM audit_events WHERE seq = 2 AND region = '{region}'"),
    )
    .await;
    broken_line(&out, &["expected seq 2", "deleted, inserted or reordered"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_audit_event_with_the_rest_renumbered_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    let out = tampered(
        &app,
        &format!(
            "DELETE FROM audit_events WHERE seq = 2 AND region = '{region}';
         UPDATE audit_events SET seq = -seq WHERE seq > 2 AND region = '{region}';
         UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0 AND region = '{region}';"
        ),
    )
    .await;
    // Renumbered, the log is one event short of its signed checkpoint and tree.
    broken_line(&out, &["but a stored checkpoint records"]);
    broken_line(&out, &["but its tree records"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inserted_audit_event_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    let id = new_uuid(&app);
    let out = tampered(
        &app,
        &format!(
            "INSERT INTO audit_events (id, region, seq, at, action, resource_type, outcome, leaf_hash)
             SELECT {id}, region, (SELECT MAX(seq) + 1 FROM audit_events WHERE region = '{region}'), at, action,
                    resource_type, outcome, leaf_hash
             FROM audit_events WHERE seq = 1 AND region = '{region}'"
        ),
    )
    .await;
    broken_line(&out, &["do not match its leaf hash"]);
    broken_line(&out, &["but its tree records"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn reordered_audit_events_are_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    let out = tampered(
        &app,
        &format!(
            "UPDATE audit_events SET seq = -2 WHERE seq = 2 AND region = '{region}';
         UPDATE audit_events SET seq = 2 WHERE seq = 3 AND region = '{region}';
         UPDATE audit_events SET seq = 3 WHERE seq = -2 AND region = '{region}';"
        ),
    )
    .await;
    broken_line(&out, &["does not match the stored checkpoint"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_audit_log_is_reported() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    verify(&app).await.assert_code(0);
    let total = sequenced(&app, &region).await;
    let out = tampered(
        &app,
        &format!("DELETE FROM audit_events WHERE region = '{region}' AND seq = (SELECT MAX(seq) FROM audit_events WHERE region = '{region}')"),
    )
    .await;
    broken_line(
        &out,
        &[&format!(
            "has {} events but a stored checkpoint records {total}",
            total - 1
        )],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_log_cut_back_with_its_checkpoints_is_caught_by_a_witness() {
    let app = app_or_skip!();
    populated(&app).await;
    let region = busiest_region(&app).await;
    verify(&app).await.assert_code(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let witness = witness(&app, dir.path()).await;
    let total = sequenced(&app, &region).await;
    // The last event is a read (it wrote nothing under evidence): removing it with every
    // checkpoint that covers it, and the tree row, leaves a log that is consistent in
    // itself.
    app.db
        .execute(&format!(
            "DELETE FROM audit_events WHERE region = '{region}' AND seq > {cut};
             DELETE FROM audit_checkpoints WHERE region = '{region}' AND tree_size > {cut};
             DELETE FROM audit_trees WHERE region = '{region}';",
            cut = total - 1
        ))
        .await;
    let out = verify(&app).await;
    out.assert_code(0);
    let out = run_renkei(
        &[
            "verify",
            "--database",
            &app.db.cli_url(),
            "--checkpoint",
            &witness.to_string_lossy(),
        ],
        None,
    )
    .await;
    out.assert_code(1);
    broken_line(
        &out,
        &[&format!(
            "has {} events but a witness checkpoint records {total}",
            total - 1
        )],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_witness_checkpoint_is_refused() {
    let app = app_or_skip!();
    populated(&app).await;
    verify(&app).await.assert_code(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let witness = witness(&app, dir.path()).await;
    let text = std::fs::read_to_string(&witness).expect("read");
    let forged: String = text
        .lines()
        .map(|l| match l.strip_prefix("root_hash: ") {
            Some(_) => format!("root_hash: {}\n", "ab".repeat(32)),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&witness, forged).expect("write");
    let out = run_renkei(
        &[
            "verify",
            "--database",
            &app.db.cli_url(),
            "--checkpoint",
            &witness.to_string_lossy(),
        ],
        None,
    )
    .await;
    out.assert_code(1);
    broken_line(&out, &["signature is not the server's key's"]);
    broken_line(&out, &["does not match the witness checkpoint"]);
}

/// A plan's events join the plan's region even when the reader's organisation is in
/// another area: the read of a `千葉` plan by a recovery hospital of `香取海匝` is in the
/// `千葉` log, beside the plan's writes, not in the reader's.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_of_a_plan_joins_the_plans_region_not_the_readers() {
    use renkei_service::admin::{self, NewOrganization};
    let app = app_or_skip!();
    let acute = app
        .user_token("acute-1", "acute_hospital", "region-reader-a")
        .await;
    let plan = stroke_plan(&app, &acute, 3).await;
    crate::support::consent(&app, &acute, &plan).await;
    admin::add_organization(
        &app.services,
        NewOrganization {
            code: "recovery-katori".into(),
            name: "香取海匝 回復期病院".into(),
            kind: "recovery_hospital".into(),
            area: "香取海匝".into(),
        },
    )
    .await
    .expect("an organisation of another area");
    let reader = team_member(
        &app,
        &acute,
        &plan,
        "recovery-katori",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    app.get(&format!("/api/v1/care-plans/{plan}"), &reader)
        .await
        .assert_status(200);
    let regions = app
        .db
        .query_string(&format!(
            "SELECT COALESCE(MIN(region), '') || '|' || COALESCE(MAX(region), '') FROM audit_events \
             WHERE action = 'care_plan.read' AND resource_id = '{plan}' AND organization_id = \
             (SELECT id FROM organizations WHERE code = 'recovery-katori')"
        ))
        .await;
    assert_eq!(
        regions, "千葉|千葉",
        "the reader's read of the plan is in the plan's region"
    );
}
