//! The hand-over (紹介・転院) state machine and report-back due dates.
//!
//! proposed → accepted | declined | withdrawn; accepted → completed (when the receiver
//! records the stage start). Every other move is refused.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

use crate::entry::{EntryKind, PlanState};
use crate::error::FieldError;
use crate::facts::EntryFacts;
use crate::rules::Rule;
use crate::template::PathwayTemplate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoverState {
    Proposed,
    Accepted,
    Declined,
    Withdrawn,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoverEvent {
    Accept,
    Decline,
    Withdraw,
    Complete,
}

impl HandoverState {
    pub const ALL: [HandoverState; 5] = [
        HandoverState::Proposed,
        HandoverState::Accepted,
        HandoverState::Declined,
        HandoverState::Withdrawn,
        HandoverState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoverState::Proposed => "proposed",
            HandoverState::Accepted => "accepted",
            HandoverState::Declined => "declined",
            HandoverState::Withdrawn => "withdrawn",
            HandoverState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "proposed" => HandoverState::Proposed,
            "accepted" => HandoverState::Accepted,
            "declined" => HandoverState::Declined,
            "withdrawn" => HandoverState::Withdrawn,
            "completed" => HandoverState::Completed,
            _ => return None,
        })
    }

    /// Still waiting for something (an answer, or the receiver's stage start).
    pub fn is_open(self) -> bool {
        matches!(self, HandoverState::Proposed | HandoverState::Accepted)
    }
}

impl HandoverEvent {
    pub const ALL: [HandoverEvent; 4] = [
        HandoverEvent::Accept,
        HandoverEvent::Decline,
        HandoverEvent::Withdraw,
        HandoverEvent::Complete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoverEvent::Accept => "accept",
            HandoverEvent::Decline => "decline",
            HandoverEvent::Withdraw => "withdraw",
            HandoverEvent::Complete => "complete",
        }
    }
}

/// A move the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hand-over that is {} cannot be {}", from.as_str(), event.as_str())]
pub struct InvalidTransition {
    pub from: HandoverState,
    pub event: HandoverEvent,
}

/// The state after `event`, or the refusal.
pub fn transition(
    from: HandoverState,
    event: HandoverEvent,
) -> Result<HandoverState, InvalidTransition> {
    use HandoverEvent as E;
    use HandoverState as S;
    match (from, event) {
        (S::Proposed, E::Accept) => Ok(S::Accepted),
        (S::Proposed, E::Decline) => Ok(S::Declined),
        (S::Proposed, E::Withdraw) => Ok(S::Withdrawn),
        (S::Accepted, E::Complete) => Ok(S::Completed),
        _ => Err(InvalidTransition { from, event }),
    }
}

/// Japan Standard Time, where "the end of the following month" is counted.
fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The calendar day in Japan of `t`.
pub fn tokyo_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

/// When a report back is due for a stage that ended at `ended_at`: `days` after the end
/// when the template sets them, otherwise the end of the following month (JST), the
/// reimbursement rules' default.
pub fn report_due(ended_at: DateTime<Utc>, days: Option<u32>) -> DateTime<Utc> {
    if let Some(d) = days {
        return ended_at + Duration::days(d.into());
    }
    let local = ended_at.with_timezone(&jst()).date_naive();
    // First day of the month after next, at 00:00 JST, minus one second.
    let (y, m) = (local.year(), local.month());
    let (y2, m2) = if m >= 11 {
        (y + 1, m + 2 - 12)
    } else {
        (y, m + 2)
    };
    let first = NaiveDate::from_ymd_opt(y2, m2, 1).unwrap_or(local);
    let midnight = first.and_hms_opt(0, 0, 0).unwrap_or_default();
    match jst().from_local_datetime(&midnight).single() {
        Some(t) => t.with_timezone(&Utc) - Duration::seconds(1),
        None => ended_at + Duration::days(45),
    }
}

// ------------------------------------------------------------------ stage events around a hand-over

/// A stage that was left for the next one before its end was recorded: the receiver of an
/// accepted hand-over started the next stage at `closed_at`, and the sender's
/// `stage_end` is still owed (「終了未記録」). The sender may record it late, dated at or
/// before `closed_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrecordedEnd {
    pub stage: String,
    /// The `stage_start` that opened the stage.
    pub started_at: DateTime<Utc>,
    /// When the next stage started: the stage counts as closed then.
    pub closed_at: DateTime<Utc>,
    /// The organisation that started the stage (and owes its end).
    pub organization: Option<uuid::Uuid>,
}

/// The stages of `view` (the current view of a plan's entries, corrections applied) whose
/// period was closed by the start of another stage with no `stage_end` of their own.
pub fn unrecorded_ends(
    view: &[&EntryFacts],
    orgs: &[(uuid::Uuid, uuid::Uuid)],
) -> Vec<UnrecordedEnd> {
    let mut events: Vec<&EntryFacts> = view
        .iter()
        .copied()
        .filter(|e| matches!(e.kind, EntryKind::StageStart | EntryKind::StageEnd))
        .collect();
    events.sort_by_key(|e| (e.effective_at, e.seq));
    let mut out = Vec::new();
    for (i, start) in events.iter().enumerate() {
        if start.kind != EntryKind::StageStart {
            continue;
        }
        let later = &events[i + 1..];
        // The period of this start ends at the next start of the same stage (cyclical
        // pathways come back to a stage).
        let again = later
            .iter()
            .position(|e| e.kind == EntryKind::StageStart && e.stage == start.stage)
            .unwrap_or(later.len());
        let ended = later[..again]
            .iter()
            .any(|e| e.kind == EntryKind::StageEnd && e.stage == start.stage);
        if ended {
            continue;
        }
        if let Some(next) = later[..again]
            .iter()
            .find(|e| e.kind == EntryKind::StageStart && e.stage != start.stage)
        {
            out.push(UnrecordedEnd {
                stage: start.stage.clone(),
                started_at: start.effective_at,
                closed_at: next.effective_at,
                organization: orgs.iter().find(|(id, _)| *id == start.id).map(|(_, o)| *o),
            });
        }
    }
    out
}

/// How the stage state machine reads a stage event that a hand-over allows out of the
/// usual order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageShortcut {
    /// The usual rules apply.
    None,
    /// The receiver of an accepted hand-over starts the next stage although the sender has
    /// not recorded its stage end: validate against this state (the sender's stage
    /// counted as ended at the receiver's start).
    ReceiverStart(PlanState),
    /// The sender records the end of its stage late, after the receiver started the next
    /// one: validate against this state; the plan's own state does not change, and the
    /// end may not be dated after `closed_at`.
    LateEnd {
        state: PlanState,
        closed_at: DateTime<Utc>,
    },
}

/// Whether a `stage_start`/`stage_end` of `stage` may bypass the usual order because of a
/// hand-over: `accepted` says whether the actor's organisation accepted a hand-over for
/// `stage`; `unrecorded` are the plan's [`unrecorded_ends`].
pub fn stage_shortcut(
    template: &PathwayTemplate,
    state: &PlanState,
    kind: EntryKind,
    stage: &str,
    accepted: bool,
    unrecorded: &[UnrecordedEnd],
) -> StageShortcut {
    let current = state.current_stage.as_str();
    match kind {
        EntryKind::StageStart
            if accepted
                && state.stage_started
                && !state.stage_ended
                && stage != current
                && template.next_stages(current).iter().any(|s| s == stage) =>
        {
            StageShortcut::ReceiverStart(PlanState {
                stage_ended: true,
                ..state.clone()
            })
        }
        EntryKind::StageEnd if stage != current => {
            match unrecorded.iter().rev().find(|u| u.stage == stage) {
                Some(u) => StageShortcut::LateEnd {
                    state: PlanState {
                        current_stage: stage.to_owned(),
                        stage_started: true,
                        stage_ended: false,
                        ..state.clone()
                    },
                    closed_at: u.closed_at,
                },
                None => StageShortcut::None,
            }
        }
        _ => StageShortcut::None,
    }
}

// ------------------------------------------------------------------ referral (紹介状) fields

/// A coded field of the referral: its stored code and its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coded {
    pub code: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
}

const fn c(code: &'static str, ja: &'static str, en: &'static str) -> Coded {
    Coded { code, ja, en }
}

/// 脳卒中の病型 (the stroke `stroke_subtype` codes of domain.md §9.1) and other diagnoses.
pub const CLINICAL_TYPES: &[Coded] = &[
    c(
        "atherothrombotic",
        "アテローム血栓性脳梗塞",
        "Atherothrombotic infarction",
    ),
    c(
        "cardioembolic",
        "心原性脳塞栓症",
        "Cardioembolic infarction",
    ),
    c("lacunar", "ラクナ梗塞", "Lacunar infarction"),
    c(
        "other_infarction",
        "その他の脳梗塞",
        "Other cerebral infarction",
    ),
    c("ich", "脳出血", "Intracerebral haemorrhage"),
    c("sah", "くも膜下出血", "Subarachnoid haemorrhage"),
];

/// 麻痺側.
pub const PARALYSIS_SIDES: &[Coded] = &[
    c("none", "麻痺なし", "No paralysis"),
    c("left", "左片麻痺", "Left hemiparesis"),
    c("right", "右片麻痺", "Right hemiparesis"),
    c("both", "両側", "Both sides"),
];

/// 食形態 (domain.md §9.0 `swallow`: 常食/軟菜/きざみ/ミキサー/ゼリー/経管/禁食).
pub const DIET_FORMS: &[Coded] = &[
    c("regular", "常食", "Regular diet"),
    c("soft", "軟菜", "Soft diet"),
    c("minced", "きざみ", "Minced"),
    c("puree", "ミキサー・ペースト", "Puréed"),
    c("jelly", "ゼリー", "Jelly"),
    c("tube", "経管栄養", "Tube feeding"),
    c("nil", "禁食", "Nil by mouth"),
];

/// 介護保険 (domain.md §9.0 `care_level`).
pub const CARE_INSURANCE: &[Coded] = &[
    c("not_applied", "未申請", "Not applied"),
    c("applying", "申請中", "Application pending"),
    c("not_eligible", "非該当", "Not eligible"),
    c("support_1", "要支援1", "Support level 1"),
    c("support_2", "要支援2", "Support level 2"),
    c("care_1", "要介護1", "Care level 1"),
    c("care_2", "要介護2", "Care level 2"),
    c("care_3", "要介護3", "Care level 3"),
    c("care_4", "要介護4", "Care level 4"),
    c("care_5", "要介護5", "Care level 5"),
];

/// One field of the referral: its key, its words, and its coded options (none: free text).
#[derive(Debug, Clone, Copy)]
pub struct ReferralField {
    pub key: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
    pub options: Option<&'static [Coded]>,
    /// Longest text accepted.
    pub max_chars: usize,
}

const fn f(
    key: &'static str,
    ja: &'static str,
    en: &'static str,
    options: Option<&'static [Coded]>,
    max_chars: usize,
) -> ReferralField {
    ReferralField {
        key,
        ja,
        en,
        options,
        max_chars,
    }
}

/// What a recovery ward needs to accept a patient, in the order the referral shows it.
pub const REFERRAL_FIELDS: &[ReferralField] = &[
    f("diagnosis", "診断名", "Diagnosis", None, 200),
    f(
        "clinical_type",
        "病型",
        "Clinical type",
        Some(CLINICAL_TYPES),
        0,
    ),
    f(
        "paralysis_side",
        "麻痺側",
        "Side of paralysis",
        Some(PARALYSIS_SIDES),
        0,
    ),
    f("history", "既往歴", "Past history", None, 2000),
    f("medications", "内服薬", "Medications", None, 2000),
    f("infections", "感染症", "Infections", None, 500),
    f("diet_form", "食形態", "Diet form", Some(DIET_FORMS), 0),
    f("swallowing", "嚥下", "Swallowing", None, 500),
    f("adl", "ADL", "ADL", None, 2000),
    f("key_person", "キーパーソン", "Key person", None, 100),
    f(
        "key_person_contact",
        "キーパーソンの連絡先",
        "Key person's contact",
        None,
        100,
    ),
    f(
        "care_insurance",
        "介護保険",
        "Long-term care insurance",
        Some(CARE_INSURANCE),
        0,
    ),
];

/// The referral's structured fields, each a code (coded fields) or text; absent fields
/// are not known yet.
pub type Referral = std::collections::BTreeMap<String, String>;

/// Checks a referral as sent (a JSON object of strings): unknown fields, types, codes and
/// lengths, every error at once. The diagnosis is required. Empty strings count as absent.
pub fn validate_referral(value: &serde_json::Value) -> Result<Referral, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = Referral::new();
    let Some(map) = value.as_object() else {
        return Err(vec![FieldError::new(
            "referral",
            Rule::Type,
            "must be an object of fields",
        )]);
    };
    for (k, v) in map {
        let path = format!("referral.{k}");
        let Some(field) = REFERRAL_FIELDS.iter().find(|f| f.key == k) else {
            errors.push(FieldError::new(
                path,
                Rule::Unknown,
                format!("unknown referral field `{k}`"),
            ));
            continue;
        };
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.trim(),
            _ => {
                errors.push(FieldError::new(path, Rule::Type, "must be a string"));
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match field.options {
            Some(options) => {
                if !options.iter().any(|o| o.code == text) {
                    errors.push(FieldError::new(
                        path,
                        Rule::Allowed,
                        format!(
                            "must be one of {}",
                            options
                                .iter()
                                .map(|o| o.code)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    continue;
                }
            }
            None => {
                if text.chars().count() > field.max_chars {
                    errors.push(FieldError::new(
                        path,
                        Rule::TooLong,
                        format!("must be at most {} characters", field.max_chars),
                    ));
                    continue;
                }
                if text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
                {
                    errors.push(FieldError::new(
                        path,
                        Rule::ControlCharacter,
                        "must not contain control characters",
                    ));
                    continue;
                }
            }
        }
        out.insert(k.clone(), text.to_owned());
    }
    if !out.contains_key("diagnosis") && !errors.iter().any(|e| e.field == "referral.diagnosis") {
        errors.push(FieldError::new(
            "referral.diagnosis",
            Rule::Required,
            "the diagnosis is required",
        ));
    }
    if out.contains_key("key_person_contact") && !out.contains_key("key_person") {
        errors.push(FieldError::new(
            "referral.key_person",
            Rule::Required,
            "a contact needs the key person's name",
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The referral as far as the plan already knows it, for the sender to confirm: the
/// latest recorded value (in `view`, the current view of the plan) of the items that say
/// the same thing — `stroke_subtype` (病型), `paralysis_side`, `food_form`,
/// `swallow_grade`, FIM/Barthel totals and `walk_cat` (ADL), `care_level` (介護保険) —
/// and the diagnosis in words (the clinical type's, a fracture type's, or the pathway's).
pub fn referral_prefill(template: &PathwayTemplate, view: &[&EntryFacts]) -> Referral {
    let latest = |item: &str| -> Option<&serde_json::Value> {
        view.iter()
            .filter(|e| e.values.contains_key(item))
            .max_by_key(|e| (e.effective_at, e.seq))
            .and_then(|e| e.values.get(item))
    };
    let option_title = |item: &str, code: &str| -> Option<String> {
        template
            .item(item)?
            .options
            .as_ref()?
            .iter()
            .find(|o| o.code == code)
            .map(|o| o.title.ja.clone())
    };
    let mut out = Referral::new();
    let coded = |item: &str, options: &[Coded]| -> Option<String> {
        let v = latest(item)?.as_str()?;
        options.iter().any(|o| o.code == v).then(|| v.to_owned())
    };
    if let Some(t) = coded("stroke_subtype", CLINICAL_TYPES) {
        out.insert("clinical_type".into(), t);
    }
    let diagnosis = out
        .get("clinical_type")
        .and_then(|c| CLINICAL_TYPES.iter().find(|o| o.code == c))
        .map(|o| o.ja.to_owned())
        .or_else(|| {
            let v = latest("fracture_type")?.as_str()?;
            option_title("fracture_type", v)
        })
        .unwrap_or_else(|| {
            template
                .title
                .ja
                .trim_end_matches("(循環型)")
                .trim_end_matches("地域連携パス")
                .to_owned()
        });
    out.insert("diagnosis".into(), diagnosis);
    if let Some(v) = coded("paralysis_side", PARALYSIS_SIDES) {
        out.insert("paralysis_side".into(), v);
    }
    if let Some(v) = coded("food_form", DIET_FORMS) {
        out.insert("diet_form".into(), v);
    }
    if let Some(g) = latest("swallow_grade").and_then(serde_json::Value::as_i64) {
        out.insert(
            "swallowing".into(),
            format!("摂食嚥下グレード(藤島) Gr.{g}"),
        );
    }
    let mut adl = Vec::new();
    for (item, label, unit) in [
        ("fim_total", "FIM合計", "点"),
        ("barthel_total", "バーセルインデックス", "点"),
    ] {
        if let Some(v) = latest(item).and_then(serde_json::Value::as_f64) {
            adl.push(format!("{label} {v}{unit}"));
        }
    }
    if let Some(w) = latest("walk_cat").and_then(serde_json::Value::as_str)
        && let Some(t) = option_title("walk_cat", w)
    {
        adl.push(format!("歩行 {t}"));
    }
    if !adl.is_empty() {
        out.insert("adl".into(), adl.join("、"));
    }
    if let Some(v) = coded("care_level", CARE_INSURANCE) {
        out.insert("care_insurance".into(), v);
    }
    out
}

/// The referral as people read it: each known field's label and its words (a coded
/// field's Japanese or English term, never its code), in the referral's order.
pub fn referral_lines(
    referral: &serde_json::Value,
    lang: crate::wording::Lang,
) -> Vec<(&'static str, String)> {
    let en = lang == crate::wording::Lang::En;
    REFERRAL_FIELDS
        .iter()
        .filter_map(|f| {
            let v = referral.get(f.key)?.as_str()?.trim();
            if v.is_empty() {
                return None;
            }
            let words = match f.options {
                Some(options) => {
                    let o = options.iter().find(|o| o.code == v)?;
                    (if en { o.en } else { o.ja }).to_owned()
                }
                None => v.to_owned(),
            };
            Some((if en { f.en } else { f.ja }, words))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_allowed_edges_exist() {
        let allowed = [
            (
                HandoverState::Proposed,
                HandoverEvent::Accept,
                HandoverState::Accepted,
            ),
            (
                HandoverState::Proposed,
                HandoverEvent::Decline,
                HandoverState::Declined,
            ),
            (
                HandoverState::Proposed,
                HandoverEvent::Withdraw,
                HandoverState::Withdrawn,
            ),
            (
                HandoverState::Accepted,
                HandoverEvent::Complete,
                HandoverState::Completed,
            ),
        ];
        for s in HandoverState::ALL {
            for e in HandoverEvent::ALL {
                let expected = allowed
                    .iter()
                    .find(|(f, ev, _)| *f == s && *ev == e)
                    .map(|t| t.2);
                assert_eq!(transition(s, e).ok(), expected, "{s:?} {e:?}");
            }
        }
    }

    proptest! {
        /// Any sequence of events ends in a state reachable along allowed edges, and
        /// terminal states never change again.
        #[test]
        fn states_move_only_along_allowed_edges(events in proptest::collection::vec(0usize..4, 0..20)) {
            let mut s = HandoverState::Proposed;
            for i in events {
                let e = HandoverEvent::ALL[i];
                match transition(s, e) {
                    Ok(next) => {
                        prop_assert!(s.is_open());
                        s = next;
                    }
                    Err(err) => prop_assert_eq!(err.from, s),
                }
            }
            if !s.is_open() {
                for e in HandoverEvent::ALL {
                    prop_assert!(transition(s, e).is_err());
                }
            }
        }
    }

    #[test]
    fn report_due_is_the_end_of_the_following_month_in_jst() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Discharged 20 Nov (JST) → due 31 Dec 23:59:59 JST.
        assert_eq!(
            report_due(t("2026-11-20T10:00:00+09:00"), None),
            t("2026-12-31T23:59:59+09:00")
        );
        // 31 Dec late evening UTC is already 1 Jan in Japan → due end of February.
        assert_eq!(
            report_due(t("2026-12-31T20:00:00Z"), None),
            t("2027-02-28T23:59:59+09:00")
        );
        assert_eq!(
            report_due(t("2026-12-10T00:00:00+09:00"), None),
            t("2027-01-31T23:59:59+09:00")
        );
        assert_eq!(
            report_due(t("2026-11-20T00:00:00Z"), Some(14)),
            t("2026-12-04T00:00:00Z")
        );
    }
}
