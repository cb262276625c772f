//! The template variant a care plan was enrolled on (`care_plans.variant`): the code of
//! one of its pathway version's `[[variants]]`, or NULL for a version without variants
//! (every plan made before variants existed). Nullable, so adding it rewrites no row; on
//! PostgreSQL's partitioned layout the column is added to the partitioned table and every
//! partition takes it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Variant,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CarePlans::Table)
                    .add_column(string_null(CarePlans::Variant))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CarePlans::Table)
                    .drop_column(CarePlans::Variant)
                    .to_owned(),
            )
            .await
    }
}
