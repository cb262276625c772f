//! PlanDefinition reads: the published pathway versions, as the JSON API's pathway
//! endpoints show them to any authenticated practitioner.

use serde_json::Value;
use uuid::Uuid;

use super::{Search, page, searchset};
use crate::{Actor, ServiceError, Services};

impl Services {
    /// `GET PlanDefinition/{version id}`.
    pub fn fhir_plan_definition(&self, _actor: &Actor, id: &str) -> Result<Value, ServiceError> {
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("pathway"))?;
        let p = self
            .pathways
            .get(id)
            .ok_or(ServiceError::NotFound("pathway"))?;
        Ok(renkei_fhir::plan_definition::plan_definition(
            &p.id.to_string(),
            &p.template,
        ))
    }

    /// `GET PlanDefinition?url=…`: every published version (of one pathway with `url`).
    pub fn fhir_search_plan_definitions(
        &self,
        _actor: &Actor,
        search: &Search<'_>,
        url: Option<&str>,
    ) -> Result<Value, ServiceError> {
        // A version has no change time of its own (it is immutable once published):
        // all sort at the same instant, in id order.
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let matches = self
            .pathways
            .all()
            .filter(|p| {
                url.is_none_or(|u| {
                    renkei_fhir::plan_definition::canonical_url(&p.template.code) == u
                })
            })
            .map(|p| {
                (
                    epoch,
                    renkei_fhir::plan_definition::plan_definition(&p.id.to_string(), &p.template),
                )
            })
            .collect();
        let (total, defs, next) = page(matches, &search.params);
        Ok(searchset(
            search,
            "PlanDefinition",
            total,
            defs,
            Vec::new(),
            next,
        ))
    }
}
