//! Writes of the administration screens on organisations and practitioners: editing,
//! deactivating, disabling, resetting. Each is one statement; the service wraps them in
//! a transaction with their audit event.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{api_tokens, login_throttle, organizations, practitioners, sessions};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// The editable columns of an organisation.
#[derive(Debug, Clone)]
pub struct OrganizationFields {
    pub name: String,
    pub kind: String,
    pub area: String,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub address: Option<String>,
}

pub async fn update_organization<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    f: OrganizationFields,
) -> R<()> {
    use organizations::Column as O;
    organizations::Entity::update_many()
        .col_expr(O::Name, Expr::value(f.name))
        .col_expr(O::Kind, Expr::value(f.kind))
        .col_expr(O::Area, Expr::value(f.area))
        .col_expr(O::Phone, Expr::value(f.phone))
        .col_expr(O::Fax, Expr::value(f.fax))
        .col_expr(O::Address, Expr::value(f.address))
        .filter(O::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn set_require_totp<C: ConnectionTrait>(c: &C, id: Uuid, required: bool) -> R<()> {
    organizations::Entity::update_many()
        .col_expr(organizations::Column::RequireTotp, Expr::value(required))
        .filter(organizations::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn set_deactivated<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> R<()> {
    organizations::Entity::update_many()
        .col_expr(organizations::Column::DeactivatedAt, Expr::value(at))
        .filter(organizations::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// The practitioners of an organisation (ids).
pub async fn practitioners_of<C: ConnectionTrait>(c: &C, organization: Uuid) -> R<Vec<Uuid>> {
    Ok(practitioners::Entity::find()
        .filter(practitioners::Column::OrganizationId.eq(organization))
        .all(c)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// Revokes every live session and every unrevoked API token of a practitioner; returns
/// how many sessions, and the ids of the tokens (their rows are under evidence).
pub async fn revoke_all_access<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    at: DateTime<Utc>,
) -> R<(u64, Vec<Uuid>)> {
    let s = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(at))
        .filter(sessions::Column::PractitionerId.eq(practitioner))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    let live: Vec<Uuid> = api_tokens::Entity::find()
        .filter(api_tokens::Column::PractitionerId.eq(practitioner))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .all(c)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    if !live.is_empty() {
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(at))
            .filter(api_tokens::Column::Id.is_in(live.clone()))
            .exec(c)
            .await?;
    }
    Ok((s.rows_affected, live))
}

/// Revokes every live session of a practitioner (a password reset).
pub async fn revoke_sessions<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    at: DateTime<Utc>,
) -> R<u64> {
    Ok(sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(at))
        .filter(sessions::Column::PractitionerId.eq(practitioner))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(c)
        .await?
        .rows_affected)
}

pub async fn set_disabled<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    at: Option<DateTime<Utc>>,
) -> R<()> {
    practitioners::Entity::update_many()
        .col_expr(practitioners::Column::DisabledAt, Expr::value(at))
        .filter(practitioners::Column::Id.eq(practitioner))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn set_profession_and_roles<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    name: &str,
    profession: &str,
    roles_json: &str,
) -> R<()> {
    use practitioners::Column as P;
    practitioners::Entity::update_many()
        .col_expr(P::Name, Expr::value(name))
        .col_expr(P::Profession, Expr::value(profession))
        .col_expr(P::Roles, Expr::value(roles_json))
        .filter(P::Id.eq(practitioner))
        .exec(c)
        .await?;
    Ok(())
}

/// A temporary password: the new hash, and the holder must change it at next login.
pub async fn set_temporary_password<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    hash: &str,
) -> R<()> {
    use practitioners::Column as P;
    practitioners::Entity::update_many()
        .col_expr(P::PasswordHash, Expr::value(hash))
        .col_expr(P::MustChangePassword, Expr::value(true))
        .filter(P::Id.eq(practitioner))
        .exec(c)
        .await?;
    Ok(())
}

/// Two-factor login off: the secret, the recovery codes and the last step forgotten,
/// so the holder enrols again at next login.
pub async fn clear_totp<C: ConnectionTrait>(c: &C, practitioner: Uuid) -> R<()> {
    use practitioners::Column as P;
    practitioners::Entity::update_many()
        .col_expr(P::TotpSecret, Expr::value(Option::<String>::None))
        .col_expr(P::TotpEnabled, Expr::value(false))
        .col_expr(P::TotpLastStep, Expr::value(Option::<i64>::None))
        .col_expr(P::RecoveryCodes, Expr::value(Option::<String>::None))
        .filter(P::Id.eq(practitioner))
        .exec(c)
        .await?;
    Ok(())
}

/// Lifts a login lock: the failure counter, the lock and the throttle buckets of this
/// login (from every address), of its second factor and of its password change.
pub async fn unlock<C: ConnectionTrait>(c: &C, practitioner: Uuid, login: &str) -> R<()> {
    use practitioners::Column as P;
    practitioners::Entity::update_many()
        .col_expr(P::FailedLogins, Expr::value(0i32))
        .col_expr(P::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(P::Id.eq(practitioner))
        .exec(c)
        .await?;
    let prefix = format!("login:{login}@");
    let mut keys: Vec<String> = login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.starts_with(&prefix))
        .all(c)
        .await?
        .into_iter()
        .map(|r| r.key)
        // `_` is a LIKE wildcard: keep the exact prefix only.
        .filter(|k| k.starts_with(&prefix))
        .collect();
    keys.push(format!("2fa:{practitioner}"));
    keys.push(format!("pwchange:{practitioner}"));
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::Key.is_in(keys))
        .exec(c)
        .await?;
    Ok(())
}

/// When each practitioner was created, by id.
pub async fn created_at_of_all<C: ConnectionTrait>(
    c: &C,
) -> R<std::collections::HashMap<Uuid, DateTime<Utc>>> {
    Ok(practitioners::Entity::find()
        .all(c)
        .await?
        .into_iter()
        .map(|p| (p.id, p.created_at))
        .collect())
}
