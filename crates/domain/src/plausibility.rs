//! Plausibility of the times and dates a record states, as pure rules: an onset in the
//! future or after the admission, a stage start before the onset, a birth date that
//! makes the patient older than anyone is expected to be.
//!
//! Each finding is either impossible (the request is refused) or unusual (the request
//! is accepted once the caller confirms it, 「この内容で登録する」). The service runs
//! these rules for the JSON API and the web forms alike; every finding is reported at
//! once, next to the other field errors.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::entry::EntryKind;
use crate::error::FieldError;
use crate::rules::Rule;

/// Item codes that state when the illness or injury began (stroke onset, femur injury).
pub const ONSET_ITEMS: [&str; 3] = ["onset_at", "injury_at", "injury_date"];

/// Age (in completed years) above which a birth date needs confirmation.
pub const UNUSUAL_AGE: i32 = 120;

/// How far a clock may run ahead before a time counts as in the future.
const CLOCK_SKEW_MINUTES: i64 = 5;

/// Whether a finding refuses the request or asks for confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Cannot be true: refused.
    Impossible,
    /// Possible but unusual: accepted once confirmed.
    Unusual,
}

/// One plausibility finding: the field, the rule broken and how serious it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub error: FieldError,
}

impl Finding {
    fn impossible(error: FieldError) -> Self {
        Finding {
            severity: Severity::Impossible,
            error,
        }
    }
    fn unusual(error: FieldError) -> Self {
        Finding {
            severity: Severity::Unusual,
            error,
        }
    }
}

/// The field errors that stop a request: every impossible finding, and the unusual ones
/// unless the caller confirmed them.
pub fn blocking(findings: Vec<Finding>, confirmed: bool) -> Vec<FieldError> {
    findings
        .into_iter()
        .filter(|f| f.severity == Severity::Impossible || !confirmed)
        .map(|f| f.error)
        .collect()
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The Tokyo calendar date of a moment.
fn tokyo_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

/// Completed years between `birth` and `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// A birth date that makes the patient older than [`UNUSUAL_AGE`] on `today` is
/// unusual (rule `implausible`); a future birth date is checked by the registration
/// itself.
pub fn check_birth_date(birth: NaiveDate, today: NaiveDate) -> Vec<Finding> {
    let age = age_on(birth, today);
    if age > UNUSUAL_AGE {
        vec![Finding::unusual(FieldError::new(
            "birth_date",
            Rule::Implausible,
            format!(
                "this birth date makes the patient {age} years old (over {UNUSUAL_AGE}); check it, or confirm it to register anyway"
            ),
        ))]
    } else {
        Vec::new()
    }
}

/// A moment or date of an onset item, as the JSON value states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Onset {
    At(DateTime<Utc>),
    On(NaiveDate),
}

impl Onset {
    /// Reads an onset value: RFC 3339 for a moment, `YYYY-MM-DD` for a date.
    pub fn parse(v: &Value) -> Option<Onset> {
        let s = v.as_str()?;
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(Onset::At(t.with_timezone(&Utc)));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Onset::On)
    }

    /// Whether the onset is after `t` (a date onset: after the Tokyo date of `t`).
    fn after(self, t: DateTime<Utc>) -> bool {
        match self {
            Onset::At(o) => o > t,
            Onset::On(d) => d > tokyo_date(t),
        }
    }
}

/// The onset an entry's values state, with the field that states it.
pub fn onset_in(values: &Map<String, Value>) -> Option<(&'static str, Onset)> {
    ONSET_ITEMS
        .iter()
        .find_map(|code| values.get(*code).and_then(Onset::parse).map(|o| (*code, o)))
}

/// What the plan already knows when a new entry arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KnownTimes {
    /// The onset recorded by an earlier entry (the latest one recorded).
    pub onset: Option<Onset>,
    /// The effective time of the plan's first stage start (the admission).
    pub admission: Option<DateTime<Utc>>,
}

/// The plausibility of a new clinical entry's times against the clock and what the
/// plan already knows:
/// - an onset in the future is impossible (`in_future` on the onset item);
/// - an onset after the admission (the first stage start, or this entry when it is
///   that stage start) is impossible (`after_admission` on the onset item);
/// - a stage start before the onset (recorded before, or in the same entry) is
///   impossible (`before_onset` on `effective_at`).
///
/// An entry's own `effective_at` in the future is refused by `validate_entry`.
pub fn check_entry_times(
    kind: EntryKind,
    effective_at: DateTime<Utc>,
    values: &Map<String, Value>,
    known: &KnownTimes,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let stated = onset_in(values);
    if let Some((code, onset)) = stated {
        let field = format!("values.{code}");
        if onset.after(now + chrono::Duration::minutes(CLOCK_SKEW_MINUTES)) {
            out.push(Finding::impossible(FieldError::new(
                field.clone(),
                Rule::InFuture,
                "the onset must not be in the future",
            )));
        }
        let admission = match (kind, known.admission) {
            (_, Some(a)) => Some(a),
            (EntryKind::StageStart, None) => Some(effective_at),
            _ => None,
        };
        if let Some(a) = admission
            && onset.after(a)
        {
            out.push(Finding::impossible(FieldError::new(
                field,
                Rule::AfterAdmission,
                format!(
                    "the onset must not be after the admission ({})",
                    a.with_timezone(&jst()).format("%Y-%m-%d %H:%M")
                ),
            )));
        }
    }
    if kind == EntryKind::StageStart {
        let onset = stated.map(|(_, o)| o).or(known.onset);
        if let Some(o) = onset
            && o.after(effective_at)
            && !out.iter().any(|f| f.error.code == Rule::AfterAdmission)
        {
            out.push(Finding::impossible(FieldError::new(
                "effective_at",
                Rule::BeforeOnset,
                "a stage cannot start before the onset",
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn values(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    fn rules(f: &[Finding]) -> Vec<(String, &'static str)> {
        f.iter()
            .map(|f| (f.error.field.clone(), f.error.code.as_str()))
            .collect()
    }

    const NOW: &str = "2026-12-07T03:00:00Z";

    #[test]
    fn age_counts_completed_years() {
        assert_eq!(age_on(d("1948-05-03"), d("2026-05-02")), 77);
        assert_eq!(age_on(d("1948-05-03"), d("2026-05-03")), 78);
    }

    #[test]
    fn a_birth_date_over_120_years_ago_is_unusual_not_refused() {
        let f = check_birth_date(d("1900-01-01"), d("2026-12-07"));
        assert_eq!(rules(&f), [("birth_date".to_owned(), "implausible")]);
        assert_eq!(f[0].severity, Severity::Unusual);
        assert!(blocking(f.clone(), true).is_empty());
        assert_eq!(blocking(f, false).len(), 1);
        assert!(
            check_birth_date(d("1905-12-08"), d("2026-12-07")).is_empty(),
            "120"
        );
        assert_eq!(
            check_birth_date(d("1905-12-07"), d("2026-12-07")).len(),
            1,
            "121"
        );
    }

    #[test]
    fn an_onset_in_the_future_is_refused() {
        let v = values(json!({"onset_at": "2026-12-08T09:00:00+09:00"}));
        let f = check_entry_times(
            EntryKind::Assessment,
            t(NOW),
            &v,
            &KnownTimes::default(),
            t(NOW),
        );
        assert_eq!(rules(&f), [("values.onset_at".to_owned(), "in_future")]);
        assert_eq!(f[0].severity, Severity::Impossible);
        assert!(!blocking(f, true).is_empty(), "confirming does not help");
    }

    #[test]
    fn an_onset_after_the_admission_is_refused() {
        // Admitted 12-05 10:00 JST, onset stated as 12-05 12:00 JST.
        let v = values(json!({"onset_at": "2026-12-05T12:00:00+09:00"}));
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-05T01:00:00Z"),
            &v,
            &KnownTimes::default(),
            t(NOW),
        );
        assert_eq!(
            rules(&f),
            [("values.onset_at".to_owned(), "after_admission")]
        );
        // Stated later in an assessment, against the recorded admission.
        let known = KnownTimes {
            onset: None,
            admission: Some(t("2026-12-05T01:00:00Z")),
        };
        let f = check_entry_times(EntryKind::Assessment, t(NOW), &v, &known, t(NOW));
        assert_eq!(
            rules(&f),
            [("values.onset_at".to_owned(), "after_admission")]
        );
    }

    #[test]
    fn a_date_onset_on_the_admission_day_is_plausible() {
        let v = values(json!({"injury_date": "2026-12-05"}));
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-05T01:00:00Z"),
            &v,
            &KnownTimes::default(),
            t(NOW),
        );
        assert!(f.is_empty(), "{f:?}");
        let v = values(json!({"injury_date": "2026-12-06"}));
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-05T01:00:00Z"),
            &v,
            &KnownTimes::default(),
            t(NOW),
        );
        assert_eq!(
            rules(&f),
            [("values.injury_date".to_owned(), "after_admission")]
        );
    }

    #[test]
    fn a_stage_start_before_the_recorded_onset_is_refused() {
        let known = KnownTimes {
            onset: Some(Onset::At(t("2026-12-05T01:00:00Z"))),
            admission: Some(t("2026-12-05T02:00:00Z")),
        };
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-04T23:00:00Z"),
            &Map::new(),
            &known,
            t(NOW),
        );
        assert_eq!(rules(&f), [("effective_at".to_owned(), "before_onset")]);
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-06T00:00:00Z"),
            &Map::new(),
            &known,
            t(NOW),
        );
        assert!(f.is_empty());
        // Other kinds of entry may be dated before the onset is known to have happened.
        let f = check_entry_times(
            EntryKind::Assessment,
            t("2026-12-04T23:00:00Z"),
            &Map::new(),
            &known,
            t(NOW),
        );
        assert!(f.is_empty());
    }

    #[test]
    fn a_plausible_entry_has_no_findings_and_every_finding_comes_at_once() {
        let v = values(json!({"onset_at": "2026-12-05T08:00:00+09:00"}));
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-05T01:00:00Z"),
            &v,
            &KnownTimes::default(),
            t(NOW),
        );
        assert!(f.is_empty());
        let v = values(json!({"onset_at": "2026-12-09T08:00:00+09:00"}));
        let f = check_entry_times(
            EntryKind::StageStart,
            t("2026-12-05T01:00:00Z"),
            &v,
            &KnownTimes::default(),
            t(NOW),
        );
        assert_eq!(
            rules(&f),
            [
                ("values.onset_at".to_owned(), "in_future"),
                ("values.onset_at".to_owned(), "after_admission")
            ]
        );
    }
}
