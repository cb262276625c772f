//! Data: the system organisation and practitioner that author automatic entries
//! (variances the system detects), so such entries are clearly marked and chained like
//! any other.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Fixed ids, known to the service layer.
pub const SYSTEM_ORGANIZATION_ID: &str = "00000000-0000-7000-8000-000000000001";
pub const SYSTEM_PRACTITIONER_ID: &str = "00000000-0000-7000-8000-000000000002";

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Code,
    Name,
    Kind,
    Area,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Practitioners {
    Table,
    Id,
    Login,
    Name,
    Profession,
    OrganizationId,
    CreatedAt,
    DisabledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let org = uuid::Uuid::parse_str(SYSTEM_ORGANIZATION_ID)
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let who = uuid::Uuid::parse_str(SYSTEM_PRACTITIONER_ID)
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let now = chrono::Utc::now();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Organizations::Table)
                    .columns([
                        Organizations::Id,
                        Organizations::Code,
                        Organizations::Name,
                        Organizations::Kind,
                        Organizations::Area,
                        Organizations::CreatedAt,
                    ])
                    .values_panic([
                        org.into(),
                        "_system".into(),
                        "Renkei（自動判定）".into(),
                        "municipality".into(),
                        "-".into(),
                        now.into(),
                    ])
                    .to_owned(),
            )
            .await?;
        // Disabled: it can never log in or hold a working token.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Practitioners::Table)
                    .columns([
                        Practitioners::Id,
                        Practitioners::Login,
                        Practitioners::Name,
                        Practitioners::Profession,
                        Practitioners::OrganizationId,
                        Practitioners::CreatedAt,
                        Practitioners::DisabledAt,
                    ])
                    .values_panic([
                        who.into(),
                        "_system".into(),
                        "システム（自動判定）".into(),
                        "physician".into(),
                        org.into(),
                        now.into(),
                        now.into(),
                    ])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Practitioners::Table)
                    .and_where(Expr::col(Practitioners::Login).eq("_system"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Organizations::Table)
                    .and_where(Expr::col(Organizations::Code).eq("_system"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
