//! The corrections parts of the web UI: voiding an entry (取消) from the plan page, the
//! history of a corrected entry, and the amendment notices (修正のお知らせ) on the plan
//! page and the worklist with their acknowledgement.

use std::collections::HashMap;

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use renkei_domain::entry::EntryKind;
use renkei_domain::template::PathwayTemplate;
use renkei_service::ServiceError;
use renkei_service::corrections::{EntryHistory, ValueChange};
use renkei_service::notices::AmendmentNotice;
use renkei_service::plans::{AppendEntry, Entry};
use uuid::Uuid;

use super::fmt::{self, When};
use super::{Posted, UiError, UiResult, parse_uuid, see_other};
use crate::state::AppState;

/// One version of a corrected entry, as the history on the plan page lists it.
pub struct HistoryRow {
    pub version: usize,
    /// 原本 / 修正 / 取消
    pub label: &'static str,
    pub by: String,
    pub recorded: When,
    pub reason: Option<String>,
    /// "mRS 4 → 3", one per changed value.
    pub changes: Vec<String>,
}

/// A notice as the plan page and the worklist show it.
pub struct NoticeRow {
    pub id: String,
    pub text: String,
    pub by: String,
    pub when: When,
    pub plan_url: String,
    pub acknowledge_url: String,
}

/// The void form of an entry card.
pub struct VoidForm {
    pub url: String,
    pub stage: String,
    pub effective_at: String,
}

fn change_text(t: Option<&PathwayTemplate>, c: &ValueChange) -> String {
    let title = t
        .and_then(|t| t.item(&c.item))
        .map(|i| i.title.ja.clone())
        .unwrap_or_else(|| c.item.clone());
    let side = |v: &Option<serde_json::Value>| match v {
        Some(v) => fmt::value_text(t, &c.item, v),
        None => "(なし)".to_owned(),
    };
    format!("{title} {} → {}", side(&c.before), side(&c.after))
}

/// The rows of a chain's history, the original first.
pub fn history_rows(t: &PathwayTemplate, h: &EntryHistory) -> Vec<HistoryRow> {
    h.versions
        .iter()
        .map(|v| {
            let e = &v.entry;
            HistoryRow {
                version: v.version,
                label: if e.kind == EntryKind::EnteredInError.as_str() {
                    "取消"
                } else if v.version == 1 {
                    "原本"
                } else {
                    "修正"
                },
                by: format!("{}・{}", e.author.name, e.organization.name),
                recorded: fmt::datetime(e.recorded_at),
                reason: e.reason.clone(),
                changes: v.changes.iter().map(|c| change_text(Some(t), c)).collect(),
            }
        })
        .collect()
}

/// 「修正されました: mRS 4 → 3, 理由 …」 or 「取消されました: … 理由 …」.
pub fn notice_text(t: Option<&PathwayTemplate>, n: &AmendmentNotice) -> String {
    let reason = n.reason.clone().unwrap_or_default();
    if n.kind == "entered_in_error" {
        let stage = fmt::stage_title(t, &n.stage);
        format!(
            "取消されました: {}({}), 理由 {reason}",
            fmt::entry_kind(&n.entry_kind),
            stage
        )
    } else {
        let changes: Vec<String> = n.changes.iter().map(|c| change_text(t, c)).collect();
        let what = if changes.is_empty() {
            fmt::entry_kind(&n.entry_kind).to_owned()
        } else {
            changes.join(", ")
        };
        format!("修正されました: {what}, 理由 {reason}")
    }
}

/// The notice rows, acknowledging back to `back` (the page shown).
pub fn notice_rows(
    templates: &dyn Fn(Uuid) -> Option<PathwayTemplate>,
    notices: &[AmendmentNotice],
    back: &str,
) -> Vec<NoticeRow> {
    let mut cache: HashMap<Uuid, Option<PathwayTemplate>> = HashMap::new();
    notices
        .iter()
        .map(|n| {
            let t = cache
                .entry(n.care_plan_id)
                .or_insert_with(|| templates(n.care_plan_id));
            NoticeRow {
                id: n.id.to_string(),
                text: notice_text(t.as_ref(), n),
                by: format!("{}・{}", n.author_name, n.organization_name),
                when: fmt::datetime(n.recorded_at),
                plan_url: format!("/care-plans/{}#entry-{}", n.care_plan_id, n.amends),
                acknowledge_url: format!("/notices/{}/acknowledge?back={back}", n.id),
            }
        })
        .collect()
}

/// The void form for `e`, when the actor may amend it and its chain stands.
pub fn void_form(e: &Entry, amendable: bool, plan_url: &str) -> Option<VoidForm> {
    (amendable && e.voided_by.is_none()).then(|| VoidForm {
        url: format!("{plan_url}/entries/{}/void", e.id),
        stage: e.stage.clone(),
        effective_at: e.effective_at.to_rfc3339(),
    })
}

/// The reason the chain of `e` was voided, read from its void among `entries`.
pub fn void_reason(entries: &[Entry], e: &Entry) -> Option<String> {
    let void = e.voided_by?;
    entries
        .iter()
        .find(|x| x.id == void)
        .map(|x| x.reason.clone().unwrap_or_default())
}

/// POST of the void form: an `entered_in_error` entry naming the entry, with its reason.
pub async fn void_submit(
    State(state): State<AppState>,
    Path((id, entry)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let entry = parse_uuid(&entry)?;
    let ui = &posted.ui;
    let effective_at = DateTime::parse_from_rfc3339(posted.get("effective_at"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| UiError(ServiceError::NotFound("entry")))?;
    let input = AppendEntry {
        stage: posted.get("stage").to_owned(),
        kind: EntryKind::EnteredInError,
        effective_at,
        values: Default::default(),
        note: None,
        variance: None,
        amends: Some(entry),
        reason: Some(posted.get("reason").to_owned()).filter(|r| !r.is_empty()),
    };
    let (saved, _) = state
        .services
        .append_entry(&ui.actor, &ui.meta, id, input, None)
        .await?;
    Ok(see_other(&format!(
        "/care-plans/{id}?saved={}#entry-{entry}",
        saved.id
    )))
}

/// POST: acknowledges a notice, back to the page it was shown on.
pub async fn acknowledge_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    state
        .services
        .acknowledge_notice(&ui.actor, &ui.meta, id)
        .await?;
    // Only a page of this site.
    let back = q
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .cloned()
        .unwrap_or_else(|| "/worklist".to_owned());
    Ok(see_other(&back))
}

/// The worklist's notice rows, each naming its patient.
pub fn worklist_notices(
    state: &AppState,
    screen: &renkei_service::screens::worklist::WorklistScreen,
) -> Vec<NoticeRow> {
    let template = |plan: Uuid| {
        let p = screen.plans.get(&plan)?;
        state
            .services
            .pathways
            .find_for(
                &p.pathway.code,
                p.pathway.version,
                p.variant.as_ref().map(|v| v.code.as_str()),
            )
            .map(|p| p.template.clone())
    };
    let mut rows = notice_rows(&template, &screen.notices, "/worklist");
    for (row, n) in rows.iter_mut().zip(&screen.notices) {
        if let Some(p) = screen.patients.get(&n.patient_id) {
            row.text = format!("{} {}様: {}", p.name.family, p.name.given, row.text);
        }
    }
    rows
}
