//! Goal evaluation: the status of every shared goal of a plan as of a moment, computed
//! as a fold over the plan's entries.
//!
//! An amendment replaces the values of the entry it amends from the moment it was
//! recorded; values count from their `effective_at`.

use chrono::{DateTime, Duration, Months, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::entry::EntryKind;
use crate::template::{Due, Goal, GoalTarget, PathwayTemplate, Pick, StageMoment};

/// The parts of an entry goal evaluation reads.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryFacts {
    pub id: Uuid,
    pub seq: i64,
    pub stage: String,
    pub kind: EntryKind,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub values: Map<String, Value>,
    pub amends: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalState {
    Met,
    NotMet,
    Pending,
    Overdue,
}

/// The value a goal was judged on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latest {
    pub value: Value,
    pub entry_id: Uuid,
    pub effective_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalStatus {
    pub code: String,
    pub title: crate::template::Title,
    pub kind: &'static str,
    /// The item the goal reads, where it reads one.
    pub item: Option<String>,
    pub target: Value,
    pub latest: Option<Latest>,
    pub status: GoalState,
    pub due: Option<DateTime<Utc>>,
}

/// Evaluates every goal of `template` over `entries` (in sequence order) as of `as_of`.
pub fn evaluate_goals(
    template: &PathwayTemplate,
    plan_started_at: DateTime<Utc>,
    entries: &[EntryFacts],
    as_of: DateTime<Utc>,
) -> Vec<GoalStatus> {
    let view = crate::corrections::current_view(entries, as_of, as_of);
    template
        .goals
        .iter()
        .map(|g| evaluate_goal(g, plan_started_at, &view, as_of))
        .collect()
}

/// Latest stage event of `kind` for `stage`.
fn stage_event<'a>(
    view: &[&'a EntryFacts],
    stage: &str,
    kind: EntryKind,
) -> Option<&'a EntryFacts> {
    view.iter()
        .rev()
        .find(|e| e.kind == kind && e.stage == stage)
        .copied()
}

fn due_time(due: &Due, view: &[&EntryFacts]) -> Option<DateTime<Utc>> {
    let kind = match due.at {
        StageMoment::Start => EntryKind::StageStart,
        StageMoment::End => EntryKind::StageEnd,
    };
    let base = stage_event(view, &due.stage, kind)?.effective_at;
    let t = base.checked_add_months(Months::new(due.months))?;
    Some(t + Duration::days(due.days.into()))
}

fn latest_value<'a>(view: &[&'a EntryFacts], item: &str) -> Option<(&'a EntryFacts, &'a Value)> {
    view.iter()
        .rev()
        .find_map(|e| e.values.get(item).map(|v| (*e, v)))
}

fn latest_of(e: &EntryFacts, value: Value) -> Latest {
    Latest {
        value,
        entry_id: e.id,
        effective_at: e.effective_at,
    }
}

fn waiting(due: Option<DateTime<Utc>>, as_of: DateTime<Utc>) -> GoalState {
    match due {
        Some(d) if as_of > d => GoalState::Overdue,
        _ => GoalState::Pending,
    }
}

fn judged(ok: bool) -> GoalState {
    if ok {
        GoalState::Met
    } else {
        GoalState::NotMet
    }
}

fn evaluate_goal(
    goal: &Goal,
    plan_started_at: DateTime<Utc>,
    view: &[&EntryFacts],
    as_of: DateTime<Utc>,
) -> GoalStatus {
    let mut due = goal.due.as_ref().and_then(|d| due_time(d, view));
    let (kind, item, target, latest, status) = match &goal.target {
        GoalTarget::Threshold { item, op, value } => {
            let target = json!({"op": op.symbol(), "value": value});
            match latest_value(view, item) {
                Some((e, v)) => {
                    let ok = v.as_f64().is_some_and(|x| op.holds(x, *value));
                    (
                        "threshold",
                        Some(item),
                        target,
                        Some(latest_of(e, v.clone())),
                        judged(ok),
                    )
                }
                None => ("threshold", Some(item), target, None, waiting(due, as_of)),
            }
        }
        GoalTarget::Range { item, min, max } => {
            let target = json!({"min": min, "max": max});
            match latest_value(view, item) {
                Some((e, v)) => {
                    let ok = v.as_f64().is_some_and(|x| *min <= x && x < *max);
                    (
                        "range",
                        Some(item),
                        target,
                        Some(latest_of(e, v.clone())),
                        judged(ok),
                    )
                }
                None => ("range", Some(item), target, None, waiting(due, as_of)),
            }
        }
        GoalTarget::Membership { item, values } => {
            let target = json!({"in": values});
            match latest_value(view, item) {
                Some((e, v)) => {
                    let ok = v.as_str().is_some_and(|s| values.iter().any(|x| x == s));
                    (
                        "membership",
                        Some(item),
                        target,
                        Some(latest_of(e, v.clone())),
                        judged(ok),
                    )
                }
                None => ("membership", Some(item), target, None, waiting(due, as_of)),
            }
        }
        GoalTarget::Change {
            from,
            to,
            op,
            value,
        } => {
            let target = json!({"from": {"item": from.item, "stage": from.stage, "pick": from.pick},
                                "to": {"item": to.item, "stage": to.stage, "pick": to.pick},
                                "op": op.symbol(), "value": value});
            let a = pick_value(view, &from.item, &from.stage, from.pick);
            let b = pick_value(view, &to.item, &to.stage, to.pick);
            match (a, b) {
                (Some((_, x)), Some((eb, y))) => {
                    let diff = y - x;
                    let shown = if diff.fract() == 0.0 {
                        Value::from(diff as i64)
                    } else {
                        Value::from(diff)
                    };
                    (
                        "change",
                        Some(&to.item),
                        target,
                        Some(latest_of(eb, shown)),
                        judged(op.holds(diff, *value)),
                    )
                }
                _ => {
                    if due.is_none() && to.pick == Pick::Last {
                        due = stage_event(view, &to.stage, EntryKind::StageEnd)
                            .map(|e| e.effective_at);
                    }
                    ("change", Some(&to.item), target, None, waiting(due, as_of))
                }
            }
        }
        GoalTarget::StageLength { stage, op, days } => {
            let target = json!({"stage": stage, "op": op.symbol(), "days": days});
            let start = stage_event(view, stage, EntryKind::StageStart);
            let end = start.and_then(|s| {
                view.iter()
                    .find(|e| e.kind == EntryKind::StageEnd && e.stage == *stage && e.seq > s.seq)
                    .copied()
            });
            if due.is_none() {
                due = start.map(|s| s.effective_at + Duration::days((*days).into()));
            }
            match (start, end) {
                (Some(s), Some(e)) => {
                    let length = (e.effective_at - s.effective_at).num_seconds() as f64 / 86_400.0;
                    let shown = (length * 10.0).round() / 10.0;
                    (
                        "stage_length",
                        None,
                        target,
                        Some(latest_of(e, json!(shown))),
                        judged(op.holds(length, (*days).into())),
                    )
                }
                _ => ("stage_length", None, target, None, waiting(due, as_of)),
            }
        }
        GoalTarget::TimeBetween {
            from_item,
            to_item,
            max_hours,
        } => {
            let target =
                json!({"from_item": from_item, "to_item": to_item, "max_hours": max_hours});
            let from =
                latest_value(view, from_item).and_then(|(e, v)| parse_time(v).map(|t| (e, t)));
            let to = latest_value(view, to_item).and_then(|(e, v)| parse_time(v).map(|t| (e, t)));
            if due.is_none() {
                due = from.map(|(_, t)| t + Duration::hours((*max_hours).into()));
            }
            match (from, to) {
                (Some((_, a)), Some((eb, b))) => {
                    let hours = (b - a).num_minutes() as f64 / 60.0;
                    let shown = (hours * 10.0).round() / 10.0;
                    (
                        "time_between",
                        Some(to_item),
                        target,
                        Some(latest_of(eb, json!(shown))),
                        judged(hours >= 0.0 && hours <= f64::from(*max_hours)),
                    )
                }
                _ => (
                    "time_between",
                    Some(to_item),
                    target,
                    None,
                    waiting(due, as_of),
                ),
            }
        }
        GoalTarget::DaysBetween {
            from_item,
            to_item,
            op,
            days,
        } => {
            // Judged by the goal engine's calendar rules (Asia/Tokyo days); until then the
            // goal waits for its due time like any goal without values.
            let target = json!({"from_item": from_item, "to_item": to_item, "op": op.symbol(), "days": days});
            (
                "days_between",
                Some(to_item),
                target,
                None,
                waiting(due, as_of),
            )
        }
        GoalTarget::DoneWithin { item, months } => {
            let target = json!({"months": months});
            match latest_value(view, item) {
                Some((e, v)) => {
                    let next = e.effective_at.checked_add_months(Months::new(*months));
                    due = next;
                    let state = match next {
                        Some(n) if as_of > n => GoalState::Overdue,
                        _ => GoalState::Met,
                    };
                    (
                        "done_within",
                        Some(item),
                        target,
                        Some(latest_of(e, v.clone())),
                        state,
                    )
                }
                None => {
                    if due.is_none() {
                        due = plan_started_at.checked_add_months(Months::new(*months));
                    }
                    ("done_within", Some(item), target, None, waiting(due, as_of))
                }
            }
        }
    };
    GoalStatus {
        code: goal.code.clone(),
        title: goal.title.clone(),
        kind,
        item: item.cloned(),
        target,
        latest,
        status,
        due,
    }
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The first or last numeric value of `item` recorded in `stage`; `Last` only once the
/// stage has ended (a discharge value is final only at discharge).
fn pick_value<'a>(
    view: &[&'a EntryFacts],
    item: &str,
    stage: &str,
    pick: Pick,
) -> Option<(&'a EntryFacts, f64)> {
    let mut in_stage = view
        .iter()
        .copied()
        .filter(|e| e.stage == stage)
        .filter_map(|e| e.values.get(item).and_then(|v| v.as_f64()).map(|v| (e, v)));
    match pick {
        Pick::First => in_stage.next(),
        Pick::Last => {
            stage_event(view, stage, EntryKind::StageEnd)?;
            in_stage.next_back()
        }
    }
}
