//! The region (二次保健医療圏) a care plan belongs to, on the plan and on every row that
//! hangs off one plan: `region` TEXT NOT NULL, the `organizations.area` of the plan's
//! planning organisation when the plan was created; it never changes. A plan never spans
//! regions, so on PostgreSQL these tables can be partitioned by it (see [`crate::layout`]).
//!
//! Existing plans take the area of their planning organisation; their satellites take the
//! plan's. On PostgreSQL the column keeps no default once back-filled, so an insert that
//! forgets it fails; SQLite cannot drop a default, and keeps `''`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables that carry `region`, the plan first. `audit_events` gets its own column in
/// the audit log's migration.
pub const PLAN_SATELLITES: [&str; 7] = [
    "entries",
    "care_team_members",
    "consents",
    "handovers",
    "reports",
    "amendment_notices",
    "break_glass_grants",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres =
            manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres;
        let tables = std::iter::once("care_plans").chain(PLAN_SATELLITES);
        for table in tables.clone() {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN region TEXT NOT NULL DEFAULT ''"
            ))
            .await?;
        }
        db.execute_unprepared(
            "UPDATE care_plans SET region = COALESCE((SELECT o.area FROM organizations o \
             WHERE o.id = care_plans.planner_organization_id), '')",
        )
        .await?;
        for table in PLAN_SATELLITES {
            db.execute_unprepared(&format!(
                "UPDATE {table} SET region = COALESCE((SELECT p.region FROM care_plans p \
                 WHERE p.id = {table}.care_plan_id), '')"
            ))
            .await?;
        }
        if postgres {
            for table in tables {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ALTER COLUMN region DROP DEFAULT"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in std::iter::once("care_plans").chain(PLAN_SATELLITES) {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN region"))
                .await?;
        }
        Ok(())
    }
}
