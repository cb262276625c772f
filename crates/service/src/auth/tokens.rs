//! API tokens as their owners manage them: scoped, expiring, revocable, listed. The
//! secret (`rk_` + 256 random bits, hex) is shown once; only its SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_store::queries::{self, ApiTokenRow};
use renkei_store::queries_auth;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ServiceError, Services, begin_write};
use renkei_domain::evidence::EvidenceKind;

/// `read`: GET and HEAD only. `write`: every method. `tokens`: list, issue and revoke
/// one's own tokens. Tokens issued by the CLI carry the legacy `api`, which means all
/// three.
pub const SCOPES: &[&str] = &["read", "write", "tokens"];
/// The legacy all-powerful scope of CLI-issued tokens.
pub const LEGACY_SCOPE: &str = "api";
/// Longest lifetime of a token issued over the API.
pub const MAX_DAYS: i64 = 365;
/// Longest label.
pub const MAX_LABEL: usize = 100;

/// A token as listed: never its secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: Uuid,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenRow> for TokenInfo {
    fn from(r: ApiTokenRow) -> Self {
        TokenInfo {
            id: r.id,
            label: r.label,
            scopes: parse_scopes(&r.scopes),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

fn parse_scopes(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Whether a token with `scopes` has `scope`.
pub fn has_scope(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope || s == LEGACY_SCOPE)
        || (scope == "read" && scopes.iter().any(|s| s == "write"))
}

/// A bearer token's owner and what it may do.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    pub actor: Actor,
    pub token_id: Uuid,
    pub scopes: Vec<String>,
}

impl BearerAuth {
    pub fn allows(&self, scope: &str) -> bool {
        has_scope(&self.scopes, scope)
    }

    /// Whether the token may make a request with this HTTP method.
    pub fn allows_method(&self, method: &str) -> bool {
        match method {
            "GET" | "HEAD" | "OPTIONS" => self.allows("read"),
            _ => self.allows("write"),
        }
    }
}

/// SHA-256 of a token: tokens carry 256 random bits, so a fast hash is enough and lets
/// every request be checked with one indexed lookup.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh secret: `rk_` and 256 random bits in hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("rk_{}", hex::encode(bytes))
}

/// The demo region's well-known API tokens (`serve --demo` prints them). They are
/// accepted only on a server started with `--demo`.
pub const DEMO_TOKENS: [&str; 5] = [
    "rk_demo_acute1_0000000000000000000000000000000000",
    "rk_demo_recovery1_000000000000000000000000000000",
    "rk_demo_clinic1_00000000000000000000000000000000",
    "rk_demo_homecare1_000000000000000000000000000000",
    "rk_demo_region1_00000000000000000000000000000000",
];

/// Whether `token` is one of the demo region's well-known API tokens.
pub fn is_demo_token(token: &str) -> bool {
    DEMO_TOKENS.contains(&token)
}

/// The owner and scopes of a valid (unexpired, unrevoked, enabled owner) bearer token.
/// The demo region's well-known tokens are valid only on a server started with
/// `--demo`.
pub async fn authenticate_bearer(
    services: &Services,
    token: &str,
) -> Result<BearerAuth, ServiceError> {
    if !services.security.demo && is_demo_token(token) {
        return Err(ServiceError::Unauthenticated);
    }
    resolve(services, token).await
}

/// The owner and scopes of a valid (unexpired, unrevoked, enabled owner) token, the demo
/// region's included.
pub async fn resolve(services: &Services, token: &str) -> Result<BearerAuth, ServiceError> {
    if !token.starts_with("rk_") || token.len() > 200 {
        return Err(ServiceError::Unauthenticated);
    }
    let db = &services.db;
    let (row, (practitioner, org)) = queries_auth::token_with_owner(db, &token_hash(token))
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|e| e <= services.now()) {
        return Err(ServiceError::Unauthenticated);
    }
    let actor = crate::actors::actor_from(practitioner, org)?;
    Ok(BearerAuth {
        actor,
        token_id: row.id,
        scopes: parse_scopes(&row.scopes),
    })
}

/// The caller's own tokens, oldest first.
pub async fn list(db: &DatabaseConnection, actor: &Actor) -> Result<Vec<TokenInfo>, ServiceError> {
    Ok(queries_auth::tokens_of(db, actor.practitioner_id)
        .await?
        .into_iter()
        .map(TokenInfo::from)
        .collect())
}

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub label: String,
    pub scopes: Vec<String>,
    pub expires_in_days: i64,
}

/// Issues a token for the caller. Its scopes must be a subset of the caller's own, so a
/// token never mints a stronger one. Returns the listing and the secret.
pub async fn issue(
    services: &Services,
    meta: &RequestMeta,
    caller: &BearerAuth,
    new: NewToken,
) -> Result<(TokenInfo, String), ServiceError> {
    let mut errors = Vec::new();
    let label = new.label.trim().to_owned();
    // The limit counts what was sent, surrounding spaces included (as documented).
    if label.is_empty() || new.label.chars().count() > MAX_LABEL {
        errors.push(FieldError::new(
            "label",
            Rule::Length,
            format!("label must be 1–{MAX_LABEL} characters"),
        ));
    }
    if new.scopes.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            Rule::Required,
            "give at least one scope",
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for (i, s) in new.scopes.iter().enumerate() {
        if !SCOPES.contains(&s.as_str()) {
            errors.push(FieldError::new(
                format!("scopes[{i}]"),
                Rule::Allowed,
                format!("scope must be one of {}", SCOPES.join(", ")),
            ));
        } else if !caller.allows(s) {
            errors.push(FieldError::new(
                format!("scopes[{i}]"),
                Rule::ExceedsCaller,
                "a token cannot carry a scope its issuer's token lacks",
            ));
        } else if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    if !(1..=MAX_DAYS).contains(&new.expires_in_days) {
        errors.push(FieldError::new(
            "expires_in_days",
            Rule::Range,
            format!("expires_in_days must be between 1 and {MAX_DAYS}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let secret = new_secret();
    let created = services.now();
    let row = ApiTokenRow {
        id: Uuid::now_v7(),
        practitioner_id: caller.actor.practitioner_id,
        token_hash: token_hash(&secret),
        label,
        scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
        created_at: created,
        expires_at: Some(created + Duration::days(new.expires_in_days)),
        revoked_at: None,
    };
    let txn = begin_write(&services.db).await?;
    queries::insert_token(&txn, row.clone()).await?;
    audit::record(
        &txn,
        created,
        meta,
        AuditRecord::by(
            &caller.actor,
            "token.issue",
            "api_token",
            Some(row.id.to_string()),
            Outcome::Allowed,
        )
        .wrote(EvidenceKind::Token, row.id)
        .detail(format!("scopes={}", scopes.join(","))),
    )
    .await?;
    txn.commit().await?;
    Ok((row.into(), secret))
}

/// Revokes one of the caller's tokens (someone else's is simply not found). Revoking an
/// already revoked token answers it as it is.
pub async fn revoke(
    services: &Services,
    meta: &RequestMeta,
    actor: &Actor,
    id: Uuid,
) -> Result<TokenInfo, ServiceError> {
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    let row = queries_auth::token_by_id(&txn, id)
        .await?
        .filter(|t| t.practitioner_id == actor.practitioner_id)
        .ok_or(ServiceError::NotFound("token"))?;
    let changed = queries_auth::revoke_token(&txn, id, at).await?;
    if changed {
        audit::record(
            &txn,
            at,
            meta,
            AuditRecord::by(
                actor,
                "token.revoke",
                "api_token",
                Some(id.to_string()),
                Outcome::Allowed,
            )
            .wrote(EvidenceKind::Token, id),
        )
        .await?;
    }
    let row = queries_auth::token_by_id(&txn, id).await?.unwrap_or(row);
    txn.commit().await?;
    Ok(row.into())
}

/// Issues an all-powerful (`api`) token for `login` by the administration command and
/// returns it; only its hash is stored.
pub async fn issue_by_operator(
    services: &Services,
    login: &str,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, ServiceError> {
    let token = new_secret();
    store_by_operator(services, login, label, &token, expires_at).await?;
    Ok(token)
}

/// Stores a given token for `login` (the demo region's well-known tokens); a token
/// already stored is left as it is.
pub async fn store_by_operator(
    services: &Services,
    login: &str,
    label: &str,
    token: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), ServiceError> {
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    let p = queries::practitioner_by_login(&txn, login)
        .await?
        .ok_or_else(|| ServiceError::field("login", Rule::Unknown, format!("no user `{login}`")))?;
    let hash = token_hash(token);
    if queries::token_by_hash(&txn, &hash).await?.is_none() {
        let id = Uuid::now_v7();
        queries::insert_token(
            &txn,
            ApiTokenRow {
                id,
                practitioner_id: p.id,
                token_hash: hash,
                label: label.to_owned(),
                scopes: serde_json::to_string(&[LEGACY_SCOPE]).unwrap_or_else(|_| "[]".into()),
                created_at: at,
                expires_at,
                revoked_at: None,
            },
        )
        .await?;
        // Issued by the administration command: no acting practitioner.
        audit::record(
            &txn,
            at,
            &RequestMeta::default(),
            AuditRecord {
                practitioner_id: None,
                organization_id: Some(p.organization_id),
                action: "admin.token_issue",
                resource_type: "api_token",
                resource_id: Some(id.to_string()),
                patient_id: None,
                care_plan_id: None,
                outcome: Outcome::Allowed,
                detail: Some(format!("for {login} by the administration command")),
                region: String::new(),
                writes: Vec::new(),
            }
            .wrote(EvidenceKind::Token, id),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_imply() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(has_scope(&s(&["api"]), "tokens"));
        assert!(has_scope(&s(&["write"]), "read"));
        assert!(!has_scope(&s(&["read"]), "write"));
        assert!(!has_scope(&s(&["read", "write"]), "tokens"));
    }
}
