//! Entity for the `patient_demographics_history` table.

use sea_orm::entity::prelude::*;

/// One correction of a patient's demographics, with the values before and after.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patient_demographics_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub patient_id: Uuid,
    pub changed_at: DateTimeUtc,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    #[sea_orm(column_type = "Text")]
    pub before_json: String,
    #[sea_orm(column_type = "Text")]
    pub after_json: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
