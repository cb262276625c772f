//! Version comparison: the same indicators of flow, goals and outcomes for the two
//! template versions the filter names, side by side with their counts and the
//! difference (second − first), so a council can see whether a new version did better.

use super::facts::{ReportFactsRow, goal_decided};
use super::fold::{Col, FoldContext, Plans, Table, percent};
use super::outcomes::{exclusions, index_of};
use super::privacy::Population;
use super::report::{ReportCell, ReportSection};
use super::stats::{mean, median};

/// One indicator of one version: its value and the patients it was computed from.
struct Figure {
    value: Option<f64>,
    plans: Plans,
}

fn figure(value: Option<f64>, plans: Plans) -> Figure {
    Figure { value, plans }
}

fn plans_where(
    rows: &[&ReportFactsRow],
    ctx: &FoldContext<'_>,
    f: impl Fn(&ReportFactsRow) -> bool,
) -> Plans {
    let mut p = Plans::default();
    for r in rows.iter().filter(|r| f(r)) {
        p.add(r.care_plan_id, r.planner_organization_id == ctx.viewer_org);
    }
    p
}

const COLUMNS: &[Col] = &[
    ("indicator", "指標", None),
    ("first", "比較元の版", None),
    ("first_n", "比較元の患者数", Some("人")),
    ("second", "比較先の版", None),
    ("second_n", "比較先の患者数", Some("人")),
    ("difference", "差(比較先−比較元)", None),
];

fn put(t: &mut Table, label: String, a: &Figure, b: &Figure, decimals: u8) {
    let (pa, pb) = (a.plans.population(), b.plans.population());
    t.text(label)
        .number(a.value, decimals, pa)
        .count(a.plans.len(), pa)
        .number(b.value, decimals, pb)
        .count(b.plans.len(), pb);
    let both = Population {
        patients: pa.patients.min(pb.patients),
        all_own: pa.all_own && pb.all_own,
    };
    match (a.value, b.value) {
        (Some(x), Some(y)) if !pa.suppressed() && !pb.suppressed() => {
            t.number(Some(y - x), decimals, both);
        }
        (Some(_), Some(_)) => {
            t.cell(ReportCell::Suppressed, both);
        }
        _ => {
            t.number(None, decimals, both);
        }
    }
    t.end_row();
}

/// The sections of the comparison and how many cells were suppressed. Without exactly
/// two versions in the filter there is nothing to compare (the service refuses that).
pub fn compare(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> (Vec<ReportSection>, u64) {
    let mut suppressed = 0;
    let [first, second] = ctx.filter.versions[..] else {
        return (Vec::new(), 0);
    };
    let of = |v: u32| -> Vec<&ReportFactsRow> {
        rows.iter()
            .copied()
            .filter(|r| r.pathway_version == v)
            .collect()
    };
    let (a_rows, b_rows) = (of(first), of(second));
    let definition = "同じ絞り込みで、版ごとに計算した指標。計算の定義は各レポート(流れ・目標・アウトカム)と同じ。差は比較先−比較元。";

    // Flow: plans, median stage length per stage, share completed.
    let mut flow = Table::new(
        ctx,
        "compare_flow",
        "版の比較:患者の流れ",
        Some(definition),
        COLUMNS,
    );
    let plans = |rs: &[&ReportFactsRow]| {
        let p = plans_where(rs, ctx, |_| true);
        figure(Some(p.len() as f64), p)
    };
    put(
        &mut flow,
        ctx.t("計画の数"),
        &plans(&a_rows),
        &plans(&b_rows),
        0,
    );
    let completed = |rs: &[&ReportFactsRow]| {
        let all = plans_where(rs, ctx, |_| true);
        let done = plans_where(rs, ctx, |r| r.status == "completed");
        figure(percent(done.len(), all.len()), all)
    };
    put(
        &mut flow,
        ctx.t("完了した計画の割合(%)"),
        &completed(&a_rows),
        &completed(&b_rows),
        1,
    );
    let mut stages: Vec<(String, String)> = Vec::new();
    for r in rows {
        for s in &r.facts.stages {
            let k = (r.pathway_code.clone(), s.code.clone());
            if ctx.filter.stage.as_deref().is_none_or(|f| f == s.code) && !stages.contains(&k) {
                stages.push(k);
            }
        }
    }
    for (pathway, stage) in &stages {
        let length = |rs: &[&ReportFactsRow]| {
            let mut days = Vec::new();
            let mut p = Plans::default();
            for r in rs {
                if let Some(d) = r
                    .facts
                    .stages
                    .iter()
                    .find(|s| &s.code == stage)
                    .and_then(|s| s.length_days())
                {
                    days.push(d as f64);
                    p.add(r.care_plan_id, r.planner_organization_id == ctx.viewer_org);
                }
            }
            figure(median(&days), p)
        };
        put(
            &mut flow,
            format!(
                "{}({})",
                ctx.labels.stage(pathway, stage),
                ctx.t("日数の中央値")
            ),
            &length(&a_rows),
            &length(&b_rows),
            1,
        );
    }

    // Goals: attainment per goal.
    let mut goals = Table::new(
        ctx,
        "compare_goals",
        "版の比較:目標の達成率",
        Some(definition),
        COLUMNS,
    );
    let mut codes: Vec<(String, String)> = Vec::new();
    for r in rows {
        for g in &r.facts.goals {
            let k = (r.pathway_code.clone(), g.code.clone());
            if !codes.contains(&k) {
                codes.push(k);
            }
        }
    }
    for (pathway, code) in &codes {
        let rate = |rs: &[&ReportFactsRow]| {
            let mut met = 0;
            let mut decided = Plans::default();
            for r in rs {
                for g in r.facts.goals.iter().filter(|g| &g.code == code) {
                    if let Some(ok) = goal_decided(&g.state) {
                        decided.add(r.care_plan_id, r.planner_organization_id == ctx.viewer_org);
                        met += u64::from(ok);
                    }
                }
            }
            figure(percent(met, decided.len()), decided)
        };
        put(
            &mut goals,
            format!("{}(%)", ctx.labels.goal(pathway, code)),
            &rate(&a_rows),
            &rate(&b_rows),
            1,
        );
    }

    // Outcomes.
    let mut outcomes = Table::new(
        ctx,
        "compare_outcomes",
        "版の比較:アウトカム指標",
        Some(definition),
        COLUMNS,
    );
    let gain = |rs: &[&ReportFactsRow]| {
        let mut gains = Vec::new();
        let mut p = Plans::default();
        for r in rs {
            let m = &r.facts.measures;
            if let (Some(a), Some(b), Some(_)) = (
                m.fim_motor_admission,
                m.fim_motor_discharge,
                m.recovery_days,
            ) {
                gains.push(b - a);
                p.add(r.care_plan_id, r.planner_organization_id == ctx.viewer_org);
            }
        }
        figure(mean(&gains), p)
    };
    put(
        &mut outcomes,
        ctx.t("運動FIM利得(平均)"),
        &gain(&a_rows),
        &gain(&b_rows),
        1,
    );
    let index =
        |rs: &[&ReportFactsRow]| {
            let kept: Vec<&ReportFactsRow> =
                rs.iter()
                    .copied()
                    .filter(|r| {
                        r.facts.stages.iter().any(|s| {
                            s.code == super::outcomes::RECOVERY_STAGE && s.ended_at.is_some()
                        }) && exclusions(&r.facts.measures).is_empty()
                    })
                    .collect();
            let p = plans_where(&kept, ctx, |_| true);
            let ms: Vec<_> = kept.iter().map(|r| &r.facts.measures).collect();
            figure(index_of(&ms), p)
        };
    put(
        &mut outcomes,
        ctx.t("実績指数"),
        &index(&a_rows),
        &index(&b_rows),
        1,
    );
    let home = |rs: &[&ReportFactsRow]| {
        let all = plans_where(rs, ctx, |r| r.facts.measures.destination.is_some());
        let home = plans_where(rs, ctx, |r| {
            r.facts.measures.destination.as_deref() == Some("home")
        });
        figure(percent(home.len(), all.len()), all)
    };
    put(
        &mut outcomes,
        ctx.t("自宅退院率(%)"),
        &home(&a_rows),
        &home(&b_rows),
        1,
    );
    let negative = |rs: &[&ReportFactsRow]| {
        let all = plans_where(rs, ctx, |_| true);
        let neg = plans_where(rs, ctx, |r| r.facts.variances.iter().any(|v| !v.positive));
        figure(percent(neg.len(), all.len()), all)
    };
    put(
        &mut outcomes,
        ctx.t("負のバリアンスがある計画の割合(%)"),
        &negative(&a_rows),
        &negative(&b_rows),
        1,
    );

    let label = |v: u32| format!("v{v}");
    let mut sections = Vec::new();
    for t in [flow, goals, outcomes] {
        let mut s = t.finish(&mut suppressed);
        s.columns[1].label = format!("{} {}", s.columns[1].label, label(first));
        s.columns[3].label = format!("{} {}", s.columns[3].label, label(second));
        sections.push(s);
    }
    (sections, suppressed)
}

#[cfg(test)]
mod tests {
    use super::super::filter::ReportFilter;
    use super::super::report::{ReportCell, ReportKind};
    use super::super::report_page;
    use super::super::testing::*;
    use proptest::prelude::*;

    proptest! {
        /// The plans and median acute length of each version equal a naive recount.
        #[test]
        fn each_version_is_counted_apart(specs in proptest::collection::vec((any::<bool>(), 1i64..40), 0..40)) {
            let rows: Vec<_> = specs
                .iter()
                .enumerate()
                .map(|(i, (v2, len))| {
                    let mut p = plan(i as u128, org(1), "active", true, vec![stage("acute", org(1), 0, Some(*len))]);
                    p.pathway_version = if *v2 { 2 } else { 1 };
                    p
                })
                .collect();
            let filter = ReportFilter { pathway: Some("stroke".into()), versions: vec![1, 2], ..Default::default() };
            let labels = labels();
            let page = report_page(ReportKind::Compare, &rows, &ctx(org(4), true, &filter, &labels));
            let flow = &page.sections[0];
            let shown = |n: usize| if n > 0 && n < 5 { ReportCell::Suppressed } else { ReportCell::Count(n as u64) };
            let n1 = specs.iter().filter(|s| !s.0).count();
            let n2 = specs.iter().filter(|s| s.0).count();
            prop_assert_eq!(&flow.rows[0][2], &shown(n1));
            prop_assert_eq!(&flow.rows[0][4], &shown(n2));
            let lens = |v2: bool| specs.iter().filter(|s| s.0 == v2).map(|s| s.1 as f64).collect::<Vec<_>>();
            if let Some(row) = flow.rows.iter().find(|r| matches!(&r[0], ReportCell::Text(t) if t.contains("急性期"))) {
                if n1 >= 5 {
                    prop_assert_eq!(&row[1], &ReportCell::Number { value: super::super::stats::median(&lens(false)).unwrap(), decimals: 1 });
                }
                if n2 >= 5 {
                    prop_assert_eq!(&row[3], &ReportCell::Number { value: super::super::stats::median(&lens(true)).unwrap(), decimals: 1 });
                }
            }
        }
    }
}
