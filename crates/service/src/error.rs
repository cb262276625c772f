//! The errors a use case returns, and the one list of codes a client can see.

use renkei_domain::FieldError;
use renkei_store::StoreError;

/// Everything a client can be told went wrong. `slug()` is stable API; `title_ja()` is
/// the wording shown in the Japanese UI and in problem+json titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NotFound,
    Validation,
    MalformedRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unauthenticated,
    Forbidden,
    Duplicate,
    StageOutOfOrder,
    PlanNotActive,
    IdempotencyKeyReused,
    IdempotencyKeyInvalid,
    InvalidTransition,
    PreconditionFailed,
    PreconditionRequired,
    Unavailable,
    Internal,
    MethodNotAllowed,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::NotFound,
        ErrorCode::Validation,
        ErrorCode::MalformedRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::Duplicate,
        ErrorCode::StageOutOfOrder,
        ErrorCode::PlanNotActive,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::IdempotencyKeyInvalid,
        ErrorCode::InvalidTransition,
        ErrorCode::PreconditionFailed,
        ErrorCode::PreconditionRequired,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::MethodNotAllowed,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::Validation => "validation_failed",
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::StageOutOfOrder => "stage_out_of_order",
            ErrorCode::PlanNotActive => "plan_not_active",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::IdempotencyKeyInvalid => "idempotency_key_invalid",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::PreconditionRequired => "precondition_required",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
        }
    }

    pub fn title_ja(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "指定されたデータが見つかりません",
            ErrorCode::Validation => "入力内容に誤りがあります",
            ErrorCode::MalformedRequest => "リクエストの形式が正しくありません",
            ErrorCode::PayloadTooLarge => "送信データが大きすぎます",
            ErrorCode::UnsupportedMediaType => "送信データの種類が正しくありません",
            ErrorCode::Unauthenticated => "ログインまたはトークンが必要です",
            ErrorCode::Forbidden => "この操作を行う権限がありません",
            ErrorCode::Duplicate => "同じデータが既に登録されています",
            ErrorCode::StageOutOfOrder => "病期の順序に合わない記録です",
            ErrorCode::PlanNotActive => "この連携パスは終了しているため記録できません",
            ErrorCode::IdempotencyKeyReused => "同じ Idempotency-Key が別の内容で使われています",
            ErrorCode::IdempotencyKeyInvalid => "Idempotency-Key の形式が正しくありません",
            ErrorCode::InvalidTransition => "現在の状態ではこの操作はできません",
            ErrorCode::PreconditionFailed => {
                "他の利用者が先に更新しました。最新の内容を確認してください"
            }
            ErrorCode::PreconditionRequired => "If-Match ヘッダーが必要です",
            ErrorCode::Unavailable => "現在混み合っています。しばらくしてから再度お試しください",
            ErrorCode::Internal => "システムエラーが発生しました",
            ErrorCode::MethodNotAllowed => "この URL ではその操作（HTTP メソッド）は使えません",
        }
    }

    /// Maps a domain conflict code to the client-visible code.
    pub fn from_conflict(code: &str) -> ErrorCode {
        match code {
            "stage_out_of_order" => ErrorCode::StageOutOfOrder,
            "plan_not_active" => ErrorCode::PlanNotActive,
            _ => ErrorCode::Duplicate,
        }
    }
}

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
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
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
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        StoreError::from(err).into()
    }
}
