//! The declarations (手挙げ) of an organisation on the web (issue 18 point 10):
//! `/admin/declarations` — which stages of which pathway the organisation takes, with the
//! history of its declarations, for its administrator or liaison staff (and the regional
//! administrator for any organisation). The same service function as
//! `POST /api/v1/organizations/{code}/declarations`, so the same checks and audit apply.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use renkei_domain::access::Profession;
use renkei_service::ServiceError;
use renkei_service::admin_orgs::AdminBy;
use serde::Deserialize;

use super::admin_manage::OrgChoice;
use super::{Nav, Posted, Shell, Ui, UiResult, fmt, page, see_other};
use crate::state::AppState;

/// One stage of a pathway as a checkbox.
pub struct StageChoice {
    pub code: String,
    pub title: String,
    pub checked: bool,
}

/// One pathway's form: its stages, the current declaration and the note.
pub struct PathwayForm {
    pub code: String,
    pub title: String,
    pub stages: Vec<StageChoice>,
    pub note: String,
    /// The current declaration's stages in words (none: not declared).
    pub current: Option<String>,
    pub declared_at: Option<fmt::When>,
}

/// One declaration of the history.
pub struct HistoryRow {
    pub pathway: String,
    pub stages: String,
    pub note: String,
    pub declared_at: fmt::When,
    pub superseded_at: Option<fmt::When>,
}

#[derive(Template)]
#[template(path = "ui/admin_declarations.html")]
pub struct DeclarationsPage {
    pub shell: Shell,
    pub code: String,
    pub org_name: String,
    pub organizations: Vec<OrgChoice>,
    pub forms: Vec<PathwayForm>,
    pub history: Vec<HistoryRow>,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeclarationsQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    done: String,
}

/// Whether the page's forms are the actor's to use for `code` (the service decides the
/// write again).
fn may_declare(ui: &Ui, code: &str) -> bool {
    AdminBy::Actor(&ui.actor).regional()
        || (ui.actor.organization_code == code
            && (ui.actor.has_role("org_admin")
                || ui.actor.profession == Profession::LiaisonStaff.as_str()))
}

/// What a POST typed into one pathway's form.
struct Typed {
    pathway: String,
    stages: Vec<String>,
    note: String,
}

async fn declarations_view(
    state: &AppState,
    ui: &Ui,
    code: &str,
    typed: Option<Typed>,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> UiResult {
    if !may_declare(ui, code) {
        return Err(ServiceError::Forbidden.into());
    }
    let all = state.services.declarations(code).await?;
    let mut codes: Vec<String> = state
        .services
        .pathways
        .all()
        .map(|p| p.template.code.clone())
        .collect();
    codes.dedup();
    let forms = codes
        .iter()
        .filter_map(|c| state.services.pathways.latest(c))
        .map(|p| {
            let t = &p.template;
            let current = all
                .iter()
                .find(|d| d.pathway == t.code && d.superseded_at.is_none());
            let typed_here = typed.as_ref().filter(|x| x.pathway == t.code);
            let chosen: Vec<String> = match (typed_here, current) {
                (Some(x), _) => x.stages.clone(),
                (None, Some(d)) => d.stages.clone(),
                (None, None) => Vec::new(),
            };
            PathwayForm {
                code: t.code.clone(),
                title: t.title.ja.clone(),
                stages: t
                    .stages
                    .iter()
                    .map(|s| StageChoice {
                        checked: chosen.contains(&s.code),
                        code: s.code.clone(),
                        title: s.title.ja.clone(),
                    })
                    .collect(),
                note: match (typed_here, current) {
                    (Some(x), _) => x.note.clone(),
                    (None, Some(d)) => d.note.clone(),
                    (None, None) => String::new(),
                },
                current: current.map(|d| {
                    d.stages
                        .iter()
                        .map(|s| fmt::stage_title(Some(t), s))
                        .collect::<Vec<_>>()
                        .join("・")
                }),
                declared_at: current.map(|d| fmt::datetime(d.declared_at)),
            }
        })
        .collect();
    let history = all
        .iter()
        .map(|d| {
            let t = state
                .services
                .pathways
                .latest(&d.pathway)
                .map(|p| &p.template);
            HistoryRow {
                pathway: t
                    .map(|t| t.title.ja.clone())
                    .unwrap_or_else(|| d.pathway.clone()),
                stages: d
                    .stages
                    .iter()
                    .map(|s| fmt::stage_title(t, s))
                    .collect::<Vec<_>>()
                    .join("・"),
                note: d.note.clone(),
                declared_at: fmt::datetime(d.declared_at),
                superseded_at: d.superseded_at.map(fmt::datetime),
            }
        })
        .collect();
    let mut organizations: Vec<OrgChoice> = if AdminBy::Actor(&ui.actor).regional() {
        ui.organization_names
            .iter()
            .map(|(c, n)| OrgChoice {
                value: c.clone(),
                name: n.clone(),
                selected: c == code,
            })
            .collect()
    } else {
        Vec::new()
    };
    organizations.sort_by(|a, b| a.value.cmp(&b.value));
    let org_name = ui.organization_name_of(code);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &DeclarationsPage {
            shell: ui.shell(format!("受け入れる連携パスの届出 — {org_name}"), Nav::Admin),
            code: code.to_owned(),
            org_name,
            organizations,
            forms,
            history,
            errors,
            notice,
        },
    ))
}

/// `GET /admin/declarations[?org=CODE]` — the organisation's declarations and forms.
pub async fn declarations_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<DeclarationsQuery>,
) -> UiResult {
    let code = match q.org.trim() {
        "" => ui.actor.organization_code.clone(),
        c => c.to_owned(),
    };
    let notice = (q.done == "declared").then_some("届出を保存しました。施設一覧に反映されました。");
    declarations_view(&state, &ui, &code, None, Vec::new(), notice).await
}

/// `POST /admin/declarations` — declares the checked stages of one pathway.
pub async fn declare_submit(State(state): State<AppState>, posted: Posted) -> UiResult {
    let code = posted.get("org").to_owned();
    let typed = Typed {
        pathway: posted.get("pathway").to_owned(),
        stages: posted.all("stages"),
        note: posted.get("note").to_owned(),
    };
    let ui = &posted.ui;
    match state
        .services
        .declare(
            &ui.actor,
            &ui.meta,
            &code,
            &typed.pathway,
            typed.stages.clone(),
            &typed.note,
        )
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/declarations?org={}&done=declared",
            super::percent_encode(&code)
        ))),
        Err(ServiceError::Validation(errors)) => {
            let errors = errors
                .iter()
                .map(|e| {
                    let field = if e.field == "note" { "note" } else { "stages" };
                    (format!("{field}-{}", typed.pathway), fmt::error_ja(None, e))
                })
                .collect();
            declarations_view(&state, ui, &code, Some(typed), errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}
