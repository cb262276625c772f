//! A patient's records on the web (issue 18 point 9): an organisation adds its own
//! patient number (カルテ番号) to a patient it treats, from the form on the patient page.
//! Only the actor's own organisation's namespace is offered; another one posted anyway
//! is refused by the same service function as the API. A form with problems comes back
//! with every error at once and what was typed kept.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use renkei_domain::wording::{FieldFacts, Lang, field_message};
use renkei_service::ServiceError;

use super::{Nav, Posted, Shell, Ui, UiResult, page, see_other};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "ui/patient_identifier.html")]
pub struct IdentifierPage {
    pub shell: Shell,
    pub patient_url: String,
    pub action: String,
    pub own_code: String,
    pub own_name: String,
    pub value: String,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl IdentifierPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn label(field: &str) -> &'static str {
    match field {
        "organization" => "施設",
        _ => "患者番号(カルテ番号)",
    }
}

fn identifier_errors(
    e: ServiceError,
    shell: &Shell,
) -> Result<Vec<(String, String)>, ServiceError> {
    let lang = if shell.en { Lang::En } else { Lang::Ja };
    match e {
        ServiceError::Validation(errors) => Ok(errors
            .iter()
            .map(|e| {
                let field = if e.field == "organization" {
                    "organization"
                } else {
                    "value"
                };
                (
                    field.to_owned(),
                    field_message(
                        e,
                        lang,
                        &FieldFacts {
                            label: Some(shell.t(label(field))),
                            ..Default::default()
                        },
                    ),
                )
            })
            .collect()),
        ServiceError::Conflict { .. } => Ok(vec![(
            "value".to_owned(),
            shell
                .t("この患者番号は自施設ですでに別の患者さんに使われています。")
                .to_owned(),
        )]),
        other => Err(other),
    }
}

fn identifier_page(
    ui: &Ui,
    id: uuid::Uuid,
    value: String,
    errors: Vec<(String, String)>,
) -> UiResult {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &IdentifierPage {
            shell: ui.shell("自施設の患者番号の追加", Nav::Patients),
            patient_url: format!("/patients/{id}"),
            action: format!("/patients/{id}/identifiers"),
            own_code: ui.actor.organization_code.clone(),
            own_name: ui.organization_name.clone(),
            value,
            errors,
            notice: None,
        },
    ))
}

/// `GET /patients/{id}/identifiers` — the form alone (the patient page carries it too).
pub async fn identifier_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    // Only for a patient the organisation sees: the same 404 as the patient page.
    renkei_service::patients::get_patient(&state.services, &ui.actor, &ui.meta, id).await?;
    identifier_page(&ui, id, String::new(), Vec::new())
}

/// `POST /patients/{id}/identifiers` — adds the number in the organisation's own
/// namespace and goes back to the patient page.
pub async fn identifier_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let ui = &posted.ui;
    let organization = posted.get("organization").to_owned();
    let value = posted.get("value").to_owned();
    let result = renkei_service::patients::add_identifier(
        &state.services,
        &ui.actor,
        &ui.meta,
        id,
        &organization,
        &value,
    )
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/patients/{id}?identifier=added"))),
        Err(e) => {
            let shell = ui.shell("", Nav::Patients);
            let errors = identifier_errors(e, &shell)?;
            identifier_page(ui, id, value, errors)
        }
    }
}
