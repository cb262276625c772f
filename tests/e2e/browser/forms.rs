//! The entry and registration forms in a real browser: the sheets of one entry form
//! keep what was typed when the tab changes, with JavaScript (the tabs only show and
//! hide sheets of the one form) and without (the tabs send the form back and it comes
//! again with every value); leaving a form with unsaved input warns; every error comes
//! at once, beside its field and in the summary linked to it, and a partly filled FIM
//! names and marks its missing rows; registration reports every missing field at once.
//! axe-core and the page checks run on every changed page.

use super::*;

/// Clicks `sel` after scrolling it to the middle of the window (clear of the sticky
/// patient banner).
async fn press(c: &Client, sel: &str) {
    let e = css(c, sel).await;
    c.execute(
        "arguments[0].scrollIntoView({block: 'center'})",
        vec![serde_json::to_value(&e).expect("element")],
    )
    .await
    .expect("scroll");
    e.click().await.expect("click");
}

/// [`press`] on something that loads another page, and waits for it.
async fn press_and_wait(c: &Client, sel: &str) {
    let old = css(c, "html").await;
    press(c, sel).await;
    wait_gone(c, old).await;
}

/// Logs in through the login form as a test nurse (no first-login password change).
async fn sign_in(c: &Client, base: &str, login: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    fill(c, "#login", login).await;
    fill(c, "#password", crate::web_client::PASSWORD).await;
    submit(c, "form.stack button[type=submit]").await;
    assert!(!path(c).await.starts_with("/login"), "logged in as {login}");
}

async fn visible(c: &Client, sel: &str) -> bool {
    c.execute(
        "const e = document.querySelector(arguments[0]); return !!e && !e.closest('[hidden]') && e.offsetParent !== null;",
        vec![json!(sel)],
    )
    .await
    .expect("visibility")
        == json!(true)
}

/// Whether leaving the page now would ask first (the page's `beforeunload` handler
/// cancels the event).
async fn leaving_warns(c: &Client) -> bool {
    c.execute(
        "const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented;",
        vec![],
    )
    .await
    .expect("beforeunload")
        == json!(true)
}

async fn value(c: &Client, sel: &str) -> String {
    css(c, sel)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

async fn checked(c: &Client, sel: &str) -> bool {
    css(c, sel).await.prop("checked").await.expect("checked") == Some("true".to_owned())
}

/// Every link of the error summary leads to a field of the page that says it is invalid
/// and is described by its message.
async fn summary_links_reach_invalid_fields(c: &Client) -> Vec<String> {
    let bad = c
        .execute(
            "return Array.from(document.querySelectorAll('#error-summary a')).map(a => a.getAttribute('href')).filter(h => {\
               const t = document.getElementById(h.slice(1)); if (!t) return true;\
               if (h === '#entry-form') return false;\
               const holder = t.closest('fieldset, .field');\
               const invalid = t.getAttribute('aria-invalid') === 'true' || (holder && holder.querySelector('[aria-invalid=true]'));\
               const described = (t.getAttribute('aria-describedby') || '') + ' ' + (holder && holder.getAttribute('aria-describedby') || '');\
               return !invalid || !/err/.test(described); });",
            vec![],
        )
        .await
        .expect("summary links");
    bad.as_array()
        .into_iter()
        .flatten()
        .map(|v| v.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_sheets_keep_typed_values_and_every_error_comes_at_once() {
    let Some((app, chromedriver, chromium)) = browser_and_app().await else {
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    let profiles = tempfile::tempdir().expect("profiles");
    tokio::time::timeout(
        Duration::from_secs(300),
        forms(&app, &driver, &chromium, profiles.path()),
    )
    .await
    .expect("the form checks finish within 5 minutes");
}

async fn forms(app: &TestApp, driver: &Driver, chromium: &Path, profiles: &Path) {
    let base = app.base_url.clone();
    let mut found = Findings::default();

    // An acute-hospital nurse and a stroke plan of the hospital, made for this test.
    let nurse = format!("e-forms-{}", &Uuid::new_v4().simple().to_string()[..8]);
    crate::web_client::web_user(app, "acute-1", "acute_hospital", &nurse).await;
    let token = app.token().await;
    let sasaki: Uuid = crate::support::stroke_plan(app, &token, 5)
        .await
        .parse()
        .expect("plan id");

    // ------------------------------------------------ with JavaScript
    let c = browser(driver, chromium, &profiles.join("js"), true).await;
    sign_in(&c, &base, &nurse).await;
    let n0 = entry_count(app, sasaki).await;
    c.goto(&format!(
        "{base}/care-plans/{sasaki}/entries/new?kind=assessment"
    ))
    .await
    .expect("entry form");
    let form_path = path(&c).await;
    audit_page(&c, "entry form (all sheets)", &mut found).await;
    assert!(
        !leaving_warns(&c).await,
        "nothing typed yet: leaving does not ask"
    );
    fill(&c, "#f-v-nihss_total", "5").await;
    assert!(leaving_warns(&c).await, "typed and not saved: leaving asks");
    // The FIM tab shows the FIM sheet of the same form: no page load, nothing lost.
    press(&c, "button.sheet-tab[data-sheet=fim]").await;
    assert!(visible(&c, "#sheet-fim").await, "the FIM sheet is shown");
    assert!(
        !visible(&c, "#sheet-general").await,
        "the first sheet is hidden"
    );
    assert_eq!(path(&c).await, form_path, "no page load");
    assert_eq!(
        css(&c, "button.sheet-tab[data-sheet=fim]")
            .await
            .attr("aria-current")
            .await
            .expect("attr"),
        Some("true".to_owned())
    );
    press(&c, "label[for='f-v-fim_eating-2']").await;
    audit_page(&c, "entry form, FIM sheet", &mut found).await;
    press(&c, "button.sheet-tab[data-sheet=general]").await;
    assert!(visible(&c, "#f-v-nihss_total").await);
    assert_eq!(
        value(&c, "#f-v-nihss_total").await,
        "5",
        "the value typed before switching sheets is still there"
    );
    press(&c, "button.sheet-tab[data-sheet=fim]").await;
    assert!(checked(&c, "#f-v-fim_eating-2").await, "the FIM score too");

    // Every error at once: two out-of-range values, a future time and a partly filled
    // FIM, each beside its field and in the summary.
    press(&c, "button.sheet-tab[data-sheet=general]").await;
    fill(&c, "#f-v-nihss_total", "50").await;
    fill(&c, "#f-v-mrs", "9").await;
    c.execute(
        "document.getElementById('f-effective_at').value = '2099-01-01T10:00';",
        vec![],
    )
    .await
    .expect("future time");
    press_and_wait(&c, "#to-review").await;
    let summary = text(&c, "#error-summary").await;
    for want in [
        "NIHSS",
        "0〜42",
        "mRS",
        "0〜6",
        "未来",
        "未評価の項目が12件",
    ] {
        assert!(summary.contains(want), "{want:?} in the summary: {summary}");
    }
    assert!(
        !summary.contains("入力の形式が正しくありません"),
        "{summary}"
    );
    assert!(
        text(&c, "#f-v-nihss_total-err").await.contains("0〜42"),
        "beside the field"
    );
    assert!(text(&c, "#f-v-mrs-err").await.contains("0〜6"));
    assert!(text(&c, "#f-effective_at-err").await.contains("未来"));
    let missing = c
        .find_all(Locator::Css("#sheet-fim fieldset.scale-row.invalid"))
        .await
        .expect("rows");
    assert_eq!(missing.len(), 12, "the 12 unscored motor rows are marked");
    assert!(
        text(&c, "#f-v-fim_grooming-err").await.contains("整容"),
        "the row's message names it"
    );
    assert!(
        !css(&c, "#f-v-fim_eating")
            .await
            .attr("class")
            .await
            .expect("class")
            .unwrap_or_default()
            .contains("invalid"),
        "the scored row is not marked"
    );
    let unreachable = summary_links_reach_invalid_fields(&c).await;
    assert!(
        unreachable.is_empty(),
        "summary links without an invalid, described field: {unreachable:?}"
    );
    assert_eq!(value(&c, "#f-v-nihss_total").await, "50", "values kept");
    assert!(checked(&c, "#f-v-fim_eating-2").await);
    screenshot(&c, "entry-form-errors").await;
    audit_page(&c, "entry form with every error", &mut found).await;
    // A summary link to a field on a hidden sheet opens that sheet.
    press(&c, "button.sheet-tab[data-sheet=general]").await;
    press(&c, "#error-summary a[href='#f-v-fim_grooming-0']").await;
    assert!(
        visible(&c, "#f-v-fim_grooming").await,
        "the FIM sheet opened"
    );
    assert_eq!(entry_count(app, sasaki).await, n0, "nothing written");

    // A fresh form opened on its FIM sheet (the screenshot of the form after the change).
    c.goto(&format!(
        "{base}/care-plans/{sasaki}/entries/new?kind=assessment&sheet=fim"
    ))
    .await
    .expect("FIM form");
    screenshot(&c, "entry-form-fim").await;

    // Prefill: the recovery admission form starts with the acute stage's carried-over
    // values, marked 前回値; a changed value loses its mark.
    let second = crate::support::stroke_plan(app, &token, 5).await;
    crate::support::append(
        app,
        &token,
        &second,
        renkei_testkit::builders::entry(
            "acute",
            "stage_start",
            &renkei_testkit::builders::days_ago(4),
            json!({"stroke_subtype": "cardioembolic", "paralysis_side": "right"}),
        ),
    )
    .await;
    crate::support::append(
        app,
        &token,
        &second,
        renkei_testkit::builders::entry(
            "acute",
            "stage_end",
            &renkei_testkit::builders::days_ago(1),
            json!({"mrs": 3}),
        ),
    )
    .await;
    c.goto(&format!(
        "{base}/care-plans/{second}/entries/new?kind=stage_start&stage=recovery"
    ))
    .await
    .expect("recovery admission form");
    let marks = c
        .find_all(Locator::Css(".prefilled .prefill-mark"))
        .await
        .expect("marks");
    assert_eq!(marks.len(), 2, "two carried-over values are marked");
    assert_eq!(value(&c, "#f-v-stroke_subtype").await, "cardioembolic");
    screenshot(&c, "entry-form-prefilled").await;
    audit_page(&c, "entry form with prefilled values", &mut found).await;
    css(&c, "#f-v-stroke_subtype")
        .await
        .select_by_value("lacunar")
        .await
        .expect("another subtype");
    let marks = c
        .find_all(Locator::Css(".prefilled .prefill-mark"))
        .await
        .expect("marks");
    assert_eq!(marks.len(), 1, "the changed value is the user's own");
    assert!(
        leaving_warns(&c).await,
        "changed and not saved: leaving asks"
    );

    // Registration: an empty form names every missing field at once.
    c.goto(&format!("{base}/patients/new"))
        .await
        .expect("registration");
    submit(&c, "form.stack-form button[type=submit]").await;
    let summary = text(&c, "#error-summary").await;
    let items = c
        .find_all(Locator::Css("#error-summary li"))
        .await
        .expect("summary items");
    assert!(items.len() >= 7, "every field at once: {summary}");
    for id in [
        "f-family",
        "f-given",
        "f-family_kana",
        "f-given_kana",
        "f-birth_date",
        "f-identifier",
    ] {
        assert_eq!(
            css(&c, &format!("#{id}"))
                .await
                .attr("aria-invalid")
                .await
                .expect("attr"),
            Some("true".to_owned()),
            "{id} is marked"
        );
    }
    assert!(text(&c, "#e-sex").await.contains("性別"), "{summary}");
    audit_page(&c, "registration with every error", &mut found).await;
    c.close().await.expect("close");

    // ------------------------------------------------ without JavaScript
    let n = browser(driver, chromium, &profiles.join("nojs"), false).await;
    sign_in(&n, &base, &nurse).await;
    n.goto(&format!(
        "{base}/care-plans/{sasaki}/entries/new?kind=assessment"
    ))
    .await
    .expect("entry form");
    fill(&n, "#f-v-nihss_total", "7").await;
    press_and_wait(&n, "button.sheet-tab[data-sheet=fim]").await;
    assert!(visible(&n, "#sheet-fim").await, "the FIM sheet comes up");
    assert!(!visible(&n, "#sheet-general").await);
    assert_eq!(
        value(&n, "#f-v-nihss_total").await,
        "7",
        "the value typed on the other sheet came back with the form"
    );
    press(&n, "label[for='f-v-fim_eating-3']").await;
    press_and_wait(&n, "button.sheet-tab[data-sheet=general]").await;
    assert!(visible(&n, "#f-v-nihss_total").await);
    assert_eq!(value(&n, "#f-v-nihss_total").await, "7");
    assert!(
        checked(&n, "#f-v-fim_eating-3").await,
        "the FIM score came back"
    );
    assert_eq!(
        entry_count(app, sasaki).await,
        n0,
        "switching writes nothing"
    );

    n.close().await.expect("close");

    assert!(
        found.problems.is_empty(),
        "page checks:\n{}",
        found.problems.join("\n")
    );
    assert!(
        found.axe.is_empty(),
        "axe-core violations:\n{}",
        found.axe.join("\n")
    );
}
