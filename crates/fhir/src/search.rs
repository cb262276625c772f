//! The search parameters served: `patient`, `status`, `_lastUpdated` (with the `eq`,
//! `ge`, `le`, `gt`, `lt` prefixes), `_count` (default 50, at most 200; 0 for the total only), `_page` (the
//! cursor of the next page) and `_include`. Anything else is refused (400) rather than
//! silently ignored, so a client never reads an unfiltered answer as a filtered one.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

use crate::bundle::PageCursor;

/// `_count` when the request sends none.
pub const DEFAULT_COUNT: usize = 50;
/// The largest `_count` served.
pub const MAX_COUNT: usize = 200;

/// A `_lastUpdated` comparison prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ge,
    Le,
    Gt,
    Lt,
}

/// One `_lastUpdated` condition: the prefix and the interval its value stands for
/// (`2026-12-07` is the whole day, an instant a single microsecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateFilter {
    pub prefix: Prefix,
    /// The first instant of the value's interval.
    pub start: DateTime<Utc>,
    /// The instant after the value's interval.
    pub end: DateTime<Utc>,
}

impl DateFilter {
    /// Whether `t` satisfies the condition (FHIR's date search semantics for an instant).
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        match self.prefix {
            Prefix::Eq => self.start <= t && t < self.end,
            Prefix::Ge => t >= self.start,
            Prefix::Gt => t >= self.end,
            Prefix::Le => t < self.end,
            Prefix::Lt => t < self.start,
        }
    }

    /// Parses `ge2026-12-01`, `lt2026-12-07T10:00:00+09:00`, `2026`, `2026-12`…
    pub fn parse(text: &str) -> Option<DateFilter> {
        let (prefix, value) = match text.get(..2) {
            Some("eq") => (Prefix::Eq, &text[2..]),
            Some("ge") => (Prefix::Ge, &text[2..]),
            Some("le") => (Prefix::Le, &text[2..]),
            Some("gt") => (Prefix::Gt, &text[2..]),
            Some("lt") => (Prefix::Lt, &text[2..]),
            _ => (Prefix::Eq, text),
        };
        let (start, end) = interval(value)?;
        Some(DateFilter { prefix, start, end })
    }
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// The interval a FHIR date or dateTime value stands for (dates without a zone are
/// read as UTC).
fn interval(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if value.contains('T') {
        let t = DateTime::parse_from_rfc3339(value)
            .ok()?
            .with_timezone(&Utc);
        return Some((t, t + chrono::Duration::microseconds(1)));
    }
    let parts: Vec<&str> = value.split('-').collect();
    let year: i32 = match parts.first() {
        Some(y) if y.len() == 4 => y.parse().ok()?,
        _ => return None,
    };
    match parts.as_slice() {
        [_] => {
            let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
            let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
            Some((day_start(start), day_start(end)))
        }
        [_, m] if m.len() == 2 => {
            let start = NaiveDate::from_ymd_opt(year, m.parse().ok()?, 1)?;
            let end = if start.month() == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, start.month() + 1, 1)?
            };
            Some((day_start(start), day_start(end)))
        }
        [_, m, d] if m.len() == 2 && d.len() == 2 => {
            let start = NaiveDate::from_ymd_opt(year, m.parse().ok()?, d.parse().ok()?)?;
            Some((day_start(start), day_start(start.succ_opt()?)))
        }
        _ => None,
    }
}

/// What is wrong with a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// A parameter this resource type does not support.
    Unknown(String),
    /// A supported parameter with a value that cannot be read.
    Invalid(String),
}

impl SearchError {
    /// The parameter at fault (the OperationOutcome's `expression`).
    pub fn parameter(&self) -> &str {
        match self {
            SearchError::Unknown(p) | SearchError::Invalid(p) => p,
        }
    }
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParams {
    /// `patient`: the patient's id (`Patient/{id}` or the bare id).
    pub patient: Option<String>,
    /// `status`: any of these codes (comma-separated in the request).
    pub status: Vec<String>,
    /// `_lastUpdated`: all of these conditions.
    pub last_updated: Vec<DateFilter>,
    pub count: usize,
    pub page: Option<PageCursor>,
    /// `_include` values, e.g. `CarePlan:goal`.
    pub include: Vec<String>,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            patient: None,
            status: Vec::new(),
            last_updated: Vec::new(),
            count: DEFAULT_COUNT,
            page: None,
            include: Vec::new(),
        }
    }
}

impl SearchParams {
    /// Whether a resource last updated at `t` satisfies every `_lastUpdated` condition.
    pub fn last_updated_matches(&self, t: DateTime<Utc>) -> bool {
        self.last_updated.iter().all(|f| f.matches(t))
    }

    /// Whether a status code is asked for (always, when no `status` was sent).
    pub fn status_matches(&self, status: &str) -> bool {
        self.status.is_empty() || self.status.iter().any(|s| s == status)
    }
}

/// Parses the query `pairs` of a search on a type that supports the parameters
/// `supported` (of `patient`, `status`) and the `_include` values `includes`.
/// `_lastUpdated`, `_count`, `_page` and `_format=json` are always supported.
pub fn parse(
    pairs: &[(String, String)],
    supported: &[&str],
    includes: &[&str],
) -> Result<SearchParams, SearchError> {
    let mut p = SearchParams::default();
    let invalid = |name: &str| SearchError::Invalid(name.to_owned());
    for (name, value) in pairs {
        match name.as_str() {
            "patient" if supported.contains(&"patient") => {
                let id = value.strip_prefix("Patient/").unwrap_or(value);
                if !crate::common::is_valid_id(id) || p.patient.is_some() {
                    return Err(invalid(name));
                }
                p.patient = Some(id.to_owned());
            }
            "status" if supported.contains(&"status") => {
                let codes: Vec<String> = value.split(',').map(|s| s.trim().to_owned()).collect();
                if codes.iter().any(String::is_empty) {
                    return Err(invalid(name));
                }
                p.status.extend(codes);
            }
            "_lastUpdated" => {
                p.last_updated
                    .push(DateFilter::parse(value).ok_or_else(|| invalid(name))?);
            }
            // `_count=0` asks for the total only.
            "_count" => {
                p.count = value
                    .parse::<usize>()
                    .map_err(|_| invalid(name))?
                    .min(MAX_COUNT)
            }
            "_page" => p.page = Some(PageCursor::decode(value).ok_or_else(|| invalid(name))?),
            "_include" if includes.contains(&value.as_str()) => p.include.push(value.clone()),
            "_include" => return Err(invalid(name)),
            "_format" if matches!(value.as_str(), "json" | "application/fhir+json") => {}
            "_format" => return Err(invalid(name)),
            _ => return Err(SearchError::Unknown(name.clone())),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn last_updated_prefixes_follow_fhir_date_search() {
        let day =
            |p: &str| DateFilter::parse(&format!("{p}2026-12-07")).unwrap_or_else(|| panic!("{p}"));
        let inside = at("2026-12-07T12:00:00Z");
        let before = at("2026-12-06T23:59:59Z");
        let after = at("2026-12-08T00:00:00Z");
        assert!(day("").matches(inside) && !day("").matches(before) && !day("").matches(after));
        assert!(
            day("ge").matches(inside) && day("ge").matches(after) && !day("ge").matches(before)
        );
        assert!(
            day("le").matches(inside) && day("le").matches(before) && !day("le").matches(after)
        );
        assert!(day("gt").matches(after) && !day("gt").matches(inside));
        assert!(day("lt").matches(before) && !day("lt").matches(inside));
        let instant = DateFilter::parse("ge2026-12-07T10:00:00+09:00");
        assert!(instant.is_some_and(|f| f.matches(at("2026-12-07T01:00:00Z"))));
        assert!(
            DateFilter::parse("2026-12").is_some_and(|f| f.matches(at("2026-12-31T23:00:00Z")))
        );
        assert!(DateFilter::parse("2026").is_some_and(|f| !f.matches(at("2027-01-01T00:00:00Z"))));
        for bad in [
            "xx2026",
            "ge",
            "2026-13-01",
            "26-12-07",
            "ge2026-12-07T10:00",
        ] {
            assert_eq!(DateFilter::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn count_defaults_caps_and_refuses_what_is_not_a_count() {
        assert_eq!(parse(&[], &[], &[]).map(|p| p.count), Ok(DEFAULT_COUNT));
        assert_eq!(
            parse(&q(&[("_count", "1000")]), &[], &[]).map(|p| p.count),
            Ok(MAX_COUNT)
        );
        assert_eq!(
            parse(&q(&[("_count", "0")]), &[], &[]).map(|p| p.count),
            Ok(0)
        );
        for bad in ["-1", "x", ""] {
            assert_eq!(
                parse(&q(&[("_count", bad)]), &[], &[]),
                Err(SearchError::Invalid("_count".into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_and_unsupported_parameters_are_refused() {
        assert_eq!(
            parse(&q(&[("name", "x")]), &["patient"], &[]),
            Err(SearchError::Unknown("name".into()))
        );
        assert_eq!(
            parse(&q(&[("status", "active")]), &["patient"], &[]),
            Err(SearchError::Unknown("status".into()))
        );
        assert_eq!(
            parse(
                &q(&[("_include", "CarePlan:subject")]),
                &[],
                &["CarePlan:goal"]
            ),
            Err(SearchError::Invalid("_include".into()))
        );
    }

    #[test]
    fn patient_and_status_are_read() {
        let p = parse(
            &q(&[
                ("patient", "Patient/abc-1"),
                ("status", "active,completed"),
                ("_include", "CarePlan:goal"),
            ]),
            &["patient", "status"],
            &["CarePlan:goal"],
        );
        let p = p.unwrap_or_default();
        assert_eq!(p.patient.as_deref(), Some("abc-1"));
        assert!(p.status_matches("completed") && !p.status_matches("revoked"));
        assert_eq!(p.include, vec!["CarePlan:goal".to_owned()]);
    }
}
