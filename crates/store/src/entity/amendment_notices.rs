//! Entity for the `amendment_notices` table.

use sea_orm::entity::prelude::*;

/// A notice to an organisation that read or printed an entry's old version that the entry
/// was corrected or voided; open until one of its users acknowledges it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "amendment_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    /// The correction or void.
    pub entry_id: Uuid,
    pub organization_id: Uuid,
    pub created_at: DateTimeUtc,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
