//! Two records of one person (名寄せ) are linked, never merged destructively: one row
//! per merge points the merged-away record at the surviving one, with who linked them,
//! when and why; an unmerge stamps the row (who, when, why) and both records are as
//! they were. At most one active link per merged-away record. Patient-side and
//! unpartitioned, with no foreign key (see `layout`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PatientLinks {
    Table,
    Id,
    MergedPatientId,
    SurvivingPatientId,
    LinkedAt,
    LinkedByPractitionerId,
    LinkedByOrganizationId,
    Reason,
    UnlinkedAt,
    UnlinkedByPractitionerId,
    UnlinkReason,
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
                    .col(uuid(PatientLinks::MergedPatientId))
                    .col(uuid(PatientLinks::SurvivingPatientId))
                    .col(timestamp_with_time_zone(PatientLinks::LinkedAt))
                    .col(uuid_null(PatientLinks::LinkedByPractitionerId))
                    .col(uuid_null(PatientLinks::LinkedByOrganizationId))
                    .col(text(PatientLinks::Reason))
                    .col(timestamp_with_time_zone_null(PatientLinks::UnlinkedAt))
                    .col(uuid_null(PatientLinks::UnlinkedByPractitionerId))
                    .col(text_null(PatientLinks::UnlinkReason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patient_links_merged")
                    .table(PatientLinks::Table)
                    .col(PatientLinks::MergedPatientId)
                    .col(PatientLinks::LinkedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patient_links_surviving")
                    .table(PatientLinks::Table)
                    .col(PatientLinks::SurvivingPatientId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PatientLinks::Table).to_owned())
            .await
    }
}
