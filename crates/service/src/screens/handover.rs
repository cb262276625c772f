//! The hand-over and report pages (and the rows of the inbox): the item, read under its
//! own access rule (the parties, while the consent covers them) and audited once, with
//! the plan and patient shown only when the actor also sees the plan — decided without a
//! second audit event — and what the actor may do on the item.

use std::collections::HashMap;
use std::sync::Arc;

use renkei_domain::access::{Action, allows, may_answer_handover};
use renkei_domain::handover::HandoverState;
use renkei_store::queries;
use uuid::Uuid;

use super::patient::PatientCard;
use crate::access::subject;
use crate::audit::RequestMeta;
use crate::handovers::Handover;
use crate::pathways::PublishedPathway;
use crate::plans::CarePlan;
use crate::reports::Report;
use crate::{Actor, ServiceError, Services};

/// The plan behind a hand-over or report, when the actor sees it.
#[derive(Debug, Clone)]
pub struct PlanBehind {
    pub plan: CarePlan,
    pub published: Arc<PublishedPathway>,
    pub patient: PatientCard,
}

#[derive(Debug, Clone)]
pub struct HandoverScreen {
    pub handover: Handover,
    pub state: Option<HandoverState>,
    pub behind: Option<PlanBehind>,
    /// Organisation names by code.
    pub org_names: HashMap<String, String>,
    /// The receiver may accept or decline.
    pub may_answer: bool,
    /// The sender may withdraw.
    pub may_withdraw: bool,
}

#[derive(Debug, Clone)]
pub struct ReportScreen {
    pub report: Report,
    pub behind: Option<PlanBehind>,
    pub org_names: HashMap<String, String>,
    /// The actor may send the report now.
    pub may_send: bool,
    /// The covering note (添え書き) sent with the report.
    pub note: Option<String>,
}

impl Services {
    /// A hand-over page: one access decision and one audit event (`handover.read`).
    pub async fn handover_screen(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<HandoverScreen, ServiceError> {
        let handover = self.get_handover(actor, meta, id).await?;
        let state = HandoverState::parse(&handover.state);
        let open = state == Some(HandoverState::Proposed);
        let answers = may_answer_handover(&subject(actor));
        let own = actor.organization_code.as_str();
        Ok(HandoverScreen {
            may_answer: open && answers && handover.to_organization == own,
            may_withdraw: open && answers && handover.from_organization == own,
            behind: self.plan_behind(actor, handover.care_plan_id).await?,
            org_names: self.org_names().await?,
            state,
            handover,
        })
    }

    /// A report page: one access decision and one audit event (`report.read`).
    pub async fn report_screen(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<ReportScreen, ServiceError> {
        let report = self.get_report(actor, meta, id).await?;
        let may_send = report.sent_at.is_none()
            && report.from_organization == actor.organization_code
            && match queries::care_plan_by_id(&self.db, report.care_plan_id).await? {
                Some(plan) => {
                    let access =
                        crate::access::plan_access_at(&self.db, self, actor, &plan, self.now())
                            .await?;
                    allows(
                        &subject(actor),
                        Action::SendReport {
                            stage: &report.stage,
                        },
                        &access,
                    )
                }
                None => false,
            };
        Ok(ReportScreen {
            note: match report.sent_at {
                Some(_) => self.report_note(report.care_plan_id, report.id).await?,
                None => None,
            },
            behind: self.plan_behind(actor, report.care_plan_id).await?,
            org_names: self.org_names().await?,
            may_send,
            report,
        })
    }

    async fn org_names(&self) -> Result<HashMap<String, String>, ServiceError> {
        Ok(queries::list_organizations(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.code, o.name))
            .collect())
    }

    /// The plan and patient behind an item the actor reads, if the actor sees the plan
    /// (the read decision, not audited again: the item's read is).
    async fn plan_behind(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<Option<PlanBehind>, ServiceError> {
        let Ok((row, _)) = self
            .check_plan(&self.db, actor, plan_id, Action::ReadPlan)
            .await?
        else {
            return Ok(None);
        };
        let published = self.pathway_of_plan(&row)?;
        let patient = self.patient_card(actor, row.patient_id).await?;
        let plan = self.plan_view(&self.db, row).await?;
        Ok(Some(PlanBehind {
            plan,
            published,
            patient,
        }))
    }
}
