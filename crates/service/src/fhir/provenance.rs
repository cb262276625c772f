//! Provenance reads and searches: one per entry, read as the JSON API's entry list reads
//! them (`entry.list`, the FHIR type in the detail).

use renkei_fhir::provenance as fp;
use renkei_fhir::search::SearchParams;
use renkei_store::queries;
use serde_json::Value;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::fhir::hits::{Hit, Page, page};
use crate::{Actor, ServiceError, Services};

impl Services {
    /// `GET Provenance/prov-{entry id}`.
    pub async fn fhir_provenance(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        const MISSING: &str = "provenance";
        let entry_id = fp::parse_provenance_id(id)
            .and_then(|e| Uuid::parse_str(e).ok())
            .ok_or(ServiceError::NotFound(MISSING))?;
        let row = queries::entry_by_id(&self.db, entry_id)
            .await?
            .ok_or(ServiceError::NotFound(MISSING))?;
        let plan = self
            .fhir_plan_read(actor, meta, row.care_plan_id, MISSING)
            .await?;
        self.audit_fhir_read(actor, meta, "entry.list", &plan, "Provenance")
            .await?;
        let pe = self.fhir_plan_entries(plan).await?;
        pe.entries
            .iter()
            .find(|e| e.id == entry_id.to_string())
            .map(|e| fp::provenance(&pe.template.template, e))
            .ok_or(ServiceError::NotFound(MISSING))
    }

    /// `GET Provenance?patient=…`.
    pub async fn fhir_provenances(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let mut hits = Vec::new();
        {
            for plan in self
                .fhir_readable_plans(actor, meta, params, "entry.list", "Provenance")
                .await?
            {
                let pe = self.fhir_plan_entries(plan).await?;
                hits.extend(
                    pe.entries
                        .iter()
                        .filter_map(|e| Hit::of(fp::provenance(&pe.template.template, e))),
                );
            }
        }
        Ok(page(hits, params))
    }
}
