//! A plan's lifecycle: individual targets, completion or withdrawal, and migration to a
//! newer version of its pathway.

use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_domain::access::Action;
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::template::GoalTarget;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::plan_chain::{ChainFields, conflict, insert_chained, plan_state};
use crate::{Actor, ServiceError, Services};

impl Services {
    /// Sets a per-patient goal target, schedule interval or stage limit (`max_days`), with
    /// its reason (e.g. the elderly HbA1c range, the eye-exam interval by retinopathy
    /// grade, 180 recovery days for severe stroke with higher brain dysfunction).
    #[allow(clippy::too_many_arguments)]
    pub async fn individualize(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        goal: Option<(String, Value)>,
        schedule: Option<(String, u32)>,
        stage_limit: Option<(String, u32)>,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .authorize(Action::Individualize, None)
            .await?;
        let plan = &write.plan;
        let template = self.pathway_of_plan(plan)?.template.clone();
        let mut errors = Vec::new();
        if reason.trim().is_empty() {
            errors.push(FieldError::new(
                "reason",
                Rule::Required,
                "state why this patient's target differs",
            ));
        }
        let values = match (&goal, &schedule, &stage_limit) {
            (Some((code, target)), None, None) => {
                match template.goals.iter().find(|g| &g.code == code) {
                    None => errors.push(FieldError::new(
                        "goal",
                        Rule::UnknownGoal,
                        format!("no goal `{code}`"),
                    )),
                    Some(g) => match serde_json::from_value::<GoalTarget>(target.clone()) {
                        Err(e) => {
                            errors.push(FieldError::new("target", Rule::Format, e.to_string()))
                        }
                        // A value target may become a band and back (the elderly HbA1c
                        // range instead of `< 7.0`); every other kind keeps its kind.
                        Ok(t)
                            if std::mem::discriminant(&t) != std::mem::discriminant(&g.target)
                                && !(is_value_target(&t) && is_value_target(&g.target)) =>
                        {
                            errors.push(FieldError::new(
                                "target.kind",
                                Rule::SameKind,
                                "an individual target keeps the goal's kind",
                            ))
                        }
                        Ok(t) => {
                            let item_of = |t: &GoalTarget| match t {
                                GoalTarget::Threshold { item, .. }
                                | GoalTarget::Range { item, .. }
                                | GoalTarget::Membership { item, .. }
                                | GoalTarget::DoneWithin { item, .. } => Some(item.clone()),
                                _ => None,
                            };
                            if item_of(&t) != item_of(&g.target) {
                                errors.push(FieldError::new(
                                    "target.item",
                                    Rule::SameItem,
                                    "an individual target keeps the goal's item",
                                ));
                            }
                            if let GoalTarget::Range { min, max, .. } = t
                                && min >= max
                            {
                                errors.push(FieldError::new(
                                    "target.min",
                                    Rule::Range,
                                    "min must be below max",
                                ));
                            }
                        }
                    },
                }
                json!({"goal": code, "target": target})
            }
            (None, Some((code, days)), None) => {
                if !template.schedule.iter().any(|r| &r.code == code) {
                    errors.push(FieldError::new(
                        "schedule",
                        Rule::Unknown,
                        format!("no schedule rule `{code}`"),
                    ));
                }
                if *days == 0 {
                    errors.push(FieldError::new(
                        "interval_days",
                        Rule::Range,
                        "must be 1 or more",
                    ));
                }
                json!({"schedule": code, "interval_days": days})
            }
            (None, None, Some((code, days))) => {
                match template.stage(code) {
                    None => errors.push(FieldError::new(
                        "stage",
                        Rule::UnknownStage,
                        format!("no stage `{code}`"),
                    )),
                    Some(s) => {
                        if *days == 0 {
                            errors.push(FieldError::new(
                                "max_days",
                                Rule::Range,
                                "must be 1 or more",
                            ));
                        } else if let Some(expected) = s.expected_days
                            && *days < expected
                        {
                            errors.push(FieldError::new(
                                "max_days",
                                Rule::Range,
                                format!("must not be below the stage's expected {expected} days"),
                            ));
                        }
                    }
                }
                json!({"stage": code, "max_days": days})
            }
            _ => {
                errors.push(FieldError::new(
                    "goal",
                    Rule::Required,
                    "give one of goal + target, schedule + interval_days or stage + max_days",
                ));
                Value::Null
            }
        };
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let stage = plan.current_stage.clone();
        self.process_entry(
            &write.txn,
            actor,
            plan,
            EntryKind::Individualize,
            &stage,
            values,
            Some(reason.trim().to_owned()),
        )
        .await?;
        let record = AuditRecord::by(
            actor,
            "care_plan.individualize",
            "care_plan",
            Some(plan_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan_id);
        write.commit(record).await
    }

    /// Completes or withdraws a plan (planning organisation), guarded by If-Match on the
    /// plan's version when given.
    pub async fn end_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        status: PlanStatus,
        reason: Option<String>,
        if_match: Option<i32>,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .authorize(Action::Lifecycle, if_match)
            .await?;
        let plan = &write.plan;
        if plan.status != PlanStatus::Active.as_str() {
            return Err(conflict(format!(
                "the care plan is already {}",
                plan.status
            )));
        }
        if status == PlanStatus::Withdrawn && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a withdrawal needs a reason (e.g. death, the patient's wish)",
            ));
        }
        let mut state = plan_state(plan)?;
        state.status = status;
        let event = if status == PlanStatus::Completed {
            "completed"
        } else {
            "withdrawn"
        };
        insert_chained(
            &write.txn,
            plan,
            ChainFields {
                author_id: actor.practitioner_id,
                organization_id: actor.organization_id,
                stage: plan.current_stage.clone(),
                kind: EntryKind::Lifecycle,
                effective_at: now,
                recorded_at: now,
                values: json!({"event": event}),
                note: reason.clone(),
                variance: None,
                amends: None,
                reason: None,
            },
            &state,
        )
        .await?;
        let record = AuditRecord::by(
            actor,
            "care_plan.lifecycle",
            "care_plan",
            Some(plan_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan_id)
        .detail(event);
        write.commit(record).await
    }

    /// What migrating the plan to `version` would change (nothing is changed): the template
    /// differences with titles and changed fields, the items the version's conditions read
    /// that the plan has not recorded, and the recorded items the version no longer has.
    pub async fn migration_preview(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        version: u32,
    ) -> Result<renkei_domain::diff::MigrationPreview, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let current = self.pathway_of_plan(&plan)?;
        let target = self
            .pathways
            .find(&current.template.code, version)
            .ok_or_else(|| {
                ServiceError::field(
                    "version",
                    Rule::Unknown,
                    format!("{} has no version {version}", current.template.code),
                )
            })?;
        self.audit_read(actor, meta, "care_plan.migration_preview", &plan)
            .await?;
        let rows =
            renkei_store::queries::entries_of_plan_in(&self.db, plan_id, &plan.region).await?;
        Ok(renkei_domain::diff::migration_preview(
            &current.template,
            &target.template,
            &crate::plan_facts::entry_facts(&rows),
            self.now(),
        ))
    }

    /// Moves a running plan to a newer version of its pathway, recorded with its reason.
    #[expect(
        clippy::too_many_arguments,
        reason = "one use case; the version, variant, reason and If-Match are all distinct"
    )]
    pub async fn migrate_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        version: u32,
        variant: Option<&str>,
        reason: &str,
        if_match: Option<i32>,
    ) -> Result<(), ServiceError> {
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .authorize(Action::Lifecycle, if_match)
            .await?;
        let plan = &write.plan;
        let current = self.pathway_of_plan(plan)?;
        let Some(target) = self.pathways.find(&current.template.code, version).cloned() else {
            return Err(ServiceError::field(
                "version",
                Rule::Unknown,
                format!("{} has no version {version}", current.template.code),
            ));
        };
        if reason.trim().is_empty() {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a migration needs a reason",
            ));
        }
        // The variant on the new version: the one named, else the plan's own when the new
        // version has it; required where the new version branches.
        let requested = variant
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .or_else(|| {
                plan.variant
                    .as_deref()
                    .filter(|v| target.template.variant(v).is_some())
            });
        let variant = renkei_domain::template::choose_variant(&target.template, requested)
            .map_err(|e| ServiceError::Validation(vec![e]))?
            .map(|v| v.code.clone());
        if version <= current.template.version {
            return Err(conflict("a plan migrates only to a newer version"));
        }
        if target.template.stage(&plan.current_stage).is_none() {
            return Err(conflict(format!(
                "version {version} has no stage `{}`, the plan's current stage",
                plan.current_stage
            )));
        }
        if plan.status != PlanStatus::Active.as_str() {
            return Err(conflict("only an active plan migrates"));
        }
        renkei_store::care_plans::set_pathway_version(
            &write.txn,
            plan_id.into(),
            target.id,
            variant.as_deref(),
        )
        .await?;
        let stage = plan.current_stage.clone();
        let mut values = json!({"event": "migrated", "from_version": current.template.version, "to_version": version, "to_hash": target.hash});
        if let Some(v) = &variant {
            values["to_variant"] = json!(v);
        }
        self.process_entry(
            &write.txn,
            actor,
            plan,
            EntryKind::Lifecycle,
            &stage,
            values,
            Some(reason.trim().to_owned()),
        )
        .await?;
        let record = AuditRecord::by(
            actor,
            "care_plan.lifecycle",
            "care_plan",
            Some(plan_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan_id)
        .detail("migrated");
        write.commit(record).await
    }
}

/// Targets that compare the latest value of one item: a threshold or a band.
fn is_value_target(t: &GoalTarget) -> bool {
    matches!(t, GoalTarget::Threshold { .. } | GoalTarget::Range { .. })
}
