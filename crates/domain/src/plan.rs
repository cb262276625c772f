//! Pure facts about one care plan read from its entries: the goal and schedule facts,
//! the per-patient goal targets and intervals (個別目標), the individual template, a
//! stage's outcome (FIM / Barthel, length of stay, destination) and the stage timeline.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::entry::EntryKind;
use crate::goals::EntryFacts;
use crate::template::{GoalTarget, PathwayTemplate};

/// Entries as goal/schedule facts (clinical kinds only) and the per-patient overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanFacts {
    pub facts: Vec<EntryFacts>,
    /// Individual goal targets: goal code, target, and when it took effect.
    pub goal_targets: Vec<(String, GoalTarget, DateTime<Utc>)>,
    /// Individual schedule intervals: rule code, days, and when it took effect.
    pub intervals: Vec<(String, u32, DateTime<Utc>)>,
}

/// Sorts a plan's entries (in sequence order) into clinical facts and the individual
/// goal targets and intervals that `individualize` entries set.
pub fn plan_facts(entries: Vec<EntryFacts>) -> PlanFacts {
    let mut out = PlanFacts::default();
    for entry in entries {
        if entry.kind == EntryKind::Individualize {
            let values = &entry.values;
            if let (Some(goal), Some(target)) = (values.get("goal"), values.get("target"))
                && let (Some(goal), Ok(target)) = (
                    goal.as_str(),
                    serde_json::from_value::<GoalTarget>(target.clone()),
                )
            {
                out.goal_targets
                    .push((goal.to_owned(), target, entry.effective_at));
            }
            if let (Some(rule), Some(days)) = (values.get("schedule"), values.get("interval_days"))
                && let (Some(rule), Some(days)) = (rule.as_str(), days.as_u64())
            {
                out.intervals
                    .push((rule.to_owned(), days as u32, entry.effective_at));
            }
            continue;
        }
        if entry.kind.is_clinical() {
            out.facts.push(entry);
        }
    }
    out
}

impl PlanFacts {
    /// The template with this patient's individual goal targets as of `as_of`.
    pub fn individual_template(
        &self,
        t: &PathwayTemplate,
        as_of: DateTime<Utc>,
    ) -> PathwayTemplate {
        let mut t = t.clone();
        for (goal, target, at) in &self.goal_targets {
            if *at <= as_of
                && let Some(g) = t.goals.iter_mut().find(|g| &g.code == goal)
            {
                g.target = target.clone();
            }
        }
        t
    }

    /// The individual schedule intervals in force at `as_of` (the latest per rule).
    pub fn intervals(&self, as_of: DateTime<Utc>) -> HashMap<String, u32> {
        self.intervals
            .iter()
            .filter(|(_, _, at)| *at <= as_of)
            .map(|(k, v, _)| (k.clone(), *v))
            .collect()
    }
}

/// The FIM / Barthel numbers, length of stay and destination of a stage, for the
/// referral summary and the report back.
pub fn stage_outcome(facts: &[EntryFacts], stage: &str) -> Value {
    let in_stage: Vec<&EntryFacts> = facts.iter().filter(|e| e.stage == stage).collect();
    // (position, value) of the first and the last measurement of an item in the stage.
    let first = |item: &str| {
        in_stage
            .iter()
            .enumerate()
            .find_map(|(i, e)| e.values.get(item).and_then(Value::as_f64).map(|v| (i, v)))
    };
    let last = |item: &str| {
        in_stage
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, e)| e.values.get(item).and_then(Value::as_f64).map(|v| (i, v)))
    };
    let start = in_stage
        .iter()
        .find(|e| e.kind == EntryKind::StageStart)
        .map(|e| e.effective_at);
    let end = in_stage
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::StageEnd)
        .map(|e| e.effective_at);
    let mut out = Map::new();
    out.insert("stage".into(), json!(stage));
    if let (Some(s), Some(e)) = (start, end) {
        out.insert("length_of_stay_days".into(), json!((e - s).num_days()));
    }
    for item in ["fim_total", "fim_motor", "barthel_total"] {
        // A gain needs two measurements; one alone is the admission value.
        match (first(item), last(item)) {
            (Some((i, a)), Some((j, b))) if i != j => {
                out.insert(format!("{item}_admission"), json!(a));
                out.insert(format!("{item}_discharge"), json!(b));
                out.insert(format!("{item}_gain"), json!(b - a));
            }
            (Some((_, a)), _) => {
                out.insert(format!("{item}_admission"), json!(a));
            }
            _ => {}
        }
    }
    if let Some(d) = in_stage
        .iter()
        .rev()
        .find_map(|e| e.values.get("destination").cloned())
    {
        out.insert("destination".into(), d);
    }
    Value::Object(out)
}

/// When a stage started and ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageDates {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// The stage timeline: for each stage, its last `stage_start` and the latest `stage_end`
/// recorded after it (entries in sequence order; amendments left out, a stage event is not
/// amended). A `stage_end` dated before the stage's start does not end it.
pub fn stage_dates(entries: &[EntryFacts]) -> HashMap<String, StageDates> {
    let mut out: HashMap<String, StageDates> = HashMap::new();
    for e in entries.iter().filter(|e| e.amends.is_none()) {
        match e.kind {
            EntryKind::StageStart => {
                out.insert(
                    e.stage.clone(),
                    StageDates {
                        start: Some(e.effective_at),
                        end: None,
                    },
                );
            }
            EntryKind::StageEnd => {
                let dates = out.entry(e.stage.clone()).or_default();
                if dates.start.is_none_or(|start| start <= e.effective_at) {
                    dates.end = Some(e.effective_at);
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day)
    }

    fn entry(seq: i64, stage: &str, kind: EntryKind, day: i64, values: Value) -> EntryFacts {
        EntryFacts {
            id: Uuid::from_u128(seq as u128 + 1),
            seq,
            stage: stage.into(),
            kind,
            effective_at: at(day),
            recorded_at: at(day),
            values: values.as_object().cloned().unwrap_or_default(),
            amends: None,
        }
    }

    #[test]
    fn individualize_entries_set_targets_and_intervals_not_facts() {
        let pf = plan_facts(vec![
            entry(1, "acute", EntryKind::StageStart, 0, json!({})),
            entry(
                2,
                "acute",
                EntryKind::Individualize,
                1,
                json!({"goal": "m1_hba1c",
                       "target": {"kind": "threshold", "item": "hba1c", "op": "<", "value": 8.0},
                       "schedule": "s", "interval_days": 7}),
            ),
            entry(3, "acute", EntryKind::Individualize, 2, json!({"goal": 5})),
        ]);
        assert_eq!(pf.facts.len(), 1);
        assert_eq!(pf.facts[0].kind, EntryKind::StageStart);
        assert_eq!(pf.intervals, vec![("s".to_owned(), 7, at(1))]);
        assert_eq!(pf.goal_targets.len(), 1);
        assert_eq!(pf.intervals(at(0)), HashMap::new());
        assert_eq!(pf.intervals(at(1)).get("s"), Some(&7));
    }

    #[test]
    fn individual_template_applies_targets_in_force() {
        let src = include_str!("../../../pathways/diabetes/v1.toml");
        let t = crate::template::parse_template(src, None).unwrap();
        let pf = plan_facts(vec![entry(
            1,
            "intro",
            EntryKind::Individualize,
            2,
            json!({"goal": "m1_hba1c",
                   "target": {"kind": "threshold", "item": "hba1c", "op": "<", "value": 8.0}}),
        )]);
        let target = |t: &PathwayTemplate| {
            t.goals
                .iter()
                .find(|g| g.code == "m1_hba1c")
                .map(|g| g.target.clone())
        };
        assert_eq!(target(&pf.individual_template(&t, at(1))), target(&t));
        let individual = pf.individual_template(&t, at(2));
        assert_ne!(target(&individual), target(&t));
        assert!(matches!(
            target(&individual),
            Some(GoalTarget::Threshold { value, .. }) if value == 8.0
        ));
    }

    #[test]
    fn later_interval_wins() {
        let pf = plan_facts(vec![
            entry(
                1,
                "a",
                EntryKind::Individualize,
                1,
                json!({"schedule": "s", "interval_days": 7}),
            ),
            entry(
                2,
                "a",
                EntryKind::Individualize,
                3,
                json!({"schedule": "s", "interval_days": 14}),
            ),
        ]);
        assert_eq!(pf.intervals(at(2)).get("s"), Some(&7));
        assert_eq!(pf.intervals(at(3)).get("s"), Some(&14));
    }

    #[test]
    fn stage_outcome_reports_gain_stay_and_destination() {
        let facts = vec![
            entry(
                1,
                "rehab",
                EntryKind::StageStart,
                0,
                json!({"fim_total": 60.0}),
            ),
            entry(
                2,
                "rehab",
                EntryKind::StageEnd,
                30,
                json!({"fim_total": 90.0, "destination": "home"}),
            ),
            entry(
                3,
                "home",
                EntryKind::StageStart,
                31,
                json!({"fim_total": 10.0}),
            ),
        ];
        let out = stage_outcome(&facts, "rehab");
        assert_eq!(out["stage"], "rehab");
        assert_eq!(out["length_of_stay_days"], 30);
        assert_eq!(out["fim_total_admission"], 60.0);
        assert_eq!(out["fim_total_discharge"], 90.0);
        assert_eq!(out["fim_total_gain"], 30.0);
        assert_eq!(out["destination"], "home");
        assert!(out.get("barthel_total_gain").is_none());
        let empty = stage_outcome(&facts, "acute");
        assert_eq!(empty, json!({"stage": "acute"}));
    }

    #[test]
    fn timeline_takes_the_last_start_and_the_end_after_it() {
        let mut amended = entry(5, "b", EntryKind::StageEnd, 9, json!({}));
        amended.amends = Some(Uuid::from_u128(99));
        let dates = stage_dates(&[
            entry(1, "a", EntryKind::StageStart, 0, json!({})),
            entry(2, "a", EntryKind::StageEnd, 3, json!({})),
            entry(3, "a", EntryKind::StageStart, 5, json!({})),
            entry(4, "b", EntryKind::StageStart, 6, json!({})),
            amended,
            entry(6, "b", EntryKind::StageEnd, 2, json!({})),
        ]);
        assert_eq!(
            dates["a"],
            StageDates {
                start: Some(at(5)),
                end: None
            }
        );
        assert_eq!(
            dates["b"],
            StageDates {
                start: Some(at(6)),
                end: None
            }
        );
        let dates = stage_dates(&[
            entry(1, "a", EntryKind::StageStart, 0, json!({})),
            entry(2, "a", EntryKind::StageEnd, 3, json!({})),
        ]);
        assert_eq!(dates["a"].end, Some(at(3)));
    }

    fn kind() -> impl Strategy<Value = EntryKind> {
        prop_oneof![
            Just(EntryKind::StageStart),
            Just(EntryKind::StageEnd),
            Just(EntryKind::Assessment),
        ]
    }

    proptest! {
        #[test]
        fn timeline_never_ends_before_it_starts(
            raw in prop::collection::vec((0usize..3, kind(), -50i64..50, any::<bool>()), 0..30)
        ) {
            let stages = ["a", "b", "c"];
            let entries: Vec<EntryFacts> = raw
                .iter()
                .enumerate()
                .map(|(i, (s, k, day, amends))| {
                    let mut e = entry(i as i64, stages[*s], *k, *day, json!({}));
                    if *amends {
                        e.amends = Some(Uuid::from_u128(1000));
                    }
                    e
                })
                .collect();
            let dates = stage_dates(&entries);
            for (stage, d) in &dates {
                if let (Some(s), Some(e)) = (d.start, d.end) {
                    prop_assert!(s <= e, "{stage}: end {e} before start {s}");
                }
                let last_start = entries
                    .iter()
                    .filter(|e| e.amends.is_none() && &e.stage == stage && e.kind == EntryKind::StageStart)
                    .map(|e| e.effective_at)
                    .next_back();
                prop_assert_eq!(d.start, last_start);
            }
        }
    }
}
