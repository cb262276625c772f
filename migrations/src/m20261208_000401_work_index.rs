//! The worklist's index: per plan, whether its work items must be recomputed
//! (`work_stale`, set by every change to the plan, its team or its consent) and until when
//! the stored items hold by time alone (`work_valid_until`); and the items themselves, one
//! row per organisation that works on and sees the plan, so an organisation's list is one
//! indexed range.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    WorkStale,
    WorkValidUntil,
}

#[derive(DeriveIden)]
enum WorkItems {
    Table,
    Id,
    OrganizationId,
    List,
    DueKey,
    CarePlanId,
    Pos,
    PatientId,
    Pathway,
    Subject,
    State,
    Due,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CarePlans::Table)
                    .add_column(boolean(CarePlans::WorkStale).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CarePlans::Table)
                    .add_column(timestamp_with_time_zone_null(CarePlans::WorkValidUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_care_plans_work_stale")
                    .table(CarePlans::Table)
                    .col(CarePlans::WorkStale)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_care_plans_work_valid_until")
                    .table(CarePlans::Table)
                    .col(CarePlans::WorkValidUntil)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkItems::Table)
                    .col(uuid(WorkItems::Id).primary_key())
                    // The organisation whose list holds the item.
                    .col(uuid(WorkItems::OrganizationId))
                    // Which list: 4 schedule due, 5 goals overdue, 6 consent missing,
                    // 7 dropouts (the positions in the worklist).
                    .col(small_integer(WorkItems::List))
                    // Microseconds since the epoch of the order key (the due time; the
                    // last entry for a dropout; the smallest value when there is none).
                    .col(big_integer(WorkItems::DueKey))
                    .col(uuid(WorkItems::CarePlanId))
                    // The item's place among the plan's items of the list.
                    .col(integer(WorkItems::Pos))
                    .col(uuid(WorkItems::PatientId))
                    .col(string(WorkItems::Pathway))
                    .col(string(WorkItems::Subject))
                    .col(string(WorkItems::State))
                    .col(timestamp_with_time_zone_null(WorkItems::Due))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_work_items_list")
                    .table(WorkItems::Table)
                    .col(WorkItems::OrganizationId)
                    .col(WorkItems::List)
                    .col(WorkItems::DueKey)
                    .col(WorkItems::CarePlanId)
                    .col(WorkItems::Pos)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_work_items_care_plan")
                    .table(WorkItems::Table)
                    .col(WorkItems::CarePlanId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkItems::Table).to_owned())
            .await?;
        for index in ["ix_care_plans_work_valid_until", "ix_care_plans_work_stale"] {
            manager
                .drop_index(Index::drop().name(index).table(CarePlans::Table).to_owned())
                .await?;
        }
        for col in [CarePlans::WorkValidUntil, CarePlans::WorkStale] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CarePlans::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
