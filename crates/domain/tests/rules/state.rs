//! The plan state machine: `next_state` over stage events, driven through `validate_entry`.

use proptest::prelude::*;
use renkei_domain::EntryRejection;
use renkei_domain::entry::{
    AmendTarget, EntryKind, NewEntry, PlanState, PlanStatus, next_state, validate_entry,
};
use renkei_domain::template::PathwayTemplate;
use serde_json::{Value, json};

use super::fixture::{NOW, cyclical, linear, new_entry, state};

fn event(stage: &str, kind: EntryKind, values: Value) -> NewEntry {
    new_entry(stage, kind, values)
}

/// Validates `entry` and, when accepted, returns the next state.
fn apply(
    template: &PathwayTemplate,
    s: &PlanState,
    entry: &NewEntry,
) -> Result<PlanState, EntryRejection> {
    validate_entry(template, s, entry, super::fixture::t(NOW))?;
    Ok(next_state(template, s, entry))
}

/// An event and the state expected after it: (stage, started, ended, status).
type Step = (
    &'static str,
    EntryKind,
    Value,
    (&'static str, bool, bool, PlanStatus),
);

#[test]
fn stage_events_move_the_plan_through_a_linear_pathway() {
    let t = linear();
    let mut s = state("acute", false, false);
    let steps: [Step; 6] = [
        (
            "acute",
            EntryKind::StageStart,
            json!({}),
            ("acute", true, false, PlanStatus::Active),
        ),
        (
            "acute",
            EntryKind::StageEnd,
            json!({"mrs": 3}),
            ("acute", true, true, PlanStatus::Active),
        ),
        (
            "recovery",
            EntryKind::StageStart,
            json!({}),
            ("recovery", true, false, PlanStatus::Active),
        ),
        (
            "recovery",
            EntryKind::StageEnd,
            json!({"destination": "home"}),
            ("recovery", true, true, PlanStatus::Active),
        ),
        (
            "home",
            EntryKind::StageStart,
            json!({}),
            ("home", true, false, PlanStatus::Active),
        ),
        (
            "home",
            EntryKind::StageEnd,
            json!({}),
            ("home", true, true, PlanStatus::Completed),
        ),
    ];
    for (i, (stage, kind, values, want)) in steps.into_iter().enumerate() {
        s = apply(&t, &s, &event(stage, kind, values))
            .unwrap_or_else(|e| panic!("step {i} rejected: {e:?}"));
        assert_eq!(
            (
                s.current_stage.as_str(),
                s.stage_started,
                s.stage_ended,
                s.status
            ),
            want,
            "after step {i}"
        );
    }
    // A completed plan takes nothing more.
    let e = apply(
        &t,
        &s,
        &event("home", EntryKind::Assessment, json!({"mrs": 1})),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            EntryRejection::Conflict {
                code: "plan_not_active",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn other_entries_and_amendments_leave_the_state_alone() {
    let t = linear();
    let s = state("acute", true, false);
    for kind in [EntryKind::Assessment, EntryKind::Note, EntryKind::Variance] {
        assert_eq!(
            next_state(&t, &s, &event("acute", kind, json!({"mrs": 1}))),
            s
        );
    }
    // An amendment of a stage event does not replay it.
    let mut amend = event("home", EntryKind::StageEnd, json!({}));
    amend.amends = Some(AmendTarget {
        stage: "home".into(),
        kind: EntryKind::StageEnd,
        is_amendment: false,
        is_already_amended: false,
        head: None,
        is_voided: false,
    });
    amend.reason = Some("r".into());
    let home = state("home", true, false);
    assert_eq!(next_state(&t, &home, &amend), home);
    let mut start = event("recovery", EntryKind::StageStart, json!({}));
    start.amends = amend.amends.clone();
    assert_eq!(next_state(&t, &s, &start), s);
}

#[test]
fn only_the_last_stage_completes_a_linear_pathway() {
    let t = linear();
    for stage in ["acute", "recovery"] {
        let s = state(stage, true, false);
        let next = next_state(&t, &s, &event(stage, EntryKind::StageEnd, json!({})));
        assert_eq!(next.status, PlanStatus::Active, "ending {stage}");
        assert!(next.stage_ended);
    }
    let next = next_state(
        &t,
        &state("home", true, false),
        &event("home", EntryKind::StageEnd, json!({})),
    );
    assert_eq!(next.status, PlanStatus::Completed);
}

#[test]
fn a_cyclical_pathway_goes_round_and_never_completes() {
    let t = cyclical();
    let mut s = state("intro", false, false);
    s = apply(&t, &s, &event("intro", EntryKind::StageStart, json!({}))).unwrap();
    s = apply(&t, &s, &event("intro", EntryKind::StageEnd, json!({}))).unwrap();
    for round in 0..5 {
        for stage in ["clinic", "specialist"] {
            s = apply(&t, &s, &event(stage, EntryKind::StageStart, json!({})))
                .unwrap_or_else(|e| panic!("round {round} start {stage}: {e:?}"));
            assert_eq!(
                (s.current_stage.as_str(), s.stage_started, s.stage_ended),
                (stage, true, false)
            );
            s = apply(
                &t,
                &s,
                &event(stage, EntryKind::Assessment, json!({"hba1c": 7.1})),
            )
            .unwrap();
            let values = if stage == "specialist" {
                json!({"hba1c": 6.9})
            } else {
                json!({})
            };
            s = apply(&t, &s, &event(stage, EntryKind::StageEnd, values))
                .unwrap_or_else(|e| panic!("round {round} end {stage}: {e:?}"));
            assert_eq!(s.status, PlanStatus::Active, "round {round} after {stage}");
            assert!(s.stage_ended);
        }
    }
    // The intro stage does not come round again.
    assert!(apply(&t, &s, &event("intro", EntryKind::StageStart, json!({}))).is_err());
    // Even a stage with no successor does not complete a cyclical plan.
    let mut dead_end = t.clone();
    dead_end.stages[2].next = Some(Vec::new());
    let s = state("specialist", true, false);
    let next = next_state(
        &dead_end,
        &s,
        &event("specialist", EntryKind::StageEnd, json!({})),
    );
    assert_eq!(next.status, PlanStatus::Active);
}

/// A random stage event in a random stage.
fn any_event() -> impl Strategy<Value = (usize, bool)> {
    (0usize..3, any::<bool>())
}

proptest! {
    /// Whatever stage events a client sends, the accepted ones walk the stages in order,
    /// and the plan completes exactly when the last stage ends.
    #[test]
    fn accepted_stage_events_follow_the_pathway(events in proptest::collection::vec(any_event(), 1..40)) {
        let t = linear();
        let stages = ["acute", "recovery", "home"];
        let mut s = state("acute", false, false);
        let mut accepted: Vec<(usize, bool)> = Vec::new();
        for (stage, is_end) in events {
            let kind = if is_end { EntryKind::StageEnd } else { EntryKind::StageStart };
            let values = match (stages[stage], is_end) {
                ("acute", true) => json!({"mrs": 2}),
                ("recovery", true) => json!({"destination": "home"}),
                _ => json!({}),
            };
            let before = s.clone();
            match apply(&t, &s, &event(stages[stage], kind, values)) {
                Ok(next) => { accepted.push((stage, is_end)); s = next; }
                Err(EntryRejection::Conflict { .. }) => prop_assert_eq!(&s, &before),
                Err(other) => prop_assert!(false, "unexpected rejection {:?}", other),
            }
        }
        // The accepted events are a prefix of start/end acute, recovery, home.
        let full = [(0, false), (0, true), (1, false), (1, true), (2, false), (2, true)];
        prop_assert!(accepted.len() <= full.len());
        prop_assert_eq!(&accepted[..], &full[..accepted.len()]);
        prop_assert_eq!(s.status == PlanStatus::Completed, accepted.len() == full.len());
    }
}
