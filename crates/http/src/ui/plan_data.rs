//! The plan page's read model: what the plan page, its print view and the pages that act
//! on a plan read (one access decision, one audit event), with the derived views they
//! share (effective entries, the stages' overview columns).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use renkei_domain::access::PlanAction;
use renkei_domain::entry::PlanStatus;
use renkei_domain::goals::GoalStatus;
use renkei_domain::template::PathwayTemplate;
use renkei_service::access::Consent;
use renkei_service::handovers::Handover;
use renkei_service::plans::{CarePlan, Entry};
use renkei_service::reports::Report;
use renkei_service::screens::{PlanScreen, StageDates, TeamRow as TeamMember};
use serde_json::Value;
use uuid::Uuid;

use super::Ui;
use super::fmt::{self, When};
use super::views::{self, Banner};
use crate::state::AppState;

/// One column of the overview matrix.
pub struct StageCol {
    pub code: String,
    pub title: String,
    pub current: bool,
    pub status: &'static str,
    pub status_class: &'static str,
    pub facilities: Vec<String>,
    pub planned_start: Option<When>,
    pub actual_start: Option<When>,
    pub planned_end: Option<When>,
    pub actual_end: Option<When>,
    pub length: String,
    pub length_class: &'static str,
    pub norm: String,
    pub criteria: String,
    pub criteria_state: &'static str,
    pub criteria_class: &'static str,
    pub goals: Vec<(String, &'static str, &'static str)>,
    pub entries: usize,
}

/// Everything the plan page (and the print view) reads: the service's read model with
/// the patient banner built from it.
pub struct PlanData {
    pub plan: CarePlan,
    pub status: PlanStatus,
    pub template: PathwayTemplate,
    pub banner: Banner,
    pub entries: Vec<Entry>,
    pub goals: Vec<GoalStatus>,
    pub team: Vec<TeamMember>,
    pub consents: Vec<Consent>,
    pub handovers: Vec<Handover>,
    pub reports: Vec<Report>,
    pub org_names: HashMap<String, String>,
    pub stage_dates: HashMap<String, StageDates>,
    pub actions: Vec<PlanAction>,
    pub amendable: HashSet<Uuid>,
    pub histories: HashMap<Uuid, renkei_service::corrections::EntryHistory>,
    pub notices: Vec<renkei_service::notices::AmendmentNotice>,
    /// Stages left for the next one before their end was recorded (「終了未記録」).
    pub unrecorded_ends: Vec<renkei_domain::handover::UnrecordedEnd>,
    /// The next visits and tests of a cyclical plan.
    pub schedule: Vec<renkei_domain::schedule::ScheduleStatus>,
    /// The 紹介基準 judged from the record (cyclical plans).
    pub referral: Option<renkei_domain::referral_criteria::ReferralCriteria>,
    /// Read only through a break-glass grant.
    pub break_glass: bool,
}

/// The plan page's read model (one access decision, one audit event).
pub async fn load(state: &AppState, ui: &Ui, id: Uuid) -> Result<PlanData, super::UiError> {
    let screen = state.services.plan_screen(&ui.actor, &ui.meta, id).await?;
    Ok(from_screen(state, ui, screen))
}

/// The printed plan's read model (one access decision, audited as a print).
pub async fn load_print(state: &AppState, ui: &Ui, id: Uuid) -> Result<PlanData, super::UiError> {
    let screen = state.services.print_screen(&ui.actor, &ui.meta, id).await?;
    Ok(from_screen(state, ui, screen))
}

pub fn from_screen(state: &AppState, ui: &Ui, s: PlanScreen) -> PlanData {
    let banner = views::banner_of(
        state,
        ui,
        &s.patient.patient,
        &s.patient.plans,
        s.patient.same_name,
    );
    PlanData {
        template: s.individual.clone(),
        plan: s.plan,
        status: s.status,
        banner,
        entries: s.entries,
        goals: s.goals,
        team: s.team,
        consents: s.consents,
        handovers: s.handovers,
        reports: s.reports,
        org_names: s.org_names,
        stage_dates: s.stage_dates,
        actions: s.actions,
        amendable: s.amendable,
        histories: s.histories,
        notices: s.notices,
        unrecorded_ends: s.unrecorded_ends,
        schedule: s.schedule,
        referral: s.referral,
        break_glass: s.break_glass,
    }
}

impl PlanData {
    pub fn org(&self, code: &str) -> String {
        self.org_names
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    }

    /// Entries that count: not replaced by an amendment, not voided (nor a void).
    pub fn effective(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.amended_by.is_none() && e.voided_by.is_none())
    }

    /// (time, value) of every recorded numeric value of `item`, oldest first.
    pub fn series(&self, item: &str) -> Vec<(DateTime<Utc>, f64)> {
        let mut v: Vec<(DateTime<Utc>, f64)> = self
            .effective()
            .filter_map(|e| {
                e.values
                    .get(item)
                    .and_then(Value::as_f64)
                    .map(|x| (e.effective_at, x))
            })
            .collect();
        v.sort_by_key(|(t, _)| *t);
        v
    }

    /// When `stage` started and ended (the service's stage dates).
    pub fn stage_dates(&self, stage: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let d = self.stage_dates.get(stage).copied().unwrap_or_default();
        (d.start, d.end)
    }

    pub fn active(&self) -> bool {
        self.status == PlanStatus::Active
    }

    pub fn may(&self, action: &PlanAction) -> bool {
        self.actions.contains(action)
    }

    /// The overview matrix.
    pub fn columns(&self, now: DateTime<Utc>) -> Vec<StageCol> {
        let t = &self.template;
        let mut cols = Vec::new();
        let mut prev_end: Option<DateTime<Utc>> = Some(self.plan.started_at);
        for s in &t.stages {
            let (start, recorded_end) = self.stage_dates(&s.code);
            // A stage the next one closed before its end was recorded counts as ended
            // when the next stage started (「終了未記録」 until the end is recorded).
            let unrecorded = self
                .unrecorded_ends
                .iter()
                .rev()
                .find(|u| u.stage == s.code && recorded_end.is_none());
            let end = recorded_end.or(unrecorded.map(|u| u.closed_at));
            let current = self.plan.current_stage == s.code && self.active();
            let planned_start = prev_end;
            let base = start.or(planned_start);
            let planned_end = match (base, s.expected_days) {
                (Some(b), Some(d)) => Some(b + Duration::days(d.into())),
                _ => None,
            };
            let (status, status_class) = match (start, end) {
                (Some(_), Some(_)) if unrecorded.is_some() => ("終了未記録", "wait"),
                (Some(_), Some(_)) => ("終了", "ok"),
                (Some(_), None) => ("進行中", "info"),
                _ if current => ("開始前", "wait"),
                _ => ("未開始", "muted"),
            };
            let (length, length_class) = match start {
                Some(a) => {
                    let b = end.unwrap_or(now);
                    let days = fmt::stay_days(a, b);
                    let word = if s.max_days.is_some_and(|m| days > i64::from(m)) {
                        ("上限超過", "bad")
                    } else if s.expected_days.is_some_and(|x| days > i64::from(x)) {
                        ("標準超過", "wait")
                    } else {
                        ("標準内", "ok")
                    };
                    (
                        format!(
                            "{}{days}日({})",
                            if end.is_some() { "" } else { "経過 " },
                            word.0
                        ),
                        word.1,
                    )
                }
                None => ("—".to_owned(), "muted"),
            };
            let norm = match (s.expected_days, s.max_days) {
                (Some(e), Some(m)) => format!("標準 {e}日 / 上限 {m}日"),
                (Some(e), None) => format!("標準 {e}日"),
                (None, Some(m)) => format!("上限 {m}日"),
                (None, None) => "定めなし".to_owned(),
            };
            let mut facilities: Vec<String> = self
                .team
                .iter()
                .filter(|m| m.stages.iter().any(|x| x == &s.code))
                .map(|m| m.organization_name.clone())
                .collect();
            facilities.dedup();
            let (criteria_state, criteria_class) = match (&s.exit_criteria, end) {
                (None, _) => ("", "muted"),
                (Some(_), Some(_)) => ("達成(病期終了)", "ok"),
                (Some(_), None) => ("評価待ち", "muted"),
            };
            let goals = self
                .goals
                .iter()
                .filter(|g| {
                    t.goals
                        .iter()
                        .find(|x| x.code == g.code)
                        .and_then(|x| x.owner_stage())
                        .is_some_and(|owner| owner == s.code)
                })
                .map(|g| {
                    let (word, _, class) = fmt::goal_state(fmt::goal_code(g));
                    (g.title.ja.clone(), word, class)
                })
                .collect();
            cols.push(StageCol {
                code: s.code.clone(),
                title: s.title.ja.clone(),
                current,
                status,
                status_class,
                facilities,
                planned_start: planned_start.map(fmt::day_of),
                actual_start: start.map(fmt::day_of),
                planned_end: planned_end.map(fmt::day_of),
                actual_end: end.map(fmt::day_of),
                length,
                length_class,
                norm,
                criteria: s.exit_criteria.clone().unwrap_or_default(),
                criteria_state,
                criteria_class,
                goals,
                entries: self.effective().filter(|e| e.stage == s.code).count(),
            });
            prev_end = end.or(planned_end);
        }
        cols
    }
}
