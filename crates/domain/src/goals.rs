//! Goal evaluation: the status of every shared goal of a plan at a moment of clinical time,
//! as the record stood at a moment of known time.
//!
//! The entries that count are those of `corrections::current_view`; stages are the periods
//! of `stages::stage_periods`; dates are Asia/Tokyo calendar dates (`calendar`). Each goal
//! reads the values of its scope (a part of a stage, or a window of time), judges them by
//! its mode (the latest value, any value, no value meeting the target), applies only when
//! its conditions hold, and says on which side of its target a missed numeric value lies.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::calendar;
use crate::stages::{StagePeriod, latest_period, stage_periods};
use crate::template::{
    Comparator, Condition, Due, Goal, GoalMode, GoalTarget, PathwayTemplate, Pick, Scope,
    StageMoment, StagePart,
};

pub use crate::facts::EntryFacts;

/// What goal evaluation needs to know besides the template and the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoalContext {
    pub plan_started_at: DateTime<Utc>,
    /// The patient's date of birth, for conditions on age.
    pub birth_date: Option<NaiveDate>,
    /// Clinical time: entries effective at or before it count.
    pub as_of: DateTime<Utc>,
    /// Known time: the record as it stood then (entries recorded at or before it).
    pub known_at: DateTime<Utc>,
}

impl GoalContext {
    /// A context judged at `at` as the record stands at `at`.
    pub fn at(
        plan_started_at: DateTime<Utc>,
        birth_date: Option<NaiveDate>,
        at: DateTime<Utc>,
    ) -> Self {
        GoalContext {
            plan_started_at,
            birth_date,
            as_of: at,
            known_at: at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalState {
    Met,
    NotMet,
    Pending,
    Overdue,
    /// The goal's conditions do not hold for this patient (or cannot be known yet).
    NotApplicable,
}

impl GoalState {
    pub fn as_str(self) -> &'static str {
        match self {
            GoalState::Met => "met",
            GoalState::NotMet => "not_met",
            GoalState::Pending => "pending",
            GoalState::Overdue => "overdue",
            GoalState::NotApplicable => "not_applicable",
        }
    }
}

/// On which side of its target a missed numeric value lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviationDirection {
    BelowRange,
    AboveRange,
}

impl DeviationDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviationDirection::BelowRange => "below_range",
            DeviationDirection::AboveRange => "above_range",
        }
    }
}

/// A missed numeric target: the direction and the bound that was crossed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Deviation {
    pub direction: DeviationDirection,
    pub bound: f64,
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
    /// Only with `NotMet` on a threshold or range target.
    pub deviation: Option<Deviation>,
    /// 00:00 Asia/Tokyo of `due_date` (a time-between goal without a template due: the
    /// moment its hours run out).
    pub due: Option<DateTime<Utc>>,
    /// The last Tokyo calendar day on which the goal is still on time.
    pub due_date: Option<NaiveDate>,
}

/// Whether any goal of `t` has a condition on the patient's age (the caller then needs to
/// pass the birth date).
pub fn needs_birth_date(t: &PathwayTemplate) -> bool {
    t.goals.iter().any(|g| {
        g.applies_when
            .iter()
            .any(|c| matches!(c, Condition::Age { .. }))
    })
}

/// Evaluates every goal of `t`, in template order, over `entries` (any order) as `ctx`
/// says.
pub fn evaluate_goals(
    t: &PathwayTemplate,
    ctx: &GoalContext,
    entries: &[EntryFacts],
) -> Vec<GoalStatus> {
    let view = crate::corrections::current_view(entries, ctx.as_of, ctx.known_at);
    let periods = stage_periods(&view);
    let ev = Eval {
        t,
        ctx,
        view: &view,
        periods: &periods,
    };
    t.goals.iter().map(|g| ev.goal(g)).collect()
}

/// Whether a recorded value counts as something done: a boolean only when `true`.
pub fn counts_as_done(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

struct Eval<'e, 'a> {
    t: &'e PathwayTemplate,
    ctx: &'e GoalContext,
    view: &'e [&'a EntryFacts],
    periods: &'e [StagePeriod<'a>],
}

/// Which entries a goal reads.
#[derive(Debug, Clone, Copy)]
struct Window<'s> {
    stage: Option<&'s str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// The values may be shown but are judged only later (a stage's end values before
    /// the stage ended).
    open: bool,
}

impl Window<'_> {
    const ALL: Window<'static> = Window {
        stage: None,
        from: None,
        to: None,
        open: false,
    };

    fn contains(&self, e: &EntryFacts) -> bool {
        self.stage.is_none_or(|s| e.stage == s)
            && self.from.is_none_or(|f| e.effective_at >= f)
            && self.to.is_none_or(|t| e.effective_at <= t)
    }
}

/// The outcome of one goal before it is dressed as a `GoalStatus`.
struct Judgement<'a> {
    latest: Option<(&'a EntryFacts, Value)>,
    status: GoalState,
    deviation: Option<Deviation>,
}

impl<'a> Judgement<'a> {
    fn waiting(status: GoalState) -> Self {
        Judgement {
            latest: None,
            status,
            deviation: None,
        }
    }
}

fn judged(ok: bool) -> GoalState {
    if ok {
        GoalState::Met
    } else {
        GoalState::NotMet
    }
}

/// Pending, or overdue once the Tokyo date of `as_of` is after `due`.
fn waiting(due: Option<NaiveDate>, as_of: DateTime<Utc>) -> GoalState {
    match due {
        Some(d) if calendar::is_overdue(as_of, d, 0) => GoalState::Overdue,
        _ => GoalState::Pending,
    }
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// Whether `v` meets a value target, and on which side it misses a numeric one.
fn meets(target: &GoalTarget, v: &Value) -> (bool, Option<Deviation>) {
    match target {
        GoalTarget::Threshold { op, value, .. } => match v.as_f64() {
            Some(x) if op.holds(x, *value) => (true, None),
            Some(x) => {
                let direction = match op {
                    Comparator::Lt | Comparator::Le => DeviationDirection::AboveRange,
                    Comparator::Gt | Comparator::Ge => DeviationDirection::BelowRange,
                    Comparator::Eq if x < *value => DeviationDirection::BelowRange,
                    Comparator::Eq => DeviationDirection::AboveRange,
                };
                (
                    false,
                    Some(Deviation {
                        direction,
                        bound: *value,
                    }),
                )
            }
            None => (false, None),
        },
        GoalTarget::Range { min, max, .. } => match v.as_f64() {
            Some(x) if *min <= x && x < *max => (true, None),
            Some(x) if x < *min => (
                false,
                Some(Deviation {
                    direction: DeviationDirection::BelowRange,
                    bound: *min,
                }),
            ),
            Some(_) => (
                false,
                Some(Deviation {
                    direction: DeviationDirection::AboveRange,
                    bound: *max,
                }),
            ),
            None => (false, None),
        },
        GoalTarget::Membership { values, .. } => (
            v.as_str().is_some_and(|s| values.iter().any(|x| x == s)),
            None,
        ),
        _ => (false, None),
    }
}

/// A Tokyo date or moment recorded as RFC 3339 date-time or as a `YYYY-MM-DD` date
/// (a date counts as 00:00 Tokyo).
fn parse_moment(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(calendar::tokyo_midnight)
}

fn target_json(target: &GoalTarget) -> Value {
    match target {
        GoalTarget::Threshold { op, value, .. } => json!({"op": op.symbol(), "value": value}),
        GoalTarget::Range { min, max, .. } => json!({"min": min, "max": max}),
        GoalTarget::Membership { values, .. } => json!({"in": values}),
        GoalTarget::Change {
            from,
            to,
            op,
            value,
        } => json!({"from": {"item": from.item, "stage": from.stage, "pick": from.pick},
                    "to": {"item": to.item, "stage": to.stage, "pick": to.pick},
                    "op": op.symbol(), "value": value}),
        GoalTarget::StageLength { stage, op, days } => {
            json!({"stage": stage, "op": op.symbol(), "days": days})
        }
        GoalTarget::TimeBetween {
            from_item,
            to_item,
            max_hours,
        } => json!({"from_item": from_item, "to_item": to_item, "max_hours": max_hours}),
        GoalTarget::DoneWithin { months, .. } => json!({"months": months}),
        GoalTarget::DaysBetween {
            from_item,
            to_item,
            op,
            days,
        } => json!({"from_item": from_item, "to_item": to_item, "op": op.symbol(), "days": days}),
    }
}

fn kind_of(target: &GoalTarget) -> &'static str {
    match target {
        GoalTarget::Threshold { .. } => "threshold",
        GoalTarget::Range { .. } => "range",
        GoalTarget::Change { .. } => "change",
        GoalTarget::Membership { .. } => "membership",
        GoalTarget::StageLength { .. } => "stage_length",
        GoalTarget::TimeBetween { .. } => "time_between",
        GoalTarget::DoneWithin { .. } => "done_within",
        GoalTarget::DaysBetween { .. } => "days_between",
    }
}

fn item_of(target: &GoalTarget) -> Option<&String> {
    match target {
        GoalTarget::Threshold { item, .. }
        | GoalTarget::Range { item, .. }
        | GoalTarget::Membership { item, .. }
        | GoalTarget::DoneWithin { item, .. } => Some(item),
        GoalTarget::Change { to, .. } => Some(&to.item),
        GoalTarget::TimeBetween { to_item, .. } | GoalTarget::DaysBetween { to_item, .. } => {
            Some(to_item)
        }
        GoalTarget::StageLength { .. } => None,
    }
}

/// The last Tokyo date on which a count of days `n` still meets `<op> days`, where the
/// count on `base` is `base_count` and grows by one each day; `None` for lower bounds.
fn last_day_within(
    base: NaiveDate,
    base_count: i64,
    op: Comparator,
    days: u32,
) -> Option<NaiveDate> {
    let last_count = match op {
        Comparator::Le => i64::from(days),
        Comparator::Lt => i64::from(days) - 1,
        _ => return None,
    };
    base.checked_add_signed(Duration::days(last_count - base_count))
}

impl<'e, 'a> Eval<'e, 'a> {
    fn goal(&self, goal: &Goal) -> GoalStatus {
        let followed;
        let target = match self.followed_target(goal) {
            Some(t) => {
                followed = t;
                &followed
            }
            None => &goal.target,
        };
        let mut due_date = goal.due.as_ref().and_then(|d| self.due_of(d));
        let mut due_exact: Option<DateTime<Utc>> = None;
        let j = self.judge(goal, target, &mut due_date, &mut due_exact);
        let due = due_exact.or_else(|| due_date.map(calendar::tokyo_midnight));
        GoalStatus {
            code: goal.code.clone(),
            title: goal.title.clone(),
            kind: kind_of(target),
            item: item_of(target).cloned(),
            target: target_json(target),
            latest: j.latest.map(|(e, value)| Latest {
                value,
                entry_id: e.id,
                effective_at: e.effective_at,
            }),
            status: j.status,
            deviation: j.deviation,
            due,
            due_date,
        }
    }

    /// The target of a goal that follows another threshold goal's target plus an offset.
    fn followed_target(&self, goal: &Goal) -> Option<GoalTarget> {
        let f = goal.follows.as_ref()?;
        let GoalTarget::Threshold { item, op, .. } = &goal.target else {
            return None;
        };
        let leader = self.t.goals.iter().find(|g| g.code == f.goal)?;
        let GoalTarget::Threshold { value, .. } = &leader.target else {
            return None;
        };
        Some(GoalTarget::Threshold {
            item: item.clone(),
            op: *op,
            value: value + f.offset,
        })
    }

    fn due_of(&self, due: &Due) -> Option<NaiveDate> {
        let p = latest_period(self.periods, &due.stage)?;
        let base = match due.at {
            StageMoment::Start => p.start,
            StageMoment::End => p.end?,
        };
        calendar::due_date(base.effective_at, due.months, due.days)
    }

    /// The latest value of `item` in the view.
    fn latest_in_view(&self, item: &str) -> Option<&'a Value> {
        self.view.iter().rev().find_map(|e| e.values.get(item))
    }

    /// Whether every condition of `goal` holds, reading an item from `judged` when that
    /// entry records it, else its latest value.
    fn applies(&self, goal: &Goal, judged: Option<&EntryFacts>) -> bool {
        goal.applies_when.iter().all(|c| self.holds(c, judged))
    }

    fn holds(&self, c: &Condition, judged: Option<&EntryFacts>) -> bool {
        let value = |item: &str| {
            judged
                .and_then(|e| e.values.get(item))
                .or_else(|| self.latest_in_view(item))
        };
        match c {
            Condition::Choice { item, values } => value(item)
                .and_then(Value::as_str)
                .is_some_and(|v| values.iter().any(|x| x == v)),
            Condition::Flag { item, value: want } => {
                value(item).and_then(Value::as_bool) == Some(*want)
            }
            Condition::Number {
                item,
                op,
                value: want,
            } => value(item)
                .and_then(Value::as_f64)
                .is_some_and(|v| op.holds(v, *want)),
            Condition::Age { op, value: want } => self
                .ctx
                .birth_date
                .and_then(|b| calendar::age_years(b, calendar::tokyo_date(self.ctx.as_of)))
                .is_some_and(|age| op.holds(age.into(), (*want).into())),
        }
    }

    /// The window a goal reads; `None` while it does not exist yet (its stage not
    /// entered, its due time unknown).
    fn window<'g>(&self, goal: &'g Goal, due: Option<NaiveDate>) -> Option<Window<'g>> {
        // Without a scope a goal reads the stay in the stage of its due date; in a cyclical
        // pathway, whose stages recur, the whole plan.
        let scope = match (&goal.scope, &goal.due) {
            (Some(s), _) => s,
            (None, Some(d)) if !self.t.cyclical => {
                return self.stage_window(&d.stage, StagePart::During);
            }
            (None, _) => return Some(Window::ALL),
        };
        match scope {
            Scope::Stage { stage, at } => self.stage_window(stage, *at),
            Scope::Rolling { months, days } => {
                let from = calendar::sub_months_days(
                    calendar::tokyo_date(self.ctx.as_of),
                    *months,
                    *days,
                )?;
                Some(Window {
                    from: Some(calendar::tokyo_midnight(from)),
                    ..Window::ALL
                })
            }
            Scope::BeforeDue { months, days } => {
                let due = due?;
                let from = calendar::sub_months_days(due, *months, *days)?;
                Some(Window {
                    from: Some(calendar::tokyo_midnight(from)),
                    to: Some(calendar::tokyo_end_of_day(due)),
                    ..Window::ALL
                })
            }
            Scope::SinceVisit { schedule } => {
                let since = self
                    .t
                    .schedule
                    .iter()
                    .find(|r| &r.code == schedule)
                    .and_then(|rule| {
                        self.view.iter().rev().find(|e| {
                            rule.items
                                .iter()
                                .any(|i| e.values.get(i).is_some_and(counts_as_done))
                        })
                    })
                    .map(|e| e.effective_at)
                    .unwrap_or(self.ctx.plan_started_at);
                Some(Window {
                    from: Some(calendar::tokyo_midnight(calendar::tokyo_date(since))),
                    ..Window::ALL
                })
            }
        }
    }

    fn stage_window<'g>(&self, stage: &'g str, at: StagePart) -> Option<Window<'g>> {
        let p = latest_period(self.periods, stage)?;
        let first_day = calendar::tokyo_date(p.start.effective_at);
        let from = Some(calendar::tokyo_midnight(first_day));
        let end = p
            .end
            .map(|e| calendar::tokyo_end_of_day(calendar::tokyo_date(e.effective_at)));
        Some(match at {
            StagePart::Start => Window {
                stage: Some(stage),
                from,
                to: Some(match end {
                    Some(e) => e.min(calendar::tokyo_end_of_day(first_day)),
                    None => calendar::tokyo_end_of_day(first_day),
                }),
                open: false,
            },
            StagePart::End => Window {
                stage: Some(stage),
                from,
                to: end,
                open: p.end.is_none(),
            },
            StagePart::During => Window {
                stage: Some(stage),
                from,
                to: end,
                open: false,
            },
        })
    }

    fn judge(
        &self,
        goal: &Goal,
        target: &GoalTarget,
        due_date: &mut Option<NaiveDate>,
        due_exact: &mut Option<DateTime<Utc>>,
    ) -> Judgement<'a> {
        let as_of = self.ctx.as_of;
        match target {
            GoalTarget::Threshold { item, .. }
            | GoalTarget::Range { item, .. }
            | GoalTarget::Membership { item, .. } => {
                self.judge_values(goal, target, item, *due_date)
            }
            GoalTarget::DoneWithin { item, months } => {
                if !self.applies(goal, None) {
                    return Judgement::waiting(GoalState::NotApplicable);
                }
                let window = self.window(goal, *due_date);
                let last = window.and_then(|w| {
                    self.view.iter().rev().find_map(|e| {
                        e.values
                            .get(item)
                            .filter(|v| counts_as_done(v) && w.contains(e))
                            .map(|v| (*e, v))
                    })
                });
                match last {
                    Some((e, v)) => {
                        let next = calendar::due_date(e.effective_at, *months, 0);
                        *due_date = next;
                        Judgement {
                            latest: Some((e, v.clone())),
                            status: match waiting(next, as_of) {
                                GoalState::Pending => GoalState::Met,
                                s => s,
                            },
                            deviation: None,
                        }
                    }
                    None => {
                        if due_date.is_none() {
                            *due_date = calendar::due_date(self.ctx.plan_started_at, *months, 0);
                        }
                        Judgement::waiting(waiting(*due_date, as_of))
                    }
                }
            }
            GoalTarget::StageLength { stage, op, days } => {
                if !self.applies(goal, None) {
                    return Judgement::waiting(GoalState::NotApplicable);
                }
                let Some(p) = latest_period(self.periods, stage) else {
                    return Judgement::waiting(waiting(*due_date, as_of));
                };
                if due_date.is_none() {
                    *due_date =
                        last_day_within(calendar::tokyo_date(p.start.effective_at), 1, *op, *days);
                }
                match p.end {
                    Some(end) => {
                        let length = calendar::stay_days(p.start.effective_at, end.effective_at);
                        Judgement {
                            latest: Some((end, json!(length))),
                            status: judged(op.holds(length as f64, (*days).into())),
                            deviation: None,
                        }
                    }
                    None => Judgement::waiting(waiting(*due_date, as_of)),
                }
            }
            GoalTarget::TimeBetween {
                from_item,
                to_item,
                max_hours,
            } => {
                if !self.applies(goal, None) {
                    return Judgement::waiting(GoalState::NotApplicable);
                }
                let window = self.window(goal, *due_date);
                let from = window.and_then(|w| self.latest_moment(from_item, &w));
                let to = window.and_then(|w| self.latest_moment(to_item, &w));
                if due_date.is_none()
                    && let Some((_, t)) = from
                {
                    let due = t + Duration::hours((*max_hours).into());
                    *due_exact = Some(due);
                    *due_date = Some(calendar::tokyo_date(due));
                }
                match (from, to) {
                    (Some((_, a)), Some((eb, b))) => {
                        let hours = (b - a).num_minutes() as f64 / 60.0;
                        let shown = (hours * 10.0).round() / 10.0;
                        Judgement {
                            latest: Some((eb, json!(shown))),
                            status: judged(hours >= 0.0 && hours <= f64::from(*max_hours)),
                            deviation: None,
                        }
                    }
                    _ => Judgement::waiting(match *due_exact {
                        Some(d) if as_of > d => GoalState::Overdue,
                        Some(_) => GoalState::Pending,
                        None => waiting(*due_date, as_of),
                    }),
                }
            }
            GoalTarget::DaysBetween {
                from_item,
                to_item,
                op,
                days,
            } => {
                if !self.applies(goal, None) {
                    return Judgement::waiting(GoalState::NotApplicable);
                }
                let window = self.window(goal, *due_date);
                let from = window.and_then(|w| self.latest_moment(from_item, &w));
                let to = window.and_then(|w| self.latest_moment(to_item, &w));
                if due_date.is_none()
                    && let Some((_, t)) = from
                {
                    *due_date = last_day_within(calendar::tokyo_date(t), 0, *op, *days);
                }
                match (from, to) {
                    (Some((_, a)), Some((eb, b))) => {
                        let n = calendar::days_between(a, b);
                        Judgement {
                            latest: Some((eb, json!(n))),
                            status: judged(n >= 0 && op.holds(n as f64, (*days).into())),
                            deviation: None,
                        }
                    }
                    _ => Judgement::waiting(waiting(*due_date, as_of)),
                }
            }
            GoalTarget::Change {
                from,
                to,
                op,
                value,
            } => {
                if !self.applies(goal, None) {
                    return Judgement::waiting(GoalState::NotApplicable);
                }
                let a = self.pick_value(&from.item, &from.stage, from.pick);
                let b = self.pick_value(&to.item, &to.stage, to.pick);
                let same = matches!((a, b), (Some((ea, _)), Some((eb, _)))
                    if ea.id == eb.id && from.stage == to.stage);
                match (a, b) {
                    (Some((_, x)), Some((eb, y))) if !same => {
                        let diff = y - x;
                        Judgement {
                            latest: Some((eb, number(diff))),
                            status: judged(op.holds(diff, *value)),
                            deviation: None,
                        }
                    }
                    _ => {
                        if due_date.is_none() && to.pick == Pick::Last {
                            *due_date = latest_period(self.periods, &to.stage)
                                .and_then(|p| p.end)
                                .map(|e| calendar::tokyo_date(e.effective_at));
                        }
                        Judgement::waiting(waiting(*due_date, as_of))
                    }
                }
            }
        }
    }

    /// Threshold, range and membership goals: the values of `item` in the goal's window,
    /// judged by its mode.
    fn judge_values(
        &self,
        goal: &Goal,
        target: &GoalTarget,
        item: &str,
        due: Option<NaiveDate>,
    ) -> Judgement<'a> {
        let as_of = self.ctx.as_of;
        let Some(window) = self.window(goal, due) else {
            return Judgement::waiting(if self.applies(goal, None) {
                waiting(due, as_of)
            } else {
                GoalState::NotApplicable
            });
        };
        let mut in_scope = self
            .view
            .iter()
            .filter(|e| window.contains(e))
            .filter_map(|e| e.values.get(item).map(|v| (*e, v)));
        let conditional = !goal.applies_when.is_empty();
        let mut seen_any = false;
        let mut last: Option<(&'a EntryFacts, &'a Value)> = None;
        let mut last_meeting: Option<(&'a EntryFacts, &'a Value)> = None;
        match goal.mode {
            GoalMode::Latest => {
                last = in_scope.next_back();
                seen_any = last.is_some();
                if let Some((e, _)) = last
                    && conditional
                    && !self.applies(goal, Some(e))
                {
                    return Judgement {
                        latest: last.map(|(e, v)| (e, v.clone())),
                        status: GoalState::NotApplicable,
                        deviation: None,
                    };
                }
            }
            GoalMode::Any | GoalMode::None => {
                for (e, v) in in_scope {
                    seen_any = true;
                    if conditional && !self.applies(goal, Some(e)) {
                        continue;
                    }
                    last = Some((e, v));
                    if meets(target, v).0 {
                        last_meeting = Some((e, v));
                    }
                }
            }
        }
        let Some((e, v)) = last else {
            let applies = if seen_any {
                false
            } else {
                self.applies(goal, None)
            };
            return Judgement::waiting(if applies {
                waiting(due, as_of)
            } else {
                GoalState::NotApplicable
            });
        };
        if window.open {
            return Judgement {
                latest: Some((e, v.clone())),
                status: waiting(due, as_of),
                deviation: None,
            };
        }
        match goal.mode {
            GoalMode::Latest => {
                let (ok, deviation) = meets(target, v);
                Judgement {
                    latest: Some((e, v.clone())),
                    status: judged(ok),
                    deviation,
                }
            }
            GoalMode::Any => match last_meeting {
                Some((m, mv)) => Judgement {
                    latest: Some((m, mv.clone())),
                    status: GoalState::Met,
                    deviation: None,
                },
                None => Judgement {
                    latest: Some((e, v.clone())),
                    status: GoalState::NotMet,
                    deviation: meets(target, v).1,
                },
            },
            GoalMode::None => match last_meeting {
                Some((m, mv)) => Judgement {
                    latest: Some((m, mv.clone())),
                    status: GoalState::NotMet,
                    deviation: None,
                },
                None => Judgement {
                    latest: Some((e, v.clone())),
                    status: GoalState::Met,
                    deviation: None,
                },
            },
        }
    }

    /// The latest date-time (or date) value of `item` in `window`.
    fn latest_moment(
        &self,
        item: &str,
        window: &Window<'_>,
    ) -> Option<(&'a EntryFacts, DateTime<Utc>)> {
        self.view.iter().rev().find_map(|e| {
            if !window.contains(e) {
                return None;
            }
            let t = parse_moment(e.values.get(item)?)?;
            Some((*e, t))
        })
    }

    /// The first or last numeric value of `item` recorded in the latest period of
    /// `stage`; `Last` only once that stage has ended (a discharge value is final only at
    /// discharge). A composite total not recorded on a day is formed from its subtotals
    /// recorded on that Tokyo day in separate entries (FIM motor + cognitive).
    fn pick_value(&self, item: &str, stage: &str, pick: Pick) -> Option<(&'a EntryFacts, f64)> {
        let window = self.stage_window(stage, StagePart::During)?;
        if pick == Pick::Last {
            latest_period(self.periods, stage)?.end?;
        }
        let in_stage = || {
            self.view
                .iter()
                .copied()
                .filter(move |e| window.contains(e))
        };
        let direct = |e: &'a EntryFacts| e.values.get(item).and_then(Value::as_f64).map(|v| (e, v));
        let parts = self.t.subtotals(item);
        let Some(parts) = parts else {
            return match pick {
                Pick::First => in_stage().find_map(direct),
                Pick::Last => in_stage().filter_map(direct).next_back(),
            };
        };
        // Values by Tokyo day: the total recorded that day, else the sum of the latest
        // subtotals of that day when every subtotal was recorded.
        let day_value = |day: NaiveDate| -> Option<(&'a EntryFacts, f64)> {
            let same_day =
                || in_stage().filter(move |e| calendar::tokyo_date(e.effective_at) == day);
            let total = match pick {
                Pick::First => same_day().find_map(direct),
                Pick::Last => same_day().filter_map(direct).next_back(),
            };
            if total.is_some() {
                return total;
            }
            let mut sum = 0.0;
            let mut latest: Option<&'a EntryFacts> = None;
            for part in &parts {
                let (e, v) = same_day()
                    .filter_map(|e| {
                        e.values
                            .get(&part.code)
                            .and_then(Value::as_f64)
                            .map(|v| (e, v))
                    })
                    .next_back()?;
                sum += v;
                if latest.is_none_or(|l| (l.effective_at, l.seq) < (e.effective_at, e.seq)) {
                    latest = Some(e);
                }
            }
            latest.map(|e| (e, sum))
        };
        let has_any = |e: &EntryFacts| {
            e.values.contains_key(item) || parts.iter().any(|p| e.values.contains_key(&p.code))
        };
        let mut days: Vec<NaiveDate> = in_stage()
            .filter(|e| has_any(e))
            .map(|e| calendar::tokyo_date(e.effective_at))
            .collect();
        days.dedup();
        match pick {
            Pick::First => days.into_iter().find_map(day_value),
            Pick::Last => days.into_iter().rev().find_map(day_value),
        }
    }
}
