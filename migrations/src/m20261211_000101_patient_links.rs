//! Merging two patient records of one person (名寄せ) writes a link, never moves a plan
//! or an entry: `patient_links` keeps which record survives, which is merged into it,
//! who merged them, when and why, and — once reversed — who reversed it, when and why.
//! Patient-side and unpartitioned, with no foreign key (like the demographics history).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PatientLinks {
    Table,
    Id,
    SurvivorId,
    MergedId,
    Reason,
    MergedBy,
    MergedByOrganization,
    MergedAt,
    ReversedBy,
    ReversedAt,
    ReverseReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PatientLinks::Table)
                    .if_not_exists()
                    .col(uuid(PatientLinks::Id).primary_key())
                    .col(uuid(PatientLinks::SurvivorId))
                    .col(uuid(PatientLinks::MergedId))
                    .col(text(PatientLinks::Reason))
                    .col(uuid(PatientLinks::MergedBy))
                    .col(uuid(PatientLinks::MergedByOrganization))
                    .col(timestamp_with_time_zone(PatientLinks::MergedAt))
                    .col(uuid_null(PatientLinks::ReversedBy))
                    .col(timestamp_with_time_zone_null(PatientLinks::ReversedAt))
                    .col(text_null(PatientLinks::ReverseReason))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_patient_links_survivor", PatientLinks::SurvivorId),
            ("idx_patient_links_merged", PatientLinks::MergedId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(PatientLinks::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PatientLinks::Table).to_owned())
            .await
    }
}
