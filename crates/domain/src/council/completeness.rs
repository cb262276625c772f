//! The completeness report: per stage and organisation, the required items missing at
//! the stage's end, entries recorded late (more than `LATE_ENTRY_DAYS` after their
//! effective time) and the days from event to record; and per organisation over all its
//! stages, next to the median of the region's organisations (shown to each organisation
//! on its home page).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::facts::{ReportFactsRow, StageCompleteness};
use super::fold::{FoldContext, Plans, Table, percent};
use super::report::{ChartKind, ChartSpec, ReportSection};
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
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 0,
        value_columns: vec![3],
    });
    let mut orgs: BTreeMap<String, (Option<Uuid>, Tally)> = BTreeMap::new();
    let mut everyone = Plans::default();
    for r in rows {
        for c in r.facts.completeness.iter().filter(|c| in_stage(&c.stage)) {
            if !c.ended && c.entries == 0 {
                continue;
            }
            let own = c.organization == Some(ctx.viewer_org);
            everyone.add(r.care_plan_id, own);
            let label = ctx.labels.organization(c.organization, ctx.lang);
            orgs.entry(label)
                .or_insert_with(|| (c.organization, Tally::default()))
                .1
                .add(r.care_plan_id, c, own);
        }
    }
    for (label, (org, a)) in &orgs {
        if ctx.sees(*org) {
            by_org_t.text(label.clone());
            put(&mut by_org_t, a);
        }
    }
    // The region's median organisation, figure by figure.
    let med = |f: &dyn Fn(&Tally) -> Option<f64>| {
        median(&orgs.values().filter_map(|(_, a)| f(a)).collect::<Vec<_>>())
    };
    let pop = everyone.population();
    by_org_t
        .text(ctx.t("地域の中央値"))
        .number(med(&|a| Some(a.stays.len() as f64)), 1, pop)
        .number(med(&|a| Some(a.complete.len() as f64)), 1, pop)
        .number(med(&Tally::complete_rate), 1, pop)
        .number(med(&|a| Some(a.missing as f64)), 1, pop)
        .number(med(&|a| Some(a.entries as f64)), 1, pop)
        .number(med(&|a| Some(a.late as f64)), 1, pop)
        .number(med(&Tally::late_rate), 1, pop)
        .number(med(&|a| median(&a.record_days)), 1, pop);
    by_org_t.end_row();
    (
        vec![
            by_stage.finish(&mut suppressed),
            by_org_t.finish(&mut suppressed),
        ],
        suppressed,
    )
}

#[cfg(test)]
mod tests {
    use super::super::facts::StageCompleteness;
    use super::super::filter::ReportFilter;
    use super::super::report::{ReportCell, ReportKind};
    use super::super::report_page;
    use super::super::testing::*;
    use proptest::prelude::*;

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
