//! Entity for the `pathway_versions` table.

use sea_orm::entity::prelude::*;

/// A published, immutable version of a care pathway definition.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pathway_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub code: String,
    pub version: i32,
    pub title_ja: String,
    pub title_en: String,
    pub hash: String,
    /// Canonical JSON snapshot of the pathway definition (hashed bytes).
    #[sea_orm(column_type = "Text")]
    pub snapshot: String,
    pub published_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
