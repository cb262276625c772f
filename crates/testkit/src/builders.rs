//! Request bodies the tests build again and again (scale values derived from the
//! published templates), and time helpers.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use renkei_domain::template::{BARTHEL_TOTAL, FIM_TOTAL, PathwayTemplate, parse_template};
use serde_json::{Map, Value, json};

use crate::app::pathways_dir;

/// A published template, `pathways/<code>/v1.toml`, parsed once per test process.
///
/// # Panics
/// When the file is missing or does not parse.
pub fn template(code: &str) -> &'static PathwayTemplate {
    static TEMPLATES: OnceLock<Mutex<HashMap<String, &'static PathwayTemplate>>> = OnceLock::new();
    let mut cache = TEMPLATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    cache.entry(code.to_owned()).or_insert_with(|| {
        let path = pathways_dir().join(code).join("v1.toml");
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let parsed = parse_template(&source, Some((code, 1)))
            .unwrap_or_else(|d| panic!("{} does not parse: {d:?}", path.display()));
        Box::leak(Box::new(parsed))
    })
}

/// The FIM items of the stroke template (the components of `fim_total`), motor first,
/// then cognitive, as the template lists them.
pub fn fim_items() -> &'static [String] {
    template("stroke")
        .components(FIM_TOTAL)
        .expect("the stroke template defines fim_total")
}

/// The FIM items with the given scores, in [`fim_items`] order (18 items, each 1–7).
pub fn fim(scores: [i64; 18]) -> Map<String, Value> {
    template("stroke")
        .scale_values_of(FIM_TOTAL, &scores)
        .expect("the stroke template's fim_total sums 18 items")
}

/// The Barthel Index items with the given scores, in the stroke template's order of
/// `barthel_total`'s components (10 items, each brought to its nearest allowed value).
pub fn barthel(scores: [i64; 10]) -> Map<String, Value> {
    template("stroke")
        .scale_values_of(BARTHEL_TOTAL, &scores)
        .expect("the stroke template's barthel_total sums 10 items")
}

/// A patient registration body (DESIGN.md §5.1).
pub fn patient(
    family_kana: &str,
    given_kana: &str,
    birth_date: &str,
    org: &str,
    identifier: &str,
) -> Value {
    json!({
        "name": {"family": "山田", "given": "太郎", "family_kana": family_kana, "given_kana": given_kana},
        "birth_date": birth_date,
        "sex": "male",
        "identifiers": [{"organization": org, "value": identifier}],
    })
}

/// An entry body.
pub fn entry(stage: &str, kind: &str, effective_at: &str, values: Value) -> Value {
    json!({"stage": stage, "kind": kind, "effective_at": effective_at, "values": values})
}

/// RFC 3339 with `+09:00` (as Japanese sites send) for `days` days before now.
pub fn days_ago(days: i64) -> String {
    jst(Utc::now() - Duration::days(days))
}

/// RFC 3339 with `+09:00` for `seconds` from now (negative: in the past).
pub fn from_now_secs(seconds: i64) -> String {
    jst(Utc::now() + Duration::seconds(seconds))
}

/// A time as RFC 3339 in Japan time, to the second.
pub fn jst(t: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    t.with_timezone(&offset)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}
