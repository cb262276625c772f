//! Issue 17 point 6: the 糖尿病連携手帳 view of a diabetes plan over HTTP. The demo's
//! diabetes patient (伊藤 誠): the visits' values appear on the handbook's 検査結果 page,
//! the 糖尿病眼手帳 page shows the eye exam as the pathway words it, and the next due
//! dates are the last visit plus the interval the template file gives (computed here from
//! the file and the demo's dates, not read from the server). A stroke plan has no handbook.
//! The plan page links to the handbook and to the hand-off sheets.

use chrono::{Datelike, Duration, NaiveDate};
use renkei_service::demo::DEMO_PASSWORD;
use renkei_testkit::{TestApp, pathways_dir, rows};
use serde_json::Value;

use crate::support::{app_or_skip, stroke_plan};
use crate::web_client::Browser;

const DEMO_ACUTE: &str = "rk_demo_acute1_0000000000000000000000000000000000";

/// `2026年4月1日(水)`, as ui.md's date rule writes a day.
pub(crate) fn japanese_day(d: NaiveDate) -> String {
    let w = ["月", "火", "水", "木", "金", "土", "日"][d.weekday().num_days_from_monday() as usize];
    format!("{}年{}月{}日({w})", d.year(), d.month(), d.day())
}

fn tokyo_day(t: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    (t + Duration::hours(9)).date_naive()
}

pub(crate) fn diabetes_v2() -> toml::Value {
    let src = std::fs::read_to_string(pathways_dir().join("diabetes/v2.toml")).expect("v2");
    toml::from_str(&src).expect("toml")
}

fn rule<'a>(t: &'a toml::Value, code: &str) -> &'a toml::Value {
    t["schedule"]
        .as_array()
        .expect("schedule")
        .iter()
        .find(|r| r["code"].as_str() == Some(code))
        .unwrap_or_else(|| panic!("schedule {code}"))
}

/// The demo's diabetes plan of イトウ マコト.
pub(crate) async fn demo_diabetes_plan(app: &TestApp) -> String {
    let p = app
        .get_query("/api/v1/patients", DEMO_ACUTE, &[("kana", "イトウ マコト")])
        .await;
    p.assert_status(200);
    let patient = p.body["patients"][0]["id"]
        .as_str()
        .expect("the demo patient")
        .to_owned();
    let plans = app
        .get_query(
            "/api/v1/care-plans",
            DEMO_ACUTE,
            &[("patient_id", patient.as_str())],
        )
        .await;
    plans.assert_status(200);
    let plan = plans.body["care_plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["pathway"]["code"] == "diabetes")
        .expect("a diabetes plan");
    plan["id"].as_str().expect("id").to_owned()
}

pub(crate) async fn demo_sato(app: &TestApp) -> Browser {
    rows::edit_practitioner(
        &app.services.db,
        "sato",
        rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("clear must_change_password");
    let b = Browser::new(app);
    b.login("sato", DEMO_PASSWORD).await;
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handbook_shows_the_demo_visits_the_eye_page_and_the_next_due_dates() {
    let app = app_or_skip!();
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    // The demo dates its entries in days before the clock's now.
    let now = app.services.now();
    let plan = demo_diabetes_plan(&app).await;
    let b = demo_sato(&app).await;

    let plan_page = b.get(&format!("/care-plans/{plan}")).await;
    plan_page.assert_status(200);
    assert!(
        plan_page
            .text
            .contains(&format!("href=\"/care-plans/{plan}/handbook\"")),
        "the plan page links to the handbook"
    );
    assert!(
        plan_page
            .text
            .contains(&format!("href=\"/care-plans/{plan}/sheets\"")),
        "the plan page links to the sheets"
    );

    let page = b.get(&format!("/care-plans/{plan}/handbook")).await;
    page.assert_status(200);
    let html = &page.text;
    for want in [
        "糖尿病連携手帳",
        "検査結果",
        "糖尿病眼手帳(眼科)",
        "伊藤",
        "イトウ",
        "HbA1c(NGSP)",
        "次回の予定",
    ] {
        assert!(html.contains(want), "the handbook lacks {want:?}");
    }
    // The visits' values (demo: intro 8.4 %, 142/88, 78.5 kg, LDL 146; the clinic's 7.6 …
    // 6.8; the last lipid panel LDL 112).
    for v in [
        "8.4", "7.6", "7.3", "7.1", "6.8", "142", "78.5", "146", "112",
    ] {
        assert!(
            html.contains(&format!(">{v}<")),
            "the handbook lacks the value {v}"
        );
    }
    // Four visits per table, as on the book's double page: the demo's seven HbA1c
    // visits (intro, clinic start, five clinic visits) fill two tables of 検査結果.
    assert!(html.contains("検査結果 1〜4回目"), "first table");
    assert!(html.contains("検査結果 5〜"), "second table");
    // The eye exam in the pathway's words, never its code.
    let t = diabetes_v2();
    let ndr = t["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["code"].as_str() == Some("retinopathy_r"))
        .and_then(|i| i["options"].as_array())
        .and_then(|o| o.iter().find(|o| o["code"].as_str() == Some("ndr")))
        .and_then(|o| o["title"]["ja"].as_str())
        .expect("ndr title")
        .to_owned();
    assert!(html.contains(&ndr), "the eye page shows {ndr}");
    assert!(!html.contains(">ndr<"), "no raw code on the eye page");

    // Next due dates: the last visit (Tokyo day) plus the template's interval.
    let clinic_last = tokyo_day(now - Duration::days(10));
    let clinic_days = rule(&t, "clinic_visit")["interval_days"]
        .as_integer()
        .expect("interval");
    let clinic_due = clinic_last + Duration::days(clinic_days);
    // The eye exam at the end of the introduction (190 days ago), retinopathy grade
    // `none`: the band's interval.
    let eye_last = tokyo_day(now - Duration::days(190));
    let eye_days = rule(&t, "eye_exam")["interval_by"]["bands"]
        .as_array()
        .expect("bands")
        .iter()
        .find(|b| {
            b["in"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x.as_str() == Some("none")))
        })
        .and_then(|b| b["days"].as_integer())
        .expect("band of none");
    let eye_due = eye_last + Duration::days(eye_days);
    for (what, day) in [
        ("clinic visit due", clinic_due),
        ("clinic visit last", clinic_last),
        ("eye exam due", eye_due),
        ("eye exam last", eye_last),
    ] {
        let words = japanese_day(day);
        assert!(html.contains(&words), "{what}: {words} not on the handbook");
    }
    // The goals as the goal engine judges them: every applicable goal is listed.
    let goals = app
        .get(&format!("/api/v1/care-plans/{plan}/goals"), DEMO_ACUTE)
        .await;
    goals.assert_status(200);
    let listed: Vec<&Value> = goals.body["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .filter(|g| g["status"] != "not_applicable")
        .collect();
    assert!(!listed.is_empty());
    let v2 = diabetes_v2();
    for g in listed {
        let title = v2["goals"]
            .as_array()
            .expect("goals")
            .iter()
            .find(|x| x["code"].as_str() == g["code"].as_str())
            .and_then(|x| x["title"]["ja"].as_str())
            .expect("goal title");
        assert!(
            html.contains(&title.replace('&', "&amp;")),
            "goal {title} not listed"
        );
    }

    // A stroke plan has no handbook: 404 and no link.
    let token = app.token().await;
    let stroke = stroke_plan(&app, &token, 2).await;
    let none = b.get(&format!("/care-plans/{stroke}/handbook")).await;
    assert_eq!(none.status.as_u16(), 404);
    let stroke_page = b.get(&format!("/care-plans/{stroke}")).await;
    assert!(!stroke_page.text.contains("/handbook\""));

    // The sheets page of the diabetes plan (none recorded yet) describes the forms.
    let sheets = b.get(&format!("/care-plans/{plan}/sheets")).await;
    sheets.assert_status(200);
    for want in [
        "千葉県地域生活連携シート A表(入院時等)",
        "千葉県地域生活連携シート B表(退院時)",
        "入院時情報提供書",
        "退院・退所情報記録書",
        "まだ記録されたシートはありません",
    ] {
        assert!(sheets.text.contains(want), "the sheets page lacks {want}");
    }
}
