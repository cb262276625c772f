//! Patients: registration with organisation-local identifiers (カルテ番号) and search by
//! kana prefix, birth date or identifier.

use chrono::NaiveDate;
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_domain::plausibility;
use renkei_store::queries::{self, PatientIdentifierRow, PatientRow};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::kana::normalize_kana;
use crate::{Actor, ErrorCode, ServiceError, Services, begin_write};
use renkei_domain::access::GlobalAction;
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::identifier::{normalize_identifier, parse_identifier};

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
    /// The records merged into this one (名寄せ), whose plans and numbers it lists too.
    pub merged_ids: Vec<Uuid>,
}

/// A name part: trimmed, NFC, without control or bidi-override characters.
fn clean_name(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    use unicode_normalization::UnicodeNormalization;
    let v: String = value.trim().nfc().collect();
    if v.is_empty() {
        errors.push(FieldError::new(field, Rule::Required, "must not be blank"));
    } else if v.chars().count() > 100 || value.chars().count() > 100 {
        errors.push(FieldError::new(field, Rule::TooLong, "must be at most 100 characters"));
    } else if v.chars().any(|c| {
        c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    }) {
        errors.push(FieldError::new(
            field,
            Rule::InvalidCharacter,
            "must not contain control, zero-width or direction-override characters",
        ));
    }
    v
}

/// Refuses an identifier outside the actor's own organisation's namespace, whether or
/// not that organisation or number exists (422 on `field`).
fn own_namespace(actor: &Actor, field: &str, org_code: &str) -> Result<(), FieldError> {
    if org_code == actor.organization_code {
        return Ok(());
    }
    Err(FieldError::new(
        field,
        Rule::OwnOrganizationOnly,
        format!(
            "only your own organization's patient numbers may be registered (organization `{}`)",
            actor.organization_code
        ),
    ))
}

fn own_clash(actor: &Actor, value: &str) -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::Duplicate,
        message: format!(
            "identifier {value} of {} already belongs to a patient",
            actor.organization_code
        ),
    }
}

/// The demographics of a registration or a correction, cleaned: names trimmed and
/// normalised, kana as カタカナ, the birth date parsed and checked; every problem is
/// pushed to `errors`.
pub(crate) struct CleanDemographics {
    pub family: String,
    pub given: String,
    pub family_kana: Option<String>,
    pub given_kana: Option<String>,
    pub birth_date: Option<NaiveDate>,
}

pub(crate) fn clean_demographics(
    new: &NewPatient,
    today: NaiveDate,
    confirmed: bool,
    errors: &mut Vec<FieldError>,
) -> CleanDemographics {
    let family = clean_name("name.family", &new.family, errors);
    let given = clean_name("name.given", &new.given, errors);
    let family_kana_raw = clean_name("name.family_kana", &new.family_kana, errors);
    let given_kana_raw = clean_name("name.given_kana", &new.given_kana, errors);
    let family_kana = normalize_kana(&family_kana_raw);
    let given_kana = normalize_kana(&given_kana_raw);
    if family_kana.is_none() && !family_kana_raw.is_empty() {
        errors.push(FieldError::new(
            "name.family_kana",
            Rule::Kana,
            "must be written in kana (カタカナ or ひらがな)",
        ));
    }
    if given_kana.is_none() && !given_kana_raw.is_empty() {
        errors.push(FieldError::new(
            "name.given_kana",
            Rule::Kana,
            "must be written in kana (カタカナ or ひらがな)",
        ));
    }
    let birth_date = match NaiveDate::parse_from_str(&new.birth_date, "%Y-%m-%d") {
        Ok(d) if new.birth_date.len() == 10 => {
            if d > today {
                errors.push(FieldError::new(
                    "birth_date",
                    Rule::InFuture,
                    "must not be in the future",
                ));
            }
            if d < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(d) {
                errors.push(FieldError::new(
                    "birth_date",
                    Rule::Range,
                    "must be 1880-01-01 or later",
                ));
            } else if d <= today {
                errors.extend(plausibility::blocking(
                    plausibility::check_birth_date(d, today),
                    confirmed,
                ));
            }
            Some(d)
        }
        _ => {
            errors.push(FieldError::new(
                "birth_date",
                Rule::Format,
                "must be a valid date YYYY-MM-DD (西暦)",
            ));
            None
        }
    };
    if !SEXES.contains(&new.sex.as_str()) {
        errors.push(FieldError::new(
            "sex",
            Rule::Allowed,
            format!("must be one of {}", SEXES.join(", ")),
        ));
    }
    CleanDemographics {
        family,
        given,
        family_kana,
        given_kana,
        birth_date,
    }
}

pub async fn create_patient(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    new: NewPatient,
) -> Result<Patient, ServiceError> {
    create_patient_confirmed(services, actor, meta, new, false).await
}

/// Registers a patient; `confirmed` accepts the unusual findings of the plausibility
/// rules (a birth date over 120 years ago), which are otherwise reported as field
/// errors with every other error of the request.
pub async fn create_patient_confirmed(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    new: NewPatient,
    confirmed: bool,
) -> Result<Patient, ServiceError> {
    let at = services.now();
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
    let CleanDemographics {
        family,
        given,
        family_kana,
        given_kana,
        birth_date,
    } = clean_demographics(&new, at.date_naive(), confirmed, &mut errors);
    // Every identifier is in the caller's own namespace: judged before anything is looked
    // up, so the answer says nothing about which numbers exist elsewhere.
    let mut values: Vec<String> = Vec::new();
    for (i, (org_code, value)) in new.identifiers.iter().enumerate() {
        if let Err(e) = own_namespace(actor, &format!("identifiers[{i}].organization"), org_code) {
            errors.push(e);
            continue;
        }
        match parse_identifier(&format!("identifiers[{i}].value"), value) {
            Err(e) => errors.push(e),
            Ok(v) if values.contains(&v) => errors.push(FieldError::new(
                format!("identifiers[{i}].value"),
                Rule::Duplicate,
                "the same patient number is given twice",
            )),
            Ok(v) => values.push(v),
        }
    }
    if new.identifiers.is_empty() {
        errors.push(FieldError::new(
            "identifiers",
            Rule::OwnIdentifierRequired,
            format!(
                "include your organization's patient number (organization `{}`)",
                actor.organization_code
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let id = Uuid::now_v7();
    let txn = begin_write(db).await?;
    let mut idents = Vec::new();
    for value in values {
        // A clash is only ever in the caller's own namespace, whose patients it sees
        // already: telling it reveals nothing.
        if queries::patient_by_identifier(&txn, actor.organization_id, &value)
            .await?
            .is_some()
        {
            return Err(own_clash(actor, &value));
        }
        idents.push(PatientIdentifierRow {
            id: Uuid::now_v7(),
            patient_id: id,
            organization_id: actor.organization_id,
            value,
        });
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
        created_at: at,
    };
    let ident_ids: Vec<Uuid> = idents.iter().map(|i| i.id).collect();
    queries::insert_patient(&txn, row, idents).await?;
    let mut record = AuditRecord::by(
        actor,
        "patient.create",
        "patient",
        Some(id.to_string()),
        Outcome::Allowed,
    )
    .patient(Some(id))
    .wrote(EvidenceKind::Patient, id);
    for ident in ident_ids {
        record = record.wrote(EvidenceKind::PatientIdentifier, ident);
    }
    audit::record(&txn, at, meta, record).await?;
    let patient = load(&txn, id).await?;
    txn.commit().await?;
    Ok(patient)
}

async fn load<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<Patient, ServiceError> {
    let id = crate::patient_group::survivor(c, id).await?;
    let row = queries::patient_by_id(c, id)
        .await?
        .ok_or(ServiceError::NotFound("patient"))?;
    to_patient(c, row).await
}

/// A stored patient as the API shows it, identifiers with their organisation codes
/// (those of the records merged into it too).
pub(crate) async fn to_patient<C: ConnectionTrait>(
    c: &C,
    row: PatientRow,
) -> Result<Patient, ServiceError> {
    let mut identifiers = Vec::new();
    let merged_ids: Vec<Uuid> = crate::patient_group::group(c, row.id)
        .await?
        .into_iter()
        .filter(|p| *p != row.id)
        .collect();
    for ident in crate::patient_group::group_identifiers(c, row.id).await? {
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
        merged_ids,
    })
}

/// A patient, if the actor's organisation may see them (404 otherwise, whether or not the
/// patient exists). A record merged into another reads as its survivor.
pub async fn get_patient(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> Result<Patient, ServiceError> {
    let db = &services.db;
    let id = crate::patient_group::survivor(db, id).await?;
    let exists = queries::patient_by_id(db, id).await?.is_some();
    let visible = exists && services.patient_visible(db, actor, id).await?;
    audit::record_now(
        services,
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

/// Adds the actor's organisation's own patient number to an existing patient it treats
/// (it holds an identifier of the patient already, or sees one of the patient's plans as
/// planner or through the care team and consent; a break-glass grant lends nothing).
/// Another organisation's namespace is refused (422) before anything is looked up; a
/// patient the organisation does not see answers 404 exactly like an unknown one.
pub async fn add_identifier(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    patient_id: Uuid,
    org_code: &str,
    value: &str,
) -> Result<Patient, ServiceError> {
    let mut errors = Vec::new();
    if let Err(e) = own_namespace(actor, "organization", org_code) {
        errors.push(e);
    }
    let value = match parse_identifier("value", value) {
        Ok(v) if errors.is_empty() => v,
        Ok(_) => return Err(ServiceError::Validation(errors)),
        Err(e) => {
            errors.push(e);
            return Err(ServiceError::Validation(errors));
        }
    };
    let txn = begin_write(&services.db).await?;
    let exists = queries::patient_by_id(&txn, patient_id).await?.is_some();
    if !exists
        || !services
            .patient_visible_to_org(&txn, actor, patient_id)
            .await?
    {
        txn.rollback().await?;
        audit::record_now(
            services,
            meta,
            AuditRecord::by(
                actor,
                "patient.identifier_add",
                "patient",
                Some(patient_id.to_string()),
                Outcome::Denied,
            )
            .patient(exists.then_some(patient_id))
            .detail("the organization does not treat this patient"),
        )
        .await?;
        return Err(ServiceError::NotFound("patient"));
    }
    queries::lock_patient(&txn, patient_id).await?;
    if queries::patient_by_identifier(&txn, actor.organization_id, &value)
        .await?
        .is_some()
    {
        return Err(own_clash(actor, &value));
    }
    let ident_id = Uuid::now_v7();
    queries::insert_identifier(
        &txn,
        PatientIdentifierRow {
            id: ident_id,
            patient_id,
            organization_id: actor.organization_id,
            value,
        },
    )
    .await?;
    audit::record(
        &txn,
        services.now(),
        meta,
        AuditRecord::by(
            actor,
            "patient.identifier_add",
            "patient",
            Some(patient_id.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(patient_id))
        .wrote(EvidenceKind::PatientIdentifier, ident_id),
    )
    .await?;
    let patient = load(&txn, patient_id).await?;
    txn.commit().await?;
    Ok(patient)
}

/// The most patients on one page of a search.
pub const PAGE_MAX: u32 = 50;

#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    pub kana: Option<String>,
    /// 漢字 name: one word (start of the family or given name) or two (family, given).
    pub name: Option<String>,
    pub birth_date: Option<String>,
    pub organization: Option<String>,
    pub identifier: Option<String>,
    /// Where the previous page ended (its `next` cursor).
    pub cursor: Option<String>,
    /// Patients per page, 1–50 (50 when not given).
    pub limit: Option<u32>,
}

/// One page of a search: the patients, and the cursor of the next page if there is one.
#[derive(Debug, Clone)]
pub struct PatientPage {
    pub patients: Vec<Patient>,
    pub next: Option<String>,
}

/// The position after a patient in (kana, id) order, opaque to clients.
fn encode_cursor(row: &PatientRow) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}{}", row.id, row.kana_key))
}

fn decode_cursor(cursor: &str) -> Option<(String, Uuid)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let id = Uuid::parse_str(text.get(..36)?).ok()?;
    Some((text.get(36..)?.to_owned(), id))
}

/// The first page of a search (see [`search_patients_page`]).
pub async fn search_patients(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    q: PatientQuery,
) -> Result<Vec<Patient>, ServiceError> {
    Ok(search_patients_page(services, actor, meta, q)
        .await?
        .patients)
}

/// Search by kana prefix (any kana form), 漢字 name, birth date and/or an organisation's
/// identifier, among the patients the actor's organisation sees, a page at a time.
/// At least one criterion is required; a page holds at most 50 patients.
pub async fn search_patients_page(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    q: PatientQuery,
) -> Result<PatientPage, ServiceError> {
    let db = &services.db;
    let mut errors = Vec::new();
    let kana = match q.kana.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => match normalize_kana(k) {
            Some(n) if !n.is_empty() && n.chars().count() <= 50 => Some(n),
            _ => {
                errors.push(FieldError::new(
                    "kana",
                    Rule::Kana,
                    "must be 1–50 kana characters",
                ));
                None
            }
        },
        None => None,
    };
    let name: Vec<String> = {
        use unicode_normalization::UnicodeNormalization;
        q.name
            .as_deref()
            .unwrap_or("")
            .split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty())
            // Stored names are NFC.
            .map(|w| w.nfc().collect())
            .collect()
    };
    if name.len() > 2 || name.iter().any(|w| w.chars().count() > 50) {
        errors.push(FieldError::new(
            "name",
            Rule::Format,
            "one or two words (family, given), up to 50 characters each",
        ));
    }
    let birth_date = match q.birth_date.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    "birth_date",
                    Rule::Format,
                    "must be YYYY-MM-DD",
                ));
                None
            }
        },
        None => None,
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(pos) => Some(pos),
            None => {
                errors.push(FieldError::new(
                    "cursor",
                    Rule::Format,
                    "must be the `next` cursor of a previous page",
                ));
                None
            }
        },
    };
    let limit = q.limit.unwrap_or(PAGE_MAX);
    if !(1..=PAGE_MAX).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            Rule::Range,
            format!("must be 1–{PAGE_MAX}"),
        ));
    }
    let ids = match (&q.organization, &q.identifier) {
        (Some(org), Some(value)) => match queries::organization_by_code(db, org).await? {
            Some(o) => Some(
                queries::patient_by_identifier(db, o.id, &normalize_identifier(value))
                    .await?
                    .into_iter()
                    .collect::<Vec<_>>(),
            ),
            None => {
                errors.push(FieldError::new(
                    "organization",
                    Rule::Unknown,
                    "unknown organization",
                ));
                None
            }
        },
        (None, None) => None,
        _ => {
            errors.push(FieldError::new(
                "identifier",
                Rule::Required,
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
            Rule::Required,
            "give kana, name, birth_date or organization + identifier",
        ));
    }
    let mut out = Vec::new();
    let mut next = None;
    if !ids.as_ref().is_some_and(|v| v.is_empty()) {
        let criteria = queries::PatientCriteria {
            kana_prefix: kana,
            name_words: name,
            birth_date,
            ids,
        };
        let reach = queries::PatientReach {
            organization: actor.organization_id,
            practitioner: actor.practitioner_id,
            now: services.now(),
        };
        // The query keeps to patients related to the organisation; the access decision
        // then drops those it does not see (a care team without consent). Read on until
        // the page is full and one more is known to follow, or nothing is left.
        let batch = u64::from(limit) + 1;
        let mut position = after;
        'scan: loop {
            let rows = queries::search_patients(
                db,
                &criteria,
                &reach,
                position.as_ref().map(|(k, id)| (k.as_str(), *id)),
                batch,
            )
            .await?;
            let exhausted = (rows.len() as u64) < batch;
            for row in rows {
                position = Some((row.kana_key.clone(), row.id));
                // A merged record is listed as its survivor, once.
                let survivor = crate::patient_group::survivor(db, row.id).await?;
                if out
                    .iter()
                    .any(|(_, p): &(String, Patient)| p.id == survivor)
                    || !services.patient_visible(db, actor, survivor).await?
                {
                    continue;
                }
                if out.len() == limit as usize {
                    next = out.last().map(|p: &(String, Patient)| p.0.clone());
                    break 'scan;
                }
                let cursor = encode_cursor(&row);
                let row = if survivor == row.id {
                    row
                } else {
                    match queries::patient_by_id(db, survivor).await? {
                        Some(s) => s,
                        None => continue,
                    }
                };
                out.push((cursor, to_patient(db, row).await?));
            }
            if exhausted {
                break;
            }
        }
    }
    audit::record_now(
        services,
        meta,
        AuditRecord::by(actor, "patient.search", "patient", None, Outcome::Allowed)
            .detail(format!("{} result(s)", out.len())),
    )
    .await?;
    Ok(PatientPage {
        patients: out.into_iter().map(|(_, p)| p).collect(),
        next,
    })
}
