//! Entity for the `entries` table.

use sea_orm::entity::prelude::*;

/// An append-only, hash-chained entry of a care plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    pub seq: i64,
    pub stage: String,
    /// Entry kind, stored as a string enum.
    pub kind: String,
    pub effective_at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
    pub author_id: Uuid,
    pub organization_id: Uuid,
    /// Canonical JSON object of recorded values (column `values_json`).
    #[sea_orm(column_type = "Text")]
    pub values_json: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    /// Canonical JSON describing a variance, if any.
    #[sea_orm(column_type = "Text", nullable)]
    pub variance: Option<String>,
    /// Id of the entry this one amends, if any.
    pub amends: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
