//! Care team, consent, break-glass and audit routes.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use renkei_domain::Rule;
use renkei_service::access::{
    AuditEvent, BreakGlassGrant, CareTeamMember, Consent, ConsentReminder, NewConsent,
};
use renkei_store_filter::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;

/// The audit filter type lives in the store crate; re-exported through the service.
mod renkei_store_filter {
    pub use renkei_service::AuditFilter;
}

type ApiResult<T> = Result<T, ApiError>;

/// The care-team routes added for ending an organisation's access.
#[derive(utoipa::OpenApi)]
#[openapi(paths(end_care_team_member))]
pub struct CareTeamDoc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/care-plans/{id}/care-team",
            get(get_care_team).post(add_care_team_member),
        )
        .route(
            "/care-plans/{id}/care-team/{organization}/end",
            post(end_care_team_member),
        )
        .route(
            "/care-plans/{id}/consents",
            get(list_consents).post(record_consent),
        )
        .route("/consents/{id}/withdraw", post(withdraw_consent))
        .route("/reminders/consent", get(consent_reminders))
        .route("/break-glass", get(list_break_glass).post(break_glass))
        .route("/break-glass/{id}/review", post(review_break_glass))
        .route("/audit", get(audit_log))
        .route("/patients/{id}/access-report", get(access_report))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CareTeamMemberOut {
    pub organization: String,
    pub organization_name: String,
    /// planner | stage_owner | contributor | viewer
    pub role: String,
    pub stages: Vec<String>,
    pub added_at: DateTime<Utc>,
    /// The last day of its access (Tokyo), once ended on a date or removed.
    pub access_ends_on: Option<NaiveDate>,
    /// With a read-after-end period set and its stages all ended: the last day it reads
    /// the plan.
    pub read_until: Option<NaiveDate>,
    /// Whether the member still has access today.
    pub active: bool,
    pub end_reason: Option<String>,
}

impl From<CareTeamMember> for CareTeamMemberOut {
    fn from(m: CareTeamMember) -> Self {
        CareTeamMemberOut {
            organization: m.organization,
            organization_name: m.organization_name,
            role: m.role,
            stages: m.stages,
            added_at: m.added_at,
            access_ends_on: m.access_ends_on,
            read_until: m.read_until,
            active: !m.ended,
            end_reason: m.end_reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CareTeam {
    pub members: Vec<CareTeamMemberOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCareTeamMember {
    /// Organisation code.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub organization: String,
    /// Stage codes of the plan's pathway, at least one.
    #[schema(min_items = 1)]
    pub stages: Vec<String>,
    #[schema(schema_with = team_role_schema)]
    pub role: String,
}

#[utoipa::path(get, path = "/api/v1/care-plans/{id}/care-team", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = CareTeam), (status = 404)))]
pub async fn get_care_team(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<CareTeam>> {
    let id = parse_id(&id, "care plan")?;
    let team = state.services.care_team(&actor, &meta, id).await?;
    Ok(Json(CareTeam {
        members: team.into_iter().map(Into::into).collect(),
    }))
}

/// Adds an organisation to the care team (planning organisation only).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/care-team", request_body = AddCareTeamMember,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 201, body = CareTeam), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn add_care_team_member(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<AddCareTeamMember>,
) -> ApiResult<(StatusCode, Json<CareTeam>)> {
    let id = parse_id(&id, "care plan")?;
    let b = body.value;
    let team = state
        .services
        .add_team_member(&actor, &meta, id, &b.organization, b.stages, &b.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CareTeam {
            members: team.into_iter().map(Into::into).collect(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndCareTeamMember {
    /// The last day of access, `YYYY-MM-DD` (Tokyo), today or later; `null` removes the
    /// organisation now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub on: Option<String>,
    /// Not blank.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Ends an organisation's access to the plan on a date, or removes it now (planning
/// organisation only). The member stays listed, as ended. Refused for the planner and for
/// the owner of the running stage (422).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/care-team/{organization}/end",
    request_body = EndCareTeamMember,
    params(("id" = uuid::Uuid, Path), ("organization" = String, Path)),
    responses((status = 200, body = CareTeam), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn end_care_team_member(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path((id, organization)): Path<(String, String)>,
    body: ApiJson<EndCareTeamMember>,
) -> ApiResult<Json<CareTeam>> {
    let id = parse_id(&id, "care plan")?;
    let b = body.value;
    let on = match b.on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::from(renkei_service::ServiceError::field(
                "on",
                Rule::Format,
                "write the last day as YYYY-MM-DD",
            ))
        })?),
    };
    let team = state
        .services
        .end_team_member(&actor, &meta, id, &organization, on, &b.reason)
        .await?;
    Ok(Json(CareTeam {
        members: team.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsentRequest {
    /// `listed` names the organisations; `care_team` covers the plan's care team.
    #[schema(schema_with = consent_scope_schema)]
    pub scope: String,
    /// Organisation codes, with scope `listed` only.
    #[serde(default)]
    #[schema(schema_with = super::schema::code_array)]
    pub organizations: Vec<String>,
    #[schema(schema_with = consent_purposes_schema)]
    pub purposes: Vec<String>,
    #[schema(schema_with = consent_method_schema)]
    pub method: String,
    /// With `proxy`, give `proxy_relationship`.
    #[schema(schema_with = consent_signer_schema)]
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentOut {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub scope: String,
    pub organizations: Vec<String>,
    pub purposes: Vec<String>,
    pub method: String,
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_by: String,
    pub obtained_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawal_reason: Option<String>,
    pub active: bool,
}

impl From<Consent> for ConsentOut {
    fn from(c: Consent) -> Self {
        ConsentOut {
            id: c.id,
            care_plan_id: c.care_plan_id,
            scope: c.scope,
            organizations: c.organizations,
            purposes: c.purposes,
            method: c.method,
            signer: c.signer,
            proxy_relationship: c.proxy_relationship,
            obtained_by: c.obtained_by,
            obtained_at: c.obtained_at,
            recorded_at: c.recorded_at,
            withdrawn_at: c.withdrawn_at,
            withdrawal_reason: c.withdrawal_reason,
            active: c.active,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    pub consents: Vec<ConsentOut>,
}

#[utoipa::path(get, path = "/api/v1/care-plans/{id}/consents", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ConsentList), (status = 404)))]
pub async fn list_consents(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<ConsentList>> {
    let id = parse_id(&id, "care plan")?;
    let consents = state.services.consents(&actor, &meta, id).await?;
    Ok(Json(ConsentList {
        consents: consents.into_iter().map(Into::into).collect(),
    }))
}

/// Records the patient's consent (planning organisation only).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/consents", request_body = RecordConsentRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 201, body = ConsentOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn record_consent(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<RecordConsentRequest>,
) -> ApiResult<(StatusCode, Json<ConsentOut>)> {
    let id = parse_id(&id, "care plan")?;
    let b = body.value;
    let consent = state
        .services
        .record_consent(
            &actor,
            &meta,
            id,
            NewConsent {
                scope: b.scope,
                organizations: b.organizations,
                purposes: b.purposes,
                method: b.method,
                signer: b.signer,
                proxy_relationship: b.proxy_relationship,
                obtained_at: b.obtained_at.with_timezone(&Utc),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(consent.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Not blank.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Withdraws a consent: from now on only the planning organisation sees the plan.
#[utoipa::path(post, path = "/api/v1/consents/{id}/withdraw", request_body = WithdrawRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ConsentOut), (status = 404), (status = 409), (status = 422)))]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<WithdrawRequest>,
) -> ApiResult<Json<ConsentOut>> {
    let id = parse_id(&id, "consent")?;
    let consent = state
        .services
        .withdraw_consent(&actor, &meta, id, &body.value.reason)
        .await?;
    Ok(Json(consent.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentReminderOut {
    pub care_plan_id: Uuid,
    pub enrolled_at: DateTime<Utc>,
    pub days_without_consent: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentReminders {
    pub reminders: Vec<ConsentReminderOut>,
}

/// The caller's organisation's plans without consent seven days after enrolment.
#[utoipa::path(get, path = "/api/v1/reminders/consent", responses((status = 200, body = ConsentReminders)))]
pub async fn consent_reminders(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> ApiResult<Json<ConsentReminders>> {
    let list = state.services.consent_reminders(&actor).await?;
    Ok(Json(ConsentReminders {
        reminders: list
            .into_iter()
            .map(|r: ConsentReminder| ConsentReminderOut {
                care_plan_id: r.care_plan_id,
                enrolled_at: r.enrolled_at,
                days_without_consent: r.days_without_consent,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRequest {
    pub care_plan: Uuid,
    /// Why emergency access is needed: at least 4 characters besides surrounding spaces.
    #[schema(min_length = 4)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakGlassOut {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub practitioner_id: Uuid,
    pub organization_id: Uuid,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl From<BreakGlassGrant> for BreakGlassOut {
    fn from(g: BreakGlassGrant) -> Self {
        BreakGlassOut {
            id: g.id,
            care_plan_id: g.care_plan_id,
            practitioner_id: g.practitioner_id,
            organization_id: g.organization_id,
            reason: g.reason,
            granted_at: g.granted_at,
            expires_at: g.expires_at,
            reviewed_at: g.reviewed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakGlassList {
    pub grants: Vec<BreakGlassOut>,
}

/// Emergency read access to a plan outside one's care team: time-limited, flagged, reviewed.
#[utoipa::path(post, path = "/api/v1/break-glass", request_body = BreakGlassRequest,
    responses((status = 201, body = BreakGlassOut), (status = 404), (status = 422)))]
pub async fn break_glass(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    body: ApiJson<BreakGlassRequest>,
) -> ApiResult<(StatusCode, Json<BreakGlassOut>)> {
    let b = body.value;
    let grant = state
        .services
        .break_glass(&actor, &meta, b.care_plan, &b.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

/// Break-glass grants for review (regional administrator).
#[utoipa::path(get, path = "/api/v1/break-glass", responses((status = 200, body = BreakGlassList), (status = 403)))]
pub async fn list_break_glass(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
) -> ApiResult<Json<BreakGlassList>> {
    let grants = state.services.list_break_glass(&actor, &meta).await?;
    Ok(Json(BreakGlassList {
        grants: grants.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/break-glass/{id}/review", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn review_break_glass(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "break-glass grant")?;
    state.services.review_break_glass(&actor, &meta, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: Uuid,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub care_plan_id: Option<Uuid>,
    /// allowed | denied
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub hash: String,
}

impl From<AuditEvent> for AuditEventOut {
    fn from(e: AuditEvent) -> Self {
        AuditEventOut {
            id: e.id,
            seq: e.seq,
            at: e.at,
            practitioner_id: e.practitioner_id,
            organization_id: e.organization_id,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            patient_id: e.patient_id,
            care_plan_id: e.care_plan_id,
            outcome: e.outcome,
            request_id: e.request_id,
            client_addr: e.client_addr,
            detail: e.detail,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub events: Vec<AuditEventOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    patient: Option<Uuid>,
    practitioner: Option<Uuid>,
    /// Organisation code.
    organization: Option<String>,
    /// RFC 3339, inclusive.
    from: Option<DateTime<FixedOffset>>,
    /// RFC 3339, exclusive.
    to: Option<DateTime<FixedOffset>>,
    /// Page backwards: events with seq below this.
    before_seq: Option<i64>,
    /// 1–1000 (default 100); a value outside is refused (422).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// The audit log, newest first (regional administrator).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 403)))]
pub async fn audit_log(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AuditList>> {
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let organization = match q.organization {
        Some(code) => Some(
            renkei_service::admin::list_organizations(&state.services.db)
                .await?
                .into_iter()
                .find(|o| o.code == code)
                .map(|o| o.id)
                .ok_or_else(|| {
                    ApiError::field("organization", Rule::Unknown, "unknown organization")
                })?,
        ),
        None => None,
    };
    let events = state
        .services
        .audit_log(
            &actor,
            &meta,
            AuditFilter {
                patient: q.patient,
                practitioner: q.practitioner,
                organization,
                from: q.from.map(|t| t.with_timezone(&Utc)),
                to: q.to.map(|t| t.with_timezone(&Utc)),
                before_seq: q.before_seq,
                ..Default::default()
            },
            q.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(AuditList {
        events: events.into_iter().map(Into::into).collect(),
    }))
}

/// Who accessed this patient's data and when (disclosure requests).
#[utoipa::path(get, path = "/api/v1/patients/{id}/access-report", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AuditList), (status = 404)))]
pub async fn access_report(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditList>> {
    let id = parse_id(&id, "patient")?;
    let events = state.services.access_report(&actor, &meta, id).await?;
    Ok(Json(AuditList {
        events: events.into_iter().map(Into::into).collect(),
    }))
}

fn team_role_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(&["stage_owner", "contributor", "viewer"])
}

fn consent_scope_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(&["care_team", "listed"])
}

fn consent_purposes_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum_array(&["care", "statistics"])
}

fn consent_method_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(&["paper", "electronic"])
}

fn consent_signer_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(&["self", "proxy"])
}
