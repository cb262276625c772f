//! Merging two patient records of one person (名寄せ, issue 18 point 9). The regional
//! administrator compares the two side by side (every difference marked, each record's
//! plans and patient numbers listed), then merges the other record into the one that
//! survives, with a reason; a different birth date or sex must be confirmed again.
//!
//! Plans and entries are append-only and hash-chained to their patient's id, so a merge
//! moves nothing: it writes a link row (`patient_links`), kept under evidence, and every
//! read that starts from a patient resolves a merged record to its survivor
//! ([`crate::patient_group`]): search lists the survivor once, the merged record's id
//! reads as the survivor with `merged_ids`, the survivor lists both records' plans (each
//! still under its own care team and consent) and patient numbers. Reversing the link
//! (with a reason) makes everything read as before the merge. The rules are pure, in
//! `renkei_domain::merge`.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::merge::{self, Demographics, FieldComparison, Link};
use renkei_domain::{FieldError, Rule};
use renkei_store::patient_links::{self as store, PatientLinkRow};
use renkei_store::queries::{self, PatientRow};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::kana::normalize_kana;
use crate::patients::{Patient, PatientIdentifier, PatientName};
use crate::{Actor, ServiceError, Services, begin_write};

/// The role that merges and unmerges records.
pub const ROLE: &str = "regional_admin";

// ------------------------------------------------------------------ views

/// A merge link as the API and the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct PatientLink {
    pub id: Uuid,
    pub survivor_id: Uuid,
    pub merged_id: Uuid,
    pub reason: String,
    pub merged_by: Uuid,
    /// The merging practitioner's organisation code.
    pub merged_by_organization: String,
    pub merged_at: DateTime<Utc>,
    pub reversed_by: Option<Uuid>,
    pub reversed_at: Option<DateTime<Utc>>,
    pub reverse_reason: Option<String>,
}

async fn link_view<C: ConnectionTrait>(
    c: &C,
    r: PatientLinkRow,
) -> Result<PatientLink, ServiceError> {
    let org = queries::organization_by_id(c, r.merged_by_organization)
        .await?
        .map(|o| o.code)
        .unwrap_or_default();
    Ok(PatientLink {
        id: r.id,
        survivor_id: r.survivor_id,
        merged_id: r.merged_id,
        reason: r.reason,
        merged_by: r.merged_by,
        merged_by_organization: org,
        merged_at: r.merged_at,
        reversed_by: r.reversed_by,
        reversed_at: r.reversed_at,
        reverse_reason: r.reverse_reason,
    })
}

fn as_link(r: &PatientLinkRow) -> Link {
    Link {
        id: r.id,
        survivor: r.survivor_id,
        merged: r.merged_id,
        reversed: r.reversed_at.is_some(),
    }
}

/// A plan of one record, as the preview lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MergePlan {
    pub id: Uuid,
    pub pathway_code: String,
    pub pathway_version: i32,
    pub pathway_title_ja: String,
    pub status: String,
    pub current_stage: String,
    /// The planner's organisation code.
    pub planner_organization: String,
    pub started_at: DateTime<Utc>,
}

/// One record as it stands on its own (not resolved): its demographics, its own
/// patient numbers and plans, and how it is linked.
#[derive(Debug, Clone, Serialize)]
pub struct MergeRecord {
    pub patient: Patient,
    pub plans: Vec<MergePlan>,
    /// The survivor this record is merged into (unreversed), if any.
    pub merged_into: Option<Uuid>,
    /// The records merged into this one (unreversed).
    pub merged_ids: Vec<Uuid>,
}

/// One compared field of the two records.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDifference {
    pub field: &'static str,
    pub survivor: String,
    pub merged: String,
    pub differs: bool,
    pub needs_confirmation: bool,
}

impl From<FieldComparison> for FieldDifference {
    fn from(c: FieldComparison) -> Self {
        FieldDifference {
            field: c.field,
            survivor: c.survivor,
            merged: c.merged,
            differs: c.differs,
            needs_confirmation: c.needs_confirmation,
        }
    }
}

/// The two records side by side before a merge.
#[derive(Debug, Clone, Serialize)]
pub struct MergePreview {
    pub survivor: MergeRecord,
    pub merged: MergeRecord,
    pub fields: Vec<FieldDifference>,
    /// The fields whose difference the merge must confirm (`confirm_differences`).
    pub needs_confirmation: Vec<&'static str>,
    /// Why the merge would be refused, if it would (empty when it may go ahead).
    pub refusals: Vec<FieldError>,
}

/// A merge as asked for.
#[derive(Debug, Clone, Default)]
pub struct MergeRequest {
    /// The record merged into the survivor.
    pub other: Uuid,
    pub reason: String,
    pub confirm_differences: bool,
}

// ------------------------------------------------------------------ access

/// Refuses (403, audited) anyone but the regional administrator.
async fn regional(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    resource_type: &'static str,
    resource_id: Option<String>,
) -> Result<(), ServiceError> {
    if actor.has_role(ROLE) {
        return Ok(());
    }
    audit::record_now(
        services,
        meta,
        AuditRecord::by(actor, action, resource_type, resource_id, Outcome::Denied)
            .detail("only the regional administrator merges patient records"),
    )
    .await?;
    Err(ServiceError::Forbidden)
}

async fn record_of<C: ConnectionTrait>(
    c: &C,
    row: PatientRow,
) -> Result<MergeRecord, ServiceError> {
    let id = row.id;
    let mut identifiers = Vec::new();
    for ident in queries::identifiers_of(c, id).await? {
        let org = queries::organization_by_id(c, ident.organization_id).await?;
        identifiers.push(PatientIdentifier {
            organization: org.map(|o| o.code).unwrap_or_default(),
            value: ident.value,
        });
    }
    let mut plans = Vec::new();
    for plan in queries::care_plans_of_patient(c, id).await? {
        let (code, version, title) = store::pathway_title(c, plan.pathway_version_id)
            .await?
            .unwrap_or_default();
        plans.push(MergePlan {
            id: plan.id,
            pathway_code: code,
            pathway_version: version,
            pathway_title_ja: title,
            status: plan.status,
            current_stage: plan.current_stage,
            planner_organization: queries::organization_by_id(c, plan.planner_organization_id)
                .await?
                .map(|o| o.code)
                .unwrap_or_default(),
            started_at: plan.started_at,
        });
    }
    let merged_into = store::active_for_merged(c, id)
        .await?
        .map(|l| l.survivor_id);
    let merged_ids = store::active_for_survivor(c, id)
        .await?
        .into_iter()
        .map(|l| l.merged_id)
        .collect();
    Ok(MergeRecord {
        patient: Patient {
            id,
            name: PatientName {
                family: row.family_name,
                given: row.given_name,
                family_kana: row.family_kana,
                given_kana: row.given_kana,
            },
            birth_date: row.birth_date,
            sex: row.sex,
            identifiers,
            merged_ids: Vec::new(),
        },
        plans,
        merged_into,
        merged_ids,
    })
}

fn demographics(r: &PatientRow) -> Demographics {
    Demographics {
        family: r.family_name.clone(),
        given: r.given_name.clone(),
        family_kana: r.family_kana.clone(),
        given_kana: r.given_kana.clone(),
        birth_date: r.birth_date,
        sex: r.sex.clone(),
    }
}

/// Both records, or 404 naming the missing one (audited as a refused read).
async fn both<C: ConnectionTrait>(
    services: &Services,
    c: &C,
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    survivor: Uuid,
    other: Uuid,
) -> Result<(PatientRow, PatientRow), ServiceError> {
    let a = queries::patient_by_id(c, survivor).await?;
    let b = queries::patient_by_id(c, other).await?;
    match (a, b) {
        (Some(a), Some(b)) => Ok((a, b)),
        (a, _) => {
            let missing = if a.is_none() { survivor } else { other };
            audit::record_now(
                services,
                meta,
                AuditRecord::by(
                    actor,
                    action,
                    "patient",
                    Some(missing.to_string()),
                    Outcome::Denied,
                )
                .detail("no such patient"),
            )
            .await?;
            Err(ServiceError::NotFound("patient"))
        }
    }
}

async fn audit_read(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    patient: Uuid,
    detail: &str,
) -> Result<(), ServiceError> {
    audit::record_now(
        services,
        meta,
        AuditRecord::by(
            actor,
            "patient.read",
            "patient",
            Some(patient.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(patient))
        .detail(detail.to_owned()),
    )
    .await
}

// ------------------------------------------------------------------ use cases

/// One record on its own, for choosing what to merge (the regional administrator;
/// audited as a read of the patient).
pub async fn merge_record(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> Result<MergeRecord, ServiceError> {
    regional(
        services,
        actor,
        meta,
        "patient.read",
        "patient",
        Some(id.to_string()),
    )
    .await?;
    let db = &services.db;
    let Some(row) = queries::patient_by_id(db, id).await? else {
        return Err(ServiceError::NotFound("patient"));
    };
    let record = record_of(db, row).await?;
    audit_read(services, actor, meta, id, "merge: record").await?;
    Ok(record)
}

/// The two records side by side: every field compared, each record's plans and patient
/// numbers, the differences to confirm and why the merge would be refused. A read of
/// both patients, audited as such.
pub async fn merge_preview(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    survivor: Uuid,
    other: Uuid,
) -> Result<MergePreview, ServiceError> {
    regional(
        services,
        actor,
        meta,
        "patient.read",
        "patient",
        Some(survivor.to_string()),
    )
    .await?;
    let db = &services.db;
    let (a, b) = both(services, db, actor, meta, "patient.read", survivor, other).await?;
    let links: Vec<Link> = store::touching(db, &[survivor, other])
        .await?
        .iter()
        .map(as_link)
        .collect();
    let refusals = merge::refusals(survivor, other, &links);
    let comparison = merge::compare(&demographics(&a), &demographics(&b));
    let needs_confirmation = comparison
        .iter()
        .filter(|c| c.needs_confirmation)
        .map(|c| c.field)
        .collect();
    let preview = MergePreview {
        survivor: record_of(db, a).await?,
        merged: record_of(db, b).await?,
        fields: comparison.into_iter().map(Into::into).collect(),
        needs_confirmation,
        refusals,
    };
    audit_read(services, actor, meta, survivor, "merge preview").await?;
    if other != survivor {
        audit_read(services, actor, meta, other, "merge preview").await?;
    }
    Ok(preview)
}

/// Merges `req.other` into `survivor` with a reason: one link row, audited
/// `patient.merge`. Refused with every problem at once (422), nothing written: a blank
/// reason, the rules of `renkei_domain::merge::refusals`, and a different birth date or
/// sex not confirmed.
pub async fn merge(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    survivor: Uuid,
    req: MergeRequest,
) -> Result<PatientLink, ServiceError> {
    regional(
        services,
        actor,
        meta,
        "patient.merge",
        "patient",
        Some(survivor.to_string()),
    )
    .await?;
    let reason = merge::clean_reason(&req.reason);
    let other = req.other;
    // Both must exist; a refusal is audited before the write begins.
    both(
        services,
        &services.db,
        actor,
        meta,
        "patient.merge",
        survivor,
        other,
    )
    .await?;
    let txn = begin_write(&services.db).await?;
    let (Some(a), Some(b)) = (
        queries::patient_by_id(&txn, survivor).await?,
        queries::patient_by_id(&txn, other).await?,
    ) else {
        return Err(ServiceError::NotFound("patient"));
    };
    // Lock both rows in one order, so two merges of the same pair queue.
    let (first, second) = if survivor < other {
        (survivor, other)
    } else {
        (other, survivor)
    };
    queries::lock_patient(&txn, first).await?;
    queries::lock_patient(&txn, second).await?;
    let links: Vec<Link> = store::touching(&txn, &[survivor, other])
        .await?
        .iter()
        .map(as_link)
        .collect();
    let mut errors = merge::refusals(survivor, other, &links);
    if let Err(e) = &reason {
        errors.push(e.clone());
    }
    let comparison = merge::compare(&demographics(&a), &demographics(&b));
    errors.extend(merge::unconfirmed(&comparison, req.confirm_differences));
    let reason = match reason {
        Ok(r) if errors.is_empty() => r,
        _ => return Err(ServiceError::Validation(errors)),
    };
    let at = services.now();
    let id = Uuid::now_v7();
    store::insert(
        &txn,
        PatientLinkRow {
            id,
            survivor_id: survivor,
            merged_id: other,
            reason,
            merged_by: actor.practitioner_id,
            merged_by_organization: actor.organization_id,
            merged_at: at,
            reversed_by: None,
            reversed_at: None,
            reverse_reason: None,
        },
    )
    .await?;
    let differing: Vec<&str> = comparison
        .iter()
        .filter(|c| c.differs)
        .map(|c| c.field)
        .collect();
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "patient.merge",
            "patient_link",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(survivor))
        // Ids and which fields differed, never their values.
        .detail(format!(
            "merged patient {other} into {survivor}; differing: {}",
            if differing.is_empty() {
                "none".to_owned()
            } else {
                differing.join(", ")
            }
        ))
        .wrote(EvidenceKind::PatientLink, id),
    )
    .await?;
    let row = store::by_id(&txn, id)
        .await?
        .ok_or(ServiceError::NotFound("patient link"))?;
    let link = link_view(&txn, row).await?;
    txn.commit().await?;
    Ok(link)
}

/// Reverses a merge with a reason (audited `patient.unmerge`): the link stays, marked
/// reversed, and both records read as before the merge. A link reversed already is
/// refused (422), an unknown one is 404.
pub async fn unmerge(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    link_id: Uuid,
    reason: &str,
) -> Result<PatientLink, ServiceError> {
    regional(
        services,
        actor,
        meta,
        "patient.unmerge",
        "patient_link",
        Some(link_id.to_string()),
    )
    .await?;
    let reason = merge::clean_reason(reason);
    let txn = begin_write(&services.db).await?;
    let Some(row) = store::by_id(&txn, link_id).await? else {
        return Err(ServiceError::NotFound("patient link"));
    };
    queries::lock_patient(&txn, row.merged_id).await?;
    let mut errors = merge::reversal_refusals(&as_link(&row));
    if let Err(e) = &reason {
        errors.push(e.clone());
    }
    let reason = match reason {
        Ok(r) if errors.is_empty() => r,
        _ => return Err(ServiceError::Validation(errors)),
    };
    let at = services.now();
    if !store::reverse(&txn, link_id, actor.practitioner_id, at, &reason).await? {
        return Err(ServiceError::Validation(vec![FieldError::new(
            "link",
            Rule::AlreadyReversed,
            "the merge is already reversed",
        )]));
    }
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "patient.unmerge",
            "patient_link",
            Some(link_id.to_string()),
            Outcome::Allowed,
        )
        .patient(Some(row.survivor_id))
        .detail(format!(
            "reversed the merge of patient {} into {}",
            row.merged_id, row.survivor_id
        ))
        .wrote(EvidenceKind::PatientLink, link_id),
    )
    .await?;
    let row = store::by_id(&txn, link_id)
        .await?
        .ok_or(ServiceError::NotFound("patient link"))?;
    let link = link_view(&txn, row).await?;
    txn.commit().await?;
    Ok(link)
}

/// One link (the regional administrator).
pub async fn get_link(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    link_id: Uuid,
) -> Result<PatientLink, ServiceError> {
    regional(
        services,
        actor,
        meta,
        "patient_link.read",
        "patient_link",
        Some(link_id.to_string()),
    )
    .await?;
    let row = store::by_id(&services.db, link_id)
        .await?
        .ok_or(ServiceError::NotFound("patient link"))?;
    link_view(&services.db, row).await
}

/// Every link, reversed or not, that names `patient` (the regional administrator).
pub async fn links_of(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    patient: Uuid,
) -> Result<Vec<PatientLink>, ServiceError> {
    regional(
        services,
        actor,
        meta,
        "patient_link.read",
        "patient",
        Some(patient.to_string()),
    )
    .await?;
    let mut out = Vec::new();
    for r in store::touching(&services.db, &[patient]).await? {
        out.push(link_view(&services.db, r).await?);
    }
    Ok(out)
}

/// What the regional administrator searches all records by: a kana prefix, a birth
/// date, or a patient number of any organisation.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub kana: Option<String>,
    pub birth_date: Option<String>,
    pub identifier: Option<String>,
}

/// The most records one search lists.
pub const RECORDS_MAX: u64 = 50;

/// Every record (merged ones too, each on its own) matching the query, for choosing
/// the records to merge (the regional administrator; audited as a search).
pub async fn find_records(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    q: RecordQuery,
) -> Result<Vec<MergeRecord>, ServiceError> {
    regional(services, actor, meta, "patient.search", "patient", None).await?;
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
    let birth_date = match q
        .birth_date
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
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
    let identifier = q
        .identifier
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(renkei_domain::identifier::normalize_identifier);
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    if kana.is_none() && birth_date.is_none() && identifier.is_none() {
        return Err(ServiceError::field(
            "kana",
            Rule::Required,
            "give kana, birth_date or identifier",
        ));
    }
    let db = &services.db;
    let rows = store::find_records(
        db,
        kana.as_deref(),
        birth_date,
        identifier.as_deref(),
        RECORDS_MAX,
    )
    .await?;
    let mut out = Vec::new();
    for row in rows {
        out.push(record_of(db, row).await?);
    }
    audit::record_now(
        services,
        meta,
        AuditRecord::by(actor, "patient.search", "patient", None, Outcome::Allowed)
            .detail(format!("merge search: {} result(s)", out.len())),
    )
    .await?;
    Ok(out)
}
