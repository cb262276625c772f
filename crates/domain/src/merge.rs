//! Merging two patient records of one person (名寄せ). Plans and entries are
//! append-only and hash-chained to their patient's id, so a merge moves nothing: it is a
//! link from the merged record to the record that survives, kept with who made it and
//! why, and reversible. Every read that starts from a patient resolves a merged record
//! to its survivor; a reversed link no longer counts.
//!
//! The rules here are pure: which pairs may be merged (no chains — a record is merged
//! into at most one survivor, and a survivor is never itself merged), what the preview
//! lists as different, which differences must be confirmed, when a link may be
//! reversed, and how a record resolves to its survivor and group.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::error::FieldError;
use crate::rules::Rule;

/// Longest reason of a merge or its reversal, in characters.
pub const REASON_MAX: usize = 500;

/// A link between two records as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub id: Uuid,
    pub survivor: Uuid,
    pub merged: Uuid,
    /// The link was reversed: it no longer joins the records.
    pub reversed: bool,
}

/// The links that count: those not reversed.
fn active(links: &[Link]) -> impl Iterator<Item = &Link> {
    links.iter().filter(|l| !l.reversed)
}

/// The record a read of `id` shows: the survivor of its unreversed link, or itself.
pub fn survivor_of(id: Uuid, links: &[Link]) -> Uuid {
    active(links)
        .find(|l| l.merged == id)
        .map(|l| l.survivor)
        .unwrap_or(id)
}

/// The records read as one with `id`: its survivor first, then the records merged into
/// that survivor in the order of `links`.
pub fn group_of(id: Uuid, links: &[Link]) -> Vec<Uuid> {
    let survivor = survivor_of(id, links);
    let mut out = vec![survivor];
    for l in active(links).filter(|l| l.survivor == survivor) {
        if !out.contains(&l.merged) {
            out.push(l.merged);
        }
    }
    out
}

/// Why `merged` may not be merged into `survivor`, every reason at once (empty when it
/// may). `links` are the links touching either record. The survivor is the record in the
/// URL (`id`), the merged one the request's `other`.
pub fn refusals(survivor: Uuid, merged: Uuid, links: &[Link]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if survivor == merged {
        errors.push(FieldError::new(
            "other",
            Rule::SameRecord,
            "a record cannot be merged with itself",
        ));
        return errors;
    }
    if let Some(l) = active(links).find(|l| l.merged == survivor) {
        errors.push(FieldError::new(
            "id",
            Rule::AlreadyMerged,
            format!(
                "this record is merged into {}: merge into that record instead",
                l.survivor
            ),
        ));
    }
    if let Some(l) = active(links).find(|l| l.merged == merged) {
        errors.push(FieldError::new(
            "other",
            Rule::AlreadyMerged,
            format!("the other record is already merged into {}", l.survivor),
        ));
    }
    if active(links).any(|l| l.survivor == merged) {
        errors.push(FieldError::new(
            "other",
            Rule::HasMergedRecords,
            "other records are merged into the other record: reverse those merges first",
        ));
    }
    errors
}

/// Why a link may not be reversed (none when it may).
pub fn reversal_refusals(link: &Link) -> Vec<FieldError> {
    if link.reversed {
        vec![FieldError::new(
            "link",
            Rule::AlreadyReversed,
            "the merge is already reversed",
        )]
    } else {
        Vec::new()
    }
}

/// The reason of a merge or reversal, trimmed; required and at most [`REASON_MAX`]
/// characters.
pub fn clean_reason(reason: &str) -> Result<String, FieldError> {
    let r = reason.trim();
    if r.is_empty() {
        Err(FieldError::new(
            "reason",
            Rule::Required,
            "must not be blank",
        ))
    } else if r.chars().count() > REASON_MAX {
        Err(FieldError::new(
            "reason",
            Rule::TooLong,
            format!("must be at most {REASON_MAX} characters"),
        ))
    } else if r
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        Err(FieldError::new(
            "reason",
            Rule::ControlCharacter,
            "must not contain control characters",
        ))
    } else {
        Ok(r.to_owned())
    }
}

/// A record's demographics as the preview compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: NaiveDate,
    pub sex: String,
}

/// The fields the preview compares, in the order it shows them.
pub const FIELDS: [&str; 6] = [
    "family",
    "given",
    "family_kana",
    "given_kana",
    "birth_date",
    "sex",
];

/// The differences that must be confirmed before a merge: two people may share a name,
/// but a different birth date or sex asks whether they are one person.
pub const CONFIRM_FIELDS: [&str; 2] = ["birth_date", "sex"];

/// One compared field: both values and whether they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldComparison {
    pub field: &'static str,
    pub survivor: String,
    pub merged: String,
    pub differs: bool,
    /// A difference that must be confirmed ([`CONFIRM_FIELDS`]).
    pub needs_confirmation: bool,
}

fn value_of(d: &Demographics, field: &str) -> String {
    match field {
        "family" => d.family.clone(),
        "given" => d.given.clone(),
        "family_kana" => d.family_kana.clone(),
        "given_kana" => d.given_kana.clone(),
        "birth_date" => d.birth_date.to_string(),
        _ => d.sex.clone(),
    }
}

/// Every field of the two records side by side, each difference marked.
pub fn compare(survivor: &Demographics, merged: &Demographics) -> Vec<FieldComparison> {
    FIELDS
        .iter()
        .map(|f| {
            let (a, b) = (value_of(survivor, f), value_of(merged, f));
            let differs = a != b;
            FieldComparison {
                field: f,
                needs_confirmation: differs && CONFIRM_FIELDS.contains(f),
                survivor: a,
                merged: b,
                differs,
            }
        })
        .collect()
}

/// The differences a merge must confirm, each as a field error, unless `confirmed`.
pub fn unconfirmed(comparison: &[FieldComparison], confirmed: bool) -> Vec<FieldError> {
    if confirmed {
        return Vec::new();
    }
    comparison
        .iter()
        .filter(|c| c.needs_confirmation)
        .map(|c| {
            FieldError::new(
                c.field,
                Rule::Unconfirmed,
                format!(
                    "{} differs between the records: send confirm_differences true",
                    c.field
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n + 1)
    }

    fn link(n: u128, survivor: Uuid, merged: Uuid, reversed: bool) -> Link {
        Link {
            id: Uuid::from_u128(1000 + n),
            survivor,
            merged,
            reversed,
        }
    }

    fn demo() -> Demographics {
        Demographics {
            family: "山田".into(),
            given: "太郎".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            birth_date: NaiveDate::from_ymd_opt(1950, 1, 2).expect("date"),
            sex: "male".into(),
        }
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, Rule)> {
        errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
    }

    #[test]
    fn two_unlinked_records_may_be_merged() {
        assert!(refusals(id(1), id(2), &[]).is_empty());
    }

    #[test]
    fn a_record_is_not_merged_with_itself() {
        assert_eq!(
            codes(&refusals(id(1), id(1), &[])),
            [("other", Rule::SameRecord)]
        );
    }

    #[test]
    fn merging_into_a_merged_record_names_its_survivor() {
        let links = [link(0, id(9), id(1), false)];
        let errors = refusals(id(1), id(2), &links);
        assert_eq!(codes(&errors), [("id", Rule::AlreadyMerged)]);
        assert!(errors[0].message.contains(&id(9).to_string()));
    }

    #[test]
    fn a_record_already_merged_or_with_merged_records_is_not_merged_again() {
        let links = [link(0, id(9), id(2), false), link(1, id(3), id(4), false)];
        assert_eq!(
            codes(&refusals(id(1), id(2), &links)),
            [("other", Rule::AlreadyMerged)]
        );
        assert_eq!(
            codes(&refusals(id(1), id(3), &links)),
            [("other", Rule::HasMergedRecords)]
        );
        // A survivor may take in more records.
        assert!(refusals(id(3), id(1), &links).is_empty());
    }

    #[test]
    fn a_reversed_link_no_longer_counts() {
        let links = [link(0, id(9), id(2), true)];
        assert!(refusals(id(1), id(2), &links).is_empty());
        assert!(refusals(id(2), id(9), &links).is_empty());
        assert_eq!(survivor_of(id(2), &links), id(2));
        assert_eq!(group_of(id(9), &links), [id(9)]);
    }

    #[test]
    fn a_merged_record_resolves_to_its_survivor_and_its_group() {
        let links = [link(0, id(1), id(2), false), link(1, id(1), id(3), false)];
        assert_eq!(survivor_of(id(2), &links), id(1));
        assert_eq!(survivor_of(id(1), &links), id(1));
        assert_eq!(group_of(id(3), &links), [id(1), id(2), id(3)]);
        assert_eq!(group_of(id(4), &links), [id(4)]);
    }

    #[test]
    fn a_link_is_reversed_once() {
        assert!(reversal_refusals(&link(0, id(1), id(2), false)).is_empty());
        assert_eq!(
            codes(&reversal_refusals(&link(0, id(1), id(2), true))),
            [("link", Rule::AlreadyReversed)]
        );
    }

    #[test]
    fn a_reason_is_required_and_bounded() {
        assert_eq!(clean_reason("  同一人物  ").expect("ok"), "同一人物");
        assert_eq!(clean_reason(" ").map_err(|e| e.code), Err(Rule::Required));
        assert_eq!(
            clean_reason(&"あ".repeat(REASON_MAX + 1)).map_err(|e| e.code),
            Err(Rule::TooLong)
        );
        assert!(clean_reason(&"あ".repeat(REASON_MAX)).is_ok());
        assert_eq!(
            clean_reason("a\u{7}b").map_err(|e| e.code),
            Err(Rule::ControlCharacter)
        );
    }

    #[test]
    fn the_preview_marks_every_difference_and_asks_only_for_birth_date_and_sex() {
        let a = demo();
        let mut b = demo();
        b.family = "山 田".into();
        let c = compare(&a, &b);
        assert_eq!(c.len(), FIELDS.len());
        assert_eq!(
            c.iter()
                .filter(|x| x.differs)
                .map(|x| x.field)
                .collect::<Vec<_>>(),
            ["family"]
        );
        assert!(unconfirmed(&c, false).is_empty());
        b.birth_date = NaiveDate::from_ymd_opt(1950, 2, 1).expect("date");
        b.sex = "female".into();
        let c = compare(&a, &b);
        assert_eq!(
            codes(&unconfirmed(&c, false)),
            [
                ("birth_date", Rule::Unconfirmed),
                ("sex", Rule::Unconfirmed)
            ]
        );
        assert!(unconfirmed(&c, true).is_empty());
        let birth = c.iter().find(|x| x.field == "birth_date").expect("row");
        assert_eq!(
            (birth.survivor.as_str(), birth.merged.as_str()),
            ("1950-01-02", "1950-02-01")
        );
    }

    /// One step of a random history: merge `b` into `a`, or reverse the `n`th link.
    #[derive(Debug, Clone)]
    enum Step {
        Merge(u128, u128),
        Reverse(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u128..6, 0u128..6).prop_map(|(a, b)| Step::Merge(a, b)),
            (0usize..8).prop_map(Step::Reverse),
        ]
    }

    /// Applies the steps the rules allow, as the service does.
    fn replay(steps: &[Step]) -> Vec<Link> {
        let mut links: Vec<Link> = Vec::new();
        for s in steps {
            match *s {
                Step::Merge(a, b) => {
                    if refusals(id(a), id(b), &links).is_empty() {
                        let n = links.len() as u128;
                        links.push(link(n, id(a), id(b), false));
                    }
                }
                Step::Reverse(n) => {
                    if let Some(l) = links.get_mut(n)
                        && reversal_refusals(l).is_empty()
                    {
                        l.reversed = true;
                    }
                }
            }
        }
        links
    }

    proptest! {
        /// Whatever the history, allowed merges never chain: a survivor is never merged,
        /// a record is merged into at most one survivor, and resolving is idempotent.
        #[test]
        fn allowed_merges_never_chain(steps in proptest::collection::vec(step(), 0..24)) {
            let links = replay(&steps);
            let live: Vec<&Link> = links.iter().filter(|l| !l.reversed).collect();
            for l in &live {
                prop_assert!(l.survivor != l.merged);
                prop_assert!(!live.iter().any(|m| m.merged == l.survivor));
                prop_assert_eq!(live.iter().filter(|m| m.merged == l.merged).count(), 1);
            }
            for n in 0..6 {
                let s = survivor_of(id(n), &links);
                prop_assert_eq!(survivor_of(s, &links), s);
                prop_assert!(group_of(id(n), &links).contains(&id(n)));
                prop_assert_eq!(group_of(id(n), &links)[0], s);
            }
        }

        /// The groups partition the records: each record is in exactly one group, and
        /// every record of a group resolves to the same survivor.
        #[test]
        fn every_record_belongs_to_exactly_one_group(steps in proptest::collection::vec(step(), 0..24)) {
            let links = replay(&steps);
            for n in 0..6 {
                let group = group_of(id(n), &links);
                for m in &group {
                    prop_assert_eq!(group_of(*m, &links), group.clone());
                }
                let holding = (0..6).map(id).filter(|s| survivor_of(*s, &links) == *s)
                    .filter(|s| group_of(*s, &links).contains(&id(n))).count();
                prop_assert_eq!(holding, 1);
            }
        }

        /// Reversing every link reads as before any merge.
        #[test]
        fn reversing_every_link_restores_each_record(steps in proptest::collection::vec(step(), 0..24)) {
            let mut links = replay(&steps);
            for l in &mut links {
                l.reversed = true;
            }
            for n in 0..6 {
                prop_assert_eq!(survivor_of(id(n), &links), id(n));
                prop_assert_eq!(group_of(id(n), &links), vec![id(n)]);
            }
        }

        /// Only birth date and sex ask for confirmation, exactly when they differ.
        #[test]
        fn confirmation_is_asked_exactly_for_a_different_birth_date_or_sex(
            day in 1u32..28, sex in prop_oneof![Just("male"), Just("female"), Just("other")],
            family in "[山田川]{1,3}",
        ) {
            let a = demo();
            let mut b = demo();
            b.birth_date = NaiveDate::from_ymd_opt(1950, 1, day).expect("date");
            b.sex = sex.to_owned();
            b.family = family;
            let c = compare(&a, &b);
            let asked: Vec<String> = unconfirmed(&c, false).into_iter().map(|e| e.field).collect();
            let mut want = Vec::new();
            if a.birth_date != b.birth_date { want.push("birth_date".to_owned()); }
            if a.sex != b.sex { want.push("sex".to_owned()); }
            prop_assert_eq!(asked, want);
            prop_assert!(unconfirmed(&c, true).is_empty());
            prop_assert_eq!(c.iter().any(|x| x.field == "family" && x.differs), a.family != b.family);
        }
    }
}
