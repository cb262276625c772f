//! Entry validation against the fixture template and a plan state, and composite scores.

use proptest::prelude::*;
use renkei_domain::entry::{
    AmendTarget, EntryKind, MAX_TEXT_CHARS, NewEntry, PlanState, PlanStatus, ValidatedEntry,
    VarianceInput, validate_entry,
};
use renkei_domain::{EntryRejection, FieldError};
use serde_json::{Value, json};

use super::fixture::{NOW, PLAN_START, linear, new_entry, obj, state, t};

fn validate(state: &PlanState, entry: &NewEntry) -> Result<ValidatedEntry, EntryRejection> {
    validate_entry(&linear(), state, entry, t(NOW))
}

/// Acute stage started, not ended: where most entries go.
fn acute() -> PlanState {
    state("acute", true, false)
}

fn assessment(values: Value) -> NewEntry {
    new_entry("acute", EntryKind::Assessment, values)
}

fn ok(state: &PlanState, entry: &NewEntry) -> ValidatedEntry {
    validate(state, entry).unwrap_or_else(|e| panic!("expected the entry to be accepted: {e:?}"))
}

fn invalid(state: &PlanState, entry: &NewEntry) -> Vec<FieldError> {
    match validate(state, entry) {
        Err(EntryRejection::Invalid(errors)) => errors,
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn conflict(state: &PlanState, entry: &NewEntry) -> (&'static str, String) {
    match validate(state, entry) {
        Err(EntryRejection::Conflict { code, message }) => (code, message),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Asserts exactly one error, at `field`, breaking `code`, whose message contains `text`.
fn only(errors: &[FieldError], field: &str, code: &str, text: &str) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    has(errors, field, code, text);
}

fn has(errors: &[FieldError], field: &str, code: &str, text: &str) {
    let e = errors
        .iter()
        .find(|e| e.field == field)
        .unwrap_or_else(|| panic!("no error at `{field}`: {errors:#?}"));
    assert_eq!(e.code, code, "{e:?}");
    assert!(
        e.message.contains(text),
        "`{}` should contain `{text}`",
        e.message
    );
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    let mut f: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    f.sort();
    f
}

// ---------------------------------------------------------------------------------------
// Values.

#[test]
fn accepts_a_valid_assessment_of_every_type() {
    let values = json!({
        "mrs": 4,
        "hba1c": 6.5,
        "dysphagia": true,
        "walk_cat": "assisted",
        "destination": "home",
        "onset_date": "2026-11-19",
        "arrival_at": "2026-11-19T10:00:00+09:00",
        "surgery_at": "2026-11-20T01:00:00Z",
        "memo": "経過良好",
        "eye_exam": false,
    });
    let v = ok(&acute(), &assessment(values.clone()));
    assert_eq!(Value::Object(v.values), values);
}

#[test]
fn boundary_values_are_accepted() {
    for values in [
        json!({"mrs": 0}),
        json!({"mrs": 6}),
        json!({"hba1c": 3.0}),
        json!({"hba1c": 20}),
        json!({"hba1c": 19.99}),
        json!({"dysphagia": false}),
        json!({"onset_date": "2024-02-29"}),
        json!({"arrival_at": "2026-11-19T23:59:59.123-05:00"}),
        json!({"barthel_feeding": 0, "barthel_transfer": 15}),
        json!({"memo": "x".repeat(MAX_TEXT_CHARS)}),
    ] {
        ok(&acute(), &assessment(values));
    }
}

#[test]
fn rejects_an_unknown_item() {
    let e = invalid(&acute(), &assessment(json!({"mrs": 2, "mrss": 2})));
    only(
        &e,
        "values.mrss",
        "unknown_item",
        "`mrss` is not an item of test-path v1",
    );
}

#[test]
fn rejects_out_of_range_values() {
    for (values, field, text) in [
        (json!({"mrs": 7}), "values.mrs", "must be between 0 and 6"),
        (json!({"mrs": -1}), "values.mrs", "must be between 0 and 6"),
        (
            json!({"hba1c": 2.9}),
            "values.hba1c",
            "must be between 3 and 20 %",
        ),
        (
            json!({"hba1c": 20.01}),
            "values.hba1c",
            "must be between 3 and 20 %",
        ),
        (
            json!({"fim_eating": 0, "fim_grooming": 7}),
            "values.fim_eating",
            "must be between 1 and 7",
        ),
    ] {
        let e = invalid(&acute(), &assessment(values.clone()));
        only(&e, field, "range", text);
    }
}

#[test]
fn rejects_wrong_types() {
    for (values, field, text) in [
        (json!({"mrs": "4"}), "values.mrs", "must be an integer"),
        (json!({"mrs": 4.5}), "values.mrs", "must be a whole number"),
        (json!({"mrs": true}), "values.mrs", "must be an integer"),
        (json!({"mrs": null}), "values.mrs", "must not be null"),
        (json!({"hba1c": "6.5"}), "values.hba1c", "must be a number"),
        (
            json!({"dysphagia": "yes"}),
            "values.dysphagia",
            "must be true or false",
        ),
        (
            json!({"dysphagia": 1}),
            "values.dysphagia",
            "must be true or false",
        ),
        (
            json!({"walk_cat": 1}),
            "values.walk_cat",
            "must be an option code",
        ),
        (json!({"memo": 5}), "values.memo", "must be text"),
        (json!({"memo": ["a"]}), "values.memo", "must be text"),
    ] {
        let e = invalid(&acute(), &assessment(values.clone()));
        only(&e, field, "type", text);
    }
}

#[test]
fn rejects_values_outside_the_allowed_set_and_unknown_options() {
    let e = invalid(
        &acute(),
        &assessment(json!({"barthel_feeding": 3, "barthel_transfer": 5})),
    );
    only(
        &e,
        "values.barthel_feeding",
        "allowed",
        "must be one of 0, 5, 10",
    );
    let e = invalid(
        &acute(),
        &assessment(json!({"barthel_feeding": 15, "barthel_transfer": 5})),
    );
    only(
        &e,
        "values.barthel_feeding",
        "allowed",
        "must be one of 0, 5, 10",
    );
    let e = invalid(&acute(), &assessment(json!({"walk_cat": "flying"})));
    only(
        &e,
        "values.walk_cat",
        "allowed",
        "must be one of independent, supervised, assisted, unable",
    );
    let e = invalid(&acute(), &assessment(json!({"walk_cat": "Independent"})));
    only(&e, "values.walk_cat", "allowed", "independent");
}

#[test]
fn rejects_invalid_dates_and_datetimes() {
    for bad in [
        "2026-02-30",
        "2025-02-29",
        "2026-13-01",
        "2026-2-3",
        "26-11-20",
        "2026/11/20",
        "2026-11-20T00:00:00Z",
        "",
    ] {
        let e = invalid(&acute(), &assessment(json!({"onset_date": bad})));
        only(
            &e,
            "values.onset_date",
            "type",
            "must be a valid date YYYY-MM-DD",
        );
    }
    for bad in [
        "2026-11-20T10:00:00",
        "2026-11-20 10:00",
        "2026-11-20",
        "2026-11-31T10:00:00+09:00",
        "2026-11-20T25:00:00+09:00",
        "yesterday",
    ] {
        let e = invalid(&acute(), &assessment(json!({"arrival_at": bad})));
        only(
            &e,
            "values.arrival_at",
            "type",
            "RFC 3339 date-time with offset",
        );
    }
}

#[test]
fn rejects_blank_and_overlong_text() {
    let e = invalid(&acute(), &assessment(json!({"memo": "  "})));
    only(&e, "values.memo", "required", "must not be blank");
    let e = invalid(
        &acute(),
        &assessment(json!({"memo": "あ".repeat(MAX_TEXT_CHARS + 1)})),
    );
    only(&e, "values.memo", "too_long", "at most 10000 characters");
}

#[test]
fn rejects_an_item_not_recordable_in_the_stage() {
    let e = invalid(
        &state("home", true, false),
        &new_entry("home", EntryKind::Assessment, json!({"dysphagia": true})),
    );
    only(
        &e,
        "values.dysphagia",
        "not_in_stage",
        "not recorded in the home stage",
    );
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let e = invalid(
        &acute(),
        &assessment(json!({
            "mrs": 9, "hba1c": "high", "walk_cat": "flying", "onset_date": "2026-02-30", "nope": 1,
        })),
    );
    assert_eq!(
        fields(&e),
        [
            "values.hba1c",
            "values.mrs",
            "values.nope",
            "values.onset_date",
            "values.walk_cat"
        ]
    );
}

#[test]
fn an_assessment_needs_values() {
    let e = invalid(&acute(), &assessment(json!({})));
    only(&e, "values", "required", "at least one value");
}

// ---------------------------------------------------------------------------------------
// Stage events and the plan state.

#[test]
fn missing_required_item_at_stage_end() {
    let end = new_entry("acute", EntryKind::StageEnd, json!({}));
    let e = invalid(&acute(), &end);
    only(
        &e,
        "values.mrs",
        "required",
        "is required when the acute stage ends",
    );
    // Present: accepted.
    let end = new_entry("acute", EntryKind::StageEnd, json!({"mrs": 3}));
    ok(&acute(), &end);
    // Present but invalid: the value error, not "required".
    let end = new_entry("acute", EntryKind::StageEnd, json!({"mrs": 8}));
    only(
        &invalid(&acute(), &end),
        "values.mrs",
        "range",
        "between 0 and 6",
    );
    // Not required when the stage starts, nor in an assessment.
    ok(
        &state("acute", false, false),
        &new_entry("acute", EntryKind::StageStart, json!({})),
    );
    // The recovery stage needs the discharge destination.
    let recovery = state("recovery", true, false);
    let end = new_entry("recovery", EntryKind::StageEnd, json!({"mrs": 1}));
    only(
        &invalid(&recovery, &end),
        "values.destination",
        "required",
        "recovery stage ends",
    );
}

#[test]
fn unknown_stage_is_invalid_not_a_conflict() {
    let e = invalid(
        &acute(),
        &new_entry("icu", EntryKind::Assessment, json!({"mrs": 1})),
    );
    only(
        &e,
        "stage",
        "unknown_stage",
        "stage `icu` is not defined in test-path v1",
    );
}

#[test]
fn entries_go_to_the_current_stage_only() {
    for kind in [EntryKind::Assessment, EntryKind::Variance] {
        let mut e = new_entry("recovery", kind, json!({"mrs": 2}));
        if kind == EntryKind::Variance {
            e.values = obj(json!({}));
            e.variance = Some(VarianceInput {
                code: "NEG.VAR.CO.RECEIVE".into(),
                note: None,
                goal: None,
            });
        }
        let (code, message) = conflict(&acute(), &e);
        assert_eq!(code, "stage_out_of_order");
        assert!(message.contains("current stage `acute`"), "{message}");
    }
    // A note may be written against any stage.
    let mut note = new_entry("home", EntryKind::Note, json!({}));
    note.note = Some("申し送り".into());
    ok(&acute(), &note);
}

#[test]
fn stage_start_and_end_must_follow_the_pathway() {
    let start = |s: &str| new_entry(s, EntryKind::StageStart, json!({}));
    let end = |s: &str, v: Value| new_entry(s, EntryKind::StageEnd, v);
    // The first stage starts once.
    ok(&state("acute", false, false), &start("acute"));
    assert_eq!(conflict(&acute(), &start("acute")).0, "stage_out_of_order");
    // A stage cannot end before it started, nor twice.
    let (code, message) = conflict(
        &state("acute", false, false),
        &end("acute", json!({"mrs": 1})),
    );
    assert_eq!(code, "stage_out_of_order");
    assert!(message.contains("not started"), "{message}");
    let (_, message) = conflict(
        &state("acute", true, true),
        &end("acute", json!({"mrs": 1})),
    );
    assert!(message.contains("ended"), "{message}");
    // The next stage starts only once the current one has ended …
    let (_, message) = conflict(&acute(), &start("recovery"));
    assert!(message.contains("in progress"), "{message}");
    ok(&state("acute", true, true), &start("recovery"));
    // … and only the next stage: no skipping, no going back.
    conflict(&state("acute", true, true), &start("home"));
    conflict(&state("recovery", true, true), &start("acute"));
    conflict(&state("recovery", true, true), &start("recovery"));
    // A stage other than the current one cannot end.
    conflict(
        &acute(),
        &end("recovery", json!({"mrs": 1, "destination": "home"})),
    );
    // The last stage has no successor.
    conflict(&state("home", true, true), &start("acute"));
}

#[test]
fn a_plan_that_is_not_active_takes_no_entries() {
    for status in [PlanStatus::Completed, PlanStatus::Withdrawn] {
        let mut s = acute();
        s.status = status;
        let (code, message) = conflict(&s, &assessment(json!({"mrs": 1})));
        assert_eq!(code, "plan_not_active");
        assert!(message.contains(status.as_str()), "{message}");
        // Even a broken entry gets the conflict, reported alone.
        let (code, _) = conflict(&s, &new_entry("icu", EntryKind::Note, json!({"x": 1})));
        assert_eq!(code, "plan_not_active");
    }
}

#[test]
fn stage_conflicts_wait_for_field_errors() {
    // With a field error present, the request is reported as invalid (422) first.
    let mut e = new_entry("recovery", EntryKind::Assessment, json!({"mrs": 1}));
    e.effective_at = t("2026-10-01T00:00:00Z");
    let errors = invalid(&acute(), &e);
    only(
        &errors,
        "effective_at",
        "before_plan_start",
        "before the care plan started",
    );
}

// ---------------------------------------------------------------------------------------
// Notes, variances, times.

#[test]
fn a_note_needs_text_and_no_values() {
    let e = invalid(&acute(), &new_entry("acute", EntryKind::Note, json!({})));
    only(&e, "note", "required", "a note needs text");
    let mut blank = new_entry("acute", EntryKind::Note, json!({}));
    blank.note = Some(" \n ".into());
    only(
        &invalid(&acute(), &blank),
        "note",
        "required",
        "a note needs text",
    );
    let mut with_values = new_entry("acute", EntryKind::Note, json!({"mrs": 1}));
    with_values.note = Some("x".into());
    only(
        &invalid(&acute(), &with_values),
        "values",
        "not_allowed",
        "use an assessment",
    );
    let mut nul = new_entry("acute", EntryKind::Note, json!({}));
    nul.note = Some("a\0b".into());
    only(&invalid(&acute(), &nul), "note", "control_character", "NUL");
    let mut long = new_entry("acute", EntryKind::Note, json!({}));
    long.note = Some("x".repeat(MAX_TEXT_CHARS + 1));
    only(&invalid(&acute(), &long), "note", "too_long", "10000");
    let mut good = new_entry("acute", EntryKind::Note, json!({}));
    good.note = Some("家族へ説明済み".into());
    assert!(ok(&acute(), &good).values.is_empty());
}

#[test]
fn a_variance_needs_a_known_code() {
    let e = invalid(
        &acute(),
        &new_entry("acute", EntryKind::Variance, json!({})),
    );
    only(&e, "variance", "required", "needs a variance code");
    let mut unknown = new_entry("acute", EntryKind::Variance, json!({}));
    unknown.variance = Some(VarianceInput {
        code: "NEG.VAR.SY.BED".into(),
        note: None,
        goal: None,
    });
    only(
        &invalid(&acute(), &unknown),
        "variance.code",
        "unknown_variance",
        "`NEG.VAR.SY.BED` is not defined in test-path v1",
    );
    let mut good = new_entry("acute", EntryKind::Variance, json!({}));
    good.variance = Some(VarianceInput {
        code: "NEG.VAR.CO.RECEIVE".into(),
        note: Some("受入先なし".into()),
        goal: None,
    });
    ok(&acute(), &good);
    // With values recorded at the same time.
    good.values = obj(json!({"mrs": 4}));
    assert_eq!(ok(&acute(), &good).values, obj(json!({"mrs": 4})));
    // A variance note is checked like any text.
    good.variance = Some(VarianceInput {
        code: "NEG.VAR.CO.RECEIVE".into(),
        note: Some("\0".into()),
        goal: None,
    });
    only(
        &invalid(&acute(), &good),
        "variance.note",
        "control_character",
        "NUL",
    );
    // Only variance entries carry one.
    let mut on_assessment = assessment(json!({"mrs": 1}));
    on_assessment.variance = Some(VarianceInput {
        code: "NEG.VAR.CO.RECEIVE".into(),
        note: None,
        goal: None,
    });
    only(
        &invalid(&acute(), &on_assessment),
        "variance",
        "not_allowed",
        "only variance entries",
    );
}

#[test]
fn effective_at_within_the_plan_and_not_in_the_future() {
    let mut e = assessment(json!({"mrs": 1}));
    e.effective_at = t(NOW) + chrono::Duration::minutes(6);
    only(
        &invalid(&acute(), &e),
        "effective_at",
        "in_future",
        "must not be in the future",
    );
    e.effective_at = t(NOW) + chrono::Duration::minutes(4);
    ok(&acute(), &e);
    e.effective_at = t(PLAN_START) - chrono::Duration::seconds(1);
    only(
        &invalid(&acute(), &e),
        "effective_at",
        "before_plan_start",
        "before the care plan started",
    );
    e.effective_at = t(PLAN_START);
    ok(&acute(), &e);
}

// ---------------------------------------------------------------------------------------
// Amendments.

fn amendment(values: Value, target: AmendTarget, reason: Option<&str>) -> NewEntry {
    let mut e = assessment(values);
    e.amends = Some(target);
    e.reason = reason.map(str::to_owned);
    e
}

fn target(stage: &str, kind: EntryKind) -> AmendTarget {
    AmendTarget {
        stage: stage.into(),
        kind,
        is_amendment: false,
        is_already_amended: false,
        head: None,
        is_voided: false,
    }
}

#[test]
fn an_amendment_needs_a_reason() {
    let a = amendment(
        json!({"mrs": 2}),
        target("acute", EntryKind::Assessment),
        None,
    );
    only(
        &invalid(&acute(), &a),
        "reason",
        "required",
        "needs a reason",
    );
    let a = amendment(
        json!({"mrs": 2}),
        target("acute", EntryKind::Assessment),
        Some("  "),
    );
    only(
        &invalid(&acute(), &a),
        "reason",
        "required",
        "needs a reason",
    );
    let a = amendment(
        json!({"mrs": 2}),
        target("acute", EntryKind::Assessment),
        Some("転記ミス"),
    );
    ok(&acute(), &a);
    // A reason without `amends` is refused.
    let mut e = assessment(json!({"mrs": 2}));
    e.reason = Some("why".into());
    only(
        &invalid(&acute(), &e),
        "reason",
        "not_allowed",
        "only for amendments",
    );
}

#[test]
fn a_correction_corrects_the_head_of_its_chain_never_a_superseded_version() {
    // The head of a chain is itself a correction: it is corrected in turn.
    let mut tg = target("acute", EntryKind::Assessment);
    tg.is_amendment = true;
    ok(&acute(), &amendment(json!({"mrs": 2}), tg, Some("r")));
    // A superseded version is refused, naming the head.
    let head = uuid::Uuid::from_u128(42);
    let mut tg = target("acute", EntryKind::Assessment);
    tg.is_already_amended = true;
    tg.head = Some(head);
    let a = amendment(json!({"mrs": 2}), tg, Some("r"));
    only(
        &invalid(&acute(), &a),
        "amends",
        "already_amended",
        &head.to_string(),
    );
    // A voided chain is neither corrected nor voided again.
    let mut tg = target("acute", EntryKind::Assessment);
    tg.is_voided = true;
    only(
        &invalid(&acute(), &amendment(json!({"mrs": 2}), tg, Some("r"))),
        "amends",
        "voided",
        "entered in error",
    );
}

fn void(target: AmendTarget, reason: Option<&str>) -> NewEntry {
    let mut e = assessment(json!({}));
    e.kind = EntryKind::EnteredInError;
    e.values = serde_json::Map::new();
    e.amends = Some(target);
    e.reason = reason.map(str::to_owned);
    e
}

#[test]
fn a_void_names_a_clinical_entry_and_gives_a_reason() {
    ok(
        &acute(),
        &void(target("acute", EntryKind::Assessment), Some("別患者に記載")),
    );
    // Any clinical kind of the same stage, stage events included.
    ok(
        &acute(),
        &void(target("acute", EntryKind::StageStart), Some("誤登録")),
    );
    only(
        &invalid(
            &acute(),
            &void(target("acute", EntryKind::Assessment), None),
        ),
        "reason",
        "required",
        "voiding an entry needs a reason",
    );
    only(
        &invalid(
            &acute(),
            &void(target("acute", EntryKind::Assessment), Some("  ")),
        ),
        "reason",
        "required",
        "needs a reason",
    );
    let mut orphan = void(target("acute", EntryKind::Assessment), Some("r"));
    orphan.amends = None;
    orphan.reason = None;
    only(
        &invalid(&acute(), &orphan),
        "amends",
        "required",
        "names in `amends`",
    );
    only(
        &invalid(
            &acute(),
            &void(target("acute", EntryKind::Handover), Some("r")),
        ),
        "amends",
        "not_allowed",
        "only clinical entries",
    );
    let mut with_values = void(target("acute", EntryKind::Assessment), Some("r"));
    with_values.values.insert("mrs".into(), json!(1));
    only(
        &invalid(&acute(), &with_values),
        "values",
        "not_allowed",
        "records no values",
    );
}

#[test]
fn an_amendment_keeps_kind_and_stage() {
    let a = amendment(
        json!({"mrs": 2}),
        target("acute", EntryKind::StageEnd),
        Some("r"),
    );
    only(&invalid(&acute(), &a), "kind", "amend_kind", "(stage_end)");
    let mut a = amendment(
        json!({"mrs": 2}),
        target("recovery", EntryKind::Assessment),
        Some("r"),
    );
    a.stage = "acute".into();
    only(&invalid(&acute(), &a), "stage", "amend_stage", "(recovery)");
    let e = invalid(
        &acute(),
        &amendment(json!({"mrs": 2}), target("home", EntryKind::Note), None),
    );
    assert_eq!(fields(&e), ["kind", "reason", "stage"]);
}

#[test]
fn an_amendment_may_correct_an_earlier_stage_and_skips_stage_rules() {
    // The plan is in recovery; the acute assessment is corrected.
    let mut a = amendment(
        json!({"mrs": 3}),
        target("acute", EntryKind::Assessment),
        Some("r"),
    );
    a.stage = "acute".into();
    ok(&state("recovery", true, false), &a);
    // A stage_end amendment is not re-checked for required items nor the stage order.
    let mut a = amendment(json!({}), target("acute", EntryKind::StageEnd), Some("r"));
    a.kind = EntryKind::StageEnd;
    ok(&state("home", true, false), &a);
    // But its values are still checked against the template.
    let mut a = amendment(
        json!({"mrs": 8}),
        target("acute", EntryKind::Assessment),
        Some("r"),
    );
    a.stage = "acute".into();
    only(
        &invalid(&state("recovery", true, false), &a),
        "values.mrs",
        "range",
        "0 and 6",
    );
}

// ---------------------------------------------------------------------------------------
// Composites.

#[test]
fn composites_are_computed_from_their_items() {
    let v = ok(
        &acute(),
        &assessment(
            json!({"fim_eating": 5, "fim_grooming": 6, "fim_comprehension": 7, "fim_memory": 2}),
        ),
    );
    assert_eq!(v.values["fim_motor"], json!(11));
    assert_eq!(v.values["fim_cognitive"], json!(9));
    assert_eq!(v.values["fim_total"], json!(20));
    assert!(v.values["fim_total"].is_i64());
    assert_eq!(v.values.len(), 7);
    let v = ok(
        &acute(),
        &assessment(json!({"barthel_feeding": 10, "barthel_transfer": 15})),
    );
    assert_eq!(v.values["barthel_total"], json!(25));
}

#[test]
fn a_composite_sent_alone_is_range_and_step_checked() {
    let v = ok(&acute(), &assessment(json!({"fim_total": 20})));
    assert_eq!(Value::Object(v.values), json!({"fim_total": 20}));
    only(
        &invalid(&acute(), &assessment(json!({"fim_total": 29}))),
        "values.fim_total",
        "range",
        "between 4 and 28",
    );
    only(
        &invalid(&acute(), &assessment(json!({"fim_total": 3}))),
        "values.fim_total",
        "range",
        "between 4 and 28",
    );
    only(
        &invalid(&acute(), &assessment(json!({"fim_total": 20.5}))),
        "values.fim_total",
        "type",
        "whole number",
    );
    ok(&acute(), &assessment(json!({"barthel_total": 20})));
    only(
        &invalid(&acute(), &assessment(json!({"barthel_total": 12}))),
        "values.barthel_total",
        "step",
        "multiple of 5",
    );
}

#[test]
fn a_composite_sent_with_its_items_must_agree() {
    let items =
        json!({"fim_eating": 5, "fim_grooming": 6, "fim_comprehension": 7, "fim_memory": 2});
    let mut agree = items.clone();
    agree["fim_total"] = json!(20);
    agree["fim_motor"] = json!(11);
    let v = ok(&acute(), &assessment(agree));
    assert_eq!(v.values["fim_total"], json!(20));
    let mut disagree = items.clone();
    disagree["fim_total"] = json!(21);
    only(
        &invalid(&acute(), &assessment(disagree)),
        "values.fim_total",
        "composite_mismatch",
        "`fim_total` is 21 but its items add up to 20",
    );
    let mut both = items;
    both["fim_motor"] = json!(12);
    both["fim_cognitive"] = json!(8);
    let e = invalid(&acute(), &assessment(both));
    assert_eq!(fields(&e), ["values.fim_cognitive", "values.fim_motor"]);
    assert!(e.iter().all(|x| x.code == "composite_mismatch"));
}

#[test]
fn subtotals_sent_without_items_must_agree_with_the_total() {
    let v = ok(
        &acute(),
        &assessment(json!({"fim_motor": 11, "fim_cognitive": 9, "fim_total": 20})),
    );
    assert_eq!(v.values["fim_total"], json!(20));
    only(
        &invalid(
            &acute(),
            &assessment(json!({"fim_motor": 11, "fim_cognitive": 9, "fim_total": 22})),
        ),
        "values.fim_total",
        "composite_mismatch",
        "`fim_total` is 22 but fim_motor + fim_cognitive add up to 20",
    );
    // Without the total, or with only one subtotal, there is nothing to compare.
    ok(
        &acute(),
        &assessment(json!({"fim_motor": 11, "fim_cognitive": 9})),
    );
    ok(
        &acute(),
        &assessment(json!({"fim_motor": 11, "fim_total": 22})),
    );
}

#[test]
fn partial_components_are_rejected_unless_they_complete_another_composite() {
    // One motor item alone: neither fim_motor nor fim_total can be computed.
    let e = invalid(&acute(), &assessment(json!({"fim_eating": 5})));
    assert_eq!(fields(&e), ["values.fim_motor", "values.fim_total"]);
    has(
        &e,
        "values.fim_motor",
        "incomplete",
        "missing: fim_grooming",
    );
    has(
        &e,
        "values.fim_total",
        "incomplete",
        "missing: fim_grooming, fim_comprehension, fim_memory",
    );
    // The motor items alone complete fim_motor: accepted, fim_total not computed.
    let v = ok(
        &acute(),
        &assessment(json!({"fim_eating": 5, "fim_grooming": 6})),
    );
    assert_eq!(v.values.get("fim_motor"), Some(&json!(11)));
    assert_eq!(v.values.get("fim_total"), None);
    // Motor items plus one cognitive item: the cognitive part is incomplete.
    let e = invalid(
        &acute(),
        &assessment(json!({"fim_eating": 5, "fim_grooming": 6, "fim_memory": 3})),
    );
    assert_eq!(fields(&e), ["values.fim_cognitive", "values.fim_total"]);
    // Motor items with fim_total sent: fim_total cannot be checked, so it is refused.
    let e = invalid(
        &acute(),
        &assessment(json!({"fim_eating": 5, "fim_grooming": 6, "fim_total": 11})),
    );
    only(
        &e,
        "values.fim_total",
        "incomplete",
        "missing: fim_comprehension, fim_memory",
    );
    // A single Barthel item.
    let e = invalid(&acute(), &assessment(json!({"barthel_feeding": 5})));
    only(
        &e,
        "values.barthel_total",
        "incomplete",
        "missing: barthel_transfer",
    );
}

#[test]
fn an_invalid_component_blocks_the_composite_without_a_second_error() {
    let e = invalid(
        &acute(),
        &assessment(
            json!({"fim_eating": 9, "fim_grooming": 6, "fim_comprehension": 7, "fim_memory": 2, "fim_total": 24}),
        ),
    );
    only(&e, "values.fim_eating", "range", "between 1 and 7");
}

#[test]
fn a_computed_composite_out_of_its_own_range_is_kept_as_computed() {
    // Composites are sums of in-range items, so their range always holds; the computed
    // values are stored even for the extremes.
    let v = ok(
        &acute(),
        &assessment(
            json!({"fim_eating": 7, "fim_grooming": 7, "fim_comprehension": 7, "fim_memory": 7}),
        ),
    );
    assert_eq!(v.values["fim_total"], json!(28));
    let v = ok(
        &acute(),
        &assessment(
            json!({"fim_eating": 1, "fim_grooming": 1, "fim_comprehension": 1, "fim_memory": 1}),
        ),
    );
    assert_eq!(v.values["fim_total"], json!(4));
}

const FIM: [&str; 4] = [
    "fim_eating",
    "fim_grooming",
    "fim_comprehension",
    "fim_memory",
];

proptest! {
    #[test]
    fn composites_equal_the_sum_of_valid_items(items in proptest::array::uniform4(1i64..=7)) {
        let mut values = serde_json::Map::new();
        for (code, v) in FIM.iter().zip(items) {
            values.insert((*code).to_owned(), json!(v));
        }
        let v = ok(&acute(), &assessment(Value::Object(values)));
        prop_assert_eq!(&v.values["fim_motor"], &json!(items[0] + items[1]));
        prop_assert_eq!(&v.values["fim_cognitive"], &json!(items[2] + items[3]));
        prop_assert_eq!(&v.values["fim_total"], &json!(items.iter().sum::<i64>()));
    }

    #[test]
    fn a_sent_total_is_accepted_only_when_it_agrees(items in proptest::array::uniform4(1i64..=7), total in 4i64..=28) {
        let mut values = serde_json::Map::new();
        for (code, v) in FIM.iter().zip(items) {
            values.insert((*code).to_owned(), json!(v));
        }
        values.insert("fim_total".into(), json!(total));
        let sum: i64 = items.iter().sum();
        let result = validate(&acute(), &assessment(Value::Object(values)));
        if total == sum {
            prop_assert!(result.is_ok(), "{:?}", result);
        } else {
            match result {
                Err(EntryRejection::Invalid(e)) => {
                    prop_assert_eq!(e.len(), 1);
                    prop_assert_eq!(e[0].field.as_str(), "values.fim_total");
                    prop_assert_eq!(e[0].code, "composite_mismatch");
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }

    #[test]
    fn an_out_of_range_item_is_rejected_at_its_field(
        which in 0usize..4,
        bad in prop_oneof![-1000i64..=0, 8i64..1000],
        others in proptest::array::uniform4(1i64..=7),
    ) {
        let mut values = serde_json::Map::new();
        for (i, code) in FIM.iter().enumerate() {
            values.insert((*code).to_owned(), json!(if i == which { bad } else { others[i] }));
        }
        let e = invalid(&acute(), &assessment(Value::Object(values)));
        prop_assert_eq!(e.len(), 1, "{:?}", e);
        prop_assert_eq!(e[0].field.clone(), format!("values.{}", FIM[which]));
        prop_assert_eq!(e[0].code, "range");
    }

    #[test]
    fn decimal_values_in_range_are_accepted_and_others_rejected(x in -100.0f64..100.0) {
        let result = validate(&acute(), &assessment(json!({"hba1c": x})));
        if (3.0..=20.0).contains(&x) {
            prop_assert!(result.is_ok(), "{} {:?}", x, result);
        } else {
            match result {
                Err(EntryRejection::Invalid(e)) => {
                    prop_assert_eq!(e.len(), 1);
                    prop_assert_eq!(e[0].field.as_str(), "values.hba1c");
                    prop_assert_eq!(e[0].code, "range");
                }
                other => prop_assert!(false, "{} {:?}", x, other),
            }
        }
    }

    #[test]
    fn integers_are_accepted_exactly_in_range(n in -20i64..20) {
        let result = validate(&acute(), &assessment(json!({"mrs": n})));
        prop_assert_eq!(result.is_ok(), (0..=6).contains(&n));
    }
}
