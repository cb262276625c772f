//! S5 — entry forms generated from the plan's pinned template version: the right control
//! per item type with units and ranges, the FIM grid (18 items 1–7, grouped, previous
//! score per row) and the Barthel grid, variance with a code picker, notes, stage start
//! and end, amendments with a reason. One form holds every sheet of the event
//! (評価・検査値, FIM, バーセル): `/static/form.js` shows one sheet at a time, and without
//! it the tabs send the form back to be shown again with every value kept. Every error at
//! once, beside its field and in the summary (a partly filled FIM names its missing rows);
//! the previous stage's carried-over values prefilled and marked 前回値; a review step
//! (totals computed by the server) before 確定; a hidden per-form idempotency key so a
//! double click or a resubmit appends one entry only.
//!
//! The review step asks the service's `check_entry`, the append's own checks without the
//! write; 確定 goes through `append_entry` like the JSON API, with the form's key as its
//! `Idempotency-Key`.

use renkei_domain::Rule;
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use renkei_domain::FieldError;
use renkei_domain::entry::{EntryKind, VarianceInput};
use renkei_domain::template::{Item, ItemType, PathwayTemplate};
use renkei_service::ServiceError;
use renkei_service::plans::{AppendEntry, CarePlan, Entry, Idempotency};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::fmt;
use super::views::{self, Banner};
use super::wareki;
use super::{Nav, Posted, Shell, Ui, UiResult, explain, new_form_key, page, parse_uuid, see_other};
use crate::state::AppState;

/// The FIM items by group (ui.md §5 S5; domain.md §2.3).
const FIM_GROUPS: [(&str, &[&str]); 6] = [
    (
        "セルフケア",
        &[
            "fim_eating",
            "fim_grooming",
            "fim_bathing",
            "fim_dressing_upper",
            "fim_dressing_lower",
            "fim_toileting",
        ],
    ),
    ("排泄コントロール", &["fim_bladder", "fim_bowel"]),
    (
        "移乗",
        &[
            "fim_transfer_bed",
            "fim_transfer_toilet",
            "fim_transfer_tub",
        ],
    ),
    ("移動", &["fim_locomotion", "fim_stairs"]),
    (
        "コミュニケーション",
        &["fim_comprehension", "fim_expression"],
    ),
    (
        "社会的認知",
        &["fim_social", "fim_problem_solving", "fim_memory"],
    ),
];

const FIM_LEVELS: [(&str, &str); 7] = [
    ("7", "完全自立"),
    ("6", "修正自立"),
    ("5", "監視・準備"),
    ("4", "最小介助"),
    ("3", "中等度介助"),
    ("2", "最大介助"),
    ("1", "全介助"),
];

fn sheet_of(code: &str) -> &'static str {
    if code.starts_with("fim_") {
        "fim"
    } else if code.starts_with("barthel_") {
        "barthel"
    } else {
        "general"
    }
}

// ------------------------------------------------------------------ form model

/// What the form is for, carried in hidden fields.
#[derive(Debug, Clone)]
struct Spec {
    kind: EntryKind,
    stage: String,
    sheet: String,
    amends: Option<Uuid>,
    idem: String,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub id: String,
    pub selected: bool,
}

/// One item's control.
pub struct Control {
    pub name: String,
    pub id: String,
    pub label: String,
    /// `number`, `select`, `radios`, `bool`, `date`, `datetime`, `text`.
    pub control: &'static str,
    pub inputmode: &'static str,
    pub value: String,
    pub hint: String,
    pub required: bool,
    pub options: Vec<Opt>,
    pub error: Option<String>,
    pub previous: Option<String>,
    /// The value was filled in from the previous stage (carry-over) and not changed yet.
    pub prefilled: bool,
}

pub struct GridGroup {
    pub title: String,
    pub rows: Vec<Control>,
}

pub struct Total {
    pub label: String,
    pub id: String,
    pub max: String,
    pub value: String,
    pub sum: String,
}

pub struct Grid {
    pub title: String,
    pub help: String,
    pub scale: Vec<(String, String)>,
    pub groups: Vec<GridGroup>,
    pub totals: Vec<Total>,
}

/// One sheet of the entry form (評価・検査値, FIM, バーセル): all sheets are in the one form,
/// the current one shown, the others hidden until their tab is chosen.
pub struct Sheet {
    pub key: String,
    pub label: String,
    pub current: bool,
    /// Shown on load: the current sheet, or every sheet while errors are listed.
    pub shown: bool,
    pub grid: Option<Grid>,
    pub controls: Vec<Control>,
    pub error_count: usize,
}

pub struct VarianceGroup {
    pub label: String,
    pub options: Vec<Opt>,
}

pub struct SummaryError {
    pub href: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "ui/entry_form.html")]
pub struct FormPage {
    pub shell: Shell,
    pub banner: Banner,
    pub heading: String,
    pub pathway: String,
    pub stage_title: String,
    pub plan_url: String,
    pub review_url: String,
    pub edit_url: String,
    pub hidden: Vec<(String, String)>,
    /// Tabs are shown when the form has more than one sheet.
    pub sheets: Vec<Sheet>,
    pub effective_at: String,
    pub effective_error: Option<String>,
    pub any_prefilled: bool,
    pub is_variance: bool,
    pub variance_groups: Vec<VarianceGroup>,
    pub variance_error: Option<String>,
    pub variance_note: String,
    pub goals: Vec<Opt>,
    pub note: String,
    pub note_required: bool,
    pub note_error: Option<String>,
    pub is_amend: bool,
    pub reason: String,
    pub reason_error: Option<String>,
    pub errors: Vec<SummaryError>,
}

/// The posted form as name → value (the first of each name).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

fn spec_from(fields: &Fields) -> Option<Spec> {
    Some(Spec {
        kind: EntryKind::parse(fields.get("kind")).filter(|k| k.is_clinical())?,
        stage: fields.get("stage").trim().to_owned(),
        sheet: fields.get("sheet").to_owned(),
        amends: fields.get("amends").parse().ok(),
        idem: {
            let k = fields.get("idem").trim();
            if k.is_empty() {
                new_form_key()
            } else {
                k.to_owned()
            }
        },
    })
}

/// The form field name of a request field (`values.mrs` → `v.mrs`).
fn form_name(field: &str) -> String {
    if let Some(code) = field.strip_prefix("values.") {
        return format!("v.{code}");
    }
    match field {
        "variance" | "variance.code" => "variance_code".into(),
        "variance.note" => "variance_note".into(),
        "variance.goal" => "variance_goal".into(),
        other => other.into(),
    }
}

fn id_of(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

/// Items shown on this form: the sheet's items of the stage, plus the items the stage
/// event requires and (for an amendment) those the amended entry recorded.
fn items_for<'a>(
    t: &'a PathwayTemplate,
    spec: &Spec,
    target: Option<&Entry>,
) -> (Vec<&'a Item>, Vec<&'a Item>) {
    let in_stage =
        |i: &&Item| i.stages.iter().any(|s| s == &spec.stage) && i.item_type != ItemType::Composite;
    let required = |i: &Item| match spec.kind {
        EntryKind::StageStart => spec.amends.is_none() && i.required_at_start.contains(&spec.stage),
        EntryKind::StageEnd => spec.amends.is_none() && i.required_at_end.contains(&spec.stage),
        _ => false,
    };
    let grid: Vec<&Item> = t
        .items
        .iter()
        .filter(in_stage)
        .filter(|i| spec.sheet != "general" && sheet_of(&i.code) == spec.sheet)
        .collect();
    let general: Vec<&Item> = t
        .items
        .iter()
        .filter(in_stage)
        .filter(|i| !grid.iter().any(|g| g.code == i.code))
        .filter(|i| {
            (spec.sheet == "general" && sheet_of(&i.code) == "general")
                || required(i)
                || target.is_some_and(|e| e.values.get(&i.code).is_some())
        })
        .collect();
    (grid, general)
}

fn control(
    t: &PathwayTemplate,
    i: &Item,
    spec: &Spec,
    fields: &Fields,
    errors: &HashMap<String, String>,
    previous: &HashMap<String, Value>,
    carried: &HashMap<String, String>,
) -> Control {
    let name = format!("v.{}", i.code);
    let id = id_of(&name);
    let value = fields.get(&name).to_owned();
    let prefilled = !value.is_empty() && carried.get(&i.code) == Some(&value);
    let required = match spec.kind {
        EntryKind::StageStart => spec.amends.is_none() && i.required_at_start.contains(&spec.stage),
        EntryKind::StageEnd => spec.amends.is_none() && i.required_at_end.contains(&spec.stage),
        _ => false,
    };
    let opt = |v: String, label: String, n: usize| Opt {
        selected: value == v,
        id: format!("{id}-{n}"),
        value: v,
        label,
    };
    let (control, inputmode, options) = match i.item_type {
        ItemType::Integer | ItemType::Composite => match &i.allowed {
            Some(allowed) => (
                if sheet_of(&i.code) == "barthel" {
                    "radios"
                } else {
                    "select"
                },
                "",
                allowed
                    .iter()
                    .enumerate()
                    .map(|(n, a)| opt(a.to_string(), a.to_string(), n))
                    .collect(),
            ),
            None if sheet_of(&i.code) == "fim" => (
                "radios",
                "",
                FIM_LEVELS
                    .iter()
                    .enumerate()
                    .map(|(n, (v, l))| opt((*v).to_owned(), format!("{v} {l}"), n))
                    .collect(),
            ),
            None => ("number", "numeric", Vec::new()),
        },
        ItemType::Decimal => ("number", "decimal", Vec::new()),
        ItemType::Boolean => (
            "bool",
            "",
            vec![
                opt("true".into(), "はい".into(), 0),
                opt("false".into(), "いいえ".into(), 1),
            ],
        ),
        ItemType::Choice => (
            "select",
            "",
            i.options
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(n, o)| opt(o.code.clone(), o.title.ja.clone(), n))
                .collect(),
        ),
        ItemType::Date => ("date", "", Vec::new()),
        ItemType::Datetime => ("datetime", "", Vec::new()),
        ItemType::Text => ("text", "", Vec::new()),
    };
    Control {
        label: i
            .title
            .ja
            .trim_start_matches("FIM ")
            .trim_start_matches("BI ")
            .to_owned(),
        hint: fmt::range_hint(t, &i.code)
            .map(|r| format!("範囲 {r}"))
            .or_else(|| i.unit.as_deref().map(|u| format!("単位 {}", fmt::unit(u))))
            .unwrap_or_default(),
        error: errors.get(&name).cloned(),
        previous: previous
            .get(&i.code)
            .map(|v| fmt::value_text(Some(t), &i.code, v)),
        name,
        id,
        control,
        inputmode,
        value,
        required,
        options,
        prefilled,
    }
}

/// The latest effective value of every item before this form.
fn previous_values(entries: &[Entry]) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    let mut sorted: Vec<&Entry> = entries.iter().filter(|e| e.amended_by.is_none()).collect();
    sorted.sort_by_key(|e| (e.effective_at, e.seq));
    for e in sorted {
        if let Some(m) = e.values.as_object() {
            for (k, v) in m {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn grid_of(
    t: &PathwayTemplate,
    sheet: &str,
    controls: Vec<Control>,
    computed: &Map<String, Value>,
) -> Grid {
    let total = |code: &str, label: &str| {
        let i = t.item(code);
        Total {
            label: label.to_owned(),
            id: format!("total-{code}"),
            max: i.and_then(|i| i.max).map(fmt::num).unwrap_or_default(),
            value: computed
                .get(code)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "—".into()),
            sum: i
                .and_then(|i| i.components.clone())
                .unwrap_or_default()
                .iter()
                .map(|c| format!("v.{c}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    };
    if sheet == "fim" {
        let mut rest = controls;
        let mut groups = Vec::new();
        for (title, codes) in FIM_GROUPS {
            let (mine, others): (Vec<Control>, Vec<Control>) = rest
                .into_iter()
                .partition(|c| codes.iter().any(|k| c.name == format!("v.{k}")));
            rest = others;
            if !mine.is_empty() {
                groups.push(GridGroup {
                    title: title.to_owned(),
                    rows: mine,
                });
            }
        }
        if !rest.is_empty() {
            groups.push(GridGroup {
                title: "その他".into(),
                rows: rest,
            });
        }
        Grid {
            title: "FIM(機能的自立度評価法)".into(),
            help: "「しているADL」を評価します。日によって異なる場合は、より介助の多い段階を選んでください。合計は確認画面でサーバーが計算します。".into(),
            scale: FIM_LEVELS
                .iter()
                .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
                .collect(),
            groups,
            totals: vec![
                total("fim_motor", "運動項目"),
                total("fim_cognitive", "認知項目"),
                total("fim_total", "合計"),
            ],
        }
    } else {
        Grid {
            title: "バーセルインデックス(BI)".into(),
            help: "各項目の点数を選んでください。合計(0〜100点)は確認画面でサーバーが計算します。"
                .into(),
            scale: Vec::new(),
            groups: vec![GridGroup {
                title: "日常生活動作".into(),
                rows: controls,
            }],
            totals: vec![total("barthel_total", "合計")],
        }
    }
}

struct Context {
    plan: CarePlan,
    template: PathwayTemplate,
    banner: Banner,
    entries: Vec<Entry>,
}

/// The entry form's read model: the plan's screen (one access decision, one audit event).
async fn context(state: &AppState, ui: &Ui, plan_id: Uuid) -> Result<Context, ServiceError> {
    let s = state
        .services
        .plan_screen(&ui.actor, &ui.meta, plan_id)
        .await?;
    let banner = views::banner_of(
        state,
        ui,
        &s.patient.patient,
        &s.patient.plans,
        s.patient.same_name,
    );
    Ok(Context {
        template: s.published.template.clone(),
        plan: s.plan,
        banner,
        entries: s.entries,
    })
}

fn heading(kind: EntryKind, amend: bool) -> &'static str {
    match (kind, amend) {
        (_, true) => "記録の修正",
        (EntryKind::Assessment, _) => "評価の記録",
        (EntryKind::Note, _) => "記録(メモ)",
        (EntryKind::Variance, _) => "バリアンスの記録",
        (EntryKind::StageStart, _) => "病期の開始(入院・受入)",
        (EntryKind::StageEnd, _) => "病期の終了(転院・退院)",
        _ => "記録",
    }
}

/// The sheets a new entry of this kind offers: every sheet with items in the stage.
fn offered_sheets(t: &PathwayTemplate, spec: &Spec) -> Vec<(&'static str, &'static str)> {
    let multi = matches!(
        spec.kind,
        EntryKind::Assessment | EntryKind::StageStart | EntryKind::StageEnd
    ) && spec.amends.is_none();
    let all = [
        ("general", "評価・検査値"),
        ("fim", "FIM"),
        ("barthel", "バーセルインデックス"),
    ];
    if !multi {
        return vec![
            all.into_iter()
                .find(|(k, _)| *k == spec.sheet)
                .unwrap_or(all[0]),
        ];
    }
    let has = |s: &str| {
        t.items.iter().any(|i| {
            i.stages.contains(&spec.stage)
                && i.item_type != ItemType::Composite
                && sheet_of(&i.code) == s
        })
    };
    all.into_iter()
        .filter(|(s, _)| *s == "general" || has(s))
        .collect()
}

/// A stored value as the form shows it (datetimes in Japan time for `datetime-local`).
fn form_value(t: &PathwayTemplate, code: &str, v: &Value) -> String {
    match v {
        Value::String(s)
            if t.item(code)
                .is_some_and(|i| i.item_type == ItemType::Datetime) =>
        {
            DateTime::parse_from_rfc3339(s)
                .map(|t| fmt::datetime_local(t.with_timezone(&Utc)))
                .unwrap_or_else(|_| s.clone())
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a new entry of `kind` records values, and so starts from the carried-over
/// ones (a note records none).
fn records_values(kind: EntryKind) -> bool {
    matches!(
        kind,
        EntryKind::Assessment | EntryKind::StageStart | EntryKind::StageEnd
    )
}

/// The form value of every carried-over item (`carry_over = true`) of `stage` whose
/// latest value was recorded in an earlier stage: what a new form of the stage starts
/// with, marked 前回値 until it is changed or saved.
fn carried_values(t: &PathwayTemplate, stage: &str, entries: &[Entry]) -> HashMap<String, String> {
    let mut latest: HashMap<&str, &Entry> = HashMap::new();
    for e in entries
        .iter()
        .filter(|e| e.amended_by.is_none() && e.voided_by.is_none())
    {
        let Some(m) = e.values.as_object() else {
            continue;
        };
        for k in m.keys() {
            let Some(item) = t.item(k) else { continue };
            if !item.carry_over || !item.stages.iter().any(|s| s == stage) {
                continue;
            }
            let newer = latest
                .get(item.code.as_str())
                .is_none_or(|p| (p.effective_at, p.seq) < (e.effective_at, e.seq));
            if newer {
                latest.insert(item.code.as_str(), e);
            }
        }
    }
    latest
        .into_iter()
        .filter(|(_, e)| e.stage != stage)
        .map(|(k, e)| (k.to_owned(), form_value(t, k, &e.values[k])))
        .collect()
}

/// A (form field or link, message) pair.
type Pair = (String, String);

/// Field errors of every row a composite misses: a partly filled FIM or Barthel names
/// and marks each missing row (only for the smallest incomplete composite, so a
/// motor-only FIM does not mark the cognitive rows).
fn missing_rows(
    t: &PathwayTemplate,
    fields: &Fields,
    errors: &[FieldError],
) -> (Vec<Pair>, Vec<Pair>) {
    let incomplete: Vec<&Item> = errors
        .iter()
        .filter(|e| e.code == Rule::Incomplete)
        .filter_map(|e| e.field.strip_prefix("values.").and_then(|c| t.item(c)))
        .collect();
    let components = |i: &Item| i.components.clone().unwrap_or_default();
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for c in &incomplete {
        let mine = components(c);
        let has_smaller = incomplete.iter().any(|d| {
            d.code != c.code
                && components(d).len() < mine.len()
                && components(d).iter().all(|k| mine.contains(k))
        });
        if has_smaller {
            continue;
        }
        let missing: Vec<&String> = mine
            .iter()
            .filter(|k| fields.get(&format!("v.{k}")).trim().is_empty())
            .collect();
        let Some(first) = missing.first() else {
            continue;
        };
        let label = |k: &str| {
            fmt::item_title(Some(t), k)
                .trim_start_matches("FIM ")
                .trim_start_matches("BI ")
                .to_owned()
        };
        for k in &missing {
            let range = fmt::range_hint(t, k).unwrap_or_default();
            rows.push((
                format!("v.{k}"),
                format!(
                    "「{}」が未評価です。{}の計算にはすべての項目が必要です。{} から選んでください。",
                    label(k),
                    c.title.ja,
                    range
                ),
            ));
        }
        summary.push((
            format!("#{}-0", id_of(&format!("v.{first}"))),
            format!(
                "{}: 未評価の項目が{}件あります({})。すべての項目を評価するか、この評価表の入力をすべて「未評価」に戻してください。",
                c.title.ja,
                missing.len(),
                missing
                    .iter()
                    .map(|k| label(k))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
    (rows, summary)
}

fn render_form(
    ctx: &Context,
    ui: &Ui,
    spec: &Spec,
    fields: &Fields,
    errors: &[FieldError],
    extra_message: Option<String>,
) -> FormPage {
    let t = &ctx.template;
    let plan_url = format!("/care-plans/{}", ctx.plan.id);
    let target = spec
        .amends
        .and_then(|a| ctx.entries.iter().find(|e| e.id == a));
    let mut by_name: HashMap<String, String> = errors
        .iter()
        .map(|e| (form_name(&e.field), fmt::error_ja(Some(t), e)))
        .collect();
    let (row_errors, incomplete_summary) = missing_rows(t, fields, errors);
    for (name, message) in &row_errors {
        by_name.insert(name.clone(), message.clone());
    }
    let previous = previous_values(&ctx.entries);
    let carried = if spec.amends.is_none() && records_values(spec.kind) {
        carried_values(t, &spec.stage, &ctx.entries)
    } else {
        HashMap::new()
    };
    let offered = offered_sheets(t, spec);
    let multi = spec.amends.is_none()
        && matches!(
            spec.kind,
            EntryKind::Assessment | EntryKind::StageStart | EntryKind::StageEnd
        );
    let current = if offered.iter().any(|(k, _)| *k == spec.sheet) {
        spec.sheet.clone()
    } else {
        offered[0].0.to_owned()
    };
    let has_errors = !errors.is_empty() || extra_message.is_some();
    let in_stage =
        |i: &&Item| i.stages.iter().any(|s| s == &spec.stage) && i.item_type != ItemType::Composite;
    let mut sheets: Vec<Sheet> = Vec::new();
    for (key, label) in &offered {
        let (grid_items, general_items): (Vec<&Item>, Vec<&Item>) = if multi {
            let mine: Vec<&Item> = t
                .items
                .iter()
                .filter(in_stage)
                .filter(|i| sheet_of(&i.code) == *key)
                .collect();
            if *key == "general" {
                (Vec::new(), mine)
            } else {
                (mine, Vec::new())
            }
        } else {
            items_for(t, spec, target)
        };
        let make = |i: &&Item| control(t, i, spec, fields, &by_name, &previous, &carried);
        let grid_controls: Vec<Control> = grid_items.iter().map(make).collect();
        let controls: Vec<Control> = general_items.iter().map(make).collect();
        let error_count = grid_controls
            .iter()
            .chain(controls.iter())
            .filter(|c| c.error.is_some())
            .count();
        let grid_sheet = if multi { key } else { spec.sheet.as_str() };
        let grid =
            (!grid_controls.is_empty()).then(|| grid_of(t, grid_sheet, grid_controls, &Map::new()));
        sheets.push(Sheet {
            key: (*key).to_owned(),
            label: (*label).to_owned(),
            current: current == *key,
            shown: current == *key || has_errors,
            grid,
            controls,
            error_count,
        });
    }
    let control_of = |name: &str| {
        sheets.iter().find_map(|s| {
            s.grid
                .iter()
                .flat_map(|g| g.groups.iter().flat_map(|grp| grp.rows.iter()))
                .map(|c| (c, true))
                .chain(s.controls.iter().map(|c| (c, false)))
                .find(|(c, _)| c.name == name)
        })
    };
    let mut summary: Vec<SummaryError> = Vec::new();
    for e in errors {
        if e.code == Rule::Incomplete {
            continue;
        }
        let name = form_name(&e.field);
        let href = match control_of(&name) {
            Some((c, true)) => format!("#{}-0", c.id),
            Some((c, false)) if c.control == "bool" || c.control == "radios" => {
                format!("#{}-0", c.id)
            }
            Some((c, false)) => format!("#{}", c.id),
            None if matches!(
                name.as_str(),
                "effective_at" | "note" | "reason" | "variance_code" | "variance_note"
            ) =>
            {
                format!("#{}", id_of(&name))
            }
            None => "#entry-form".to_owned(),
        };
        summary.push(SummaryError {
            href,
            message: fmt::error_ja(Some(t), e),
        });
    }
    for (href, message) in incomplete_summary {
        summary.push(SummaryError { href, message });
    }
    if let Some(m) = extra_message {
        summary.insert(
            0,
            SummaryError {
                href: "#entry-form".into(),
                message: m,
            },
        );
    }
    let mut variance_groups: Vec<VarianceGroup> = Vec::new();
    if spec.kind == EntryKind::Variance {
        let chosen = fields.get("variance_code");
        for (n, v) in t.variances.iter().enumerate() {
            let (dir, level, cat) = fmt::variance_parts(&v.code);
            let label = format!("{dir}・{level}({cat})");
            let opt = Opt {
                value: v.code.clone(),
                label: v.title.ja.clone(),
                id: format!("vc-{n}"),
                selected: chosen == v.code,
            };
            match variance_groups.iter_mut().find(|g| g.label == label) {
                Some(g) => g.options.push(opt),
                None => variance_groups.push(VarianceGroup {
                    label,
                    options: vec![opt],
                }),
            }
        }
    }
    let goals = t
        .goals
        .iter()
        .enumerate()
        .map(|(n, g)| Opt {
            value: g.code.clone(),
            label: g.title.ja.clone(),
            id: format!("vg-{n}"),
            selected: fields.get("variance_goal") == g.code,
        })
        .collect();
    let mut hidden = vec![
        ("kind".to_owned(), spec.kind.as_str().to_owned()),
        ("stage".to_owned(), spec.stage.clone()),
        ("sheet".to_owned(), current.clone()),
        ("idem".to_owned(), spec.idem.clone()),
    ];
    if let Some(a) = spec.amends {
        hidden.push(("amends".to_owned(), a.to_string()));
    }
    let any_prefilled = sheets.iter().any(|s| {
        s.controls.iter().any(|c| c.prefilled)
            || s.grid
                .iter()
                .flat_map(|g| g.groups.iter().flat_map(|grp| grp.rows.iter()))
                .any(|c| c.prefilled)
    });
    FormPage {
        shell: ui.shell(
            format!(
                "{} — {}",
                heading(spec.kind, spec.amends.is_some()),
                ctx.banner.name()
            ),
            Nav::None,
        ),
        heading: heading(spec.kind, spec.amends.is_some()).to_owned(),
        pathway: fmt::pathway_label(&ctx.plan),
        stage_title: fmt::stage_title(Some(t), &spec.stage),
        review_url: format!("{plan_url}/entries/review"),
        edit_url: format!("{plan_url}/entries/new"),
        plan_url,
        hidden,
        sheets,
        effective_at: fields.get("effective_at").to_owned(),
        effective_error: by_name.get("effective_at").cloned(),
        any_prefilled,
        is_variance: spec.kind == EntryKind::Variance,
        variance_groups,
        variance_error: by_name.get("variance_code").cloned(),
        variance_note: fields.get("variance_note").to_owned(),
        goals,
        note: fields.get("note").to_owned(),
        note_required: spec.kind == EntryKind::Note,
        note_error: by_name.get("note").cloned(),
        is_amend: spec.amends.is_some(),
        reason: fields.get("reason").to_owned(),
        reason_error: by_name.get("reason").cloned(),
        errors: summary,
        banner: ctx.banner.clone(),
    }
}

// ------------------------------------------------------------------ reading the form

/// The entry the form describes, or the field errors of values that are not even of
/// the right type (the rules check the rest).
fn read_entry(
    t: &PathwayTemplate,
    spec: &Spec,
    fields: &Fields,
    now: DateTime<Utc>,
) -> (AppendEntry, Value, Vec<FieldError>) {
    let mut errors = Vec::new();
    let effective_at = fmt::parse_datetime_local(fields.get("effective_at"));
    if effective_at.is_none() {
        errors.push(FieldError::new(
            "effective_at",
            if fields.get("effective_at").trim().is_empty() {
                Rule::Required
            } else {
                Rule::Format
            },
            "date-time required (YYYY-MM-DDTHH:MM, Japan time)",
        ));
    }
    let mut values = Map::new();
    for item in &t.items {
        if item.item_type == ItemType::Composite {
            continue; // computed by the server; a posted total is ignored
        }
        let raw = fields.get(&format!("v.{}", item.code)).trim();
        if raw.is_empty() {
            continue;
        }
        let field = format!("values.{}", item.code);
        let half = wareki::to_half_width(raw);
        let v = match item.item_type {
            ItemType::Integer | ItemType::Composite => half.parse::<i64>().ok().map(Value::from),
            ItemType::Decimal => half
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            ItemType::Boolean => match raw {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            ItemType::Choice | ItemType::Text => Some(Value::String(raw.to_owned())),
            ItemType::Date => {
                wareki::parse_date(raw).map(|d| json!(d.format("%Y-%m-%d").to_string()))
            }
            ItemType::Datetime => fmt::parse_datetime_local(raw)
                .map(|t| json!(fmt::to_jst(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, false))),
        };
        match v {
            Some(v) => {
                values.insert(item.code.clone(), v);
            }
            None => errors.push(FieldError::new(field, Rule::Type, "wrong type")),
        }
    }
    let text = |name: &str| {
        let v = fields.get(name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    };
    let variance = (spec.kind == EntryKind::Variance).then(|| VarianceInput {
        code: fields.get("variance_code").trim().to_owned(),
        note: text("variance_note"),
        goal: text("variance_goal"),
    });
    if let Some(v) = &variance
        && v.code.is_empty()
    {
        errors.push(FieldError::new(
            "variance",
            Rule::Required,
            "variance code required",
        ));
    }
    // A missing time is reported above; the rules still check everything else.
    let effective_at = effective_at.unwrap_or(now);
    let input = AppendEntry {
        stage: spec.stage.clone(),
        kind: spec.kind,
        effective_at,
        values: values.clone(),
        note: text("note"),
        variance: variance.clone(),
        amends: spec.amends,
        reason: if spec.amends.is_some() {
            text("reason")
        } else {
            None
        },
    };
    let body = json!({
        "stage": input.stage,
        "kind": input.kind.as_str(),
        "effective_at": effective_at.to_rfc3339(),
        "values": values,
        "note": input.note,
        "variance": variance,
        "amends": input.amends,
        "reason": input.reason,
    });
    (input, body, errors)
}

/// The form's own reading errors, then the service's errors of other fields: every
/// error of the form at once.
fn merge_errors(mut read: Vec<FieldError>, service: Vec<FieldError>) -> Vec<FieldError> {
    for e in service {
        if !read.iter().any(|r| r.field == e.field) {
            read.push(e);
        }
    }
    read
}

// ------------------------------------------------------------------ handlers

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    sheet: String,
    #[serde(default)]
    amends: String,
}

pub async fn new_entry_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<NewQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ctx = context(&state, &ui, id).await?;
    let target = q
        .amends
        .parse::<Uuid>()
        .ok()
        .and_then(|a| ctx.entries.iter().find(|e| e.id == a));
    let now = state.services.now();
    let mut pairs = vec![("effective_at".to_owned(), fmt::datetime_local(now))];
    let spec = match target {
        Some(e) => {
            let kind = EntryKind::parse(&e.kind)
                .filter(|k| k.is_clinical())
                .ok_or(ServiceError::NotFound("entry"))?;
            let sheet = e
                .values
                .as_object()
                .and_then(|m| m.keys().map(|k| sheet_of(k)).find(|s| *s != "general"))
                .unwrap_or("general");
            pairs = vec![(
                "effective_at".to_owned(),
                fmt::datetime_local(e.effective_at),
            )];
            if let Some(m) = e.values.as_object() {
                for (k, v) in m {
                    pairs.push((format!("v.{k}"), form_value(&ctx.template, k, v)));
                }
            }
            if let Some(n) = &e.note {
                pairs.push(("note".into(), n.clone()));
            }
            if let Some(v) = &e.variance {
                for (k, name) in [
                    ("code", "variance_code"),
                    ("note", "variance_note"),
                    ("goal", "variance_goal"),
                ] {
                    if let Some(s) = v[k].as_str() {
                        pairs.push((name.into(), s.to_owned()));
                    }
                }
            }
            Spec {
                kind,
                stage: e.stage.clone(),
                sheet: sheet.to_owned(),
                amends: Some(e.id),
                idem: new_form_key(),
            }
        }
        None => {
            let kind = EntryKind::parse(&q.kind)
                .filter(|k| k.is_clinical())
                .unwrap_or(EntryKind::Assessment);
            let stage = if ctx.template.stage(&q.stage).is_some() {
                q.stage.clone()
            } else {
                ctx.plan.current_stage.clone()
            };
            let sheet = match q.sheet.as_str() {
                "fim" | "barthel" => q.sheet.clone(),
                _ => "general".to_owned(),
            };
            // What the plan already knows: carried-over values of the previous stage.
            if records_values(kind) {
                let mut carried: Vec<(String, String)> =
                    carried_values(&ctx.template, &stage, &ctx.entries)
                        .into_iter()
                        .map(|(k, v)| (format!("v.{k}"), v))
                        .collect();
                carried.sort();
                pairs.extend(carried);
            }
            Spec {
                kind,
                stage,
                sheet,
                amends: None,
                idem: new_form_key(),
            }
        }
    };
    let fields = Fields(pairs);
    let form = render_form(&ctx, &ui, &spec, &fields, &[], None);
    Ok(page(StatusCode::OK, &form))
}

/// Back from the review step to the filled form.
pub async fn edit_entry_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ctx = context(&state, &posted.ui, id).await?;
    let fields = Fields(posted.fields.clone());
    let mut spec = spec_from(&fields).ok_or(ServiceError::NotFound("form"))?;
    // A sheet tab without JavaScript: the same form again, every value kept.
    let show = fields.get("show_sheet");
    if matches!(show, "general" | "fim" | "barthel") {
        spec.sheet = show.to_owned();
    }
    let form = render_form(&ctx, &posted.ui, &spec, &fields, &[], None);
    Ok(page(StatusCode::OK, &form))
}

pub struct ReviewLine {
    pub label: String,
    pub value: String,
    pub computed: bool,
}

#[derive(Template)]
#[template(path = "ui/entry_review.html")]
pub struct ReviewPage {
    pub shell: Shell,
    pub banner: Banner,
    pub heading: String,
    pub pathway: String,
    pub stage_title: String,
    pub effective: fmt::When,
    pub lines: Vec<ReviewLine>,
    pub note: Option<String>,
    pub variance: Option<String>,
    pub reason: Option<String>,
    pub hidden: Vec<(String, String)>,
    pub submit_url: String,
    pub back_url: String,
    pub plan_url: String,
}

pub async fn review_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let ctx = context(&state, ui, id).await?;
    let fields = Fields(posted.fields.clone());
    let spec = spec_from(&fields).ok_or(ServiceError::NotFound("form"))?;
    let t = &ctx.template;
    let (input, _, read_errors) = read_entry(t, &spec, &fields, state.services.now());
    let values = match state
        .services
        .check_entry(&ui.actor, &ui.meta, id, &input)
        .await
    {
        Ok(checked) if read_errors.is_empty() => checked.values,
        Ok(_) => {
            let form = render_form(&ctx, ui, &spec, &fields, &read_errors, None);
            return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &form));
        }
        Err(ServiceError::Validation(errors)) => {
            let errors = merge_errors(read_errors, errors);
            let form = render_form(&ctx, ui, &spec, &fields, &errors, None);
            return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &form));
        }
        Err(e @ ServiceError::Conflict { .. }) => {
            let message = explain(e.code()).to_owned();
            let form = render_form(&ctx, ui, &spec, &fields, &read_errors, Some(message));
            return Ok(page(StatusCode::CONFLICT, &form));
        }
        Err(e) => return Err(e.into()),
    };
    let mut lines = Vec::new();
    let mut items: Vec<&Item> = t
        .items
        .iter()
        .filter(|i| values.contains_key(&i.code))
        .collect();
    items.sort_by_key(|i| i.item_type != ItemType::Composite);
    for i in items {
        lines.push(ReviewLine {
            label: i.title.ja.clone(),
            value: fmt::value_text(Some(t), &i.code, &values[&i.code]),
            computed: i.item_type == ItemType::Composite,
        });
    }
    let variance = input.variance.as_ref().map(|v| {
        let title = t
            .variance(&v.code)
            .map(|x| x.title.ja.clone())
            .unwrap_or_else(|| v.code.clone());
        match &v.note {
            Some(n) => format!("{title} — {n}"),
            None => title,
        }
    });
    let plan_url = format!("/care-plans/{id}");
    let hidden = posted
        .fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    Ok(page(
        StatusCode::OK,
        &ReviewPage {
            shell: ui.shell(format!("確認 — {}", ctx.banner.name()), Nav::None),
            banner: ctx.banner.clone(),
            heading: heading(spec.kind, spec.amends.is_some()).to_owned(),
            pathway: fmt::pathway_label(&ctx.plan),
            stage_title: fmt::stage_title(Some(t), &spec.stage),
            effective: fmt::datetime(input.effective_at),
            lines,
            note: input.note.clone(),
            variance,
            reason: input.reason.clone(),
            hidden,
            submit_url: format!("{plan_url}/entries"),
            back_url: format!("{plan_url}/entries/new"),
            plan_url,
        },
    ))
}

/// 確定: appends the entry once per form (its idempotency key), then back to the plan.
pub async fn submit_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let fields = Fields(posted.fields.clone());
    let spec = spec_from(&fields).ok_or(ServiceError::NotFound("form"))?;
    let plan = state.services.get_plan(&ui.actor, &ui.meta, id).await?;
    let template = state
        .services
        .pathways
        .find_for(
            &plan.pathway.code,
            plan.pathway.version,
            plan.variant.as_ref().map(|v| v.code.as_str()),
        )
        .map(|p| p.template.clone())
        .ok_or(ServiceError::NotFound("pathway version"))?;
    let (input, body, read_errors) = read_entry(&template, &spec, &fields, state.services.now());
    if !read_errors.is_empty() {
        // Nothing is written: the append's own checks only add their errors.
        let errors = match state
            .services
            .check_entry(&ui.actor, &ui.meta, id, &input)
            .await
        {
            Err(ServiceError::Validation(errors)) => merge_errors(read_errors, errors),
            _ => read_errors,
        };
        let ctx = context(&state, ui, id).await?;
        let form = render_form(&ctx, ui, &spec, &fields, &errors, None);
        return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &form));
    }
    let idem = Idempotency::new(&spec.idem, &body)?;
    match state
        .services
        .append_entry(&ui.actor, &ui.meta, id, input, Some(idem))
        .await
    {
        Ok((entry, _)) => Ok(see_other(&format!(
            "/care-plans/{id}?saved={}#entry-{}",
            entry.id, entry.id
        ))),
        Err(ServiceError::Validation(errors)) => {
            let ctx = context(&state, ui, id).await?;
            let form = render_form(&ctx, ui, &spec, &fields, &errors, None);
            Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &form))
        }
        Err(e @ (ServiceError::Conflict { .. } | ServiceError::IdempotencyKeyReused)) => {
            let ctx = context(&state, ui, id).await?;
            let message = explain(e.code()).to_owned();
            let mut spec = spec;
            if matches!(e, ServiceError::IdempotencyKeyReused) {
                spec.idem = new_form_key();
            }
            let form = render_form(&ctx, ui, &spec, &fields, &[], Some(message));
            Ok(page(StatusCode::CONFLICT, &form))
        }
        Err(e) => Err(e.into()),
    }
}
