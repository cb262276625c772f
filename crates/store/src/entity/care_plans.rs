//! Entity for the `care_plans` table.

use sea_orm::entity::prelude::*;

/// A care plan of one patient, following one pathway version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "care_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub patient_id: Uuid,
    pub pathway_version_id: Uuid,
    pub planner_organization_id: Uuid,
    /// The planning organisation's area (二次保健医療圏) when the plan was created; never
    /// changes. On PostgreSQL's partitioned layout, the partition key of the plan tables.
    pub region: String,
    /// Plan status, stored as a string enum.
    pub status: String,
    pub current_stage: String,
    /// Whether `current_stage` already has a `stage_start` entry.
    pub stage_started: bool,
    pub stage_ended: bool,
    pub started_at: DateTimeUtc,
    pub last_seq: i64,
    pub head_hash: String,
    /// Optimistic-concurrency counter.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The template variant chosen at enrolment (its code); `None` on a pathway version
    /// without variants.
    pub variant: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
