//! The regional pathway council's pages (issue 16): `/council`, the dashboard (the
//! report filter as a GET form whose values stay in the URL, a link to each report with
//! the current filter, the meetings); the meetings registry (`/council/meetings/…`: record
//! a meeting with its attending organisations and the reports it reviewed frozen,
//! record its decisions, link each to the template version that carried it out). The
//! same service functions as `/api/v1/council/…`, so the same checks and audit apply.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use renkei_domain::FieldError;
use renkei_domain::wording::{self, FieldFacts, Lang};
use renkei_service::ServiceError;
use renkei_service::council::{ChartKind, ReportCell, ReportKind, ReportPage, ReportSection};
use renkei_service::council_meetings::{self as meetings, Meeting, NewMeeting};

use super::{
    Nav, Posted, Shell, Ui, UiResult, charts, fmt, new_form_key, page, parse_uuid, see_other,
};
use crate::state::AppState;

/// The council's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/council", get(dashboard))
        .route("/council/meetings", post(record_meeting))
        .route("/council/meetings/new", get(new_meeting_form))
        .route("/council/meetings/{id}", get(meeting_page))
        .route("/council/meetings/{id}/decisions", post(record_decision))
        .route("/council/decisions/{id}/link", post(link_decision))
        .route("/council/reports/{kind}", get(report_page))
        .route("/council/reports/{kind}/csv", get(report_csv))
}

/// The query parameters of the report filter, in the order the form shows them.
pub const FILTER_KEYS: [&str; 8] = [
    "pathway",
    "version",
    "from",
    "to",
    "period",
    "area",
    "organization",
    "stage",
];

/// The report filter as given in the URL: each known parameter with its values, in the
/// order given (unknown parameters are dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterQuery(pub Vec<(String, String)>);

impl FilterQuery {
    pub fn parse(raw: Option<&str>) -> FilterQuery {
        let pairs: Vec<(String, String)> = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        FilterQuery(
            pairs
                .into_iter()
                .filter(|(k, v)| FILTER_KEYS.contains(&k.as_str()) && !v.is_empty())
                .collect(),
        )
    }

    /// The first value of `key` ("" when absent).
    pub fn first(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `path` with the filter (and `extra` pairs) as its query.
    pub fn url(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        for (k, v) in extra {
            s.append_pair(k, v);
        }
        let q = s.finish();
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    }

    /// The filter as the meetings' snapshot filter (parameter → values).
    pub fn as_map(&self) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.0 {
            map.entry(k.clone()).or_default().push(v.clone());
        }
        map
    }

    /// Back from a snapshot filter.
    pub fn from_map(map: &BTreeMap<String, Vec<String>>) -> FilterQuery {
        let mut pairs = Vec::new();
        for key in FILTER_KEYS {
            for v in map.get(key).into_iter().flatten() {
                pairs.push((key.to_owned(), v.clone()));
            }
        }
        FilterQuery(pairs)
    }
}

/// One option of a select or checkbox list.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The filter form of the dashboard and the report pages: its options and the values
/// the URL holds.
pub struct FilterForm {
    pub pathways: Vec<Choice>,
    pub versions: Vec<Choice>,
    pub organizations: Vec<Choice>,
    pub areas: Vec<Choice>,
    pub stages: Vec<Choice>,
    pub from: String,
    pub to: String,
    pub period_end: bool,
    /// The filter in words (`連携パス: 脳卒中 / 期間: …`), or "すべて".
    pub summary: String,
}

fn choice(value: &str, label: String, selected: bool) -> Choice {
    Choice {
        value: value.to_owned(),
        label,
        selected,
    }
}

/// The filter form for `filter`: pathways and their versions and stages from the
/// published templates, organisations and areas from the directory.
pub async fn filter_form(
    state: &AppState,
    ui: &Ui,
    filter: &FilterQuery,
) -> Result<FilterForm, ServiceError> {
    let mut pathways: Vec<Choice> = Vec::new();
    let mut versions: Vec<Choice> = Vec::new();
    let mut stages: Vec<Choice> = Vec::new();
    let chosen = filter.first("pathway");
    let chosen_versions = filter.all("version");
    for p in state.services.pathways.all() {
        let t = &p.template;
        if !pathways.iter().any(|c| c.value == t.code) {
            pathways.push(choice(&t.code, t.title.ja.clone(), chosen == t.code));
        }
        if chosen == t.code {
            let v = t.version.to_string();
            let selected = chosen_versions.contains(&v.as_str());
            versions.push(choice(&v, format!("第{v}版"), selected));
            for s in &t.stages {
                if !stages.iter().any(|c| c.value == s.code) {
                    stages.push(choice(
                        &s.code,
                        s.title.ja.clone(),
                        filter.first("stage") == s.code,
                    ));
                }
            }
        }
    }
    let orgs = renkei_service::admin::list_organizations(&state.services.db).await?;
    let organizations = orgs
        .iter()
        .filter(|o| o.area == ui.actor.region)
        .map(|o| {
            choice(
                &o.code,
                o.name.clone(),
                filter.first("organization") == o.code,
            )
        })
        .collect();
    let mut areas: Vec<Choice> = Vec::new();
    for o in &orgs {
        if !o.area.is_empty() && !areas.iter().any(|a| a.value == o.area) {
            areas.push(choice(
                &o.area,
                o.area.clone(),
                filter.first("area") == o.area,
            ));
        }
    }
    let summary = filter_summary(filter, &pathways, &ui.organization_names);
    Ok(FilterForm {
        pathways,
        versions,
        organizations,
        areas,
        stages,
        from: filter.first("from").to_owned(),
        to: filter.first("to").to_owned(),
        period_end: filter.first("period") == "end",
        summary,
    })
}

/// The filter in words, for the pages and the meeting's snapshot.
fn filter_summary(
    filter: &FilterQuery,
    pathways: &[Choice],
    orgs: &std::collections::HashMap<String, String>,
) -> String {
    let mut parts = Vec::new();
    let p = filter.first("pathway");
    if !p.is_empty() {
        let name = pathways
            .iter()
            .find(|c| c.value == p)
            .map(|c| c.label.clone())
            .unwrap_or_else(|| p.to_owned());
        parts.push(format!("連携パス: {name}"));
    }
    let versions = filter.all("version");
    if !versions.is_empty() {
        parts.push(format!(
            "版: {}",
            versions
                .iter()
                .map(|v| format!("第{v}版"))
                .collect::<Vec<_>>()
                .join("・")
        ));
    }
    let (from, to) = (filter.first("from"), filter.first("to"));
    if !from.is_empty() || !to.is_empty() {
        let which = if filter.first("period") == "end" {
            "終了日"
        } else {
            "開始日"
        };
        parts.push(format!("{which}: {from}〜{to}"));
    }
    let area = filter.first("area");
    if !area.is_empty() {
        parts.push(format!("医療圏: {area}"));
    }
    let org = filter.first("organization");
    if !org.is_empty() {
        parts.push(format!(
            "施設: {}",
            orgs.get(org).cloned().unwrap_or_else(|| org.to_owned())
        ));
    }
    let stage = filter.first("stage");
    if !stage.is_empty() {
        parts.push(format!("病期: {stage}"));
    }
    if parts.is_empty() {
        "すべて".to_owned()
    } else {
        parts.join(" / ")
    }
}

// ------------------------------------------------------------------ the dashboard

/// A link to one report with the current filter.
pub struct ReportLink {
    pub kind: &'static str,
    pub title: &'static str,
    pub url: String,
}

/// One meeting in a list.
pub struct MeetingRowView {
    pub url: String,
    pub held_on: fmt::When,
    pub title: String,
    pub attending: String,
    pub decisions: usize,
    pub carried: usize,
}

#[derive(Template)]
#[template(path = "ui/council_dashboard.html")]
pub struct DashboardPage {
    pub shell: Shell,
    pub form: FilterForm,
    pub filter_action: &'static str,
    pub reports: Vec<ReportLink>,
    pub meetings: Vec<MeetingRowView>,
    pub may_record: bool,
    pub new_meeting_url: String,
}

fn meeting_row(m: &Meeting) -> MeetingRowView {
    MeetingRowView {
        url: format!("/council/meetings/{}", m.id),
        held_on: fmt::date(m.held_on),
        title: m.title.clone(),
        attending: m
            .attending
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join("、"),
        decisions: m.decisions.len(),
        carried: m
            .decisions
            .iter()
            .filter(|d| d.carried_by.is_some())
            .count(),
    }
}

/// `GET /council` — the council's dashboard.
pub async fn dashboard(State(state): State<AppState>, ui: Ui, RawQuery(raw): RawQuery) -> UiResult {
    let filter = FilterQuery::parse(raw.as_deref());
    let form = filter_form(&state, &ui, &filter).await?;
    let reports = ReportKind::ALL
        .iter()
        .map(|k| ReportLink {
            kind: k.as_str(),
            title: k.title_ja(),
            url: filter.url(&format!("/council/reports/{}", k.as_str()), &[]),
        })
        .collect();
    let list = meetings::list_meetings(&state.services, &ui.actor).await?;
    let shell = ui.shell(ui_title("地域連携パス協議会", &ui), Nav::Council);
    Ok(page(
        StatusCode::OK,
        &DashboardPage {
            shell,
            form,
            filter_action: "/council",
            reports,
            meetings: list.iter().map(meeting_row).collect(),
            may_record: meetings::sees_snapshots(&ui.actor),
            new_meeting_url: filter.url("/council/meetings/new", &[]),
        },
    ))
}

/// A page title in the shell's language.
fn ui_title(ja: &'static str, ui: &Ui) -> String {
    wording::ui_text(ja, if ui.english { Lang::En } else { Lang::Ja }).to_owned()
}

// ------------------------------------------------------------------ recording a meeting

#[derive(Template)]
#[template(path = "ui/council_meeting_new.html")]
pub struct NewMeetingPage {
    pub shell: Shell,
    pub form_key: String,
    pub held_on: String,
    pub title: String,
    pub organizations: Vec<Choice>,
    pub reports: Vec<Choice>,
    /// The report filter carried as hidden fields.
    pub filter: Vec<(String, String)>,
    pub filter_summary: String,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

/// The words people see for a meeting or decision field.
fn field_label(field: &str) -> &'static str {
    match field.split('[').next().unwrap_or(field) {
        "held_on" => "開催日",
        "title" => "会議名",
        "attending" => "出席施設",
        "text" => "決定事項",
        "pathway" => "連携パス",
        "version" => "版",
        _ => "入力",
    }
}

/// Every field error as (form field id, Japanese message).
fn errors_of(errors: &[FieldError]) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|e| {
            let label = field_label(&e.field);
            let facts = FieldFacts {
                label: Some(label),
                range: None,
                is_list: false,
                item_type: None,
            };
            (
                e.field.split('[').next().unwrap_or(&e.field).to_owned(),
                wording::field_message(e, Lang::Ja, &facts),
            )
        })
        .collect()
}

struct Typed {
    held_on: String,
    title: String,
    attending: Vec<String>,
    reports: Vec<String>,
    filter: FilterQuery,
}

async fn new_meeting_page(
    state: &AppState,
    ui: Ui,
    typed: Typed,
    errors: Vec<(String, String)>,
) -> UiResult {
    let orgs = renkei_service::admin::list_organizations(&state.services.db).await?;
    let organizations = orgs
        .iter()
        .filter(|o| o.area == ui.actor.region)
        .map(|o| choice(&o.code, o.name.clone(), typed.attending.contains(&o.code)))
        .collect();
    let reports = ReportKind::ALL
        .iter()
        .map(|k| {
            choice(
                k.as_str(),
                wording::ui_text(k.title_ja(), lang_of(&ui)).to_owned(),
                typed.reports.iter().any(|r| r == k.as_str()),
            )
        })
        .collect();
    let form = filter_form(state, &ui, &typed.filter).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let shell = ui.shell(ui_title("協議会の会議を記録", &ui), Nav::Council);
    Ok(page(
        status,
        &NewMeetingPage {
            shell,
            form_key: new_form_key(),
            held_on: typed.held_on,
            title: typed.title,
            organizations,
            reports,
            filter: typed.filter.0.clone(),
            filter_summary: form.summary,
            errors,
            notice: None,
        },
    ))
}

/// `GET /council/meetings/new` — the form, carrying the dashboard's filter.
pub async fn new_meeting_form(
    State(state): State<AppState>,
    ui: Ui,
    RawQuery(raw): RawQuery,
) -> UiResult {
    if !meetings::sees_snapshots(&ui.actor) {
        return Err(ServiceError::Forbidden.into());
    }
    let filter = FilterQuery::parse(raw.as_deref());
    let today = fmt::today_jst(state.services.now());
    new_meeting_page(
        &state,
        ui,
        Typed {
            held_on: today.format("%Y-%m-%d").to_string(),
            title: String::new(),
            attending: Vec::new(),
            // Every report but the comparison, which needs two versions chosen.
            reports: ReportKind::ALL
                .iter()
                .filter(|k| **k != ReportKind::Compare)
                .map(|k| k.as_str().to_owned())
                .collect(),
            filter,
        },
        Vec::new(),
    )
    .await
}

/// `POST /council/meetings` — records the meeting (the snapshot frozen now) → 303 to its
/// page; every problem at once, what was typed kept.
pub async fn record_meeting(State(state): State<AppState>, posted: Posted) -> UiResult {
    let filter = FilterQuery(
        posted
            .fields
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("filter.")
                    .filter(|k| FILTER_KEYS.contains(k))
                    .map(|k| (k.to_owned(), v.trim().to_owned()))
            })
            .filter(|(_, v)| !v.is_empty())
            .collect(),
    );
    let typed = Typed {
        held_on: posted.get("held_on").to_owned(),
        title: posted.get("title").to_owned(),
        attending: posted.all("attending"),
        reports: posted.all("reports"),
        filter,
    };
    let ui = posted.ui;
    match meetings::record_meeting(
        &state.services,
        &ui.actor,
        &ui.meta,
        NewMeeting {
            held_on: typed.held_on.clone(),
            title: typed.title.clone(),
            attending: typed.attending.clone(),
            reports: typed.reports.clone(),
            filter: typed.filter.as_map(),
        },
    )
    .await
    {
        Ok(m) => Ok(see_other(&format!(
            "/council/meetings/{}?done=recorded",
            m.id
        ))),
        Err(ServiceError::Validation(errors)) => {
            new_meeting_page(&state, ui, typed, errors_of(&errors)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ one meeting

/// One decision on the meeting page.
pub struct DecisionView {
    pub id: String,
    pub text: String,
    pub pathway: String,
    pub pathway_code: String,
    pub carried_by: Option<String>,
    /// The versions of the decision's pathway it may be linked to.
    pub versions: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "ui/council_meeting.html")]
pub struct MeetingPage {
    pub shell: Shell,
    pub held_on: fmt::When,
    pub title: String,
    pub attending: Vec<String>,
    pub decisions: Vec<DecisionView>,
    pub pathways: Vec<Choice>,
    pub may_record: bool,
    pub action_decision: String,
    pub meeting_id: String,
    pub filter_summary: String,
    pub snapshot: Option<Vec<ReportView>>,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
    pub decision_text: String,
}

/// The meeting page's notice after a POST (`?done=…`).
fn meeting_notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "recorded" => "会議を記録しました。検討した報告はこの時点の内容で保存されています。",
        "decided" => "決定事項を記録しました。",
        "linked" => "決定事項を実施した版に結び付けました。",
        _ => return None,
    })
}

async fn render_meeting(
    state: &AppState,
    ui: Ui,
    id: uuid::Uuid,
    errors: Vec<(String, String)>,
    decision_text: String,
    done: &str,
) -> UiResult {
    let m = meetings::get_meeting(&state.services, &ui.actor, &ui.meta, id).await?;
    let mut pathways: Vec<Choice> = Vec::new();
    for p in state.services.pathways.all() {
        if !pathways.iter().any(|c| c.value == p.template.code) {
            pathways.push(choice(&p.template.code, p.template.title.ja.clone(), false));
        }
    }
    let decisions = m
        .decisions
        .iter()
        .map(|d| DecisionView {
            id: d.id.to_string(),
            text: d.text.clone(),
            pathway: pathways
                .iter()
                .find(|c| c.value == d.pathway)
                .map(|c| c.label.clone())
                .unwrap_or_else(|| d.pathway.clone()),
            pathway_code: d.pathway.clone(),
            carried_by: d
                .carried_by
                .as_ref()
                .map(|c| format!("{} 第{}版", c.title_ja, c.version)),
            versions: state
                .services
                .pathways
                .all()
                .filter(|p| p.template.code == d.pathway)
                .map(|p| {
                    let v = p.template.version.to_string();
                    let selected = d
                        .carried_by
                        .as_ref()
                        .is_some_and(|c| c.version.to_string() == v);
                    choice(&v, format!("第{v}版"), selected)
                })
                .collect(),
        })
        .collect();
    let filter = FilterQuery::from_map(&m.snapshot_filter);
    let summary = filter_summary(&filter, &pathways, &ui.organization_names);
    let snapshot = m.snapshot.as_ref().map(|s| snapshot_views(s, &ui));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let shell = ui.shell(
        format!("{} — {}", m.title, ui_title("協議会", &ui)),
        Nav::Council,
    );
    Ok(page(
        status,
        &MeetingPage {
            shell,
            held_on: fmt::date(m.held_on),
            title: m.title.clone(),
            attending: m.attending.iter().map(|a| a.name.clone()).collect(),
            decisions,
            pathways,
            may_record: meetings::sees_snapshots(&ui.actor),
            action_decision: format!("/council/meetings/{}/decisions", m.id),
            meeting_id: m.id.to_string(),
            filter_summary: summary,
            snapshot,
            errors,
            notice: meeting_notice(done),
            decision_text,
        },
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// `GET /council/meetings/{id}` — the meeting, its decisions and its frozen reports.
pub async fn meeting_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    render_meeting(&state, ui, id, Vec::new(), String::new(), &q.done).await
}

/// `POST /council/meetings/{id}/decisions` — records a decision → 303 back.
pub async fn record_decision(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let text = posted.get("text").to_owned();
    let pathway = posted.get("pathway").to_owned();
    let ui = posted.ui;
    match meetings::record_decision(&state.services, &ui.actor, &ui.meta, id, &text, &pathway).await
    {
        Ok(_) => Ok(see_other(&format!(
            "/council/meetings/{id}?done=decided#decisions"
        ))),
        Err(ServiceError::Validation(errors)) => {
            render_meeting(&state, ui, id, errors_of(&errors), text, "").await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /council/decisions/{id}/link` — links the decision to a version → 303 back to
/// its meeting.
pub async fn link_decision(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let meeting = parse_uuid(posted.get("meeting"))?;
    let pathway = posted.get("pathway").to_owned();
    let version: i64 = posted.get("version").parse().unwrap_or(0);
    let ui = posted.ui;
    match meetings::link_decision(&state.services, &ui.actor, &ui.meta, id, &pathway, version).await
    {
        Ok(d) => Ok(see_other(&format!(
            "/council/meetings/{}?done=linked#decisions",
            d.meeting_id
        ))),
        Err(ServiceError::Validation(errors)) => {
            render_meeting(&state, ui, meeting, errors_of(&errors), String::new(), "").await
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ reports as pages

/// One cell of a report table as shown.
pub struct CellView {
    pub text: String,
    pub numeric: bool,
    pub suppressed: bool,
    /// Why a suppressed cell is not shown (the wording table's key).
    pub note: &'static str,
}

/// One section of a report: its definition, chart, table and CSV link.
pub struct SectionView {
    pub key: String,
    pub title: String,
    pub definition: Option<String>,
    pub chart: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<CellView>>,
    pub listed: Vec<String>,
    pub csv_url: Option<String>,
}

/// A report as shown: its counts and its sections.
pub struct ReportView {
    pub kind: String,
    pub title: String,
    pub counted_plans: u64,
    pub excluded_without_consent: u64,
    pub suppressed_cells: u64,
    pub sections: Vec<SectionView>,
}

/// The frozen reports of a meeting as pages (a snapshot that does not read as reports
/// shows none).
fn snapshot_views(snapshot: &serde_json::Value, ui: &Ui) -> Vec<ReportView> {
    serde_json::from_value::<Vec<ReportPage>>(snapshot.clone())
        .map(|pages| pages.iter().map(|p| report_view(p, ui, None)).collect())
        .unwrap_or_default()
}

/// A cell as text (suppressed cells are marked, not written).
fn cell_view(c: &ReportCell) -> CellView {
    let (text, numeric, suppressed) = match c {
        ReportCell::Text(t) => (t.clone(), false, false),
        ReportCell::Count(n) => (n.to_string(), true, false),
        ReportCell::Number { value, decimals } => {
            (format!("{value:.*}", *decimals as usize), true, false)
        }
        ReportCell::Suppressed => ("<5".to_owned(), true, true),
        ReportCell::Withheld => ("x".to_owned(), true, true),
        ReportCell::Missing => ("—".to_owned(), true, false),
    };
    CellView {
        text,
        numeric,
        suppressed,
        note: match c {
            ReportCell::Withheld => "他の値から逆算できないよう伏せた値",
            _ => "5人未満のため伏せた値",
        },
    }
}

/// A column heading with its unit.
fn column_label(c: &renkei_service::council::ReportColumn) -> String {
    match &c.unit {
        Some(u) if !u.is_empty() => format!("{}({u})", c.label),
        _ => c.label.clone(),
    }
}

/// The chart a section asks for, drawn from its own rows.
pub fn section_chart(s: &ReportSection) -> Option<String> {
    let spec = s.chart.as_ref()?;
    let label_of = |row: &Vec<ReportCell>| match row.get(spec.label_column) {
        Some(ReportCell::Text(t)) => t.clone(),
        Some(c) => cell_view(c).text,
        None => String::new(),
    };
    let labels: Vec<String> = s.rows.iter().map(label_of).collect();
    let value = |row: &Vec<ReportCell>, col: usize| row.get(col).and_then(ReportCell::number);
    let unit = spec
        .value_columns
        .first()
        .and_then(|c| s.columns.get(*c))
        .and_then(|c| c.unit.clone());
    let label = match &unit {
        Some(u) => format!("{}({u})", s.title),
        None => s.title.clone(),
    };
    Some(match spec.kind {
        ChartKind::Bar => {
            let series: Vec<charts::Series> = spec
                .value_columns
                .iter()
                .map(|col| charts::Series {
                    name: s.columns.get(*col).map(column_label).unwrap_or_default(),
                    values: s.rows.iter().map(|r| value(r, *col)).collect(),
                })
                .collect();
            charts::bar(&label, &labels, &series, unit.as_deref())
        }
        ChartKind::Box => {
            let boxes: Vec<Option<charts::FiveNumbers>> = s
                .rows
                .iter()
                .map(|r| {
                    let v: Vec<f64> = spec
                        .value_columns
                        .iter()
                        .filter_map(|c| value(r, *c))
                        .collect();
                    <[f64; 5]>::try_from(v).ok()
                })
                .collect();
            charts::boxplot(&label, &labels, &boxes, unit.as_deref())
        }
        ChartKind::Pareto => {
            let col = *spec.value_columns.first()?;
            let counts: Vec<Option<f64>> = s.rows.iter().map(|r| value(r, col)).collect();
            charts::pareto(&label, &labels, &counts)
        }
        ChartKind::Run => {
            let col = *spec.value_columns.first()?;
            let values: Vec<Option<f64>> = s.rows.iter().map(|r| value(r, col)).collect();
            charts::run_chart(&label, &labels, &values, unit.as_deref())
        }
    })
}

/// A report as a page: each section's definition, chart, table and (live reports only)
/// CSV link.
fn report_view(p: &ReportPage, ui: &Ui, filter: Option<&FilterQuery>) -> ReportView {
    let kind = p.kind.as_str();
    ReportView {
        kind: kind.to_owned(),
        title: wording::ui_text(p.kind.title_ja(), lang_of(ui)).to_owned(),
        counted_plans: p.counted_plans,
        excluded_without_consent: p.excluded_without_consent,
        suppressed_cells: p.suppressed_cells,
        sections: p
            .sections
            .iter()
            .map(|s| SectionView {
                key: s.key.clone(),
                title: s.title.clone(),
                definition: s.definition.clone(),
                chart: section_chart(s),
                columns: s.columns.iter().map(column_label).collect(),
                rows: s
                    .rows
                    .iter()
                    .map(|r| r.iter().map(cell_view).collect())
                    .collect(),
                listed: s.listed.clone(),
                csv_url: filter.map(|f| {
                    f.url(
                        &format!("/council/reports/{kind}/csv"),
                        &[("section", s.key.as_str())],
                    )
                }),
            })
            .collect(),
    }
}

fn lang_of(ui: &Ui) -> Lang {
    if ui.english { Lang::En } else { Lang::Ja }
}

#[derive(Template)]
#[template(path = "ui/council_report.html")]
pub struct ReportPageView {
    pub shell: Shell,
    pub form: FilterForm,
    pub filter_action: String,
    pub report: ReportView,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
    pub csv_url: String,
    pub dashboard_url: String,
    pub other_reports: Vec<ReportLink>,
}

/// Reads one report for the page or its CSV: the kind (404 when unknown), the filter
/// (422 field errors), then the report itself.
async fn read_report(
    state: &AppState,
    ui: &Ui,
    kind: &str,
    filter: &FilterQuery,
) -> Result<Result<ReportPage, Vec<FieldError>>, ServiceError> {
    let Some(kind) = ReportKind::parse(kind) else {
        return Err(ServiceError::NotFound("report"));
    };
    let parsed = match state.services.parse_report_filter(&filter.0).await {
        Ok(f) => f,
        Err(ServiceError::Validation(e)) => return Ok(Err(e)),
        Err(e) => return Err(e),
    };
    match state
        .services
        .council_report_in(&ui.actor, kind, &parsed, lang_of(ui), &ui.meta)
        .await
    {
        Ok(p) => Ok(Ok(p)),
        Err(ServiceError::Validation(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// `GET /council/reports/{kind}` — one report: the filter form, the counts (plans counted
/// and excluded for lack of statistics consent), each section's definition, chart,
/// table and CSV link.
pub async fn report_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let filter = FilterQuery::parse(raw.as_deref());
    let read = read_report(&state, &ui, &kind, &filter).await?;
    let form = filter_form(&state, &ui, &filter).await?;
    let (report, errors, status) = match read {
        Ok(p) => (
            report_view(&p, &ui, Some(&filter)),
            Vec::new(),
            StatusCode::OK,
        ),
        Err(e) => {
            let k = ReportKind::parse(&kind).unwrap_or(ReportKind::Flow);
            (
                ReportView {
                    kind: k.as_str().to_owned(),
                    title: wording::ui_text(k.title_ja(), lang_of(&ui)).to_owned(),
                    counted_plans: 0,
                    excluded_without_consent: 0,
                    suppressed_cells: 0,
                    sections: Vec::new(),
                },
                errors_of_filter(&e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let other_reports = ReportKind::ALL
        .iter()
        .map(|k| ReportLink {
            kind: k.as_str(),
            title: k.title_ja(),
            url: filter.url(&format!("/council/reports/{}", k.as_str()), &[]),
        })
        .collect();
    let shell = ui.shell(
        format!("{} — {}", report.title, ui_title("地域連携パス協議会", &ui)),
        Nav::Council,
    );
    Ok(page(
        status,
        &ReportPageView {
            shell,
            form,
            filter_action: format!("/council/reports/{}", report.kind),
            csv_url: filter.url(&format!("/council/reports/{}/csv", report.kind), &[]),
            dashboard_url: filter.url("/council", &[]),
            report,
            errors,
            notice: None,
            other_reports,
        },
    ))
}

/// The filter's field errors for the page (the form's ids are `r-<parameter>`).
fn errors_of_filter(errors: &[FieldError]) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|e| {
            let label = match e.field.as_str() {
                "pathway" => "連携パス",
                "version" => "版",
                "from" => "期間の始め",
                "to" => "期間の終わり",
                "period" => "期間で選ぶ日",
                "area" => "二次医療圏",
                "organization" => "施設",
                "stage" => "病期",
                _ => "入力",
            };
            let facts = FieldFacts {
                label: Some(label),
                range: None,
                is_list: false,
                item_type: None,
            };
            (
                format!("r-{}", e.field),
                wording::field_message(e, Lang::Ja, &facts),
            )
        })
        .collect()
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SectionQuery {
    #[serde(default)]
    section: String,
}

/// `GET /council/reports/{kind}/csv` — the report's tables as CSV (UTF-8 with a BOM), or
/// one section's with `section=<key>`; audited as a report view.
pub async fn report_csv(
    State(state): State<AppState>,
    ui: Ui,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let filter = FilterQuery::parse(raw.as_deref());
    let section = raw
        .as_deref()
        .map(|q| serde_urlencoded::from_str::<SectionQuery>(q).unwrap_or_default())
        .unwrap_or_default()
        .section;
    let mut p = match read_report(&state, &ui, &kind, &filter).await? {
        Ok(p) => p,
        Err(e) => return Err(ServiceError::Validation(e).into()),
    };
    if !section.is_empty() {
        p.sections.retain(|s| s.key == section);
        if p.sections.is_empty() {
            return Err(ServiceError::NotFound("report section").into());
        }
    }
    let bytes = crate::api::council::report_csv(&p)?;
    let name = if section.is_empty() {
        format!("report-{}.csv", p.kind.as_str())
    } else {
        format!("report-{}-{section}.csv", p.kind.as_str())
    };
    let mut res = axum::response::IntoResponse::into_response((StatusCode::OK, bytes));
    let h = res.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_service::council::{ChartSpec, ReportColumn};

    #[test]
    fn the_filter_keeps_known_parameters_in_order_and_round_trips_through_the_url() {
        let f = FilterQuery::parse(Some(
            "pathway=stroke&version=1&version=2&x=1&from=2026-01-01&area=%E5%8D%83%E8%91%89&stage=",
        ));
        assert_eq!(f.all("version"), vec!["1", "2"]);
        assert_eq!(f.first("x"), "");
        assert_eq!(f.first("stage"), "");
        let url = f.url("/council/reports/flow", &[("section", "stage_length")]);
        assert_eq!(
            url,
            "/council/reports/flow?pathway=stroke&version=1&version=2&from=2026-01-01&area=%E5%8D%83%E8%91%89&section=stage_length"
        );
        let back = FilterQuery::parse(url.split_once('?').map(|(_, q)| q));
        assert_eq!(back, f);
        assert_eq!(FilterQuery::from_map(&f.as_map()), f);
        assert_eq!(FilterQuery::default().url("/council", &[]), "/council");
    }

    fn section(kind: ChartKind, rows: Vec<Vec<ReportCell>>, values: Vec<usize>) -> ReportSection {
        ReportSection {
            key: "k".into(),
            title: "在院日数".into(),
            definition: None,
            columns: (0..6)
                .map(|i| ReportColumn {
                    key: format!("c{i}"),
                    label: format!("列{i}"),
                    unit: Some("日".into()),
                })
                .collect(),
            rows,
            chart: Some(ChartSpec {
                kind,
                label_column: 0,
                value_columns: values,
            }),
            listed: Vec::new(),
        }
    }

    #[test]
    fn a_section_draws_the_chart_its_spec_names_skipping_suppressed_cells() {
        let t = |s: &str| ReportCell::Text(s.into());
        let n = |v: f64| ReportCell::Number {
            value: v,
            decimals: 1,
        };
        let bars = section(
            ChartKind::Bar,
            vec![
                vec![t("A"), ReportCell::Count(7)],
                vec![t("B"), ReportCell::Suppressed],
                vec![t("C"), ReportCell::Count(9)],
            ],
            vec![1],
        );
        let svg = section_chart(&bars).expect("chart");
        assert_eq!(svg.matches("fill=\"url(#rk-grey)\"").count(), 2);
        assert!(svg.contains("aria-label=\"在院日数(日)\""));
        let boxes = section(
            ChartKind::Box,
            vec![
                vec![t("A"), n(1.0), n(2.0), n(3.0), n(4.0), n(5.0)],
                vec![
                    t("B"),
                    ReportCell::Suppressed,
                    n(2.0),
                    n(3.0),
                    n(4.0),
                    n(5.0),
                ],
            ],
            vec![1, 2, 3, 4, 5],
        );
        let svg = section_chart(&boxes).expect("box chart");
        assert_eq!(svg.matches("fill=\"url(#rk-grey)\"").count(), 1);
        let mut none = bars.clone();
        none.chart = None;
        assert!(section_chart(&none).is_none());
        assert_eq!(cell_view(&ReportCell::Suppressed).text, "<5");
        assert!(cell_view(&ReportCell::Suppressed).suppressed);
        assert_eq!(cell_view(&ReportCell::Withheld).text, "x");
        assert!(cell_view(&ReportCell::Withheld).suppressed);
        assert_eq!(cell_view(&n(2.25)).text, "2.2");
    }
}
