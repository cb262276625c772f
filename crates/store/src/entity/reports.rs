//! Entity for the `reports` table.

use sea_orm::entity::prelude::*;

/// A report back (返書) owed to the planning organisation after a stage ends.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    pub stage: String,
    pub from_organization_id: Uuid,
    pub to_organization_id: Uuid,
    pub due_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub sent_by: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub stage_end_entry_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
