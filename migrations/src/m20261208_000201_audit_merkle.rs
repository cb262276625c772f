//! The audit log as a Merkle log (RFC 9162): events are inserted unsequenced with their
//! leaf hash and region, and a sequencer per region later gives them their `seq`, extends
//! the region's tree and signs a checkpoint. So `audit_events` gains `region`,
//! `leaf_hash` and an insertion-order `local_id`; `seq`, `prev_hash` and `hash` become
//! nullable (the chain fields are kept for the events written before, which stay leaves
//! of region `""` in their order); `seq` is unique per region. New tables: `audit_trees`
//! (each region's tree size and compact frontier, written only by its sequencer) and
//! `audit_checkpoints`. The old head row is no longer read or written.
//!
//! SQLite cannot relax NOT NULL in place, so there the table is rebuilt, keeping every
//! row; `local_id` is its rowid (INTEGER PRIMARY KEY). PostgreSQL alters it in place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    r#"CREATE TABLE "audit_events_merkle" (
        "local_id" integer NOT NULL PRIMARY KEY,
        "id" uuid_text NOT NULL UNIQUE,
        "region" text NOT NULL DEFAULT '',
        "seq" integer NULL,
        "at" timestamp_with_timezone_text NOT NULL,
        "practitioner_id" uuid_text NULL,
        "organization_id" uuid_text NULL,
        "action" varchar NOT NULL,
        "resource_type" varchar NOT NULL,
        "resource_id" varchar NULL,
        "patient_id" uuid_text NULL,
        "care_plan_id" uuid_text NULL,
        "outcome" varchar NOT NULL,
        "request_id" varchar NULL,
        "client_addr" varchar NULL,
        "detail" text NULL,
        "evidence" text NULL,
        "leaf_hash" text NULL,
        "prev_hash" varchar NULL,
        "hash" varchar NULL
    )"#,
    r#"INSERT INTO "audit_events_merkle" ("id", "region", "seq", "at", "practitioner_id",
        "organization_id", "action", "resource_type", "resource_id", "patient_id",
        "care_plan_id", "outcome", "request_id", "client_addr", "detail", "evidence",
        "prev_hash", "hash")
      SELECT "id", '', "seq", "at", "practitioner_id", "organization_id", "action",
        "resource_type", "resource_id", "patient_id", "care_plan_id", "outcome",
        "request_id", "client_addr", "detail", "evidence", "prev_hash", "hash"
      FROM "audit_events" ORDER BY "seq""#,
    r#"DROP TABLE "audit_events""#,
    r#"ALTER TABLE "audit_events_merkle" RENAME TO "audit_events""#,
    r#"CREATE INDEX "idx_audit_events_patient_at" ON "audit_events" ("patient_id", "at")"#,
    r#"CREATE INDEX "idx_audit_events_practitioner_at" ON "audit_events" ("practitioner_id", "at")"#,
    r#"CREATE INDEX "idx_audit_events_organization_at" ON "audit_events" ("organization_id", "at")"#,
    r#"CREATE INDEX "idx_audit_events_at" ON "audit_events" ("at")"#,
];

const POSTGRES_UP: &[&str] = &[
    r#"ALTER TABLE "audit_events" ADD COLUMN "local_id" BIGSERIAL NOT NULL"#,
    r#"ALTER TABLE "audit_events" ADD COLUMN "region" TEXT NOT NULL DEFAULT ''"#,
    r#"ALTER TABLE "audit_events" ADD COLUMN "leaf_hash" TEXT NULL"#,
    r#"ALTER TABLE "audit_events" ALTER COLUMN "seq" DROP NOT NULL"#,
    r#"ALTER TABLE "audit_events" ALTER COLUMN "prev_hash" DROP NOT NULL"#,
    r#"ALTER TABLE "audit_events" ALTER COLUMN "hash" DROP NOT NULL"#,
    r#"DROP INDEX "uq_audit_events_seq""#,
];

/// Both backends, after the table has its new shape.
const COMMON_UP: &[&str] = &[
    r#"CREATE UNIQUE INDEX "uq_audit_events_region_seq" ON "audit_events" ("region", "seq")"#,
    r#"CREATE INDEX "idx_audit_events_pending" ON "audit_events" ("region", "local_id") WHERE "seq" IS NULL"#,
];

#[derive(DeriveIden)]
enum AuditTrees {
    Table,
    Region,
    TreeSize,
    Frontier,
    RootHash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    Region,
    TreeSize,
    RootHash,
    At,
    KeyId,
    Signature,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let own: &[&str] = match db.get_database_backend() {
            DbBackend::Sqlite => SQLITE_UP,
            _ => POSTGRES_UP,
        };
        // One call, so every statement runs on the same pooled connection in order (a
        // table rebuilt on one SQLite connection and renamed on another can fail).
        let script: Vec<&str> = own.iter().chain(COMMON_UP).copied().collect();
        db.execute_unprepared(&script.join(";\n")).await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditTrees::Table)
                    .col(
                        ColumnDef::new(AuditTrees::Region)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditTrees::TreeSize)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditTrees::Frontier).text().not_null())
                    .col(ColumnDef::new(AuditTrees::RootHash).text().not_null())
                    .col(
                        ColumnDef::new(AuditTrees::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(ColumnDef::new(AuditCheckpoints::Region).text().not_null())
                    .col(
                        ColumnDef::new(AuditCheckpoints::TreeSize)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditCheckpoints::RootHash).text().not_null())
                    .col(
                        ColumnDef::new(AuditCheckpoints::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditCheckpoints::KeyId).text().not_null())
                    .col(
                        ColumnDef::new(AuditCheckpoints::Signature)
                            .text()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AuditCheckpoints::Region)
                            .col(AuditCheckpoints::TreeSize),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditCheckpoints::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditTrees::Table).to_owned())
            .await?;
        let db = manager.get_connection();
        let own: &[&str] = match db.get_database_backend() {
            DbBackend::Sqlite => SQLITE_DOWN,
            _ => POSTGRES_DOWN,
        };
        db.execute_unprepared(&own.join(";\n")).await?;
        Ok(())
    }
}

/// Back to one chain: only for development databases. Events not yet sequenced, and
/// every region but `""`, cannot be expressed in the old shape and are dropped.
const SQLITE_DOWN: &[&str] = &[
    r#"CREATE TABLE "audit_events_chain" ( "id" uuid_text NOT NULL PRIMARY KEY, "seq" integer NOT NULL, "at" timestamp_with_timezone_text NOT NULL, "practitioner_id" uuid_text NULL, "organization_id" uuid_text NULL, "action" varchar NOT NULL, "resource_type" varchar NOT NULL, "resource_id" varchar NULL, "patient_id" uuid_text NULL, "care_plan_id" uuid_text NULL, "outcome" varchar NOT NULL, "request_id" varchar NULL, "client_addr" varchar NULL, "detail" text NULL, "prev_hash" varchar NOT NULL, "hash" varchar NOT NULL , "evidence" text NULL)"#,
    r#"INSERT INTO "audit_events_chain" SELECT "id", "seq", "at", "practitioner_id", "organization_id", "action", "resource_type", "resource_id", "patient_id", "care_plan_id", "outcome", "request_id", "client_addr", "detail", COALESCE("prev_hash", ''), COALESCE("hash", ''), "evidence" FROM "audit_events" WHERE "seq" IS NOT NULL AND "region" = ''"#,
    r#"DROP TABLE "audit_events""#,
    r#"ALTER TABLE "audit_events_chain" RENAME TO "audit_events""#,
    r#"CREATE UNIQUE INDEX "uq_audit_events_seq" ON "audit_events" ("seq")"#,
    r#"CREATE INDEX "idx_audit_events_patient_at" ON "audit_events" ("patient_id", "at")"#,
    r#"CREATE INDEX "idx_audit_events_practitioner_at" ON "audit_events" ("practitioner_id", "at")"#,
    r#"CREATE INDEX "idx_audit_events_organization_at" ON "audit_events" ("organization_id", "at")"#,
    r#"CREATE INDEX "idx_audit_events_at" ON "audit_events" ("at")"#,
];

const POSTGRES_DOWN: &[&str] = &[
    r#"DROP INDEX "idx_audit_events_pending""#,
    r#"DROP INDEX "uq_audit_events_region_seq""#,
    r#"DELETE FROM "audit_events" WHERE "seq" IS NULL OR "region" <> ''"#,
    r#"UPDATE "audit_events" SET "prev_hash" = COALESCE("prev_hash", ''), "hash" = COALESCE("hash", '')"#,
    r#"ALTER TABLE "audit_events" ALTER COLUMN "seq" SET NOT NULL"#,
    r#"ALTER TABLE "audit_events" ALTER COLUMN "prev_hash" SET NOT NULL"#,
    r#"ALTER TABLE "audit_events" ALTER COLUMN "hash" SET NOT NULL"#,
    r#"ALTER TABLE "audit_events" DROP COLUMN "local_id", DROP COLUMN "region", DROP COLUMN "leaf_hash""#,
    r#"CREATE UNIQUE INDEX "uq_audit_events_seq" ON "audit_events" ("seq")"#,
];
