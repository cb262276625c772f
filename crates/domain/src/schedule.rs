//! Cyclical schedules (循環型): when each scheduled visit or test of a plan is next due,
//! from the template's schedule, the entries recorded so far and per-patient intervals.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::goals::EntryFacts;
use crate::template::{PathwayTemplate, ProviderKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Next due date still ahead.
    Scheduled,
    /// Past the due date, within the grace period.
    Due,
    /// Past the due date and the grace period.
    Overdue,
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
    pub grace_days: u32,
    pub last_done: Option<DateTime<Utc>>,
    pub last_entry_id: Option<Uuid>,
    pub due: DateTime<Utc>,
    pub state: ScheduleState,
}

/// Evaluates every schedule rule as of `as_of`. `intervals` holds per-patient interval
/// overrides by rule code. A rule never done is due one interval after the plan started.
pub fn evaluate_schedule(
    template: &PathwayTemplate,
    plan_started_at: DateTime<Utc>,
    entries: &[EntryFacts],
    intervals: &HashMap<String, u32>,
    as_of: DateTime<Utc>,
) -> Vec<ScheduleStatus> {
    template
        .schedule
        .iter()
        .map(|rule| {
            let interval = intervals
                .get(&rule.code)
                .copied()
                .unwrap_or(rule.interval_days);
            let last = entries
                .iter()
                .filter(|e| e.effective_at <= as_of && e.recorded_at <= as_of)
                .filter(|e| rule.items.iter().any(|i| e.values.contains_key(i)))
                .max_by_key(|e| (e.effective_at, e.seq));
            let base = last.map(|e| e.effective_at).unwrap_or(plan_started_at);
            let due = base + Duration::days(interval.into());
            let state = if as_of <= due {
                ScheduleState::Scheduled
            } else if as_of <= due + Duration::days(rule.grace_days.into()) {
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
                individualised: intervals.contains_key(&rule.code),
                grace_days: rule.grace_days,
                last_done: last.map(|e| e.effective_at),
                last_entry_id: last.map(|e| e.id),
                due,
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryKind;
    use crate::template::{ScheduleRule, Title};
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
            interval_by: None,
            applies_when: Vec::new(),
        });
        t
    }

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::days(days)
    }

    fn exam(day: i64, seq: i64) -> EntryFacts {
        EntryFacts {
            id: Uuid::from_u128(seq as u128),
            seq,
            stage: "clinic".into(),
            kind: EntryKind::Assessment,
            effective_at: at(day),
            recorded_at: at(day),
            values: json!({"eye_exam_done": true}).as_object().unwrap().clone(),
            amends: None,
        }
    }

    #[test]
    fn due_one_interval_after_the_last_exam_then_overdue_after_grace() {
        let t = template();
        let entries = vec![exam(10, 1)];
        let none = HashMap::new();
        let s = |day| evaluate_schedule(&t, at(0), &entries, &none, at(day)).remove(0);
        assert_eq!(s(100).state, ScheduleState::Scheduled);
        assert_eq!(s(100).due, at(375));
        assert_eq!(s(380).state, ScheduleState::Due);
        assert_eq!(s(406).state, ScheduleState::Overdue);
        // An exam recorded later resets the clock.
        let entries = vec![exam(10, 1), exam(370, 2)];
        let st = evaluate_schedule(&t, at(0), &entries, &none, at(406)).remove(0);
        assert_eq!(st.state, ScheduleState::Scheduled);
        assert_eq!(st.last_entry_id, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn never_done_counts_from_the_plan_start_and_overrides_apply() {
        let t = template();
        let mut iv = HashMap::new();
        iv.insert("eye_exam".to_owned(), 60);
        let st = evaluate_schedule(&t, at(0), &[], &iv, at(100)).remove(0);
        assert!(st.individualised);
        assert_eq!(st.due, at(60));
        assert_eq!(st.state, ScheduleState::Overdue);
    }
}
