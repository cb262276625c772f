//! Entity for the `handovers` table.

use sea_orm::entity::prelude::*;

/// A hand-over of a care plan to another organisation for the next stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handovers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    pub from_organization_id: Uuid,
    pub to_organization_id: Uuid,
    pub from_stage: String,
    pub stage: String,
    pub state: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub decline_reason: Option<String>,
    pub row_version: i32,
    pub proposed_by: Uuid,
    pub proposed_at: DateTimeUtc,
    pub answered_by: Option<Uuid>,
    pub answered_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// 転院予定日 proposed by the sender, `YYYY-MM-DD`.
    pub proposed_transfer_date: Option<String>,
    /// 転院予定日 agreed on acceptance, `YYYY-MM-DD`.
    pub agreed_transfer_date: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
