//! Administration of users without SQL (issue 18 point 8): create, edit the name,
//! profession and roles, disable (every session and API token revoked at once) and
//! enable, reset the password (a temporary password the holder must change at the next
//! login), reset two-factor login, lift a login lock, and list who has not logged in for
//! a number of days. The regional administrator administers every user; an
//! organisation's administrator the users of their own organisation, and never grants
//! the regional role. The operator (`renkei user …`) may do all of it. Every change and
//! every refusal is audited.

use chrono::Duration;
use rand::Rng;
use renkei_domain::{FieldError, Rule};
use renkei_store::admin_users as store;
use renkei_store::queries::{self, PractitionerRow};
use serde::Serialize;
use uuid::Uuid;

use crate::admin::{NewPractitioner, PRACTITIONER_NAME_MAX, PROFESSIONS, UserSummary};
use crate::admin_orgs::{AdminBy, refuse};
use crate::audit::{Outcome, RequestMeta, record};
use crate::{ServiceError, Services, begin_write};

/// A user's editable attributes.
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub name: String,
    pub profession: String,
    pub roles: Vec<String>,
}

/// The answer to a creation or a password reset: the user and, once, the temporary
/// password to hand over (never stored in clear, never logged).
#[derive(Debug, Clone, Serialize)]
pub struct TemporaryPassword {
    pub id: Uuid,
    pub login: String,
    pub temporary_password: String,
}

/// Letters and digits without the look-alikes (0/O, 1/l/I).
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// A temporary password of four groups of five characters (about 116 bits).
pub fn temporary_password() -> String {
    let mut rng = rand::thread_rng();
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

async fn user(services: &Services, login: &str) -> Result<PractitionerRow, ServiceError> {
    queries::practitioner_by_login(&services.db, login)
        .await?
        .filter(|p| p.id != crate::variances::SYSTEM_PRACTITIONER_ID)
        .ok_or(ServiceError::NotFound("practitioner"))
}

/// The user `login` if `by` administers them; a refusal is audited.
async fn administered(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    login: &str,
    action: &'static str,
) -> Result<PractitionerRow, ServiceError> {
    let p = user(services, login).await?;
    if !by.administers(p.organization_id) {
        return Err(refuse(
            services,
            meta,
            by,
            action,
            "practitioner",
            Some(p.id.to_string()),
            "not an administrator of this user's organisation",
        )
        .await);
    }
    Ok(p)
}

fn check_roles(by: AdminBy<'_>, roles: &[String], errors: &mut Vec<FieldError>) {
    for (i, role) in roles.iter().enumerate() {
        if renkei_domain::ids::AdminRole::parse(role).is_none() {
            errors.push(FieldError::new(
                format!("roles[{i}]"),
                Rule::Allowed,
                "role must be org_admin, regional_admin or council_member",
            ));
        } else if role == "regional_admin" && !by.regional() {
            errors.push(FieldError::new(
                format!("roles[{i}]"),
                Rule::NotAllowed,
                "only the regional administrator grants the regional role",
            ));
        } else if role == crate::council::COUNCIL_MEMBER && !by.regional() {
            errors.push(FieldError::new(
                format!("roles[{i}]"),
                Rule::NotAllowed,
                "only the regional administrator grants the council member role",
            ));
        }
    }
}

/// Creates a user with a temporary password they must change at their first login.
pub async fn create_user(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    organization_code: &str,
    login: &str,
    edit: UserEdit,
) -> Result<TemporaryPassword, ServiceError> {
    let org = queries::organization_by_code(&services.db, organization_code).await?;
    if let Some(org) = &org
        && !by.administers(org.id)
    {
        return Err(refuse(
            services,
            meta,
            by,
            "user.create",
            "practitioner",
            None,
            "not an administrator of this organisation",
        )
        .await);
    }
    if org.is_none() && !by.regional() {
        return Err(refuse(
            services,
            meta,
            by,
            "user.create",
            "practitioner",
            None,
            "not the regional administrator",
        )
        .await);
    }
    let mut errors = Vec::new();
    check_roles(by, &edit.roles, &mut errors);
    if !errors.is_empty() {
        // The other fields' problems come with these, all at once.
        if let Err(ServiceError::Validation(more)) =
            crate::admin::validate_practitioner(login, &edit.name, &edit.profession, &[], None)
        {
            errors.extend(more);
        }
        return Err(ServiceError::Validation(errors));
    }
    let temporary = temporary_password();
    let id = crate::admin::add_practitioner(
        services,
        NewPractitioner {
            organization_code: organization_code.to_owned(),
            login: login.to_owned(),
            name: edit.name,
            profession: edit.profession,
            roles: edit.roles.clone(),
            password: None,
        },
    )
    .await?;
    let hash = hash_blocking(temporary.clone()).await?;
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::set_temporary_password(&txn, id, &hash).await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "user.create",
            "practitioner",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "{login} of {organization_code}; roles [{}]",
            edit.roles.join(", ")
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(TemporaryPassword {
        id,
        login: login.to_owned(),
        temporary_password: temporary,
    })
}

async fn hash_blocking(password: String) -> Result<String, ServiceError> {
    Ok(
        tokio::task::spawn_blocking(move || crate::auth::password::hash(&password))
            .await
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!(e)))??,
    )
}

/// Edits a user's name, profession and roles.
pub async fn update_user(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    login: &str,
    edit: UserEdit,
) -> Result<(), ServiceError> {
    let p = administered(services, by, meta, login, "user.update").await?;
    let mut errors = Vec::new();
    if let Err(e) = renkei_domain::text::check_name("name", &edit.name, PRACTITIONER_NAME_MAX) {
        errors.push(e);
    }
    if !PROFESSIONS.contains(&edit.profession.as_str()) {
        errors.push(FieldError::new(
            "profession",
            Rule::Allowed,
            format!("profession must be one of {}", PROFESSIONS.join(", ")),
        ));
    }
    check_roles(by, &edit.roles, &mut errors);
    let old_roles: Vec<String> = serde_json::from_str(&p.roles).unwrap_or_default();
    if !by.regional()
        && old_roles.iter().any(|r| r == "regional_admin")
        && !edit.roles.iter().any(|r| r == "regional_admin")
    {
        errors.push(FieldError::new(
            "roles",
            Rule::NotAllowed,
            "only the regional administrator withdraws the regional role",
        ));
    }
    if let AdminBy::Actor(a) = by
        && a.practitioner_id == p.id
        && old_roles
            .iter()
            .any(|r| r == "regional_admin" || r == "org_admin")
        && edit.roles.is_empty()
    {
        errors.push(FieldError::new(
            "roles",
            Rule::ToSelf,
            "an administrator cannot withdraw their own administration role",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let mut roles = edit.roles.clone();
    roles.sort();
    roles.dedup();
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::set_profession_and_roles(
        &txn,
        p.id,
        edit.name.trim(),
        &edit.profession,
        &serde_json::to_string(&roles).unwrap_or_else(|_| "[]".into()),
    )
    .await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "user.update",
            "practitioner",
            Some(p.id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "{login}: profession {} → {}; roles [{}] → [{}]",
            p.profession,
            edit.profession,
            old_roles.join(", "),
            roles.join(", ")
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Disables a user (every live session and API token revoked in the same transaction,
/// so their next request is refused) or enables them again (their old sessions and
/// tokens stay revoked).
pub async fn set_disabled(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    login: &str,
    disabled: bool,
) -> Result<(), ServiceError> {
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    let p = administered(services, by, meta, login, action).await?;
    if let AdminBy::Actor(a) = by
        && a.practitioner_id == p.id
        && disabled
    {
        return Err(ServiceError::field(
            "login",
            Rule::ToSelf,
            "an administrator cannot disable themselves",
        ));
    }
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    let mut revoked = Vec::new();
    let detail = if disabled {
        store::set_disabled(&txn, p.id, Some(p.disabled_at.unwrap_or(at))).await?;
        let (s, tokens) = store::revoke_all_access(&txn, p.id, at).await?;
        let detail = format!(
            "{login}: {s} session(s) and {} token(s) revoked",
            tokens.len()
        );
        revoked = tokens;
        detail
    } else {
        store::set_disabled(&txn, p.id, None).await?;
        login.to_owned()
    };
    let mut rec = by
        .audit(
            action,
            "practitioner",
            Some(p.id.to_string()),
            Outcome::Allowed,
        )
        .detail(detail);
    for t in revoked {
        rec = rec.wrote(renkei_domain::evidence::EvidenceKind::Token, t);
    }
    record(&txn, at, meta, rec).await?;
    txn.commit().await?;
    Ok(())
}

/// Replaces a user's password with a temporary one they must change at their next
/// login; their sessions end at once. Returns the temporary password, once.
pub async fn reset_password(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    login: &str,
) -> Result<TemporaryPassword, ServiceError> {
    let p = administered(services, by, meta, login, "user.reset_password").await?;
    let temporary = temporary_password();
    let hash = hash_blocking(temporary.clone()).await?;
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::set_temporary_password(&txn, p.id, &hash).await?;
    let s = store::revoke_sessions(&txn, p.id, at).await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "user.reset_password",
            "practitioner",
            Some(p.id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "{login}: temporary password, change required; {s} session(s) ended"
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(TemporaryPassword {
        id: p.id,
        login: p.login,
        temporary_password: temporary,
    })
}

/// Switches a user's two-factor login off (a lost phone): they set it up again at the
/// next login where their organisation requires it. Their sessions end at once.
pub async fn reset_two_factor(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    login: &str,
) -> Result<(), ServiceError> {
    let p = administered(services, by, meta, login, "user.reset_two_factor").await?;
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::clear_totp(&txn, p.id).await?;
    let s = store::revoke_sessions(&txn, p.id, at).await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "user.reset_two_factor",
            "practitioner",
            Some(p.id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "{login}: two-factor login reset; {s} session(s) ended"
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Lifts a login lock (the failure counter and the login throttle of this user).
pub async fn unlock(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    login: &str,
) -> Result<(), ServiceError> {
    let p = administered(services, by, meta, login, "user.unlock").await?;
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::unlock(&txn, p.id, &p.login).await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "user.unlock",
            "practitioner",
            Some(p.id.to_string()),
            Outcome::Allowed,
        )
        .detail(login.to_owned()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The users an administrator sees (as [`crate::admin::list_users`]) who are enabled
/// and have not logged in for `days` days: their last login is older, or they never
/// logged in and were created before then.
pub async fn inactive_users(
    services: &Services,
    actor: &crate::Actor,
    meta: &RequestMeta,
    days: i64,
) -> Result<Vec<UserSummary>, ServiceError> {
    let users = crate::admin::list_users(services, actor, meta).await?;
    not_logged_in_since(services, users, days).await
}

/// Every user, or with `inactive_days` the enabled ones who have not logged in for that
/// long: the listing of `renkei user list` (the operator).
pub async fn users_for_operator(
    services: &Services,
    inactive_days: Option<i64>,
) -> Result<Vec<UserSummary>, ServiceError> {
    let users = crate::admin::summaries(&services.db, None).await?;
    match inactive_days {
        Some(d) => not_logged_in_since(services, users, d).await,
        None => Ok(users),
    }
}

async fn not_logged_in_since(
    services: &Services,
    users: Vec<UserSummary>,
    days: i64,
) -> Result<Vec<UserSummary>, ServiceError> {
    let created = store::created_at_of_all(&services.db).await?;
    let since = services.now() - Duration::days(days);
    Ok(users
        .into_iter()
        .filter(|u| !u.disabled)
        .filter(|u| match u.last_login {
            Some(t) => t < since,
            None => created.get(&u.id).is_some_and(|c| *c < since),
        })
        .collect())
}
