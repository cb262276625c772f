//! The failed-login throttle and account lockout: buckets per client address, per login
//! from an address and per practitioner, reserved before any password hashing.

use chrono::{DateTime, Duration, Utc};
use renkei_store::queries_auth::{self, ThrottleRow};
use uuid::Uuid;

use super::sessions::*;
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{ServiceError, Services, begin_write};

/// Failed logins from one address that lock the account for that address …
pub const LOCKOUT_AFTER: i32 = 5;
/// … for this long (one throttle window).
pub const LOCKOUT_SECS: i64 = THROTTLE_WINDOW_SECS;
/// Length of a throttle window.
pub const THROTTLE_WINDOW_SECS: i64 = 15 * 60;
/// Failed password attempts per client address per window.
pub const ADDRESS_LIMIT: i32 = 10;
/// Failed password attempts per login name and client address per window (whether the
/// login exists or not, so an unknown login behaves like a locked one).
pub const LOGIN_LIMIT: i32 = LOCKOUT_AFTER;
/// Refused requests (no or a bad token or session cookie) audited per client address
/// per window; past that they are only counted, so they cannot flood the audit chain.
pub const UNAUTHENTICATED_AUDIT_LIMIT: i32 = 100;
/// Failed second-factor (or current-password) attempts per practitioner per window.
pub const SECOND_FACTOR_LIMIT: i32 = 5;
/// A throttle bucket: a key and how many failures a window allows.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    pub(super) key: String,
    pub(super) limit: i32,
}

pub(super) fn blocked_for(row: &ThrottleRow, limit: i32, at: DateTime<Utc>) -> Option<Duration> {
    let end = row.window_start + secs(THROTTLE_WINDOW_SECS);
    (row.failures >= limit && end > at).then(|| end - at)
}

/// Reserves one attempt in every bucket, or names the first bucket that is full and for
/// how long. The first look is a plain read, so an attack that is already throttled
/// costs one indexed read per bucket and no write.
pub(super) async fn reserve(
    services: &Services,
    buckets: &[Bucket],
) -> Result<Result<(), (usize, Duration)>, ServiceError> {
    let db = &services.db;
    let at = services.now();
    for (i, b) in buckets.iter().enumerate() {
        if let Some(row) = queries_auth::throttle_row(db, &b.key).await?
            && let Some(wait) = blocked_for(&row, b.limit, at)
        {
            return Ok(Err((i, wait)));
        }
    }
    // Two first attempts racing to insert the same key on PostgreSQL: one gets a
    // unique violation; the retry then finds the row and locks it.
    let mut tries = 0;
    loop {
        tries += 1;
        match reserve_once(services, buckets).await {
            Err(ServiceError::Conflict { .. }) if tries < 3 => continue,
            other => return other,
        }
    }
}

pub(super) async fn reserve_once(
    services: &Services,
    buckets: &[Bucket],
) -> Result<Result<(), (usize, Duration)>, ServiceError> {
    let db = &services.db;
    let at = services.now();
    let txn = begin_write(db).await?;
    for (i, b) in buckets.iter().enumerate() {
        match queries_auth::throttle_row_for_update(&txn, &b.key).await? {
            None => {
                queries_auth::insert_throttle(
                    &txn,
                    ThrottleRow {
                        id: Uuid::now_v7(),
                        key: b.key.clone(),
                        window_start: at,
                        failures: 1,
                    },
                )
                .await?
            }
            Some(row) => {
                if let Some(wait) = blocked_for(&row, b.limit, at) {
                    txn.rollback().await?;
                    return Ok(Err((i, wait)));
                }
                if row.window_start + secs(THROTTLE_WINDOW_SECS) <= at {
                    queries_auth::set_throttle(&txn, row.id, at, 1).await?;
                } else {
                    queries_auth::set_throttle(&txn, row.id, row.window_start, row.failures + 1)
                        .await?;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(Ok(()))
}

pub(super) fn address_bucket(meta: &RequestMeta) -> Bucket {
    Bucket {
        key: format!("addr:{}", meta.client_addr.as_deref().unwrap_or("unknown")),
        limit: ADDRESS_LIMIT,
    }
}

/// Failures of one login from one client address: a lockout here stops that address
/// only, so nobody can lock a colleague out by guessing from elsewhere.
pub(super) fn login_bucket(login: &str, meta: &RequestMeta) -> Bucket {
    let plain = !login.is_empty()
        && login.len() <= 64
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    let name = if plain {
        login.to_owned()
    } else {
        format!("#{}", &sha256_hex(login)[..32])
    };
    Bucket {
        key: format!(
            "login:{name}@{}",
            meta.client_addr.as_deref().unwrap_or("unknown")
        ),
        limit: LOGIN_LIMIT,
    }
}

pub(super) fn unauthenticated_bucket(meta: &RequestMeta) -> Bucket {
    Bucket {
        key: format!("401:{}", meta.client_addr.as_deref().unwrap_or("unknown")),
        limit: UNAUTHENTICATED_AUDIT_LIMIT,
    }
}

/// Audits a request refused for want of authentication (401, or a browser sent back
/// to the login page with a session cookie that is no longer valid): who cannot be
/// known, so the event carries the client address, the request id and `detail` (never
/// the token). At most [`UNAUTHENTICATED_AUDIT_LIMIT`] per address per window are
/// audited; the rest are counted only.
pub async fn record_unauthenticated(
    services: &Services,
    meta: &RequestMeta,
    action: &'static str,
    detail: &str,
) -> Result<(), ServiceError> {
    if reserve(services, &[unauthenticated_bucket(meta)])
        .await?
        .is_err()
    {
        tracing::debug!(client = ?meta.client_addr, "unauthenticated request not audited: limit reached");
        return Ok(());
    }
    audit::record_now(
        services,
        meta,
        AuditRecord {
            practitioner_id: None,
            organization_id: None,
            action,
            resource_type: "session",
            resource_id: None,
            patient_id: None,
            care_plan_id: None,
            outcome: Outcome::Denied,
            detail: Some(format!("unauthenticated: {detail}")),
            region: String::new(),
            writes: Vec::new(),
        },
    )
    .await
}

pub(super) fn second_factor_bucket(practitioner: Uuid) -> Bucket {
    Bucket {
        key: format!("2fa:{practitioner}"),
        limit: SECOND_FACTOR_LIMIT,
    }
}

pub(super) fn password_change_bucket(practitioner: Uuid) -> Bucket {
    Bucket {
        key: format!("pwchange:{practitioner}"),
        limit: SECOND_FACTOR_LIMIT,
    }
}
