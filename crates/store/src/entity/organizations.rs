//! Entity for the `organizations` table.

use sea_orm::entity::prelude::*;

/// A participating organisation (hospital, clinic, care provider).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// Organisation kind, stored as a string enum.
    pub kind: String,
    /// Secondary medical area.
    pub area: String,
    /// Users of this organisation must pass TOTP two-factor at login.
    pub require_totp: bool,
    pub created_at: DateTimeUtc,
    /// Telephone of the liaison office (地域連携室), printed for patients.
    pub phone: Option<String>,
    /// FAX number of the liaison office.
    pub fax: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// When the regional administrator deactivated it: its users can no longer log in
    /// or use tokens.
    pub deactivated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
