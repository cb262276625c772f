//! Reports back (返書) from the organisation that ran a stage to the planning
//! organisation.

use chrono::{DateTime, Utc};
use renkei_domain::access::Action;
use renkei_domain::entry::EntryKind;
use renkei_domain::evidence::EvidenceKind;
use renkei_store::reports::{self, ReportRow};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::PartyRead;
use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::plan_chain::{conflict, org_code};
use crate::schedules::WorkItem;
use crate::{Actor, ServiceError, Services};
use renkei_store::queries;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub stage: String,
    pub from_organization: String,
    pub to_organization: String,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub content: Value,
}

async fn report_view<C: ConnectionTrait>(
    c: &C,
    r: ReportRow,
    now: DateTime<Utc>,
) -> Result<Report, ServiceError> {
    Ok(Report {
        id: r.id,
        care_plan_id: r.care_plan_id.0,
        stage: r.stage,
        from_organization: org_code(c, r.from_organization_id.0).await?,
        to_organization: org_code(c, r.to_organization_id.0).await?,
        due_at: r.due_at,
        overdue: r.sent_at.is_none() && now > r.due_at,
        sent_at: r.sent_at,
        content: serde_json::from_str(&r.content).unwrap_or(Value::Null),
    })
}

impl Services {
    pub async fn get_report(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<Report, ServiceError> {
        let r = reports::report_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound("report"))?;
        self.authorize_party_read(
            actor,
            meta,
            PartyRead {
                from: r.from_organization_id.0,
                to: r.to_organization_id.0,
                plan_id: r.care_plan_id.0,
                action: "report.read",
                resource: "report",
                missing: "report",
                id,
            },
        )
        .await?;
        report_view(&self.db, r, self.now()).await
    }

    /// Sends the report back (返書) to the planning organisation.
    pub async fn send_report(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        note: Option<String>,
    ) -> Result<Report, ServiceError> {
        let now = self.now();
        let Some(r) = reports::report_by_id(&self.db, id).await? else {
            return Err(ServiceError::NotFound("report"));
        };
        let write = self
            .begin_plan_write(actor, meta, r.care_plan_id.0)
            .await?
            .missing_as("report")
            .authorize(Action::SendReport { stage: &r.stage }, None)
            .await?;
        if r.from_organization_id.0 != actor.organization_id {
            write.txn.rollback().await?;
            return Err(ServiceError::Forbidden);
        }
        let (txn, plan) = (&write.txn, &write.plan);
        let r = reports::report_by_id(txn, id)
            .await?
            .ok_or(ServiceError::NotFound("report"))?;
        if r.sent_at.is_some() {
            return Err(conflict("this report was already sent"));
        }
        reports::mark_report_sent(txn, id, actor.practitioner_id.into(), now).await?;
        let mut values: Value = serde_json::from_str(&r.content).unwrap_or(json!({}));
        if let Some(obj) = values.as_object_mut() {
            obj.insert("report_id".into(), json!(id.to_string()));
        }
        self.process_entry(txn, actor, plan, EntryKind::Report, &r.stage, values, note)
            .await?;
        let record = AuditRecord::by(
            actor,
            "report.send",
            "report",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan.id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan.id);
        let r = reports::report_by_id(txn, id)
            .await?
            .ok_or(ServiceError::NotFound("report"))?;
        let view = report_view(txn, r, now).await?;
        write.commit(record).await?;
        Ok(view)
    }

    pub async fn reports_of_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Report>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let rows = reports::reports_of_plan(&self.read_db, plan_id.into()).await?;
        self.audit_read(actor, meta, "report.list", &plan).await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(report_view(&self.read_db, r, self.now()).await?);
        }
        Ok(out)
    }
}

/// A report back that arrived at the actor's organisation (the planning organisation),
/// as a worklist row: `item.subject` is the report id, `item.state` `unread` or `read`,
/// `item.due` the time it was sent.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivedReport {
    pub item: WorkItem,
    pub stage: String,
    pub from_organization_id: Uuid,
    pub unread: bool,
}

/// Reports listed at most on the home page.
const ARRIVED_LIMIT: u64 = 100;

impl Services {
    /// The reports sent to the actor's organisation, newest first, each marked unread
    /// until a user of the organisation opens it (the audit log of report reads), for the
    /// plans the organisation may list. Not audited: the worklist read that shows them is.
    pub async fn arrived_reports(&self, actor: &Actor) -> Result<Vec<ArrivedReport>, ServiceError> {
        let rows =
            reports::arrived_reports(&self.db, actor.organization_id.into(), ARRIVED_LIMIT).await?;
        let mut out = Vec::new();
        for a in rows {
            let r = a.report;
            let Some(p) = queries::care_plan_by_id(&self.db, r.care_plan_id.0).await? else {
                continue;
            };
            if !self.party_may_list(actor, &p).await? {
                continue;
            }
            out.push(ArrivedReport {
                item: WorkItem {
                    care_plan_id: p.id,
                    patient_id: p.patient_id,
                    pathway: self
                        .pathways
                        .for_plan(p.pathway_version_id, p.variant.as_deref())
                        .map(|x| x.template.code.clone())
                        .unwrap_or_default(),
                    subject: r.id.to_string(),
                    state: if a.unread { "unread" } else { "read" }.into(),
                    due: r.sent_at,
                },
                stage: r.stage,
                from_organization_id: r.from_organization_id.0,
                unread: a.unread,
            });
        }
        Ok(out)
    }

    /// How many reports sent to the actor's organisation nobody of it has opened yet.
    pub async fn unread_reports(&self, actor: &Actor) -> Result<usize, ServiceError> {
        Ok(self
            .arrived_reports(actor)
            .await?
            .iter()
            .filter(|r| r.unread)
            .count())
    }

    /// The covering note (添え書き) sent with report `id` of `plan`, if any. The caller
    /// has read the report (its access decision and audit event).
    pub(crate) async fn report_note(
        &self,
        plan: Uuid,
        id: Uuid,
    ) -> Result<Option<String>, ServiceError> {
        Ok(reports::report_note(&self.db, plan.into(), id).await?)
    }
}
