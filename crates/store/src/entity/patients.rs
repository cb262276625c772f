//! Entity for the `patients` table.

use sea_orm::entity::prelude::*;

/// A patient shared across the regional record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    /// Normalised full-width katakana of family + given name without spaces,
    /// indexed for prefix search.
    pub kana_key: String,
    pub birth_date: Date,
    /// Sex, stored as a string enum.
    pub sex: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
