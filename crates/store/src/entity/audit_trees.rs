//! Entity for the `audit_trees` table.

use sea_orm::entity::prelude::*;

/// A region's audit tree: its size and compact frontier (see
/// `renkei_domain::merkle::Frontier`), written only by the region's sequencer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_trees")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub region: String,
    pub tree_size: i64,
    #[sea_orm(column_type = "Text")]
    pub frontier: String,
    #[sea_orm(column_type = "Text")]
    pub root_hash: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
