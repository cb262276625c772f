//! The hand-off sheets of a plan and the patient handbook, both from the shared forms of
//! `pathways/care-forms.toml`:
//!
//! - `/care-plans/{id}/sheets`: the sheets recorded on the plan (地域生活連携シート
//!   A表/B表, 入院時情報提供書, 退院・退所情報記録書), each printable;
//! - `/care-plans/{id}/sheets/{entry}/print`: one sheet as its A4 paper form, every
//!   option printed with its box ticked or not;
//! - `/care-plans/{id}/handbook`: the patient's handbook pages of a plan whose pathway has
//!   one (糖尿病連携手帳: visits with the page's items, four visits per table as in the
//!   book; the goals as the goal engine judges them; the next due dates the schedule
//!   computes; the 糖尿病眼手帳 page from the eye-exam entries), printable on A5.
//!
//! Each page reads the plan through the plan page's read model (the list) or the print
//! read model (the printed sheet, the handbook): one access decision, one audit event;
//! nothing here computes a rule of its own.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use renkei_domain::care_forms::{self, FieldType, SheetField};
use renkei_domain::schedule::ScheduleState;
use renkei_service::plans::Entry;
use serde_json::Value;

use super::fmt::{self, When};
use super::plan::{PlanData, load, load_print};
use super::views::Banner;
use super::{Nav, Shell, Ui, UiResult, page, parse_uuid};
use crate::state::AppState;

/// One recorded sheet in the list.
pub struct SheetRow {
    pub written: When,
    pub title: String,
    pub author: String,
    pub facility: String,
    pub print_url: String,
}

/// A form of the shared file, described for the list.
pub struct FormRow {
    pub title: String,
    pub purpose: String,
    pub author: &'static str,
}

#[derive(Template)]
#[template(path = "ui/sheets.html")]
pub struct SheetsPage {
    pub shell: Shell,
    pub banner: Banner,
    pub plan_url: String,
    pub sheets: Vec<SheetRow>,
    pub forms: Vec<FormRow>,
}

/// A box of a choice, multi or boolean field on paper.
pub struct Tick {
    pub title: String,
    pub on: bool,
}

/// One printed field: ticked boxes, or its words.
pub struct PrintField {
    pub title: String,
    pub ticks: Vec<Tick>,
    pub text: String,
}

pub struct PrintSection {
    pub title: String,
    pub fields: Vec<PrintField>,
}

#[derive(Template)]
#[template(path = "ui/sheet_print.html")]
pub struct SheetPrintPage {
    pub shell: Shell,
    pub title: String,
    pub purpose: String,
    pub banner: Banner,
    pub written: When,
    pub author: String,
    pub facility: String,
    pub sections: Vec<PrintSection>,
    pub plan_url: String,
    pub sheets_url: String,
    pub css_url: String,
    pub printed: When,
}

fn sheets_of(d: &PlanData) -> Vec<&Entry> {
    d.effective()
        .filter(|e| e.kind == renkei_domain::entry::EntryKind::Sheet.as_str())
        .collect()
}

/// `GET /care-plans/{id}/sheets`.
pub async fn sheets_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let d = load(&state, &ui, id).await?;
    let forms = care_forms::shipped();
    let plan_url = format!("/care-plans/{id}");
    let sheets = sheets_of(&d)
        .into_iter()
        .rev()
        .map(|e| SheetRow {
            written: fmt::datetime(e.effective_at),
            title: care_forms::form_of(&e.values)
                .and_then(|c| forms.form(c))
                .map(|f| f.title.clone())
                .unwrap_or_else(|| "連携シート".into()),
            author: e.author.name.clone(),
            facility: e.organization.name.clone(),
            print_url: format!("{plan_url}/sheets/{}/print", e.id),
        })
        .collect();
    let rows = forms
        .forms
        .iter()
        .map(|f| FormRow {
            title: f.title.clone(),
            purpose: f.purpose.clone(),
            author: f.author.title(),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &SheetsPage {
            shell: ui.shell(format!("連携シート — {}", d.banner.name()), Nav::None),
            banner: d.banner,
            plan_url,
            sheets,
            forms: rows,
        },
    ))
}

fn print_field(field: &SheetField, value: Option<&Value>) -> PrintField {
    let chosen = |code: &str| match value {
        Some(Value::String(s)) => s == code,
        Some(Value::Array(list)) => list.iter().any(|v| v.as_str() == Some(code)),
        _ => false,
    };
    let (ticks, text) = match field.field_type {
        FieldType::Choice | FieldType::Multi => (
            field
                .options
                .iter()
                .map(|o| Tick {
                    title: o.title.clone(),
                    on: chosen(&o.code),
                })
                .collect(),
            String::new(),
        ),
        FieldType::Boolean => (
            vec![
                Tick {
                    title: "はい".into(),
                    on: value == Some(&Value::Bool(true)),
                },
                Tick {
                    title: "いいえ".into(),
                    on: value == Some(&Value::Bool(false)),
                },
            ],
            String::new(),
        ),
        FieldType::Date => (
            Vec::new(),
            value
                .and_then(Value::as_str)
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .map(fmt::date_text)
                .unwrap_or_default(),
        ),
        FieldType::Text => (
            Vec::new(),
            value
                .map(|v| care_forms::value_words(field, v))
                .unwrap_or_default(),
        ),
    };
    PrintField {
        title: field.title.clone(),
        ticks,
        text,
    }
}

/// `GET /care-plans/{id}/sheets/{entry}/print` — one sheet as its A4 form.
pub async fn sheet_print_page(
    State(state): State<AppState>,
    ui: Ui,
    Path((id, entry)): Path<(String, String)>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let entry = parse_uuid(&entry)?;
    let d = load_print(&state, &ui, id).await?;
    let forms = care_forms::shipped();
    let Some(e) = sheets_of(&d).into_iter().find(|e| e.id == entry) else {
        return Err(renkei_service::ServiceError::NotFound("sheet").into());
    };
    let Some(form) = care_forms::form_of(&e.values).and_then(|c| forms.form(c)) else {
        return Err(renkei_service::ServiceError::NotFound("sheet").into());
    };
    let fields = e.values.get("fields");
    let sections = forms
        .sections_of(form)
        .map(|s| PrintSection {
            title: s.title.clone(),
            fields: s
                .fields
                .iter()
                .map(|f| print_field(f, fields.and_then(|v| v.get(&f.code))))
                .collect(),
        })
        .collect();
    let plan_url = format!("/care-plans/{id}");
    Ok(page(
        StatusCode::OK,
        &SheetPrintPage {
            shell: ui.shell(String::new(), Nav::None),
            title: form.title.clone(),
            purpose: form.purpose.clone(),
            written: fmt::day_of(e.effective_at),
            author: e.author.name.clone(),
            facility: e.organization.name.clone(),
            sections,
            sheets_url: format!("{plan_url}/sheets"),
            css_url: format!("{plan_url}/print.css?doc={}", form.code),
            plan_url,
            printed: fmt::day_of(state.services.now()),
            banner: d.banner,
        },
    ))
}

// ------------------------------------------------------------------ handbook

/// One table of visits (at most four, as a double page of the book).
pub struct VisitTable {
    pub caption: String,
    pub dates: Vec<When>,
    pub facilities: Vec<String>,
    /// Item title with unit, then one cell per visit.
    pub rows: Vec<(String, Vec<String>)>,
}

/// A next due date of the schedule.
pub struct DueRow {
    pub title: String,
    pub last: Option<When>,
    pub due: When,
    pub state: &'static str,
}

pub struct HandbookSection {
    pub title: String,
    pub eye: bool,
    pub tables: Vec<VisitTable>,
    pub due: Vec<DueRow>,
}

pub struct GoalLine {
    pub title: String,
    pub latest: String,
    pub latest_on: Option<When>,
    pub state: &'static str,
    pub due: Option<When>,
}

#[derive(Template)]
#[template(path = "ui/handbook.html")]
pub struct HandbookPage {
    pub shell: Shell,
    pub title: String,
    pub banner: Banner,
    pub pathway: String,
    pub goals: Vec<GoalLine>,
    pub sections: Vec<HandbookSection>,
    pub plan_url: String,
    pub css_url: String,
    pub printed: When,
}

/// A value in a visits table: numbers as clinicians read them (the unit heads the row),
/// other values in words.
fn cell(
    t: &renkei_domain::template::PathwayTemplate,
    item: &renkei_domain::template::Item,
    v: &Value,
) -> String {
    use renkei_domain::template::ItemType;
    match (item.item_type, v.as_f64()) {
        (ItemType::Integer | ItemType::Decimal | ItemType::Composite, Some(x)) => {
            fmt::item_number(item, x)
        }
        _ => fmt::value_text(Some(t), &item.code, v),
    }
}

/// Visits per printed table, as the book's double page holds them.
const VISITS_PER_TABLE: usize = 4;

/// `GET /care-plans/{id}/handbook` — the handbook pages of the plan, if its pathway has
/// a handbook (404 otherwise).
pub async fn handbook_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let d = load_print(&state, &ui, id).await?;
    let Some(book) = care_forms::shipped().handbook_for(&d.template.code) else {
        return Err(renkei_service::ServiceError::NotFound("handbook").into());
    };
    let t = &d.template;
    let mut visits: Vec<&Entry> = d.effective().collect();
    visits.sort_by_key(|e| (e.effective_at, e.seq));
    let sections = book
        .pages
        .iter()
        .map(|p| {
            let items: Vec<&renkei_domain::template::Item> =
                p.items.iter().filter_map(|c| t.item(c)).collect();
            let with_values: Vec<&&Entry> = visits
                .iter()
                .filter(|e| items.iter().any(|i| e.values.get(&i.code).is_some()))
                .collect();
            let recorded: Vec<&&renkei_domain::template::Item> = items
                .iter()
                .filter(|i| with_values.iter().any(|e| e.values.get(&i.code).is_some()))
                .collect();
            let tables = with_values
                .chunks(VISITS_PER_TABLE)
                .enumerate()
                .map(|(n, chunk)| VisitTable {
                    caption: format!(
                        "{} {}〜{}回目",
                        p.title,
                        n * VISITS_PER_TABLE + 1,
                        n * VISITS_PER_TABLE + chunk.len()
                    ),
                    dates: chunk.iter().map(|e| fmt::day_of(e.effective_at)).collect(),
                    facilities: chunk.iter().map(|e| e.organization.name.clone()).collect(),
                    rows: recorded
                        .iter()
                        .map(|i| {
                            let unit = i.unit.as_deref().map(fmt::unit).unwrap_or_default();
                            (
                                if unit.is_empty() {
                                    i.title.ja.clone()
                                } else {
                                    format!("{}({unit})", i.title.ja)
                                },
                                chunk
                                    .iter()
                                    .map(|e| {
                                        e.values
                                            .get(&i.code)
                                            .map(|v| cell(t, i, v))
                                            .unwrap_or_else(|| "—".into())
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                })
                .collect();
            let due = d
                .schedule
                .iter()
                .filter(|s| {
                    p.schedules.contains(&s.code) && s.state != ScheduleState::NotApplicable
                })
                .map(|s| DueRow {
                    title: s.title_ja.clone(),
                    last: s.last_done.map(fmt::day_of),
                    due: fmt::date(s.due_date),
                    state: super::cycle::state_words(s.state).0,
                })
                .collect();
            HandbookSection {
                title: p.title.clone(),
                eye: p.eye,
                tables,
                due,
            }
        })
        .collect();
    let goals = d
        .goals
        .iter()
        .filter(|g| g.status != renkei_domain::goals::GoalState::NotApplicable)
        .map(|g| GoalLine {
            title: g.title.ja.clone(),
            latest: g
                .latest
                .as_ref()
                .map(|l| fmt::value_text(Some(t), g.item.as_deref().unwrap_or(""), &l.value))
                .unwrap_or_else(|| "—".into()),
            latest_on: g.latest.as_ref().map(|l| fmt::day_of(l.effective_at)),
            state: fmt::goal_state(fmt::goal_code(g)).0,
            due: g.due_date.map(fmt::date),
        })
        .collect();
    let plan_url = format!("/care-plans/{id}");
    Ok(page(
        StatusCode::OK,
        &HandbookPage {
            shell: ui.shell(String::new(), Nav::None),
            title: book.title.clone(),
            pathway: d.plan.pathway.title_ja.clone(),
            goals,
            sections,
            css_url: format!("{plan_url}/print.css?doc={}", book.code),
            plan_url,
            printed: fmt::day_of(state.services.now()),
            banner: d.banner,
        },
    ))
}
