//! The end of a care-team organisation's access to a plan (ending it on a date, or
//! removing it now): its last day (`YYYY-MM-DD`, Tokyo), the moment access stops, who
//! ended it, when and why. Nullable columns on `care_team_members`; the row itself is
//! never deleted, so the team's history stays.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CareTeamMembers {
    Table,
    AccessEndsOn,
    AccessEndsAt,
    EndedAt,
    EndedBy,
    EndReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            string_len_null(CareTeamMembers::AccessEndsOn, 10).to_owned(),
            timestamp_with_time_zone_null(CareTeamMembers::AccessEndsAt).to_owned(),
            timestamp_with_time_zone_null(CareTeamMembers::EndedAt).to_owned(),
            uuid_null(CareTeamMembers::EndedBy).to_owned(),
            text_null(CareTeamMembers::EndReason).to_owned(),
        ];
        // One column per statement: SQLite adds one at a time.
        for mut col in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(CareTeamMembers::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            CareTeamMembers::EndReason,
            CareTeamMembers::EndedBy,
            CareTeamMembers::EndedAt,
            CareTeamMembers::AccessEndsAt,
            CareTeamMembers::AccessEndsOn,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CareTeamMembers::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
