//! Administration without SQL (issue 18 points 7 and 8): organisations and users, for
//! the regional administrator and each organisation's administrator. The same service
//! functions as the web pages under `/admin` and the `renkei org` / `renkei user`
//! commands; every change and every refusal is audited there.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use renkei_service::admin::UserSummary;
use renkei_service::admin_orgs::{self, AdminBy, OrganizationDetail, OrganizationEdit};
use renkei_service::admin_users::{self, TemporaryPassword, UserEdit};
use renkei_service::notify::{self, NotificationSettings};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, Meta};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/{code}",
            get(get_organization).put(update_organization),
        )
        .route(
            "/organizations/{code}/two-factor",
            post(set_organization_two_factor),
        )
        .route(
            "/organizations/{code}/notifications",
            get(get_notifications).put(put_notifications),
        )
        .route(
            "/organizations/{code}/deactivate",
            post(deactivate_organization),
        )
        .route(
            "/organizations/{code}/reactivate",
            post(reactivate_organization),
        )
        .route("/users", get(list_users).post(create_user))
        .route("/users/{login}", axum::routing::put(update_user))
        .route("/users/{login}/disable", post(disable_user))
        .route("/users/{login}/enable", post(enable_user))
        .route("/users/{login}/reset-password", post(reset_password))
        .route("/users/{login}/reset-two-factor", post(reset_two_factor))
        .route("/users/{login}/unlock", post(unlock_user))
        .route(
            "/patients/{id}/demographics",
            get(demographics_history).put(correct_demographics),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        get_organization,
        update_organization,
        set_organization_two_factor,
        get_notifications,
        put_notifications,
        deactivate_organization,
        reactivate_organization,
        list_users,
        create_user,
        update_user,
        disable_user,
        enable_user,
        reset_password,
        reset_two_factor,
        unlock_user
    ),
    components(schemas(
        OrganizationOut,
        UpdateOrganizationRequest,
        TwoFactorRequest,
        NotificationsBody,
        UserOut,
        UserList,
        CreateUserRequest,
        UpdateUserRequest,
        TemporaryPasswordOut
    ))
)]
pub struct AdminDoc;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationOut {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub address: Option<String>,
    pub require_two_factor: bool,
    /// False once deactivated: its users can no longer log in or use tokens.
    pub active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl From<OrganizationDetail> for OrganizationOut {
    fn from(o: OrganizationDetail) -> Self {
        OrganizationOut {
            id: o.id,
            code: o.code,
            name: o.name,
            kind: o.kind,
            area: o.area,
            phone: o.phone,
            fax: o.fax,
            address: o.address,
            require_two_factor: o.require_two_factor,
            active: o.active,
            deactivated_at: o.deactivated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    #[schema(min_length = 1, max_length = 100)]
    pub area: String,
    /// Digits, hyphens, parentheses, at most 20 characters; empty or absent: none.
    #[serde(default)]
    #[schema(max_length = 20)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20)]
    pub fax: Option<String>,
    #[serde(default)]
    #[schema(max_length = 300)]
    pub address: Option<String>,
}

fn kind_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(renkei_service::admin::ORGANIZATION_KINDS)
}

fn profession_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(renkei_service::admin::PROFESSIONS)
}

fn roles_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum_array(&["org_admin", "regional_admin", "council_member"])
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorRequest {
    /// Whether every user of the organisation must pass two-factor login.
    pub required: bool,
}

async fn org_out(
    r: Result<OrganizationDetail, renkei_service::ServiceError>,
) -> ApiResult<Json<OrganizationOut>> {
    Ok(Json(r?.into()))
}

/// An organisation's e-mail notifications: the address, and which events it is told
/// of. No address (or no event): no e-mail. The mail never carries patient data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsBody {
    #[serde(default)]
    pub email: Option<String>,
    /// A hand-over to the organisation has arrived.
    #[serde(default)]
    pub on_handover: bool,
    /// A report back the organisation owes is due or overdue.
    #[serde(default)]
    pub on_report: bool,
    /// An amendment notice has arrived.
    #[serde(default)]
    pub on_notice: bool,
}

impl From<NotificationSettings> for NotificationsBody {
    fn from(s: NotificationSettings) -> Self {
        NotificationsBody {
            email: s.email,
            on_handover: s.on_handover,
            on_report: s.on_report,
            on_notice: s.on_notice,
        }
    }
}

/// The organisation's e-mail notifications (its administrators only).
#[utoipa::path(get, path = "/api/v1/organizations/{code}/notifications", params(("code" = String, Path)),
    responses((status = 200, body = NotificationsBody), (status = 403), (status = 404)))]
async fn get_notifications(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
) -> ApiResult<Json<NotificationsBody>> {
    Ok(Json(
        notify::notification_settings(&state.services, AdminBy::Actor(&actor), &meta, &code)
            .await?
            .into(),
    ))
}

/// Sets the organisation's e-mail notifications (its organisation administrator or the
/// regional administrator); audited.
#[utoipa::path(put, path = "/api/v1/organizations/{code}/notifications", params(("code" = String, Path)),
    request_body = NotificationsBody,
    responses((status = 200, body = NotificationsBody), (status = 403), (status = 404), (status = 422)))]
async fn put_notifications(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
    body: ApiJson<NotificationsBody>,
) -> ApiResult<Json<NotificationsBody>> {
    let b = body.value;
    Ok(Json(
        notify::set_notification_settings(
            &state.services,
            AdminBy::Actor(&actor),
            &meta,
            &code,
            NotificationSettings {
                email: b.email,
                on_handover: b.on_handover,
                on_report: b.on_report,
                on_notice: b.on_notice,
            },
        )
        .await?
        .into(),
    ))
}

/// One organisation with its contact details and status (its administrators only).
#[utoipa::path(get, path = "/api/v1/organizations/{code}", params(("code" = String, Path)),
    responses((status = 200, body = OrganizationOut), (status = 403), (status = 404)))]
async fn get_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
) -> ApiResult<Json<OrganizationOut>> {
    org_out(
        admin_orgs::organization_detail(&state.services, AdminBy::Actor(&actor), &meta, &code)
            .await,
    )
    .await
}

/// Edits an organisation (the whole of it). Its kind and area are the regional
/// administrator's; an organisation administrator edits the rest of their own.
#[utoipa::path(put, path = "/api/v1/organizations/{code}", params(("code" = String, Path)),
    request_body = UpdateOrganizationRequest,
    responses((status = 200, body = OrganizationOut), (status = 403), (status = 404), (status = 422)))]
async fn update_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
    body: ApiJson<UpdateOrganizationRequest>,
) -> ApiResult<Json<OrganizationOut>> {
    let b = body.value;
    let edit = OrganizationEdit {
        name: b.name,
        kind: b.kind,
        area: b.area,
        phone: b.phone.unwrap_or_default(),
        fax: b.fax.unwrap_or_default(),
        address: b.address.unwrap_or_default(),
    };
    org_out(
        admin_orgs::update_organization(
            &state.services,
            AdminBy::Actor(&actor),
            &meta,
            &code,
            edit,
        )
        .await,
    )
    .await
}

/// Requires (or no longer requires) two-factor login of the organisation's users.
#[utoipa::path(post, path = "/api/v1/organizations/{code}/two-factor", params(("code" = String, Path)),
    request_body = TwoFactorRequest,
    responses((status = 200, body = OrganizationOut), (status = 403), (status = 404)))]
async fn set_organization_two_factor(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
    body: ApiJson<TwoFactorRequest>,
) -> ApiResult<Json<OrganizationOut>> {
    org_out(
        admin_orgs::set_require_two_factor(
            &state.services,
            AdminBy::Actor(&actor),
            &meta,
            &code,
            body.value.required,
        )
        .await,
    )
    .await
}

/// Deactivates an organisation (the regional administrator): every session and token
/// of its users is revoked at once and they can no longer log in.
#[utoipa::path(post, path = "/api/v1/organizations/{code}/deactivate", params(("code" = String, Path)),
    responses((status = 200, body = OrganizationOut), (status = 403), (status = 404), (status = 422)))]
async fn deactivate_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
) -> ApiResult<Json<OrganizationOut>> {
    org_out(
        admin_orgs::set_active(&state.services, AdminBy::Actor(&actor), &meta, &code, false).await,
    )
    .await
}

/// Reactivates a deactivated organisation (the regional administrator).
#[utoipa::path(post, path = "/api/v1/organizations/{code}/reactivate", params(("code" = String, Path)),
    responses((status = 200, body = OrganizationOut), (status = 403), (status = 404)))]
async fn reactivate_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(code): Path<String>,
) -> ApiResult<Json<OrganizationOut>> {
    org_out(
        admin_orgs::set_active(&state.services, AdminBy::Actor(&actor), &meta, &code, true).await,
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub organization: String,
    pub roles: Vec<String>,
    pub two_factor: bool,
    pub last_login: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub must_change_password: bool,
}

impl From<UserSummary> for UserOut {
    fn from(u: UserSummary) -> Self {
        UserOut {
            id: u.id,
            login: u.login,
            name: u.name,
            profession: u.profession,
            organization: u.organization_code,
            roles: u.roles,
            two_factor: u.totp_enabled,
            last_login: u.last_login,
            locked_until: u.locked_until,
            disabled: u.disabled,
            must_change_password: u.must_change_password,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UserQuery {
    /// Only enabled users who have not logged in for this many days (1–3650).
    #[param(minimum = 1, maximum = 3650)]
    inactive_days: Option<i64>,
}

/// The users an administrator administers (all for the regional administrator, their
/// organisation's for an organisation administrator); with `inactive_days`, only those
/// who have not logged in for that long.
#[utoipa::path(get, path = "/api/v1/users", params(UserQuery),
    responses((status = 200, body = UserList), (status = 400), (status = 403)))]
async fn list_users(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Query(q): Query<UserQuery>,
) -> ApiResult<Json<UserList>> {
    let users = match q.inactive_days {
        Some(d) if !(1..=3650).contains(&d) => {
            return Err(renkei_service::ServiceError::field(
                "inactive_days",
                renkei_domain::Rule::Range,
                "must be between 1 and 3650",
            )
            .into());
        }
        Some(d) => admin_users::inactive_users(&state.services, &actor, &meta, d).await?,
        None => renkei_service::admin::list_users(&state.services, &actor, &meta).await?,
    };
    Ok(Json(UserList {
        users: users.into_iter().map(UserOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The organisation's code.
    pub organization: String,
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub login: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(schema_with = profession_schema)]
    pub profession: String,
    #[serde(default)]
    #[schema(schema_with = roles_schema)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(schema_with = profession_schema)]
    pub profession: String,
    #[schema(schema_with = roles_schema)]
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemporaryPasswordOut {
    pub id: Uuid,
    pub login: String,
    /// Shown only in this answer; the holder must change it at the next login.
    pub temporary_password: String,
}

impl From<TemporaryPassword> for TemporaryPasswordOut {
    fn from(t: TemporaryPassword) -> Self {
        TemporaryPasswordOut {
            id: t.id,
            login: t.login,
            temporary_password: t.temporary_password,
        }
    }
}

/// Creates a user with a temporary password they must change at their first login.
#[utoipa::path(post, path = "/api/v1/users", request_body = CreateUserRequest,
    responses((status = 201, body = TemporaryPasswordOut), (status = 403), (status = 409), (status = 422)))]
async fn create_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    body: ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<TemporaryPasswordOut>)> {
    let b = body.value;
    let t = admin_users::create_user(
        &state.services,
        AdminBy::Actor(&actor),
        &meta,
        &b.organization,
        &b.login,
        UserEdit {
            name: b.name,
            profession: b.profession,
            roles: b.roles,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Edits a user's name, profession and roles.
#[utoipa::path(put, path = "/api/v1/users/{login}", params(("login" = String, Path)),
    request_body = UpdateUserRequest,
    responses((status = 204), (status = 403), (status = 404), (status = 422)))]
async fn update_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(login): Path<String>,
    body: ApiJson<UpdateUserRequest>,
) -> ApiResult<StatusCode> {
    let b = body.value;
    admin_users::update_user(
        &state.services,
        AdminBy::Actor(&actor),
        &meta,
        &login,
        UserEdit {
            name: b.name,
            profession: b.profession,
            roles: b.roles,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user: every session and API token of theirs is revoked at once.
#[utoipa::path(post, path = "/api/v1/users/{login}/disable", params(("login" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 422)))]
async fn disable_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(login): Path<String>,
) -> ApiResult<StatusCode> {
    admin_users::set_disabled(&state.services, AdminBy::Actor(&actor), &meta, &login, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a disabled user again (their old sessions and tokens stay revoked).
#[utoipa::path(post, path = "/api/v1/users/{login}/enable", params(("login" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn enable_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(login): Path<String>,
) -> ApiResult<StatusCode> {
    admin_users::set_disabled(
        &state.services,
        AdminBy::Actor(&actor),
        &meta,
        &login,
        false,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the user's password with a temporary one, to be changed at the next login;
/// their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{login}/reset-password", params(("login" = String, Path)),
    responses((status = 200, body = TemporaryPasswordOut), (status = 403), (status = 404)))]
async fn reset_password(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(login): Path<String>,
) -> ApiResult<Json<TemporaryPasswordOut>> {
    let t =
        admin_users::reset_password(&state.services, AdminBy::Actor(&actor), &meta, &login).await?;
    Ok(Json(t.into()))
}

/// Switches the user's two-factor login off, to be set up again; their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{login}/reset-two-factor", params(("login" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn reset_two_factor(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(login): Path<String>,
) -> ApiResult<StatusCode> {
    admin_users::reset_two_factor(&state.services, AdminBy::Actor(&actor), &meta, &login).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts the user's login lock.
#[utoipa::path(post, path = "/api/v1/users/{login}/unlock", params(("login" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn unlock_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(login): Path<String>,
) -> ApiResult<StatusCode> {
    admin_users::unlock(&state.services, AdminBy::Actor(&actor), &meta, &login).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectDemographicsRequest {
    pub name: super::dto::PatientNameIn,
    /// YYYY-MM-DD (西暦).
    #[schema(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub birth_date: String,
    #[schema(schema_with = sex_schema)]
    pub sex: String,
    /// Why the record is corrected (kept in the history), 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

fn sex_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(renkei_service::patients::SEXES)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DemographicsChangeOut {
    pub id: Uuid,
    pub changed_at: DateTime<Utc>,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub reason: String,
    /// The demographics before the correction.
    #[schema(value_type = Object)]
    pub before: serde_json::Value,
    /// The demographics after it.
    #[schema(value_type = Object)]
    pub after: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DemographicsHistoryOut {
    pub changes: Vec<DemographicsChangeOut>,
}

/// Corrects a patient's name, kana, birth date or sex with a reason (an organisation
/// that treats the patient); the values before and after are kept in the history.
#[utoipa::path(put, path = "/api/v1/patients/{id}/demographics", params(("id" = Uuid, Path)),
    request_body = CorrectDemographicsRequest,
    responses((status = 200, body = super::dto::PatientResponse), (status = 403), (status = 404), (status = 422)))]
async fn correct_demographics(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
    body: ApiJson<CorrectDemographicsRequest>,
) -> ApiResult<Json<super::dto::PatientResponse>> {
    let id = crate::extract::parse_id(&id, "patient")?;
    let b = body.value;
    let p = renkei_service::admin_patients::correct_demographics(
        &state.services,
        &actor,
        &meta,
        id,
        renkei_service::admin_patients::DemographicsCorrection {
            family: b.name.family,
            given: b.name.given,
            family_kana: b.name.family_kana,
            given_kana: b.name.given_kana,
            birth_date: b.birth_date,
            sex: b.sex,
            reason: b.reason,
        },
    )
    .await?;
    Ok(Json(p.into()))
}

/// The corrections of a patient's demographics, oldest first.
#[utoipa::path(get, path = "/api/v1/patients/{id}/demographics", params(("id" = Uuid, Path)),
    responses((status = 200, body = DemographicsHistoryOut), (status = 404)))]
async fn demographics_history(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<DemographicsHistoryOut>> {
    let id = crate::extract::parse_id(&id, "patient")?;
    let changes =
        renkei_service::admin_patients::demographics_history(&state.services, &actor, &meta, id)
            .await?
            .into_iter()
            .map(|c| DemographicsChangeOut {
                id: c.id,
                changed_at: c.changed_at,
                practitioner_id: c.practitioner_id,
                organization_id: c.organization_id,
                reason: c.reason,
                before: c.before,
                after: c.after,
            })
            .collect();
    Ok(Json(DemographicsHistoryOut { changes }))
}
