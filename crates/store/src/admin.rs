//! Counts for the administration screens: no patient data.

use std::collections::HashMap;

use renkei_domain::entry::PlanStatus;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entity::care_plans;
use crate::error::StoreError;

/// Number of active care plans per pathway version (by version id).
pub async fn active_plans_per_version<C: ConnectionTrait>(
    c: &C,
) -> Result<HashMap<Uuid, u64>, StoreError> {
    let ids: Vec<Uuid> = care_plans::Entity::find()
        .select_only()
        .column(care_plans::Column::PathwayVersionId)
        .filter(care_plans::Column::Status.eq(PlanStatus::Active.as_str()))
        .into_tuple()
        .all(c)
        .await?;
    let mut out = HashMap::new();
    for id in ids {
        *out.entry(id).or_insert(0) += 1;
    }
    Ok(out)
}
