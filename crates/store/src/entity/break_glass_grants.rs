//! Entity for the `break_glass_grants` table.

use sea_orm::entity::prelude::*;

/// Emergency read access outside the care team, time-limited and reviewed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "break_glass_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    pub practitioner_id: Uuid,
    pub organization_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub granted_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub reviewed_at: Option<DateTimeUtc>,
    pub reviewed_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
