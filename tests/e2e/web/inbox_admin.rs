//! Issue 13 points 5, 9 and 10 over HTTP with the login-form client: reports back (返書)
//! arriving visibly on the planner's worklist (unread count, 到着 list naming the patient,
//! the covering note on the report page, read once opened); the audit list naming the
//! patient and the action in words, without codes or ids; the regional administrator's
//! landing page; the English switch translating the fixed words of the worklist; the full
//! name typed without a space; the 同姓同名 badge explained and linked; the site icon.

use renkei_service::admin;
use renkei_service::audit::RequestMeta;
use renkei_service::auth::tokens::DEMO_TOKENS;
use renkei_service::demo::DEMO_PASSWORD;
use renkei_testkit::{TestApp, rows};
use reqwest::StatusCode;

use crate::support::app_or_skip;
use crate::web_client::{Browser, Page};

async fn load_demo(app: &TestApp) {
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
}

/// A demo user, logged in without the first-login password change.
async fn demo_user(app: &TestApp, login: &str) -> Browser {
    rows::edit_practitioner(
        &app.services.db,
        login,
        rows::PractitionerEdit {
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("clear must_change_password");
    let b = Browser::new(app);
    b.login(login, DEMO_PASSWORD).await;
    b
}

#[track_caller]
fn ok(p: &Page) {
    assert_eq!(p.status, StatusCode::OK, "body: {}", p.text);
}

fn main_of(p: &Page) -> &str {
    let start = p.text.find("<main").unwrap_or(0);
    let end = p.text.find("</main>").unwrap_or(p.text.len());
    &p.text[start..end]
}

/// The text a reader sees of `html` (tags dropped).
fn visible_text(html: &str) -> String {
    html.split('<')
        .map(|part| part.split_once('>').map(|(_, t)| t).unwrap_or(part))
        .collect()
}

/// The `<tr>` rows of the page's first table body that contain `needle`.
fn rows_with<'a>(p: &'a Page, needle: &str) -> Vec<&'a str> {
    main_of(p)
        .split("<tr")
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap_or(""))
        .filter(|r| r.contains(needle))
        .collect()
}

/// The id of the report the recovery hospital owes for the demo's femur plan.
async fn owed_report(app: &TestApp) -> String {
    let recovery = admin::authenticate_token(&app.services, DEMO_TOKENS[1])
        .await
        .expect("demo recovery actor");
    let w = app
        .services
        .worklist(&recovery, &RequestMeta::default(), None, 100, 90)
        .await
        .expect("worklist");
    w.reports_owed
        .items
        .first()
        .expect("the demo owes a report")
        .subject
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_report_arrives_unread_with_the_patient_and_its_note_and_is_read_once_opened() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let rid = owed_report(&app).await;
    let planner = demo_user(&app, "sato").await;
    let before = planner.get("/worklist").await;
    ok(&before);
    assert!(
        !before.text.contains("id=\"reports-unread\""),
        "nothing arrived yet"
    );
    assert!(!before.text.contains("id=\"unread-reports\""));

    // The recovery hospital sends it with a covering note, through the report form.
    let sender = demo_user(&app, "tanaka").await;
    let form = sender.get(&format!("/reports/{rid}")).await;
    ok(&form);
    let note = "杖歩行で自宅退院しました。外来でのフォローをお願いします。";
    let sent = sender
        .post(
            &format!("/reports/{rid}"),
            &[("csrf", &form.csrf()), ("note", note)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);

    // The planner's worklist: an unread count in the nav and on the page, and the
    // arrived report in the 「返書の到着」 tab and under 「すべて」, naming the patient.
    let home = planner.get("/worklist").await;
    ok(&home);
    assert!(home.text.contains("(返書1件未読)"), "nav count");
    assert!(home.text.contains("id=\"reports-unread\""), "page count");
    assert!(main_of(&home).contains("未読の返書"));
    let all = rows_with(&home, &format!("/reports/{rid}"));
    assert_eq!(all.len(), 1, "the unread report under すべて");
    let arrived = planner.get("/worklist?tab=arrived").await;
    ok(&arrived);
    let row = rows_with(&arrived, &format!("/reports/{rid}"));
    assert_eq!(row.len(), 1, "{}", main_of(&arrived));
    assert!(row[0].contains("未読"), "{}", row[0]);
    assert!(
        row[0].contains("鈴木 ヨシ") && row[0].contains("スズキ ヨシ"),
        "{}",
        row[0]
    );
    assert!(row[0].contains("返書が到着"), "{}", row[0]);
    assert!(
        row[0].contains("ちば回復期リハビリテーション病院"),
        "{}",
        row[0]
    );

    // The report page shows the covering note.
    let report = planner.get(&format!("/reports/{rid}")).await;
    ok(&report);
    assert!(report.text.contains("id=\"report-note\""));
    assert!(report.text.contains(note), "note on the report page");
    assert!(report.text.contains("鈴木 ヨシ"), "patient banner");

    // Opened: no longer unread, still listed as 既読.
    let after = planner.get("/worklist?tab=arrived").await;
    ok(&after);
    assert!(
        !after.text.contains("id=\"unread-reports\""),
        "nav count gone"
    );
    assert!(!after.text.contains("id=\"reports-unread\""));
    let row = rows_with(&after, &format!("/reports/{rid}"));
    assert_eq!(row.len(), 1);
    assert!(
        row[0].contains("既読") && !row[0].contains("未読"),
        "{}",
        row[0]
    );
    let all = planner.get("/worklist").await;
    assert!(
        rows_with(&all, &format!("/reports/{rid}")).is_empty(),
        "read ones leave すべて"
    );

    // The sender is not the receiver: nothing arrived there.
    let theirs = sender.get("/worklist?tab=arrived").await;
    ok(&theirs);
    assert!(rows_with(&theirs, &format!("/reports/{rid}")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_list_names_patient_user_and_action_in_words_one_row_per_view() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let acute = admin::authenticate_token(&app.services, DEMO_TOKENS[0])
        .await
        .expect("demo acute actor");
    let meta = RequestMeta::default();
    let found = renkei_service::patients::search_patients(
        &app.services,
        &acute,
        &meta,
        renkei_service::patients::PatientQuery {
            kana: Some("ヤマダ".into()),
            ..Default::default()
        },
    )
    .await
    .expect("search");
    let patient = found.first().expect("山田").id;
    let plan = app
        .services
        .plans_of_patient(&acute, &meta, patient)
        .await
        .expect("plans")[0]
        .id;
    let kanri = demo_user(&app, "kanri").await;
    let nurse = demo_user(&app, "sato").await;
    let search = format!("/admin/audit?patient={patient}&user=sato");
    let before = kanri.get(&search).await;
    ok(&before);
    let n = rows_with(&before, "data-seq").len();
    nurse.get(&format!("/care-plans/{plan}")).await;
    let after = kanri.get(&search).await;
    ok(&after);
    let rows = rows_with(&after, "data-seq");
    assert_eq!(rows.len(), n + 1, "one row for one page view");
    let row = rows[0];
    assert!(row.contains("閲覧"), "{row}");
    assert!(
        row.contains("山田 太郎(ヤマダ タロウ)"),
        "patient in words: {row}"
    );
    assert!(row.contains("連携パス"), "{row}");
    assert!(row.contains("(sato)"), "{row}");
    // The words a user reads: no action code, no ids.
    let shown: String = row
        .split('>')
        .skip(1)
        .map(|s| s.split('<').next().unwrap_or(""))
        .collect();
    assert!(!shown.contains("care_plan.read"), "{shown}");
    assert!(!shown.contains(&plan.to_string()), "{shown}");
    assert!(!shown.contains(&patient.to_string()), "{shown}");
    assert!(!main_of(&after).contains(">care_plan.read<"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_regional_administrator_lands_on_the_administration_home() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let kanri = demo_user(&app, "kanri").await;
    let home = kanri.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER, "{}", home.text);
    assert_eq!(home.headers["location"], "/admin");
    let admin = kanri.get("/admin").await;
    ok(&admin);
    assert!(admin.text.contains("id=\"admin-home\""));
    for link in ["/admin/audit", "/admin/users", "/admin/break-glass"] {
        assert!(admin.text.contains(&format!("href=\"{link}\"")), "{link}");
    }
    // Clinicians still land on their worklist.
    let nurse = demo_user(&app, "sato").await;
    let home = nurse.get("/").await;
    assert_eq!(home.headers["location"], "/worklist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_english_switch_translates_the_fixed_words_and_keeps_clinical_content_japanese() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let nurse = demo_user(&app, "sato").await;
    let ja = nurse.get("/worklist").await;
    ok(&ja);
    assert!(main_of(&ja).contains("該当する作業はありません。") || main_of(&ja).contains(">状態<"));
    nurse.set_cookie("renkei_lang", "en").await;
    let en = nurse.get("/worklist").await;
    ok(&en);
    let main = main_of(&en);
    for word in [
        "Worklist",
        "Incoming requests",
        "Reports to send",
        "Visits and deadlines",
        "Filter",
        "All pathways",
        "Status",
        "Patient",
        "Pathway and stage",
        "Change password",
    ] {
        assert!(main.contains(word), "{word} not in the English worklist");
    }
    let tabs_start = main.find("class=\"tabs\"").expect("tabs");
    let tabs_end = tabs_start + main[tabs_start..].find("</nav>").expect("end of tabs");
    let tabs = &main[tabs_start..tabs_end];
    for word in ["受入依頼", "予定・期限", "返書の送付", "すべて"] {
        assert!(!tabs.contains(word), "tab {word} left in Japanese");
    }
    for word in [
        "絞り込む",
        "すべての連携パス",
        ">状態<",
        "パスワードを変更する",
    ] {
        assert!(!main.contains(word), "{word} left in Japanese");
    }
    // Clinical content stays Japanese: the patients and pathway titles.
    assert!(
        ["ヤマダ", "スズキ", "タカギ", "ワタナベ", "サトウ"]
            .iter()
            .any(|k| main.contains(k)),
        "patient names stay"
    );
    assert!(
        ["脳卒中", "大腿骨", "糖尿病"]
            .iter()
            .any(|t| main.contains(t)),
        "pathway titles stay"
    );
    let kanri = demo_user(&app, "kanri").await;
    kanri.set_cookie("renkei_lang", "en").await;
    let admin = kanri.get("/admin").await;
    ok(&admin);
    assert!(main_of(&admin).contains("Audit log"));
    assert!(!main_of(&admin).contains("監査ログの検索"));
    let audit = kanri.get("/admin/audit").await;
    ok(&audit);
    assert!(audit.text.contains(">Time<") && audit.text.contains(">Action<"));
    for word in [">Audit log<", ">Patient ID<", ">From<", ">To<", ">Search<"] {
        assert!(
            audit.text.contains(word),
            "{word} on the English audit page"
        );
    }
    assert!(!main_of(&audit).contains(">開始日<"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_name_typed_without_a_space_finds_the_patient() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let nurse = demo_user(&app, "sato").await;
    for q in [
        "山田太郎",
        "山田　太郎",
        "山田 太郎",
        "やまだたろう",
        "ﾔﾏﾀﾞﾀﾛｳ",
    ] {
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let page = nurse.get(&format!("/patients?q={enc}")).await;
        ok(&page);
        assert!(main_of(&page).contains("山田 太郎"), "{q} finds 山田 太郎");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_name_badge_explains_itself_and_links_to_the_other_patients() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let acute = admin::authenticate_token(&app.services, DEMO_TOKENS[0])
        .await
        .expect("demo acute actor");
    let meta = RequestMeta::default();
    let other = renkei_service::patients::create_patient(
        &app.services,
        &acute,
        &meta,
        renkei_service::patients::NewPatient {
            family: "山田".into(),
            given: "太朗".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            birth_date: "1960-01-01".into(),
            sex: "male".into(),
            identifiers: vec![("acute-1".into(), "0099999".into())],
        },
    )
    .await
    .expect("second ヤマダ タロウ");
    let nurse = demo_user(&app, "sato").await;
    let page = nurse.get(&format!("/patients/{}", other.id)).await;
    ok(&page);
    assert!(page.text.contains("同姓同名あり"));
    // The banner speaks in words: no regional UUID, no organisation code.
    let start = page.text.find("class=\"banner\"").expect("banner");
    let end = page.text.find("</main>").expect("main");
    let shown = visible_text(&page.text[start..end]);
    assert!(!shown.contains(&other.id.to_string()), "{shown}");
    assert!(!shown.contains("acute-1"), "{shown}");
    assert!(page.text.contains("id=\"same-name-hint\""), "explained");
    assert!(
        page.text.contains("生年月日・患者IDで本人を確認"),
        "explained"
    );
    let href = "href=\"/patients?q=%E3%83%A4%E3%83%9E%E3%83%80%E3%82%BF%E3%83%AD%E3%82%A6\"";
    assert!(page.text.contains(href), "links to the same-name list");
    let list = nurse
        .get("/patients?q=%E3%83%A4%E3%83%9E%E3%83%80%E3%82%BF%E3%83%AD%E3%82%A6")
        .await;
    ok(&list);
    assert!(main_of(&list).contains("山田 太郎") && main_of(&list).contains("山田 太朗"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_icon_is_served() {
    let app = app_or_skip!();
    let b = Browser::new(&app);
    for path in ["/favicon.ico", "/favicon.svg"] {
        let res = b.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.headers["content-type"], "image/svg+xml", "{path}");
        assert!(res.text.starts_with("<svg"), "{path}");
    }
    let login = b.get("/login").await;
    assert!(login.text.contains("rel=\"icon\""));
}
