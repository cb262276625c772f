//! Logins for people (issue 3 §6; quality S5, S6, P10): password login behind a
//! failed-login throttle and an account lockout, browser sessions, TOTP two-factor with
//! recovery codes, first-login password change; [`tokens`] manages API tokens.
//!
//! Order of work at `POST /login`, cheapest first, so an attacker never buys argon2 time:
//! 1. the throttle (per client address, and per login *from that address*, in
//!    `login_throttle`) reserves an attempt in one short write transaction, or refuses
//!    (429) without hashing. The lockout is tied to the address: failures from one
//!    address never lock the account for its owner at another;
//! 2. argon2id verification on the blocking pool (a dummy verification when there is no
//!    hash, so unknown logins take as long as wrong passwords);
//! 3. the result, the audit event and, on success, a new session in one transaction.
//!
//! Sessions: the cookie holds 256 random bits; only their SHA-256 is stored. Every login
//! creates a new session and revokes the one the browser presented, so a planted cookie
//! is useless. A session is usable only once its second factor is done (when the user
//! has TOTP or the organisation requires it) and the initial password is changed.

pub mod password;
pub mod secret_key;
pub mod tokens;
pub mod totp;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use renkei_domain::Rule;
use renkei_store::queries::{self, OrganizationRow, PractitionerRow};
use renkei_store::queries_auth::{self, SessionRow, ThrottleRow};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ServiceError, Services, admin, begin_write};

/// A session ends after this long without a request (S5: ≤ 30 min).
pub const SESSION_IDLE_SECS: i64 = 30 * 60;
/// A session ends this long after login whatever happens (S5: ≤ 12 h).
pub const SESSION_ABSOLUTE_SECS: i64 = 12 * 60 * 60;
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_SECS: i64 = 15;

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
/// Recovery codes issued at enrolment.
pub const RECOVERY_CODES: usize = 10;

const ISSUER: &str = "Renkei";

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// 256 random bits, base64url.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Constant-time string equality (for CSRF tokens).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The CSRF token of the login form, bound to the pre-login cookie `prelogin`: the form
/// must carry the token derived from the cookie the same browser holds.
pub fn prelogin_csrf(prelogin: &str) -> String {
    sha256_hex(&format!("renkei/prelogin-csrf/v1\n{prelogin}"))
}

/// A fresh pre-login cookie value.
pub fn new_prelogin() -> String {
    random_token()
}

/// Whether a cookie value has the shape of our tokens (43 base64url characters).
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Login ids as typed: NFKC (full-width letters become ASCII), trimmed, lowercase.
pub fn normalize_login(login: &str) -> String {
    login.nfkc().collect::<String>().trim().to_lowercase()
}

fn audit_login(
    p: Option<&PractitionerRow>,
    action: &'static str,
    resource_id: Option<String>,
    outcome: Outcome,
    detail: &str,
) -> AuditRecord {
    AuditRecord {
        practitioner_id: p.map(|p| p.id),
        organization_id: p.map(|p| p.organization_id),
        action,
        resource_type: "session",
        resource_id,
        patient_id: None,
        care_plan_id: None,
        outcome,
        detail: Some(detail.to_owned()),
        writes: Vec::new(),
    }
}

// ---------------------------------------------------------------- throttle

/// A throttle bucket: a key and how many failures a window allows.
#[derive(Debug, Clone)]
struct Bucket {
    key: String,
    limit: i32,
}

fn blocked_for(row: &ThrottleRow, limit: i32, at: DateTime<Utc>) -> Option<Duration> {
    let end = row.window_start + secs(THROTTLE_WINDOW_SECS);
    (row.failures >= limit && end > at).then(|| end - at)
}

/// Reserves one attempt in every bucket, or names the first bucket that is full and for
/// how long. The first look is a plain read, so an attack that is already throttled
/// costs one indexed read per bucket and no write.
async fn reserve(
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

async fn reserve_once(
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

fn address_bucket(meta: &RequestMeta) -> Bucket {
    Bucket {
        key: format!("addr:{}", meta.client_addr.as_deref().unwrap_or("unknown")),
        limit: ADDRESS_LIMIT,
    }
}

/// Failures of one login from one client address: a lockout here stops that address
/// only, so nobody can lock a colleague out by guessing from elsewhere.
fn login_bucket(login: &str, meta: &RequestMeta) -> Bucket {
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

fn unauthenticated_bucket(meta: &RequestMeta) -> Bucket {
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
            writes: Vec::new(),
        },
    )
    .await
}

fn second_factor_bucket(practitioner: Uuid) -> Bucket {
    Bucket {
        key: format!("2fa:{practitioner}"),
        limit: SECOND_FACTOR_LIMIT,
    }
}

fn password_change_bucket(practitioner: Uuid) -> Bucket {
    Bucket {
        key: format!("pwchange:{practitioner}"),
        limit: SECOND_FACTOR_LIMIT,
    }
}

/// Runs a CPU-heavy password function off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("password task failed: {e}")))
}

// ---------------------------------------------------------------- sessions

/// A session just issued: the cookie value (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub token: String,
    pub csrf_token: String,
}

/// Where a session must go next before it gives access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Enter a TOTP or recovery code (`/login/totp`).
    SecondFactor,
    /// The organisation requires two-factor and the user has none: enrol first
    /// (`/account/totp`).
    EnrolTotp,
    /// The initial password must be changed (`/password`).
    ChangePassword,
    /// Fully logged in.
    Ready,
}

/// A live session, resolved from its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub actor: Actor,
    pub organization_name: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub second_factor_done: bool,
    pub totp_enabled: bool,
    pub organization_requires_totp: bool,
    pub must_change_password: bool,
}

impl Session {
    /// What the session must do before it gives access; [`Step::Ready`] when nothing.
    pub fn next_step(&self) -> Step {
        next_step(
            self.second_factor_done,
            self.totp_enabled,
            self.organization_requires_totp,
            self.must_change_password,
        )
    }
}

fn next_step(
    second_factor_done: bool,
    totp_enabled: bool,
    org_requires_totp: bool,
    must_change_password: bool,
) -> Step {
    if !second_factor_done {
        if totp_enabled {
            return Step::SecondFactor;
        }
        if org_requires_totp {
            return Step::EnrolTotp;
        }
    }
    if must_change_password {
        return Step::ChangePassword;
    }
    Step::Ready
}

/// Resolves a session cookie: `None` when unknown, revoked, idle for more than 30
/// minutes, older than 12 hours, or its practitioner is disabled. Records activity.
pub async fn resume_session(
    services: &Services,
    token: &str,
) -> Result<Option<Session>, ServiceError> {
    let db = &services.db;
    if !is_token_shaped(token) {
        return Ok(None);
    }
    let Some(row) = queries_auth::session_by_token_hash(db, &sha256_hex(token)).await? else {
        return Ok(None);
    };
    let at = services.now();
    if row.revoked_at.is_some()
        || row.expires_at <= at
        || row.last_seen_at + secs(SESSION_IDLE_SECS) <= at
    {
        return Ok(None);
    }
    let Some(p) = queries::practitioner_by_id(db, row.practitioner_id).await? else {
        return Ok(None);
    };
    if p.disabled_at.is_some() {
        return Ok(None);
    }
    let Some(org) = queries::organization_by_id(db, p.organization_id).await? else {
        return Ok(None);
    };
    let actor = match admin::actor_of(db, p.id).await {
        Ok(a) => a,
        Err(ServiceError::Unauthenticated) => return Ok(None),
        Err(e) => return Err(e),
    };
    if at - row.last_seen_at >= secs(TOUCH_EVERY_SECS) {
        queries_auth::touch_session(db, row.id, at).await?;
    }
    Ok(Some(session_of(row, actor, &p, &org)))
}

fn session_of(
    row: SessionRow,
    actor: Actor,
    p: &PractitionerRow,
    org: &OrganizationRow,
) -> Session {
    Session {
        id: row.id,
        actor,
        organization_name: org.name.clone(),
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        expires_at: row.expires_at,
        second_factor_done: row.second_factor_done,
        totp_enabled: p.totp_enabled,
        organization_requires_totp: org.require_totp,
        must_change_password: p.must_change_password,
    }
}

/// Ends a session (logout). Audited.
pub async fn logout(
    services: &Services,
    meta: &RequestMeta,
    session: &Session,
) -> Result<(), ServiceError> {
    let db = &services.db;
    let txn = begin_write(db).await?;
    let at = services.now();
    queries_auth::revoke_session(&txn, session.id, at).await?;
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            &session.actor,
            "logout",
            "session",
            Some(session.id.to_string()),
            Outcome::Allowed,
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Audits a form POST refused for a missing or wrong CSRF token (nothing else happens).
pub async fn record_csrf_rejection(
    services: &Services,
    meta: &RequestMeta,
    action: &'static str,
    session: Option<&Session>,
) -> Result<(), ServiceError> {
    let record = match session {
        Some(s) => AuditRecord::by(
            &s.actor,
            action,
            "session",
            Some(s.id.to_string()),
            Outcome::Denied,
        )
        .detail("csrf"),
        None => audit_login(None, action, None, Outcome::Denied, "csrf"),
    };
    audit::record_now(services, meta, record).await
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

// ---------------------------------------------------------------- password login

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

// ---------------------------------------------------------------- second factor

/// What a second-factor attempt came to.
#[derive(Debug, Clone)]
pub enum SecondFactorResult {
    /// Passed: the session was rotated (new cookie and CSRF token).
    Passed {
        session: IssuedSession,
        next: Step,
    },
    Rejected,
    Throttled {
        retry_after: Duration,
    },
}

/// Normalises a typed code: NFKC (full-width digits), no spaces or hyphens, lowercase.
fn normalize_code(code: &str) -> String {
    code.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase()
}

fn recovery_hash(practitioner: Uuid, code: &str) -> String {
    sha256_hex(&format!(
        "renkei/recovery/v1\n{practitioner}\n{}",
        normalize_code(code)
    ))
}

/// The login's second step: a TOTP code (±1 step, each step once) or a recovery code
/// (consumed). Throttled per practitioner.
pub async fn second_factor(
    services: &Services,
    meta: &RequestMeta,
    session: &Session,
    code: &str,
) -> Result<SecondFactorResult, ServiceError> {
    let db = &services.db;
    const ACTION: &str = "login.totp";
    let record = |outcome, detail: &str| {
        AuditRecord::by(
            &session.actor,
            ACTION,
            "session",
            Some(session.id.to_string()),
            outcome,
        )
        .detail(detail)
    };
    let bucket = second_factor_bucket(session.actor.practitioner_id);
    if let Err((_, wait)) = reserve(services, std::slice::from_ref(&bucket)).await? {
        audit::record_now(services, meta, record(Outcome::Denied, "throttled")).await?;
        return Ok(SecondFactorResult::Throttled { retry_after: wait });
    }
    let p = queries::practitioner_by_id(db, session.actor.practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    let stored = p.totp_secret.as_deref().filter(|_| p.totp_enabled);
    let secret_b32 = match stored.map(|s| open_secret(services, p.id, s)).transpose() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(practitioner = %p.id, error = %e, "cannot read the TOTP secret");
            audit::record_now(services, meta, record(Outcome::Denied, "secret_unreadable")).await?;
            return Ok(SecondFactorResult::Rejected);
        }
    };
    let secret = secret_b32.as_deref().and_then(totp::base32_decode);
    let Some(secret) = secret else {
        audit::record_now(services, meta, record(Outcome::Denied, "not_enrolled")).await?;
        return Ok(SecondFactorResult::Rejected);
    };
    let code = normalize_code(code);
    let issued = IssuedSession {
        token: random_token(),
        csrf_token: random_token(),
    };
    let at = services.now();
    let now_step = totp::step_at(at.timestamp());
    let txn = begin_write(db).await?;
    let passed: Result<&str, &str> = if code.len() == totp::DIGITS as usize {
        match totp::matching_step(&secret, &code, now_step, p.totp_last_step) {
            Some(step) if queries_auth::claim_totp_step(&txn, p.id, step).await? => Ok("totp"),
            Some(_) => Err("reused"),
            None if totp::is_replay(&secret, &code, now_step, p.totp_last_step) => Err("reused"),
            None => Err("bad_code"),
        }
    } else {
        consume_recovery_code(&txn, &p, &code).await?
    };
    match passed {
        Ok(how) => {
            if !queries_auth::complete_second_factor(
                &txn,
                session.id,
                &sha256_hex(&issued.token),
                &issued.csrf_token,
                at,
            )
            .await?
            {
                txn.rollback().await?;
                return Err(ServiceError::Unauthenticated);
            }
            queries_auth::throttle_clear(&txn, &bucket.key).await?;
            // A secret stored in plain text before encryption is sealed now.
            if let (Some(old), Some(plain), Some(key)) =
                (stored, &secret_b32, &services.security.secret_key)
                && !secret_key::is_sealed(old)
            {
                queries_auth::reseal_totp_secret(&txn, p.id, old, &key.seal(p.id, plain)).await?;
            }
            audit::record(&txn, at, meta, record(Outcome::Allowed, how)).await?;
            txn.commit().await?;
            Ok(SecondFactorResult::Passed {
                session: issued,
                next: next_step(true, true, false, p.must_change_password),
            })
        }
        Err(why) => {
            audit::record(&txn, at, meta, record(Outcome::Denied, why)).await?;
            txn.commit().await?;
            Ok(SecondFactorResult::Rejected)
        }
    }
}

async fn consume_recovery_code(
    txn: &sea_orm::DatabaseTransaction,
    p: &PractitionerRow,
    code: &str,
) -> Result<Result<&'static str, &'static str>, ServiceError> {
    let Some(stored) = p.recovery_codes.as_deref() else {
        return Ok(Err("bad_code"));
    };
    let mut hashes: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
    let wanted = recovery_hash(p.id, code);
    let Some(pos) = hashes.iter().position(|h| tokens_equal(h, &wanted)) else {
        return Ok(Err("bad_code"));
    };
    hashes.remove(pos);
    let new = serde_json::to_string(&hashes).unwrap_or_else(|_| "[]".into());
    if queries_auth::replace_recovery_codes(txn, p.id, stored, &new).await? {
        Ok(Ok("recovery_code"))
    } else {
        Ok(Err("reused"))
    }
}

/// How many unused recovery codes a practitioner has.
pub async fn recovery_codes_left(
    db: &DatabaseConnection,
    practitioner: Uuid,
) -> Result<usize, ServiceError> {
    let p = queries::practitioner_by_id(db, practitioner)
        .await?
        .ok_or(ServiceError::NotFound("practitioner"))?;
    Ok(p.recovery_codes
        .as_deref()
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .map_or(0, |v| v.len()))
}

// ---------------------------------------------------------------- TOTP enrolment

/// The enrolment page's content.
#[derive(Debug, Clone)]
pub enum Enrolment {
    /// Two-factor is already on.
    Enabled { recovery_codes_left: usize },
    /// A secret awaiting confirmation with a code.
    Pending { secret: String, uri: String },
}

/// A stored TOTP secret in base32, opened with the server's key (plain text from
/// before encryption passes through).
fn open_secret(
    services: &Services,
    owner: Uuid,
    stored: &str,
) -> Result<String, secret_key::OpenError> {
    secret_key::open(services.security.secret_key.as_ref(), owner, stored)
}

/// Why enrolment is refused on a server without a secret key.
pub const TOTP_NEEDS_KEY: &str = "このサーバーには二要素認証の秘密情報を暗号化する鍵が設定されていないため、\
     二要素認証を登録できません。管理者に連絡してください(RENKEI_SECRET_KEY または --secret-key-file)。";

/// Two-factor enrolment needs the key that seals secrets at rest.
fn enrolment_key(services: &Services) -> Result<&secret_key::SecretKey, ServiceError> {
    services
        .security
        .secret_key
        .as_ref()
        .ok_or_else(|| ServiceError::Conflict {
            code: crate::ErrorCode::InvalidTransition,
            message: TOTP_NEEDS_KEY.into(),
        })
}

/// The secret to enrol (created on first visit, then the same until confirmed). It is
/// stored sealed with the server's key; without a key enrolment is refused.
pub async fn totp_enrolment(
    services: &Services,
    session: &Session,
) -> Result<Enrolment, ServiceError> {
    let db = &services.db;
    let p = queries::practitioner_by_id(db, session.actor.practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if p.totp_enabled {
        let left = p
            .recovery_codes
            .as_deref()
            .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
            .map_or(0, |v| v.len());
        return Ok(Enrolment::Enabled {
            recovery_codes_left: left,
        });
    }
    let key = enrolment_key(services)?;
    let pending = p
        .totp_secret
        .as_deref()
        .filter(|s| secret_key::is_sealed(s))
        .and_then(|s| open_secret(services, p.id, s).ok())
        .filter(|s| totp::base32_decode(s).is_some_and(|b| b.len() == totp::SECRET_BYTES));
    let secret = match pending {
        Some(s) => s,
        None => {
            let s = totp::base32_encode(&totp::new_secret());
            queries_auth::set_pending_totp_secret(db, p.id, &key.seal(p.id, &s)).await?;
            s
        }
    };
    let account = format!("{}@{}", p.login, session.actor.organization_code);
    Ok(Enrolment::Pending {
        uri: totp::otpauth_uri(ISSUER, &account, &secret),
        secret,
    })
}

/// What confirming an enrolment came to.
#[derive(Debug, Clone)]
pub enum ConfirmResult {
    /// Two-factor is on: the recovery codes (shown once) and the rotated session.
    Enabled {
        recovery_codes: Vec<String>,
        session: IssuedSession,
        next: Step,
    },
    /// The code did not match.
    Rejected,
    /// The password asked again did not match.
    WrongPassword,
    Throttled {
        retry_after: Duration,
    },
}

fn new_recovery_code() -> String {
    // 16 characters from a 32-letter alphabet without look-alikes (no i, l, o, 1): 80 bits.
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Confirms enrolment with the account's password (asked again, so an unattended
/// session cannot bind someone else's phone) and a code from the app: two-factor is
/// turned on, ten recovery codes are issued (stored hashed), and the session counts as
/// second-factor done.
pub async fn confirm_totp(
    services: &Services,
    meta: &RequestMeta,
    session: &Session,
    password: &str,
    code: &str,
) -> Result<ConfirmResult, ServiceError> {
    let db = &services.db;
    enrolment_key(services)?;
    const ACTION: &str = "totp.enrol";
    let record = |outcome, detail: &str| {
        AuditRecord::by(
            &session.actor,
            ACTION,
            "practitioner",
            Some(session.actor.practitioner_id.to_string()),
            outcome,
        )
        .detail(detail)
    };
    let bucket = second_factor_bucket(session.actor.practitioner_id);
    if let Err((_, wait)) = reserve(services, std::slice::from_ref(&bucket)).await? {
        audit::record_now(services, meta, record(Outcome::Denied, "throttled")).await?;
        return Ok(ConfirmResult::Throttled { retry_after: wait });
    }
    let p = queries::practitioner_by_id(db, session.actor.practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if p.totp_enabled {
        return Err(ServiceError::Conflict {
            code: crate::ErrorCode::Duplicate,
            message: "two-factor authentication is already enabled".into(),
        });
    }
    let stored = p.password_hash.clone();
    let typed = password.to_owned();
    let password_ok = blocking(move || match stored {
        Some(h) => password::verify(&h, &typed).ok,
        None => {
            password::verify_dummy(&typed);
            false
        }
    })
    .await?;
    if !password_ok {
        audit::record_now(services, meta, record(Outcome::Denied, "bad_password")).await?;
        return Ok(ConfirmResult::WrongPassword);
    }
    let Some(sealed) = p.totp_secret.clone().filter(|s| secret_key::is_sealed(s)) else {
        return Ok(ConfirmResult::Rejected);
    };
    let Some(secret) = open_secret(services, p.id, &sealed)
        .ok()
        .and_then(|s| totp::base32_decode(&s))
    else {
        return Ok(ConfirmResult::Rejected);
    };
    let at = services.now();
    let Some(step) = totp::matching_step(
        &secret,
        &normalize_code(code),
        totp::step_at(at.timestamp()),
        None,
    ) else {
        audit::record_now(services, meta, record(Outcome::Denied, "bad_code")).await?;
        return Ok(ConfirmResult::Rejected);
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(p.id, c)).collect();
    let issued = IssuedSession {
        token: random_token(),
        csrf_token: random_token(),
    };
    let txn = begin_write(db).await?;
    let enabled = queries_auth::enable_totp(
        &txn,
        p.id,
        &sealed,
        step,
        &serde_json::to_string(&hashes).unwrap_or_else(|_| "[]".into()),
    )
    .await?;
    if !enabled {
        txn.rollback().await?;
        return Ok(ConfirmResult::Rejected);
    }
    queries_auth::complete_second_factor(
        &txn,
        session.id,
        &sha256_hex(&issued.token),
        &issued.csrf_token,
        at,
    )
    .await?;
    queries_auth::throttle_clear(&txn, &bucket.key).await?;
    audit::record(&txn, at, meta, record(Outcome::Allowed, "enabled")).await?;
    txn.commit().await?;
    Ok(ConfirmResult::Enabled {
        recovery_codes: codes,
        session: issued,
        next: next_step(true, true, false, p.must_change_password),
    })
}

// ---------------------------------------------------------------- password change

/// What a password change came to (rule violations are `ServiceError::Validation`).
#[derive(Debug, Clone)]
pub enum PasswordChange {
    Changed,
    Throttled { retry_after: Duration },
}

/// Changes the session user's password: the current one must verify, the new one must
/// follow the rules (two-factor users may use 8 characters) and differ from the
/// current one. Every other session of the user is revoked.
pub async fn change_password(
    services: &Services,
    meta: &RequestMeta,
    session: &Session,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<PasswordChange, ServiceError> {
    let db = &services.db;
    const ACTION: &str = "password.change";
    let record = |outcome, detail: &str| {
        AuditRecord::by(
            &session.actor,
            ACTION,
            "practitioner",
            Some(session.actor.practitioner_id.to_string()),
            outcome,
        )
        .detail(detail)
    };
    let p = queries::practitioner_by_id(db, session.actor.practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    let mut errors = password::problems(new, &p.login, p.totp_enabled, "new_password");
    if new != confirm {
        errors.push(renkei_domain::FieldError::new(
            "confirm",
            Rule::Mismatch,
            "確認用のパスワードが一致しません",
        ));
    }
    if new == current {
        errors.push(renkei_domain::FieldError::new(
            "new_password",
            Rule::Unchanged,
            "現在と同じパスワードは使えません",
        ));
    }
    // Rule violations are answered before any hashing and cost no attempt.
    if !errors.is_empty() {
        audit::record_now(services, meta, record(Outcome::Denied, "rules")).await?;
        return Err(ServiceError::Validation(errors));
    }
    let bucket = password_change_bucket(p.id);
    if let Err((_, wait)) = reserve(services, std::slice::from_ref(&bucket)).await? {
        audit::record_now(services, meta, record(Outcome::Denied, "throttled")).await?;
        return Ok(PasswordChange::Throttled { retry_after: wait });
    }
    let stored = p.password_hash.clone();
    let typed = current.to_owned();
    let ok = blocking(move || match stored {
        Some(h) => password::verify(&h, &typed).ok,
        None => {
            password::verify_dummy(&typed);
            false
        }
    })
    .await?;
    if !ok {
        audit::record_now(
            services,
            meta,
            record(Outcome::Denied, "bad_current_password"),
        )
        .await?;
        return Err(ServiceError::field(
            "current_password",
            Rule::Wrong,
            "現在のパスワードが正しくありません",
        ));
    }
    let typed = new.to_owned();
    let hash = blocking(move || password::hash(&typed)).await??;
    let at = services.now();
    let txn = begin_write(db).await?;
    queries_auth::set_password(&txn, p.id, &hash, at).await?;
    let revoked = queries_auth::revoke_other_sessions(&txn, p.id, Some(session.id), at).await?;
    queries_auth::throttle_clear(&txn, &bucket.key).await?;
    audit::record(
        &txn,
        at,
        meta,
        record(
            Outcome::Allowed,
            &format!("changed; {revoked} other session(s) ended"),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(PasswordChange::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_in_order() {
        assert_eq!(next_step(false, true, false, true), Step::SecondFactor);
        assert_eq!(next_step(false, false, true, true), Step::EnrolTotp);
        assert_eq!(next_step(false, false, false, true), Step::ChangePassword);
        assert_eq!(next_step(true, true, true, true), Step::ChangePassword);
        assert_eq!(next_step(true, true, true, false), Step::Ready);
        assert_eq!(next_step(false, false, false, false), Step::Ready);
    }

    #[test]
    fn tokens_and_codes() {
        let t = random_token();
        assert!(is_token_shaped(&t));
        assert!(!is_token_shaped("short"));
        assert_ne!(random_token(), t);
        assert!(tokens_equal(&prelogin_csrf(&t), &prelogin_csrf(&t)));
        assert!(!tokens_equal(
            &prelogin_csrf(&t),
            &prelogin_csrf(&random_token())
        ));
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(
            recovery_hash(Uuid::nil(), &code),
            recovery_hash(Uuid::nil(), &code.to_uppercase().replace('-', " "))
        );
        assert_eq!(normalize_code("１２３ ４５６"), "123456");
        assert_eq!(normalize_login(" ＳＡＴＯ "), "sato");
    }
}
