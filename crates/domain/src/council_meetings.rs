//! The regional pathway council's meetings (連携パス協議会, issue 16 point 6): who may
//! record them, and what a meeting and a decision must hold. A meeting keeps the reports
//! it reviewed as a frozen snapshot; each decision names the pathway it is about and,
//! once carried out, the template version that did it.

use chrono::NaiveDate;

use crate::error::FieldError;
use crate::rules::Rule;

/// The longest meeting title, in characters.
pub const TITLE_MAX: usize = 200;
/// The longest decision text, in characters.
pub const DECISION_MAX: usize = 2000;

/// The roles that record meetings and decisions: the regional administrator and the
/// council's members. Everyone else who may read reports reads meetings.
pub const WRITER_ROLES: [&str; 2] = ["regional_admin", "council_member"];

/// Whether someone with `roles` records meetings and decisions.
pub fn may_record<S: AsRef<str>>(roles: &[S]) -> bool {
    roles.iter().any(|r| WRITER_ROLES.contains(&r.as_ref()))
}

/// A piece of text trimmed and checked: not blank, at most `max` characters, no control
/// characters but line breaks and tabs.
fn clean_text(field: &str, text: &str, max: usize) -> Result<String, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        Err(FieldError::new(field, Rule::Required, "must not be blank"))
    } else if t.chars().count() > max {
        Err(FieldError::new(
            field,
            Rule::TooLong,
            format!("must be at most {max} characters"),
        ))
    } else if t
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        Err(FieldError::new(
            field,
            Rule::ControlCharacter,
            "must not contain control characters",
        ))
    } else {
        Ok(t.to_owned())
    }
}

/// A meeting as recorded: its date, title and the organisations that attended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingDraft {
    pub held_on: NaiveDate,
    pub title: String,
    /// Organisation codes, each once, in the order given.
    pub attending: Vec<String>,
}

/// Checks a meeting: a date not after `today`, a title, and at least one attending
/// organisation, each of them one of `known` organisation codes (a code given twice
/// counts once). Every problem is returned at once.
pub fn check_meeting(
    held_on: Option<NaiveDate>,
    title: &str,
    attending: &[String],
    known: &[String],
    today: NaiveDate,
) -> Result<MeetingDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    match held_on {
        None => errors.push(FieldError::new(
            "held_on",
            Rule::Required,
            "the meeting date is required (YYYY-MM-DD)",
        )),
        Some(d) if d > today => errors.push(FieldError::new(
            "held_on",
            Rule::InFuture,
            "a meeting is recorded once it has been held",
        )),
        Some(_) => {}
    }
    let title = clean_text("title", title, TITLE_MAX).map_err(|e| errors.push(e));
    let mut codes: Vec<String> = Vec::new();
    for (i, code) in attending.iter().enumerate() {
        let code = code.trim();
        if !known.iter().any(|k| k == code) {
            errors.push(FieldError::new(
                format!("attending[{i}]"),
                Rule::Unknown,
                format!("no organisation has the code {code:?}"),
            ));
        } else if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    if attending.is_empty() {
        errors.push(FieldError::new(
            "attending",
            Rule::Required,
            "name at least one attending organisation",
        ));
    }
    match (held_on, title) {
        (Some(held_on), Ok(title)) if errors.is_empty() => Ok(MeetingDraft {
            held_on,
            title,
            attending: codes,
        }),
        _ => Err(errors),
    }
}

/// Checks a decision: its text, and a pathway code among `pathways`.
pub fn check_decision(
    text: &str,
    pathway: &str,
    pathways: &[String],
) -> Result<(String, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    let text = clean_text("text", text, DECISION_MAX).map_err(|e| errors.push(e));
    let pathway = pathway.trim();
    if pathway.is_empty() {
        errors.push(FieldError::new(
            "pathway",
            Rule::Required,
            "name the pathway the decision is about",
        ));
    } else if !pathways.iter().any(|p| p == pathway) {
        errors.push(FieldError::new(
            "pathway",
            Rule::Unknown,
            format!("no pathway has the code {pathway:?}"),
        ));
    }
    match text {
        Ok(t) if errors.is_empty() => Ok((t, pathway.to_owned())),
        _ => Err(errors),
    }
}

/// Checks linking a decision about `decision_pathway` to version `version` of `pathway`:
/// the pathway must be the decision's, and the version one that exists (`exists`).
pub fn check_link(
    decision_pathway: &str,
    pathway: &str,
    version: i64,
    exists: bool,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if pathway.trim() != decision_pathway {
        errors.push(FieldError::new(
            "pathway",
            Rule::Mismatch,
            format!("the decision is about the pathway {decision_pathway:?}"),
        ));
    }
    if version < 1 {
        errors.push(FieldError::new(
            "version",
            Rule::Range,
            "a template version is 1 or more",
        ));
    } else if !exists {
        errors.push(FieldError::new(
            "version",
            Rule::Unknown,
            format!("the pathway {pathway:?} has no version {version}"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn known() -> Vec<String> {
        vec!["acute-1".into(), "rehab-1".into()]
    }

    #[test]
    fn only_the_regional_administrator_and_council_members_record_meetings() {
        assert!(may_record(&["regional_admin"]));
        assert!(may_record(&["org_admin", "council_member"]));
        assert!(!may_record(&["org_admin"]));
        assert!(!may_record::<&str>(&[]));
    }

    #[test]
    fn a_meeting_keeps_each_attending_organisation_once() {
        let m = check_meeting(
            Some(day("2026-11-20")),
            "  第3回 脳卒中連携パス協議会 ",
            &["rehab-1".into(), "acute-1".into(), "rehab-1".into()],
            &known(),
            day("2026-12-01"),
        )
        .expect("valid");
        assert_eq!(m.title, "第3回 脳卒中連携パス協議会");
        assert_eq!(m.attending, vec!["rehab-1", "acute-1"]);
    }

    #[test]
    fn a_meeting_lists_every_problem_at_once() {
        let errors = check_meeting(
            Some(day("2027-01-01")),
            " ",
            &["nowhere".into()],
            &known(),
            day("2026-12-01"),
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["held_on", "title", "attending[0]"]);
        let errors =
            check_meeting(None, "t", &[], &known(), day("2026-12-01")).expect_err("invalid");
        let rules: Vec<Rule> = errors.iter().map(|e| e.code).collect();
        assert_eq!(rules, vec![Rule::Required, Rule::Required]);
        let long = "あ".repeat(TITLE_MAX + 1);
        let errors = check_meeting(
            Some(day("2026-11-01")),
            &long,
            &["acute-1".into()],
            &known(),
            day("2026-12-01"),
        )
        .expect_err("too long");
        assert_eq!(errors[0].code, Rule::TooLong);
    }

    #[test]
    fn a_decision_needs_text_and_a_known_pathway() {
        let pathways = vec!["stroke".to_owned()];
        assert_eq!(
            check_decision(" g4 を120日に ", "stroke", &pathways).expect("valid"),
            ("g4 を120日に".to_owned(), "stroke".to_owned())
        );
        let errors = check_decision("", "femur", &pathways).expect_err("invalid");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].code, Rule::Unknown);
        let errors = check_decision("x\u{7}", "stroke", &pathways).expect_err("control");
        assert_eq!(errors[0].code, Rule::ControlCharacter);
    }

    #[test]
    fn a_decision_links_only_to_an_existing_version_of_its_own_pathway() {
        assert!(check_link("stroke", "stroke", 2, true).is_ok());
        let e = check_link("stroke", "femur", 1, true).expect_err("other pathway");
        assert_eq!(e[0].code, Rule::Mismatch);
        let e = check_link("stroke", "stroke", 9, false).expect_err("no such version");
        assert_eq!((e[0].field.as_str(), e[0].code), ("version", Rule::Unknown));
        let e = check_link("stroke", "stroke", 0, false).expect_err("version 0");
        assert_eq!(e[0].code, Rule::Range);
    }
}
