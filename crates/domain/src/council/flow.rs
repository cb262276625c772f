//! The flow report: plans started, active, completed, withdrawn and transferred per
//! planning organisation and by month; stage lengths against the template's expected
//! and maximum days (five numbers and a distribution); the waiting days between a
//! stage's end and the next stage's start; hand-over answers and decline reasons; and
//! the rate and lateness of reports back.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::facts::ReportFactsRow;
use super::fold::{FoldContext, Plans, Table, percent};
use super::report::{ChartKind, ChartSpec, ReportSection};
use super::stats::five_numbers;
use crate::calendar::days_between;

/// Bins of the stage-length distribution, in days (inclusive upper bounds; the last
/// bin is open).
pub const LENGTH_BINS: &[(i64, i64)] = &[
    (1, 7),
    (8, 14),
    (15, 21),
    (22, 30),
    (31, 60),
    (61, 90),
    (91, 120),
    (121, 150),
    (151, 180),
    (181, i64::MAX),
];

/// Whether a plan was handed over to another organisation at least once (a completed
/// hand-over): "transferred" in the flow report.
pub fn transferred(r: &ReportFactsRow) -> bool {
    r.facts
        .stages
        .iter()
        .flat_map(|s| &s.handovers)
        .any(|h| h.state == "completed")
}

/// The sections of the flow report and how many cells were suppressed.
pub fn flow(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> (Vec<ReportSection>, u64) {
    let mut suppressed = 0;
    let sections = vec![
        plans_by_status(rows, ctx).finish(&mut suppressed),
        starts_by_month(rows, ctx).finish(&mut suppressed),
        stage_length(rows, ctx).finish(&mut suppressed),
        length_distribution(rows, ctx).finish(&mut suppressed),
        waiting(rows, ctx).finish(&mut suppressed),
        handovers(rows, ctx).finish(&mut suppressed),
        decline_reasons(rows, ctx).finish(&mut suppressed),
        report_back(rows, ctx).finish(&mut suppressed),
    ];
    (sections, suppressed)
}

#[derive(Default, Clone)]
struct StatusCounts {
    started: Plans,
    active: Plans,
    completed: Plans,
    withdrawn: Plans,
    transferred: Plans,
}

impl StatusCounts {
    fn add(&mut self, r: &ReportFactsRow, own: bool) {
        self.started.add(r.care_plan_id, own);
        match r.status.as_str() {
            "active" => self.active.add(r.care_plan_id, own),
            "completed" => self.completed.add(r.care_plan_id, own),
            "withdrawn" => self.withdrawn.add(r.care_plan_id, own),
            _ => {}
        }
        if transferred(r) {
            self.transferred.add(r.care_plan_id, own);
        }
    }
}

fn plans_by_status(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "plans",
        "計画の状況",
        Some(
            "計画管理病院ごとの、期間内に開始(period=endでは終了)した計画の数と現在の状態。転院は他施設への連携(転院・紹介)が完了した計画。",
        ),
        &[
            ("organization", "計画管理病院", None),
            ("started", "開始", Some("件")),
            ("active", "継続中", Some("件")),
            ("completed", "完了", Some("件")),
            ("withdrawn", "中止", Some("件")),
            ("transferred", "転院あり", Some("件")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 0,
        value_columns: vec![2, 3, 4],
    });
    let mut by_org: BTreeMap<String, (Uuid, StatusCounts)> = BTreeMap::new();
    let mut total = StatusCounts::default();
    for r in rows {
        let own = r.planner_organization_id == ctx.viewer_org;
        let label = ctx
            .labels
            .organization(Some(r.planner_organization_id), ctx.lang);
        by_org
            .entry(label)
            .or_insert_with(|| (r.planner_organization_id, StatusCounts::default()))
            .1
            .add(r, own);
        total.add(r, own);
    }
    let put = |t: &mut Table, label: String, c: &StatusCounts| {
        t.text(label);
        for p in [
            &c.started,
            &c.active,
            &c.completed,
            &c.withdrawn,
            &c.transferred,
        ] {
            t.count(p.len(), p.population());
        }
        t.end_row();
    };
    for (label, (org, c)) in &by_org {
        if ctx.sees(Some(*org)) {
            put(&mut t, label.clone(), c);
        }
    }
    put(&mut t, ctx.region_total(), &total);
    t
}

fn starts_by_month(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "starts_by_month",
        "月別の開始数",
        Some("計画の開始日(東京時間)の月ごとの件数。"),
        &[("month", "月", None), ("started", "開始", Some("件"))],
    )
    .chart(ChartSpec {
        kind: ChartKind::Run,
        label_column: 0,
        value_columns: vec![1],
    });
    let mut months: BTreeMap<String, Plans> = BTreeMap::new();
    for r in rows {
        months
            .entry(r.started_on.format("%Y-%m").to_string())
            .or_default()
            .add(r.care_plan_id, r.planner_organization_id == ctx.viewer_org);
    }
    for (m, p) in &months {
        t.text(m.clone()).count(p.len(), p.population());
        t.end_row();
    }
    t
}

/// The stage-level rows a viewer sees: (pathway, stage) in template order, the filter's
/// stage only when it names one.
fn stage_keys(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        for s in &r.facts.stages {
            let k = (r.pathway_code.clone(), s.code.clone());
            if ctx.filter.stage.as_deref().is_none_or(|f| f == s.code) && !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

#[derive(Default)]
struct Lengths {
    values: Vec<f64>,
    plans: Plans,
    expected: Option<u32>,
    max: Option<u32>,
    over_expected: Plans,
    over_max: Plans,
}

fn stage_length(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "stage_length",
        "病期の在院・滞在日数",
        Some(
            "終了した病期の日数(開始日を1日目とする東京時間の暦日数)。中央値・四分位はR type 7の線形補間。標準日数・上限日数はテンプレートの値(個別設定は含まない)。",
        ),
        &[
            ("stage", "病期", None),
            ("organization", "施設", None),
            ("n", "件数", Some("件")),
            ("min", "最小", Some("日")),
            ("q1", "第1四分位", Some("日")),
            ("median", "中央値", Some("日")),
            ("q3", "第3四分位", Some("日")),
            ("max", "最大", Some("日")),
            ("expected_days", "標準日数", Some("日")),
            ("max_days", "上限日数", Some("日")),
            ("over_expected", "標準超過", Some("件")),
            ("over_max", "上限超過", Some("件")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Box,
        label_column: 1,
        value_columns: vec![3, 4, 5, 6, 7],
    });
    for key in stage_keys(rows, ctx) {
        let mut by_org: BTreeMap<String, (Option<Uuid>, Lengths)> = BTreeMap::new();
        let mut total = Lengths::default();
        for r in rows.iter().filter(|r| r.pathway_code == key.0) {
            let Some(s) = r.facts.stages.iter().find(|s| s.code == key.1) else {
                continue;
            };
            let Some(days) = s.length_days() else {
                continue;
            };
            let own = s.organization == Some(ctx.viewer_org);
            let label = ctx.labels.organization(s.organization, ctx.lang);
            let entry = &mut by_org
                .entry(label)
                .or_insert_with(|| (s.organization, Lengths::default()))
                .1;
            for l in [entry, &mut total] {
                l.values.push(days as f64);
                l.plans.add(r.care_plan_id, own);
                l.expected = l.expected.or(s.expected_days);
                l.max = l.max.or(s.max_days);
                if s.expected_days.is_some_and(|e| days > i64::from(e)) {
                    l.over_expected.add(r.care_plan_id, own);
                }
                if s.max_days.is_some_and(|m| days > i64::from(m)) {
                    l.over_max.add(r.care_plan_id, own);
                }
            }
        }
        let stage_label = ctx.labels.stage(&key.0, &key.1);
        let put = |t: &mut Table, org_label: String, l: &Lengths| {
            let pop = l.plans.population();
            let f = five_numbers(&l.values);
            t.text(stage_label.clone())
                .text(org_label)
                .count(l.plans.len(), pop)
                .number(f.map(|f| f.min), 0, pop)
                .number(f.map(|f| f.q1), 1, pop)
                .number(f.map(|f| f.median), 1, pop)
                .number(f.map(|f| f.q3), 1, pop)
                .number(f.map(|f| f.max), 0, pop)
                .number(l.expected.map(f64::from), 0, Default::default())
                .number(l.max.map(f64::from), 0, Default::default())
                .count(l.over_expected.len(), l.over_expected.population())
                .count(l.over_max.len(), l.over_max.population());
            t.end_row();
        };
        for (label, (org, l)) in &by_org {
            if ctx.sees(*org) {
                put(&mut t, label.clone(), l);
            }
        }
        put(&mut t, ctx.region_total(), &total);
    }
    t
}

fn length_distribution(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "stage_length_distribution",
        "病期の日数の分布",
        Some("終了した病期の日数を区間ごとに数えたもの(地域全体)。"),
        &[
            ("stage", "病期", None),
            ("bin", "日数の区間", Some("日")),
            ("n", "件数", Some("件")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 1,
        value_columns: vec![2],
    });
    for key in stage_keys(rows, ctx) {
        let mut bins: Vec<Plans> = vec![Plans::default(); LENGTH_BINS.len()];
        for r in rows.iter().filter(|r| r.pathway_code == key.0) {
            let Some(s) = r.facts.stages.iter().find(|s| s.code == key.1) else {
                continue;
            };
            let Some(days) = s.length_days() else {
                continue;
            };
            if let Some(i) = LENGTH_BINS
                .iter()
                .position(|(lo, hi)| days >= *lo && days <= *hi)
            {
                bins[i].add(r.care_plan_id, s.organization == Some(ctx.viewer_org));
            }
        }
        let label = ctx.labels.stage(&key.0, &key.1);
        for ((lo, hi), p) in LENGTH_BINS.iter().zip(&bins) {
            let bin = if *hi == i64::MAX {
                format!("{lo}–")
            } else {
                format!("{lo}–{hi}")
            };
            t.text(label.clone())
                .text(bin)
                .count(p.len(), p.population());
            t.end_row();
        }
    }
    t
}

/// Waiting days of one transition, by receiving organisation label (the empty label:
/// the region).
type WaitGroup = BTreeMap<String, (Option<Uuid>, Vec<f64>, Plans)>;

fn waiting(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "waiting",
        "病期間の待機日数",
        Some(
            "前の病期の終了日から次の病期の開始日までの暦日数(東京時間、同日の転院は0日)。施設は次の病期を担った施設。",
        ),
        &[
            ("transition", "移行", None),
            ("organization", "受入施設", None),
            ("n", "件数", Some("件")),
            ("min", "最小", Some("日")),
            ("q1", "第1四分位", Some("日")),
            ("median", "中央値", Some("日")),
            ("q3", "第3四分位", Some("日")),
            ("max", "最大", Some("日")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Box,
        label_column: 1,
        value_columns: vec![3, 4, 5, 6, 7],
    });
    let mut groups: BTreeMap<(String, String, String), WaitGroup> = BTreeMap::new();
    let mut order: Vec<(String, String, String)> = Vec::new();
    for r in rows {
        let entered: Vec<_> = r
            .facts
            .stages
            .iter()
            .filter(|s| s.started_at.is_some())
            .collect();
        for pair in entered.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if ctx
                .filter
                .stage
                .as_deref()
                .is_some_and(|f| f != b.code && f != a.code)
            {
                continue;
            }
            let (Some(end), Some(start)) = (a.ended_at, b.started_at) else {
                continue;
            };
            let key = (r.pathway_code.clone(), a.code.clone(), b.code.clone());
            if !order.contains(&key) {
                order.push(key.clone());
            }
            let days = days_between(end, start).max(0) as f64;
            let own = b.organization == Some(ctx.viewer_org);
            let g = groups.entry(key).or_default();
            let label = ctx.labels.organization(b.organization, ctx.lang);
            for (lbl, org) in [(label, b.organization), (String::new(), None)] {
                let e = g
                    .entry(lbl)
                    .or_insert_with(|| (org, Vec::new(), Plans::default()));
                e.1.push(days);
                e.2.add(r.care_plan_id, own);
            }
        }
    }
    for key in order {
        let transition = format!(
            "{} → {}",
            ctx.labels.stage(&key.0, &key.1),
            ctx.labels
                .stages
                .get(&(key.0.clone(), key.2.clone()))
                .cloned()
                .unwrap_or_else(|| key.2.clone())
        );
        let Some(g) = groups.get(&key) else { continue };
        let mut entries: Vec<_> = g.iter().filter(|(l, _)| !l.is_empty()).collect();
        entries.extend(g.iter().filter(|(l, _)| l.is_empty()));
        for (label, (org, values, plans)) in entries {
            if !label.is_empty() && !ctx.sees(*org) {
                continue;
            }
            let pop = plans.population();
            let f = five_numbers(values);
            let label = if label.is_empty() {
                ctx.region_total()
            } else {
                label.clone()
            };
            t.text(transition.clone())
                .text(label)
                .count(plans.len(), pop)
                .number(f.map(|f| f.min), 0, pop)
                .number(f.map(|f| f.q1), 1, pop)
                .number(f.map(|f| f.median), 1, pop)
                .number(f.map(|f| f.q3), 1, pop)
                .number(f.map(|f| f.max), 0, pop);
            t.end_row();
        }
    }
    t
}

#[derive(Default)]
struct Answers {
    requested: Plans,
    accepted: Plans,
    declined: Plans,
    hours: Vec<f64>,
    answered: Plans,
}

fn handovers(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "handovers",
        "連携依頼への回答",
        Some(
            "受入施設ごとの連携(転院・紹介)依頼の件数、受入・辞退の件数と、依頼から回答(受入または辞退)までの時間の中央値。件数は計画(患者)の数。",
        ),
        &[
            ("organization", "受入施設", None),
            ("requested", "依頼", Some("件")),
            ("accepted", "受入", Some("件")),
            ("declined", "辞退", Some("件")),
            ("accept_rate", "受入率", Some("%")),
            ("median_hours", "回答までの時間(中央値)", Some("時間")),
        ],
    )
    .derived(4, &[1, 2])
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 0,
        value_columns: vec![2, 3],
    });
    let mut by_org: BTreeMap<String, (Uuid, Answers)> = BTreeMap::new();
    let mut total = Answers::default();
    for r in rows {
        for s in &r.facts.stages {
            if ctx.filter.stage.as_deref().is_some_and(|f| f != s.code) {
                continue;
            }
            for h in &s.handovers {
                let own = h.to_organization == ctx.viewer_org;
                let label = ctx.labels.organization(Some(h.to_organization), ctx.lang);
                let e = &mut by_org
                    .entry(label)
                    .or_insert_with(|| (h.to_organization, Answers::default()))
                    .1;
                for a in [e, &mut total] {
                    a.requested.add(r.care_plan_id, own);
                    if h.accepted() {
                        a.accepted.add(r.care_plan_id, own);
                    }
                    if h.declined() {
                        a.declined.add(r.care_plan_id, own);
                    }
                    if let Some(at) = h.answered_at
                        && (h.accepted() || h.declined())
                    {
                        a.hours
                            .push((at - h.requested_at).num_minutes() as f64 / 60.0);
                        a.answered.add(r.care_plan_id, own);
                    }
                }
            }
        }
    }
    let put = |t: &mut Table, label: String, a: &Answers| {
        let pop = a.requested.population();
        t.text(label)
            .count(a.requested.len(), pop)
            .count(a.accepted.len(), a.accepted.population())
            .count(a.declined.len(), a.declined.population())
            .number(percent(a.accepted.len(), a.requested.len()), 1, pop)
            .number(super::stats::median(&a.hours), 1, a.answered.population());
        t.end_row();
    };
    for (label, (org, a)) in &by_org {
        if ctx.sees(Some(*org)) {
            put(&mut t, label.clone(), a);
        }
    }
    put(&mut t, ctx.region_total(), &total);
    t
}

/// Longest decline reason shown (characters); a longer one is cut with `…`.
const REASON_CHARS: usize = 40;

fn decline_reasons(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "decline_reasons",
        "辞退の理由",
        Some(
            "辞退された連携依頼の理由(地域全体)。5人未満の理由は「その他(5人未満の理由)」にまとめる。多い順、累積割合つき。",
        ),
        &[
            ("reason", "理由", None),
            ("n", "件数", Some("件")),
            ("cumulative", "累積割合", Some("%")),
        ],
    )
    .chart(ChartSpec {
        kind: ChartKind::Pareto,
        label_column: 0,
        value_columns: vec![1],
    });
    let mut reasons: BTreeMap<String, (u64, Plans)> = BTreeMap::new();
    for r in rows {
        for s in &r.facts.stages {
            if ctx.filter.stage.as_deref().is_some_and(|f| f != s.code) {
                continue;
            }
            for h in s.handovers.iter().filter(|h| h.declined()) {
                let text = h.decline_reason.as_deref().unwrap_or("").trim();
                let mut label: String = text.chars().take(REASON_CHARS).collect();
                if text.chars().count() > REASON_CHARS {
                    label.push('…');
                }
                let e = reasons.entry(label).or_default();
                e.0 += 1;
                e.1.add(r.care_plan_id, h.to_organization == ctx.viewer_org);
            }
        }
    }
    let mut shown: Vec<(String, u64, Plans)> = Vec::new();
    let mut other: (u64, Plans) = (0, Plans::default());
    for (label, (n, plans)) in reasons {
        if plans.population().suppressed() {
            other.0 += n;
            for id in plans_ids(&plans) {
                other.1.add(id, false);
            }
        } else {
            shown.push((label, n, plans));
        }
    }
    shown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if other.0 > 0 {
        shown.push((ctx.t("その他(5人未満の理由)"), other.0, other.1));
    }
    let total: u64 = shown.iter().map(|s| s.1).sum();
    let mut running = 0;
    for (label, n, plans) in shown {
        running += n;
        let pop = plans.population();
        t.text(label)
            .count(n, pop)
            .number(percent(running, total), 1, Default::default());
        t.end_row();
    }
    t
}

fn plans_ids(p: &Plans) -> Vec<Uuid> {
    p.ids().collect()
}

#[derive(Default)]
struct Reports {
    due: Plans,
    sent: Plans,
    late: Plans,
    overdue: Plans,
    days_late: Vec<f64>,
}

fn report_back(rows: &[&ReportFactsRow], ctx: &FoldContext<'_>) -> Table {
    let mut t = Table::new(
        ctx,
        "report_back",
        "返書",
        Some(
            "病期を担った施設ごとの、終了した病期の返書の件数、送付数・送付率、期限後の送付と未送付の期限超過、遅れた日数の中央値(送付日−期限、暦日)。",
        ),
        &[
            ("organization", "施設", None),
            ("due", "返書の対象", Some("件")),
            ("sent", "送付済み", Some("件")),
            ("rate", "送付率", Some("%")),
            ("late", "期限後の送付", Some("件")),
            ("overdue", "未送付・期限超過", Some("件")),
            ("median_days_late", "遅れ(中央値)", Some("日")),
        ],
    )
    .derived(3, &[1, 2])
    .chart(ChartSpec {
        kind: ChartKind::Bar,
        label_column: 0,
        value_columns: vec![3],
    });
    let mut by_org: BTreeMap<String, (Option<Uuid>, Reports)> = BTreeMap::new();
    let mut total = Reports::default();
    for r in rows {
        for s in &r.facts.stages {
            if ctx.filter.stage.as_deref().is_some_and(|f| f != s.code) {
                continue;
            }
            let Some(due) = s.report_due_at else { continue };
            let own = s.organization == Some(ctx.viewer_org);
            let label = ctx.labels.organization(s.organization, ctx.lang);
            let e = &mut by_org
                .entry(label)
                .or_insert_with(|| (s.organization, Reports::default()))
                .1;
            for a in [e, &mut total] {
                a.due.add(r.care_plan_id, own);
                match s.report_sent_at {
                    Some(sent) => {
                        a.sent.add(r.care_plan_id, own);
                        if sent > due {
                            a.late.add(r.care_plan_id, own);
                            a.days_late.push(days_between(due, sent) as f64);
                        }
                    }
                    None if ctx.now > due => a.overdue.add(r.care_plan_id, own),
                    None => {}
                }
            }
        }
    }
    let put = |t: &mut Table, label: String, a: &Reports| {
        let pop = a.due.population();
        t.text(label)
            .count(a.due.len(), pop)
            .count(a.sent.len(), a.sent.population())
            .number(percent(a.sent.len(), a.due.len()), 1, pop)
            .count(a.late.len(), a.late.population())
            .count(a.overdue.len(), a.overdue.population())
            .number(super::stats::median(&a.days_late), 1, a.late.population());
        t.end_row();
    };
    for (label, (org, a)) in &by_org {
        if ctx.sees(*org) {
            put(&mut t, label.clone(), a);
        }
    }
    put(&mut t, ctx.region_total(), &total);
    t
}

#[cfg(test)]
mod tests {
    use super::super::facts::ReportFactsRow;
    use super::super::filter::ReportFilter;
    use super::super::report::{ReportCell, ReportKind, ReportSection};
    use super::super::report_page;
    use super::super::stats::median;
    use super::super::testing::*;
    use crate::wording::Lang;
    use proptest::prelude::*;

    fn section<'a>(sections: &'a [ReportSection], key: &str) -> &'a ReportSection {
        sections.iter().find(|s| s.key == key).expect(key)
    }

    fn row_of<'a>(s: &'a ReportSection, label: &str) -> Option<&'a Vec<ReportCell>> {
        s.rows
            .iter()
            .find(|r| r.iter().any(|c| *c == ReportCell::Text(label.into())))
    }

    /// Six plans of H001 (acute) handed to H002 (recovery), one without statistics
    /// consent; two plans of H003.
    fn region() -> Vec<ReportFactsRow> {
        let (a, r, c) = (org(1), org(2), org(3));
        let mut rows = Vec::new();
        for (i, len) in [10i64, 14, 20, 25, 30, 12].into_iter().enumerate() {
            let mut acute = stage("acute", a, i as i64, Some(len));
            let mut rec = stage(
                "recovery",
                r,
                i as i64 + len + 1,
                i.is_multiple_of(2).then_some(60),
            );
            rec.handovers
                .push(handover(r, i as i64 + len - 3, "completed", Some(5), None));
            acute.report_due_at = None;
            rec.report_due_at = rec.ended_at.map(|e| e + chrono::Duration::days(30));
            rec.report_sent_at = rec.report_due_at.filter(|_| i != 0);
            let status = if i < 3 { "completed" } else { "active" };
            rows.push(plan(i as u128, a, status, i != 5, vec![acute, rec]));
        }
        for i in 10..12 {
            let acute = stage("acute", c, i, Some(7));
            rows.push(plan(i as u128, c, "withdrawn", true, vec![acute]));
        }
        rows
    }

    #[test]
    fn the_council_sees_every_organisation_and_the_counts_match_the_plans() {
        let rows = region();
        let filter = ReportFilter::default();
        let labels = labels();
        let page = report_page(
            ReportKind::Flow,
            &rows,
            &ctx(org(4), true, &filter, &labels),
        );
        assert_eq!(page.counted_plans, 7);
        assert_eq!(page.excluded_without_consent, 1);
        let plans = section(&page.sections, "plans");
        let h1 = row_of(plans, "H001 病院1").expect("H001 row");
        // H003's two plans are suppressed (below); the total 7 less H001's 5 would give
        // them back, so H001's 5, the next-smallest row, is withheld too.
        assert_eq!(h1[1], ReportCell::Withheld);
        // Three completed: fewer than 5 patients, suppressed even for the council.
        assert_eq!(h1[3], ReportCell::Suppressed);
        // Two withdrawn plans of H003: fewer than 5 patients of another organisation.
        let h3 = row_of(plans, "H003 病院3").expect("H003 row");
        assert_eq!(h3[1], ReportCell::Suppressed);
        let total = row_of(plans, "地域全体").expect("total");
        assert_eq!(total[1], ReportCell::Count(7));
        let lengths = section(&page.sections, "stage_length");
        let acute_h1 = lengths
            .rows
            .iter()
            .find(|r| r[1] == ReportCell::Text("H001 病院1".into()))
            .expect("acute H001");
        // Consenting H001 acute stays: 10, 14, 20, 25, 30 days; their number is
        // withheld beside H003's two for the same reason as above, the median shown.
        assert_eq!(acute_h1[2], ReportCell::Withheld);
        assert_eq!(
            acute_h1[5],
            ReportCell::Number {
                value: 20.0,
                decimals: 1
            }
        );
        assert_eq!(acute_h1[10], ReportCell::Suppressed);
        assert!(page.suppressed_cells > 0);
    }

    #[test]
    fn another_organisation_sees_its_own_rows_and_the_region_totals_only() {
        let rows = region();
        let filter = ReportFilter::default();
        let labels = labels();
        let page = report_page(
            ReportKind::Flow,
            &rows,
            &ctx(org(3), false, &filter, &labels),
        );
        let plans = section(&page.sections, "plans");
        assert!(row_of(plans, "H001 病院1").is_none());
        // Its own two plans are not suppressed for itself.
        let own = row_of(plans, "H003 病院3").expect("own row");
        assert_eq!(own[1], ReportCell::Count(2));
        assert_eq!(own[4], ReportCell::Count(2));
        let total = row_of(plans, "地域全体").expect("total");
        assert_eq!(total[1], ReportCell::Count(7));
    }

    #[test]
    fn every_word_of_the_flow_report_has_its_english() {
        let rows = region();
        let filter = ReportFilter::default();
        let labels = labels();
        let mut c = ctx(org(4), true, &filter, &labels);
        c.lang = Lang::En;
        let page = report_page(ReportKind::Flow, &rows, &c);
        for s in &page.sections {
            assert!(s.title.is_ascii(), "{}", s.title);
            assert!(
                s.definition.as_deref().is_none_or(str::is_ascii),
                "{:?}",
                s.definition
            );
            for col in &s.columns {
                assert!(col.label.is_ascii(), "{}", col.label);
                assert!(
                    col.unit.as_deref().is_none_or(str::is_ascii),
                    "{:?}",
                    col.unit
                );
            }
        }
    }

    /// Generated plans: (planner 1..=3, status, consent, acute length, recovery
    /// length, hand-over state).
    fn plans_strategy() -> impl Strategy<Value = Vec<ReportFactsRow>> {
        proptest::collection::vec(
            (
                1u128..=3,
                0usize..3,
                any::<bool>(),
                proptest::option::of(1i64..60),
                proptest::option::of(1i64..200),
                0usize..4,
            ),
            0..40,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (planner, status, consent, acute_len, rec_len, ho))| {
                    let status = ["active", "completed", "withdrawn"][status];
                    let acute = stage("acute", org(planner), i as i64, acute_len);
                    let mut stages = vec![acute];
                    if let Some(al) = acute_len {
                        let mut rec = stage("recovery", org(2), i as i64 + al + 2, rec_len);
                        let state = ["proposed", "accepted", "declined", "completed"][ho];
                        rec.handovers.push(handover(
                            org(2),
                            i as i64 + al,
                            state,
                            (ho > 0).then_some(i as i64 + 1),
                            (ho == 2).then_some("満床"),
                        ));
                        stages.push(rec);
                    }
                    plan(i as u128, org(planner), status, consent, stages)
                })
                .collect()
        })
    }

    /// Fails when a block of a section (organisation rows closed by a region total)
    /// has a count column in which a small cell is the only value not shown.
    fn no_line_solvable(s: &ReportSection) -> Result<(), TestCaseError> {
        let is_total =
            |r: &Vec<ReportCell>| r.iter().any(|c| *c == ReportCell::Text("地域全体".into()));
        let mut block: Vec<&Vec<ReportCell>> = Vec::new();
        for r in &s.rows {
            if !is_total(r) {
                block.push(r);
                continue;
            }
            for col in 0..s.columns.len() {
                let cells: Vec<&ReportCell> = block
                    .iter()
                    .chain(std::iter::once(&r))
                    .filter_map(|x| x.get(col))
                    .collect();
                let counts = cells.iter().all(|c| {
                    matches!(
                        c,
                        ReportCell::Count(_) | ReportCell::Suppressed | ReportCell::Withheld
                    )
                });
                if !counts {
                    continue;
                }
                let hidden: Vec<&&ReportCell> = cells
                    .iter()
                    .filter(|c| !matches!(c, ReportCell::Count(_)))
                    .collect();
                prop_assert!(
                    !(hidden.len() == 1 && *hidden[0] == &ReportCell::Suppressed),
                    "{} column {}: {:?}",
                    s.key,
                    col,
                    cells
                );
            }
            block.clear();
        }
        Ok(())
    }

    proptest! {
        /// The figures of the council's view equal a naive recount over the generated
        /// plans.
        #[test]
        fn the_flow_figures_equal_a_naive_recount(rows in plans_strategy()) {
            let filter = ReportFilter::default();
            let labels = labels();
            let page = report_page(ReportKind::Flow, &rows, &ctx(org(4), true, &filter, &labels));
            let counted: Vec<&ReportFactsRow> = rows.iter().filter(|r| r.statistics_consent).collect();
            prop_assert_eq!(page.counted_plans, counted.len() as u64);
            prop_assert_eq!(page.excluded_without_consent, (rows.len() - counted.len()) as u64);
            let shown = |n: u64| if n > 0 && n < 5 { ReportCell::Suppressed } else { ReportCell::Count(n) };
            let total = row_of(section(&page.sections, "plans"), "地域全体").unwrap().clone();
            prop_assert_eq!(&total[1], &shown(counted.len() as u64));
            for (i, status) in [(2, "active"), (3, "completed"), (4, "withdrawn")] {
                let n = counted.iter().filter(|r| r.status == status).count() as u64;
                prop_assert_eq!(&total[i], &shown(n));
            }
            // Acute lengths over the region: the median, recomputed.
            let lengths: Vec<f64> = counted
                .iter()
                .filter_map(|r| r.facts.stages.iter().find(|s| s.code == "acute"))
                .filter_map(|s| Some((s.ended_at? - s.started_at?).num_days() as f64 + 1.0))
                .collect();
            let acute_total = section(&page.sections, "stage_length")
                .rows
                .iter()
                .find(|r| r[0] == ReportCell::Text("脳卒中 · 急性期".into()) && r[1] == ReportCell::Text("地域全体".into()))
                .cloned();
            if let Some(row) = acute_total {
                prop_assert_eq!(&row[2], &shown(lengths.len() as u64));
                if lengths.len() >= 5 {
                    let m = median(&lengths).unwrap();
                    prop_assert_eq!(&row[5], &ReportCell::Number { value: m, decimals: 1 });
                }
            }
            // Hand-overs requested and declined, region total.
            let requested = counted.iter().filter(|r| r.facts.stages.iter().any(|s| !s.handovers.is_empty())).count() as u64;
            let declined = counted.iter().filter(|r| r.facts.stages.iter().flat_map(|s| &s.handovers).any(|h| h.state == "declined")).count() as u64;
            let ho = row_of(section(&page.sections, "handovers"), "地域全体").unwrap().clone();
            prop_assert_eq!(&ho[1], &shown(requested));
            if requested >= 5 {
                prop_assert_eq!(&ho[3], &shown(declined));
            }
            // No small count can be solved for from its block: the organisation rows
            // and their region total.
            for s in &page.sections {
                no_line_solvable(s)?;
            }
            // An organisation sees its own rows and the totals: the total less its own
            // plans (the other planners') is never shown below 5.
            let own_view = report_page(ReportKind::Flow, &rows, &ctx(org(1), false, &filter, &labels));
            let plans = section(&own_view.sections, "plans");
            let total = row_of(plans, "地域全体").unwrap();
            let others = counted.iter().filter(|r| r.planner_organization_id != org(1)).count() as u64;
            let mine = counted.len() as u64 - others;
            if let ReportCell::Count(t) = total[1] {
                prop_assert!(others == 0 || others >= 5, "total {} shown with {} of other planners", t, others);
                prop_assert_eq!(t, mine + others);
            }
            // Every shown count is 0 or at least 5 (no viewer's own plans here).
            for s in &page.sections {
                for r in &s.rows {
                    for c in r {
                        if let ReportCell::Count(n) = c {
                            prop_assert!(*n == 0 || *n >= 5, "{} {:?}", s.key, r);
                        }
                    }
                }
            }
        }
    }
}
