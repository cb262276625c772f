//! Bundles: the `searchset` of a search (with `total`, `self`/`next` links, absolute
//! `fullUrl`s and `search.mode`), and the opaque page cursor of `_page`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// `Bundle.entry.search.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// A resource that matched the search.
    Match,
    /// A resource added by `_include` or `$everything`.
    Include,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Match => "match",
            SearchMode::Include => "include",
        }
    }
}

/// One resource of a searchset, with how it came to be there.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchEntry {
    pub resource: Value,
    pub mode: SearchMode,
}

impl SearchEntry {
    pub fn matched(resource: Value) -> Self {
        SearchEntry {
            resource,
            mode: SearchMode::Match,
        }
    }

    pub fn included(resource: Value) -> Self {
        SearchEntry {
            resource,
            mode: SearchMode::Include,
        }
    }
}

/// A searchset before it is written out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchSet {
    /// The number of matches over all pages (included resources do not count).
    pub total: Option<u64>,
    /// The absolute URL of this page.
    pub self_link: String,
    /// The absolute URL of the next page, when there is one.
    pub next_link: Option<String>,
    pub entries: Vec<SearchEntry>,
}

/// The absolute `fullUrl` of a resource under `base` (e.g. `https://host/fhir/r4`).
pub fn full_url(base: &str, resource: &Value) -> String {
    let kind = resource["resourceType"].as_str().unwrap_or_default();
    let id = resource["id"].as_str().unwrap_or_default();
    format!("{}/{kind}/{id}", base.trim_end_matches('/'))
}

/// The `searchset` Bundle of `set`; `base` makes each entry's absolute `fullUrl`.
pub fn searchset(base: &str, set: SearchSet) -> Value {
    crate::common::prune(searchset_unpruned(base, set))
}

fn searchset_unpruned(base: &str, set: SearchSet) -> Value {
    let mut link = vec![json!({ "relation": "self", "url": set.self_link })];
    if let Some(next) = set.next_link {
        link.push(json!({ "relation": "next", "url": next }));
    }
    let entry: Vec<Value> = set
        .entries
        .into_iter()
        .map(|e| {
            json!({
                "fullUrl": full_url(base, &e.resource),
                "resource": e.resource,
                "search": { "mode": e.mode.as_str() },
            })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": link,
        "entry": entry,
    });
    if let Some(total) = set.total {
        bundle["total"] = json!(total);
    }
    bundle
}

/// Percent-encodes a query component (everything but unreserved characters).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The absolute URL of a search of `kind` with the query `pairs` (without any `_page`)
/// and, for a later page, the cursor `page`.
pub fn search_link(
    base: &str,
    kind: &str,
    pairs: &[(String, String)],
    page: Option<&str>,
) -> String {
    let mut query: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "_page")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if let Some(p) = page {
        query.push(format!("_page={p}"));
    }
    let base = base.trim_end_matches('/');
    if query.is_empty() {
        format!("{base}/{kind}")
    } else {
        format!("{base}/{kind}?{}", query.join("&"))
    }
}

/// Where the next page starts, in the stable order of searches (last update, then id):
/// the last resource of the page before. Sent as `_page`, opaque (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub last_updated: DateTime<Utc>,
    pub id: String,
}

impl PageCursor {
    /// The opaque text of the cursor.
    pub fn encode(&self) -> String {
        let plain = format!("{}|{}", self.last_updated.timestamp_micros(), self.id);
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// The cursor of `text`, or `None` when it is not one this server wrote.
    pub fn decode(text: &str) -> Option<PageCursor> {
        if !text.len().is_multiple_of(2) || text.len() > 400 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect();
        let plain = String::from_utf8(bytes?).ok()?;
        let (micros, id) = plain.split_once('|')?;
        let last_updated = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        crate::common::is_valid_id(id).then(|| PageCursor {
            last_updated,
            id: id.to_owned(),
        })
    }

    /// Whether a resource with this last update and id comes after the cursor.
    pub fn is_before(&self, last_updated: DateTime<Utc>, id: &str) -> bool {
        (self.last_updated, self.id.as_str()) < (last_updated, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_searchset_has_total_links_full_urls_and_modes() {
        let b = searchset(
            "https://h/fhir/r4/",
            SearchSet {
                total: Some(3),
                self_link: "https://h/fhir/r4/CarePlan?_count=1".into(),
                next_link: Some("https://h/fhir/r4/CarePlan?_count=1&_page=ab".into()),
                entries: vec![
                    SearchEntry::matched(json!({"resourceType": "CarePlan", "id": "p1"})),
                    SearchEntry::included(json!({"resourceType": "Goal", "id": "p1-g"})),
                ],
            },
        );
        assert_eq!(b["type"], "searchset");
        assert_eq!(b["total"], 3);
        assert_eq!(b["link"][1]["relation"], "next");
        assert_eq!(b["entry"][0]["fullUrl"], "https://h/fhir/r4/CarePlan/p1");
        assert_eq!(b["entry"][0]["search"]["mode"], "match");
        assert_eq!(b["entry"][1]["search"]["mode"], "include");
    }

    #[test]
    fn search_links_keep_the_query_and_replace_the_page() {
        let pairs = vec![
            (
                "_lastUpdated".to_owned(),
                "ge2026-12-07T10:00:00+09:00".to_owned(),
            ),
            ("_page".to_owned(), "00".to_owned()),
        ];
        assert_eq!(
            search_link("https://h/fhir/r4", "CarePlan", &pairs, Some("ab")),
            "https://h/fhir/r4/CarePlan?_lastUpdated=ge2026-12-07T10:00:00%2B09:00&_page=ab"
        );
        assert_eq!(
            search_link("https://h/fhir/r4/", "Goal", &[], None),
            "https://h/fhir/r4/Goal"
        );
    }

    #[test]
    fn a_page_cursor_round_trips_and_refuses_other_text() {
        let c = PageCursor {
            last_updated: DateTime::from_timestamp_micros(1_765_000_000_123_456)
                .unwrap_or_default(),
            id: "0190c0de-0000-7000-8000-000000000001".into(),
        };
        assert_eq!(PageCursor::decode(&c.encode()), Some(c.clone()));
        assert_eq!(PageCursor::decode("zz"), None);
        assert_eq!(PageCursor::decode("abc"), None);
        assert_eq!(PageCursor::decode(""), None);
        assert!(c.is_before(c.last_updated, "0190c0de-0000-7000-8000-000000000002"));
        assert!(!c.is_before(c.last_updated, &c.id));
    }
}
