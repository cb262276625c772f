//! The change-password use case (the first-login change included). Hashing and the
//! password rules are in [`super::password`].

use chrono::Duration;
use renkei_domain::Rule;
use renkei_store::queries::{self};
use renkei_store::queries_auth::{self};

use super::login::*;
use super::password;
use super::sessions::*;
use super::throttle::*;
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{ServiceError, Services, begin_write};

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
