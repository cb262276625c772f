//! The patient a screen is about, as its banner shows it: the patient, the plans the
//! actor's organisation sees and whether another patient it sees has the same kana name.
//! Loaded inside a screen whose access decision is already made, so nothing here checks
//! or audits on its own.

use renkei_store::queries::{self, PatientReach};
use uuid::Uuid;

use renkei_domain::access::{GlobalAction, decide_global};

use crate::access::subject;
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::kana::normalize_kana;
use crate::patients::{Patient, to_patient};
use crate::plans::CarePlan;
use crate::{Actor, ServiceError, Services};

/// A patient with the plans the actor's organisation sees.
#[derive(Debug, Clone)]
pub struct PatientCard {
    pub patient: Patient,
    /// Visible plans, in the order the store keeps them.
    pub plans: Vec<CarePlan>,
    /// Another patient the organisation sees has the same kana name (同姓同名).
    pub same_name: bool,
}

impl Services {
    /// The banner's patient, for a screen that has decided the actor may see them.
    pub(crate) async fn patient_card(
        &self,
        actor: &Actor,
        patient_id: Uuid,
    ) -> Result<PatientCard, ServiceError> {
        let db = &self.db;
        // A merged record reads as its survivor, with the plans of every record.
        let patient_id = crate::patient_group::survivor(db, patient_id).await?;
        let row = queries::patient_by_id(db, patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        let key = format!("{}{}", row.family_kana, row.given_kana);
        let patient = to_patient(db, row).await?;
        let all = crate::patient_group::group_plans(db, patient_id).await?;
        let mut plans = Vec::new();
        for plan in self.visible_plans(db, actor, all).await? {
            plans.push(self.plan_view(db, plan).await?);
        }
        let same_name = self.same_name_seen(actor, patient_id, &key).await?;
        Ok(PatientCard {
            patient,
            plans,
            same_name,
        })
    }

    /// Whether the actor's organisation sees another patient whose kana name is `key`.
    async fn same_name_seen(
        &self,
        actor: &Actor,
        patient_id: Uuid,
        key: &str,
    ) -> Result<bool, ServiceError> {
        let Some(prefix) = normalize_kana(key).filter(|k| !k.is_empty()) else {
            return Ok(false);
        };
        let criteria = queries::PatientCriteria {
            kana_prefix: Some(prefix),
            ..Default::default()
        };
        let reach = PatientReach {
            organization: actor.organization_id,
            practitioner: actor.practitioner_id,
            now: self.now(),
        };
        const BATCH: u64 = 200;
        let mut after: Option<(String, Uuid)> = None;
        loop {
            let rows = queries::search_patients(
                &self.db,
                &criteria,
                &reach,
                after.as_ref().map(|(k, id)| (k.as_str(), *id)),
                BATCH,
            )
            .await?;
            let exhausted = (rows.len() as u64) < BATCH;
            for row in rows {
                after = Some((row.kana_key.clone(), row.id));
                // A record merged into this patient is this patient, not a namesake.
                if row.id != patient_id
                    && format!("{}{}", row.family_kana, row.given_kana) == key
                    && crate::patient_group::survivor(&self.db, row.id).await? != patient_id
                    && self.patient_visible(&self.db, actor, row.id).await?
                {
                    return Ok(true);
                }
            }
            if exhausted {
                return Ok(false);
            }
        }
    }
}

/// The patient page and the pages under it (enrolment): the patient card and what the
/// actor may start from it.
#[derive(Debug, Clone)]
pub struct PatientScreen {
    pub card: PatientCard,
    /// The actor may enrol the patient on a pathway.
    pub may_enrol: bool,
}

impl Services {
    /// One access decision (the organisation sees the patient) and one audit event
    /// `patient.read`; an unseen patient answers 404 whether or not it exists.
    pub async fn patient_screen(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient_id: Uuid,
    ) -> Result<PatientScreen, ServiceError> {
        let db = &self.db;
        let exists = queries::patient_by_id(db, patient_id).await?.is_some();
        let visible = exists && self.patient_visible(db, actor, patient_id).await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "patient.read",
                "patient",
                Some(patient_id.to_string()),
                if visible {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                },
            )
            .patient(exists.then_some(patient_id)),
        )
        .await?;
        if !visible {
            return Err(ServiceError::NotFound("patient"));
        }
        Ok(PatientScreen {
            card: self.patient_card(actor, patient_id).await?,
            may_enrol: decide_global(&subject(actor), GlobalAction::Enrol),
        })
    }
}
