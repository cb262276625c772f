//! Entity for the `handover_reads` table.

use sea_orm::entity::prelude::*;

/// The first time someone of an organisation opened a hand-over (its 既読 mark).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handover_reads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub handover_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: Uuid,
    pub read_by: Uuid,
    pub read_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
