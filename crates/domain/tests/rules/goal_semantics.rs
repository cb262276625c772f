//! Goal semantics: scope, mode, applicability, below/above range, Tokyo calendar days,
//! change goals from subtotals, following targets, and the template checks of them.
//! Each test writes the goals it needs into the fixture pathway.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::{
    DeviationDirection, EntryFacts, GoalContext, GoalState, GoalStatus, evaluate_goals,
};
use renkei_domain::template::{PathwayTemplate, parse_template};
use serde_json::{Value, json};
use uuid::Uuid;

use super::fixture::{LINEAR, obj, t};

/// Items the fixture lacks, for conditions and windows.
const EXTRA_ITEMS: &str = r#"
[[items]]
code = "severe_hypo"
title = { ja = "重症低血糖", en = "Severe hypoglycaemia" }
type = "integer"
min = 0
max = 20
stages = ["acute", "recovery", "home"]

[[items]]
code = "subtype"
title = { ja = "病型", en = "Subtype" }
type = "choice"
options = [
  { code = "athero", title = { ja = "アテローム血栓性", en = "Atherothrombotic" } },
  { code = "lacunar", title = { ja = "ラクナ", en = "Lacunar" } },
]
stages = ["acute", "recovery", "home"]

[[items]]
code = "diabetes"
title = { ja = "糖尿病", en = "Diabetes" }
type = "boolean"
stages = ["acute", "recovery", "home"]

[[items]]
code = "fasting"
title = { ja = "空腹時", en = "Fasting" }
type = "boolean"
stages = ["acute", "recovery", "home"]

[[items]]
code = "tg"
title = { ja = "中性脂肪", en = "Triglycerides" }
type = "integer"
min = 10
max = 3000
stages = ["acute", "recovery", "home"]

[[items]]
code = "loading_at"
title = { ja = "荷重開始日時", en = "Loading started" }
type = "datetime"
stages = ["acute"]

"#;

/// The fixture pathway with its goals replaced by `goals` (TOML `[[goals]]` blocks).
fn template(goals: &str) -> PathwayTemplate {
    let first_goal = LINEAR.find("[[goals]]").unwrap();
    let variances = LINEAR.find("[[variances]]").unwrap();
    let source = format!(
        "{}{EXTRA_ITEMS}{goals}\n{}",
        &LINEAR[..first_goal],
        &LINEAR[variances..]
    );
    parse_template(&source, None).unwrap_or_else(|e| panic!("template: {e:?}"))
}

fn template_errors(goals: &str) -> Vec<String> {
    let first_goal = LINEAR.find("[[goals]]").unwrap();
    let variances = LINEAR.find("[[variances]]").unwrap();
    let source = format!(
        "{}{EXTRA_ITEMS}{goals}\n{}",
        &LINEAR[..first_goal],
        &LINEAR[variances..]
    );
    match parse_template(&source, None) {
        Ok(_) => Vec::new(),
        Err(diags) => diags
            .into_iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect(),
    }
}

#[derive(Default)]
struct Log {
    entries: Vec<EntryFacts>,
}

impl Log {
    fn add(
        &mut self,
        stage: &str,
        kind: EntryKind,
        at: DateTime<Utc>,
        values: Value,
        amends: Option<Uuid>,
    ) -> Uuid {
        let seq = self.entries.len() as i64 + 1;
        let id = Uuid::from_u128(seq as u128);
        self.entries.push(EntryFacts {
            id,
            seq,
            stage: stage.into(),
            kind,
            effective_at: at,
            recorded_at: at,
            values: obj(values),
            amends,
        });
        id
    }
    fn start(&mut self, stage: &str, at: &str) -> Uuid {
        self.add(stage, EntryKind::StageStart, t(at), json!({}), None)
    }
    fn end(&mut self, stage: &str, at: &str, values: Value) -> Uuid {
        self.add(stage, EntryKind::StageEnd, t(at), values, None)
    }
    fn value(&mut self, stage: &str, at: &str, values: Value) -> Uuid {
        self.add(stage, EntryKind::Assessment, t(at), values, None)
    }
}

const PLAN_START: &str = "2027-01-01T09:00:00+09:00";

fn judge(
    tpl: &PathwayTemplate,
    log: &Log,
    code: &str,
    as_of: &str,
    birth: Option<NaiveDate>,
) -> GoalStatus {
    let ctx = GoalContext::at(t(PLAN_START), birth, t(as_of));
    evaluate_goals(tpl, &ctx, &log.entries)
        .into_iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("no goal {code}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn latest_value(g: &GoalStatus) -> Value {
    g.latest
        .as_ref()
        .map(|l| l.value.clone())
        .unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------
// Scope.

const HOME_HBA1C: &str = r#"
[[goals]]
code = "home_hba1c"
title = { ja = "HbA1c 7.0%未満", en = "HbA1c below 7.0%" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
due = { stage = "home", at = "start", months = 6 }
scope = { kind = "stage", stage = "home", at = "during" }
"#;

#[test]
fn an_acute_value_does_not_satisfy_a_home_stage_goal() {
    let tpl = template(HOME_HBA1C);
    let mut log = Log::default();
    log.start("acute", "2027-01-01T10:00:00+09:00");
    log.value("acute", "2027-01-02T10:00:00+09:00", json!({"hba1c": 6.5}));
    log.end("acute", "2027-01-10T10:00:00+09:00", json!({}));
    log.start("home", "2027-01-10T15:00:00+09:00");
    let g = judge(&tpl, &log, "home_hba1c", "2027-02-01T00:00:00+09:00", None);
    assert_eq!((g.status, g.latest.clone()), (GoalState::Pending, None));
    assert_eq!(g.due_date, Some(date(2027, 7, 10)));
    // Past the due date with no home value: overdue, not met by the acute value.
    let g = judge(&tpl, &log, "home_hba1c", "2027-07-11T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::Overdue);
    log.value("home", "2027-03-01T10:00:00+09:00", json!({"hba1c": 7.4}));
    let g = judge(&tpl, &log, "home_hba1c", "2027-03-02T00:00:00+09:00", None);
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::NotMet, json!(7.4))
    );
    let d = g.deviation.unwrap();
    assert_eq!(
        (d.direction, d.bound),
        (DeviationDirection::AboveRange, 7.0)
    );
}

const RETURN_HOME: &str = r#"
[[goals]]
code = "return_home"
title = { ja = "自宅退院", en = "Return home" }
target = { kind = "membership", item = "destination", values = ["home", "residential"] }
due = { stage = "recovery", at = "end" }
"#;

#[test]
fn an_acute_destination_does_not_judge_the_recovery_discharge() {
    let tpl = template(RETURN_HOME);
    let mut log = Log::default();
    log.start("acute", "2027-01-01T10:00:00+09:00");
    log.end(
        "acute",
        "2027-01-15T10:00:00+09:00",
        json!({"destination": "hospital"}),
    );
    log.start("recovery", "2027-01-15T14:00:00+09:00");
    // Without a scope the goal reads the stage of its due date: the recovery stay.
    let g = judge(&tpl, &log, "return_home", "2027-03-01T00:00:00+09:00", None);
    assert_eq!((g.status, g.latest.clone()), (GoalState::Pending, None));
    log.end(
        "recovery",
        "2027-04-01T10:00:00+09:00",
        json!({"destination": "home"}),
    );
    let g = judge(&tpl, &log, "return_home", "2027-04-02T00:00:00+09:00", None);
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::Met, json!("home"))
    );
}

#[test]
fn a_cyclical_pathways_goal_without_a_scope_reads_the_whole_plan() {
    let mut tpl = template(HOME_HBA1C.replace("scope = ", "# scope = ").as_str());
    let mut log = Log::default();
    log.start("acute", "2027-01-01T10:00:00+09:00");
    log.value("acute", "2027-01-02T10:00:00+09:00", json!({"hba1c": 6.5}));
    log.start("home", "2027-01-10T15:00:00+09:00");
    let g = judge(&tpl, &log, "home_hba1c", "2027-02-01T00:00:00+09:00", None);
    assert_eq!(
        g.status,
        GoalState::Pending,
        "linear: the stage of the due date"
    );
    tpl.cyclical = true;
    let g = judge(&tpl, &log, "home_hba1c", "2027-02-01T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::Met, "cyclical: the whole plan");
}

const AT_START_AND_END: &str = r#"
[[goals]]
code = "admission_mrs"
title = { ja = "入院時 mRS", en = "mRS at admission" }
target = { kind = "threshold", item = "mrs", op = "<=", value = 3 }
scope = { kind = "stage", stage = "recovery", at = "start" }

[[goals]]
code = "osteo_at_transfer"
title = { ja = "転院時の骨粗鬆症治療", en = "Osteoporosis treatment at transfer" }
target = { kind = "membership", item = "walk_cat", values = ["independent", "supervised"] }
scope = { kind = "stage", stage = "acute", at = "end" }
"#;

#[test]
fn stage_start_reads_the_first_tokyo_day_and_stage_end_waits_for_the_end() {
    let tpl = template(AT_START_AND_END);
    let mut log = Log::default();
    log.start("acute", "2027-01-01T10:00:00+09:00");
    log.value(
        "acute",
        "2027-01-05T10:00:00+09:00",
        json!({"walk_cat": "assisted"}),
    );
    // A value of the stage before it ended is shown but not judged.
    let g = judge(
        &tpl,
        &log,
        "osteo_at_transfer",
        "2027-01-06T00:00:00+09:00",
        None,
    );
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::Pending, json!("assisted"))
    );
    log.end(
        "acute",
        "2027-01-10T10:00:00+09:00",
        json!({"walk_cat": "supervised"}),
    );
    // Recovery starts late in the evening; an assessment at 23:30 is the same Tokyo day.
    log.start("recovery", "2027-01-10T22:00:00+09:00");
    log.value("recovery", "2027-01-10T23:30:00+09:00", json!({"mrs": 3}));
    log.value("recovery", "2027-01-11T00:30:00+09:00", json!({"mrs": 5}));
    // Later stages do not flip the acute-end goal.
    log.value(
        "recovery",
        "2027-01-20T10:00:00+09:00",
        json!({"walk_cat": "unable"}),
    );
    let g = judge(
        &tpl,
        &log,
        "osteo_at_transfer",
        "2027-02-01T00:00:00+09:00",
        None,
    );
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::Met, json!("supervised"))
    );
    let g = judge(
        &tpl,
        &log,
        "admission_mrs",
        "2027-02-01T00:00:00+09:00",
        None,
    );
    assert_eq!((g.status, latest_value(&g)), (GoalState::Met, json!(3)));
}

const WINDOWS: &str = r#"
[[goals]]
code = "hba1c_rolling"
title = { ja = "直近3か月", en = "Last 3 months" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
scope = { kind = "rolling", months = 3 }

[[goals]]
code = "hba1c_before_due"
title = { ja = "期限前1か月", en = "Month before due" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
due = { stage = "home", at = "start", months = 6 }
scope = { kind = "before_due", months = 1 }

[[goals]]
code = "hypo_since_eye"
title = { ja = "眼科受診以降", en = "Since the eye check" }
target = { kind = "threshold", item = "severe_hypo", op = ">=", value = 1 }
mode = "none"
scope = { kind = "since_visit", schedule = "eye_check" }
"#;

#[test]
fn rolling_before_due_and_since_visit_windows() {
    let tpl = template(WINDOWS);
    let mut log = Log::default();
    log.start("home", "2027-01-01T10:00:00+09:00");
    log.value(
        "home",
        "2027-01-15T10:00:00+09:00",
        json!({"hba1c": 6.5, "severe_hypo": 1}),
    );
    let g = judge(
        &tpl,
        &log,
        "hba1c_rolling",
        "2027-04-15T23:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::Met);
    // 2027-04-16 − 3 months = 2027-01-16: the January value has left the window.
    let g = judge(
        &tpl,
        &log,
        "hba1c_rolling",
        "2027-04-16T00:00:00+09:00",
        None,
    );
    assert_eq!((g.status, g.latest.clone()), (GoalState::Pending, None));

    // Due 2027-07-01; the window opens 2027-06-01.
    let g = judge(
        &tpl,
        &log,
        "hba1c_before_due",
        "2027-06-15T00:00:00+09:00",
        None,
    );
    assert_eq!(
        (g.status, g.due_date),
        (GoalState::Pending, Some(date(2027, 7, 1)))
    );
    log.value("home", "2027-06-01T08:00:00+09:00", json!({"hba1c": 7.2}));
    let g = judge(
        &tpl,
        &log,
        "hba1c_before_due",
        "2027-06-15T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::NotMet);

    // No eye check yet: since the plan's start, the January event counts.
    let g = judge(
        &tpl,
        &log,
        "hypo_since_eye",
        "2027-02-01T00:00:00+09:00",
        None,
    );
    assert_eq!((g.status, latest_value(&g)), (GoalState::NotMet, json!(1)));
    // An eye check recorded as not done does not open a new window.
    log.value(
        "home",
        "2027-02-10T10:00:00+09:00",
        json!({"eye_exam": false}),
    );
    let g = judge(
        &tpl,
        &log,
        "hypo_since_eye",
        "2027-02-11T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::NotMet);
    log.value(
        "home",
        "2027-02-20T10:00:00+09:00",
        json!({"eye_exam": true, "severe_hypo": 0}),
    );
    let g = judge(
        &tpl,
        &log,
        "hypo_since_eye",
        "2027-02-21T00:00:00+09:00",
        None,
    );
    assert_eq!((g.status, latest_value(&g)), (GoalState::Met, json!(0)));
}

// ---------------------------------------------------------------------------------------
// Modes.

const MODES: &str = r#"
[[goals]]
code = "no_severe_hypo"
title = { ja = "重症低血糖なし", en = "No severe hypoglycaemia" }
target = { kind = "threshold", item = "severe_hypo", op = ">=", value = 1 }
mode = "none"
due = { stage = "home", at = "start", months = 6 }
scope = { kind = "before_due", months = 6 }

[[goals]]
code = "ever_walks"
title = { ja = "一度でも自立歩行", en = "Walked independently once" }
target = { kind = "membership", item = "walk_cat", values = ["independent"] }
mode = "any"

[[goals]]
code = "eye_yearly"
title = { ja = "年1回眼科", en = "Eye exam yearly" }
target = { kind = "done_within", item = "eye_exam", months = 12 }
"#;

#[test]
fn one_severe_hypoglycaemia_then_none_in_the_window_is_not_met() {
    let tpl = template(MODES);
    let mut log = Log::default();
    log.start("home", "2027-01-01T10:00:00+09:00");
    let g = judge(
        &tpl,
        &log,
        "no_severe_hypo",
        "2027-02-01T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::Pending);
    let g = judge(
        &tpl,
        &log,
        "no_severe_hypo",
        "2027-07-02T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::Overdue);
    let hypo = log.value(
        "home",
        "2027-03-01T10:00:00+09:00",
        json!({"severe_hypo": 1}),
    );
    log.value(
        "home",
        "2027-04-01T10:00:00+09:00",
        json!({"severe_hypo": 0}),
    );
    let g = judge(
        &tpl,
        &log,
        "no_severe_hypo",
        "2027-04-02T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::NotMet);
    assert_eq!(g.latest.as_ref().map(|l| l.entry_id), Some(hypo));
    assert_eq!(g.deviation, None);
    // Only zeros: met.
    let mut zeros = Log::default();
    zeros.start("home", "2027-01-01T10:00:00+09:00");
    zeros.value(
        "home",
        "2027-03-01T10:00:00+09:00",
        json!({"severe_hypo": 0}),
    );
    let g = judge(
        &tpl,
        &zeros,
        "no_severe_hypo",
        "2027-04-02T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::Met);
}

#[test]
fn any_mode_is_met_by_one_value_and_done_counts_only_true() {
    let tpl = template(MODES);
    let mut log = Log::default();
    log.start("acute", "2027-01-01T10:00:00+09:00");
    log.value(
        "acute",
        "2027-01-05T10:00:00+09:00",
        json!({"walk_cat": "assisted"}),
    );
    let g = judge(&tpl, &log, "ever_walks", "2027-01-06T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::NotMet);
    log.value(
        "acute",
        "2027-01-08T10:00:00+09:00",
        json!({"walk_cat": "independent"}),
    );
    log.value(
        "acute",
        "2027-01-09T10:00:00+09:00",
        json!({"walk_cat": "supervised"}),
    );
    let g = judge(&tpl, &log, "ever_walks", "2027-01-10T00:00:00+09:00", None);
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::Met, json!("independent"))
    );

    // An exam recorded as not done does not restart the twelve months.
    let mut log = Log::default();
    log.value(
        "home",
        "2027-02-01T10:00:00+09:00",
        json!({"eye_exam": true}),
    );
    log.value(
        "home",
        "2027-12-01T10:00:00+09:00",
        json!({"eye_exam": false}),
    );
    let g = judge(&tpl, &log, "eye_yearly", "2028-01-15T00:00:00+09:00", None);
    assert_eq!(
        (g.status, g.due_date),
        (GoalState::Met, Some(date(2028, 2, 1)))
    );
    let g = judge(&tpl, &log, "eye_yearly", "2028-02-02T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::Overdue);
}

// ---------------------------------------------------------------------------------------
// Applicability.

const CONDITIONAL: &str = r#"
[[goals]]
code = "ldl_athero"
title = { ja = "LDL 70未満", en = "LDL below 70" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
due = { stage = "acute", at = "start", days = 30 }
applies_when = [
  { kind = "choice", item = "subtype", in = ["athero"] },
  { kind = "flag", item = "diabetes", value = true },
]

[[goals]]
code = "elderly_band"
title = { ja = "高齢者 HbA1c", en = "Elderly HbA1c" }
target = { kind = "range", item = "hba1c", min = 7.0, max = 8.0 }
applies_when = [{ kind = "age", op = ">=", value = 75 }]

[[goals]]
code = "tg_fasting"
title = { ja = "空腹時 TG", en = "Fasting TG" }
target = { kind = "threshold", item = "tg", op = "<", value = 150 }
applies_when = [{ kind = "flag", item = "fasting", value = true }]

[[goals]]
code = "tg_casual"
title = { ja = "随時 TG", en = "Non-fasting TG" }
target = { kind = "threshold", item = "tg", op = "<", value = 175 }
applies_when = [{ kind = "flag", item = "fasting", value = false }]
"#;

#[test]
fn a_goal_whose_condition_fails_is_not_applicable_never_overdue() {
    let tpl = template(CONDITIONAL);
    let mut log = Log::default();
    log.start("acute", "2027-01-01T10:00:00+09:00");
    // Nothing recorded about the condition: not applicable, even past the due date.
    let g = judge(&tpl, &log, "ldl_athero", "2027-03-01T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::NotApplicable);
    log.value(
        "acute",
        "2027-01-02T10:00:00+09:00",
        json!({"subtype": "lacunar", "diabetes": true}),
    );
    let g = judge(&tpl, &log, "ldl_athero", "2027-03-01T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::NotApplicable);
    log.value(
        "acute",
        "2027-01-03T10:00:00+09:00",
        json!({"subtype": "athero"}),
    );
    let g = judge(&tpl, &log, "ldl_athero", "2027-03-01T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::Overdue);
    log.value("acute", "2027-01-04T10:00:00+09:00", json!({"hba1c": 6.8}));
    let g = judge(&tpl, &log, "ldl_athero", "2027-03-01T00:00:00+09:00", None);
    assert_eq!(g.status, GoalState::Met);
}

#[test]
fn an_age_condition_needs_the_birth_date_and_counts_tokyo_birthdays() {
    let tpl = template(CONDITIONAL);
    let mut log = Log::default();
    log.value("home", "2027-01-05T10:00:00+09:00", json!({"hba1c": 6.6}));
    let g = judge(
        &tpl,
        &log,
        "elderly_band",
        "2027-01-10T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::NotApplicable);
    let birth = Some(date(1952, 1, 10));
    // 74 until the Tokyo day of the 75th birthday.
    let g = judge(
        &tpl,
        &log,
        "elderly_band",
        "2027-01-09T23:59:00+09:00",
        birth,
    );
    assert_eq!(g.status, GoalState::NotApplicable);
    let g = judge(
        &tpl,
        &log,
        "elderly_band",
        "2027-01-10T00:00:00+09:00",
        birth,
    );
    assert_eq!(g.status, GoalState::NotMet);
    let d = g.deviation.unwrap();
    assert_eq!(
        (d.direction, d.bound),
        (DeviationDirection::BelowRange, 7.0)
    );
}

#[test]
fn a_condition_recorded_with_the_value_reads_that_entry() {
    let tpl = template(CONDITIONAL);
    let mut log = Log::default();
    log.value(
        "home",
        "2027-01-05T10:00:00+09:00",
        json!({"tg": 160, "fasting": false}),
    );
    // A later record of the flag alone does not change how the January TG was taken.
    log.value(
        "home",
        "2027-01-06T10:00:00+09:00",
        json!({"fasting": true}),
    );
    let casual = judge(&tpl, &log, "tg_casual", "2027-01-07T00:00:00+09:00", None);
    let fasting = judge(&tpl, &log, "tg_fasting", "2027-01-07T00:00:00+09:00", None);
    assert_eq!(casual.status, GoalState::Met);
    assert_eq!(fasting.status, GoalState::NotApplicable);
}

// ---------------------------------------------------------------------------------------
// Below and above range.

const BANDS: &str = r#"
[[goals]]
code = "band"
title = { ja = "HbA1c 7.0–8.0", en = "HbA1c 7.0–8.0" }
target = { kind = "range", item = "hba1c", min = 7.0, max = 8.0 }

[[goals]]
code = "at_least"
title = { ja = "FIM 60以上", en = "FIM at least 60" }
target = { kind = "threshold", item = "hba1c", op = ">=", value = 6.0 }
"#;

#[test]
fn range_and_threshold_misses_say_which_side_and_which_bound() {
    let tpl = template(BANDS);
    for (value, band, at_least) in [
        (6.4, Some((DeviationDirection::BelowRange, 7.0)), None),
        (8.0, Some((DeviationDirection::AboveRange, 8.0)), None),
        (7.5, None, None),
        (
            5.9,
            Some((DeviationDirection::BelowRange, 7.0)),
            Some((DeviationDirection::BelowRange, 6.0)),
        ),
    ] {
        let mut log = Log::default();
        log.value("home", "2027-01-05T10:00:00+09:00", json!({"hba1c": value}));
        let g = judge(&tpl, &log, "band", "2027-01-06T00:00:00+09:00", None);
        assert_eq!(g.deviation.map(|d| (d.direction, d.bound)), band, "{value}");
        assert_eq!(g.status == GoalState::NotMet, band.is_some(), "{value}");
        let g = judge(&tpl, &log, "at_least", "2027-01-06T00:00:00+09:00", None);
        assert_eq!(
            g.deviation.map(|d| (d.direction, d.bound)),
            at_least,
            "{value}"
        );
    }
    let json = serde_json::to_value(DeviationDirection::BelowRange).unwrap();
    assert_eq!(json, json!("below_range"));
    assert_eq!(
        serde_json::to_value(GoalState::NotApplicable).unwrap(),
        json!("not_applicable")
    );
}

// ---------------------------------------------------------------------------------------
// Japan calendar days.

const DAYS: &str = r#"
[[goals]]
code = "recovery_150"
title = { ja = "回復期150日以内", en = "Recovery within 150 days" }
target = { kind = "stage_length", stage = "recovery", op = "<=", days = 150 }

[[goals]]
code = "early_loading"
title = { ja = "術後3日未満の荷重開始", en = "Loading before post-operative day 3" }
target = { kind = "days_between", from_item = "surgery_at", to_item = "loading_at", op = "<", days = 3 }
"#;

#[test]
fn a_recovery_stay_counts_tokyo_days_with_admission_as_day_one() {
    let tpl = template(DAYS);
    let mut log = Log::default();
    log.start("recovery", "2027-01-01T15:00:00+09:00");
    let g = judge(
        &tpl,
        &log,
        "recovery_150",
        "2027-02-01T00:00:00+09:00",
        None,
    );
    // Day 150 is 2027-05-30.
    assert_eq!(
        (g.status, g.due_date),
        (GoalState::Pending, Some(date(2027, 5, 30)))
    );
    log.end("recovery", "2027-05-31T10:00:00+09:00", json!({}));
    let g = judge(
        &tpl,
        &log,
        "recovery_150",
        "2027-06-01T00:00:00+09:00",
        None,
    );
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::NotMet, json!(151))
    );
}

#[test]
fn post_operative_days_count_the_day_of_surgery_as_day_zero() {
    let tpl = template(DAYS);
    for (loading, want, days) in [
        ("2027-01-07T08:00:00+09:00", GoalState::Met, 2),
        ("2027-01-08T00:30:00+09:00", GoalState::NotMet, 3),
        ("2027-01-05T23:59:00+09:00", GoalState::Met, 0),
    ] {
        let mut log = Log::default();
        log.value(
            "acute",
            "2027-01-05T23:00:00+09:00",
            json!({"surgery_at": "2027-01-05T22:00:00+09:00"}),
        );
        log.value("acute", loading, json!({"loading_at": loading}));
        let g = judge(
            &tpl,
            &log,
            "early_loading",
            "2027-02-01T00:00:00+09:00",
            None,
        );
        assert_eq!(
            (g.status, latest_value(&g)),
            (want, json!(days)),
            "{loading}"
        );
        assert_eq!(g.due_date, Some(date(2027, 1, 7)));
    }
    let mut log = Log::default();
    log.value(
        "acute",
        "2027-01-05T23:00:00+09:00",
        json!({"surgery_at": "2027-01-05T22:00:00+09:00"}),
    );
    let g = judge(
        &tpl,
        &log,
        "early_loading",
        "2027-01-07T23:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::Pending);
    let g = judge(
        &tpl,
        &log,
        "early_loading",
        "2027-01-08T00:00:00+09:00",
        None,
    );
    assert_eq!(g.status, GoalState::Overdue);
}

#[test]
fn an_amended_stage_start_keeps_the_stage_length_goal_right() {
    let tpl = template(DAYS);
    let mut log = Log::default();
    let start = log.start("recovery", "2027-01-01T15:00:00+09:00");
    log.end("recovery", "2027-05-31T10:00:00+09:00", json!({}));
    let g = judge(
        &tpl,
        &log,
        "recovery_150",
        "2027-06-01T00:00:00+09:00",
        None,
    );
    assert_eq!(
        (g.status, latest_value(&g)),
        (GoalState::NotMet, json!(151))
    );
    // The start is corrected to a day later, recorded after the end.
    log.add(
        "recovery",
        EntryKind::StageStart,
        t("2027-01-02T15:00:00+09:00"),
        json!({}),
        Some(start),
    );
    let g = judge(
        &tpl,
        &log,
        "recovery_150",
        "2027-06-01T00:00:00+09:00",
        None,
    );
    assert_eq!((g.status, latest_value(&g)), (GoalState::Met, json!(150)));
}

// ---------------------------------------------------------------------------------------
// Change goals and following targets.

const CHANGE: &str = r#"
[[goals]]
code = "fim_gain"
title = { ja = "FIM 利得", en = "FIM gain" }
target = { kind = "change", from = { item = "fim_total", stage = "recovery", pick = "first" }, to = { item = "fim_total", stage = "recovery", pick = "last" }, op = ">=", value = 4 }

[[goals]]
code = "ldl"
title = { ja = "LDL", en = "LDL" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }

[[goals]]
code = "nonhdl"
title = { ja = "non-HDL", en = "non-HDL" }
target = { kind = "threshold", item = "tg", op = "<", value = 0 }
follows = { goal = "ldl", offset = 30 }
"#;

#[test]
fn a_change_goal_waits_for_its_second_value_and_sums_subtotals_of_one_day() {
    let tpl = template(CHANGE);
    let mut log = Log::default();
    log.start("recovery", "2027-01-01T10:00:00+09:00");
    // Admission: motor and cognitive recorded in separate entries the same Tokyo day.
    log.value(
        "recovery",
        "2027-01-01T11:00:00+09:00",
        json!({"fim_motor": 6}),
    );
    log.value(
        "recovery",
        "2027-01-01T16:00:00+09:00",
        json!({"fim_cognitive": 4}),
    );
    log.end("recovery", "2027-03-01T10:00:00+09:00", json!({}));
    let g = judge(&tpl, &log, "fim_gain", "2027-03-01T12:00:00+09:00", None);
    assert_eq!((g.status, g.latest.clone()), (GoalState::Pending, None));
    // Discharge values arrive (again as subtotals), effective on the last day.
    log.value(
        "recovery",
        "2027-03-01T09:00:00+09:00",
        json!({"fim_motor": 10}),
    );
    let g = judge(&tpl, &log, "fim_gain", "2027-03-01T12:00:00+09:00", None);
    assert_eq!(g.status, GoalState::Pending, "only motor on the last day");
    log.value(
        "recovery",
        "2027-03-01T09:30:00+09:00",
        json!({"fim_cognitive": 5}),
    );
    let g = judge(&tpl, &log, "fim_gain", "2027-03-01T12:00:00+09:00", None);
    assert_eq!((g.status, latest_value(&g)), (GoalState::Met, json!(5)));
}

#[test]
fn a_following_goal_takes_the_leaders_target_plus_its_offset() {
    let tpl = template(CHANGE);
    let mut log = Log::default();
    log.value("home", "2027-01-05T10:00:00+09:00", json!({"tg": 36}));
    let g = judge(&tpl, &log, "nonhdl", "2027-01-06T00:00:00+09:00", None);
    assert_eq!(g.target, json!({"op": "<", "value": 37.0}));
    assert_eq!(g.status, GoalState::Met);
}

// ---------------------------------------------------------------------------------------
// Template checks of the goal language.

#[test]
fn the_template_check_names_unknown_stages_schedules_items_options_and_leaders() {
    let errors = template_errors(
        r#"
[[goals]]
code = "a"
title = { ja = "a", en = "a" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
scope = { kind = "stage", stage = "nowhere", at = "end" }
applies_when = [
  { kind = "choice", item = "subtype", in = ["cardioembolic"] },
  { kind = "flag", item = "hba1c", value = true },
  { kind = "number", item = "nothing", op = "<", value = 1 },
]

[[goals]]
code = "b"
title = { ja = "b", en = "b" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
scope = { kind = "since_visit", schedule = "no_rule" }
follows = { goal = "c", offset = 1 }

[[goals]]
code = "c"
title = { ja = "c", en = "c" }
target = { kind = "stage_length", stage = "acute", op = "<=", days = 3 }
mode = "none"

[[goals]]
code = "d"
title = { ja = "d", en = "d" }
target = { kind = "threshold", item = "hba1c", op = "<", value = 7.0 }
scope = { kind = "before_due", months = 1 }
"#,
    );
    let expect = [
        "goals[0].scope.stage: goal `a` names unknown stage `nowhere`",
        "goals[0].applies_when[0].in[0]: `cardioembolic` is not an option of `subtype`",
        "goals[0].applies_when[1].item: condition needs a boolean item, `hba1c` is not",
        "goals[0].applies_when[2].item: condition names unknown item `nothing`",
        "goals[1].scope.schedule: goal `b` names unknown schedule rule `no_rule`",
        "goals[1].follows.goal: goal `b` follows `c`, which is not a threshold goal",
        "goals[2].mode: goal `c`: only threshold, range and membership goals take a mode",
        "goals[3].scope: goal `d` reads the window before its due date but has no `due`",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|x| x == e),
            "missing `{e}` in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    assert!(template_errors(CONDITIONAL).is_empty());
}

// ---------------------------------------------------------------------------------------
// Properties.

proptest! {
    /// `none` is met exactly when values exist in the window and none meets the target;
    /// `any` exactly when one does; a goal that does not apply is never overdue.
    #[test]
    fn modes_agree_with_the_values_in_the_window(
        values in prop::collection::vec((0i64..400, 0i64..3), 0..8),
        as_of_h in 0i64..500,
        diabetic in prop::option::of(any::<bool>()),
    ) {
        let tpl = template(r#"
[[goals]]
code = "none_hypo"
title = { ja = "n", en = "n" }
target = { kind = "threshold", item = "severe_hypo", op = ">=", value = 1 }
mode = "none"
scope = { kind = "rolling", days = 10 }
due = { stage = "home", at = "start", days = 5 }

[[goals]]
code = "any_hypo"
title = { ja = "a", en = "a" }
target = { kind = "threshold", item = "severe_hypo", op = ">=", value = 1 }
mode = "any"
scope = { kind = "rolling", days = 10 }

[[goals]]
code = "conditional"
title = { ja = "c", en = "c" }
target = { kind = "threshold", item = "severe_hypo", op = "<", value = 1 }
due = { stage = "home", at = "start", days = 1 }
applies_when = [{ kind = "flag", item = "diabetes", value = true }]
"#);
        let base = t("2027-01-01T00:00:00+09:00");
        let mut log = Log::default();
        log.add("home", EntryKind::StageStart, base, json!({}), None);
        if let Some(d) = diabetic {
            log.add("home", EntryKind::Assessment, base, json!({"diabetes": d}), None);
        }
        for (h, v) in &values {
            log.add("home", EntryKind::Assessment, base + Duration::hours(*h), json!({"severe_hypo": v}), None);
        }
        let as_of = base + Duration::hours(as_of_h);
        let ctx = GoalContext::at(t(PLAN_START), None, as_of);
        let all = evaluate_goals(&tpl, &ctx, &log.entries);
        let from = renkei_domain::calendar::tokyo_midnight(
            renkei_domain::calendar::tokyo_date(as_of) - Duration::days(10),
        );
        let window: Vec<i64> = values
            .iter()
            .filter(|(h, _)| {
                let at = base + Duration::hours(*h);
                at >= from && at <= as_of
            })
            .map(|(_, v)| *v)
            .collect();
        let none = &all[0];
        let any = &all[1];
        if window.is_empty() {
            prop_assert!(matches!(none.status, GoalState::Pending | GoalState::Overdue));
            prop_assert_eq!(any.status, GoalState::Pending);
        } else {
            let hit = window.iter().any(|v| *v >= 1);
            prop_assert_eq!(none.status, if hit { GoalState::NotMet } else { GoalState::Met });
            prop_assert_eq!(any.status, if hit { GoalState::Met } else { GoalState::NotMet });
        }
        let c = &all[2];
        if diabetic != Some(true) {
            prop_assert_eq!(c.status, GoalState::NotApplicable);
        }
        for g in &all {
            prop_assert_eq!(g.deviation.is_some(), g.status == GoalState::NotMet && g.code != "none_hypo");
        }
    }
}
