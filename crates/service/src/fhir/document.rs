//! The referral letter (診療情報提供書) of a hand-over: read under the hand-over's read
//! rule (its sender, its receiver, or whoever may read the plan; audited as
//! `handover.read`, like the JSON API's read), as a FHIR document Bundle, as its
//! Composition alone, or as the data of the printable letter.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::template::PathwayTemplate;
use renkei_fhir::composition::{
    LetterAuthor, LetterOrganization, LetterPatient, ReferralLetter, referral_composition,
    referral_document,
};
use renkei_store::handovers as store;
use renkei_store::queries;
use serde_json::Value;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::handovers::Handover;
use crate::{Actor, ServiceError, Services};

/// Everything the letter is filled from: the hand-over with the summary it recorded when
/// it was proposed, its parties, the patient, and the plan's pathway.
#[derive(Debug, Clone)]
pub struct ReferralLetterData {
    pub handover: Handover,
    pub plan_started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub from: LetterOrganization,
    pub to: LetterOrganization,
    pub author: LetterAuthor,
    pub patient: LetterPatient,
    pub template: Arc<PathwayTemplate>,
    /// The plan's template variant in words.
    pub variant_title: Option<String>,
}

impl ReferralLetterData {
    /// The pure mapper's view of the letter.
    pub fn letter(&self) -> ReferralLetter<'_> {
        ReferralLetter {
            handover_id: self.handover.id.to_string(),
            plan_id: self.handover.care_plan_id.to_string(),
            state: self.handover.state.clone(),
            proposed_at: self.handover.proposed_at,
            updated_at: self.updated_at,
            plan_started_at: self.plan_started_at,
            transfer_date: self
                .handover
                .agreed_transfer_date
                .or(self.handover.proposed_transfer_date),
            from: self.from.clone(),
            to: self.to.clone(),
            author: self.author.clone(),
            patient: self.patient.clone(),
            summary: &self.handover.summary,
            template: &self.template,
            variant_title: self.variant_title.clone(),
        }
    }
}

fn letter_org(o: queries::OrganizationRow) -> LetterOrganization {
    LetterOrganization {
        id: o.id.to_string(),
        code: o.code,
        name: o.name,
        phone: o.phone,
    }
}

impl Services {
    /// The letter's data for the hand-over `id` (404 to whoever may not read it).
    pub async fn referral_letter(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<ReferralLetterData, ServiceError> {
        let handover = self.get_handover(actor, meta, id).await?;
        let row = store::handover_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let plan = queries::care_plan_by_id(&self.db, handover.care_plan_id)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let published = self.pathway_of_plan(&plan)?;
        let template = Arc::new(published.template.clone());
        let variant_title = published.variant.as_ref().map(|v| v.title.ja.clone());
        let patient = queries::patient_by_id(&self.db, plan.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let org = |id: Uuid| async move {
            queries::organization_by_id(&self.db, id)
                .await?
                .map(letter_org)
                .ok_or(ServiceError::NotFound("organization"))
        };
        let from = org(row.from_organization_id.0).await?;
        let to = org(row.to_organization_id.0).await?;
        let author = queries::practitioner_by_id(&self.db, row.proposed_by.0)
            .await?
            .map(|p| LetterAuthor {
                id: p.id.to_string(),
                name: p.name,
            })
            .ok_or(ServiceError::NotFound("practitioner"))?;
        Ok(ReferralLetterData {
            plan_started_at: plan.started_at,
            updated_at: row.updated_at,
            from,
            to,
            author,
            patient: LetterPatient {
                id: patient.id.to_string(),
                family: patient.family_name,
                given: patient.given_name,
                family_kana: patient.family_kana,
                given_kana: patient.given_kana,
                birth_date: patient.birth_date,
                gender: patient.sex,
            },
            template,
            variant_title,
            handover,
        })
    }

    /// `Composition/{hand-over id}/$document`: the referral letter as a FHIR document
    /// Bundle whose `fullUrl`s start with `base`.
    pub async fn fhir_referral_document(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        base: &str,
    ) -> Result<Value, ServiceError> {
        let data = self.referral_letter(actor, meta, id).await?;
        Ok(referral_document(&data.letter(), base, self.now()))
    }

    /// `Composition/{hand-over id}`: the letter's Composition alone.
    pub async fn fhir_composition(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<Value, ServiceError> {
        let data = self.referral_letter(actor, meta, id).await?;
        Ok(referral_composition(&data.letter()))
    }
}

/// The transfer date of a letter, in Japanese (`2026年12月7日`).
pub fn ja_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}
