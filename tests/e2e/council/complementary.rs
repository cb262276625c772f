//! Issue 16, point 8: complementary suppression over HTTP. A small cell hidden from a
//! viewer outside its organisation must not come back as the region total less the
//! rows shown — in the JSON report and in its CSV, for the council (every row) and for
//! an organisation (its own row and the totals).

use serde_json::Value;

use super::home::stay_at;
use super::reports::{col, report, rows_labelled, section};
use crate::support::app_or_skip;

fn shown(cell: &Value) -> Option<u64> {
    (cell["suppressed"] != true)
        .then(|| cell["value"].as_u64())
        .flatten()
}

fn small(cell: &Value) -> bool {
    cell["suppressed"] == true && cell["withheld"] != true && cell["value"].is_null()
}

fn withheld(cell: &Value) -> bool {
    cell["suppressed"] == true && cell["withheld"] == true && cell["value"].is_null()
}

/// Whether a reader of `rows` (organisation rows, then the total) could solve the line
/// `total = Σ rows` for a small cell: only when it is the single value not shown.
fn recomputable(parts: &[&Value], total: &Value) -> bool {
    let hidden: Vec<&Value> = parts
        .iter()
        .copied()
        .chain(std::iter::once(total))
        .filter(|c| shown(c).is_none())
        .collect();
    hidden.len() == 1 && small(hidden[0])
}

#[tokio::test]
async fn a_suppressed_count_cannot_be_recomputed_from_the_total_and_the_other_rows() {
    let app = app_or_skip!();
    let one = app
        .user_token("acute-1", "acute_hospital", "acute-1-planner")
        .await;
    let two = app
        .user_token("acute-2", "acute_hospital", "acute-2-planner")
        .await;
    for i in 0..6 {
        stay_at(&app, &one, "acute-1", &["care", "statistics"], 30 + i, 10).await;
    }
    for i in 0..2 {
        stay_at(&app, &two, "acute-2", &["care", "statistics"], 20 + i, 5).await;
    }
    let council = renkei_testkit::access::practitioner(
        &app,
        "clinic-9",
        "clinic",
        "council-complementary",
        "physician",
        &["council_member"],
    )
    .await
    .token;

    // The council: acute-2's 2 plans are fewer than 5; 8 − 6 would give them back, so
    // the next-smallest row (acute-1's 6) is withheld too.
    let res = report(&app, &council, "flow", &[("pathway", "stroke")]).await;
    res.assert_status(200);
    let plans = section(&res.body, "plans");
    let c = col(plans, "started");
    let a1 = &rows_labelled(plans, "acute-1")[0][c];
    let a2 = &rows_labelled(plans, "acute-2")[0][c];
    let total = &rows_labelled(plans, "地域全体")[0][c];
    assert!(small(a2), "{a2}");
    assert!(withheld(a1), "{a1}");
    assert_eq!(shown(total), Some(8));
    for key in ["started", "active", "completed", "withdrawn", "transferred"] {
        let c = col(plans, key);
        let parts: Vec<&Value> = ["acute-1", "acute-2"]
            .iter()
            .map(|o| &rows_labelled(plans, o)[0][c])
            .collect();
        let total = &rows_labelled(plans, "地域全体")[0][c];
        assert!(!recomputable(&parts, total), "{key}: {parts:?} {total}");
    }
    assert!(res.body["suppressed_cells"].as_u64().unwrap_or(0) >= 4);

    // The CSV serves the same cells: `<5` for the small one, `x` for the one withheld.
    let csv = report(
        &app,
        &council,
        "flow",
        &[("pathway", "stroke"), ("format", "csv")],
    )
    .await;
    csv.assert_status(200);
    let line = |org: &str| {
        csv.text
            .lines()
            .find(|l| l.starts_with(org) || l.contains(&format!(",{org}")))
            .unwrap_or_else(|| panic!("no CSV line of {org}"))
            .to_owned()
    };
    let a1 = line("acute-1");
    let a2 = line("acute-2");
    assert!(a1.split(',').any(|c| c == "x"), "{a1}");
    assert!(a2.split(',').any(|c| c == "<5"), "{a2}");
    assert!(!a1.split(',').any(|c| c == "6"), "{a1}");

    // acute-1 sees its own 6 and the region total: 8 − 6 would give acute-2's 2 back,
    // so the total is withheld from it.
    let own = report(&app, &one, "flow", &[("pathway", "stroke")]).await;
    own.assert_status(200);
    let plans = section(&own.body, "plans");
    let c = col(plans, "started");
    assert_eq!(shown(&rows_labelled(plans, "acute-1")[0][c]), Some(6));
    assert!(rows_labelled(plans, "acute-2").is_empty());
    assert!(withheld(&rows_labelled(plans, "地域全体")[0][c]));

    // acute-2 sees its own 2 and the total; the other 6 are five or more, so the total
    // stays.
    let theirs = report(&app, &two, "flow", &[("pathway", "stroke")]).await;
    theirs.assert_status(200);
    let plans = section(&theirs.body, "plans");
    let c = col(plans, "started");
    assert_eq!(shown(&rows_labelled(plans, "acute-2")[0][c]), Some(2));
    assert_eq!(shown(&rows_labelled(plans, "地域全体")[0][c]), Some(8));
}
