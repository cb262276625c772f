//! Reports back (返書) from the organisation that ran a stage to the planner.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::reports;
use crate::error::StoreError;

pub use crate::entity::reports::Model as ReportRow;

type R<T> = Result<T, StoreError>;

pub async fn report_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<ReportRow>> {
    Ok(reports::Entity::find_by_id(id).one(c).await?)
}

/// The reports of one plan.
pub async fn reports_of_plan<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<Vec<ReportRow>> {
    Ok(reports::Entity::find()
        .filter(reports::Column::CarePlanId.eq(plan))
        .all(c)
        .await?)
}

/// Records that `by` sent the report at `at`.
pub async fn mark_report_sent<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
) -> R<()> {
    reports::Entity::update_many()
        .col_expr(reports::Column::SentAt, Expr::value(Some(at)))
        .col_expr(reports::Column::SentBy, Expr::value(Some(by)))
        .filter(reports::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}
