//! Database migrations for Renkei.
//!
//! The schema is restricted to a subset that is portable between SQLite and
//! PostgreSQL: foreign keys are declared inside `CREATE TABLE`, columns are
//! never altered (a later migration may only add a nullable one), enums are stored as strings, UUIDs use the `uuid` column
//! type, timestamps are `timestamp with time zone`, and JSON payloads whose
//! exact bytes are hashed are stored as `text`.
//!
//! Each migration declares its own identifiers and never imports entities.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_access;
mod m20261122_000003_workflow;
pub mod m20261122_000004_system_actor;
mod m20261122_000005_handover_reads;
mod m20261204_000001_identifier_normal_form;
mod m20261204_000006_audit_evidence;

/// Ordered list of all Renkei migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_access::Migration),
            Box::new(m20261122_000003_workflow::Migration),
            Box::new(m20261122_000004_system_actor::Migration),
            Box::new(m20261122_000005_handover_reads::Migration),
            Box::new(m20261204_000001_identifier_normal_form::Migration),
            Box::new(m20261204_000006_audit_evidence::Migration),
        ]
    }
}
