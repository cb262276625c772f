//! The hand-off sheets on a plan (地域生活連携シート A表/B表, 入院時情報提供書,
//! 退院・退所情報記録書): written by a care-team member the access rule allows (the care
//! manager's office on the team, the hospital's staff), checked against the shared forms
//! of `pathways/care-forms.toml`, chained on the plan like every entry.

use renkei_domain::access::Action;
use renkei_domain::care_forms;
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::plan_chain::conflict;
use crate::plans::Entry;
use crate::{Actor, ServiceError, Services};

impl Services {
    /// Records a sheet of `form` on the plan, dated now (記入日), in the plan's current
    /// stage. Every field error is reported at once; a refused sheet writes nothing.
    pub async fn record_sheet(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        form: &str,
        values: &Map<String, Value>,
    ) -> Result<Entry, ServiceError> {
        let write = self.begin_plan_write(actor, meta, plan_id).await?;
        let stage = write
            .plan()
            .map(|p| p.current_stage.clone())
            .unwrap_or_default();
        let write = write
            .authorize(
                Action::Append {
                    kind: EntryKind::Sheet,
                    stage: &stage,
                },
                None,
            )
            .await?;
        let plan = &write.plan;
        if plan.status != PlanStatus::Active.as_str() {
            return Err(conflict(format!(
                "the care plan is {} and takes no new entries",
                plan.status
            )));
        }
        let stored = care_forms::shipped()
            .validate_sheet(form, values)
            .map_err(ServiceError::Validation)?;
        let row = self
            .process_entry(
                &write.txn,
                actor,
                plan,
                EntryKind::Sheet,
                &stage,
                stored,
                None,
            )
            .await?;
        let entry = self
            .to_entries(&write.txn, vec![row], &Default::default())
            .await?
            .remove(0);
        let record = AuditRecord::by(
            actor,
            "entry.append",
            "entry",
            Some(entry.id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .detail("sheet")
        .wrote(EvidenceKind::CarePlan, plan_id);
        write.commit(record).await?;
        Ok(entry)
    }

    /// The plan's sheets, oldest first (one access decision and one audit event, as the
    /// entry list).
    pub async fn list_sheets(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Entry>, ServiceError> {
        let entries = self.list_entries(actor, meta, plan_id).await?;
        Ok(entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::Sheet.as_str() && e.voided_by.is_none())
            .collect())
    }
}
