//! The regional pathway council's meetings and decisions: written once, read by region;
//! a decision's link to the template version that carried it out is set later.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::{council_decisions as decisions, council_meetings as meetings};
use crate::error::StoreError;

pub use crate::entity::council_decisions::Model as DecisionRow;
pub use crate::entity::council_meetings::Model as MeetingRow;

type R<T> = Result<T, StoreError>;

pub async fn insert_meeting<C: ConnectionTrait>(c: &C, row: MeetingRow) -> R<()> {
    meetings::Entity::insert(meetings::ActiveModel {
        id: Set(row.id),
        region: Set(row.region),
        held_on: Set(row.held_on),
        title: Set(row.title),
        attending: Set(row.attending),
        snapshot: Set(row.snapshot),
        snapshot_filter: Set(row.snapshot_filter),
        created_by: Set(row.created_by),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn meeting_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<MeetingRow>> {
    Ok(meetings::Entity::find_by_id(id).one(c).await?)
}

/// The meetings of `region`, the latest held first (at most `limit`).
pub async fn meetings_of_region<C: ConnectionTrait>(
    c: &C,
    region: &str,
    limit: u64,
) -> R<Vec<MeetingRow>> {
    Ok(meetings::Entity::find()
        .filter(meetings::Column::Region.eq(region))
        .order_by_desc(meetings::Column::HeldOn)
        .order_by_desc(meetings::Column::CreatedAt)
        .order_by_desc(meetings::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

pub async fn insert_decision<C: ConnectionTrait>(c: &C, row: DecisionRow) -> R<()> {
    decisions::Entity::insert(decisions::ActiveModel {
        id: Set(row.id),
        meeting_id: Set(row.meeting_id),
        text: Set(row.text),
        pathway_code: Set(row.pathway_code),
        carried_by_version: Set(row.carried_by_version),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn decision_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<DecisionRow>> {
    Ok(decisions::Entity::find_by_id(id).one(c).await?)
}

/// The decisions of `meeting`, in the order they were recorded.
pub async fn decisions_of<C: ConnectionTrait>(c: &C, meeting: Uuid) -> R<Vec<DecisionRow>> {
    Ok(decisions::Entity::find()
        .filter(decisions::Column::MeetingId.eq(meeting))
        .order_by_asc(decisions::Column::CreatedAt)
        .order_by_asc(decisions::Column::Id)
        .all(c)
        .await?)
}

/// Links a decision to the template version (`pathway_versions.id`) that carried it
/// out; false when the decision does not exist.
pub async fn link_decision<C: ConnectionTrait>(c: &C, id: Uuid, version: Uuid) -> R<bool> {
    let res = decisions::Entity::update_many()
        .col_expr(
            decisions::Column::CarriedByVersion,
            Expr::value(Some(version)),
        )
        .filter(decisions::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}
