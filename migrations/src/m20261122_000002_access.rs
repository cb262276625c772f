//! Need-to-know access: care teams, consent, break-glass grants, the hash-chained audit
//! log, and what human logins need (sessions, lockout, two-factor).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    RequireTotp,
}

#[derive(DeriveIden)]
enum Practitioners {
    Table,
    FailedLogins,
    LockedUntil,
    TotpSecret,
    TotpEnabled,
    TotpLastStep,
    RecoveryCodes,
    PasswordChangedAt,
}

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CareTeamMembers {
    Table,
    Id,
    CarePlanId,
    OrganizationId,
    Role,
    Stages,
    AddedAt,
    AddedBy,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    CarePlanId,
    Scope,
    Organizations,
    Purposes,
    Method,
    Signer,
    ProxyRelationship,
    ObtainedByOrganizationId,
    ObtainedBy,
    ObtainedAt,
    RecordedAt,
    WithdrawnAt,
    WithdrawalReason,
    RowVersion,
}

#[derive(DeriveIden)]
enum BreakGlassGrants {
    Table,
    Id,
    CarePlanId,
    PractitionerId,
    OrganizationId,
    Reason,
    GrantedAt,
    ExpiresAt,
    ReviewedAt,
    ReviewedBy,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    Seq,
    At,
    PractitionerId,
    OrganizationId,
    Action,
    ResourceType,
    ResourceId,
    PatientId,
    CarePlanId,
    Outcome,
    RequestId,
    ClientAddr,
    Detail,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    LastSeq,
    HeadHash,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    PractitionerId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    SecondFactorDone,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Id,
    Key,
    WindowStart,
    Failures,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one ADD COLUMN per ALTER TABLE statement.
        let practitioner_columns = [
            integer(Practitioners::FailedLogins)
                .default(0i32)
                .to_owned(),
            timestamp_with_time_zone_null(Practitioners::LockedUntil).to_owned(),
            string_null(Practitioners::TotpSecret).to_owned(),
            boolean(Practitioners::TotpEnabled)
                .default(false)
                .to_owned(),
            big_integer_null(Practitioners::TotpLastStep).to_owned(),
            text_null(Practitioners::RecoveryCodes).to_owned(),
            timestamp_with_time_zone_null(Practitioners::PasswordChangedAt).to_owned(),
        ];
        for mut col in practitioner_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Practitioners::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(boolean(Organizations::RequireTotp).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CareTeamMembers::Table)
                    .col(pk_uuid(CareTeamMembers::Id))
                    .col(uuid(CareTeamMembers::CarePlanId))
                    .col(uuid(CareTeamMembers::OrganizationId))
                    .col(string(CareTeamMembers::Role))
                    .col(text(CareTeamMembers::Stages))
                    .col(timestamp_with_time_zone(CareTeamMembers::AddedAt))
                    .col(uuid_null(CareTeamMembers::AddedBy))
                    .foreign_key(&mut fk_to(
                        "fk_care_team_members_care_plan_id",
                        CareTeamMembers::Table,
                        CareTeamMembers::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .foreign_key(&mut fk_to(
                        "fk_care_team_members_organization_id",
                        CareTeamMembers::Table,
                        CareTeamMembers::OrganizationId,
                        Organizations::Table,
                        Organizations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_care_team_members_plan_org")
                    .table(CareTeamMembers::Table)
                    .col(CareTeamMembers::CarePlanId)
                    .col(CareTeamMembers::OrganizationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_care_team_members_organization_id")
                    .table(CareTeamMembers::Table)
                    .col(CareTeamMembers::OrganizationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(pk_uuid(Consents::Id))
                    .col(uuid(Consents::CarePlanId))
                    .col(string(Consents::Scope))
                    .col(text(Consents::Organizations))
                    .col(text(Consents::Purposes))
                    .col(string(Consents::Method))
                    .col(string(Consents::Signer))
                    .col(string_null(Consents::ProxyRelationship))
                    .col(uuid(Consents::ObtainedByOrganizationId))
                    .col(uuid(Consents::ObtainedBy))
                    .col(timestamp_with_time_zone(Consents::ObtainedAt))
                    .col(timestamp_with_time_zone(Consents::RecordedAt))
                    .col(timestamp_with_time_zone_null(Consents::WithdrawnAt))
                    .col(text_null(Consents::WithdrawalReason))
                    .col(integer(Consents::RowVersion).default(1i32))
                    .foreign_key(&mut fk_to(
                        "fk_consents_care_plan_id",
                        Consents::Table,
                        Consents::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_care_plan_id")
                    .table(Consents::Table)
                    .col(Consents::CarePlanId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BreakGlassGrants::Table)
                    .col(pk_uuid(BreakGlassGrants::Id))
                    .col(uuid(BreakGlassGrants::CarePlanId))
                    .col(uuid(BreakGlassGrants::PractitionerId))
                    .col(uuid(BreakGlassGrants::OrganizationId))
                    .col(text(BreakGlassGrants::Reason))
                    .col(timestamp_with_time_zone(BreakGlassGrants::GrantedAt))
                    .col(timestamp_with_time_zone(BreakGlassGrants::ExpiresAt))
                    .col(timestamp_with_time_zone_null(BreakGlassGrants::ReviewedAt))
                    .col(uuid_null(BreakGlassGrants::ReviewedBy))
                    .foreign_key(&mut fk_to(
                        "fk_break_glass_grants_care_plan_id",
                        BreakGlassGrants::Table,
                        BreakGlassGrants::CarePlanId,
                        CarePlans::Table,
                        CarePlans::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_break_glass_grants_practitioner_plan")
                    .table(BreakGlassGrants::Table)
                    .col(BreakGlassGrants::PractitionerId)
                    .col(BreakGlassGrants::CarePlanId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(big_integer(AuditEvents::Seq))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(uuid_null(AuditEvents::PractitionerId))
                    .col(uuid_null(AuditEvents::OrganizationId))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::ResourceType))
                    .col(string_null(AuditEvents::ResourceId))
                    .col(uuid_null(AuditEvents::PatientId))
                    .col(uuid_null(AuditEvents::CarePlanId))
                    .col(string(AuditEvents::Outcome))
                    .col(string_null(AuditEvents::RequestId))
                    .col(string_null(AuditEvents::ClientAddr))
                    .col(text_null(AuditEvents::Detail))
                    .col(string(AuditEvents::PrevHash))
                    .col(string(AuditEvents::Hash))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("uq_audit_events_seq", vec![AuditEvents::Seq]),
            (
                "idx_audit_events_patient_at",
                vec![AuditEvents::PatientId, AuditEvents::At],
            ),
            (
                "idx_audit_events_practitioner_at",
                vec![AuditEvents::PractitionerId, AuditEvents::At],
            ),
            (
                "idx_audit_events_organization_at",
                vec![AuditEvents::OrganizationId, AuditEvents::At],
            ),
            ("idx_audit_events_at", vec![AuditEvents::At]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(AuditEvents::Table);
            for c in cols {
                idx.col(c);
            }
            if name.starts_with("uq_") {
                idx.unique();
            }
            manager.create_index(idx.to_owned()).await?;
        }

        // One row: the head of the audit chain, locked by every audit append.
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::LastSeq).default(0i64))
                    .col(string(AuditHead::HeadHash).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::LastSeq, AuditHead::HeadHash])
                    .values_panic([1i32.into(), 0i64.into(), "".into()])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(string(Sessions::TokenHash))
                    .col(uuid(Sessions::PractitionerId))
                    .col(string(Sessions::CsrfToken))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(boolean(Sessions::SecondFactorDone).default(false))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_sessions_token_hash")
                    .table(Sessions::Table)
                    .col(Sessions::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(pk_uuid(LoginThrottle::Id))
                    .col(string(LoginThrottle::Key))
                    .col(timestamp_with_time_zone(LoginThrottle::WindowStart))
                    .col(integer(LoginThrottle::Failures).default(0i32))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_login_throttle_key")
                    .table(LoginThrottle::Table)
                    .col(LoginThrottle::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginThrottle::Table.into_iden(),
            Sessions::Table.into_iden(),
            AuditHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            BreakGlassGrants::Table.into_iden(),
            Consents::Table.into_iden(),
            CareTeamMembers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::RequireTotp)
                    .to_owned(),
            )
            .await?;
        for col in [
            Practitioners::PasswordChangedAt,
            Practitioners::RecoveryCodes,
            Practitioners::TotpLastStep,
            Practitioners::TotpEnabled,
            Practitioners::TotpSecret,
            Practitioners::LockedUntil,
            Practitioners::FailedLogins,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Practitioners::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
