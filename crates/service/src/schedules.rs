//! A plan's cyclical schedule and the per-organisation worklists (what is due, overdue,
//! waiting or dropped out).

use renkei_domain::Rule;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use renkei_domain::FieldError;
use renkei_domain::access::Action;
use renkei_domain::entry::PlanStatus;
use renkei_domain::handover::HandoverState;
use renkei_domain::ids::OrgKind;
use renkei_domain::schedule::{ScheduleContext, ScheduleStatus, evaluate_schedule};
use renkei_store::handovers as store_handovers;
use renkei_store::queries::{self, CarePlanRow};
use renkei_store::queries_access as qa;
use renkei_store::reports::{self, ReportSide};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::plan_facts::plan_facts;
use crate::{Actor, ServiceError, Services};

use crate::work_index as wi;
use renkei_domain::template::ProviderKind;
use renkei_store::work_index as work_store;

/// Plans read per query by the worklist.
const WORKLIST_PAGE: usize = 500;

/// Rows grouped by the plan they belong to, each group in the rows' order.
fn by_plan<T>(rows: Vec<T>, plan: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for r in rows {
        out.entry(plan(&r)).or_default().push(r);
    }
    out
}

/// Items per worklist a caller may ask for (default 50).
pub const WORKLIST_LIMIT: std::ops::RangeInclusive<usize> = 1..=500;
/// Days without an entry after which an active plan counts as a dropout (治療中断);
/// default 90.
pub const DROPOUT_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub care_plan_id: Uuid,
    pub patient_id: Uuid,
    pub pathway: String,
    /// What the item is about (a hand-over id, report id, goal or schedule code …).
    pub subject: String,
    pub state: String,
    pub due: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkList {
    pub count: usize,
    pub items: Vec<WorkItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Worklist {
    pub as_of: DateTime<Utc>,
    pub handovers_incoming: WorkList,
    pub handovers_outgoing: WorkList,
    pub reports_owed: WorkList,
    pub reports_owed_to_me: WorkList,
    pub schedule_due: WorkList,
    pub goals_overdue: WorkList,
    pub consent_missing: WorkList,
    pub dropouts: WorkList,
}

impl Services {
    /// When each scheduled visit or test is next due at clinical time `as_of` (default
    /// now) as the record stood at `known_at` (default now).
    pub async fn schedule(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        as_of: Option<DateTime<Utc>>,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<ScheduleStatus>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "schedule.read", &plan).await?;
        let template = &self.pathway_of_plan(&plan)?.template;
        let rows = queries::entries_of_plan_in(&self.db, plan_id, &plan.region).await?;
        let pf = plan_facts(&rows);
        let now = self.now();
        let as_of = as_of.unwrap_or(now);
        let known_at = known_at.unwrap_or(now);
        let birth_date = queries::patient_by_id(&self.db, plan.patient_id)
            .await?
            .map(|p| p.birth_date);
        let ctx = ScheduleContext {
            plan_started_at: plan.started_at,
            birth_date,
            as_of,
            known_at,
        };
        Ok(evaluate_schedule(
            template,
            &ctx,
            &pf.facts,
            &pf.intervals_at(as_of, known_at),
        ))
    }

    /// The organisation's worklists as of `as_of`; each list holds at most `limit` items
    /// (the count is the full count). `limit` must lie in [`WORKLIST_LIMIT`] and
    /// `dropout_days` in [`DROPOUT_DAYS`]; a value outside is refused, not clamped.
    pub async fn worklist(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        as_of: Option<DateTime<Utc>>,
        limit: usize,
        dropout_days: i64,
    ) -> Result<Worklist, ServiceError> {
        let mut errors = Vec::new();
        if !WORKLIST_LIMIT.contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                Rule::Range,
                format!(
                    "must be between {} and {}",
                    WORKLIST_LIMIT.start(),
                    WORKLIST_LIMIT.end()
                ),
            ));
        }
        if !DROPOUT_DAYS.contains(&dropout_days) {
            errors.push(FieldError::new(
                "dropout_days",
                Rule::Range,
                format!(
                    "must be between {} and {}",
                    DROPOUT_DAYS.start(),
                    DROPOUT_DAYS.end()
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let explicit_as_of = as_of;
        let as_of = as_of.unwrap_or_else(|| self.now());
        let org = actor.organization_id;
        let mut indexed: Option<[WorkList; 4]> = None;
        let my_kinds = match queries::organization_by_id(&self.db, org).await? {
            Some(o) => OrgKind::parse(&o.kind).map_or(&[][..], |k| k.provider_kinds()),
            None => &[],
        };
        let mut lists: [Vec<WorkItem>; 8] = Default::default();
        let plan_info = |p: &CarePlanRow| {
            (
                p.id,
                p.patient_id,
                self.pathways
                    .for_plan(p.pathway_version_id, p.variant.as_deref())
                    .map(|x| x.template.code.clone())
                    .unwrap_or_default(),
            )
        };
        // Hand-overs.
        for h in store_handovers::handovers_to_org(&self.db, org.into(), &[HandoverState::Proposed])
            .await?
        {
            if let Some(p) = queries::care_plan_by_id(&self.db, h.care_plan_id.0).await?
                && self.party_may_list(actor, &p).await?
            {
                let (id, pat, pw) = plan_info(&p);
                lists[0].push(WorkItem {
                    care_plan_id: id,
                    patient_id: pat,
                    pathway: pw,
                    subject: h.id.to_string(),
                    state: h.state.as_str().to_owned(),
                    due: None,
                });
            }
        }
        for h in store_handovers::handovers_from_org(
            &self.db,
            org.into(),
            &[HandoverState::Proposed, HandoverState::Accepted],
        )
        .await?
        {
            if let Some(p) = queries::care_plan_by_id(&self.db, h.care_plan_id.0).await?
                && self.party_may_list(actor, &p).await?
            {
                let (id, pat, pw) = plan_info(&p);
                lists[1].push(WorkItem {
                    care_plan_id: id,
                    patient_id: pat,
                    pathway: pw,
                    subject: h.id.to_string(),
                    state: h.state.as_str().to_owned(),
                    due: None,
                });
            }
        }
        // Reports.
        for (i, side) in [(2usize, ReportSide::From), (3, ReportSide::To)] {
            for r in reports::unsent_reports(&self.db, org.into(), side).await? {
                if let Some(p) = queries::care_plan_by_id(&self.db, r.care_plan_id.0).await?
                    && self.party_may_list(actor, &p).await?
                {
                    let (id, pat, pw) = plan_info(&p);
                    let state = if as_of > r.due_at { "overdue" } else { "due" };
                    lists[i].push(WorkItem {
                        care_plan_id: id,
                        patient_id: pat,
                        pathway: pw,
                        subject: r.id.to_string(),
                        state: state.into(),
                        due: Some(r.due_at),
                    });
                }
            }
        }
        match explicit_as_of {
            // Now: the index, brought up to date for this organisation's plans first.
            None => {
                self.refresh_work_of_org(org, as_of).await?;
                indexed = Some(self.indexed_lists(org, as_of, limit, dropout_days).await?);
            }
            Some(_) => {
                self.evaluate_lists(org, my_kinds, as_of, dropout_days, &mut lists)
                    .await?
            }
        }
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, "worklist.read", "worklist", None, Outcome::Allowed),
        )
        .await?;
        let mut indexed = indexed.map(|l| l.into_iter());
        let mut it = lists.into_iter().enumerate().map(|(i, mut items)| {
            if i >= 4
                && let Some(list) = indexed.as_mut().and_then(Iterator::next)
            {
                return list;
            }
            items.sort_by_key(|i| i.due);
            let count = items.len();
            items.truncate(limit);
            WorkList { count, items }
        });
        let mut next = || {
            it.next().unwrap_or(WorkList {
                count: 0,
                items: Vec::new(),
            })
        };
        Ok(Worklist {
            as_of,
            handovers_incoming: next(),
            handovers_outgoing: next(),
            reports_owed: next(),
            reports_owed_to_me: next(),
            schedule_due: next(),
            goals_overdue: next(),
            consent_missing: next(),
            dropouts: next(),
        })
    }

    /// The schedule, goal, consent and dropout lists of `org` at `as_of`, evaluated on
    /// every active plan the organisation works on and sees (any `as_of`).
    async fn evaluate_lists(
        &self,
        org: Uuid,
        my_kinds: &[ProviderKind],
        as_of: DateTime<Utc>,
        dropout_days: i64,
        lists: &mut [Vec<WorkItem>; 8],
    ) -> Result<(), ServiceError> {
        // Plans this organisation works on: planner or writing team member.
        let mut plan_ids: Vec<Uuid> = qa::plans_of_team_org(&self.db, org).await?;
        plan_ids.sort();
        plan_ids.dedup();
        // Read a page of plans with their teams, consents and entries in four queries,
        // not several queries per plan: a planning hospital has thousands of plans.
        for page in plan_ids.chunks(WORKLIST_PAGE) {
            let mut plan_rows = Vec::new();
            let active: Vec<CarePlanRow> = queries::care_plans_by_ids(&self.db, page)
                .await?
                .into_iter()
                .filter(|p| p.status == PlanStatus::Active.as_str())
                .collect();
            let ids: Vec<Uuid> = active.iter().map(|p| p.id).collect();
            let mut teams = by_plan(qa::teams_of(&self.db, &ids).await?, |r| r.care_plan_id);
            let mut consents = by_plan(qa::consents_of_plans(&self.db, &ids).await?, |r| {
                r.care_plan_id
            });
            let mut entries = by_plan(queries::entries_of_plans(&self.db, &ids).await?, |r| {
                r.care_plan_id
            });
            for plan in active {
                let team = teams.remove(&plan.id).unwrap_or_default();
                let consent = consents.remove(&plan.id).unwrap_or_default();
                let rows = entries.remove(&plan.id).unwrap_or_default();
                plan_rows.push((plan, team, consent, rows));
            }
            // One page in memory at a time.
            for (plan, team, consent_rows, rows) in plan_rows {
                // Break-glass grants do not make a plan visible to an organisation.
                let when = crate::care_team::AccessAt::from_entries(self, as_of, &rows);
                let access = crate::access::access_from(&plan, &team, &consent_rows, false, &when);
                if !access.is_visible_to(org) {
                    continue;
                }
                let Some(published) = self
                    .pathways
                    .for_plan(plan.pathway_version_id, plan.variant.as_deref())
                    .cloned()
                else {
                    continue;
                };
                let template = &published.template;
                let birth_date =
                    crate::goal_context::birth_date_for(&self.db, template, plan.patient_id)
                        .await?;
                let work = wi::plan_work(template, &plan, &consent_rows, &rows, birth_date, as_of);
                let item = |subject: String, state: &str, due: Option<DateTime<Utc>>| WorkItem {
                    care_plan_id: plan.id,
                    patient_id: plan.patient_id,
                    pathway: template.code.clone(),
                    subject,
                    state: state.to_owned(),
                    due,
                };
                for s in &work.schedule {
                    if wi::schedule_listed(s, my_kinds, as_of) {
                        let state = format!("{:?}", s.state).to_lowercase();
                        lists[4].push(item(s.code.clone(), &state, Some(s.due)));
                    }
                }
                for (code, due) in &work.goals_overdue {
                    lists[5].push(item(code.clone(), "overdue", *due));
                }
                if plan.planner_organization_id == org
                    && let Some(after) = work.consent_missing_after
                    && after < as_of
                {
                    lists[6].push(item("consent".into(), "missing", Some(after)));
                }
                let last = work.last_activity;
                if as_of - last > Duration::days(dropout_days) {
                    lists[7].push(item(
                        "no_entry".into(),
                        "dropout",
                        Some(last + Duration::days(dropout_days)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The schedule, goal, consent and dropout lists of `org` read from the index (kept
    /// exact at `as_of` = now by the caller): one indexed range and one count per list.
    async fn indexed_lists(
        &self,
        org: Uuid,
        as_of: DateTime<Utc>,
        limit: usize,
        dropout_days: i64,
    ) -> Result<[WorkList; 4], ServiceError> {
        let now_key = wi::key(as_of);
        let dropout = Duration::days(dropout_days);
        let ranges = [
            (wi::SCHEDULE_DUE, None),
            (wi::GOALS_OVERDUE, None),
            (wi::CONSENT_MISSING, Some(now_key)),
            (wi::DROPOUTS, Some(wi::key(as_of - dropout))),
        ];
        let mut out: [WorkList; 4] = Default::default();
        for (slot, (list, below)) in out.iter_mut().zip(ranges) {
            let count = work_store::count(&self.db, org, list, below).await? as usize;
            let rows = if count == 0 {
                Vec::new()
            } else {
                work_store::items(&self.db, org, list, below, limit as u64).await?
            };
            let items = rows
                .into_iter()
                .map(|r| WorkItem {
                    care_plan_id: r.care_plan_id,
                    patient_id: r.patient_id,
                    pathway: r.pathway,
                    subject: r.subject,
                    state: r.state,
                    due: if list == wi::DROPOUTS {
                        r.due.map(|last| last + dropout)
                    } else {
                        r.due
                    },
                })
                .collect();
            *slot = WorkList { count, items };
        }
        Ok(out)
    }
}
