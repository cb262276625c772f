//! Amendment notices (修正のお知らせ): when an entry is corrected or voided, one row per
//! organisation that read or printed the old version, open until one of its users
//! acknowledges it. Additive: nothing else reads or changes because of it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Entries {
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
enum AmendmentNotices {
    Table,
    Id,
    CarePlanId,
    EntryId,
    OrganizationId,
    CreatedAt,
    AcknowledgedBy,
    AcknowledgedAt,
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
                    .table(AmendmentNotices::Table)
                    .col(uuid(AmendmentNotices::Id).primary_key())
                    .col(uuid(AmendmentNotices::CarePlanId))
                    // The correction or void the notice is about.
                    .col(uuid(AmendmentNotices::EntryId))
                    .col(uuid(AmendmentNotices::OrganizationId))
                    .col(timestamp_with_time_zone(AmendmentNotices::CreatedAt))
                    .col(uuid_null(AmendmentNotices::AcknowledgedBy))
                    .col(timestamp_with_time_zone_null(
                        AmendmentNotices::AcknowledgedAt,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_amendment_notices_care_plan_id",
                        AmendmentNotices::Table,
                        AmendmentNotices::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_amendment_notices_entry_id",
                        AmendmentNotices::Table,
                        AmendmentNotices::EntryId,
                        Entries::Table,
                        Entries::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_amendment_notices_organization_id",
                        AmendmentNotices::Table,
                        AmendmentNotices::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_amendment_notices_acknowledged_by",
                        AmendmentNotices::Table,
                        AmendmentNotices::AcknowledgedBy,
                        Practitioners::Table,
                        Practitioners::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_amendment_notices_entry_org")
                    .table(AmendmentNotices::Table)
                    .col(AmendmentNotices::EntryId)
                    .col(AmendmentNotices::OrganizationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_amendment_notices_org_plan")
                    .table(AmendmentNotices::Table)
                    .col(AmendmentNotices::OrganizationId)
                    .col(AmendmentNotices::CarePlanId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AmendmentNotices::Table).to_owned())
            .await
    }
}
