//! The regional pathway council's meetings and their decisions (issue 16 point 6).
//!
//! `council_meetings` keeps, per meeting, the region, the date, the title, the attending
//! organisations (a JSON array of organisation ids), the reports reviewed as a frozen
//! JSON snapshot with the filter they were read with, and who recorded it when.
//! `council_decisions` keeps each decision's text, the pathway it is about and, once
//! carried out, the id of the template version that did it (`carried_by_version`, a
//! `pathway_versions.id`). Neither table hangs off a plan, so neither carries a plan's
//! region partitioning; the meeting's `region` is the council's.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CouncilMeetings {
    Table,
    Id,
    Region,
    HeldOn,
    Title,
    Attending,
    Snapshot,
    SnapshotFilter,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CouncilDecisions {
    Table,
    Id,
    MeetingId,
    Text,
    PathwayCode,
    CarriedByVersion,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CouncilMeetings::Table)
                    .if_not_exists()
                    .col(uuid(CouncilMeetings::Id).primary_key())
                    .col(text(CouncilMeetings::Region))
                    .col(date(CouncilMeetings::HeldOn))
                    .col(text(CouncilMeetings::Title))
                    .col(text(CouncilMeetings::Attending))
                    .col(text(CouncilMeetings::Snapshot))
                    .col(text(CouncilMeetings::SnapshotFilter))
                    .col(uuid(CouncilMeetings::CreatedBy))
                    .col(timestamp_with_time_zone(CouncilMeetings::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_council_meetings_region_held_on")
                    .table(CouncilMeetings::Table)
                    .col(CouncilMeetings::Region)
                    .col(CouncilMeetings::HeldOn)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CouncilDecisions::Table)
                    .if_not_exists()
                    .col(uuid(CouncilDecisions::Id).primary_key())
                    .col(uuid(CouncilDecisions::MeetingId))
                    .col(text(CouncilDecisions::Text))
                    .col(text(CouncilDecisions::PathwayCode))
                    .col(uuid_null(CouncilDecisions::CarriedByVersion))
                    .col(timestamp_with_time_zone(CouncilDecisions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_council_decisions_meeting")
                            .from(CouncilDecisions::Table, CouncilDecisions::MeetingId)
                            .to(CouncilMeetings::Table, CouncilMeetings::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_council_decisions_meeting")
                    .table(CouncilDecisions::Table)
                    .col(CouncilDecisions::MeetingId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CouncilDecisions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CouncilMeetings::Table).to_owned())
            .await
    }
}
