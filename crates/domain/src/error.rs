//! Errors of the pure rules: a field path, the rule broken and a detail message; and
//! the one list of error codes a client can see. The words for people of both are in
//! [`crate::wording`].

use serde::Serialize;

use crate::rules::{Rule, closed_list};

closed_list! {
    /// Everything a client can be told went wrong. `slug()` is stable API; the title and
    /// explanation in Japanese and English are in [`crate::wording`]; the HTTP layer adds
    /// the status.
    ErrorCode {
        NotFound => "not_found",
        Validation => "validation_failed",
        MalformedRequest => "malformed_request",
        PayloadTooLarge => "payload_too_large",
        UnsupportedMediaType => "unsupported_media_type",
        Unauthenticated => "unauthenticated",
        Forbidden => "forbidden",
        Duplicate => "duplicate",
        StageOutOfOrder => "stage_out_of_order",
        PlanNotActive => "plan_not_active",
        IdempotencyKeyReused => "idempotency_key_reused",
        IdempotencyKeyInvalid => "idempotency_key_invalid",
        InvalidTransition => "invalid_transition",
        PreconditionFailed => "precondition_failed",
        PreconditionRequired => "precondition_required",
        Unavailable => "unavailable",
        Internal => "internal",
        MethodNotAllowed => "method_not_allowed",
    }
}

impl ErrorCode {
    /// The stable snake_case code (`urn:renkei:error:<slug>`).
    pub fn slug(self) -> &'static str {
        self.as_str()
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

/// One invalid field of a request, e.g. `values.mrs` broke `range`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path into the request body (`values.mrs`, `variance.code`).
    pub field: String,
    /// The rule broken, sent as its stable name (`range`, `unknown_item`, `required` …).
    pub code: Rule,
    /// What exactly is wrong, for developers and logs (the API's `detail`); the words
    /// people see come from the wording module's `field_message`.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: Rule, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Why an entry cannot be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryRejection {
    /// The request itself is invalid (422).
    #[error("invalid entry")]
    Invalid(Vec<FieldError>),
    /// The request is valid but the plan's state forbids it now (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
}
