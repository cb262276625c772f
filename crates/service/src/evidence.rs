//! The stored fields of each row kept under evidence (see `renkei_domain::evidence`):
//! one function per kind, used both when a write records the row's resulting state in
//! its audit event and when `verify` recomputes it, so the two cannot drift apart.
//!
//! Bookkeeping columns that change without changing what the row means are left out:
//! a plan's `updated_at` (touched by its write lock) and `row_version`.

use renkei_domain::chain::hash_time;
use renkei_domain::evidence::{Evidence, EvidenceKind};
use renkei_store::evidence::EvidencedRow;
use renkei_store::queries::{ApiTokenRow, CarePlanRow, PatientIdentifierRow, PatientRow};
use renkei_store::queries_access::{BreakGlassRow, ConsentRow, TeamMemberRow};
use sea_orm::ConnectionTrait;
use serde_json::json;
use uuid::Uuid;

use crate::ServiceError;

pub fn care_plan(r: &CarePlanRow) -> Evidence {
    let mut fields = json!({
            "patient_id": r.patient_id.to_string(),
            "pathway_version_id": r.pathway_version_id.to_string(),
            "planner_organization_id": r.planner_organization_id.to_string(),
            "status": r.status,
            "current_stage": r.current_stage,
            "stage_started": r.stage_started,
            "stage_ended": r.stage_ended,
            "started_at": hash_time(&r.started_at),
            "last_seq": r.last_seq,
            "head_hash": r.head_hash,
            "created_at": hash_time(&r.created_at),
    });
    // The variant, where the plan has one (a plan without hashes as before the column).
    if let (Some(v), Some(map)) = (&r.variant, fields.as_object_mut()) {
        map.insert("variant".into(), json!(v));
    }
    Evidence::of(EvidenceKind::CarePlan, r.id, fields)
}

pub fn care_team_member(r: &TeamMemberRow) -> Evidence {
    let mut fields = json!({
        "care_plan_id": r.care_plan_id.to_string(),
        "organization_id": r.organization_id.to_string(),
        "role": r.role,
        "stages": r.stages,
        "added_at": hash_time(&r.added_at),
        "added_by": r.added_by.map(|v| v.to_string()),
    });
    // The end of its access, once set (a row never ended hashes as before these columns).
    if let (Some(at), Some(map)) = (r.access_ends_at, fields.as_object_mut()) {
        map.insert("access_ends_on".into(), json!(r.access_ends_on));
        map.insert("access_ends_at".into(), json!(hash_time(&at)));
        map.insert("ended_at".into(), json!(r.ended_at.as_ref().map(hash_time)));
        map.insert("ended_by".into(), json!(r.ended_by.map(|v| v.to_string())));
        map.insert("end_reason".into(), json!(r.end_reason));
    }
    Evidence::of(EvidenceKind::CareTeamMember, r.id, fields)
}

pub fn consent(r: &ConsentRow) -> Evidence {
    Evidence::of(
        EvidenceKind::Consent,
        r.id,
        json!({
            "care_plan_id": r.care_plan_id.to_string(),
            "scope": r.scope,
            "organizations": r.organizations,
            "purposes": r.purposes,
            "method": r.method,
            "signer": r.signer,
            "proxy_relationship": r.proxy_relationship,
            "obtained_by_organization_id": r.obtained_by_organization_id.to_string(),
            "obtained_by": r.obtained_by.to_string(),
            "obtained_at": hash_time(&r.obtained_at),
            "recorded_at": hash_time(&r.recorded_at),
            "withdrawn_at": r.withdrawn_at.as_ref().map(hash_time),
            "withdrawal_reason": r.withdrawal_reason,
        }),
    )
}

pub fn break_glass(r: &BreakGlassRow) -> Evidence {
    Evidence::of(
        EvidenceKind::BreakGlass,
        r.id,
        json!({
            "care_plan_id": r.care_plan_id.to_string(),
            "practitioner_id": r.practitioner_id.to_string(),
            "organization_id": r.organization_id.to_string(),
            "reason": r.reason,
            "granted_at": hash_time(&r.granted_at),
            "expires_at": hash_time(&r.expires_at),
            "reviewed_at": r.reviewed_at.as_ref().map(hash_time),
            "reviewed_by": r.reviewed_by.map(|v| v.to_string()),
        }),
    )
}

pub fn token(r: &ApiTokenRow) -> Evidence {
    Evidence::of(
        EvidenceKind::Token,
        r.id,
        json!({
            "practitioner_id": r.practitioner_id.to_string(),
            "token_hash": r.token_hash,
            "label": r.label,
            "scopes": r.scopes,
            "created_at": hash_time(&r.created_at),
            "expires_at": r.expires_at.as_ref().map(hash_time),
            "revoked_at": r.revoked_at.as_ref().map(hash_time),
        }),
    )
}

/// A patient's demographics (identifiers are separate rows).
pub fn patient(r: &PatientRow) -> Evidence {
    Evidence::of(
        EvidenceKind::Patient,
        r.id,
        json!({
            "family_name": r.family_name,
            "given_name": r.given_name,
            "family_kana": r.family_kana,
            "given_kana": r.given_kana,
            "kana_key": r.kana_key,
            "birth_date": r.birth_date.to_string(),
            "sex": r.sex,
            "created_at": hash_time(&r.created_at),
        }),
    )
}

/// A patient number (カルテ番号): which organisation's namespace holds it decides which
/// organisation finds the patient.
pub fn patient_identifier(r: &PatientIdentifierRow) -> Evidence {
    Evidence::of(
        EvidenceKind::PatientIdentifier,
        r.id,
        json!({
            "patient_id": r.patient_id.to_string(),
            "organization_id": r.organization_id.to_string(),
            "value": r.value,
        }),
    )
}

/// A merge of two patient records (名寄せ): which record reads as which decides who
/// finds the patient, so the link and its reversal are kept under evidence.
pub fn patient_link(r: &renkei_store::patient_links::PatientLinkRow) -> Evidence {
    Evidence::of(
        EvidenceKind::PatientLink,
        r.id,
        json!({
            "survivor_id": r.survivor_id.to_string(),
            "merged_id": r.merged_id.to_string(),
            "reason": r.reason,
            "merged_by": r.merged_by.to_string(),
            "merged_by_organization": r.merged_by_organization.to_string(),
            "merged_at": hash_time(&r.merged_at),
            "reversed_by": r.reversed_by.map(|v| v.to_string()),
            "reversed_at": r.reversed_at.as_ref().map(hash_time),
            "reverse_reason": r.reverse_reason,
        }),
    )
}

/// The evidence of a stored row of any kind.
pub fn of(row: &EvidencedRow) -> Evidence {
    match row {
        EvidencedRow::CarePlan(r) => care_plan(r),
        EvidencedRow::CareTeamMember(r) => care_team_member(r),
        EvidencedRow::Consent(r) => consent(r),
        EvidencedRow::BreakGlass(r) => break_glass(r),
        EvidencedRow::Token(r) => token(r),
        EvidencedRow::Patient(r) => patient(r),
        EvidencedRow::PatientIdentifier(r) => patient_identifier(r),
        EvidencedRow::PatientLink(r) => patient_link(r),
    }
}

/// The evidence of a row as it now stands in the write's transaction: read back, so the
/// digest covers exactly what the database keeps (its timestamp precision included).
pub async fn current<C: ConnectionTrait>(
    c: &C,
    kind: EvidenceKind,
    id: Uuid,
) -> Result<Evidence, ServiceError> {
    let row = renkei_store::evidence::row_by_id(c, kind, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{} {id} vanished inside its own write", kind.label()))?;
    Ok(of(&row))
}
