//! What every resource shares: the canonical base, the code systems, ids, references,
//! `meta` and the FHIR date and instant forms.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The FHIR version served.
pub const FHIR_VERSION: &str = "4.0.1";

/// The media type of every FHIR answer.
pub const MEDIA_TYPE: &str = "application/fhir+json; charset=utf-8";

/// The base of Renkei's canonical URLs (PlanDefinition urls, code systems).
pub const CANONICAL_BASE: &str = "https://renkei.example.jp/fhir";

/// LOINC.
pub const LOINC: &str = "http://loinc.org";

/// JLAC10 (臨床検査項目分類コード), the OID JP Core uses for it.
pub const JLAC10: &str = "urn:oid:1.2.392.200119.4.504";

/// A Renkei code system without a standard counterpart: `{base}/CodeSystem/{name}`.
pub fn code_system(name: &str) -> String {
    format!("{CANONICAL_BASE}/CodeSystem/{name}")
}

/// The code system of one pathway's item codes.
pub fn item_code_system(pathway: &str) -> String {
    code_system(&format!("{pathway}-items"))
}

/// A FHIR `instant` (UTC, seconds or finer, with `Z`).
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A FHIR `date`.
pub fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Whether `id` is a valid FHIR logical id (`[A-Za-z0-9\-\.]{1,64}`).
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A relative reference `Type/id`.
pub fn reference(kind: &str, id: &str) -> Value {
    json!({ "reference": format!("{kind}/{id}") })
}

/// A relative reference with its display text.
pub fn reference_with_display(kind: &str, id: &str, display: &str) -> Value {
    json!({ "reference": format!("{kind}/{id}"), "display": display })
}

/// `meta` with the last update and, where one exists, the profile the resource claims.
pub fn meta(last_updated: DateTime<Utc>, profile: Option<&str>) -> Value {
    match profile {
        Some(p) => json!({ "lastUpdated": instant(last_updated), "profile": [p] }),
        None => json!({ "lastUpdated": instant(last_updated) }),
    }
}

/// A `Coding`.
pub fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    match display {
        Some(d) => json!({ "system": system, "code": code, "display": d }),
        None => json!({ "system": system, "code": code }),
    }
}

/// Removes the empty arrays and objects FHIR JSON does not allow (an element is either
/// present with content or absent), at every depth.
pub fn prune(mut value: Value) -> Value {
    prune_in_place(&mut value);
    value
}

/// [`prune`] without rebuilding the tree: children first, then the empty ones are
/// dropped where they are (a Bundle of hundreds of resources is walked once, not copied).
fn prune_in_place(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.iter_mut().for_each(prune_in_place);
            items.retain(|v| !is_empty(v));
        }
        Value::Object(map) => {
            map.values_mut().for_each(prune_in_place);
            map.retain(|_, v| !is_empty(v));
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_drops_empty_arrays_and_objects_at_every_depth() {
        let v = json!({"a": [], "b": {"c": {}, "d": [{}]}, "e": [1], "f": ""});
        assert_eq!(prune(v), json!({"e": [1], "f": ""}));
    }

    #[test]
    fn ids_follow_the_fhir_id_rule() {
        assert!(is_valid_id("0190c0de-0000-7000-8000-000000000001"));
        assert!(is_valid_id("prov-abc.1"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a_b"));
        assert!(!is_valid_id(&"a".repeat(65)));
    }

    #[test]
    fn instants_are_utc_with_z() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:00:00+09:00")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        assert_eq!(t.map(instant).as_deref(), Some("2026-12-07T01:00:00Z"));
    }
}
