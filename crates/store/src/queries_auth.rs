//! Queries behind human logins: browser sessions, the failed-login throttle, the
//! practitioner's password / lockout / two-factor columns, and API token management.
//! Generic over `ConnectionTrait` like [`crate::queries`].
//!
//! Time comparisons are done in Rust on rows read back, never in SQL: SQLite stores
//! timestamps as RFC 3339 text whose fraction length varies, so `<` on the column is not
//! a reliable time order there.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{api_tokens, login_throttle, practitioners, sessions};
use crate::error::StoreError;

pub use crate::entity::{login_throttle::Model as ThrottleRow, sessions::Model as SessionRow};

type R<T> = Result<T, StoreError>;

// ---------------------------------------------------------------- sessions

pub async fn insert_session<C: ConnectionTrait>(c: &C, row: SessionRow) -> R<()> {
    sessions::Entity::insert(sessions::ActiveModel {
        id: Set(row.id),
        token_hash: Set(row.token_hash),
        practitioner_id: Set(row.practitioner_id),
        csrf_token: Set(row.csrf_token),
        created_at: Set(row.created_at),
        last_seen_at: Set(row.last_seen_at),
        expires_at: Set(row.expires_at),
        second_factor_done: Set(row.second_factor_done),
        revoked_at: Set(row.revoked_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn session_by_token_hash<C: ConnectionTrait>(
    c: &C,
    token_hash: &str,
) -> R<Option<SessionRow>> {
    Ok(sessions::Entity::find()
        .filter(sessions::Column::TokenHash.eq(token_hash))
        .one(c)
        .await?)
}

pub async fn session_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<SessionRow>> {
    Ok(sessions::Entity::find_by_id(id).one(c).await?)
}

/// Records activity on a session (the idle timeout counts from `last_seen_at`).
pub async fn touch_session<C: ConnectionTrait>(c: &C, id: Uuid, at: DateTime<Utc>) -> R<()> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::LastSeenAt, Expr::value(at))
        .filter(sessions::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Revokes one session; returns whether it was still live.
pub async fn revoke_session<C: ConnectionTrait>(c: &C, id: Uuid, at: DateTime<Utc>) -> R<bool> {
    let res = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(at))
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every live session of a practitioner except `keep`.
pub async fn revoke_other_sessions<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    keep: Option<Uuid>,
    at: DateTime<Utc>,
) -> R<u64> {
    let mut q = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(at))
        .filter(sessions::Column::PractitionerId.eq(practitioner))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        q = q.filter(sessions::Column::Id.ne(keep));
    }
    Ok(q.exec(c).await?.rows_affected)
}

/// Marks the second factor done and gives the session a new token and CSRF token
/// (privilege changes rotate the identifier).
pub async fn complete_second_factor<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    new_token_hash: &str,
    new_csrf: &str,
    at: DateTime<Utc>,
) -> R<bool> {
    let res = sessions::Entity::update_many()
        .col_expr(sessions::Column::SecondFactorDone, Expr::value(true))
        .col_expr(sessions::Column::TokenHash, Expr::value(new_token_hash))
        .col_expr(sessions::Column::CsrfToken, Expr::value(new_csrf))
        .col_expr(sessions::Column::LastSeenAt, Expr::value(at))
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes sessions that ended before `before` (expired or revoked), for housekeeping.
pub async fn purge_sessions_of<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    before: DateTime<Utc>,
) -> R<u64> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::PractitionerId.eq(practitioner))
        .all(c)
        .await?;
    let dead: Vec<Uuid> = rows
        .into_iter()
        .filter(|s| s.expires_at < before || s.revoked_at.is_some_and(|r| r < before))
        .map(|s| s.id)
        .collect();
    if dead.is_empty() {
        return Ok(0);
    }
    Ok(sessions::Entity::delete_many()
        .filter(sessions::Column::Id.is_in(dead))
        .exec(c)
        .await?
        .rows_affected)
}

/// When each practitioner's newest browser session started (their last login).
pub async fn last_session_starts<C: ConnectionTrait>(
    c: &C,
) -> R<std::collections::HashMap<renkei_domain::ids::PractitionerId, DateTime<Utc>>> {
    let mut last = std::collections::HashMap::new();
    for s in sessions::Entity::find().all(c).await? {
        let e = last.entry(s.practitioner_id.into()).or_insert(s.created_at);
        if s.created_at > *e {
            *e = s.created_at;
        }
    }
    Ok(last)
}

// ---------------------------------------------------------------- login throttle

pub async fn throttle_row<C: ConnectionTrait>(c: &C, key: &str) -> R<Option<ThrottleRow>> {
    Ok(login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.eq(key))
        .one(c)
        .await?)
}

/// The throttle row of `key`, row-locked on PostgreSQL (call inside a write
/// transaction; SQLite's `BEGIN IMMEDIATE` already serialises writers).
pub async fn throttle_row_for_update<C: ConnectionTrait>(
    c: &C,
    key: &str,
) -> R<Option<ThrottleRow>> {
    Ok(login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.eq(key))
        .lock_exclusive()
        .one(c)
        .await?)
}

pub async fn insert_throttle<C: ConnectionTrait>(c: &C, row: ThrottleRow) -> R<()> {
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        id: Set(row.id),
        key: Set(row.key),
        window_start: Set(row.window_start),
        failures: Set(row.failures),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn set_throttle<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    window_start: DateTime<Utc>,
    failures: i32,
) -> R<()> {
    login_throttle::Entity::update_many()
        .col_expr(
            login_throttle::Column::WindowStart,
            Expr::value(window_start),
        )
        .col_expr(login_throttle::Column::Failures, Expr::value(failures))
        .filter(login_throttle::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Gives back one reserved attempt (a login that succeeded was not a failure).
pub async fn throttle_refund<C: ConnectionTrait>(c: &C, key: &str) -> R<()> {
    login_throttle::Entity::update_many()
        .col_expr(
            login_throttle::Column::Failures,
            Expr::col(login_throttle::Column::Failures).sub(1),
        )
        .filter(login_throttle::Column::Key.eq(key))
        .filter(login_throttle::Column::Failures.gt(0))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn throttle_clear<C: ConnectionTrait>(c: &C, key: &str) -> R<()> {
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::Key.eq(key))
        .exec(c)
        .await?;
    Ok(())
}

/// Deletes throttle rows whose window started before `before` (a bounded batch).
pub async fn purge_throttle<C: ConnectionTrait>(c: &C, before: DateTime<Utc>) -> R<u64> {
    let rows = login_throttle::Entity::find()
        .order_by_asc(login_throttle::Column::Id)
        .limit(500)
        .all(c)
        .await?;
    let stale: Vec<Uuid> = rows
        .into_iter()
        .filter(|r| r.window_start < before)
        .map(|r| r.id)
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    Ok(login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::Id.is_in(stale))
        .exec(c)
        .await?
        .rows_affected)
}

// ---------------------------------------------------------------- practitioners

/// Counts one more consecutive failed login; returns the new count.
pub async fn add_failed_login<C: ConnectionTrait>(c: &C, id: Uuid) -> R<i32> {
    practitioners::Entity::update_many()
        .col_expr(
            practitioners::Column::FailedLogins,
            Expr::col(practitioners::Column::FailedLogins).add(1),
        )
        .filter(practitioners::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(practitioners::Entity::find_by_id(id)
        .one(c)
        .await?
        .map(|p| p.failed_logins)
        .unwrap_or(0))
}

pub async fn set_locked_until<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    until: Option<DateTime<Utc>>,
) -> R<()> {
    practitioners::Entity::update_many()
        .col_expr(practitioners::Column::LockedUntil, Expr::value(until))
        .filter(practitioners::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// A successful login: the failure counter and any lock are cleared; a weaker password
/// hash is replaced by `rehash`.
pub async fn record_login_success<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    rehash: Option<String>,
) -> R<()> {
    let mut q = practitioners::Entity::update_many()
        .col_expr(practitioners::Column::FailedLogins, Expr::value(0i32))
        .col_expr(
            practitioners::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    if let Some(hash) = rehash {
        q = q.col_expr(practitioners::Column::PasswordHash, Expr::value(hash));
    }
    q.filter(practitioners::Column::Id.eq(id)).exec(c).await?;
    Ok(())
}

/// Stores a new password hash: the initial-password flag is cleared.
pub async fn set_password<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    hash: &str,
    at: DateTime<Utc>,
) -> R<()> {
    practitioners::Entity::update_many()
        .col_expr(practitioners::Column::PasswordHash, Expr::value(hash))
        .col_expr(
            practitioners::Column::MustChangePassword,
            Expr::value(false),
        )
        .col_expr(practitioners::Column::PasswordChangedAt, Expr::value(at))
        .filter(practitioners::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Stores a TOTP secret awaiting confirmation (two-factor stays off until confirmed).
pub async fn set_pending_totp_secret<C: ConnectionTrait>(c: &C, id: Uuid, secret: &str) -> R<()> {
    practitioners::Entity::update_many()
        .col_expr(practitioners::Column::TotpSecret, Expr::value(secret))
        .filter(practitioners::Column::Id.eq(id))
        .filter(practitioners::Column::TotpEnabled.eq(false))
        .exec(c)
        .await?;
    Ok(())
}

/// Replaces a TOTP secret by the same secret in another stored form (sealed), unless it
/// changed meanwhile.
pub async fn reseal_totp_secret<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    old: &str,
    new: &str,
) -> R<()> {
    practitioners::Entity::update_many()
        .col_expr(practitioners::Column::TotpSecret, Expr::value(new))
        .filter(practitioners::Column::Id.eq(id))
        .filter(practitioners::Column::TotpSecret.eq(old))
        .exec(c)
        .await?;
    Ok(())
}

/// Turns two-factor on with the confirmed secret, the step just used and the hashed
/// recovery codes. Returns false when it was already on.
pub async fn enable_totp<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    secret: &str,
    step: i64,
    recovery_codes: &str,
) -> R<bool> {
    let res = practitioners::Entity::update_many()
        .col_expr(practitioners::Column::TotpSecret, Expr::value(secret))
        .col_expr(practitioners::Column::TotpEnabled, Expr::value(true))
        .col_expr(practitioners::Column::TotpLastStep, Expr::value(step))
        .col_expr(
            practitioners::Column::RecoveryCodes,
            Expr::value(recovery_codes),
        )
        .filter(practitioners::Column::Id.eq(id))
        .filter(practitioners::Column::TotpEnabled.eq(false))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Claims TOTP time step `step` for the practitioner: succeeds only when it is later
/// than every step used before, so a code is never accepted twice, even by two
/// concurrent requests.
pub async fn claim_totp_step<C: ConnectionTrait>(c: &C, id: Uuid, step: i64) -> R<bool> {
    let res = practitioners::Entity::update_many()
        .col_expr(practitioners::Column::TotpLastStep, Expr::value(step))
        .filter(practitioners::Column::Id.eq(id))
        .filter(
            practitioners::Column::TotpLastStep
                .is_null()
                .or(practitioners::Column::TotpLastStep.lt(step)),
        )
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Replaces the stored recovery codes if they are still `old` (compare-and-set, so a
/// code is consumed once even under concurrency).
pub async fn replace_recovery_codes<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    old: &str,
    new: &str,
) -> R<bool> {
    let res = practitioners::Entity::update_many()
        .col_expr(practitioners::Column::RecoveryCodes, Expr::value(new))
        .filter(practitioners::Column::Id.eq(id))
        .filter(practitioners::Column::RecoveryCodes.eq(old))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

// ---------------------------------------------------------------- API tokens

pub async fn tokens_of<C: ConnectionTrait>(c: &C, practitioner: Uuid) -> R<Vec<api_tokens::Model>> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::PractitionerId.eq(practitioner))
        .order_by_asc(api_tokens::Column::CreatedAt)
        .order_by_asc(api_tokens::Column::Id)
        .all(c)
        .await?)
}

pub async fn token_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<api_tokens::Model>> {
    Ok(api_tokens::Entity::find_by_id(id).one(c).await?)
}

/// Revokes a token; returns whether it was still unrevoked.
pub async fn revoke_token<C: ConnectionTrait>(c: &C, id: Uuid, at: DateTime<Utc>) -> R<bool> {
    let res = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(at))
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

// ---------------------------------------------------------------- actors

/// A practitioner with their organisation, read together.
pub type PractitionerWithOrg = (
    crate::queries::PractitionerRow,
    crate::queries::OrganizationRow,
);

/// The token with `hash`, its owner and the owner's organisation: one joined statement.
pub async fn token_with_owner<C: ConnectionTrait>(
    c: &C,
    hash: &str,
) -> R<Option<(crate::queries::ApiTokenRow, PractitionerWithOrg)>> {
    use crate::entity::organizations;
    use crate::queries_access::prefixed_columns;
    use sea_orm::{FromQueryResult, Statement};
    use std::sync::LazyLock;
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"SELECT {}, {}, {} FROM "api_tokens" t JOIN "practitioners" p ON p."id" = t."practitioner_id" JOIN "organizations" o ON o."id" = p."organization_id" WHERE t."token_hash" = $1"#,
            prefixed_columns::<api_tokens::Entity>("t", "t_"),
            prefixed_columns::<practitioners::Entity>("p", "p_"),
            prefixed_columns::<organizations::Entity>("o", "o_"),
        )
    });
    let Some(row) = c
        .query_one_raw(Statement::from_sql_and_values(
            c.get_database_backend(),
            SQL.as_str(),
            [hash.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        crate::queries::ApiTokenRow::from_query_result(&row, "t_")?,
        (
            crate::queries::PractitionerRow::from_query_result(&row, "p_")?,
            crate::queries::OrganizationRow::from_query_result(&row, "o_")?,
        ),
    )))
}

/// The practitioner `id` with their organisation: one joined statement.
pub async fn practitioner_with_org<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> R<Option<PractitionerWithOrg>> {
    use crate::entity::organizations;
    use crate::queries_access::prefixed_columns;
    use sea_orm::{FromQueryResult, Statement};
    use std::sync::LazyLock;
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"SELECT {}, {} FROM "practitioners" p JOIN "organizations" o ON o."id" = p."organization_id" WHERE p."id" = $1"#,
            prefixed_columns::<practitioners::Entity>("p", "p_"),
            prefixed_columns::<organizations::Entity>("o", "o_"),
        )
    });
    let Some(row) = c
        .query_one_raw(Statement::from_sql_and_values(
            c.get_database_backend(),
            SQL.as_str(),
            [id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        crate::queries::PractitionerRow::from_query_result(&row, "p_")?,
        crate::queries::OrganizationRow::from_query_result(&row, "o_")?,
    )))
}
