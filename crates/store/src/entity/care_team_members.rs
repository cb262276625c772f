//! Entity for the `care_team_members` table.

use sea_orm::entity::prelude::*;

/// An organisation on a care plan's care team, with its role and stages.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "care_team_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    pub organization_id: Uuid,
    pub role: String,
    /// JSON array of stage codes, as text.
    #[sea_orm(column_type = "Text")]
    pub stages: String,
    pub added_at: DateTimeUtc,
    pub added_by: Option<Uuid>,
    /// The last day of access (`YYYY-MM-DD`, Tokyo) when it was ended on a date or
    /// removed (then the day of removal).
    pub access_ends_on: Option<String>,
    /// The moment access stops: the Tokyo midnight after `access_ends_on`, or the
    /// moment of removal.
    pub access_ends_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_by: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub end_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
