//! `POST /fhir/r4`: a transaction Bundle of lab-result Observations, imported all or
//! nothing. 200 with a `transaction-response` Bundle, or 422 with an `OperationOutcome`
//! naming every fault at its `Bundle.entry[i]`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use renkei_fhir::import::IssueKind;
use renkei_fhir::outcome::{Issue, IssueType};
use renkei_service::ErrorCode;
use renkei_service::import::fhir_bundle::{BundleImport, issue_words};
use serde_json::Value;

use crate::error::{ApiError, request_language};
use crate::extract::{ApiJson, Meta};
use crate::fhir::error::{FhirError, fhir_json};
use crate::fhir::extract::FhirAuth;
use crate::state::AppState;

/// The issue type of each kind of import fault.
fn issue_type(kind: IssueKind) -> IssueType {
    match kind {
        IssueKind::Structure => IssueType::Structure,
        IssueKind::Required => IssueType::Required,
        IssueKind::UnmappedCode | IssueKind::AmbiguousCode => IssueType::CodeInvalid,
        IssueKind::Unit | IssueKind::Value => IssueType::Value,
        IssueKind::UnknownPatient | IssueKind::NotFound => IssueType::NotFound,
        IssueKind::BusinessRule => IssueType::BusinessRule,
        IssueKind::Duplicate => IssueType::Duplicate,
    }
}

/// `POST /fhir/r4` with a `transaction` Bundle.
pub async fn transaction(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    body: Result<ApiJson<Value>, ApiError>,
) -> Result<Response, FhirError> {
    let body = body.map_err(FhirError::from)?;
    match state
        .services
        .import_fhir_bundle(&actor, &meta, &body.raw)
        .await?
    {
        BundleImport::Done(bundle) => Ok(fhir_json(StatusCode::OK, &bundle)),
        BundleImport::Refused(issues) => {
            let lang = request_language();
            let mut err = FhirError::from_code(ErrorCode::Validation);
            err.issues = issues
                .iter()
                .map(|i| {
                    Issue::error(
                        issue_type(i.kind),
                        format!("{}: {}", issue_words(i.kind, lang), i.detail),
                    )
                    .at(i.expression.clone())
                })
                .collect();
            Err(err)
        }
    }
}
