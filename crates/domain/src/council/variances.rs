//! The variances report: a Pareto of the standing variances by code; by cause category
//! with positive and negative, automatic and recorded; and by stage and organisation.
//! Counts are plans (a plan with a code twice counts once for that code).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::facts::ReportFactsRow;
use super::fold::{FoldContext, Plans, Table, percent};
use super::report::{ChartKind, ChartSpec, ReportSection};

use crate::wording::{VARIANCE_CAUSES, variance_part};

fn category_label(ctx: &FoldContext<'_>, code: &str) -> String {
    variance_part(VARIANCE_CAUSES, code, ctx.lang).map_or_else(|| ctx.t("その他"), str::to_owned)
}

fn in_stage(ctx: &FoldContext<'_>, stage: &str) -> bool {
    ctx.filter.stage.as_deref().is_none_or(|s| s == stage)
}

/// The sections of the variances report and how many cells were suppressed.
pub fn variances(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> (Vec<ReportSection>, u64) {
    let mut suppressed = 0;
    let sections = vec![
        pareto(rows, ctx).finish(&mut suppressed),
        by_category(rows, ctx).finish(&mut suppressed),
        by_stage(rows, ctx).finish(&mut suppressed),
    ];
    (sections, suppressed)
}

fn pareto(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "variance_pareto",
        "バリアンスのパレート図",
        Some(
            "取り消されていないバリアンスをコードごとに数えた計画の数(地域全体)、多い順、累積割合つき。自動判定のバリアンスは人が分類した後は分類後のコードで数える。",
        ),
        &[
            ("variance", "バリアンス", None),
            ("n", "件数", Some("件")),
            ("cumulative", "累積割合", Some("%")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Pareto,
        label_column: 0,
        value_columns: vec![1],
    });
    let mut codes: BTreeMap<(String, String), Plans> = BTreeMap::new();
    for r in rows {
        for v in r.facts.variances.iter().filter(|v| in_stage(ctx, &v.stage)) {
            codes
                .entry((r.pathway_code.clone(), v.code.clone()))
                .or_default()
                .add(r.care_plan_id, v.organization == Some(ctx.viewer_org));
        }
    }
    let mut list: Vec<((String, String), Plans)> = codes.into_iter().collect();
    list.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let total: u64 = list.iter().map(|(_, p)| p.len()).sum();
    let mut running = 0;
    for ((pathway, code), plans) in &list {
        running += plans.len();
        t.text(ctx.labels.variance(pathway, code, ctx.lang))
            .count(plans.len(), plans.population())
            .number(percent(running, total), 1, Default::default());
        t.end_row();
    }
    t
}

#[derive(Default)]
struct Split {
    positive: Plans,
    negative: Plans,
    automatic: Plans,
    recorded: Plans,
}

fn by_category(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "variance_by_category",
        "原因分類別のバリアンス",
        Some(
            "原因分類ごとの、正・負、自動判定・記録のバリアンスがある計画の数(地域全体)。自動判定は未説明の目標未達成・上限超過をシステムが記録したもの(人が分類した後も自動判定として数える)。",
        ),
        &[
            ("category", "原因分類", None),
            ("positive", "正", Some("件")),
            ("negative", "負", Some("件")),
            ("automatic", "自動判定", Some("件")),
            ("recorded", "人が記録", Some("件")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 0,
        value_columns: vec![1, 2],
    });
    let mut cats: BTreeMap<usize, Split> = BTreeMap::new();
    for r in rows {
        for v in r.facts.variances.iter().filter(|v| in_stage(ctx, &v.stage)) {
            let i = VARIANCE_CAUSES
                .iter()
                .position(|(c, _, _)| *c == v.category)
                .unwrap_or(VARIANCE_CAUSES.len());
            let own = v.organization == Some(ctx.viewer_org);
            let s = cats.entry(i).or_default();
            if v.positive {
                s.positive.add(r.care_plan_id, own);
            } else {
                s.negative.add(r.care_plan_id, own);
            }
            if v.automatic {
                s.automatic.add(r.care_plan_id, own);
            } else {
                s.recorded.add(r.care_plan_id, own);
            }
        }
    }
    for (i, s) in &cats {
        let label = VARIANCE_CAUSES
            .get(*i)
            .map_or_else(|| ctx.t("その他"), |(c, _, _)| category_label(ctx, c));
        t.text(label)
            .count(s.positive.len(), s.positive.population())
            .count(s.negative.len(), s.negative.population())
            .count(s.automatic.len(), s.automatic.population())
            .count(s.recorded.len(), s.recorded.population());
        t.end_row();
    }
    t
}

fn by_stage(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "variance_by_stage",
        "病期・施設別のバリアンス",
        Some(
            "病期ごと、その病期を担った施設ごとの、バリアンスがある計画の数と、その病期に入った計画に対する割合。",
        ),
        &[
            ("stage", "病期", None),
            ("organization", "施設", None),
            ("plans", "病期に入った計画", Some("件")),
            ("positive", "正", Some("件")),
            ("negative", "負", Some("件")),
            ("negative_rate", "負のバリアンスの割合", Some("%")),
        ],
    )
    .derived(5, &[2, 4])
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 1,
        value_columns: vec![5],
    });
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        for s in r.facts.stages.iter().filter(|s| in_stage(ctx, &s.code)) {
            let k = (r.pathway_code.clone(), s.code.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for key in keys {
        let mut by_org: BTreeMap<String, (Option<Uuid>, Plans, Split)> = BTreeMap::new();
        let mut total: (Plans, Split) = Default::default();
        for r in rows.iter().filter(|r| r.pathway_code == key.0) {
            let Some(s) = r
                .facts
                .stages
                .iter()
                .find(|s| s.code == key.1 && s.started_at.is_some())
            else {
                continue;
            };
            let own = s.organization == Some(ctx.viewer_org);
            let label = ctx.labels.organization(s.organization, ctx.lang);
            let e = by_org
                .entry(label)
                .or_insert_with(|| (s.organization, Plans::default(), Split::default()));
            let vs: Vec<_> = r
                .facts
                .variances
                .iter()
                .filter(|v| v.stage == key.1)
                .collect();
            for (plans, split) in [(&mut e.1, &mut e.2), (&mut total.0, &mut total.1)] {
                plans.add(r.care_plan_id, own);
                if vs.iter().any(|v| v.positive) {
                    split.positive.add(r.care_plan_id, own);
                }
                if vs.iter().any(|v| !v.positive) {
                    split.negative.add(r.care_plan_id, own);
                }
            }
        }
        let stage_label = ctx.labels.stage(&key.0, &key.1);
        let put = |t: &mut Table, label: String, plans: &Plans, s: &Split| {
            t.text(stage_label.clone())
                .text(label)
                .count(plans.len(), plans.population())
                .count(s.positive.len(), s.positive.population())
                .count(s.negative.len(), s.negative.population())
                .number(
                    percent(s.negative.len(), plans.len()),
                    1,
                    plans.population(),
                );
            t.end_row();
        };
        for (label, (org, plans, s)) in &by_org {
            if ctx.sees(*org) {
                put(&mut t, label.clone(), plans, s);
            }
        }
        put(&mut t, ctx.region_total(), &total.0, &total.1);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::super::facts::VarianceFact;
    use super::super::filter::ReportFilter;
    use super::super::report::{ReportCell, ReportKind};
    use super::super::report_page;
    use super::super::testing::*;
    use proptest::prelude::*;

    proptest! {
        /// The Pareto and the category table equal a naive recount of the generated
        /// variances, and the Pareto is in descending order.
        #[test]
        fn variance_counts_equal_a_naive_recount(specs in proptest::collection::vec(proptest::collection::vec((0usize..4, any::<bool>(), any::<bool>()), 0..3), 0..40)) {
            let codes = ["NEG.VAR.SY.BED", "NEG.DEV.PT.CONDITION", "POS.VAR.PT.CONDITION", "NEG.VAR.UN.UNCLASSIFIED"];
            let rows: Vec<_> = specs
                .iter()
                .enumerate()
                .map(|(i, vs)| {
                    let mut p = plan(i as u128, org(1), "active", true, vec![stage("acute", org(1), 0, Some(10))]);
                    for (c, auto, _) in vs {
                        let code = codes[*c];
                        let parts = crate::variance::parse_variance_code(code).unwrap();
                        p.facts.variances.push(VarianceFact {
                            code: code.into(),
                            category: parts.category.into(),
                            positive: parts.direction == "POS",
                            automatic: *auto,
                            stage: "acute".into(),
                            organization: Some(org(1)),
                            at: at(3),
                        });
                    }
                    p
                })
                .collect();
            let filter = ReportFilter::default();
            let labels = labels();
            let page = report_page(ReportKind::Variances, &rows, &ctx(org(4), true, &filter, &labels));
            let shown = |n: u64| if n > 0 && n < 5 { ReportCell::Suppressed } else { ReportCell::Count(n) };
            let pareto = &page.sections[0];
            let mut last = u64::MAX;
            for (i, code) in codes.iter().enumerate() {
                let n = specs.iter().filter(|vs| vs.iter().any(|(c, _, _)| *c == i)).count() as u64;
                let label = labels.variance("stroke", code, crate::wording::Lang::Ja);
                let row = pareto.rows.iter().find(|r| r[0] == ReportCell::Text(label.clone()));
                match row {
                    Some(r) => prop_assert_eq!(&r[1], &shown(n)),
                    None => prop_assert_eq!(n, 0),
                }
            }
            for r in &pareto.rows {
                if let ReportCell::Count(n) = r[1] {
                    prop_assert!(n <= last || last == u64::MAX);
                    last = n;
                }
            }
            let negative = specs.iter().filter(|vs| vs.iter().any(|(c, _, _)| *c != 2)).count() as u64;
            let by_stage = &page.sections[2];
            let total = by_stage.rows.iter().find(|r| r[1] == ReportCell::Text("地域全体".into()));
            if let Some(total) = total {
                prop_assert_eq!(&total[4], &shown(negative));
            }
        }
    }
}
