//! The audit log's writes and its chain scan: the head row (one row, the chain's end)
//! and the events. The chain's hashing rules live in the service; here is only how the
//! rows are read and written.

use chrono::{DateTime, Utc};
use renkei_domain::ids::{OrgId, PatientId, PlanId, PractitionerId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{audit_events, audit_head};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// The id of the head row.
const HEAD: i32 = 1;

/// The audit chain's head: the last sequence number taken and the last event's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub last_seq: i64,
    pub head_hash: String,
}

/// One stored audit event, every column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub practitioner_id: Option<PractitionerId>,
    pub organization_id: Option<OrgId>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<PatientId>,
    pub care_plan_id: Option<PlanId>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub evidence: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<audit_events::Model> for AuditEvent {
    fn from(m: audit_events::Model) -> Self {
        AuditEvent {
            id: m.id,
            seq: m.seq,
            at: m.at,
            practitioner_id: m.practitioner_id.map(PractitionerId::from),
            organization_id: m.organization_id.map(OrgId::from),
            action: m.action,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            patient_id: m.patient_id.map(PatientId::from),
            care_plan_id: m.care_plan_id.map(PlanId::from),
            outcome: m.outcome,
            request_id: m.request_id,
            client_addr: m.client_addr,
            detail: m.detail,
            evidence: m.evidence,
            prev_hash: m.prev_hash,
            hash: m.hash,
        }
    }
}

/// The head row, if it exists.
pub async fn head<C: ConnectionTrait>(c: &C) -> R<Option<AuditHead>> {
    Ok(audit_head::Entity::find_by_id(HEAD)
        .one(c)
        .await?
        .map(|h| AuditHead {
            last_seq: h.last_seq,
            head_hash: h.head_hash,
        }))
}

/// Takes the next sequence number: one `UPDATE … RETURNING`, so on PostgreSQL it takes
/// the head's row lock until the transaction ends and hands back the previous event's
/// hash in the same statement. Returns the head after the increment (`last_seq` is the
/// number taken), or `None` when the head row is missing.
pub async fn take_next_seq<C: ConnectionTrait>(c: &C) -> R<Option<AuditHead>> {
    Ok(audit_head::Entity::update_many()
        .col_expr(
            audit_head::Column::LastSeq,
            Expr::col(audit_head::Column::LastSeq).add(1),
        )
        .filter(audit_head::Column::Id.eq(HEAD))
        .exec_with_returning(c)
        .await?
        .pop()
        .map(|h| AuditHead {
            last_seq: h.last_seq,
            head_hash: h.head_hash,
        }))
}

/// Inserts an event whose hash is already computed.
pub async fn insert_event<C: ConnectionTrait>(c: &C, e: &AuditEvent) -> R<()> {
    audit_events::Entity::insert(audit_events::ActiveModel {
        id: Set(e.id),
        seq: Set(e.seq),
        at: Set(e.at),
        practitioner_id: Set(e.practitioner_id.map(Uuid::from)),
        organization_id: Set(e.organization_id.map(Uuid::from)),
        action: Set(e.action.clone()),
        resource_type: Set(e.resource_type.clone()),
        resource_id: Set(e.resource_id.clone()),
        patient_id: Set(e.patient_id.map(Uuid::from)),
        care_plan_id: Set(e.care_plan_id.map(Uuid::from)),
        outcome: Set(e.outcome.clone()),
        request_id: Set(e.request_id.clone()),
        client_addr: Set(e.client_addr.clone()),
        detail: Set(e.detail.clone()),
        evidence: Set(e.evidence.clone()),
        prev_hash: Set(e.prev_hash.clone()),
        hash: Set(e.hash.clone()),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Records the newest event's hash in the head row.
pub async fn set_head_hash<C: ConnectionTrait>(c: &C, hash: &str) -> R<()> {
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::HeadHash, Expr::value(hash))
        .filter(audit_head::Column::Id.eq(HEAD))
        .exec(c)
        .await?;
    Ok(())
}

/// Up to `limit` events in sequence order, after `after_seq` (from the start when
/// `None`).
pub async fn events_page<C: ConnectionTrait>(
    c: &C,
    after_seq: Option<i64>,
    limit: u64,
) -> R<Vec<AuditEvent>> {
    let mut q = audit_events::Entity::find().order_by_asc(audit_events::Column::Seq);
    if let Some(after) = after_seq {
        q = q.filter(audit_events::Column::Seq.gt(after));
    }
    Ok(q.limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}
