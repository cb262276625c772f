//! `OperationOutcome`: every error the FHIR interface answers, with the issue type of
//! each error code and the words in the request's language (the caller passes them, taken
//! from the wording table).

use renkei_domain::error::ErrorCode;
use serde_json::{Value, json};

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code` (the FHIR issue-type value set, the codes we use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    Security,
    Login,
    Forbidden,
    Processing,
    NotSupported,
    Duplicate,
    NotFound,
    Conflict,
    TooLong,
    CodeInvalid,
    BusinessRule,
    Exception,
    Transient,
    Throttled,
    Informational,
}

impl IssueType {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::Security => "security",
            IssueType::Login => "login",
            IssueType::Forbidden => "forbidden",
            IssueType::Processing => "processing",
            IssueType::NotSupported => "not-supported",
            IssueType::Duplicate => "duplicate",
            IssueType::NotFound => "not-found",
            IssueType::Conflict => "conflict",
            IssueType::TooLong => "too-long",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::BusinessRule => "business-rule",
            IssueType::Exception => "exception",
            IssueType::Transient => "transient",
            IssueType::Throttled => "throttled",
            IssueType::Informational => "informational",
        }
    }
}

/// The issue type of each of Renkei's error codes.
pub fn issue_type_of(code: ErrorCode) -> IssueType {
    match code {
        ErrorCode::NotFound => IssueType::NotFound,
        ErrorCode::Validation => IssueType::Invalid,
        ErrorCode::MalformedRequest => IssueType::Structure,
        ErrorCode::PayloadTooLarge => IssueType::TooLong,
        ErrorCode::UnsupportedMediaType => IssueType::NotSupported,
        ErrorCode::Unauthenticated => IssueType::Login,
        ErrorCode::Forbidden => IssueType::Forbidden,
        ErrorCode::Duplicate => IssueType::Duplicate,
        ErrorCode::StageOutOfOrder => IssueType::BusinessRule,
        ErrorCode::PlanNotActive => IssueType::BusinessRule,
        ErrorCode::IdempotencyKeyReused => IssueType::Conflict,
        ErrorCode::IdempotencyKeyInvalid => IssueType::Value,
        ErrorCode::InvalidTransition => IssueType::BusinessRule,
        ErrorCode::PreconditionFailed => IssueType::Conflict,
        ErrorCode::PreconditionRequired => IssueType::Required,
        ErrorCode::Unavailable => IssueType::Transient,
        ErrorCode::Internal => IssueType::Exception,
        ErrorCode::MethodNotAllowed => IssueType::NotSupported,
    }
}

/// One issue of an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    /// `details.text`, in the request's language.
    pub text: String,
    /// `expression`: the FHIRPath of the element at fault, when one is.
    pub expression: Vec<String>,
}

impl Issue {
    /// An error issue.
    pub fn error(code: IssueType, text: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            text: text.into(),
            expression: Vec::new(),
        }
    }

    /// The same issue, naming the element at fault.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }
}

/// The `OperationOutcome` of `issues` (at least one: an empty list says "failed"
/// without saying why, which FHIR does not allow).
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = if issues.is_empty() {
        vec![json!({ "severity": "error", "code": "exception" })]
    } else {
        issues
            .iter()
            .map(|i| {
                let mut v = json!({
                    "severity": i.severity.as_str(),
                    "code": i.code.as_str(),
                    "details": { "text": i.text },
                });
                if !i.expression.is_empty() {
                    v["expression"] = json!(i.expression);
                }
                v
            })
            .collect()
    };
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_names_severity_type_text_and_expression() {
        let o = operation_outcome(&[Issue::error(IssueType::Invalid, "不正な値").at("_count")]);
        assert_eq!(o["resourceType"], "OperationOutcome");
        assert_eq!(o["issue"][0]["severity"], "error");
        assert_eq!(o["issue"][0]["code"], "invalid");
        assert_eq!(o["issue"][0]["details"]["text"], "不正な値");
        assert_eq!(o["issue"][0]["expression"][0], "_count");
    }

    #[test]
    fn every_error_code_has_an_issue_type() {
        for &code in ErrorCode::ALL {
            assert!(!issue_type_of(code).as_str().is_empty());
        }
        assert_eq!(issue_type_of(ErrorCode::NotFound).as_str(), "not-found");
        assert_eq!(issue_type_of(ErrorCode::Unauthenticated).as_str(), "login");
        assert_eq!(issue_type_of(ErrorCode::Forbidden).as_str(), "forbidden");
    }
}
