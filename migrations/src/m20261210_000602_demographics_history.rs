//! Corrections of a patient's demographics (name, kana, birth date, sex) keep their
//! history: one row per correction with who made it, when, why, and the values before
//! and after (JSON text). Patient-side and unpartitioned, with no foreign key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PatientDemographicsHistory {
    Table,
    Id,
    PatientId,
    ChangedAt,
    PractitionerId,
    OrganizationId,
    Reason,
    BeforeJson,
    AfterJson,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PatientDemographicsHistory::Table)
                    .if_not_exists()
                    .col(uuid(PatientDemographicsHistory::Id).primary_key())
                    .col(uuid(PatientDemographicsHistory::PatientId))
                    .col(timestamp_with_time_zone(
                        PatientDemographicsHistory::ChangedAt,
                    ))
                    .col(uuid_null(PatientDemographicsHistory::PractitionerId))
                    .col(uuid_null(PatientDemographicsHistory::OrganizationId))
                    .col(text(PatientDemographicsHistory::Reason))
                    .col(text(PatientDemographicsHistory::BeforeJson))
                    .col(text(PatientDemographicsHistory::AfterJson))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patient_demographics_history_patient")
                    .table(PatientDemographicsHistory::Table)
                    .col(PatientDemographicsHistory::PatientId)
                    .col(PatientDemographicsHistory::ChangedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(PatientDemographicsHistory::Table)
                    .to_owned(),
            )
            .await
    }
}
