//! Hand-overs (紹介) of a plan from one organisation to the next, with optimistic
//! concurrency on the hand-over's version, and what a stage event sets off: completing
//! an accepted hand-over, making a report back due.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_domain::access::TeamRole;
use renkei_domain::access::{Action, may_answer_handover};

use renkei_domain::corrections::current_view;
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::goals::evaluate_goals;
use renkei_domain::handover::{
    HandoverEvent, HandoverState, Referral, StageShortcut, UnrecordedEnd, referral_prefill,
    report_due, stage_shortcut, tokyo_day, transition, unrecorded_ends, validate_referral,
};
use renkei_domain::template::PathwayTemplate;
use renkei_store::care_teams::{self, CareTeamMember};
use renkei_store::handovers::{self as store, Answer, HandoverRow};
use renkei_store::queries::{self, CarePlanRow, EntryRow};
use renkei_store::reports::{self, ReportRow};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::access::{PartyRead, subject};
use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::plan_chain::{conflict, org_code};
use crate::plan_facts::{plan_facts, stage_outcome};
use crate::{Actor, ErrorCode, ServiceError, Services};
use renkei_domain::goals::EntryFacts;

/// Rule code of a hand-over refused because the patient's consent does not cover the
/// receiving organisation.
pub const CONSENT_NOT_COVERING: Rule = Rule::ConsentNotCovering;
const CONSENT_NOT_COVERING_JA: &str = "患者の同意の共有範囲にこの紹介先施設が含まれていません。\
     先に紹介先を含む同意(ケアチーム全体、または紹介先を指定)を記録してください。";

#[derive(Debug, Clone, Serialize)]
pub struct Handover {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub from_organization: String,
    pub to_organization: String,
    pub from_stage: String,
    pub stage: String,
    pub state: String,
    pub note: Option<String>,
    pub summary: Value,
    pub decline_reason: Option<String>,
    /// The ETag: send it back as If-Match to change the hand-over.
    pub version: i32,
    pub proposed_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// 転院予定日 proposed by the sender.
    pub proposed_transfer_date: Option<NaiveDate>,
    /// 転院予定日 agreed on acceptance (the proposed one unless the receiver changed it).
    pub agreed_transfer_date: Option<NaiveDate>,
}

/// What a proposal carries besides its receiver and stage: the planned transfer date
/// (転院予定日) and the referral's structured fields (absent: prefilled from the plan).
#[derive(Debug, Clone, Default)]
pub struct HandoverDetails {
    pub transfer_date: Option<NaiveDate>,
    pub referral: Option<Value>,
}

/// A stage of one of the organisation's plans whose end it has not recorded although the
/// next stage started (「終了未記録」 on its worklist).
#[derive(Debug, Clone)]
pub struct UnrecordedStageEnd {
    pub care_plan_id: Uuid,
    pub patient: crate::patients::Patient,
    pub pathway_title: String,
    pub stage_title: String,
    pub end: UnrecordedEnd,
}

async fn handover_view<C: ConnectionTrait>(
    c: &C,
    h: HandoverRow,
) -> Result<Handover, ServiceError> {
    Ok(Handover {
        id: h.id,
        care_plan_id: h.care_plan_id.0,
        from_organization: org_code(c, h.from_organization_id.0).await?,
        to_organization: org_code(c, h.to_organization_id.0).await?,
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
}

impl Services {
    /// Proposes handing the plan over to `to_org` for `stage` (the current stage's owner).
    #[expect(
        clippy::too_many_arguments,
        reason = "a proposal names its plan, receiver, stage, note and details"
    )]
    pub async fn propose_handover(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        to_org: &str,
        stage: &str,
        note: Option<String>,
        details: HandoverDetails,
    ) -> Result<Handover, ServiceError> {
        let now = self.now();
        let write = self.begin_plan_write(actor, meta, plan_id).await?;
        let current = write
            .plan()
            .map(|p| p.current_stage.clone())
            .unwrap_or_default();
        let write = write
            .authorize(
                Action::ProposeHandover {
                    current_stage: &current,
                },
                None,
            )
            .await?;
        let (txn, plan, access) = (&write.txn, &write.plan, &write.access);
        if plan.status != PlanStatus::Active.as_str() {
            return Err(ServiceError::Conflict {
                code: ErrorCode::PlanNotActive,
                message: "the care plan is not active".into(),
            });
        }
        let template = self.pathway_of_plan(plan)?.template.clone();
        let mut errors = Vec::new();
        if !template
            .next_stages(&plan.current_stage)
            .iter()
            .any(|s| s == stage)
        {
            errors.push(FieldError::new(
                "stage",
                Rule::NotNext,
                format!(
                    "`{stage}` does not follow the current stage `{}` (next: {})",
                    plan.current_stage,
                    template.next_stages(&plan.current_stage).join(", ")
                ),
            ));
        }
        let to = queries::organization_by_code(txn, to_org).await?;
        match &to {
            None => errors.push(FieldError::new(
                "to_organization",
                Rule::Unknown,
                format!("organization `{to_org}` does not exist"),
            )),
            Some(o) if o.id == actor.organization_id => errors.push(FieldError::new(
                "to_organization",
                Rule::ToSelf,
                "a hand-over goes to another organization",
            )),
            Some(o) if !access.may_receive(o.id) => errors.push(FieldError::new(
                "to_organization",
                CONSENT_NOT_COVERING,
                CONSENT_NOT_COVERING_JA,
            )),
            _ => {}
        }
        if let Some(n) = &note
            && n.chars().count() > 10_000
        {
            errors.push(FieldError::new(
                "note",
                Rule::TooLong,
                "must be at most 10000 characters",
            ));
        }
        if let Some(d) = details.transfer_date
            && d < tokyo_day(plan.started_at)
        {
            errors.push(FieldError::new(
                "planned_transfer_date",
                Rule::BeforePlanStart,
                "the planned transfer date must not be before the care plan started",
            ));
        }
        let referral = match &details.referral {
            Some(r) => match validate_referral(r) {
                Ok(r) => Some(r),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let Some(to) = to else {
            return Err(ServiceError::Validation(errors));
        };
        let open = store::handovers_of_plan(txn, plan_id.into())
            .await?
            .into_iter()
            .any(|h| h.state.is_open());
        if open {
            return Err(conflict("this care plan already has an open hand-over"));
        }
        // The referral summary, generated from the plan.
        let rows = queries::entries_of_plan_in(txn, plan_id, &plan.region).await?;
        let pf = plan_facts(&rows);
        let individual = pf.individual_template(&template, now);
        let ctx = crate::goal_context::goal_context(
            txn,
            &individual,
            plan.patient_id,
            plan.started_at,
            now,
            now,
        )
        .await?;
        let goals = evaluate_goals(&individual, &ctx, &pf.facts);
        let mut latest = Map::new();
        for e in pf.standing().iter() {
            for (k, v) in &e.values {
                latest.insert(
                    k.clone(),
                    json!({"value": v, "effective_at": e.effective_at, "stage": e.stage}),
                );
            }
        }
        let standing: std::collections::HashSet<Uuid> =
            pf.standing().iter().map(|e| e.id).collect();
        let variances: Vec<Value> = rows
            .iter()
            .filter(|r| r.kind == EntryKind::Variance.as_str() && standing.contains(&r.id))
            .map(|r| json!({
                "entry_id": r.id,
                "stage": r.stage,
                "effective_at": r.effective_at,
                "variance": serde_json::from_str::<Value>(r.variance.as_deref().unwrap_or("null")).unwrap_or(Value::Null),
                "note": r.note,
            }))
            .collect();
        let summary = json!({
            "pathway": {"code": template.code, "version": template.version, "title_ja": template.title.ja},
            "from_stage": plan.current_stage,
            "stage": stage,
            "goals": goals.iter().map(|g| json!({
                "code": g.code, "title_ja": g.title.ja, "status": g.status,
                "latest": g.latest.as_ref().map(|l| &l.value), "due": g.due,
            })).collect::<Vec<_>>(),
            "latest_values": latest,
            "stage_outcome": stage_outcome(&pf.standing(), &plan.current_stage),
            "variances": variances,
            "note": note,
            "referral": referral.unwrap_or_else(|| {
                let view = current_view(&pf.facts, now, now);
                referral_prefill(&template, &view)
            }),
        });
        let h = HandoverRow {
            id: Uuid::now_v7(),
            care_plan_id: plan_id.into(),
            from_organization_id: actor.organization_id.into(),
            to_organization_id: to.id.into(),
            from_stage: plan.current_stage.clone(),
            stage: stage.to_owned(),
            state: HandoverState::Proposed,
            note: note.clone(),
            summary: renkei_domain::canonical::to_canonical_string(&summary),
            decline_reason: None,
            row_version: 1,
            proposed_by: actor.practitioner_id.into(),
            proposed_at: now,
            answered_by: None,
            answered_at: None,
            completed_at: None,
            updated_at: now,
            proposed_transfer_date: details.transfer_date,
            agreed_transfer_date: None,
        };
        store::insert_handover(txn, &h, &plan.region).await?;
        self.process_entry(txn, actor, plan, EntryKind::Handover, &plan.current_stage,
            json!({"handover_id": h.id.to_string(), "event": "proposed", "to_organization": to.code, "stage": stage}),
            note.clone()).await?;
        let record = AuditRecord::by(
            actor,
            "handover.propose",
            "handover",
            Some(h.id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan_id);
        let view = handover_view(txn, h).await?;
        write.commit(record).await?;
        self.notify_soon();
        Ok(view)
    }

    /// The referral's structured fields as far as the plan already knows them, for the
    /// sender to confirm on the proposal form (read under the plan's read decision; the
    /// form's page records the read).
    pub async fn referral_prefill(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Referral, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let template = self.pathway_of_plan(&plan)?.template.clone();
        let rows = queries::entries_of_plan_in(&self.db, plan_id, &plan.region).await?;
        let pf = plan_facts(&rows);
        let now = self.now();
        let view = current_view(&pf.facts, now, now);
        Ok(referral_prefill(&template, &view))
    }

    /// A hand-over, to its sender, its receiver, or whoever sees the plan.
    pub async fn get_handover(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<Handover, ServiceError> {
        let h = store::handover_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        self.authorize_party_read(
            actor,
            meta,
            PartyRead {
                from: h.from_organization_id.0,
                to: h.to_organization_id.0,
                plan_id: h.care_plan_id.0,
                action: "handover.read",
                resource: "handover",
                missing: "hand-over",
                id,
            },
        )
        .await?;
        handover_view(&self.db, h).await
    }

    pub async fn handovers_of_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Handover>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let rows = store::handovers_of_plan(&self.db, plan_id.into()).await?;
        self.audit_read(actor, meta, "handover.list", &plan).await?;
        let mut out = Vec::new();
        for h in rows {
            out.push(handover_view(&self.db, h).await?);
        }
        Ok(out)
    }

    /// Accepts, declines or withdraws a hand-over. `if_match` must be the hand-over's
    /// current version (412 otherwise); moves the state machine refuses answer 409.
    #[expect(
        clippy::too_many_arguments,
        reason = "an answer names its hand-over, event, version, reason and date"
    )]
    pub async fn answer_handover(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        event: HandoverEvent,
        if_match: Option<i32>,
        reason: Option<String>,
        transfer_date: Option<NaiveDate>,
    ) -> Result<Handover, ServiceError> {
        let Some(expected) = if_match else {
            return Err(ServiceError::PreconditionRequired);
        };
        let now = self.now();
        let Some(h) = store::handover_by_id(&self.db, id).await? else {
            return Err(ServiceError::NotFound("hand-over"));
        };
        let write = self.begin_plan_write(actor, meta, h.care_plan_id.0).await?;
        let h = store::handover_by_id(write.txn(), id)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let may_answer = may_answer_handover(&subject(actor));
        let party = match event {
            HandoverEvent::Accept | HandoverEvent::Decline => {
                h.to_organization_id.0 == actor.organization_id
            }
            HandoverEvent::Withdraw => h.from_organization_id.0 == actor.organization_id,
            HandoverEvent::Complete => false,
        };
        let action = match event {
            HandoverEvent::Accept => "handover.accept",
            HandoverEvent::Decline => "handover.decline",
            HandoverEvent::Withdraw => "handover.withdraw",
            HandoverEvent::Complete => "handover.complete",
        };
        let write = write
            .authorize_by(|plan, access| {
                if !party || !may_answer {
                    let is_party = h.to_organization_id.0 == actor.organization_id
                        || h.from_organization_id.0 == actor.organization_id;
                    return Err(Box::new((
                        AuditRecord::by(
                            actor,
                            action,
                            "handover",
                            Some(id.to_string()),
                            Outcome::Denied,
                        )
                        .plan(Some(h.care_plan_id.0))
                        .patient(is_party.then_some(plan.patient_id)),
                        if is_party {
                            ServiceError::Forbidden
                        } else {
                            ServiceError::NotFound("hand-over")
                        },
                    )));
                }
                // The receiver answers only while the consent still covers it: otherwise
                // it no longer sees the hand-over at all (as when reading it), and
                // accepting would make it owner of a plan it cannot open.
                if matches!(event, HandoverEvent::Accept | HandoverEvent::Decline)
                    && !access.may_receive(actor.organization_id)
                {
                    return Err(Box::new((
                        AuditRecord::by(
                            actor,
                            action,
                            "handover",
                            Some(id.to_string()),
                            Outcome::Denied,
                        )
                        .plan(Some(h.care_plan_id.0))
                        .detail("consent does not cover the receiver"),
                        ServiceError::NotFound("hand-over"),
                    )));
                }
                Ok(())
            })
            .await?;
        let (txn, plan) = (&write.txn, &write.plan);
        if h.row_version != expected {
            return Err(ServiceError::PreconditionFailed);
        }
        let to_state = transition(h.state, event).map_err(|e| conflict(e.to_string()))?;
        if event == HandoverEvent::Decline && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a declined hand-over needs a reason",
            ));
        }
        let answer = Answer {
            state: to_state,
            by: actor.practitioner_id.into(),
            at: now,
            decline_reason: if event == HandoverEvent::Decline {
                reason.clone()
            } else {
                None
            },
            // The receiver confirms the proposed 転院予定日 or names another.
            agreed_transfer_date: if event == HandoverEvent::Accept {
                transfer_date.or(h.proposed_transfer_date)
            } else {
                None
            },
        };
        if let Some(d) = transfer_date
            && (event != HandoverEvent::Accept || d < tokyo_day(plan.started_at))
        {
            return Err(ServiceError::field(
                "transfer_date",
                if event == HandoverEvent::Accept {
                    Rule::BeforePlanStart
                } else {
                    Rule::NotAllowed
                },
                "the transfer date is agreed on acceptance, not before the care plan started",
            ));
        }
        if !store::answer_handover(txn, id, expected, answer).await? {
            return Err(ServiceError::PreconditionFailed);
        }
        let mut team_member = None;
        if event == HandoverEvent::Accept {
            renkei_store::work_index::mark_stale(txn, plan.id).await?;
            // The receiver joins the care team as owner of the new stage.
            match care_teams::member_of(txn, plan.id.into(), actor.organization_id.into()).await? {
                Some(m) => {
                    let mut stages = m.stages;
                    if !stages.contains(&h.stage) {
                        stages.push(h.stage.clone());
                    }
                    let role = if m.role == TeamRole::Planner {
                        TeamRole::Planner
                    } else {
                        TeamRole::StageOwner
                    };
                    care_teams::update_member(txn, m.id, role, &stages).await?;
                    team_member = Some(m.id);
                }
                None => {
                    let id = Uuid::now_v7();
                    team_member = Some(id);
                    care_teams::add_member(
                        txn,
                        &CareTeamMember {
                            id,
                            care_plan_id: plan.id.into(),
                            organization_id: actor.organization_id.into(),
                            role: TeamRole::StageOwner,
                            stages: vec![h.stage.clone()],
                            added_at: now,
                            added_by: Some(actor.practitioner_id.into()),
                        },
                        &plan.region,
                    )
                    .await?;
                }
            }
        }
        let entry_stage = plan.current_stage.clone();
        self.process_entry(
            txn,
            actor,
            plan,
            EntryKind::Handover,
            &entry_stage,
            json!({"handover_id": id.to_string(), "event": to_state.as_str(), "stage": h.stage}),
            reason.clone(),
        )
        .await?;
        let mut record = AuditRecord::by(
            actor,
            action,
            "handover",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan.id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan.id);
        if let Some(member) = team_member {
            record = record.wrote(EvidenceKind::CareTeamMember, member);
        }
        let h = store::handover_by_id(txn, id)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let view = handover_view(txn, h).await?;
        write.commit(record).await?;
        Ok(view)
    }

    /// Whether a stage event may bypass the usual stage order because of a hand-over: the
    /// receiver of an accepted hand-over starting the next stage before the sender recorded
    /// its end, or the sender recording that end late.
    pub(crate) async fn stage_shortcut<C: ConnectionTrait>(
        &self,
        c: &C,
        plan: &CarePlanRow,
        template: &PathwayTemplate,
        kind: EntryKind,
        stage: &str,
        facts: &[EntryFacts],
    ) -> Result<StageShortcut, ServiceError> {
        if !matches!(kind, EntryKind::StageStart | EntryKind::StageEnd) {
            return Ok(StageShortcut::None);
        }
        let state = &crate::plan_chain::plan_state(plan)?;
        let accepted = kind == EntryKind::StageStart
            && store::handovers_of_plan(c, plan.id.into())
                .await?
                .iter()
                .any(|h| h.state == HandoverState::Accepted && h.stage == stage);
        let unrecorded = if kind == EntryKind::StageEnd && stage != state.current_stage {
            let now = self.now();
            let view = current_view(facts, now, now);
            unrecorded_ends(&view, &[])
        } else {
            Vec::new()
        };
        Ok(stage_shortcut(
            template,
            state,
            kind,
            stage,
            accepted,
            &unrecorded,
        ))
    }

    /// The stages each of the organisation's plans left for the next one before the
    /// organisation recorded their end (「終了未記録」), with the plan.
    pub async fn unrecorded_stage_ends(
        &self,
        actor: &Actor,
    ) -> Result<Vec<UnrecordedStageEnd>, ServiceError> {
        let mut out = Vec::new();
        let mut plans =
            renkei_store::queries_access::plans_of_team_org(&self.db, actor.organization_id)
                .await?;
        plans.sort();
        plans.dedup();
        for plan in plans {
            let Some(row) = queries::care_plan_by_id(&self.db, plan).await? else {
                continue;
            };
            if row.status != PlanStatus::Active.as_str() {
                continue;
            }
            let rows = queries::entries_of_plan_in(&self.db, plan, &row.region).await?;
            let orgs: Vec<(Uuid, Uuid)> = rows
                .iter()
                .filter(|r| r.kind == EntryKind::StageStart.as_str())
                .map(|r| (r.id, r.organization_id))
                .collect();
            let pf = plan_facts(&rows);
            let now = self.now();
            let view = current_view(&pf.facts, now, now);
            for u in unrecorded_ends(&view, &orgs) {
                if u.organization != Some(actor.organization_id) {
                    continue;
                }
                let Some(patient) = queries::patient_by_id(&self.db, row.patient_id).await? else {
                    continue;
                };
                let template = self.pathway_of_plan(&row)?.template.clone();
                out.push(UnrecordedStageEnd {
                    care_plan_id: plan,
                    patient: crate::patients::to_patient(&self.db, patient).await?,
                    stage_title: template
                        .stage(&u.stage)
                        .map(|s| s.title.ja.clone())
                        .unwrap_or_else(|| u.stage.clone()),
                    pathway_title: template.title.ja.clone(),
                    end: u,
                });
            }
        }
        Ok(out)
    }

    /// Called inside the append transaction after a stage event: completes an accepted
    /// hand-over when its receiver starts the stage, and makes a report back due when a
    /// stage run by another organisation than the planner ends.
    pub(crate) async fn after_stage_event<C: ConnectionTrait>(
        &self,
        txn: &C,
        actor: &Actor,
        plan: &CarePlanRow,
        template: &PathwayTemplate,
        row: &EntryRow,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        if row.kind == EntryKind::StageStart.as_str() {
            let accepted = store::handovers_to_stage(
                txn,
                plan.id.into(),
                &row.stage,
                actor.organization_id.into(),
                HandoverState::Accepted,
            )
            .await?;
            for h in accepted {
                store::complete_handover(txn, h.id, now).await?;
                // Every transition is an entry in the chain, completion included.
                self.process_entry(
                    txn,
                    actor,
                    plan,
                    EntryKind::Handover,
                    &row.stage,
                    json!({"handover_id": h.id.to_string(), "event": HandoverState::Completed.as_str(), "stage": h.stage}),
                    None,
                )
                .await?;
            }
        }
        if row.kind == EntryKind::StageEnd.as_str()
            && actor.organization_id != plan.planner_organization_id
        {
            let rows = queries::entries_of_plan_in(txn, plan.id, &plan.region).await?;
            let pf = plan_facts(&rows);
            let content = stage_outcome(&pf.standing(), &row.stage);
            reports::insert_report(
                txn,
                &ReportRow {
                    id: Uuid::now_v7(),
                    care_plan_id: plan.id.into(),
                    stage: row.stage.clone(),
                    from_organization_id: actor.organization_id.into(),
                    to_organization_id: plan.planner_organization_id.into(),
                    due_at: report_due(row.effective_at, template.report_due_days),
                    sent_at: None,
                    sent_by: None,
                    content: renkei_domain::canonical::to_canonical_string(&content),
                    stage_end_entry_id: row.id.into(),
                    created_at: now,
                },
                &plan.region,
            )
            .await?;
        }
        Ok(())
    }
}
