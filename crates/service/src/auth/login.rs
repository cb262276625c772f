//! Password login: the throttle first, argon2id on the blocking pool, then the result, its
//! audit event and a new session in one transaction.

use chrono::Duration;
use renkei_store::queries;
use renkei_store::queries_auth::{self, SessionRow};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use super::password;
use super::sessions::*;
use super::throttle::*;
use crate::audit::{self, Outcome, RequestMeta};
use crate::{ServiceError, Services, begin_write};

/// The CSRF token of the login form, bound to the pre-login cookie `prelogin`: the form
/// must carry the token derived from the cookie the same browser holds.
pub fn prelogin_csrf(prelogin: &str) -> String {
    sha256_hex(&format!("renkei/prelogin-csrf/v1\n{prelogin}"))
}

/// A fresh pre-login cookie value.
pub fn new_prelogin() -> String {
    random_token()
}

/// Login ids as typed: NFKC (full-width letters become ASCII), trimmed, lowercase.
pub fn normalize_login(login: &str) -> String {
    login.nfkc().collect::<String>().trim().to_lowercase()
}

/// A `POST /login` refused before it reached the login itself (no valid CSRF token):
/// it counts against the client address like a failed attempt, so a flood of such
/// posts is answered 429 like any other. Returns how long the address must wait when it
/// is throttled (then the caller answers 429), else records the CSRF refusal.
pub async fn refuse_login_post(
    services: &Services,
    meta: &RequestMeta,
) -> Result<Option<Duration>, ServiceError> {
    match reserve(services, &[address_bucket(meta)]).await? {
        Err((_, wait)) => {
            audit::record_now(
                services,
                meta,
                audit_login(
                    None,
                    "login.password",
                    None,
                    Outcome::Denied,
                    "throttled:address",
                ),
            )
            .await?;
            Ok(Some(wait))
        }
        Ok(()) => {
            record_csrf_rejection(services, meta, "login.password", None).await?;
            Ok(None)
        }
    }
}

/// Runs a CPU-heavy password function off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("password task failed: {e}")))
}

/// What a password login came to.
#[derive(Debug, Clone)]
pub enum LoginResult {
    /// A new session; `next` says where it must go before it gives access.
    LoggedIn { session: IssuedSession, next: Step },
    /// Wrong login or password (the answer never says which).
    Rejected,
    /// Too many failures for this account or login name: wait.
    Locked { retry_after: Duration },
    /// Too many failures from this address: wait.
    Throttled { retry_after: Duration },
}

/// Password login. `replaced` is the session cookie the browser presented, if any: it is
/// revoked on success (the session id always changes at login).
pub async fn login(
    services: &Services,
    meta: &RequestMeta,
    login: &str,
    password: &str,
    replaced: Option<&str>,
) -> Result<LoginResult, ServiceError> {
    let db = &services.db;
    const ACTION: &str = "login.password";
    let login = normalize_login(login);
    let address = address_bucket(meta);
    let account = login_bucket(&login, meta);

    // 1. Throttle, before anything costly.
    if let Err((which, wait)) = reserve(services, &[address.clone(), account.clone()]).await? {
        let p = queries::practitioner_by_login(db, &login).await?;
        let (detail, result) = if which == 0 {
            (
                "throttled:address",
                LoginResult::Throttled { retry_after: wait },
            )
        } else {
            ("throttled:login", LoginResult::Locked { retry_after: wait })
        };
        metrics::counter!("renkei_login_failures_total").increment(1);
        audit::record_now(
            services,
            meta,
            audit_login(p.as_ref(), ACTION, None, Outcome::Denied, detail),
        )
        .await?;
        return Ok(result);
    }

    let p = queries::practitioner_by_login(db, &login).await?;
    let at = services.now();

    // 2. argon2id, off the async workers.
    let stored = p.as_ref().and_then(|p| p.password_hash.clone());
    let typed = password.to_owned();
    let verified = blocking(move || match stored {
        Some(h) => password::verify(&h, &typed),
        None => {
            password::verify_dummy(&typed);
            password::Verified {
                ok: false,
                needs_rehash: false,
            }
        }
    })
    .await?;

    let failure = match &p {
        None => Some("unknown_login"),
        Some(p) if p.password_hash.is_none() => Some("no_password"),
        Some(_) if !verified.ok => Some("bad_password"),
        Some(p) if p.disabled_at.is_some() => Some("disabled"),
        Some(_) => None,
    };
    if let Some(detail) = failure {
        metrics::counter!("renkei_login_failures_total").increment(1);
        let txn = begin_write(db).await?;
        if let Some(p) = &p
            && detail == "bad_password"
        {
            queries_auth::add_failed_login(&txn, p.id).await?;
            audit::record(
                &txn,
                at,
                meta,
                audit_login(Some(p), ACTION, None, Outcome::Denied, detail),
            )
            .await?;
            let failures = queries_auth::throttle_row(&txn, &account.key)
                .await?
                .map_or(0, |r| r.failures);
            if failures >= LOCKOUT_AFTER {
                let mut lockout = audit_login(
                    Some(p),
                    "login.lockout",
                    Some(p.id.to_string()),
                    Outcome::Denied,
                    &format!(
                        "{failures} failures from this address; locked there for {} min",
                        LOCKOUT_SECS / 60
                    ),
                );
                lockout.resource_type = "practitioner";
                audit::record(&txn, at, meta, lockout).await?;
            }
        } else {
            audit::record(
                &txn,
                at,
                meta,
                audit_login(p.as_ref(), ACTION, None, Outcome::Denied, detail),
            )
            .await?;
        }
        txn.commit().await?;
        return Ok(LoginResult::Rejected);
    }
    let Some(p) = p else {
        return Ok(LoginResult::Rejected);
    };

    // 3. Success: a new session; the presented one (if any) is revoked.
    let rehash = if verified.needs_rehash {
        let typed = password.to_owned();
        Some(blocking(move || password::hash(&typed)).await??)
    } else {
        None
    };
    let org = queries::organization_by_id(db, p.organization_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("practitioner {} has no organisation", p.id))?;
    if org.deactivated_at.is_some() {
        audit::record_now(
            services,
            meta,
            audit_login(
                Some(&p),
                ACTION,
                None,
                Outcome::Denied,
                "organization_deactivated",
            ),
        )
        .await?;
        return Ok(LoginResult::Rejected);
    }
    let issued = IssuedSession {
        token: random_token(),
        csrf_token: random_token(),
    };
    let session_id = Uuid::now_v7();
    let txn = begin_write(db).await?;
    if let Some(old) = replaced.filter(|t| is_token_shaped(t))
        && let Some(old) = queries_auth::session_by_token_hash(&txn, &sha256_hex(old)).await?
    {
        queries_auth::revoke_session(&txn, old.id, at).await?;
    }
    queries_auth::record_login_success(&txn, p.id, rehash.clone()).await?;
    queries_auth::purge_sessions_of(&txn, p.id, at - secs(SESSION_ABSOLUTE_SECS)).await?;
    queries_auth::insert_session(
        &txn,
        SessionRow {
            id: session_id,
            token_hash: sha256_hex(&issued.token),
            practitioner_id: p.id,
            csrf_token: issued.csrf_token.clone(),
            created_at: at,
            last_seen_at: at,
            expires_at: at + secs(SESSION_ABSOLUTE_SECS),
            second_factor_done: false,
            revoked_at: None,
        },
    )
    .await?;
    queries_auth::throttle_refund(&txn, &address.key).await?;
    queries_auth::throttle_clear(&txn, &account.key).await?;
    queries_auth::purge_throttle(&txn, at - secs(THROTTLE_WINDOW_SECS)).await?;
    let detail = if rehash.is_some() {
        "ok; rehashed"
    } else {
        "ok"
    };
    audit::record(
        &txn,
        at,
        meta,
        audit_login(
            Some(&p),
            ACTION,
            Some(session_id.to_string()),
            Outcome::Allowed,
            detail,
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(LoginResult::LoggedIn {
        session: issued,
        next: next_step(
            false,
            p.totp_enabled,
            org.require_totp,
            p.must_change_password,
        ),
    })
}
