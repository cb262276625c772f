//! The regional pathway council's meetings (issue 16 point 6): list and record meetings
//! (the reports reviewed are frozen when the meeting is recorded), read one, record its
//! decisions and link each to the template version that carried it out. The same
//! service functions as the council's web pages; audited there.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use renkei_service::council_meetings::{self as meetings, Decision, Meeting, NewMeeting};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/council/meetings",
            get(list_council_meetings).post(create_council_meeting),
        )
        .route("/council/meetings/{id}", get(get_council_meeting))
        .route(
            "/council/meetings/{id}/decisions",
            post(create_council_decision),
        )
        .route("/council/decisions/{id}/link", post(link_council_decision))
}

#[derive(OpenApi)]
#[openapi(paths(
    list_council_meetings,
    create_council_meeting,
    get_council_meeting,
    create_council_decision,
    link_council_decision
))]
pub struct CouncilMeetingsDoc;

/// A meeting to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMeetingRequest {
    /// The day it was held (`YYYY-MM-DD`, not in the future).
    pub held_on: String,
    pub title: String,
    /// Codes of the attending organisations (at least one).
    pub attending: Vec<String>,
    /// The reports reviewed (`flow`, `goals`, `variances`, `outcomes`, `completeness`,
    /// `compare`), frozen as they read now.
    #[serde(default)]
    pub reports: Vec<String>,
    /// The reports' filter, as the reports' query parameters (`pathway`, `version`,
    /// `from`, `to`, `period`, `area`, `organization`, `stage`); each a list of values.
    #[serde(default)]
    pub filter: BTreeMap<String, Vec<String>>,
}

/// A decision to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDecisionRequest {
    /// What was decided, e.g. "publish stroke v2 with goal g4 at 120 days".
    pub text: String,
    /// The code of the pathway it is about.
    pub pathway: String,
}

/// The template version that carried a decision out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkDecisionRequest {
    /// The decision's pathway.
    pub pathway: String,
    pub version: i64,
}

/// An attending organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendeeOut {
    pub code: String,
    pub name: String,
}

/// The template version that carried a decision out.
#[derive(Debug, Serialize, ToSchema)]
pub struct CarriedByOut {
    pub pathway: String,
    pub version: i32,
    pub title_ja: String,
}

/// A decision of a meeting.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionOut {
    pub id: Uuid,
    pub meeting_id: Uuid,
    pub text: String,
    pub pathway: String,
    /// Null until linked.
    pub carried_by: Option<CarriedByOut>,
    pub created_at: DateTime<Utc>,
}

/// A meeting.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingOut {
    pub id: Uuid,
    pub held_on: NaiveDate,
    pub title: String,
    pub attending: Vec<AttendeeOut>,
    /// The reports reviewed, frozen when the meeting was recorded: given to the regional
    /// administrator and council members reading one meeting; null otherwise.
    #[schema(value_type = Option<Object>)]
    pub snapshot: Option<serde_json::Value>,
    /// The filter the snapshot was read with.
    pub snapshot_filter: BTreeMap<String, Vec<String>>,
    pub decisions: Vec<DecisionOut>,
    pub created_at: DateTime<Utc>,
}

/// The meetings of the caller's region, the latest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingList {
    pub meetings: Vec<MeetingOut>,
}

impl From<Decision> for DecisionOut {
    fn from(d: Decision) -> Self {
        DecisionOut {
            id: d.id,
            meeting_id: d.meeting_id,
            text: d.text,
            pathway: d.pathway,
            carried_by: d.carried_by.map(|c| CarriedByOut {
                pathway: c.pathway,
                version: c.version,
                title_ja: c.title_ja,
            }),
            created_at: d.created_at,
        }
    }
}

impl From<Meeting> for MeetingOut {
    fn from(m: Meeting) -> Self {
        MeetingOut {
            id: m.id,
            held_on: m.held_on,
            title: m.title,
            attending: m
                .attending
                .into_iter()
                .map(|a| AttendeeOut {
                    code: a.code,
                    name: a.name,
                })
                .collect(),
            snapshot: m.snapshot,
            snapshot_filter: m.snapshot_filter,
            decisions: m.decisions.into_iter().map(Into::into).collect(),
            created_at: m.created_at,
        }
    }
}

/// The council meetings of the caller's region, the latest first (without snapshots).
#[utoipa::path(get, path = "/api/v1/council/meetings",
    responses((status = 200, body = MeetingList)))]
async fn list_council_meetings(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> ApiResult<Json<MeetingList>> {
    let list = meetings::list_meetings(&state.services, &actor).await?;
    Ok(Json(MeetingList {
        meetings: list.into_iter().map(Into::into).collect(),
    }))
}

/// Records a council meeting (the regional administrator or a council member), freezing
/// the reports it reviewed as they read now.
#[utoipa::path(post, path = "/api/v1/council/meetings",
    request_body = CreateMeetingRequest,
    responses((status = 201, body = MeetingOut), (status = 403), (status = 422)))]
async fn create_council_meeting(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    body: ApiJson<CreateMeetingRequest>,
) -> ApiResult<(StatusCode, Json<MeetingOut>)> {
    let b = body.value;
    let m = meetings::record_meeting(
        &state.services,
        &actor,
        &meta,
        NewMeeting {
            held_on: b.held_on,
            title: b.title,
            attending: b.attending,
            reports: b.reports,
            filter: b.filter,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

/// One council meeting of the caller's region, with its frozen reports for the regional
/// administrator and council members.
#[utoipa::path(get, path = "/api/v1/council/meetings/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = MeetingOut), (status = 404)))]
async fn get_council_meeting(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<MeetingOut>> {
    let id = parse_id(&id, "council meeting")?;
    let m = meetings::get_meeting(&state.services, &actor, &meta, id).await?;
    Ok(Json(m.into()))
}

/// Records a decision of a meeting about a pathway (the regional administrator or a
/// council member).
#[utoipa::path(post, path = "/api/v1/council/meetings/{id}/decisions", params(("id" = Uuid, Path)),
    request_body = CreateDecisionRequest,
    responses((status = 201, body = DecisionOut), (status = 403), (status = 404), (status = 422)))]
async fn create_council_decision(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<CreateDecisionRequest>,
) -> ApiResult<(StatusCode, Json<DecisionOut>)> {
    let id = parse_id(&id, "council meeting")?;
    let b = body.value;
    let d =
        meetings::record_decision(&state.services, &actor, &meta, id, &b.text, &b.pathway).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

/// Links a decision to the template version that carried it out: the version must exist
/// and be of the decision's pathway (422 otherwise).
#[utoipa::path(post, path = "/api/v1/council/decisions/{id}/link", params(("id" = Uuid, Path)),
    request_body = LinkDecisionRequest,
    responses((status = 200, body = DecisionOut), (status = 403), (status = 404), (status = 422)))]
async fn link_council_decision(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<LinkDecisionRequest>,
) -> ApiResult<Json<DecisionOut>> {
    let id = parse_id(&id, "council decision")?;
    let b = body.value;
    let d =
        meetings::link_decision(&state.services, &actor, &meta, id, &b.pathway, b.version).await?;
    Ok(Json(d.into()))
}
