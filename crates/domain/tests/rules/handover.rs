//! Hand-over rules: the stage events a hand-over lets out of the usual order (the
//! receiver's start before the sender's end, the sender's late end), and the referral's
//! structured fields (every error at once, words instead of codes).

use proptest::prelude::*;
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::EntryFacts;
use renkei_domain::handover::{
    StageShortcut, referral_lines, referral_prefill, stage_shortcut, unrecorded_ends,
    validate_referral,
};
use renkei_domain::wording::Lang;
use serde_json::json;
use uuid::Uuid;

use super::fixture::{linear, obj, state, t};

fn event(seq: i64, stage: &str, kind: EntryKind, at: &str) -> EntryFacts {
    EntryFacts {
        id: Uuid::now_v7(),
        seq,
        stage: stage.to_owned(),
        kind,
        effective_at: t(at),
        recorded_at: t(at),
        values: obj(json!({})),
        amends: None,
    }
}

#[test]
fn a_stage_left_for_the_next_without_its_end_is_unrecorded_until_the_end_is_recorded() {
    let start = event(
        1,
        "acute",
        EntryKind::StageStart,
        "2026-11-01T10:00:00+09:00",
    );
    let next = event(
        2,
        "recovery",
        EntryKind::StageStart,
        "2026-11-15T14:00:00+09:00",
    );
    let view = vec![&start, &next];
    let orgs = [(start.id, Uuid::nil())];
    let u = unrecorded_ends(&view, &orgs);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].stage, "acute");
    assert_eq!(u[0].closed_at, next.effective_at);
    assert_eq!(u[0].organization, Some(Uuid::nil()));

    // The late end, dated before the receiver's start, closes it.
    let late = event(3, "acute", EntryKind::StageEnd, "2026-11-15T10:00:00+09:00");
    assert!(unrecorded_ends(&[&start, &next, &late], &orgs).is_empty());
    // A plan still in its first stage owes nothing.
    assert!(unrecorded_ends(&[&start], &orgs).is_empty());
}

#[test]
fn only_the_receiver_of_an_accepted_hand_over_starts_the_next_stage_early() {
    let t = linear();
    let open = state("acute", true, false);
    match stage_shortcut(&t, &open, EntryKind::StageStart, "recovery", true, &[]) {
        StageShortcut::ReceiverStart(s) => assert!(s.stage_ended && s.current_stage == "acute"),
        other => panic!("receiver start expected: {other:?}"),
    }
    // Without an accepted hand-over, or to a stage that does not follow: the usual rules.
    assert_eq!(
        stage_shortcut(&t, &open, EntryKind::StageStart, "recovery", false, &[]),
        StageShortcut::None
    );
    assert_eq!(
        stage_shortcut(&t, &open, EntryKind::StageStart, "home", true, &[]),
        StageShortcut::None
    );
    // A sender's end of a stage nobody closed early: the usual rules.
    assert_eq!(
        stage_shortcut(
            &t,
            &state("recovery", true, false),
            EntryKind::StageEnd,
            "acute",
            false,
            &[]
        ),
        StageShortcut::None
    );
}

#[test]
fn the_late_end_is_validated_as_the_open_sender_stage_and_bounded_by_the_next_start() {
    let t = linear();
    let start = event(
        1,
        "acute",
        EntryKind::StageStart,
        "2026-11-01T10:00:00+09:00",
    );
    let next = event(
        2,
        "recovery",
        EntryKind::StageStart,
        "2026-11-15T14:00:00+09:00",
    );
    let u = unrecorded_ends(&[&start, &next], &[]);
    match stage_shortcut(
        &t,
        &state("recovery", true, false),
        EntryKind::StageEnd,
        "acute",
        false,
        &u,
    ) {
        StageShortcut::LateEnd { state, closed_at } => {
            assert_eq!(state.current_stage, "acute");
            assert!(state.stage_started && !state.stage_ended);
            assert_eq!(closed_at, next.effective_at);
        }
        other => panic!("late end expected: {other:?}"),
    }
}

#[test]
fn every_referral_error_is_reported_at_once() {
    let errors = validate_referral(&json!({
        "clinical_type": "stroke", "paralysis_side": 2, "blood_type": "A",
        "history": "x".repeat(2001), "key_person_contact": "090"
    }))
    .expect_err("invalid");
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for f in [
        "referral.clinical_type",
        "referral.paralysis_side",
        "referral.blood_type",
        "referral.history",
        "referral.diagnosis",
        "referral.key_person",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let ok = validate_referral(
        &json!({"diagnosis": " 脳梗塞 ", "clinical_type": "lacunar", "history": ""}),
    )
    .expect("valid");
    assert_eq!(ok.get("diagnosis").map(String::as_str), Some("脳梗塞"));
    assert!(!ok.contains_key("history"), "empty text counts as absent");
}

#[test]
fn the_referral_reads_in_words_never_in_codes() {
    let lines = referral_lines(
        &json!({"diagnosis": "脳出血", "clinical_type": "ich", "paralysis_side": "left",
                "diet_form": "minced", "care_insurance": "support_2"}),
        Lang::Ja,
    );
    let text: Vec<String> = lines.iter().map(|(l, v)| format!("{l}:{v}")).collect();
    assert_eq!(
        text,
        [
            "診断名:脳出血",
            "病型:脳出血",
            "麻痺側:左片麻痺",
            "食形態:きざみ",
            "介護保険:要支援2"
        ]
    );
    let en = referral_lines(&json!({"clinical_type": "sah"}), Lang::En);
    assert_eq!(
        en,
        [("Clinical type", "Subarachnoid haemorrhage".to_owned())]
    );
}

#[test]
fn the_prefill_takes_the_latest_values_of_the_plan() {
    let t = linear();
    let mut a = event(
        1,
        "acute",
        EntryKind::Assessment,
        "2026-11-02T10:00:00+09:00",
    );
    a.values = obj(json!({"walk_cat": "assisted"}));
    let mut b = event(
        2,
        "acute",
        EntryKind::Assessment,
        "2026-11-03T10:00:00+09:00",
    );
    b.values = obj(json!({"walk_cat": "supervised"}));
    let r = referral_prefill(&t, &[&a, &b]);
    assert_eq!(r.get("adl").map(String::as_str), Some("歩行 見守り"));
    assert!(r.contains_key("diagnosis"));
}

proptest! {
    /// Whatever order stage events arrive in, a stage reported as unrecorded has a start,
    /// no end in its period, and was closed by another stage's later start.
    #[test]
    fn an_unrecorded_end_is_always_closed_by_a_later_start_of_another_stage(
        kinds in proptest::collection::vec((0usize..3, any::<bool>()), 1..12)
    ) {
        let stages = ["acute", "recovery", "home"];
        let events: Vec<EntryFacts> = kinds
            .iter()
            .enumerate()
            .map(|(i, (s, start))| {
                let at = format!("2026-11-{:02}T10:00:00+09:00", i + 1);
                event(i as i64, stages[*s], if *start { EntryKind::StageStart } else { EntryKind::StageEnd }, &at)
            })
            .collect();
        let view: Vec<&EntryFacts> = events.iter().collect();
        for u in unrecorded_ends(&view, &[]) {
            prop_assert!(u.closed_at > u.started_at);
            prop_assert!(events.iter().any(|e| e.kind == EntryKind::StageStart
                && e.stage != u.stage && e.effective_at == u.closed_at));
            prop_assert!(!events.iter().any(|e| e.kind == EntryKind::StageEnd
                && e.stage == u.stage && e.effective_at >= u.started_at && e.effective_at < u.closed_at));
        }
    }
}
