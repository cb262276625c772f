//! Entity for the `patient_links` table.

use sea_orm::entity::prelude::*;

/// A merge of two patient records (名寄せ): the merged record reads as the survivor
/// until the link is reversed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patient_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub survivor_id: Uuid,
    pub merged_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub merged_by: Uuid,
    pub merged_by_organization: Uuid,
    pub merged_at: DateTimeUtc,
    pub reversed_by: Option<Uuid>,
    pub reversed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reverse_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
