//! Pure facts about one care plan read from its entries: the goal and schedule facts,
//! the per-patient goal targets, intervals and stage limits (個別目標), the individual
//! template, a stage's outcome (FIM / Barthel, length of stay, destination), the stage
//! timeline, and the check that no stage ends before it starts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::FieldError;
use crate::calendar::stay_days;
use crate::corrections::current_view;
use crate::entry::EntryKind;
use crate::facts::EntryFacts;
use crate::rules::Rule;
use crate::stages::{latest_period, stage_periods};
use crate::template::{GoalTarget, PathwayTemplate};

/// One per-patient setting of an `individualize` entry: what it sets (a goal, schedule
/// rule or stage code), the value, when it takes effect and when it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Individual<T> {
    pub code: String,
    pub value: T,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// Entries as goal/schedule facts (clinical kinds only) and the per-patient overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanFacts {
    pub facts: Vec<EntryFacts>,
    /// Individual goal targets by goal code.
    pub goal_targets: Vec<Individual<GoalTarget>>,
    /// Individual schedule intervals (days) by schedule rule code.
    pub intervals: Vec<Individual<u32>>,
    /// Individual stage limits (`max_days`) by stage code (a 180-day stroke patient).
    pub stage_max_days: Vec<Individual<u32>>,
}

fn individual<T>(code: &str, value: T, entry: &EntryFacts) -> Individual<T> {
    Individual {
        code: code.to_owned(),
        value,
        effective_at: entry.effective_at,
        recorded_at: entry.recorded_at,
    }
}

/// Sorts a plan's entries (in sequence order) into clinical facts and the individual
/// goal targets, intervals and stage limits that `individualize` entries set.
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
                out.goal_targets.push(individual(goal, target, &entry));
            }
            if let (Some(rule), Some(days)) = (values.get("schedule"), values.get("interval_days"))
                && let (Some(rule), Some(days)) = (rule.as_str(), days.as_u64())
            {
                out.intervals.push(individual(rule, days as u32, &entry));
            }
            if let (Some(stage), Some(days)) = (values.get("stage"), values.get("max_days"))
                && let (Some(stage), Some(days)) = (stage.as_str(), days.as_u64())
            {
                out.stage_max_days
                    .push(individual(stage, days as u32, &entry));
            }
            continue;
        }
        // Voids go with the facts so that `current_view` leaves their chains out.
        if entry.kind.is_clinical() || entry.kind == EntryKind::EnteredInError {
            out.facts.push(entry);
        }
    }
    out
}

/// The settings in force at clinical time `as_of` as known at `known_at`, the latest per
/// code (by effective time, then the order recorded).
fn in_force<T: Clone>(
    list: &[Individual<T>],
    as_of: DateTime<Utc>,
    known_at: DateTime<Utc>,
) -> HashMap<String, T> {
    let mut live: Vec<&Individual<T>> = list
        .iter()
        .filter(|i| i.effective_at <= as_of && i.recorded_at <= known_at)
        .collect();
    live.sort_by_key(|i| i.effective_at);
    live.into_iter()
        .map(|i| (i.code.clone(), i.value.clone()))
        .collect()
}

/// The value a threshold goal compares with (the target a `follows` goal follows).
fn target_value(t: &GoalTarget) -> Option<f64> {
    match t {
        GoalTarget::Threshold { value, .. } => Some(*value),
        _ => None,
    }
}

impl PlanFacts {
    /// The facts without the entries voided as entered in error (every version of a
    /// voided chain) and without the voids themselves, for the readers that do not go
    /// through [`crate::corrections::current_view`] (stage timeline, stage outcome,
    /// referral summary, schedules).
    pub fn standing(&self) -> Vec<EntryFacts> {
        let voided: std::collections::HashSet<uuid::Uuid> = self
            .facts
            .iter()
            .filter(|e| e.kind == EntryKind::EnteredInError)
            .filter_map(|e| e.amends)
            .flat_map(|t| crate::corrections::chain_of(&self.facts, t))
            .map(|e| e.id)
            .collect();
        self.facts
            .iter()
            .filter(|e| e.kind != EntryKind::EnteredInError && !voided.contains(&e.id))
            .cloned()
            .collect()
    }

    /// The template with this patient's individual settings as of `as_of`, as known now.
    pub fn individual_template(
        &self,
        t: &PathwayTemplate,
        as_of: DateTime<Utc>,
    ) -> PathwayTemplate {
        self.individual_template_at(t, as_of, DateTime::<Utc>::MAX_UTC)
    }

    /// The template with this patient's individual settings in force at clinical time
    /// `as_of` as the record stood at `known_at`: a stage's individual `max_days` sets the
    /// stage's limit and every `stage_length` goal on that stage; an individual goal target
    /// replaces the goal's; a goal that `follows` another takes that goal's (individual)
    /// target value plus its offset.
    pub fn individual_template_at(
        &self,
        t: &PathwayTemplate,
        as_of: DateTime<Utc>,
        known_at: DateTime<Utc>,
    ) -> PathwayTemplate {
        let mut t = t.clone();
        for (stage, days) in in_force(&self.stage_max_days, as_of, known_at) {
            if let Some(s) = t.stages.iter_mut().find(|s| s.code == stage) {
                s.max_days = Some(days);
            }
            for g in &mut t.goals {
                if let GoalTarget::StageLength {
                    stage: goal_stage,
                    days: goal_days,
                    ..
                } = &mut g.target
                    && *goal_stage == stage
                {
                    // A due set at the old limit from the stage's start moves with it.
                    if let Some(due) = &mut g.due
                        && due.stage == stage
                        && due.months == 0
                        && due.days == *goal_days
                    {
                        due.days = days;
                    }
                    *goal_days = days;
                }
            }
        }
        let targets = in_force(&self.goal_targets, as_of, known_at);
        for (goal, target) in &targets {
            if let Some(g) = t.goals.iter_mut().find(|g| &g.code == goal) {
                g.target = target.clone();
            }
        }
        // Followers in template order; a chain of follows settles within as many passes
        // as there are goals.
        for _ in 0..t.goals.len() {
            let mut changed = false;
            for i in 0..t.goals.len() {
                let Some(follows) = t.goals[i].follows.clone() else {
                    continue;
                };
                let Some(base) = t
                    .goals
                    .iter()
                    .find(|g| g.code == follows.goal)
                    .and_then(|g| target_value(&g.target))
                else {
                    continue;
                };
                if let GoalTarget::Threshold { value, .. } = &mut t.goals[i].target {
                    let next = base + follows.offset;
                    if (*value - next).abs() > f64::EPSILON {
                        *value = next;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        t
    }

    /// [`PlanFacts::individual_template_at`] without copying the template when nothing
    /// individual is in force and every `follows` goal already holds its base's value plus
    /// its offset (the copy would equal the template).
    pub fn individual_template_cow<'t>(
        &self,
        t: &'t PathwayTemplate,
        as_of: DateTime<Utc>,
        known_at: DateTime<Utc>,
    ) -> std::borrow::Cow<'t, PathwayTemplate> {
        fn in_force_at<T>(
            list: &[Individual<T>],
            as_of: DateTime<Utc>,
            known_at: DateTime<Utc>,
        ) -> bool {
            list.iter()
                .any(|i| i.effective_at <= as_of && i.recorded_at <= known_at)
        }
        let followers_settled = t.goals.iter().all(|g| {
            let Some(follows) = &g.follows else {
                return true;
            };
            let Some(base) = t
                .goals
                .iter()
                .find(|b| b.code == follows.goal)
                .and_then(|b| target_value(&b.target))
            else {
                return true;
            };
            match &g.target {
                GoalTarget::Threshold { value, .. } => {
                    (*value - (base + follows.offset)).abs() <= f64::EPSILON
                }
                _ => true,
            }
        });
        if !in_force_at(&self.stage_max_days, as_of, known_at)
            && !in_force_at(&self.goal_targets, as_of, known_at)
            && followers_settled
        {
            std::borrow::Cow::Borrowed(t)
        } else {
            std::borrow::Cow::Owned(self.individual_template_at(t, as_of, known_at))
        }
    }

    /// The individual schedule intervals in force at `as_of`, as known now.
    pub fn intervals(&self, as_of: DateTime<Utc>) -> HashMap<String, u32> {
        self.intervals_at(as_of, DateTime::<Utc>::MAX_UTC)
    }

    /// The individual schedule intervals in force at `as_of` as known at `known_at`
    /// (the latest per rule).
    pub fn intervals_at(
        &self,
        as_of: DateTime<Utc>,
        known_at: DateTime<Utc>,
    ) -> HashMap<String, u32> {
        in_force(&self.intervals, as_of, known_at)
    }
}

/// The FIM / Barthel numbers, length of stay and destination of a stage, for the
/// referral summary and the report back: the stage's latest period over the current
/// view, in effective order; the length of stay counts the admission day as day 1.
pub fn stage_outcome(facts: &[EntryFacts], stage: &str) -> Value {
    let view = current_view(facts, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
    let in_stage: Vec<&EntryFacts> = view.iter().copied().filter(|e| e.stage == stage).collect();
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
    let periods = stage_periods(&view);
    let mut out = Map::new();
    out.insert("stage".into(), json!(stage));
    if let Some(p) = latest_period(&periods, stage)
        && let Some(end) = p.end
    {
        out.insert(
            "length_of_stay_days".into(),
            json!(stay_days(p.start.effective_at, end.effective_at)),
        );
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

/// The stage timeline as known now: for each stage, its latest period.
pub fn stage_dates(entries: &[EntryFacts]) -> HashMap<String, StageDates> {
    stage_dates_at(entries, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC)
}

/// The stage timeline at clinical time `as_of` as known at `known_at`: for each stage,
/// its latest period, stage events paired in effective order over the current view
/// (an amended stage event moves its period; a `stage_end` before its start ends nothing).
pub fn stage_dates_at(
    entries: &[EntryFacts],
    as_of: DateTime<Utc>,
    known_at: DateTime<Utc>,
) -> HashMap<String, StageDates> {
    let view = current_view(entries, as_of, known_at);
    let mut out = HashMap::new();
    for p in stage_periods(&view) {
        out.insert(
            p.stage.to_owned(),
            StageDates {
                start: Some(p.start.effective_at),
                end: p.end.map(|e| e.effective_at),
            },
        );
    }
    out
}

/// The `stage_end` entries of `stage` that end no period of it.
fn unpaired_ends(view: &[&EntryFacts], stage: &str) -> HashSet<Uuid> {
    let closing: HashSet<Uuid> = stage_periods(view)
        .iter()
        .filter_map(|p| p.end.map(|e| e.id))
        .collect();
    view.iter()
        .filter(|e| e.kind == EntryKind::StageEnd && e.stage == stage && !closing.contains(&e.id))
        .map(|e| e.id)
        .collect()
}

/// Whether appending `candidate` (a new stage event or the amendment of one) to the
/// plan's `entries` would make a stage end before it starts: a `stage_end` (or its
/// amendment) dated before its stage's start, or an amended `stage_start` dated after the
/// end of its stay. Stage events are paired in effective order over the current view.
pub fn stage_order_errors(entries: &[EntryFacts], candidate: &EntryFacts) -> Vec<FieldError> {
    if !matches!(candidate.kind, EntryKind::StageStart | EntryKind::StageEnd) {
        return Vec::new();
    }
    let all_time = DateTime::<Utc>::MAX_UTC;
    let before = unpaired_ends(&current_view(entries, all_time, all_time), &candidate.stage);
    let mut with: Vec<EntryFacts> = entries.to_vec();
    with.push(candidate.clone());
    let after = unpaired_ends(&current_view(&with, all_time, all_time), &candidate.stage);
    let broken = after.contains(&candidate.id) || after.iter().any(|id| !before.contains(id));
    if !broken {
        return Vec::new();
    }
    vec![match candidate.kind {
        EntryKind::StageEnd => FieldError::new(
            "effective_at",
            Rule::BeforeStageStart,
            format!("stage `{}` would end before it started", candidate.stage),
        ),
        _ => FieldError::new(
            "effective_at",
            Rule::AfterStageEnd,
            format!("stage `{}` would start after it ended", candidate.stage),
        ),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Follows;
    use chrono::TimeZone;
    use proptest::prelude::*;

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

    fn amend(mut e: EntryFacts, of: &EntryFacts) -> EntryFacts {
        e.amends = Some(of.id);
        e
    }

    fn template(code: &str) -> PathwayTemplate {
        let src = match code {
            "stroke" => include_str!("../../../pathways/stroke/v1.toml"),
            _ => include_str!("../../../pathways/diabetes/v1.toml"),
        };
        crate::template::parse_template(src, None).unwrap()
    }

    fn goal<'a>(t: &'a PathwayTemplate, code: &str) -> &'a crate::template::Goal {
        t.goals.iter().find(|g| g.code == code).unwrap()
    }

    #[test]
    fn a_voided_chain_is_not_standing_and_reaches_no_stage_date() {
        let mut fix = entry(3, "acute", EntryKind::StageEnd, 6, json!({}));
        fix.amends = Some(Uuid::from_u128(3));
        let mut void = entry(4, "acute", EntryKind::EnteredInError, 6, json!({}));
        void.amends = Some(fix.id);
        let pf = plan_facts(vec![
            entry(1, "acute", EntryKind::StageStart, 0, json!({})),
            entry(2, "acute", EntryKind::StageEnd, 5, json!({"mrs": 3})),
            fix,
            void,
        ]);
        // The void reaches the facts (for `current_view`), but nothing of its chain stands.
        assert_eq!(pf.facts.len(), 4);
        let standing: Vec<i64> = pf.standing().iter().map(|e| e.seq).collect();
        assert_eq!(standing, vec![1]);
        let dates = stage_dates(&pf.standing());
        assert_eq!(dates["acute"].start, Some(at(0)));
        assert_eq!(dates["acute"].end, None);
    }

    #[test]
    fn individualize_entries_set_targets_intervals_and_stage_limits_not_facts() {
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
            entry(
                4,
                "acute",
                EntryKind::Individualize,
                2,
                json!({"stage": "recovery", "max_days": 180}),
            ),
        ]);
        assert_eq!(pf.facts.len(), 1);
        assert_eq!(pf.facts[0].kind, EntryKind::StageStart);
        assert_eq!(pf.intervals.len(), 1);
        assert_eq!(pf.goal_targets.len(), 1);
        assert_eq!(pf.stage_max_days.len(), 1);
        assert_eq!(pf.intervals(at(0)), HashMap::new());
        assert_eq!(pf.intervals(at(1)).get("s"), Some(&7));
        // Not yet recorded at the moment known.
        assert_eq!(pf.intervals_at(at(1), at(0)), HashMap::new());
    }

    #[test]
    fn individual_template_cow_equals_the_copy_and_borrows_only_when_nothing_changes() {
        let t = template("diabetes");
        let individual = plan_facts(vec![entry(
            1,
            "intro",
            EntryKind::Individualize,
            2,
            json!({"goal": "m1_hba1c",
                   "target": {"kind": "threshold", "item": "hba1c", "op": "<", "value": 8.0}}),
        )]);
        let none = plan_facts(Vec::new());
        for (pf, moment) in [(&none, 1), (&individual, 1), (&individual, 3)] {
            let cow = pf.individual_template_cow(&t, at(moment), at(moment));
            let copy = pf.individual_template_at(&t, at(moment), at(moment));
            assert_eq!(*cow, copy);
        }
        assert!(matches!(
            none.individual_template_cow(&t, at(1), at(1)),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            individual.individual_template_cow(&t, at(3), at(3)),
            std::borrow::Cow::Owned(_)
        ));
    }

    #[test]
    fn individual_template_applies_targets_in_force() {
        let t = template("diabetes");
        let pf = plan_facts(vec![entry(
            1,
            "intro",
            EntryKind::Individualize,
            2,
            json!({"goal": "m1_hba1c",
                   "target": {"kind": "threshold", "item": "hba1c", "op": "<", "value": 8.0}}),
        )]);
        let target = |t: &PathwayTemplate| goal(t, "m1_hba1c").target.clone();
        assert_eq!(target(&pf.individual_template(&t, at(1))), target(&t));
        let individual = pf.individual_template(&t, at(2));
        assert_ne!(target(&individual), target(&t));
        assert!(matches!(
            target(&individual),
            GoalTarget::Threshold { value, .. } if value == 8.0
        ));
        // The record as it stood before the target was set.
        let then = pf.individual_template_at(&t, at(2), at(1));
        assert_eq!(target(&then), target(&t));
    }

    #[test]
    fn a_180_day_stage_limit_sets_the_stage_and_its_stage_length_goals() {
        let t = template("stroke");
        let pf = plan_facts(vec![entry(
            1,
            "recovery",
            EntryKind::Individualize,
            5,
            json!({"stage": "recovery", "max_days": 180, "reason": "高次脳機能障害を伴う重症例"}),
        )]);
        let before = pf.individual_template(&t, at(4));
        assert_eq!(before.stage("recovery").unwrap().max_days, Some(150));
        let it = pf.individual_template(&t, at(5));
        assert_eq!(it.stage("recovery").unwrap().max_days, Some(180));
        let g4 = goal(&it, "g4_recovery_within_limit");
        assert!(matches!(
            g4.target,
            GoalTarget::StageLength { days: 180, .. }
        ));
        assert_eq!(g4.due.as_ref().unwrap().days, 180);
        // Other stages keep their limits.
        assert_eq!(
            it.stage("acute").unwrap().max_days,
            t.stage("acute").unwrap().max_days
        );
    }

    #[test]
    fn a_following_goal_takes_the_individual_target_plus_its_offset() {
        let mut t = template("diabetes");
        let g = t.goals.iter_mut().find(|g| g.code == "m4_nonhdl").unwrap();
        g.follows = Some(Follows {
            goal: "m3_ldl".into(),
            offset: 30.0,
        });
        let value = |t: &PathwayTemplate, code: &str| target_value(&goal(t, code).target);
        let pf = plan_facts(vec![entry(
            1,
            "intro",
            EntryKind::Individualize,
            2,
            json!({"goal": "m3_ldl",
                   "target": {"kind": "threshold", "item": "ldl", "op": "<", "value": 70.0}}),
        )]);
        assert_eq!(
            value(&pf.individual_template(&t, at(1)), "m4_nonhdl"),
            Some(150.0)
        );
        let it = pf.individual_template(&t, at(2));
        assert_eq!(value(&it, "m3_ldl"), Some(70.0));
        assert_eq!(value(&it, "m4_nonhdl"), Some(100.0));
    }

    #[test]
    fn later_interval_wins() {
        let pf = plan_facts(vec![
            entry(
                1,
                "a",
                EntryKind::Individualize,
                3,
                json!({"schedule": "s", "interval_days": 14}),
            ),
            entry(
                2,
                "a",
                EntryKind::Individualize,
                1,
                json!({"schedule": "s", "interval_days": 7}),
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
        // The admission day is day 1.
        assert_eq!(out["length_of_stay_days"], 31);
        assert_eq!(out["fim_total_admission"], 60.0);
        assert_eq!(out["fim_total_discharge"], 90.0);
        assert_eq!(out["fim_total_gain"], 30.0);
        assert_eq!(out["destination"], "home");
        assert!(out.get("barthel_total_gain").is_none());
        let empty = stage_outcome(&facts, "acute");
        assert_eq!(empty, json!({"stage": "acute"}));
    }

    #[test]
    fn stage_outcome_reads_amended_values_and_dates() {
        let start = entry(
            1,
            "rehab",
            EntryKind::StageStart,
            0,
            json!({"fim_total": 60.0}),
        );
        let end = entry(
            2,
            "rehab",
            EntryKind::StageEnd,
            30,
            json!({"fim_total": 90.0}),
        );
        let fixed = amend(
            entry(
                3,
                "rehab",
                EntryKind::StageStart,
                10,
                json!({"fim_total": 50.0}),
            ),
            &start,
        );
        let out = stage_outcome(&[start, end, fixed], "rehab");
        assert_eq!(out["length_of_stay_days"], 21);
        assert_eq!(out["fim_total_admission"], 50.0);
        assert_eq!(out["fim_total_gain"], 40.0);
    }

    #[test]
    fn timeline_pairs_stage_events_in_effective_order() {
        let a0 = entry(1, "a", EntryKind::StageStart, 0, json!({}));
        let a3 = entry(2, "a", EntryKind::StageEnd, 3, json!({}));
        let a5 = entry(3, "a", EntryKind::StageStart, 5, json!({}));
        let b6 = entry(4, "b", EntryKind::StageStart, 6, json!({}));
        let dates = stage_dates(&[a0.clone(), a3.clone(), a5.clone(), b6.clone()]);
        assert_eq!(
            dates["a"],
            StageDates {
                start: Some(at(5)),
                end: None
            }
        );
        assert_eq!(dates["b"].start, Some(at(6)));
        // An amended start moves the stay; the end still closes it.
        let moved = amend(entry(5, "a", EntryKind::StageStart, 1, json!({})), &a0);
        let dates = stage_dates(&[a0.clone(), a3.clone(), moved]);
        assert_eq!(
            dates["a"],
            StageDates {
                start: Some(at(1)),
                end: Some(at(3))
            }
        );
        // Clinical time before the end: the stay is open.
        let dates = stage_dates_at(&[a0.clone(), a3.clone()], at(2), at(10));
        assert_eq!(dates["a"].end, None);
    }

    #[test]
    fn a_stage_end_before_its_start_is_refused_and_so_are_amendments_that_cross() {
        let start = entry(1, "acute", EntryKind::StageStart, 10, json!({}));
        let rules =
            |errors: Vec<FieldError>| -> Vec<Rule> { errors.iter().map(|e| e.code).collect() };
        // A new end before the start.
        let early = entry(2, "acute", EntryKind::StageEnd, 9, json!({}));
        assert_eq!(
            rules(stage_order_errors(std::slice::from_ref(&start), &early)),
            vec![Rule::BeforeStageStart]
        );
        let end = entry(2, "acute", EntryKind::StageEnd, 12, json!({}));
        assert!(stage_order_errors(std::slice::from_ref(&start), &end).is_empty());
        let same_day = entry(2, "acute", EntryKind::StageEnd, 10, json!({}));
        assert!(stage_order_errors(std::slice::from_ref(&start), &same_day).is_empty());
        let entries = vec![start.clone(), end.clone()];
        // Amending the end to before the start.
        let bad_end = amend(entry(3, "acute", EntryKind::StageEnd, 8, json!({})), &end);
        assert_eq!(
            rules(stage_order_errors(&entries, &bad_end)),
            vec![Rule::BeforeStageStart]
        );
        // Amending the start to after the end.
        let bad_start = amend(
            entry(3, "acute", EntryKind::StageStart, 13, json!({})),
            &start,
        );
        assert_eq!(
            rules(stage_order_errors(&entries, &bad_start)),
            vec![Rule::AfterStageEnd]
        );
        let good_start = amend(
            entry(3, "acute", EntryKind::StageStart, 11, json!({})),
            &start,
        );
        assert!(stage_order_errors(&entries, &good_start).is_empty());
        // Other kinds are not stage events.
        let note = entry(3, "acute", EntryKind::Assessment, 1, json!({}));
        assert!(stage_order_errors(&entries, &note).is_empty());
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
            raw in prop::collection::vec((0usize..3, kind(), -50i64..50, prop::option::of(0usize..30)), 0..30)
        ) {
            let stages = ["a", "b", "c"];
            let mut entries: Vec<EntryFacts> = Vec::new();
            for (i, (s, k, day, amends)) in raw.iter().enumerate() {
                let mut e = entry(i as i64, stages[*s], *k, *day, json!({}));
                if let Some(j) = amends && *j < entries.len() {
                    e.amends = Some(entries[*j].id);
                }
                entries.push(e);
            }
            let dates = stage_dates(&entries);
            let view = current_view(&entries, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
            for (stage, d) in &dates {
                if let (Some(s), Some(e)) = (d.start, d.end) {
                    prop_assert!(s <= e, "{stage}: end {e} before start {s}");
                }
                let last_start = view
                    .iter()
                    .filter(|e| &e.stage == stage && e.kind == EntryKind::StageStart)
                    .map(|e| e.effective_at)
                    .next_back();
                prop_assert_eq!(d.start, last_start);
            }
        }

        #[test]
        fn an_accepted_stage_end_always_ends_its_stay_on_or_after_its_start(
            start in -50i64..50,
            end in -50i64..50,
        ) {
            let s = entry(1, "a", EntryKind::StageStart, start, json!({}));
            let e = entry(2, "a", EntryKind::StageEnd, end, json!({}));
            let errors = stage_order_errors(std::slice::from_ref(&s), &e);
            prop_assert_eq!(errors.is_empty(), end >= start);
            if errors.is_empty() {
                let d = stage_dates(&[s, e]);
                prop_assert_eq!(d["a"].end, Some(at(end)));
            }
        }
    }
}
