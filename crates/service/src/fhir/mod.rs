//! The FHIR R4 use cases: read rows, apply the same access rules as the JSON API, write
//! the same audit events (with the FHIR resource type in the event's detail), fill the
//! input structs of `renkei-fhir` and return its resources.

pub mod care_plan;
pub mod care_team;
pub mod goal;
pub mod plan_definition;

pub mod audit_event;
pub mod consent;
pub mod hits;
pub mod observation;
pub mod organization;
pub mod patient;
pub mod practitioner;
pub mod provenance;
pub mod task;

pub mod document;
pub mod export;

use chrono::{DateTime, Utc};
use renkei_fhir::bundle::{self, PageCursor, SearchEntry, SearchSet};
use renkei_fhir::search::SearchParams;
use renkei_store::queries::CarePlanRow;
use serde_json::Value;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ServiceError, Services};

/// A search as the HTTP layer hands it over: the parsed parameters, the query as sent
/// (for the `self` and `next` links) and the absolute base of `/fhir/r4`.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    pub params: SearchParams,
    pub query: &'a [(String, String)],
    pub base: &'a str,
}

/// One page of `matches` (each with its last update), sorted by last update then id,
/// after the cursor; with the total and the next page's cursor.
pub(crate) fn page(
    mut matches: Vec<(DateTime<Utc>, Value)>,
    params: &SearchParams,
) -> (u64, Vec<Value>, Option<String>) {
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    matches.sort_by_key(|a| (a.0, id(&a.1)));
    let total = matches.len() as u64;
    let mut rest: Vec<(DateTime<Utc>, Value)> = matches
        .into_iter()
        .filter(|(t, v)| params.page.as_ref().is_none_or(|c| c.is_before(*t, &id(v))))
        .collect();
    let more = rest.len() > params.count;
    rest.truncate(params.count);
    let next = more.then(|| rest.last()).flatten().map(|(t, v)| {
        PageCursor {
            last_updated: *t,
            id: id(v),
        }
        .encode()
    });
    (total, rest.into_iter().map(|(_, v)| v).collect(), next)
}

/// The searchset of one page of matches, with `included` resources after them.
pub(crate) fn searchset(
    search: &Search<'_>,
    kind: &str,
    total: u64,
    matches: Vec<Value>,
    included: Vec<Value>,
    next: Option<String>,
) -> Value {
    let page = search.params.page.as_ref().map(PageCursor::encode);
    let mut entries: Vec<SearchEntry> = matches.into_iter().map(SearchEntry::matched).collect();
    entries.extend(included.into_iter().map(SearchEntry::included));
    bundle::searchset(
        search.base,
        SearchSet {
            total: Some(total),
            self_link: bundle::search_link(search.base, kind, search.query, page.as_deref()),
            next_link: next.map(|n| bundle::search_link(search.base, kind, search.query, Some(&n))),
            entries,
        },
    )
}

/// An allowed read of a plan's data through the FHIR interface, as an audit record: the
/// same action as the JSON API's read, the FHIR resource type (and how it was read) as the
/// detail.
pub(crate) fn fhir_read_record(
    actor: &Actor,
    action: &'static str,
    plan: &CarePlanRow,
    detail: &str,
) -> AuditRecord {
    AuditRecord::by(
        actor,
        action,
        "care_plan",
        Some(plan.id.to_string()),
        Outcome::Allowed,
    )
    .plan(Some(plan.id))
    .patient(Some(plan.patient_id))
    .detail(hits::fhir_detail(detail))
}

/// Records an allowed read of a plan's data through the FHIR interface (see
/// [`fhir_read_record`]).
pub(crate) async fn audit_fhir_read(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    plan: &CarePlanRow,
    detail: &str,
) -> Result<(), ServiceError> {
    audit::record_now(
        services,
        meta,
        fhir_read_record(actor, action, plan, detail),
    )
    .await
}

/// Records the allowed reads of several plans (a search's page) in one transaction.
pub(crate) async fn audit_fhir_reads<'a>(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    reads: impl IntoIterator<Item = (&'static str, &'a CarePlanRow, &'a str)>,
) -> Result<(), ServiceError> {
    let records = reads
        .into_iter()
        .map(|(action, plan, detail)| fhir_read_record(actor, action, plan, detail))
        .collect();
    audit::record_all_now(services, meta, records).await
}

/// The resources `$everything` adds beyond the plan, its goals, team and PlanDefinition:
/// Observation … AuditEvent (Patient, Observations, Provenance, Tasks, Consents, the team's
/// Organizations and Practitioners), read under the access already granted for `plan`
/// (the reads are audited by the caller, [`observation::everything_reads`]).
pub(crate) async fn everything_more(
    services: &Services,
    plan: &CarePlanRow,
    out: &mut Vec<Value>,
) -> Result<(), ServiceError> {
    services.fhir_everything_more(plan, out).await
}
