//! The field rules a request can break, as one closed list. Each rule's stable
//! snake_case name is what the API sends as `errors[].code`; its words for people, in
//! Japanese and English, are in [`crate::wording`].

use serde::{Serialize, Serializer};

/// Declares the enum, its `ALL` list and its stable names from one table, so the list
/// cannot miss a variant.
macro_rules! closed_list {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $slug:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable snake_case name clients see.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $slug,)+
                }
            }

            /// The variant whose stable name is `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($slug => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use closed_list;

closed_list! {
    /// A rule a field of a request broke (`values.mrs` broke [`Rule::Range`]).
    Rule {
        /// A stage would start after its end (an amended `stage_start`).
        AfterStageEnd => "after_stage_end",
        /// A late stage end dated after the next stage already started.
        AfterNextStageStart => "after_next_stage_start",
        /// Not one of the allowed values or options.
        Allowed => "allowed",
        /// The entry to amend was superseded by a later correction of its chain.
        AlreadyAmended => "already_amended",
        /// An amendment cannot itself be amended (no longer raised: a correction names
        /// the head of its chain; kept so the name stays known).
        AmendAmendment => "amend_amendment",
        /// An amendment keeps the amended entry's kind.
        AmendKind => "amend_kind",
        /// An amendment keeps the amended entry's stage.
        AmendStage => "amend_stage",
        /// After the admission (an onset stated later than the first stage start).
        AfterAdmission => "after_admission",
        /// Before the onset (a stage start earlier than the recorded onset).
        BeforeOnset => "before_onset",
        /// Before the care plan started.
        BeforePlanStart => "before_plan_start",
        /// A stage would end before it started (a `stage_end` or its amendment).
        BeforeStageStart => "before_stage_start",
        /// A direction-override or isolate character.
        BidiControl => "bidi_control",
        /// A password of too few character classes.
        Classes => "classes",
        /// A commonly used password.
        Common => "common",
        /// A composite score that is not the sum of its parts.
        CompositeMismatch => "composite_mismatch",
        /// The patient's consent does not cover the receiving organisation.
        ConsentNotCovering => "consent_not_covering",
        /// A password that contains the login name.
        ContainsLogin => "contains_login",
        /// A control character.
        ControlCharacter => "control_character",
        /// The same value given twice.
        Duplicate => "duplicate",
        /// A JSON object that names a key twice.
        DuplicateKey => "duplicate_key",
        /// More than the caller itself may do.
        ExceedsCaller => "exceeds_caller",
        /// Not in the expected format.
        Format => "format",
        /// A moment in the future.
        InFuture => "in_future",
        /// A date before today (Tokyo).
        InPast => "in_past",
        /// Possible but unusual: accepted once confirmed.
        Implausible => "implausible",
        /// A composite whose parts are not all given.
        Incomplete => "incomplete",
        /// A control, zero-width or direction-override character in a name.
        InvalidCharacter => "invalid_character",
        /// Not written in kana.
        Kana => "kana",
        /// Too short or too long.
        Length => "length",
        /// Longer than the field allows.
        MaxLength => "max_length",
        /// Two values that must agree do not.
        Mismatch => "mismatch",
        /// Not allowed for this kind of entry.
        NotAllowed => "not_allowed",
        /// An item not recorded in this stage.
        NotInStage => "not_in_stage",
        /// A stage that does not follow the current one.
        NotNext => "not_next",
        /// The caller's own organisation's patient number is missing.
        OwnIdentifierRequired => "own_identifier_required",
        /// Another organisation's patient number.
        OwnOrganizationOnly => "own_organization_only",
        /// The organisation is not of a kind the template lets plan (enrol).
        PlannerKind => "planner_kind",
        /// The planner (計画管理病院) stays on its plan's care team.
        PlannerStays => "planner_stays",
        /// Outside the allowed range.
        Range => "range",
        /// Missing.
        Required => "required",
        /// An Idempotency-Key reused with another request.
        Reused => "reused",
        /// An individual target that names another item.
        SameItem => "same_item",
        /// An individual target of another kind.
        SameKind => "same_kind",
        /// The organisation owns the plan's current stage, which has not ended.
        StageRunning => "stage_running",
        /// The caller's own organisation where another one is needed.
        ToSelf => "self",
        /// An entry entered in error (voided), or one of its voided chain.
        Voided => "voided",
        /// Not a multiple of the item's step.
        Step => "step",
        /// Longer than allowed.
        TooLong => "too_long",
        /// Shorter than allowed.
        TooShort => "too_short",
        /// The wrong JSON type.
        Type => "type",
        /// A new value equal to the current one.
        Unchanged => "unchanged",
        /// Names something that does not exist.
        Unknown => "unknown",
        /// Names an entry that is not in this care plan.
        UnknownEntry => "unknown_entry",
        /// Names a goal the template does not have.
        UnknownGoal => "unknown_goal",
        /// Names an item the template does not have.
        UnknownItem => "unknown_item",
        /// Names a stage the template does not have.
        UnknownStage => "unknown_stage",
        /// Names a variance code the template does not have.
        UnknownVariance => "unknown_variance",
        /// A wrong current password.
        Wrong => "wrong",
        /// Merging a patient record with itself.
        SameRecord => "same_record",
        /// A patient record already merged into another one (its survivor is named).
        AlreadyMerged => "already_merged",
        /// A patient record that other records are merged into, named as the one to merge.
        HasMergedRecords => "has_merged_records",
        /// A difference (birth date, sex) that must be confirmed before going on.
        Unconfirmed => "unconfirmed",
        /// A link already reversed.
        AlreadyReversed => "already_reversed",
        /// Names a field the hand-off sheet's form does not have.
        NotOnForm => "not_on_form",
        /// A field the hand-off sheet's form requires, missing.
        FormRequired => "form_required",
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialised as its stable name, as the API has always sent it.
impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for Rule {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Rule {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            let name = rule.as_str();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert_eq!(Rule::parse(name), Some(*rule));
            assert_eq!(
                serde_json::to_value(rule).expect("json"),
                serde_json::json!(name)
            );
        }
        assert_eq!(Rule::parse("no_such_rule"), None);
        assert_eq!(Rule::ToSelf.as_str(), "self");
        assert!(Rule::Range == "range");
    }
}
