//! Template variants: the `[[variants]]` list, what a variant overrides, what applies to
//! some variants only, the diagnostics with their lines, the choice at enrolment, and the
//! goal engine reading a plan's variant (with dates).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use renkei_domain::Rule;
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::{EntryFacts, GoalContext, GoalState, GoalStatus, evaluate_goals};
use renkei_domain::template::{
    Diagnostic, GoalTarget, PathwayTemplate, choose_variant, json_schema, parse_template,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::fixture::{LINEAR, PLAN_START, line_of, obj, replace_once, show, t};

/// Two variants of the fixture pathway: `standard` changes nothing, `intensive` allows a
/// longer acute stage and expects a smaller FIM gain.
const VARIANTS: &str = r#"
[[variants]]
code = "standard"
title = { ja = "標準", en = "Standard" }
description = "標準的な経過"

[[variants]]
code = "intensive"
title = { ja = "重症", en = "Severe" }
stages.acute = { expected_days = 30, max_days = 90 }
goals.acute_length = { days = 45, title = { ja = "急性期45日以内", en = "Acute stage within 45 days" } }
goals.fim_gain = { value = 5 }
goals.mrs_good = { value = 3, due_days = 60 }
"#;

fn source() -> String {
    format!("{LINEAR}{VARIANTS}")
}

fn parsed(src: &str) -> PathwayTemplate {
    parse_template(src, Some(("test-path", 1))).unwrap_or_else(|d| panic!("{}", show(&d)))
}

fn errors(src: &str) -> Vec<Diagnostic> {
    match parse_template(src, Some(("test-path", 1))) {
        Ok(_) => panic!("expected the template to be rejected"),
        Err(d) => d,
    }
}

/// Asserts one diagnostic at `path` on `line` whose message contains `text`.
fn expect(diags: &[Diagnostic], path: &str, line: usize, text: &str) {
    let hits: Vec<&Diagnostic> = diags.iter().filter(|d| d.path == path).collect();
    assert_eq!(
        hits.len(),
        1,
        "one diagnostic at `{path}`:\n{}",
        show(diags)
    );
    assert_eq!(hits[0].line, line, "line of `{path}`:\n{}", show(diags));
    assert!(
        hits[0].message.contains(text),
        "message of `{path}` should contain `{text}`: {}",
        hits[0].message
    );
}

fn goal<'a>(t: &'a PathwayTemplate, code: &str) -> &'a renkei_domain::template::Goal {
    t.goals
        .iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("no goal {code}"))
}

#[test]
fn a_template_without_variants_keeps_its_hash_and_needs_no_variant() {
    let plain = parsed(LINEAR);
    assert!(plain.variants.is_empty());
    assert!(!plain.canonical_json().contains("variants"));
    assert_eq!(choose_variant(&plain, None), Ok(None));
    let e = choose_variant(&plain, Some("standard")).expect_err("no variants to choose");
    assert_eq!((e.field.as_str(), e.code), ("variant", Rule::Unknown));
}

#[test]
fn a_variant_is_required_and_must_be_one_of_the_template() {
    let t = parsed(&source());
    let e = choose_variant(&t, None).expect_err("variant required");
    assert_eq!((e.field.as_str(), e.code), ("variant", Rule::Required));
    assert!(e.message.contains("standard, intensive"), "{}", e.message);
    let e = choose_variant(&t, Some("  ")).expect_err("blank is missing");
    assert_eq!(e.code, Rule::Required);
    let e = choose_variant(&t, Some("mild")).expect_err("unknown variant");
    assert_eq!((e.field.as_str(), e.code), ("variant", Rule::Unknown));
    let v = choose_variant(&t, Some("intensive"))
        .expect("known")
        .expect("some");
    assert_eq!(v.title.ja, "重症");
}

#[test]
fn a_variant_overrides_stage_lengths_goal_targets_due_offsets_and_titles() {
    let t = parsed(&source());
    let std = t.for_variant("standard").expect("standard");
    let sev = t.for_variant("intensive").expect("intensive");
    assert!(std.variants.is_empty() && sev.variants.is_empty());
    // The standard variant reads the template as written.
    assert_eq!(std.stages, t.stages);
    assert_eq!(std.goals, t.goals);
    let acute = sev.stage("acute").expect("acute");
    assert_eq!((acute.expected_days, acute.max_days), (Some(30), Some(90)));
    assert_eq!(
        sev.stage("recovery").map(|s| s.max_days),
        t.stage("recovery").map(|s| s.max_days)
    );
    match &goal(&sev, "acute_length").target {
        GoalTarget::StageLength { days, .. } => assert_eq!(*days, 45),
        other => panic!("{other:?}"),
    }
    assert_eq!(goal(&sev, "acute_length").title.ja, "急性期45日以内");
    match &goal(&sev, "fim_gain").target {
        GoalTarget::Change { value, .. } => assert_eq!(*value, 5.0),
        other => panic!("{other:?}"),
    }
    let mrs = goal(&sev, "mrs_good");
    assert_eq!(mrs.due.as_ref().map(|d| d.days), Some(60));
    match &mrs.target {
        GoalTarget::Threshold { value, .. } => assert_eq!(*value, 3.0),
        other => panic!("{other:?}"),
    }
    assert!(t.for_variant("mild").is_none());
}

#[test]
fn stages_items_goals_and_schedule_rules_may_apply_to_some_variants_only() {
    let src = replace_once(
        &source(),
        "code = \"eye_yearly\"\n",
        "code = \"eye_yearly\"\nvariants = [\"standard\"]\n",
    );
    let src = replace_once(
        &src,
        "code = \"memo\"\n",
        "code = \"memo\"\nvariants = [\"intensive\"]\n",
    );
    let t = parsed(&src);
    let std = t.for_variant("standard").expect("standard");
    let sev = t.for_variant("intensive").expect("intensive");
    assert!(std.goals.iter().any(|g| g.code == "eye_yearly"));
    assert!(!sev.goals.iter().any(|g| g.code == "eye_yearly"));
    assert!(std.item("memo").is_none());
    assert!(sev.item("memo").is_some());
    assert_eq!(sev.goals.len() + 1, t.goals.len());
    assert!(
        std.goals
            .iter()
            .chain(&sev.goals)
            .all(|g| g.variants.is_empty())
    );
    assert!(
        std.items
            .iter()
            .chain(&sev.items)
            .all(|i| i.variants.is_empty())
    );
}

#[test]
fn a_stage_left_out_of_a_variant_leaves_the_items_recordable_only_there_out() {
    // `home` applies to the standard variant only; items recordable in home keep their
    // other stages, goals on home must be left out of the intensive variant too.
    let src = replace_once(
        LINEAR,
        "provider_kinds = [\"clinic\", \"visit_nurse\", \"care_manager\"]\n",
        "provider_kinds = [\"clinic\", \"visit_nurse\", \"care_manager\"]\nvariants = [\"standard\"]\n",
    );
    let src = format!(
        "{src}{}",
        VARIANTS.replace("goals.mrs_good = { value = 3, due_days = 60 }\n", "")
    );
    let t = parsed(&src);
    let sev = t.for_variant("intensive").expect("intensive");
    assert!(sev.stage("home").is_none());
    assert_eq!(sev.next_stages("recovery"), Vec::<String>::new());
    assert!(
        sev.items
            .iter()
            .all(|i| !i.stages.iter().any(|s| s == "home"))
    );
    let std = t.for_variant("standard").expect("standard");
    assert_eq!(std.next_stages("recovery"), vec!["home".to_owned()]);
}

#[test]
fn variant_diagnostics_name_the_line_of_the_offending_override_or_list() {
    let src = source()
        + r#"
[[variants]]
code = "Bad-Code"
title = { ja = "", en = "x" }
stages.nowhere = { max_days = 10 }
stages.recovery = {}
goals.no_such_goal = { value = 1 }
goals.discharge_home = { days = 3 }
goals.hba1c_band = { due_days = 30 }
"#;
    let src = replace_once(
        &src,
        "code = \"eye_yearly\"\n",
        "code = \"eye_yearly\"\nvariants = [\"mild\", \"standard\", \"standard\"]\n",
    );
    let d = errors(&src);
    let line = |needle: &str| line_of(&src, needle);
    expect(
        &d,
        "variants[2].code",
        line("code = \"Bad-Code\""),
        "snake_case",
    );
    expect(
        &d,
        "variants[2].title.ja",
        line("title = { ja = \"\", en = \"x\" }"),
        "Japanese title",
    );
    expect(
        &d,
        "variants[2].stages.nowhere",
        line("stages.nowhere"),
        "unknown stage `nowhere`",
    );
    expect(
        &d,
        "variants[2].stages.recovery",
        line("stages.recovery = {}"),
        "overrides nothing",
    );
    expect(
        &d,
        "variants[2].goals.no_such_goal",
        line("goals.no_such_goal"),
        "unknown goal `no_such_goal`",
    );
    expect(
        &d,
        "variants[2].goals.discharge_home.days",
        line("goals.discharge_home"),
        "does not apply to goal `discharge_home` of kind membership",
    );
    expect(
        &d,
        "variants[2].goals.hba1c_band.due_days",
        line("goals.hba1c_band"),
        "has no `due`",
    );
    let eye = line("variants = [\"mild\", \"standard\", \"standard\"]");
    expect(&d, "goals[6].variants[0]", eye, "unknown variant `mild`");
    expect(&d, "goals[6].variants[2]", eye, "listed twice");
}

#[test]
fn one_variant_is_no_branch_and_the_first_stage_belongs_to_every_variant() {
    let one = format!(
        "{LINEAR}\n[[variants]]\ncode = \"only\"\ntitle = {{ ja = \"唯一\", en = \"Only\" }}\n"
    );
    let d = errors(&one);
    expect(
        &d,
        "variants[0].code",
        line_of(&one, "code = \"only\""),
        "at least two",
    );
    let src = replace_once(
        &source(),
        "provider_kinds = [\"acute_hosp\"]\n",
        "provider_kinds = [\"acute_hosp\"]\nvariants = [\"standard\"]\n",
    );
    let d = errors(&src);
    expect(
        &d,
        "stages[0].variants",
        line_of(&src, "variants = [\"standard\"]"),
        "every plan starts there",
    );
    let no_list = replace_once(
        LINEAR,
        "code = \"eye_yearly\"\n",
        "code = \"eye_yearly\"\nvariants = [\"standard\"]\n",
    );
    let d = errors(&no_list);
    expect(
        &d,
        "goals[6].variants[0]",
        line_of(&no_list, "variants = [\"standard\"]"),
        "lists no [[variants]]",
    );
}

#[test]
fn each_variant_must_make_a_valid_template_reported_at_the_line_in_the_file() {
    // The FIM-gain goal reads `fim_total`; leaving the FIM total out of the intensive
    // variant breaks the goal there (and only there).
    let src = replace_once(
        &source(),
        "code = \"fim_total\"\n",
        "code = \"fim_total\"\nvariants = [\"standard\"]\n",
    );
    let d = errors(&src);
    let fim_gain = line_of(&src, "code = \"fim_gain\"");
    let hits: Vec<&Diagnostic> = d
        .iter()
        .filter(|x| x.path.starts_with("goals[2].target"))
        .collect();
    assert!(!hits.is_empty(), "{}", show(&d));
    for h in &hits {
        assert!(
            h.message.starts_with("in variant `intensive`:"),
            "{}",
            h.message
        );
        assert!(h.line > fim_gain && h.line < fim_gain + 4, "{h}");
    }
    // An override that makes the planned length exceed the limit.
    let src = source().replace(
        "stages.acute = { expected_days = 30, max_days = 90 }",
        "stages.acute = { expected_days = 100, max_days = 90 }",
    );
    let d = errors(&src);
    let acute = d
        .iter()
        .find(|x| x.path == "stages[0].expected_days")
        .unwrap_or_else(|| panic!("{}", show(&d)));
    assert!(acute.message.contains("in variant `intensive`"));
    assert!(acute.message.contains("greater than max_days 90"));
    assert_eq!(acute.line, line_of(&src, "expected_days = 14"));
}

#[test]
fn the_json_schema_describes_variants_and_their_overrides() {
    let schema = json_schema().to_string();
    for key in [
        "\"variants\"",
        "StageOverride",
        "GoalOverride",
        "\"due_days\"",
        "\"max_hours\"",
    ] {
        assert!(schema.contains(key), "schema lacks {key}");
    }
}

// ---------------------------------------------------------------------------------------
// The goal engine on a plan's variant, with dates.

fn d0() -> DateTime<Utc> {
    t("2026-11-01T10:00:00+09:00")
}

fn entry(seq: i64, stage: &str, kind: EntryKind, at: DateTime<Utc>, values: Value) -> EntryFacts {
    EntryFacts {
        id: Uuid::from_u128(seq as u128),
        seq,
        stage: stage.to_owned(),
        kind,
        effective_at: at,
        recorded_at: at,
        values: obj(values),
        amends: None,
    }
}

fn judge(t: &PathwayTemplate, entries: &[EntryFacts], code: &str, at: DateTime<Utc>) -> GoalStatus {
    evaluate_goals(
        t,
        &GoalContext::at(super::fixture::t(PLAN_START), None, at),
        entries,
    )
    .into_iter()
    .find(|g| g.code == code)
    .unwrap_or_else(|| panic!("no goal {code}"))
}

#[test]
fn a_stage_of_30_days_meets_the_intensive_limit_and_misses_the_standard_one() {
    let t = parsed(&source());
    let std = t.for_variant("standard").expect("standard");
    let sev = t.for_variant("intensive").expect("intensive");
    let log = vec![
        entry(1, "acute", EntryKind::StageStart, d0(), json!({})),
        entry(
            2,
            "acute",
            EntryKind::StageEnd,
            d0() + Duration::days(29),
            json!({}),
        ),
    ];
    let at = d0() + Duration::days(40);
    let s = judge(&std, &log, "acute_length", at);
    let v = judge(&sev, &log, "acute_length", at);
    assert_eq!((s.status, v.status), (GoalState::NotMet, GoalState::Met));
    // The last day on time: 21 days from 2026-11-01 is 11-21, 45 days is 12-15.
    assert_eq!(
        s.due_date,
        Some(NaiveDate::from_ymd_opt(2026, 11, 21).expect("date"))
    );
    assert_eq!(
        v.due_date,
        Some(NaiveDate::from_ymd_opt(2026, 12, 15).expect("date"))
    );
    // While the stage runs, day 30 is overdue on the standard variant only.
    let running = &log[..1];
    let at = d0() + Duration::days(30);
    assert_eq!(
        judge(&std, running, "acute_length", at).status,
        GoalState::Overdue
    );
    assert_eq!(
        judge(&sev, running, "acute_length", at).status,
        GoalState::Pending
    );
}

#[test]
fn the_due_offset_and_target_of_a_threshold_goal_follow_the_variant() {
    let t = parsed(&source());
    let std = t.for_variant("standard").expect("standard");
    let sev = t.for_variant("intensive").expect("intensive");
    let start = vec![entry(1, "acute", EntryKind::StageStart, d0(), json!({}))];
    // Day 30, no mRS yet: overdue after 21 days, pending until 60.
    let at = d0() + Duration::days(30);
    assert_eq!(
        judge(&std, &start, "mrs_good", at).status,
        GoalState::Overdue
    );
    assert_eq!(
        judge(&sev, &start, "mrs_good", at).status,
        GoalState::Pending
    );
    let mut log = start.clone();
    log.push(entry(
        2,
        "acute",
        EntryKind::Assessment,
        d0() + Duration::days(5),
        json!({"mrs": 3}),
    ));
    let at = d0() + Duration::days(6);
    assert_eq!(judge(&std, &log, "mrs_good", at).status, GoalState::NotMet);
    assert_eq!(judge(&sev, &log, "mrs_good", at).status, GoalState::Met);
}

proptest! {
    /// For any stage-length override, the resolved goal is met exactly when the stay is
    /// within it, and the other variant keeps the template's 21 days.
    #[test]
    fn a_stage_length_override_decides_the_goal(limit in 1u32..200, stay in 0i64..220) {
        let src = source().replace("goals.acute_length = { days = 45,", &format!("goals.acute_length = {{ days = {limit},"));
        let t = parsed(&src);
        let sev = t.for_variant("intensive").expect("intensive");
        let std = t.for_variant("standard").expect("standard");
        let log = vec![
            entry(1, "acute", EntryKind::StageStart, d0(), json!({})),
            entry(2, "acute", EntryKind::StageEnd, d0() + Duration::days(stay), json!({})),
        ];
        let at = d0() + Duration::days(stay + 1);
        // Calendar days, the first day counting as day 1.
        let days = stay + 1;
        let want = |limit: i64| if days <= limit { GoalState::Met } else { GoalState::NotMet };
        prop_assert_eq!(judge(&sev, &log, "acute_length", at).status, want(limit as i64));
        prop_assert_eq!(judge(&std, &log, "acute_length", at).status, want(21));
    }

    /// Resolving keeps exactly what applies to the variant, in template order.
    #[test]
    fn resolving_keeps_what_applies_in_order(mask in proptest::collection::vec(0u8..3, 7)) {
        // 0: every variant, 1: standard only, 2: intensive only — for each fixture goal.
        let base = parsed(&source());
        let mut t = base.clone();
        for (g, m) in t.goals.iter_mut().zip(&mask) {
            g.variants = match m {
                1 => vec!["standard".into()],
                2 => vec!["intensive".into()],
                _ => vec![],
            };
        }
        for (code, other) in [("standard", 2u8), ("intensive", 1u8)] {
            let r = t.for_variant(code).expect("variant");
            let want: Vec<&str> = base
                .goals
                .iter()
                .zip(&mask)
                .filter(|(_, m)| **m != other)
                .map(|(g, _)| g.code.as_str())
                .collect();
            let got: Vec<&str> = r.goals.iter().map(|g| g.code.as_str()).collect();
            prop_assert_eq!(got, want);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The published templates with variants.

fn published(code: &str, version: u32) -> PathwayTemplate {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pathways")
        .join(code)
        .join(format!("v{version}.toml"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_template(&src, Some((code, version)))
        .unwrap_or_else(|d| panic!("{} is invalid:\n{}", path.display(), show(&d)))
}

#[test]
fn stroke_v3_branches_on_the_recovery_limit_and_changes_nothing_else() {
    let v2 = published("stroke", 2);
    let v3 = published("stroke", 3);
    let codes: Vec<&str> = v3.variants.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(codes, ["standard", "severe_higher_brain_dysfunction"]);
    assert!(v2.variants.is_empty());
    for (code, limit) in [("standard", 150), ("severe_higher_brain_dysfunction", 180)] {
        let r = v3.for_variant(code).expect("variant");
        assert_eq!(r.stage("recovery").and_then(|s| s.max_days), Some(limit));
        let g4 = goal(&r, "g4_recovery_within_limit");
        match &g4.target {
            GoalTarget::StageLength { stage, days, .. } => {
                assert_eq!((stage.as_str(), *days), ("recovery", limit));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(g4.due.as_ref().map(|d| d.days), Some(limit));
        assert!(
            g4.title.ja.contains(&format!("{limit}日")),
            "{}",
            g4.title.ja
        );
        // Every other goal, item and stage is v2's.
        assert_eq!(r.items, v2.items);
        assert_eq!(r.goals.len(), v2.goals.len());
        for (a, b) in r.goals.iter().zip(&v2.goals) {
            if a.code != "g4_recovery_within_limit" {
                assert_eq!(a, b);
            }
        }
        assert_eq!(r.stage("acute"), v2.stage("acute"));
        assert_eq!(r.stage("home"), v2.stage("home"));
    }
}

#[test]
fn femur_v3_records_the_operation_without_changing_a_value() {
    let v2 = published("femur-fracture", 2);
    let v3 = published("femur-fracture", 3);
    let codes: Vec<&str> = v3.variants.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(codes, ["osteosynthesis", "hemiarthroplasty"]);
    for code in codes {
        let r = v3.for_variant(code).expect("variant");
        assert_eq!(
            (&r.stages, &r.items, &r.goals),
            (&v2.stages, &v2.items, &v2.goals)
        );
        assert_eq!(r.schedule, v2.schedule);
    }
}

#[test]
fn a_recovery_stay_of_160_days_meets_the_180_day_variant_only() {
    let v3 = published("stroke", 3);
    let start = t("2026-01-05T10:00:00+09:00");
    let log = vec![
        entry(1, "acute", EntryKind::StageStart, start, json!({})),
        entry(
            2,
            "acute",
            EntryKind::StageEnd,
            start + Duration::days(14),
            json!({}),
        ),
        entry(
            3,
            "recovery",
            EntryKind::StageStart,
            start + Duration::days(14),
            json!({}),
        ),
        entry(
            4,
            "recovery",
            EntryKind::StageEnd,
            start + Duration::days(173),
            json!({}),
        ),
    ];
    let at = start + Duration::days(200);
    let judge_in = |code: &str| {
        let r = v3.for_variant(code).expect("variant");
        evaluate_goals(&r, &GoalContext::at(start, None, at), &log)
            .into_iter()
            .find(|g| g.code == "g4_recovery_within_limit")
            .expect("g4")
    };
    let standard = judge_in("standard");
    let severe = judge_in("severe_higher_brain_dysfunction");
    assert_eq!(standard.status, GoalState::NotMet);
    assert_eq!(severe.status, GoalState::Met);
    assert_eq!(
        severe.latest.as_ref().map(|l| l.value.clone()),
        Some(json!(160))
    );
    // Recovery from 2026-01-19: due (`due_days`) 150 days later, 06-18, or 180, 07-18.
    assert_eq!(
        standard.due_date,
        Some(NaiveDate::from_ymd_opt(2026, 6, 18).expect("date"))
    );
    assert_eq!(
        severe.due_date,
        Some(NaiveDate::from_ymd_opt(2026, 7, 18).expect("date"))
    );
}
