//! The errors a use case returns; the list of codes a client can see is the domain's
//! `ErrorCode`.

use renkei_domain::{FieldError, Rule};
use renkei_store::StoreError;

/// Everything a client can be told went wrong: defined with its words in the domain
/// (`renkei_domain::wording`), re-exported here where the use cases return it.
pub use renkei_domain::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The resource named (in the URL) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error("authentication required")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// If-Match named a version that is no longer current.
    #[error("stale version")]
    PreconditionFailed,
    /// The change needs If-Match.
    #[error("If-Match required")]
    PreconditionRequired,
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn field(field: impl Into<String>, code: Rule, message: impl Into<String>) -> Self {
        ServiceError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::NotFound(_) => ErrorCode::NotFound,
            ServiceError::Validation(_) => ErrorCode::Validation,
            ServiceError::Conflict { code, .. } => *code,
            ServiceError::Unauthenticated => ErrorCode::Unauthenticated,
            ServiceError::Forbidden => ErrorCode::Forbidden,
            ServiceError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            ServiceError::PreconditionFailed => ErrorCode::PreconditionFailed,
            ServiceError::PreconditionRequired => ErrorCode::PreconditionRequired,
            ServiceError::Unavailable(_) => ErrorCode::Unavailable,
            ServiceError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ServiceError::NotFound("resource"),
            StoreError::Conflict { .. } => ServiceError::Conflict {
                code: ErrorCode::Duplicate,
                message: "a record with the same identifying values already exists".into(),
            },
            StoreError::Unavailable(_) => ServiceError::Unavailable(err),
            StoreError::Db(e) => ServiceError::Internal(anyhow::Error::new(e)),
            e @ StoreError::Corrupt(_) => ServiceError::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        StoreError::from(err).into()
    }
}
