//! The e-mail notification settings of an organisation on the web (issue 18 point 11):
//! `/admin/organizations/{code}/notifications` — the address and which events it is told
//! of (a hand-over arrives, a report back is due or overdue, an amendment notice
//! arrives), for the organisation's administrator and the regional administrator. The
//! same service functions as `PUT /api/v1/organizations/{code}/notifications`, so the
//! same checks and audit apply.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_service::ServiceError;
use renkei_service::admin_orgs::AdminBy;
use renkei_service::notify::{self, NotificationSettings};
use serde::Deserialize;

use super::admin_manage::OrgChoice;
use super::{Nav, Posted, Shell, Ui, UiResult, fmt, page, see_other};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "ui/admin_notifications.html")]
pub struct NotificationsPage {
    pub shell: Shell,
    pub org_name: String,
    pub action: String,
    /// The organisations the regional administrator may switch to (empty otherwise).
    pub organizations: Vec<OrgChoice>,
    pub email: String,
    pub on_handover: bool,
    pub on_report: bool,
    pub on_notice: bool,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl NotificationsPage {
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
    done: String,
}

fn notifications_view(
    ui: &Ui,
    code: &str,
    s: NotificationSettings,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> axum::response::Response {
    let org_name = ui.organization_name_of(code);
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
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(
        status,
        &NotificationsPage {
            shell: ui.shell(format!("メール通知の設定 — {org_name}"), Nav::Admin),
            action: format!("/admin/organizations/{code}/notifications"),
            org_name,
            organizations,
            email: s.email.unwrap_or_default(),
            on_handover: s.on_handover,
            on_report: s.on_report,
            on_notice: s.on_notice,
            errors,
            notice,
        },
    )
}

/// `GET /admin/organizations/{code}/notifications` — the settings form.
pub async fn notifications_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let s =
        notify::notification_settings(&state.services, AdminBy::Actor(&ui.actor), &ui.meta, &code)
            .await?;
    let notice = (q.done == "saved").then_some("通知の設定を保存しました。");
    Ok(notifications_view(&ui, &code, s, Vec::new(), notice))
}

/// `POST /admin/organizations/{code}/notifications` — saves the settings.
pub async fn notifications_submit(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> UiResult {
    let email = posted.get("email").to_owned();
    let settings = NotificationSettings {
        email: (!email.is_empty()).then(|| email.clone()),
        on_handover: posted.get("on_handover") == "yes",
        on_report: posted.get("on_report") == "yes",
        on_notice: posted.get("on_notice") == "yes",
    };
    let ui = &posted.ui;
    match notify::set_notification_settings(
        &state.services,
        AdminBy::Actor(&ui.actor),
        &ui.meta,
        &code,
        settings.clone(),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/organizations/{code}/notifications?done=saved"
        ))),
        Err(ServiceError::Validation(errors)) => {
            let errors = errors
                .iter()
                .map(|e| {
                    let field = if e.field.starts_with("on_") {
                        "on_handover"
                    } else {
                        "email"
                    };
                    (field.to_owned(), fmt::error_ja(None, e))
                })
                .collect();
            // What was typed comes back, the address as typed.
            let typed = NotificationSettings {
                email: Some(email),
                ..settings
            };
            Ok(notifications_view(ui, &code, typed, errors, None))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct OrgQuery {
    #[serde(default)]
    org: String,
}

/// `GET /admin/notifications[?org=CODE]` — the settings of `org` (default: the
/// administrator's own organisation); the admin home links here.
pub async fn notifications_home(ui: Ui, Query(q): Query<OrgQuery>) -> UiResult {
    if !ui.is_admin() {
        return Err(ServiceError::Forbidden.into());
    }
    let code = match q.org.trim() {
        "" => ui.actor.organization_code.clone(),
        c => c.to_owned(),
    };
    Ok(see_other(&format!(
        "/admin/organizations/{}/notifications",
        super::percent_encode(&code)
    )))
}
