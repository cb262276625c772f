//! Review of automatic variances: a clinician of the organisation owning the stage
//! classifies one (a cause from the pathway's variance codes) or dismisses it, with a
//! reason. Each is a variance entry amending the automatic one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use renkei_service::variances::VarianceReview;
use serde::Deserialize;
use utoipa::ToSchema;

use super::dto::EntryResponse;
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/care-plans/{id}/variances/{entry_id}/classify",
            post(classify_variance),
        )
        .route(
            "/care-plans/{id}/variances/{entry_id}/dismiss",
            post(dismiss_variance),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyVarianceRequest {
    /// A variance code the pathway lists in its `variances` (`NEG.VAR.CO.RECEIVE`), not
    /// the unclassified `UN` cause.
    #[schema(min_length = 1, max_length = 100)]
    pub code: String,
    /// Why this cause (not blank).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissVarianceRequest {
    /// Why this is not a variance (not blank).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Classifies an automatic variance: a variance entry amending it with the chosen cause
/// and the reason. A physician, nurse or therapist of an organisation owning the
/// variance's stage; the sweep never raises the goal again.
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/variances/{entry_id}/classify",
    request_body = ClassifyVarianceRequest,
    params(("id" = uuid::Uuid, Path), ("entry_id" = uuid::Uuid, Path, description = "the automatic variance entry")),
    responses((status = 201, body = EntryResponse), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn classify_variance(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path((id, entry_id)): Path<(String, String)>,
    body: ApiJson<ClassifyVarianceRequest>,
) -> ApiResult<(StatusCode, Json<EntryResponse>)> {
    let id = parse_id(&id, "care plan")?;
    let entry_id = parse_id(&entry_id, "variance")?;
    let b = body.value;
    let entry = state
        .services
        .review_variance(
            &actor,
            &meta,
            id,
            entry_id,
            VarianceReview::Classify { code: b.code },
            &b.reason,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// Dismisses an automatic variance (not a variance after all): a variance entry amending
/// it with the reason. Who may: as for classifying.
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/variances/{entry_id}/dismiss",
    request_body = DismissVarianceRequest,
    params(("id" = uuid::Uuid, Path), ("entry_id" = uuid::Uuid, Path, description = "the automatic variance entry")),
    responses((status = 201, body = EntryResponse), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn dismiss_variance(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path((id, entry_id)): Path<(String, String)>,
    body: ApiJson<DismissVarianceRequest>,
) -> ApiResult<(StatusCode, Json<EntryResponse>)> {
    let id = parse_id(&id, "care plan")?;
    let entry_id = parse_id(&entry_id, "variance")?;
    let entry = state
        .services
        .review_variance(
            &actor,
            &meta,
            id,
            entry_id,
            VarianceReview::Dismiss,
            &body.value.reason,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}
