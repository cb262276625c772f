//! The goals report: attainment of each goal of the template per organisation that ran
//! the goal's stage, with the region's total.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::facts::{ReportFactsRow, goal_decided};
use super::fold::{FoldContext, Plans, Table, percent};
use super::report::{ChartKind, ChartSpec, ReportSection};

#[derive(Default)]
struct Attainment {
    met: Plans,
    not_met: Plans,
    pending: Plans,
    not_applicable: Plans,
    decided: Plans,
}

impl Attainment {
    fn add(&mut self, plan: Uuid, state: &str, own: bool) {
        match goal_decided(state) {
            Some(true) => self.met.add(plan, own),
            Some(false) => self.not_met.add(plan, own),
            None if state == "not_applicable" => self.not_applicable.add(plan, own),
            None => self.pending.add(plan, own),
        }
        if goal_decided(state).is_some() {
            self.decided.add(plan, own);
        }
    }
}

/// The sections of the goals report and how many cells were suppressed.
pub fn goals(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> (Vec<ReportSection>, u64) {
    let mut suppressed = 0;
    let mut t = Table::new(
        ctx,
        "goal_attainment",
        "目標の達成率",
        Some(
            "目標ごと、その目標の病期を担った施設ごとの判定。達成率=達成÷(達成+未達成)。期限を過ぎて未判定の目標は未達成に数える。判定待ちと対象外は分母に含めない。目標の値は患者ごとの個別目標を含む。",
        ),
        &[
            ("goal", "目標", None),
            ("organization", "施設", None),
            ("met", "達成", Some("件")),
            ("not_met", "未達成", Some("件")),
            ("pending", "判定待ち", Some("件")),
            ("not_applicable", "対象外", Some("件")),
            ("rate", "達成率", Some("%")),
        ],
    )
    .derived(6, &[2, 3])
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 1,
        value_columns: vec![6],
    });
    // (pathway, goal) in the order first met in the plans (the template's order).
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        for g in &r.facts.goals {
            if ctx
                .filter
                .stage
                .as_deref()
                .is_some_and(|s| g.stage.as_deref() != Some(s))
            {
                continue;
            }
            let k = (r.pathway_code.clone(), g.code.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for key in keys {
        let mut by_org: BTreeMap<String, (Option<Uuid>, Attainment)> = BTreeMap::new();
        let mut total = Attainment::default();
        for r in rows.iter().filter(|r| r.pathway_code == key.0) {
            for g in r.facts.goals.iter().filter(|g| g.code == key.1) {
                let org = g.organization.or(Some(r.planner_organization_id));
                let own = org == Some(ctx.viewer_org);
                let label = ctx.labels.organization(org, ctx.lang);
                by_org
                    .entry(label)
                    .or_insert_with(|| (org, Attainment::default()))
                    .1
                    .add(r.care_plan_id, &g.state, own);
                total.add(r.care_plan_id, &g.state, own);
            }
        }
        let goal_label = ctx.labels.goal(&key.0, &key.1);
        let put = |t: &mut Table, org_label: String, a: &Attainment| {
            t.text(goal_label.clone())
                .text(org_label)
                .count(a.met.len(), a.met.population())
                .count(a.not_met.len(), a.not_met.population())
                .count(a.pending.len(), a.pending.population())
                .count(a.not_applicable.len(), a.not_applicable.population())
                .number(
                    percent(a.met.len(), a.decided.len()),
                    1,
                    a.decided.population(),
                );
            t.end_row();
        };
        for (label, (org, a)) in &by_org {
            if ctx.sees(*org) {
                put(&mut t, label.clone(), a);
            }
        }
        put(&mut t, ctx.region_total(), &total);
    }
    (vec![t.finish(&mut suppressed)], suppressed)
}

#[cfg(test)]
mod tests {
    use super::super::facts::GoalFact;
    use super::super::filter::ReportFilter;
    use super::super::report::{ReportCell, ReportKind};
    use super::super::report_page;
    use super::super::testing::*;
    use proptest::prelude::*;

    proptest! {
        /// Attainment per goal over the region equals a naive recount.
        #[test]
        fn goal_attainment_equals_a_naive_recount(states in proptest::collection::vec((0usize..5, any::<bool>()), 0..40)) {
            let names = ["met", "not_met", "pending", "overdue", "not_applicable"];
            let rows: Vec<_> = states
                .iter()
                .enumerate()
                .map(|(i, (s, consent))| {
                    let mut p = plan(i as u128, org(1), "active", *consent, vec![stage("acute", org(1), 0, Some(10))]);
                    p.facts.goals.push(GoalFact {
                        code: "g1_transfer_on_time".into(),
                        stage: Some("acute".into()),
                        organization: Some(org(1)),
                        state: names[*s].into(),
                    });
                    p
                })
                .collect();
            let filter = ReportFilter::default();
            let labels = labels();
            let page = report_page(ReportKind::Goals, &rows, &ctx(org(4), true, &filter, &labels));
            let counted: Vec<usize> = states.iter().filter(|(_, c)| *c).map(|(s, _)| *s).collect();
            let met = counted.iter().filter(|s| **s == 0).count() as u64;
            let not_met = counted.iter().filter(|s| **s == 1 || **s == 3).count() as u64;
            let shown = |n: u64| if n > 0 && n < 5 { ReportCell::Suppressed } else { ReportCell::Count(n) };
            let s = &page.sections[0];
            if counted.is_empty() {
                prop_assert!(s.rows.is_empty());
            } else {
                let total = s.rows.iter().find(|r| r[1] == ReportCell::Text("地域全体".into())).unwrap();
                prop_assert_eq!(&total[2], &shown(met));
                prop_assert_eq!(&total[3], &shown(not_met));
                if met + not_met >= 5 {
                    let rate = 100.0 * met as f64 / (met + not_met) as f64;
                    // Beside a suppressed count the rate would give it back: withheld.
                    let hidden = [met, not_met].iter().any(|n| shown(*n) == ReportCell::Suppressed);
                    let want = if hidden { ReportCell::Withheld } else { ReportCell::Number { value: rate, decimals: 1 } };
                    prop_assert_eq!(&total[6], &want);
                }
            }
        }
    }
}
