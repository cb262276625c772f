//! Entity for the `audit_checkpoints` table.

use sea_orm::entity::prelude::*;

/// A signed tree head of a region's audit tree.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub region: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tree_size: i64,
    #[sea_orm(column_type = "Text")]
    pub root_hash: String,
    pub at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub key_id: String,
    #[sea_orm(column_type = "Text")]
    pub signature: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
