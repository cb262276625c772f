//! Issue 17 point 1 over HTTP: a patient enrolled on each cancer follow-up template by the
//! designated cancer hospital, the stage at surgery recorded at discharge (required), the
//! follow-up shared with the family physician, the schedule's next dates computed from the
//! date of surgery (intervals by years since surgery), the がん治療連携計画策定料 goal
//! (plan given within 30 days of discharge), recurrence and adverse events validated, the
//! FHIR PlanDefinition and CarePlan (both validators), the plan page's follow-up schedule
//! and the printed plan — with no line of template-specific code outside `pathways/`.

use chrono::{Duration, NaiveDate, Utc};
use renkei_testkit::builders::{days_ago, entry};
use serde_json::{Value, json};

use crate::api::cardiac_pathways::{enrol, fhir_plan_and_definition, goal, printed};
use crate::support::{app_or_skip, append, consent, post_entry, team_member};
use crate::web_client::web_user;

/// The Tokyo calendar date `days` ago.
fn tokyo_day(days: i64) -> NaiveDate {
    (Utc::now() + Duration::hours(9) - Duration::days(days)).date_naive()
}

struct Site {
    code: &'static str,
    title: &'static str,
    /// Site-specific values of the treatment stage's end besides dates and stage.
    at_discharge: Value,
    /// The schedule rule checked, the item values that count as done, and its interval
    /// in days at the time it is recorded (within the first years after surgery).
    rule: &'static str,
    done: Value,
    interval: i64,
    /// `elapsed` (the band of years since surgery) or `template`.
    source: &'static str,
    /// Marker values the clinic records, and a marker whose negative value is refused.
    markers: Value,
    marker: Option<&'static str>,
    /// Words of the template the plan page, the form or the print show.
    shown: &'static [&'static str],
}

async fn follow_up_over_http(site: Site, kana: (&str, &str), login: &str) {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", login).await;
    let acute = renkei_service::admin::issue_token(&app.services, login, "test", None)
        .await
        .expect("token");

    let res = app
        .get(
            &format!("/api/v1/pathways/{}/versions/1", site.code),
            &acute,
        )
        .await;
    res.assert_status(200);
    let stages: Vec<&str> = res.body["template"]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    assert_eq!(stages, ["treatment", "follow_up"]);

    // Admitted 400 days ago, operated 398 days ago, discharged 390 days ago.
    let plan = enrol(&app, &acute, site.code, kana, 400).await;
    consent(&app, &acute, &plan).await;
    append(
        &app,
        &acute,
        &plan,
        entry("treatment", "stage_start", &days_ago(400), json!({})),
    )
    .await;
    let surgery = tokyo_day(398);
    let discharge = tokyo_day(390);
    // The stage at surgery must be recorded at discharge.
    post_entry(
        &app,
        &acute,
        &plan,
        &entry(
            "treatment",
            "stage_end",
            &days_ago(390),
            json!({"surgery_date": surgery.to_string(), "discharge_date": discharge.to_string()}),
        ),
    )
    .await
    .assert_problem(422, Some("values.pstage"));
    let mut end = json!({"surgery_date": surgery.to_string(), "discharge_date": discharge.to_string(),
                         "pstage": "stage_3", "tnm": "pT3N1M0", "adjuvant_chemo": true});
    end.as_object_mut()
        .expect("object")
        .extend(site.at_discharge.as_object().expect("object").clone());
    append(
        &app,
        &acute,
        &plan,
        entry("treatment", "stage_end", &days_ago(390), end),
    )
    .await;
    // The family physician shares the follow-up; the hospital keeps recording in it.
    let clinic = team_member(&app, &acute, &plan, "clinic-1", "clinic", &["follow_up"]).await;
    append(
        &app,
        &clinic,
        &plan,
        entry("follow_up", "stage_start", &days_ago(389), json!({})),
    )
    .await;
    // The plan explained and handed over 10 days after discharge (策定料: within 30 days).
    append(
        &app,
        &acute,
        &plan,
        entry(
            "follow_up",
            "assessment",
            &days_ago(380),
            json!({"plan_provided_date": tokyo_day(380).to_string()}),
        ),
    )
    .await;
    append(
        &app,
        &clinic,
        &plan,
        entry("follow_up", "assessment", &days_ago(300), {
            let mut v = json!({"adverse_event": "末梢神経障害", "adverse_event_grade": 2,
                                   "info_to_planner": true});
            v.as_object_mut()
                .expect("object")
                .extend(site.markers.as_object().expect("object").clone());
            v
        }),
    )
    .await;
    // A grade CTCAE does not have, a negative marker and an unlisted recurrence site are
    // refused, each naming its field.
    let mut refused = vec![
        (
            json!({"adverse_event_grade": 6}),
            "values.adverse_event_grade".to_owned(),
        ),
        (
            json!({"recurrence": "brain_only"}),
            "values.recurrence".to_owned(),
        ),
    ];
    if let Some(m) = site.marker {
        let mut v = json!({});
        v[m] = json!(-1.0);
        refused.push((v, format!("values.{m}")));
    }
    for (values, field) in refused {
        post_entry(
            &app,
            &clinic,
            &plan,
            &entry("follow_up", "assessment", &days_ago(299), values),
        )
        .await
        .assert_problem(422, Some(&field));
    }
    append(
        &app,
        &acute,
        &plan,
        entry("follow_up", "assessment", &days_ago(200), site.done.clone()),
    )
    .await;
    append(
        &app,
        &clinic,
        &plan,
        entry(
            "follow_up",
            "assessment",
            &days_ago(100),
            json!({"recurrence": "none", "imaging_finding": "no_recurrence"}),
        ),
    )
    .await;

    // The schedule: the rule's next date is its interval after the Tokyo date it was done.
    let res = app
        .get(&format!("/api/v1/care-plans/{plan}/schedule"), &clinic)
        .await;
    res.assert_status(200);
    let rules = res.body["schedule"].as_array().expect("schedule");
    let rule = rules
        .iter()
        .find(|r| r["code"] == site.rule)
        .unwrap_or_else(|| panic!("rule {} missing in {}", site.rule, res.body));
    assert_eq!(rule["interval_days"], site.interval, "{rule}");
    assert_eq!(rule["interval_source"], site.source, "{rule}");
    let due = tokyo_day(200) + Duration::days(site.interval);
    assert_eq!(rule["due_date"], due.to_string(), "{rule}");

    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), &clinic)
        .await;
    goals.assert_status(200);
    let c1 = goal(&goals.body, "c1_plan_within_30_days");
    assert_eq!(c1["status"], "met", "{c1}");
    assert_eq!(c1["latest"]["value"], 10, "{c1}");

    let (cp, pd) = fhir_plan_and_definition(&app, &acute, &plan).await;
    assert_eq!(cp["activity"].as_array().map(Vec::len), Some(2), "{cp}");
    assert!(pd.to_string().contains("30日以内"), "{pd}");

    let (patient_copy, staff_copy) = printed(&app, login, &plan, site.shown).await;
    assert!(patient_copy.contains(site.title), "{}", site.title);
    assert!(staff_copy.contains("フォローアップ"));
    println!(
        "{} plan {plan}: {} schedule rules, {} goals, printed {} + {} bytes",
        site.code,
        rules.len(),
        goals.body["goals"].as_array().map_or(0, Vec::len),
        patient_copy.len(),
        staff_copy.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colorectal_follow_up_schedule_goal_fhir_and_print_over_http() {
    follow_up_over_http(
        Site {
            code: "cancer-colorectal",
            title: "大腸がん地域連携パス",
            at_discharge: json!({"tumor_site": "rectum"}),
            rule: "ct_stage_3",
            done: json!({"imaging_done": true, "imaging_finding": "no_recurrence"}),
            interval: 180,
            source: "elapsed",
            markers: json!({"cea": 2.8, "ca19_9": 14.0}),
            marker: Some("cea"),
            shown: &["次の受診・検査", "胸腹部CT(6か月毎、5年間)", "CA19-9"],
        },
        ("ヤマモト", "カズオ"),
        "crc-web",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gastric_follow_up_schedule_goal_fhir_and_print_over_http() {
    follow_up_over_http(
        Site {
            code: "cancer-gastric",
            title: "胃がん地域連携パス",
            at_discharge: json!({"treatment_kind": "surgery"}),
            rule: "imaging_stage_3",
            done: json!({"imaging_done": true, "endoscopy_done": true,
                         "endoscopy_finding": "no_recurrence"}),
            interval: 365,
            source: "elapsed",
            markers: json!({"cea": 2.8, "ca19_9": 14.0}),
            marker: Some("ca19_9"),
            shown: &[
                "次の受診・検査",
                "腹部画像検査(Stage III: 術後3年間、年1回以上)",
                "上部消化管内視鏡検査実施",
            ],
        },
        ("イノウエ", "ハルコ"),
        "gc-web",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liver_follow_up_schedule_goal_fhir_and_print_over_http() {
    follow_up_over_http(
        Site {
            code: "cancer-liver",
            title: "肝がん地域連携パス",
            at_discharge: json!({"treatment_kind": "hepatectomy"}),
            rule: "dynamic_ct_mri",
            done: json!({"imaging_done": true, "ultrasound_done": true}),
            interval: 365,
            source: "template",
            markers: json!({"afp": 6.0, "afp_l3": 4.5, "pivka_ii": 22.0}),
            marker: Some("pivka_ii"),
            shown: &[
                "次の受診・検査",
                "腫瘍マーカー(AFP・AFP-L3・PIVKA-II、3〜4か月毎)",
                "AFP-L3分画",
            ],
        },
        ("ササキ", "ミノル"),
        "hcc-web",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lung_follow_up_schedule_goal_fhir_and_print_over_http() {
    follow_up_over_http(
        Site {
            code: "cancer-lung",
            title: "肺がん地域連携パス",
            at_discharge: json!({}),
            rule: "ct",
            done: json!({"imaging_done": true, "imaging_finding": "second_primary"}),
            interval: 180,
            source: "elapsed",
            markers: json!({}),
            marker: None,
            shown: &[
                "次の受診・検査",
                "胸腹部CT(2年間6か月毎、以後5年まで1年毎)",
                "異時性肺癌",
            ],
        },
        ("マツモト", "ケンジ"),
        "lc-web",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breast_follow_up_schedule_goal_fhir_and_print_over_http() {
    follow_up_over_http(
        Site {
            code: "cancer-breast",
            title: "乳がん地域連携パス",
            at_discharge: json!({"surgery_kind": "partial", "endocrine_therapy": true}),
            rule: "mammography",
            done: json!({"imaging_done": true, "exam_done": true}),
            interval: 365,
            source: "elapsed",
            markers: json!({"ca15_3": 12.0}),
            marker: Some("ca15_3"),
            shown: &["次の受診・検査", "マンモグラフィ(年1回)", "術後内分泌療法"],
        },
        ("オガワ", "ミチコ"),
        "bc-web",
    )
    .await;
}

/// がん治療連携計画策定料: the plan is made by the hospital. A clinic enrolling its own
/// patient on a cancer template is refused (422 naming `pathway`, rule `planner_kind`,
/// in Japanese), and may still enrol the patient on a pathway without planner kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_hospital_may_plan_a_cancer_follow_up() {
    let app = app_or_skip!();
    let clinic = app.user_token("clinic-1", "clinic", "crc-clinic").await;
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            &clinic,
            &renkei_testkit::builders::patient(
                "タカギ",
                "ススム",
                "1951-07-07",
                "clinic-1",
                &ident[..12],
            ),
            None,
        )
        .await;
    p.assert_status(201);
    for code in [
        "cancer-colorectal",
        "cancer-gastric",
        "cancer-liver",
        "cancer-lung",
        "cancer-breast",
    ] {
        let res = app
            .post_json(
                "/api/v1/care-plans",
                &clinic,
                &json!({"patient_id": p.body["id"], "pathway": code, "started_at": days_ago(1)}),
                None,
            )
            .await;
        res.assert_problem(422, Some("pathway"));
        assert_eq!(
            res.body["errors"][0]["code"], "planner_kind",
            "{}",
            res.body
        );
        assert!(
            res.body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("計画策定施設")),
            "{}",
            res.body
        );
    }
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &clinic,
            &json!({"patient_id": p.body["id"], "pathway": "diabetes", "started_at": days_ago(1)}),
            None,
        )
        .await;
    res.assert_status(201);
}
