//! Directory, hand-overs, reports back, schedules, individual targets, plan lifecycle
//! and worklists.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use renkei_domain::Rule;
use renkei_domain::entry::PlanStatus;
use renkei_domain::handover::HandoverEvent;
use renkei_service::ErrorCode;
use renkei_service::directory::{Declaration, DirectoryEntry};
use renkei_service::handovers::Handover;
use renkei_service::reports::Report;
use renkei_service::schedules::Worklist;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::moments::{MomentQuery, moments};
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/{code}/declarations",
            get(list_declarations).post(declare),
        )
        .route("/directory", get(directory))
        .route(
            "/care-plans/{id}/handovers",
            get(list_handovers).post(propose_handover),
        )
        .route("/handovers/{id}", get(get_handover))
        .route("/handovers/{id}/accept", post(accept_handover))
        .route("/handovers/{id}/decline", post(decline_handover))
        .route("/handovers/{id}/withdraw", post(withdraw_handover))
        .route("/care-plans/{id}/reports", get(list_reports))
        .route("/reports/{id}", get(get_report))
        .route("/reports/{id}/send", post(send_report))
        .route("/care-plans/{id}/schedule", get(get_schedule))
        .route("/care-plans/{id}/individualize", post(individualize))
        .route("/care-plans/{id}/complete", post(complete_plan))
        .route("/care-plans/{id}/withdraw", post(withdraw_plan))
        .route("/care-plans/{id}/migration", get(migration_preview))
        .route("/care-plans/{id}/migrate", post(migrate_plan))
        .route("/worklist", get(worklist))
}

/// Parses `If-Match: "3"` (or `W/"3"`, or `3`).
fn if_match(headers: &HeaderMap) -> Result<Option<i32>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i32>().map(Some).map_err(|_| {
        ApiError::new(
            ErrorCode::PreconditionFailed,
            "If-Match does not name a current version",
        )
    })
}

fn with_etag(version: i32, status: StatusCode, body: impl Serialize) -> Response {
    let mut res = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

// ------------------------------------------------------------------ directory

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    pub pathway: String,
    /// Stage codes of the pathway, at least one.
    #[schema(min_items = 1)]
    pub stages: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeclarationOut {
    pub id: uuid::Uuid,
    pub organization: String,
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared_at: DateTime<Utc>,
    pub superseded_at: Option<DateTime<Utc>>,
}

impl From<Declaration> for DeclarationOut {
    fn from(d: Declaration) -> Self {
        DeclarationOut {
            id: d.id,
            organization: d.organization,
            pathway: d.pathway,
            stages: d.stages,
            note: d.note,
            declared_at: d.declared_at,
            superseded_at: d.superseded_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeclarationList {
    pub declarations: Vec<DeclarationOut>,
}

/// Declares the pathways and stages an organisation takes (手挙げ); history is kept.
#[utoipa::path(post, path = "/api/v1/organizations/{code}/declarations", request_body = DeclareRequest,
    params(("code" = String, Path)),
    responses((status = 201, body = DeclarationOut), (status = 403), (status = 422)))]
pub async fn declare(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
    body: ApiJson<DeclareRequest>,
) -> ApiResult<(StatusCode, Json<DeclarationOut>)> {
    let b = body.value;
    let d = state
        .services
        .declare(&actor, &meta, &code, &b.pathway, b.stages, &b.note)
        .await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

#[utoipa::path(get, path = "/api/v1/organizations/{code}/declarations", params(("code" = String, Path)),
    responses((status = 200, body = DeclarationList), (status = 404)))]
pub async fn list_declarations(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<DeclarationList>> {
    let list = state.services.declarations(&code).await?;
    Ok(Json(DeclarationList {
        declarations: list.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    pathway: Option<String>,
    stage: Option<String>,
    /// Secondary medical area.
    area: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryEntryOut {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryList {
    pub organizations: Vec<DirectoryEntryOut>,
}

/// Organisations that take a pathway's stage, e.g. recovery hospitals in an area for stroke.
#[utoipa::path(get, path = "/api/v1/directory", params(DirectoryQuery),
    responses((status = 200, body = DirectoryList)))]
pub async fn directory(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    query: Result<Query<DirectoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<DirectoryList>> {
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let list = state
        .services
        .directory(q.pathway.as_deref(), q.stage.as_deref(), q.area.as_deref())
        .await?;
    Ok(Json(DirectoryList {
        organizations: list
            .into_iter()
            .map(|d: DirectoryEntry| DirectoryEntryOut {
                code: d.code,
                name: d.name,
                kind: d.kind,
                area: d.area,
                pathway: d.pathway,
                stages: d.stages,
                note: d.note,
                declared_at: d.declared_at,
            })
            .collect(),
    }))
}

// ------------------------------------------------------------------ hand-overs

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeHandoverRequest {
    /// Organisation code (another organisation).
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub to_organization: String,
    pub stage: String,
    #[schema(max_length = 10000)]
    pub note: Option<String>,
    /// 転院予定日 proposed by the sender (`YYYY-MM-DD`); the receiver confirms or changes
    /// it on acceptance.
    pub planned_transfer_date: Option<NaiveDate>,
    /// The referral's structured fields (what a recovery ward needs to accept a patient);
    /// absent: prefilled from the plan. Keys: diagnosis (required when sent),
    /// clinical_type (atherothrombotic | cardioembolic | lacunar | other_infarction | ich |
    /// sah), paralysis_side (none | left | right | both), history, medications,
    /// infections, diet_form (regular | soft | minced | puree | jelly | tube | nil),
    /// swallowing, adl, key_person, key_person_contact, care_insurance (not_applied |
    /// applying | not_eligible | support_1 | support_2 | care_1 … care_5). Every error is
    /// reported at once.
    #[schema(value_type = Option<Object>)]
    pub referral: Option<Value>,
}

/// The optional body of an acceptance.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The agreed 転院予定日; absent: the proposed one.
    pub transfer_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverOut {
    pub id: uuid::Uuid,
    pub care_plan_id: uuid::Uuid,
    pub from_organization: String,
    pub to_organization: String,
    pub from_stage: String,
    pub stage: String,
    /// proposed | accepted | declined | withdrawn | completed
    pub state: String,
    pub note: Option<String>,
    /// The referral summary: goals, latest values, stage outcome, variances, note.
    #[schema(value_type = Object)]
    pub summary: Value,
    pub decline_reason: Option<String>,
    /// Also sent as the ETag header; send it back as If-Match.
    pub version: i32,
    pub proposed_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// 転院予定日 proposed by the sender.
    pub proposed_transfer_date: Option<NaiveDate>,
    /// 転院予定日 agreed on acceptance.
    pub agreed_transfer_date: Option<NaiveDate>,
}

impl From<Handover> for HandoverOut {
    fn from(h: Handover) -> Self {
        HandoverOut {
            id: h.id,
            care_plan_id: h.care_plan_id,
            from_organization: h.from_organization,
            to_organization: h.to_organization,
            from_stage: h.from_stage,
            stage: h.stage,
            state: h.state,
            note: h.note,
            summary: h.summary,
            decline_reason: h.decline_reason,
            version: h.version,
            proposed_at: h.proposed_at,
            answered_at: h.answered_at,
            completed_at: h.completed_at,
            proposed_transfer_date: h.proposed_transfer_date,
            agreed_transfer_date: h.agreed_transfer_date,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverList {
    pub handovers: Vec<HandoverOut>,
}

/// Proposes handing the plan over for the next stage (the current stage's owner).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/handovers", request_body = ProposeHandoverRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 201, body = HandoverOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn propose_handover(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<ProposeHandoverRequest>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "care plan")?;
    let b = body.value;
    let h = state
        .services
        .propose_handover(
            &actor,
            &meta,
            id,
            &b.to_organization,
            &b.stage,
            b.note,
            renkei_service::handovers::HandoverDetails {
                transfer_date: b.planned_transfer_date,
                referral: b.referral,
            },
        )
        .await?;
    Ok(with_etag(
        h.version,
        StatusCode::CREATED,
        HandoverOut::from(h),
    ))
}

#[utoipa::path(get, path = "/api/v1/care-plans/{id}/handovers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = HandoverList), (status = 404)))]
pub async fn list_handovers(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<HandoverList>> {
    let id = parse_id(&id, "care plan")?;
    let list = state.services.handovers_of_plan(&actor, &meta, id).await?;
    Ok(Json(HandoverList {
        handovers: list.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/handovers/{id}", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = HandoverOut), (status = 404)))]
pub async fn get_handover(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "hand-over")?;
    let h = state.services.get_handover(&actor, &meta, id).await?;
    Ok(with_etag(h.version, StatusCode::OK, HandoverOut::from(h)))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "an answer names its hand-over, event, version, reason and date"
)]
async fn answer(
    state: AppState,
    actor: renkei_service::Actor,
    meta: renkei_service::audit::RequestMeta,
    id: String,
    headers: HeaderMap,
    event: HandoverEvent,
    reason: Option<String>,
    transfer_date: Option<NaiveDate>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "hand-over")?;
    let version = if_match(&headers)?;
    let h = state
        .services
        .answer_handover(&actor, &meta, id, event, version, reason, transfer_date)
        .await?;
    Ok(with_etag(h.version, StatusCode::OK, HandoverOut::from(h)))
}

/// Accepts a hand-over (the receiving organisation); needs If-Match. An optional JSON
/// body `{"transfer_date": "YYYY-MM-DD"}` changes the proposed 転院予定日.
#[utoipa::path(post, path = "/api/v1/handovers/{id}/accept", request_body(content = Option<AcceptRequest>),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = HandoverOut), (status = 409), (status = 412), (status = 422), (status = 428)))]
pub async fn accept_handover(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let accept: AcceptRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AcceptRequest::default()
    } else {
        serde_json::from_slice::<Option<AcceptRequest>>(&body)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                crate::error::ApiError::new(
                    renkei_service::ErrorCode::MalformedRequest,
                    format!("the body must be {{\"transfer_date\": \"YYYY-MM-DD\"}}: {e}"),
                )
            })?
    };
    answer(
        state,
        actor,
        meta,
        id,
        headers,
        HandoverEvent::Accept,
        None,
        accept.transfer_date,
    )
    .await
}

/// Declines a hand-over with a reason (the receiving organisation); needs If-Match.
#[utoipa::path(post, path = "/api/v1/handovers/{id}/decline", request_body = ReasonRequest,
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = HandoverOut), (status = 409), (status = 412), (status = 422), (status = 428)))]
pub async fn decline_handover(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<ReasonRequest>,
) -> ApiResult<Response> {
    answer(
        state,
        actor,
        meta,
        id,
        headers,
        HandoverEvent::Decline,
        body.value.reason,
        None,
    )
    .await
}

/// Withdraws a proposal (the sending organisation); needs If-Match.
#[utoipa::path(post, path = "/api/v1/handovers/{id}/withdraw",
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = HandoverOut), (status = 409), (status = 412), (status = 428)))]
pub async fn withdraw_handover(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    answer(
        state,
        actor,
        meta,
        id,
        headers,
        HandoverEvent::Withdraw,
        None,
        None,
    )
    .await
}

// ------------------------------------------------------------------ reports back

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportOut {
    pub id: uuid::Uuid,
    pub care_plan_id: uuid::Uuid,
    pub stage: String,
    pub from_organization: String,
    pub to_organization: String,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Stage outcome: length of stay, FIM / Barthel at admission and discharge and gain, destination.
    #[schema(value_type = Object)]
    pub content: Value,
}

impl From<Report> for ReportOut {
    fn from(r: Report) -> Self {
        ReportOut {
            id: r.id,
            care_plan_id: r.care_plan_id,
            stage: r.stage,
            from_organization: r.from_organization,
            to_organization: r.to_organization,
            due_at: r.due_at,
            sent_at: r.sent_at,
            overdue: r.overdue,
            content: r.content,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    pub reports: Vec<ReportOut>,
}

#[utoipa::path(get, path = "/api/v1/care-plans/{id}/reports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReportList), (status = 404)))]
pub async fn list_reports(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportList>> {
    let id = parse_id(&id, "care plan")?;
    let list = state.services.reports_of_plan(&actor, &meta, id).await?;
    Ok(Json(ReportList {
        reports: list.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/reports/{id}", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReportOut), (status = 404)))]
pub async fn get_report(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportOut>> {
    let id = parse_id(&id, "report")?;
    Ok(Json(
        state.services.get_report(&actor, &meta, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SendReportRequest {
    /// The summary in words (返書).
    pub note: Option<String>,
}

/// Sends the report back to the planning organisation.
#[utoipa::path(post, path = "/api/v1/reports/{id}/send", request_body = SendReportRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReportOut), (status = 403), (status = 404), (status = 409)))]
pub async fn send_report(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<SendReportRequest>,
) -> ApiResult<Json<ReportOut>> {
    let id = parse_id(&id, "report")?;
    Ok(Json(
        state
            .services
            .send_report(&actor, &meta, id, body.value.note)
            .await?
            .into(),
    ))
}

// ------------------------------------------------------------------ schedule, targets

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    pub code: String,
    pub title_ja: String,
    pub title_en: String,
    pub owner: String,
    pub interval_days: u32,
    pub individualised: bool,
    /// Where the interval came from: template | item (the band of the latest value of
    /// the rule's `interval_by` item, e.g. the retinopathy grade) | elapsed (the band of
    /// the rule's `interval_since`, e.g. the years since surgery) | individual.
    pub interval_source: String,
    pub grace_days: u32,
    /// When the visit or test was last done (a boolean item counts only when true).
    pub last_done: Option<DateTime<Utc>>,
    /// The due date (Asia/Tokyo calendar): the Tokyo date of the last done plus the
    /// interval.
    pub due_date: NaiveDate,
    /// 00:00 Asia/Tokyo of `due_date`.
    pub due: DateTime<Utc>,
    /// scheduled | due (on or past the due date, within grace) | overdue (the Tokyo date
    /// is after the due date plus grace) | not_applicable (`applies_when` does not hold, or
    /// the next time would fall after the last band of `interval_since`)
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// Clinical time judged at.
    pub as_of: DateTime<Utc>,
    /// The record as it stood at this moment.
    pub known_at: DateTime<Utc>,
    pub schedule: Vec<ScheduleOut>,
}

/// When each scheduled visit or test of a plan is next due, at clinical time
/// `as_of` as the record stood at `known_at` (both default now).
#[utoipa::path(get, path = "/api/v1/care-plans/{id}/schedule", params(("id" = uuid::Uuid, Path), MomentQuery),
    responses((status = 200, body = ScheduleList), (status = 404), (status = 422, description = "as_of or known_at malformed")))]
pub async fn get_schedule(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    query: Result<Query<MomentQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ScheduleList>> {
    let id = parse_id(&id, "care plan")?;
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let (as_of, known_at) = moments(&q, state.services.now())?;
    let list = state
        .services
        .schedule(&actor, &meta, id, Some(as_of), Some(known_at))
        .await?;
    Ok(Json(ScheduleList {
        as_of,
        known_at,
        schedule: list
            .into_iter()
            .map(|s| ScheduleOut {
                code: s.code,
                title_ja: s.title_ja,
                title_en: s.title_en,
                owner: serde_json::to_value(s.owner)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                interval_days: s.interval_days,
                individualised: s.individualised,
                interval_source: serde_json::to_value(s.interval_source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                grace_days: s.grace_days,
                last_done: s.last_done,
                due_date: s.due_date,
                due: s.due,
                state: serde_json::to_value(s.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndividualizeRequest {
    /// A goal code, with `target` (same kind and item as the template's goal).
    pub goal: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub target: Option<Value>,
    /// A schedule rule code, with `interval_days`.
    pub schedule: Option<String>,
    #[schema(minimum = 1)]
    pub interval_days: Option<u32>,
    /// A stage code, with `max_days`: the stage's individual limit in days (its
    /// `stage_length` goals and the stage-overrun variance follow it).
    pub stage: Option<String>,
    #[schema(minimum = 1)]
    pub max_days: Option<u32>,
    /// Not blank.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Sets a per-patient goal target, schedule interval or stage limit, with its reason.
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/individualize", request_body = IndividualizeRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 422)))]
pub async fn individualize(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<IndividualizeRequest>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "care plan")?;
    let b = body.value;
    let goal = match (b.goal, b.target) {
        (Some(g), Some(t)) => Some((g, t)),
        (None, None) => None,
        _ => {
            return Err(ApiError::field(
                "target",
                Rule::Required,
                "goal and target go together",
            ));
        }
    };
    let schedule = match (b.schedule, b.interval_days) {
        (Some(s), Some(d)) => Some((s, d)),
        (None, None) => None,
        _ => {
            return Err(ApiError::field(
                "interval_days",
                Rule::Required,
                "schedule and interval_days go together",
            ));
        }
    };
    let stage_limit = match (b.stage, b.max_days) {
        (Some(s), Some(d)) => Some((s, d)),
        (None, None) => None,
        _ => {
            return Err(ApiError::field(
                "max_days",
                Rule::Required,
                "stage and max_days go together",
            ));
        }
    };
    state
        .services
        .individualize(&actor, &meta, id, goal, schedule, stage_limit, &b.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ lifecycle

/// Completes the plan (planning organisation). If-Match with the plan's version is honoured.
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/complete",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 403), (status = 404), (status = 409), (status = 412)))]
pub async fn complete_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "care plan")?;
    state
        .services
        .end_plan(
            &actor,
            &meta,
            id,
            PlanStatus::Completed,
            None,
            if_match(&headers)?,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawPlanRequest {
    /// e.g. 死亡, 本人の希望; not blank.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Withdraws the plan with a reason (planning organisation).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/withdraw", request_body = WithdrawPlanRequest,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)))]
pub async fn withdraw_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<WithdrawPlanRequest>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "care plan")?;
    state
        .services
        .end_plan(
            &actor,
            &meta,
            id,
            PlanStatus::Withdrawn,
            Some(body.value.reason),
            if_match(&headers)?,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MigrationQuery {
    version: u32,
}

/// What migrating the plan to another version would change, by code.
#[utoipa::path(get, path = "/api/v1/care-plans/{id}/migration", params(("id" = uuid::Uuid, Path), MigrationQuery),
    responses((status = 200, body = Object), (status = 404), (status = 422)))]
pub async fn migration_preview(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    query: Result<Query<MigrationQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "care plan")?;
    let Query(q) = query.map_err(|e| ApiError::field("version", Rule::Required, e.body_text()))?;
    let diff = state
        .services
        .migration_preview(&actor, &meta, id, q.version)
        .await?;
    Ok(Json(serde_json::to_value(diff).unwrap_or(Value::Null)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    pub version: u32,
    /// The variant on the new version (`code` of one of its `variants`): required when it
    /// has variants and the plan's own variant is not one of them.
    pub variant: Option<String>,
    /// Not blank.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Moves the plan to a newer version of its pathway (recorded as an entry with its reason).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/migrate", request_body = MigrateRequest,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)))]
pub async fn migrate_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<MigrateRequest>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "care plan")?;
    state
        .services
        .migrate_plan(
            &actor,
            &meta,
            id,
            body.value.version,
            body.value.variant.as_deref(),
            &body.value.reason,
            if_match(&headers)?,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ worklist

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    as_of: Option<DateTime<FixedOffset>>,
    /// Items per list, 1–500 (default 50); counts are always complete.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// Days without an entry before a plan counts as a dropout (治療中断), 1–3650
    /// (default 90); a value outside is refused (422).
    #[param(minimum = 1, maximum = 3650)]
    dropout_days: Option<i64>,
}

/// The caller's organisation's worklists, each with its count and first items.
#[utoipa::path(get, path = "/api/v1/worklist", params(WorklistQuery),
    responses((status = 200, body = Object)))]
pub async fn worklist(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    query: Result<Query<WorklistQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Worklist>> {
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let list = state
        .services
        .worklist(
            &actor,
            &meta,
            q.as_of.map(|t| t.with_timezone(&Utc)),
            q.limit.unwrap_or(50),
            q.dropout_days.unwrap_or(90),
        )
        .await?;
    Ok(Json(list))
}
