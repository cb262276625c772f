//! The council's figures from the entries themselves: generated stroke plans, written as
//! the entries a hospital records (the acute stage's start, assessments and end, each
//! recorded some days after its event), go through the fact extraction the server and
//! the dataset loader run (`report_facts_row`) and the reports' folds; the test recounts
//! the figures straight from the entries it generated.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use renkei_domain::council::facts::{EntryMeta, PlanColumns, PlanRecord, report_facts_row};
use renkei_domain::council::{
    FoldContext, Labels, ReportCell, ReportFilter, ReportKind, ReportSection, report_page,
};
use renkei_domain::entry::EntryKind;
use renkei_domain::facts::EntryFacts;
use renkei_domain::template::{PathwayTemplate, parse_template};
use renkei_domain::wording::Lang;
use serde_json::{Map, Value, json};
use uuid::Uuid;

fn stroke() -> PathwayTemplate {
    parse_template(include_str!("../../../../pathways/stroke/v1.toml"), None).unwrap()
}

/// Noon in Tokyo on 2026-01-01 plus `days`.
fn day(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap() + Duration::days(days)
}

/// One generated plan: its planner (one of three hospitals, which runs the acute stage),
/// the stage's first day, its length in days (`None`: not ended), whether the end
/// records the required mRS, the assessments in between, and each entry's delay from
/// event to record in days (start, assessments…, end).
#[derive(Debug, Clone)]
struct Spec {
    org: u128,
    start: i64,
    len: Option<i64>,
    mrs_at_end: bool,
    assessments: usize,
    delays: Vec<i64>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u128..3,
        0i64..100,
        proptest::option::of(1i64..40),
        any::<bool>(),
        0usize..3,
        proptest::collection::vec(0i64..20, 5),
    )
        .prop_map(|(org, start, len, mrs_at_end, assessments, delays)| Spec {
            org,
            start,
            len,
            mrs_at_end,
            assessments,
            delays,
        })
}

fn org(n: u128) -> Uuid {
    Uuid::from_u128(0xB000 + n)
}

/// The plan's entries: (kind, effective time, values, delay in days).
fn entries_of(s: &Spec) -> Vec<(EntryKind, DateTime<Utc>, Value, i64)> {
    let t0 = day(s.start);
    let mut out = vec![(
        EntryKind::StageStart,
        t0,
        json!({"nihss_total": 6}),
        s.delays[0],
    )];
    for k in 0..s.assessments {
        out.push((
            EntryKind::Assessment,
            t0 + Duration::hours(k as i64 + 1),
            json!({"nihss_total": 4}),
            s.delays[1 + k],
        ));
    }
    if let Some(len) = s.len {
        let end = t0 + Duration::days(len - 1) + Duration::hours(5);
        let values = if s.mrs_at_end {
            json!({"mrs": 3})
        } else {
            json!({})
        };
        out.push((EntryKind::StageEnd, end, values, s.delays[4]));
    }
    out
}

fn rows_of(
    specs: &[Spec],
    template: &PathwayTemplate,
    now: DateTime<Utc>,
) -> Vec<renkei_domain::council::ReportFactsRow> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let plan = Uuid::from_u128(0x1000 + i as u128);
            let mut meta = HashMap::new();
            let entries: Vec<EntryFacts> = entries_of(s)
                .into_iter()
                .enumerate()
                .map(|(seq, (kind, at, values, delay))| {
                    let id = Uuid::from_u128(((i as u128) << 16) + seq as u128 + 1);
                    meta.insert(
                        id,
                        EntryMeta {
                            organization: org(s.org),
                            system: false,
                            variance: None,
                        },
                    );
                    let values: Map<String, Value> =
                        values.as_object().cloned().unwrap_or_default();
                    EntryFacts {
                        id,
                        seq: seq as i64 + 1,
                        stage: "acute".into(),
                        kind,
                        effective_at: at,
                        recorded_at: at + Duration::days(delay),
                        values,
                        amends: None,
                    }
                })
                .collect();
            report_facts_row(
                PlanColumns {
                    care_plan_id: plan,
                    region: "千葉".into(),
                    planner_organization_id: org(s.org),
                    statistics_consent: true,
                    started_at: day(s.start) - Duration::days(1),
                    status: "active".into(),
                    updated_at: now,
                },
                PlanRecord {
                    template,
                    entries: &entries,
                    meta: &meta,
                    handovers: &[],
                    reports: &[],
                    birth_date: None,
                },
                now,
            )
        })
        .collect()
}

/// The region total row of the acute stage in a section keyed by (stage, organisation).
fn acute_total(s: &ReportSection) -> Option<&Vec<ReportCell>> {
    s.rows.iter().find(|r| {
        matches!(&r[0], ReportCell::Text(t) if t.ends_with("acute"))
            && r[1] == ReportCell::Text("地域全体".into())
    })
}

fn col(s: &ReportSection, key: &str) -> usize {
    s.columns.iter().position(|c| c.key == key).unwrap()
}

/// A count as the council sees it: hidden when it counts 1–4 patients.
fn shown(n: u64, patients: u64) -> ReportCell {
    if patients > 0 && patients < 5 {
        ReportCell::Suppressed
    } else {
        ReportCell::Count(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Stays, missing required items, entries and late entries (completeness), and the
    /// number and median length of ended acute stays (flow), equal a recount over the
    /// generated entries.
    #[test]
    fn the_council_figures_equal_a_recount_over_the_entries(specs in proptest::collection::vec(spec(), 0..30)) {
        let template = stroke();
        let now = day(400);
        let rows = rows_of(&specs, &template, now);
        let filter = ReportFilter::default();
        let labels = Labels::default();
        let ctx = FoldContext {
            viewer_org: Uuid::nil(),
            region_view: true,
            filter: &filter,
            organization: None,
            labels: &labels,
            lang: Lang::Ja,
            now,
        };

        // The recount.
        let ended: Vec<&Spec> = specs.iter().filter(|s| s.len.is_some()).collect();
        let missing = ended.iter().filter(|s| !s.mrs_at_end).count() as u64;
        let all_entries: Vec<(EntryKind, DateTime<Utc>, Value, i64)> = specs.iter().flat_map(entries_of).collect();
        let late = all_entries.iter().filter(|e| e.3 > 7).count() as u64;

        let page = report_page(ReportKind::Completeness, &rows, &ctx);
        let s = page.sections.iter().find(|s| s.key == "completeness_by_stage").unwrap();
        match acute_total(s) {
            Some(total) => {
                prop_assert_eq!(&total[col(s, "stays")], &shown(ended.len() as u64, ended.len() as u64));
                prop_assert_eq!(&total[col(s, "missing")], &shown(missing, ended.len() as u64));
                prop_assert_eq!(&total[col(s, "entries")], &shown(all_entries.len() as u64, specs.len() as u64));
                prop_assert_eq!(&total[col(s, "late")], &shown(late, specs.len() as u64));
            }
            None => prop_assert!(specs.is_empty()),
        }

        let page = report_page(ReportKind::Flow, &rows, &ctx);
        let s = page.sections.iter().find(|s| s.key == "stage_length").unwrap();
        let mut lengths: Vec<f64> = ended.iter().filter_map(|s| s.len).map(|l| l as f64).collect();
        lengths.sort_by(f64::total_cmp);
        if let Some(total) = acute_total(s) {
            prop_assert_eq!(&total[col(s, "n")], &shown(lengths.len() as u64, lengths.len() as u64));
            if lengths.len() >= 5 {
                let n = lengths.len();
                let median = if n % 2 == 1 { lengths[n / 2] } else { (lengths[n / 2 - 1] + lengths[n / 2]) / 2.0 };
                match &total[col(s, "median")] {
                    ReportCell::Number { value, .. } => prop_assert!((value - median).abs() < 1e-9, "{} {}", value, median),
                    other => prop_assert!(false, "median {:?}", other),
                }
            }
        } else {
            prop_assert!(lengths.is_empty());
        }
    }
}
