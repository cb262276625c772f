//! Corrections on the web pages: the void form strikes an entry out with 取消 and its
//! reason, the history of a corrected entry is listed, and an organisation that read the
//! plan before a correction sees the notice on the plan page and its worklist until it
//! acknowledges it.

use renkei_testkit::builders::{days_ago, entry};
use serde_json::json;

use crate::support::{app_or_skip, append, consent, stroke_plan, team_member};
use crate::web_client::{Browser, PASSWORD, web_user};

/// The text of the `<article>` of entry `id` on a plan page.
fn card<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"entry-{id}\""))
        .unwrap_or_else(|| panic!("entry {id} on the page"));
    let start = page[..start].rfind("<article").expect("article start");
    let end = page[start..].find("</article>").expect("article end") + start;
    &page[start..end]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voided_entry_is_struck_through_and_a_reader_is_told_until_it_acknowledges() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 10).await;
    consent(&app, &token, &plan).await;
    team_member(
        &app,
        &token,
        &plan,
        "recovery-1",
        "recovery_hospital",
        &["recovery"],
    )
    .await;
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
    let wrong = append(
        &app,
        &token,
        &plan,
        entry("acute", "assessment", &days_ago(8), json!({"mrs": 5})),
    )
    .await;
    let mrs_id = mrs["id"].as_str().expect("id");
    let wrong_id = wrong["id"].as_str().expect("id");

    web_user(&app, "acute-1", "acute_hospital", "acute-web").await;
    let acute = Browser::new(&app);
    acute.login("acute-web", PASSWORD).await;
    web_user(&app, "recovery-1", "recovery_hospital", "recovery-web").await;
    let recovery = Browser::new(&app);
    recovery.login("recovery-web", PASSWORD).await;
    web_user(&app, "clinic-1", "clinic", "clinic-web").await;
    let plan_url = format!("/care-plans/{plan}");

    // The recovery hospital reads the plan before anything is corrected.
    let page = recovery.get(&plan_url).await;
    page.assert_status(200);
    assert!(!page.text.contains("修正のお知らせ"));

    // The acute hospital corrects one entry (over the API) and voids another on the page.
    let mut fix = entry("acute", "assessment", &days_ago(9), json!({"mrs": 3}));
    fix["amends"] = mrs["id"].clone();
    fix["reason"] = json!("入力誤り");
    append(&app, &token, &plan, fix).await;
    let page = acute.get(&plan_url).await;
    page.assert_status(200);
    let c = card(&page.text, wrong_id);
    assert!(c.contains("この記録を取り消す"), "{c}");
    let void_url = format!("{plan_url}/entries/{wrong_id}/void");
    assert!(c.contains(&void_url), "{c}");
    let csrf = page.csrf();
    let effective = {
        let m = "name=\"effective_at\" value=\"";
        let s = c.find(m).expect("effective_at field") + m.len();
        c[s..s + c[s..].find('"').expect("end")].to_owned()
    };
    // Without a reason nothing is written.
    let refused = acute
        .post(
            &void_url,
            &[
                ("csrf", &csrf),
                ("stage", "acute"),
                ("effective_at", &effective),
                ("reason", "  "),
            ],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.text);
    let done = acute
        .post(
            &void_url,
            &[
                ("csrf", &csrf),
                ("stage", "acute"),
                ("effective_at", &effective),
                ("reason", "別患者に記載"),
            ],
        )
        .await;
    done.assert_status(303);
    let page = acute.get(&plan_url).await;
    page.assert_status(200);
    let c = card(&page.text, wrong_id);
    assert!(c.contains("is-voided"), "struck through: {c}");
    assert!(c.contains("取消"), "{c}");
    assert!(c.contains("取消理由: 別患者に記載"), "{c}");
    assert!(
        !c.contains("この記録を取り消す"),
        "a voided entry offers no void: {c}"
    );
    // The corrected entry lists its history: each version, who, why, what changed.
    let c = card(&page.text, mrs_id);
    assert!(c.contains("修正履歴(2版)"), "{c}");
    assert!(c.contains("第1版 原本"), "{c}");
    assert!(c.contains("第2版 修正"), "{c}");
    assert!(c.contains("理由: 入力誤り"), "{c}");
    assert!(c.contains("修正ランキンスケール(mRS) 4 → 3"), "{c}");
    // The correcting organisation gets no notice.
    assert!(!page.text.contains("修正のお知らせ"));

    // The reader sees both notices on the plan page and in its worklist.
    let page = recovery.get(&plan_url).await;
    page.assert_status(200);
    assert!(page.text.contains("修正のお知らせ(2件)"), "{}", page.text);
    assert!(
        page.text
            .contains("修正されました: 修正ランキンスケール(mRS) 4 → 3, 理由 入力誤り"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("取消されました: 評価(急性期), 理由 別患者に記載"),
        "{}",
        page.text
    );
    let list = recovery.get("/worklist").await;
    list.assert_status(200);
    assert!(list.text.contains("修正のお知らせ(2件)"), "{}", list.text);
    assert!(
        list.text.contains("ヤマダ") || list.text.contains("様:"),
        "{}",
        list.text
    );
    // An organisation that never read the plan is told nothing.
    let clinic = Browser::new(&app);
    clinic.login("clinic-web", PASSWORD).await;
    assert!(
        !clinic
            .get("/worklist")
            .await
            .text
            .contains("修正のお知らせ")
    );

    // Acknowledging each notice (a POST) removes it.
    let csrf = page.csrf();
    let marker = "action=\"/notices/";
    let mut urls = Vec::new();
    let mut rest = page.text.as_str();
    while let Some(i) = rest.find(marker) {
        let s = i + "action=\"".len();
        let e = rest[s..].find('"').expect("end") + s;
        urls.push(rest[s..e].replace("&amp;", "&"));
        rest = &rest[e..];
    }
    assert_eq!(urls.len(), 2, "{urls:?}");
    for u in &urls {
        let res = recovery.post(u, &[("csrf", &csrf)]).await;
        res.assert_status(303);
        assert_eq!(res.location(), Some(plan_url.as_str()));
    }
    let page = recovery.get(&plan_url).await;
    assert!(!page.text.contains("修正のお知らせ"), "{}", page.text);
    assert!(
        !recovery
            .get("/worklist")
            .await
            .text
            .contains("修正のお知らせ")
    );
}
