//! The hand-off sheets of a plan (地域生活連携シート A表/B表, 入院時情報提供書,
//! 退院・退所情報記録書) and the shared forms they follow.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use renkei_domain::care_forms::{self, CareForms};
use renkei_service::plans::Entry;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{AuthorOut, OrganizationRefOut};
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/care-forms", get(list_care_forms))
        .route(
            "/care-plans/{id}/sheets",
            get(list_sheets).post(record_sheet),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SheetRequest {
    /// A form code of `GET /api/v1/care-forms` (`chiba_a`, `chiba_b`, `admission_info`,
    /// `discharge_record`).
    #[schema(min_length = 1, max_length = 100)]
    pub form: String,
    /// The form's fields by code: a choice field takes one option code, a multi field a
    /// list of option codes, a date field `YYYY-MM-DD`, a boolean field true or false.
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

/// One sheet as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct SheetOut {
    /// The entry that holds the sheet in the plan's chain.
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub form: String,
    pub title: String,
    /// 記入日: when the sheet was recorded.
    pub effective_at: DateTime<Utc>,
    pub author: AuthorOut,
    pub organization: OrganizationRefOut,
    /// The recorded fields by code.
    #[schema(value_type = Object)]
    pub values: Value,
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SheetList {
    pub sheets: Vec<SheetOut>,
}

fn sheet_out(e: Entry) -> SheetOut {
    let form = care_forms::form_of(&e.values)
        .unwrap_or_default()
        .to_owned();
    let title = care_forms::shipped()
        .form(&form)
        .map(|f| f.title.clone())
        .unwrap_or_default();
    SheetOut {
        id: e.id,
        care_plan_id: e.care_plan_id,
        title,
        form,
        effective_at: e.effective_at,
        author: AuthorOut {
            id: e.author.id,
            name: e.author.name,
            profession: e.author.profession,
        },
        organization: OrganizationRefOut {
            id: e.organization.id,
            code: e.organization.code,
            name: e.organization.name,
        },
        values: e.values.get("fields").cloned().unwrap_or(Value::Null),
        hash: e.hash,
    }
}

/// The shared forms file: the sections with their fields and options, the forms (each
/// naming its sections) and the patient handbooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct CareFormsOut {
    pub version: u32,
    #[schema(value_type = Vec<Object>)]
    pub sections: Value,
    #[schema(value_type = Vec<Object>)]
    pub forms: Value,
    #[schema(value_type = Vec<Object>)]
    pub handbooks: Value,
}

/// The shared forms every pathway gets (`pathways/care-forms.toml`).
#[utoipa::path(get, path = "/api/v1/care-forms", responses((status = 200, body = CareFormsOut)))]
pub async fn list_care_forms(Auth(_actor): Auth) -> ApiResult<Json<CareFormsOut>> {
    let forms: &CareForms = care_forms::shipped();
    let all = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Array(Vec::new()));
    Ok(Json(CareFormsOut {
        version: forms.version,
        sections: all(serde_json::to_value(&forms.sections)),
        forms: all(serde_json::to_value(&forms.forms)),
        handbooks: all(serde_json::to_value(&forms.handbooks)),
    }))
}

/// Records a hand-off sheet on the plan (記入日 now, in the current stage). A member of
/// the care team that may write (the care manager's office on the team, the hospital's
/// staff) records any form; every field error is answered at once (422).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/sheets", request_body = SheetRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 201, body = SheetOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn record_sheet(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<SheetRequest>,
) -> ApiResult<(StatusCode, Json<SheetOut>)> {
    let id = parse_id(&id, "care plan")?;
    let b = body.value;
    let entry = state
        .services
        .record_sheet(&actor, &meta, id, &b.form, &b.values)
        .await?;
    Ok((StatusCode::CREATED, Json(sheet_out(entry))))
}

/// The plan's sheets, oldest first.
#[utoipa::path(get, path = "/api/v1/care-plans/{id}/sheets", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SheetList), (status = 404)))]
pub async fn list_sheets(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<SheetList>> {
    let id = parse_id(&id, "care plan")?;
    let sheets = state.services.list_sheets(&actor, &meta, id).await?;
    Ok(Json(SheetList {
        sheets: sheets.into_iter().map(sheet_out).collect(),
    }))
}
