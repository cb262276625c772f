//! The regional pathway council's reports (連携パス協議会): a record of facts per plan
//! ([`facts`]), the filter the reports take ([`filter`]), pure folds from the facts of
//! the counted plans to report pages ([`flow`] and the others), the small-cell rule
//! ([`privacy`]) and the order statistics they use ([`stats`]).

pub mod facts;
pub mod filter;
pub mod flow;
pub mod fold;
pub mod privacy;
pub mod report;
pub mod stats;

pub use facts::{PlanReportFacts, ReportFactsRow, plan_report_facts};
pub use filter::{Period, ReportFilter};
pub use fold::{FoldContext, Labels};
pub use report::{
    ChartKind, ChartSpec, ReportCell, ReportColumn, ReportKind, ReportPage, ReportSection,
};

/// Computes one report over the stored facts of the region's plans for one viewer.
pub fn report_page(kind: ReportKind, rows: &[ReportFactsRow], ctx: &FoldContext<'_>) -> ReportPage {
    let (counted, excluded) = fold::select(rows, ctx);
    let (sections, suppressed) = match kind {
        ReportKind::Flow => flow::flow(&counted, ctx),
        _ => (Vec::new(), 0),
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
