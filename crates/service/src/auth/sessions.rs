//! Browser sessions: the cookie holds 256 random bits and only their SHA-256 is stored;
//! a session expires when idle or too old, and gives access only once its pending steps
//! (second factor, TOTP enrolment, password change) are done.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use renkei_store::queries::{self, OrganizationRow, PractitionerRow};
use renkei_store::queries_auth::{self, SessionRow};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ServiceError, Services, begin_write};

pub(super) fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// A session ends after this long without a request (S5: ≤ 30 min).
pub const SESSION_IDLE_SECS: i64 = 30 * 60;
/// A session ends this long after login whatever happens (S5: ≤ 12 h).
pub const SESSION_ABSOLUTE_SECS: i64 = 12 * 60 * 60;
/// `last_seen_at` is written at most this often per session.
pub(super) const TOUCH_EVERY_SECS: i64 = 15;

/// 256 random bits, base64url.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Constant-time string equality (for CSRF tokens).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether a cookie value has the shape of our tokens (43 base64url characters).
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

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

pub(super) fn next_step(
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
    let actor = match crate::actors::actor_of(db, p.id).await {
        Ok(a) => a,
        Err(ServiceError::Unauthenticated) => return Ok(None),
        Err(e) => return Err(e),
    };
    if at - row.last_seen_at >= secs(TOUCH_EVERY_SECS) {
        queries_auth::touch_session(db, row.id, at).await?;
    }
    Ok(Some(session_of(row, actor, &p, &org)))
}

pub(super) fn session_of(
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

pub(super) fn audit_login(
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
        region: String::new(),
        writes: Vec::new(),
    }
}
