//! Merging two patient records of one person on the web (名寄せ, issue 18 point 9), for
//! the regional administrator: find the record to keep (from the admin home, or 「名寄せ」
//! on the patient page), choose the other record by search, compare the two side by
//! side (every difference marked, each record's plans and patient numbers), and confirm
//! with a reason — a different birth date or sex ticked as checked. The link page shows
//! the merge and reverses it with a reason. The same service functions as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_domain::wording::{FieldFacts, Lang, field_message};
use renkei_service::ServiceError;
use renkei_service::patient_merge::{self, MergeRecord, PatientLink, RecordQuery};
use serde::Deserialize;
use uuid::Uuid;

use super::{Nav, Posted, Ui, UiResult, fmt, page, see_other};
use crate::state::AppState;

/// The search form's values, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub kana: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub identifier: String,
}

impl SearchQuery {
    fn given(&self) -> bool {
        !(self.kana.trim().is_empty()
            && self.birth_date.trim().is_empty()
            && self.identifier.trim().is_empty())
    }
}

/// One record as the pages list it.
pub struct RecordRow {
    pub id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub birth: fmt::When,
    pub sex: &'static str,
    pub identifiers: Vec<String>,
    pub plans: Vec<PlanRow>,
    /// 「名寄せ済み」: merged into another record (its id).
    pub merged_into: Option<String>,
    pub merged_count: usize,
}

pub struct PlanRow {
    pub title: String,
    pub status: &'static str,
    pub planner: String,
    pub started: String,
}

fn row_of(r: &MergeRecord) -> RecordRow {
    let p = &r.patient;
    RecordRow {
        id: p.id.to_string(),
        name: format!("{} {}", p.name.family, p.name.given),
        kana: format!("{} {}", p.name.family_kana, p.name.given_kana),
        birth_date: p.birth_date.to_string(),
        birth: fmt::date(p.birth_date),
        sex: fmt::sex(&p.sex),
        identifiers: p
            .identifiers
            .iter()
            .map(|i| format!("{}: {}", i.organization, i.value))
            .collect(),
        plans: r
            .plans
            .iter()
            .map(|c| PlanRow {
                title: format!("{} v{}", c.pathway_title_ja, c.pathway_version),
                status: fmt::plan_status_of(&c.status),
                planner: c.planner_organization.clone(),
                started: fmt::day_of(c.started_at).text,
            })
            .collect(),
        merged_into: r.merged_into.map(|s| s.to_string()),
        merged_count: r.merged_ids.len(),
    }
}

fn errors_of(e: ServiceError, ui: &Ui) -> Result<Vec<(String, String)>, ServiceError> {
    let lang = if ui.shell("", Nav::Admin).en {
        Lang::En
    } else {
        Lang::Ja
    };
    match e {
        ServiceError::Validation(errors) => Ok(errors
            .iter()
            .map(|e| {
                let label = label(&e.field);
                (
                    e.field.clone(),
                    field_message(
                        e,
                        lang,
                        &FieldFacts {
                            label: Some(ui.shell("", Nav::Admin).t(label)),
                            ..Default::default()
                        },
                    ),
                )
            })
            .collect()),
        other => Err(other),
    }
}

fn label(field: &str) -> &'static str {
    match field {
        "family" => "氏(漢字)",
        "given" => "名(漢字)",
        "family_kana" => "氏(カナ)",
        "given_kana" => "名(カナ)",
        "birth_date" => "生年月日",
        "sex" => "性別",
        "kana" => "カナ氏名",
        "identifier" => "患者番号(カルテ番号)",
        "other" => "統合する記録",
        "id" => "残す記録",
        "link" => "名寄せ",
        _ => "名寄せの理由",
    }
}

// ------------------------------------------------------------------ choosing

#[derive(Template)]
#[template(path = "ui/merge_find.html")]
pub struct FindPage {
    pub shell: super::Shell,
    /// The record to keep, once chosen (the search is then for the other record).
    pub survivor: Option<RecordRow>,
    pub links: Vec<LinkRow>,
    pub action: String,
    pub query: SearchQuery,
    pub searched: bool,
    pub results: Vec<RecordRow>,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl FindPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub struct LinkRow {
    pub url: String,
    pub survivor: String,
    pub merged: String,
    pub at: String,
    pub reversed: bool,
}

fn link_row(l: &PatientLink) -> LinkRow {
    LinkRow {
        url: format!("/admin/patient-links/{}", l.id),
        survivor: l.survivor_id.to_string(),
        merged: l.merged_id.to_string(),
        at: fmt::datetime(l.merged_at).text,
        reversed: l.reversed_at.is_some(),
    }
}

async fn search(
    state: &AppState,
    ui: &Ui,
    q: &SearchQuery,
) -> Result<(Vec<RecordRow>, Vec<(String, String)>), ServiceError> {
    if !q.given() {
        return Ok((Vec::new(), Vec::new()));
    }
    match patient_merge::find_records(
        &state.services,
        &ui.actor,
        &ui.meta,
        RecordQuery {
            kana: Some(q.kana.clone()),
            birth_date: Some(q.birth_date.clone()),
            identifier: Some(q.identifier.clone()),
        },
    )
    .await
    {
        Ok(records) => Ok((records.iter().map(row_of).collect(), Vec::new())),
        Err(e) => Ok((Vec::new(), errors_of(e, ui)?)),
    }
}

/// `GET /admin/patients/merge` — search every record for the one to keep.
pub async fn start_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<SearchQuery>,
) -> UiResult {
    if !ui.actor.has_role(patient_merge::ROLE) {
        return Err(ServiceError::Forbidden.into());
    }
    let (results, errors) = search(&state, &ui, &q).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &FindPage {
            shell: ui.shell("患者記録の名寄せ", Nav::Admin),
            survivor: None,
            links: Vec::new(),
            action: "/admin/patients/merge".into(),
            searched: q.given(),
            query: q,
            results,
            errors,
            notice: None,
        },
    ))
}

/// `GET /patients/{id}/merge` — the record to keep, and a search for the other record.
pub async fn choose_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<SearchQuery>,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let record = patient_merge::merge_record(&state.services, &ui.actor, &ui.meta, id).await?;
    let links = patient_merge::links_of(&state.services, &ui.actor, &ui.meta, id).await?;
    let (results, errors) = search(&state, &ui, &q).await?;
    let results = results
        .into_iter()
        .filter(|r| r.id != id.to_string())
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &FindPage {
            shell: ui.shell("名寄せ — 統合する記録の選択", Nav::Admin),
            survivor: Some(row_of(&record)),
            links: links.iter().map(link_row).collect(),
            action: format!("/patients/{id}/merge"),
            searched: q.given(),
            query: q,
            results,
            errors,
            notice: None,
        },
    ))
}

// ------------------------------------------------------------------ preview and merge

/// One compared field on the preview.
pub struct FieldRow {
    pub label: &'static str,
    pub survivor: String,
    pub merged: String,
    pub differs: bool,
    pub confirm: bool,
}

#[derive(Template)]
#[template(path = "ui/merge_preview.html")]
pub struct PreviewPage {
    pub shell: super::Shell,
    pub back_url: String,
    pub action: String,
    pub other: String,
    pub survivor: RecordRow,
    pub merged: RecordRow,
    pub fields: Vec<FieldRow>,
    pub differences: usize,
    pub needs_confirmation: bool,
    /// Why the merge is not possible (then no form).
    pub refusals: Vec<String>,
    pub reason: String,
    pub confirmed: bool,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl PreviewPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The message of the confirmation box: one for each unconfirmed difference.
    pub fn confirm_errors(&self) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|(f, _)| f == "birth_date" || f == "sex")
            .map(|(_, m)| m.as_str())
            .collect()
    }
}

#[derive(Debug, Deserialize)]
pub struct OtherQuery {
    #[serde(default)]
    pub other: String,
}

fn field_value(field: &str, v: &str) -> String {
    if field == "sex" {
        fmt::sex(v).to_owned()
    } else {
        v.to_owned()
    }
}

async fn preview_page(
    state: &AppState,
    ui: &Ui,
    id: Uuid,
    other: Uuid,
    reason: String,
    confirmed: bool,
    errors: Vec<(String, String)>,
) -> UiResult {
    let p = patient_merge::merge_preview(&state.services, &ui.actor, &ui.meta, id, other).await?;
    let shell = ui.shell("名寄せ — 2つの記録の比較", Nav::Admin);
    let lang = if shell.en { Lang::En } else { Lang::Ja };
    let refusals = p
        .refusals
        .iter()
        .map(|e| {
            field_message(
                e,
                lang,
                &FieldFacts {
                    label: Some(shell.t(label(&e.field))),
                    ..Default::default()
                },
            )
        })
        .collect();
    let fields: Vec<FieldRow> = p
        .fields
        .iter()
        .map(|f| FieldRow {
            label: label(f.field),
            survivor: field_value(f.field, &f.survivor),
            merged: field_value(f.field, &f.merged),
            differs: f.differs,
            confirm: f.needs_confirmation,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &PreviewPage {
            shell,
            back_url: format!("/patients/{id}/merge"),
            action: format!("/patients/{id}/merge"),
            other: other.to_string(),
            survivor: row_of(&p.survivor),
            merged: row_of(&p.merged),
            differences: fields.iter().filter(|f| f.differs).count(),
            fields,
            needs_confirmation: !p.needs_confirmation.is_empty(),
            refusals,
            reason,
            confirmed,
            errors,
            notice: None,
        },
    ))
}

/// `GET /patients/{id}/merge/preview?other=` — the two records side by side, and the
/// confirmation form.
pub async fn preview(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<OtherQuery>,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let other = super::parse_uuid(&q.other)?;
    preview_page(&state, &ui, id, other, String::new(), false, Vec::new()).await
}

/// `POST /patients/{id}/merge` — merges, then shows the link; with problems, the
/// preview again with every error and the reason kept.
pub async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let other = super::parse_uuid(posted.get("other"))?;
    let reason = posted.get("reason").to_owned();
    let confirmed = posted.get("confirm_differences") == "yes";
    let ui = &posted.ui;
    let result = patient_merge::merge(
        &state.services,
        &ui.actor,
        &ui.meta,
        id,
        patient_merge::MergeRequest {
            other,
            reason: reason.clone(),
            confirm_differences: confirmed,
        },
    )
    .await;
    match result {
        Ok(link) => Ok(see_other(&format!(
            "/admin/patient-links/{}?done=merged",
            link.id
        ))),
        Err(e) => {
            let errors = errors_of(e, ui)?;
            preview_page(&state, ui, id, other, reason, confirmed, errors).await
        }
    }
}

// ------------------------------------------------------------------ the link

#[derive(Template)]
#[template(path = "ui/merge_link.html")]
pub struct LinkPage {
    pub shell: super::Shell,
    pub action: String,
    pub survivor_url: String,
    pub merged_url: String,
    pub survivor: String,
    pub merged: String,
    pub reason: String,
    pub merged_at: fmt::When,
    pub merged_by_organization: String,
    pub reversed_at: Option<fmt::When>,
    pub reverse_reason: String,
    pub input: String,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl LinkPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: String,
}

async fn link_page(
    state: &AppState,
    ui: &Ui,
    id: Uuid,
    input: String,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> UiResult {
    let l = patient_merge::get_link(&state.services, &ui.actor, &ui.meta, id).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &LinkPage {
            shell: ui.shell("名寄せの記録", Nav::Admin),
            action: format!("/admin/patient-links/{id}/reverse"),
            survivor_url: format!("/patients/{}/merge", l.survivor_id),
            merged_url: format!("/patients/{}/merge", l.merged_id),
            survivor: l.survivor_id.to_string(),
            merged: l.merged_id.to_string(),
            reason: l.reason.clone(),
            merged_at: fmt::datetime(l.merged_at),
            merged_by_organization: l.merged_by_organization.clone(),
            reversed_at: l.reversed_at.map(fmt::datetime),
            reverse_reason: l.reverse_reason.clone().unwrap_or_default(),
            input,
            errors,
            notice,
        },
    ))
}

/// `GET /admin/patient-links/{id}` — one merge, and the form that reverses it.
pub async fn link(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let notice = match q.done.as_str() {
        "merged" => Some("2つの記録を名寄せしました。"),
        "reversed" => Some("名寄せを取り消しました。"),
        _ => None,
    };
    link_page(&state, &ui, id, String::new(), Vec::new(), notice).await
}

/// `POST /admin/patient-links/{id}/reverse` — reverses the merge with a reason.
pub async fn reverse(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let reason = posted.get("reason").to_owned();
    let ui = &posted.ui;
    match patient_merge::unmerge(&state.services, &ui.actor, &ui.meta, id, &reason).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/patient-links/{id}?done=reversed"
        ))),
        Err(e) => {
            let errors = errors_of(e, ui)?;
            link_page(&state, ui, id, reason, errors, None).await
        }
    }
}
