//! FHIR Bulk Data export (`$export`, asynchronous request pattern): `GET /$export` (or
//! `GET /Group/{region}/$export` naming the administrator's own region) with
//! `Prefer: respond-async` answers 202 with the status URL in `Content-Location`;
//! `GET /$export-status/{job}` answers 202 (`X-Progress`, `Retry-After`) while the job
//! runs, then 200 with the manifest (`application/json`); each file of the manifest is
//! `GET /$export-file/{job}/{Type}.ndjson` (`application/fhir+ndjson`). Regional
//! administrator only, every step audited.

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_fhir::export::{EXPORT_TYPES, manifest};
use renkei_fhir::outcome::{Issue, IssueType};
use renkei_service::fhir::export::ExportState;
use uuid::Uuid;

use crate::extract::Meta;
use crate::fhir::error::FhirError;
use crate::fhir::extract::{FhirAuth, FhirBase};
use crate::state::AppState;

/// Seconds a client should wait before polling again.
const RETRY_AFTER_SECONDS: &str = "1";

fn bad_request(text: &str, expression: &str) -> FhirError {
    let mut e = FhirError::from_code(renkei_service::ErrorCode::MalformedRequest);
    e.status = StatusCode::BAD_REQUEST;
    e.issues = vec![Issue::error(IssueType::Invalid, text).at(expression)];
    e
}

fn job_id(id: &str) -> Result<Uuid, FhirError> {
    Uuid::parse_str(id).map_err(|_| FhirError::from_code(renkei_service::ErrorCode::NotFound))
}

async fn kick_off(
    state: &AppState,
    actor: renkei_service::Actor,
    meta: renkei_service::audit::RequestMeta,
    base: &str,
    req: Parts,
) -> Result<Response, FhirError> {
    let prefer = req
        .headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !prefer
        .split(',')
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
    {
        return Err(bad_request(
            "Bulk Data のエクスポートは非同期です。Prefer: respond-async を付けてください。",
            "Prefer",
        ));
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut types = Vec::new();
    for (k, v) in &query {
        match k.as_str() {
            "_type" => types.extend(
                v.split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
            ),
            "_outputFormat"
                if matches!(
                    v.as_str(),
                    "application/fhir+ndjson" | "application/ndjson" | "ndjson"
                ) => {}
            _ => {
                return Err(bad_request(
                    "このパラメータには対応していません(_type と _outputFormat のみ)。",
                    k,
                ));
            }
        }
    }
    if let Some(t) = types.iter().find(|t| !EXPORT_TYPES.contains(&t.as_str())) {
        return Err(bad_request(
            &format!(
                "{t} はエクスポートできません(対応: {})。",
                EXPORT_TYPES.join(", ")
            ),
            "_type",
        ));
    }
    // The router nested at /fhir/r4 sees the path below it.
    let request = format!(
        "{base}{}",
        req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let id = state
        .services
        .start_fhir_export(&actor, &meta, &request, types)
        .await?;
    let mut res = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/$export-status/{id}")) {
        res.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(res)
}

pub async fn export(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    req: Request,
) -> Result<Response, FhirError> {
    kick_off(&state, actor, meta, &base, req.into_parts().0).await
}

pub async fn group_export(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    Path(region): Path<String>,
    req: Request,
) -> Result<Response, FhirError> {
    if region != actor.region {
        return Err(FhirError::from_code(renkei_service::ErrorCode::NotFound));
    }
    kick_off(&state, actor, meta, &base, req.into_parts().0).await
}

pub async fn status(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    FhirBase(base): FhirBase,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = job_id(&id)?;
    let s = state.services.fhir_export_status(&actor, &meta, id).await?;
    match s.state {
        ExportState::Running => {
            let mut res = StatusCode::ACCEPTED.into_response();
            let h = res.headers_mut();
            h.insert("x-progress", HeaderValue::from_static("in-progress"));
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            Ok(res)
        }
        ExportState::Done {
            transaction_time,
            files,
        } => {
            let outputs: Vec<(String, String, usize)> = files
                .iter()
                .map(|f| {
                    (
                        f.resource_type.to_owned(),
                        format!("{base}/$export-file/{id}/{}.ndjson", f.resource_type),
                        f.count,
                    )
                })
                .collect();
            let body = manifest(transaction_time, &s.request, &outputs);
            let mut res = (StatusCode::OK, axum::Json(body)).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(res)
        }
        ExportState::Failed(why) => {
            let mut e = FhirError::from_code(renkei_service::ErrorCode::Internal);
            e.issues = vec![Issue::error(
                IssueType::Exception,
                format!("エクスポートに失敗しました: {why}"),
            )];
            Err(e)
        }
    }
}

pub async fn file(
    State(state): State<AppState>,
    FhirAuth(actor): FhirAuth,
    Meta(meta): Meta,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let id = job_id(&id)?;
    let Some(kind) = name.strip_suffix(".ndjson") else {
        return Err(FhirError::from_code(renkei_service::ErrorCode::NotFound));
    };
    let f = state
        .services
        .fhir_export_file(&actor, &meta, id, kind)
        .await?;
    let mut res = (StatusCode::OK, f.ndjson).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+ndjson"),
    );
    Ok(res)
}
