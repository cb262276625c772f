//! Request bodies the tests build again and again, and time helpers.

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// The 18 FIM items of the stroke template, motor (13) first, then cognitive (5).
pub const FIM_ITEMS: [&str; 18] = [
    "fim_eating",
    "fim_grooming",
    "fim_bathing",
    "fim_dressing_upper",
    "fim_dressing_lower",
    "fim_toileting",
    "fim_bladder",
    "fim_bowel",
    "fim_transfer_bed",
    "fim_transfer_toilet",
    "fim_transfer_tub",
    "fim_locomotion",
    "fim_stairs",
    "fim_comprehension",
    "fim_expression",
    "fim_social",
    "fim_problem_solving",
    "fim_memory",
];

/// The 18 FIM items with the given scores (in [`FIM_ITEMS`] order).
pub fn fim(scores: [i64; 18]) -> Map<String, Value> {
    FIM_ITEMS
        .iter()
        .zip(scores)
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
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
