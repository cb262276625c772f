//! Initial Renkei schema.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Code,
    Name,
    Kind,
    Area,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Practitioners {
    Table,
    Id,
    Login,
    Name,
    Profession,
    OrganizationId,
    PasswordHash,
    MustChangePassword,
    Roles,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    PractitionerId,
    TokenHash,
    Label,
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Patients {
    Table,
    Id,
    FamilyName,
    GivenName,
    FamilyKana,
    GivenKana,
    KanaKey,
    BirthDate,
    Sex,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PatientIdentifiers {
    Table,
    Id,
    PatientId,
    OrganizationId,
    Value,
}

#[derive(DeriveIden)]
enum PathwayVersions {
    Table,
    Id,
    Code,
    Version,
    TitleJa,
    TitleEn,
    Hash,
    Snapshot,
    PublishedAt,
}

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Id,
    PatientId,
    PathwayVersionId,
    PlannerOrganizationId,
    Status,
    CurrentStage,
    StageStarted,
    StageEnded,
    StartedAt,
    LastSeq,
    HeadHash,
    RowVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
    CarePlanId,
    Seq,
    Stage,
    Kind,
    EffectiveAt,
    RecordedAt,
    AuthorId,
    OrganizationId,
    /// Canonical JSON object of recorded values (`values` is an SQL keyword).
    ValuesJson,
    Note,
    Variance,
    Amends,
    Reason,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    PractitionerId,
    Key,
    RequestHash,
    CarePlanId,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

/// A foreign key `from_table.from_col -> to_table.id`, declared inside
/// `CREATE TABLE` so that it also works on SQLite.
fn fk<F, FC, T, TC>(
    name: &str,
    from_table: F,
    from_col: FC,
    to_table: T,
    to_col: TC,
) -> ForeignKeyCreateStatement
where
    F: IntoIden,
    FC: IntoIden,
    T: IntoIden,
    TC: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // organizations
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(pk_uuid(Organizations::Id))
                    .col(string_uniq(Organizations::Code))
                    .col(string(Organizations::Name))
                    .col(string(Organizations::Kind))
                    .col(string(Organizations::Area))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .to_owned(),
            )
            .await?;

        // practitioners
        manager
            .create_table(
                Table::create()
                    .table(Practitioners::Table)
                    .col(pk_uuid(Practitioners::Id))
                    .col(string_uniq(Practitioners::Login))
                    .col(string(Practitioners::Name))
                    .col(string(Practitioners::Profession))
                    .col(uuid(Practitioners::OrganizationId))
                    .col(string_null(Practitioners::PasswordHash))
                    .col(boolean(Practitioners::MustChangePassword).default(false))
                    .col(text(Practitioners::Roles).default("[]"))
                    .col(timestamp_with_time_zone_null(Practitioners::DisabledAt))
                    .col(timestamp_with_time_zone(Practitioners::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_practitioners_organization_id",
                        Practitioners::Table,
                        Practitioners::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        // api_tokens
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_uuid(ApiTokens::Id))
                    .col(uuid(ApiTokens::PractitionerId))
                    .col(string_uniq(ApiTokens::TokenHash))
                    .col(string(ApiTokens::Label))
                    .col(text(ApiTokens::Scopes).default("[]"))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_api_tokens_practitioner_id",
                        ApiTokens::Table,
                        ApiTokens::PractitionerId,
                        Practitioners::Table,
                        Practitioners::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_tokens_practitioner_id")
                    .table(ApiTokens::Table)
                    .col(ApiTokens::PractitionerId)
                    .to_owned(),
            )
            .await?;

        // patients
        manager
            .create_table(
                Table::create()
                    .table(Patients::Table)
                    .col(pk_uuid(Patients::Id))
                    .col(string(Patients::FamilyName))
                    .col(string(Patients::GivenName))
                    .col(string(Patients::FamilyKana))
                    .col(string(Patients::GivenKana))
                    .col(string(Patients::KanaKey))
                    .col(date(Patients::BirthDate))
                    .col(string(Patients::Sex))
                    .col(timestamp_with_time_zone(Patients::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patients_kana_key")
                    .table(Patients::Table)
                    .col(Patients::KanaKey)
                    .to_owned(),
            )
            .await?;

        // patient_identifiers
        manager
            .create_table(
                Table::create()
                    .table(PatientIdentifiers::Table)
                    .col(pk_uuid(PatientIdentifiers::Id))
                    .col(uuid(PatientIdentifiers::PatientId))
                    .col(uuid(PatientIdentifiers::OrganizationId))
                    .col(string(PatientIdentifiers::Value))
                    .foreign_key(&mut fk(
                        "fk_patient_identifiers_patient_id",
                        PatientIdentifiers::Table,
                        PatientIdentifiers::PatientId,
                        Patients::Table,
                        Patients::Id,
                    ))
                    .foreign_key(&mut fk(
                        "fk_patient_identifiers_organization_id",
                        PatientIdentifiers::Table,
                        PatientIdentifiers::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_patient_identifiers_organization_id_value")
                    .table(PatientIdentifiers::Table)
                    .col(PatientIdentifiers::OrganizationId)
                    .col(PatientIdentifiers::Value)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patient_identifiers_patient_id")
                    .table(PatientIdentifiers::Table)
                    .col(PatientIdentifiers::PatientId)
                    .to_owned(),
            )
            .await?;

        // pathway_versions
        manager
            .create_table(
                Table::create()
                    .table(PathwayVersions::Table)
                    .col(pk_uuid(PathwayVersions::Id))
                    .col(string(PathwayVersions::Code))
                    .col(integer(PathwayVersions::Version))
                    .col(string(PathwayVersions::TitleJa))
                    .col(string(PathwayVersions::TitleEn))
                    .col(string(PathwayVersions::Hash))
                    .col(text(PathwayVersions::Snapshot))
                    .col(timestamp_with_time_zone(PathwayVersions::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_pathway_versions_code_version")
                    .table(PathwayVersions::Table)
                    .col(PathwayVersions::Code)
                    .col(PathwayVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // care_plans
        manager
            .create_table(
                Table::create()
                    .table(CarePlans::Table)
                    .col(pk_uuid(CarePlans::Id))
                    .col(uuid(CarePlans::PatientId))
                    .col(uuid(CarePlans::PathwayVersionId))
                    .col(uuid(CarePlans::PlannerOrganizationId))
                    .col(string(CarePlans::Status))
                    .col(string(CarePlans::CurrentStage))
                    .col(boolean(CarePlans::StageStarted).default(false))
                    .col(boolean(CarePlans::StageEnded).default(false))
                    .col(timestamp_with_time_zone(CarePlans::StartedAt))
                    .col(big_integer(CarePlans::LastSeq).default(0i64))
                    .col(string(CarePlans::HeadHash).default(""))
                    .col(integer(CarePlans::RowVersion).default(1i32))
                    .col(timestamp_with_time_zone(CarePlans::CreatedAt))
                    .col(timestamp_with_time_zone(CarePlans::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_care_plans_patient_id",
                        CarePlans::Table,
                        CarePlans::PatientId,
                        Patients::Table,
                        Patients::Id,
                    ))
                    .foreign_key(&mut fk(
                        "fk_care_plans_pathway_version_id",
                        CarePlans::Table,
                        CarePlans::PathwayVersionId,
                        PathwayVersions::Table,
                        PathwayVersions::Id,
                    ))
                    .foreign_key(&mut fk(
                        "fk_care_plans_planner_organization_id",
                        CarePlans::Table,
                        CarePlans::PlannerOrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_care_plans_patient_id")
                    .table(CarePlans::Table)
                    .col(CarePlans::PatientId)
                    .to_owned(),
            )
            .await?;

        // entries
        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .col(pk_uuid(Entries::Id))
                    .col(uuid(Entries::CarePlanId))
                    .col(big_integer(Entries::Seq))
                    .col(string(Entries::Stage))
                    .col(string(Entries::Kind))
                    .col(timestamp_with_time_zone(Entries::EffectiveAt))
                    .col(timestamp_with_time_zone(Entries::RecordedAt))
                    .col(uuid(Entries::AuthorId))
                    .col(uuid(Entries::OrganizationId))
                    .col(text(Entries::ValuesJson))
                    .col(text_null(Entries::Note))
                    .col(text_null(Entries::Variance))
                    .col(uuid_null(Entries::Amends))
                    .col(text_null(Entries::Reason))
                    .col(string(Entries::PrevHash))
                    .col(string(Entries::Hash))
                    .foreign_key(&mut fk(
                        "fk_entries_care_plan_id",
                        Entries::Table,
                        Entries::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .foreign_key(&mut fk(
                        "fk_entries_author_id",
                        Entries::Table,
                        Entries::AuthorId,
                        Practitioners::Table,
                        Practitioners::Id,
                    ))
                    .foreign_key(&mut fk(
                        "fk_entries_organization_id",
                        Entries::Table,
                        Entries::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_entries_care_plan_id_seq")
                    .table(Entries::Table)
                    .col(Entries::CarePlanId)
                    .col(Entries::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_entries_care_plan_id_effective_at")
                    .table(Entries::Table)
                    .col(Entries::CarePlanId)
                    .col(Entries::EffectiveAt)
                    .to_owned(),
            )
            .await?;

        // idempotency_keys
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(pk_uuid(IdempotencyKeys::Id))
                    .col(uuid(IdempotencyKeys::PractitionerId))
                    .col(string(IdempotencyKeys::Key))
                    .col(string(IdempotencyKeys::RequestHash))
                    .col(uuid(IdempotencyKeys::CarePlanId))
                    .col(integer(IdempotencyKeys::ResponseStatus))
                    .col(text(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_idempotency_keys_practitioner_id",
                        IdempotencyKeys::Table,
                        IdempotencyKeys::PractitionerId,
                        Practitioners::Table,
                        Practitioners::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_idempotency_keys_practitioner_id_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::PractitionerId)
                    .col(IdempotencyKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Reverse creation order; indexes are dropped together with their tables.
        drop_table(manager, IdempotencyKeys::Table).await?;
        drop_table(manager, Entries::Table).await?;
        drop_table(manager, CarePlans::Table).await?;
        drop_table(manager, PathwayVersions::Table).await?;
        drop_table(manager, PatientIdentifiers::Table).await?;
        drop_table(manager, Patients::Table).await?;
        drop_table(manager, ApiTokens::Table).await?;
        drop_table(manager, Practitioners::Table).await?;
        drop_table(manager, Organizations::Table).await?;
        Ok(())
    }
}

async fn drop_table<T: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(table).to_owned())
        .await
}
