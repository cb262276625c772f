//! The worklist's index: each plan's schedule, goal, consent and dropout items, evaluated
//! by the same rules as the full worklist, stored per organisation that works on and sees
//! the plan, and recomputed when the plan changes (`work_stale`) or when time alone can
//! change one of them (`work_valid_until`).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use renkei_domain::access::ConsentState;
use renkei_domain::calendar::{tokyo_date, tokyo_midnight};
use renkei_domain::entry::PlanStatus;
use renkei_domain::goals::{GoalState, evaluate_goals, needs_birth_date};
use renkei_domain::ids::OrgKind;
use renkei_domain::schedule::{ScheduleContext, ScheduleState, ScheduleStatus, evaluate_schedule};
use renkei_domain::template::{PathwayTemplate, ProviderKind, Scope};
use renkei_store::queries::{self, CarePlanRow, EntryRow};
use renkei_store::queries_access::{self as qa, ConsentRow, TeamMemberRow};
use renkei_store::work_index::{self as store, WorkItemRow};
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

use crate::plan_facts::plan_facts;
use crate::variances::SYSTEM_PRACTITIONER_ID;
use crate::{ServiceError, Services};

/// The lists the index holds, by their place in the worklist.
pub(crate) const SCHEDULE_DUE: i16 = 4;
pub(crate) const GOALS_OVERDUE: i16 = 5;
pub(crate) const CONSENT_MISSING: i16 = 6;
pub(crate) const DROPOUTS: i16 = 7;

/// Days before its due date a scheduled visit enters the worklist.
pub(crate) const SCHEDULE_AHEAD_DAYS: i64 = 30;
/// Days after a plan's creation without consent after which it is listed.
pub(crate) const CONSENT_DAYS: i64 = 7;

/// Plans recomputed per transaction.
const REFRESH_BATCH: usize = 50;

/// What one plan contributes to worklists at one moment, before it is split by
/// organisation.
#[derive(Debug, Clone)]
pub(crate) struct PlanWork {
    pub schedule: Vec<ScheduleStatus>,
    /// Overdue goals: code and due time.
    pub goals_overdue: Vec<(String, Option<DateTime<Utc>>)>,
    /// When the plan has no consent: the moment it counts as missing (7 days after the
    /// plan was created; listed once that moment has passed).
    pub consent_missing_after: Option<DateTime<Utc>>,
    /// The latest entry by a person (or the plan's start).
    pub last_activity: DateTime<Utc>,
    /// The earliest moment after `as_of` at which time alone can change `schedule` or
    /// `goals_overdue` (`None`: only a change to the plan can).
    pub valid_until: Option<DateTime<Utc>>,
}

/// Whether a schedule status is listed for an organisation providing `kinds`.
pub(crate) fn schedule_listed(
    s: &ScheduleStatus,
    kinds: &[ProviderKind],
    as_of: DateTime<Utc>,
) -> bool {
    let soon = s.due <= as_of + Duration::days(SCHEDULE_AHEAD_DAYS);
    kinds.contains(&s.owner)
        && s.state != ScheduleState::NotApplicable
        && (soon || s.state != ScheduleState::Scheduled)
}

/// 00:00 Asia/Tokyo of the day after `d`.
fn midnight_after(d: NaiveDate) -> Option<DateTime<Utc>> {
    d.succ_opt().map(tokyo_midnight)
}

/// The earliest moment after `as_of` at which time alone can change what the schedule and
/// the goals of a plan show: a visit entering the look-ahead window, falling due, becoming
/// overdue after its grace days; a goal's due date passing (or a timed goal's exact due
/// moment); a future-dated entry coming into view; and, where a goal reads a rolling window
/// or depends on age, the next Tokyo midnight.
pub(crate) fn valid_until(
    template: &PathwayTemplate,
    as_of: DateTime<Utc>,
    schedule: &[ScheduleStatus],
    goals: &[renkei_domain::goals::GoalStatus],
    rows: &[EntryRow],
) -> Option<DateTime<Utc>> {
    let mut moments: Vec<DateTime<Utc>> = Vec::new();
    for s in schedule {
        if s.state == ScheduleState::NotApplicable {
            continue;
        }
        moments.push(s.due - Duration::days(SCHEDULE_AHEAD_DAYS));
        moments.push(s.due);
        if let Some(last_on_time) = s
            .due_date
            .checked_add_days(chrono::Days::new(s.grace_days.into()))
        {
            moments.extend(midnight_after(last_on_time));
        }
    }
    for g in goals {
        if let Some(d) = g.due_date {
            moments.extend(midnight_after(d));
        }
        if let Some(d) = g.due {
            // A timed goal is overdue once the moment is strictly past.
            moments.push(d + Duration::microseconds(1));
        }
    }
    let daily = needs_birth_date(template)
        || template
            .goals
            .iter()
            .any(|g| matches!(g.scope, Some(Scope::Rolling { .. })));
    if daily {
        moments.extend(midnight_after(tokyo_date(as_of)));
    }
    moments.extend(rows.iter().map(|r| r.effective_at));
    moments.into_iter().filter(|m| *m > as_of).min()
}

/// Evaluates one plan's worklist items at `as_of` (the record as it stands).
pub(crate) fn plan_work(
    template: &PathwayTemplate,
    plan: &CarePlanRow,
    consents: &[ConsentRow],
    rows: &[EntryRow],
    birth_date: Option<NaiveDate>,
    as_of: DateTime<Utc>,
) -> PlanWork {
    let pf = plan_facts(rows);
    let schedule = evaluate_schedule(
        template,
        &ScheduleContext::at(plan.started_at, as_of),
        &pf.facts,
        &pf.intervals(as_of),
    );
    let individual = pf.individual_template(template, as_of);
    let ctx = renkei_domain::goals::GoalContext {
        plan_started_at: plan.started_at,
        birth_date,
        as_of,
        known_at: as_of,
    };
    let goals = evaluate_goals(&individual, &ctx, &pf.facts);
    let valid_until = valid_until(&individual, as_of, &schedule, &goals, rows);
    let goals_overdue = goals
        .into_iter()
        .filter(|g| g.status == GoalState::Overdue)
        .map(|g| (g.code, g.due))
        .collect();
    let consent_missing_after = (crate::access::consent_state(consents) == ConsentState::None)
        .then(|| plan.created_at + Duration::days(CONSENT_DAYS));
    let last_activity = rows
        .iter()
        .filter(|r| r.author_id != SYSTEM_PRACTITIONER_ID)
        .map(|r| r.effective_at)
        .max()
        .unwrap_or(plan.started_at);
    PlanWork {
        schedule,
        goals_overdue,
        consent_missing_after,
        last_activity,
        valid_until,
    }
}

/// Microseconds since the epoch (the order key of the index).
pub(crate) fn key(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The order key of an item without a due time (first, like `None` before `Some`).
pub(crate) const NO_DUE: i64 = i64::MIN;

/// A plan's rows in the index: for each organisation on its team that sees it, the
/// items its lists show.
fn index_rows(
    plan: &CarePlanRow,
    pathway: &str,
    work: &PlanWork,
    orgs: &[(Uuid, &'static [ProviderKind])],
    as_of: DateTime<Utc>,
) -> Vec<WorkItemRow> {
    let mut out = Vec::new();
    let row = |org: Uuid,
               list: i16,
               pos: usize,
               subject: &str,
               state: &str,
               due: Option<DateTime<Utc>>| WorkItemRow {
        id: Uuid::now_v7(),
        organization_id: org,
        list,
        due_key: due.map_or(NO_DUE, key),
        care_plan_id: plan.id,
        pos: pos as i32,
        patient_id: plan.patient_id,
        pathway: pathway.to_owned(),
        subject: subject.to_owned(),
        state: state.to_owned(),
        due,
    };
    for (org, kinds) in orgs {
        let listed = work
            .schedule
            .iter()
            .filter(|s| schedule_listed(s, kinds, as_of));
        for (pos, s) in listed.enumerate() {
            let state = format!("{:?}", s.state).to_lowercase();
            out.push(row(*org, SCHEDULE_DUE, pos, &s.code, &state, Some(s.due)));
        }
        for (pos, (code, due)) in work.goals_overdue.iter().enumerate() {
            out.push(row(*org, GOALS_OVERDUE, pos, code, "overdue", *due));
        }
        if *org == plan.planner_organization_id
            && let Some(after) = work.consent_missing_after
        {
            out.push(row(
                *org,
                CONSENT_MISSING,
                0,
                "consent",
                "missing",
                Some(after),
            ));
        }
        // Stored by the last activity; listed once the dropout days have passed.
        out.push(row(
            *org,
            DROPOUTS,
            0,
            "no_entry",
            "dropout",
            Some(work.last_activity),
        ));
    }
    out
}

/// The provider kinds of an organisation (none when it is unknown).
async fn provider_kinds<C: ConnectionTrait>(
    c: &C,
    cache: &mut HashMap<Uuid, &'static [ProviderKind]>,
    org: Uuid,
) -> Result<&'static [ProviderKind], ServiceError> {
    if let Some(k) = cache.get(&org) {
        return Ok(k);
    }
    let kinds = match queries::organization_by_id(c, org).await? {
        Some(o) => OrgKind::parse(&o.kind).map_or(&[][..], |k| k.provider_kinds()),
        None => &[],
    };
    cache.insert(org, kinds);
    Ok(kinds)
}

/// Groups rows by the plan they belong to.
fn by_plan<T>(rows: Vec<T>, plan: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for r in rows {
        out.entry(plan(&r)).or_default().push(r);
    }
    out
}

impl Services {
    /// Recomputes the work items of these plans as of `as_of`, a batch at a time: the batch
    /// is claimed in a short write transaction ([`store::claim`]), read and evaluated in a
    /// read transaction that blocks no writer, and its items written in a second short write
    /// transaction. A plan changed meanwhile stays stale and is recomputed on the next pass.
    pub async fn refresh_work_items(
        &self,
        ids: &[Uuid],
        as_of: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let mut kinds = HashMap::new();
        for batch in ids.chunks(REFRESH_BATCH) {
            let claim = renkei_store::db::begin_write(&self.db).await?;
            store::claim(&*claim, batch, self.now()).await?;
            claim.commit().await?;
            let txn = self.db.begin().await?;
            let plans = queries::care_plans_by_ids(&txn, batch).await?;
            let active: Vec<Uuid> = plans
                .iter()
                .filter(|p| p.status == PlanStatus::Active.as_str())
                .map(|p| p.id)
                .collect();
            let mut teams = by_plan(qa::teams_of(&txn, &active).await?, |r| r.care_plan_id);
            let mut consents = by_plan(qa::consents_of_plans(&txn, &active).await?, |r| {
                r.care_plan_id
            });
            let mut entries = by_plan(queries::entries_of_plans(&txn, &active).await?, |r| {
                r.care_plan_id
            });
            let mut items = Vec::new();
            let mut validity = Vec::with_capacity(plans.len());
            for plan in plans {
                let published = self
                    .pathways
                    .for_plan(plan.pathway_version_id, plan.variant.as_deref())
                    .cloned();
                let (Some(published), true) =
                    (published, plan.status == PlanStatus::Active.as_str())
                else {
                    validity.push((plan.id, None));
                    continue;
                };
                let team: Vec<TeamMemberRow> = teams.remove(&plan.id).unwrap_or_default();
                let consent_rows = consents.remove(&plan.id).unwrap_or_default();
                let rows = entries.remove(&plan.id).unwrap_or_default();
                let when = crate::care_team::AccessAt::from_entries(self, as_of, &rows);
                let access = crate::access::access_from(&plan, &team, &consent_rows, false, &when);
                // The date alone ends a member's access: recompute then.
                let records: Vec<_> = team
                    .iter()
                    .filter_map(crate::care_team::member_record)
                    .collect();
                let access_change = renkei_domain::access::next_standing_change(
                    &records,
                    &when.stage_facts(&plan),
                    when.read_after_end_days,
                    as_of,
                );
                let mut orgs: Vec<(Uuid, &'static [ProviderKind])> = Vec::new();
                for m in &team {
                    if orgs.iter().all(|(o, _)| *o != m.organization_id)
                        && access.is_visible_to(m.organization_id)
                    {
                        let k = provider_kinds(&txn, &mut kinds, m.organization_id).await?;
                        orgs.push((m.organization_id, k));
                    }
                }
                let template = &published.template;
                let birth_date =
                    crate::goal_context::birth_date_for(&txn, template, plan.patient_id).await?;
                let work = plan_work(template, &plan, &consent_rows, &rows, birth_date, as_of);
                items.extend(index_rows(&plan, &template.code, &work, &orgs, as_of));
                let valid_until = match (work.valid_until, access_change) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                validity.push((plan.id, valid_until));
            }
            txn.commit().await?;
            let write = renkei_store::db::begin_write(&self.db).await?;
            store::replace_items(&*write, &validity, items).await?;
            write.commit().await?;
        }
        Ok(ids.len())
    }

    /// Recomputes up to `limit` plans whose work items are stale or expired now; returns
    /// how many it recomputed (the background refresher calls it until none are left).
    pub async fn refresh_stale_work(&self, limit: u64) -> Result<usize, ServiceError> {
        let now = self.now();
        let ids = store::plans_to_refresh(&self.db, now, limit).await?;
        self.refresh_work_items(&ids, now).await
    }

    /// How many plans wait for their worklist items to be recomputed (`/metrics`).
    pub async fn worklist_backlog(&self) -> Result<u64, ServiceError> {
        Ok(store::plans_needing_refresh(&self.db, self.now()).await?)
    }

    /// Brings the work items of `org`'s plans up to date at `as_of` (now).
    pub(crate) async fn refresh_work_of_org(
        &self,
        org: Uuid,
        as_of: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let ids = store::stale_plans_of_org(&self.db, org, as_of).await?;
        self.refresh_work_items(&ids, as_of).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn status(due_date: NaiveDate, grace: u32, state: ScheduleState) -> ScheduleStatus {
        ScheduleStatus {
            code: "visit".into(),
            title_ja: "受診".into(),
            title_en: "Visit".into(),
            owner: ProviderKind::Clinic,
            interval_days: 30,
            individualised: false,
            interval_source: renkei_domain::schedule::IntervalSource::Template,
            grace_days: grace,
            last_done: None,
            last_entry_id: None,
            due_date,
            due: tokyo_midnight(due_date),
            state,
        }
    }

    fn template() -> PathwayTemplate {
        let src = r#"
code = "t"
version = 1
title = { ja = "テスト", en = "Test" }
cyclical = true
[[stages]]
code = "clinic"
title = { ja = "かかりつけ医", en = "Clinic" }
provider_kinds = ["clinic"]
next = ["clinic"]
[[items]]
code = "hba1c"
title = { ja = "HbA1c", en = "HbA1c" }
type = "decimal"
stages = ["clinic"]
"#;
        renkei_domain::template::parse_template(src, None).unwrap()
    }

    #[test]
    fn a_scheduled_visit_holds_until_it_enters_the_look_ahead_window() {
        let d = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        let s = status(d, 14, ScheduleState::Scheduled);
        let now = at("2026-12-01T00:00:00Z");
        assert_eq!(
            valid_until(&template(), now, &[s], &[], &[]),
            Some(tokyo_midnight(d) - Duration::days(30))
        );
    }

    #[test]
    fn a_due_visit_holds_until_it_is_overdue_after_its_grace_days() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let s = status(d, 14, ScheduleState::Due);
        let now = at("2026-12-05T03:00:00Z");
        // Overdue from 00:00 Tokyo of 16 December (the day after 1 December + 14 days).
        assert_eq!(
            valid_until(&template(), now, &[s], &[], &[]),
            Some(at("2026-12-15T15:00:00Z"))
        );
    }

    #[test]
    fn an_overdue_visit_or_an_inapplicable_rule_never_changes_by_time_alone() {
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let now = at("2026-12-05T03:00:00Z");
        let overdue = status(d, 14, ScheduleState::Overdue);
        let na = status(
            NaiveDate::from_ymd_opt(2027, 10, 1).unwrap(),
            0,
            ScheduleState::NotApplicable,
        );
        assert_eq!(
            valid_until(&template(), now, &[overdue, na], &[], &[]),
            None
        );
    }

    #[test]
    fn the_earliest_moment_wins_and_moments_in_the_past_do_not_count() {
        let now = at("2026-12-05T03:00:00Z");
        let soon = status(
            NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(),
            0,
            ScheduleState::Scheduled,
        );
        let later = status(
            NaiveDate::from_ymd_opt(2027, 6, 1).unwrap(),
            0,
            ScheduleState::Scheduled,
        );
        // 20 December is within 30 days already: it falls due at 00:00 Tokyo that day.
        assert_eq!(
            valid_until(&template(), now, &[later, soon], &[], &[]),
            Some(at("2026-12-19T15:00:00Z"))
        );
    }

    #[test]
    fn a_goal_due_date_holds_until_the_day_after_and_a_timed_goal_until_its_moment() {
        let now = at("2026-12-05T03:00:00Z");
        let goal = |due_date: Option<NaiveDate>, due: Option<DateTime<Utc>>| {
            renkei_domain::goals::GoalStatus {
                code: "g".into(),
                title: renkei_domain::template::Title {
                    ja: "目標".into(),
                    en: "Goal".into(),
                },
                kind: "threshold",
                item: None,
                target: serde_json::Value::Null,
                latest: None,
                status: GoalState::Pending,
                deviation: None,
                due,
                due_date,
            }
        };
        let dated = goal(NaiveDate::from_ymd_opt(2026, 12, 10), None);
        assert_eq!(
            valid_until(&template(), now, &[], &[dated], &[]),
            Some(at("2026-12-10T15:00:00Z"))
        );
        let moment = at("2026-12-06T07:30:00Z");
        let timed = goal(NaiveDate::from_ymd_opt(2026, 12, 6), Some(moment));
        assert_eq!(
            valid_until(&template(), now, &[], &[timed], &[]),
            Some(moment + Duration::microseconds(1))
        );
    }
}
