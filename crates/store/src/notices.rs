//! Amendment notices (修正のお知らせ): who read or printed a plan before an entry of it
//! was corrected or voided (from the audit log), the notices written for them, and their
//! acknowledgement.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{amendment_notices, audit_events};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// The audited actions by which an organisation saw a plan's entries: reading the plan,
/// its entries, goals or schedule, printing it, or reading a referral or report of it.
pub const READ_ACTIONS: &[&str] = &[
    "care_plan.read",
    "care_plan.print",
    "entry.list",
    "goal.read",
    "schedule.read",
    "handover.read",
    "handover.list",
    "report.read",
    "report.list",
];

/// The organisations (other than `except`) whose users read or printed the plan between
/// `from` and `to` (both included), by the audit log's allowed read events.
pub async fn readers_between<C: ConnectionTrait>(
    c: &C,
    plan: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Uuid,
) -> R<Vec<Uuid>> {
    let orgs: Vec<Option<Uuid>> = audit_events::Entity::find()
        .select_only()
        .column(audit_events::Column::OrganizationId)
        .filter(audit_events::Column::CarePlanId.eq(plan))
        .filter(audit_events::Column::Outcome.eq("allowed"))
        .filter(audit_events::Column::Action.is_in(READ_ACTIONS.iter().copied()))
        .filter(audit_events::Column::At.gte(from))
        .filter(audit_events::Column::At.lte(to))
        .filter(audit_events::Column::OrganizationId.is_not_null())
        .distinct()
        .into_tuple()
        .all(c)
        .await?;
    let set: BTreeSet<Uuid> = orgs
        .into_iter()
        .flatten()
        .filter(|o| *o != except)
        .collect();
    Ok(set.into_iter().collect())
}

/// A stored notice.
pub type NoticeRow = amendment_notices::Model;

/// Writes one open notice per organisation about the correction or void `entry`.
pub async fn insert_notices<C: ConnectionTrait>(
    c: &C,
    plan: Uuid,
    region: &str,
    entry: Uuid,
    organizations: &[Uuid],
    at: DateTime<Utc>,
) -> R<()> {
    for org in organizations {
        amendment_notices::Entity::insert(amendment_notices::ActiveModel {
            id: Set(Uuid::now_v7()),
            care_plan_id: Set(plan),
            region: Set(region.to_owned()),
            entry_id: Set(entry),
            organization_id: Set(*org),
            created_at: Set(at),
            acknowledged_by: Set(None),
            acknowledged_at: Set(None),
        })
        .exec_without_returning(c)
        .await?;
    }
    Ok(())
}

/// The open notices of an organisation, optionally of one plan, oldest first.
pub async fn open_notices<C: ConnectionTrait>(
    c: &C,
    org: Uuid,
    plan: Option<Uuid>,
) -> R<Vec<NoticeRow>> {
    let mut q = amendment_notices::Entity::find()
        .filter(amendment_notices::Column::OrganizationId.eq(org))
        .filter(amendment_notices::Column::AcknowledgedAt.is_null());
    if let Some(plan) = plan {
        q = q.filter(amendment_notices::Column::CarePlanId.eq(plan));
    }
    Ok(q.order_by_asc(amendment_notices::Column::CreatedAt)
        .order_by_asc(amendment_notices::Column::Id)
        .all(c)
        .await?)
}

pub async fn notice_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<NoticeRow>> {
    Ok(amendment_notices::Entity::find_by_id(id).one(c).await?)
}

/// Marks an open notice acknowledged; false when it was acknowledged already.
pub async fn acknowledge<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
) -> R<bool> {
    let res = amendment_notices::Entity::update_many()
        .col_expr(
            amendment_notices::Column::AcknowledgedBy,
            sea_orm::sea_query::Expr::value(Some(by)),
        )
        .col_expr(
            amendment_notices::Column::AcknowledgedAt,
            sea_orm::sea_query::Expr::value(Some(at)),
        )
        .filter(amendment_notices::Column::Id.eq(id))
        .filter(amendment_notices::Column::AcknowledgedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}
