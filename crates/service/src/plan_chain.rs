//! Writing to a plan's hash chain, shared by every use case that appends to it: the
//! chained insert that moves the plan's head, the stage state of a stored plan, the
//! published template a plan pins and the process entries (hand-over, report,
//! lifecycle, individualisation) that do not move the stage.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use renkei_domain::entry::{EntryKind, PlanState, PlanStatus};
use renkei_store::queries::{self, CarePlanRow, EntryRow};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use uuid::Uuid;

use crate::pathways::PublishedPathway;
use crate::{Actor, ErrorCode, ServiceError, Services, truncate_micros};
use renkei_domain::chain::{ChainedEntry, GENESIS_HASH, canonical};

pub(crate) fn conflict(message: impl Into<String>) -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::InvalidTransition,
        message: message.into(),
    }
}

/// The code of an organisation (empty if unknown).
pub(crate) async fn org_code<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<String, ServiceError> {
    Ok(queries::organization_by_id(c, id)
        .await?
        .map(|o| o.code)
        .unwrap_or_default())
}

impl Services {
    /// The published template version the plan pins.
    pub(crate) fn pathway_of_plan(
        &self,
        plan: &CarePlanRow,
    ) -> Result<Arc<PublishedPathway>, ServiceError> {
        self.pathways
            .for_plan(plan.pathway_version_id, plan.variant.as_deref())
            .cloned()
            .ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!(
                    "care plan {} pins unknown pathway version {}",
                    plan.id,
                    plan.pathway_version_id
                ))
            })
    }

    /// Appends a process entry (hand-over, report, lifecycle, individualisation) to the
    /// plan's chain without changing its stage state.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per process entry kind; the fields are all distinct"
    )]
    pub(crate) async fn process_entry<C: ConnectionTrait>(
        &self,
        txn: &C,
        actor: &Actor,
        plan: &CarePlanRow,
        kind: EntryKind,
        stage: &str,
        values: Value,
        note: Option<String>,
    ) -> Result<EntryRow, ServiceError> {
        // Re-read: the plan's head may have moved earlier in this transaction.
        let plan = queries::care_plan_by_id(txn, plan.id)
            .await?
            .ok_or(ServiceError::NotFound("care plan"))?;
        let state = plan_state(&plan)?;
        let now = self.now();
        insert_chained(
            txn,
            &plan,
            ChainFields {
                author_id: actor.practitioner_id,
                organization_id: actor.organization_id,
                stage: stage.to_owned(),
                kind,
                effective_at: now,
                recorded_at: now,
                values,
                note,
                variance: None,
                amends: None,
                reason: None,
            },
            &state,
        )
        .await
    }
}

/// The fields of a new chained entry.
pub(crate) struct ChainFields {
    pub author_id: Uuid,
    pub organization_id: Uuid,
    pub stage: String,
    pub kind: EntryKind,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub values: Value,
    pub note: Option<String>,
    pub variance: Option<Value>,
    pub amends: Option<Uuid>,
    pub reason: Option<String>,
}

/// Appends one entry to the plan's chain (the caller holds the plan's lock, taken with
/// `lock_care_plan_near` in the same transaction, and read `plan` after taking it) and moves
/// the plan's head and state to `next`.
pub(crate) async fn insert_chained<C: ConnectionTrait>(
    txn: &C,
    plan: &CarePlanRow,
    f: ChainFields,
    next: &PlanState,
) -> Result<EntryRow, ServiceError> {
    let seq = plan.last_seq + 1;
    let prev_hash = if plan.last_seq == 0 {
        GENESIS_HASH.to_owned()
    } else {
        plan.head_hash.clone()
    };
    let chained = ChainedEntry {
        id: Uuid::now_v7(),
        care_plan_id: plan.id,
        seq,
        stage: f.stage,
        kind: f.kind.as_str().to_owned(),
        effective_at: truncate_micros(f.effective_at),
        recorded_at: truncate_micros(f.recorded_at),
        author_id: f.author_id,
        organization_id: f.organization_id,
        values_json: canonical(&f.values),
        note: f.note,
        variance_json: f.variance.as_ref().map(canonical),
        amends: f.amends,
        reason: f.reason,
        prev_hash,
    };
    let hash = chained.compute_hash();
    let row = EntryRow {
        id: chained.id,
        care_plan_id: plan.id,
        region: plan.region.clone(),
        seq,
        stage: chained.stage,
        kind: chained.kind,
        effective_at: chained.effective_at,
        recorded_at: chained.recorded_at,
        author_id: chained.author_id,
        organization_id: chained.organization_id,
        values_json: chained.values_json,
        note: chained.note,
        variance: chained.variance_json,
        amends: chained.amends,
        reason: chained.reason,
        prev_hash: chained.prev_hash,
        hash: hash.clone(),
    };
    queries::insert_entry(txn, row.clone()).await?;
    queries::advance_care_plan(
        txn,
        plan.id,
        &plan.region,
        seq,
        &hash,
        next.status.as_str(),
        &next.current_stage,
        next.stage_started,
        next.stage_ended,
    )
    .await?;
    Ok(row)
}

/// The stage state of a stored plan row.
pub(crate) fn plan_state(plan: &CarePlanRow) -> Result<PlanState, ServiceError> {
    Ok(PlanState {
        status: PlanStatus::parse(&plan.status)
            .ok_or_else(|| anyhow::anyhow!("care plan {} has unknown status", plan.id))?,
        current_stage: plan.current_stage.clone(),
        stage_started: plan.stage_started,
        stage_ended: plan.stage_ended,
        started_at: plan.started_at,
    })
}
