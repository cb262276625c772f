//! Consent reads and searches with the JSON API's rule (whoever may read the plan) and
//! its `consent.read` audit event, the FHIR type in the detail.

use renkei_fhir::consent::{self as fc, ConsentInput};
use renkei_fhir::search::SearchParams;
use renkei_fhir::task::OrgRef;
use renkei_store::queries::{self, CarePlanRow};
use renkei_store::queries_access::{self as qa, ConsentRow};
use serde_json::Value;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::fhir::hits::{Hit, Page, page};
use crate::{Actor, ServiceError, Services};

impl Services {
    pub(crate) async fn fhir_consent_resource(
        &self,
        plan: &CarePlanRow,
        c: ConsentRow,
    ) -> Result<Value, ServiceError> {
        let org = |id: Uuid| async move {
            Ok::<_, ServiceError>(OrgRef {
                id: id.to_string(),
                name: queries::organization_by_id(&self.db, id)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default(),
            })
        };
        let mut organizations = Vec::new();
        for id in serde_json::from_str::<Vec<Uuid>>(&c.organizations).unwrap_or_default() {
            organizations.push(org(id).await?);
        }
        Ok(fc::consent(&ConsentInput {
            id: c.id.to_string(),
            plan_id: plan.id.to_string(),
            patient_id: plan.patient_id.to_string(),
            scope: c.scope,
            organizations,
            purposes: serde_json::from_str(&c.purposes).unwrap_or_default(),
            method: c.method,
            signer: c.signer,
            proxy_relationship: c.proxy_relationship,
            obtained_by: org(c.obtained_by_organization_id).await?,
            obtained_at: c.obtained_at,
            recorded_at: c.recorded_at,
            withdrawn_at: c.withdrawn_at,
            withdrawal_reason: c.withdrawal_reason,
        }))
    }

    /// `GET Consent/{id}`.
    pub async fn fhir_consent(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("consent"))?;
        let c = qa::consent_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound("consent"))?;
        let plan = self
            .fhir_plan_read(actor, meta, c.care_plan_id, "consent")
            .await?;
        self.audit_fhir_read(actor, meta, "consent.read", &plan, "Consent")
            .await?;
        self.fhir_consent_resource(&plan, c).await
    }

    /// `GET Consent?patient=…`.
    pub async fn fhir_consents(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let mut hits = Vec::new();
        {
            for plan in self
                .fhir_readable_plans(actor, meta, params, "consent.read", "Consent")
                .await?
            {
                for c in qa::consents_of(&self.db, plan.id).await? {
                    hits.extend(Hit::of(self.fhir_consent_resource(&plan, c).await?));
                }
            }
        }
        Ok(page(hits, params))
    }
}
