//! The shared variance code scheme `DIRECTION.LEVEL.CATEGORY.DETAIL` (domain.md §6, §9.0).

/// A parsed variance code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarianceParts<'a> {
    /// `POS` (正, faster or better than planned) or `NEG` (負).
    pub direction: &'a str,
    /// `VAR` 変動, `DEV` 逸脱, `DROP` 脱落.
    pub level: &'a str,
    /// `PT` patient/family, `ST` staff, `SY` system, `CO` community/social.
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
];

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
            "variance category `{category}` must be one of PT, ST, SY, CO"
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

#[cfg(test)]
mod tests {
    use super::*;

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
