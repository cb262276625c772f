//! A plan's care team and consent on the web (issue 18 point 10): the members with their
//! role, stages, since and until; for the planning organisation's staff, the form that
//! adds an organisation, and the end of an organisation's access (on a date, or at once)
//! and the withdrawal of consent, each behind a confirmation page. Every change goes
//! through the same service call as the API, with its rules and audit; a form with
//! problems comes back with every error at once and what was typed kept.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_domain::access::TeamRole;
use renkei_domain::wording::{FieldFacts, Lang, field_message};
use renkei_service::ServiceError;
use renkei_service::access::{CareTeamMember, Consent};
use serde::Deserialize;
use uuid::Uuid;

use super::{Nav, Posted, Shell, Ui, UiResult, fmt, page, parse_uuid, see_other};
use crate::state::AppState;

/// One member row of the list.
pub struct MemberRow {
    pub code: String,
    pub name: String,
    pub role: &'static str,
    pub stages: String,
    pub since: String,
    /// `終了 2026年4月1日(水)`, `閲覧のみ 〜…`, `〜… まで` or empty.
    pub until: String,
    pub active: bool,
    /// The end form's address, when the viewer may end this member's access.
    pub end_url: Option<String>,
}

/// One consent row.
pub struct ConsentRow {
    pub recorded: String,
    pub scope: String,
    pub active: bool,
    pub withdrawn: String,
    pub withdraw_url: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/care_team.html")]
pub struct CareTeamPage {
    pub shell: Shell,
    pub plan_url: String,
    pub action: String,
    pub members: Vec<MemberRow>,
    pub consents: Vec<ConsentRow>,
    pub manage: bool,
    pub organizations: Vec<(String, String)>,
    pub stages: Vec<(String, String, bool)>,
    pub organization: String,
    pub role: String,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl CareTeamPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "ui/care_team_end.html")]
pub struct EndPage {
    pub shell: Shell,
    pub back_url: String,
    pub action: String,
    pub organization_name: String,
    pub on: String,
    pub reason: String,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl EndPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The confirmation of a change: what will happen, the fields carried on, and the
/// button that does it.
#[derive(Template)]
#[template(path = "ui/care_team_confirm.html")]
pub struct ConfirmPage {
    pub shell: Shell,
    pub back_url: String,
    pub action: String,
    pub heading: &'static str,
    pub lines: Vec<(&'static str, String)>,
    pub warning: &'static str,
    pub hidden: Vec<(&'static str, String)>,
    pub button: &'static str,
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: String,
}

fn lang(shell: &Shell) -> Lang {
    if shell.en { Lang::En } else { Lang::Ja }
}

fn label(field: &str) -> &'static str {
    match field {
        "organization" => "施設",
        "role" => "役割",
        "stages" => "担当する病期",
        "on" => "最終日",
        _ => "理由",
    }
}

/// A refusal as form errors (field, words), or the error itself when it is not about the
/// form.
fn form_errors(
    e: ServiceError,
    shell: &Shell,
    fields: &[&str],
) -> Result<Vec<(String, String)>, ServiceError> {
    match e {
        ServiceError::Validation(errors) => Ok(errors
            .iter()
            .map(|e| {
                let field = fields
                    .iter()
                    .find(|f| e.field == **f || e.field.starts_with(&format!("{f}[")))
                    .copied()
                    .unwrap_or(fields[0]);
                (
                    field.to_owned(),
                    field_message(
                        e,
                        lang(shell),
                        &FieldFacts {
                            label: Some(shell.t(label(field))),
                            ..Default::default()
                        },
                    ),
                )
            })
            .collect()),
        ServiceError::Conflict { message, .. } => Ok(vec![(fields[0].to_owned(), message)]),
        other => Err(other),
    }
}

fn member_rows(
    team: Vec<CareTeamMember>,
    stages: &[(String, String)],
    manage: bool,
    plan_url: &str,
) -> Vec<MemberRow> {
    team.into_iter()
        .map(|m| {
            let role = TeamRole::parse(&m.role);
            let until = match (m.ended, m.access_ends_on, m.read_until) {
                (true, Some(d), _) => format!("終了 {}", fmt::date_text(d)),
                (true, None, Some(d)) => format!("終了(閲覧期限 {})", fmt::date_text(d)),
                (true, None, None) => "終了".to_owned(),
                (false, Some(d), _) => format!("{} まで", fmt::date_text(d)),
                (false, None, Some(d)) => format!("閲覧のみ {} まで", fmt::date_text(d)),
                (false, None, None) => String::new(),
            };
            let end_url = (manage && !m.ended && role.is_some_and(|r| r != TeamRole::Planner))
                .then(|| format!("{plan_url}/care-team/{}/end", m.organization));
            MemberRow {
                name: m.organization_name,
                role: role.map(fmt::team_role).unwrap_or("不明"),
                stages: m
                    .stages
                    .iter()
                    .map(|s| {
                        stages
                            .iter()
                            .find(|(c, _)| c == s)
                            .map(|(_, t)| t.clone())
                            .unwrap_or_else(|| s.clone())
                    })
                    .collect::<Vec<_>>()
                    .join("・"),
                since: fmt::day_of(m.added_at).text,
                until,
                active: !m.ended,
                end_url,
                code: m.organization,
            }
        })
        .collect()
}

fn consent_rows(consents: Vec<Consent>, manage: bool, plan_url: &str) -> Vec<ConsentRow> {
    consents
        .into_iter()
        .map(|c| ConsentRow {
            recorded: fmt::day_of(c.obtained_at).text,
            scope: if c.scope == "care_team" {
                "ケアチーム".to_owned()
            } else {
                c.organizations.join("・")
            },
            active: c.active,
            withdrawn: c
                .withdrawn_at
                .map(|t| fmt::day_of(t).text)
                .unwrap_or_default(),
            withdraw_url: (manage && c.active)
                .then(|| format!("{plan_url}/consents/{}/withdraw/confirm", c.id)),
        })
        .collect()
}

/// The typed values of the add form.
#[derive(Default)]
struct AddInput {
    organization: String,
    role: String,
    stages: Vec<String>,
}

async fn care_team_page(
    state: &AppState,
    ui: &Ui,
    id: Uuid,
    input: AddInput,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> UiResult {
    let s = &state.services;
    let team = s.care_team(&ui.actor, &ui.meta, id).await?;
    let consents = s.consents(&ui.actor, &ui.meta, id).await?;
    let manage = s.may_manage_care_team(&ui.actor, id).await?;
    let stages = s.care_team_stages(id).await?;
    let plan_url = format!("/care-plans/{id}");
    let organizations = if manage {
        renkei_service::admin::list_organizations(&s.db)
            .await?
            .into_iter()
            .filter(|o| o.id != renkei_service::variances::SYSTEM_ORGANIZATION_ID)
            .map(|o| (o.code, o.name))
            .collect()
    } else {
        Vec::new()
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &CareTeamPage {
            shell: ui.shell("ケアチームと同意", Nav::Patients),
            action: format!("{plan_url}/care-team"),
            members: member_rows(team, &stages, manage, &plan_url),
            consents: consent_rows(consents, manage, &plan_url),
            manage,
            organizations,
            stages: stages
                .into_iter()
                .map(|(c, t)| {
                    let on = input.stages.contains(&c);
                    (c, t, on)
                })
                .collect(),
            organization: input.organization,
            role: input.role,
            errors,
            notice,
            plan_url,
        },
    ))
}

/// `GET /care-plans/{id}/care-team` — the members and consents; the forms for the
/// planning organisation's staff.
pub async fn care_team(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let notice = match q.done.as_str() {
        "added" => Some("ケアチームに施設を追加しました。"),
        "ended" => Some("施設のアクセスを終了しました。"),
        "withdrawn" => Some("同意を撤回しました。"),
        _ => None,
    };
    care_team_page(&state, &ui, id, AddInput::default(), Vec::new(), notice).await
}

/// `POST /care-plans/{id}/care-team` — adds an organisation with its role and stages.
pub async fn add_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let input = AddInput {
        organization: posted.get("organization").to_owned(),
        role: posted.get("role").to_owned(),
        stages: posted.all("stages"),
    };
    let result = state
        .services
        .add_team_member(
            &ui.actor,
            &ui.meta,
            id,
            &input.organization,
            input.stages.clone(),
            &input.role,
        )
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/care-plans/{id}/care-team?done=added"))),
        Err(e) => {
            let shell = ui.shell("", Nav::Patients);
            let errors = form_errors(e, &shell, &["organization", "role", "stages"])?;
            care_team_page(&state, ui, id, input, errors, None).await
        }
    }
}

async fn end_page(
    state: &AppState,
    ui: &Ui,
    id: Uuid,
    org: &str,
    on: String,
    reason: String,
    errors: Vec<(String, String)>,
) -> UiResult {
    let team = state.services.care_team(&ui.actor, &ui.meta, id).await?;
    let Some(m) = team.iter().rev().find(|m| m.organization == org) else {
        return Err(ServiceError::NotFound("care-team member").into());
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &EndPage {
            shell: ui.shell("施設のアクセスの終了", Nav::Patients),
            back_url: format!("/care-plans/{id}/care-team"),
            action: format!("/care-plans/{id}/care-team/{org}/end/confirm"),
            organization_name: m.organization_name.clone(),
            on,
            reason,
            errors,
            notice: None,
        },
    ))
}

/// `GET /care-plans/{id}/care-team/{org}/end` — the last day (empty: at once) and the
/// reason.
pub async fn end_form(
    State(state): State<AppState>,
    ui: Ui,
    Path((id, org)): Path<(String, String)>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    end_page(
        &state,
        &ui,
        id,
        &org,
        String::new(),
        String::new(),
        Vec::new(),
    )
    .await
}

/// The form's own checks, all at once: a reason, and a day written `YYYY-MM-DD`.
fn end_input_errors(shell: &Shell, on: &str, reason: &str) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if !on.is_empty() && chrono::NaiveDate::parse_from_str(on, "%Y-%m-%d").is_err() {
        errors.push((
            "on".to_owned(),
            shell
                .t("最終日は西暦で入力してください(例 2026-04-30)。")
                .to_owned(),
        ));
    }
    if reason.is_empty() {
        errors.push((
            "reason".to_owned(),
            shell.t("理由を入力してください。").to_owned(),
        ));
    }
    errors
}

/// `POST /care-plans/{id}/care-team/{org}/end/confirm` — what will happen, to confirm.
pub async fn end_confirm(
    State(state): State<AppState>,
    Path((id, org)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let on = posted.get("on").to_owned();
    let reason = posted.get("reason").to_owned();
    let shell = ui.shell("施設のアクセスの終了の確認", Nav::Patients);
    let errors = end_input_errors(&shell, &on, &reason);
    if !errors.is_empty() {
        return end_page(&state, ui, id, &org, on, reason, errors).await;
    }
    let team = state.services.care_team(&ui.actor, &ui.meta, id).await?;
    let name = team
        .iter()
        .rev()
        .find(|m| m.organization == org)
        .map(|m| m.organization_name.clone())
        .ok_or(ServiceError::NotFound("care-team member"))?;
    let when = match chrono::NaiveDate::parse_from_str(&on, "%Y-%m-%d") {
        Ok(d) => format!("{} まで", fmt::date_text(d)),
        Err(_) => shell.t("今すぐ(除外)").to_owned(),
    };
    Ok(page(
        StatusCode::OK,
        &ConfirmPage {
            back_url: format!("/care-plans/{id}/care-team/{org}/end"),
            action: format!("/care-plans/{id}/care-team/{org}/end"),
            heading: "施設のアクセスの終了の確認",
            lines: vec![("施設", name), ("アクセス", when), ("理由", reason.clone())],
            warning: "終了後、この施設は計画を閲覧も記録もできなくなります。記録と履歴は残ります。",
            hidden: vec![("on", on), ("reason", reason)],
            button: "アクセスを終了する",
            shell,
        },
    ))
}

/// `POST /care-plans/{id}/care-team/{org}/end` — ends the access, as the API does.
pub async fn end_submit(
    State(state): State<AppState>,
    Path((id, org)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let on = posted.get("on").to_owned();
    let reason = posted.get("reason").to_owned();
    let shell = ui.shell("", Nav::Patients);
    let errors = end_input_errors(&shell, &on, &reason);
    if !errors.is_empty() {
        return end_page(&state, ui, id, &org, on, reason, errors).await;
    }
    let last_day = chrono::NaiveDate::parse_from_str(&on, "%Y-%m-%d").ok();
    match state
        .services
        .end_team_member(&ui.actor, &ui.meta, id, &org, last_day, &reason)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/care-plans/{id}/care-team?done=ended"))),
        Err(e) => {
            let errors = form_errors(e, &shell, &["organization", "on", "reason"])?
                .into_iter()
                .map(|(f, m)| {
                    (
                        if f == "organization" {
                            "on".to_owned()
                        } else {
                            f
                        },
                        m,
                    )
                })
                .collect();
            end_page(&state, ui, id, &org, on, reason, errors).await
        }
    }
}

/// `POST /care-plans/{id}/consents/{consent}/withdraw/confirm` — the reason checked, what
/// will happen, to confirm.
pub async fn withdraw_confirm(
    State(state): State<AppState>,
    Path((id, consent)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let consent = parse_uuid(&consent)?;
    let ui = &posted.ui;
    let reason = posted.get("reason").to_owned();
    if reason.is_empty() {
        let shell = ui.shell("", Nav::Patients);
        let errors = vec![(
            "reason".to_owned(),
            shell.t("撤回の理由を入力してください。").to_owned(),
        )];
        return care_team_page(&state, ui, id, AddInput::default(), errors, None).await;
    }
    Ok(page(
        StatusCode::OK,
        &ConfirmPage {
            shell: ui.shell("同意の撤回の確認", Nav::Patients),
            back_url: format!("/care-plans/{id}/care-team"),
            action: format!("/care-plans/{id}/consents/{consent}/withdraw"),
            heading: "同意の撤回の確認",
            lines: vec![("理由", reason.clone())],
            warning: "撤回すると、計画管理病院のほかはこの計画を閲覧できなくなります。",
            hidden: vec![("reason", reason)],
            button: "同意を撤回する",
        },
    ))
}

/// `POST /care-plans/{id}/consents/{consent}/withdraw` — withdraws, as the API does.
pub async fn withdraw_submit(
    State(state): State<AppState>,
    Path((id, consent)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let consent = parse_uuid(&consent)?;
    let ui = &posted.ui;
    let reason = posted.get("reason").to_owned();
    match state
        .services
        .withdraw_consent(&ui.actor, &ui.meta, consent, &reason)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/care-plans/{id}/care-team?done=withdrawn"
        ))),
        Err(e) => {
            let shell = ui.shell("", Nav::Patients);
            let errors = form_errors(e, &shell, &["reason"])?;
            care_team_page(&state, ui, id, AddInput::default(), errors, None).await
        }
    }
}
