//! The council's report facts: one row per care plan with the plan-level columns the
//! report filters read and the plan's facts as JSON (`facts`, versioned by its `v`),
//! marked stale in the transaction of every change to the plan and recomputed in batches
//! before a report reads them. A plan without a row is computed the same way.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportFacts {
    Table,
    CarePlanId,
    Region,
    PathwayCode,
    PathwayVersion,
    PlannerOrganizationId,
    StatisticsConsent,
    StartedOn,
    EndedOn,
    Status,
    Facts,
    Stale,
    ComputedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReportFacts::Table)
                    .col(uuid(ReportFacts::CarePlanId).primary_key())
                    .col(string(ReportFacts::Region))
                    .col(string(ReportFacts::PathwayCode))
                    .col(integer(ReportFacts::PathwayVersion))
                    .col(uuid(ReportFacts::PlannerOrganizationId))
                    .col(boolean(ReportFacts::StatisticsConsent))
                    // Tokyo days, `YYYY-MM-DD` (they order as text).
                    .col(string(ReportFacts::StartedOn))
                    .col(string_null(ReportFacts::EndedOn))
                    .col(string(ReportFacts::Status))
                    .col(text(ReportFacts::Facts))
                    .col(boolean(ReportFacts::Stale).default(false))
                    .col(timestamp_with_time_zone(ReportFacts::ComputedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_report_facts_stale")
                    .table(ReportFacts::Table)
                    .col(ReportFacts::Stale)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_report_facts_pathway")
                    .table(ReportFacts::Table)
                    .col(ReportFacts::PathwayCode)
                    .col(ReportFacts::StartedOn)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReportFacts::Table).to_owned())
            .await
    }
}
