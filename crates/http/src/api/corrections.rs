//! Corrections routes: the history of an entry's chain of corrections, and the amendment
//! notices (修正のお知らせ) of the caller's organisation with their acknowledgement.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use renkei_domain::Rule;
use renkei_service::corrections::{EntryHistory, HistoryVersion, ValueChange};
use renkei_service::notices::AmendmentNotice;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::EntryResponse;
use crate::error::ApiError;
use crate::extract::{Auth, Meta, parse_id};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/care-plans/{id}/entries/{entry}/history",
            get(entry_history),
        )
        .route("/notices", get(list_notices))
        .route("/notices/{id}/acknowledge", post(acknowledge_notice))
}

/// One value a correction changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueChangeOut {
    pub item: String,
    /// The earlier version's value (null: not recorded).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The later version's value (null: no longer recorded).
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

impl From<ValueChange> for ValueChangeOut {
    fn from(c: ValueChange) -> Self {
        ValueChangeOut {
            item: c.item,
            before: c.before,
            after: c.after,
        }
    }
}

/// One version of an entry's chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryVersionOut {
    /// 1 for the original, then each correction (and a void last).
    pub version: usize,
    pub entry: EntryResponse,
    /// What this version changed from the one before (empty for the original and a void).
    pub changes: Vec<ValueChangeOut>,
}

impl From<HistoryVersion> for HistoryVersionOut {
    fn from(v: HistoryVersion) -> Self {
        HistoryVersionOut {
            version: v.version,
            entry: v.entry.into(),
            changes: v.changes.into_iter().map(Into::into).collect(),
        }
    }
}

/// The chain of corrections of one entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryHistoryOut {
    /// The first version.
    pub original: Uuid,
    /// The version that counts now (the latest that is not a void); a correction names it
    /// in `amends`.
    pub head: Uuid,
    /// The `entered_in_error` entry that voided the chain (it then counts for nothing).
    pub voided_by: Option<Uuid>,
    pub versions: Vec<HistoryVersionOut>,
}

impl From<EntryHistory> for EntryHistoryOut {
    fn from(h: EntryHistory) -> Self {
        EntryHistoryOut {
            original: h.original,
            head: h.head,
            voided_by: h.voided_by,
            versions: h.versions.into_iter().map(Into::into).collect(),
        }
    }
}

/// The history of the chain of corrections an entry belongs to: every version (who,
/// when, why) and what each correction changed. Any version's id gives the same chain.
#[utoipa::path(get, path = "/api/v1/care-plans/{id}/entries/{entry}/history",
    params(("id" = uuid::Uuid, Path), ("entry" = uuid::Uuid, Path)),
    responses((status = 200, body = EntryHistoryOut), (status = 404)))]
pub async fn entry_history(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path((id, entry)): Path<(String, String)>,
) -> ApiResult<Json<EntryHistoryOut>> {
    let id = parse_id(&id, "care plan")?;
    let entry = parse_id(&entry, "entry")?;
    let h = state
        .services
        .entry_history(&actor, &meta, id, entry)
        .await?;
    Ok(Json(h.into()))
}

/// An open amendment notice: an entry of a plan the organisation read or printed was
/// corrected or voided afterwards.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeOut {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub patient_id: Uuid,
    /// corrected | entered_in_error
    pub kind: String,
    /// The correction or void.
    pub entry_id: Uuid,
    /// The version it replaced or voided.
    pub amends: Uuid,
    pub stage: String,
    /// The kind of the corrected entry.
    pub entry_kind: String,
    pub changes: Vec<ValueChangeOut>,
    pub reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub organization_name: String,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<AmendmentNotice> for NoticeOut {
    fn from(n: AmendmentNotice) -> Self {
        NoticeOut {
            id: n.id,
            care_plan_id: n.care_plan_id,
            patient_id: n.patient_id,
            kind: n.kind,
            entry_id: n.entry_id,
            amends: n.amends,
            stage: n.stage,
            entry_kind: n.entry_kind,
            changes: n.changes.into_iter().map(Into::into).collect(),
            reason: n.reason,
            recorded_at: n.recorded_at,
            organization_name: n.organization_name,
            author_name: n.author_name,
            created_at: n.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeList {
    pub notices: Vec<NoticeOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    /// Only the notices of this care plan.
    #[param(value_type = Option<uuid::Uuid>)]
    care_plan_id: Option<String>,
}

/// The caller's organisation's open amendment notices, oldest first.
#[utoipa::path(get, path = "/api/v1/notices", params(NoticeQuery),
    responses((status = 200, body = NoticeList), (status = 404), (status = 422)))]
pub async fn list_notices(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    query: Result<Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<NoticeList>> {
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let plan = match q.care_plan_id {
        Some(p) => Some(parse_id(&p, "care plan")?),
        None => None,
    };
    let notices = state
        .services
        .amendment_notices(&actor, &meta, plan)
        .await?;
    Ok(Json(NoticeList {
        notices: notices.into_iter().map(Into::into).collect(),
    }))
}

/// Acknowledges an amendment notice for the caller's organisation (recorded and
/// audited); it then no longer shows. Acknowledging again changes nothing.
#[utoipa::path(post, path = "/api/v1/notices/{id}/acknowledge", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404)))]
pub async fn acknowledge_notice(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "notice")?;
    state.services.acknowledge_notice(&actor, &meta, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
