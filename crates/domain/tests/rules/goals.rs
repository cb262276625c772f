//! Goal evaluation over a plan's entries as of a moment.

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use proptest::prelude::*;
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::{EntryFacts, GoalContext, GoalState, GoalStatus, evaluate_goals};
use renkei_domain::template::{Due, PathwayTemplate, StageMoment};
use serde_json::{Value, json};
use uuid::Uuid;

use super::fixture::{PLAN_START, linear, obj, t};

/// A plan's entries in sequence order.
#[derive(Default)]
struct Log {
    entries: Vec<EntryFacts>,
}

impl Log {
    /// Appends an entry recorded when it became effective.
    fn add(&mut self, stage: &str, kind: EntryKind, at: DateTime<Utc>, values: Value) -> Uuid {
        self.add_full(stage, kind, at, at, values, None)
    }

    fn add_full(
        &mut self,
        stage: &str,
        kind: EntryKind,
        effective_at: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
        values: Value,
        amends: Option<Uuid>,
    ) -> Uuid {
        let seq = self.entries.len() as i64 + 1;
        let id = Uuid::from_u128(seq as u128);
        self.entries.push(EntryFacts {
            id,
            seq,
            stage: stage.to_owned(),
            kind,
            effective_at,
            recorded_at,
            values: obj(values),
            amends,
        });
        id
    }

    fn start(&mut self, stage: &str, at: DateTime<Utc>) -> Uuid {
        self.add(stage, EntryKind::StageStart, at, json!({}))
    }

    fn end(&mut self, stage: &str, at: DateTime<Utc>) -> Uuid {
        self.add(stage, EntryKind::StageEnd, at, json!({}))
    }

    fn value(&mut self, stage: &str, at: DateTime<Utc>, values: Value) -> Uuid {
        self.add(stage, EntryKind::Assessment, at, values)
    }

    fn goal(&self, code: &str, as_of: DateTime<Utc>) -> GoalStatus {
        goal_in(&linear(), &self.entries, code, as_of)
    }
}

fn goal_in(
    template: &PathwayTemplate,
    entries: &[EntryFacts],
    code: &str,
    as_of: DateTime<Utc>,
) -> GoalStatus {
    let all = evaluate_goals(
        template,
        &GoalContext::at(t(PLAN_START), None, as_of),
        entries,
    );
    assert_eq!(all.len(), template.goals.len());
    all.into_iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("no goal {code}"))
}

/// Day 0 of the fixture plans: the acute stage starts.
fn d0() -> DateTime<Utc> {
    t("2026-11-01T10:00:00+09:00")
}

fn day(n: i64) -> DateTime<Utc> {
    d0() + Duration::days(n)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn latest(g: &GoalStatus) -> (Value, Uuid, DateTime<Utc>) {
    let l = g
        .latest
        .as_ref()
        .unwrap_or_else(|| panic!("goal {} has no latest value", g.code));
    (l.value.clone(), l.entry_id, l.effective_at)
}

#[test]
fn goals_come_back_in_template_order_with_their_targets() {
    let all = evaluate_goals(
        &linear(),
        &GoalContext::at(t(PLAN_START), None, day(1)),
        &[],
    );
    let codes: Vec<&str> = all.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "mrs_good",
            "hba1c_band",
            "fim_gain",
            "discharge_home",
            "acute_length",
            "surgery_48h",
            "eye_yearly"
        ]
    );
    let kinds: Vec<&str> = all.iter().map(|g| g.kind).collect();
    assert_eq!(
        kinds,
        [
            "threshold",
            "range",
            "change",
            "membership",
            "stage_length",
            "time_between",
            "done_within"
        ]
    );
    let items: Vec<Option<&str>> = all.iter().map(|g| g.item.as_deref()).collect();
    assert_eq!(
        items,
        [
            Some("mrs"),
            Some("hba1c"),
            Some("fim_total"),
            Some("destination"),
            None,
            Some("surgery_at"),
            Some("eye_exam")
        ]
    );
    assert_eq!(all[0].target, json!({"op": "<=", "value": 2.0}));
    assert_eq!(all[1].target, json!({"min": 7.0, "max": 8.0}));
    assert_eq!(all[3].target, json!({"in": ["home", "residential"]}));
    assert_eq!(
        all[4].target,
        json!({"stage": "acute", "op": "<=", "days": 21})
    );
    assert_eq!(
        all[5].target,
        json!({"from_item": "arrival_at", "to_item": "surgery_at", "max_hours": 48})
    );
    assert_eq!(all[6].target, json!({"months": 12}));
    assert_eq!(all[2].target["to"]["pick"], json!("last"));
    assert_eq!(all[0].title.en, "mRS at most 2");
    // Nothing recorded: every goal is pending (none is due yet without stage events).
    assert!(
        all.iter()
            .all(|g| g.status == GoalState::Pending && g.latest.is_none())
    );
    // Serialised statuses use the API spelling.
    assert_eq!(
        serde_json::to_value(GoalState::NotMet).unwrap(),
        json!("not_met")
    );
    assert_eq!(
        serde_json::to_value(GoalState::Overdue).unwrap(),
        json!("overdue")
    );
}

// ---------------------------------------------------------------------------------------
// Threshold, with a due time relative to a stage event.

#[test]
fn threshold_is_pending_then_overdue_around_its_due_time() {
    let mut log = Log::default();
    let g = log.goal("mrs_good", day(100));
    assert_eq!((g.status, g.due), (GoalState::Pending, None));
    log.start("acute", d0());
    // Due on the Tokyo date 21 days after the start (2026-11-22); overdue from the next day.
    let g = log.goal("mrs_good", day(20));
    let due = t("2026-11-22T00:00:00+09:00");
    assert_eq!(
        (g.status, g.due, g.due_date),
        (GoalState::Pending, Some(due), Some(date(2026, 11, 22)))
    );
    assert_eq!(log.goal("mrs_good", day(21)).status, GoalState::Pending);
    assert_eq!(
        log.goal("mrs_good", t("2026-11-22T23:59:59+09:00")).status,
        GoalState::Pending
    );
    assert_eq!(
        log.goal("mrs_good", t("2026-11-23T00:00:00+09:00")).status,
        GoalState::Overdue
    );
    // A value recorded late still judges the goal.
    log.value("acute", day(25), json!({"mrs": 2}));
    let g = log.goal("mrs_good", day(26));
    assert_eq!(g.status, GoalState::Met);
    assert_eq!(g.due, Some(due));
}

#[test]
fn threshold_judges_the_latest_value() {
    let mut log = Log::default();
    log.start("acute", d0());
    let first = log.value("acute", day(1), json!({"mrs": 3}));
    let g = log.goal("mrs_good", day(2));
    assert_eq!(g.status, GoalState::NotMet);
    assert_eq!(latest(&g), (json!(3), first, day(1)));
    let second = log.value("acute", day(5), json!({"mrs": 2, "hba1c": 9.1}));
    let g = log.goal("mrs_good", day(6));
    assert_eq!(g.status, GoalState::Met);
    assert_eq!(latest(&g), (json!(2), second, day(5)));
    // As of before the second value, the first is still the latest.
    assert_eq!(latest(&log.goal("mrs_good", day(4))).1, first);
    // Entries without the item do not hide it.
    log.value("acute", day(7), json!({"hba1c": 7.5}));
    assert_eq!(latest(&log.goal("mrs_good", day(8))).1, second);
}

#[test]
fn the_latest_value_is_the_latest_by_effective_time_not_by_sequence() {
    let mut log = Log::default();
    log.start("acute", d0());
    let newer = log.value("acute", day(10), json!({"mrs": 1}));
    // Recorded afterwards but effective earlier (a late entry of an older assessment).
    log.add_full(
        "acute",
        EntryKind::Assessment,
        day(8),
        day(11),
        json!({"mrs": 5}),
        None,
    );
    let g = log.goal("mrs_good", day(12));
    assert_eq!(g.status, GoalState::Met);
    assert_eq!(latest(&g), (json!(1), newer, day(10)));
    // Same effective time: the later sequence number wins.
    let tie = log.value("acute", day(10), json!({"mrs": 4}));
    let g = log.goal("mrs_good", day(12));
    assert_eq!((g.status, latest(&g).1), (GoalState::NotMet, tie));
}

#[test]
fn values_count_only_from_their_effective_time() {
    let mut log = Log::default();
    log.start("acute", d0());
    log.value("acute", day(1), json!({"mrs": 5}));
    // Recorded now, effective later (clock skew allowance): not yet the latest.
    log.add_full(
        "acute",
        EntryKind::Assessment,
        day(3),
        day(2),
        json!({"mrs": 1}),
        None,
    );
    assert_eq!(log.goal("mrs_good", day(2)).status, GoalState::NotMet);
    assert_eq!(log.goal("mrs_good", day(3)).status, GoalState::Met);
}

#[test]
fn due_may_count_months_and_days_from_a_stage_end() {
    let mut template = linear();
    template.goals[0].due = Some(Due {
        stage: "acute".into(),
        at: StageMoment::End,
        days: 2,
        months: 1,
    });
    let mut log = Log::default();
    log.start("acute", d0());
    let end = t("2026-11-30T10:00:00+09:00");
    log.end("acute", end);
    let g = goal_in(&template, &log.entries, "mrs_good", end);
    assert_eq!(g.due, Some(t("2027-01-01T00:00:00+09:00")));
    assert_eq!(g.due_date, Some(date(2027, 1, 1)));
    assert_eq!(g.status, GoalState::Pending);
    let g = goal_in(
        &template,
        &log.entries,
        "mrs_good",
        t("2027-01-02T00:00:00+09:00"),
    );
    assert_eq!(g.status, GoalState::Overdue);
}

// ---------------------------------------------------------------------------------------
// Range and membership.

#[test]
fn range_includes_its_lower_bound_and_excludes_its_upper_bound() {
    for (value, want) in [
        (json!(7.0), GoalState::Met),
        (json!(7), GoalState::Met),
        (json!(7.99), GoalState::Met),
        (json!(8.0), GoalState::NotMet),
        (json!(6.99), GoalState::NotMet),
        (json!(12.5), GoalState::NotMet),
    ] {
        let mut log = Log::default();
        log.value("acute", day(1), json!({"hba1c": value.clone()}));
        let g = log.goal("hba1c_band", day(2));
        assert_eq!(g.status, want, "hba1c {value}");
        assert_eq!(latest(&g).0, value);
    }
    // No due time: pending however long nothing is recorded.
    let g = Log::default().goal("hba1c_band", day(10_000));
    assert_eq!((g.status, g.due), (GoalState::Pending, None));
}

#[test]
fn membership_is_judged_on_the_latest_choice_and_due_at_recovery_end() {
    let mut log = Log::default();
    log.start("acute", d0());
    log.end("acute", day(14));
    log.start("recovery", day(14));
    assert_eq!(
        log.goal("discharge_home", day(100)).status,
        GoalState::Pending
    );
    assert_eq!(log.goal("discharge_home", day(100)).due, None);
    log.end("recovery", day(90));
    // Due on the Tokyo date of the recovery end (2027-01-30), overdue from the next day.
    let g = log.goal("discharge_home", day(90));
    let due = t("2027-01-30T00:00:00+09:00");
    assert_eq!((g.status, g.due), (GoalState::Pending, Some(due)));
    let g = log.goal("discharge_home", t("2027-01-30T23:59:59+09:00"));
    assert_eq!(g.status, GoalState::Pending);
    let g = log.goal("discharge_home", t("2027-01-31T00:00:00+09:00"));
    assert_eq!(g.status, GoalState::Overdue);

    let mut log = Log::default();
    log.start("recovery", d0());
    log.value("recovery", day(1), json!({"destination": "hospital"}));
    assert_eq!(log.goal("discharge_home", day(2)).status, GoalState::NotMet);
    let id = log.value("recovery", day(3), json!({"destination": "residential"}));
    let g = log.goal("discharge_home", day(4));
    assert_eq!(g.status, GoalState::Met);
    assert_eq!(latest(&g), (json!("residential"), id, day(3)));
    log.value("recovery", day(5), json!({"destination": "home"}));
    assert_eq!(log.goal("discharge_home", day(6)).status, GoalState::Met);
}

// ---------------------------------------------------------------------------------------
// Change goals.

fn recovery_with_fim(first: i64, values: &[(i64, i64)]) -> (Log, Vec<Uuid>) {
    let mut log = Log::default();
    log.start("acute", d0());
    // An acute value is not the recovery admission value.
    log.value("acute", day(2), json!({"fim_total": 4}));
    log.end("acute", day(14));
    log.start("recovery", day(14));
    let mut ids = vec![log.value("recovery", day(15), json!({"fim_total": first}))];
    for (d, v) in values {
        ids.push(log.value("recovery", day(*d), json!({"fim_total": v})));
    }
    (log, ids)
}

#[test]
fn change_goal_waits_for_the_stage_end_when_it_picks_the_last_value() {
    let (mut log, ids) = recovery_with_fim(8, &[(40, 14), (80, 20)]);
    let g = log.goal("fim_gain", day(81));
    assert_eq!(
        (g.status, g.due, g.latest.clone()),
        (GoalState::Pending, None, None)
    );
    log.end("recovery", day(85));
    // Before the end is effective, still pending.
    assert_eq!(log.goal("fim_gain", day(84)).status, GoalState::Pending);
    let g = log.goal("fim_gain", day(86));
    assert_eq!(g.status, GoalState::Met);
    assert_eq!(latest(&g), (json!(12), ids[2], day(80)));
}

#[test]
fn change_goal_compares_the_gain_with_its_target() {
    for (last, want, gain) in [
        (18, GoalState::Met, 10),
        (17, GoalState::NotMet, 9),
        (5, GoalState::NotMet, -3),
        (28, GoalState::Met, 20),
    ] {
        let (mut log, _) = recovery_with_fim(8, &[(60, last)]);
        log.end("recovery", day(70));
        let g = log.goal("fim_gain", day(71));
        assert_eq!(g.status, want, "last {last}");
        assert_eq!(latest(&g).0, json!(gain));
    }
}

#[test]
fn change_goal_without_values_is_overdue_once_the_stage_ended() {
    let mut log = Log::default();
    log.start("recovery", d0());
    log.end("recovery", day(60));
    let end_day = t("2026-12-31T00:00:00+09:00");
    let g = log.goal("fim_gain", day(60));
    assert_eq!((g.status, g.due), (GoalState::Pending, Some(end_day)));
    let g = log.goal("fim_gain", day(61));
    assert_eq!((g.status, g.due), (GoalState::Overdue, Some(end_day)));
    // One value only: the discharge value is missing, so there is no gain to judge
    // (never not met on a missing value; overdue once the end's day is over).
    let (mut log, _) = recovery_with_fim(8, &[]);
    log.end("recovery", day(70));
    let g = log.goal("fim_gain", day(70));
    assert_eq!((g.status, g.latest.clone()), (GoalState::Pending, None));
    let g = log.goal("fim_gain", day(71));
    assert_eq!((g.status, g.latest), (GoalState::Overdue, None));
}

// ---------------------------------------------------------------------------------------
// Stage length.

#[test]
fn stage_length_from_stage_events() {
    // Calendar days in Tokyo, the day of the start being day 1 (d0 is 2026-11-01 10:00).
    for (end_after, want, shown) in [
        (Duration::days(14), GoalState::Met, json!(15)),
        (Duration::days(20), GoalState::Met, json!(21)),
        (
            Duration::days(20) + Duration::hours(13) + Duration::minutes(59),
            GoalState::Met,
            json!(21),
        ),
        (
            Duration::days(20) + Duration::hours(14),
            GoalState::NotMet,
            json!(22),
        ),
        (Duration::days(21), GoalState::NotMet, json!(22)),
        (
            Duration::days(30) + Duration::hours(12),
            GoalState::NotMet,
            json!(31),
        ),
    ] {
        let mut log = Log::default();
        log.start("acute", d0());
        let end = log.end("acute", d0() + end_after);
        let g = log.goal("acute_length", d0() + end_after + Duration::seconds(1));
        assert_eq!(g.status, want, "{end_after}");
        assert_eq!(latest(&g), (shown, end, d0() + end_after));
        // The last day on which a stay is still 21 days long.
        assert_eq!(g.due_date, Some(date(2026, 11, 21)));
    }
}

#[test]
fn stage_length_is_pending_then_overdue_while_the_stage_runs() {
    let mut log = Log::default();
    let g = log.goal("acute_length", day(50));
    assert_eq!((g.status, g.due), (GoalState::Pending, None));
    log.start("acute", d0());
    let g = log.goal("acute_length", day(10));
    assert_eq!(
        (g.status, g.due),
        (GoalState::Pending, Some(t("2026-11-21T00:00:00+09:00")))
    );
    assert_eq!(
        log.goal("acute_length", t("2026-11-21T23:59:59+09:00"))
            .status,
        GoalState::Pending
    );
    assert_eq!(
        log.goal("acute_length", t("2026-11-22T00:00:00+09:00"))
            .status,
        GoalState::Overdue
    );
    assert_eq!(log.goal("acute_length", day(22)).status, GoalState::Overdue);
    // An end recorded later does not count as of earlier moments.
    log.add_full(
        "acute",
        EntryKind::StageEnd,
        day(18),
        day(25),
        json!({}),
        None,
    );
    assert_eq!(log.goal("acute_length", day(22)).status, GoalState::Overdue);
    let g = log.goal("acute_length", day(25));
    assert_eq!((g.status, latest(&g).0), (GoalState::Met, json!(19)));
}

#[test]
fn stage_length_ignores_events_of_other_stages() {
    let mut log = Log::default();
    log.start("acute", d0());
    log.end("acute", day(10));
    log.start("recovery", day(10));
    log.end("recovery", day(100));
    let g = log.goal("acute_length", day(101));
    assert_eq!((g.status, latest(&g).0), (GoalState::Met, json!(11)));
}

// ---------------------------------------------------------------------------------------
// Time between two recorded datetimes.

#[test]
fn time_between_two_datetime_items() {
    let arrival = "2026-11-02T22:00:00+09:00";
    for (surgery, want, hours) in [
        ("2026-11-04T04:00:00+09:00", GoalState::Met, json!(30.0)),
        ("2026-11-03T13:00:00Z", GoalState::Met, json!(24.0)),
        ("2026-11-04T22:00:00+09:00", GoalState::Met, json!(48.0)),
        ("2026-11-04T23:00:00+09:00", GoalState::NotMet, json!(49.0)),
        ("2026-11-02T20:00:00+09:00", GoalState::NotMet, json!(-2.0)),
        ("2026-11-03T00:30:00+09:00", GoalState::Met, json!(2.5)),
    ] {
        let mut log = Log::default();
        log.value("acute", t(arrival), json!({"arrival_at": arrival}));
        let id = log.value("acute", day(5), json!({"surgery_at": surgery}));
        let g = log.goal("surgery_48h", day(6));
        assert_eq!(g.status, want, "surgery at {surgery}");
        assert_eq!(latest(&g), (hours, id, day(5)));
        assert_eq!(g.due, Some(t(arrival) + Duration::hours(48)));
    }
}

#[test]
fn time_between_is_overdue_when_the_second_time_is_missing_past_the_limit() {
    let arrival = "2026-11-02T22:00:00+09:00";
    let mut log = Log::default();
    log.value("acute", t(arrival), json!({"arrival_at": arrival}));
    let g = log.goal("surgery_48h", t(arrival) + Duration::hours(47));
    assert_eq!(
        (g.status, g.due),
        (GoalState::Pending, Some(t(arrival) + Duration::hours(48)))
    );
    let g = log.goal("surgery_48h", t(arrival) + Duration::hours(49));
    assert_eq!(g.status, GoalState::Overdue);
    // Without the first time there is nothing to count from.
    let mut log = Log::default();
    log.value(
        "acute",
        day(1),
        json!({"surgery_at": "2026-11-02T10:00:00+09:00"}),
    );
    let g = log.goal("surgery_48h", day(300));
    assert_eq!((g.status, g.due), (GoalState::Pending, None));
}

// ---------------------------------------------------------------------------------------
// Done within an interval.

#[test]
fn done_within_counts_from_the_plan_start_then_from_the_last_record() {
    let start = t(PLAN_START);
    // Due on the Tokyo date twelve months after the plan's start, overdue from the next day.
    let year = t("2027-11-01T00:00:00+09:00");
    let mut log = Log::default();
    let g = log.goal(
        "eye_yearly",
        start.checked_add_months(Months::new(11)).unwrap(),
    );
    assert_eq!((g.status, g.due), (GoalState::Pending, Some(year)));
    assert_eq!(
        log.goal("eye_yearly", t("2027-11-01T23:59:59+09:00"))
            .status,
        GoalState::Pending
    );
    assert_eq!(
        log.goal("eye_yearly", t("2027-11-02T00:00:00+09:00"))
            .status,
        GoalState::Overdue
    );
    let exam = t("2027-03-15T09:00:00+09:00");
    let id = log.value("home", exam, json!({"eye_exam": true}));
    let next = t("2028-03-15T00:00:00+09:00");
    let g = log.goal("eye_yearly", exam + Duration::days(1));
    assert_eq!((g.status, g.due), (GoalState::Met, Some(next)));
    assert_eq!(latest(&g), (json!(true), id, exam));
    assert_eq!(
        log.goal("eye_yearly", t("2028-03-15T23:59:59+09:00"))
            .status,
        GoalState::Met
    );
    let next = t("2028-03-16T00:00:00+09:00");
    assert_eq!(log.goal("eye_yearly", next).status, GoalState::Overdue);
    log.value("home", next + Duration::days(10), json!({"eye_exam": true}));
    assert_eq!(
        log.goal("eye_yearly", next + Duration::days(11)).status,
        GoalState::Met
    );
}

// ---------------------------------------------------------------------------------------
// Amendments.

#[test]
fn an_amendment_replaces_the_amended_values_from_when_it_was_recorded() {
    let mut log = Log::default();
    log.start("acute", d0());
    let original = log.value("acute", day(1), json!({"mrs": 4, "hba1c": 7.5}));
    let amendment = log.add_full(
        "acute",
        EntryKind::Assessment,
        day(1),
        day(3),
        json!({"mrs": 2, "hba1c": 7.5}),
        Some(original),
    );
    // Before the amendment was recorded, the original stands.
    let g = log.goal("mrs_good", day(2));
    assert_eq!(g.status, GoalState::NotMet);
    assert_eq!(latest(&g), (json!(4), original, day(1)));
    // From its recording on, the amendment replaces it.
    let g = log.goal("mrs_good", day(3));
    assert_eq!(g.status, GoalState::Met);
    assert_eq!(latest(&g), (json!(2), amendment, day(1)));
    assert_eq!(latest(&log.goal("hba1c_band", day(4))).1, amendment);
}

#[test]
fn an_amendment_does_not_override_newer_entries() {
    let mut log = Log::default();
    log.start("acute", d0());
    let original = log.value("acute", day(1), json!({"mrs": 5}));
    let newer = log.value("acute", day(2), json!({"mrs": 3}));
    log.add_full(
        "acute",
        EntryKind::Assessment,
        day(1),
        day(4),
        json!({"mrs": 1}),
        Some(original),
    );
    let g = log.goal("mrs_good", day(5));
    assert_eq!(g.status, GoalState::NotMet);
    assert_eq!(latest(&g), (json!(3), newer, day(2)));
}

#[test]
fn an_amended_stage_event_moves_the_stage_length() {
    let mut log = Log::default();
    log.start("acute", d0());
    let end = log.end("acute", day(30));
    log.add_full(
        "acute",
        EntryKind::StageEnd,
        day(20),
        day(31),
        json!({}),
        Some(end),
    );
    assert_eq!(
        log.goal("acute_length", day(30) + Duration::hours(1))
            .status,
        GoalState::NotMet
    );
    let g = log.goal("acute_length", day(32));
    assert_eq!((g.status, latest(&g).0), (GoalState::Met, json!(21)));
}

// ---------------------------------------------------------------------------------------
// As of T, only what was recorded by T counts.

const STAGES: [&str; 3] = ["acute", "recovery", "home"];

fn values_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(0i64..=6),
        proptest::option::of(30u32..=200),
        proptest::option::of(4i64..=28),
        proptest::option::of(0usize..3),
        proptest::option::of(0i64..200),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(mrs, hba1c, fim, dest, hours, eye)| {
            let mut m = serde_json::Map::new();
            if let Some(v) = mrs {
                m.insert("mrs".into(), json!(v));
            }
            if let Some(v) = hba1c {
                m.insert("hba1c".into(), json!(f64::from(v) / 10.0));
            }
            if let Some(v) = fim {
                m.insert("fim_total".into(), json!(v));
            }
            if let Some(v) = dest {
                m.insert(
                    "destination".into(),
                    json!(["home", "residential", "hospital"][v]),
                );
            }
            if let Some(h) = hours {
                let at = (d0() + Duration::hours(h)).to_rfc3339();
                let key = if h % 2 == 0 {
                    "arrival_at"
                } else {
                    "surgery_at"
                };
                m.insert(key.into(), json!(at));
            }
            if eye == Some(true) {
                m.insert("eye_exam".into(), json!(true));
            }
            Value::Object(m)
        })
}

/// (stage, kind, effective offset h, recording delay h, values, amends index)
type RawEntry = (usize, usize, i64, i64, Value, Option<usize>);

fn entries_strategy() -> impl Strategy<Value = Vec<RawEntry>> {
    proptest::collection::vec(
        (
            0usize..3,
            0usize..3,
            0i64..4000,
            0i64..300,
            values_strategy(),
            proptest::option::of(0usize..40),
        ),
        0..30,
    )
}

fn build(raw: &[RawEntry]) -> Vec<EntryFacts> {
    let kinds = [
        EntryKind::Assessment,
        EntryKind::StageStart,
        EntryKind::StageEnd,
    ];
    let mut log = Log::default();
    for (i, (stage, kind, eff, delay, values, amends)) in raw.iter().enumerate() {
        let effective = d0() + Duration::hours(*eff);
        let amends = amends.filter(|a| *a < i).map(|a| log.entries[a].id);
        log.add_full(
            STAGES[*stage],
            kinds[*kind],
            effective,
            effective + Duration::hours(*delay),
            values.clone(),
            amends,
        );
    }
    log.entries
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn status_as_of_t_depends_only_on_entries_recorded_by_t(
        raw in entries_strategy(),
        as_of_h in 0i64..5000,
    ) {
        let template = linear();
        let entries = build(&raw);
        let as_of = d0() + Duration::hours(as_of_h);
        let known: Vec<EntryFacts> = entries.iter().filter(|e| e.recorded_at <= as_of).cloned().collect();
        let with_all = evaluate_goals(&template, &GoalContext::at(t(PLAN_START), None, as_of), &entries);
        let with_known = evaluate_goals(&template, &GoalContext::at(t(PLAN_START), None, as_of), &known);
        prop_assert_eq!(with_all, with_known);
    }

    #[test]
    fn later_recorded_entries_never_change_an_earlier_status(
        raw in entries_strategy(),
        extra in entries_strategy(),
        as_of_h in 0i64..5000,
    ) {
        let template = linear();
        let as_of = d0() + Duration::hours(as_of_h);
        let before: Vec<RawEntry> = raw.clone();
        let mut after = raw.clone();
        // Appended entries recorded strictly after as_of (effective any time before that).
        for (stage, kind, eff, _, values, amends) in extra {
            let eff = eff.min(as_of_h);
            let delay = as_of_h - eff + 1;
            after.push((stage, kind, eff, delay, values, amends));
        }
        let a = evaluate_goals(&template, &GoalContext::at(t(PLAN_START), None, as_of), &build(&before));
        let b = evaluate_goals(&template, &GoalContext::at(t(PLAN_START), None, as_of), &build(&after));
        prop_assert_eq!(a, b);
    }
}
