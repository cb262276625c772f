//! Bootstrap and administration: organisations, practitioners, operator-issued API tokens
//! (through [`crate::auth::tokens`], the one place tokens are made and checked), and turning
//! a bearer token back into an [`Actor`].

use chrono::{DateTime, Utc};
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_store::queries::{self, OrganizationRow, PractitionerRow};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{AuditRecord, Outcome, RequestMeta, record_now};
use crate::{Actor, ServiceError, Services, begin_write};

/// Organisation kinds of DESIGN.md §5.1 (the domain's closed list).
pub const ORGANIZATION_KINDS: &[&str] = &renkei_domain::ids::OrgKind::CODES;

/// Professions a practitioner may have (the domain's closed list).
pub const PROFESSIONS: &[&str] = &renkei_domain::access::Profession::CODES;

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
}

impl From<OrganizationRow> for Organization {
    fn from(r: OrganizationRow) -> Self {
        Organization {
            id: r.id,
            code: r.code,
            name: r.name,
            kind: r.kind,
            area: r.area,
        }
    }
}

use renkei_domain::text::is_code;

/// Longest organisation name and secondary medical area, in characters.
pub const ORGANIZATION_NAME_MAX: usize = 200;
pub const ORGANIZATION_AREA_MAX: usize = 100;

/// The rules every new organisation meets, whoever creates it (the API and
/// `renkei org add`): a restricted ASCII code, a known kind, and a name and area of
/// bounded length without control or bidirectional override characters.
pub fn validate_organization(new: &NewOrganization) -> Result<(), ServiceError> {
    let mut errors = Vec::new();
    if !is_code(&new.code) {
        errors.push(FieldError::new(
            "code",
            Rule::Format,
            "code must be 1–64 lowercase letters, digits, '-' or '_'",
        ));
    }
    if let Err(e) = renkei_domain::text::check_name("name", &new.name, ORGANIZATION_NAME_MAX) {
        errors.push(e);
    }
    if !ORGANIZATION_KINDS.contains(&new.kind.as_str()) {
        errors.push(FieldError::new(
            "kind",
            Rule::Allowed,
            format!("kind must be one of {}", ORGANIZATION_KINDS.join(", ")),
        ));
    }
    if let Err(e) = renkei_domain::text::check_name("area", &new.area, ORGANIZATION_AREA_MAX) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Validation(errors))
    }
}

/// Adds an organisation at set-up time (`renkei org add`, the demo region), by the
/// operator rather than a practitioner, like `renkei user add`.
pub async fn add_organization(
    services: &Services,
    new: NewOrganization,
) -> Result<Organization, ServiceError> {
    validate_organization(&new)?;
    let txn = begin_write(&services.db).await?;
    let row = insert_organization(&txn, new, services.now()).await?;
    txn.commit().await?;
    Ok(row.into())
}

/// Sets (or clears, with `None`) the telephone of an organisation's liaison office
/// (地域連携室), printed on the patient's copy of the plan; bootstrap and demo data, like
/// [`add_organization`]. Digits, hyphens, parentheses, spaces and a leading `+`, at most
/// 20 characters.
pub async fn set_organization_phone(
    services: &Services,
    code: &str,
    phone: Option<&str>,
) -> Result<(), ServiceError> {
    let phone = phone.map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = phone {
        let ok = p.chars().count() <= 20
            && p.chars().any(|c| c.is_ascii_digit())
            && p.chars().enumerate().all(|(i, c)| {
                c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | ' ') || (c == '+' && i == 0)
            });
        if !ok {
            return Err(ServiceError::field(
                "phone",
                renkei_domain::Rule::Format,
                "a telephone number: digits, hyphens, parentheses, at most 20 characters",
            ));
        }
    }
    let txn = begin_write(&services.db).await?;
    let org = queries::organization_by_code(&txn, code)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    queries::set_organization_phone(&txn, org.id, phone.map(str::to_owned)).await?;
    txn.commit().await?;
    Ok(())
}

/// Creates an organisation through the API: only the regional administrator may (a
/// refusal is a 403, audited); the creation is audited in its own transaction.
pub async fn create_organization(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    new: NewOrganization,
) -> Result<Organization, ServiceError> {
    if !actor.has_role("regional_admin") {
        record_now(
            services,
            meta,
            AuditRecord::by(
                actor,
                "organization.create",
                "organization",
                None,
                Outcome::Denied,
            )
            .detail("only the regional administrator may create organisations"),
        )
        .await?;
        return Err(ServiceError::Forbidden);
    }
    validate_organization(&new)?;
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    let row = insert_organization(&txn, new, at).await?;
    crate::audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "organization.create",
            "organization",
            Some(row.id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!("{} ({})", row.code, row.kind)),
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}

/// Inserts a validated organisation unless its code is taken (409).
async fn insert_organization<C: ConnectionTrait>(
    txn: &C,
    new: NewOrganization,
    at: DateTime<Utc>,
) -> Result<OrganizationRow, ServiceError> {
    let row = OrganizationRow {
        id: Uuid::now_v7(),
        code: new.code,
        name: new.name.trim().to_owned(),
        kind: new.kind,
        area: new.area.trim().to_owned(),
        created_at: at,
        require_totp: false,
        phone: None,
        fax: None,
        address: None,
        deactivated_at: None,
    };
    if queries::organization_by_code(txn, &row.code)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict {
            code: crate::ErrorCode::Duplicate,
            message: format!("organization `{}` already exists", row.code),
        });
    }
    queries::insert_organization(txn, row.clone()).await?;
    Ok(row)
}

pub async fn list_organizations(
    db: &DatabaseConnection,
) -> Result<Vec<Organization>, ServiceError> {
    Ok(queries::list_organizations(db)
        .await?
        .into_iter()
        .map(Organization::from)
        .collect())
}

#[derive(Debug, Clone)]
pub struct NewPractitioner {
    pub organization_code: String,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub roles: Vec<String>,
    pub password: Option<String>,
}

/// Longest practitioner name, in characters.
pub const PRACTITIONER_NAME_MAX: usize = 100;

/// Every problem of a new practitioner's fields at once.
pub fn validate_practitioner(
    login: &str,
    name: &str,
    profession: &str,
    roles: &[String],
    password: Option<&str>,
) -> Result<(), ServiceError> {
    let mut errors = Vec::new();
    if !is_code(login) {
        errors.push(FieldError::new(
            "login",
            Rule::Format,
            "login must be 1–64 lowercase letters, digits, '-' or '_'",
        ));
    }
    if let Err(e) = renkei_domain::text::check_name("name", name, PRACTITIONER_NAME_MAX) {
        errors.push(e);
    }
    if !PROFESSIONS.contains(&profession) {
        errors.push(FieldError::new(
            "profession",
            Rule::Allowed,
            format!("profession must be one of {}", PROFESSIONS.join(", ")),
        ));
    }
    for (i, role) in roles.iter().enumerate() {
        if renkei_domain::ids::AdminRole::parse(role).is_none() {
            errors.push(FieldError::new(
                format!("roles[{i}]"),
                Rule::Allowed,
                "role must be org_admin, regional_admin or council_member",
            ));
        }
    }
    if let Some(p) = password {
        // The same rules as a password change on the web (no two-factor yet).
        errors.extend(crate::auth::password::problems(p, login, false, "password"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Validation(errors))
    }
}

pub async fn add_practitioner(
    services: &Services,
    new: NewPractitioner,
) -> Result<Uuid, ServiceError> {
    validate_practitioner(
        &new.login,
        &new.name,
        &new.profession,
        &new.roles,
        new.password.as_deref(),
    )?;
    let password_hash = match &new.password {
        Some(p) => Some(crate::auth::password::hash(p)?),
        None => None,
    };
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    let org = queries::organization_by_code(&txn, &new.organization_code)
        .await?
        .ok_or_else(|| {
            ServiceError::field(
                "organization",
                Rule::Unknown,
                format!("organization `{}` does not exist", new.organization_code),
            )
        })?;
    if queries::practitioner_by_login(&txn, &new.login)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict {
            code: crate::ErrorCode::Duplicate,
            message: format!("login `{}` already exists", new.login),
        });
    }
    let id = Uuid::now_v7();
    queries::insert_practitioner(
        &txn,
        PractitionerRow {
            id,
            login: new.login,
            name: new.name.trim().to_owned(),
            profession: new.profession,
            organization_id: org.id,
            password_hash,
            must_change_password: true,
            roles: serde_json::to_string(&new.roles).unwrap_or_else(|_| "[]".into()),
            disabled_at: None,
            created_at: at,
            failed_logins: 0,
            locked_until: None,
            totp_secret: None,
            totp_enabled: false,
            totp_last_step: None,
            recovery_codes: None,
            password_changed_at: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Issues a new API token for `login` and returns it; only its hash is stored.
pub async fn issue_token(
    services: &Services,
    login: &str,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, ServiceError> {
    crate::auth::tokens::issue_by_operator(services, login, label, expires_at).await
}

/// Stores a given token (used for the demo region's well-known tokens).
pub async fn store_token(
    services: &Services,
    login: &str,
    label: &str,
    token: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), ServiceError> {
    crate::auth::tokens::store_by_operator(services, login, label, token, expires_at).await
}

/// The actor behind a bearer token, if the token is valid, unexpired and unrevoked and
/// its practitioner is enabled.
pub async fn authenticate_token(services: &Services, token: &str) -> Result<Actor, ServiceError> {
    Ok(crate::auth::tokens::resolve(services, token).await?.actor)
}

pub use crate::actors::actor_of;

// ------------------------------------------------------------------ users (S10)

/// A practitioner as the administration screen lists them.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub organization_code: String,
    pub organization_name: String,
    pub roles: Vec<String>,
    pub totp_enabled: bool,
    /// The start of the newest browser session.
    pub last_login: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub must_change_password: bool,
}

/// Practitioners for an administrator: every one for the regional administrator, the
/// organisation's own for an organisation administrator; anyone else is refused (403,
/// audited). The listing itself is audited as `user.list`.
pub async fn list_users(
    services: &Services,
    actor: &Actor,
    meta: &crate::audit::RequestMeta,
) -> Result<Vec<UserSummary>, ServiceError> {
    let db = &services.db;
    let regional = actor.has_role("regional_admin");
    if !regional && !actor.has_role("org_admin") {
        record_now(
            services,
            meta,
            AuditRecord::by(actor, "user.list", "practitioner", None, Outcome::Denied)
                .detail("role or profession does not allow this"),
        )
        .await?;
        return Err(ServiceError::Forbidden);
    }
    let organization = (!regional).then(|| actor.organization_id.into());
    let out = summaries(db, organization).await?;
    record_now(
        services,
        meta,
        AuditRecord::by(actor, "user.list", "practitioner", None, Outcome::Allowed),
    )
    .await?;
    Ok(out)
}

/// Every practitioner (or one organisation's) as the administration screens list them,
/// by organisation code then login; not audited (callers are).
pub(crate) async fn summaries(
    db: &DatabaseConnection,
    organization: Option<renkei_domain::ids::OrgId>,
) -> Result<Vec<UserSummary>, ServiceError> {
    let rows = renkei_store::practitioners::listing(db, organization).await?;
    let orgs: std::collections::HashMap<Uuid, OrganizationRow> = queries::list_organizations(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let last = renkei_store::queries_auth::last_session_starts(db).await?;
    let mut out: Vec<UserSummary> = rows
        .into_iter()
        // The system practitioner (automatic variances) is nobody's user.
        .filter_map(|p| {
            let org = orgs.get(p.organization_id.as_uuid())?;
            Some(UserSummary {
                id: p.id.into_uuid(),
                login: p.login,
                name: p.name,
                profession: p.profession.as_str().to_owned(),
                organization_code: org.code.clone(),
                organization_name: org.name.clone(),
                roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                totp_enabled: p.totp_enabled,
                last_login: last.get(&p.id).copied(),
                locked_until: p.locked_until,
                disabled: p.disabled,
                must_change_password: p.must_change_password,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.organization_code, &a.login).cmp(&(&b.organization_code, &b.login)));
    Ok(out)
}

/// Number of active care plans per published pathway version (by version id). Counts
/// only, no patient data.
pub async fn active_plans_per_version(
    db: &DatabaseConnection,
) -> Result<std::collections::HashMap<Uuid, u64>, ServiceError> {
    Ok(renkei_store::admin::active_plans_per_version(db).await?)
}

/// The people an organisation's 地域連携室 can be reached through: its active liaison
/// staff and medical social workers (name and profession only), for the directory.
pub async fn liaison_contacts(
    db: &DatabaseConnection,
    organization_code: &str,
) -> Result<Vec<(String, String)>, ServiceError> {
    let org = queries::organization_by_code(db, organization_code)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    Ok(renkei_store::practitioners::enabled_of_professions(
        db,
        org.id.into(),
        &["liaison_staff", "msw"],
    )
    .await?)
}

/// `(id, login, name)` of every practitioner, for naming the people of audit rows and
/// break-glass grants on screens that were already authorised (not audited itself).
pub async fn practitioner_names(
    db: &DatabaseConnection,
) -> Result<Vec<(Uuid, String, String)>, ServiceError> {
    Ok(renkei_store::practitioners::names(db)
        .await?
        .into_iter()
        .map(|(id, login, name)| (id.into_uuid(), login, name))
        .collect())
}
