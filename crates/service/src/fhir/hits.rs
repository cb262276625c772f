//! What every FHIR search shares: the resources a search matched ([`Hit`]), the page of
//! them it answers ([`Page`], [`page`]), the `patient` parameter and the detail of a
//! FHIR read's audit event.

use chrono::{DateTime, Utc};
use renkei_fhir::bundle::PageCursor;
use renkei_fhir::search::SearchParams;
use serde_json::Value;
use uuid::Uuid;

/// A resource a search matched, with what the page order reads.
#[derive(Debug, Clone)]
pub struct Hit {
    pub last_updated: DateTime<Utc>,
    pub id: String,
    pub resource: Value,
}

impl Hit {
    /// The hit of a resource, read from its `id` and `meta.lastUpdated`.
    pub fn of(resource: Value) -> Option<Hit> {
        let id = resource["id"].as_str()?.to_owned();
        let last_updated = DateTime::parse_from_rfc3339(resource["meta"]["lastUpdated"].as_str()?)
            .ok()?
            .with_timezone(&Utc);
        Some(Hit {
            last_updated,
            id,
            resource,
        })
    }
}

/// One page of a search.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The matches over all pages, when counted.
    pub total: Option<u64>,
    /// The matches of this page.
    pub matches: Vec<Value>,
    /// Resources added by `_include`.
    pub included: Vec<Value>,
    /// Where the next page starts, when there is one.
    pub next: Option<PageCursor>,
}

/// The page of `hits` the search asks for: filtered by `status` (read from each
/// resource's `status`) and `_lastUpdated`, in the stable order (last update, id), from
/// the `_page` cursor on, `_count` of them.
pub fn page(hits: Vec<Hit>, params: &SearchParams) -> Page {
    let mut hits: Vec<Hit> = hits
        .into_iter()
        .filter(|h| params.last_updated_matches(h.last_updated))
        .filter(|h| params.status_matches(h.resource["status"].as_str().unwrap_or_default()))
        .collect();
    hits.sort_by(|a, b| (a.last_updated, &a.id).cmp(&(b.last_updated, &b.id)));
    let total = hits.len() as u64;
    let rest: Vec<Hit> = match &params.page {
        Some(c) => hits
            .into_iter()
            .filter(|h| c.is_before(h.last_updated, &h.id))
            .collect(),
        None => hits,
    };
    let more = rest.len() > params.count;
    let this: Vec<Hit> = rest.into_iter().take(params.count).collect();
    let next = more.then(|| this.last()).flatten().map(|h| PageCursor {
        last_updated: h.last_updated,
        id: h.id.clone(),
    });
    Page {
        total: Some(total),
        matches: this.into_iter().map(|h| h.resource).collect(),
        included: Vec::new(),
        next,
    }
}

/// The detail of an audit event of a FHIR read.
pub fn fhir_detail(kind: &str) -> String {
    format!("fhir:{kind}")
}

/// The id of a patient named by a search, if it is one.
pub fn patient_param(params: &SearchParams) -> Option<Uuid> {
    params
        .patient
        .as_deref()
        .and_then(|p| Uuid::parse_str(p).ok())
}
