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
use renkei_service::council_meetings::{self as meetings, Meeting, NewMeeting};

use super::{Nav, Posted, Shell, Ui, UiResult, fmt, new_form_key, page, parse_uuid, see_other};
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

/// The report kinds, their path segment and their name on screen.
pub const REPORT_KINDS: [(&str, &str); 6] = [
    ("flow", "患者の流れ"),
    ("goals", "目標達成とバリアンス"),
    ("variances", "バリアンス分析"),
    ("outcomes", "アウトカム指標"),
    ("completeness", "データの充足度"),
    ("compare", "版の比較"),
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

    /// The filter as a query string (without `?`), percent-encoded.
    pub fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
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
                    stages.push(choice(&s.code, s.title.ja.clone(), filter.first("stage") == s.code));
                }
            }
        }
    }
    let orgs = renkei_service::admin::list_organizations(&state.services.db).await?;
    let organizations = orgs
        .iter()
        .filter(|o| o.area == ui.actor.region)
        .map(|o| choice(&o.code, o.name.clone(), filter.first("organization") == o.code))
        .collect();
    let mut areas: Vec<Choice> = Vec::new();
    for o in &orgs {
        if !o.area.is_empty() && !areas.iter().any(|a| a.value == o.area) {
            areas.push(choice(&o.area, o.area.clone(), filter.first("area") == o.area));
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
    pub reports: Vec<ReportLink>,
    pub meetings: Vec<MeetingRowView>,
    pub may_record: bool,
    pub new_meeting_url: String,
    /// The viewer's own organisation's completeness block, when there is one to show.
    pub region_view: bool,
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
        carried: m.decisions.iter().filter(|d| d.carried_by.is_some()).count(),
    }
}

/// `GET /council` — the council's dashboard.
pub async fn dashboard(
    State(state): State<AppState>,
    ui: Ui,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let filter = FilterQuery::parse(raw.as_deref());
    let form = filter_form(&state, &ui, &filter).await?;
    let reports = REPORT_KINDS
        .iter()
        .map(|(kind, title)| ReportLink {
            kind,
            title,
            url: filter.url(&format!("/council/reports/{kind}"), &[]),
        })
        .collect();
    let list = meetings::list_meetings(&state.services, &ui.actor).await?;
    let shell = ui.shell(ui_title("地域連携パス協議会", &ui), Nav::Council);
    Ok(page(
        StatusCode::OK,
        &DashboardPage {
            shell,
            form,
            reports,
            meetings: list.iter().map(meeting_row).collect(),
            may_record: meetings::sees_snapshots(&ui.actor),
            new_meeting_url: filter.url("/council/meetings/new", &[]),
            region_view: meetings::sees_snapshots(&ui.actor),
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
                e.field
                    .split('[')
                    .next()
                    .unwrap_or(&e.field)
                    .to_owned(),
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
    let reports = REPORT_KINDS
        .iter()
        .map(|(k, t)| choice(k, (*t).to_owned(), typed.reports.iter().any(|r| r == k)))
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
            reports: REPORT_KINDS.iter().map(|(k, _)| (*k).to_owned()).collect(),
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
        Ok(m) => Ok(see_other(&format!("/council/meetings/{}?done=recorded", m.id))),
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
    let shell = ui.shell(format!("{} — {}", m.title, ui_title("協議会", &ui)), Nav::Council);
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
    match meetings::record_decision(&state.services, &ui.actor, &ui.meta, id, &text, &pathway)
        .await
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
    match meetings::link_decision(&state.services, &ui.actor, &ui.meta, id, &pathway, version)
        .await
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

/// The frozen reports of a meeting as pages.
fn snapshot_views(snapshot: &serde_json::Value, _ui: &Ui) -> Vec<ReportView> {
    snapshot
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let kind = r["kind"].as_str().unwrap_or("").to_owned();
            ReportView {
                title: REPORT_KINDS
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, t)| (*t).to_owned())
                    .unwrap_or_else(|| kind.clone()),
                kind,
                counted_plans: r["counted_plans"].as_u64().unwrap_or(0),
                excluded_without_consent: r["excluded_without_consent"].as_u64().unwrap_or(0),
                suppressed_cells: r["suppressed_cells"].as_u64().unwrap_or(0),
                sections: Vec::new(),
            }
        })
        .collect()
}
