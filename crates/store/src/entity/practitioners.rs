//! Entity for the `practitioners` table.

use sea_orm::entity::prelude::*;

/// A practitioner (user) belonging to an organisation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "practitioners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub login: String,
    pub name: String,
    /// Profession, stored as a string enum.
    pub profession: String,
    pub organization_id: Uuid,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    /// JSON array of role names, stored as text.
    #[sea_orm(column_type = "Text")]
    pub roles: String,
    pub disabled_at: Option<DateTimeUtc>,
    pub failed_logins: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub recovery_codes: Option<String>,
    pub password_changed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
