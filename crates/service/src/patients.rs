//! Patients: registration with organisation-local identifiers (カルテ番号) and search by
//! kana prefix, birth date or identifier.

use chrono::NaiveDate;
use renkei_domain::FieldError;
use renkei_store::queries::{self, PatientIdentifierRow, PatientRow};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::kana::normalize_kana;
use crate::{Actor, ErrorCode, ServiceError, Services, begin_write, now};
use renkei_domain::access::GlobalAction;

pub const SEXES: &[&str] = &["male", "female", "other", "unknown"];

#[derive(Debug, Clone)]
pub struct NewPatient {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: String,
    pub sex: String,
    pub identifiers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientName {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientIdentifier {
    pub organization: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Patient {
    pub id: Uuid,
    pub name: PatientName,
    pub birth_date: NaiveDate,
    pub sex: String,
    pub identifiers: Vec<PatientIdentifier>,
}

/// A name part: trimmed, NFC, without control or bidi-override characters.
fn clean_name(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    use unicode_normalization::UnicodeNormalization;
    let v: String = value.trim().nfc().collect();
    if v.is_empty() {
        errors.push(FieldError::new(field, "required", "must not be blank"));
    } else if v.chars().count() > 100 || value.chars().count() > 100 {
        errors.push(FieldError::new(field, "too_long", "must be at most 100 characters"));
    } else if v.chars().any(|c| {
        c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    }) {
        errors.push(FieldError::new(
            field,
            "invalid_character",
            "must not contain control, zero-width or direction-override characters",
        ));
    }
    v
}

pub async fn create_patient(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    new: NewPatient,
) -> Result<Patient, ServiceError> {
    services
        .authorize_global(
            actor,
            meta,
            GlobalAction::RegisterPatient,
            "patient.create",
            "patient",
        )
        .await?;
    let db = &services.db;
    let mut errors = Vec::new();
    let family = clean_name("name.family", &new.family, &mut errors);
    let given = clean_name("name.given", &new.given, &mut errors);
    let family_kana_raw = clean_name("name.family_kana", &new.family_kana, &mut errors);
    let given_kana_raw = clean_name("name.given_kana", &new.given_kana, &mut errors);
    let family_kana = normalize_kana(&family_kana_raw);
    let given_kana = normalize_kana(&given_kana_raw);
    if family_kana.is_none() && !family_kana_raw.is_empty() {
        errors.push(FieldError::new(
            "name.family_kana",
            "kana",
            "must be written in kana (カタカナ or ひらがな)",
        ));
    }
    if given_kana.is_none() && !given_kana_raw.is_empty() {
        errors.push(FieldError::new(
            "name.given_kana",
            "kana",
            "must be written in kana (カタカナ or ひらがな)",
        ));
    }
    let birth_date = match NaiveDate::parse_from_str(&new.birth_date, "%Y-%m-%d") {
        Ok(d) if new.birth_date.len() == 10 => {
            let today = chrono::Utc::now().date_naive();
            if d > today {
                errors.push(FieldError::new(
                    "birth_date",
                    "in_future",
                    "must not be in the future",
                ));
            }
            if d < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(d) {
                errors.push(FieldError::new(
                    "birth_date",
                    "range",
                    "must be 1880-01-01 or later",
                ));
            }
            Some(d)
        }
        _ => {
            errors.push(FieldError::new(
                "birth_date",
                "format",
                "must be a valid date YYYY-MM-DD (西暦)",
            ));
            None
        }
    };
    if !SEXES.contains(&new.sex.as_str()) {
        errors.push(FieldError::new(
            "sex",
            "allowed",
            format!("must be one of {}", SEXES.join(", ")),
        ));
    }
    let txn = begin_write(db).await?;
    let mut idents = Vec::new();
    let id = Uuid::now_v7();
    for (i, (org_code, value)) in new.identifiers.iter().enumerate() {
        // The length limit counts what was sent, surrounding spaces included.
        let too_long = value.chars().count() > 64;
        let value = value.trim();
        if value.is_empty() || too_long || value.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("identifiers[{i}].value"),
                "format",
                "must be 1–64 printable characters",
            ));
            continue;
        }
        match queries::organization_by_code(&txn, org_code).await? {
            None => errors.push(FieldError::new(
                format!("identifiers[{i}].organization"),
                "unknown",
                format!("organization `{org_code}` does not exist"),
            )),
            Some(org) => {
                if queries::patient_by_identifier(&txn, org.id, value)
                    .await?
                    .is_some()
                {
                    return Err(ServiceError::Conflict {
                        code: ErrorCode::Duplicate,
                        message: format!(
                            "identifier {value} of {org_code} already belongs to a patient"
                        ),
                    });
                }
                idents.push(PatientIdentifierRow {
                    id: Uuid::now_v7(),
                    patient_id: id,
                    organization_id: org.id,
                    value: value.to_owned(),
                });
            }
        }
    }
    if !idents
        .iter()
        .any(|i| i.organization_id == actor.organization_id)
        && errors.is_empty()
    {
        errors.push(FieldError::new(
            "identifiers",
            "own_identifier_required",
            format!(
                "include your organization's patient number (organization `{}`)",
                actor.organization_code
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let (Some(family_kana), Some(given_kana), Some(birth_date)) =
        (family_kana, given_kana, birth_date)
    else {
        return Err(ServiceError::Validation(errors));
    };
    let row = PatientRow {
        id,
        family_name: family,
        given_name: given,
        kana_key: format!("{family_kana}{given_kana}"),
        family_kana,
        given_kana,
        birth_date,
        sex: new.sex,
        created_at: now(),
    };
    queries::insert_patient(&txn, row, idents).await?;
    audit::record(
        &txn,
        meta,
        AuditRecord::by(
            actor,
            "patient.create",
            "patient",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(id)),
    )
    .await?;
    let patient = load(&txn, id).await?;
    txn.commit().await?;
    Ok(patient)
}

async fn load<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<Patient, ServiceError> {
    let row = queries::patient_by_id(c, id)
        .await?
        .ok_or(ServiceError::NotFound("patient"))?;
    to_patient(c, row).await
}

async fn to_patient<C: ConnectionTrait>(c: &C, row: PatientRow) -> Result<Patient, ServiceError> {
    let mut identifiers = Vec::new();
    for ident in queries::identifiers_of(c, row.id).await? {
        let org = queries::organization_by_id(c, ident.organization_id).await?;
        identifiers.push(PatientIdentifier {
            organization: org.map(|o| o.code).unwrap_or_default(),
            value: ident.value,
        });
    }
    Ok(Patient {
        id: row.id,
        name: PatientName {
            family: row.family_name,
            given: row.given_name,
            family_kana: row.family_kana,
            given_kana: row.given_kana,
        },
        birth_date: row.birth_date,
        sex: row.sex,
        identifiers,
    })
}

/// A patient, if the actor's organisation may see them (404 otherwise, whether or not the
/// patient exists).
pub async fn get_patient(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> Result<Patient, ServiceError> {
    let db = &services.db;
    let exists = queries::patient_by_id(db, id).await?.is_some();
    let visible = exists && services.patient_visible(db, actor, id).await?;
    audit::record_now(
        db,
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
        .patient(exists.then_some(id)),
    )
    .await?;
    if !visible {
        return Err(ServiceError::NotFound("patient"));
    }
    load(db, id).await
}

#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    pub kana: Option<String>,
    /// 漢字 name: one word (start of the family or given name) or two (family, given).
    pub name: Option<String>,
    pub birth_date: Option<String>,
    pub organization: Option<String>,
    pub identifier: Option<String>,
}

/// Search by kana prefix (any kana form), 漢字 name, birth date and/or an organisation's
/// identifier.
/// At least one criterion is required; at most 50 patients are returned.
pub async fn search_patients(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    q: PatientQuery,
) -> Result<Vec<Patient>, ServiceError> {
    let db = &services.db;
    let mut errors = Vec::new();
    let kana = match q.kana.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => match normalize_kana(k) {
            Some(n) if !n.is_empty() && n.chars().count() <= 50 => Some(n),
            _ => {
                errors.push(FieldError::new(
                    "kana",
                    "kana",
                    "must be 1–50 kana characters",
                ));
                None
            }
        },
        None => None,
    };
    let name: Vec<String> = q
        .name
        .as_deref()
        .unwrap_or("")
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if name.len() > 2 || name.iter().any(|w| w.chars().count() > 50) {
        errors.push(FieldError::new(
            "name",
            "format",
            "one or two words (family, given), up to 50 characters each",
        ));
    }
    let birth_date = match q.birth_date.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    "birth_date",
                    "format",
                    "must be YYYY-MM-DD",
                ));
                None
            }
        },
        None => None,
    };
    let ids = match (&q.organization, &q.identifier) {
        (Some(org), Some(value)) => match queries::organization_by_code(db, org).await? {
            Some(o) => Some(
                queries::patient_by_identifier(db, o.id, value.trim())
                    .await?
                    .into_iter()
                    .collect::<Vec<_>>(),
            ),
            None => {
                errors.push(FieldError::new(
                    "organization",
                    "unknown",
                    "unknown organization",
                ));
                None
            }
        },
        (None, None) => None,
        _ => {
            errors.push(FieldError::new(
                "identifier",
                "required",
                "organization and identifier are given together",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    if kana.is_none() && name.is_empty() && birth_date.is_none() && ids.is_none() {
        return Err(ServiceError::field(
            "kana",
            "required",
            "give kana, name, birth_date or organization + identifier",
        ));
    }
    if ids.as_ref().is_some_and(|v| v.is_empty()) {
        audit::record_now(
            db,
            meta,
            AuditRecord::by(actor, "patient.search", "patient", None, Outcome::Allowed)
                .detail("0 result(s)"),
        )
        .await?;
        return Ok(Vec::new());
    }
    let rows = queries::search_patients(db, kana.as_deref(), &name, birth_date, ids, 200).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if out.len() == 50 {
            break;
        }
        if services.patient_visible(db, actor, row.id).await? {
            out.push(to_patient(db, row).await?);
        }
    }
    audit::record_now(
        db,
        meta,
        AuditRecord::by(actor, "patient.search", "patient", None, Outcome::Allowed)
            .detail(format!("{} result(s)", out.len())),
    )
    .await?;
    Ok(out)
}
