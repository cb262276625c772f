//! S7 — the facility directory (施設一覧): every organisation of the region with the
//! pathways and stages it declared (手挙げ), filtered by GET query parameters kept in the
//! URL; and one organisation's page with its liaison contacts and declaration history.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_service::ServiceError;
use serde::Deserialize;

use super::fmt::{self, When};
use super::{Nav, Shell, Ui, UiResult, page};
use crate::state::AppState;

/// `pathway`, `stage` (`pathway:stage`), `kind` and free text `q`; blank means any.
#[derive(Debug, Default, Deserialize)]
pub struct DirectoryQuery {
    #[serde(default)]
    pub pathway: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub q: String,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One declared pathway of an organisation: the pathway and its stages in words.
pub struct Part {
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
}

pub struct OrgRow {
    pub url: String,
    pub name: String,
    pub kind: &'static str,
    pub area: String,
    pub parts: Vec<Part>,
    pub declared: Option<When>,
    /// The liaison staff and social workers to contact, `氏名(職種)`.
    pub contacts: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/directory.html")]
pub struct DirectoryPage {
    pub shell: Shell,
    pub pathways: Vec<Opt>,
    pub stages: Vec<Opt>,
    pub kinds: Vec<Opt>,
    pub q: String,
    pub filtered: bool,
    pub rows: Vec<OrgRow>,
}

/// The pathway's Japanese title (its newest version), or the code.
pub fn pathway_title(state: &AppState, code: &str) -> String {
    state
        .services
        .pathways
        .latest(code)
        .map(|p| p.template.title.ja.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn stage_title(state: &AppState, pathway: &str, stage: &str) -> String {
    let t = state.services.pathways.latest(pathway).map(|p| &p.template);
    fmt::stage_title(t, stage)
}

/// The pathway codes of the registry, each once, in order.
pub fn pathway_codes(state: &AppState) -> Vec<String> {
    let mut codes: Vec<String> = state
        .services
        .pathways
        .all()
        .map(|p| p.template.code.clone())
        .collect();
    codes.dedup();
    codes
}

pub async fn directory_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<DirectoryQuery>,
) -> UiResult {
    let pathway = Some(q.pathway.trim()).filter(|s| !s.is_empty());
    // `stage` is `pathway:stage`; the pathway part narrows the pathway too.
    let (stage_pathway, stage) = match q.stage.trim().split_once(':') {
        Some((p, s)) if !p.is_empty() && !s.is_empty() => (Some(p), Some(s)),
        _ => (None, None),
    };
    let kind = Some(q.kind.trim()).filter(|s| !s.is_empty());
    let text = q.q.trim().to_owned();
    let entries = state
        .services
        .directory(pathway.or(stage_pathway), stage, None)
        .await?;
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|e| stage_pathway.is_none_or(|p| e.pathway == p))
        .filter(|e| pathway.is_none_or(|p| e.pathway == p))
        .collect();
    let filtered = pathway.is_some() || stage.is_some() || kind.is_some() || !text.is_empty();
    // The system organisation (automatic variances) takes part in no pathway.
    let orgs: Vec<_> = renkei_service::admin::list_organizations(&state.services.db)
        .await?
        .into_iter()
        .filter(|o| o.id != renkei_service::variances::SYSTEM_ORGANIZATION_ID)
        .collect();

    let mut rows = Vec::new();
    for o in &orgs {
        let mine: Vec<_> = entries.iter().filter(|e| e.code == o.code).collect();
        if (pathway.is_some() || stage.is_some()) && mine.is_empty() {
            continue;
        }
        if kind.is_some_and(|k| o.kind != k) {
            continue;
        }
        if !text.is_empty() {
            let hay = format!(
                "{} {} {} {}",
                o.name,
                o.code,
                o.area,
                mine.iter()
                    .map(|e| e.note.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if !hay.contains(&text) {
                continue;
            }
        }
        let mut by_pathway: BTreeMap<String, Part> = BTreeMap::new();
        for e in &mine {
            let part = by_pathway.entry(e.pathway.clone()).or_insert_with(|| Part {
                pathway: pathway_title(&state, &e.pathway),
                stages: Vec::new(),
                note: String::new(),
            });
            for s in &e.stages {
                part.stages.push(stage_title(&state, &e.pathway, s));
            }
            if !e.note.is_empty() {
                part.note = e.note.clone();
            }
        }
        let contacts = renkei_service::admin::liaison_contacts(&state.services.db, &o.code)
            .await?
            .into_iter()
            .map(|(name, p)| format!("{name}({})", fmt::profession(&p)))
            .collect();
        rows.push(OrgRow {
            contacts,
            url: format!("/directory/{}", o.code),
            name: o.name.clone(),
            kind: fmt::org_kind(&o.kind),
            area: o.area.clone(),
            parts: by_pathway.into_values().collect(),
            declared: mine.iter().map(|e| e.declared_at).max().map(fmt::day_of),
        });
    }

    let codes = pathway_codes(&state);
    let pathways = codes
        .iter()
        .map(|c| Opt {
            value: c.clone(),
            label: pathway_title(&state, c),
            selected: pathway == Some(c.as_str()),
        })
        .collect();
    let mut stages = Vec::new();
    for c in &codes {
        if let Some(p) = state.services.pathways.latest(c) {
            for s in &p.template.stages {
                let value = format!("{c}:{}", s.code);
                stages.push(Opt {
                    selected: q.stage.trim() == value,
                    label: format!("{} — {}", p.template.title.ja, s.title.ja),
                    value,
                });
            }
        }
    }
    let kinds = renkei_service::admin::ORGANIZATION_KINDS
        .iter()
        .map(|k| Opt {
            value: (*k).to_owned(),
            label: fmt::org_kind(k).to_owned(),
            selected: kind == Some(*k),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &DirectoryPage {
            shell: ui.shell(format!("施設一覧({}施設)", rows.len()), Nav::Directory),
            pathways,
            stages,
            kinds,
            q: text,
            filtered,
            rows,
        },
    ))
}

// ------------------------------------------------------------------ one organisation

pub struct DeclRow {
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared: When,
    pub superseded: Option<When>,
}

#[derive(Template)]
#[template(path = "ui/directory_org.html")]
pub struct OrganizationPage {
    pub shell: Shell,
    pub name: String,
    pub code: String,
    pub kind: &'static str,
    pub area: String,
    pub contacts: Vec<(String, &'static str)>,
    pub current: Vec<DeclRow>,
    pub history: Vec<DeclRow>,
}

pub async fn organization_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(code): Path<String>,
) -> UiResult {
    let org = renkei_service::admin::list_organizations(&state.services.db)
        .await?
        .into_iter()
        .find(|o| o.code == code && o.id != renkei_service::variances::SYSTEM_ORGANIZATION_ID)
        .ok_or(ServiceError::NotFound("organization"))?;
    let contacts = renkei_service::admin::liaison_contacts(&state.services.db, &org.code)
        .await?
        .into_iter()
        .map(|(name, p)| (name, fmt::profession(&p)))
        .collect();
    let mut current = Vec::new();
    let mut history = Vec::new();
    for d in state.services.declarations(&org.code).await? {
        let row = DeclRow {
            pathway: pathway_title(&state, &d.pathway),
            stages: d
                .stages
                .iter()
                .map(|s| stage_title(&state, &d.pathway, s))
                .collect(),
            note: d.note,
            declared: fmt::day_of(d.declared_at),
            superseded: d.superseded_at.map(fmt::day_of),
        };
        if row.superseded.is_some() {
            history.push(row);
        } else {
            current.push(row);
        }
    }
    Ok(page(
        StatusCode::OK,
        &OrganizationPage {
            shell: ui.shell(format!("施設情報 — {}", org.name), Nav::Directory),
            name: org.name,
            code: org.code,
            kind: fmt::org_kind(&org.kind),
            area: org.area,
            contacts,
            current,
            history,
        },
    ))
}
