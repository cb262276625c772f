//! The planned transfer date (転院予定日) a hand-over agrees: proposed by the sender,
//! confirmed or changed by the receiver on acceptance. Two nullable `YYYY-MM-DD` text
//! columns on `handovers`; existing hand-overs have neither. And the telephone number of
//! an organisation's liaison office (地域連携室), printed on the patient's copy of the
//! plan: a nullable column on `organizations`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Handovers {
    Table,
    ProposedTransferDate,
    AgreedTransferDate,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Phone,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Handovers::ProposedTransferDate,
            Handovers::AgreedTransferDate,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Handovers::Table)
                        .add_column(string_len_null(col, 10))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(string_len_null(Organizations::Phone, 40))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::Phone)
                    .to_owned(),
            )
            .await?;
        for col in [
            Handovers::ProposedTransferDate,
            Handovers::AgreedTransferDate,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Handovers::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
