//! The shared variance code scheme `DIRECTION.LEVEL.CATEGORY.DETAIL` (domain.md §6, §9.0).

/// A parsed variance code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarianceParts<'a> {
    /// `POS` (正, faster or better than planned) or `NEG` (負).
    pub direction: &'a str,
    /// `VAR` 変動, `DEV` 逸脱, `DROP` 脱落.
    pub level: &'a str,
    /// `PT` patient/family, `ST` staff, `SY` system, `CO` community/social, `UN` not yet
    /// known (automatic variances nobody has classified).
    pub category: &'a str,
    pub detail: &'a str,
}

const DIRECTIONS: &[&str] = &["POS", "NEG"];
const LEVELS: &[&str] = &["VAR", "DEV", "DROP"];
/// Cause categories with their detail codes, as listed in domain.md §9.0.
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "PT",
        &[
            "COMPLICATION",
            "CONDITION",
            "COGNITION",
            "WISH",
            "REFUSAL",
            "DEATH",
        ],
    ),
    ("ST", &["ORDER", "ASSESS", "REPORT"]),
    ("SY", &["BED", "SCHED", "STAFF", "EQUIP"]),
    (
        "CO",
        &["RECEIVE", "CARE_INS", "HOUSING", "TRANSPORT", "CAREGIVER"],
    ),
    // Not a cause: the category of an automatic variance until a person classifies it.
    (UNKNOWN_CATEGORY, &[UNCLASSIFIED_DETAIL]),
];

/// The cause category of an automatic variance nobody has classified yet.
pub const UNKNOWN_CATEGORY: &str = "UN";
/// The one detail of [`UNKNOWN_CATEGORY`].
pub const UNCLASSIFIED_DETAIL: &str = "UNCLASSIFIED";
/// The system cause category (bed, schedule, staffing, equipment).
pub const SYSTEM_CATEGORY: &str = "SY";

/// Splits and checks a variance code against the shared scheme.
pub fn parse_variance_code(code: &str) -> Result<VarianceParts<'_>, String> {
    let parts: Vec<&str> = code.split('.').collect();
    let [direction, level, category, detail] = parts.as_slice() else {
        return Err(format!(
            "variance code `{code}` must have four parts DIRECTION.LEVEL.CATEGORY.DETAIL"
        ));
    };
    if !DIRECTIONS.contains(direction) {
        return Err(format!(
            "variance direction `{direction}` must be one of POS, NEG"
        ));
    }
    if !LEVELS.contains(level) {
        return Err(format!(
            "variance level `{level}` must be one of VAR, DEV, DROP"
        ));
    }
    let Some((_, details)) = CATEGORIES.iter().find(|(c, _)| c == category) else {
        return Err(format!(
            "variance category `{category}` must be one of PT, ST, SY, CO, UN"
        ));
    };
    if !details.contains(detail) {
        return Err(format!(
            "variance detail `{detail}` is not defined for category {category} (allowed: {})",
            details.join(", ")
        ));
    }
    Ok(VarianceParts {
        direction,
        level,
        category,
        detail,
    })
}

/// The cause of a variance code's category as the API names it: `patient`, `staff`,
/// `system`, `community`, or `unknown` (also for a code that does not parse).
pub fn cause_of(code: &str) -> &'static str {
    match parse_variance_code(code).map(|p| p.category) {
        Ok("PT") => "patient",
        Ok("ST") => "staff",
        Ok("SY") => "system",
        Ok("CO") => "community",
        _ => "unknown",
    }
}

/// Whether a template may name `code` as a goal's automatic variance: the system knows
/// a goal was missed but not why, so the cause is a system one (`SY`, e.g. an operating
/// slot) or not yet known (`UN`); patient, staff and community causes are a person's
/// judgement, given when the variance is classified.
pub fn is_automatic_cause(code: &str) -> bool {
    parse_variance_code(code)
        .is_ok_and(|p| p.category == SYSTEM_CATEGORY || p.category == UNKNOWN_CATEGORY)
}

/// Whether a person may classify an automatic variance with `code`: a code of the
/// scheme whose cause is known (not `UN`).
pub fn is_classification(code: &str) -> bool {
    parse_variance_code(code).is_ok_and(|p| p.category != UNKNOWN_CATEGORY)
}

/// The automatic variance code of a missed goal that names none, by the goal's kind:
/// always negative (a goal missed) with the unknown cause `UN.UNCLASSIFIED`; the level is
/// `VAR` (変動: the path continues unchanged) for goals about timing — a stage's length,
/// the time or days between two events, a check done within an interval — where the
/// care goes on as planned, only later; and `DEV` (逸脱: the path continues with partial
/// modification) for outcome goals — a value's threshold or range, a change, a
/// discharge destination — where a missed outcome calls for a change of the plan.
/// A stage past its maximum days is timing (`VAR`).
pub fn default_automatic_code(goal_kind: &str) -> String {
    let level = match goal_kind {
        "threshold" | "range" | "change" | "membership" => "DEV",
        _ => "VAR",
    };
    format!("NEG.{level}.{UNKNOWN_CATEGORY}.{UNCLASSIFIED_DETAIL}")
}

/// The code an automatic variance for a goal carries: the goal's own `variance` when the
/// template names one, else [`default_automatic_code`].
pub fn automatic_code(goal_variance: Option<&str>, goal_kind: &str) -> String {
    goal_variance
        .map(str::to_owned)
        .unwrap_or_else(|| default_automatic_code(goal_kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclassified_default_is_negative_with_unknown_cause_and_level_by_kind() {
        for kind in ["threshold", "range", "change", "membership"] {
            assert_eq!(default_automatic_code(kind), "NEG.DEV.UN.UNCLASSIFIED");
        }
        for kind in [
            "stage_length",
            "time_between",
            "days_between",
            "done_within",
            "stage_overrun",
        ] {
            assert_eq!(default_automatic_code(kind), "NEG.VAR.UN.UNCLASSIFIED");
        }
        for kind in ["range", "stage_length"] {
            let code = default_automatic_code(kind);
            assert!(parse_variance_code(&code).is_ok(), "{code}");
            assert_eq!(cause_of(&code), "unknown");
            assert!(is_automatic_cause(&code));
            assert!(!is_classification(&code));
        }
        assert_eq!(
            automatic_code(Some("NEG.VAR.SY.SCHED"), "time_between"),
            "NEG.VAR.SY.SCHED"
        );
        assert_eq!(
            automatic_code(None, "time_between"),
            "NEG.VAR.UN.UNCLASSIFIED"
        );
    }

    #[test]
    fn causes_in_words_and_who_may_name_them() {
        assert_eq!(cause_of("NEG.VAR.SY.SCHED"), "system");
        assert_eq!(cause_of("NEG.VAR.PT.WISH"), "patient");
        assert_eq!(cause_of("NEG.VAR.ST.ASSESS"), "staff");
        assert_eq!(cause_of("NEG.VAR.CO.RECEIVE"), "community");
        assert_eq!(cause_of("nonsense"), "unknown");
        assert!(is_automatic_cause("NEG.VAR.SY.BED"));
        assert!(!is_automatic_cause("NEG.VAR.PT.WISH"));
        assert!(!is_automatic_cause("NEG.VAR.SY"));
        assert!(is_classification("NEG.VAR.PT.WISH"));
        assert!(is_classification("NEG.VAR.SY.BED"));
        assert!(!is_classification("NEG.VAR.UN.UNCLASSIFIED"));
        assert!(!is_classification("NEG.VAR.XX.WISH"));
        // The unknown category has only the unclassified detail.
        assert!(parse_variance_code("NEG.VAR.UN.BED").is_err());
        assert!(parse_variance_code("NEG.VAR.SY.UNCLASSIFIED").is_err());
    }

    #[test]
    fn accepts_scheme_codes() {
        let p = parse_variance_code("NEG.VAR.CO.RECEIVE").unwrap();
        assert_eq!(p.direction, "NEG");
        assert_eq!(p.detail, "RECEIVE");
        assert!(parse_variance_code("POS.VAR.PT.CONDITION").is_ok());
        assert!(parse_variance_code("NEG.DROP.PT.DEATH").is_ok());
    }

    #[test]
    fn rejects_broken_codes() {
        for bad in [
            "NEG.VAR.CO",
            "UP.VAR.CO.RECEIVE",
            "NEG.SLIP.CO.RECEIVE",
            "NEG.VAR.XX.RECEIVE",
            "NEG.VAR.CO.BED",
            "NEG.VAR.CO.RECEIVE.EXTRA",
            "",
        ] {
            assert!(parse_variance_code(bad).is_err(), "{bad}");
        }
    }
}
