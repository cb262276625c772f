//! The per-plan record the council's reports fold over: what each stage, goal, variance
//! and measurement of one plan contributes, extracted once from the plan's entries (and
//! its hand-overs and reports back) by [`plan_report_facts`], stored as JSON with a
//! version field, and recomputed when the plan changes. Item codes come from the
//! templates (domain.md §C canonical codes); nothing is matched on a label.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::calendar::{stay_days, tokyo_date};
use crate::corrections::current_view;
use crate::entry::EntryKind;
use crate::facts::EntryFacts;
use crate::goals::{GoalState, GoalStatus};
use crate::stages::{latest_period, stage_periods};
use crate::template::{GoalTarget, PathwayTemplate};
use crate::variance::parse_variance_code;

/// The version of [`PlanReportFacts`] this code writes; a stored record of another
/// version is recomputed before it is read.
pub const FACTS_VERSION: u32 = 1;

/// An entry recorded more than this many days after its effective time counts as late.
/// A week: the report back of a stage is due within a month of its end (domain.md §3,
/// 地域連携診療計画加算 requires the information to be shared "速やかに"), and records
/// made after the next weekly team meeting no longer serve the hand-over; the council can
/// read the days from event to record in the same table.
pub const LATE_ENTRY_DAYS: i64 = 7;

/// Days without an entry by a person after which a plan counts as a dropout (治療中断);
/// the worklist's default for its dropout list (`dropout_days=90`).
pub const DROPOUT_DAYS: i64 = 90;

/// The plan-level columns stored beside the facts (filters read them without parsing
/// the JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportFactsRow {
    pub care_plan_id: Uuid,
    pub region: String,
    pub pathway_code: String,
    pub pathway_version: u32,
    pub planner_organization_id: Uuid,
    /// The plan's active consent includes `statistics`.
    pub statistics_consent: bool,
    /// Tokyo day the plan started.
    pub started_on: NaiveDate,
    /// Tokyo day the plan was completed or withdrawn.
    pub ended_on: Option<NaiveDate>,
    /// `active` / `completed` / `withdrawn`.
    pub status: String,
    pub facts: PlanReportFacts,
}

/// What one plan contributes to the council's reports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanReportFacts {
    /// [`FACTS_VERSION`].
    pub v: u32,
    /// In the template's stage order; stages never entered are listed without dates.
    pub stages: Vec<StageFacts>,
    pub goals: Vec<GoalFact>,
    pub variances: Vec<VarianceFact>,
    pub measures: Measures,
    pub completeness: Vec<StageCompleteness>,
}

/// One stage of one plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageFacts {
    pub code: String,
    /// The organisation that ran the stage (recorded its start; else the one that
    /// accepted the hand-over into it).
    pub organization: Option<Uuid>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// From the template (the patient's individual limit where one is set).
    pub expected_days: Option<u32>,
    pub max_days: Option<u32>,
    /// Hand-overs into this stage, in the order proposed.
    pub handovers: Vec<HandoverFact>,
    /// The report back owed for this stage, if the stage has ended.
    pub report_due_at: Option<DateTime<Utc>>,
    pub report_sent_at: Option<DateTime<Utc>>,
}

impl StageFacts {
    /// Days of the stay, the first day counted as day 1; `None` while not ended.
    pub fn length_days(&self) -> Option<i64> {
        Some(stay_days(self.started_at?, self.ended_at?))
    }
}

/// One hand-over (紹介・転院依頼) into a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoverFact {
    pub to_organization: Uuid,
    pub requested_at: DateTime<Utc>,
    /// `proposed`, `accepted`, `declined`, `withdrawn`, `completed`.
    pub state: String,
    /// When the receiver accepted or declined.
    pub answered_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
}

impl HandoverFact {
    pub fn accepted(&self) -> bool {
        matches!(self.state.as_str(), "accepted" | "completed")
    }

    pub fn declined(&self) -> bool {
        self.state == "declined"
    }
}

/// A goal of the plan as the goal engine judges it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalFact {
    pub code: String,
    /// The stage the goal is about (its due's stage, else its target's).
    pub stage: Option<String>,
    /// The organisation that ran that stage.
    pub organization: Option<Uuid>,
    /// `met`, `not_met`, `pending`, `overdue`, `not_applicable`.
    pub state: String,
}

/// A variance standing in the record (not voided, not dismissed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarianceFact {
    pub code: String,
    /// `PT`, `ST`, `SY`, `CO`, `UN`.
    pub category: String,
    pub positive: bool,
    /// Raised by the system (an unexplained missed goal or stage limit), possibly
    /// classified by a person since; `false`: recorded by a person.
    pub automatic: bool,
    pub stage: String,
    pub organization: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// The measurements the outcome indicators read (all optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Measures {
    /// FIM at recovery-ward admission and discharge (first and last in the stage).
    pub fim_total_admission: Option<f64>,
    pub fim_total_discharge: Option<f64>,
    pub fim_motor_admission: Option<f64>,
    pub fim_motor_discharge: Option<f64>,
    /// Recovery-ward stay in days (admission day = day 1), when ended.
    pub recovery_days: Option<i64>,
    /// The recovery stage's day limit for this patient (individual where set).
    pub recovery_limit_days: Option<u32>,
    /// Age in whole years at onset (onset date, else the plan's start).
    pub age_at_onset: Option<i64>,
    /// Days from onset (stroke `onset_at`, femur `injury_date`) to recovery admission.
    pub onset_to_recovery_days: Option<i64>,
    /// The discharge destination code of the last stage that recorded one.
    pub destination: Option<String>,
    /// Destination `home` (自宅).
    pub discharged_home: Option<bool>,
    pub barthel_preinjury: Option<f64>,
    pub barthel_discharge: Option<f64>,
    pub last_hba1c: Option<f64>,
    pub last_hba1c_at: Option<DateTime<Utc>>,
    /// The plan's own HbA1c target (its threshold goal on `hba1c`, individual where set).
    pub hba1c_target: Option<f64>,
    /// Effective times of eye examinations and UACR measurements.
    pub eye_exams: Vec<DateTime<Utc>>,
    pub uacr: Vec<DateTime<Utc>>,
    /// No entry by a person for [`DROPOUT_DAYS`] while the plan is active.
    pub dropout: bool,
    /// The last entry by a person.
    pub last_activity: Option<DateTime<Utc>>,
    /// The patient died during the stay (destination `death`).
    pub died: bool,
    /// The template records eye examinations and UACR (the diabetes indicators apply).
    #[serde(default)]
    pub tracks_diabetes: bool,
}

/// How complete one stage's record is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageCompleteness {
    pub stage: String,
    pub organization: Option<Uuid>,
    /// The stage has ended (only then can required items be missing).
    pub ended: bool,
    /// Required-at-end items the template lists for the stage.
    pub required: u32,
    /// Of those, not recorded in the stage by its end.
    pub missing: Vec<String>,
    /// Clinical entries of the stage.
    pub entries: u32,
    /// Of those, recorded more than [`LATE_ENTRY_DAYS`] after their effective time.
    pub late: u32,
    /// Median whole days from effective time to recording.
    pub median_record_days: Option<f64>,
}

/// What the extraction reads besides the entries: who wrote each entry, hand-overs,
/// reports back, the goal statuses and the patient's birth date.
#[derive(Debug, Clone, Copy)]
pub struct FactInput<'a> {
    pub template: &'a PathwayTemplate,
    pub plan_started_at: DateTime<Utc>,
    /// `active` / `completed` / `withdrawn`.
    pub status: &'a str,
    /// In sequence order.
    pub entries: &'a [EntryFacts],
    /// Per entry id: the author's organisation, whether the system wrote it, and the
    /// entry's `variance` document.
    pub meta: &'a HashMap<Uuid, EntryMeta>,
    pub goals: &'a [GoalStatus],
    pub handovers: &'a [HandoverInput],
    pub reports: &'a [ReportInput],
    pub birth_date: Option<NaiveDate>,
    pub now: DateTime<Utc>,
}

/// What the extraction needs of one entry besides its facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntryMeta {
    pub organization: Uuid,
    pub system: bool,
    pub variance: Option<Value>,
}

/// A stored hand-over.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoverInput {
    pub stage: String,
    pub to_organization: Uuid,
    pub proposed_at: DateTime<Utc>,
    pub state: String,
    pub answered_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
}

/// A stored report back.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput {
    pub stage: String,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The stage a goal is about: its due's stage, else its target's.
fn goal_stage(g: &crate::template::Goal) -> Option<String> {
    if let Some(d) = &g.due {
        return Some(d.stage.clone());
    }
    match &g.target {
        GoalTarget::StageLength { stage, .. } => Some(stage.clone()),
        _ => None,
    }
}

fn whole_years(birth: NaiveDate, on: NaiveDate) -> i64 {
    let mut years = i64::from(on.year() - birth.year());
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

fn value_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(crate::calendar::tokyo_midnight)
}

/// Extracts one plan's report facts from its record as it stands at `input.now`.
pub fn plan_report_facts(input: &FactInput<'_>) -> PlanReportFacts {
    let t = input.template;
    let view = current_view(input.entries, input.now, input.now);
    let periods = stage_periods(&view);
    let org_of = |e: &EntryFacts| input.meta.get(&e.id).map(|m| m.organization);
    let system = |e: &EntryFacts| input.meta.get(&e.id).is_some_and(|m| m.system);

    let mut stages = Vec::with_capacity(t.stages.len());
    for s in &t.stages {
        let period = latest_period(&periods, &s.code);
        let handovers: Vec<HandoverFact> = input
            .handovers
            .iter()
            .filter(|h| h.stage == s.code)
            .map(|h| HandoverFact {
                to_organization: h.to_organization,
                requested_at: h.proposed_at,
                state: h.state.clone(),
                answered_at: h.answered_at,
                decline_reason: h.decline_reason.clone(),
            })
            .collect();
        let organization = period.and_then(|p| org_of(p.start)).or_else(|| {
            handovers
                .iter()
                .rev()
                .find(|h| h.accepted())
                .map(|h| h.to_organization)
        });
        let report = input.reports.iter().rev().find(|r| r.stage == s.code);
        stages.push(StageFacts {
            code: s.code.clone(),
            organization,
            started_at: period.map(|p| p.start.effective_at),
            ended_at: period.and_then(|p| p.end.map(|e| e.effective_at)),
            expected_days: s.expected_days,
            max_days: s.max_days,
            handovers,
            report_due_at: report.map(|r| r.due_at),
            report_sent_at: report.and_then(|r| r.sent_at),
        });
    }
    let stage_org = |code: &str| {
        stages
            .iter()
            .find(|s| s.code == code)
            .and_then(|s| s.organization)
    };

    let goals = input
        .goals
        .iter()
        .map(|g| {
            let stage = t
                .goals
                .iter()
                .find(|tg| tg.code == g.code)
                .and_then(goal_stage);
            GoalFact {
                code: g.code.clone(),
                organization: stage.as_deref().and_then(stage_org),
                stage,
                state: g.status.as_str().to_owned(),
            }
        })
        .collect();

    // Variances: the standing ones (a classification replaces the automatic variance it
    // amends in the current view; a dismissal removes it).
    let mut variances = Vec::new();
    let origin_system = |e: &EntryFacts| {
        let mut cur = e;
        let mut guard = 0;
        while let Some(prev) = cur.amends {
            match input.entries.iter().find(|x| x.id == prev) {
                Some(p) if guard < 64 => {
                    cur = p;
                    guard += 1;
                }
                _ => break,
            }
        }
        system(cur)
    };
    for e in view.iter().filter(|e| e.kind == EntryKind::Variance) {
        let Some(doc) = input.meta.get(&e.id).and_then(|m| m.variance.as_ref()) else {
            continue;
        };
        if doc.get("dismissed").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let Some(code) = doc.get("code").and_then(Value::as_str) else {
            continue;
        };
        let Ok(parts) = parse_variance_code(code) else {
            continue;
        };
        variances.push(VarianceFact {
            code: code.to_owned(),
            category: parts.category.to_owned(),
            positive: parts.direction == "POS",
            automatic: origin_system(e),
            stage: e.stage.clone(),
            organization: stage_org(&e.stage).or_else(|| org_of(e)),
            at: e.effective_at,
        });
    }

    let measures = measures(input, &view, &stages);

    let completeness = t
        .stages
        .iter()
        .map(|s| {
            let sf = stages.iter().find(|x| x.code == s.code);
            let ended_at = sf.and_then(|x| x.ended_at);
            let in_stage: Vec<&&EntryFacts> = view
                .iter()
                .filter(|e| e.stage == s.code && !system(e))
                .filter(|e| e.kind.is_clinical())
                .collect();
            let required: Vec<&str> = t
                .items
                .iter()
                .filter(|i| i.required_at_end.contains(&s.code))
                .map(|i| i.code.as_str())
                .collect();
            let missing = match ended_at {
                Some(end) => required
                    .iter()
                    .filter(|item| {
                        !in_stage
                            .iter()
                            .any(|e| e.effective_at <= end && e.values.contains_key(**item))
                    })
                    .map(|s| (*s).to_owned())
                    .collect(),
                None => Vec::new(),
            };
            let mut delays: Vec<f64> = in_stage
                .iter()
                .map(|e| ((e.recorded_at - e.effective_at).num_days().max(0)) as f64)
                .collect();
            delays.sort_by(f64::total_cmp);
            StageCompleteness {
                stage: s.code.clone(),
                organization: sf.and_then(|x| x.organization),
                ended: ended_at.is_some(),
                required: required.len() as u32,
                missing,
                entries: in_stage.len() as u32,
                late: in_stage
                    .iter()
                    .filter(|e| (e.recorded_at - e.effective_at).num_days() > LATE_ENTRY_DAYS)
                    .count() as u32,
                median_record_days: super::stats::median(&delays),
            }
        })
        .collect();

    PlanReportFacts {
        v: FACTS_VERSION,
        stages,
        goals,
        variances,
        measures,
        completeness,
    }
}

fn measures(input: &FactInput<'_>, view: &[&EntryFacts], stages: &[StageFacts]) -> Measures {
    let mut m = Measures::default();
    let in_stage = |stage: &str| -> Vec<&EntryFacts> {
        view.iter().copied().filter(|e| e.stage == stage).collect()
    };
    let num = |e: &EntryFacts, item: &str| e.values.get(item).and_then(Value::as_f64);
    let recovery = stages.iter().find(|s| s.code == "recovery");
    if let Some(rec) = recovery {
        let entries: Vec<&EntryFacts> = in_stage("recovery");
        let first_last = |item: &str| {
            let vals: Vec<f64> = entries.iter().filter_map(|e| num(e, item)).collect();
            match vals.as_slice() {
                [] => (None, None),
                [a] => (Some(*a), None),
                [a, .., b] => (Some(*a), Some(*b)),
            }
        };
        (m.fim_total_admission, m.fim_total_discharge) = first_last("fim_total");
        (m.fim_motor_admission, m.fim_motor_discharge) = first_last("fim_motor");
        let (_, barthel_last) = first_last("barthel_total");
        m.barthel_discharge = barthel_last.or_else(|| first_last("barthel_total").0);
        m.recovery_days = rec.length_days();
        m.recovery_limit_days = rec.max_days;
    }
    // Onset: stroke `onset_at`, femur-fracture `injury_date` (template item codes).
    let onset = view
        .iter()
        .find_map(|e| {
            ["onset_at", "injury_date"]
                .iter()
                .find_map(|k| e.values.get(*k))
        })
        .and_then(value_time);
    let onset_day = tokyo_date(onset.unwrap_or(input.plan_started_at));
    m.age_at_onset = input.birth_date.map(|b| whole_years(b, onset_day));
    if let (Some(o), Some(start)) = (onset, recovery.and_then(|r| r.started_at)) {
        m.onset_to_recovery_days = Some((tokyo_date(start) - tokyo_date(o)).num_days());
    }
    m.destination = view
        .iter()
        .rev()
        .find_map(|e| e.values.get("destination").and_then(Value::as_str))
        .map(str::to_owned);
    m.discharged_home = m.destination.as_deref().map(|d| d == "home");
    m.died = m.destination.as_deref() == Some("death");
    m.barthel_preinjury = view
        .iter()
        .rev()
        .find_map(|e| num(e, "barthel_preinjury_total"));
    if let Some(e) = view.iter().rev().find(|e| e.values.contains_key("hba1c")) {
        m.last_hba1c = num(e, "hba1c");
        m.last_hba1c_at = Some(e.effective_at);
    }
    m.hba1c_target = input.goals.iter().find_map(|g| {
        (g.item.as_deref() == Some("hba1c"))
            .then(|| g.target.get("value").and_then(Value::as_f64))
            .flatten()
    });
    let done = |e: &EntryFacts, item: &str| match e.values.get(item) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Null) | None => false,
        Some(_) => true,
    };
    m.eye_exams = view
        .iter()
        .filter(|e| done(e, "eye_exam_done"))
        .map(|e| e.effective_at)
        .collect();
    m.uacr = view
        .iter()
        .filter(|e| done(e, "uacr"))
        .map(|e| e.effective_at)
        .collect();
    m.tracks_diabetes = ["eye_exam_done", "uacr"]
        .iter()
        .all(|code| input.template.items.iter().any(|i| i.code == *code));
    m.last_activity = input
        .entries
        .iter()
        .filter(|e| !input.meta.get(&e.id).is_some_and(|x| x.system))
        .map(|e| e.effective_at)
        .max();
    m.dropout = input.status == "active"
        && (input.now - m.last_activity.unwrap_or(input.plan_started_at)).num_days()
            >= DROPOUT_DAYS;
    m
}

/// Whether a goal state counts as decided (met or not met, overdue counting as not met).
pub fn goal_decided(state: &str) -> Option<bool> {
    match state {
        s if s == GoalState::Met.as_str() => Some(true),
        s if s == GoalState::NotMet.as_str() || s == GoalState::Overdue.as_str() => Some(false),
        _ => None,
    }
}

/// The plan-level columns of a [`ReportFactsRow`], as stored on the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanColumns {
    pub care_plan_id: Uuid,
    pub region: String,
    pub planner_organization_id: Uuid,
    pub statistics_consent: bool,
    pub started_at: DateTime<Utc>,
    /// `active` / `completed` / `withdrawn`.
    pub status: String,
    /// When the plan was last changed (its end when it is no longer active and has no
    /// entry).
    pub updated_at: DateTime<Utc>,
}

/// What [`report_facts_row`] reads of one plan's record.
#[derive(Debug, Clone, Copy)]
pub struct PlanRecord<'a> {
    /// The template of the plan's version.
    pub template: &'a PathwayTemplate,
    /// In sequence order.
    pub entries: &'a [EntryFacts],
    pub meta: &'a HashMap<Uuid, EntryMeta>,
    pub handovers: &'a [HandoverInput],
    pub reports: &'a [ReportInput],
    pub birth_date: Option<NaiveDate>,
}

/// One plan's stored report row: the goals judged by the goal engine on the patient's
/// individual template, then [`plan_report_facts`]. The service's refresh and the bench
/// dataset loader both build the row with it.
pub fn report_facts_row(
    cols: PlanColumns,
    record: PlanRecord<'_>,
    now: DateTime<Utc>,
) -> ReportFactsRow {
    let pf = crate::plan::plan_facts(record.entries.to_vec());
    let individual = pf.individual_template(record.template, now);
    let ctx = crate::goals::GoalContext {
        plan_started_at: cols.started_at,
        birth_date: record.birth_date,
        as_of: now,
        known_at: now,
    };
    let goals = crate::goals::evaluate_goals(&individual, &ctx, &pf.facts);
    let facts = plan_report_facts(&FactInput {
        template: &individual,
        plan_started_at: cols.started_at,
        status: &cols.status,
        entries: record.entries,
        meta: record.meta,
        goals: &goals,
        handovers: record.handovers,
        reports: record.reports,
        birth_date: record.birth_date,
        now,
    });
    let ended_on = (cols.status != "active").then(|| {
        tokyo_date(
            record
                .entries
                .iter()
                .map(|e| e.effective_at)
                .max()
                .unwrap_or(cols.updated_at),
        )
    });
    ReportFactsRow {
        care_plan_id: cols.care_plan_id,
        region: cols.region,
        pathway_code: record.template.code.clone(),
        pathway_version: record.template.version,
        planner_organization_id: cols.planner_organization_id,
        statistics_consent: cols.statistics_consent,
        started_on: tokyo_date(cols.started_at),
        ended_on,
        status: cols.status,
        facts,
    }
}
