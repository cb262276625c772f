//! The worklist's index: per-organisation work items of each plan, and the plan columns
//! that say when they must be recomputed (`work_stale`, `work_valid_until`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::entity::{care_plans, care_team_members};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// Entity for the `work_items` table.
pub mod work_items {
    use sea_orm::entity::prelude::*;

    /// One item of one organisation's worklist, as computed when its plan was last
    /// refreshed.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "work_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub organization_id: Uuid,
        /// The list's position in the worklist.
        pub list: i16,
        /// Microseconds since the epoch of the order key.
        pub due_key: i64,
        pub care_plan_id: Uuid,
        /// The item's place among the plan's items of the list.
        pub pos: i32,
        pub patient_id: Uuid,
        pub pathway: String,
        pub subject: String,
        pub state: String,
        pub due: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use work_items::Model as WorkItemRow;

fn work_stale() -> Expr {
    Expr::col((care_plans::Entity, Alias::new("work_stale")))
}

fn work_valid_until() -> Expr {
    Expr::col((care_plans::Entity, Alias::new("work_valid_until")))
}

/// Marks the plan's work items for recomputation (call in the transaction that changes
/// the plan, its team or its consent).
pub async fn mark_stale<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<()> {
    care_plans::Entity::update_many()
        .col_expr(Alias::new("work_stale"), Expr::value(true))
        .filter(care_plans::Column::Id.eq(plan))
        .exec(c)
        .await?;
    crate::council::mark_stale(c, plan).await?;
    Ok(())
}

/// Claims these plans for recomputation: clears their staleness and makes their items
/// expire now. A change that commits after the claim marks the plan stale again, so the
/// items computed from a read taken after the claim are either current or recomputed on
/// the next pass; and if the recomputation never writes (a crash), the expiry brings the
/// plan back. The claim is the only part of a refresh that needs the write turn besides
/// the final write of the items, so appends never wait for the goal engine.
pub async fn claim<C: ConnectionTrait>(c: &C, ids: &[Uuid], now: DateTime<Utc>) -> R<()> {
    for ids in ids.chunks(500) {
        care_plans::Entity::update_many()
            .col_expr(Alias::new("work_stale"), Expr::value(false))
            .col_expr(Alias::new("work_valid_until"), Expr::value(now))
            .filter(care_plans::Column::Id.is_in(ids.iter().copied()))
            .exec(c)
            .await?;
    }
    Ok(())
}

fn needs_refresh(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(work_stale().eq(true))
        .add(work_valid_until().lte(now))
}

/// Up to `limit` plans whose items are stale or expired at `now`, in id order.
pub async fn plans_to_refresh<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> R<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = Vec::new();
    for cond in [work_stale().eq(true), work_valid_until().lte(now)] {
        ids.extend(
            care_plans::Entity::find()
                .select_only()
                .column(care_plans::Column::Id)
                .filter(cond)
                .order_by_asc(care_plans::Column::Id)
                .limit(limit)
                .into_tuple::<Uuid>()
                .all(c)
                .await?,
        );
    }
    ids.sort();
    ids.dedup();
    ids.truncate(limit as usize);
    Ok(ids)
}

/// The plans on whose team `org` is whose items are stale or expired at `now`.
pub async fn stale_plans_of_org<C: ConnectionTrait>(
    c: &C,
    org: Uuid,
    now: DateTime<Utc>,
) -> R<Vec<Uuid>> {
    let team = Query::select()
        .column(care_team_members::Column::CarePlanId)
        .from(care_team_members::Entity)
        .and_where(care_team_members::Column::OrganizationId.eq(org))
        .to_owned();
    Ok(care_plans::Entity::find()
        .select_only()
        .column(care_plans::Column::Id)
        .filter(needs_refresh(now))
        .filter(care_plans::Column::Id.in_subquery(team))
        .order_by_asc(care_plans::Column::Id)
        .into_tuple::<Uuid>()
        .all(c)
        .await?)
}

/// Replaces the items of these plans (claimed by [`claim`]) by `items` and records each
/// plan's validity (`None`: its items hold until the plan changes). Staleness is left as it
/// is: a plan changed since its claim stays stale and is recomputed again.
pub async fn replace_items<C: ConnectionTrait>(
    c: &C,
    plans: &[(Uuid, Option<DateTime<Utc>>)],
    items: Vec<WorkItemRow>,
) -> R<()> {
    if plans.is_empty() {
        return Ok(());
    }
    work_items::Entity::delete_many()
        .filter(work_items::Column::CarePlanId.is_in(plans.iter().map(|p| p.0)))
        .exec(c)
        .await?;
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<work_items::ActiveModel> = items
            .by_ref()
            .take(500)
            .map(|r| work_items::ActiveModel {
                id: Set(r.id),
                organization_id: Set(r.organization_id),
                list: Set(r.list),
                due_key: Set(r.due_key),
                care_plan_id: Set(r.care_plan_id),
                pos: Set(r.pos),
                patient_id: Set(r.patient_id),
                pathway: Set(r.pathway),
                subject: Set(r.subject),
                state: Set(r.state),
                due: Set(r.due),
            })
            .collect();
        work_items::Entity::insert_many(chunk)
            .exec_without_returning(c)
            .await?;
    }
    // Plans sharing a validity are cleared in one statement.
    let mut by_until: Vec<(Option<DateTime<Utc>>, Vec<Uuid>)> = Vec::new();
    for (id, until) in plans {
        match by_until.iter_mut().find(|(u, _)| u == until) {
            Some((_, ids)) => ids.push(*id),
            None => by_until.push((*until, vec![*id])),
        }
    }
    for (until, ids) in by_until {
        for ids in ids.chunks(500) {
            care_plans::Entity::update_many()
                .col_expr(Alias::new("work_valid_until"), Expr::value(until))
                .filter(care_plans::Column::Id.is_in(ids.iter().copied()))
                .exec(c)
                .await?;
        }
    }
    Ok(())
}

fn list_filter(org: Uuid, list: i16, below: Option<i64>) -> Condition {
    let mut cond = Condition::all()
        .add(work_items::Column::OrganizationId.eq(org))
        .add(work_items::Column::List.eq(list));
    if let Some(b) = below {
        cond = cond.add(work_items::Column::DueKey.lt(b));
    }
    cond
}

/// The first `limit` items of `org`'s list `list` (with an order key below `below`, when
/// given), in due order, then plan, then place.
pub async fn items<C: ConnectionTrait>(
    c: &C,
    org: Uuid,
    list: i16,
    below: Option<i64>,
    limit: u64,
) -> R<Vec<WorkItemRow>> {
    Ok(work_items::Entity::find()
        .filter(list_filter(org, list, below))
        .order_by_asc(work_items::Column::DueKey)
        .order_by_asc(work_items::Column::CarePlanId)
        .order_by_asc(work_items::Column::Pos)
        .limit(limit)
        .all(c)
        .await?)
}

/// How many items `org`'s list `list` holds (with an order key below `below`, when given).
pub async fn count<C: ConnectionTrait>(c: &C, org: Uuid, list: i16, below: Option<i64>) -> R<u64> {
    Ok(work_items::Entity::find()
        .filter(list_filter(org, list, below))
        .count(c)
        .await?)
}

/// The plan's `(work_stale, work_valid_until)`.
pub async fn plan_state<C: ConnectionTrait>(
    c: &C,
    plan: Uuid,
) -> R<Option<(bool, Option<DateTime<Utc>>)>> {
    Ok(care_plans::Entity::find()
        .select_only()
        .column_as(work_stale(), "work_stale")
        .column_as(work_valid_until(), "work_valid_until")
        .filter(care_plans::Column::Id.eq(plan))
        .into_tuple::<(bool, Option<DateTime<Utc>>)>()
        .one(c)
        .await?)
}
