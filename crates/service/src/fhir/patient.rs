//! Patient reads and searches with the JSON API's rule (an organisation sees a patient
//! it holds a number of, or one of whose plans it sees; otherwise 404 whether or not the
//! patient exists) and its `patient.read` audit event, the FHIR type in the detail.

use renkei_fhir::patient::{self as fp, IdentifierInput, PatientInput};
use renkei_fhir::search::SearchParams;
use renkei_store::queries;
use serde_json::Value;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::fhir::hits::{Hit, Page, fhir_detail, page};
use crate::kana::normalize_kana;
use crate::{Actor, ServiceError, Services};

/// What a Patient search names besides the common parameters.
#[derive(Debug, Clone, Default)]
pub struct PatientSearch {
    /// `_id`.
    pub id: Option<String>,
    /// `identifier`: the namespace (`system`) and the number.
    pub identifier: Option<(String, String)>,
}

impl Services {
    /// The Patient resource of a stored patient (no access check, no audit).
    pub(crate) async fn fhir_patient_of(&self, id: Uuid) -> Result<Option<Value>, ServiceError> {
        let Some(row) = queries::patient_by_id(&self.db, id).await? else {
            return Ok(None);
        };
        let mut identifiers = Vec::new();
        for ident in queries::identifiers_of(&self.db, id).await? {
            let org = queries::organization_by_id(&self.db, ident.organization_id).await?;
            identifiers.push(IdentifierInput {
                organization_id: ident.organization_id.to_string(),
                organization_code: org.as_ref().map(|o| o.code.clone()).unwrap_or_default(),
                organization_name: org.map(|o| o.name).unwrap_or_default(),
                value: ident.value,
            });
        }
        let kana = |s: &str| {
            normalize_kana(s)
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| s.to_owned())
        };
        Ok(Some(fp::patient(&PatientInput {
            id: row.id.to_string(),
            family_kana: kana(&row.family_kana),
            given_kana: kana(&row.given_kana),
            family: row.family_name,
            given: row.given_name,
            birth_date: row.birth_date,
            sex: row.sex,
            identifiers,
            last_updated: row.created_at,
        })))
    }

    async fn audit_patient_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        exists: bool,
        visible: bool,
    ) -> Result<(), ServiceError> {
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "patient.read",
                "patient",
                Some(id.to_string()),
                if visible {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                },
            )
            .patient(exists.then_some(id))
            .detail(fhir_detail("Patient")),
        )
        .await
    }

    /// A patient the actor sees, audited as a patient read (for `_include`).
    pub(crate) async fn fhir_patient_resource(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<Value, ServiceError> {
        self.fhir_patient(actor, meta, &id.to_string()).await
    }

    /// `GET Patient/{id}`.
    pub async fn fhir_patient(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let id = Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("patient"))?;
        let exists = queries::patient_by_id(&self.db, id).await?.is_some();
        let visible = exists && self.patient_visible(&self.db, actor, id).await?;
        self.audit_patient_read(actor, meta, id, exists, visible)
            .await?;
        if !visible {
            return Err(ServiceError::NotFound("patient"));
        }
        self.fhir_patient_of(id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))
    }

    /// `GET Patient[?_id=…][&identifier=system|value]`: the patients the actor sees
    /// (without either, those of the plans on whose care team the actor's organisation
    /// is); each match audited as a patient read.
    pub async fn fhir_patients(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        search: &PatientSearch,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let mut candidates: Option<Vec<Uuid>> = search
            .id
            .as_deref()
            .map(|i| Uuid::parse_str(i).into_iter().collect());
        if let Some((system, value)) = &search.identifier {
            let mut found = Vec::new();
            for org in queries::list_organizations(&self.db).await? {
                if fp::identifier_system(&org.code) == *system
                    && let Some(p) = queries::patient_by_identifier(&self.db, org.id, value).await?
                {
                    found.push(p);
                }
            }
            candidates = Some(match candidates {
                Some(ids) => ids.into_iter().filter(|i| found.contains(i)).collect(),
                None => found,
            });
        }
        let mut candidates = match candidates {
            Some(c) => c,
            None => {
                let ids = renkei_store::queries_access::plans_of_team_org(
                    &self.db,
                    actor.organization_id,
                )
                .await?;
                queries::care_plans_by_ids(&self.db, &ids)
                    .await?
                    .into_iter()
                    .map(|p| p.patient_id)
                    .collect()
            }
        };
        candidates.sort();
        candidates.dedup();
        let mut hits = Vec::new();
        for id in candidates {
            if !self.patient_visible(&self.db, actor, id).await? {
                continue;
            }
            if let Some(p) = self.fhir_patient_of(id).await? {
                self.audit_patient_read(actor, meta, id, true, true).await?;
                hits.extend(Hit::of(p));
            }
        }
        Ok(page(hits, params))
    }
}
