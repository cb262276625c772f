//! The acute myocardial infarction (`ami`) and heart failure (`heart-failure`) templates:
//! their cited targets, the cardiac rehabilitation limit, and readmission judged on dates —
//! within the rehabilitation stage (AMI) and within 30 and 90 days of discharge (heart
//! failure), each missed readmission goal past its due day being an automatic variance.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::entry::{EntryKind, validate_entry};
use renkei_domain::goals::{EntryFacts, GoalContext, GoalState, GoalStatus, evaluate_goals};
use renkei_domain::template::{
    Comparator, Condition, GoalMode, GoalTarget, PathwayTemplate, Scope, StagePart, parse_template,
};
use renkei_domain::variance::{automatic_code, is_classification, parse_variance_code};
use serde_json::{Value, json};
use uuid::Uuid;

use super::fixture::{new_entry, obj, show, state, t};

fn load(code: &str) -> PathwayTemplate {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pathways")
        .join(code)
        .join("v1.toml");
    let src = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing pathway template {}: {e}", path.display()));
    parse_template(&src, Some((code, 1)))
        .unwrap_or_else(|d| panic!("{} is invalid:\n{}", path.display(), show(&d)))
}

fn goal<'a>(tpl: &'a PathwayTemplate, code: &str) -> &'a renkei_domain::template::Goal {
    tpl.goals
        .iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("{} lacks goal `{code}`", tpl.code))
}

#[derive(Default)]
struct Log {
    entries: Vec<EntryFacts>,
}

impl Log {
    fn add(&mut self, stage: &str, kind: EntryKind, at: &str, values: Value) {
        let seq = self.entries.len() as i64 + 1;
        self.entries.push(EntryFacts {
            id: Uuid::from_u128(seq as u128),
            seq,
            stage: stage.into(),
            kind,
            effective_at: t(at),
            recorded_at: t(at),
            values: obj(values),
            amends: None,
        });
    }
    fn start(&mut self, stage: &str, at: &str, values: Value) {
        self.add(stage, EntryKind::StageStart, at, values);
    }
    fn end(&mut self, stage: &str, at: &str, values: Value) {
        self.add(stage, EntryKind::StageEnd, at, values);
    }
    fn value(&mut self, stage: &str, at: &str, values: Value) {
        self.add(stage, EntryKind::Assessment, at, values);
    }
}

const PLAN_START: &str = "2027-03-01T09:00:00+09:00";

fn judge(tpl: &PathwayTemplate, log: &Log, code: &str, as_of: &str) -> GoalStatus {
    let ctx = GoalContext::at(t(PLAN_START), None, t(as_of));
    evaluate_goals(tpl, &ctx, &log.entries)
        .into_iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("no goal {code}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Whether the automatic sweep would raise a variance for `g` at `now`: overdue, or not
/// met once its due day has passed (the rule of `Services::sweep_automatic_variances`).
fn missed(g: &GoalStatus, now: DateTime<Utc>) -> bool {
    match g.status {
        GoalState::Overdue => true,
        GoalState::NotMet => g
            .due_date
            .is_some_and(|d| renkei_domain::calendar::tokyo_date(now) > d),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Acute myocardial infarction.

#[test]
fn ami_runs_acute_then_cardiac_rehabilitation_of_at_most_150_days_then_clinic() {
    let tpl = load("ami");
    let stages: Vec<&str> = tpl.stages.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(stages, ["acute", "cardiac_rehab", "clinic"]);
    // H000 心大血管疾患リハビリテーション料 注1: 治療開始日から150日以内.
    assert_eq!(tpl.stage("cardiac_rehab").unwrap().max_days, Some(150));
    assert_eq!(tpl.stage("acute").unwrap().expected_days, None);
    assert!(!tpl.cyclical);
    // Every item of the issue is recorded.
    for item in [
        "ldl",
        "bp_sys",
        "bp_dia",
        "bp_sys_home",
        "bp_dia_home",
        "dapt_end_date",
        "lvef",
        "bnp",
        "nt_probnp",
        "smoking",
        "cpx_done",
        "peak_vo2",
        "readmission",
    ] {
        assert!(tpl.item(item).is_some(), "ami lacks {item}");
    }
    assert_eq!(
        tpl.item("dapt_end_date").unwrap().item_type,
        renkei_domain::template::ItemType::Date
    );
    assert!(tpl.item("dapt_end_date").unwrap().carry_over);
    let lvef = tpl.item("lvef").unwrap();
    assert_eq!((lvef.min, lvef.max), (Some(0.0), Some(100.0)));
}

#[test]
fn ami_targets_are_ldl_70_jsh2025_blood_pressure_hba1c_with_diabetes_and_no_smoking() {
    let tpl = load("ami");
    let threshold = |code: &str| match &goal(&tpl, code).target {
        GoalTarget::Threshold { item, op, value } => (item.as_str(), *op, *value),
        other => panic!("{code}: {other:?}"),
    };
    assert_eq!(threshold("a1_ldl"), ("ldl", Comparator::Lt, 70.0));
    assert_eq!(threshold("a2_bp_sys"), ("bp_sys", Comparator::Lt, 130.0));
    assert_eq!(threshold("a2_bp_dia"), ("bp_dia", Comparator::Lt, 80.0));
    assert_eq!(
        threshold("a2_bp_sys_home"),
        ("bp_sys_home", Comparator::Lt, 125.0)
    );
    assert_eq!(
        threshold("a2_bp_dia_home"),
        ("bp_dia_home", Comparator::Lt, 75.0)
    );
    assert_eq!(threshold("a3_hba1c"), ("hba1c", Comparator::Lt, 7.0));
    assert_eq!(
        goal(&tpl, "a3_hba1c").applies_when,
        [Condition::Flag {
            item: "diabetes".into(),
            value: true
        }]
    );
    assert_eq!(
        goal(&tpl, "a4_no_smoking").target,
        GoalTarget::Membership {
            item: "smoking".into(),
            values: vec!["never".into(), "former".into()]
        }
    );
    // Without a cited time to reach them, these goals carry no due date.
    for code in ["a1_ldl", "a2_bp_sys", "a3_hba1c", "a4_no_smoking"] {
        assert!(goal(&tpl, code).due.is_none(), "{code}");
    }
    // Every goal speaks to the patient too.
    assert!(tpl.goals.iter().all(|g| g.patient_title.is_some()));
}

#[test]
fn ami_ldl_and_blood_pressure_are_judged_on_the_latest_value_with_hba1c_only_with_diabetes() {
    let tpl = load("ami");
    let mut log = Log::default();
    log.start(
        "acute",
        "2027-03-01T09:00:00+09:00",
        json!({"ldl": 142, "bp_sys": 150, "bp_dia": 90, "diabetes": false, "smoking": "current"}),
    );
    let at = "2027-03-05T12:00:00+09:00";
    assert_eq!(judge(&tpl, &log, "a1_ldl", at).status, GoalState::NotMet);
    assert_eq!(judge(&tpl, &log, "a2_bp_sys", at).status, GoalState::NotMet);
    assert_eq!(
        judge(&tpl, &log, "a4_no_smoking", at).status,
        GoalState::NotMet
    );
    assert_eq!(
        judge(&tpl, &log, "a3_hba1c", at).status,
        GoalState::NotApplicable
    );
    // Not met without a due date: no automatic variance.
    assert!(!missed(
        &judge(&tpl, &log, "a1_ldl", at),
        t("2027-12-31T12:00:00+09:00")
    ));
    log.end("acute", "2027-03-10T10:00:00+09:00", json!({}));
    log.start(
        "cardiac_rehab",
        "2027-03-11T10:00:00+09:00",
        json!({"ldl": 69, "bp_sys": 128, "bp_dia": 78, "smoking": "former",
               "diabetes": true, "hba1c": 7.0}),
    );
    let at = "2027-04-20T12:00:00+09:00";
    let ldl = judge(&tpl, &log, "a1_ldl", at);
    assert_eq!(ldl.status, GoalState::Met);
    assert_eq!(ldl.latest.as_ref().unwrap().value, json!(69));
    assert_eq!(judge(&tpl, &log, "a2_bp_sys", at).status, GoalState::Met);
    assert_eq!(judge(&tpl, &log, "a2_bp_dia", at).status, GoalState::Met);
    assert_eq!(
        judge(&tpl, &log, "a4_no_smoking", at).status,
        GoalState::Met
    );
    // 7.0 is not below 7.0.
    assert_eq!(judge(&tpl, &log, "a3_hba1c", at).status, GoalState::NotMet);
    // LDL 70 is not below 70.
    log.value(
        "cardiac_rehab",
        "2027-05-01T10:00:00+09:00",
        json!({"ldl": 70}),
    );
    assert_eq!(
        judge(&tpl, &log, "a1_ldl", "2027-05-02T12:00:00+09:00").status,
        GoalState::NotMet
    );
}

#[test]
fn ami_readmission_during_cardiac_rehabilitation_is_a_variance_after_its_150th_day() {
    let tpl = load("ami");
    let g = goal(&tpl, "a5_no_readmission");
    assert_eq!(g.mode, GoalMode::None);
    assert_eq!(
        g.scope,
        Some(Scope::Stage {
            stage: "cardiac_rehab".into(),
            at: StagePart::During
        })
    );
    let mut log = Log::default();
    log.start("acute", "2027-03-01T09:00:00+09:00", json!({}));
    log.end("acute", "2027-03-10T10:00:00+09:00", json!({}));
    log.start("cardiac_rehab", "2027-03-11T10:00:00+09:00", json!({}));
    // Due on the 150th day after the stage starts: 2027-03-11 + 150 days = 2027-08-08.
    let before = judge(&tpl, &log, "a5_no_readmission", "2027-04-01T12:00:00+09:00");
    assert_eq!(before.status, GoalState::Pending);
    assert_eq!(before.due_date, Some(date(2027, 8, 8)));
    // Nothing recorded by then: overdue the next day (the check was not done).
    let unchecked = judge(&tpl, &log, "a5_no_readmission", "2027-08-09T09:00:00+09:00");
    assert_eq!(unchecked.status, GoalState::Overdue);

    let mut readmitted = Log {
        entries: log.entries.clone(),
    };
    readmitted.value(
        "cardiac_rehab",
        "2027-04-15T10:00:00+09:00",
        json!({"readmission": "cardiovascular"}),
    );
    readmitted.value(
        "cardiac_rehab",
        "2027-05-15T10:00:00+09:00",
        json!({"readmission": "none"}),
    );
    // A later "none" does not hide the readmission (mode none).
    let g_status = judge(
        &tpl,
        &readmitted,
        "a5_no_readmission",
        "2027-05-20T12:00:00+09:00",
    );
    assert_eq!(g_status.status, GoalState::NotMet);
    assert_eq!(
        g_status.latest.as_ref().unwrap().value,
        json!("cardiovascular")
    );
    // Not yet a finding on the due day; a finding the day after.
    assert!(!missed(&g_status, t("2027-08-08T20:00:00+09:00")));
    let after = judge(
        &tpl,
        &readmitted,
        "a5_no_readmission",
        "2027-08-09T09:00:00+09:00",
    );
    assert!(missed(&after, t("2027-08-09T09:00:00+09:00")));
    // Its automatic code is the unclassified one, which the team classifies with a listed
    // readmission code.
    let code = automatic_code(g.variance.as_deref(), after.kind);
    assert_eq!(code, "NEG.DEV.UN.UNCLASSIFIED");
    for listed in ["NEG.DEV.PT.CONDITION", "NEG.DEV.PT.COMPLICATION"] {
        assert!(tpl.variance(listed).is_some(), "{listed}");
        assert!(is_classification(listed));
    }

    let mut clean = Log {
        entries: log.entries.clone(),
    };
    clean.end(
        "cardiac_rehab",
        "2027-06-30T10:00:00+09:00",
        json!({"readmission": "none"}),
    );
    let met = judge(
        &tpl,
        &clean,
        "a5_no_readmission",
        "2027-08-09T09:00:00+09:00",
    );
    assert_eq!(met.status, GoalState::Met);
    assert!(!missed(&met, t("2027-08-09T09:00:00+09:00")));
}

#[test]
fn ami_cardiac_rehabilitation_must_end_with_the_readmission_check() {
    let tpl = load("ami");
    let now = t("2027-06-30T10:00:00+09:00");
    let without = new_entry("cardiac_rehab", EntryKind::StageEnd, json!({"ldl": 65}));
    assert!(validate_entry(&tpl, &state("cardiac_rehab", true, false), &without, now).is_err());
    let with = new_entry(
        "cardiac_rehab",
        EntryKind::StageEnd,
        json!({"ldl": 65, "readmission": "none"}),
    );
    validate_entry(&tpl, &state("cardiac_rehab", true, false), &with, now)
        .unwrap_or_else(|e| panic!("rehabilitation end rejected: {e:?}"));
    let bad_vessel = new_entry(
        "acute",
        EntryKind::Assessment,
        json!({"culprit_vessel": "aorta"}),
    );
    assert!(validate_entry(&tpl, &state("acute", true, false), &bad_vessel, now).is_err());
    let lvef = new_entry("acute", EntryKind::Assessment, json!({"lvef": 100.5}));
    assert!(validate_entry(&tpl, &state("acute", true, false), &lvef, now).is_err());
}

// ---------------------------------------------------------------------------------------
// Heart failure.

#[test]
fn heart_failure_home_stage_is_shared_by_clinic_home_nursing_and_care_manager() {
    use renkei_domain::template::ProviderKind;
    let tpl = load("heart-failure");
    let stages: Vec<&str> = tpl.stages.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(stages, ["acute", "home"]);
    let home = tpl.stage("home").unwrap();
    for kind in [
        ProviderKind::Clinic,
        ProviderKind::VisitNurse,
        ProviderKind::CareManager,
    ] {
        assert!(home.provider_kinds.contains(&kind), "{kind:?}");
    }
    for item in [
        "weight",
        "nyha",
        "bnp",
        "nt_probnp",
        "symptom_dyspnea",
        "symptom_edema",
        "gdmt_arni_acei_arb",
        "gdmt_beta_blocker",
        "gdmt_mra",
        "gdmt_sglt2i",
        "selfcare_daily_weight",
        "selfcare_medication",
        "readmission",
    ] {
        assert!(tpl.item(item).is_some(), "heart-failure lacks {item}");
    }
    // Drugs of guideline-directed therapy are present/absent and carried to the home stage.
    for drug in [
        "gdmt_arni_acei_arb",
        "gdmt_beta_blocker",
        "gdmt_mra",
        "gdmt_sglt2i",
    ] {
        let i = tpl.item(drug).unwrap();
        assert_eq!(i.item_type, renkei_domain::template::ItemType::Boolean);
        assert!(i.carry_over, "{drug}");
    }
    let nyha: Vec<&str> = tpl
        .item("nyha")
        .unwrap()
        .options
        .as_deref()
        .unwrap()
        .iter()
        .map(|o| o.code.as_str())
        .collect();
    assert_eq!(nyha, ["class_1", "class_2", "class_3", "class_4"]);
    let now = t("2027-04-01T10:00:00+09:00");
    let visit = new_entry(
        "home",
        EntryKind::Assessment,
        json!({"weight": 61.2, "bp_sys": 118, "bp_dia": 70, "pulse": 72, "nyha": "class_2",
               "nt_probnp": 880, "symptom_edema": false, "selfcare_daily_weight": true}),
    );
    validate_entry(&tpl, &state("home", true, false), &visit, now)
        .unwrap_or_else(|e| panic!("home visit rejected: {e:?}"));
    let bad = new_entry("home", EntryKind::Assessment, json!({"nyha": "class_5"}));
    assert!(validate_entry(&tpl, &state("home", true, false), &bad, now).is_err());
}

/// A heart-failure plan discharged on 2027-03-15 (Tokyo).
fn discharged() -> Log {
    let mut log = Log::default();
    log.start(
        "acute",
        "2027-03-01T09:00:00+09:00",
        json!({"nyha": "class_4", "bnp": 1250, "lvef": 32, "hf_type": "hfref"}),
    );
    log.end(
        "acute",
        "2027-03-15T10:00:00+09:00",
        json!({"nyha": "class_2", "bnp": 310, "gdmt_beta_blocker": true}),
    );
    log.start("home", "2027-03-16T10:00:00+09:00", json!({}));
    log
}

#[test]
fn heart_failure_readmission_windows_are_30_and_90_days_from_discharge() {
    let tpl = load("heart-failure");
    for (code, days) in [("f1_no_readmission_30d", 30), ("f2_no_readmission_90d", 90)] {
        let g = goal(&tpl, code);
        assert_eq!(g.mode, GoalMode::None, "{code}");
        let due = g.due.as_ref().unwrap();
        assert_eq!((due.stage.as_str(), due.days), ("acute", days), "{code}");
        assert_eq!(
            g.scope,
            Some(Scope::BeforeDue { months: 0, days }),
            "{code}"
        );
    }
    let log = discharged();
    // Discharge 2027-03-15: day 30 = 2027-04-14, day 90 = 2027-06-13.
    let f1 = judge(
        &tpl,
        &log,
        "f1_no_readmission_30d",
        "2027-03-20T12:00:00+09:00",
    );
    assert_eq!(f1.status, GoalState::Pending);
    assert_eq!(f1.due_date, Some(date(2027, 4, 14)));
    let f2 = judge(
        &tpl,
        &log,
        "f2_no_readmission_90d",
        "2027-03-20T12:00:00+09:00",
    );
    assert_eq!(f2.due_date, Some(date(2027, 6, 13)));
    // Unchecked after the window: overdue, a finding.
    let late = judge(
        &tpl,
        &log,
        "f1_no_readmission_30d",
        "2027-04-15T09:00:00+09:00",
    );
    assert_eq!(late.status, GoalState::Overdue);
    assert!(missed(&late, t("2027-04-15T09:00:00+09:00")));
}

#[test]
fn heart_failure_readmission_on_day_20_misses_both_windows_and_on_day_45_only_the_90_day_one() {
    let tpl = load("heart-failure");
    let mut day20 = discharged();
    day20.value(
        "home",
        "2027-04-04T10:00:00+09:00",
        json!({"readmission": "heart_failure"}),
    );
    let f1 = judge(
        &tpl,
        &day20,
        "f1_no_readmission_30d",
        "2027-04-05T12:00:00+09:00",
    );
    assert_eq!(f1.status, GoalState::NotMet);
    // A finding only once the window has closed.
    assert!(!missed(&f1, t("2027-04-05T12:00:00+09:00")));
    let closed = judge(
        &tpl,
        &day20,
        "f1_no_readmission_30d",
        "2027-04-15T09:00:00+09:00",
    );
    assert!(missed(&closed, t("2027-04-15T09:00:00+09:00")));
    let f2 = judge(
        &tpl,
        &day20,
        "f2_no_readmission_90d",
        "2027-06-14T09:00:00+09:00",
    );
    assert_eq!(f2.status, GoalState::NotMet);
    assert!(missed(&f2, t("2027-06-14T09:00:00+09:00")));

    let mut day45 = discharged();
    day45.value(
        "home",
        "2027-04-10T10:00:00+09:00",
        json!({"readmission": "none", "weight": 60.0}),
    );
    day45.value(
        "home",
        "2027-04-29T10:00:00+09:00",
        json!({"readmission": "non_cardiovascular"}),
    );
    let f1 = judge(
        &tpl,
        &day45,
        "f1_no_readmission_30d",
        "2027-05-01T12:00:00+09:00",
    );
    assert_eq!(f1.status, GoalState::Met);
    assert_eq!(f1.latest.as_ref().unwrap().value, json!("none"));
    let f2 = judge(
        &tpl,
        &day45,
        "f2_no_readmission_90d",
        "2027-06-14T09:00:00+09:00",
    );
    assert_eq!(f2.status, GoalState::NotMet);
    assert_eq!(
        f2.latest.as_ref().unwrap().value,
        json!("non_cardiovascular")
    );
    assert_eq!(
        automatic_code(
            goal(&tpl, "f2_no_readmission_90d").variance.as_deref(),
            f2.kind
        ),
        "NEG.DEV.UN.UNCLASSIFIED"
    );
    // The day-91 readmission counts in neither window.
    let mut day91 = discharged();
    day91.value(
        "home",
        "2027-04-12T10:00:00+09:00",
        json!({"readmission": "none"}),
    );
    day91.value(
        "home",
        "2027-06-14T10:00:00+09:00",
        json!({"readmission": "heart_failure"}),
    );
    let f2 = judge(
        &tpl,
        &day91,
        "f2_no_readmission_90d",
        "2027-06-20T12:00:00+09:00",
    );
    assert_eq!(f2.status, GoalState::Met);
}

#[test]
fn both_cardiac_templates_list_readmission_codes_of_the_shared_scheme() {
    for code in ["ami", "heart-failure"] {
        let tpl = load(code);
        for v in &tpl.variances {
            parse_variance_code(&v.code).unwrap_or_else(|e| panic!("{code}: {e}"));
        }
        let condition = tpl.variance("NEG.DEV.PT.CONDITION").unwrap();
        assert!(condition.title.ja.contains("再入院"), "{code}");
    }
}
