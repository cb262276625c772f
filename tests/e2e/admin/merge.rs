//! Issue 18 point 9, merging two records of one person (名寄せ): the regional
//! administrator previews the two records side by side, merges one into the other with
//! a reason (a different birth date or sex confirmed again), and may reverse it. Through
//! the JSON API, `renkei patient merge|unmerge` as a process, and `renkei verify`
//! finding a link changed or deleted behind Renkei's back. The web pages and their
//! browser walk are in `merge_web.rs`.

use renkei_testkit::builders::days_ago;
use renkei_testkit::{TestApp, run_renkei};
use serde_json::{Value, json};

use super::{audit_actions, field_names, regional};
use crate::support::{app_or_skip, consent, team_member};

/// Registers a patient of `acute-1` (through `token`) and returns its id.
async fn register(
    app: &TestApp,
    token: &str,
    kana: (&str, &str),
    birth: &str,
    sex: &str,
    ident: &str,
) -> String {
    let res = app
        .post_json(
            "/api/v1/patients",
            token,
            &json!({
                "name": {"family": "山田", "given": "太郎", "family_kana": kana.0, "given_kana": kana.1},
                "birth_date": birth, "sex": sex,
                "identifiers": [{"organization": "acute-1", "value": ident}],
            }),
            None,
        )
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("id").to_owned()
}

/// Enrols the patient on stroke; returns the plan id.
async fn enrol(app: &TestApp, token: &str, patient: &str) -> String {
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": patient, "pathway": "stroke", "variant": "standard", "started_at": days_ago(3)}),
            None,
        )
        .await;
    res.assert_status(201);
    res.body["id"].as_str().expect("plan id").to_owned()
}

async fn merge(
    app: &TestApp,
    token: &str,
    survivor: &str,
    body: Value,
) -> renkei_testkit::ApiResponse {
    app.post_json(
        &format!("/api/v1/patients/{survivor}/merge"),
        token,
        &body,
        None,
    )
    .await
}

fn ids_of(list: &Value) -> Vec<String> {
    list["patients"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect()
}

fn plan_ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list["care_plans"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn count(events: &[(String, String)], action: &str) -> usize {
    events.iter().filter(|(a, _)| a == action).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merged_record_reads_as_its_survivor_until_the_merge_is_reversed() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let acute = app.token().await;
    let survivor = register(
        &app,
        &acute,
        ("ヤマダ", "タロウ"),
        "1950-01-02",
        "male",
        "A-1",
    )
    .await;
    let merged = register(
        &app,
        &acute,
        ("ヤマダ", "タロー"),
        "1950-01-02",
        "male",
        "A-2",
    )
    .await;
    let plan_s = enrol(&app, &acute, &survivor).await;
    let plan_m = enrol(&app, &acute, &merged).await;
    // The recovery hospital is on the survivor's plan only (with the patient's consent).
    consent(&app, &acute, &plan_s).await;
    let recovery = team_member(
        &app,
        &acute,
        &plan_s,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;

    // The preview: both records side by side, the difference marked, plans and numbers.
    let preview = app
        .get_query(
            &format!("/api/v1/patients/{survivor}/merge-preview"),
            &region,
            &[("other", merged.as_str())],
        )
        .await;
    preview.assert_status(200);
    let p = &preview.body;
    let differing: Vec<&str> = p["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["differs"] == true)
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(differing, ["given_kana"], "{}", preview.text);
    assert_eq!(p["needs_confirmation"], json!([]));
    assert_eq!(p["refusals"], json!([]));
    assert_eq!(p["survivor"]["plans"][0]["id"], plan_s.as_str());
    assert_eq!(p["merged"]["plans"][0]["id"], plan_m.as_str());
    assert_eq!(p["merged"]["identifiers"][0]["value"], "A-2");
    // The preview is a read of both patients.
    let reads: Vec<(String, String)> = audit_actions(&app, &region, "allowed")
        .await
        .into_iter()
        .filter(|(a, d)| a == "patient.read" && d == "merge preview")
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");

    // Only the regional administrator previews and merges.
    app.get_query(
        &format!("/api/v1/patients/{survivor}/merge-preview"),
        &acute,
        &[("other", merged.as_str())],
    )
    .await
    .assert_status(403);
    let refused = merge(
        &app,
        &acute,
        &survivor,
        json!({"other": merged, "reason": "同一人物"}),
    )
    .await;
    refused.assert_status(403);
    // A blank reason: refused, nothing written.
    let blank = merge(
        &app,
        &region,
        &survivor,
        json!({"other": merged, "reason": "  "}),
    )
    .await;
    blank.assert_status(422);
    assert_eq!(field_names(&blank.body), ["reason"], "{}", blank.text);
    let still = app.get(&format!("/api/v1/patients/{merged}"), &acute).await;
    still.assert_status(200);
    assert_eq!(still.body["id"], merged.as_str());

    let done = merge(
        &app,
        &region,
        &survivor,
        json!({"other": merged, "reason": "保険証で同一人物と確認(カナ表記ゆれ)"}),
    )
    .await;
    done.assert_status(201);
    let link = done.body["id"].as_str().expect("link id").to_owned();
    assert_eq!(done.body["survivor_id"], survivor.as_str());
    assert_eq!(done.body["merged_id"], merged.as_str());
    assert_eq!(done.body["reversed_at"], Value::Null);

    // The merged record's id reads as the survivor, with both records' numbers.
    let read = app.get(&format!("/api/v1/patients/{merged}"), &acute).await;
    read.assert_status(200);
    assert_eq!(read.body["id"], survivor.as_str());
    assert_eq!(read.body["merged_ids"], json!([merged]));
    let mut numbers: Vec<&str> = read.body["identifiers"]
        .as_array()
        .expect("identifiers")
        .iter()
        .filter_map(|i| i["value"].as_str())
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["A-1", "A-2"]);
    // Search lists the survivor once; the merged record's number finds the survivor.
    let found = app
        .get_query("/api/v1/patients", &acute, &[("kana", "ヤマダ")])
        .await;
    found.assert_status(200);
    assert_eq!(ids_of(&found.body), [survivor.as_str()], "{}", found.text);
    let by_number = app
        .get_query(
            "/api/v1/patients",
            &acute,
            &[("organization", "acute-1"), ("identifier", "A-2")],
        )
        .await;
    assert_eq!(ids_of(&by_number.body), [survivor.as_str()]);
    // The survivor lists both records' plans; each viewer only those it may see.
    let plans = app
        .get_query(
            "/api/v1/care-plans",
            &acute,
            &[("patient_id", merged.as_str())],
        )
        .await;
    plans.assert_status(200);
    let mut both = vec![plan_s.clone(), plan_m.clone()];
    both.sort();
    assert_eq!(plan_ids(&plans.body), both, "{}", plans.text);
    let theirs = app
        .get_query(
            "/api/v1/care-plans",
            &recovery,
            &[("patient_id", survivor.as_str())],
        )
        .await;
    assert_eq!(plan_ids(&theirs.body), [plan_s.as_str()], "{}", theirs.text);
    let via_merged = app
        .get(&format!("/api/v1/patients/{merged}"), &recovery)
        .await;
    via_merged.assert_status(200);
    assert_eq!(via_merged.body["id"], survivor.as_str());

    // The same merge again, or the other way round: refused, nothing written.
    let again = merge(
        &app,
        &region,
        &survivor,
        json!({"other": merged, "reason": "再送"}),
    )
    .await;
    again.assert_status(422);
    assert_eq!(
        again.body["errors"][0]["code"], "already_merged",
        "{}",
        again.text
    );
    let links = app
        .get(&format!("/api/v1/patients/{survivor}/links"), &region)
        .await;
    links.assert_status(200);
    assert_eq!(links.body["links"].as_array().map(Vec::len), Some(1));

    let allowed = audit_actions(&app, &region, "allowed").await;
    assert_eq!(count(&allowed, "patient.merge"), 1);
    assert_eq!(count(&allowed, "patient.unmerge"), 0);
    let (_, detail) = allowed
        .iter()
        .find(|(a, _)| a == "patient.merge")
        .expect("merge audited");
    assert!(
        detail.contains("given_kana") && !detail.contains("タロー"),
        "{detail}"
    );
    assert!(has_denied(&app, &region, "patient.merge").await);

    // Reversal: a reason is required; then everything reads as before the merge.
    let url = format!("/api/v1/patient-links/{link}/reverse");
    app.post_json(&url, &acute, &json!({"reason": "誤り"}), None)
        .await
        .assert_status(403);
    let blank = app
        .post_json(&url, &region, &json!({"reason": ""}), None)
        .await;
    blank.assert_status(422);
    assert_eq!(field_names(&blank.body), ["reason"]);
    let reversed = app
        .post_json(&url, &region, &json!({"reason": "別人と判明(双子)"}), None)
        .await;
    reversed.assert_status(200);
    assert!(
        reversed.body["reversed_at"].is_string(),
        "{}",
        reversed.text
    );
    assert_eq!(reversed.body["reverse_reason"], "別人と判明(双子)");
    let read = app.get(&format!("/api/v1/patients/{merged}"), &acute).await;
    assert_eq!(read.body["id"], merged.as_str());
    assert!(read.body.get("merged_ids").is_none(), "{}", read.text);
    let found = app
        .get_query("/api/v1/patients", &acute, &[("kana", "ヤマダ")])
        .await;
    let mut ids = ids_of(&found.body);
    ids.sort();
    let mut want = vec![survivor.clone(), merged.clone()];
    want.sort();
    assert_eq!(ids, want);
    let plans = app
        .get_query(
            "/api/v1/care-plans",
            &acute,
            &[("patient_id", survivor.as_str())],
        )
        .await;
    assert_eq!(plan_ids(&plans.body), [plan_s.as_str()]);
    app.get(&format!("/api/v1/patients/{merged}"), &recovery)
        .await
        .assert_status(404);
    // Reversed once only.
    let twice = app
        .post_json(&url, &region, &json!({"reason": "再送"}), None)
        .await;
    twice.assert_status(422);
    assert_eq!(twice.body["errors"][0]["code"], "already_reversed");
    let allowed = audit_actions(&app, &region, "allowed").await;
    assert_eq!(count(&allowed, "patient.unmerge"), 1);
    assert_eq!(count(&allowed, "patient.merge"), 1);

    // After a reversal the two may be merged again (a new link).
    merge(
        &app,
        &region,
        &survivor,
        json!({"other": merged, "reason": "再確認で同一人物"}),
    )
    .await
    .assert_status(201);

    let out = run_renkei(&["verify", "--database", &app.db.cli_url()], None).await;
    out.assert_code(0);
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);
}

async fn has_denied(app: &TestApp, region: &str, action: &str) -> bool {
    audit_actions(app, region, "denied")
        .await
        .iter()
        .any(|(a, _)| a == action)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_different_birth_date_or_sex_must_be_confirmed_again() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let acute = app.token().await;
    let a = register(
        &app,
        &acute,
        ("サトウ", "ハナコ"),
        "1940-03-04",
        "female",
        "A-10",
    )
    .await;
    let b = register(
        &app,
        &acute,
        ("サトウ", "ハナコ"),
        "1940-04-03",
        "unknown",
        "A-11",
    )
    .await;

    let preview = app
        .get_query(
            &format!("/api/v1/patients/{a}/merge-preview"),
            &region,
            &[("other", b.as_str())],
        )
        .await;
    preview.assert_status(200);
    assert_eq!(
        preview.body["needs_confirmation"],
        json!(["birth_date", "sex"])
    );
    let birth = preview.body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["field"] == "birth_date")
        .cloned()
        .expect("birth_date row");
    assert_eq!(birth["survivor"], "1940-03-04");
    assert_eq!(birth["merged"], "1940-04-03");
    assert_eq!(birth["differs"], true);

    // Not confirmed: 422 naming both fields (with a blank reason: every problem at once).
    let bad = merge(&app, &region, &a, json!({"other": b, "reason": ""})).await;
    bad.assert_status(422);
    let mut fields = field_names(&bad.body);
    fields.sort();
    assert_eq!(fields, ["birth_date", "reason", "sex"], "{}", bad.text);
    let bad = merge(
        &app,
        &region,
        &a,
        json!({"other": b, "reason": "同一人物", "confirm_differences": false}),
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .all(|e| e["code"] == "unconfirmed"),
        "{}",
        bad.text
    );
    // Nothing changed.
    let links = app
        .get(&format!("/api/v1/patients/{a}/links"), &region)
        .await;
    assert_eq!(links.body["links"], json!([]));
    assert_eq!(
        app.get(&format!("/api/v1/patients/{b}"), &acute).await.body["id"],
        b.as_str()
    );
    assert_eq!(
        count(
            &audit_actions(&app, &region, "allowed").await,
            "patient.merge"
        ),
        0
    );

    merge(
        &app,
        &region,
        &a,
        json!({"other": b, "reason": "生年月日の誤登録を確認", "confirm_differences": true}),
    )
    .await
    .assert_status(201);
    assert_eq!(
        app.get(&format!("/api/v1/patients/{b}"), &acute).await.body["id"],
        a.as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn merges_never_chain_and_merging_into_a_merged_record_names_its_survivor() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let acute = app.token().await;
    let a = register(
        &app,
        &acute,
        ("スズキ", "イチロウ"),
        "1960-05-06",
        "male",
        "A-20",
    )
    .await;
    let b = register(
        &app,
        &acute,
        ("スズキ", "イチロウ"),
        "1960-05-06",
        "male",
        "A-21",
    )
    .await;
    let c = register(
        &app,
        &acute,
        ("スズキ", "イチロウ"),
        "1960-05-06",
        "male",
        "A-22",
    )
    .await;
    let ok = |other: &str| json!({"other": other, "reason": "同一人物"});
    merge(&app, &region, &a, ok(&b)).await.assert_status(201);

    // Into the merged record: refused, and the answer names the survivor.
    let into_merged = merge(&app, &region, &b, ok(&c)).await;
    into_merged.assert_status(422);
    assert_eq!(field_names(&into_merged.body), ["id"]);
    assert_eq!(into_merged.body["errors"][0]["code"], "already_merged");
    assert!(into_merged.text.contains(&a), "{}", into_merged.text);
    // A survivor with merged records is not merged itself; a merged record not again.
    let survivor_merged = merge(&app, &region, &c, ok(&a)).await;
    survivor_merged.assert_status(422);
    assert_eq!(
        survivor_merged.body["errors"][0]["code"],
        "has_merged_records"
    );
    let twice = merge(&app, &region, &c, ok(&b)).await;
    twice.assert_status(422);
    assert_eq!(twice.body["errors"][0]["code"], "already_merged");
    // Itself, and an unknown record.
    let itself = merge(&app, &region, &c, ok(&c)).await;
    itself.assert_status(422);
    assert_eq!(itself.body["errors"][0]["code"], "same_record");
    merge(&app, &region, &c, ok(&uuid::Uuid::now_v7().to_string()))
        .await
        .assert_status(404);
    // The preview says so before anything is tried.
    let preview = app
        .get_query(
            &format!("/api/v1/patients/{c}/merge-preview"),
            &region,
            &[("other", a.as_str())],
        )
        .await;
    preview.assert_status(200);
    assert_eq!(preview.body["refusals"][0]["code"], "has_merged_records");
    assert_eq!(preview.body["survivor"]["merged_into"], Value::Null);
    assert_eq!(preview.body["merged"]["merged_ids"], json!([b]));

    // Nothing but the first merge was written; the survivor takes in a second record.
    assert_eq!(
        count(
            &audit_actions(&app, &region, "allowed").await,
            "patient.merge"
        ),
        1
    );
    merge(&app, &region, &a, ok(&c)).await.assert_status(201);
    let read = app.get(&format!("/api/v1/patients/{c}"), &acute).await;
    assert_eq!(read.body["id"], a.as_str());
    assert_eq!(read.body["merged_ids"], json!([b, c]));
}

// ------------------------------------------------------------------ the CLI

async fn cli(app: &TestApp, args: &[&str]) -> renkei_testkit::CliOutput {
    let db = app.db.cli_url();
    let mut all = vec!["--database", db.as_str()];
    all.extend_from_slice(args);
    run_renkei(&all, None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn renkei_patient_merge_previews_merges_and_unmerge_reverses_as_a_process() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let acute = app.token().await;
    let a = register(
        &app,
        &acute,
        ("タナカ", "ジロウ"),
        "1955-07-08",
        "male",
        "A-30",
    )
    .await;
    let b = register(
        &app,
        &acute,
        ("タナカ", "ジロウ"),
        "1955-08-07",
        "male",
        "A-31",
    )
    .await;
    enrol(&app, &acute, &b).await;

    // The dry run prints the preview and changes nothing.
    let dry = cli(
        &app,
        &[
            "patient",
            "merge",
            "--as",
            "region-admin",
            &a,
            &b,
            "--dry-run",
        ],
    )
    .await;
    dry.assert_code(0);
    assert!(
        dry.stdout.contains("* birth_date\t1955-07-08\t1955-08-07"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("  family_kana\tタナカ\tタナカ"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("identifier\tacute-1\tA-31"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("plan\t"), "{}", dry.stdout);
    assert!(dry.stdout.contains("confirm\tbirth_date"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("dry run: nothing changed"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        app.get(&format!("/api/v1/patients/{b}"), &acute).await.body["id"],
        b.as_str()
    );

    // Not the regional administrator: refused.
    let not_admin = cli(
        &app,
        &[
            "patient",
            "merge",
            "--as",
            "acute-user-0",
            &a,
            &b,
            "--reason",
            "同一人物",
            "--confirm-differences",
        ],
    )
    .await;
    assert_ne!(not_admin.code, 0, "{}", not_admin.stdout);
    // The birth date differs and is not confirmed: refused, naming the field.
    let unconfirmed = cli(
        &app,
        &[
            "patient",
            "merge",
            "--as",
            "region-admin",
            &a,
            &b,
            "--reason",
            "同一人物",
        ],
    )
    .await;
    assert_ne!(unconfirmed.code, 0);
    assert!(
        unconfirmed.stderr.contains("birth_date"),
        "{}",
        unconfirmed.stderr
    );

    let done = cli(
        &app,
        &[
            "patient",
            "merge",
            "--as",
            "region-admin",
            &a,
            &b,
            "--reason",
            "生年月日の誤登録",
            "--confirm-differences",
        ],
    )
    .await;
    done.assert_code(0);
    let link = done
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("link\t"))
        .unwrap_or_else(|| panic!("no link in {}", done.stdout))
        .to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/patients/{b}"), &acute).await.body["id"],
        a.as_str()
    );
    let undo = cli(
        &app,
        &[
            "patient",
            "unmerge",
            "--as",
            "region-admin",
            &link,
            "--reason",
            "別人と判明",
        ],
    )
    .await;
    undo.assert_code(0);
    assert!(undo.stdout.contains("reversed at\t"), "{}", undo.stdout);
    assert_eq!(
        app.get(&format!("/api/v1/patients/{b}"), &acute).await.body["id"],
        b.as_str()
    );
    let allowed = audit_actions(&app, &region, "allowed").await;
    assert_eq!(count(&allowed, "patient.merge"), 1);
    assert_eq!(count(&allowed, "patient.unmerge"), 1);
}

// ------------------------------------------------------------------ tampering

/// Two records merged (and verify passing); returns the link id.
async fn merged_pair(app: &TestApp) -> String {
    let region = regional(app).await;
    let acute = app.token().await;
    let a = register(
        app,
        &acute,
        ("イトウ", "ミツコ"),
        "1945-09-10",
        "female",
        "A-40",
    )
    .await;
    let b = register(
        app,
        &acute,
        ("イトウ", "ミツコ"),
        "1945-09-10",
        "female",
        "A-41",
    )
    .await;
    let res = merge(app, &region, &a, json!({"other": b, "reason": "同一人物"})).await;
    res.assert_status(201);
    let out = cli(app, &["verify"]).await;
    out.assert_code(0);
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);
    res.body["id"].as_str().expect("link").to_owned()
}

fn broken(out: &renkei_testkit::CliOutput, needles: &[&str]) {
    assert!(
        out.stdout
            .lines()
            .filter(|l| l.starts_with("BROKEN"))
            .any(|l| needles.iter().all(|n| l.contains(n))),
        "no BROKEN line with {needles:?}:\n{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_link_changed_outside_renkei_is_reported_by_verify() {
    let app = app_or_skip!();
    let link = merged_pair(&app).await;
    // Pointing the link elsewhere (or rewriting its reason) would change who is whom.
    app.db
        .execute("UPDATE patient_links SET reason = '改ざん', survivor_id = merged_id")
        .await;
    let out = cli(&app, &["verify"]).await;
    out.assert_code(1);
    broken(
        &out,
        &[
            &format!("patient merge link {link}"),
            "changed outside Renkei",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_link_deleted_or_reversed_outside_renkei_is_reported_by_verify() {
    let app = app_or_skip!();
    let link = merged_pair(&app).await;
    app.db.execute("DELETE FROM patient_links").await;
    let out = cli(&app, &["verify"]).await;
    out.assert_code(1);
    broken(
        &out,
        &[
            &format!("patient merge link {link}"),
            "deleted outside Renkei",
        ],
    );

    let app = app_or_skip!();
    let link = merged_pair(&app).await;
    app.db
        .execute("UPDATE patient_links SET reverse_reason = '裏口'")
        .await;
    let out = cli(&app, &["verify"]).await;
    out.assert_code(1);
    broken(
        &out,
        &[
            &format!("patient merge link {link}"),
            "changed outside Renkei",
        ],
    );
}
