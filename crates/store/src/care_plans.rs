//! Changes to a care plan's row beyond the append path.

use renkei_domain::ids::PlanId;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::care_plans;
use crate::error::StoreError;

/// Moves the plan onto another published version of its pathway.
pub async fn set_pathway_version<C: ConnectionTrait>(
    c: &C,
    plan: PlanId,
    pathway_version: Uuid,
    variant: Option<&str>,
) -> Result<(), StoreError> {
    care_plans::Entity::update_many()
        .col_expr(
            care_plans::Column::PathwayVersionId,
            Expr::value(pathway_version),
        )
        .col_expr(
            care_plans::Column::Variant,
            Expr::value(variant.map(str::to_owned)),
        )
        .col_expr(
            sea_orm::sea_query::Alias::new("work_stale"),
            Expr::value(true),
        )
        .filter(care_plans::Column::Id.eq(plan.0))
        .exec(c)
        .await?;
    crate::council::mark_stale(c, plan.0).await?;
    Ok(())
}
