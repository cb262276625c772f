//! The filter every council report takes, from the query string (the API's and the web
//! page's URL alike): `pathway`, `version` (repeatable), `from`, `to`, `period`, `area`,
//! `organization`, `stage`. Parsing checks the form of each value and reports every bad
//! field at once; whether a pathway, version, stage or organisation exists is checked by
//! the service, which knows them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::rules::Rule;

/// Which date of a plan `from` and `to` apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The plan's start (the default).
    #[default]
    Start,
    /// The plan's end (completion or withdrawal); plans not ended are left out.
    End,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Start => "start",
            Period::End => "end",
        }
    }
}

/// A parsed report filter; every field optional (none: the whole region).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReportFilter {
    /// Pathway code (`stroke`).
    pub pathway: Option<String>,
    /// Template versions (two on the comparison).
    pub versions: Vec<u32>,
    /// First day (Asia/Tokyo), inclusive.
    pub from: Option<NaiveDate>,
    /// Last day (Asia/Tokyo), inclusive.
    pub to: Option<NaiveDate>,
    pub period: Period,
    /// Secondary medical area (the plan's region).
    pub area: Option<String>,
    /// Organisation code: plans it planned or ran a stage of.
    pub organization: Option<String>,
    /// Stage code: the stage-level tables show this stage only.
    pub stage: Option<String>,
}

/// The query parameters a report accepts besides the filter's.
pub const OTHER_PARAMETERS: &[&str] = &["format", "lang"];

/// Longest value accepted for a code parameter.
const MAX_CODE: usize = 100;

fn code(errors: &mut Vec<FieldError>, field: &str, v: &str) -> Option<String> {
    if v.chars().count() > MAX_CODE || v.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            Rule::Format,
            format!("`{field}` must be a code of at most {MAX_CODE} characters"),
        ));
        return None;
    }
    Some(v.to_owned())
}

fn date(errors: &mut Vec<FieldError>, field: &str, v: &str) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) if v.len() == 10 => Some(d),
        _ => {
            errors.push(FieldError::new(
                field,
                Rule::Format,
                format!("`{field}` must be a date YYYY-MM-DD"),
            ));
            None
        }
    }
}

impl ReportFilter {
    /// Parses query pairs (in order, repeats kept). An empty value counts as not given
    /// (a web form sends empty fields). Every bad field is reported: an unknown
    /// parameter, a repeated single parameter, a malformed value, `from` after `to`, a
    /// version without a pathway.
    pub fn parse(pairs: &[(String, String)]) -> Result<ReportFilter, Vec<FieldError>> {
        let mut f = ReportFilter::default();
        let mut errors = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in pairs {
            let value = value.trim();
            let key = key.as_str();
            if key != "version" && seen.contains(&key) {
                errors.push(FieldError::new(
                    key,
                    Rule::Duplicate,
                    format!("`{key}` may be given once"),
                ));
                continue;
            }
            seen.push(key);
            if value.is_empty() {
                continue;
            }
            match key {
                "pathway" => f.pathway = code(&mut errors, key, value),
                "version" => match value.parse::<u32>() {
                    Ok(v) if v >= 1 => {
                        if f.versions.contains(&v) {
                            errors.push(FieldError::new(
                                key,
                                Rule::Duplicate,
                                format!("version {v} is named twice"),
                            ));
                        } else {
                            f.versions.push(v);
                        }
                    }
                    _ => errors.push(FieldError::new(
                        key,
                        Rule::Format,
                        "`version` must be a whole number from 1",
                    )),
                },
                "from" => f.from = date(&mut errors, key, value),
                "to" => f.to = date(&mut errors, key, value),
                "period" => match value {
                    "start" => f.period = Period::Start,
                    "end" => f.period = Period::End,
                    _ => errors.push(FieldError::new(
                        key,
                        Rule::Format,
                        "`period` must be `start` or `end`",
                    )),
                },
                "area" => f.area = code(&mut errors, key, value),
                "organization" => f.organization = code(&mut errors, key, value),
                "stage" => f.stage = code(&mut errors, key, value),
                k if OTHER_PARAMETERS.contains(&k) => {}
                _ => errors.push(FieldError::new(
                    key,
                    Rule::Unknown,
                    format!("`{key}` is not a report filter"),
                )),
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to)
            && from > to
        {
            errors.push(FieldError::new(
                "to",
                Rule::Range,
                "`to` must not be before `from`",
            ));
        }
        if !f.versions.is_empty() && f.pathway.is_none() {
            errors.push(FieldError::new(
                "pathway",
                Rule::Required,
                "a version needs its pathway",
            ));
        }
        if f.stage.is_some() && f.pathway.is_none() {
            errors.push(FieldError::new(
                "pathway",
                Rule::Required,
                "a stage needs its pathway",
            ));
        }
        if errors.is_empty() {
            Ok(f)
        } else {
            Err(errors)
        }
    }

    /// The filter as query pairs (the same that parse back to it), for links.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |k: &str, v: String| out.push((k.to_owned(), v));
        if let Some(p) = &self.pathway {
            push("pathway", p.clone());
        }
        for v in &self.versions {
            push("version", v.to_string());
        }
        if let Some(d) = self.from {
            push("from", d.to_string());
        }
        if let Some(d) = self.to {
            push("to", d.to_string());
        }
        if self.period != Period::Start {
            push("period", self.period.as_str().to_owned());
        }
        if let Some(a) = &self.area {
            push("area", a.clone());
        }
        if let Some(o) = &self.organization {
            push("organization", o.clone());
        }
        if let Some(s) = &self.stage {
            push("stage", s.clone());
        }
        out
    }

    /// Whether a plan's start or end day (as `period` picks) is within `from`..=`to`.
    /// With `period=end`, a plan not ended is outside as soon as either bound is given.
    pub fn in_period(&self, started_on: NaiveDate, ended_on: Option<NaiveDate>) -> bool {
        let day = match self.period {
            Period::Start => Some(started_on),
            Period::End => ended_on,
        };
        match day {
            Some(d) => self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t),
            None => self.from.is_none() && self.to.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_full_filter_parses_and_round_trips_through_its_pairs() {
        let p = pairs(&[
            ("pathway", "stroke"),
            ("version", "1"),
            ("version", "2"),
            ("from", "2026-01-01"),
            ("to", "2026-12-31"),
            ("period", "end"),
            ("area", "north"),
            ("organization", "H001"),
            ("stage", "recovery"),
            ("format", "csv"),
        ]);
        let f = ReportFilter::parse(&p).unwrap();
        assert_eq!(f.versions, vec![1, 2]);
        assert_eq!(f.period, Period::End);
        assert_eq!(ReportFilter::parse(&f.to_pairs()).unwrap(), f);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let p = pairs(&[
            ("version", "0"),
            ("from", "2026-13-01"),
            ("to", "yesterday"),
            ("period", "middle"),
            ("colour", "red"),
            ("area", "a"),
            ("area", "b"),
        ]);
        let errors = ReportFilter::parse(&p).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in ["version", "from", "to", "period", "colour", "area"] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }

    #[test]
    fn from_after_to_and_a_version_without_its_pathway_are_refused() {
        let errors = ReportFilter::parse(&pairs(&[
            ("from", "2026-02-01"),
            ("to", "2026-01-01"),
            ("version", "2"),
        ]))
        .unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.field == "to" && e.code == Rule::Range)
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "pathway" && e.code == Rule::Required)
        );
    }

    #[test]
    fn empty_values_count_as_not_given() {
        let f = ReportFilter::parse(&pairs(&[("pathway", ""), ("from", "")])).unwrap();
        assert_eq!(f, ReportFilter::default());
    }

    #[test]
    fn the_period_picks_the_start_or_the_end_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut f = ReportFilter {
            from: Some(d("2026-01-01")),
            to: Some(d("2026-01-31")),
            ..Default::default()
        };
        assert!(f.in_period(d("2026-01-10"), None));
        assert!(!f.in_period(d("2025-12-31"), Some(d("2026-01-10"))));
        f.period = Period::End;
        assert!(f.in_period(d("2025-12-31"), Some(d("2026-01-10"))));
        assert!(!f.in_period(d("2026-01-10"), None));
    }
}
