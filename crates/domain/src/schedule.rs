//! Cyclical schedules (循環型): when each scheduled visit or test of a plan is next due,
//! from the template's schedule, the entries recorded so far and per-patient intervals.
//!
//! Entries are read through [`crate::corrections::current_view`]: an amended or voided
//! original never counts. A visit counts when the entry records one of the rule's items;
//! a boolean item counts only when it is `true` (`eye_exam_done: false` is not an exam).
//! Days are Asia/Tokyo calendar days: the due date is the Tokyo date of the last visit
//! plus the interval, and a visit is overdue when the Tokyo date of the moment judged is
//! after the due date plus the grace days.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::calendar::{add_months, age_years, is_overdue, tokyo_date, tokyo_midnight};
use crate::facts::EntryFacts;
use crate::template::{
    Condition, IntervalSince, ItemType, PathwayTemplate, ProviderKind, ScheduleRule,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Next due date still ahead.
    Scheduled,
    /// On or past the due date, within the grace period.
    Due,
    /// Past the due date and the grace period.
    Overdue,
    /// The rule's `applies_when` conditions do not hold for this patient.
    NotApplicable,
}

/// Where a rule's interval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalSource {
    /// The template's `interval_days`.
    Template,
    /// The band of the latest value of the rule's `interval_by` item.
    Item,
    /// A per-patient interval (individualisation).
    Individual,
    /// The band of the rule's `interval_since` for the time elapsed since its date item
    /// (e.g. the years since surgery).
    Elapsed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleStatus {
    pub code: String,
    pub title_ja: String,
    pub title_en: String,
    pub owner: ProviderKind,
    pub interval_days: u32,
    /// The interval was individualised for this patient.
    pub individualised: bool,
    pub interval_source: IntervalSource,
    pub grace_days: u32,
    pub last_done: Option<DateTime<Utc>>,
    pub last_entry_id: Option<Uuid>,
    /// The due date (Asia/Tokyo calendar).
    pub due_date: NaiveDate,
    /// 00:00 Asia/Tokyo of `due_date`.
    pub due: DateTime<Utc>,
    pub state: ScheduleState,
}

/// The moment a schedule is judged and what it is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleContext {
    pub plan_started_at: DateTime<Utc>,
    /// For `age` conditions; unknown → such a rule does not apply.
    pub birth_date: Option<NaiveDate>,
    /// Clinical time: entries effective at or before it count.
    pub as_of: DateTime<Utc>,
    /// The record as it stood then: entries recorded at or before it.
    pub known_at: DateTime<Utc>,
}

impl ScheduleContext {
    /// Judged at `at`, as known at `at`.
    pub fn at(plan_started_at: DateTime<Utc>, at: DateTime<Utc>) -> Self {
        ScheduleContext {
            plan_started_at,
            birth_date: None,
            as_of: at,
            known_at: at,
        }
    }
}

/// Whether the entry counts as the item having been done: a boolean only when `true`,
/// any other item when it carries a value.
fn counts(template: &PathwayTemplate, item: &str, value: &Value) -> bool {
    match template.item(item).map(|i| i.item_type) {
        Some(ItemType::Boolean) => value == &Value::Bool(true),
        _ => !value.is_null(),
    }
}

/// The latest value of `item` in the view.
fn latest<'a>(view: &[&'a EntryFacts], item: &str) -> Option<&'a Value> {
    view.iter()
        .rev()
        .find_map(|e| e.values.get(item).filter(|v| !v.is_null()))
}

/// Whether a condition holds on the latest values in `view` (an unrecorded item or an
/// unknown birth date: it does not).
pub fn condition_holds(
    cond: &Condition,
    view: &[&EntryFacts],
    birth_date: Option<NaiveDate>,
    at: DateTime<Utc>,
) -> bool {
    match cond {
        Condition::Choice { item, values } => latest(view, item)
            .and_then(Value::as_str)
            .is_some_and(|v| values.iter().any(|x| x == v)),
        Condition::Flag { item, value } => {
            latest(view, item).and_then(Value::as_bool) == Some(*value)
        }
        Condition::Number { item, op, value } => latest(view, item)
            .and_then(Value::as_f64)
            .is_some_and(|v| op.holds(v, *value)),
        Condition::Age { op, value } => birth_date
            .and_then(|b| age_years(b, tokyo_date(at)))
            .is_some_and(|age| op.holds(f64::from(age), f64::from(*value))),
    }
}

/// The Tokyo calendar date of a recorded `date` (`YYYY-MM-DD`) or `datetime` (RFC 3339).
fn recorded_day(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(tokyo_date(t.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The date an `interval_since` rule counts from: the latest value of its item, else the
/// Tokyo date the plan started.
fn anchor_of(
    since: &IntervalSince,
    view: &[&EntryFacts],
    plan_started_at: DateTime<Utc>,
) -> NaiveDate {
    latest(view, &since.item)
        .and_then(recorded_day)
        .unwrap_or_else(|| tokyo_date(plan_started_at))
}

/// The last day of an `interval_since` rule: its last band's months after the anchor.
fn elapsed_end(since: &IntervalSince, anchor: NaiveDate) -> Option<NaiveDate> {
    since
        .bands
        .last()
        .and_then(|b| add_months(anchor, b.until_months))
}

/// The interval of `rule` for this patient: an individual interval wins, then the band of
/// the latest value of the `interval_by` item, then the band of `interval_since` that
/// `base` falls in, then the template's interval.
fn interval_of(
    rule: &ScheduleRule,
    view: &[&EntryFacts],
    intervals: &HashMap<String, u32>,
    since: Option<(&IntervalSince, NaiveDate)>,
    base: NaiveDate,
) -> (u32, IntervalSource) {
    if let Some(days) = intervals.get(&rule.code) {
        return (*days, IntervalSource::Individual);
    }
    if let Some(by) = &rule.interval_by
        && let Some(v) = latest(view, &by.item).and_then(Value::as_str)
        && let Some(band) = by.bands.iter().find(|b| b.values.iter().any(|x| x == v))
    {
        return (band.days, IntervalSource::Item);
    }
    if let Some((since, anchor)) = since
        && let Some(band) = since
            .bands
            .iter()
            .find(|b| add_months(anchor, b.until_months).is_some_and(|end| base < end))
            .or(since.bands.last())
    {
        return (band.days, IntervalSource::Elapsed);
    }
    (rule.interval_days, IntervalSource::Template)
}

/// Evaluates every schedule rule at `ctx`. `intervals` holds per-patient interval
/// overrides by rule code. A rule never done is due one interval after the plan started.
pub fn evaluate_schedule(
    template: &PathwayTemplate,
    ctx: &ScheduleContext,
    entries: &[EntryFacts],
    intervals: &HashMap<String, u32>,
) -> Vec<ScheduleStatus> {
    let view = crate::corrections::current_view(entries, ctx.as_of, ctx.known_at);
    let today = tokyo_date(ctx.as_of);
    template
        .schedule
        .iter()
        .map(|rule| {
            let last = view
                .iter()
                .rev()
                .find(|e| {
                    rule.items
                        .iter()
                        .any(|i| e.values.get(i).is_some_and(|v| counts(template, i, v)))
                })
                .copied();
            let since = rule
                .interval_since
                .as_ref()
                .map(|s| (s, anchor_of(s, &view, ctx.plan_started_at)));
            // Never done: one interval after the anchor date of an `interval_since` rule,
            // else after the plan started.
            let base = match (last, since) {
                (Some(e), _) => tokyo_date(e.effective_at),
                (None, Some((_, anchor))) => anchor,
                (None, None) => tokyo_date(ctx.plan_started_at),
            };
            let (interval, source) = interval_of(rule, &view, intervals, since, base);
            let due_date = base + Duration::days(interval.into());
            // A rule whose next time falls after its last band has run its course.
            let ended = since
                .is_some_and(|(s, anchor)| elapsed_end(s, anchor).is_none_or(|end| due_date > end));
            let applies = !ended
                && rule
                    .applies_when
                    .iter()
                    .all(|c| condition_holds(c, &view, ctx.birth_date, ctx.as_of));
            let state = if !applies {
                ScheduleState::NotApplicable
            } else if today < due_date {
                ScheduleState::Scheduled
            } else if !is_overdue(ctx.as_of, due_date, rule.grace_days) {
                ScheduleState::Due
            } else {
                ScheduleState::Overdue
            };
            ScheduleStatus {
                code: rule.code.clone(),
                title_ja: rule.title.ja.clone(),
                title_en: rule.title.en.clone(),
                owner: rule.owner,
                interval_days: interval,
                individualised: source == IntervalSource::Individual,
                interval_source: source,
                grace_days: rule.grace_days,
                last_done: last.map(|e| e.effective_at),
                last_entry_id: last.map(|e| e.id),
                due_date,
                due: tokyo_midnight(due_date),
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryKind;
    use crate::template::{Comparator, IntervalBand, IntervalBy, Title};
    use proptest::prelude::*;
    use serde_json::json;

    fn template() -> PathwayTemplate {
        let src = r#"
code = "dm"
version = 1
title = { ja = "糖尿病", en = "Diabetes" }
cyclical = true
[[stages]]
code = "clinic"
title = { ja = "かかりつけ医", en = "Clinic" }
provider_kinds = ["clinic"]
next = ["clinic"]
[[items]]
code = "eye_exam_done"
title = { ja = "眼科受診", en = "Eye exam" }
type = "boolean"
stages = ["clinic"]
[[items]]
code = "retinopathy"
title = { ja = "網膜症", en = "Retinopathy" }
type = "choice"
stages = ["clinic"]
options = [
  { code = "none", title = { ja = "なし", en = "None" } },
  { code = "simple", title = { ja = "単純", en = "Simple" } },
  { code = "pre_proliferative", title = { ja = "増殖前", en = "Pre-proliferative" } },
]
[[items]]
code = "uacr"
title = { ja = "尿中アルブミン", en = "UACR" }
type = "decimal"
stages = ["clinic"]
[[items]]
code = "dkd_stage"
title = { ja = "腎症病期", en = "DKD stage" }
type = "choice"
stages = ["clinic"]
options = [
  { code = "stage_1", title = { ja = "1期", en = "Stage 1" } },
  { code = "stage_3", title = { ja = "3期", en = "Stage 3" } },
]
"#;
        let mut t = crate::template::parse_template(src, None).unwrap();
        t.schedule.push(ScheduleRule {
            code: "eye_exam".into(),
            title: Title {
                ja: "眼科".into(),
                en: "Eye".into(),
            },
            items: vec!["eye_exam_done".into()],
            interval_days: 365,
            grace_days: 30,
            owner: ProviderKind::Ophthal,
            interval_by: Some(IntervalBy {
                item: "retinopathy".into(),
                bands: vec![
                    IntervalBand {
                        values: vec!["none".into(), "simple".into()],
                        days: 365,
                    },
                    IntervalBand {
                        values: vec!["pre_proliferative".into()],
                        days: 30,
                    },
                ],
            }),
            applies_when: Vec::new(),
            interval_since: None,
            variants: Vec::new(),
        });
        t.schedule.push(ScheduleRule {
            code: "uacr".into(),
            title: Title {
                ja: "尿中アルブミン".into(),
                en: "UACR".into(),
            },
            items: vec!["uacr".into()],
            interval_days: 182,
            grace_days: 0,
            owner: ProviderKind::Clinic,
            interval_by: None,
            interval_since: None,
            applies_when: vec![Condition::Choice {
                item: "dkd_stage".into(),
                values: vec!["stage_1".into()],
            }],
            variants: Vec::new(),
        });
        t
    }

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::days(days)
    }

    fn entry(day: i64, seq: i64, values: serde_json::Value) -> EntryFacts {
        EntryFacts {
            id: Uuid::from_u128(seq as u128),
            seq,
            stage: "clinic".into(),
            kind: EntryKind::Assessment,
            effective_at: at(day),
            recorded_at: at(day),
            values: values.as_object().unwrap().clone(),
            amends: None,
        }
    }

    fn exam(day: i64, seq: i64) -> EntryFacts {
        entry(day, seq, json!({"eye_exam_done": true}))
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn eye(entries: &[EntryFacts], ctx: ScheduleContext) -> ScheduleStatus {
        evaluate_schedule(&template(), &ctx, entries, &HashMap::new()).remove(0)
    }

    #[test]
    fn due_one_interval_after_the_tokyo_date_of_the_last_exam_then_overdue_after_grace() {
        let entries = vec![exam(10, 1)];
        let s = |day| eye(&entries, ScheduleContext::at(at(0), at(day)));
        // 2025-01-11 09:00 JST + 365 days.
        assert_eq!(s(100).due_date, date("2026-01-11"));
        assert_eq!(s(100).due, tokyo_midnight(date("2026-01-11")));
        assert_eq!(s(100).state, ScheduleState::Scheduled);
        assert_eq!(s(374).state, ScheduleState::Scheduled);
        assert_eq!(s(375).state, ScheduleState::Due);
        assert_eq!(s(405).state, ScheduleState::Due);
        assert_eq!(s(406).state, ScheduleState::Overdue);
        // An exam recorded later resets the clock.
        let entries = vec![exam(10, 1), exam(370, 2)];
        let st = eye(&entries, ScheduleContext::at(at(0), at(406)));
        assert_eq!(st.state, ScheduleState::Scheduled);
        assert_eq!(st.last_entry_id, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn never_done_counts_from_the_plan_start_and_overrides_apply() {
        let mut iv = HashMap::new();
        iv.insert("eye_exam".to_owned(), 60);
        let ctx = ScheduleContext::at(at(0), at(100));
        let st = evaluate_schedule(&template(), &ctx, &[], &iv).remove(0);
        assert!(st.individualised);
        assert_eq!(st.interval_source, IntervalSource::Individual);
        assert_eq!(st.due_date, date("2025-03-02"));
        assert_eq!(st.state, ScheduleState::Overdue);
    }

    #[test]
    fn an_exam_recorded_as_not_done_does_not_restart_the_clock() {
        let entries = vec![exam(10, 1), entry(300, 2, json!({"eye_exam_done": false}))];
        let st = eye(&entries, ScheduleContext::at(at(0), at(406)));
        assert_eq!(st.last_entry_id, Some(Uuid::from_u128(1)));
        assert_eq!(st.state, ScheduleState::Overdue);
    }

    #[test]
    fn an_amended_exam_counts_once_at_its_corrected_date_and_not_before_it_was_known() {
        let mut fix = exam(20, 2);
        fix.recorded_at = at(200);
        fix.amends = Some(Uuid::from_u128(1));
        let entries = vec![exam(100, 1), fix];
        let now = eye(&entries, ScheduleContext::at(at(0), at(300)));
        assert_eq!(now.last_entry_id, Some(Uuid::from_u128(2)));
        assert_eq!(now.last_done, Some(at(20)));
        assert_eq!(now.due_date, date("2026-01-21"));
        // As the record stood before the correction: the original date.
        let mut before = ScheduleContext::at(at(0), at(300));
        before.known_at = at(150);
        let then = eye(&entries, before);
        assert_eq!(then.last_entry_id, Some(Uuid::from_u128(1)));
        assert_eq!(then.last_done, Some(at(100)));
        // Clinical time before the exam: not done yet.
        let early = eye(&entries, ScheduleContext::at(at(0), at(10)));
        assert_eq!(early.last_done, None);
    }

    #[test]
    fn a_uacr_measured_at_0800_jst_on_1_december_is_due_on_1_june() {
        let started = DateTime::parse_from_rfc3339("2026-10-01T09:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        let measured = DateTime::parse_from_rfc3339("2026-12-01T08:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        let mut e = entry(0, 1, json!({"uacr": 25.0, "dkd_stage": "stage_1"}));
        e.effective_at = measured;
        e.recorded_at = measured;
        let ctx = ScheduleContext::at(started, measured + Duration::days(10));
        let st = evaluate_schedule(&template(), &ctx, &[e], &HashMap::new()).remove(1);
        assert_eq!(st.due_date, date("2027-06-01"));
        assert_eq!(st.state, ScheduleState::Scheduled);
    }

    #[test]
    fn the_retinopathy_grade_sets_the_eye_exam_interval_unless_individualised() {
        let entries = vec![
            exam(10, 1),
            entry(11, 2, json!({"retinopathy": "pre_proliferative"})),
        ];
        let st = eye(&entries, ScheduleContext::at(at(0), at(20)));
        assert_eq!(st.interval_days, 30);
        assert_eq!(st.interval_source, IntervalSource::Item);
        assert_eq!(st.due_date, date("2025-02-10"));
        let entries = vec![exam(10, 1), entry(11, 2, json!({"retinopathy": "simple"}))];
        assert_eq!(
            eye(&entries, ScheduleContext::at(at(0), at(20))).interval_days,
            365
        );
        let mut iv = HashMap::new();
        iv.insert("eye_exam".to_owned(), 90);
        let ctx = ScheduleContext::at(at(0), at(20));
        let st = evaluate_schedule(&template(), &ctx, &entries, &iv).remove(0);
        assert_eq!(st.interval_days, 90);
    }

    #[test]
    fn a_rule_applies_only_when_its_conditions_hold() {
        let t = template();
        let ctx = ScheduleContext::at(at(0), at(400));
        let uacr = |entries: &[EntryFacts]| {
            evaluate_schedule(&t, &ctx, entries, &HashMap::new()).remove(1)
        };
        assert_eq!(uacr(&[]).state, ScheduleState::NotApplicable);
        assert_eq!(
            uacr(&[entry(1, 1, json!({"dkd_stage": "stage_3"}))]).state,
            ScheduleState::NotApplicable
        );
        assert_eq!(
            uacr(&[entry(1, 1, json!({"dkd_stage": "stage_1"}))]).state,
            ScheduleState::Overdue
        );
    }

    #[test]
    fn age_conditions_count_whole_years_in_tokyo() {
        let cond = Condition::Age {
            op: Comparator::Ge,
            value: 75,
        };
        let birth = Some(date("1950-06-02"));
        // 2025-06-01 15:00 UTC is 2025-06-02 00:00 JST: the 75th birthday.
        let t = DateTime::parse_from_rfc3339("2025-06-01T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(condition_holds(&cond, &[], birth, t));
        assert!(!condition_holds(
            &cond,
            &[],
            birth,
            t - Duration::minutes(1)
        ));
        assert!(!condition_holds(&cond, &[], None, t));
    }

    /// Follow-up after surgery: a marker every 90 days until 36 months after the surgery
    /// date, every 180 days until 60 months, then no more.
    fn follow_up() -> PathwayTemplate {
        let src = r#"
code = "fu"
version = 1
title = { ja = "術後", en = "After surgery" }
[[stages]]
code = "follow_up"
title = { ja = "経過観察", en = "Follow-up" }
provider_kinds = ["clinic"]
[[items]]
code = "surgery_date"
title = { ja = "手術日", en = "Surgery date" }
type = "date"
stages = ["follow_up"]
[[items]]
code = "cea"
title = { ja = "CEA", en = "CEA" }
type = "decimal"
stages = ["follow_up"]
[[schedule]]
code = "markers"
title = { ja = "腫瘍マーカー", en = "Tumour markers" }
items = ["cea"]
interval_days = 90
owner = "clinic"
interval_since = { item = "surgery_date", bands = [
  { until_months = 36, days = 90 },
  { until_months = 60, days = 180 },
] }
"#;
        crate::template::parse_template(src, None).unwrap()
    }

    fn markers(entries: &[EntryFacts], ctx: ScheduleContext) -> ScheduleStatus {
        evaluate_schedule(&follow_up(), &ctx, entries, &HashMap::new()).remove(0)
    }

    /// Day `n` after 2025-01-01 00:00 JST with `values`.
    fn fu_entry(day: i64, seq: i64, values: serde_json::Value) -> EntryFacts {
        let mut e = entry(day, seq, values);
        e.stage = "follow_up".into();
        e.effective_at -= Duration::hours(9);
        e.recorded_at = e.effective_at;
        e
    }

    #[test]
    fn markers_are_due_90_days_after_surgery_when_never_measured() {
        // Surgery on 2024-12-01; the plan started on 2025-01-01.
        let entries = vec![fu_entry(0, 1, json!({"surgery_date": "2024-12-01"}))];
        let st = markers(&entries, ScheduleContext::at(at(0), at(10)));
        assert_eq!(st.due_date, date("2025-03-01"));
        assert_eq!(st.interval_source, IntervalSource::Elapsed);
        assert_eq!(st.state, ScheduleState::Scheduled);
        // Without a surgery date the plan's start is the anchor.
        let st = markers(&[], ScheduleContext::at(at(0), at(10)));
        assert_eq!(st.due_date, date("2025-04-01"));
    }

    #[test]
    fn the_interval_widens_after_three_years_and_the_rule_ends_after_five() {
        let surgery = json!({"surgery_date": "2025-01-01"});
        let ctx = |day| ScheduleContext::at(at(0), at(day));
        // Measured on 2027-12-31 (before 36 months): the next one 90 days later.
        let e = vec![
            fu_entry(0, 1, surgery.clone()),
            fu_entry(1094, 2, json!({"cea": 2.1})),
        ];
        let st = markers(&e, ctx(1100));
        assert_eq!(st.interval_days, 90);
        assert_eq!(st.due_date, date("2028-03-30"));
        // Measured on 2028-01-01 (36 months): every 180 days from then on.
        let e = vec![
            fu_entry(0, 1, surgery.clone()),
            fu_entry(1095, 2, json!({"cea": 2.1})),
        ];
        let st = markers(&e, ctx(1100));
        assert_eq!(st.interval_days, 180);
        assert_eq!(st.due_date, date("2028-06-29"));
        assert_eq!(st.state, ScheduleState::Scheduled);
        // Measured on 2029-07-01: the next would fall on 2029-12-28, before the end on
        // 2030-01-01, so it is still due.
        let e = vec![
            fu_entry(0, 1, surgery.clone()),
            fu_entry(1642, 2, json!({"cea": 2.0})),
        ];
        let st = markers(&e, ctx(1700));
        assert_eq!(st.due_date, date("2029-12-28"));
        assert_eq!(st.state, ScheduleState::Scheduled);
        // Measured on 2029-08-01: the next would fall after 60 months: the rule is done.
        let e = vec![
            fu_entry(0, 1, surgery),
            fu_entry(1673, 2, json!({"cea": 2.0})),
        ];
        assert_eq!(markers(&e, ctx(1700)).state, ScheduleState::NotApplicable);
        assert_eq!(markers(&e, ctx(2500)).state, ScheduleState::NotApplicable);
    }

    #[test]
    fn an_individual_interval_wins_but_the_follow_up_still_ends() {
        let mut iv = HashMap::new();
        iv.insert("markers".to_owned(), 30);
        let e = vec![fu_entry(0, 1, json!({"surgery_date": "2025-01-01"}))];
        let t = follow_up();
        let st = evaluate_schedule(&t, &ScheduleContext::at(at(0), at(5)), &e, &iv).remove(0);
        assert_eq!(st.interval_source, IntervalSource::Individual);
        assert_eq!(st.due_date, date("2025-01-31"));
        let late = vec![
            fu_entry(0, 1, json!({"surgery_date": "2025-01-01"})),
            fu_entry(1820, 2, json!({"cea": 1.0})),
        ];
        let st = evaluate_schedule(&t, &ScheduleContext::at(at(0), at(1821)), &late, &iv).remove(0);
        assert_eq!(st.state, ScheduleState::NotApplicable);
    }

    proptest! {
        #[test]
        fn an_elapsed_band_rule_is_never_due_after_its_last_band(
            measured in prop::collection::vec(0i64..2200, 0..10),
            judged in 0i64..2400,
        ) {
            let mut entries = vec![fu_entry(0, 1, json!({"surgery_date": "2025-01-01"}))];
            for (i, d) in measured.iter().enumerate() {
                entries.push(fu_entry(*d, i as i64 + 2, json!({"cea": 1.5})));
            }
            let st = markers(&entries, ScheduleContext::at(at(0), at(judged)));
            prop_assert!(st.interval_days == 90 || st.interval_days == 180);
            if st.state != ScheduleState::NotApplicable {
                prop_assert!(st.due_date <= date("2030-01-01"));
            }
            // The interval is the band the last measurement (else the surgery) falls in.
            let base = st.last_done.map(tokyo_date).unwrap_or(date("2025-01-01"));
            let wide = base >= date("2028-01-01");
            prop_assert_eq!(st.interval_days, if wide { 180 } else { 90 });
        }

        #[test]
        fn the_due_date_is_never_before_the_last_exam(
            days in prop::collection::vec((0i64..800, 0u32..24, any::<bool>()), 0..12),
            judged in 0i64..1200,
        ) {
            let entries: Vec<EntryFacts> = days
                .iter()
                .enumerate()
                .map(|(i, (d, h, done))| {
                    let mut e = entry(*d, i as i64 + 1, json!({"eye_exam_done": done}));
                    e.effective_at += Duration::hours((*h).into());
                    e.recorded_at = e.effective_at;
                    e
                })
                .collect();
            let st = eye(&entries, ScheduleContext::at(at(0), at(judged)));
            if let Some(last) = st.last_done {
                prop_assert!(st.due_date > tokyo_date(last));
                prop_assert!(st.due >= last - Duration::hours(24));
            }
            prop_assert!(st.due_date > tokyo_date(at(0)));
        }

        #[test]
        fn an_exam_recorded_as_not_done_never_changes_the_schedule(
            done in prop::collection::vec(0i64..800, 0..6),
            not_done in prop::collection::vec(0i64..800, 1..6),
            judged in 0i64..1200,
        ) {
            let mut entries: Vec<EntryFacts> = done
                .iter()
                .enumerate()
                .map(|(i, d)| exam(*d, i as i64 + 1))
                .collect();
            let ctx = ScheduleContext::at(at(0), at(judged));
            let before = eye(&entries, ctx);
            for (i, d) in not_done.iter().enumerate() {
                entries.push(entry(*d, 100 + i as i64, json!({"eye_exam_done": false})));
            }
            let after = eye(&entries, ctx);
            prop_assert_eq!(before, after);
        }
    }
}
