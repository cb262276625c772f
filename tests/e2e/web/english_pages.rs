//! Issue 13 point 10 over HTTP: with the English switch on, the fixed words of the
//! patient search, the patient page, registration, enrolment, the entry form, the
//! hand-over pages, the print page's screen bar and the patient banner are English,
//! marked `lang="en"`, while the clinical content (names, pathway titles, stages, item
//! labels, the printed document) stays Japanese; with the switch off the same pages
//! are Japanese.

use renkei_testkit::TestApp;
use renkei_testkit::builders::days_ago;
use serde_json::json;

use crate::support::{app_or_skip, create_patient};
use crate::web_client::{Browser, PASSWORD, Page, web_user};

async fn nurse(app: &TestApp) -> Browser {
    let login = format!(
        "en-nurse-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    web_user(app, "acute-1", "acute_hospital", &login).await;
    let b = Browser::new(app);
    b.login(&login, PASSWORD).await;
    b
}

fn main_of(p: &Page) -> &str {
    let start = p.text.find("<main").expect("a main element");
    let end = p.text.find("</main>").unwrap_or(p.text.len());
    &p.text[start..end]
}

/// The page at `path`, asserted 200, with every `english` word present, every
/// `japanese` fixed word absent and every `clinical` word still present.
#[track_caller]
fn check(page: &Page, path: &str, english: &[&str], japanese: &[&str], clinical: &[&str]) {
    page.assert_status(200);
    let main = main_of(page);
    for w in english {
        assert!(page.text.contains(w), "{path}: {w:?} missing in English");
    }
    for w in japanese {
        assert!(!main.contains(w), "{path}: {w:?} left in Japanese");
    }
    for w in clinical {
        assert!(page.text.contains(w), "{path}: clinical {w:?} not kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_switch_translates_the_patient_entry_and_hand_over_pages_and_keeps_clinical_content_japanese()
 {
    let app = app_or_skip!();
    let token = app.token().await;
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let enrolled = create_patient(
        &app,
        &token,
        ("エイゴ", "タロウ"),
        "1948-04-01",
        &ident[..12],
    )
    .await;
    let fresh = create_patient(
        &app,
        &token,
        ("エイゴ", "ハナコ"),
        "1950-06-02",
        &ident[12..24],
    )
    .await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": enrolled["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(3)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    let patient = enrolled["id"].as_str().expect("patient id").to_owned();
    let fresh = fresh["id"].as_str().expect("patient id").to_owned();

    let b = nurse(&app).await;
    // Japanese first: the same pages speak Japanese without the switch.
    let ja = b.get("/patients?q=エイゴ").await;
    ja.assert_status(200);
    assert!(main_of(&ja).contains("検索結果") && main_of(&ja).contains(">氏名<"));
    assert!(!ja.text.contains("Search results"));

    b.set_cookie("renkei_lang", "en").await;

    let path = "/patients?q=エイゴ";
    check(
        &b.get(path).await,
        path,
        &[
            "<h1 lang=\"en\">Patients</h1>",
            ">Search results<",
            ">Name<",
            ">Date of birth<",
            ">Pathways in progress<",
            ">Register a new patient<",
        ],
        &["検索結果", ">氏名<", ">生年月日<", "新規患者を登録する"],
        &["エイゴ", "脳卒中"],
    );

    let path = format!("/patients/{patient}");
    check(
        &b.get(&path).await,
        &path,
        &[
            ">Care plans<",
            ">Planning hospital<",
            ">Current stage<",
            "<td><span lang=\"en\">In progress</span></td>",
            ">Date of birth<",
            "<span lang=\"en\">- care plans</span>",
        ],
        &[
            "計画管理病院",
            "現在の病期",
            "さんの連携パス",
            ">生年月日<",
            ">進行中<",
        ],
        &["エイゴ", "脳卒中", "急性期"],
    );

    let path = "/patients/new";
    check(
        &b.get(path).await,
        path,
        &[
            "<span lang=\"en\">Register a new patient</span>",
            ">Family name (kanji)<",
            ">Given name (kana)<",
            ">Male<",
            ">Register<",
            ">Back to patient search<",
        ],
        &["氏(漢字)", "名(カナ)", ">男性<", "登録する", "患者検索へ"],
        &[],
    );

    let path = format!("/patients/{fresh}/enrol?pathway=stroke");
    check(
        &b.get(&path).await,
        &path,
        &[
            ">Start a pathway<",
            ">Pathway start (admission date)<",
            ">Patient's consent (to sharing information)<",
            ">Explained and consented (record now)<",
            ">Consent date<",
            ">Review<",
            "<option value=\"\" lang=\"en\">not decided</option>",
        ],
        &["連携パスの適用", "パス開始日", "同意取得日", "確認画面へ"],
        &["エイゴ", "脳卒中", "回復期"],
    );

    let path = format!("/care-plans/{plan}/entries/new?kind=assessment");
    check(
        &b.get(&path).await,
        &path,
        &[
            ">Performed at (assessment date)<",
            ">Only the items you fill in are recorded.<",
            ">Review<",
            ">Cancel<",
            ">Back to the care plan (the input is not saved)<",
        ],
        &[
            "実施日時(評価日)",
            "入力した項目だけが記録されます。",
            "確認画面へ",
            "キャンセル",
        ],
        &["エイゴ", "脳卒中", "mRS"],
    );

    let path = format!("/care-plans/{plan}/handovers/new");
    check(
        &b.get(&path).await,
        &path,
        &[
            ">Request a transfer or referral<",
            ">Checks before sending<",
            ">Receiver<",
            ">Send the request<",
        ],
        &["転院・紹介の依頼", "送付前の確認", "依頼を送る"],
        &["エイゴ", "回復期"],
    );

    // The print page: the screen bar around it is English, the document stays Japanese.
    for (path, other) in [
        (format!("/care-plans/{plan}/print"), "Staff copy"),
        (
            format!("/care-plans/{plan}/print?version=staff"),
            "Patient copy",
        ),
    ] {
        let page = b.get(&path).await;
        page.assert_status(200);
        for w in [
            "<span lang=\"en\">Skip to content</span>",
            "<span lang=\"en\">Back to the care plan</span>",
            other,
            "Print with the browser (Ctrl+P), A4 portrait.",
        ] {
            assert!(page.text.contains(w), "{path}: {w:?} missing in English");
        }
        for w in ["ブラウザの印刷機能", "本文へ移動", "連携パスに戻る"] {
            assert!(!page.text.contains(w), "{path}: {w:?} left in Japanese");
        }
        for w in ["<h1>地域連携診療計画書", "エイゴ", "脳卒中"] {
            assert!(page.text.contains(w), "{path}: document {w:?} not kept");
        }
    }

    let path = "/handovers";
    check(
        &b.get(path).await,
        path,
        &[
            ">Hand-overs<",
            ">Reports back (results of care)<",
            ">Sent: referrals<",
        ],
        &["連携受信箱・送信箱", "返書(診療結果の報告)", "送信: 紹介中"],
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_switch_translates_the_care_plan_page_and_keeps_clinical_content_japanese() {
    let app = app_or_skip!();
    let token = app.token().await;
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let patient = create_patient(
        &app,
        &token,
        ("エイゴ", "ジロウ"),
        "1947-03-05",
        &ident[..12],
    )
    .await;
    let res = app
        .post_json(
            "/api/v1/care-plans",
            &token,
            &json!({"patient_id": patient["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(3)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    let path = format!("/care-plans/{plan}");

    let b = nurse(&app).await;
    // Japanese without the switch, plain text (no lang mark).
    let ja = b.get(&path).await;
    ja.assert_status(200);
    for w in [
        "<h2 id=\"h-overview\">経過の全体像(オーバービュー)</h2>",
        "<h2 id=\"h-goals\">共有目標(達成目標)</h2>",
        "<h2 id=\"h-team\">ケアチームと同意</h2>",
        ">計画書を印刷(患者さん用)<",
    ] {
        assert!(ja.text.contains(w), "{path}: Japanese {w:?} missing");
    }
    assert!(!ja.text.contains("Overview"));

    b.set_cookie("renkei_lang", "en").await;
    check(
        &b.get(&path).await,
        &path,
        &[
            "<h2 id=\"h-overview\"><span lang=\"en\">Overview</span></h2>",
            "<h2 id=\"h-goals\"><span lang=\"en\">Shared goals</span></h2>",
            "<h2 id=\"h-team\"><span lang=\"en\">Care team and consent</span></h2>",
            "<span lang=\"en\">Print the plan (patient copy)</span>",
            "<span lang=\"en\">Print the plan (staff copy)</span>",
            "<span lang=\"en\">Start (planned/actual)</span>",
            "<span lang=\"en\">Transfer and discharge criteria</span>",
            "<span lang=\"en\">Latest value</span>",
            "<span lang=\"en\">Show this day</span>",
            ">All professions</option>",
            "<span lang=\"en\">Not started yet</span>",
            "<span lang=\"en\">Not started</span>",
            ">All stages</option>",
        ],
        &[
            "経過の全体像",
            "共有目標(達成目標)",
            "ケアチームと同意",
            "計画書を印刷",
            "開始(予定/実績)",
            "転院基準・退院基準",
            "この日の状況を表示",
        ],
        &["エイゴ", "ジロウ", "脳卒中", "急性期"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_switch_translates_the_login_and_password_pages() {
    let app = app_or_skip!();
    let b = Browser::new(&app);
    let ja = b.get("/login").await;
    ja.assert_status(200);
    for w in [
        "<h1>ログイン</h1>",
        "<label for=\"login\">ログインID</label>",
        "<label for=\"password\">パスワード</label>",
        "<button type=\"submit\">ログイン</button>",
    ] {
        assert!(ja.text.contains(w), "/login: Japanese {w:?} missing");
    }
    assert!(!ja.text.contains("Log in"));

    b.set_cookie("renkei_lang", "en").await;
    check(
        &b.get("/login").await,
        "/login",
        &[
            "<h1><span lang=\"en\">Log in</span></h1>",
            "<label for=\"login\"><span lang=\"en\">Login ID</span></label>",
            "<label for=\"password\"><span lang=\"en\">Password</span></label>",
            "<button type=\"submit\"><span lang=\"en\">Log in</span></button>",
            "<span lang=\"en\">After 5 wrong passwords in a row",
        ],
        &["ログインID", "パスワード", ">ログイン<", "5回続けて"],
        &[],
    );

    let login = format!("en-pw-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    web_user(&app, "acute-1", "acute_hospital", &login).await;
    b.login(&login, PASSWORD).await;
    check(
        &b.get("/password").await,
        "/password",
        &[
            "<h1><span lang=\"en\">Change password</span></h1>",
            "<span lang=\"en\">Current password</span>",
            "<span lang=\"en\">New password (again)</span>",
            "<span lang=\"en\"> characters or more</span>",
            "<button type=\"submit\"><span lang=\"en\">Change</span></button>",
        ],
        &[
            "現在のパスワード",
            "新しいパスワード",
            "文字以上",
            "変更する",
        ],
        &[],
    );
    check(
        &b.get("/account/totp").await,
        "/account/totp",
        &[
            "<h1><span lang=\"en\">Set up two-factor login</span></h1>",
            "<span lang=\"en\">Code (6 digits)</span>",
            "<button type=\"submit\"><span lang=\"en\">Set up</span></button>",
        ],
        &["二要素認証の登録", "確認コード(6桁)", ">登録<"],
        &[],
    );
}
