//! Data: every care plan has its report-facts row from the moment it is made (the service
//! inserts it, stale, with the plan), so the background refresh finds the plans to
//! recompute by the stale rows' index alone instead of looking for plans without a row
//! among all plans every second. Plans made before have theirs inserted here, stale: the
//! refresh computes them.

use sea_orm_migration::prelude::*;

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

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Id,
    Region,
    PathwayVersionId,
    PlannerOrganizationId,
    Status,
}

#[derive(DeriveIden)]
enum PathwayVersions {
    Table,
    Id,
    Code,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now = chrono::Utc::now();
        let missing = Query::select()
            .column((CarePlans::Table, CarePlans::Id))
            .column((CarePlans::Table, CarePlans::Region))
            .column((PathwayVersions::Table, PathwayVersions::Code))
            .column((PathwayVersions::Table, PathwayVersions::Version))
            .column((CarePlans::Table, CarePlans::PlannerOrganizationId))
            .expr(Expr::val(false))
            // Recomputed before any report reads the row (it is stale); the day is the
            // refresh's to write.
            .expr(Expr::val(""))
            .expr(Expr::val(Option::<String>::None))
            .column((CarePlans::Table, CarePlans::Status))
            .expr(Expr::val("{}"))
            .expr(Expr::val(true))
            .expr(Expr::val(now))
            .from(CarePlans::Table)
            .inner_join(
                PathwayVersions::Table,
                Expr::col((PathwayVersions::Table, PathwayVersions::Id))
                    .equals((CarePlans::Table, CarePlans::PathwayVersionId)),
            )
            .and_where(
                Expr::col((CarePlans::Table, CarePlans::Id)).not_in_subquery(
                    Query::select()
                        .column(ReportFacts::CarePlanId)
                        .from(ReportFacts::Table)
                        .to_owned(),
                ),
            )
            .to_owned();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ReportFacts::Table)
                    .columns([
                        ReportFacts::CarePlanId,
                        ReportFacts::Region,
                        ReportFacts::PathwayCode,
                        ReportFacts::PathwayVersion,
                        ReportFacts::PlannerOrganizationId,
                        ReportFacts::StatisticsConsent,
                        ReportFacts::StartedOn,
                        ReportFacts::EndedOn,
                        ReportFacts::Status,
                        ReportFacts::Facts,
                        ReportFacts::Stale,
                        ReportFacts::ComputedAt,
                    ])
                    .select_from(missing)
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The rows inserted here are ordinary rows of plans; they stay.
        Ok(())
    }
}
