//! The care-plan screens (the plan page, its trend table, the printed plan and the entry
//! form): everything they show about one plan, read after one access decision and
//! recorded as one audit event, with the actions the actor may take.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use renkei_domain::access::{PlanAction, TeamRole, allowed_actions, allows, may_amend_entry};
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::goals::{GoalStatus, evaluate_goals};
use renkei_domain::handover::{
    HandoverState, StageShortcut, UnrecordedEnd, stage_shortcut, unrecorded_ends,
};
pub use renkei_domain::plan::StageDates;
use renkei_domain::plan::stage_dates_at;
use renkei_domain::template::PathwayTemplate;
use renkei_store::queries;
use renkei_store::queries_access as qa;
use serde_json::Value;
use uuid::Uuid;

use super::patient::PatientCard;
use crate::access::{Consent, subject};
use crate::audit::RequestMeta;
use crate::handovers::Handover;
use crate::pathways::PublishedPathway;
use crate::plan_chain::plan_state;
use crate::plans::{CarePlan, Entry};
use crate::reports::Report;
use crate::{Actor, ServiceError, Services};
use renkei_domain::access::Action;

/// A care-team organisation as the plan page lists it.
#[derive(Debug, Clone)]
pub struct TeamRow {
    pub organization: String,
    pub organization_name: String,
    pub role: TeamRole,
    pub stages: Vec<String>,
    /// Telephone of the organisation's liaison office (地域連携室), when known.
    pub phone: Option<String>,
}

/// Everything a care-plan screen shows, with what the actor may do on the plan.
#[derive(Debug, Clone)]
pub struct PlanScreen {
    pub plan: CarePlan,
    pub status: PlanStatus,
    pub published: Arc<PublishedPathway>,
    pub patient: PatientCard,
    /// Entries in sequence order.
    pub entries: Vec<Entry>,
    pub goals: Vec<GoalStatus>,
    pub team: Vec<TeamRow>,
    pub consents: Vec<Consent>,
    pub handovers: Vec<Handover>,
    pub reports: Vec<Report>,
    /// Organisation names by code.
    pub org_names: HashMap<String, String>,
    /// Start and end of each stage of the template that has begun.
    pub stage_dates: HashMap<String, StageDates>,
    /// What the actor may do on the plan now (the access decision of the writes).
    pub actions: Vec<PlanAction>,
    /// Entries the actor may amend.
    pub amendable: HashSet<Uuid>,
    /// The template with this patient's individual settings (stage limits, targets) at
    /// the moment shown.
    pub individual: PathwayTemplate,
    /// The clinical time the goals and stage dates are shown at (`None`: now).
    pub as_of: Option<DateTime<Utc>>,
    /// The history of every corrected or voided entry, by the chain's original.
    pub histories: HashMap<Uuid, crate::corrections::EntryHistory>,
    /// The open amendment notices of the actor's organisation on this plan.
    pub notices: Vec<crate::notices::AmendmentNotice>,
    /// Stages left for the next one before their end was recorded (「終了未記録」).
    pub unrecorded_ends: Vec<UnrecordedEnd>,
    /// The next visits and tests of a plan whose pathway has a schedule (rules that do
    /// not apply left out).
    pub schedule: Vec<renkei_domain::schedule::ScheduleStatus>,
    /// The 紹介基準 judged from the record (cyclical plans only).
    pub referral: Option<renkei_domain::referral_criteria::ReferralCriteria>,
    /// The actor reads the plan only through its break-glass grant (read-only; the page
    /// says so).
    pub break_glass: bool,
}

impl PlanScreen {
    pub fn template(&self) -> &PathwayTemplate {
        &self.published.template
    }

    pub fn may(&self, action: &PlanAction) -> bool {
        self.actions.contains(action)
    }

    pub fn stage(&self, code: &str) -> StageDates {
        self.stage_dates.get(code).copied().unwrap_or_default()
    }
}

impl Services {
    /// The care-plan page: one access decision (read), one audit event `care_plan.read`.
    pub async fn plan_screen(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<PlanScreen, ServiceError> {
        self.plan_screen_as(actor, meta, plan_id, "care_plan.read", None)
            .await
    }

    /// The care-plan page at clinical time `as_of` (goals, stage dates and individual
    /// settings from entries effective by then, as known now); `None`: now.
    pub async fn plan_screen_at(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<PlanScreen, ServiceError> {
        self.plan_screen_as(actor, meta, plan_id, "care_plan.read", as_of)
            .await
    }

    /// The printed plan (地域連携診療計画書): as the plan page, recorded as
    /// `care_plan.print`.
    pub async fn print_screen(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<PlanScreen, ServiceError> {
        self.plan_screen_as(actor, meta, plan_id, "care_plan.print", None)
            .await
    }

    async fn plan_screen_as(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        audit_action: &'static str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<PlanScreen, ServiceError> {
        let (row, access) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, audit_action, &row).await?;
        let db = &self.db;
        let published = self.pathway_of_plan(&row)?;
        let t = &published.template;
        let state = plan_state(&row)?;
        let status = state.status;
        let who = subject(actor);
        let next_stages = t.next_stages(&row.current_stage);
        let next: Vec<&str> = next_stages.iter().map(String::as_str).collect();
        let mut actions = allowed_actions(&who, &access, &state, &next);

        let rows = queries::entries_of_plan_in(db, plan_id, &row.region).await?;
        // Hand-over shortcuts: the receiver of an accepted hand-over may start its stage
        // before the sender recorded its end, and the sender may record that end late.
        let unrecorded_ends = {
            let stage_orgs: Vec<(Uuid, Uuid)> = rows
                .iter()
                .filter(|r| r.kind == EntryKind::StageStart.as_str())
                .map(|r| (r.id, r.organization_id))
                .collect();
            let facts = crate::plan_facts::entry_facts(&rows);
            let now = self.now();
            let view = renkei_domain::corrections::current_view(&facts, now, now);
            unrecorded_ends(&view, &stage_orgs)
        };
        if status == PlanStatus::Active {
            let accepted: Vec<String> =
                renkei_store::handovers::handovers_of_plan(db, plan_id.into())
                    .await?
                    .into_iter()
                    .filter(|h| h.state == HandoverState::Accepted)
                    .map(|h| h.stage)
                    .collect();
            for stage in &next {
                let shortcut = stage_shortcut(
                    t,
                    &state,
                    EntryKind::StageStart,
                    stage,
                    accepted.iter().any(|a| a == stage),
                    &unrecorded_ends,
                );
                let offer = PlanAction::StartStage((*stage).to_owned());
                if matches!(shortcut, StageShortcut::ReceiverStart(_))
                    && !actions.contains(&offer)
                    && allows(
                        &who,
                        Action::Append {
                            kind: EntryKind::StageStart,
                            stage,
                        },
                        &access,
                    )
                {
                    actions.push(offer);
                }
            }
            for u in &unrecorded_ends {
                let offer = PlanAction::EndStage(u.stage.clone());
                if u.stage != state.current_stage
                    && !actions.contains(&offer)
                    && allows(
                        &who,
                        Action::Append {
                            kind: EntryKind::StageEnd,
                            stage: &u.stage,
                        },
                        &access,
                    )
                {
                    actions.push(offer);
                }
            }
        }
        let entry_facts = crate::plan_facts::entry_facts(&rows);
        let now = as_of.unwrap_or_else(|| self.now());
        let stage_dates = stage_dates_at(&entry_facts, now, DateTime::<Utc>::MAX_UTC);
        let facts = renkei_domain::plan::plan_facts(entry_facts);
        let individual = facts.individual_template(t, now);
        let ctx = crate::goal_context::goal_context(
            db,
            &individual,
            row.patient_id,
            row.started_at,
            now,
            self.now(),
        )
        .await?;
        let goals = evaluate_goals(&individual, &ctx, &facts.facts);
        let (schedule, referral) = if !t.schedule.is_empty() {
            use renkei_domain::schedule::{ScheduleContext, ScheduleState, evaluate_schedule};
            let known_at = self.now();
            let sctx = ScheduleContext {
                plan_started_at: row.started_at,
                birth_date: ctx.birth_date,
                as_of: now,
                known_at,
            };
            let all = evaluate_schedule(t, &sctx, &facts.facts, &facts.intervals_at(now, known_at));
            let view = renkei_domain::corrections::current_view(&facts.facts, now, known_at);
            // The 紹介基準 are those of a cyclical plan (clinic ⇄ specialist).
            let referral = t.cyclical.then(|| {
                renkei_domain::referral_criteria::evaluate_referral_criteria(&view, &all, now)
            });
            let mut due: Vec<_> = all
                .into_iter()
                .filter(|s| s.state != ScheduleState::NotApplicable)
                .collect();
            due.sort_by_key(|s| s.due_date);
            (due, referral)
        } else {
            (Vec::new(), None)
        };
        let amended_by: HashMap<Uuid, Uuid> = rows
            .iter()
            .filter_map(|r| r.amends.map(|a| (a, r.id)))
            .collect();
        let amendable = rows
            .iter()
            .filter(|r| {
                crate::corrections::amend_target(&facts.facts, r).is_ok_and(|target| {
                    may_amend_entry(&who, &access, &state, &target, r.organization_id)
                })
            })
            .map(|r| r.id)
            .collect();
        let voided = crate::corrections::voided_by(&rows);
        let mut entries = self.to_entries(db, rows, &amended_by).await?;
        crate::corrections::mark_voided(&mut entries, &voided);
        let histories = crate::corrections::histories(&entries);
        let notices = self.readable_notices(actor, Some(plan_id)).await?;

        let mut team = Vec::new();
        for m in qa::team_of(db, plan_id).await? {
            let Some(role) = TeamRole::parse(&m.role) else {
                continue;
            };
            let org = queries::organization_by_id(db, m.organization_id).await?;
            team.push(TeamRow {
                phone: org.as_ref().and_then(|o| o.phone.clone()),
                organization: org.as_ref().map(|o| o.code.clone()).unwrap_or_default(),
                organization_name: org.map(|o| o.name).unwrap_or_default(),
                role,
                stages: serde_json::from_str(&m.stages).unwrap_or_default(),
            });
        }
        let orgs = queries::list_organizations(db).await?;
        let code_of: HashMap<Uuid, String> = orgs.iter().map(|o| (o.id, o.code.clone())).collect();
        let code = |id: Uuid| code_of.get(&id).cloned().unwrap_or_default();
        let consents = qa::consents_of(db, plan_id)
            .await?
            .into_iter()
            .map(|c| {
                let listed: Vec<Uuid> = serde_json::from_str(&c.organizations).unwrap_or_default();
                Consent {
                    id: c.id,
                    care_plan_id: c.care_plan_id,
                    scope: c.scope,
                    organizations: listed
                        .into_iter()
                        .filter(|id| code_of.contains_key(id))
                        .map(code)
                        .collect(),
                    purposes: serde_json::from_str(&c.purposes).unwrap_or_default(),
                    method: c.method,
                    signer: c.signer,
                    proxy_relationship: c.proxy_relationship,
                    obtained_by: code(c.obtained_by_organization_id),
                    obtained_at: c.obtained_at,
                    recorded_at: c.recorded_at,
                    active: c.withdrawn_at.is_none(),
                    withdrawn_at: c.withdrawn_at,
                    withdrawal_reason: c.withdrawal_reason,
                }
            })
            .collect();
        let handovers = renkei_store::handovers::handovers_of_plan(db, plan_id.into())
            .await?
            .into_iter()
            .map(|h| Handover {
                id: h.id,
                care_plan_id: h.care_plan_id.0,
                from_organization: code(h.from_organization_id.0),
                to_organization: code(h.to_organization_id.0),
                from_stage: h.from_stage,
                stage: h.stage,
                state: h.state.as_str().to_owned(),
                note: h.note,
                summary: serde_json::from_str(&h.summary).unwrap_or(Value::Null),
                decline_reason: h.decline_reason,
                version: h.row_version,
                proposed_at: h.proposed_at,
                answered_at: h.answered_at,
                completed_at: h.completed_at,
                proposed_transfer_date: h.proposed_transfer_date,
                agreed_transfer_date: h.agreed_transfer_date,
            })
            .collect();
        let reports = renkei_store::reports::reports_of_plan(db, plan_id.into())
            .await?
            .into_iter()
            .map(|r| Report {
                id: r.id,
                care_plan_id: r.care_plan_id.0,
                stage: r.stage,
                from_organization: code(r.from_organization_id.0),
                to_organization: code(r.to_organization_id.0),
                due_at: r.due_at,
                overdue: r.sent_at.is_none() && now > r.due_at,
                sent_at: r.sent_at,
                content: serde_json::from_str(&r.content).unwrap_or(Value::Null),
            })
            .collect();
        let org_names = orgs.into_iter().map(|o| (o.code, o.name)).collect();
        let patient = self.patient_card(actor, row.patient_id).await?;
        let plan = self.plan_view(db, row).await?;
        Ok(PlanScreen {
            plan,
            status,
            published,
            patient,
            entries,
            goals,
            team,
            consents,
            handovers,
            reports,
            org_names,
            stage_dates,
            actions,
            amendable,
            individual,
            as_of,
            histories,
            notices,
            unrecorded_ends,
            schedule,
            referral,
            break_glass: access.break_glass && !access.is_visible_to(actor.organization_id),
        })
    }
}
