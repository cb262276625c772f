//! E-mail notifications: each organisation's choice (the address and which events it
//! wants mailed) and the notifications already sent, so each is sent once. Both tables
//! are unpartitioned, with no foreign key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrganizationNotifications {
    Table,
    OrganizationId,
    Email,
    OnHandover,
    OnReport,
    OnNotice,
    EnabledAt,
}

#[derive(DeriveIden)]
enum NotificationsSent {
    Table,
    Key,
    OrganizationId,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrganizationNotifications::Table)
                    .if_not_exists()
                    .col(uuid(OrganizationNotifications::OrganizationId).primary_key())
                    .col(text(OrganizationNotifications::Email))
                    .col(boolean(OrganizationNotifications::OnHandover))
                    .col(boolean(OrganizationNotifications::OnReport))
                    .col(boolean(OrganizationNotifications::OnNotice))
                    .col(timestamp_with_time_zone(
                        OrganizationNotifications::EnabledAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationsSent::Table)
                    .if_not_exists()
                    .col(string(NotificationsSent::Key).primary_key())
                    .col(uuid(NotificationsSent::OrganizationId))
                    .col(timestamp_with_time_zone(NotificationsSent::SentAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NotificationsSent::Table).to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(OrganizationNotifications::Table)
                    .to_owned(),
            )
            .await
    }
}
