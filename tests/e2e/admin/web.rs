//! The administration pages over HTTP with the login-form client: every error of a form
//! at once with what was typed kept, the confirmations, the temporary password shown
//! once, and the pages in English through the language switch.

use renkei_testkit::TestApp;

use super::{admin_user, audit_actions, has_action, regional};
use crate::support::app_or_skip;
use crate::web_client::{Browser, PASSWORD, Page};

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    let b = Browser::new(app);
    b.login(login, PASSWORD).await;
    b
}

async fn post_form(b: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let form = b.get(page).await;
    form.assert_status(200);
    let csrf = form.csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_regional_administrator_creates_edits_and_deactivates_an_organisation_in_the_web_ui() {
    let app = app_or_skip!();
    let token = regional(&app).await;
    let b = signed_in(&app, "region-admin").await;

    let home = b.get("/admin").await;
    home.assert_status(200);
    assert!(home.text.contains("href=\"/admin/organizations\""));

    // Every error at once; what was typed comes back.
    let bad = post_form(
        &b,
        "/admin/organizations",
        "/admin/organizations",
        &[
            ("code", "Bad Code"),
            ("name", ""),
            ("kind", "castle"),
            ("area", "東葛北部"),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(3件)"),
        "{}",
        bad.text
    );
    for f in ["#f-code", "#f-name", "#f-kind"] {
        assert!(bad.text.contains(f), "{f} linked from the summary");
    }
    assert!(bad.text.contains("value=\"Bad Code\""), "typed code kept");
    assert!(bad.text.contains("value=\"東葛北部\""), "typed area kept");

    let created = post_form(
        &b,
        "/admin/organizations",
        "/admin/organizations",
        &[
            ("code", "home-nursing-9"),
            ("name", "第九訪問看護ステーション"),
            ("kind", "home_nursing"),
            ("area", "東葛北部"),
        ],
    )
    .await;
    assert_eq!(
        created.location(),
        Some("/admin/organizations/home-nursing-9?done=created")
    );
    let page = b
        .get("/admin/organizations/home-nursing-9?done=created")
        .await;
    page.assert_status(200);
    assert!(page.text.contains("登録しました。"));

    // Edit with one bad field: the error, and every typed value kept.
    let edit_url = "/admin/organizations/home-nursing-9";
    let bad = post_form(
        &b,
        edit_url,
        edit_url,
        &[
            ("name", "第九訪問看護ステーション柏"),
            ("kind", "home_nursing"),
            ("area", "東葛北部"),
            ("phone", "04-7000-0000"),
            ("fax", "ファックス"),
            ("address", "千葉県柏市1-2-3"),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(bad.text.contains("id=\"e-fax\""), "{}", bad.text);
    assert!(bad.text.contains("value=\"第九訪問看護ステーション柏\""));
    assert!(bad.text.contains("value=\"04-7000-0000\""));
    assert!(bad.text.contains("value=\"ファックス\""));
    assert!(bad.text.contains("value=\"千葉県柏市1-2-3\""));
    let saved = post_form(
        &b,
        edit_url,
        edit_url,
        &[
            ("name", "第九訪問看護ステーション柏"),
            ("kind", "home_nursing"),
            ("area", "東葛北部"),
            ("phone", "04-7000-0000"),
            ("fax", "04-7000-0001"),
            ("address", "千葉県柏市1-2-3"),
        ],
    )
    .await;
    assert_eq!(
        saved.location(),
        Some("/admin/organizations/home-nursing-9?done=saved")
    );
    let o = app
        .get("/api/v1/organizations/home-nursing-9", &token)
        .await;
    assert_eq!(o.body["fax"], "04-7000-0001");
    assert_eq!(o.body["name"], "第九訪問看護ステーション柏");

    // Require two-factor login.
    let tf = post_form(
        &b,
        edit_url,
        "/admin/organizations/home-nursing-9/two-factor",
        &[("required", "yes")],
    )
    .await;
    assert_eq!(
        tf.location(),
        Some("/admin/organizations/home-nursing-9?done=two_factor")
    );
    let o = app
        .get("/api/v1/organizations/home-nursing-9", &token)
        .await;
    assert_eq!(o.body["require_two_factor"], true);

    // Deactivation asks for the confirmation first.
    let unconfirmed = post_form(
        &b,
        edit_url,
        "/admin/organizations/home-nursing-9/status",
        &[("active", "no")],
    )
    .await;
    unconfirmed.assert_status(422);
    assert!(
        unconfirmed
            .text
            .contains("利用停止の確認欄にチェックしてください。")
    );
    let o = app
        .get("/api/v1/organizations/home-nursing-9", &token)
        .await;
    assert_eq!(o.body["active"], true, "nothing changed unconfirmed");
    let done = post_form(
        &b,
        edit_url,
        "/admin/organizations/home-nursing-9/status",
        &[("active", "no"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/admin/organizations/home-nursing-9?done=deactivated")
    );
    let o = app
        .get("/api/v1/organizations/home-nursing-9", &token)
        .await;
    assert_eq!(o.body["active"], false);
    let list = b.get("/admin/organizations").await;
    list.assert_status(200);
    assert!(list.text.contains("第九訪問看護ステーション柏"));
    assert!(list.text.contains("利用停止"));

    // The same pages in English.
    b.set_cookie("renkei_lang", "en").await;
    let en = b.get(edit_url).await;
    en.assert_status(200);
    for words in [
        "Facility details",
        "Two-factor login",
        "Reactivate",
        "Telephone (liaison office)",
    ] {
        assert!(en.text.contains(words), "{words}");
    }

    let allowed = audit_actions(&app, &token, "allowed").await;
    for a in [
        "organization.create",
        "organization.update",
        "organization.require_two_factor",
        "organization.deactivate",
    ] {
        assert!(has_action(&allowed, a), "{a}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_administrator_adds_edits_disables_and_resets_users_in_the_web_ui() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    admin_user(&app, "clinic-5", "clinic", "clinic5-admin", &["org_admin"]).await;
    let b = signed_in(&app, "clinic5-admin").await;

    // The new-user form: every error at once, the typed values kept; no regional role
    // offered to an organisation administrator.
    let form = b.get("/admin/users/new").await;
    form.assert_status(200);
    assert!(!form.text.contains("value=\"regional_admin\""));
    let bad = post_form(
        &b,
        "/admin/users/new",
        "/admin/users",
        &[
            ("organization", "clinic-5"),
            ("login", "Not A Login"),
            ("name", "看護 次郎"),
            ("profession", ""),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(2件)"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("value=\"Not A Login\""));
    assert!(bad.text.contains("value=\"看護 次郎\""));

    let created = post_form(
        &b,
        "/admin/users/new",
        "/admin/users",
        &[
            ("organization", "clinic-5"),
            ("login", "kango-jiro"),
            ("name", "看護 次郎"),
            ("profession", "nurse"),
        ],
    )
    .await;
    created.assert_status(200);
    let start = created.text.find("id=\"temp-password\">").expect("shown") + 19;
    let temporary = &created.text[start..start + created.text[start..].find('<').expect("end")];
    assert_eq!(temporary.len(), 23, "{temporary}");
    let first = Browser::new(&app).try_login("kango-jiro", temporary).await;
    assert_eq!(
        first.location(),
        Some("/password"),
        "forced change at first login"
    );

    // Edit the profession and make them an organisation administrator.
    let url = "/admin/users/kango-jiro";
    let saved = post_form(
        &b,
        url,
        url,
        &[
            ("name", "看護 次郎"),
            ("profession", "liaison_staff"),
            ("roles", "org_admin"),
        ],
    )
    .await;
    assert_eq!(saved.location(), Some("/admin/users/kango-jiro?done=saved"));
    let users = app.get("/api/v1/users", &region).await;
    let u = users.body["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["login"] == "kango-jiro").cloned())
        .expect("listed");
    assert_eq!(u["profession"], "liaison_staff");
    assert_eq!(u["roles"], serde_json::json!(["org_admin"]));

    // Disabling asks for the confirmation; then the user's open session ends.
    crate::web_client::web_user(&app, "clinic-5", "clinic", "clinic5-nurse").await;
    let victim = signed_in(&app, "clinic5-nurse").await;
    let vurl = "/admin/users/clinic5-nurse";
    let unconfirmed = post_form(&b, vurl, "/admin/users/clinic5-nurse/disable", &[]).await;
    unconfirmed.assert_status(422);
    assert_eq!(victim.get("/worklist").await.status, 200, "nothing changed");
    let done = post_form(
        &b,
        vurl,
        "/admin/users/clinic5-nurse/disable",
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(
        done.location(),
        Some("/admin/users/clinic5-nurse?done=disabled")
    );
    assert_eq!(victim.get("/worklist").await.status, 303, "session ended");

    // Reset the password: shown once.
    let reset = post_form(
        &b,
        url,
        "/admin/users/kango-jiro/reset-password",
        &[("confirm", "yes")],
    )
    .await;
    reset.assert_status(200);
    assert!(reset.text.contains("id=\"temp-password\""));

    // The 90-day list and the links of the user list.
    let list = b.get("/admin/users").await;
    list.assert_status(200);
    assert!(list.text.contains("href=\"/admin/users/kango-jiro\""));
    assert!(list.text.contains("href=\"/admin/users?inactive=90\""));
    app.services.clock.advance(chrono::Duration::days(91));
    let b2 = signed_in(&app, "clinic5-admin").await;
    let idle = b2.get("/admin/users?inactive=90").await;
    idle.assert_status(200);
    assert!(
        idle.text.contains("kango-jiro"),
        "never logged in since creation"
    );
    assert!(!idle.text.contains(">clinic5-admin<"), "just logged in");

    let allowed = audit_actions(&app, &region, "allowed").await;
    for a in [
        "user.create",
        "user.update",
        "user.disable",
        "user.reset_password",
    ] {
        assert!(has_action(&allowed, a), "{a}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patients_demographics_are_corrected_on_the_web_with_a_reason_and_the_history_shown() {
    let app = app_or_skip!();
    let token = app.token().await;
    crate::web_client::web_user(&app, "acute-1", "acute_hospital", "acute-clerk").await;
    let p = crate::support::create_patient(
        &app,
        &token,
        ("サイトウ", "イチロウ"),
        "1951-05-06",
        "A-300",
    )
    .await;
    let id = p["id"].as_str().expect("id").to_owned();
    let b = signed_in(&app, "acute-clerk").await;
    let patient = b.get(&format!("/patients/{id}")).await;
    patient.assert_status(200);
    assert!(
        patient
            .text
            .contains(&format!("/patients/{id}/demographics"))
    );

    let url = format!("/patients/{id}/demographics");
    let form = b.get(&url).await;
    form.assert_status(200);
    assert!(form.text.contains("value=\"1951-05-06\""), "prefilled");
    let bad = post_form(
        &b,
        &url,
        &url,
        &[
            ("family", "齋藤"),
            ("given", "一郎"),
            ("family_kana", "サイトウ"),
            ("given_kana", "イチロウ"),
            ("birth_date", "1951-02-30"),
            ("sex", "male"),
            ("reason", ""),
        ],
    )
    .await;
    bad.assert_status(422);
    assert!(
        bad.text.contains("入力内容を確認してください(2件)"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("value=\"齋藤\""), "typed name kept");
    assert!(bad.text.contains("value=\"1951-02-30\""), "typed date kept");
    let ok = post_form(
        &b,
        &url,
        &url,
        &[
            ("family", "齋藤"),
            ("given", "一郎"),
            ("family_kana", "サイトウ"),
            ("given_kana", "イチロウ"),
            ("birth_date", "1951-05-06"),
            ("sex", "male"),
            ("reason", "旧字体に訂正"),
        ],
    )
    .await;
    assert_eq!(ok.location(), Some(format!("{url}?done=saved").as_str()));
    let after = b.get(&url).await;
    after.assert_status(200);
    assert!(after.text.contains("旧字体に訂正"));
    assert!(
        after.text.contains("山田 太郎"),
        "the values before are shown"
    );
    assert!(after.text.contains("value=\"齋藤\""));
}
