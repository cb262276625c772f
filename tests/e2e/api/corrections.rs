//! Corrections of corrections, voids (entered in error) and amendment notices over the
//! API: a correction names its chain's head, a void strikes a chain out of every goal,
//! the history shows each version, organisations that read the old version get a notice
//! until they acknowledge it, and the hash chain still verifies.

use renkei_testkit::builders::{days_ago, entry};
use renkei_testkit::{TestApp, run_renkei};
use serde_json::{Value, json};

use crate::support::{
    app_or_skip, append, assert_chain, consent, entries, post_entry, snapshot, stroke_plan,
    team_member,
};

fn correction(of: &Value, values: Value, reason: &str) -> Value {
    let mut body = entry(
        of["stage"].as_str().expect("stage"),
        of["kind"].as_str().expect("kind"),
        of["effective_at"].as_str().expect("effective_at"),
        values,
    );
    body["amends"] = of["id"].clone();
    body["reason"] = json!(reason);
    body
}

fn void(of: &Value, reason: Option<&str>) -> Value {
    let mut body = entry(
        of["stage"].as_str().expect("stage"),
        "entered_in_error",
        of["effective_at"].as_str().expect("effective_at"),
        json!({}),
    );
    body["amends"] = of["id"].clone();
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    body
}

async fn goal_status(app: &TestApp, token: &str, plan: &str, code: &str) -> String {
    let res = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), token)
        .await;
    res.assert_status(200);
    res.body["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .find(|g| g["code"] == code)
        .unwrap_or_else(|| panic!("goal {code} in {}", res.text))["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

async fn history(app: &TestApp, token: &str, plan: &str, entry: &Value) -> Value {
    let res = app
        .get(
            &format!(
                "/api/v1/care-plans/{plan}/entries/{}/history",
                entry["id"].as_str().expect("id")
            ),
            token,
        )
        .await;
    res.assert_status(200);
    res.body
}

async fn notices(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get("/api/v1/notices", token).await;
    res.assert_status(200);
    res.body["notices"].as_array().expect("notices").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correction_is_corrected_in_turn_and_a_superseded_version_is_refused_naming_the_head() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(10), json!({})),
    )
    .await;
    let original = append(
        &app,
        &token,
        &plan,
        entry("acute", "assessment", &days_ago(9), json!({"mrs": 4})),
    )
    .await;
    let first = append(
        &app,
        &token,
        &plan,
        correction(&original, json!({"mrs": 3}), "入力誤り"),
    )
    .await;
    // The first correction is the head: it is corrected in turn.
    let second = append(
        &app,
        &token,
        &plan,
        correction(&first, json!({"mrs": 2}), "再評価の転記ミス"),
    )
    .await;
    assert_eq!(second["amends"], first["id"]);

    // Correcting a superseded version is refused on `amends`, naming the head.
    let before = snapshot(&app, &token, &plan).await;
    for stale in [&original, &first] {
        let res = post_entry(
            &app,
            &token,
            &plan,
            &correction(stale, json!({"mrs": 1}), "古い版の修正"),
        )
        .await;
        res.assert_problem(422, Some("amends"));
        assert_eq!(res.body["errors"][0]["code"], "already_amended");
        assert!(
            res.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(second["id"].as_str().expect("id"))),
            "the error names the head: {}",
            res.text
        );
    }
    assert_eq!(snapshot(&app, &token, &plan).await, before);

    let list = entries(&app, &token, &plan).await;
    assert_chain(&list);
    assert_eq!(list[1]["amended_by"], first["id"]);
    assert_eq!(list[2]["amended_by"], second["id"]);
    assert!(list[3]["amended_by"].is_null());
    assert!(list.iter().all(|e| e["voided_by"].is_null()));

    // The history: every version in order, who, when, why, and what changed.
    for any in [&original, &first, &second] {
        let h = history(&app, &token, &plan, any).await;
        assert_eq!(h["original"], original["id"]);
        assert_eq!(h["head"], second["id"]);
        assert!(h["voided_by"].is_null());
        let versions = h["versions"].as_array().expect("versions");
        assert_eq!(versions.len(), 3);
        assert_eq!(versions[0]["version"], 1);
        assert_eq!(versions[0]["entry"]["id"], original["id"]);
        assert_eq!(versions[0]["changes"], json!([]));
        assert_eq!(
            versions[1]["changes"],
            json!([{"item": "mrs", "before": 4, "after": 3}])
        );
        assert_eq!(versions[1]["entry"]["reason"], "入力誤り");
        assert_eq!(
            versions[2]["changes"],
            json!([{"item": "mrs", "before": 3, "after": 2}])
        );
        assert_eq!(
            versions[2]["entry"]["author"]["name"],
            original["author"]["name"]
        );
        assert!(versions[2]["entry"]["recorded_at"].is_string());
    }
    // An entry of no chain of this plan is not found.
    app.get(
        &format!(
            "/api/v1/care-plans/{plan}/entries/{}/history",
            uuid::Uuid::now_v7()
        ),
        &token,
    )
    .await
    .assert_problem(404, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voided_stage_end_needs_a_reason_counts_for_nothing_and_the_chain_still_verifies() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 30).await;
    let start = append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(30), json!({})),
    )
    .await;
    let wrong = append(
        &app,
        &token,
        &plan,
        entry("acute", "assessment", &days_ago(25), json!({"mrs": 5})),
    )
    .await;
    let end = append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_end", &days_ago(20), json!({"mrs": 3})),
    )
    .await;
    // Transfer after 10 days: within 21.
    assert_eq!(
        goal_status(&app, &token, &plan, "g1_transfer_on_time").await,
        "met"
    );

    let before = snapshot(&app, &token, &plan).await;
    // A void needs a reason.
    post_entry(&app, &token, &plan, &void(&end, None))
        .await
        .assert_problem(422, Some("reason"));
    post_entry(&app, &token, &plan, &void(&end, Some("  ")))
        .await
        .assert_problem(422, Some("reason"));
    // A void records no values.
    let mut with_values = void(&end, Some("誤登録"));
    with_values["values"] = json!({"mrs": 2});
    post_entry(&app, &token, &plan, &with_values)
        .await
        .assert_problem(422, Some("values"));
    // The stage start cannot be voided while the stage end that followed it stands.
    let res = post_entry(&app, &token, &plan, &void(&start, Some("誤登録"))).await;
    res.assert_problem(409, None);
    assert!(
        res.body["detail"].as_str().is_some_and(
            |d| d.contains("depends on it") && d.contains(end["id"].as_str().expect("id"))
        ),
        "{}",
        res.text
    );
    assert_eq!(snapshot(&app, &token, &plan).await, before);

    let voided = append(
        &app,
        &token,
        &plan,
        void(&end, Some("別患者の退院を誤って登録")),
    )
    .await;
    assert_eq!(voided["kind"], "entered_in_error");
    assert_eq!(voided["amends"], end["id"]);
    assert_eq!(voided["reason"], "別患者の退院を誤って登録");
    // The stage is open again, and the transfer goal no longer sees an end.
    let plan_now = app.get(&format!("/api/v1/care-plans/{plan}"), &token).await;
    assert_eq!(plan_now.body["current_stage"], "acute");
    assert_eq!(plan_now.body["stage_started"], true);
    assert_eq!(plan_now.body["stage_ended"], false);
    assert_eq!(
        goal_status(&app, &token, &plan, "g1_transfer_on_time").await,
        "overdue"
    );
    // The listing marks the voided entry and the void; the rest is untouched.
    let list = entries(&app, &token, &plan).await;
    assert_chain(&list);
    assert_eq!(list[2]["id"], end["id"]);
    assert_eq!(list[2]["voided_by"], voided["id"]);
    assert_eq!(list[2]["amended_by"], voided["id"]);
    assert_eq!(list[3]["voided_by"], voided["id"]);
    assert!(list[1]["voided_by"].is_null());
    // A voided entry is neither corrected nor voided again.
    let res = post_entry(
        &app,
        &token,
        &plan,
        &correction(&end, json!({"mrs": 2}), "r"),
    )
    .await;
    res.assert_problem(422, Some("amends"));
    assert_eq!(res.body["errors"][0]["code"], "voided");
    post_entry(&app, &token, &plan, &void(&end, Some("again")))
        .await
        .assert_problem(422, Some("amends"));
    post_entry(&app, &token, &plan, &void(&voided, Some("undo")))
        .await
        .assert_problem(422, Some("amends"));
    let h = history(&app, &token, &plan, &end).await;
    assert_eq!(h["voided_by"], voided["id"]);
    assert_eq!(h["versions"].as_array().map(Vec::len), Some(2));

    // An assessment voided too; the stage is ended again for real, the goal met again.
    append(&app, &token, &plan, void(&wrong, Some("別患者の評価"))).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_end", &days_ago(19), json!({"mrs": 3})),
    )
    .await;
    assert_eq!(
        goal_status(&app, &token, &plan, "g1_transfer_on_time").await,
        "met"
    );

    // Voids and corrections stay in the hash chain, which still verifies.
    let out = run_renkei(&["verify", "--database", &app.db.cli_url()], None).await;
    out.assert_code(0);
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notice_reaches_an_organisation_that_read_the_old_version_until_it_acknowledges() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    consent(&app, &token, &plan).await;
    let recovery = team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let clinic = team_member(&app, &token, &plan, "clinic-1", "clinic", &["home"]).await;
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_start", &days_ago(10), json!({})),
    )
    .await;
    let mrs = append(
        &app,
        &token,
        &plan,
        entry("acute", "assessment", &days_ago(9), json!({"mrs": 4})),
    )
    .await;
    // The recovery hospital reads the plan (the old version); the clinic never does.
    entries(&app, &recovery, &plan).await;
    assert!(notices(&app, &recovery).await.is_empty());

    let fixed = append(
        &app,
        &token,
        &plan,
        correction(&mrs, json!({"mrs": 3}), "入力誤り"),
    )
    .await;
    let got = notices(&app, &recovery).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let n = &got[0];
    assert_eq!(n["kind"], "corrected");
    assert_eq!(n["care_plan_id"], json!(plan));
    assert_eq!(n["entry_id"], fixed["id"]);
    assert_eq!(n["amends"], mrs["id"]);
    assert_eq!(
        n["changes"],
        json!([{"item": "mrs", "before": 4, "after": 3}])
    );
    assert_eq!(n["reason"], "入力誤り");
    // Per plan too.
    let per_plan = app
        .get_query("/api/v1/notices", &recovery, &[("care_plan_id", &plan)])
        .await;
    per_plan.assert_status(200);
    assert_eq!(per_plan.body["notices"].as_array().map(Vec::len), Some(1));
    // Not for an organisation that never read it, nor for the one that corrected.
    assert!(notices(&app, &clinic).await.is_empty());
    assert!(notices(&app, &token).await.is_empty());

    // Another organisation cannot acknowledge it.
    let id = n["id"].as_str().expect("notice id");
    app.post_json(
        &format!("/api/v1/notices/{id}/acknowledge"),
        &clinic,
        &json!({}),
        None,
    )
    .await
    .assert_problem(404, None);
    assert_eq!(notices(&app, &recovery).await.len(), 1);
    app.post_json(
        &format!("/api/v1/notices/{id}/acknowledge"),
        &recovery,
        &json!({}),
        None,
    )
    .await
    .assert_status(204);
    assert!(notices(&app, &recovery).await.is_empty());
    // Acknowledging again changes nothing.
    app.post_json(
        &format!("/api/v1/notices/{id}/acknowledge"),
        &recovery,
        &json!({}),
        None,
    )
    .await
    .assert_status(204);
    let acks = renkei_testkit::rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .into_iter()
        .filter(|r| r.action == "notice.acknowledge" && r.resource_id.as_deref() == Some(id))
        .count();
    assert_eq!(acks, 2, "each acknowledgement is audited");

    // A void: the clinic now reads the plan (the corrected version) and is told too.
    app.get(&format!("/api/v1/care-plans/{plan}"), &clinic)
        .await
        .assert_status(200);
    let voided = append(&app, &token, &plan, void(&fixed, Some("別患者に記載"))).await;
    let got = notices(&app, &clinic).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["kind"], "entered_in_error");
    assert_eq!(got[0]["entry_id"], voided["id"]);
    assert_eq!(got[0]["reason"], "別患者に記載");
    assert_eq!(got[0]["changes"], json!([]));
    // The recovery hospital read only before the voided version was recorded.
    assert!(notices(&app, &recovery).await.is_empty());
}
