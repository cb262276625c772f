//! Practitioner and PractitionerRole reads and searches: the people of the actor's own
//! organisation, and everyone for the regional administrator; names, professions and
//! roles only. A search is audited as the JSON API's user list (`user.list`).

use renkei_fhir::practitioner::{self as fp, PractitionerInput};
use renkei_fhir::search::SearchParams;
use renkei_store::queries::{self, PractitionerRow};
use serde_json::Value;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::fhir::hits::{Hit, Page, fhir_detail, page};
use crate::{Actor, ServiceError, Services};

fn input(p: PractitionerRow, organization_name: String) -> PractitionerInput {
    PractitionerInput {
        id: p.id.to_string(),
        name: p.name,
        profession: p.profession,
        roles: serde_json::from_str(&p.roles).unwrap_or_default(),
        organization_id: p.organization_id.to_string(),
        organization_name,
        active: p.disabled_at.is_none(),
        last_updated: p.created_at,
    }
}

fn sees(actor: &Actor, p: &PractitionerRow) -> bool {
    actor.has_role("regional_admin") || p.organization_id == actor.organization_id
}

impl Services {
    async fn fhir_practitioner_input(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<PractitionerInput, ServiceError> {
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("practitioner"))?;
        let p = queries::practitioner_by_id(&self.db, id)
            .await?
            .filter(|p| sees(actor, p))
            .ok_or(ServiceError::NotFound("practitioner"))?;
        let org = queries::organization_by_id(&self.db, p.organization_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(input(p, org))
    }

    /// The Practitioner resource of anyone (for `$everything`, which names the authors
    /// of a plan's entries as the entries themselves do).
    pub(crate) async fn fhir_practitioner_any(
        &self,
        id: Uuid,
    ) -> Result<Option<Value>, ServiceError> {
        let Some(p) = queries::practitioner_by_id(&self.db, id).await? else {
            return Ok(None);
        };
        let org = queries::organization_by_id(&self.db, p.organization_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(Some(fp::practitioner(&input(p, org))))
    }

    /// `GET Practitioner/{id}`.
    pub async fn fhir_practitioner(&self, actor: &Actor, id: &str) -> Result<Value, ServiceError> {
        Ok(fp::practitioner(
            &self.fhir_practitioner_input(actor, id).await?,
        ))
    }

    /// `GET PractitionerRole/{id}`.
    pub async fn fhir_practitioner_role(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let pid = fp::parse_role_id(id).ok_or(ServiceError::NotFound("practitioner"))?;
        Ok(fp::practitioner_role(
            &self.fhir_practitioner_input(actor, pid).await?,
        ))
    }

    /// `GET Practitioner` / `GET PractitionerRole`: the people the actor sees, as
    /// Practitioners or as their roles (`roles`).
    pub async fn fhir_practitioners(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        organization: Option<Uuid>,
        roles: bool,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let kind = if roles {
            "PractitionerRole"
        } else {
            "Practitioner"
        };
        let orgs: std::collections::HashMap<Uuid, String> = queries::list_organizations(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let regional = actor.has_role("regional_admin");
        let scope = match organization {
            Some(o) if regional || o == actor.organization_id => Some(o),
            Some(_) => None,
            None if regional => None,
            None => Some(actor.organization_id),
        };
        let mut hits = Vec::new();
        if regional || scope.is_some() {
            let listing =
                renkei_store::practitioners::listing(&self.db, scope.map(Into::into)).await?;
            for l in listing {
                let Some(p) = queries::practitioner_by_id(&self.db, l.id.into_uuid()).await? else {
                    continue;
                };
                let name = orgs.get(&p.organization_id).cloned().unwrap_or_default();
                let i = input(p, name);
                let r = if roles {
                    fp::practitioner_role(&i)
                } else {
                    fp::practitioner(&i)
                };
                hits.extend(Hit::of(r));
            }
        }
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, "user.list", "practitioner", None, Outcome::Allowed)
                .detail(fhir_detail(kind)),
        )
        .await?;
        Ok(page(hits, params))
    }
}
