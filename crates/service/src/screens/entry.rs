//! The review step of an entry form (確認画面): the checks `append_entry` makes before it
//! writes — the plan, the amended entry, the access decision for the stage, the plan's
//! state and the template's rules — run without writing, so the review shows exactly
//! what 確定 will accept or refuse.

use renkei_store::queries;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::Denial;
use crate::audit::RequestMeta;
use crate::plans::{AppendEntry, append_action};
use crate::{Actor, ServiceError, Services};

/// An entry that passed every check of the append.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCheck {
    /// The values as they would be stored, composites (FIM and Barthel totals) computed.
    pub values: Map<String, Value>,
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
        let c = &self.db;
        let Some(plan) = queries::care_plan_by_id(c, plan_id).await? else {
            let denial = Denial {
                action: "entry.append",
                plan_id,
                patient_id: None,
                hidden: true,
                why: "no such care plan",
            };
            return Err(self.deny(actor, meta, denial).await);
        };
        let (amends_target, access_stage) =
            self.append_access(c, Some(&plan), plan_id, input).await?;
        let action = append_action(input.kind, &access_stage, amends_target.as_ref());
        if let Err(d) = self.check_plan(c, actor, plan_id, action).await? {
            return Err(self.deny(actor, meta, d).await);
        }
        let checked = self
            .validate_append(c, &plan, input.clone(), amends_target, self.now())
            .await?;
        Ok(EntryCheck {
            values: checked.values,
        })
    }
}
