//! Care plans: enrolment, appending hash-chained entries (with idempotency), listing
//! entries and evaluating the shared goals.

use renkei_domain::Rule;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use renkei_domain::chain::canonical;
use renkei_domain::entry::{
    EntryKind, NewEntry, PlanState, PlanStatus, VarianceInput, next_state, validate_entry,
};
use renkei_domain::goals::{GoalStatus, evaluate_goals};
use renkei_domain::handover::StageShortcut;
use renkei_domain::{EntryRejection, FieldError};
use renkei_store::queries::{self, CarePlanRow, EntryRow, IdempotencyRow};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::pathways::PublishedPathway;
use crate::plan_chain::{ChainFields, insert_chained, plan_state};
use crate::plan_facts::plan_facts;
use crate::{Actor, ErrorCode, ServiceError, Services, WriteTxn, begin_write, truncate_micros};
use renkei_domain::access::{Action, GlobalAction, TeamRole};
use renkei_domain::evidence::EvidenceKind;
use renkei_store::queries_access;

#[derive(Debug, Clone, Serialize)]
pub struct PathwayRef {
    pub code: String,
    pub version: u32,
    pub hash: String,
    pub title_ja: String,
    pub title_en: String,
}

/// The template variant a plan was enrolled on.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRef {
    pub code: String,
    pub title_ja: String,
    pub title_en: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CarePlan {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub pathway: PathwayRef,
    /// The variant chosen at enrolment, on a pathway version with variants.
    pub variant: Option<VariantRef>,
    pub status: String,
    pub current_stage: String,
    pub stage_started: bool,
    pub stage_ended: bool,
    pub planner_organization: String,
    pub started_at: DateTime<Utc>,
    pub entry_count: i64,
    pub head_hash: String,
    pub created_at: DateTime<Utc>,
    /// The plan's version (its ETag): If-Match for complete / withdraw / migrate.
    pub version: i32,
}

pub use crate::entries::{AuthorRef, Entry, OrganizationRef};

impl Services {
    /// The stages the actor's organisation would own if it enrolled a patient on
    /// `template` (what the enrol confirmation names as its own).
    pub async fn enrolling_stages(
        &self,
        actor: &Actor,
        template: &renkei_domain::template::PathwayTemplate,
    ) -> Result<Vec<String>, ServiceError> {
        let own_kinds = match queries::organization_by_id(&self.db, actor.organization_id).await? {
            Some(o) => {
                renkei_domain::ids::OrgKind::parse(&o.kind).map_or(&[][..], |k| k.provider_kinds())
            }
            None => &[],
        };
        Ok(template.enrolling_stages(own_kinds))
    }

    /// A stored plan as the API shows it.
    pub(crate) async fn plan_view<C: ConnectionTrait>(
        &self,
        c: &C,
        row: CarePlanRow,
    ) -> Result<CarePlan, ServiceError> {
        let p = self.pathway_of_plan(&row)?;
        let planner = queries::organization_by_id(c, row.planner_organization_id)
            .await?
            .map(|o| o.code)
            .unwrap_or_default();
        Ok(CarePlan {
            id: row.id,
            patient_id: row.patient_id,
            pathway: PathwayRef {
                code: p.template.code.clone(),
                version: p.template.version,
                hash: p.hash.clone(),
                title_ja: p.template.title.ja.clone(),
                title_en: p.template.title.en.clone(),
            },
            variant: p.variant.as_ref().map(|v| VariantRef {
                code: v.code.clone(),
                title_ja: v.title.ja.clone(),
                title_en: v.title.en.clone(),
            }),
            status: row.status,
            current_stage: row.current_stage,
            stage_started: row.stage_started,
            stage_ended: row.stage_ended,
            planner_organization: planner,
            started_at: row.started_at,
            entry_count: row.last_seq,
            head_hash: row.head_hash,
            created_at: row.created_at,
            version: row.row_version,
        })
    }

    /// Enrols a patient on a pathway (the latest version unless one is named).
    #[expect(
        clippy::too_many_arguments,
        reason = "one use case; the pathway, version, variant and start are all distinct"
    )]
    pub async fn enrol(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient_id: Uuid,
        pathway: &str,
        version: Option<u32>,
        variant: Option<&str>,
        started_at: Option<DateTime<Utc>>,
    ) -> Result<CarePlan, ServiceError> {
        self.enrol_once(
            actor, meta, patient_id, pathway, version, variant, started_at, None,
        )
        .await
        .map(|(plan, _)| plan)
    }

    /// [`Self::enrol`] with an idempotency key: the same request sent again (a double
    /// click, a retry after a lost answer) returns the plan the first one created and
    /// creates nothing; the same key with another request is refused. Returns the plan
    /// and whether it was newly created.
    #[allow(clippy::too_many_arguments)]
    pub async fn enrol_once(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient_id: Uuid,
        pathway: &str,
        version: Option<u32>,
        variant: Option<&str>,
        started_at: Option<DateTime<Utc>>,
        idempotency: Option<Idempotency>,
    ) -> Result<(CarePlan, bool), ServiceError> {
        self.authorize_global(
            actor,
            meta,
            GlobalAction::Enrol,
            "care_plan.enrol",
            "care_plan",
        )
        .await?;
        let published = match version {
            Some(v) => self.pathways.find(pathway, v),
            None => self.pathways.latest(pathway),
        }
        .cloned();
        // Every field error of the request at once.
        let mut errors = Vec::new();
        if published.is_none() {
            let field = if version.is_some() && self.pathways.latest(pathway).is_some() {
                "version"
            } else {
                "pathway"
            };
            errors.push(FieldError::new(
                field,
                Rule::Unknown,
                match version {
                    Some(v) => format!("pathway `{pathway}` has no published version {v}"),
                    None => format!("no pathway `{pathway}` is published"),
                },
            ));
        }
        // The variant: required where the version branches, one of its own.
        let variant = match &published {
            Some(p) => match renkei_domain::template::choose_variant(&p.template, variant) {
                Ok(v) => v.map(|v| v.code.clone()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            None => None,
        };
        let now = self.now();
        let started_at = started_at.map(truncate_micros).unwrap_or(now);
        if started_at > now + chrono::Duration::minutes(5) {
            errors.push(FieldError::new(
                "started_at",
                Rule::InFuture,
                "started_at must not be in the future",
            ));
        }
        let Some(published) = published.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Validation(errors));
        };
        // From here the plan's template: resolved for its variant.
        let published = self
            .pathways
            .for_plan(published.id, variant.as_deref())
            .cloned()
            .unwrap_or(published);
        let first = published
            .template
            .first_stage()
            .map(|s| s.code.clone())
            .unwrap_or_default();
        let txn = begin_write(&self.db).await?;
        let exists = queries::patient_by_id(&txn, patient_id).await?.is_some();
        if !exists || !self.patient_visible_to_org(&txn, actor, patient_id).await? {
            txn.rollback().await?;
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "care_plan.enrol",
                    "patient",
                    Some(patient_id.to_string()),
                    Outcome::Denied,
                )
                .patient(exists.then_some(patient_id))
                .detail("patient unknown or not visible to this organization"),
            )
            .await?;
            return Err(ServiceError::field(
                "patient_id",
                Rule::Unknown,
                "no patient with this id is registered at your organization",
            ));
        }
        if let Some(idem) = &idempotency {
            // Enrolments of one patient run one after another (a row lock on PostgreSQL),
            // so a concurrent retry finds the first one's key.
            queries::lock_patient(&txn, patient_id).await?;
            if let Some(prev) =
                queries::idempotency_key(&txn, actor.practitioner_id, &idem.key).await?
            {
                if prev.request_hash != idem.request_hash {
                    txn.rollback().await?;
                    return Err(ServiceError::IdempotencyKeyReused);
                }
                audit::record(
                    &txn,
                    self.now(),
                    meta,
                    AuditRecord::by(
                        actor,
                        "care_plan.enrol",
                        "care_plan",
                        Some(prev.care_plan_id.to_string()),
                        Outcome::Allowed,
                    )
                    .plan(Some(prev.care_plan_id))
                    .patient(Some(patient_id))
                    .detail("idempotent replay"),
                )
                .await?;
                txn.commit().await?;
                let row = queries::care_plan_by_id(&self.db, prev.care_plan_id)
                    .await?
                    .ok_or(ServiceError::NotFound("care plan"))?;
                return Ok((self.plan_view(&self.db, row).await?, false));
            }
        }
        // The planner takes the stages its kind of organisation provides: on a cyclical
        // pathway a clinic enrolling a patient is the かかりつけ医 (clinic stage), the
        // specialist centre's stages stay open until it joins; otherwise the first stage
        // and those of the same provider kinds.
        let template = &published.template;
        let planner = queries::organization_by_id(&txn, actor.organization_id).await?;
        let own_kinds = match &planner {
            Some(o) => {
                renkei_domain::ids::OrgKind::parse(&o.kind).map_or(&[][..], |k| k.provider_kinds())
            }
            None => &[],
        };
        // A template may name the kinds of organisation that plan it (a cancer pathway's
        // 計画策定病院 is a hospital).
        if !template.planner_kinds.is_empty()
            && !own_kinds.iter().any(|k| template.planner_kinds.contains(k))
        {
            txn.rollback().await?;
            return Err(ServiceError::field(
                "pathway",
                Rule::PlannerKind,
                "only an organisation of a kind the template names as planner may enrol on this pathway",
            ));
        }
        // The plan's region for good: the planning organisation's area today.
        let region = planner.map(|o| o.area).unwrap_or_default();
        let planner_stages = template.enrolling_stages(own_kinds);
        // A cyclical plan enrolled by the かかりつけ医 starts in its own stage.
        let first = match planner_stages.first() {
            Some(own) if template.cyclical && !planner_stages.contains(&first) => own.clone(),
            _ => first,
        };
        let row = CarePlanRow {
            id: Uuid::now_v7(),
            patient_id,
            pathway_version_id: published.id,
            planner_organization_id: actor.organization_id,
            region,
            status: PlanStatus::Active.as_str().to_owned(),
            current_stage: first,
            stage_started: false,
            stage_ended: false,
            started_at,
            last_seq: 0,
            head_hash: String::new(),
            row_version: 1,
            created_at: now,
            updated_at: now,
            variant,
        };
        queries::insert_care_plan(&txn, row.clone()).await?;
        renkei_store::council::insert_pending(
            &txn,
            row.id,
            &row.region,
            (&template.code, template.version),
            row.planner_organization_id,
            renkei_domain::calendar::tokyo_date(row.started_at),
            &row.status,
            now,
        )
        .await?;
        let planner_member = Uuid::now_v7();
        queries_access::insert_team_member(
            &txn,
            queries_access::TeamMemberRow {
                id: planner_member,
                care_plan_id: row.id,
                region: row.region.clone(),
                organization_id: actor.organization_id,
                role: TeamRole::Planner.as_str().to_owned(),
                stages: serde_json::to_string(&planner_stages).unwrap_or_else(|_| "[]".into()),
                added_at: now,
                added_by: Some(actor.practitioner_id),
                access_ends_on: None,
                access_ends_at: None,
                ended_at: None,
                ended_by: None,
                end_reason: None,
            },
        )
        .await?;
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "care_plan.enrol",
                "care_plan",
                Some(row.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(row.id))
            .patient(Some(patient_id))
            .wrote(EvidenceKind::CarePlan, row.id)
            .wrote(EvidenceKind::CareTeamMember, planner_member),
        )
        .await?;
        if let Some(idem) = idempotency {
            queries::insert_idempotency_key(
                &txn,
                IdempotencyRow {
                    id: Uuid::now_v7(),
                    practitioner_id: actor.practitioner_id,
                    key: idem.key,
                    request_hash: idem.request_hash,
                    care_plan_id: row.id,
                    response_status: 201,
                    response_body: row.id.to_string(),
                    created_at: now,
                },
            )
            .await?;
        }
        txn.commit().await?;
        Ok((self.plan_view(&self.db, row).await?, true))
    }

    pub async fn get_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<CarePlan, ServiceError> {
        let (row, _) = self
            .authorize_plan(actor, meta, id, Action::ReadPlan)
            .await?;
        let plan = self.plan_view(&self.db, row.clone()).await?;
        self.audit_read(actor, meta, "care_plan.read", &row).await?;
        Ok(plan)
    }

    /// Records that the plan was printed (地域連携診療計画書), as its own audit event
    /// next to the reads the printed page made.
    pub async fn record_print(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<(), ServiceError> {
        let (row, _) = self
            .authorize_plan(actor, meta, id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "care_plan.print", &row).await
    }

    /// The patient's plans this organisation may see (none, if the patient is not
    /// visible; the answer does not reveal whether the patient exists).
    pub async fn plans_of_patient(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient_id: Uuid,
    ) -> Result<Vec<CarePlan>, ServiceError> {
        // A merged record's plans are listed with its survivor's.
        let all = crate::patient_group::group_plans(&self.db, patient_id).await?;
        let visible = self.visible_plans(&self.db, actor, all).await?;
        let mut out = Vec::new();
        for row in visible {
            out.push(self.plan_view(&self.db, row).await?);
        }
        let outcome = if out.is_empty() {
            Outcome::Denied
        } else {
            Outcome::Allowed
        };
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "care_plan.list",
                "patient",
                Some(patient_id.to_string()),
                outcome,
            )
            .patient((!out.is_empty()).then_some(patient_id)),
        )
        .await?;
        Ok(out)
    }

    /// Appends an entry: one transaction that locks the plan, replays an earlier answer
    /// for a reused idempotency key, validates against the pinned template, chains the
    /// entry to the previous one and moves the plan's stage state.
    ///
    /// Returns the entry and whether it was newly written (false on replay).
    pub async fn append_entry(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        input: AppendEntry,
        idempotency: Option<Idempotency>,
    ) -> Result<(Entry, bool), ServiceError> {
        let kind = input.kind;
        match self
            .append_entry_inner(actor, meta, plan_id, input, idempotency)
            .await
        {
            Err(
                e @ (ServiceError::Validation(_)
                | ServiceError::Conflict { .. }
                | ServiceError::IdempotencyKeyReused),
            ) => {
                // Access was allowed but nothing was written: the attempt is still audited,
                // with the plan's patient like every other event about the plan.
                let patient = queries::care_plan_by_id(&self.db, plan_id)
                    .await?
                    .map(|p| p.patient_id);
                audit::record_now(
                    self,
                    meta,
                    AuditRecord::by(
                        actor,
                        "entry.append",
                        "care_plan",
                        Some(plan_id.to_string()),
                        Outcome::Allowed,
                    )
                    .plan(Some(plan_id))
                    .patient(patient)
                    .detail(format!(
                        "rejected ({}): {}",
                        kind.as_str(),
                        e.code().slug()
                    )),
                )
                .await?;
                Err(e)
            }
            other => other,
        }
    }

    async fn append_entry_inner(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        input: AppendEntry,
        idempotency: Option<Idempotency>,
    ) -> Result<(Entry, bool), ServiceError> {
        let now = self.now();
        let write = self.begin_plan_write(actor, meta, plan_id).await?;
        let (amends_target, access_stage) = self
            .append_access(write.txn(), write.plan(), plan_id, &input)
            .await?;
        let action = append_action(input.kind, &access_stage, amends_target.as_ref());
        let mut write = write
            .with_key(idempotency.as_ref().map(|i| i.key.as_str()))
            .authorize(action, None)
            .await?;
        let patient_id = write.plan.patient_id;
        if let Some(idem) = &idempotency
            && let Some(prev) = write.idempotency.take()
        {
            let txn = &write.txn;
            if prev.request_hash != idem.request_hash || prev.care_plan_id != plan_id {
                return Err(ServiceError::IdempotencyKeyReused);
            }
            let entry_id: Uuid = prev
                .response_body
                .parse()
                .map_err(|e| anyhow::anyhow!("stored idempotent response unreadable: {e}"))?;
            let row = queries::entry_by_id(txn, entry_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("idempotent entry {entry_id} missing"))?;
            let entry = self
                .to_entries(txn, vec![row], &HashMap::new())
                .await?
                .remove(0);
            let record = AuditRecord::by(
                actor,
                "entry.append",
                "entry",
                Some(entry_id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan_id))
            .patient(Some(patient_id))
            .detail("idempotent replay");
            write.commit(record).await?;
            return Ok((entry, false));
        }
        let kind = input.kind;
        let row = self
            .append_allowed(
                &write.txn,
                actor,
                &write.plan,
                input,
                amends_target,
                idempotency.as_ref(),
                now,
            )
            .await?;
        let entry_id = row.id;
        let amendment = row.amends.is_some();
        let void = kind == EntryKind::EnteredInError;
        // The answer from the row in hand: the author and their organisation are the actor.
        let entry = entry_of(row, actor)?;
        let record = AuditRecord::by(
            actor,
            if void {
                "entry.void"
            } else if amendment {
                "entry.amend"
            } else {
                "entry.append"
            },
            "entry",
            Some(entry_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(patient_id))
        .wrote(EvidenceKind::CarePlan, plan_id);
        write.commit(record).await?;
        crate::sequencer::count_append();
        if amendment || void {
            self.notify_soon();
        }
        Ok((entry, true))
    }

    /// The append once access is allowed, in the caller's write transaction: validates
    /// against the pinned template, chains the entry, moves the plan's stage state and
    /// stores the idempotency key. The JSON API's append and the lab-result import both
    /// write through it; the caller records the audit event and commits.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append_allowed(
        &self,
        txn: &WriteTxn,
        actor: &Actor,
        plan: &CarePlanRow,
        input: AppendEntry,
        amends_target: Option<EntryRow>,
        idempotency: Option<&Idempotency>,
        now: DateTime<Utc>,
    ) -> Result<EntryRow, ServiceError> {
        let CheckedAppend {
            published,
            state,
            new,
            amends,
            values,
            void_state,
            late_end,
        } = self
            .validate_append(txn, plan, input, amends_target, now)
            .await?;
        let template = &published.template;
        let next = if late_end {
            state.clone()
        } else {
            void_state.unwrap_or_else(|| next_state(template, &state, &new))
        };
        let row = insert_chained(
            txn,
            plan,
            ChainFields {
                author_id: actor.practitioner_id,
                organization_id: actor.organization_id,
                stage: new.stage.clone(),
                kind: new.kind,
                effective_at: new.effective_at,
                recorded_at: now,
                values: Value::Object(values),
                note: new.note.clone(),
                variance: new
                    .variance
                    .as_ref()
                    .map(|v| serde_json::to_value(v).unwrap_or(Value::Null)),
                amends,
                reason: new.reason.clone(),
            },
            &next,
        )
        .await?;
        if new.amends.is_none() {
            self.after_stage_event(txn, actor, plan, &published.template, &row)
                .await?;
        } else if let Some(target) = row.amends {
            crate::notices::notify_readers(txn, actor, plan.id, &row.region, target, row.id, now)
                .await?;
        }
        if let Some(idem) = idempotency {
            queries::insert_idempotency_key(
                txn,
                IdempotencyRow {
                    id: Uuid::now_v7(),
                    practitioner_id: actor.practitioner_id,
                    key: idem.key.clone(),
                    request_hash: idem.request_hash.clone(),
                    care_plan_id: plan.id,
                    response_status: 201,
                    response_body: row.id.to_string(),
                    created_at: now,
                },
            )
            .await?;
        }
        Ok(row)
    }

    /// What the access decision of an append looks at: the amended entry (when it is an
    /// entry of this plan) and the stage. A stage the pinned template does not define is a
    /// validation error (422), not a refusal: the decision then looks at the plan's current
    /// stage instead.
    pub(crate) async fn append_access<C: ConnectionTrait>(
        &self,
        c: &C,
        plan: Option<&CarePlanRow>,
        plan_id: Uuid,
        input: &AppendEntry,
    ) -> Result<(Option<EntryRow>, String), ServiceError> {
        let amends_target = match input.amends {
            Some(id) => queries::entry_by_id(c, id)
                .await?
                .filter(|e| e.care_plan_id == plan_id),
            None => None,
        };
        let access_stage = match plan.map(|p| {
            (
                p,
                self.pathways
                    .for_plan(p.pathway_version_id, p.variant.as_deref()),
            )
        }) {
            Some((current, Some(p))) if p.template.stage(&input.stage).is_none() => {
                current.current_stage.clone()
            }
            _ => input.stage.clone(),
        };
        Ok((amends_target, access_stage))
    }

    /// The append's rules once access is allowed: the plan's state, the amended entry and
    /// the template's entry validation (422 field errors, 409 state conflicts). The review
    /// step runs it without writing; the append runs it in its locked transaction.
    pub(crate) async fn validate_append<C: ConnectionTrait>(
        &self,
        c: &C,
        plan: &CarePlanRow,
        input: AppendEntry,
        amends_target: Option<EntryRow>,
        now: DateTime<Utc>,
    ) -> Result<CheckedAppend, ServiceError> {
        let published = self.pathway_of_plan(plan)?;
        // The plan's record, read once and only when a rule below needs it: a correction's
        // chain, the order of stage events, the onset and admission of plausibility.
        let facts = if input.amends.is_some()
            || matches!(input.kind, EntryKind::StageStart | EntryKind::StageEnd)
            || crate::plausibility::needs_record(input.kind, &input.values)
        {
            crate::plan_facts::entry_facts(
                &queries::entries_of_plan_in(c, plan.id, &plan.region).await?,
            )
        } else {
            Vec::new()
        };
        let plan_state_now = plan_state(plan)?;
        let shortcut = if input.amends.is_none() {
            self.stage_shortcut(
                c,
                plan,
                &published.template,
                input.kind,
                &input.stage,
                &facts,
            )
            .await?
        } else {
            StageShortcut::None
        };
        let (state, check_state, late_end) = match shortcut {
            StageShortcut::None => (plan_state_now.clone(), plan_state_now, None),
            StageShortcut::ReceiverStart(s) => (s.clone(), s, None),
            StageShortcut::LateEnd { state, closed_at } => (plan_state_now, state, Some(closed_at)),
        };
        let mut void_state = None;
        let amends = match input.amends {
            None => None,
            Some(target_id) => {
                let target = amends_target.ok_or_else(|| {
                    ServiceError::field(
                        "amends",
                        Rule::UnknownEntry,
                        "no entry with this id in this care plan",
                    )
                })?;
                let amend_target = crate::corrections::amend_target(&facts, &target)?;
                if input.kind == EntryKind::EnteredInError
                    && matches!(
                        amend_target.kind,
                        EntryKind::StageStart | EntryKind::StageEnd
                    )
                    && !amend_target.is_already_amended
                    && !amend_target.is_voided
                {
                    void_state = Some(
                        renkei_domain::corrections::state_after_void(&state, &facts, target_id)
                            .map_err(|message| ServiceError::Conflict {
                                code: ErrorCode::StageOutOfOrder,
                                message,
                            })?,
                    );
                }
                Some((target_id, amend_target))
            }
        };
        let (amends, amend_target) = match amends {
            Some((id, t)) => (Some(id), Some(t)),
            None => (None, None),
        };
        let new = NewEntry {
            stage: input.stage,
            kind: input.kind,
            effective_at: truncate_micros(input.effective_at),
            values: input.values,
            note: input.note,
            variance: input.variance,
            amends: amend_target,
            reason: input.reason,
        };
        // Plausibility of the stated times, reported with every other field error.
        let implausible = crate::plausibility::entry_findings(
            &facts,
            new.kind,
            new.effective_at,
            &new.values,
            amends,
            now,
        );
        // A late stage end closes the stage at the latest when the next one started.
        let late_error = late_end
            .filter(|closed| new.effective_at > *closed)
            .map(|_| {
                FieldError::new(
                    "effective_at",
                    Rule::AfterNextStageStart,
                    "a late stage end must be dated at or before the start of the next stage",
                )
            });
        let validated =
            validate_entry(&published.template, &check_state, &new, now).map_err(|r| match r {
                EntryRejection::Invalid(mut errors) => {
                    errors.extend(implausible.iter().cloned());
                    errors.extend(late_error.iter().cloned());
                    ServiceError::Validation(errors)
                }
                EntryRejection::Conflict { code, message } => ServiceError::Conflict {
                    code: ErrorCode::from_conflict(code),
                    message,
                },
            })?;
        let mut errors = implausible;
        errors.extend(late_error);
        if matches!(new.kind, EntryKind::StageStart | EntryKind::StageEnd) {
            let candidate = renkei_domain::goals::EntryFacts {
                id: Uuid::max(),
                seq: facts.iter().map(|e| e.seq).max().unwrap_or(0) + 1,
                stage: new.stage.clone(),
                kind: new.kind,
                effective_at: new.effective_at,
                recorded_at: now,
                values: validated.values.clone(),
                amends,
            };
            errors.extend(renkei_domain::plan::stage_order_errors(&facts, &candidate));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        Ok(CheckedAppend {
            published,
            state,
            new,
            amends,
            values: validated.values,
            void_state,
            late_end: late_end.is_some(),
        })
    }

    /// Maps stored rows to API entries, resolving authors and organisations once each.
    pub(crate) async fn to_entries<C: ConnectionTrait>(
        &self,
        c: &C,
        rows: Vec<EntryRow>,
        amended_by: &HashMap<Uuid, Uuid>,
    ) -> Result<Vec<Entry>, ServiceError> {
        let mut authors: HashMap<Uuid, AuthorRef> = HashMap::new();
        let mut orgs: HashMap<Uuid, OrganizationRef> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let std::collections::hash_map::Entry::Vacant(slot) = authors.entry(row.author_id) {
                let p = queries::practitioner_by_id(c, row.author_id).await?;
                slot.insert(AuthorRef {
                    id: row.author_id,
                    name: p.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                    profession: p.map(|p| p.profession).unwrap_or_default(),
                });
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = orgs.entry(row.organization_id)
            {
                let o = queries::organization_by_id(c, row.organization_id).await?;
                slot.insert(OrganizationRef {
                    id: row.organization_id,
                    code: o.as_ref().map(|o| o.code.clone()).unwrap_or_default(),
                    name: o.map(|o| o.name).unwrap_or_default(),
                });
            }
            let values = serde_json::from_str(&row.values_json)
                .map_err(|e| anyhow::anyhow!("entry {} values unreadable: {e}", row.id))?;
            let variance =
                match &row.variance {
                    Some(v) => Some(serde_json::from_str(v).map_err(|e| {
                        anyhow::anyhow!("entry {} variance unreadable: {e}", row.id)
                    })?),
                    None => None,
                };
            out.push(Entry {
                id: row.id,
                care_plan_id: row.care_plan_id,
                seq: row.seq,
                stage: row.stage,
                kind: row.kind,
                effective_at: row.effective_at,
                recorded_at: row.recorded_at,
                author: authors[&row.author_id].clone(),
                organization: orgs[&row.organization_id].clone(),
                values,
                note: row.note,
                variance,
                amends: row.amends,
                reason: row.reason,
                amended_by: amended_by.get(&row.id).copied(),
                voided_by: None,
                prev_hash: row.prev_hash,
                hash: row.hash,
            });
        }
        Ok(out)
    }

    /// A plan's entries in sequence order.
    pub async fn list_entries(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Entry>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "entry.list", &plan).await?;
        let rows = queries::entries_of_plan_in(&self.db, plan_id, &plan.region).await?;
        let amended_by: HashMap<Uuid, Uuid> = rows
            .iter()
            .filter_map(|r| r.amends.map(|a| (a, r.id)))
            .collect();
        let voided = crate::corrections::voided_by(&rows);
        let mut out = self.to_entries(&self.db, rows, &amended_by).await?;
        crate::corrections::mark_voided(&mut out, &voided);
        Ok(out)
    }

    /// The status of every shared goal at clinical time `as_of` (default now) as the
    /// record stood at `known_at` (default now).
    pub async fn goals(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        as_of: Option<DateTime<Utc>>,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<GoalStatus>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "goal.read", &plan).await?;
        let published = self.pathway_of_plan(&plan)?;
        let rows = queries::entries_of_plan_in(&self.db, plan_id, &plan.region).await?;
        let facts = plan_facts(&rows);
        let now = self.now();
        let as_of = as_of.unwrap_or(now);
        let known_at = known_at.unwrap_or(now);
        let template = facts.individual_template_cow(&published.template, as_of, known_at);
        let ctx = crate::goal_context::goal_context(
            &self.db,
            &template,
            plan.patient_id,
            plan.started_at,
            as_of,
            known_at,
        )
        .await?;
        Ok(evaluate_goals(&template, &ctx, &facts.facts))
    }
}

/// The API entry of a row `actor` has just written.
fn entry_of(row: EntryRow, actor: &Actor) -> Result<Entry, ServiceError> {
    let values = serde_json::from_str(&row.values_json)
        .map_err(|e| anyhow::anyhow!("entry {} values unreadable: {e}", row.id))?;
    let variance = match &row.variance {
        Some(v) => Some(
            serde_json::from_str(v)
                .map_err(|e| anyhow::anyhow!("entry {} variance unreadable: {e}", row.id))?,
        ),
        None => None,
    };
    Ok(Entry {
        id: row.id,
        care_plan_id: row.care_plan_id,
        seq: row.seq,
        stage: row.stage,
        kind: row.kind,
        effective_at: row.effective_at,
        recorded_at: row.recorded_at,
        author: AuthorRef {
            id: row.author_id,
            name: actor.name.clone(),
            profession: actor.profession.clone(),
        },
        organization: OrganizationRef {
            id: row.organization_id,
            code: actor.organization_code.clone(),
            name: actor.organization_name.clone(),
        },
        values,
        note: row.note,
        variance,
        amends: row.amends,
        reason: row.reason,
        amended_by: None,
        voided_by: None,
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}

/// The access decision's action for appending (or, with the amended entry, amending) an
/// entry of `kind` at `stage`.
pub(crate) fn append_action<'a>(
    kind: EntryKind,
    stage: &'a str,
    amends_target: Option<&EntryRow>,
) -> Action<'a> {
    match amends_target {
        Some(t) => Action::Amend {
            // A void is decided as an amend of the entry it voids.
            kind: match kind {
                EntryKind::EnteredInError => EntryKind::parse(&t.kind).unwrap_or(kind),
                _ => kind,
            },
            stage,
            author_organization: t.organization_id,
        },
        None => Action::Append { kind, stage },
    }
}

/// An entry that passed the append's rules, as it would be stored.
pub(crate) struct CheckedAppend {
    pub published: Arc<PublishedPathway>,
    pub state: PlanState,
    pub new: NewEntry,
    /// The amended entry.
    pub amends: Option<Uuid>,
    /// The values to store, composites computed.
    pub values: Map<String, Value>,
    /// The plan's stage state once a voided stage event no longer counts.
    pub void_state: Option<PlanState>,
    /// A stage end recorded late, after the next stage started: the plan's state stays.
    pub late_end: bool,
}

/// An entry as a client sends it.
#[derive(Debug, Clone)]
pub struct AppendEntry {
    pub stage: String,
    pub kind: EntryKind,
    pub effective_at: DateTime<Utc>,
    pub values: Map<String, Value>,
    pub note: Option<String>,
    pub variance: Option<VarianceInput>,
    pub amends: Option<Uuid>,
    pub reason: Option<String>,
}

/// A client's idempotency key and the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

impl Idempotency {
    /// Checks the key (1–255 visible ASCII characters) and hashes the request body.
    pub fn new(key: &str, body: &Value) -> Result<Self, ServiceError> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "Idempotency-Key",
                Rule::Format,
                "Idempotency-Key must be 1–255 visible ASCII characters",
            )]));
        }
        Ok(Self {
            key: key.to_owned(),
            request_hash: renkei_domain::canonical::sha256_tagged(canonical(body).as_bytes()),
        })
    }
}
