//! The TOTP use cases: the login's second step (a TOTP code or a recovery code) and
//! enrolment with its recovery codes. The algorithm is in [`super::totp`].

use chrono::Duration;
use rand::RngCore;
use renkei_store::queries::{self, PractitionerRow};
use renkei_store::queries_auth::{self};
use sea_orm::DatabaseConnection;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use super::login::*;
use super::sessions::*;
use super::throttle::*;
use super::{password, secret_key, totp};
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{ServiceError, Services, begin_write};

/// Recovery codes issued at enrolment.
pub const RECOVERY_CODES: usize = 10;

pub(super) const ISSUER: &str = "Renkei";

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
pub(super) fn normalize_code(code: &str) -> String {
    code.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase()
}

pub(super) fn recovery_hash(practitioner: Uuid, code: &str) -> String {
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

pub(super) async fn consume_recovery_code(
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
pub(super) fn open_secret(
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
pub(super) fn enrolment_key(services: &Services) -> Result<&secret_key::SecretKey, ServiceError> {
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

pub(super) fn new_recovery_code() -> String {
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
