//! The cancer follow-up templates (`cancer-colorectal`, `cancer-gastric`, …): the five-year
//! surveillance schedules computed on dates from the date of surgery (intervals that widen
//! with the years since surgery and end with the surveillance period), by stage and site;
//! the がん治療連携計画策定料 rule (plan given within 30 days of discharge, counting the
//! discharge day); recurrence and adverse-event entries.

use std::collections::HashMap;

use chrono::NaiveDate;
use renkei_domain::entry::{EntryKind, validate_entry};
use renkei_domain::goals::{EntryFacts, GoalContext, GoalState, GoalStatus, evaluate_goals};
use renkei_domain::schedule::{
    IntervalSource, ScheduleContext, ScheduleState, ScheduleStatus, evaluate_schedule,
};
use renkei_domain::template::{ItemType, PathwayTemplate, ProviderKind, parse_template};
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
    fn value(&mut self, at: &str, values: Value) {
        self.add("follow_up", EntryKind::Assessment, at, values);
    }
}

/// Surgery on 2027-03-10; the plan started on 2027-03-08 at admission; discharge on
/// 2027-03-20 with the stage at surgery.
const PLAN_START: &str = "2027-03-08T09:00:00+09:00";

fn operated(values: Value) -> Log {
    let mut log = Log::default();
    log.add("treatment", EntryKind::StageStart, PLAN_START, json!({}));
    let mut end = json!({"surgery_date": "2027-03-10", "discharge_date": "2027-03-20"});
    end.as_object_mut().unwrap().extend(obj(values));
    log.add(
        "treatment",
        EntryKind::StageEnd,
        "2027-03-20T10:00:00+09:00",
        end,
    );
    log.add(
        "follow_up",
        EntryKind::StageStart,
        "2027-03-20T11:00:00+09:00",
        json!({}),
    );
    log
}

fn schedule(tpl: &PathwayTemplate, log: &Log, at: &str) -> HashMap<String, ScheduleStatus> {
    let ctx = ScheduleContext::at(t(PLAN_START), t(at));
    evaluate_schedule(tpl, &ctx, &log.entries, &HashMap::new())
        .into_iter()
        .map(|s| (s.code.clone(), s))
        .collect()
}

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

fn applying(s: &HashMap<String, ScheduleStatus>) -> Vec<&str> {
    let mut v: Vec<&str> = s
        .values()
        .filter(|r| r.state != ScheduleState::NotApplicable)
        .map(|r| r.code.as_str())
        .collect();
    v.sort_unstable();
    v
}

// ---------------------------------------------------------------------------------------
// Shared by every site.

const SITES: [&str; 5] = [
    "cancer-colorectal",
    "cancer-gastric",
    "cancer-liver",
    "cancer-lung",
    "cancer-breast",
];

/// The tumour markers each site's sources name (none for lung).
fn markers(code: &str) -> &'static [&'static str] {
    match code {
        "cancer-colorectal" | "cancer-gastric" => &["cea", "ca19_9"],
        "cancer-liver" => &["afp", "afp_l3", "pivka_ii"],
        "cancer-breast" => &["cea", "ca15_3"],
        _ => &[],
    }
}

/// The site-specific values the end of the treatment stage requires.
fn site_values(code: &str) -> Value {
    match code {
        "cancer-colorectal" => json!({"tumor_site": "rectum"}),
        "cancer-gastric" => json!({"treatment_kind": "surgery"}),
        "cancer-liver" => json!({"treatment_kind": "hepatectomy"}),
        "cancer-breast" => json!({"surgery_kind": "partial"}),
        _ => json!({}),
    }
}

#[test]
fn every_cancer_template_runs_hospital_treatment_then_follow_up_shared_with_the_clinic() {
    for code in SITES {
        let tpl = load(code);
        let stages: Vec<&str> = tpl.stages.iter().map(|s| s.code.as_str()).collect();
        assert_eq!(stages, ["treatment", "follow_up"], "{code}");
        assert_eq!(
            tpl.stage("treatment").unwrap().provider_kinds,
            [ProviderKind::AcuteHosp],
            "{code}: the plan is made by the hospital"
        );
        // 計画策定料: only the hospital may enrol (plan).
        assert_eq!(tpl.planner_kinds, [ProviderKind::AcuteHosp], "{code}");
        let shared = &tpl.stage("follow_up").unwrap().provider_kinds;
        assert!(shared.contains(&ProviderKind::Clinic), "{code}");
        assert!(shared.contains(&ProviderKind::AcuteHosp), "{code}");
        // The hospital owns both stages at enrolment (it keeps recording in the follow-up).
        assert_eq!(tpl.planner_stages(), ["treatment", "follow_up"], "{code}");
        assert!(!tpl.cyclical, "{code}");
        // Recurrence, adverse events and the stage at surgery are recorded.
        for item in [
            "surgery_date",
            "discharge_date",
            "plan_provided_date",
            "pstage",
            "tnm",
            "recurrence",
            "recurrence_date",
            "adverse_event",
            "adverse_event_grade",
            "info_to_planner",
            "imaging_done",
            "imaging_finding",
        ] {
            assert!(tpl.item(item).is_some(), "{code} lacks {item}");
        }
        // Only the markers the site's sources name, uncoded (no cited code table), not negative.
        let named: Vec<&str> = tpl
            .items
            .iter()
            .filter(|i| i.unit.as_deref().is_some_and(|u| u.contains("/mL")))
            .map(|i| i.code.as_str())
            .collect();
        let mut want = markers(code).to_vec();
        want.retain(|m| *m != "afp_l3");
        assert_eq!(named, want, "{code}");
        for m in markers(code) {
            let it = tpl.item(m).unwrap();
            assert!(it.codes.is_empty(), "{code} {m}");
            assert_eq!(it.min, Some(0.0), "{code} {m}");
        }
        assert_eq!(tpl.item("surgery_date").unwrap().item_type, ItemType::Date);
        assert!(tpl.item("surgery_date").unwrap().required_at_end == ["treatment"]);
        let grade = tpl.item("adverse_event_grade").unwrap();
        assert_eq!(
            (grade.min, grade.max),
            (Some(1.0), Some(5.0)),
            "CTCAE v5.0 grades"
        );
        // Every goal speaks to the patient too.
        assert!(
            tpl.goals.iter().all(|g| g.patient_title.is_some()),
            "{code}"
        );
    }
}

#[test]
fn the_plan_must_be_given_within_30_days_of_discharge_counting_the_discharge_day() {
    for code in SITES {
        let tpl = load(code);
        let log = operated(json!({"pstage": "stage_3"}));
        // Discharge 2027-03-20 is day 1; day 30 is 2027-04-18.
        let waiting = judge(
            &tpl,
            &log,
            "c1_plan_within_30_days",
            "2027-04-01T12:00:00+09:00",
        );
        assert_eq!(waiting.status, GoalState::Pending, "{code}");
        assert_eq!(waiting.due_date, Some(date(2027, 4, 18)), "{code}");
        assert_eq!(
            judge(
                &tpl,
                &log,
                "c1_plan_within_30_days",
                "2027-04-19T09:00:00+09:00"
            )
            .status,
            GoalState::Overdue,
            "{code}"
        );
        let mut on_time = Log {
            entries: log.entries.clone(),
        };
        on_time.value(
            "2027-04-18T17:00:00+09:00",
            json!({"plan_provided_date": "2027-04-18"}),
        );
        assert_eq!(
            judge(
                &tpl,
                &on_time,
                "c1_plan_within_30_days",
                "2027-05-01T12:00:00+09:00"
            )
            .status,
            GoalState::Met,
            "{code}"
        );
        let mut late = Log {
            entries: log.entries.clone(),
        };
        late.value(
            "2027-04-19T17:00:00+09:00",
            json!({"plan_provided_date": "2027-04-19"}),
        );
        let g = judge(
            &tpl,
            &late,
            "c1_plan_within_30_days",
            "2027-05-01T12:00:00+09:00",
        );
        assert_eq!(g.status, GoalState::NotMet, "{code}");
        assert_eq!(g.latest.unwrap().value, json!(30));
        // At discharge (day 0) is on time.
        let mut at_discharge = Log {
            entries: log.entries.clone(),
        };
        at_discharge.value(
            "2027-03-20T12:00:00+09:00",
            json!({"plan_provided_date": "2027-03-20"}),
        );
        assert_eq!(
            judge(
                &tpl,
                &at_discharge,
                "c1_plan_within_30_days",
                "2027-03-21T12:00:00+09:00"
            )
            .status,
            GoalState::Met
        );
    }
}

#[test]
fn treatment_ends_with_the_surgery_date_stage_and_discharge_and_values_keep_their_bounds() {
    for code in SITES {
        let tpl = load(code);
        let now = t("2027-03-20T10:00:00+09:00");
        let without = new_entry(
            "treatment",
            EntryKind::StageEnd,
            json!({"discharge_date": "2027-03-20"}),
        );
        assert!(
            validate_entry(&tpl, &state("treatment", true, false), &without, now).is_err(),
            "{code}: the stage at surgery and the date are required"
        );
        let mut values = json!({"surgery_date": "2027-03-10", "discharge_date": "2027-03-20",
                                "pstage": "stage_2", "tnm": "pT3N0M0"});
        values
            .as_object_mut()
            .unwrap()
            .extend(obj(site_values(code)));
        let with = new_entry("treatment", EntryKind::StageEnd, values);
        validate_entry(&tpl, &state("treatment", true, false), &with, now)
            .unwrap_or_else(|e| panic!("{code}: treatment end rejected: {e:?}"));
        for bad in [
            json!({"adverse_event_grade": 6}),
            json!({"adverse_event_grade": 0}),
            json!({"recurrence": "brain_only"}),
            json!({"imaging_finding": "fine"}),
        ] {
            let e = new_entry("follow_up", EntryKind::Assessment, bad.clone());
            assert!(
                validate_entry(&tpl, &state("follow_up", true, false), &e, now).is_err(),
                "{code}: {bad} accepted"
            );
        }
        let mut values = json!({"recurrence": "none", "recurrence_date": "2028-05-01",
                                "adverse_event": "末梢神経障害", "adverse_event_grade": 2,
                                "imaging_done": true, "imaging_finding": "recurrence",
                                "info_to_planner": true});
        for m in markers(code) {
            values[*m] = json!(12.5);
        }
        let ok = new_entry("follow_up", EntryKind::Assessment, values);
        validate_entry(&tpl, &state("follow_up", true, false), &ok, now)
            .unwrap_or_else(|e| panic!("{code}: follow-up entry rejected: {e:?}"));
    }
}

// ---------------------------------------------------------------------------------------
// Colorectal: 大腸癌治療ガイドライン surveillance, Stage I–III.

#[test]
fn colorectal_markers_every_3_months_for_3_years_then_every_6_months_to_5_years() {
    let tpl = load("cancer-colorectal");
    let mut log = operated(json!({"pstage": "stage_3", "tumor_site": "colon"}));
    // Never measured: 90 days after surgery (2027-03-10 + 90 = 2027-06-08).
    let s = schedule(&tpl, &log, "2027-04-01T12:00:00+09:00");
    let m = &s["markers_visit"];
    assert_eq!(
        (m.interval_days, m.interval_source),
        (90, IntervalSource::Elapsed)
    );
    assert_eq!(m.due_date, date(2027, 6, 8));
    assert_eq!(m.state, ScheduleState::Scheduled);
    assert_eq!(m.owner, ProviderKind::Clinic);
    // Overdue after the 14 grace days.
    let late = schedule(&tpl, &log, "2027-06-23T09:00:00+09:00");
    assert_eq!(late["markers_visit"].state, ScheduleState::Overdue);
    // Measured on 2030-03-09 (the day before 36 months): the next 90 days later.
    log.value(
        "2030-03-09T10:00:00+09:00",
        json!({"cea": 2.4, "ca19_9": 12}),
    );
    let m = &schedule(&tpl, &log, "2030-03-10T12:00:00+09:00")["markers_visit"];
    assert_eq!((m.interval_days, m.due_date), (90, date(2030, 6, 7)));
    // Measured on 2030-03-10 (36 months): every 180 days from then.
    log.value("2030-03-10T10:00:00+09:00", json!({"cea": 2.2}));
    let m = &schedule(&tpl, &log, "2030-03-11T12:00:00+09:00")["markers_visit"];
    assert_eq!((m.interval_days, m.due_date), (180, date(2030, 9, 6)));
    // The last measurement whose next falls inside five years (2032-03-10): 2031-09-10 → 2032-03-08.
    log.value("2031-09-10T10:00:00+09:00", json!({"cea": 2.0}));
    let m = &schedule(&tpl, &log, "2031-09-11T12:00:00+09:00")["markers_visit"];
    assert_eq!(m.due_date, date(2032, 3, 8));
    assert_eq!(m.state, ScheduleState::Scheduled);
    // After that, surveillance is over.
    log.value("2032-03-08T10:00:00+09:00", json!({"cea": 1.9}));
    let s = schedule(&tpl, &log, "2032-03-09T12:00:00+09:00");
    assert_eq!(s["markers_visit"].state, ScheduleState::NotApplicable);
}

#[test]
fn colorectal_ct_every_6_months_for_stage_3_and_yearly_from_year_4_for_stage_1_2() {
    let tpl = load("cancer-colorectal");
    let mut s3 = operated(json!({"pstage": "stage_3", "tumor_site": "colon"}));
    let mut s2 = operated(json!({"pstage": "stage_2", "tumor_site": "colon"}));
    let at = "2027-04-01T12:00:00+09:00";
    assert_eq!(
        applying(&schedule(&tpl, &s3, at)),
        ["colonoscopy_colon", "ct_stage_3", "markers_visit"]
    );
    assert_eq!(
        applying(&schedule(&tpl, &s2, at)),
        ["colonoscopy_colon", "ct_stage_1_2", "markers_visit"]
    );
    // CT on 2030-04-01 (after 36 months).
    for log in [&mut s3, &mut s2] {
        log.value(
            "2030-04-01T10:00:00+09:00",
            json!({"imaging_done": true, "imaging_finding": "no_recurrence"}),
        );
    }
    let ct3 = &schedule(&tpl, &s3, "2030-04-02T12:00:00+09:00")["ct_stage_3"];
    assert_eq!((ct3.interval_days, ct3.due_date), (180, date(2030, 9, 28)));
    assert_eq!(ct3.owner, ProviderKind::Specialist);
    let ct2 = &schedule(&tpl, &s2, "2030-04-02T12:00:00+09:00")["ct_stage_1_2"];
    assert_eq!((ct2.interval_days, ct2.due_date), (365, date(2031, 4, 1)));
    // A CT recorded as not done does not count.
    s2.value("2031-03-30T10:00:00+09:00", json!({"imaging_done": false}));
    let ct2 = &schedule(&tpl, &s2, "2031-04-20T12:00:00+09:00")["ct_stage_1_2"];
    assert_eq!(ct2.state, ScheduleState::Overdue);
}

#[test]
fn colorectal_colonoscopy_in_years_1_and_3_for_colon_and_yearly_for_rectum() {
    let tpl = load("cancer-colorectal");
    let mut colon = operated(json!({"pstage": "stage_1", "tumor_site": "colon"}));
    let mut rectum = operated(json!({"pstage": "stage_1", "tumor_site": "rectum"}));
    let at = "2027-04-01T12:00:00+09:00";
    let c = &schedule(&tpl, &colon, at)["colonoscopy_colon"];
    assert_eq!(c.due_date, date(2028, 3, 9), "one year after surgery");
    assert_eq!(
        schedule(&tpl, &colon, at)["colonoscopy_rectum"].state,
        ScheduleState::NotApplicable
    );
    let r = &schedule(&tpl, &rectum, at)["colonoscopy_rectum"];
    assert_eq!(r.due_date, date(2028, 3, 9));
    assert_eq!(
        schedule(&tpl, &rectum, at)["colonoscopy_colon"].state,
        ScheduleState::NotApplicable
    );
    // Done on 2028-03-10 (12 months): colon next in year 3, rectum next year.
    for log in [&mut colon, &mut rectum] {
        log.value(
            "2028-03-10T10:00:00+09:00",
            json!({"colonoscopy_done": true, "colonoscopy_finding": "no_recurrence"}),
        );
    }
    let at = "2028-03-11T12:00:00+09:00";
    assert_eq!(
        schedule(&tpl, &colon, at)["colonoscopy_colon"].due_date,
        date(2030, 3, 10)
    );
    assert_eq!(
        schedule(&tpl, &rectum, at)["colonoscopy_rectum"].due_date,
        date(2029, 3, 10)
    );
    // Colon: after the year-3 colonoscopy there is none left in the schedule.
    colon.value(
        "2030-03-10T10:00:00+09:00",
        json!({"colonoscopy_done": true}),
    );
    assert_eq!(
        schedule(&tpl, &colon, "2030-03-11T12:00:00+09:00")["colonoscopy_colon"].state,
        ScheduleState::NotApplicable
    );
}

#[test]
fn colorectal_stage_0_and_unstaged_plans_have_no_surveillance_rule() {
    let tpl = load("cancer-colorectal");
    let s0 = operated(json!({"pstage": "stage_0", "tumor_site": "colon"}));
    assert!(applying(&schedule(&tpl, &s0, "2027-04-01T12:00:00+09:00")).is_empty());
    let mut none = Log::default();
    none.add("treatment", EntryKind::StageStart, PLAN_START, json!({}));
    assert!(applying(&schedule(&tpl, &none, "2027-04-01T12:00:00+09:00")).is_empty());
}

// ---------------------------------------------------------------------------------------
// Gastric: 胃癌治療ガイドライン (5 years), QI29, がん情報サービス.

#[test]
fn gastric_stage_3_abdominal_imaging_yearly_for_three_years_then_over() {
    let tpl = load("cancer-gastric");
    let mut log = operated(json!({"pstage": "stage_3", "treatment_kind": "surgery"}));
    let s = schedule(&tpl, &log, "2027-04-01T12:00:00+09:00");
    assert_eq!(applying(&s), ["imaging_stage_3"]);
    assert_eq!(s["imaging_stage_3"].due_date, date(2028, 3, 9));
    log.value("2028-03-01T10:00:00+09:00", json!({"imaging_done": true}));
    log.value("2029-03-01T10:00:00+09:00", json!({"imaging_done": true}));
    let s = schedule(&tpl, &log, "2029-03-02T12:00:00+09:00");
    assert_eq!(s["imaging_stage_3"].due_date, date(2030, 3, 1));
    assert_eq!(s["imaging_stage_3"].state, ScheduleState::Scheduled);
    // After the third year's imaging the next would fall after 36 months: over.
    log.value("2030-03-01T10:00:00+09:00", json!({"imaging_done": true}));
    let s = schedule(&tpl, &log, "2030-03-02T12:00:00+09:00");
    assert_eq!(s["imaging_stage_3"].state, ScheduleState::NotApplicable);
}

#[test]
fn gastric_ct_every_6_months_after_adjuvant_chemotherapy_and_yearly_endoscopy_after_esd() {
    let tpl = load("cancer-gastric");
    let log =
        operated(json!({"pstage": "stage_2", "treatment_kind": "surgery", "adjuvant_chemo": true}));
    let s = schedule(&tpl, &log, "2027-04-01T12:00:00+09:00");
    assert_eq!(applying(&s), ["ct_after_adjuvant"]);
    assert_eq!(s["ct_after_adjuvant"].due_date, date(2027, 9, 6));
    let esd = operated(json!({"pstage": "stage_1", "treatment_kind": "endoscopic"}));
    let s = schedule(&tpl, &esd, "2027-04-01T12:00:00+09:00");
    assert_eq!(applying(&s), ["endoscopy_after_esd"]);
    // No source bounds it in years: it is still due ten years on.
    let s = schedule(&tpl, &esd, "2037-04-01T12:00:00+09:00");
    assert_eq!(s["endoscopy_after_esd"].state, ScheduleState::Overdue);
    // Stage I after surgery: no interval is cited, so no rule applies.
    let s1 = operated(json!({"pstage": "stage_1", "treatment_kind": "surgery"}));
    assert!(applying(&schedule(&tpl, &s1, "2027-04-01T12:00:00+09:00")).is_empty());
}

#[test]
fn a_negative_marker_value_is_refused_on_every_site_that_records_markers() {
    let now = t("2027-03-20T10:00:00+09:00");
    for code in SITES {
        let tpl = load(code);
        for m in markers(code) {
            let mut v = json!({});
            v[*m] = json!(-0.1);
            let e = new_entry("follow_up", EntryKind::Assessment, v);
            assert!(
                validate_entry(&tpl, &state("follow_up", true, false), &e, now).is_err(),
                "{code}: {m} below 0 accepted"
            );
        }
    }
    let pct = load("cancer-liver");
    let e = new_entry("follow_up", EntryKind::Assessment, json!({"afp_l3": 100.5}));
    assert!(validate_entry(&pct, &state("follow_up", true, false), &e, now).is_err());
}

// ---------------------------------------------------------------------------------------
// Liver: 肝癌診療ガイドライン (very-high-risk surveillance after curative treatment).

#[test]
fn liver_markers_and_ultrasound_every_120_days_ct_mri_yearly_with_no_end() {
    let tpl = load("cancer-liver");
    let mut log = operated(json!({"pstage": "stage_2", "treatment_kind": "ablation"}));
    log.value(
        "2027-06-01T10:00:00+09:00",
        json!({"afp": 8.0, "pivka_ii": 25.0, "ultrasound_done": true}),
    );
    log.value(
        "2027-09-01T10:00:00+09:00",
        json!({"imaging_done": true, "imaging_finding": "no_recurrence"}),
    );
    let s = schedule(&tpl, &log, "2027-09-02T12:00:00+09:00");
    assert_eq!(applying(&s), ["dynamic_ct_mri", "markers", "ultrasound"]);
    assert_eq!(s["markers"].due_date, date(2027, 9, 29));
    assert_eq!(s["markers"].interval_source, IntervalSource::Template);
    assert_eq!(s["ultrasound"].due_date, date(2027, 9, 29));
    assert_eq!(s["dynamic_ct_mri"].due_date, date(2028, 8, 31));
    // AFP-L3 alone counts as the marker check (the algorithm alternates them).
    log.value("2027-09-20T10:00:00+09:00", json!({"afp_l3": 5.0}));
    let s = schedule(&tpl, &log, "2027-09-21T12:00:00+09:00");
    assert_eq!(s["markers"].due_date, date(2028, 1, 18));
    // No cited end: still due years later.
    assert_eq!(
        schedule(&tpl, &log, "2035-01-01T12:00:00+09:00")["markers"].state,
        ScheduleState::Overdue
    );
}

// ---------------------------------------------------------------------------------------
// Lung: ASCO/ESMO (the Japanese guideline gives none).

#[test]
fn lung_ct_every_6_months_for_2_years_then_yearly_to_5_years() {
    let tpl = load("cancer-lung");
    let mut log = operated(json!({"pstage": "stage_2"}));
    let s = schedule(&tpl, &log, "2027-04-01T12:00:00+09:00");
    assert_eq!(applying(&s), ["ct"]);
    assert_eq!(s["ct"].due_date, date(2027, 9, 6));
    // CT on 2029-03-09 (before 24 months): the next six months later.
    log.value("2029-03-09T10:00:00+09:00", json!({"imaging_done": true}));
    let ct = &schedule(&tpl, &log, "2029-03-10T12:00:00+09:00")["ct"];
    assert_eq!((ct.interval_days, ct.due_date), (180, date(2029, 9, 5)));
    // CT on 2029-03-10 (24 months): yearly.
    log.value("2029-03-10T10:00:00+09:00", json!({"imaging_done": true}));
    let ct = &schedule(&tpl, &log, "2029-03-11T12:00:00+09:00")["ct"];
    assert_eq!((ct.interval_days, ct.due_date), (365, date(2030, 3, 10)));
    // The CT of year 5 ends the schedule.
    log.value("2031-03-10T10:00:00+09:00", json!({"imaging_done": true}));
    assert_eq!(
        schedule(&tpl, &log, "2031-03-11T12:00:00+09:00")["ct"].state,
        ScheduleState::Scheduled
    );
    log.value("2032-03-10T10:00:00+09:00", json!({"imaging_done": true}));
    assert_eq!(
        schedule(&tpl, &log, "2032-03-11T12:00:00+09:00")["ct"].state,
        ScheduleState::NotApplicable
    );
    // No marker items without a source naming them.
    assert!(tpl.item("cea").is_none() && tpl.item("cyfra").is_none());
}

// ---------------------------------------------------------------------------------------
// Breast: 乳癌診療ガイドライン, ten years.

#[test]
fn breast_examinations_widen_at_3_and_5_years_and_mammography_yearly_for_10_years() {
    let tpl = load("cancer-breast");
    let mut log = operated(json!({"pstage": "stage_1", "surgery_kind": "partial"}));
    let s = schedule(&tpl, &log, "2027-04-01T12:00:00+09:00");
    assert_eq!(applying(&s), ["exam_visit", "mammography"]);
    assert_eq!(s["exam_visit"].due_date, date(2027, 9, 6));
    assert_eq!(s["exam_visit"].owner, ProviderKind::Clinic);
    assert_eq!(s["mammography"].due_date, date(2028, 3, 9));
    let interval_after = |log: &mut Log, day: &str| {
        log.value(&format!("{day}T10:00:00+09:00"), json!({"exam_done": true}));
        let s = schedule(&tpl, log, &format!("{day}T12:00:00+09:00"));
        (s["exam_visit"].interval_days, s["exam_visit"].state)
    };
    assert_eq!(interval_after(&mut log, "2030-03-09").0, 180);
    assert_eq!(interval_after(&mut log, "2030-03-10").0, 365);
    assert_eq!(interval_after(&mut log, "2032-03-10").0, 365);
    assert_eq!(
        interval_after(&mut log, "2036-03-10"),
        (365, ScheduleState::Scheduled)
    );
    assert_eq!(
        interval_after(&mut log, "2037-03-09").1,
        ScheduleState::NotApplicable
    );
    // Ten years of mammography: the last one due on the tenth anniversary.
    log.value("2036-03-10T10:00:00+09:00", json!({"imaging_done": true}));
    let s = schedule(&tpl, &log, "2036-03-11T12:00:00+09:00");
    assert_eq!(s["mammography"].due_date, date(2037, 3, 10));
    assert_eq!(s["mammography"].state, ScheduleState::Scheduled);
    // Markers have no schedule (not recommended routinely).
    assert!(
        tpl.schedule
            .iter()
            .all(|r| !r.items.iter().any(|i| i == "ca15_3" || i == "cea"))
    );
}
