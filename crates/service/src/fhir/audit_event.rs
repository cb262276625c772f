//! AuditEvent reads and searches, only where the JSON API shows the audit log: to the
//! regional administrator (`audit.read`, the FHIR type in the detail; a refusal is
//! audited and answered 403), and a patient's events to an organisation administrator
//! whose organisation sees the patient, as the JSON API's access report
//! (`patient.access_report`; a refusal is audited and answered 404).

use renkei_domain::access::GlobalAction;
use renkei_fhir::audit_event::{self as fa, AuditInput};
use renkei_fhir::bundle::PageCursor;
use renkei_fhir::search::SearchParams;
use renkei_store::queries_access::{self as qa, AuditEventRow, AuditFilter};
use serde_json::Value;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::fhir::hits::{Page, fhir_detail, patient_param};
use crate::{Actor, ServiceError, Services};

fn resource(r: AuditEventRow) -> Value {
    fa::audit_event(&AuditInput {
        id: r.id.to_string(),
        at: r.at,
        region: r.region,
        practitioner_id: r.practitioner_id.map(|p| p.to_string()),
        organization_id: r.organization_id.map(|o| o.to_string()),
        action: r.action,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        patient_id: r.patient_id.map(|p| p.to_string()),
        care_plan_id: r.care_plan_id.map(|p| p.to_string()),
        outcome: r.outcome,
        request_id: r.request_id,
        client_addr: r.client_addr,
        detail: r.detail,
        hash: r.leaf_hash.or(r.hash).unwrap_or_default(),
    })
}

impl Services {
    async fn fhir_audit_allowed(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        self.authorize_global(actor, meta, GlobalAction::ReadAudit, "audit.read", "audit")
            .await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, "audit.read", "audit", None, Outcome::Allowed)
                .patient(patient)
                .detail(fhir_detail("AuditEvent")),
        )
        .await
    }

    /// An organisation administrator's read of a patient's audit events: allowed when the
    /// organisation sees the patient (the JSON API's access report), else 404 as for an
    /// unknown patient; audited either way.
    async fn fhir_access_report_allowed(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient: &str,
    ) -> Result<(), ServiceError> {
        let id = Uuid::parse_str(patient).ok();
        let exists = match id {
            Some(p) => renkei_store::queries::patient_by_id(&self.db, p)
                .await?
                .is_some(),
            None => false,
        };
        let visible = match id {
            Some(p) if exists => self.patient_visible(&self.db, actor, p).await?,
            _ => false,
        };
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "patient.access_report",
                "patient",
                Some(patient.to_owned()),
                if visible {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                },
            )
            .patient(id.filter(|_| exists))
            .detail(fhir_detail("AuditEvent")),
        )
        .await?;
        if visible {
            Ok(())
        } else {
            Err(ServiceError::NotFound("patient"))
        }
    }

    /// `GET AuditEvent/{id}`.
    pub async fn fhir_audit_event(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        self.fhir_audit_allowed(actor, meta, None).await?;
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("audit event"))?;
        renkei_store::fhir::audit_event_by_id(&self.read_db, id)
            .await?
            .map(resource)
            .ok_or(ServiceError::NotFound("audit event"))
    }

    /// `GET AuditEvent?patient=…&_lastUpdated=…`: newest first, a page at a time.
    pub async fn fhir_audit_events(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let patient = patient_param(params);
        if !actor.has_role("regional_admin")
            && actor.has_role("org_admin")
            && let Some(p) = params.patient.as_deref()
        {
            self.fhir_access_report_allowed(actor, meta, p).await?;
        } else {
            if params.patient.is_some() && patient.is_none() {
                self.fhir_audit_allowed(actor, meta, None).await?;
                return Ok(Page::default());
            }
            self.fhir_audit_allowed(actor, meta, patient).await?;
        }
        let mut filter = AuditFilter {
            patient,
            before_seq: params
                .page
                .as_ref()
                .and_then(|c| c.id.strip_prefix("seq.")?.parse().ok()),
            ..AuditFilter::default()
        };
        for f in &params.last_updated {
            use renkei_fhir::search::Prefix;
            match f.prefix {
                Prefix::Eq => {
                    filter.from = Some(f.start);
                    filter.to = Some(f.end);
                }
                Prefix::Ge => filter.from = Some(f.start),
                Prefix::Gt => filter.from = Some(f.end),
                Prefix::Le => filter.to = Some(f.end),
                Prefix::Lt => filter.to = Some(f.start),
            }
        }
        let want = params.count as u64;
        let rows = qa::audit_events(&self.read_db, &filter, want + 1).await?;
        let more = rows.len() as u64 > want;
        let rows: Vec<AuditEventRow> = rows.into_iter().take(params.count).collect();
        let next = more.then(|| rows.last()).flatten().map(|r| PageCursor {
            last_updated: r.at,
            id: format!("seq.{}", r.local_id),
        });
        Ok(Page {
            total: None,
            matches: rows.into_iter().map(resource).collect(),
            included: Vec::new(),
            next,
        })
    }
}
