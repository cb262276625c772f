//! Enrolment, the core stroke flow over HTTP (stage events, assessments with computed
//! FIM scores, a variance, the hash chain), shared goals and amendments.

use renkei_testkit::builders::{days_ago, entry, fim, from_now_secs};
use serde_json::{Value, json};

use crate::support::{
    GENESIS, app_or_skip, append, assert_chain, consent, create_patient, entries, post_entry,
    snapshot, stroke_plan, team_member,
};

#[tokio::test(flavor = "multi_thread")]
async fn enrol_pins_the_latest_stroke_version() {
    let app = app_or_skip!();
    let token = app.token().await;
    let p = create_patient(&app, &token, ("ヤマダ", "タロウ"), "1948-04-01", "1").await;

    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "variant": "standard"}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = &res.body;
    assert_eq!(plan["pathway"]["code"], "stroke");
    // Stroke v3 (v2 with its variants) is the latest published version.
    assert_eq!(plan["pathway"]["version"], 3);
    assert_eq!(plan["variant"]["code"], "standard");
    let hash = plan["pathway"]["hash"].as_str().expect("pathway hash");
    assert!(hash.starts_with("sha256:") && hash.len() == 71, "{hash}");
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["current_stage"], "acute");
    assert_eq!(plan["entry_count"], 0);
    assert_eq!(plan["patient_id"], p["id"]);
    assert_eq!(plan["planner_organization"], "acute-1");

    // The pinned hash is the published version's hash.
    let published = app.get("/api/v1/pathways/stroke/versions/3", &token).await;
    published.assert_status(200);
    assert_eq!(published.body["hash"], hash);
    let v1 = app.get("/api/v1/pathways/stroke/versions/1", &token).await;
    v1.assert_status(200);
    assert_ne!(
        v1.body["hash"], hash,
        "v1 stays published with its own hash"
    );
    let list = app.get("/api/v1/pathways", &token).await;
    list.assert_status(200);
    let codes: Vec<&str> = list.body["pathways"]
        .as_array()
        .expect("pathways")
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    for code in ["diabetes", "femur-fracture", "stroke"] {
        assert!(codes.contains(&code), "{code} not published: {codes:?}");
    }

    // GET returns the same plan; the patient's plan list has it.
    let id = plan["id"].as_str().expect("plan id");
    let got = app.get(&format!("/api/v1/care-plans/{id}"), &token).await;
    got.assert_status(200);
    assert_eq!(got.body["id"], plan["id"]);
    assert_eq!(got.body["pathway"], plan["pathway"]);
    let pid = p["id"].as_str().expect("patient id");
    let mine = app
        .get_query("/api/v1/care-plans", &token, &[("patient_id", pid)])
        .await;
    mine.assert_status(200);
    assert_eq!(mine.body["care_plans"][0]["id"], plan["id"]);

    // An explicit version works the same; an older one is pinned with its own hash.
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "version": 3, "variant": "standard"}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["pathway"]["hash"], hash);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "version": 1}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["pathway"]["version"], 1);
    assert_eq!(res.body["pathway"]["hash"], v1.body["hash"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn enrol_refuses_unknown_pathways_versions_and_patients() {
    let app = app_or_skip!();
    let token = app.token().await;
    let p = create_patient(&app, &token, ("ヤマダ", "タロウ"), "1948-04-01", "1").await;
    let post = |body: Value| {
        let app = &app;
        let token = &token;
        async move {
            app.post_json("/api/v1/care-plans", token, &body, None)
                .await
        }
    };
    post(json!({"patient_id": p["id"], "pathway": "no-such-pathway"}))
        .await
        .assert_problem(422, Some("pathway"));
    post(json!({"patient_id": p["id"], "pathway": "stroke", "version": 99}))
        .await
        .assert_problem(422, Some("version"));
    post(json!({"patient_id": uuid::Uuid::now_v7(), "pathway": "stroke", "variant": "standard"}))
        .await
        .assert_problem(422, Some("patient_id"));
    post(json!({"patient_id": "not-a-uuid", "pathway": "stroke", "variant": "standard"}))
        .await
        .assert_problem(422, Some("patient_id"));
    // Nothing was created.
    let pid = p["id"].as_str().expect("patient id");
    let plans = app
        .get_query("/api/v1/care-plans", &token, &[("patient_id", pid)])
        .await;
    assert_eq!(plans.body["care_plans"], json!([]));
}

fn goal<'a>(goals: &'a Value, code: &str) -> &'a Value {
    goals["goals"]
        .as_array()
        .expect("goals array")
        .iter()
        .find(|g| g["code"] == code)
        .unwrap_or_else(|| panic!("goal {code} missing in {goals}"))
}

/// Acute (10 days) → recovery (18 days, FIM 54 → 90, home) → home.
#[tokio::test(flavor = "multi_thread")]
async fn core_stroke_flow_chains_entries_and_meets_goals() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 30).await;
    // The planning acute hospital shares the plan with a recovery hospital and a clinic,
    // each owning its stage.
    consent(&app, &token, &plan).await;
    let rec = team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
    let clinic = team_member(&app, &token, &plan, "clinic-1", "clinic", &["home"]).await;

    let acute_start = days_ago(30);
    let e1 = append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &acute_start,
            // The subtype and diabetes flag make the LDL goal apply (stroke v2).
            json!({"nihss_total": 12, "mrs_premorbid": 0,
                   "stroke_subtype": "atherothrombotic", "diabetes": false}),
        ),
    )
    .await;
    assert_eq!(e1["seq"], 1);
    assert_eq!(e1["prev_hash"], GENESIS);
    assert_eq!(e1["kind"], "stage_start");

    // Assessment with all 18 FIM items: the server computes the subtotals and the total.
    let scores = [5, 4, 2, 4, 3, 3, 5, 5, 4, 4, 2, 2, 1, 6, 5, 5, 4, 5];
    let mut values = fim(scores);
    values.insert("mrs".into(), json!(4));
    values.insert("nihss_total".into(), json!(10));
    let mut body = entry("acute", "assessment", &days_ago(28), Value::Object(values));
    body["note"] = json!("転院前評価");
    let e2 = append(&app, &token, &plan, body).await;
    let motor: i64 = scores[..13].iter().sum();
    let cognitive: i64 = scores[13..].iter().sum();
    assert_eq!((motor, cognitive), (44, 25));
    assert_eq!(e2["values"]["fim_motor"], motor);
    assert_eq!(e2["values"]["fim_cognitive"], cognitive);
    assert_eq!(e2["values"]["fim_total"], motor + cognitive);
    assert_eq!(e2["values"]["mrs"], 4);
    assert_eq!(e2["note"], "転院前評価");
    assert_eq!(e2["seq"], 2);
    assert_eq!(e2["prev_hash"], e1["hash"]);

    let mut body = entry("acute", "variance", &days_ago(25), json!({}));
    body["variance"] = json!({"code": "NEG.VAR.CO.RECEIVE", "note": "回復期病棟の空床待ち"});
    let e3 = append(&app, &token, &plan, body).await;
    assert_eq!(e3["variance"]["code"], "NEG.VAR.CO.RECEIVE");
    assert_eq!(e3["prev_hash"], e2["hash"]);

    let e4 = append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_end", &days_ago(20), json!({"mrs": 3})),
    )
    .await;
    assert_eq!(e4["seq"], 4);

    let mut admission = fim([3; 18]);
    admission.insert("walk_cat".into(), json!("assisted"));
    let e5 = append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "stage_start",
            &days_ago(20),
            Value::Object(admission),
        ),
    )
    .await;
    assert_eq!(e5["values"]["fim_total"], 54);
    assert_eq!(e5["organization"]["code"], "recovery-1");
    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "assessment",
            &days_ago(5),
            Value::Object(fim([5; 18])),
        ),
    )
    .await;
    append(
        &app,
        &rec,
        &plan,
        entry(
            "recovery",
            "stage_end",
            &days_ago(2),
            json!({"destination": "home", "mrs": 2}),
        ),
    )
    .await;
    let e8 = append(
        &app,
        &clinic,
        &plan,
        entry(
            "home",
            "stage_start",
            &days_ago(2),
            json!({"bp_sys": 128, "bp_dia": 76}),
        ),
    )
    .await;
    assert_eq!(e8["seq"], 8);
    assert_eq!(e8["organization"]["code"], "clinic-1");

    // The list is in seq order and chained; the plan's head is the last hash.
    let list = entries(&app, &token, &plan).await;
    assert_eq!(list.len(), 8);
    assert_chain(&list);
    assert_eq!(list[1]["values"]["fim_total"], 69);
    assert!(list.iter().all(|e| e["amended_by"].is_null()));
    let kinds: Vec<&str> = list.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "stage_start",
            "assessment",
            "variance",
            "stage_end",
            "stage_start",
            "assessment",
            "stage_end",
            "stage_start"
        ]
    );
    let snap = snapshot(&app, &token, &plan).await;
    assert_eq!(snap.entry_count, 8);
    assert_eq!(snap.head_hash, list[7]["hash"].as_str().unwrap_or_default());
    assert_eq!(snap.current_stage, "home");

    // Shared goals, now.
    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &token)
        .await;
    goals.assert_status(200);
    let g1 = goal(&goals.body, "g1_transfer_on_time");
    assert_eq!(g1["status"], "met", "{g1}");
    // Ten days after its start, counting the day of admission as day 1: 11 days.
    assert_eq!(g1["latest"]["value"].as_f64(), Some(11.0), "{g1}");
    assert!(g1["due"].is_string(), "{g1}");
    let g2 = goal(&goals.body, "g2_fim_gain");
    assert_eq!(g2["status"], "met", "{g2}");
    assert_eq!(g2["latest"]["value"].as_f64(), Some(36.0), "{g2}");
    assert_eq!(g2["item"], "fim_total");
    let g3 = goal(&goals.body, "g3_return_home");
    assert_eq!(g3["status"], "met", "{g3}");
    assert_eq!(g3["latest"]["value"], "home");
    assert_eq!(
        goal(&goals.body, "g4_recovery_within_limit")["status"],
        "met"
    );
    // bp_sys 128 < 130 already at the start of home care; LDL never recorded, due in 6 months.
    let g5 = goal(&goals.body, "g5_bp_sys");
    assert_eq!(g5["status"], "met", "{g5}");
    assert_eq!(g5["latest"]["entry_id"], e8["id"]);
    let g6 = goal(&goals.body, "g6_ldl");
    assert_eq!(g6["status"], "pending", "{g6}");
    assert!(g6["latest"].is_null());

    // A later value above the target: the goal is judged on the latest value.
    let high = append(
        &app,
        &clinic,
        &plan,
        entry("home", "assessment", &days_ago(1), json!({"bp_sys": 152})),
    )
    .await;
    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &token)
        .await;
    let g5 = goal(&goals.body, "g5_bp_sys");
    assert_eq!(g5["status"], "not_met", "{g5}");
    assert_eq!(g5["latest"]["entry_id"], high["id"]);
    assert_eq!(g5["latest"]["value"].as_f64(), Some(152.0));
    assert_eq!(g5["target"]["op"], "<");

    // As of a moment before the acute stage ended the transfer goal is still open.
    let before = app
        .get_query(
            &format!("/api/v1/care-plans/{plan}/goals"),
            &token,
            &[("as_of", &days_ago(21))],
        )
        .await;
    before.assert_status(200);
    assert_eq!(
        goal(&before.body, "g1_transfer_on_time")["status"],
        "pending"
    );
    assert_eq!(goal(&before.body, "g2_fim_gain")["status"], "pending");

    // A malformed as_of is a field error.
    app.get_query(
        &format!("/api/v1/care-plans/{plan}/goals"),
        &token,
        &[("as_of", "2026-13-01")],
    )
    .await
    .assert_problem(422, Some("as_of"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stage_length_goal_is_pending_then_overdue() {
    let app = app_or_skip!();
    let token = app.token().await;

    // Acute started 30 days ago and never ended: past the 21-day due time.
    let late = stroke_plan(&app, &token, 30).await;
    append(
        &app,
        &token,
        &late,
        entry("acute", "stage_start", &days_ago(30), json!({})),
    )
    .await;
    let goals = app
        .get(&format!("/api/v1/care-plans/{late}/goals"), &token)
        .await;
    goals.assert_status(200);
    let g1 = goal(&goals.body, "g1_transfer_on_time");
    assert_eq!(g1["status"], "overdue", "{g1}");
    assert!(g1["latest"].is_null());
    assert!(g1["due"].is_string());

    // Acute started 5 days ago: pending now, overdue as of 20 days from now.
    let fresh = stroke_plan(&app, &token, 5).await;
    append(
        &app,
        &token,
        &fresh,
        entry("acute", "stage_start", &days_ago(5), json!({})),
    )
    .await;
    let now = app
        .get(&format!("/api/v1/care-plans/{fresh}/goals"), &token)
        .await;
    assert_eq!(goal(&now.body, "g1_transfer_on_time")["status"], "pending");
    let later = app
        .get_query(
            &format!("/api/v1/care-plans/{fresh}/goals"),
            &token,
            &[("as_of", &from_now_secs(20 * 86_400))],
        )
        .await;
    later.assert_status(200);
    assert_eq!(
        goal(&later.body, "g1_transfer_on_time")["status"],
        "overdue"
    );
    // A goal with no due time yet (recovery not started) stays pending.
    assert_eq!(goal(&later.body, "g3_return_home")["status"], "pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn amendments_correct_the_head_of_an_entry_with_a_reason() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    let start = append(
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

    let mut fix = entry("acute", "assessment", &days_ago(9), json!({"mrs": 3}));
    fix["amends"] = original["id"].clone();
    fix["reason"] = json!("入力誤り(mRS 4→3)");
    let amendment = append(&app, &token, &plan, fix.clone()).await;
    assert_eq!(amendment["amends"], original["id"]);
    assert_eq!(amendment["reason"], "入力誤り(mRS 4→3)");
    assert_eq!(amendment["seq"], 3);

    let list = entries(&app, &token, &plan).await;
    assert_chain(&list);
    assert_eq!(list[1]["id"], original["id"]);
    assert_eq!(list[1]["amended_by"], amendment["id"]);
    assert_eq!(
        list[1]["values"]["mrs"], 4,
        "the original is kept unchanged"
    );
    assert!(list[2]["amended_by"].is_null());

    let before = snapshot(&app, &token, &plan).await;
    // The original cannot be amended twice: a correction names the head of its chain
    // (the amendment), which the refusal names (a correction of the amendment itself is
    // allowed, see api::corrections).
    let mut again = entry("acute", "assessment", &days_ago(9), json!({"mrs": 2}));
    again["reason"] = json!("再修正");
    again["amends"] = original["id"].clone();
    let res = post_entry(&app, &token, &plan, &again).await;
    res.assert_problem(422, Some("amends"));
    assert!(
        res.text.contains(amendment["id"].as_str().expect("id")),
        "{}",
        res.text
    );
    // An unknown entry.
    again["amends"] = json!(uuid::Uuid::now_v7());
    post_entry(&app, &token, &plan, &again)
        .await
        .assert_problem(422, Some("amends"));
    // No reason, and a blank reason.
    let mut no_reason = entry(
        "acute",
        "stage_start",
        &days_ago(10),
        json!({"nihss_total": 3}),
    );
    no_reason["amends"] = start["id"].clone();
    post_entry(&app, &token, &plan, &no_reason)
        .await
        .assert_problem(422, Some("reason"));
    no_reason["reason"] = json!("   ");
    post_entry(&app, &token, &plan, &no_reason)
        .await
        .assert_problem(422, Some("reason"));
    // A reason without `amends`.
    let mut stray = entry("acute", "assessment", &days_ago(8), json!({"mrs": 3}));
    stray["reason"] = json!("理由だけ");
    post_entry(&app, &token, &plan, &stray)
        .await
        .assert_problem(422, Some("reason"));
    assert_eq!(
        snapshot(&app, &token, &plan).await,
        before,
        "a rejected amendment wrote something"
    );
}
