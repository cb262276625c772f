//! A plan's cyclical schedule and the per-organisation worklists (what is due, overdue,
//! waiting or dropped out).

use renkei_domain::Rule;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use renkei_domain::FieldError;
use renkei_domain::access::Action;
use renkei_domain::entry::PlanStatus;
use renkei_domain::goals::{GoalState, evaluate_goals};
use renkei_domain::handover::HandoverState;
use renkei_domain::ids::OrgKind;
use renkei_domain::schedule::{ScheduleState, ScheduleStatus, evaluate_schedule};
use renkei_store::handovers as store_handovers;
use renkei_store::queries::{self, CarePlanRow};
use renkei_store::queries_access as qa;
use renkei_store::reports::{self, ReportSide};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::plan_facts::plan_facts;
use crate::{Actor, ServiceError, Services};

use crate::variances::SYSTEM_PRACTITIONER_ID;

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

#[derive(Debug, Clone, Serialize)]
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
    pub async fn schedule(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<ScheduleStatus>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "schedule.read", &plan).await?;
        let template = &self.pathway_of_plan(&plan)?.template;
        let rows = queries::entries_of(&self.db, plan_id).await?;
        let pf = plan_facts(&rows);
        let as_of = as_of.unwrap_or_else(|| self.now());
        Ok(evaluate_schedule(
            template,
            plan.started_at,
            &pf.facts,
            &pf.intervals(as_of),
            as_of,
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
        let as_of = as_of.unwrap_or_else(|| self.now());
        let org = actor.organization_id;
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
                    .get(p.pathway_version_id)
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
        // Plans this organisation works on: planner or writing team member.
        let mut plan_ids: Vec<Uuid> = qa::plans_of_team_org(&self.db, org).await?;
        plan_ids.sort();
        plan_ids.dedup();
        // Read a page of plans with their teams, consents and entries in four queries,
        // not several queries per plan: a planning hospital has thousands of plans.
        let grants: std::collections::HashSet<Uuid> =
            qa::break_glass_plans(&self.db, actor.practitioner_id, self.now())
                .await?
                .into_iter()
                .collect();
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
                let pid = plan.id;
                let access =
                    crate::access::access_from(&plan, &team, &consent_rows, grants.contains(&pid));
                if !access.is_visible_to(org) {
                    continue;
                }
                let Some(published) = self.pathways.get(plan.pathway_version_id).cloned() else {
                    continue;
                };
                let pf = plan_facts(&rows);
                let (id, pat, pw) = plan_info(&plan);
                for s in evaluate_schedule(
                    &published.template,
                    plan.started_at,
                    &pf.facts,
                    &pf.intervals(as_of),
                    as_of,
                ) {
                    let mine = my_kinds.contains(&s.owner);
                    let soon = s.due <= as_of + Duration::days(30);
                    if mine && (soon || s.state != ScheduleState::Scheduled) {
                        lists[4].push(WorkItem {
                            care_plan_id: id,
                            patient_id: pat,
                            pathway: pw.clone(),
                            subject: s.code,
                            state: format!("{:?}", s.state).to_lowercase(),
                            due: Some(s.due),
                        });
                    }
                }
                let template = pf.individual_template(&published.template, as_of);
                let ctx = crate::goal_context::goal_context(
                    &self.db,
                    &template,
                    plan.patient_id,
                    plan.started_at,
                    as_of,
                    as_of,
                )
                .await?;
                for g in evaluate_goals(&template, &ctx, &pf.facts) {
                    if g.status == GoalState::Overdue {
                        lists[5].push(WorkItem {
                            care_plan_id: id,
                            patient_id: pat,
                            pathway: pw.clone(),
                            subject: g.code,
                            state: "overdue".into(),
                            due: g.due,
                        });
                    }
                }
                if plan.planner_organization_id == org
                    && plan.created_at < as_of - Duration::days(7)
                    && crate::access::consent_state(&consent_rows)
                        == renkei_domain::access::ConsentState::None
                {
                    lists[6].push(WorkItem {
                        care_plan_id: id,
                        patient_id: pat,
                        pathway: pw.clone(),
                        subject: "consent".into(),
                        state: "missing".into(),
                        due: Some(plan.created_at + Duration::days(7)),
                    });
                }
                let last = rows
                    .iter()
                    .filter(|r| r.author_id != SYSTEM_PRACTITIONER_ID)
                    .map(|r| r.effective_at)
                    .max()
                    .unwrap_or(plan.started_at);
                if as_of - last > Duration::days(dropout_days) {
                    lists[7].push(WorkItem {
                        care_plan_id: id,
                        patient_id: pat,
                        pathway: pw,
                        subject: "no_entry".into(),
                        state: "dropout".into(),
                        due: Some(last + Duration::days(dropout_days)),
                    });
                }
            }
        }
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, "worklist.read", "worklist", None, Outcome::Allowed),
        )
        .await?;
        let mut it = lists.into_iter().map(|mut items| {
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
}
