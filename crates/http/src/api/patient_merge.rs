//! Merging two patient records of one person (名寄せ, issue 18 point 9) for the regional
//! administrator: the preview side by side, the merge with a reason (a different birth
//! date or sex confirmed again), and its reversal. The same service functions as the
//! web pages and `renkei patient merge|unmerge`; audited there.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use renkei_service::patient_merge::{self, MergePreview, MergeRecord, MergeRequest, PatientLink};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use super::dto::IdentifierOut;
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/patients/{id}/merge-preview", get(merge_preview))
        .route("/patients/{id}/merge", post(merge_patients))
        .route("/patients/{id}/links", get(list_patient_links))
        .route("/patient-links/{id}", get(get_patient_link))
        .route("/patient-links/{id}/reverse", post(reverse_patient_link))
}

#[derive(OpenApi)]
#[openapi(paths(
    merge_preview,
    merge_patients,
    list_patient_links,
    get_patient_link,
    reverse_patient_link
))]
pub struct MergeDoc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// The record that would be merged into the one in the path.
    other: String,
}

/// A plan of one record, as the preview lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergePlanOut {
    pub id: Uuid,
    pub pathway_code: String,
    pub pathway_version: i32,
    pub pathway_title_ja: String,
    pub status: String,
    pub current_stage: String,
    pub planner_organization: String,
    pub started_at: DateTime<Utc>,
}

/// One record on its own: demographics, its own patient numbers and plans.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeRecordOut {
    pub id: Uuid,
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: NaiveDate,
    pub sex: String,
    pub identifiers: Vec<IdentifierOut>,
    pub plans: Vec<MergePlanOut>,
    /// The record this one is merged into, if it is.
    pub merged_into: Option<Uuid>,
    /// The records merged into this one.
    pub merged_ids: Vec<Uuid>,
}

impl From<MergeRecord> for MergeRecordOut {
    fn from(r: MergeRecord) -> Self {
        let p = r.patient;
        MergeRecordOut {
            id: p.id,
            family: p.name.family,
            given: p.name.given,
            family_kana: p.name.family_kana,
            given_kana: p.name.given_kana,
            birth_date: p.birth_date,
            sex: p.sex,
            identifiers: p
                .identifiers
                .into_iter()
                .map(|i| IdentifierOut {
                    organization: i.organization,
                    value: i.value,
                })
                .collect(),
            plans: r
                .plans
                .into_iter()
                .map(|c| MergePlanOut {
                    id: c.id,
                    pathway_code: c.pathway_code,
                    pathway_version: c.pathway_version,
                    pathway_title_ja: c.pathway_title_ja,
                    status: c.status,
                    current_stage: c.current_stage,
                    planner_organization: c.planner_organization,
                    started_at: c.started_at,
                })
                .collect(),
            merged_into: r.merged_into,
            merged_ids: r.merged_ids,
        }
    }
}

/// One compared field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldDifferenceOut {
    /// `family`, `given`, `family_kana`, `given_kana`, `birth_date` or `sex`.
    pub field: String,
    pub survivor: String,
    pub merged: String,
    pub differs: bool,
    /// A difference the merge must confirm (`confirm_differences`).
    pub needs_confirmation: bool,
}

/// Why the merge would be refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeRefusalOut {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// The two records side by side.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergePreviewOut {
    pub survivor: MergeRecordOut,
    pub merged: MergeRecordOut,
    pub fields: Vec<FieldDifferenceOut>,
    /// The fields whose difference must be confirmed.
    pub needs_confirmation: Vec<String>,
    /// Empty when the merge may go ahead.
    pub refusals: Vec<MergeRefusalOut>,
}

impl From<MergePreview> for MergePreviewOut {
    fn from(p: MergePreview) -> Self {
        MergePreviewOut {
            survivor: p.survivor.into(),
            merged: p.merged.into(),
            fields: p
                .fields
                .into_iter()
                .map(|f| FieldDifferenceOut {
                    field: f.field.to_owned(),
                    survivor: f.survivor,
                    merged: f.merged,
                    differs: f.differs,
                    needs_confirmation: f.needs_confirmation,
                })
                .collect(),
            needs_confirmation: p
                .needs_confirmation
                .into_iter()
                .map(str::to_owned)
                .collect(),
            refusals: p
                .refusals
                .into_iter()
                .map(|e| MergeRefusalOut {
                    field: e.field,
                    code: e.code.as_str().to_owned(),
                    message: e.message,
                })
                .collect(),
        }
    }
}

/// A merge link.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientLinkOut {
    pub id: Uuid,
    pub survivor_id: Uuid,
    pub merged_id: Uuid,
    pub reason: String,
    pub merged_by: Uuid,
    pub merged_by_organization: String,
    pub merged_at: DateTime<Utc>,
    pub reversed_by: Option<Uuid>,
    pub reversed_at: Option<DateTime<Utc>>,
    pub reverse_reason: Option<String>,
}

impl From<PatientLink> for PatientLinkOut {
    fn from(l: PatientLink) -> Self {
        PatientLinkOut {
            id: l.id,
            survivor_id: l.survivor_id,
            merged_id: l.merged_id,
            reason: l.reason,
            merged_by: l.merged_by,
            merged_by_organization: l.merged_by_organization,
            merged_at: l.merged_at,
            reversed_by: l.reversed_by,
            reversed_at: l.reversed_at,
            reverse_reason: l.reverse_reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientLinkList {
    pub links: Vec<PatientLinkOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergePatientsRequest {
    /// The record merged into the one in the path (which survives).
    pub other: Uuid,
    /// Why the records are one person, 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// Required true when the birth date or sex differ.
    #[serde(default)]
    pub confirm_differences: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseLinkRequest {
    /// Why the merge is reversed, 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// The two records side by side before merging `other` into `id` (the regional
/// administrator): every field compared, each record's plans and patient numbers, the
/// differences to confirm and why the merge would be refused. Audited as a read of
/// both patients.
#[utoipa::path(get, path = "/api/v1/patients/{id}/merge-preview",
    params(("id" = Uuid, Path), PreviewQuery),
    responses((status = 200, body = MergePreviewOut), (status = 403), (status = 404)))]
async fn merge_preview(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Json<MergePreviewOut>> {
    let id = parse_id(&id, "patient")?;
    let other = parse_id(&q.other, "patient")?;
    let p = patient_merge::merge_preview(&state.services, &actor, &meta, id, other).await?;
    Ok(Json(p.into()))
}

/// Merges `other` into the patient in the path (名寄せ, the regional administrator),
/// with a reason; a different birth date or sex needs `confirm_differences`. Nothing
/// moves: a link is written, and the merged record reads as this one until reversed.
#[utoipa::path(post, path = "/api/v1/patients/{id}/merge", params(("id" = Uuid, Path)),
    request_body = MergePatientsRequest,
    responses((status = 201, body = PatientLinkOut), (status = 403), (status = 404), (status = 422)))]
async fn merge_patients(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<MergePatientsRequest>,
) -> ApiResult<(StatusCode, Json<PatientLinkOut>)> {
    let id = parse_id(&id, "patient")?;
    let b = body.value;
    let link = patient_merge::merge(
        &state.services,
        &actor,
        &meta,
        id,
        MergeRequest {
            other: b.other,
            reason: b.reason,
            confirm_differences: b.confirm_differences,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(link.into())))
}

/// Every merge link, reversed or not, naming the patient (the regional administrator).
#[utoipa::path(get, path = "/api/v1/patients/{id}/links", params(("id" = Uuid, Path)),
    responses((status = 200, body = PatientLinkList), (status = 403)))]
async fn list_patient_links(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<PatientLinkList>> {
    let id = parse_id(&id, "patient")?;
    let links = patient_merge::links_of(&state.services, &actor, &meta, id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(PatientLinkList { links }))
}

/// One merge link (the regional administrator).
#[utoipa::path(get, path = "/api/v1/patient-links/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = PatientLinkOut), (status = 403), (status = 404)))]
async fn get_patient_link(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<PatientLinkOut>> {
    let id = parse_id(&id, "patient link")?;
    let link = patient_merge::get_link(&state.services, &actor, &meta, id).await?;
    Ok(Json(link.into()))
}

/// Reverses a merge with a reason (the regional administrator): the link is kept,
/// marked reversed, and both records read as before the merge.
#[utoipa::path(post, path = "/api/v1/patient-links/{id}/reverse", params(("id" = Uuid, Path)),
    request_body = ReverseLinkRequest,
    responses((status = 200, body = PatientLinkOut), (status = 403), (status = 404), (status = 422)))]
async fn reverse_patient_link(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<ReverseLinkRequest>,
) -> ApiResult<Json<PatientLinkOut>> {
    let id = parse_id(&id, "patient link")?;
    let link =
        patient_merge::unmerge(&state.services, &actor, &meta, id, &body.value.reason).await?;
    Ok(Json(link.into()))
}
