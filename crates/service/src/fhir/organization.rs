//! Organization reads and searches: the participating organisations, to every
//! authenticated user (as the JSON API's organisation list), not audited.

use renkei_fhir::organization::{self as fo, OrganizationInput};
use renkei_fhir::search::SearchParams;
use renkei_store::queries::{self, OrganizationRow};
use serde_json::Value;
use uuid::Uuid;

use crate::fhir::hits::{Hit, Page, page};
use crate::{ServiceError, Services};

pub(crate) fn organization_resource(o: OrganizationRow) -> Value {
    fo::organization(&OrganizationInput {
        id: o.id.to_string(),
        code: o.code,
        name: o.name,
        kind: o.kind,
        phone: o.phone,
        last_updated: o.created_at,
    })
}

impl Services {
    /// `GET Organization/{id}`.
    pub async fn fhir_organization(&self, id: &str) -> Result<Value, ServiceError> {
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("organization"))?;
        queries::organization_by_id(&self.db, id)
            .await?
            .map(organization_resource)
            .ok_or(ServiceError::NotFound("organization"))
    }

    /// `GET Organization`: every organisation, optionally one by `identifier` (its code).
    pub async fn fhir_organizations(
        &self,
        identifier: Option<&str>,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let hits = queries::list_organizations(&self.db)
            .await?
            .into_iter()
            .filter(|o| {
                identifier
                    .is_none_or(|i| i == o.code || i == format!("{}|{}", fo::code_system(), o.code))
            })
            .filter_map(|o| Hit::of(organization_resource(o)))
            .collect();
        Ok(page(hits, params))
    }
}
