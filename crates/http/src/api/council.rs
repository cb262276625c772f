//! The council's reports as JSON or CSV: `GET /api/v1/reports/{kind}` for `flow`,
//! `goals`, `variances`, `outcomes`, `completeness` and `compare`, the filter in the
//! query string (bad values: 422 listing every field), `?format=csv` or
//! `Accept: text/csv` for the same tables as CSV.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use renkei_domain::Rule;
use renkei_domain::wording::Lang;
use renkei_service::council::{ReportKind, ReportPage};

use crate::error::ApiError;
use crate::extract::{Auth, Meta};
use crate::state::AppState;
use crate::ui::csv_export::CsvExport;

/// Static paths: `/reports/{id}` is a report back (返書), and a static segment takes
/// precedence over it.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports/flow", get(flow_report))
        .route("/reports/goals", get(goals_report))
        .route("/reports/variances", get(variances_report))
        .route("/reports/outcomes", get(outcomes_report))
        .route("/reports/completeness", get(completeness_report))
        .route("/reports/compare", get(compare_report))
}

/// Whether the client asked for CSV (`format=csv`, or `Accept: text/csv` without
/// `format=json`).
fn wants_csv(pairs: &[(String, String)], headers: &HeaderMap) -> Result<bool, ApiError> {
    match pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ApiError::field(
            "format",
            Rule::Format,
            "`format` must be `json` or `csv`",
        )),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))),
    }
}

/// A CSV document whose records are padded with empty cells to one width.
struct Padded {
    csv: CsvExport,
    width: usize,
}

impl Padded {
    fn row<'a>(
        &mut self,
        cells: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), renkei_service::ServiceError> {
        let mut cells: Vec<&str> = cells.into_iter().collect();
        cells.resize(self.width.max(cells.len()), "");
        self.csv.row(cells)
    }

    fn finish(self) -> Result<Vec<u8>, renkei_service::ServiceError> {
        self.csv.finish()
    }
}

/// The page as CSV: per section, its title, its column heads (with units), its rows
/// (`<5` for a suppressed cell, `x` for one withheld so that a suppressed cell cannot be
/// recomputed), its listed lines, then a blank line.
pub fn report_csv(page: &ReportPage) -> Result<Vec<u8>, renkei_service::ServiceError> {
    // Every record as wide as the widest table (CSV readers expect one width).
    let width = page
        .sections
        .iter()
        .map(|s| s.columns.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let mut csv = Padded {
        csv: CsvExport::new(),
        width,
    };
    let counts = [
        ("counted_plans", page.counted_plans.to_string()),
        (
            "excluded_without_consent",
            page.excluded_without_consent.to_string(),
        ),
        ("suppressed_cells", page.suppressed_cells.to_string()),
    ];
    for (k, v) in &counts {
        csv.row([*k, v.as_str()])?;
    }
    for s in &page.sections {
        csv.row([""])?;
        csv.row([s.title.as_str()])?;
        let heads: Vec<String> = s
            .columns
            .iter()
            .map(|c| match &c.unit {
                Some(u) => format!("{}({u})", c.label),
                None => c.label.clone(),
            })
            .collect();
        csv.row(heads.iter().map(String::as_str))?;
        for row in &s.rows {
            let cells: Vec<String> = row.iter().map(|c| c.csv_text()).collect();
            csv.row(cells.iter().map(String::as_str))?;
        }
        for l in &s.listed {
            csv.row([l.as_str()])?;
        }
    }
    csv.finish()
}

type QueryPairs = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// One council report as JSON, or as CSV when asked.
async fn report_response(
    state: AppState,
    actor: renkei_service::Actor,
    meta: renkei_service::audit::RequestMeta,
    headers: HeaderMap,
    kind: ReportKind,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::field("query", Rule::Format, e.body_text()))?;
    let csv = wants_csv(&pairs, &headers)?;
    let filter = state.services.parse_report_filter(&pairs).await?;
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let page = state
        .services
        .council_report_in(&actor, kind, &filter, lang, &meta)
        .await?;
    if !csv {
        return Ok(Json(page).into_response());
    }
    let bytes = report_csv(&page)?;
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"report-{}.csv\"",
        kind.as_str()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The handler of one report kind, with its OpenAPI description. Every report: the
/// regional administrator and council members see every organisation; anyone else their
/// own organisation's rows and the region's totals. Plans without a statistics consent
/// are left out (`excluded_without_consent`); a cell of fewer than 5 other
/// organisations' patients is `{"value": null, "suppressed": true}` (`<5` in CSV), and a
/// cell that would let one be recomputed (a total less the rows shown, a rate beside its
/// count) is withheld: `{"value": null, "suppressed": true, "withheld": true}` (`x`).
/// Every view is audited (`report.read`).
macro_rules! report_handler {
    ($name:ident, $kind:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path,
            params(
                ("pathway" = Option<String>, Query, description = "pathway code (stroke)"),
                ("version" = Option<Vec<u32>>, Query, description = "template version, repeatable; two on compare"),
                ("from" = Option<String>, Query, description = "first day YYYY-MM-DD (Asia/Tokyo)"),
                ("to" = Option<String>, Query, description = "last day YYYY-MM-DD (Asia/Tokyo)"),
                ("period" = Option<String>, Query, description = "start (default) | end: which plan date from and to apply to"),
                ("area" = Option<String>, Query, description = "secondary medical area"),
                ("organization" = Option<String>, Query, description = "organisation code"),
                ("stage" = Option<String>, Query, description = "stage code"),
                ("format" = Option<String>, Query, description = "json (default) | csv"),
            ),
            responses((status = 200, description = "the report (JSON, or CSV with a BOM)"), (status = 422)))]
        pub async fn $name(
            State(state): State<AppState>,
            Auth(actor): Auth,
            Meta(meta): Meta,
            headers: HeaderMap,
            query: QueryPairs,
        ) -> Result<Response, ApiError> {
            report_response(state, actor, meta, headers, $kind, query).await
        }
    };
}

report_handler!(
    flow_report,
    ReportKind::Flow,
    "/api/v1/reports/flow",
    "Flow: plans by status and month, stage lengths, waiting days, hand-over answers and decline reasons, reports back."
);
report_handler!(
    goals_report,
    ReportKind::Goals,
    "/api/v1/reports/goals",
    "Goals: attainment per goal and organisation."
);
report_handler!(
    variances_report,
    ReportKind::Variances,
    "/api/v1/reports/variances",
    "Variances: Pareto by code, by cause category, positive and negative, by stage and organisation, automatic and recorded."
);
report_handler!(
    outcomes_report,
    ReportKind::Outcomes,
    "/api/v1/reports/outcomes",
    "Outcome indicators with their definitions: FIM gain and efficiency, the performance index with its exclusions, case-mix-adjusted FIM gain, home discharge, Barthel loss, diabetes."
);
report_handler!(
    completeness_report,
    ReportKind::Completeness,
    "/api/v1/reports/completeness",
    "Data completeness per organisation and stage: required items missing at stage end, late entries, days from event to record."
);
report_handler!(
    compare_report,
    ReportKind::Compare,
    "/api/v1/reports/compare",
    "Two template versions side by side (give `version` twice)."
);
