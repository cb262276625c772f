//! The directory, template and administration screens (ui.md S7, S8, S10), end to end
//! over HTTP with a cookie-keeping client logged in through the login form: the
//! facility directory and its URL filters, a template's stages and items, the v1 → v2
//! diff, admin-only pages (403 and no nav link for others), the audit search finding a
//! plan view just made and a failed login (§6 checks 27, 31, 32), its CSV export, and a
//! patient's access history. Expectations come from the service (demo data, the
//! template registry), not from the pages.

use std::path::Path;

use renkei_service::admin::{self, NewPractitioner};
use renkei_service::demo::DEMO_PASSWORD;
use renkei_testkit::{TestApp, TestDb, pathways_dir, rows};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;

use crate::support::app_or_skip;
use crate::web_client::{Browser, Page};

// ---------------------------------------------------------------- a small browser

/// What these tests read from a page besides the shared client's accessors.
trait PageView {
    fn ok(&self) -> &Self;
    fn main(&self) -> &str;
    fn nav(&self) -> &str;
    fn rows(&self, id: &str) -> Vec<String>;
}

impl PageView for Page {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text);
        self
    }

    /// The `<main>` of the page (without header and navigation).
    fn main(&self) -> &str {
        let start = self.text.find("<main").unwrap_or(0);
        let end = self.text.find("</main>").unwrap_or(self.text.len());
        &self.text[start..end]
    }

    /// The `<nav class="mainnav">` of the page.
    fn nav(&self) -> &str {
        let start = self
            .text
            .find("class=\"mainnav\"")
            .expect("main navigation");
        let end = self.text[start..].find("</nav>").expect("end of nav") + start;
        &self.text[start..end]
    }

    /// Every `<tr>…</tr>` of the table with `id`.
    fn rows(&self, id: &str) -> Vec<String> {
        let marker = format!("id=\"{id}\"");
        let Some(start) = self.text.find(&marker) else {
            return Vec::new();
        };
        let end = self.text[start..]
            .find("</table>")
            .map(|e| e + start)
            .unwrap_or(self.text.len());
        self.text[start..end]
            .split("<tr")
            .skip(1)
            .filter(|r| !r.contains("<th scope=\"col\""))
            .map(|r| r.split("</tr>").next().unwrap_or("").to_owned())
            .collect()
    }
}

/// Lets `login` log in without the first-login password change.
async fn skip_password_change(app: &TestApp, login: &str) {
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
}

/// A demo user, logged in.
async fn demo_user(app: &TestApp, login: &str) -> Browser {
    skip_password_change(app, login).await;
    let b = Browser::new(app);
    b.login(login, DEMO_PASSWORD).await;
    b
}

const PASSWORD: &str = "Ui-pages-test-2026";

/// A new practitioner of `org` with a password, logged in.
async fn web_user(app: &TestApp, org: &str, kind: &str, login: &str, roles: &[&str]) -> Browser {
    app.ensure_org(org, kind).await;
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org.into(),
            login: login.into(),
            name: format!("試験 {login}"),
            profession: "nurse".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .expect("add practitioner");
    skip_password_change(app, login).await;
    let b = Browser::new(app);
    b.login(login, PASSWORD).await;
    b
}

async fn load_demo(app: &TestApp) {
    renkei_service::demo::load(&app.services)
        .await
        .expect("demo region");
}

/// The id of the demo patient found by `kana` and their first plan.
async fn demo_patient_and_plan(app: &TestApp, kana: &str) -> (uuid::Uuid, uuid::Uuid) {
    let acute = admin::authenticate_token(
        &app.services,
        "rk_demo_acute1_0000000000000000000000000000000000",
    )
    .await
    .expect("demo acute actor");
    let meta = renkei_service::audit::RequestMeta::default();
    let found = renkei_service::patients::search_patients(
        &app.services,
        &acute,
        &meta,
        renkei_service::patients::PatientQuery {
            kana: Some(kana.into()),
            ..Default::default()
        },
    )
    .await
    .expect("search");
    let p = found.first().expect("demo patient");
    let plans = app
        .services
        .plans_of_patient(&acute, &meta, p.id)
        .await
        .expect("plans");
    (p.id, plans.first().expect("a plan").id)
}

// ---------------------------------------------------------------- S7

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_lists_the_facilities_and_filters_by_pathway_in_the_url() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let b = demo_user(&app, "sato").await;
    let orgs: Vec<_> = admin::list_organizations(&app.services.db)
        .await
        .expect("organizations")
        .into_iter()
        .filter(|o| o.id != renkei_service::variances::SYSTEM_ORGANIZATION_ID)
        .collect();
    assert!(orgs.len() >= 5, "demo organisations: {orgs:?}");

    // A social worker of the recovery hospital is its liaison contact.
    admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: "recovery-1".into(),
            login: "msw-ui".into(),
            name: "連携 窓口子".into(),
            profession: "msw".into(),
            roles: Vec::new(),
            password: None,
        },
    )
    .await
    .expect("add msw");

    let all = b.get("/directory").await;
    all.ok();
    let recovery = &orgs
        .iter()
        .find(|o| o.code == "recovery-1")
        .expect("recovery")
        .name;
    assert!(row_with(&all.rows("directory"), recovery).contains("連携 窓口子"));
    let clinic_name = &orgs
        .iter()
        .find(|o| o.code == "clinic-1")
        .expect("clinic")
        .name;
    let clinic_row = row_with(&all.rows("directory"), clinic_name).to_owned();
    assert!(
        !clinic_row.contains("連携 窓口子"),
        "only at its own facility"
    );
    let detail = b.get("/directory/recovery-1").await;
    detail.ok();
    assert!(detail.main().contains("連携 窓口子"));
    assert!(all.nav().contains("href=\"/directory\""), "nav link");
    let rows = all.rows("directory");
    assert_eq!(rows.len(), orgs.len(), "one row per facility");
    for o in &orgs {
        assert!(
            rows.iter().any(|r| r.contains(&o.name)),
            "{} listed",
            o.name
        );
    }

    // Filter by pathway, through the URL: only the facilities that declared it.
    let takers = app
        .services
        .directory(Some("diabetes"), None, None)
        .await
        .expect("directory");
    let taker_codes: Vec<&str> = takers.iter().map(|d| d.code.as_str()).collect();
    assert!(!taker_codes.is_empty(), "demo declarations for diabetes");
    let filtered = b.get("/directory?pathway=diabetes").await;
    filtered.ok();
    let rows = filtered.rows("directory");
    for o in &orgs {
        let listed = rows.iter().any(|r| r.contains(&o.name));
        assert_eq!(
            listed,
            taker_codes.contains(&o.code.as_str()),
            "{} listed under diabetes",
            o.code
        );
    }
    assert!(
        filtered
            .text
            .contains("<option value=\"diabetes\" selected>"),
        "the filter stays selected"
    );
    // The stages it takes part in, in words, come from the template.
    let dm = app.services.pathways.latest("diabetes").expect("diabetes");
    for d in &takers {
        let name = &orgs.iter().find(|o| o.code == d.code).expect("org").name;
        let row = rows.iter().find(|r| r.contains(name)).expect("row");
        for s in &d.stages {
            let title = &dm.template.stage(s).expect("stage").title.ja;
            assert!(row.contains(title.as_str()), "{name}: stage {title}");
        }
    }

    // Stage filter narrows further.
    let stroke_recovery = app
        .services
        .directory(Some("stroke"), Some("recovery"), None)
        .await
        .expect("directory");
    let page = b.get("/directory?stage=stroke%3Arecovery").await;
    page.ok();
    assert_eq!(page.rows("directory").len(), stroke_recovery.len());

    // Detail: declarations of one facility.
    let clinic = &orgs[orgs
        .iter()
        .position(|o| o.code == "clinic-1")
        .expect("clinic")];
    let decls = app
        .services
        .declarations(&clinic.code)
        .await
        .expect("declarations");
    let detail = b.get(&format!("/directory/{}", clinic.code)).await;
    detail.ok();
    assert!(detail.main().contains(&clinic.name));
    for d in decls.iter().filter(|d| d.superseded_at.is_none()) {
        let title = &app
            .services
            .pathways
            .latest(&d.pathway)
            .expect("pathway")
            .template
            .title
            .ja;
        assert!(detail.main().contains(title.as_str()), "{title}");
        assert!(detail.main().contains(&d.note), "{}", d.note);
    }
    assert_eq!(
        b.get("/directory/no-such-org").await.status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------- S8

/// The repository's templates plus a stroke v4 made from the published v2: one item
/// added, goal g1 changed (acute ≤ 21 → ≤ 28 days) and goal g7 removed.
fn templates_with_stroke_v4(dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read dir") {
            let e = e.expect("dir entry");
            let target = to.join(e.file_name());
            if e.path().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).expect("copy template");
            }
        }
    }
    copy(&pathways_dir(), dir);
    let v2 = std::fs::read_to_string(dir.join("stroke/v2.toml")).expect("stroke v2");
    let old_goal = r#"target = { kind = "stage_length", stage = "acute", op = "<=", days = 21 }"#;
    assert_eq!(v2.matches(old_goal).count(), 1, "g1 target line");
    let g7 = v2.find("code = \"g7_hba1c\"").expect("goal g7");
    let start = v2[..g7].rfind("[[goals]]").expect("g7 block start");
    let end = v2[g7..].find("\n\n").expect("g7 block end") + g7;
    let without_g7 = format!("{}{}", &v2[..start], &v2[end..]);
    let v4 = without_g7
        .replace("\nversion = 2\n", "\nversion = 4\n")
        .replace(
            old_goal,
            r#"target = { kind = "stage_length", stage = "acute", op = "<=", days = 28 }"#,
        )
        + r#"
[[items]]
code = "dysphagia_screen"
title = { ja = "嚥下スクリーニング実施", en = "Dysphagia screening done" }
type = "boolean"
stages = ["acute", "recovery"]
"#;
    std::fs::write(dir.join("stroke/v4.toml"), v4).expect("write stroke v4");
}

async fn spawn_with_pathways(dir: &Path) -> Option<TestApp> {
    let db = TestDb::new().await?;
    let first = renkei_testkit::start(db.settings(), dir, true)
        .await
        .unwrap_or_else(|e| panic!("publish from {}: {e}", dir.display()));
    let _ = first.db.close().await;
    Some(TestApp::spawn_on(db).await)
}

/// The row of a table that names `what`.
#[track_caller]
fn row_with<'a>(rows: &'a [String], what: &str) -> &'a str {
    rows.iter()
        .find(|r| r.contains(what))
        .unwrap_or_else(|| panic!("no row with {what} in {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_detail_shows_stages_and_items_and_the_diff_names_each_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The repository publishes stroke v1 to v3; the fixture adds v4 (v2 changed) and
    // the pages compare v2 (a version with an active plan) with v4.
    templates_with_stroke_v4(dir.path());
    let Some(app) = spawn_with_pathways(dir.path()).await else {
        return;
    };
    let b = web_user(&app, "acute-1", "acute_hospital", "tmpl-viewer", &[]).await;
    let v1 = app.services.pathways.find("stroke", 2).expect("stroke v2");
    let v2 = app.services.pathways.find("stroke", 4).expect("stroke v4");
    let t1 = &v1.template;

    // The list: both versions, the newest marked, a link to the diff.
    let list = b.get("/pathways").await;
    list.ok();
    let row = list
        .rows("pathways")
        .into_iter()
        .find(|r| r.contains(&t1.title.ja))
        .expect("stroke row");
    assert!(row.contains("/pathways/stroke/2") && row.contains("/pathways/stroke/4"));
    assert!(
        row.replace("&#38;", "&")
            .contains("/pathways/stroke/diff?from=3&to=4"),
        "{row}"
    );

    // A plan enrolled on v2 counts as active on v2, not on v4.
    let token = app
        .user_token("acute-1", "acute_hospital", "tmpl-enroller")
        .await;
    let p =
        crate::support::create_patient(&app, &token, ("ヤマダ", "ハナコ"), "1950-02-03", "ui-v1")
            .await;
    app.post_json(
        "/api/v1/care-plans",
        &token,
        &json!({"patient_id": p["id"], "pathway": "stroke", "version": 2,
                "started_at": renkei_testkit::builders::days_ago(2)}),
        None,
    )
    .await
    .assert_status(201);
    let list = b.get("/pathways").await;
    let row = list
        .rows("pathways")
        .into_iter()
        .find(|r| r.contains(&t1.title.ja))
        .expect("stroke row");
    let li = |v: u32| {
        row.split("<li>")
            .find(|l| l.contains(&format!("/pathways/stroke/{v}\"")))
            .unwrap_or_else(|| panic!("v{v} in {row}"))
            .to_owned()
    };
    assert!(li(2).contains("進行中 1件"), "{}", li(2));
    assert!(li(4).contains("進行中 0件"), "{}", li(4));

    // v2 in full: stages in template order, with their periods and criteria.
    let page = b.get("/pathways/stroke/2").await;
    page.ok();
    let stages = page.rows("stages");
    assert_eq!(stages.len(), t1.stages.len());
    for (row, s) in stages.iter().zip(&t1.stages) {
        assert!(
            row.contains(&s.title.ja),
            "stage order: {} in {row}",
            s.title.ja
        );
        if let Some(d) = s.expected_days {
            assert!(row.contains(&format!("標準 {d}日")), "{row}");
        }
        if let Some(d) = s.max_days {
            assert!(row.contains(&format!("上限 {d}日")), "{row}");
        }
        if let Some(c) = &s.exit_criteria {
            assert!(row.contains(c.as_str()), "{row}");
        }
    }
    // Every item appears, under each of its stages.
    let main = page.main();
    for item in &t1.items {
        assert!(main.contains(&item.title.ja), "item {}", item.title.ja);
    }
    // v2 has no dysphagia item: the page shows v2, not the newest version.
    assert!(!main.contains("嚥下スクリーニング実施"));
    // Goals in words: g1's target as days.
    let goals = page.rows("goals");
    assert_eq!(goals.len(), t1.goals.len());
    let g1 = &t1.goals[0];
    assert!(row_with(&goals, &g1.title.ja).contains("21日以下"));

    // The diff, grouped by section.
    let diff = b.get("/pathways/stroke/diff?from=2&to=4").await;
    diff.ok();
    let (t2, code_in) = (&v2.template, |codes: &[&str], c: &str| codes.contains(&c));
    let v1_items: Vec<&str> = t1.items.iter().map(|i| i.code.as_str()).collect();
    let v2_goals: Vec<&str> = t2.goals.iter().map(|g| g.code.as_str()).collect();
    let added: Vec<String> = t2
        .items
        .iter()
        .filter(|i| !code_in(&v1_items, &i.code))
        .map(|i| i.code.clone())
        .collect();
    let removed: Vec<String> = t1
        .goals
        .iter()
        .filter(|g| !code_in(&v2_goals, &g.code))
        .map(|g| g.code.clone())
        .collect();
    let changed: Vec<String> = t1
        .goals
        .iter()
        .filter(|g| t2.goals.iter().any(|h| h.code == g.code && h != *g))
        .map(|g| g.code.clone())
        .collect();
    assert!(!added.is_empty() && !removed.is_empty() && !changed.is_empty());
    let d = (added, removed, changed);
    let sections: Vec<&str> = diff.main().split("<section").skip(1).collect();
    let section = |title: &str| -> String {
        sections
            .iter()
            .find(|s| s.contains(&format!(">{title}(")))
            .unwrap_or_else(|| panic!("section {title}"))
            .to_string()
    };
    let items = section("記録項目");
    for code in &d.0 {
        let title = &v2.template.item(code).expect("added item").title.ja;
        let row = items
            .split("<tr")
            .find(|r| r.contains(title.as_str()))
            .unwrap_or_else(|| panic!("added item {title}"));
        assert!(row.contains("追加") && row.contains('+'), "{row}");
    }
    let goals_section = section("目標");
    for code in &d.1 {
        let title = &t1
            .goals
            .iter()
            .find(|g| &g.code == code)
            .expect("goal")
            .title
            .ja;
        let row = goals_section
            .split("<tr")
            .find(|r| r.contains(title.as_str()))
            .unwrap_or_else(|| panic!("removed goal {title}"));
        assert!(row.contains("削除") && row.contains('−'), "{row}");
    }
    for code in &d.2 {
        let title = &v2
            .template
            .goals
            .iter()
            .find(|g| &g.code == code)
            .expect("goal")
            .title
            .ja;
        let row = goals_section
            .split("<tr")
            .find(|r| r.contains(title.as_str()))
            .unwrap_or_else(|| panic!("changed goal {title}"));
        assert!(row.contains("変更") && row.contains('~'), "{row}");
        assert!(
            row.contains("21日以下 → 急性期の日数が 28日以下"),
            "old → new: {row}"
        );
    }
    // Sections without changes say so, and list no rows.
    assert!(section("病期").contains("変更なし"));
    assert!(!section("病期").contains("<tbody>"));

    // Unknown versions are a 404 page.
    assert_eq!(
        b.get("/pathways/stroke/9").await.status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------- S10

const ADMIN_PAGES: &[&str] = &[
    "/admin",
    "/admin/users",
    "/admin/break-glass",
    "/admin/audit",
    "/admin/audit.csv",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_are_refused_to_others_and_hidden_from_their_nav() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let nurse = demo_user(&app, "sato").await;
    let home = nurse.get("/worklist").await;
    home.ok();
    assert!(
        !home.nav().contains("/admin"),
        "no admin link: {}",
        home.nav()
    );
    for path in ADMIN_PAGES {
        let page = nurse.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.text);
        assert!(page.text.contains("<html lang=\"ja\">"), "{path}");
        assert!(
            page.text.contains("許可されていません"),
            "{path}: {}",
            page.text
        );
    }
    // A review without the role changes nothing either.
    let csrf = home.csrf();
    let id = uuid::Uuid::now_v7().to_string();
    let res = nurse
        .post(
            &format!("/admin/break-glass/{id}/review"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The regional administrator sees the link and the pages.
    let kanri = demo_user(&app, "kanri").await;
    let home = kanri.get("/worklist").await;
    assert!(home.nav().contains("href=\"/admin\""), "{}", home.nav());
    for path in ADMIN_PAGES {
        let page = kanri.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text);
    }
    let audit = kanri.get("/admin/audit").await;
    assert!(audit.main().contains("name=\"patient\""));
    assert!(audit.main().contains("<label for=\"a-patient\">"));

    // The users list names every demo user with their facility.
    let users = kanri.get("/admin/users").await;
    let rows = users.rows("users");
    let people = admin::practitioner_names(&app.services.db)
        .await
        .expect("names");
    for login in ["sato", "tanaka", "suzuki", "takahashi", "kanri"] {
        let (_, _, name) = people.iter().find(|p| p.1 == login).expect("demo user");
        let row = row_with(&rows, &format!("<code>{login}</code>"));
        assert!(row.contains(name.as_str()), "{login}: {row}");
    }

    // An organisation administrator: the admin link and their own users, but the
    // regional audit log stays closed (the API's rule).
    let org_admin = web_user(
        &app,
        "acute-1",
        "acute_hospital",
        "acute-admin",
        &["org_admin"],
    )
    .await;
    let home = org_admin.get("/worklist").await;
    assert!(home.nav().contains("href=\"/admin\""));
    let users = org_admin.get("/admin/users").await;
    users.ok();
    let rows = users.rows("users");
    assert!(rows.iter().any(|r| r.contains("<code>sato</code>")));
    assert!(
        !rows.iter().any(|r| r.contains("<code>tanaka</code>")),
        "other facility's users"
    );
    assert_eq!(
        org_admin.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
}

/// `data-seq` values of the audit table, in order.
fn seqs(page: &Page) -> Vec<String> {
    page.rows("audit")
        .iter()
        .filter_map(|r| {
            let s = r.find("data-seq=\"")? + "data-seq=\"".len();
            let e = r[s..].find('"')? + s;
            Some(r[s..e].to_owned())
        })
        .collect()
}

/// Every audit event recorded so far, oldest first.
async fn audit_rows(app: &TestApp) -> Vec<rows::AuditRow> {
    rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_plan_page_view_is_one_audit_row() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let (patient, plan) = demo_patient_and_plan(&app, "ヤマダ").await;
    let nurse = demo_user(&app, "sato").await;
    // Warm the session first, so the count holds the page's own events only.
    nurse.get("/").await;
    let before = audit_rows(&app).await.len();
    let page = nurse.get(&format!("/care-plans/{plan}")).await;
    page.ok();
    let new: Vec<_> = audit_rows(&app).await.split_off(before);
    assert_eq!(
        new.iter()
            .map(|e| (e.action.as_str(), e.outcome.as_str()))
            .collect::<Vec<_>>(),
        vec![("care_plan.read", "allowed")],
        "one audit row for one plan page"
    );
    assert_eq!(new[0].care_plan_id, Some(plan));
    assert_eq!(new[0].patient_id, Some(patient));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worklist_page_view_is_one_audit_row_whatever_its_rows() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let nurse = demo_user(&app, "sato").await;
    nurse.get("/").await;
    let before = audit_rows(&app).await.len();
    let page = nurse.get("/worklist").await;
    page.ok();
    let rows = page.text.matches("<tr>").count() - 1;
    assert!(rows >= 3, "the demo worklist has several rows: {rows}");
    let new: Vec<_> = audit_rows(&app).await.split_off(before);
    assert_eq!(
        new.iter()
            .map(|e| (e.action.as_str(), e.outcome.as_str()))
            .collect::<Vec<_>>(),
        vec![("worklist.read", "allowed")],
        "one audit row for one worklist page of {rows} rows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_search_finds_a_plan_view_and_a_failed_login_and_exports_them() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let (patient, plan) = demo_patient_and_plan(&app, "ヤマダ").await;
    let kanri = demo_user(&app, "kanri").await;
    let nurse = demo_user(&app, "sato").await;
    let orgs = admin::list_organizations(&app.services.db)
        .await
        .expect("orgs");
    let acute_name = orgs
        .iter()
        .find(|o| o.code == "acute-1")
        .expect("acute")
        .name
        .clone();

    let search = format!("/admin/audit?patient={patient}&user=sato&action=view");
    let views_by_sato = |p: &Page| {
        p.rows("audit")
            .iter()
            .filter(|r| r.contains("care_plan.read"))
            .count()
    };
    let before = kanri.get(&search).await;
    before.ok();
    let n_before = views_by_sato(&before);

    // The nurse opens the plan page (S4).
    nurse.get(&format!("/care-plans/{plan}")).await.ok();

    let after = kanri.get(&search).await;
    after.ok();
    assert_eq!(
        views_by_sato(&after),
        n_before + 1,
        "one audit row for the view"
    );
    // Printing the plan sheet (S9) is its own audit row, found under 印刷.
    let prints = format!("/admin/audit?patient={patient}&user=sato&action=print");
    let printed = |p: &Page| {
        p.rows("audit")
            .iter()
            .filter(|r| r.contains("care_plan.print") && r.contains("印刷"))
            .count()
    };
    let n_prints = printed(&kanri.get(&prints).await);
    nurse
        .get(&format!("/care-plans/{plan}/print?version=staff"))
        .await
        .ok();
    assert_eq!(
        printed(&kanri.get(&prints).await),
        n_prints + 1,
        "one 印刷 row per printed sheet"
    );
    let row = after.rows("audit")[0].clone();
    assert!(row.contains("閲覧"), "action in words: {row}");
    assert!(row.contains("(sato)"), "user: {row}");
    assert!(row.contains(&acute_name), "facility: {row}");
    // The target in words: the plan and whose it is (not its id).
    assert!(
        row.contains("連携パス — 山田 太郎(ヤマダ タロウ)"),
        "target: {row}"
    );
    // 日時 to the second: 2026年4月1日(水) 14:05:09.
    let t = row.split("<time").nth(1).expect("time");
    let text = t
        .split('>')
        .nth(1)
        .expect("text")
        .split('<')
        .next()
        .expect("text");
    assert!(text.contains('年') && text.contains('日'), "{text}");
    assert_eq!(text.matches(':').count(), 2, "{text}");
    // Only views by sato for this patient.
    for r in after.rows("audit") {
        assert!(r.contains("閲覧") && r.contains("(sato)"), "{r}");
    }

    // A failed login is found by user and action.
    let stranger = Browser::new(&app);
    let form = stranger.get("/login").await;
    let csrf = form.csrf();
    stranger
        .post(
            "/login",
            &[
                ("login", "sato"),
                ("password", "wrong-password-1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    let failed = kanri
        .get("/admin/audit?user=sato&action=login_failed")
        .await;
    failed.ok();
    let rows = failed.rows("audit");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(rows[0].contains("ログイン失敗"), "{}", rows[0]);

    // The patient search as CSV: BOM, header, the page's rows (plus the audit read the
    // page itself caused, which names the patient too).
    let all = format!("/admin/audit?patient={patient}");
    let page = kanri.get(&all).await;
    page.ok();
    let page_seqs = seqs(&page);
    assert!(!page_seqs.is_empty());
    let csv = kanri
        .get(&format!("/admin/audit.csv?patient={patient}"))
        .await;
    csv.ok();
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv"),
    );
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let body = std::str::from_utf8(&csv.bytes[3..]).expect("UTF-8");
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("通番,日時,利用者,施設,操作"),
        "{}",
        lines[0]
    );
    let csv_seqs: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(csv_seqs.len(), page_seqs.len() + 1, "{body}");
    assert_eq!(&csv_seqs[1..], &page_seqs[..], "same rows, newest first");
    let view = lines
        .iter()
        .find(|l| l.contains("care_plan.read") && l.contains("(sato)"))
        .expect("the view in the CSV");
    assert!(
        view.contains(&acute_name) && view.contains(",閲覧,"),
        "{view}"
    );

    // Access history for the liaison room: the view again; not for the nurse.
    let history = kanri
        .get(&format!("/patients/{patient}/access-history"))
        .await;
    history.ok();
    assert!(
        history
            .rows("audit")
            .iter()
            .any(|r| r.contains("care_plan.read") && r.contains("(sato)")),
        "the view in the access history"
    );
    let denied = nurse
        .get(&format!("/patients/{patient}/access-history"))
        .await;
    assert_eq!(denied.status, StatusCode::NOT_FOUND, "{}", denied.text);
    let link = format!("href=\"/patients/{patient}/access-history\"");
    let own = nurse.get(&format!("/patients/{patient}")).await;
    own.ok();
    assert!(!own.main().contains(&link), "no history link for the nurse");
    // The planning hospital's organisation administrator (the liaison room) gets there
    // from the patient page and sees the view by name.
    let liaison = web_user(
        &app,
        "acute-1",
        "acute_hospital",
        "acute-liaison",
        &["org_admin"],
    )
    .await;
    let own = liaison.get(&format!("/patients/{patient}")).await;
    own.ok();
    assert!(own.main().contains(&link), "history link");
    let history = liaison
        .get(&format!("/patients/{patient}/access-history"))
        .await;
    history.ok();
    assert!(history.main().contains("ヤマダ"), "patient named");
    assert!(
        history
            .rows("audit")
            .iter()
            .any(|r| r.contains("care_plan.read") && r.contains("(sato)")),
        "the view in the liaison room's access history"
    );

    // Paging: with more rows than a page, the next page continues below the last seq.
    let everything = kanri.get("/admin/audit").await;
    everything.ok();
    let first = seqs(&everything);
    if let Some(start) = everything.text.find("rel=\"next\"") {
        let href_start = everything.text[..start].rfind("href=\"").expect("href") + 6;
        let href_end = everything.text[href_start..].find('"').expect("end") + href_start;
        let next = everything.text[href_start..href_end]
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        let second = kanri.get(&next).await;
        second.ok();
        let last: i64 = first.last().expect("rows").parse().expect("seq");
        for s in seqs(&second) {
            assert!(s.parse::<i64>().expect("seq") < last);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_grants_are_reviewed_with_a_form() {
    let app = app_or_skip!();
    load_demo(&app).await;
    let (_, plan) = demo_patient_and_plan(&app, "ヤマダ").await;
    // A home-care nurse outside the plan's team opens it in an emergency (JSON API).
    let res = app
        .post_json(
            "/api/v1/break-glass",
            "rk_demo_homecare1_000000000000000000000000000000",
            &json!({"care_plan": plan, "reason": "夜間救急搬送のため確認"}),
            None,
        )
        .await;
    res.assert_status(201);
    let kanri = demo_user(&app, "kanri").await;
    let page = kanri.get("/admin/break-glass").await;
    page.ok();
    let pending = page.rows("pending");
    let row = row_with(&pending, "夜間救急搬送のため確認");
    assert!(row.contains("(takahashi)"), "{row}");
    let action = row
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("review form")
        .to_owned();
    let done = kanri.post(&action, &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let page = kanri.get("/admin/break-glass?done=reviewed").await;
    page.ok();
    assert!(
        page.rows("pending")
            .iter()
            .all(|r| !r.contains("夜間救急搬送のため確認"))
    );
    assert!(row_with(&page.rows("reviewed"), "夜間救急搬送のため確認").contains('✓'));
    // Without the token the form is refused.
    let res = kanri.post(&action, &[("csrf", "forged")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}
