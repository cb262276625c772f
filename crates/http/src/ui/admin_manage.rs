//! Administration without SQL on the web (issue 18 points 7 and 8): the organisations of
//! the region (`/admin/organizations`: list, create, edit, require two-factor login,
//! deactivate) and the users (`/admin/users/new`, `/admin/users/{login}`: create, edit
//! profession and roles, disable, reset the password or two-factor login, unlock). The
//! same service functions as the API and the `renkei` command, so the same role checks
//! and audit apply; a form with problems comes back with every error at once and what
//! was typed kept.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use renkei_domain::FieldError;
use renkei_domain::wording::{FieldFacts, Lang, field_message};
use renkei_service::ServiceError;
use renkei_service::admin_orgs::{self, AdminBy, OrganizationDetail, OrganizationEdit};
use renkei_service::admin_users::{self, UserEdit};
use serde::Deserialize;

use super::{Nav, Posted, Shell, Ui, UiResult, fmt, page, see_other};
use crate::state::AppState;

/// `(value, words)` of a select or a group of choices, with whether it is chosen.
pub struct Choice {
    pub value: String,
    pub label: &'static str,
    pub selected: bool,
}

/// An organisation in a select: its name shown, its code sent.
pub struct OrgChoice {
    pub value: String,
    pub name: String,
    pub selected: bool,
}

fn kinds(selected: &str) -> Vec<Choice> {
    renkei_service::admin::ORGANIZATION_KINDS
        .iter()
        .map(|k| Choice {
            value: (*k).to_owned(),
            label: fmt::org_kind(k),
            selected: *k == selected,
        })
        .collect()
}

fn professions(selected: &str) -> Vec<Choice> {
    renkei_service::admin::PROFESSIONS
        .iter()
        .map(|p| Choice {
            value: (*p).to_owned(),
            label: fmt::profession(p),
            selected: *p == selected,
        })
        .collect()
}

fn roles(selected: &[String], regional: bool) -> Vec<Choice> {
    [
        ("org_admin", "施設管理者"),
        ("regional_admin", "地域管理者"),
        ("council_member", "協議会委員"),
    ]
    .into_iter()
    .filter(|(r, _)| regional || (*r != "regional_admin" && *r != "council_member"))
    .map(|(r, label)| Choice {
        value: r.to_owned(),
        label,
        selected: selected.iter().any(|s| s == r),
    })
    .collect()
}

/// The words of a field for error messages.
fn label(field: &str) -> &'static str {
    match field {
        "code" => "施設コード",
        "name" => "名称・氏名",
        "kind" => "種別",
        "area" => "二次保健医療圏",
        "phone" => "電話番号",
        "fax" => "FAX番号",
        "address" => "住所",
        "login" => "ログインID",
        "profession" => "職種",
        "organization" => "施設",
        f if f.starts_with("roles") => "管理権限",
        _ => "入力",
    }
}

/// Every field error of a service answer as `(field, message)` in the shell language;
/// other errors pass through.
fn field_errors(e: ServiceError, shell: &Shell) -> Result<Vec<(String, String)>, ServiceError> {
    let lang = if shell.en { Lang::En } else { Lang::Ja };
    match e {
        ServiceError::Validation(errors) => Ok(errors
            .iter()
            .map(|e: &FieldError| {
                let field = if e.field.starts_with("roles") {
                    "roles".to_owned()
                } else {
                    e.field.clone()
                };
                let l = shell.t(label(&e.field));
                (
                    field,
                    field_message(
                        e,
                        lang,
                        &FieldFacts {
                            label: Some(l),
                            ..Default::default()
                        },
                    ),
                )
            })
            .collect()),
        ServiceError::Conflict { .. } => Ok(vec![(
            "code".to_owned(),
            shell.t("このコードはすでに使われています。").to_owned(),
        )]),
        other => Err(other),
    }
}

fn error_for<'a>(errors: &'a [(String, String)], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, m)| m.as_str())
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn notice(done: &str) -> Option<&'static str> {
    match done {
        "created" => Some("登録しました。"),
        "saved" => Some("保存しました。"),
        "two_factor" => Some("2段階認証の設定を変更しました。"),
        "deactivated" => {
            Some("利用を停止しました。利用者のログインとAPIトークンは無効になりました。")
        }
        "reactivated" => Some("利用を再開しました。"),
        "disabled" => {
            Some("利用を停止しました。ログイン中の画面とAPIトークンは直ちに無効になりました。")
        }
        "enabled" => Some("利用を再開しました。"),
        "two_factor_reset" => Some("2段階認証を解除しました。次回ログイン時に登録し直します。"),
        "unlocked" => Some("ロックを解除しました。"),
        _ => None,
    }
}

// ------------------------------------------------------------------ organisations

pub struct OrgRow {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub area: String,
    pub two_factor: bool,
    pub active: bool,
}

/// The typed fields of the new-organisation form.
#[derive(Default)]
pub struct NewOrgInput {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
}

#[derive(Template)]
#[template(path = "ui/admin_orgs.html")]
pub struct OrgsPage {
    pub shell: Shell,
    pub rows: Vec<OrgRow>,
    pub regional: bool,
    pub input: NewOrgInput,
    pub kinds: Vec<Choice>,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl OrgsPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

async fn orgs_page(
    state: &AppState,
    ui: Ui,
    input: NewOrgInput,
    errors: Vec<(String, String)>,
) -> UiResult {
    let by = AdminBy::Actor(&ui.actor);
    let regional = by.regional();
    let orgs = admin_orgs::organizations_for(&state.services, by, &ui.meta).await?;
    let rows = orgs
        .into_iter()
        .map(|o| OrgRow {
            kind: fmt::org_kind(&o.kind),
            code: o.code,
            name: o.name,
            area: o.area,
            two_factor: o.require_two_factor,
            active: o.active,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &OrgsPage {
            shell: ui.shell("施設の管理", Nav::Admin),
            rows,
            regional,
            kinds: kinds(&input.kind),
            input,
            errors,
            notice: None,
        },
    ))
}

/// `GET /admin/organizations` — the organisations an administrator administers, and
/// (for the regional administrator) the form that adds one.
pub async fn organizations_page(State(state): State<AppState>, ui: Ui) -> UiResult {
    if !ui.is_admin() {
        return Err(ServiceError::Forbidden.into());
    }
    orgs_page(&state, ui, NewOrgInput::default(), Vec::new()).await
}

/// `POST /admin/organizations` — adds an organisation.
pub async fn create_organization(State(state): State<AppState>, posted: Posted) -> UiResult {
    let input = NewOrgInput {
        code: posted.get("code").to_owned(),
        name: posted.get("name").to_owned(),
        kind: posted.get("kind").to_owned(),
        area: posted.get("area").to_owned(),
    };
    let ui = posted.ui;
    let result = renkei_service::admin::create_organization(
        &state.services,
        &ui.actor,
        &ui.meta,
        renkei_service::admin::NewOrganization {
            code: input.code.clone(),
            name: input.name.clone(),
            kind: input.kind.clone(),
            area: input.area.clone(),
        },
    )
    .await;
    match result {
        Ok(o) => Ok(see_other(&format!(
            "/admin/organizations/{}?done=created",
            o.code
        ))),
        Err(e) => {
            let shell = ui.shell("", Nav::Admin);
            let errors = field_errors(e, &shell)?;
            orgs_page(&state, ui, input, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "ui/admin_org.html")]
pub struct OrgPage {
    pub shell: Shell,
    pub org: OrganizationDetail,
    pub input: OrganizationEdit,
    pub kinds: Vec<Choice>,
    pub regional: bool,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
    pub users_url: String,
}

impl OrgPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

fn org_page(
    ui: &Ui,
    org: OrganizationDetail,
    input: Option<OrganizationEdit>,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> axum::response::Response {
    let input = input.unwrap_or_else(|| OrganizationEdit {
        name: org.name.clone(),
        kind: org.kind.clone(),
        area: org.area.clone(),
        phone: org.phone.clone().unwrap_or_default(),
        fax: org.fax.clone().unwrap_or_default(),
        address: org.address.clone().unwrap_or_default(),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(
        status,
        &OrgPage {
            shell: ui.shell(format!("施設の管理 — {}", org.name), Nav::Admin),
            regional: AdminBy::Actor(&ui.actor).regional(),
            kinds: kinds(&input.kind),
            users_url: "/admin/users".to_owned(),
            org,
            input,
            errors,
            notice,
        },
    )
}

/// `GET /admin/organizations/{code}` — the edit form, two-factor login and status.
pub async fn organization_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(code): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> UiResult {
    let org = admin_orgs::organization_detail(
        &state.services,
        AdminBy::Actor(&ui.actor),
        &ui.meta,
        &code,
    )
    .await?;
    Ok(org_page(&ui, org, None, Vec::new(), notice(&q.done)))
}

/// `POST /admin/organizations/{code}` — saves the edit.
pub async fn update_organization(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> UiResult {
    let edit = OrganizationEdit {
        name: posted.get("name").to_owned(),
        kind: posted.get("kind").to_owned(),
        area: posted.get("area").to_owned(),
        phone: posted.get("phone").to_owned(),
        fax: posted.get("fax").to_owned(),
        address: posted.get("address").to_owned(),
    };
    let ui = posted.ui;
    let by = AdminBy::Actor(&ui.actor);
    match admin_orgs::update_organization(&state.services, by, &ui.meta, &code, edit.clone()).await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/organizations/{code}?done=saved"
        ))),
        Err(e) => {
            let shell = ui.shell("", Nav::Admin);
            let errors = field_errors(e, &shell)?;
            let org = admin_orgs::organization_detail(&state.services, by, &ui.meta, &code).await?;
            Ok(org_page(&ui, org, Some(edit), errors, None))
        }
    }
}

/// `POST /admin/organizations/{code}/two-factor` — `required=yes` requires it.
pub async fn organization_two_factor(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> UiResult {
    let required = posted.get("required") == "yes";
    let ui = &posted.ui;
    admin_orgs::set_require_two_factor(
        &state.services,
        AdminBy::Actor(&ui.actor),
        &ui.meta,
        &code,
        required,
    )
    .await?;
    Ok(see_other(&format!(
        "/admin/organizations/{code}?done=two_factor"
    )))
}

/// `POST /admin/organizations/{code}/status` — `active=no` deactivates (after the
/// confirmation box is ticked), `active=yes` reactivates.
pub async fn organization_status(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> UiResult {
    let active = posted.get("active") == "yes";
    let confirmed = posted.get("confirm") == "yes";
    let ui = &posted.ui;
    let by = AdminBy::Actor(&ui.actor);
    if !active && !confirmed {
        let org = admin_orgs::organization_detail(&state.services, by, &ui.meta, &code).await?;
        let errors = vec![(
            "confirm".to_owned(),
            ui.shell("", Nav::Admin)
                .t("利用停止の確認欄にチェックしてください。")
                .to_owned(),
        )];
        return Ok(org_page(ui, org, None, errors, None));
    }
    match admin_orgs::set_active(&state.services, by, &ui.meta, &code, active).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/organizations/{code}?done={}",
            if active { "reactivated" } else { "deactivated" }
        ))),
        Err(e) => {
            let shell = ui.shell("", Nav::Admin);
            let errors = field_errors(e, &shell)?
                .into_iter()
                .map(|(_, m)| ("confirm".to_owned(), m))
                .collect();
            let org = admin_orgs::organization_detail(&state.services, by, &ui.meta, &code).await?;
            Ok(org_page(ui, org, None, errors, None))
        }
    }
}

// ------------------------------------------------------------------ users

/// The typed fields of a user form.
#[derive(Default, Clone)]
pub struct UserInput {
    pub organization: String,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub roles: Vec<String>,
}

/// A user's state on the edit page.
pub struct UserState {
    pub disabled: bool,
    pub locked: bool,
    pub two_factor: bool,
    pub organization_name: String,
}

#[derive(Template)]
#[template(path = "ui/admin_user.html")]
pub struct UserPage {
    pub shell: Shell,
    /// `None`: the new-user form.
    pub existing: Option<UserState>,
    pub input: UserInput,
    pub organizations: Vec<OrgChoice>,
    pub professions: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
    pub self_page: bool,
}

impl UserPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

async fn user_page(
    state: &AppState,
    ui: &Ui,
    existing: Option<UserState>,
    input: UserInput,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> UiResult {
    let by = AdminBy::Actor(&ui.actor);
    let orgs = admin_orgs::organizations_for(&state.services, by, &ui.meta).await?;
    let organizations = orgs
        .into_iter()
        .filter(|o| o.active)
        .map(|o| OrgChoice {
            selected: o.code == input.organization,
            value: o.code,
            name: o.name,
        })
        .collect();
    let title = match &existing {
        Some(_) => format!("利用者の管理 — {}", input.name),
        None => "利用者の追加".to_owned(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &UserPage {
            shell: ui.shell(title, Nav::Admin),
            self_page: input.login == ui.actor.login,
            professions: professions(&input.profession),
            roles: roles(&input.roles, by.regional()),
            organizations,
            existing,
            input,
            errors,
            notice,
        },
    ))
}

/// `GET /admin/users/new` — the form that adds a user.
pub async fn new_user_page(State(state): State<AppState>, ui: Ui) -> UiResult {
    if !ui.is_admin() {
        return Err(ServiceError::Forbidden.into());
    }
    let input = UserInput {
        organization: ui.actor.organization_code.clone(),
        ..Default::default()
    };
    user_page(&state, &ui, None, input, Vec::new(), None).await
}

#[derive(Template)]
#[template(path = "ui/admin_temp_password.html")]
pub struct TemporaryPasswordPage {
    pub shell: Shell,
    pub login: String,
    pub password: String,
    pub created: bool,
}

/// `POST /admin/users` — adds a user; shows the temporary password once.
pub async fn create_user(State(state): State<AppState>, posted: Posted) -> UiResult {
    let input = UserInput {
        organization: posted.get("organization").to_owned(),
        login: posted.get("login").to_owned(),
        name: posted.get("name").to_owned(),
        profession: posted.get("profession").to_owned(),
        roles: posted.all("roles"),
    };
    let ui = &posted.ui;
    let result = admin_users::create_user(
        &state.services,
        AdminBy::Actor(&ui.actor),
        &ui.meta,
        &input.organization,
        &input.login,
        UserEdit {
            name: input.name.clone(),
            profession: input.profession.clone(),
            roles: input.roles.clone(),
        },
    )
    .await;
    match result {
        Ok(t) => Ok(page(
            StatusCode::OK,
            &TemporaryPasswordPage {
                shell: ui.shell("仮パスワード", Nav::Admin),
                login: t.login,
                password: t.temporary_password,
                created: true,
            },
        )),
        Err(e) => {
            let shell = ui.shell("", Nav::Admin);
            let errors = field_errors(e, &shell)?
                .into_iter()
                .map(|(f, m)| {
                    if f == "code" {
                        ("login".to_owned(), m)
                    } else {
                        (f, m)
                    }
                })
                .collect();
            user_page(&state, ui, None, input, errors, None).await
        }
    }
}

async fn existing_user(
    state: &AppState,
    ui: &Ui,
    login: &str,
) -> Result<(UserState, UserInput), ServiceError> {
    let users = renkei_service::admin::list_users(&state.services, &ui.actor, &ui.meta).await?;
    let u = users
        .into_iter()
        .find(|u| u.login == login)
        .ok_or(ServiceError::NotFound("practitioner"))?;
    let now = state.services.now();
    Ok((
        UserState {
            disabled: u.disabled,
            locked: u.locked_until.is_some_and(|t| t > now),
            two_factor: u.totp_enabled,
            organization_name: u.organization_name,
        },
        UserInput {
            organization: u.organization_code,
            login: u.login,
            name: u.name,
            profession: u.profession,
            roles: u.roles,
        },
    ))
}

/// `GET /admin/users/{login}` — edit the user; disable, reset, unlock.
pub async fn user_edit_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(login): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> UiResult {
    let (existing, input) = existing_user(&state, &ui, &login).await?;
    user_page(
        &state,
        &ui,
        Some(existing),
        input,
        Vec::new(),
        notice(&q.done),
    )
    .await
}

/// `POST /admin/users/{login}` — saves the name, profession and roles.
pub async fn update_user(
    State(state): State<AppState>,
    Path(login): Path<String>,
    posted: Posted,
) -> UiResult {
    let ui = &posted.ui;
    let (existing, current) = existing_user(&state, ui, &login).await?;
    let input = UserInput {
        name: posted.get("name").to_owned(),
        profession: posted.get("profession").to_owned(),
        roles: posted.all("roles"),
        ..current
    };
    match admin_users::update_user(
        &state.services,
        AdminBy::Actor(&ui.actor),
        &ui.meta,
        &login,
        UserEdit {
            name: input.name.clone(),
            profession: input.profession.clone(),
            roles: input.roles.clone(),
        },
    )
    .await
    {
        Ok(()) => Ok(see_other(&format!("/admin/users/{login}?done=saved"))),
        Err(e) => {
            let shell = ui.shell("", Nav::Admin);
            let errors = field_errors(e, &shell)?;
            user_page(&state, ui, Some(existing), input, errors, None).await
        }
    }
}

/// `POST /admin/users/{login}/{action}` — `disable` (after the confirmation box),
/// `enable`, `reset-password` (shows the temporary password once), `reset-two-factor`,
/// `unlock`.
pub async fn user_action(
    State(state): State<AppState>,
    Path((login, action)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let ui = &posted.ui;
    let by = AdminBy::Actor(&ui.actor);
    let s = &state.services;
    let confirm_error = |text: &'static str| {
        vec![(
            "confirm".to_owned(),
            ui.shell("", Nav::Admin).t(text).to_owned(),
        )]
    };
    let result = match action.as_str() {
        "disable" if posted.get("confirm") != "yes" => {
            let (existing, input) = existing_user(&state, ui, &login).await?;
            let errors = confirm_error("利用停止の確認欄にチェックしてください。");
            return user_page(&state, ui, Some(existing), input, errors, None).await;
        }
        "disable" => admin_users::set_disabled(s, by, &ui.meta, &login, true)
            .await
            .map(|()| "disabled"),
        "enable" => admin_users::set_disabled(s, by, &ui.meta, &login, false)
            .await
            .map(|()| "enabled"),
        "reset-password" if posted.get("confirm") != "yes" => {
            let (existing, input) = existing_user(&state, ui, &login).await?;
            let errors = confirm_error("パスワード再設定の確認欄にチェックしてください。");
            return user_page(&state, ui, Some(existing), input, errors, None).await;
        }
        "reset-password" => {
            let t = admin_users::reset_password(s, by, &ui.meta, &login).await?;
            return Ok(page(
                StatusCode::OK,
                &TemporaryPasswordPage {
                    shell: ui.shell("仮パスワード", Nav::Admin),
                    login: t.login,
                    password: t.temporary_password,
                    created: false,
                },
            ));
        }
        "reset-two-factor" => admin_users::reset_two_factor(s, by, &ui.meta, &login)
            .await
            .map(|()| "two_factor_reset"),
        "unlock" => admin_users::unlock(s, by, &ui.meta, &login)
            .await
            .map(|()| "unlocked"),
        _ => return Err(ServiceError::NotFound("action").into()),
    };
    match result {
        Ok(done) => Ok(see_other(&format!("/admin/users/{login}?done={done}"))),
        Err(e) => {
            let shell = ui.shell("", Nav::Admin);
            let errors = field_errors(e, &shell)?
                .into_iter()
                .map(|(_, m)| ("confirm".to_owned(), m))
                .collect();
            let (existing, input) = existing_user(&state, ui, &login).await?;
            user_page(&state, ui, Some(existing), input, errors, None).await
        }
    }
}

// ------------------------------------------------------------------ patient demographics

/// The typed fields of the correction form.
#[derive(Default, Clone)]
pub struct DemographicsInput {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: String,
    pub sex: String,
    pub reason: String,
}

/// One correction in the history table.
pub struct HistoryRow {
    pub at: fmt::When,
    pub reason: String,
    pub before: String,
    pub after: String,
}

#[derive(Template)]
#[template(path = "ui/patient_demographics.html")]
pub struct DemographicsPage {
    pub shell: Shell,
    pub patient_url: String,
    pub action: String,
    pub input: DemographicsInput,
    pub sexes: Vec<Choice>,
    pub history: Vec<HistoryRow>,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl DemographicsPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

fn words_of(v: &serde_json::Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    format!(
        "{} {}({} {})・{}・{}",
        s("family"),
        s("given"),
        s("family_kana"),
        s("given_kana"),
        s("birth_date"),
        fmt::sex(&s("sex"))
    )
}

async fn demographics_page(
    state: &AppState,
    ui: &Ui,
    id: uuid::Uuid,
    input: Option<DemographicsInput>,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
) -> UiResult {
    let history = renkei_service::admin_patients::demographics_history(
        &state.services,
        &ui.actor,
        &ui.meta,
        id,
    )
    .await?;
    let input = match input {
        Some(i) => i,
        None => {
            let p = renkei_service::patients::get_patient(&state.services, &ui.actor, &ui.meta, id)
                .await?;
            DemographicsInput {
                family: p.name.family,
                given: p.name.given,
                family_kana: p.name.family_kana,
                given_kana: p.name.given_kana,
                birth_date: p.birth_date.to_string(),
                sex: p.sex,
                reason: String::new(),
            }
        }
    };
    let sexes = renkei_service::patients::SEXES
        .iter()
        .map(|s| Choice {
            value: (*s).to_owned(),
            label: fmt::sex(s),
            selected: *s == input.sex,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &DemographicsPage {
            shell: ui.shell(
                format!("患者情報の訂正 — {} {}", input.family, input.given),
                Nav::Patients,
            ),
            patient_url: format!("/patients/{id}"),
            action: format!("/patients/{id}/demographics"),
            history: history
                .into_iter()
                .rev()
                .map(|h| HistoryRow {
                    at: fmt::datetime(h.changed_at),
                    reason: h.reason,
                    before: words_of(&h.before),
                    after: words_of(&h.after),
                })
                .collect(),
            sexes,
            input,
            errors,
            notice,
        },
    ))
}

/// `GET /patients/{id}/demographics` — the correction form and the history.
pub async fn demographics_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    demographics_page(&state, &ui, id, None, Vec::new(), notice(&q.done)).await
}

/// `POST /patients/{id}/demographics` — corrects, with the reason.
pub async fn demographics_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = super::parse_uuid(&id)?;
    let input = DemographicsInput {
        family: posted.get("family").to_owned(),
        given: posted.get("given").to_owned(),
        family_kana: posted.get("family_kana").to_owned(),
        given_kana: posted.get("given_kana").to_owned(),
        birth_date: posted.get("birth_date").to_owned(),
        sex: posted.get("sex").to_owned(),
        reason: posted.get("reason").to_owned(),
    };
    let ui = &posted.ui;
    let result = renkei_service::admin_patients::correct_demographics(
        &state.services,
        &ui.actor,
        &ui.meta,
        id,
        renkei_service::admin_patients::DemographicsCorrection {
            family: input.family.clone(),
            given: input.given.clone(),
            family_kana: input.family_kana.clone(),
            given_kana: input.given_kana.clone(),
            birth_date: input.birth_date.clone(),
            sex: input.sex.clone(),
            reason: input.reason.clone(),
        },
    )
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/patients/{id}/demographics?done=saved"
        ))),
        Err(e) => {
            let errors = demographics_errors(e, ui)?;
            demographics_page(&state, ui, id, Some(input), errors, None).await
        }
    }
}

fn demographics_errors(e: ServiceError, _ui: &Ui) -> Result<Vec<(String, String)>, ServiceError> {
    match e {
        ServiceError::Validation(errors) => Ok(errors
            .iter()
            .map(|e| {
                let field = e.field.strip_prefix("name.").unwrap_or(&e.field);
                let field = if field.is_empty() { "reason" } else { field };
                (field.to_owned(), fmt::error_ja(None, e))
            })
            .collect()),
        other => Err(other),
    }
}
