//! The completeness report: per stage and organisation, the required items missing at
//! the stage's end, entries recorded late (more than `LATE_ENTRY_DAYS` after their
//! effective time) and the days from event to record; and per organisation over all its
//! stages, next to the median of the region's organisations (shown to each organisation
//! on its home page).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::facts::{ReportFactsRow, StageCompleteness};
use super::fold::{FoldContext, Plans, Table, percent};
use super::privacy::Population;
use super::report::{ChartKind, ChartSpec, ReportCell, ReportSection};
use super::stats::median;

#[derive(Default)]
struct Tally {
    /// Ended stays with required items.
    stays: Plans,
    complete: Plans,
    required: u64,
    missing: u64,
    entries: u64,
    late: u64,
    entry_plans: Plans,
    record_days: Vec<f64>,
}

impl Tally {
    fn add(&mut self, plan: Uuid, c: &StageCompleteness, own: bool) {
        if c.ended && c.required > 0 {
            self.stays.add(plan, own);
            if c.missing.is_empty() {
                self.complete.add(plan, own);
            }
            self.required += u64::from(c.required);
            self.missing += c.missing.len() as u64;
        }
        if c.entries > 0 {
            self.entry_plans.add(plan, own);
            self.entries += u64::from(c.entries);
            self.late += u64::from(c.late);
            if let Some(d) = c.median_record_days {
                self.record_days.push(d);
            }
        }
    }

    fn complete_rate(&self) -> Option<f64> {
        percent(self.complete.len(), self.stays.len())
    }

    fn late_rate(&self) -> Option<f64> {
        percent(self.late, self.entries)
    }
}

const COLUMNS: &[super::fold::Col] = &[
    ("stays", "終了した病期", Some("件")),
    ("complete", "必須項目がそろった病期", Some("件")),
    ("complete_rate", "完全率", Some("%")),
    ("missing", "欠けた必須項目", Some("項目")),
    ("entries", "記録", Some("件")),
    ("late", "遅れた記録", Some("件")),
    ("late_rate", "遅れた記録の割合", Some("%")),
    (
        "median_record_days",
        "事象から記録までの日数(中央値)",
        Some("日"),
    ),
];

fn put(t: &mut Table, a: &Tally) {
    t.count(a.stays.len(), a.stays.population())
        .count(a.complete.len(), a.complete.population())
        .number(a.complete_rate(), 1, a.stays.population())
        .count(a.missing, a.stays.population())
        .count(a.entries, a.entry_plans.population())
        .count(a.late, a.entry_plans.population())
        .number(a.late_rate(), 1, a.entry_plans.population())
        .number(median(&a.record_days), 1, a.entry_plans.population());
    t.end_row();
}

/// The sections of the completeness report and how many cells were suppressed.
pub fn completeness(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> (Vec<ReportSection>, u64) {
    let mut suppressed = 0;
    let in_stage = |s: &str| ctx.filter.stage.as_deref().is_none_or(|f| f == s);

    let mut cols: Vec<super::fold::Col> =
        vec![("stage", "病期", None), ("organization", "施設", None)];
    cols.extend_from_slice(COLUMNS);
    let mut by_stage = Table::new(
        ctx,
        "completeness_by_stage",
        "病期・施設別の記録の完全性",
        Some(
            "終了した病期のうち、テンプレートが終了時に必須とする項目が終了までにすべて記録された病期の割合。遅れた記録は事象の日時から7日を超えて記録されたもの(返書と次の病期での活用に間に合う目安)。日数の中央値は病期ごとの中央値の中央値。",
        ),
        &cols,
    )
    .derived(4, &[2, 3])
    .derived(8, &[6, 7])
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 1,
        value_columns: vec![4],
    });
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        for c in r.facts.completeness.iter().filter(|c| in_stage(&c.stage)) {
            let k = (r.pathway_code.clone(), c.stage.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for key in &keys {
        let mut by_org: BTreeMap<String, (Option<Uuid>, Tally)> = BTreeMap::new();
        let mut total = Tally::default();
        for r in rows.iter().filter(|r| r.pathway_code == key.0) {
            for c in r.facts.completeness.iter().filter(|c| c.stage == key.1) {
                if !c.ended && c.entries == 0 {
                    continue;
                }
                let own = c.organization == Some(ctx.viewer_org);
                let label = ctx.labels.organization(c.organization, ctx.lang);
                by_org
                    .entry(label)
                    .or_insert_with(|| (c.organization, Tally::default()))
                    .1
                    .add(r.care_plan_id, c, own);
                total.add(r.care_plan_id, c, own);
            }
        }
        let stage_label = ctx.labels.stage(&key.0, &key.1);
        for (label, (org, a)) in &by_org {
            if ctx.sees(*org) {
                by_stage.text(stage_label.clone()).text(label.clone());
                put(&mut by_stage, a);
            }
        }
        by_stage.text(stage_label.clone()).text(ctx.region_total());
        put(&mut by_stage, &total);
    }

    let mut cols: Vec<super::fold::Col> = vec![("organization", "施設", None)];
    cols.extend_from_slice(COLUMNS);
    let mut by_org_t = Table::new(
        ctx,
        "completeness_by_organization",
        "施設別の記録の完全性",
        Some(
            "施設が担ったすべての病期をまとめた完全性。「地域の中央値」は地域の施設ごとの値の中央値(各施設のホーム画面に自施設の値と並べて示す)。",
        ),
        &cols,
    )
    .derived(3, &[1, 2])
    .derived(7, &[5, 6])
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 0,
        value_columns: vec![3],
    });
    let by_org = OrganizationCompleteness::of(rows, ctx);
    for (label, (org, a)) in &by_org.orgs {
        if ctx.sees(*org) {
            by_org_t.text(label.clone());
            put(&mut by_org_t, a);
        }
    }
    // The region's median organisation, figure by figure.
    let m = by_org.region_median();
    let pop = by_org.everyone.population();
    by_org_t.text(ctx.t("地域の中央値"));
    if ctx.region_view || by_org.comparable() {
        by_org_t
            .number(m.stays, 1, pop)
            .number(m.complete, 1, pop)
            .number(m.complete_rate, 1, pop)
            .number(m.missing, 1, pop)
            .number(m.entries, 1, pop)
            .number(m.late, 1, pop)
            .number(m.late_rate, 1, pop)
            .number(m.median_record_days, 1, pop);
    } else {
        for _ in COLUMNS {
            by_org_t.cell(ReportCell::Withheld, Population::default());
        }
        by_org_t.suppressed += COLUMNS.len() as u64;
    }
    by_org_t.end_row();
    (
        vec![
            by_stage.finish(&mut suppressed),
            by_org_t.finish(&mut suppressed),
        ],
        suppressed,
    )
}

/// Fewest organisations a region median is shown over to an organisation: with two,
/// the median is their mean, and the organisation's own figure gives the other's back.
pub const MIN_ORGANIZATIONS_FOR_MEDIAN: usize = 3;

/// The completeness figures of one organisation, or the region's median of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletenessFigures {
    /// Ended stays with required items.
    pub stays: Option<f64>,
    /// Of those, stays with every required item recorded by their end.
    pub complete: Option<f64>,
    pub complete_rate: Option<f64>,
    /// Required items missing at the end of their stage.
    pub missing: Option<f64>,
    pub entries: Option<f64>,
    /// Entries recorded more than 7 days after their event.
    pub late: Option<f64>,
    pub late_rate: Option<f64>,
    /// Days from event to record (the median of the stays' medians).
    pub median_record_days: Option<f64>,
}

impl CompletenessFigures {
    fn of(a: &Tally) -> CompletenessFigures {
        CompletenessFigures {
            stays: Some(a.stays.len() as f64),
            complete: Some(a.complete.len() as f64),
            complete_rate: a.complete_rate(),
            missing: Some(a.missing as f64),
            entries: Some(a.entries as f64),
            late: Some(a.late as f64),
            late_rate: a.late_rate(),
            median_record_days: median(&a.record_days),
        }
    }
}

/// What an organisation's home page shows of the completeness report: its own figures
/// next to the region's median organisation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HomeCompleteness {
    /// `None`: the organisation has no ended stay or entry among the counted plans.
    pub own: Option<CompletenessFigures>,
    /// `None`: not shown (too few patients of other organisations, or fewer than
    /// [`MIN_ORGANIZATIONS_FOR_MEDIAN`] organisations).
    pub region_median: Option<CompletenessFigures>,
    /// Organisations the median is taken over.
    pub organizations: u64,
    /// Plans counted (statistics consent) that have a stay or entry.
    pub plans: u64,
}

/// Every organisation's completeness over all the stages it ran (the filter's stage
/// only, when it names one), and the plans behind them: the one tally both the
/// report's table and each organisation's home page read.
#[derive(Default)]
pub struct OrganizationCompleteness {
    orgs: BTreeMap<String, (Option<Uuid>, Tally)>,
    everyone: Plans,
}

impl OrganizationCompleteness {
    pub fn of(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> OrganizationCompleteness {
        let in_stage = |s: &str| ctx.filter.stage.as_deref().is_none_or(|f| f == s);
        let mut out = OrganizationCompleteness::default();
        for r in rows {
            for c in r.facts.completeness.iter().filter(|c| in_stage(&c.stage)) {
                if !c.ended && c.entries == 0 {
                    continue;
                }
                let own = c.organization == Some(ctx.viewer_org);
                out.everyone.add(r.care_plan_id, own);
                let label = ctx.labels.organization(c.organization, ctx.lang);
                out.orgs
                    .entry(label)
                    .or_insert_with(|| (c.organization, Tally::default()))
                    .1
                    .add(r.care_plan_id, c, own);
            }
        }
        out
    }

    /// Whether there are organisations enough for their median to hide each one.
    pub fn comparable(&self) -> bool {
        self.orgs.len() >= MIN_ORGANIZATIONS_FOR_MEDIAN
    }

    /// The median of the organisations' figures, figure by figure.
    pub fn region_median(&self) -> CompletenessFigures {
        let figures: Vec<CompletenessFigures> = self
            .orgs
            .values()
            .map(|(_, a)| CompletenessFigures::of(a))
            .collect();
        let med = |f: &dyn Fn(&CompletenessFigures) -> Option<f64>| {
            median(&figures.iter().filter_map(f).collect::<Vec<_>>())
        };
        CompletenessFigures {
            stays: med(&|f| f.stays),
            complete: med(&|f| f.complete),
            complete_rate: med(&|f| f.complete_rate),
            missing: med(&|f| f.missing),
            entries: med(&|f| f.entries),
            late: med(&|f| f.late),
            late_rate: med(&|f| f.late_rate),
            median_record_days: med(&|f| f.median_record_days),
        }
    }

    /// What the home pages read: every organisation's figures and the median.
    pub fn summary(&self) -> CompletenessSummary {
        CompletenessSummary {
            by_org: self
                .orgs
                .values()
                .map(|(o, a)| (*o, CompletenessFigures::of(a)))
                .collect(),
            median: self.region_median(),
            plans: self.everyone.len(),
        }
    }
}

/// Every organisation's figures and the region's median, without the plans behind
/// them: small enough for the server to keep between changes of the report facts, and
/// all each organisation's home page needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletenessSummary {
    by_org: Vec<(Option<Uuid>, CompletenessFigures)>,
    median: CompletenessFigures,
    plans: u64,
}

impl CompletenessSummary {
    /// The home page's panel for organisation `org`: its own figures (never suppressed
    /// for itself) and the region's median, shown when the patients of other
    /// organisations behind it are five or more and the organisations
    /// [`MIN_ORGANIZATIONS_FOR_MEDIAN`] or more.
    pub fn home(&self, org: Uuid) -> HomeCompleteness {
        let own = self
            .by_org
            .iter()
            .find(|(o, _)| *o == Some(org))
            .map(|(_, f)| f.clone());
        let population = Population {
            patients: self.plans,
            all_own: self.by_org.iter().all(|(o, _)| *o == Some(org)),
        };
        let shown = self.by_org.len() >= MIN_ORGANIZATIONS_FOR_MEDIAN && !population.suppressed();
        HomeCompleteness {
            own,
            region_median: shown.then(|| self.median.clone()),
            organizations: self.by_org.len() as u64,
            plans: self.plans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::StageCompleteness;
    use super::super::filter::ReportFilter;
    use super::super::report::{ReportCell, ReportKind};
    use super::super::report_page;
    use super::super::testing::*;
    use super::{CompletenessFigures, OrganizationCompleteness};
    use proptest::prelude::*;
    use uuid::Uuid;

    /// The median of a non-empty list by the middle value(s), written here apart from
    /// the statistics module.
    fn naive_median(mut v: Vec<f64>) -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    /// Equal figure by figure, to rounding.
    fn same(a: &Option<CompletenessFigures>, b: &Option<CompletenessFigures>) -> bool {
        let f = |x: &CompletenessFigures| {
            [
                x.stays,
                x.complete,
                x.complete_rate,
                x.missing,
                x.entries,
                x.late,
                x.late_rate,
                x.median_record_days,
            ]
        };
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => f(a).iter().zip(f(b)).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            }),
            _ => false,
        }
    }

    proptest! {
        /// An organisation's home panel equals a naive recount of its own stays and
        /// entries, and the region median the middle of every organisation's recount;
        /// the median is withheld below three organisations or five patients.
        #[test]
        fn the_home_panel_equals_a_naive_recount_per_organisation(
            specs in proptest::collection::vec((1u128..5, any::<bool>(), 0u32..3, 0u32..6, 0u32..4, 0u8..4), 0..40),
        ) {
            let rows: Vec<_> = specs
                .iter()
                .enumerate()
                .map(|(i, (o, ended, missing, entries, late, days))| {
                    let mut p = plan(i as u128, org(*o), "active", true, vec![stage("acute", org(*o), 0, ended.then_some(10))]);
                    p.facts.completeness.push(StageCompleteness {
                        stage: "acute".into(),
                        organization: Some(org(*o)),
                        ended: *ended,
                        required: 2,
                        missing: if *ended { (0..*missing).map(|m| format!("item{m}")).collect() } else { Vec::new() },
                        entries: *entries,
                        late: (*late).min(*entries),
                        median_record_days: (*entries > 0).then_some(f64::from(*days)),
                    });
                    p
                })
                .collect();
            let refs: Vec<_> = rows.iter().collect();
            let filter = ReportFilter::default();
            let labels = labels();
            let summary = OrganizationCompleteness::of(&refs, &ctx(Uuid::nil(), true, &filter, &labels)).summary();
            // The recount, organisation by organisation (records with neither an end
            // nor an entry are not counted).
            let counted: Vec<_> = specs.iter().filter(|s| s.1 || s.3 > 0).collect();
            let recount = |o: u128| {
                let mine: Vec<_> = counted.iter().filter(|s| s.0 == o).collect();
                if mine.is_empty() {
                    return None;
                }
                let ended: Vec<_> = mine.iter().filter(|s| s.1).collect();
                let complete = ended.iter().filter(|s| s.2 == 0).count() as f64;
                let entries: u32 = mine.iter().map(|s| s.3).sum();
                let late: u32 = mine.iter().map(|s| s.4.min(s.3)).sum();
                let days: Vec<f64> = mine.iter().filter(|s| s.3 > 0).map(|s| f64::from(s.5)).collect();
                Some(CompletenessFigures {
                    stays: Some(ended.len() as f64),
                    complete: Some(complete),
                    complete_rate: (!ended.is_empty()).then(|| 100.0 * complete / ended.len() as f64),
                    missing: Some(ended.iter().map(|s| f64::from(s.2)).sum()),
                    entries: Some(f64::from(entries)),
                    late: Some(f64::from(late)),
                    late_rate: (entries > 0).then(|| 100.0 * f64::from(late) / f64::from(entries)),
                    median_record_days: naive_median(days),
                })
            };
            let all: Vec<CompletenessFigures> = (1..5).filter_map(recount).collect();
            for o in 1..5u128 {
                let home = summary.home(org(o));
                prop_assert!(same(&home.own, &recount(o)), "{:?} {:?}", home.own, recount(o));
                prop_assert_eq!(home.organizations, all.len() as u64);
                let others: usize = counted.iter().filter(|s| s.0 != o).count();
                let shown = all.len() >= 3 && !(others > 0 && counted.len() < 5);
                match &home.region_median {
                    Some(m) => {
                        prop_assert!(shown);
                        let med = |f: &dyn Fn(&CompletenessFigures) -> Option<f64>| naive_median(all.iter().filter_map(f).collect());
                        let want = CompletenessFigures {
                            stays: med(&|f| f.stays),
                            complete: med(&|f| f.complete),
                            complete_rate: med(&|f| f.complete_rate),
                            missing: med(&|f| f.missing),
                            entries: med(&|f| f.entries),
                            late: med(&|f| f.late),
                            late_rate: med(&|f| f.late_rate),
                            median_record_days: med(&|f| f.median_record_days),
                        };
                        prop_assert!(same(&Some(m.clone()), &Some(want.clone())), "{:?} {:?}", m, want);
                    }
                    None => prop_assert!(!shown),
                }
            }
        }
    }

    proptest! {
        /// Complete stays, missing items and late entries of the region equal a naive
        /// recount of the generated records.
        #[test]
        fn completeness_equals_a_naive_recount(specs in proptest::collection::vec((any::<bool>(), 0u32..3, 0u32..6, 0u32..3), 0..40)) {
            let rows: Vec<_> = specs
                .iter()
                .enumerate()
                .map(|(i, (ended, missing, entries, late))| {
                    let mut p = plan(i as u128, org(1), "active", true, vec![stage("acute", org(1), 0, ended.then_some(10))]);
                    p.facts.completeness.push(StageCompleteness {
                        stage: "acute".into(),
                        organization: Some(org(1)),
                        ended: *ended,
                        required: 2,
                        missing: if *ended { (0..*missing).map(|m| format!("item{m}")).collect() } else { Vec::new() },
                        entries: *entries,
                        late: (*late).min(*entries),
                        median_record_days: (*entries > 0).then_some(1.0),
                    });
                    p
                })
                .collect();
            let filter = ReportFilter::default();
            let labels = labels();
            let page = report_page(ReportKind::Completeness, &rows, &ctx(org(4), true, &filter, &labels));
            let shown = |n: u64, pop: u64| if pop > 0 && pop < 5 { ReportCell::Suppressed } else { ReportCell::Count(n) };
            let ended: Vec<_> = specs.iter().filter(|s| s.0).collect();
            let complete = ended.iter().filter(|s| s.1 == 0).count() as u64;
            let missing: u64 = ended.iter().map(|s| u64::from(s.1)).sum();
            let with_entries: Vec<_> = specs.iter().filter(|s| s.2 > 0).collect();
            let entries: u64 = with_entries.iter().map(|s| u64::from(s.2)).sum();
            let late: u64 = with_entries.iter().map(|s| u64::from(s.3.min(s.2))).sum();
            let s = &page.sections[0];
            if let Some(total) = s.rows.iter().find(|r| r[1] == ReportCell::Text("地域全体".into())) {
                prop_assert_eq!(&total[2], &shown(ended.len() as u64, ended.len() as u64));
                let complete_pop = complete;
                prop_assert_eq!(&total[3], &shown(complete, complete_pop));
                prop_assert_eq!(&total[5], &shown(missing, ended.len() as u64));
                prop_assert_eq!(&total[6], &shown(entries, with_entries.len() as u64));
                prop_assert_eq!(&total[7], &shown(late, with_entries.len() as u64));
            } else {
                prop_assert!(ended.is_empty() && with_entries.is_empty());
            }
        }
    }
}
