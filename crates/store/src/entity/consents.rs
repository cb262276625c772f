//! Entity for the `consents` table.

use sea_orm::entity::prelude::*;

/// The patient's consent to share a care plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan\'s region (二次保健医療圏), copied from the plan.
    pub region: String,
    pub scope: String,
    /// JSON array of organisation ids (scope `listed`), as text.
    #[sea_orm(column_type = "Text")]
    pub organizations: String,
    /// JSON array of purposes, as text.
    #[sea_orm(column_type = "Text")]
    pub purposes: String,
    pub method: String,
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_by_organization_id: Uuid,
    pub obtained_by: Uuid,
    pub obtained_at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub withdrawal_reason: Option<String>,
    pub row_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
