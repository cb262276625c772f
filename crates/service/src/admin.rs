//! Bootstrap and administration: organisations, practitioners, API tokens, and turning
//! a bearer token back into an [`Actor`].

use chrono::{DateTime, Utc};
use rand::RngCore;
use renkei_domain::FieldError;
use renkei_store::queries::{self, ApiTokenRow, OrganizationRow, PractitionerRow};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Actor, ServiceError, begin_write, now};

/// Organisation kinds of DESIGN.md §5.1.
pub const ORGANIZATION_KINDS: &[&str] = &[
    "acute_hospital",
    "recovery_hospital",
    "clinic",
    "home_nursing",
    "care_management",
    "pharmacy",
    "municipality",
];

/// Professions a practitioner may have.
pub const PROFESSIONS: &[&str] = &[
    "physician",
    "nurse",
    "therapist",
    "msw",
    "liaison_staff",
    "care_manager",
    "pharmacist",
];

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

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub async fn add_organization(
    db: &DatabaseConnection,
    new: NewOrganization,
) -> Result<Organization, ServiceError> {
    let mut errors = Vec::new();
    if !is_code(&new.code) {
        errors.push(FieldError::new(
            "code",
            "format",
            "code must be 1–64 lowercase letters, digits, '-' or '_'",
        ));
    }
    if new.name.trim().is_empty() {
        errors.push(FieldError::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    if !ORGANIZATION_KINDS.contains(&new.kind.as_str()) {
        errors.push(FieldError::new(
            "kind",
            "allowed",
            format!("kind must be one of {}", ORGANIZATION_KINDS.join(", ")),
        ));
    }
    if new.area.trim().is_empty() {
        errors.push(FieldError::new(
            "area",
            "required",
            "the secondary medical area must not be blank",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let row = OrganizationRow {
        id: Uuid::now_v7(),
        code: new.code,
        name: new.name.trim().to_owned(),
        kind: new.kind,
        area: new.area.trim().to_owned(),
        created_at: now(),
        require_totp: false,
    };
    let txn = begin_write(db).await?;
    if queries::organization_by_code(&txn, &row.code)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict {
            code: crate::ErrorCode::Duplicate,
            message: format!("organization `{}` already exists", row.code),
        });
    }
    queries::insert_organization(&txn, row.clone()).await?;
    txn.commit().await?;
    Ok(row.into())
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

pub async fn add_practitioner(
    db: &DatabaseConnection,
    new: NewPractitioner,
) -> Result<Uuid, ServiceError> {
    let mut errors = Vec::new();
    if !is_code(&new.login) {
        errors.push(FieldError::new(
            "login",
            "format",
            "login must be 1–64 lowercase letters, digits, '-' or '_'",
        ));
    }
    if new.name.trim().is_empty() {
        errors.push(FieldError::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    if !PROFESSIONS.contains(&new.profession.as_str()) {
        errors.push(FieldError::new(
            "profession",
            "allowed",
            format!("profession must be one of {}", PROFESSIONS.join(", ")),
        ));
    }
    for (i, role) in new.roles.iter().enumerate() {
        if !matches!(role.as_str(), "org_admin" | "regional_admin") {
            errors.push(FieldError::new(
                format!("roles[{i}]"),
                "allowed",
                "role must be org_admin or regional_admin",
            ));
        }
    }
    if let Some(p) = &new.password {
        // The same rules as a password change on the web (no two-factor yet).
        errors.extend(crate::auth::password::problems(
            p, &new.login, false, "password",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let password_hash = match &new.password {
        Some(p) => Some(crate::auth::password::hash(p)?),
        None => None,
    };
    let txn = begin_write(db).await?;
    let org = queries::organization_by_code(&txn, &new.organization_code)
        .await?
        .ok_or_else(|| {
            ServiceError::field(
                "organization",
                "unknown",
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
            created_at: now(),
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

/// SHA-256 of a token: tokens carry 256 random bits, so a fast hash is enough and lets
/// every request be checked with one indexed lookup.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a new API token for `login` and returns it; only its hash is stored.
pub async fn issue_token(
    db: &DatabaseConnection,
    login: &str,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("rk_{}", hex::encode(bytes));
    store_token(db, login, label, &token, expires_at).await?;
    Ok(token)
}

/// Stores a given token (used for the demo region's well-known tokens).
pub async fn store_token(
    db: &DatabaseConnection,
    login: &str,
    label: &str,
    token: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), ServiceError> {
    let txn = begin_write(db).await?;
    let p = queries::practitioner_by_login(&txn, login)
        .await?
        .ok_or_else(|| ServiceError::field("login", "unknown", format!("no user `{login}`")))?;
    let hash = token_hash(token);
    if queries::token_by_hash(&txn, &hash).await?.is_none() {
        queries::insert_token(
            &txn,
            ApiTokenRow {
                id: Uuid::now_v7(),
                practitioner_id: p.id,
                token_hash: hash,
                label: label.to_owned(),
                scopes: "[\"api\"]".into(),
                created_at: now(),
                expires_at,
                revoked_at: None,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The actor behind a bearer token, if the token is valid, unexpired and unrevoked and
/// its practitioner is enabled.
pub async fn authenticate_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Actor, ServiceError> {
    if !token.starts_with("rk_") || token.len() > 200 {
        return Err(ServiceError::Unauthenticated);
    }
    let row = queries::token_by_hash(db, &token_hash(token))
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    let now = Utc::now();
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|e| e <= now) {
        return Err(ServiceError::Unauthenticated);
    }
    actor_of(db, row.practitioner_id).await
}

/// The [`Actor`] for an enabled practitioner (sessions and tokens both end here).
pub async fn actor_of<C: ConnectionTrait>(
    db: &C,
    practitioner_id: Uuid,
) -> Result<Actor, ServiceError> {
    let p = queries::practitioner_by_id(db, practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if p.disabled_at.is_some() {
        return Err(ServiceError::Unauthenticated);
    }
    let org = queries::organization_by_id(db, p.organization_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(Actor {
        practitioner_id: p.id,
        login: p.login,
        name: p.name,
        profession: p.profession,
        organization_id: org.id,
        organization_code: org.code,
        roles: serde_json::from_str(&p.roles).unwrap_or_default(),
    })
}

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
    db: &DatabaseConnection,
    actor: &Actor,
    meta: &crate::audit::RequestMeta,
) -> Result<Vec<UserSummary>, ServiceError> {
    use crate::audit::{AuditRecord, Outcome, record_now};
    use renkei_store::entity::{practitioners, sessions};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let regional = actor.has_role("regional_admin");
    if !regional && !actor.has_role("org_admin") {
        record_now(
            db,
            meta,
            AuditRecord::by(actor, "user.list", "practitioner", None, Outcome::Denied)
                .detail("role or profession does not allow this"),
        )
        .await?;
        return Err(ServiceError::Forbidden);
    }
    let mut q = practitioners::Entity::find();
    if !regional {
        q = q.filter(practitioners::Column::OrganizationId.eq(actor.organization_id));
    }
    let rows = q
        .order_by_asc(practitioners::Column::OrganizationId)
        .order_by_asc(practitioners::Column::Login)
        .all(db)
        .await?;
    let orgs: std::collections::HashMap<Uuid, OrganizationRow> = queries::list_organizations(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut last: std::collections::HashMap<Uuid, DateTime<Utc>> = Default::default();
    for s in sessions::Entity::find().all(db).await? {
        let e = last.entry(s.practitioner_id).or_insert(s.created_at);
        if s.created_at > *e {
            *e = s.created_at;
        }
    }
    let mut out: Vec<UserSummary> = rows
        .into_iter()
        // The system practitioner (automatic variances) is nobody's user.
        .filter(|p| orgs.contains_key(&p.organization_id))
        .map(|p| {
            let org = &orgs[&p.organization_id];
            UserSummary {
                id: p.id,
                login: p.login,
                name: p.name,
                profession: p.profession,
                organization_code: org.code.clone(),
                organization_name: org.name.clone(),
                roles: serde_json::from_str(&p.roles).unwrap_or_default(),
                totp_enabled: p.totp_enabled,
                last_login: last.get(&p.id).copied(),
                locked_until: p.locked_until,
                disabled: p.disabled_at.is_some(),
                must_change_password: p.must_change_password,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.organization_code, &a.login).cmp(&(&b.organization_code, &b.login)));
    record_now(
        db,
        meta,
        AuditRecord::by(actor, "user.list", "practitioner", None, Outcome::Allowed),
    )
    .await?;
    Ok(out)
}

/// Number of active care plans per published pathway version (by version id). Counts
/// only, no patient data.
pub async fn active_plans_per_version(
    db: &DatabaseConnection,
) -> Result<std::collections::HashMap<Uuid, u64>, ServiceError> {
    use renkei_store::entity::care_plans;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

    let ids: Vec<Uuid> = care_plans::Entity::find()
        .select_only()
        .column(care_plans::Column::PathwayVersionId)
        .filter(care_plans::Column::Status.eq("active"))
        .into_tuple()
        .all(db)
        .await?;
    let mut out = std::collections::HashMap::new();
    for id in ids {
        *out.entry(id).or_insert(0) += 1;
    }
    Ok(out)
}

/// The people an organisation's 地域連携室 can be reached through: its active liaison
/// staff and medical social workers (name and profession only), for the directory.
pub async fn liaison_contacts(
    db: &DatabaseConnection,
    organization_code: &str,
) -> Result<Vec<(String, String)>, ServiceError> {
    use renkei_store::entity::practitioners;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let org = queries::organization_by_code(db, organization_code)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    Ok(practitioners::Entity::find()
        .filter(practitioners::Column::OrganizationId.eq(org.id))
        .filter(practitioners::Column::Profession.is_in(["liaison_staff", "msw"]))
        .filter(practitioners::Column::DisabledAt.is_null())
        .order_by_asc(practitioners::Column::Login)
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.name, p.profession))
        .collect())
}

/// `(id, login, name)` of every practitioner, for naming the people of audit rows and
/// break-glass grants on screens that were already authorised (not audited itself).
pub async fn practitioner_names(
    db: &DatabaseConnection,
) -> Result<Vec<(Uuid, String, String)>, ServiceError> {
    use renkei_store::entity::practitioners;
    use sea_orm::{EntityTrait, QueryOrder};

    Ok(practitioners::Entity::find()
        .order_by_asc(practitioners::Column::Login)
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.login, p.name))
        .collect())
}
