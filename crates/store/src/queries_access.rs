//! Queries for care teams, consent, break-glass grants and the audit log.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{audit_events, break_glass_grants, care_plans, care_team_members, consents};
use crate::error::StoreError;

pub use crate::entity::{
    audit_events::Model as AuditEventRow, break_glass_grants::Model as BreakGlassRow,
    care_team_members::Model as TeamMemberRow, consents::Model as ConsentRow,
};

type R<T> = Result<T, StoreError>;

pub async fn insert_team_member<C: ConnectionTrait>(c: &C, row: TeamMemberRow) -> R<()> {
    care_team_members::Entity::insert(care_team_members::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        organization_id: Set(row.organization_id),
        role: Set(row.role),
        stages: Set(row.stages),
        added_at: Set(row.added_at),
        added_by: Set(row.added_by),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn team_of<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<Vec<TeamMemberRow>> {
    Ok(care_team_members::Entity::find()
        .filter(care_team_members::Column::CarePlanId.eq(plan))
        .order_by_asc(care_team_members::Column::AddedAt)
        .all(c)
        .await?)
}

/// The care teams of several plans, by plan and then in the order members were added.
pub async fn teams_of<C: ConnectionTrait>(c: &C, plans: &[Uuid]) -> R<Vec<TeamMemberRow>> {
    Ok(care_team_members::Entity::find()
        .filter(care_team_members::Column::CarePlanId.is_in(plans.iter().copied()))
        .order_by_asc(care_team_members::Column::CarePlanId)
        .order_by_asc(care_team_members::Column::AddedAt)
        .all(c)
        .await?)
}

/// Plans on whose team `org` is (any role).
pub async fn plans_of_team_org<C: ConnectionTrait>(c: &C, org: Uuid) -> R<Vec<Uuid>> {
    Ok(care_team_members::Entity::find()
        .filter(care_team_members::Column::OrganizationId.eq(org))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.care_plan_id)
        .collect())
}

pub async fn insert_consent<C: ConnectionTrait>(c: &C, row: ConsentRow) -> R<()> {
    consents::Entity::insert(consents::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        scope: Set(row.scope),
        organizations: Set(row.organizations),
        purposes: Set(row.purposes),
        method: Set(row.method),
        signer: Set(row.signer),
        proxy_relationship: Set(row.proxy_relationship),
        obtained_by_organization_id: Set(row.obtained_by_organization_id),
        obtained_by: Set(row.obtained_by),
        obtained_at: Set(row.obtained_at),
        recorded_at: Set(row.recorded_at),
        withdrawn_at: Set(row.withdrawn_at),
        withdrawal_reason: Set(row.withdrawal_reason),
        row_version: Set(row.row_version),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn consents_of<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<Vec<ConsentRow>> {
    Ok(consents::Entity::find()
        .filter(consents::Column::CarePlanId.eq(plan))
        .order_by_asc(consents::Column::RecordedAt)
        .all(c)
        .await?)
}

/// The consents of several plans, by plan and then in the order they were recorded.
pub async fn consents_of_plans<C: ConnectionTrait>(c: &C, plans: &[Uuid]) -> R<Vec<ConsentRow>> {
    Ok(consents::Entity::find()
        .filter(consents::Column::CarePlanId.is_in(plans.iter().copied()))
        .order_by_asc(consents::Column::CarePlanId)
        .order_by_asc(consents::Column::RecordedAt)
        .all(c)
        .await?)
}

pub async fn consent_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<ConsentRow>> {
    Ok(consents::Entity::find_by_id(id).one(c).await?)
}

/// Withdraws a consent if it is still active; false if it was already withdrawn.
pub async fn withdraw_consent<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    at: DateTime<Utc>,
    reason: &str,
) -> R<bool> {
    let res = consents::Entity::update_many()
        .col_expr(consents::Column::WithdrawnAt, Expr::value(at))
        .col_expr(consents::Column::WithdrawalReason, Expr::value(reason))
        .col_expr(
            consents::Column::RowVersion,
            Expr::col(consents::Column::RowVersion).add(1),
        )
        .filter(consents::Column::Id.eq(id))
        .filter(consents::Column::WithdrawnAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn insert_break_glass<C: ConnectionTrait>(c: &C, row: BreakGlassRow) -> R<()> {
    break_glass_grants::Entity::insert(break_glass_grants::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        practitioner_id: Set(row.practitioner_id),
        organization_id: Set(row.organization_id),
        reason: Set(row.reason),
        granted_at: Set(row.granted_at),
        expires_at: Set(row.expires_at),
        reviewed_at: Set(row.reviewed_at),
        reviewed_by: Set(row.reviewed_by),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Whether the practitioner holds an unexpired grant on the plan.
pub async fn has_break_glass<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    plan: Uuid,
    now: DateTime<Utc>,
) -> R<bool> {
    Ok(break_glass_grants::Entity::find()
        .filter(break_glass_grants::Column::PractitionerId.eq(practitioner))
        .filter(break_glass_grants::Column::CarePlanId.eq(plan))
        .filter(break_glass_grants::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .is_some())
}

/// Plans the practitioner may currently read through break-glass.
pub async fn break_glass_plans<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    now: DateTime<Utc>,
) -> R<Vec<Uuid>> {
    Ok(break_glass_grants::Entity::find()
        .filter(break_glass_grants::Column::PractitionerId.eq(practitioner))
        .filter(break_glass_grants::Column::ExpiresAt.gt(now))
        .all(c)
        .await?
        .into_iter()
        .map(|g| g.care_plan_id)
        .collect())
}

pub async fn list_break_glass<C: ConnectionTrait>(c: &C, limit: u64) -> R<Vec<BreakGlassRow>> {
    Ok(break_glass_grants::Entity::find()
        .order_by_desc(break_glass_grants::Column::GrantedAt)
        .limit(limit)
        .all(c)
        .await?)
}

pub async fn review_break_glass<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    reviewer: Uuid,
    at: DateTime<Utc>,
) -> R<bool> {
    let res = break_glass_grants::Entity::update_many()
        .col_expr(break_glass_grants::Column::ReviewedAt, Expr::value(at))
        .col_expr(
            break_glass_grants::Column::ReviewedBy,
            Expr::value(reviewer),
        )
        .filter(break_glass_grants::Column::Id.eq(id))
        .filter(break_glass_grants::Column::ReviewedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Plans planned by `org`.
pub async fn plans_of_planner<C: ConnectionTrait>(
    c: &C,
    org: Uuid,
) -> R<Vec<crate::queries::CarePlanRow>> {
    Ok(care_plans::Entity::find()
        .filter(care_plans::Column::PlannerOrganizationId.eq(org))
        .order_by_asc(care_plans::Column::CreatedAt)
        .all(c)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub patient: Option<Uuid>,
    pub practitioner: Option<Uuid>,
    pub organization: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events with `seq` below this (paging backwards from the newest).
    pub before_seq: Option<i64>,
    /// Only these actions (any when empty).
    pub actions: Vec<String>,
    /// Only this outcome (`allowed` / `denied`).
    pub outcome: Option<String>,
}

/// Audit events matching the filter, newest first.
pub async fn audit_events<C: ConnectionTrait>(
    c: &C,
    f: &AuditFilter,
    limit: u64,
) -> R<Vec<AuditEventRow>> {
    let mut q = audit_events::Entity::find();
    if let Some(p) = f.patient {
        q = q.filter(audit_events::Column::PatientId.eq(p));
    }
    if let Some(p) = f.practitioner {
        q = q.filter(audit_events::Column::PractitionerId.eq(p));
    }
    if let Some(o) = f.organization {
        q = q.filter(audit_events::Column::OrganizationId.eq(o));
    }
    if let Some(t) = f.from {
        q = q.filter(audit_events::Column::At.gte(t));
    }
    if let Some(t) = f.to {
        q = q.filter(audit_events::Column::At.lt(t));
    }
    if let Some(s) = f.before_seq {
        q = q.filter(audit_events::Column::Seq.lt(s));
    }
    if !f.actions.is_empty() {
        q = q.filter(audit_events::Column::Action.is_in(f.actions.iter().cloned()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(audit_events::Column::Outcome.eq(o.as_str()));
    }
    Ok(q.order_by_desc(audit_events::Column::Seq)
        .limit(limit)
        .all(c)
        .await?)
}
