//! Entity for the `declarations` table.

use sea_orm::entity::prelude::*;

/// An organisation's declaration of the pathways and stages it takes (手挙げ); superseded ones are kept.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "declarations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub pathway: String,
    #[sea_orm(column_type = "Text")]
    pub stages: String,
    #[sea_orm(column_type = "Text")]
    pub note: String,
    pub declared_at: DateTimeUtc,
    pub declared_by: Uuid,
    pub superseded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
