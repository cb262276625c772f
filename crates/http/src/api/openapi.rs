//! The OpenAPI document served at `/api/openapi.json`: the annotated operations of
//! [`super::ApiDoc`] and [`super::tokens::TokensDoc`], then the error answers every
//! operation shares, added here once by rule rather than repeated on each handler:
//!
//! - authenticated (no `security(())` override): 401, and 503 (the token is looked up
//!   in the database, which may be busy);
//! - a write method (POST, PUT, PATCH, DELETE) on an authenticated route: 403 (a `read`
//!   token may only read);
//! - a path parameter: 400 (a segment that is not UTF-8), 404 (an id that is not a
//!   UUID, or names nothing visible), 422 (a control or bidirectional override
//!   character, refused at the edge before any handler);
//! - a query parameter: 422 (a malformed or out-of-range query);
//! - a JSON body: 400 (not JSON), 413 (over 1 MiB), 415 (not `application/json`), 422;
//! - an `Idempotency-Key` header: 400 (malformed key), 422 (reused with another body);
//! - an `If-Match` header: 412.
//!
//! Every 4xx and 5xx answer, shared or declared on the handler, becomes a reference to
//! one component response whose body is the `Problem` schema (`application/problem+json`).

use std::collections::BTreeSet;

use serde::Serialize;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr, Response};
use utoipa::{OpenApi as _, PartialSchema, ToSchema};

/// The whole document, as served.
pub fn document() -> OpenApi {
    let mut doc = super::ApiDoc::openapi();
    doc.merge(super::tokens::TokensDoc::openapi());
    doc.merge(super::administration::AdminDoc::openapi());
    doc.merge(super::patient_merge::MergeDoc::openapi());
    doc.merge(super::access::CareTeamDoc::openapi());
    doc.merge(super::council_meetings::CouncilMeetingsDoc::openapi());
    add_shared_responses(&mut doc);
    doc
}

/// An error answer (RFC 9457 problem details).
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// `urn:renkei:error:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short Japanese title of the error kind.
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong, in words (absent on 5xx).
    pub detail: Option<String>,
    /// Stable machine-readable code (`validation`, `not_found` …).
    pub code: String,
    /// With 422: each offending field with the rule it broke.
    pub errors: Option<Vec<FieldErrorDoc>>,
}

/// One invalid field of a request.
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorDoc {
    /// Dotted path into the request (`values.mrs`, `identifiers[0].value`, `limit`).
    pub field: String,
    /// Stable rule identifier (`range`, `required`, `allowed` …).
    pub code: String,
    pub message: String,
}

/// One shared error answer: its status, the component's name, what it means, and
/// the response header it always carries (name, description).
struct SharedError {
    status: u16,
    name: &'static str,
    description: &'static str,
    header: Option<(&'static str, &'static str)>,
}

const ERRORS: &[SharedError] = &[
    SharedError {
        status: 400,
        name: "MalformedRequest",
        description: "The body is not valid JSON, a header (Idempotency-Key) is malformed, or the path is not UTF-8.",
        header: None,
    },
    SharedError {
        status: 401,
        name: "Unauthenticated",
        description: "No valid bearer token (missing, unknown, expired or revoked).",
        header: Some(("WWW-Authenticate", "`Bearer`.")),
    },
    SharedError {
        status: 403,
        name: "Forbidden",
        description: "The token's scopes or the caller's role do not allow this request.",
        header: None,
    },
    SharedError {
        status: 404,
        name: "NotFound",
        description: "No such resource, or one the caller may not see.",
        header: None,
    },
    SharedError {
        status: 409,
        name: "Conflict",
        description: "The request conflicts with the current state (duplicate, wrong stage, plan not active, invalid transition).",
        header: None,
    },
    SharedError {
        status: 412,
        name: "PreconditionFailed",
        description: "If-Match does not name the current version.",
        header: None,
    },
    SharedError {
        status: 413,
        name: "PayloadTooLarge",
        description: "The body is larger than 1 MiB.",
        header: None,
    },
    SharedError {
        status: 415,
        name: "UnsupportedMediaType",
        description: "The body is not sent as `application/json`.",
        header: None,
    },
    SharedError {
        status: 422,
        name: "ValidationFailed",
        description: "The request is well-formed but breaks a rule; `errors` names each field and rule.",
        header: None,
    },
    SharedError {
        status: 428,
        name: "PreconditionRequired",
        description: "Send the resource's ETag as If-Match.",
        header: None,
    },
    SharedError {
        status: 429,
        name: "TooManyRequests",
        description: "Too many attempts; retry after the time given.",
        header: Some(("Retry-After", "Seconds to wait.")),
    },
    SharedError {
        status: 503,
        name: "Unavailable",
        description: "The database is busy or unreachable; retry shortly.",
        header: Some(("Retry-After", "Seconds to wait.")),
    },
];

fn component_name(status: u16) -> Option<&'static str> {
    ERRORS.iter().find(|e| e.status == status).map(|e| e.name)
}

/// Adds the shared error responses to every operation they apply to (see the module
/// documentation) and the component responses they refer to.
pub fn add_shared_responses(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Problem".into(), ProblemDoc::schema());
    components
        .schemas
        .insert("FieldError".into(), FieldErrorDoc::schema());
    for e in ERRORS {
        let mut response = problem_response(e.description);
        if let Some((header, description)) = e.header {
            let mut h = Header::new(String::schema());
            h.description = Some(description.into());
            response.headers.insert(header.into(), h);
        }
        components
            .responses
            .insert(e.name.into(), RefOr::T(response));
    }
    let globally_secured = doc.security.as_ref().is_some_and(|s| !s.is_empty());
    for item in doc.paths.paths.values_mut() {
        let methods = [
            (false, item.get.as_mut()),
            (false, item.head.as_mut()),
            (false, item.options.as_mut()),
            (false, item.trace.as_mut()),
            (true, item.post.as_mut()),
            (true, item.put.as_mut()),
            (true, item.patch.as_mut()),
            (true, item.delete.as_mut()),
        ];
        for (write, op) in methods {
            if let Some(op) = op {
                share_responses(op, write, globally_secured);
            }
        }
    }
}

fn share_responses(op: &mut Operation, write: bool, globally_secured: bool) {
    // `security(())` on an operation (an empty requirement) lifts the global one.
    let authenticated = match &op.security {
        Some(reqs) => reqs.iter().any(|r| {
            serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        }),
        None => globally_secured,
    };
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |location: ParameterIn| params.iter().any(|p| p.parameter_in == location);
    let header = |name: &str| {
        params.iter().any(|p| {
            matches!(p.parameter_in, ParameterIn::Header) && p.name.eq_ignore_ascii_case(name)
        })
    };
    let mut statuses = BTreeSet::new();
    if authenticated {
        statuses.extend([401, 503]);
        if write {
            statuses.insert(403);
        }
    }
    if has(ParameterIn::Path) {
        // 400: a segment that is not UTF-8; 404: not a UUID, or nothing visible;
        // 422: a control or bidirectional override character (crate::edge).
        statuses.extend([400, 404, 422]);
    }
    if has(ParameterIn::Query) {
        statuses.insert(422);
    }
    if op.request_body.is_some() {
        statuses.extend([400, 413, 415, 422]);
    }
    if header("Idempotency-Key") {
        statuses.extend([400, 422]);
    }
    if header("If-Match") {
        statuses.insert(412);
    }
    // The handler's own error answers, bare or not, become the shared component too.
    statuses.extend(
        op.responses
            .responses
            .keys()
            .filter_map(|k| k.parse::<u16>().ok())
            .filter(|s| *s >= 400),
    );
    for status in statuses {
        let response = match component_name(status) {
            Some(name) => RefOr::Ref(Ref::from_response_name(name)),
            None => RefOr::T(problem_response("Error (problem details).")),
        };
        op.responses.responses.insert(status.to_string(), response);
    }
}

fn problem_response(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        "application/problem+json".into(),
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    response
}
