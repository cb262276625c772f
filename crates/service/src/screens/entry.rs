//! The review step of an entry form (確認画面): the checks `append_entry` makes before it
//! writes — the plan, the amended entry, the access decision for the stage, the plan's
//! state and the template's rules — run without writing, so the review shows exactly
//! what 確定 will accept or refuse.

use renkei_domain::EntryRejection;
use renkei_domain::Rule;
use renkei_domain::access::Action;
use renkei_domain::entry::{AmendTarget, EntryKind, NewEntry, validate_entry};
use renkei_store::queries::{self, CarePlanRow};
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::Denial;
use crate::audit::RequestMeta;
use crate::plan_chain::plan_state;
use crate::plans::AppendEntry;
use crate::{Actor, ErrorCode, ServiceError, Services, truncate_micros};

/// An entry that passed every check of the append.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCheck {
    /// The values as they would be stored, composites (FIM and Barthel totals) computed.
    pub values: Map<String, Value>,
}

/// Why an entry would not be appended: refused access, or the rules' rejection.
pub(crate) enum Refusal {
    Denied(Denial),
    Rejected(ServiceError),
}

impl Services {
    /// Runs the checks of [`Services::append_entry`] on `input` without writing: the
    /// validated entry, or the error the append would answer (field errors 422, a state
    /// conflict 409, a refused or hidden plan 403/404, the refusal audited as the append
    /// audits it).
    pub async fn check_entry(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        input: &AppendEntry,
    ) -> Result<EntryCheck, ServiceError> {
        match self
            .validate_append(&self.db, actor, plan_id, input)
            .await?
        {
            Ok((_, checked)) => Ok(checked),
            Err(Refusal::Denied(d)) => Err(self.deny(actor, meta, d).await),
            Err(Refusal::Rejected(e)) => Err(e),
        }
    }

    /// The append's checks on `c` (a locked transaction when writing): the plan, the
    /// amended entry, the access decision and the template's rules.
    pub(crate) async fn validate_append<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        plan_id: Uuid,
        input: &AppendEntry,
    ) -> Result<Result<(CarePlanRow, EntryCheck), Refusal>, ServiceError> {
        let Some(plan) = queries::care_plan_by_id(c, plan_id).await? else {
            return Ok(Err(Refusal::Denied(Denial {
                action: "entry.append",
                plan_id,
                patient_id: None,
                hidden: true,
                why: "no such care plan",
            })));
        };
        let amends_target = match input.amends {
            Some(id) => queries::entry_by_id(c, id)
                .await?
                .filter(|e| e.care_plan_id == plan_id),
            None => None,
        };
        // A stage the pinned template does not define is a validation error (422), not a
        // refusal: the access decision then looks at the plan's current stage instead.
        let access_stage = match self.pathways.get(plan.pathway_version_id) {
            Some(p) if p.template.stage(&input.stage).is_none() => plan.current_stage.as_str(),
            _ => input.stage.as_str(),
        };
        let action = match &amends_target {
            Some(t) => Action::Amend {
                kind: input.kind,
                stage: access_stage,
                author_organization: t.organization_id,
            },
            None => Action::Append {
                kind: input.kind,
                stage: access_stage,
            },
        };
        if let Err(d) = self.check_plan(c, actor, plan_id, action).await? {
            return Ok(Err(Refusal::Denied(d)));
        }
        let published = self.pathway_of_plan(&plan)?;
        let state = plan_state(&plan)?;
        let amends = match (input.amends, amends_target) {
            (None, _) => None,
            (Some(_), None) => {
                return Ok(Err(Refusal::Rejected(ServiceError::field(
                    "amends",
                    Rule::UnknownEntry,
                    "no entry with this id in this care plan",
                ))));
            }
            (Some(target_id), Some(target)) => Some(AmendTarget {
                stage: target.stage.clone(),
                kind: EntryKind::parse(&target.kind)
                    .ok_or_else(|| anyhow::anyhow!("entry {target_id} has unknown kind"))?,
                is_amendment: target.amends.is_some(),
                is_already_amended: queries::is_amended(c, plan_id, target_id).await?,
            }),
        };
        let new = NewEntry {
            stage: input.stage.clone(),
            kind: input.kind,
            effective_at: truncate_micros(input.effective_at),
            values: input.values.clone(),
            note: input.note.clone(),
            variance: input.variance.clone(),
            amends,
            reason: input.reason.clone(),
        };
        Ok(
            match validate_entry(&published.template, &state, &new, self.now()) {
                Ok(v) => Ok((plan, EntryCheck { values: v.values })),
                Err(EntryRejection::Invalid(errors)) => {
                    Err(Refusal::Rejected(ServiceError::Validation(errors)))
                }
                Err(EntryRejection::Conflict { code, message }) => {
                    Err(Refusal::Rejected(ServiceError::Conflict {
                        code: ErrorCode::from_conflict(code),
                        message,
                    }))
                }
            },
        )
    }
}
