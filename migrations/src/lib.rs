#![doc = include_str!("../README.md")]

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_access;
mod m20261122_000003_workflow;
pub mod m20261122_000004_system_actor;
mod m20261122_000005_handover_reads;
mod m20261204_000001_identifier_normal_form;
mod m20261204_000006_audit_evidence;
mod m20261207_000001_amendment_notices;
mod m20261207_000003_handover_transfer_date;
mod m20261208_000201_audit_merkle;
mod m20261208_000401_work_index;
pub mod m20261208_000501_region;
mod m20261210_000601_administration;
mod m20261210_000602_demographics_history;
mod m20261210_000701_notifications;
mod m20261211_000101_patient_links;
mod m20261211_000201_care_team_end;
mod m20261214_000101_report_facts;
mod m20261214_000201_council_meetings;
mod m20261215_000101_plan_variant;
mod m20261215_000201_report_facts_every_plan;

pub mod layout;

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
            Box::new(m20261207_000001_amendment_notices::Migration),
            Box::new(m20261207_000003_handover_transfer_date::Migration),
            Box::new(m20261208_000201_audit_merkle::Migration),
            Box::new(m20261208_000401_work_index::Migration),
            Box::new(m20261208_000501_region::Migration),
            Box::new(m20261210_000601_administration::Migration),
            Box::new(m20261210_000602_demographics_history::Migration),
            Box::new(m20261210_000701_notifications::Migration),
            Box::new(m20261211_000101_patient_links::Migration),
            Box::new(m20261211_000201_care_team_end::Migration),
            Box::new(m20261214_000101_report_facts::Migration),
            Box::new(m20261214_000201_council_meetings::Migration),
            Box::new(m20261215_000101_plan_variant::Migration),
            Box::new(m20261215_000201_report_facts_every_plan::Migration),
        ]
    }
}
