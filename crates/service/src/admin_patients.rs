//! Correcting a patient's demographics (issue 18 point 9): a registering profession of
//! an organisation that treats the patient corrects the name, kana, birth date or sex
//! with a reason; the values before and after are kept in the history, shown with the
//! patient, and the correction is audited with the patient row's new state.

use chrono::{DateTime, Utc};
use renkei_domain::access::GlobalAction;
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::{FieldError, Rule};
use renkei_store::admin_patients::{self as store, Demographics, DemographicsHistoryRow};
use renkei_store::queries;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::patients::{CleanDemographics, NewPatient, Patient, SEXES, clean_demographics};
use crate::{Actor, ServiceError, Services, begin_write};

/// Longest reason of a correction, in characters.
pub const REASON_MAX: usize = 500;

/// A correction: the whole of the demographics after it, and why.
#[derive(Debug, Clone, Default)]
pub struct DemographicsCorrection {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub sex: String,
    pub reason: String,
}

/// One correction as the history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DemographicsChange {
    pub id: Uuid,
    pub changed_at: DateTime<Utc>,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub reason: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

impl From<DemographicsHistoryRow> for DemographicsChange {
    fn from(r: DemographicsHistoryRow) -> Self {
        DemographicsChange {
            id: r.id,
            changed_at: r.changed_at,
            practitioner_id: r.practitioner_id,
            organization_id: r.organization_id,
            reason: r.reason,
            before: serde_json::from_str(&r.before_json).unwrap_or_default(),
            after: serde_json::from_str(&r.after_json).unwrap_or_default(),
        }
    }
}

fn as_json(d: &Demographics) -> serde_json::Value {
    json!({
        "family": d.family_name,
        "given": d.given_name,
        "family_kana": d.family_kana,
        "given_kana": d.given_kana,
        "birth_date": d.birth_date.to_string(),
        "sex": d.sex,
    })
}

/// Refuses (404, audited) unless the actor's organisation treats the patient.
async fn treating(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    patient_id: Uuid,
    action: &'static str,
) -> Result<renkei_store::queries::PatientRow, ServiceError> {
    let row = queries::patient_by_id(&services.db, patient_id).await?;
    let visible = match &row {
        Some(_) => {
            services
                .patient_visible_to_org(&services.db, actor, patient_id)
                .await?
        }
        None => false,
    };
    match row {
        Some(r) if visible => Ok(r),
        _ => {
            audit::record_now(
                services,
                meta,
                AuditRecord::by(
                    actor,
                    action,
                    "patient",
                    Some(patient_id.to_string()),
                    Outcome::Denied,
                )
                .detail("the organization does not treat this patient"),
            )
            .await?;
            Err(ServiceError::NotFound("patient"))
        }
    }
}

/// Corrects the demographics; every problem at once (a reason is required, and a
/// correction that changes nothing is refused).
pub async fn correct_demographics(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    patient_id: Uuid,
    c: DemographicsCorrection,
) -> Result<Patient, ServiceError> {
    services
        .authorize_global(
            actor,
            meta,
            GlobalAction::RegisterPatient,
            "patient.correct",
            "patient",
        )
        .await?;
    let old = treating(services, actor, meta, patient_id, "patient.correct").await?;
    let at = services.now();
    let mut errors = Vec::new();
    let CleanDemographics {
        family,
        given,
        family_kana,
        given_kana,
        birth_date,
    } = clean_demographics(
        &NewPatient {
            family: c.family.clone(),
            given: c.given.clone(),
            family_kana: c.family_kana.clone(),
            given_kana: c.given_kana.clone(),
            birth_date: c.birth_date.clone(),
            sex: c.sex.clone(),
            identifiers: Vec::new(),
        },
        at.date_naive(),
        true,
        &mut errors,
    );
    if !SEXES.contains(&c.sex.as_str()) {
        errors.push(FieldError::new(
            "sex",
            Rule::Allowed,
            format!("must be one of {}", SEXES.join(", ")),
        ));
    }
    let reason = c.reason.trim();
    if reason.is_empty() {
        errors.push(FieldError::new(
            "reason",
            Rule::Required,
            "must not be blank",
        ));
    } else if reason.chars().count() > REASON_MAX {
        errors.push(FieldError::new(
            "reason",
            Rule::TooLong,
            format!("must be at most {REASON_MAX} characters"),
        ));
    }
    let (Some(family_kana), Some(given_kana), Some(birth_date), true) =
        (family_kana, given_kana, birth_date, errors.is_empty())
    else {
        return Err(ServiceError::Validation(errors));
    };
    let before = Demographics {
        family_name: old.family_name.clone(),
        given_name: old.given_name.clone(),
        family_kana: old.family_kana.clone(),
        given_kana: old.given_kana.clone(),
        birth_date: old.birth_date,
        sex: old.sex.clone(),
    };
    let after = Demographics {
        family_name: family,
        given_name: given,
        family_kana,
        given_kana,
        birth_date,
        sex: c.sex.clone(),
    };
    if as_json(&before) == as_json(&after) {
        return Err(ServiceError::field(
            "",
            Rule::Unchanged,
            "the correction changes nothing",
        ));
    }
    let changed: Vec<String> = as_json(&after)
        .as_object()
        .map(|a| {
            let b = as_json(&before);
            a.iter()
                .filter(|(k, v)| b.get(*k) != Some(*v))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let txn = begin_write(&services.db).await?;
    queries::lock_patient(&txn, patient_id).await?;
    store::update_demographics(&txn, patient_id, after.clone()).await?;
    store::insert_history(
        &txn,
        DemographicsHistoryRow {
            id: Uuid::now_v7(),
            patient_id,
            changed_at: at,
            practitioner_id: Some(actor.practitioner_id),
            organization_id: Some(actor.organization_id),
            reason: reason.to_owned(),
            before_json: as_json(&before).to_string(),
            after_json: as_json(&after).to_string(),
        },
    )
    .await?;
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "patient.correct",
            "patient",
            Some(patient_id.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(patient_id))
        // Which fields, never their values.
        .detail(format!("corrected: {}", changed.join(", ")))
        .wrote(EvidenceKind::Patient, patient_id),
    )
    .await?;
    txn.commit().await?;
    crate::patients::get_patient(services, actor, meta, patient_id).await
}

/// The corrections of a patient's demographics, oldest first (an organisation that
/// treats the patient; audited as a read).
pub async fn demographics_history(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    patient_id: Uuid,
) -> Result<Vec<DemographicsChange>, ServiceError> {
    treating(services, actor, meta, patient_id, "patient.history").await?;
    let rows = store::history_of(&services.db, patient_id).await?;
    audit::record_now(
        services,
        meta,
        AuditRecord::by(
            actor,
            "patient.history",
            "patient",
            Some(patient_id.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(patient_id)),
    )
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
