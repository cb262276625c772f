//! The entry and registration forms over HTTP (the form posts a browser without
//! JavaScript sends): every error of a form comes at once — a value of the wrong type
//! does not hide a value out of range or a time in the future — beside its field and in
//! the summary; a sheet tab sends the form back with every value kept; registration
//! names every field at once and asks to confirm an unusual birth date; a new form starts
//! with the carried-over values of the previous stage, marked 前回値 until changed.

use renkei_testkit::TestApp;
use renkei_testkit::builders::{days_ago, entry};
use serde_json::json;

use crate::support::{app_or_skip, append, stroke_plan};
use crate::web_client::{Browser, PASSWORD, Page, web_user};

async fn nurse(app: &TestApp) -> Browser {
    let login = format!(
        "e-nurse-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    web_user(app, "acute-1", "acute_hospital", &login).await;
    let b = Browser::new(app);
    b.login(&login, PASSWORD).await;
    b
}

/// The messages of the page's error summary.
fn summary(page: &Page) -> Vec<String> {
    let Some(start) = page.text.find("id=\"error-summary\"") else {
        return Vec::new();
    };
    let end = page.text[start..]
        .find("</ul>")
        .map(|e| e + start)
        .unwrap_or(page.text.len());
    page.text[start..end]
        .split("<li>")
        .skip(1)
        .map(|li| {
            let inner = li.split("\">").nth(1).unwrap_or(li);
            inner.split("</a>").next().unwrap_or("").to_owned()
        })
        .collect()
}

fn form_of<'a>(page: &Page, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut out = vec![("csrf".to_owned(), page.csrf())];
    for name in ["kind", "stage", "sheet", "idem"] {
        let marker = format!("name=\"{name}\" value=\"");
        let v = page
            .text
            .split(&marker)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default();
        out.push((name.to_owned(), v.to_owned()));
    }
    out.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    out
}

async fn post(b: &Browser, path: &str, form: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(path, &pairs).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_entry_form_reports_every_error_at_once_beside_each_field() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    let b = nurse(&app).await;
    let new = b
        .get(&format!("/care-plans/{plan}/entries/new?kind=assessment"))
        .await;
    new.assert_status(200);
    // A wrong type (mRS "abc"), a value out of range (NIHSS 50), a time in the future and
    // a partly filled FIM: all reported by one post.
    let form = form_of(
        &new,
        &[
            ("effective_at", "2099-01-01T10:00"),
            ("v.mrs", "abc"),
            ("v.nihss_total", "50"),
            ("v.fim_eating", "5"),
        ],
    );
    let page = post(&b, &format!("/care-plans/{plan}/entries/review"), &form).await;
    page.assert_status(422);
    let s = summary(&page);
    let all = s.join("\n");
    for want in ["整数", "0〜42", "未来", "未評価の項目が12件"] {
        assert!(all.contains(want), "{want:?} in the summary:\n{all}");
    }
    assert!(!all.contains("入力の形式が正しくありません"), "{all}");
    for id in [
        "f-v-mrs-err",
        "f-v-nihss_total-err",
        "f-effective_at-err",
        "f-v-fim_grooming-err",
    ] {
        assert!(
            page.text.contains(&format!("id=\"{id}\"")),
            "{id} beside its field"
        );
    }
    assert!(
        page.text.contains(
            "aria-describedby=\"f-v-nihss_total-hint f-v-nihss_total-err\" aria-invalid=\"true\""
        ),
        "the field is marked and described by its message"
    );
    assert!(
        page.text.contains("href=\"#f-v-nihss_total\""),
        "the summary links the field"
    );
    // Every sheet is shown while errors are listed, and the values come back.
    assert!(!page.text.contains("data-sheet=\"fim\" hidden"));
    assert!(page.text.contains("name=\"v.nihss_total\" value=\"50\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sheet_tab_without_javascript_keeps_every_value() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    let b = nurse(&app).await;
    let new = b
        .get(&format!("/care-plans/{plan}/entries/new?kind=assessment"))
        .await;
    assert!(
        new.text.contains("data-sheet=\"fim\" hidden"),
        "one sheet shown"
    );
    let form = form_of(
        &new,
        &[
            ("effective_at", "2026-01-01T10:00"),
            ("v.nihss_total", "7"),
            ("v.fim_eating", "4"),
            ("show_sheet", "fim"),
        ],
    );
    let page = post(&b, &format!("/care-plans/{plan}/entries/new"), &form).await;
    page.assert_status(200);
    assert!(
        page.text.contains("data-sheet=\"general\" hidden"),
        "the FIM sheet is shown"
    );
    assert!(!page.text.contains("data-sheet=\"fim\" hidden"));
    assert!(
        page.text.contains("name=\"v.nihss_total\" value=\"7\""),
        "kept"
    );
    assert!(
        page.text
            .contains("name=\"v.fim_eating\" value=\"4\" checked"),
        "kept"
    );
    assert!(page.text.contains("value=\"2026-01-01T10:00\""));
    assert!(page.text.contains("name=\"sheet\" value=\"fim\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_names_every_field_at_once_and_confirms_an_unusual_birth_date() {
    let app = app_or_skip!();
    let b = nurse(&app).await;
    let form = b.get("/patients/new").await;
    let csrf = form.csrf();
    let page = b.post("/patients/new", &[("csrf", csrf.as_str())]).await;
    page.assert_status(422);
    let s = summary(&page);
    assert!(s.len() >= 7, "every field at once: {s:?}");
    assert!(
        !s.iter().any(|m| m.contains("入力の形式が正しくありません")),
        "{s:?}"
    );
    assert!(s.iter().any(|m| m.contains("生年月日は西暦")), "{s:?}");
    assert!(s.iter().any(|m| m.contains("患者ID")), "{s:?}");
    assert!(
        !page.text.contains("name=\"confirm\""),
        "nothing unusual yet"
    );

    let ident = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let fields = [
        ("csrf", csrf.as_str()),
        ("family", "古賀"),
        ("given", "春"),
        ("family_kana", "コガ"),
        ("given_kana", "ハル"),
        ("birth_date", "1900-01-01"),
        ("sex", "female"),
        ("identifier", ident.as_str()),
    ];
    let page = b.post("/patients/new", &fields).await;
    page.assert_status(422);
    assert!(
        summary(&page).iter().any(|m| m.contains("120")),
        "{}",
        page.text
    );
    assert!(page.text.contains("この内容で登録する"));
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "yes"));
    let page = b.post("/patients/new", &confirmed).await;
    assert_eq!(page.status.as_u16(), 303, "{}", page.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_stage_form_starts_with_the_carried_over_values_marked_as_prefilled() {
    let app = app_or_skip!();
    let token = app.token().await;
    let plan = stroke_plan(&app, &token, 5).await;
    append(
        &app,
        &token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(4),
            json!({"stroke_subtype": "cardioembolic", "paralysis_side": "right", "nihss_total": 8}),
        ),
    )
    .await;
    let b = nurse(&app).await;
    // In the same stage nothing is carried: the value was recorded in this stage.
    let same = b
        .get(&format!("/care-plans/{plan}/entries/new?kind=assessment"))
        .await;
    same.assert_status(200);
    assert!(
        !same.text.contains("class=\"prefill-mark\""),
        "nothing carried within a stage"
    );
    append(
        &app,
        &token,
        &plan,
        entry("acute", "stage_end", &days_ago(1), json!({"mrs": 3})),
    )
    .await;
    // The recovery admission form starts with the acute stage's carried values.
    let next = b
        .get(&format!(
            "/care-plans/{plan}/entries/new?kind=stage_start&stage=recovery"
        ))
        .await;
    next.assert_status(200);
    assert!(
        next.text
            .contains("<option value=\"cardioembolic\" selected>"),
        "the subtype is prefilled"
    );
    assert!(
        next.text.contains("class=\"prefill-mark\">前回値"),
        "marked 前回値"
    );
    assert!(
        next.text.contains("前の病期の値を入力済み・未確定"),
        "screen-reader text"
    );
    assert!(next.text.contains("id=\"prefill-note\""));
    assert!(
        !next.text.contains("<option value=\"3\" selected>")
            && !next.text.contains("name=\"v.mrs\" value=\"3\""),
        "mRS is not carried over"
    );
    let marks = next.text.matches("class=\"prefill-mark\">前回値").count();
    assert_eq!(marks, 2, "stroke subtype and paralysis side");
    // Changed, the value is the user's own and loses its mark.
    let form = form_of(
        &next,
        &[
            ("effective_at", "2026-01-01T10:00"),
            ("v.stroke_subtype", "lacunar"),
            ("v.paralysis_side", "right"),
        ],
    );
    let again = post(&b, &format!("/care-plans/{plan}/entries/new"), &form).await;
    again.assert_status(200);
    assert_eq!(
        again.text.matches("class=\"prefill-mark\">前回値").count(),
        1,
        "only the unchanged paralysis side stays marked"
    );
}
