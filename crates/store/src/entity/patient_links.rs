//! Entity for the `patient_links` table.

use sea_orm::entity::prelude::*;

/// A merge (名寄せ) of two records of one person: the merged-away record points at the
/// surviving one; an unmerge stamps the row and ends the link.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patient_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub merged_patient_id: Uuid,
    pub surviving_patient_id: Uuid,
    pub linked_at: DateTimeUtc,
    pub linked_by_practitioner_id: Option<Uuid>,
    pub linked_by_organization_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub unlinked_at: Option<DateTimeUtc>,
    pub unlinked_by_practitioner_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub unlink_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
