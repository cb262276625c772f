//! S4 — the care-plan page, the heart of the product: the overview matrix (stages as
//! columns with facilities, planned vs actual dates, length against expected and maximum
//! days, exit criteria), the shared goals with sparklines, the entries (filter by
//! profession and stage in the URL; amendments next to what they amend), variances,
//! hand-overs, reports back, care team and consent. Also the trend table of one item.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use renkei_domain::access::PlanAction;
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::GoalStatus;
use renkei_domain::template::{ItemType, PathwayTemplate};
use renkei_service::plans::Entry;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::fmt::{self, When};
use super::views::Banner;
use super::{Nav, Shell, Ui, UiResult, page, parse_uuid};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    #[serde(default)]
    profession: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    saved: String,
    #[serde(default)]
    enrolled: String,
    #[serde(default)]
    proposed: String,
    #[serde(default)]
    accepted: String,
    /// The day (YYYY-MM-DD, Asia/Tokyo) the goals and stages are shown at; empty: now.
    #[serde(default)]
    as_of: String,
    /// The outcome of classifying or dismissing an automatic variance.
    #[serde(default)]
    variance: String,
    /// The plan action just done (`ui::plan_actions`).
    #[serde(default)]
    done: String,
}

pub use super::goal_row::GoalRow;
pub use super::plan_data::{PlanData, StageCol, from_screen, load, load_print};

pub struct ValueLine {
    pub label: String,
    pub value: String,
}

pub struct EntryCard {
    pub id: String,
    pub seq: i64,
    pub kind: &'static str,
    pub stage: String,
    pub effective: When,
    pub recorded: When,
    pub author: String,
    pub profession: &'static str,
    pub facility: String,
    pub main: Vec<ValueLine>,
    pub detail: Vec<ValueLine>,
    pub note: Option<String>,
    pub variance: Option<String>,
    pub amended: bool,
    pub reason: Option<String>,
    pub amend_url: Option<String>,
    pub saved: bool,
    pub amendments: Vec<EntryCard>,
    /// The entry's chain was voided (取消): shown struck through, with the reason.
    pub voided: bool,
    pub void_reason: Option<String>,
    /// This entry is the void itself.
    pub is_void: bool,
    pub void_form: Option<super::corrections::VoidForm>,
    /// The versions of a corrected or voided entry (on the original's card).
    pub history: Vec<super::corrections::HistoryRow>,
}

pub struct VarianceRow {
    pub entry_id: String,
    /// An automatic variance nobody has reviewed yet.
    pub automatic: bool,
    pub entry_stage: String,
    pub when: When,
    pub stage: String,
    pub code: String,
    pub title: String,
    pub direction: String,
    pub level: String,
    pub category: String,
    pub note: String,
    pub by: String,
    /// The classify-or-dismiss form, offered to whoever may review this variance.
    pub review: Option<VarianceReviewForm>,
}

/// The form that classifies or dismisses an automatic variance.
pub struct VarianceReviewForm {
    pub action: String,
    /// The pathway's variance codes a person may choose: (code, title in words).
    pub options: Vec<(String, String)>,
}

pub struct HandoverRow {
    pub url: String,
    pub from: String,
    pub to: String,
    pub stage: String,
    pub state: &'static str,
    pub proposed: When,
    pub answered: Option<When>,
}

pub struct ReportRow {
    pub url: String,
    pub stage: String,
    pub from: String,
    pub to: String,
    pub due: When,
    pub sent: Option<When>,
    pub overdue: bool,
}

pub struct TeamRow {
    pub name: String,
    pub role: &'static str,
    pub stages: String,
}

pub struct Filter {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Action {
    pub url: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "ui/plan.html")]
pub struct PlanPage {
    pub shell: Shell,
    pub banner: Banner,
    pub title: String,
    pub version: u32,
    /// The variant chosen at enrolment, in words.
    pub variant: Option<String>,
    pub status: &'static str,
    pub active: bool,
    pub current_stage: String,
    pub started: When,
    pub planner: String,
    pub notice: Option<String>,
    pub stages: Vec<StageCol>,
    pub goals: Vec<GoalRow>,
    pub entries: Vec<EntryCard>,
    pub entry_total: usize,
    pub professions: Vec<Filter>,
    pub stage_filters: Vec<Filter>,
    pub filtered: bool,
    pub variances: Vec<VarianceRow>,
    pub handovers: Vec<HandoverRow>,
    pub reports: Vec<ReportRow>,
    pub team: Vec<TeamRow>,
    pub consent: String,
    pub consent_ok: bool,
    pub consent_details: Vec<String>,
    pub record_actions: Vec<Action>,
    pub handover_url: Option<String>,
    pub print_url: String,
    /// The hand-off sheets (地域生活連携シート …) of the plan.
    pub sheets_url: String,
    /// The patient handbook of the plan's pathway (title, URL), if it has one.
    pub handbook: Option<(String, String)>,
    /// The `as_of` day shown (YYYY-MM-DD), empty for now.
    pub as_of: String,
    /// The words saying the page shows a past day.
    pub as_of_text: Option<String>,
    /// Open amendment notices of the viewer's organisation on this plan.
    pub amendment_notices: Vec<super::corrections::NoticeRow>,
    /// A cyclical plan's visits, cycle, goals by stage and 紹介基準.
    pub cycle: Option<super::cycle::CycleView>,
    /// The next visits and tests of a plan that is not cyclical but has a schedule (a
    /// follow-up after treatment); empty otherwise.
    pub visits: Vec<super::cycle::VisitRow>,
    /// Break-glass banner, lifecycle and individual-target links (`ui::plan_actions`).
    pub plan_actions: super::plan_actions::PlanActionsView,
}

/// The badge code of a goal's status: the API's status, or `below_range` /
/// `above_range` for a numeric target not met.
pub fn status_code(g: &GoalStatus) -> &'static str {
    fmt::goal_code(g)
}

/// The goal's target in words.
pub fn target_text(t: &PathwayTemplate, g: &GoalStatus) -> String {
    let op = |s: &str| match s {
        "<" => "未満",
        "<=" => "以下",
        ">" => "を超える",
        ">=" => "以上",
        _ => "と等しい",
    };
    let item = |c: &str| fmt::item_title(Some(t), c);
    let target = &g.target;
    match g.kind {
        "threshold" => format!(
            "{} {}{}",
            item(g.item.as_deref().unwrap_or("")),
            target["value"].as_f64().map(fmt::num).unwrap_or_default(),
            op(target["op"].as_str().unwrap_or(""))
        ),
        "range" => format!(
            "{} {}以上 {}未満",
            item(g.item.as_deref().unwrap_or("")),
            target["min"].as_f64().map(fmt::num).unwrap_or_default(),
            target["max"].as_f64().map(fmt::num).unwrap_or_default()
        ),
        "membership" => {
            let code = g.item.as_deref().unwrap_or("");
            let names: Vec<String> = target["in"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| fmt::value_text(Some(t), code, v))
                        .collect()
                })
                .unwrap_or_default();
            format!("{}が {} のいずれか", item(code), names.join("・"))
        }
        "change" => {
            let pick = |p: &Value| {
                format!(
                    "{}{}",
                    fmt::stage_title(Some(t), p["stage"].as_str().unwrap_or("")),
                    if p["pick"] == "first" {
                        "の最初"
                    } else {
                        "の最後"
                    }
                )
            };
            format!(
                "{}の変化({}→{})が {}{}",
                item(target["to"]["item"].as_str().unwrap_or("")),
                pick(&target["from"]),
                pick(&target["to"]),
                target["value"].as_f64().map(fmt::num).unwrap_or_default(),
                op(target["op"].as_str().unwrap_or(""))
            )
        }
        "stage_length" => format!(
            "{}の日数が {}日{}",
            fmt::stage_title(Some(t), target["stage"].as_str().unwrap_or("")),
            target["days"],
            op(target["op"].as_str().unwrap_or(""))
        ),
        _ => g.title.ja.clone(),
    }
}

/// The value a goal was judged on, in words.
fn latest_text(t: &PathwayTemplate, g: &GoalStatus) -> Option<String> {
    let l = g.latest.as_ref()?;
    Some(match g.kind {
        "stage_length" => format!("{}日", l.value),
        "change" => format!("{:+}", l.value.as_f64().unwrap_or(0.0)),
        _ => fmt::value_text(Some(t), g.item.as_deref().unwrap_or(""), &l.value),
    })
}

// ------------------------------------------------------------------ sparkline

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A word-sized trend (Tufte): the points as a line, the target band in grey, the last
/// point marked. `role="img"` with a `<title>` saying what it shows; the numbers are
/// also in a visually hidden table next to it.
pub fn sparkline(
    points: &[(DateTime<Utc>, f64)],
    band: Option<(f64, f64)>,
    domain: (Option<f64>, Option<f64>),
    title: &str,
    width: f64,
    height: f64,
) -> Option<String> {
    if points.is_empty() {
        return None;
    }
    let mut lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some((a, b)) = band {
        if a.is_finite() {
            lo = lo.min(a);
        }
        if b.is_finite() {
            hi = hi.max(b);
        }
    }
    if let Some(m) = domain.0 {
        lo = lo.max(m);
    }
    if let Some(m) = domain.1 {
        hi = hi.min(m);
    }
    if (hi - lo).abs() < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let pad = 3.0;
    let y = |v: f64| pad + (hi - v.clamp(lo, hi)) / (hi - lo) * (height - 2.0 * pad);
    let n = points.len();
    let x = |i: usize| {
        if n == 1 {
            width / 2.0
        } else {
            pad + i as f64 * (width - 2.0 * pad) / (n - 1) as f64
        }
    };
    let mut svg = format!(
        r#"<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title)
    );
    if let Some((a, b)) = band {
        let top = y(if b.is_finite() { b } else { hi });
        let bottom = y(if a.is_finite() { a } else { lo });
        svg.push_str(&format!(
            r##"<rect x="0" y="{top:.1}" width="{width}" height="{:.1}" fill="#dde3ea"/>"##,
            (bottom - top).max(1.0)
        ));
    }
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect();
    svg.push_str(&format!(
        r##"<polyline points="{}" fill="none" stroke="#123a63" stroke-width="1.5"/>"##,
        line.join(" ")
    ));
    let last = points.len() - 1;
    svg.push_str(&format!(
        r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#b3261e"/></svg>"##,
        x(last),
        y(points[last].1)
    ));
    Some(svg)
}

/// The target band of a goal on its item's axis.
fn band_of(g: &GoalStatus) -> Option<(f64, f64)> {
    let t = &g.target;
    match g.kind {
        "threshold" => {
            let v = t["value"].as_f64()?;
            match t["op"].as_str()? {
                "<" | "<=" => Some((f64::NEG_INFINITY, v)),
                ">" | ">=" => Some((v, f64::INFINITY)),
                _ => Some((v, v)),
            }
        }
        "range" => Some((t["min"].as_f64()?, t["max"].as_f64()?)),
        _ => None,
    }
}

pub fn goal_rows(d: &PlanData, plan_url: &str) -> Vec<GoalRow> {
    let t = &d.template;
    d.goals
        .iter()
        .map(|g| {
            let (_, symbol, class) = fmt::goal_state(status_code(g));
            let word = fmt::goal_words(t, g);
            let item = g.item.clone().filter(|c| {
                t.item(c).is_some_and(|i| {
                    matches!(
                        i.item_type,
                        ItemType::Integer | ItemType::Decimal | ItemType::Composite
                    )
                })
            });
            let series = item.as_deref().map(|c| d.series(c)).unwrap_or_default();
            // A change goal is judged at its second point; until then show where it stands.
            let latest = latest_text(t, g).or_else(|| {
                (g.kind == "change")
                    .then(|| series.last())
                    .flatten()
                    .map(|p| {
                        format!(
                            "現在 {}(判定前)",
                            fmt::number_of(Some(t), item.as_deref().unwrap_or(""), p.1)
                        )
                    })
            });
            let target = target_text(t, g);
            let sparkline = item.as_deref().and_then(|c| {
                let i = t.item(c);
                sparkline(
                    &series,
                    band_of(g),
                    (i.and_then(|i| i.min), i.and_then(|i| i.max)),
                    &format!(
                        "{}の推移: 最新 {}、目標 {}",
                        fmt::item_title(Some(t), c),
                        series
                            .last()
                            .map(|p| fmt::number_of(Some(t), c, p.1))
                            .unwrap_or_else(|| "—".into()),
                        target
                    ),
                    120.0,
                    32.0,
                )
            });
            GoalRow {
                code: g.code.clone(),
                title: g.title.ja.clone(),
                latest,
                latest_at: g
                    .latest
                    .as_ref()
                    .map(|l| fmt::day_of(l.effective_at))
                    .or_else(|| {
                        (g.kind == "change")
                            .then(|| series.last())
                            .flatten()
                            .map(|p| fmt::day_of(p.0))
                    }),
                status: word,
                symbol,
                class,
                due: g.due.map(fmt::day_of),
                points: series
                    .iter()
                    .map(|(at, v)| {
                        (
                            fmt::day_of(*at),
                            fmt::number_of(Some(t), item.as_deref().unwrap_or(""), *v),
                        )
                    })
                    .collect(),
                trend_url: item.map(|c| format!("{plan_url}/trend?item={c}")),
                sparkline,
                target,
            }
        })
        .collect()
}

// ------------------------------------------------------------------ entries

/// Component items of a composite recorded in the same entry (shown folded).
fn components_of(t: &PathwayTemplate, values: &Value) -> Vec<String> {
    t.items
        .iter()
        .filter(|i| i.item_type == ItemType::Composite && values.get(&i.code).is_some())
        .flat_map(|i| i.components.clone().unwrap_or_default())
        .collect()
}

fn process_summary(d: &PlanData, e: &Entry) -> Vec<ValueLine> {
    let t = Some(&d.template);
    let v = &e.values;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match EntryKind::parse(&e.kind) {
        Some(EntryKind::Handover) => vec![ValueLine {
            label: "連携".into(),
            value: format!(
                "{}({}){}",
                fmt::handover_state(&s("event")),
                fmt::stage_title(t, &s("stage")),
                if s("to_organization").is_empty() {
                    String::new()
                } else {
                    format!(" → {}", d.org(&s("to_organization")))
                }
            ),
        }],
        Some(EntryKind::Report) => vec![ValueLine {
            label: "返書".into(),
            value: "計画管理病院へ診療結果を報告".into(),
        }],
        Some(EntryKind::Lifecycle) => vec![ValueLine {
            label: "状態".into(),
            value: match s("event").as_str() {
                "completed" => "パス完了".to_owned(),
                "withdrawn" => "パス中止".to_owned(),
                "migrated" => format!("新しい版へ移行(第{}版)", v["to_version"]),
                other => other.to_owned(),
            },
        }],
        Some(EntryKind::Individualize) => vec![ValueLine {
            label: "個別設定".into(),
            value: if v.get("goal").is_some() {
                format!("達成目標「{}」の目標値を個別に設定", s("goal"))
            } else {
                format!(
                    "「{}」の間隔を {}日 に設定",
                    s("schedule"),
                    v["interval_days"]
                )
            },
        }],
        Some(EntryKind::Sheet) => vec![ValueLine {
            label: "連携シート".into(),
            value: renkei_domain::care_forms::form_of(v)
                .and_then(|c| renkei_domain::care_forms::shipped().form(c))
                .map(|f| f.title.clone())
                .unwrap_or_default(),
        }],
        _ => Vec::new(),
    }
}

pub fn card(d: &PlanData, e: &Entry, saved: &str, plan_url: &str) -> EntryCard {
    let t = &d.template;
    let kind = EntryKind::parse(&e.kind);
    let clinical = kind.is_some_and(EntryKind::is_clinical);
    let folded = components_of(t, &e.values);
    let mut main = Vec::new();
    let mut detail = Vec::new();
    if clinical {
        // Template order, composites first.
        let mut items: Vec<&renkei_domain::template::Item> = t
            .items
            .iter()
            .filter(|i| e.values.get(&i.code).is_some())
            .collect();
        items.sort_by_key(|i| i.item_type != ItemType::Composite);
        for i in items {
            let line = ValueLine {
                label: i.title.ja.clone(),
                value: fmt::value_text(Some(t), &i.code, &e.values[i.code.as_str()]),
            };
            if folded.contains(&i.code) {
                detail.push(line);
            } else {
                main.push(line);
            }
        }
    } else {
        main = process_summary(d, e);
    }
    let variance = e.variance.as_ref().map(|v| {
        let row = variance_words(t, v);
        format!(
            "{}〔{}・{}/{}〕",
            row.title, row.direction, row.level, row.category
        )
    });
    EntryCard {
        id: e.id.to_string(),
        seq: e.seq,
        kind: fmt::entry_kind(&e.kind),
        stage: fmt::stage_title(Some(t), &e.stage),
        effective: fmt::datetime(e.effective_at),
        recorded: fmt::datetime(e.recorded_at),
        author: e.author.name.clone(),
        profession: fmt::author_profession(e.author.id, &e.author.profession),
        facility: e.organization.name.clone(),
        main,
        detail,
        note: e.note.clone().filter(|n| !n.trim().is_empty()),
        variance,
        amended: e.amended_by.is_some(),
        reason: e.reason.clone(),
        amend_url: d
            .amendable
            .contains(&e.id)
            .then(|| format!("{plan_url}/entries/new?amends={}", e.id)),
        saved: saved == e.id.to_string(),
        amendments: Vec::new(),
        voided: e.voided_by.is_some(),
        void_reason: super::corrections::void_reason(&d.entries, e),
        is_void: kind == Some(EntryKind::EnteredInError),
        void_form: super::corrections::void_form(e, d.amendable.contains(&e.id), plan_url),
        history: Vec::new(),
    }
}

/// A variance's title and code parts in words: an automatic one names the goal (or the
/// stage past its days) it was raised for, with cause 「未分類」 until a person classifies
/// it; a classification and a dismissal say so.
pub struct VarianceWords {
    pub code: String,
    pub title: String,
    pub direction: String,
    pub level: String,
    pub category: String,
    pub automatic: bool,
}

pub fn variance_words(t: &PathwayTemplate, v: &Value) -> VarianceWords {
    use renkei_domain::wording::{self, Lang};
    let code = v["code"].as_str().unwrap_or("").to_owned();
    let automatic = v["automatic"] == true && v["dismissed"] != true;
    let (direction, level, category) = if code.is_empty() && automatic {
        // Written before automatic variances carried a code.
        ("負".to_owned(), "変動".to_owned(), "未分類".to_owned())
    } else {
        fmt::variance_parts(&code)
    };
    let about = v["goal"]
        .as_str()
        .map(|g| match g.strip_prefix("stage_overrun:") {
            Some(stage) => format!("{}の上限日数超過", fmt::stage_title(Some(t), stage)),
            None => t
                .goals
                .iter()
                .find(|x| x.code == g)
                .map(|x| format!("達成目標「{}」", x.title.ja))
                .unwrap_or_else(|| "達成目標".to_owned()),
        });
    let listed = t.variance(&code).map(|x| x.title.ja.clone());
    let title = if v["dismissed"] == true {
        wording::variance_review(true, Lang::Ja).to_owned()
    } else if automatic {
        format!(
            "{}: {}",
            wording::automatic_variance(Lang::Ja),
            about.unwrap_or_else(|| "達成目標または病期の日数".to_owned())
        )
    } else if v["classified"] == true {
        format!(
            "{}({})",
            listed.unwrap_or_else(|| code.clone()),
            wording::variance_review(false, Lang::Ja)
        )
    } else {
        listed.unwrap_or_else(|| code.clone())
    };
    VarianceWords {
        code,
        title,
        direction,
        level,
        category,
        automatic,
    }
}

/// The variance list, newest first (the plan page and the staff print).
pub fn variance_rows(d: &PlanData) -> Vec<VarianceRow> {
    let t = &d.template;
    d.effective()
        .filter(|e| EntryKind::parse(&e.kind) == Some(EntryKind::Variance))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|e| {
            let v = e.variance.clone().unwrap_or(Value::Null);
            let w = variance_words(t, &v);
            VarianceRow {
                entry_id: e.id.to_string(),
                automatic: w.automatic,
                entry_stage: e.stage.clone(),
                when: fmt::day_of(e.effective_at),
                stage: fmt::stage_title(Some(t), &e.stage),
                title: w.title,
                code: w.code,
                direction: w.direction,
                level: w.level,
                category: w.category,
                note: e.note.clone().unwrap_or_default(),
                by: e.organization.name.clone(),
                review: None,
            }
        })
        .collect()
}

// ------------------------------------------------------------------ the page

pub async fn plan_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<PlanQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let as_of_day = as_of_day(&q.as_of)?;
    let as_of = as_of_day.map(renkei_domain::calendar::tokyo_end_of_day);
    let screen = state
        .services
        .plan_screen_at(&ui.actor, &ui.meta, id, as_of)
        .await?;
    let d = from_screen(&state, &ui, screen);
    let now = as_of.unwrap_or_else(|| state.services.now());
    let t = &d.template;
    let plan_url = format!("/care-plans/{id}");

    // Entries, newest first; an amendment sits under the entry it amends.
    let by_id: HashMap<Uuid, &Entry> = d.entries.iter().map(|e| (e.id, e)).collect();
    let keep = |e: &Entry| {
        (q.profession.is_empty() || e.author.profession == q.profession)
            && (q.stage.is_empty() || e.stage == q.stage)
    };
    let mut entries = Vec::new();
    for e in d.entries.iter().rev() {
        if e.amends.is_some_and(|a| by_id.contains_key(&a)) || !keep(e) {
            continue;
        }
        let mut c = card(&d, e, &q.saved, &plan_url);
        match d.histories.get(&e.id) {
            // A chain of corrections (and a void): every later version under the original.
            Some(h) => {
                for v in h.versions.iter().skip(1) {
                    c.amendments.push(card(&d, &v.entry, &q.saved, &plan_url));
                }
                c.history = super::corrections::history_rows(t, h);
            }
            None => {
                for a in d.entries.iter().filter(|a| a.amends == Some(e.id)) {
                    c.amendments.push(card(&d, a, &q.saved, &plan_url));
                }
            }
        }
        entries.push(c);
    }
    let mut profs: Vec<String> = d
        .entries
        .iter()
        .map(|e| e.author.profession.clone())
        .collect();
    profs.sort();
    profs.dedup();
    let lang = if ui.english {
        renkei_domain::wording::Lang::En
    } else {
        renkei_domain::wording::Lang::Ja
    };
    let mut professions = vec![Filter {
        value: String::new(),
        label: renkei_domain::wording::ui_text("すべての職種", lang).into(),
        selected: q.profession.is_empty(),
    }];
    professions.extend(profs.into_iter().map(|p| Filter {
        label: fmt::profession(&p).to_owned(),
        selected: q.profession == p,
        value: p,
    }));
    let mut stage_filters = vec![Filter {
        value: String::new(),
        label: renkei_domain::wording::ui_text("すべての病期", lang).into(),
        selected: q.stage.is_empty(),
    }];
    stage_filters.extend(t.stages.iter().map(|s| Filter {
        value: s.code.clone(),
        label: s.title.ja.clone(),
        selected: q.stage == s.code,
    }));

    let mut variances = variance_rows(&d);
    let review_stages = if d.active() && variances.iter().any(|v| v.automatic) {
        state.services.variance_review_stages(&ui.actor, id).await?
    } else {
        Vec::new()
    };
    for v in variances
        .iter_mut()
        .filter(|v| v.automatic && review_stages.contains(&v.entry_stage))
    {
        v.review = Some(VarianceReviewForm {
            action: format!("{plan_url}/variances/{}/review", v.entry_id),
            options: t
                .variances
                .iter()
                .filter(|x| renkei_domain::variance::is_classification(&x.code))
                .map(|x| {
                    let (dir, level, cat) = fmt::variance_parts(&x.code);
                    (
                        x.code.clone(),
                        format!("{}〔{dir}・{level}/{cat}〕", x.title.ja),
                    )
                })
                .collect(),
        });
    }
    let handovers = d
        .handovers
        .iter()
        .map(|h| HandoverRow {
            url: format!("/handovers/{}", h.id),
            from: d.org(&h.from_organization),
            to: d.org(&h.to_organization),
            stage: fmt::stage_title(Some(t), &h.stage),
            state: fmt::handover_state(&h.state),
            proposed: fmt::day_of(h.proposed_at),
            answered: h.answered_at.map(fmt::day_of),
        })
        .collect();
    let reports = d
        .reports
        .iter()
        .map(|r| ReportRow {
            url: format!("/reports/{}", r.id),
            stage: fmt::stage_title(Some(t), &r.stage),
            from: d.org(&r.from_organization),
            to: d.org(&r.to_organization),
            due: fmt::day_of(r.due_at),
            sent: r.sent_at.map(fmt::day_of),
            overdue: r.overdue,
        })
        .collect();
    let team = d
        .team
        .iter()
        .map(|m| TeamRow {
            name: m.organization_name.clone(),
            role: fmt::team_role(m.role),
            stages: m
                .stages
                .iter()
                .map(|s| fmt::stage_title(Some(t), s))
                .collect::<Vec<_>>()
                .join("・"),
        })
        .collect();
    let latest_consent = d.consents.iter().max_by_key(|c| c.recorded_at);
    let (consent, consent_ok, consent_details) = match latest_consent {
        Some(c) if c.active => (
            "同意あり(有効)".to_owned(),
            true,
            vec![
                format!("取得日: {}", fmt::day_of(c.obtained_at).text),
                format!(
                    "方法: {} / 署名者: {}",
                    if c.method == "paper" {
                        "書面"
                    } else {
                        "電子署名"
                    },
                    if c.signer == "self" {
                        "本人".to_owned()
                    } else {
                        format!(
                            "代諾者({})",
                            c.proxy_relationship.clone().unwrap_or_default()
                        )
                    }
                ),
                format!(
                    "共有範囲: {}",
                    if c.scope == "care_team" {
                        "ケアチーム".to_owned()
                    } else {
                        c.organizations
                            .iter()
                            .map(|o| d.org(o))
                            .collect::<Vec<_>>()
                            .join("・")
                    }
                ),
            ],
        ),
        Some(c) => (
            "同意撤回".to_owned(),
            false,
            vec![format!(
                "撤回日: {}",
                c.withdrawn_at
                    .map(|w| fmt::day_of(w).text)
                    .unwrap_or_default()
            )],
        ),
        None => (
            "同意未取得".to_owned(),
            false,
            vec!["計画管理病院は、登録から7日以内に説明し同意を記録してください。".to_owned()],
        ),
    };

    let active = d.active();
    let mut record_actions = Vec::new();
    let new = format!("{plan_url}/entries/new");
    let cur = &d.plan.current_stage;
    let stage_items = |pred: &dyn Fn(&str) -> bool| {
        t.items
            .iter()
            .any(|i| i.stages.iter().any(|s| s == cur) && pred(&i.code))
    };
    for a in &d.actions {
        match a {
            PlanAction::StartStage(stage) if stage == cur => record_actions.push(Action {
                url: format!("{new}?kind=stage_start&stage={stage}"),
                label: format!("{}の開始を記録", fmt::stage_title(Some(t), stage)),
            }),
            PlanAction::StartStage(stage) => record_actions.push(Action {
                url: format!("{new}?kind=stage_start&stage={stage}"),
                label: format!(
                    "{}の開始(入院・受入)を記録",
                    fmt::stage_title(Some(t), stage)
                ),
            }),
            PlanAction::Assess(_) => {
                if stage_items(&|c| c.starts_with("fim_")) {
                    record_actions.push(Action {
                        url: format!("{new}?kind=assessment&sheet=fim"),
                        label: "FIMを評価".into(),
                    });
                }
                if stage_items(&|c| c.starts_with("barthel_")) {
                    record_actions.push(Action {
                        url: format!("{new}?kind=assessment&sheet=barthel"),
                        label: "バーセルインデックスを評価".into(),
                    });
                }
                record_actions.push(Action {
                    url: format!("{new}?kind=assessment"),
                    label: "評価・検査値を記録".into(),
                });
            }
            PlanAction::RecordVariance(_) => record_actions.push(Action {
                url: format!("{new}?kind=variance"),
                label: "バリアンスを記録".into(),
            }),
            PlanAction::AddNote => record_actions.push(Action {
                url: format!("{new}?kind=note"),
                label: "記録(メモ)".into(),
            }),
            PlanAction::EndStage(stage) if stage != cur => record_actions.push(Action {
                url: format!("{new}?kind=stage_end&stage={stage}"),
                label: format!(
                    "{}の終了(転院・退院)を記録(終了未記録)",
                    fmt::stage_title(Some(t), stage)
                ),
            }),
            PlanAction::EndStage(stage) => record_actions.push(Action {
                url: format!("{new}?kind=stage_end&stage={stage}"),
                label: format!(
                    "{}の終了(転院・退院)を記録",
                    fmt::stage_title(Some(t), stage)
                ),
            }),
            _ => {}
        }
    }
    let notice = if !q.saved.is_empty() {
        Some("記録を確定しました。下の一覧に追加されています。".to_owned())
    } else if !q.enrolled.is_empty() {
        Some("連携パスを適用しました。".to_owned())
    } else if !q.accepted.is_empty() {
        Some("受入を回答しました。自施設がケアチームに加わりました。受入(入院)の日に病期の開始を記録してください。".to_owned())
    } else if !q.proposed.is_empty() {
        Some("転院・紹介を依頼しました。相手施設の回答を待っています。".to_owned())
    } else {
        super::variances::review_notice(&q.variance).map(str::to_owned)
    };
    let stages = d.columns(now);
    let goals = goal_rows(&d, &plan_url);
    let cycle = super::cycle::cycle_view(
        &d.template,
        &d.team,
        &d.schedule,
        d.referral.as_ref(),
        goal_rows(&d, &plan_url),
    );
    let visits = if cycle.is_none() {
        super::cycle::visit_rows(&d.schedule)
    } else {
        Vec::new()
    };
    let plan_actions = super::plan_actions::view(&state, &d, &plan_url, &q.done);
    let page_data = PlanPage {
        plan_actions,
        cycle,
        visits,
        shell: ui.shell(
            format!("{} — {}", d.plan.pathway.title_ja, d.banner.name()),
            Nav::None,
        ),
        title: d.plan.pathway.title_ja.clone(),
        version: d.plan.pathway.version,
        variant: d.plan.variant.as_ref().map(|v| v.title_ja.clone()),
        status: fmt::plan_status(d.status),
        active,
        current_stage: fmt::stage_title(Some(t), &d.plan.current_stage),
        started: fmt::day_of(d.plan.started_at),
        planner: d.org(&d.plan.planner_organization),
        notice,
        stages,
        goals,
        entry_total: d.entries.len(),
        filtered: !q.profession.is_empty() || !q.stage.is_empty(),
        entries,
        professions,
        stage_filters,
        variances,
        handovers,
        reports,
        team,
        consent,
        consent_ok,
        consent_details,
        record_actions,
        handover_url: d
            .may(&PlanAction::ProposeHandover)
            .then(|| format!("{plan_url}/handovers/new")),
        print_url: format!("{plan_url}/print"),
        sheets_url: format!("{plan_url}/sheets"),
        handbook: renkei_domain::care_forms::shipped()
            .handbook_for(&t.code)
            .map(|h| (h.title.clone(), format!("{plan_url}/handbook"))),
        amendment_notices: super::corrections::notice_rows(
            &|_| Some(t.clone()),
            &d.notices,
            &plan_url,
        ),
        banner: d.banner,
        as_of: as_of_day.map(|d| d.to_string()).unwrap_or_default(),
        as_of_text: as_of_day.map(|d| {
            format!(
                "{}時点の記録(その日までに効力のある記録)で目標と病期を表示しています。",
                d.format("%Y年%-m月%-d日")
            )
        }),
    };
    Ok(page(StatusCode::OK, &page_data))
}

/// The plan page's `?as_of=YYYY-MM-DD` (empty: now); a malformed day is a 422.
fn as_of_day(raw: &str) -> Result<Option<chrono::NaiveDate>, super::UiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            super::UiError(renkei_service::ServiceError::field(
                "as_of",
                renkei_domain::Rule::Format,
                "must be a date YYYY-MM-DD",
            ))
        })
}

// ------------------------------------------------------------------ trend (推移表)

#[derive(Debug, Default, Deserialize)]
pub struct TrendQuery {
    #[serde(default)]
    item: String,
}

#[derive(Template)]
#[template(path = "ui/trend.html")]
pub struct TrendPage {
    pub shell: Shell,
    pub banner: Banner,
    pub plan_url: String,
    pub item_title: String,
    pub unit: String,
    pub chart: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<(When, String, Vec<String>, String)>,
}

pub async fn trend_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<TrendQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let d = load(&state, &ui, id).await?;
    let t = &d.template;
    let Some(item) = t.item(&q.item) else {
        return Err(renkei_service::ServiceError::NotFound("item").into());
    };
    let components = item.components.clone().unwrap_or_default();
    let mut rows = Vec::new();
    let mut entries: Vec<&Entry> = d
        .effective()
        .filter(|e| e.values.get(&item.code).is_some())
        .collect();
    entries.sort_by_key(|e| e.effective_at);
    for e in &entries {
        rows.push((
            fmt::day_of(e.effective_at),
            fmt::stage_title(Some(t), &e.stage),
            components
                .iter()
                .map(|c| {
                    e.values
                        .get(c)
                        .map(|v| fmt::value_text(None, c, v))
                        .unwrap_or_else(|| "—".into())
                })
                .collect(),
            fmt::value_text(None, &item.code, &e.values[item.code.as_str()]),
        ));
    }
    let series = d.series(&item.code);
    let chart = sparkline(
        &series,
        None,
        (item.min, item.max),
        &format!("{}の推移(全{}回)", item.title.ja, series.len()),
        480.0,
        120.0,
    );
    Ok(page(
        StatusCode::OK,
        &TrendPage {
            shell: ui.shell(
                format!("推移表 {} — {}", item.title.ja, d.banner.name()),
                Nav::None,
            ),
            plan_url: format!("/care-plans/{id}"),
            item_title: item.title.ja.clone(),
            unit: item.unit.as_deref().map(fmt::unit).unwrap_or_default(),
            chart,
            columns: components
                .iter()
                .map(|c| {
                    fmt::item_title(Some(t), c)
                        .trim_start_matches("FIM ")
                        .trim_start_matches("BI ")
                        .to_owned()
                })
                .collect(),
            rows,
            banner: d.banner,
        },
    ))
}
