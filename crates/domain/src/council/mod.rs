//! The regional pathway council's reports (連携パス協議会): a record of facts per plan
//! ([`facts`]), the filter the reports take ([`filter`]), pure folds from the facts of
//! the counted plans to report pages ([`flow`] and the others), the small-cell rule
//! ([`privacy`]) and the order statistics they use ([`stats`]).

pub mod casemix;
pub mod compare;
pub mod completeness;
pub mod facts;
pub mod filter;
pub mod flow;
pub mod fold;
pub mod goals;
pub mod outcomes;
pub mod privacy;
pub mod report;
pub mod stats;
pub mod variances;

pub use facts::{PlanReportFacts, ReportFactsRow, plan_report_facts};
pub use filter::{Period, ReportFilter};
pub use fold::{FoldContext, Labels};
pub use report::{
    ChartKind, ChartSpec, ReportCell, ReportColumn, ReportKind, ReportPage, ReportSection,
};

/// Computes one report over the stored facts of the region's plans for one viewer.
pub fn report_page(kind: ReportKind, rows: &[ReportFactsRow], ctx: &FoldContext<'_>) -> ReportPage {
    report_page_with(kind, rows, 0, ctx)
}

/// [`report_page`] over rows read without the plans that have no statistics consent,
/// `excluded_elsewhere` of which were inside the filter.
pub fn report_page_with(
    kind: ReportKind,
    rows: &[ReportFactsRow],
    excluded_elsewhere: u64,
    ctx: &FoldContext<'_>,
) -> ReportPage {
    let (counted, excluded) = fold::select(rows, ctx);
    let excluded = excluded + excluded_elsewhere;
    let (sections, suppressed) = match kind {
        ReportKind::Flow => flow::flow(&counted, ctx),
        ReportKind::Goals => goals::goals(&counted, ctx),
        ReportKind::Variances => variances::variances(&counted, ctx),
        ReportKind::Outcomes => outcomes::outcomes(&counted, ctx),
        ReportKind::Completeness => completeness::completeness(&counted, ctx),
        ReportKind::Compare => compare::compare(&counted, ctx),
    };
    ReportPage {
        kind,
        filter: ctx.filter.clone(),
        counted_plans: counted.len() as u64,
        excluded_without_consent: excluded,
        suppressed_cells: suppressed,
        sections,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Plans built by hand for the folds' tests.

    use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
    use uuid::Uuid;

    use super::facts::{HandoverFact, PlanReportFacts, ReportFactsRow, StageFacts};
    use super::filter::ReportFilter;
    use super::fold::{FoldContext, Labels};
    use crate::wording::Lang;

    pub fn org(n: u128) -> Uuid {
        Uuid::from_u128(0xA000 + n)
    }

    pub fn at(day: i64) -> DateTime<Utc> {
        // 03:00 UTC = 12:00 Tokyo, so day arithmetic is the same in both.
        Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap() + Duration::days(day)
    }

    pub fn day(d: i64) -> NaiveDate {
        crate::calendar::tokyo_date(at(d))
    }

    /// A stage run by `org` from `start` for `len` days (day 1 = the start day; `None`:
    /// not ended).
    pub fn stage(code: &str, org_id: Uuid, start: i64, len: Option<i64>) -> StageFacts {
        StageFacts {
            code: code.into(),
            organization: Some(org_id),
            started_at: Some(at(start)),
            ended_at: len.map(|l| at(start + l - 1)),
            expected_days: (code == "acute").then_some(21),
            max_days: (code == "recovery").then_some(150),
            ..Default::default()
        }
    }

    pub fn handover(
        to: Uuid,
        requested: i64,
        state: &str,
        answered_hours: Option<i64>,
        reason: Option<&str>,
    ) -> HandoverFact {
        HandoverFact {
            to_organization: to,
            requested_at: at(requested),
            state: state.into(),
            answered_at: answered_hours.map(|h| at(requested) + Duration::hours(h)),
            decline_reason: reason.map(str::to_owned),
        }
    }

    pub fn plan(
        n: u128,
        planner: Uuid,
        status: &str,
        consent: bool,
        stages: Vec<StageFacts>,
    ) -> ReportFactsRow {
        let started = stages.first().and_then(|s| s.started_at).unwrap_or(at(0));
        ReportFactsRow {
            care_plan_id: Uuid::from_u128(n + 1),
            region: "千葉".into(),
            pathway_code: "stroke".into(),
            pathway_version: 1,
            planner_organization_id: planner,
            statistics_consent: consent,
            started_on: crate::calendar::tokyo_date(started),
            ended_on: (status != "active").then(|| day(200)),
            status: status.into(),
            facts: PlanReportFacts {
                v: super::facts::FACTS_VERSION,
                stages,
                ..Default::default()
            },
        }
    }

    pub fn labels() -> Labels {
        let mut l = Labels::default();
        for n in 1..=4 {
            l.organizations.insert(org(n), format!("H00{n} 病院{n}"));
        }
        l.pathways.insert("stroke".into(), "脳卒中".into());
        l.stages
            .insert(("stroke".into(), "acute".into()), "急性期".into());
        l.stages
            .insert(("stroke".into(), "recovery".into()), "回復期".into());
        l
    }

    pub fn ctx<'a>(
        viewer: Uuid,
        region_view: bool,
        filter: &'a ReportFilter,
        labels: &'a Labels,
    ) -> FoldContext<'a> {
        FoldContext {
            viewer_org: viewer,
            region_view,
            filter,
            organization: None,
            labels,
            lang: Lang::Ja,
            now: at(400),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::facts::{GoalFact, Measures, StageCompleteness, VarianceFact};
    use super::testing::*;
    use super::*;
    use crate::wording::Lang;

    /// Twelve plans with every kind of fact, on versions 1 and 2.
    fn rich() -> Vec<ReportFactsRow> {
        (0..12u128)
            .map(|i| {
                let mut acute = stage("acute", org(1), i as i64, Some(10 + i as i64));
                acute.report_due_at = Some(at(40));
                let mut rec = stage("recovery", org(2), i as i64 + 12, Some(60));
                rec.handovers
                    .push(handover(org(2), i as i64 + 8, "completed", Some(4), None));
                let mut p = plan(i, org(1), "completed", true, vec![acute, rec]);
                p.pathway_version = 1 + (i % 2) as u32;
                p.facts.goals.push(GoalFact {
                    code: "g1_transfer_on_time".into(),
                    stage: Some("acute".into()),
                    organization: Some(org(1)),
                    state: if i.is_multiple_of(3) {
                        "not_met"
                    } else {
                        "met"
                    }
                    .into(),
                });
                p.facts.variances.push(VarianceFact {
                    code: "NEG.VAR.SY.BED".into(),
                    category: "SY".into(),
                    positive: false,
                    automatic: i.is_multiple_of(2),
                    stage: "acute".into(),
                    organization: Some(org(1)),
                    at: at(5),
                });
                p.facts.completeness.push(StageCompleteness {
                    stage: "acute".into(),
                    organization: Some(org(1)),
                    ended: true,
                    required: 1,
                    missing: Vec::new(),
                    entries: 4,
                    late: 1,
                    median_record_days: Some(0.0),
                });
                p.facts.measures = Measures {
                    fim_motor_admission: Some(30.0 + i as f64 * 3.0),
                    fim_motor_discharge: Some(55.0 + i as f64 * 2.0 + (i % 4) as f64),
                    fim_total_admission: Some(60.0 + i as f64 * 3.0),
                    fim_total_discharge: Some(90.0 + i as f64 * 2.0),
                    recovery_days: Some(60),
                    recovery_limit_days: Some(150),
                    age_at_onset: Some(60 + (i as i64 * 7) % 25),
                    onset_to_recovery_days: Some(12 + (i as i64 * 5) % 9),
                    destination: Some("home".into()),
                    discharged_home: Some(true),
                    barthel_preinjury: Some(90.0),
                    barthel_discharge: Some(70.0),
                    tracks_diabetes: true,
                    last_hba1c: Some(6.8),
                    last_hba1c_at: Some(at(390)),
                    hba1c_target: Some(7.0),
                    ..Default::default()
                };
                p.status = if i < 6 { "completed" } else { "active" }.into();
                p
            })
            .collect()
    }

    #[test]
    fn every_report_has_its_words_in_english_and_as_many_cells_as_columns() {
        let rows = rich();
        let labels = labels();
        for kind in ReportKind::ALL {
            let filter = ReportFilter {
                pathway: Some("stroke".into()),
                versions: if kind == ReportKind::Compare {
                    vec![1, 2]
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            let mut c = ctx(org(4), true, &filter, &labels);
            c.lang = Lang::En;
            let page = report_page(kind, &rows, &c);
            assert!(!page.sections.is_empty(), "{kind:?}");
            for s in &page.sections {
                assert!(s.title.is_ascii(), "{kind:?} {}", s.title);
                assert!(
                    s.definition.as_deref().is_none_or(str::is_ascii),
                    "{:?}",
                    s.definition
                );
                for col in &s.columns {
                    assert!(col.label.is_ascii(), "{kind:?} {}: {}", s.key, col.label);
                    assert!(
                        col.unit.as_deref().is_none_or(str::is_ascii),
                        "{:?}",
                        col.unit
                    );
                }
                for l in &s.listed {
                    assert!(l.is_ascii(), "{kind:?} {}: {l}", s.key);
                }
                for r in &s.rows {
                    assert_eq!(r.len(), s.columns.len(), "{kind:?} {}", s.key);
                }
                if let Some(chart) = &s.chart {
                    assert!(chart.label_column < s.columns.len());
                    assert!(chart.value_columns.iter().all(|c| *c < s.columns.len()));
                }
            }
        }
    }

    #[test]
    fn the_outcomes_of_a_rich_region_are_all_computed() {
        let rows = rich();
        let labels = labels();
        let filter = ReportFilter::default();
        let page = report_page(
            ReportKind::Outcomes,
            &rows,
            &ctx(org(4), true, &filter, &labels),
        );
        let keys: Vec<&str> = page.sections.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "fim",
                "performance_index",
                "casemix",
                "home_discharge",
                "barthel_loss",
                "diabetes"
            ]
        );
        let casemix = &page.sections[2];
        assert!(casemix.listed[0].contains("n = 12"), "{:?}", casemix.listed);
    }
}
