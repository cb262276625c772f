//! Entity for the `council_meetings` table.

use sea_orm::entity::prelude::*;

/// A meeting of the regional pathway council, with the reports it reviewed frozen as
/// JSON text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "council_meetings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub region: String,
    pub held_on: Date,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    /// A JSON array of organisation ids.
    #[sea_orm(column_type = "Text")]
    pub attending: String,
    /// The reports reviewed, as read when the meeting was recorded (JSON).
    #[sea_orm(column_type = "Text")]
    pub snapshot: String,
    /// The filter the snapshot was read with (JSON).
    #[sea_orm(column_type = "Text")]
    pub snapshot_filter: String,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
