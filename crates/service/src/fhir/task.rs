//! Task reads and searches: hand-overs and reports back. A read follows the JSON API's
//! rule (their sender and receiver while the consent covers them, or whoever may read
//! the plan; otherwise 404) and its `handover.read` / `report.read` audit event; a
//! search by patient lists those of the plans the actor may read (`handover.list`,
//! `report.list`). The FHIR type is in each event's detail.

use renkei_domain::access::Action;
use renkei_fhir::search::SearchParams;
use renkei_fhir::task::{self as ft, HandoverInput, OrgRef, ReportInput};
use renkei_store::handovers::{self as hs, HandoverRow};
use renkei_store::queries::{self, CarePlanRow};
use renkei_store::reports::{self as rs, ReportRow};
use serde_json::Value;
use uuid::Uuid;

use crate::access::PartyRead;
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::fhir::hits::{Hit, Page, fhir_detail, page};
use crate::{Actor, ServiceError, Services};

impl Services {
    async fn org_ref(&self, id: Uuid) -> Result<OrgRef, ServiceError> {
        let name = queries::organization_by_id(&self.db, id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(OrgRef {
            id: id.to_string(),
            name,
        })
    }

    pub(crate) async fn fhir_handover_task(
        &self,
        plan: &CarePlanRow,
        h: HandoverRow,
    ) -> Result<Value, ServiceError> {
        Ok(ft::handover_task(&HandoverInput {
            id: h.id.to_string(),
            plan_id: plan.id.to_string(),
            patient_id: plan.patient_id.to_string(),
            from: self.org_ref(h.from_organization_id.0).await?,
            to: self.org_ref(h.to_organization_id.0).await?,
            from_stage: h.from_stage,
            stage: h.stage,
            state: h.state.as_str().to_owned(),
            note: h.note,
            decline_reason: h.decline_reason,
            proposed_at: h.proposed_at,
            completed_at: h.completed_at,
            updated_at: h.updated_at,
            transfer_date: h.agreed_transfer_date.or(h.proposed_transfer_date),
        }))
    }

    pub(crate) async fn fhir_report_task(
        &self,
        plan: &CarePlanRow,
        r: ReportRow,
    ) -> Result<Value, ServiceError> {
        let now = self.now();
        Ok(ft::report_task(&ReportInput {
            id: r.id.to_string(),
            plan_id: plan.id.to_string(),
            patient_id: plan.patient_id.to_string(),
            stage: r.stage,
            from: self.org_ref(r.from_organization_id.0).await?,
            to: self.org_ref(r.to_organization_id.0).await?,
            overdue: r.sent_at.is_none() && now > r.due_at,
            due_at: r.due_at,
            sent_at: r.sent_at,
            created_at: r.created_at,
        }))
    }

    /// The party rule of a hand-over or report read, audited with the FHIR type.
    async fn fhir_party_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        read: PartyRead,
    ) -> Result<CarePlanRow, ServiceError> {
        let party = (read.from == actor.organization_id || read.to == actor.organization_id)
            && self.party_may_read(&self.db, actor, read.plan_id).await?;
        if !party {
            self.authorize_plan(actor, meta, read.plan_id, Action::ReadPlan)
                .await
                .map_err(crate::access::not_found_as(read.missing))?;
        }
        let plan = queries::care_plan_by_id(&self.db, read.plan_id)
            .await?
            .ok_or(ServiceError::NotFound(read.missing))?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                read.action,
                read.resource,
                Some(read.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(read.plan_id))
            .patient(Some(plan.patient_id))
            .detail(fhir_detail("Task")),
        )
        .await?;
        Ok(plan)
    }

    /// `GET Task/{id}`: a hand-over or a report back.
    pub async fn fhir_task(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("task"))?;
        if let Some(h) = hs::handover_by_id(&self.db, id).await? {
            let plan = self
                .fhir_party_read(
                    actor,
                    meta,
                    PartyRead {
                        from: h.from_organization_id.0,
                        to: h.to_organization_id.0,
                        plan_id: h.care_plan_id.0,
                        action: "handover.read",
                        resource: "handover",
                        missing: "task",
                        id,
                    },
                )
                .await?;
            return self.fhir_handover_task(&plan, h).await;
        }
        if let Some(r) = rs::report_by_id(&self.db, id).await? {
            let plan = self
                .fhir_party_read(
                    actor,
                    meta,
                    PartyRead {
                        from: r.from_organization_id.0,
                        to: r.to_organization_id.0,
                        plan_id: r.care_plan_id.0,
                        action: "report.read",
                        resource: "report",
                        missing: "task",
                        id,
                    },
                )
                .await?;
            return self.fhir_report_task(&plan, r).await;
        }
        Err(ServiceError::NotFound("task"))
    }

    /// `GET Task?patient=…`: the hand-overs and reports back of the patient's plans the
    /// actor may read.
    pub async fn fhir_tasks(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let mut hits = Vec::new();
        {
            for plan in self
                .fhir_readable_plans(actor, meta, params, "handover.list", "Task")
                .await?
            {
                self.audit_fhir_read(actor, meta, "report.list", &plan, "Task")
                    .await?;
                for h in hs::handovers_of_plan(&self.db, plan.id.into()).await? {
                    hits.extend(Hit::of(self.fhir_handover_task(&plan, h).await?));
                }
                for r in rs::reports_of_plan(&self.db, plan.id.into()).await? {
                    hits.extend(Hit::of(self.fhir_report_task(&plan, r).await?));
                }
            }
        }
        Ok(page(hits, params))
    }
}
