//! The printable referral letter (診療情報提供書) in a real browser: the acute nurse opens
//! a hand-over she proposed, follows 「診療情報提供書を印刷」 and gets the Japanese letter
//! filled from the plan and the hand-over (the typed note and referral fields, the
//! diagnosis, the latest values, the pathway's goals with their status); the page passes
//! the page checks and axe-core, and prints to A4 with the patient's name and 「n / N」 on
//! every page and no screen-only words.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_referral_letter_prints_in_japanese_on_a4_from_the_hand_over_screen() {
    let Some((app, chromedriver, chromium)) = browser_and_app().await else {
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        Duration::from_secs(240),
        letter(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the letter checks finish within 4 minutes");
}

async fn letter(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();
    let nurse = format!("e-letter-{}", &Uuid::new_v4().simple().to_string()[..8]);
    crate::web_client::web_user(app, "acute-1", "acute_hospital", &nurse).await;
    let token = app.token().await;
    let (_, handover) = crate::fhir::document::proposed_handover(app, &token).await;

    let c = browser(driver, chromium, &profiles.join("letter"), true).await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(&c, "#login", &nurse).await;
    fill(&c, "#password", crate::web_client::PASSWORD).await;
    submit(&c, "form.stack button[type=submit]").await;
    assert!(!path(&c).await.starts_with("/login"), "logged in");
    c.goto(&format!("{base}/handovers/{handover}"))
        .await
        .expect("hand-over page");
    audit_page(&c, "hand-over (with the letter link)", &mut found).await;
    click_link(&c, "診療情報提供書を印刷").await;
    assert_eq!(path(&c).await, format!("/handovers/{handover}/letter"));
    audit_page(&c, "referral letter", &mut found).await;
    screenshot(&c, "referral-letter").await;
    let page = text(&c, "main").await;
    for want in [
        "診療情報提供書",
        "紹介先",
        "紹介元",
        "ヤマダ タロウ",
        "紹介目的",
        "リハビリ継続目的の転院をお願いします。",
        "傷病名・主訴",
        "アテローム血栓性脳梗塞",
        "右片麻痺",
        "現病歴",
        "既往歴",
        "高血圧症(10年)",
        "検査結果",
        "処方",
        "クロピドグレル 75mg 1日1回 朝食後",
        "連携パスの達成目標と現状",
        "長女",
    ] {
        assert!(page.contains(want), "the letter lacks {want:?}:\n{page}");
    }
    for code in ["atherothrombotic", "applying", "right"] {
        assert!(
            !page.contains(code),
            "the letter shows the raw code {code:?}"
        );
    }
    let pages = print_pdf(&c, "referral-letter").await;
    check_printed(&pages, "referral letter", "山田 太郎", 3);
    let printed: String = pages.iter().map(|p| squeeze(&p.text)).collect();
    for want in ["診療情報提供書", "紹介目的", "連携パスの達成目標と現状"] {
        assert!(
            printed.contains(&squeeze(want)),
            "the printed letter lacks {want:?}"
        );
    }
    assert!(
        !printed.contains(&squeeze("紹介・転院の依頼に戻る")),
        "the printed letter shows the screen's navigation"
    );
    c.close().await.expect("close");
    assert!(
        found.problems.is_empty(),
        "page checks:\n{}",
        found.problems.join("\n")
    );
    assert!(
        found.axe.is_empty(),
        "axe-core (WCAG 2.0 A/AA) violations:\n{}",
        found.axe.join("\n")
    );
}
