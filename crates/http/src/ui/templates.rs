//! S8 — the pathway template browser: every published pathway with its versions (and
//! the number of active plans on each), one version in full (stages with their periods
//! and criteria, goals in words, entry items per stage), and the difference between two
//! versions grouped by section, marked 追加 / 削除 / 変更 with a symbol.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_domain::Rule;
use renkei_domain::diff::{Changes, diff};
use renkei_domain::template::{
    Comparator, GoalTarget, Item, ItemType, PathwayTemplate, Pick, StageMoment,
};
use renkei_service::ServiceError;
use serde::Deserialize;

use super::fmt;
use super::{Nav, Shell, Ui, UiError, UiResult, page};
use crate::state::AppState;

// ------------------------------------------------------------------ words

fn op_ja(op: Comparator) -> &'static str {
    match op {
        Comparator::Lt => "未満",
        Comparator::Le => "以下",
        Comparator::Gt => "を超える",
        Comparator::Ge => "以上",
        Comparator::Eq => "と等しい",
    }
}

/// A goal's target in words: 「急性期の日数が 21日以下」.
pub fn target_words(t: &PathwayTemplate, target: &GoalTarget) -> String {
    let item = |c: &str| fmt::item_title(Some(t), c);
    let stage = |c: &str| fmt::stage_title(Some(t), c);
    match target {
        GoalTarget::Threshold { item: i, op, value } => {
            let unit = t
                .item(i)
                .and_then(|x| x.unit.as_deref())
                .map(fmt::unit)
                .unwrap_or_default();
            format!("{} {}{unit}{}", item(i), fmt::num(*value), op_ja(*op))
        }
        GoalTarget::Range { item: i, min, max } => {
            format!("{} {}以上 {}未満", item(i), fmt::num(*min), fmt::num(*max))
        }
        GoalTarget::Change {
            from,
            to,
            op,
            value,
        } => {
            let pick = |p: Pick| match p {
                Pick::First => "の最初",
                Pick::Last => "の最後",
            };
            format!(
                "{}の変化({}{}→{}{})が {}{}",
                item(&to.item),
                stage(&from.stage),
                pick(from.pick),
                stage(&to.stage),
                pick(to.pick),
                fmt::num(*value),
                op_ja(*op)
            )
        }
        GoalTarget::Membership { item: i, values } => {
            let names: Vec<String> = values
                .iter()
                .map(|v| fmt::value_text(Some(t), i, &serde_json::Value::String(v.clone())))
                .collect();
            format!("{}が {} のいずれか", item(i), names.join("・"))
        }
        GoalTarget::StageLength { stage: s, op, days } => {
            format!("{}の日数が {days}日{}", stage(s), op_ja(*op))
        }
        GoalTarget::TimeBetween {
            from_item,
            to_item,
            max_hours,
        } => format!(
            "{}から{}まで {max_hours}時間以内",
            item(from_item),
            item(to_item)
        ),
        GoalTarget::DoneWithin { item: i, months } => {
            format!("{}を {months}か月ごとに実施", item(i))
        }
        GoalTarget::DaysBetween {
            from_item,
            to_item,
            op,
            days,
        } => format!(
            "{}の日を0日目として{}まで {days}日{}",
            item(from_item),
            item(to_item),
            op_ja(*op)
        ),
    }
}

fn due_words(t: &PathwayTemplate, g: &renkei_domain::template::Goal) -> String {
    let Some(d) = &g.due else {
        return "随時".to_owned();
    };
    let at = match d.at {
        StageMoment::Start => "開始",
        StageMoment::End => "終了",
    };
    let mut s = format!("{}の{at}", fmt::stage_title(Some(t), &d.stage));
    if d.months > 0 {
        s.push_str(&format!("から{}か月", d.months));
    }
    if d.days > 0 {
        s.push_str(&format!("から{}日", d.days));
    }
    if d.days == 0 && d.months == 0 {
        s.push('時');
    }
    s
}

fn type_ja(t: ItemType) -> &'static str {
    match t {
        ItemType::Integer => "整数",
        ItemType::Decimal => "数値",
        ItemType::Boolean => "はい/いいえ",
        ItemType::Choice => "選択",
        ItemType::Date => "日付",
        ItemType::Datetime => "日時",
        ItemType::Text => "文章",
        ItemType::Composite => "合計(自動計算)",
    }
}

/// `整数 0〜42`, `選択: 自宅・施設`, `数値 3〜20 %`.
fn item_spec(t: &PathwayTemplate, i: &Item) -> String {
    let mut s = type_ja(i.item_type).to_owned();
    if let Some(r) = fmt::range_hint(t, &i.code) {
        s.push(' ');
        s.push_str(&r);
    } else if let Some(u) = &i.unit {
        s.push(' ');
        s.push_str(&fmt::unit(u));
    }
    if let Some(opts) = &i.options {
        let names: Vec<&str> = opts.iter().map(|o| o.title.ja.as_str()).collect();
        s.push_str(&format!(": {}", names.join("・")));
    }
    if let Some(c) = &i.components {
        s.push_str(&format!("({}項目の合計)", c.len()));
    }
    s
}

fn days_words(expected: Option<u32>, max: Option<u32>) -> String {
    match (expected, max) {
        (Some(e), Some(m)) => format!("標準 {e}日・上限 {m}日"),
        (Some(e), None) => format!("標準 {e}日"),
        (None, Some(m)) => format!("上限 {m}日"),
        (None, None) => "定めなし".to_owned(),
    }
}

fn template_of(state: &AppState, code: &str, version: u32) -> Result<PathwayTemplate, UiError> {
    state
        .services
        .pathways
        .find(code, version)
        .map(|p| p.template.clone())
        .ok_or(UiError(ServiceError::NotFound("pathway version")))
}

// ------------------------------------------------------------------ list

pub struct VersionRow {
    pub url: String,
    pub version: u32,
    pub current: bool,
    pub active_plans: u64,
    pub stages: usize,
    pub items: usize,
    pub goals: usize,
}

pub struct PathwayRow {
    pub code: String,
    pub title: String,
    pub description: String,
    pub current: u32,
    pub versions: Vec<VersionRow>,
    /// `/pathways/{code}/diff?from=…&to=…` between the last two versions.
    pub diff_url: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/pathways.html")]
pub struct ListPage {
    pub shell: Shell,
    pub rows: Vec<PathwayRow>,
}

pub async fn list_page(State(state): State<AppState>, ui: Ui) -> UiResult {
    let counts = renkei_service::admin::active_plans_per_version(&state.services.read_db).await?;
    let mut rows: Vec<PathwayRow> = Vec::new();
    for p in state.services.pathways.all() {
        let t = &p.template;
        let v = VersionRow {
            url: format!("/pathways/{}/{}", t.code, t.version),
            version: t.version,
            current: false,
            active_plans: counts.get(&p.id).copied().unwrap_or(0),
            stages: t.stages.len(),
            items: t.items.len(),
            goals: t.goals.len(),
        };
        match rows.last_mut() {
            Some(r) if r.code == t.code => {
                r.current = t.version;
                r.title = t.title.ja.clone();
                r.description = t.description.clone();
                r.versions.push(v);
            }
            _ => rows.push(PathwayRow {
                code: t.code.clone(),
                title: t.title.ja.clone(),
                description: t.description.clone(),
                current: t.version,
                versions: vec![v],
                diff_url: None,
            }),
        }
    }
    for r in &mut rows {
        let current = r.current;
        for v in &mut r.versions {
            v.current = v.version == current;
        }
        if r.versions.len() > 1 {
            let prev = r.versions[r.versions.len() - 2].version;
            r.diff_url = Some(format!(
                "/pathways/{}/diff?from={prev}&to={current}",
                r.code
            ));
        }
        // Newest first.
        r.versions.reverse();
    }
    Ok(page(
        StatusCode::OK,
        &ListPage {
            shell: ui.shell("パステンプレート", Nav::Pathways),
            rows,
        },
    ))
}

// ------------------------------------------------------------------ one version

pub struct StageView {
    pub order: usize,
    pub title: String,
    pub days: String,
    pub providers: String,
    pub criteria: String,
    pub items: Vec<ItemView>,
}

pub struct ItemView {
    pub title: String,
    pub spec: String,
    pub required: String,
}

pub struct GoalView {
    pub title: String,
    pub target: String,
    pub due: String,
}

#[derive(Template)]
#[template(path = "ui/pathway.html")]
pub struct DetailPage {
    pub shell: Shell,
    pub title: String,
    pub code: String,
    pub version: u32,
    pub latest: u32,
    pub description: String,
    pub stages: Vec<StageView>,
    pub goals: Vec<GoalView>,
    pub variances: Vec<(String, String)>,
    pub schedule: Vec<(String, String)>,
    pub versions: Vec<(u32, String)>,
    pub diff_url: Option<String>,
    /// The variants: title, when it applies, and what it changes (each in words).
    pub variants: Vec<(String, String, Vec<String>)>,
}

/// What a variant changes, in words: the stage lengths and goals it overrides and what
/// applies to it only.
fn variant_changes(t: &PathwayTemplate, code: &str) -> Vec<String> {
    let Some(v) = t.variant(code) else {
        return Vec::new();
    };
    let resolved = t.for_variant(code);
    let mut out = Vec::new();
    for s in &t.stages {
        if v.stages.contains_key(&s.code) {
            let r = resolved.as_ref().and_then(|r| r.stage(&s.code));
            out.push(format!(
                "{}: {}",
                s.title.ja,
                days_words(r.and_then(|r| r.expected_days), r.and_then(|r| r.max_days))
            ));
        }
        if !s.variants.is_empty() && s.variants.iter().any(|x| x == code) {
            out.push(format!("病期「{}」はこの種類のみ", s.title.ja));
        }
    }
    for g in &t.goals {
        if v.goals.contains_key(&g.code) {
            let title = resolved
                .as_ref()
                .and_then(|r| r.goals.iter().find(|x| x.code == g.code))
                .map_or(&g.title.ja, |x| &x.title.ja);
            out.push(format!("目標: {title}"));
        }
        if !g.variants.is_empty() && g.variants.iter().any(|x| x == code) {
            out.push(format!("目標「{}」はこの種類のみ", g.title.ja));
        }
    }
    for i in &t.items {
        if !i.variants.is_empty() && i.variants.iter().any(|x| x == code) {
            out.push(format!("記録項目「{}」はこの種類のみ", i.title.ja));
        }
    }
    if out.is_empty() {
        out.push("期間・目標の違いはありません(種類を記録します)".to_owned());
    }
    out
}

fn provider_ja(t: &PathwayTemplate, stage: &renkei_domain::template::Stage) -> String {
    let _ = t;
    stage
        .provider_kinds
        .iter()
        .map(|k| {
            match serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref()
            {
                Some("acute_hosp") => "急性期病院",
                Some("recovery_hosp") => "回復期リハビリテーション病院",
                Some("clinic") => "かかりつけ医",
                Some("specialist") => "専門医療機関",
                Some("visit_nurse") => "訪問看護",
                Some("care_manager") => "ケアマネジャー",
                Some("care_facility") => "介護施設",
                Some("dentist") => "歯科",
                Some("ophthal") => "眼科",
                Some("pharmacy") => "薬局",
                _ => "その他",
            }
        })
        .collect::<Vec<_>>()
        .join("・")
}

pub async fn detail_page(
    State(state): State<AppState>,
    ui: Ui,
    Path((code, version)): Path<(String, String)>,
) -> UiResult {
    let version: u32 = version
        .trim_start_matches('v')
        .parse()
        .map_err(|_| UiError(ServiceError::NotFound("pathway version")))?;
    let t = template_of(&state, &code, version)?;
    let stages = t
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| StageView {
            order: i + 1,
            title: s.title.ja.clone(),
            days: days_words(s.expected_days, s.max_days),
            providers: provider_ja(&t, s),
            criteria: s.exit_criteria.clone().unwrap_or_default(),
            items: t
                .items
                .iter()
                .filter(|i| i.stages.contains(&s.code))
                .map(|i| ItemView {
                    title: i.title.ja.clone(),
                    spec: item_spec(&t, i),
                    required: match (
                        i.required_at_start.contains(&s.code),
                        i.required_at_end.contains(&s.code),
                    ) {
                        (true, true) => "開始時・終了時に必須".to_owned(),
                        (true, false) => "開始時に必須".to_owned(),
                        (false, true) => "終了時に必須".to_owned(),
                        (false, false) => "任意".to_owned(),
                    },
                })
                .collect(),
        })
        .collect();
    let goals = t
        .goals
        .iter()
        .map(|g| GoalView {
            title: g.title.ja.clone(),
            target: target_words(&t, &g.target),
            due: due_words(&t, g),
        })
        .collect();
    let variances = t
        .variances
        .iter()
        .map(|v| (v.code.clone(), v.title.ja.clone()))
        .collect();
    let schedule = t
        .schedule
        .iter()
        .map(|r| {
            (
                r.title.ja.clone(),
                format!("{}日ごと(猶予 {}日)", r.interval_days, r.grace_days),
            )
        })
        .collect();
    let versions: Vec<(u32, String)> = state
        .services
        .pathways
        .all()
        .filter(|p| p.template.code == code)
        .map(|p| {
            (
                p.template.version,
                format!("/pathways/{code}/{}", p.template.version),
            )
        })
        .collect();
    let latest = versions.last().map(|v| v.0).unwrap_or(version);
    let diff_url = versions
        .iter()
        .rev()
        .find(|v| v.0 < version)
        .map(|prev| format!("/pathways/{code}/diff?from={}&to={version}", prev.0));
    Ok(page(
        StatusCode::OK,
        &DetailPage {
            shell: ui.shell(format!("{} 第{version}版", t.title.ja), Nav::Pathways),
            title: t.title.ja.clone(),
            code: t.code.clone(),
            version,
            latest,
            description: t.description.clone(),
            stages,
            goals,
            variances,
            schedule,
            versions,
            diff_url,
            variants: t
                .variants
                .iter()
                .map(|v| {
                    (
                        v.title.ja.clone(),
                        v.description.clone(),
                        variant_changes(&t, &v.code),
                    )
                })
                .collect(),
        },
    ))
}

// ------------------------------------------------------------------ diff

#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

pub struct DiffRow {
    /// `+`, `−`, `~`: a symbol next to the word, never colour alone.
    pub symbol: &'static str,
    /// 追加 / 削除 / 変更.
    pub word: &'static str,
    pub class: &'static str,
    pub title: String,
    pub code: String,
    /// What changed, `old → new` lines.
    pub details: Vec<String>,
}

pub struct DiffSection {
    pub title: &'static str,
    pub rows: Vec<DiffRow>,
}

#[derive(Template)]
#[template(path = "ui/pathway_diff.html")]
pub struct DiffPage {
    pub shell: Shell,
    pub title: String,
    pub code: String,
    pub from: u32,
    pub to: u32,
    pub sections: Vec<DiffSection>,
    pub versions: Vec<u32>,
}

fn row(symbol: &'static str, word: &'static str, class: &'static str) -> DiffRow {
    DiffRow {
        symbol,
        word,
        class,
        title: String::new(),
        code: String::new(),
        details: Vec::new(),
    }
}

fn changed_line(label: &str, old: String, new: String) -> Option<String> {
    (old != new).then(|| format!("{label}: {old} → {new}"))
}

/// Section rows: added, removed and changed codes of one section, with `describe`
/// naming an entry and `changes` listing what changed between its old and new form.
fn section<T>(
    title: &'static str,
    c: &Changes,
    old: &[T],
    new: &[T],
    code_of: impl Fn(&T) -> &str,
    name_of: impl Fn(&T) -> String,
    changes: impl Fn(&T, &T) -> Vec<String>,
) -> DiffSection {
    let find = |list: &'_ [T], code: &str| list.iter().position(|x| code_of(x) == code);
    let mut rows = Vec::new();
    for code in &c.added {
        let mut r = row("+", "追加", "ok");
        r.code = code.clone();
        r.title = find(new, code)
            .map(|i| name_of(&new[i]))
            .unwrap_or_default();
        rows.push(r);
    }
    for code in &c.removed {
        let mut r = row("−", "削除", "bad");
        r.code = code.clone();
        r.title = find(old, code)
            .map(|i| name_of(&old[i]))
            .unwrap_or_default();
        rows.push(r);
    }
    for code in &c.changed {
        let mut r = row("~", "変更", "warn");
        r.code = code.clone();
        if let (Some(o), Some(n)) = (find(old, code), find(new, code)) {
            r.title = name_of(&new[n]);
            r.details = changes(&old[o], &new[n]);
        }
        if r.details.is_empty() {
            r.details.push("内容の変更".to_owned());
        }
        rows.push(r);
    }
    DiffSection { title, rows }
}

pub async fn diff_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(code): Path<String>,
    Query(q): Query<DiffQuery>,
) -> UiResult {
    let versions: Vec<u32> = state
        .services
        .pathways
        .all()
        .filter(|p| p.template.code == code)
        .map(|p| p.template.version)
        .collect();
    if versions.is_empty() {
        return Err(UiError(ServiceError::NotFound("pathway")));
    }
    let bad = || {
        UiError(ServiceError::field(
            "version",
            Rule::Unknown,
            "比較する版を正しく指定してください",
        ))
    };
    let latest = *versions.last().unwrap_or(&1);
    let to: u32 = if q.to.trim().is_empty() {
        latest
    } else {
        q.to.trim().parse().map_err(|_| bad())?
    };
    let from: u32 = if q.from.trim().is_empty() {
        versions
            .iter()
            .rev()
            .find(|v| **v < to)
            .copied()
            .unwrap_or(to)
    } else {
        q.from.trim().parse().map_err(|_| bad())?
    };
    let old = template_of(&state, &code, from)?;
    let new = template_of(&state, &code, to)?;
    let d = diff(&old, &new);
    let sections = vec![
        section(
            "病期",
            &d.stages,
            &old.stages,
            &new.stages,
            |s| &s.code,
            |s| s.title.ja.clone(),
            |a, b| {
                [
                    changed_line("名称", a.title.ja.clone(), b.title.ja.clone()),
                    changed_line(
                        "期間",
                        days_words(a.expected_days, a.max_days),
                        days_words(b.expected_days, b.max_days),
                    ),
                    changed_line("担当", provider_ja(&old, a), provider_ja(&new, b)),
                    changed_line(
                        "転院・退院基準",
                        a.exit_criteria.clone().unwrap_or_default(),
                        b.exit_criteria.clone().unwrap_or_default(),
                    ),
                ]
                .into_iter()
                .flatten()
                .collect()
            },
        ),
        section(
            "記録項目",
            &d.items,
            &old.items,
            &new.items,
            |i| &i.code,
            |i| i.title.ja.clone(),
            |a, b| {
                [
                    changed_line("名称", a.title.ja.clone(), b.title.ja.clone()),
                    changed_line("型・範囲", item_spec(&old, a), item_spec(&new, b)),
                    changed_line(
                        "記録する病期",
                        a.stages
                            .iter()
                            .map(|s| fmt::stage_title(Some(&old), s))
                            .collect::<Vec<_>>()
                            .join("・"),
                        b.stages
                            .iter()
                            .map(|s| fmt::stage_title(Some(&new), s))
                            .collect::<Vec<_>>()
                            .join("・"),
                    ),
                ]
                .into_iter()
                .flatten()
                .collect()
            },
        ),
        section(
            "目標",
            &d.goals,
            &old.goals,
            &new.goals,
            |g| &g.code,
            |g| g.title.ja.clone(),
            |a, b| {
                [
                    changed_line("名称", a.title.ja.clone(), b.title.ja.clone()),
                    changed_line(
                        "目標値",
                        target_words(&old, &a.target),
                        target_words(&new, &b.target),
                    ),
                    changed_line("評価時期", due_words(&old, a), due_words(&new, b)),
                ]
                .into_iter()
                .flatten()
                .collect()
            },
        ),
        section(
            "バリアンス分類",
            &d.variances,
            &old.variances,
            &new.variances,
            |v| &v.code,
            |v| v.title.ja.clone(),
            |a, b| {
                changed_line("名称", a.title.ja.clone(), b.title.ja.clone())
                    .into_iter()
                    .collect()
            },
        ),
        section(
            "定期受診・検査",
            &d.schedule,
            &old.schedule,
            &new.schedule,
            |r| &r.code,
            |r| r.title.ja.clone(),
            |a, b| {
                [
                    changed_line("名称", a.title.ja.clone(), b.title.ja.clone()),
                    changed_line(
                        "間隔",
                        format!("{}日", a.interval_days),
                        format!("{}日", b.interval_days),
                    ),
                    changed_line(
                        "猶予",
                        format!("{}日", a.grace_days),
                        format!("{}日", b.grace_days),
                    ),
                ]
                .into_iter()
                .flatten()
                .collect()
            },
        ),
    ];
    Ok(page(
        StatusCode::OK,
        &DiffPage {
            shell: ui.shell(
                format!("{} 第{from}版→第{to}版の変更点", new.title.ja),
                Nav::Pathways,
            ),
            title: new.title.ja.clone(),
            code,
            from,
            to,
            sections,
            versions,
        },
    ))
}
