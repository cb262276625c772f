//! Issue 13 §6 and §7: the plan page of a diabetes (cyclical) plan enrolled by a clinic shows
//! the next visits and tests with due/overdue, the cycle かかりつけ医 ⇄ 専門医療機関 with the
//! organisations' names and the last/next dates, goals under the stage that owns them, and
//! the 紹介基準 judged from the record; goals not yet judged are neutral 評価待ち.

use chrono::{Duration, FixedOffset, Utc};
use renkei_service::admin;
use renkei_testkit::TestApp;
use renkei_testkit::app::send;
use renkei_testkit::builders::{days_ago, patient};
use reqwest::Method;
use serde_json::json;

use crate::support::{app_or_skip, append, consent};
use crate::web_client::{Browser, PASSWORD, web_user};

/// The Tokyo calendar day `days` ago, as `<time datetime>` carries it.
pub fn tokyo_day(days: i64) -> String {
    let tokyo = FixedOffset::east_opt(9 * 3600).expect("offset");
    (Utc::now() - Duration::days(days))
        .with_timezone(&tokyo)
        .format("%Y-%m-%d")
        .to_string()
}

/// The part of `page` from the element with `id` to the end of its section.
pub fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} on the page: {page}"));
    let end = page[start..]
        .find("</section>")
        .map_or(page.len(), |e| e + start);
    &page[start..end]
}

pub async fn org_name(app: &TestApp, code: &str) -> String {
    admin::list_organizations(&app.services.db)
        .await
        .expect("organisations")
        .into_iter()
        .find(|o| o.code == code)
        .map(|o| o.name)
        .unwrap_or_else(|| panic!("organisation {code}"))
}

/// A diabetes plan enrolled `started` days ago by `clinic-1` (logged in as `login` on the
/// web), with the clinic stage started and HbA1c recorded `hba1c` = (days ago, value); with
/// `specialist` the specialist centre `acute-1` accepted a referral and joined the team.
pub async fn clinic_diabetes_plan(
    app: &TestApp,
    login: &str,
    started: i64,
    hba1c: &[(i64, f64)],
    specialist: bool,
) -> String {
    web_user(app, "clinic-1", "clinic", login).await;
    let token = admin::issue_token(&app.services, login, "web", None)
        .await
        .expect("token");
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            &token,
            &patient("スズキ", "イチロウ", "1958-07-01", "clinic-1", &ident[..12]),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": p.body["id"], "pathway": "diabetes", "started_at": days_ago(started)}),
            None,
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.body["current_stage"], "clinic", "{}", res.text);
    let plan = res.body["id"].as_str().expect("id").to_owned();
    append(
        app,
        &token,
        &plan,
        json!({"stage": "clinic", "kind": "stage_start", "effective_at": days_ago(started - 1),
               "values": {}}),
    )
    .await;
    for (ago, v) in hba1c {
        append(
            app,
            &token,
            &plan,
            json!({"stage": "clinic", "kind": "assessment", "effective_at": days_ago(*ago),
                   "values": {"hba1c": v, "bp_sys": 128, "bp_dia": 76}}),
        )
        .await;
    }
    if specialist {
        let spec = app
            .user_token("acute-1", "acute_hospital", &format!("{login}-dm-spec"))
            .await;
        consent(app, &token, &plan).await;
        let h = app
            .post_json(
                &format!("/api/v1/care-plans/{plan}/handovers"),
                &token,
                &json!({"to_organization": "acute-1", "stage": "specialist"}),
                None,
            )
            .await;
        h.assert_status(201);
        let id = h.body["id"].as_str().expect("id");
        send(
            app.request(Method::POST, &format!("/api/v1/handovers/{id}/accept"))
                .bearer_auth(&spec)
                .header("If-Match", "\"1\""),
        )
        .await
        .assert_status(200);
    }
    plan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diabetes_plan_page_shows_visits_cycle_goals_by_stage_and_met_referral_criteria() {
    let app = app_or_skip!();
    // Enrolled 200 days ago: the 6-monthly specialist review (180 days + 14 grace) is
    // overdue; HbA1c 8.2 and 8.6 within the last 3 months: sustained poor control.
    let plan = clinic_diabetes_plan(&app, "dm-gp", 200, &[(70, 8.2), (10, 8.6)], true).await;
    let browser = Browser::new(&app);
    browser.login("dm-gp", PASSWORD).await;
    let page = browser.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    let cycle = section(&page.text, "cycle");

    // The next visits and tests, in Japanese with owner and date; overdue in words.
    assert!(cycle.contains("次の受診・検査"), "{cycle}");
    let row = |title: &str| -> String {
        let at = cycle
            .find(title)
            .unwrap_or_else(|| panic!("{title} in the visits: {cycle}"));
        let start = cycle[..at].rfind("<tr>").expect("row start");
        let end = cycle[at..].find("</tr>").expect("row end") + at;
        cycle[start..end].to_owned()
    };
    let visit = row("かかりつけ医定期受診");
    assert!(visit.contains("かかりつけ医"), "{visit}");
    assert!(
        visit.contains("予定"),
        "the monthly visit done 10 days ago is ahead: {visit}"
    );
    assert!(
        visit.contains(&format!("datetime=\"{}\"", tokyo_day(10))),
        "{visit}"
    );
    let review = row("専門医療機関定期評価");
    assert!(review.contains("専門医療機関"), "{review}");
    assert!(
        review.contains("badge bad") && review.contains("期限超過"),
        "{review}"
    );
    assert!(
        !cycle.contains("尿中アルブミン測定"),
        "a rule that does not apply is left out"
    );
    assert!(!cycle.contains("not_applicable") && !cycle.contains("overdue<"));

    // The cycle: both organisations by name, the clinic's last visit and next dates.
    let clinic_name = org_name(&app, "clinic-1").await;
    let spec_name = org_name(&app, "acute-1").await;
    let clinic_node = section(cycle, "cycle-clinic");
    let clinic_node = &clinic_node[..clinic_node.find("cycle-arrows").expect("arrows")];
    assert!(clinic_node.contains(&clinic_name), "{clinic_node}");
    assert!(clinic_node.contains(&format!("datetime=\"{}\"", tokyo_day(10))));
    assert!(
        !clinic_node.contains("期限超過"),
        "the monthly visit is ahead, whatever the lab panel: {clinic_node}"
    );
    let spec_node = section(cycle, "cycle-specialist");
    assert!(spec_node.contains(&spec_name), "{spec_node}");
    assert!(spec_node.contains("期限超過"), "{spec_node}");
    assert!(
        cycle.contains("<figcaption id=\"cycle-alt\">"),
        "a text alternative"
    );

    // The 紹介基準, both met, with what they rest on.
    assert!(cycle.contains("! 該当あり"), "{cycle}");
    let crit = section(cycle, "h-referral");
    assert!(
        crit.contains("! 該当</span> HbA1c 8.0%以上が約3か月持続"),
        "{crit}"
    );
    assert!(crit.contains("8.2%、8.6%"), "{crit}");
    assert!(
        crit.contains("! 該当</span> 専門医療機関の定期評価の期限超過"),
        "{crit}"
    );

    // Goals grouped under the stage that owns them: HbA1c is judged 6 months after the
    // start of the introduction (its `due` stage), the eye exam has no stage (全体).
    let goals = section(&page.text, "h-goals");
    let group_of = |goal: &str| -> String {
        let at = goals
            .find(&format!("id=\"goal-{goal}\""))
            .unwrap_or_else(|| panic!("goal {goal}: {goals}"));
        let head = goals[..at].rfind("class=\"group-head\">").expect("a group") + 19;
        let end = goals[head..].find('<').expect("end") + head;
        goals[head..end].to_owned()
    };
    assert_eq!(group_of("m1_hba1c"), "導入(専門医療機関)");
    assert_eq!(group_of("m2_bp_sys"), "導入(専門医療機関)");
    assert_eq!(group_of("m8_eye_exam"), "全体");
    assert!(goals.contains("<th scope=\"rowgroup\""), "{goals}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_diabetes_plan_meets_no_referral_criterion_and_its_goals_wait_neutrally() {
    let app = app_or_skip!();
    // Enrolled 20 days ago, one HbA1c of 9.0: not sustained, review not due; no specialist
    // centre has joined (未定).
    let plan = clinic_diabetes_plan(&app, "dm-gp2", 20, &[(5, 9.0)], false).await;
    let browser = Browser::new(&app);
    browser.login("dm-gp2", PASSWORD).await;
    let page = browser.get(&format!("/care-plans/{plan}")).await;
    page.assert_status(200);
    let cycle = section(&page.text, "cycle");
    assert!(cycle.contains("該当なし"), "{cycle}");
    let crit = section(cycle, "h-referral");
    assert!(
        crit.contains("非該当</span> HbA1c 8.0%以上が約3か月持続"),
        "{crit}"
    );
    assert!(
        crit.contains("非該当</span> 専門医療機関の定期評価の期限超過"),
        "{crit}"
    );
    assert!(!crit.contains("! 該当"), "{crit}");
    let spec_node = section(cycle, "cycle-specialist");
    assert!(spec_node.contains("未定"), "{spec_node}");
    // Goals judged later are 評価待ち in the neutral style, never red 未達.
    let goals = section(&page.text, "h-goals");
    assert!(
        goals.contains(
            "<span class=\"badge muted\"><span aria-hidden=\"true\">…</span> 評価待ち</span>"
        ),
        "{goals}"
    );
    assert!(!goals.contains("badge wait"), "{goals}");
    // The overview's criteria of a stage not ended wait too.
    assert!(!page.text.contains("badge bad\">未達"), "{}", page.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enrol_confirmation_names_the_clinic_as_the_family_physician_on_a_diabetes_plan() {
    let app = app_or_skip!();
    web_user(&app, "clinic-1", "clinic", "dm-enrol").await;
    let token = admin::issue_token(&app.services, "dm-enrol", "web", None)
        .await
        .expect("token");
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            &token,
            &patient("タナカ", "ハナコ", "1955-03-04", "clinic-1", &ident[..12]),
            None,
        )
        .await;
    p.assert_status(201);
    let id = p.body["id"].as_str().expect("id");
    let browser = Browser::new(&app);
    browser.login("dm-enrol", PASSWORD).await;
    let form = browser.get(&format!("/patients/{id}/enrol")).await;
    form.assert_status(200);
    let csrf = form.csrf();
    let today = tokyo_day(0);
    let confirm = browser
        .post(
            &format!("/patients/{id}/enrol/confirm"),
            &[
                ("csrf", csrf.as_str()),
                ("pathway", "diabetes"),
                ("started_on", today.as_str()),
                ("consent", "later"),
            ],
        )
        .await;
    confirm.assert_status(200);
    let name = org_name(&app, "clinic-1").await;
    let row = |stage: &str| -> String {
        let at = confirm
            .text
            .find(&format!(">{stage}</"))
            .unwrap_or_else(|| panic!("{stage} on the confirmation: {}", confirm.text));
        let end = confirm.text[at..]
            .find("</dd>")
            .map_or(at + 300, |e| e + at);
        confirm.text[at..end].to_owned()
    };
    let clinic = row("かかりつけ医");
    assert!(clinic.contains(&format!("{name}(自施設)")), "{clinic}");
    let intro = row("導入(専門医療機関)");
    assert!(
        !intro.contains("自施設"),
        "the clinic does not run the introduction: {intro}"
    );
    assert!(intro.contains("未定"), "{intro}");
}
