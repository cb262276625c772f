//! Entity for the `organization_notifications` table.

use sea_orm::entity::prelude::*;

/// One organisation's choice of e-mail notifications.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub email: String,
    pub on_handover: bool,
    pub on_report: bool,
    pub on_notice: bool,
    pub enabled_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
