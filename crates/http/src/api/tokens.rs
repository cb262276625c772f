//! `/api/v1/tokens`: the caller's own API tokens — listed (never the secret), issued
//! (the secret is shown once, in the 201), revoked. Needs a token with the `tokens`
//! scope (CLI-issued tokens have it); a new token's scopes never exceed the caller's.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::{StatusCode, request::Parts};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use renkei_service::ErrorCode;
use renkei_service::auth::tokens::{self, BearerAuth, NewToken, TokenInfo};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::state::AppState;
use crate::web::client::request_meta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(issue_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_tokens, issue_token, revoke_token),
    components(schemas(TokenOut, TokenList, IssueTokenRequest, IssuedTokenOut))
)]
pub struct TokensDoc;

/// A bearer token with the `tokens` scope.
pub struct TokenCaller(pub BearerAuth);

impl FromRequestParts<AppState> for TokenCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = crate::extract::bearer(parts, state).await?;
        if !bearer.allows("tokens") {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token lacks the `tokens` scope",
            ));
        }
        Ok(TokenCaller(bearer))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: Uuid,
    pub label: String,
    /// `read`, `write`, `tokens` (or the legacy `api`: all three).
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenInfo> for TokenOut {
    fn from(t: TokenInfo) -> Self {
        TokenOut {
            id: t.id,
            label: t.label,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenRequest {
    /// 1–100 characters (after trimming).
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    /// Subset of the caller's scopes.
    #[schema(schema_with = scopes_schema)]
    pub scopes: Vec<String>,
    /// 1–365.
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: i64,
}

fn scopes_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum_array(tokens::SCOPES)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenOut {
    #[serde(flatten)]
    pub info: TokenOut,
    /// The bearer secret. Shown only in this response.
    pub token: String,
}

/// The caller's own tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = TokenList), (status = 401), (status = 403)))]
async fn list_tokens(
    State(state): State<AppState>,
    TokenCaller(caller): TokenCaller,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = tokens::list(&state.services.db, &caller.actor)
        .await?
        .into_iter()
        .map(TokenOut::from)
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Issues a token for the caller; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = IssueTokenRequest,
    responses((status = 201, body = IssuedTokenOut), (status = 401), (status = 403), (status = 422)))]
async fn issue_token(
    State(state): State<AppState>,
    TokenCaller(caller): TokenCaller,
    parts: Parts,
    body: ApiJson<IssueTokenRequest>,
) -> Result<(StatusCode, Json<IssuedTokenOut>), ApiError> {
    let b = body.value;
    let (info, secret) = tokens::issue(
        &state.services,
        &request_meta(&parts, &state.services.security),
        &caller,
        NewToken {
            label: b.label,
            scopes: b.scopes,
            expires_in_days: b.expires_in_days,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedTokenOut {
            info: info.into(),
            token: secret,
        }),
    ))
}

/// Revokes one of the caller's tokens (another user's token is not found).
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", params(("id" = Uuid, Path)),
    responses((status = 200, body = TokenOut), (status = 401), (status = 403), (status = 404)))]
async fn revoke_token(
    State(state): State<AppState>,
    TokenCaller(caller): TokenCaller,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Json<TokenOut>, ApiError> {
    let id = parse_id(&id, "token")?;
    let info = tokens::revoke(
        &state.services,
        &request_meta(&parts, &state.services.security),
        &caller.actor,
        id,
    )
    .await?;
    Ok(Json(info.into()))
}
