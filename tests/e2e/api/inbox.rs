//! The web UI's hand-over read marks (連携受信箱の未読) and 漢字 name search, over HTTP
//! with a web session on the demo region: the nav counts the facility's unopened
//! incoming hand-overs; opening one marks it read for the receiving facility only, once.

use renkei_service::audit::RequestMeta;
use renkei_service::auth;
use renkei_service::demo::DEMO_PASSWORD;
use renkei_testkit::{TestApp, rows};

use crate::support::app_or_skip;

/// A ready web session for a demo user (the first-login password change skipped).
async fn session(app: &TestApp, login: &str) -> String {
    rows::edit_practitioner(
        &app.services.db,
        login,
        rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("skip the password change");
    match auth::login(
        &app.services,
        &RequestMeta::default(),
        login,
        DEMO_PASSWORD,
        None,
    )
    .await
    {
        Ok(auth::LoginResult::LoggedIn { session, .. }) => session.token,
        _ => panic!("{login} logs in"),
    }
}

/// GET a page with the session cookie: (status, Location, body).
async fn get(app: &TestApp, token: &str, path: &str) -> (u16, String, String) {
    let res = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}{path}", app.base_url))
        .header("cookie", format!("renkei_session={token}"))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, location, res.text().await.expect("body"))
}

/// The results part of the search page (the hint above the box names example patients).
fn results(page: &str) -> &str {
    page.split("<h2>検索結果")
        .nth(1)
        .expect("a results section")
}

/// The `(n件未読)` of the nav, 0 when there is no badge.
fn unread(page: &str) -> usize {
    page.split("id=\"unread-count\">(")
        .nth(1)
        .and_then(|r| r.split("件未読").next())
        .map(|n| n.parse().expect("a count"))
        .unwrap_or(0)
}

#[tokio::test]
async fn opening_a_hand_over_marks_it_read_for_the_receiving_facility() {
    let app = app_or_skip!();
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    let tanaka = session(&app, "tanaka").await; // the recovery hospital (receiver)
    let sato = session(&app, "sato").await; // the acute hospital (sender)

    let (status, to, _) = get(&app, &tanaka, "/").await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/worklist"),
        "/ is the worklist"
    );
    let (_, _, worklist) = get(&app, &tanaka, "/worklist").await;
    let before = unread(&worklist);
    assert!(
        before >= 1,
        "the demo's proposal to the recovery hospital is unread"
    );
    let (_, _, inbox) = get(&app, &tanaka, "/handovers").await;
    assert!(inbox.contains("未読・未回答"), "{inbox}");
    let link = inbox
        .split("href=\"/handovers/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a hand-over in the inbox")
        .to_owned();
    let path = format!("/handovers/{link}");

    // The sender opening it is no read by the receiver.
    let (status, _, _) = get(&app, &sato, &path).await;
    assert_eq!(status, 200);
    let (_, _, worklist) = get(&app, &tanaka, "/worklist").await;
    assert_eq!(
        unread(&worklist),
        before,
        "the sender's view changes nothing"
    );

    // The receiver opens it: read at once, and only once.
    let (status, _, detail) = get(&app, &tanaka, &path).await;
    assert_eq!(status, 200);
    assert_eq!(unread(&detail), before - 1, "the nav of the page itself");
    let (_, _, again) = get(&app, &tanaka, &path).await;
    assert_eq!(
        unread(&again),
        before - 1,
        "opening it again changes nothing"
    );
    let (_, _, inbox) = get(&app, &tanaka, "/handovers").await;
    assert_eq!(
        inbox.matches("未読・未回答").count(),
        before - 1,
        "its row no longer says 未読: {inbox}"
    );
}

#[tokio::test]
async fn the_search_box_takes_kanji_names() {
    let app = app_or_skip!();
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
    let sato = session(&app, "sato").await;
    let search = |q: &'static str| {
        let app = &app;
        let sato = &sato;
        async move {
            let (status, _, page) = get(
                app,
                sato,
                &format!(
                    "/patients?q={}",
                    q.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
                ),
            )
            .await;
            assert_eq!(status, 200, "{q}");
            page
        }
    };
    for q in ["山田", "山田 太郎", "太郎", "山田 S23.4.1"] {
        let page = search(q).await;
        assert!(
            results(&page).contains("山田 太郎"),
            "{q:?} finds 山田 太郎"
        );
    }
    for q in ["山田 花子", "山川", "山田 S23.4.2"] {
        let page = search(q).await;
        assert!(
            results(&page).contains("該当する患者は見つかりませんでした"),
            "{q:?} finds nobody"
        );
    }
    let page = search("渡辺").await;
    assert!(
        results(&page).contains("渡辺 京子"),
        "the demo's 渡辺 by 漢字"
    );
    let page = search("山田 太郎 次郎").await;
    assert!(
        page.contains("2語まで"),
        "three words are refused with a hint"
    );
}
