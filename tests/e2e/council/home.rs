//! Issue 16, point 4: each organisation's data completeness on its own home page (the
//! worklist), next to the region's median organisation — over HTTP, with the figures
//! computed here from the stays the test records; and point 8 on that panel (plans
//! without a statistics consent left out, no median over fewer than three
//! organisations).

use renkei_testkit::TestApp;
use renkei_testkit::builders::{days_ago, entry, patient};
use serde_json::json;

use crate::support::{app_or_skip, append};
use crate::web_client::{Browser, PASSWORD, web_user};

/// Enrols a patient of `org` on stroke with the consent given (`purposes`) and records
/// an acute stay starting `start_ago` days ago and lasting `len` days (both entries
/// recorded now); returns the plan id.
pub async fn stay_at(
    app: &TestApp,
    token: &str,
    org: &str,
    purposes: &[&str],
    start_ago: i64,
    len: i64,
) -> String {
    let ident = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("サトウ", "ハナコ", "1950-05-01", org, &ident[..12]),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p.body["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(start_ago + 1)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    app.post_json(
        &format!("/api/v1/care-plans/{plan}/consents"),
        token,
        &json!({"scope": "care_team", "purposes": purposes, "method": "paper",
                "signer": "self", "obtained_at": days_ago(start_ago + 1)}),
        None,
    )
    .await
    .assert_status(201);
    append(
        app,
        token,
        &plan,
        entry(
            "acute",
            "stage_start",
            &days_ago(start_ago),
            json!({"nihss_total": 6}),
        ),
    )
    .await;
    append(
        app,
        token,
        &plan,
        entry(
            "acute",
            "stage_end",
            &days_ago(start_ago - (len - 1)),
            json!({"mrs": 3}),
        ),
    )
    .await;
    plan
}

/// The median by sorting and taking the middle (the mean of the two middle values when
/// even), written here apart from the server's statistics.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// What one organisation's stays must give: (late-entry rate %, median days from event
/// to record), from the stays as (start days ago, length). Each stay has two entries,
/// its start and its end, recorded now: `start` and `start - len + 1` days late; an
/// entry is late above 7 days; a stay's days are the median of its two entries', the
/// organisation's the median of its stays'.
fn expected(stays: &[(i64, i64)]) -> (f64, f64) {
    let delays: Vec<[i64; 2]> = stays.iter().map(|(s, l)| [*s, s - l + 1]).collect();
    let entries = delays.len() as f64 * 2.0;
    let late = delays.iter().flatten().filter(|d| **d > 7).count() as f64;
    let per_stay: Vec<f64> = delays
        .iter()
        .map(|[a, b]| (*a as f64 + *b as f64) / 2.0)
        .collect();
    (100.0 * late / entries, median(per_stay))
}

/// The panel's (own, median) text of the figure `key`.
fn figure(html: &str, key: &str) -> (String, String) {
    let start = html
        .find(&format!("id=\"completeness-{key}\""))
        .unwrap_or_else(|| panic!("no completeness row {key} in the home page"));
    let row = &html[start..start + html[start..].find("</tr>").expect("row end")];
    let cell = |class: &str| {
        let at = row
            .find(&format!("class=\"num {class}\">"))
            .unwrap_or_else(|| panic!("no {class} cell in {row}"));
        let rest = &row[at..];
        let open = rest.find('>').expect("cell open") + 1;
        let close = rest.find("</td>").expect("cell close");
        rest[open..close].trim().to_owned()
    };
    (cell("own"), cell("median"))
}

/// A nurse of `org` logged in to the web pages.
async fn nurse(app: &TestApp, org: &str, kind: &str) -> Browser {
    let login = format!("{org}-home");
    web_user(app, org, kind, &login).await;
    let web = Browser::new(app);
    web.login(&login, PASSWORD).await;
    web
}

fn pct(v: f64) -> String {
    format!("{v:.1}%")
}

fn days(v: f64) -> String {
    format!("{v:.1}日")
}

#[tokio::test]
async fn each_organisation_sees_its_completeness_next_to_the_region_median_on_its_home_page() {
    let app = app_or_skip!();
    // Three acute hospitals, five stays each, recorded now for events weeks or days ago.
    let stays: [(&str, [(i64, i64); 5]); 3] = [
        ("acute-1", [(40, 10), (41, 12), (42, 9), (43, 20), (44, 30)]),
        ("acute-2", [(6, 3), (5, 2), (6, 6), (4, 1), (7, 2)]),
        ("acute-3", [(20, 14), (21, 10), (22, 16), (19, 12), (30, 5)]),
    ];
    let mut tokens = Vec::new();
    for (org, _) in &stays {
        tokens.push(
            app.user_token(org, "acute_hospital", &format!("{org}-liaison"))
                .await,
        );
    }
    let web2 = nurse(&app, "acute-2", "acute_hospital").await;

    // Two organisations only: the median would give the other one's figure back.
    for (i, (org, s)) in stays.iter().enumerate().take(2) {
        for (start, len) in s {
            stay_at(&app, &tokens[i], org, &["care", "statistics"], *start, *len).await;
        }
    }
    let page = web2.get("/worklist").await;
    page.assert_status(200);
    let (own, med) = figure(&page.text, "late_rate");
    assert_eq!(own, pct(expected(&stays[1].1).0));
    assert_eq!(med, "—", "no median over two organisations");
    assert!(page.text.contains("地域の中央値は表示しません"));

    // A third organisation; and at acute-1 a stay without a statistics consent, which
    // would lower its late rate and days were it counted.
    for (start, len) in &stays[2].1 {
        stay_at(
            &app,
            &tokens[2],
            "acute-3",
            &["care", "statistics"],
            *start,
            *len,
        )
        .await;
    }
    stay_at(&app, &tokens[0], "acute-1", &["care"], 1, 1).await;

    let figures: Vec<(f64, f64)> = stays.iter().map(|(_, s)| expected(s)).collect();
    let late_median = median(figures.iter().map(|f| f.0).collect());
    let days_median = median(figures.iter().map(|f| f.1).collect());
    for (i, (org, _)) in stays.iter().enumerate() {
        let other;
        let web = if i == 1 {
            &web2
        } else {
            other = nurse(&app, org, "acute_hospital").await;
            &other
        };
        let page = web.get("/worklist").await;
        page.assert_status(200);
        let html = &page.text;
        assert!(html.contains("記録の完全性"), "{org}: the panel");
        assert_eq!(
            figure(html, "late_rate"),
            (pct(figures[i].0), pct(late_median)),
            "{org}: late entries"
        );
        assert_eq!(
            figure(html, "median_record_days"),
            (days(figures[i].1), days(days_median)),
            "{org}: days from event to record"
        );
        // Every stay ended with the required mRS recorded.
        assert_eq!(
            figure(html, "complete_rate"),
            (pct(100.0), pct(100.0)),
            "{org}"
        );
        assert_eq!(figure(html, "missing"), ("0".into(), "0.0".into()));
        // The link to the full report, filtered to the organisation, opens it.
        let link = format!("/council/reports/completeness?organization={org}");
        assert!(html.contains(&link), "{org}: {link}");
        web.get(&link).await.assert_status(200);
    }

    // An organisation without stays sees the region median beside nothing of its own.
    let clinic = nurse(&app, "clinic-1", "clinic").await;
    let page = clinic.get("/worklist").await;
    page.assert_status(200);
    assert_eq!(
        figure(&page.text, "late_rate"),
        ("—".into(), pct(late_median))
    );
    assert!(
        page.text
            .contains("自施設の集計対象となる病期・記録はまだありません")
    );

    // The panel is part of the home page: one view, one audit event.
    let before = renkei_testkit::rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .len();
    clinic.get("/worklist").await.assert_status(200);
    let new: Vec<_> = renkei_testkit::rows::audit_events(&app.services.db)
        .await
        .expect("audit events")
        .split_off(before)
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(new, ["worklist.read"]);
}
