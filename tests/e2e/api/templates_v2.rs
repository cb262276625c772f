//! The published v2 templates over the API (issue 12 points 14–16): current rules and
//! guidelines, standard codes and patient wording in what `/pathways/{code}/versions/2`
//! returns; entries on v2 plans take the new items; the migration preview of a running v1
//! stroke plan names what v2 changes and what the plan has yet to record.

use renkei_testkit::builders::{days_ago, entry};
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, create_patient, post_entry};

fn by_code<'a>(list: &'a Value, code: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x["code"] == code))
        .unwrap_or_else(|| panic!("{code} missing in {list}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn published_v2_templates_carry_current_rules_codes_and_patient_wording() {
    let app = app_or_skip!();
    let token = app.token().await;
    let get = |code: &'static str, version: u32| {
        let app = &app;
        let token = &token;
        async move {
            let res = app
                .get(
                    &format!("/api/v1/pathways/{code}/versions/{version}"),
                    token,
                )
                .await;
            res.assert_status(200);
            res.body["template"].clone()
        }
    };

    let stroke = get("stroke", 2).await;
    let stroke_v1 = get("stroke", 1).await;
    // The 2-month admission rule is gone from v2 and still in the pinned v1.
    let acute_exit = |t: &Value| by_code(&t["stages"], "acute")["exit_criteria"].clone();
    assert!(
        acute_exit(&stroke_v1)
            .as_str()
            .unwrap()
            .contains("2か月以内")
    );
    assert!(!acute_exit(&stroke).as_str().unwrap().contains("2か月"));
    // JSH2025 office and home targets, no exceptions.
    for (goal, item, value) in [
        ("g5_bp_sys", "bp_sys", 130),
        ("g5_bp_dia", "bp_dia", 80),
        ("g5_bp_sys_home", "bp_sys_home", 125),
        ("g5_bp_dia_home", "bp_dia_home", 75),
    ] {
        let g = by_code(&stroke["goals"], goal);
        assert_eq!(g["target"]["item"], item, "{g}");
        assert_eq!(g["target"]["value"].as_f64(), Some(f64::from(value)), "{g}");
        assert!(g.get("applies_when").is_none(), "{g}");
        assert_eq!(
            g["scope"],
            json!({"kind": "stage", "stage": "home", "at": "during"})
        );
    }
    let ldl = by_code(&stroke["goals"], "g6_ldl");
    assert_eq!(
        ldl["applies_when"][0],
        json!({"kind": "choice", "item": "stroke_subtype", "in": ["atherothrombotic"]})
    );
    assert_eq!(
        by_code(&stroke["goals"], "g7_hba1c")["applies_when"],
        json!([{"kind": "flag", "item": "diabetes", "value": true}])
    );
    // HbA1c is exported under the NGSP-era LOINC code.
    assert_eq!(
        by_code(&stroke["items"], "hba1c")["codes"],
        json!([{"system": "http://loinc.org", "code": "4548-4",
                "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}])
    );
    assert_eq!(
        by_code(&stroke["items"], "stroke_subtype")["carry_over"],
        true
    );

    let femur = get("femur-fracture", 2).await;
    let h1 = by_code(&femur["goals"], "h1_early_surgery");
    assert_eq!(h1["target"]["from_item"], "er_arrival_at");
    assert_eq!(
        h1["applies_when"],
        json!([{"kind": "age", "op": ">=", "value": 75}])
    );
    let addon = by_code(&femur["goals"], "h1_fixation_within_48h_of_injury");
    assert_eq!(addon["target"]["from_item"], "injury_at");
    assert_eq!(addon["target"]["max_hours"], 48);
    assert_eq!(
        by_code(&femur["goals"], "h2_early_loading")["target"],
        json!({"kind": "days_between", "from_item": "surgery_at",
               "to_item": "loading_started_at", "op": "<", "days": 3})
    );

    let diabetes = get("diabetes", 2).await;
    let uacr = by_code(&diabetes["goals"], "m9_uacr");
    assert_eq!(
        uacr["target"],
        json!({"kind": "done_within", "item": "uacr", "months": 3})
    );
    assert_eq!(
        uacr["applies_when"],
        json!([{"kind": "choice", "item": "dkd_stage", "in": ["stage_1", "stage_2"]}])
    );
    assert_eq!(
        by_code(&diabetes["goals"], "m4_nonhdl")["follows"],
        json!({"goal": "m3_ldl", "offset": 30.0})
    );
    let eye = by_code(&diabetes["schedule"], "eye_exam");
    assert_eq!(eye["interval_by"]["item"], "retinopathy_grade");
    assert_eq!(
        eye["interval_by"]["bands"][3],
        json!({"in": ["proliferative"], "days": 30})
    );
    assert_eq!(
        by_code(&diabetes["items"], "egfr")["codes"][0]["code"],
        "8A065000002391901"
    );

    // Every goal of every v2 template has patient wording.
    for t in [&stroke, &femur, &diabetes] {
        for g in t["goals"].as_array().unwrap() {
            let ja = g["patient_title"]["ja"].as_str().unwrap_or_default();
            assert!(!ja.is_empty() && !ja.contains("FIM"), "{}: {g}", t["code"]);
            assert!(g["patient_title"]["en"].is_string(), "{g}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_plans_take_the_new_items_and_v1_plans_refuse_them() {
    let app = app_or_skip!();
    let token = app.token().await;
    let p = create_patient(&app, &token, ("カワイ", "ミチコ"), "1946-05-05", "tv2-1").await;
    let enrol = |version: u32| {
        let app = &app;
        let token = &token;
        let p = p.clone();
        async move {
            let res = app
                .post_json(
                    "/api/v1/care-plans",
                    token,
                    &json!({"patient_id": p["id"], "pathway": "stroke", "version": version,
                            "started_at": days_ago(3)}),
                    None,
                )
                .await;
            res.assert_status(201);
            res.body["id"].as_str().expect("plan id").to_owned()
        }
    };
    let v2 = enrol(2).await;
    let values = json!({"nihss_total": 5, "stroke_subtype": "cardioembolic",
                        "diabetes": true, "paralysis_side": "left"});
    let e = append(
        &app,
        &token,
        &v2,
        entry("acute", "stage_start", &days_ago(3), values.clone()),
    )
    .await;
    assert_eq!(e["values"]["stroke_subtype"], "cardioembolic");
    post_entry(
        &app,
        &token,
        &v2,
        &entry(
            "acute",
            "assessment",
            &days_ago(2),
            json!({"stroke_subtype": "migraine"}),
        ),
    )
    .await
    .assert_problem(422, Some("values.stroke_subtype"));

    let v1 = enrol(1).await;
    post_entry(
        &app,
        &token,
        &v1,
        &entry("acute", "stage_start", &days_ago(3), values),
    )
    .await
    .assert_problem(422, Some("values.stroke_subtype"));
}

#[tokio::test(flavor = "multi_thread")]
async fn migration_preview_of_a_running_stroke_plan_from_v1_to_v2() {
    let app = app_or_skip!();
    let token = app.token().await;
    let p = create_patient(&app, &token, ("ナカノ", "イサオ"), "1949-09-09", "tv2-2").await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p["id"], "pathway": "stroke", "version": 1,
                    "started_at": days_ago(5)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(5),
            json!({"nihss_total": 8, "bp_sys": 150, "bp_dia": 90}),
        ),
    )
    .await;

    let preview = app
        .get_query(
            &format!("/api/v1/care-plans/{plan}/migration"),
            &token,
            &[("version", "2")],
        )
        .await;
    preview.assert_status(200);
    let d = &preview.body;
    assert_eq!(
        (d["from_version"].as_u64(), d["to_version"].as_u64()),
        (Some(1), Some(2))
    );
    // Goals added, changed (with what changed), none removed.
    let goals = &d["goals"];
    assert!(
        goals["added"]
            .as_array()
            .unwrap()
            .contains(&json!("g6_ldl_diabetes"))
    );
    assert_eq!(goals["removed"], json!([]));
    let g5 = by_code(&goals["details"], "g5_bp_dia");
    assert_eq!(g5["change"], "changed");
    let fields: Vec<&str> = g5["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"scope"),
        "{g5}"
    );
    let added = by_code(&goals["details"], "g5_bp_dia_home");
    assert_eq!(added["change"], "added");
    assert_eq!(added["title"]["ja"], "家庭拡張期血圧75 mmHg未満");
    // Items: the new ones with their titles; changed ones name the field (codes).
    let subtype = by_code(&d["items"]["details"], "stroke_subtype");
    assert_eq!(
        (subtype["change"].as_str(), subtype["title"]["ja"].as_str()),
        (Some("added"), Some("病型"))
    );
    let bp = by_code(&d["items"]["details"], "bp_sys");
    assert_eq!(bp["fields"][0]["field"], "codes", "{bp}");
    assert_eq!(bp["fields"][0]["after"][0]["code"], "8480-6");
    // The plan has not recorded what the new conditions read.
    let needs: Vec<&str> = d["needs_recording"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["item"].as_str())
        .collect();
    assert_eq!(needs, ["diabetes", "stroke_subtype"], "{d}");
    // Previewing changes nothing.
    let got = app.get(&format!("/api/v1/care-plans/{plan}"), &token).await;
    assert_eq!(got.body["pathway"]["version"], 1);
}
