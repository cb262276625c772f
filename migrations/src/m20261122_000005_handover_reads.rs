//! Which facility has opened which incoming hand-over (連携受信箱の未読/既読): one row
//! per (hand-over, organisation), written the first time someone of that organisation
//! opens it. Additive: nothing else reads or changes because of it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Handovers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Practitioners {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum HandoverReads {
    Table,
    HandoverId,
    OrganizationId,
    ReadBy,
    ReadAt,
}

fn fk_to<T: IntoIden, TC: IntoIden, F: IntoIden, FC: IntoIden>(
    name: &str,
    from: F,
    from_col: FC,
    to: T,
    to_col: TC,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from, from_col)
        .to(to, to_col)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HandoverReads::Table)
                    .col(uuid(HandoverReads::HandoverId))
                    .col(uuid(HandoverReads::OrganizationId))
                    .col(uuid(HandoverReads::ReadBy))
                    .col(timestamp_with_time_zone(HandoverReads::ReadAt))
                    .primary_key(
                        Index::create()
                            .col(HandoverReads::HandoverId)
                            .col(HandoverReads::OrganizationId),
                    )
                    .foreign_key(&mut fk_to(
                        "fk_handover_reads_handover_id",
                        HandoverReads::Table,
                        HandoverReads::HandoverId,
                        Handovers::Table,
                        Handovers::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_handover_reads_organization_id",
                        HandoverReads::Table,
                        HandoverReads::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_handover_reads_read_by",
                        HandoverReads::Table,
                        HandoverReads::ReadBy,
                        Practitioners::Table,
                        Practitioners::Id,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HandoverReads::Table).to_owned())
            .await
    }
}
