//! Hand-overs, reports back and the facility directory (医療機関一覧).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Declarations {
    Table,
    Id,
    OrganizationId,
    Pathway,
    Stages,
    Note,
    DeclaredAt,
    DeclaredBy,
    SupersededAt,
}

#[derive(DeriveIden)]
enum Handovers {
    Table,
    Id,
    CarePlanId,
    FromOrganizationId,
    ToOrganizationId,
    FromStage,
    Stage,
    State,
    Note,
    Summary,
    DeclineReason,
    RowVersion,
    ProposedBy,
    ProposedAt,
    AnsweredBy,
    AnsweredAt,
    CompletedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    CarePlanId,
    Stage,
    FromOrganizationId,
    ToOrganizationId,
    DueAt,
    SentAt,
    SentBy,
    Content,
    StageEndEntryId,
    CreatedAt,
}

fn fk_to<T: IntoIden, TC: IntoIden, F: IntoIden, FC: IntoIden>(
    name: &str,
    from: F,
    from_col: FC,
    to: T,
    to_col: TC,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from, from_col)
        .to(to, to_col)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(c);
    }
    manager.create_index(idx.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Declarations::Table)
                    .col(pk_uuid(Declarations::Id))
                    .col(uuid(Declarations::OrganizationId))
                    .col(string(Declarations::Pathway))
                    .col(text(Declarations::Stages))
                    .col(text(Declarations::Note))
                    .col(timestamp_with_time_zone(Declarations::DeclaredAt))
                    .col(uuid(Declarations::DeclaredBy))
                    .col(timestamp_with_time_zone_null(Declarations::SupersededAt))
                    .foreign_key(&mut fk_to(
                        "fk_declarations_organization_id",
                        Declarations::Table,
                        Declarations::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_declarations_pathway",
            Declarations::Table,
            vec![
                Declarations::Pathway.into_iden(),
                Declarations::SupersededAt.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_declarations_organization_id",
            Declarations::Table,
            vec![Declarations::OrganizationId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Handovers::Table)
                    .col(pk_uuid(Handovers::Id))
                    .col(uuid(Handovers::CarePlanId))
                    .col(uuid(Handovers::FromOrganizationId))
                    .col(uuid(Handovers::ToOrganizationId))
                    .col(string(Handovers::FromStage))
                    .col(string(Handovers::Stage))
                    .col(string(Handovers::State))
                    .col(text_null(Handovers::Note))
                    .col(text(Handovers::Summary))
                    .col(text_null(Handovers::DeclineReason))
                    .col(integer(Handovers::RowVersion).default(1i32))
                    .col(uuid(Handovers::ProposedBy))
                    .col(timestamp_with_time_zone(Handovers::ProposedAt))
                    .col(uuid_null(Handovers::AnsweredBy))
                    .col(timestamp_with_time_zone_null(Handovers::AnsweredAt))
                    .col(timestamp_with_time_zone_null(Handovers::CompletedAt))
                    .col(timestamp_with_time_zone(Handovers::UpdatedAt))
                    .foreign_key(&mut fk_to(
                        "fk_handovers_care_plan_id",
                        Handovers::Table,
                        Handovers::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_handovers_from_organization_id",
                        Handovers::Table,
                        Handovers::FromOrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_handovers_to_organization_id",
                        Handovers::Table,
                        Handovers::ToOrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_handovers_care_plan_id",
            Handovers::Table,
            vec![Handovers::CarePlanId.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_handovers_to_state",
            Handovers::Table,
            vec![
                Handovers::ToOrganizationId.into_iden(),
                Handovers::State.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_handovers_from_state",
            Handovers::Table,
            vec![
                Handovers::FromOrganizationId.into_iden(),
                Handovers::State.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(pk_uuid(Reports::Id))
                    .col(uuid(Reports::CarePlanId))
                    .col(string(Reports::Stage))
                    .col(uuid(Reports::FromOrganizationId))
                    .col(uuid(Reports::ToOrganizationId))
                    .col(timestamp_with_time_zone(Reports::DueAt))
                    .col(timestamp_with_time_zone_null(Reports::SentAt))
                    .col(uuid_null(Reports::SentBy))
                    .col(text(Reports::Content))
                    .col(uuid(Reports::StageEndEntryId))
                    .col(timestamp_with_time_zone(Reports::CreatedAt))
                    .foreign_key(&mut fk_to(
                        "fk_reports_care_plan_id",
                        Reports::Table,
                        Reports::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_reports_care_plan_id",
            Reports::Table,
            vec![Reports::CarePlanId.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_reports_from",
            Reports::Table,
            vec![
                Reports::FromOrganizationId.into_iden(),
                Reports::SentAt.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_reports_to",
            Reports::Table,
            vec![
                Reports::ToOrganizationId.into_iden(),
                Reports::SentAt.into_iden(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Reports::Table.into_iden(),
            Handovers::Table.into_iden(),
            Declarations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
