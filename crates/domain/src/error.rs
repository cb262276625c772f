//! Errors of the pure rules: a field path, the rule broken, and a message for people.

use serde::Serialize;

/// One invalid field of a request, e.g. `values.mrs` broke `range`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path into the request body (`values.mrs`, `variance.code`).
    pub field: String,
    /// Stable rule identifier (`range`, `unknown_item`, `required` …).
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
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
