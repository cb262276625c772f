//! The JSON API under `/api/v1`. Handlers extract, convert, call one service function
//! and map the result; they hold no business rules.

pub mod access;
pub mod administration;
pub mod corrections;
pub mod council;
pub mod council_meetings;
pub mod dto;
pub mod moments;
pub mod openapi;
pub mod patient_merge;
pub mod schema;
pub mod sheets;
pub mod tokens;
pub mod variances;
pub mod workflow;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use renkei_domain::Rule;
use renkei_domain::entry::EntryKind;
use renkei_domain::entry::VarianceInput;
use renkei_service::ErrorCode;
use renkei_service::admin::{self, NewOrganization};
use renkei_service::patients::{self, NewPatient, PatientQuery};
use renkei_service::plans::{AppendEntry, Idempotency};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi};

use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta, parse_id};
use crate::state::AppState;
use dto::*;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pathways", get(list_pathways))
        .route(
            "/pathways/{code}/versions/{version}",
            get(get_pathway_version),
        )
        .route(
            "/organizations",
            get(list_organizations).post(create_organization),
        )
        .route("/patients", get(search_patients).post(create_patient))
        .route("/patients/{id}", get(get_patient))
        .route(
            "/patients/{id}/identifiers",
            axum::routing::post(add_patient_identifier),
        )
        .route("/care-plans", get(list_care_plans).post(enrol))
        .route("/care-plans/{id}", get(get_care_plan))
        .route(
            "/care-plans/{id}/entries",
            get(list_entries).post(append_entry),
        )
        .route("/care-plans/{id}/goals", get(get_goals))
        .merge(access::routes())
        .merge(corrections::routes())
        .merge(workflow::routes())
        .merge(variances::routes())
        .merge(sheets::routes())
        .merge(tokens::routes())
        .merge(administration::routes())
        .merge(patient_merge::routes())
        .merge(council::routes())
        .merge(council_meetings::routes())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Renkei API", description = "Shared regional care-pathway record (地域医療連携パス)"),
    paths(
        list_pathways, get_pathway_version, list_organizations, create_organization,
        search_patients, create_patient, get_patient, add_patient_identifier, list_care_plans, enrol, get_care_plan,
        list_entries, append_entry, get_goals, crate::health::healthz,
        access::get_care_team, access::add_care_team_member, access::list_consents,
        access::record_consent, access::withdraw_consent, access::consent_reminders,
        access::break_glass, access::list_break_glass, access::review_break_glass,
        access::audit_log, access::access_report,
        workflow::declare, workflow::list_declarations, workflow::directory,
        workflow::propose_handover, workflow::list_handovers, workflow::get_handover,
        workflow::accept_handover, workflow::decline_handover, workflow::withdraw_handover,
        workflow::list_reports, workflow::get_report, workflow::send_report,
        workflow::get_schedule, workflow::individualize, workflow::complete_plan,
        workflow::withdraw_plan, workflow::migration_preview, workflow::migrate_plan,
        workflow::worklist,
        corrections::entry_history, corrections::list_notices, corrections::acknowledge_notice,
        variances::classify_variance, variances::dismiss_variance,
        sheets::list_care_forms, sheets::record_sheet, sheets::list_sheets,
        council::flow_report, council::goals_report, council::variances_report,
        council::outcomes_report, council::completeness_report, council::compare_report
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Published pathway versions.
#[utoipa::path(get, path = "/api/v1/pathways", responses((status = 200, body = PathwayList)))]
async fn list_pathways(
    State(state): State<AppState>,
    Auth(_actor): Auth,
) -> ApiResult<Json<PathwayList>> {
    let pathways = state
        .services
        .pathways
        .all()
        .map(|p| PathwaySummary {
            code: p.template.code.clone(),
            version: p.template.version,
            hash: p.hash.clone(),
            title_ja: p.template.title.ja.clone(),
            title_en: p.template.title.en.clone(),
            cyclical: p.template.cyclical,
            stages: p.template.stages.iter().map(|s| s.code.clone()).collect(),
        })
        .collect();
    Ok(Json(PathwayList { pathways }))
}

/// One published version with its full template.
#[utoipa::path(get, path = "/api/v1/pathways/{code}/versions/{version}",
    params(("code" = String, Path), ("version" = u32, Path)),
    responses((status = 200, body = PathwayVersionResponse), (status = 404)))]
async fn get_pathway_version(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    Path((code, version)): Path<(String, String)>,
) -> ApiResult<Json<PathwayVersionResponse>> {
    let version: u32 = version
        .parse()
        .map_err(|_| ApiError::not_found("pathway version"))?;
    let p = state
        .services
        .pathways
        .find(&code, version)
        .ok_or_else(|| ApiError::not_found("pathway version"))?;
    let template = serde_json::to_value(&p.template)
        .map_err(|e| ApiError::from(renkei_service::ServiceError::Internal(e.into())))?;
    Ok(Json(PathwayVersionResponse {
        code: p.template.code.clone(),
        version: p.template.version,
        hash: p.hash.clone(),
        template,
    }))
}

#[utoipa::path(get, path = "/api/v1/organizations", responses((status = 200, body = OrganizationList)))]
async fn list_organizations(
    State(state): State<AppState>,
    Auth(_actor): Auth,
) -> ApiResult<Json<OrganizationList>> {
    let organizations = admin::list_organizations(&state.services.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(OrganizationList { organizations }))
}

#[utoipa::path(post, path = "/api/v1/organizations", request_body = CreateOrganizationRequest,
    responses((status = 201, body = OrganizationResponse), (status = 403), (status = 409), (status = 422)))]
async fn create_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    body: ApiJson<CreateOrganizationRequest>,
) -> ApiResult<(StatusCode, Json<OrganizationResponse>)> {
    let b = body.value;
    let org = admin::create_organization(
        &state.services,
        &actor,
        &meta,
        NewOrganization {
            code: b.code,
            name: b.name,
            kind: b.kind,
            area: b.area,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PatientSearch {
    /// Kana prefix of family + given name (カタカナ, ひらがな or half-width).
    #[serde(skip_serializing_if = "Option::is_none")]
    kana: Option<String>,
    /// YYYY-MM-DD.
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<String>,
    /// Organisation code, with `identifier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    /// The organisation's patient number.
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<String>,
    /// Patients per page, 1–50 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
    /// Where to go on: the cursor in the previous page's `next` link.
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// Patients the caller's organisation sees, in kana order, a page at a time; `next` is
/// the link to the following page (null on the last).
#[utoipa::path(get, path = "/api/v1/patients", params(PatientSearch),
    responses((status = 200, body = PatientList), (status = 422)))]
async fn search_patients(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    query: Result<Query<PatientSearch>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<PatientList>> {
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let page = patients::search_patients_page(
        &state.services,
        &actor,
        &meta,
        PatientQuery {
            kana: q.kana.clone(),
            birth_date: q.birth_date.clone(),
            organization: q.organization.clone(),
            identifier: q.identifier.clone(),
            cursor: q.cursor.clone(),
            limit: q.limit,
            ..Default::default()
        },
    )
    .await?;
    let next = page.next.and_then(|cursor| {
        let query = serde_urlencoded::to_string(PatientSearch {
            cursor: Some(cursor),
            ..q
        })
        .ok()?;
        Some(format!("/api/v1/patients?{query}"))
    });
    Ok(Json(PatientList {
        patients: page.patients.into_iter().map(Into::into).collect(),
        next,
    }))
}

#[utoipa::path(post, path = "/api/v1/patients", request_body = CreatePatientRequest,
    responses((status = 201, body = PatientResponse), (status = 409), (status = 422)))]
async fn create_patient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    body: ApiJson<CreatePatientRequest>,
) -> ApiResult<(StatusCode, Json<PatientResponse>)> {
    let b = body.value;
    let patient = patients::create_patient_confirmed(
        &state.services,
        &actor,
        &meta,
        NewPatient {
            family: b.name.family,
            given: b.name.given,
            family_kana: b.name.family_kana,
            given_kana: b.name.given_kana,
            birth_date: b.birth_date,
            sex: b.sex,
            identifiers: b
                .identifiers
                .into_iter()
                .map(|i| (i.organization, i.value))
                .collect(),
        },
        b.confirm,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(patient.into())))
}

#[utoipa::path(get, path = "/api/v1/patients/{id}", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = PatientResponse), (status = 404)))]
async fn get_patient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<PatientResponse>> {
    let id = parse_id(&id, "patient")?;
    let p = patients::get_patient(&state.services, &actor, &meta, id).await?;
    Ok(Json(p.into()))
}

/// Adds the caller's organisation's own patient number (カルテ番号) to a patient it
/// treats (holds a number of, or sees a plan of as planner or care team). Only the
/// caller's own organisation's namespace is accepted (422 otherwise); a patient it does
/// not treat answers 404 like an unknown one; a number it already uses answers 409.
#[utoipa::path(post, path = "/api/v1/patients/{id}/identifiers", params(("id" = String, Path)),
    request_body = IdentifierIn,
    responses((status = 201, body = PatientResponse), (status = 404), (status = 409), (status = 422)))]
async fn add_patient_identifier(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<IdentifierIn>,
) -> ApiResult<(StatusCode, Json<PatientResponse>)> {
    let id = parse_id(&id, "patient")?;
    let b = body.value;
    let p = patients::add_identifier(
        &state.services,
        &actor,
        &meta,
        id,
        &b.organization,
        &b.value,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PlanFilter {
    patient_id: String,
}

#[utoipa::path(get, path = "/api/v1/care-plans", params(PlanFilter),
    responses((status = 200, body = CarePlanList)))]
async fn list_care_plans(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    query: Result<Query<PlanFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<CarePlanList>> {
    let Query(q) =
        query.map_err(|e| ApiError::field("patient_id", Rule::Required, e.body_text()))?;
    let patient = uuid::Uuid::parse_str(&q.patient_id)
        .map_err(|_| ApiError::field("patient_id", Rule::Format, "must be a UUID"))?;
    let plans = state
        .services
        .plans_of_patient(&actor, &meta, patient)
        .await?;
    Ok(Json(CarePlanList {
        care_plans: plans.into_iter().map(Into::into).collect(),
    }))
}

/// The `Idempotency-Key` of a request, with the hash of its body.
fn idempotency_of(headers: &HeaderMap, raw: &serde_json::Value) -> ApiResult<Option<Idempotency>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map_err(|_| {
        ApiError::new(
            ErrorCode::IdempotencyKeyInvalid,
            "Idempotency-Key must be visible ASCII",
        )
    })?;
    Idempotency::new(key, raw).map(Some).map_err(|_| {
        ApiError::new(
            ErrorCode::IdempotencyKeyInvalid,
            "Idempotency-Key must be 1–255 visible ASCII characters",
        )
    })
}

/// Enrols a patient. With `Idempotency-Key`, a retry of the same request returns the
/// plan the first one created (201 again) and creates nothing.
#[utoipa::path(post, path = "/api/v1/care-plans", request_body = EnrolRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
        description = "1–255 visible ASCII characters; a retry with the same key and body answers as the first request did")),
    responses((status = 201, body = CarePlanResponse), (status = 422)))]
async fn enrol(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: ApiJson<EnrolRequest>,
) -> ApiResult<(StatusCode, Json<CarePlanResponse>)> {
    let idempotency = idempotency_of(&headers, &body.raw)?;
    let b = body.value;
    let (plan, _) = state
        .services
        .enrol_once(
            &actor,
            &meta,
            b.patient_id,
            &b.pathway,
            b.version,
            b.variant.as_deref(),
            b.started_at.map(|t| t.with_timezone(&Utc)),
            idempotency,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(plan.into())))
}

#[utoipa::path(get, path = "/api/v1/care-plans/{id}", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = CarePlanResponse), (status = 404)))]
async fn get_care_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = parse_id(&id, "care plan")?;
    let plan = state.services.get_plan(&actor, &meta, id).await?;
    let etag = format!("\"{}\"", plan.version);
    let mut res = Json(CarePlanResponse::from(plan)).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&etag) {
        res.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/care-plans/{id}/entries", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = EntryList), (status = 404)))]
async fn list_entries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<EntryList>> {
    let id = parse_id(&id, "care plan")?;
    let entries = state.services.list_entries(&actor, &meta, id).await?;
    Ok(Json(EntryList {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}

/// Appends an entry. With `Idempotency-Key`, a retry of the same request returns the
/// first answer and writes nothing; the same key with another body is refused (422).
#[utoipa::path(post, path = "/api/v1/care-plans/{id}/entries", request_body = AppendEntryRequest,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
        description = "1–255 visible ASCII characters; a retry with the same key and body answers as the first request did")),
    responses((status = 201, body = EntryResponse), (status = 404), (status = 409), (status = 422)))]
async fn append_entry(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<AppendEntryRequest>,
) -> ApiResult<(StatusCode, Json<EntryResponse>)> {
    let id = parse_id(&id, "care plan")?;
    let idempotency = idempotency_of(&headers, &body.raw)?;
    let b = body.value;
    let kind = EntryKind::parse(&b.kind).ok_or_else(|| {
        ApiError::field(
            "kind",
            Rule::Allowed,
            "must be one of assessment, note, variance, stage_start, stage_end, entered_in_error",
        )
    })?;
    let input = AppendEntry {
        stage: b.stage,
        kind,
        effective_at: b.effective_at.with_timezone(&Utc),
        values: b.values,
        note: b.note,
        variance: b.variance.map(|v| VarianceInput {
            code: v.code,
            note: v.note,
            goal: v.goal,
        }),
        amends: b.amends,
        reason: b.reason,
    };
    let (entry, _created) = state
        .services
        .append_entry(&actor, &meta, id, input, idempotency)
        .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// The status of every shared goal at clinical time `as_of` as the record stood at
/// `known_at` (both default now).
#[utoipa::path(get, path = "/api/v1/care-plans/{id}/goals", params(("id" = uuid::Uuid, Path), moments::MomentQuery),
    responses((status = 200, body = GoalList), (status = 404), (status = 422, description = "as_of or known_at malformed")))]
async fn get_goals(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    query: Result<Query<moments::MomentQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<GoalList>> {
    let id = parse_id(&id, "care plan")?;
    let Query(q) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    // The service clock, as every other "now" of the workflow.
    let (as_of, known_at) = moments::moments(&q, state.services.now())?;
    let goals = state
        .services
        .goals(&actor, &meta, id, Some(as_of), Some(known_at))
        .await?;
    Ok(Json(GoalList {
        as_of,
        known_at,
        goals: goals
            .into_iter()
            .map(|g| GoalOut {
                code: g.code,
                title_ja: g.title.ja,
                title_en: g.title.en,
                kind: g.kind.to_owned(),
                item: g.item,
                target: g.target,
                latest: g.latest.map(|l| LatestOut {
                    value: l.value,
                    entry_id: l.entry_id,
                    effective_at: l.effective_at,
                }),
                status: g.status.as_str().to_owned(),
                deviation: g.deviation.map(|d| DeviationOut {
                    direction: d.direction.as_str().to_owned(),
                    bound: d.bound,
                }),
                due: g.due,
                due_date: g.due_date,
            })
            .collect(),
    }))
}
