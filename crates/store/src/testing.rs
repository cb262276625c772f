//! Test support (the `testing` feature, turned on by the test kit only): the reads and
//! edits tests need to stage a situation no use case creates — an account locked since
//! before, a TOTP secret stored in plain text by an older release, a renamed
//! organisation — and to read back the raw rows a request left behind. Rows come back as
//! plain structs; nothing here is reachable from the server.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::entity::{
    api_tokens, audit_events, break_glass_grants, care_plans, consents, declarations, entries,
    login_throttle, organizations, patients, practitioners, sessions,
};

/// A table whose rows a test counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Organizations,
    Patients,
    CarePlans,
    Entries,
    Declarations,
    Consents,
    BreakGlassGrants,
    ApiTokens,
    Sessions,
    LoginThrottle,
    AuditEvents,
}

impl Table {
    pub const ALL: [Table; 11] = [
        Table::Organizations,
        Table::Patients,
        Table::CarePlans,
        Table::Entries,
        Table::Declarations,
        Table::Consents,
        Table::BreakGlassGrants,
        Table::ApiTokens,
        Table::Sessions,
        Table::LoginThrottle,
        Table::AuditEvents,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Organizations => "organizations",
            Table::Patients => "patients",
            Table::CarePlans => "care_plans",
            Table::Entries => "entries",
            Table::Declarations => "declarations",
            Table::Consents => "consents",
            Table::BreakGlassGrants => "break_glass_grants",
            Table::ApiTokens => "api_tokens",
            Table::Sessions => "sessions",
            Table::LoginThrottle => "login_throttle",
            Table::AuditEvents => "audit_events",
        }
    }
}

/// How many rows `table` holds.
pub async fn count<C: ConnectionTrait>(db: &C, table: Table) -> Result<u64, DbErr> {
    match table {
        Table::Organizations => organizations::Entity::find().count(db).await,
        Table::Patients => patients::Entity::find().count(db).await,
        Table::CarePlans => care_plans::Entity::find().count(db).await,
        Table::Entries => entries::Entity::find().count(db).await,
        Table::Declarations => declarations::Entity::find().count(db).await,
        Table::Consents => consents::Entity::find().count(db).await,
        Table::BreakGlassGrants => break_glass_grants::Entity::find().count(db).await,
        Table::ApiTokens => api_tokens::Entity::find().count(db).await,
        Table::Sessions => sessions::Entity::find().count(db).await,
        Table::LoginThrottle => login_throttle::Entity::find().count(db).await,
        Table::AuditEvents => audit_events::Entity::find().count(db).await,
    }
}

/// One stored audit event, as a test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: Uuid,
    /// Insertion order (`local_id`): the order the events were written in.
    pub seq: i64,
    /// Place in the region's Merkle tree, once sequenced.
    pub tree_seq: Option<i64>,
    pub region: String,
    pub at: DateTime<Utc>,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub care_plan_id: Option<Uuid>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub evidence: Option<String>,
}

impl From<audit_events::Model> for AuditRow {
    fn from(m: audit_events::Model) -> Self {
        Self {
            id: m.id,
            seq: m.local_id,
            tree_seq: m.seq,
            region: m.region,
            at: m.at,
            practitioner_id: m.practitioner_id,
            organization_id: m.organization_id,
            action: m.action,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            patient_id: m.patient_id,
            care_plan_id: m.care_plan_id,
            outcome: m.outcome,
            request_id: m.request_id,
            client_addr: m.client_addr,
            detail: m.detail,
            evidence: m.evidence,
        }
    }
}

/// Every audit event, in the order they were written.
pub async fn audit_events<C: ConnectionTrait>(db: &C) -> Result<Vec<AuditRow>, DbErr> {
    Ok(audit_events::Entity::find()
        .order_by_asc(audit_events::Column::LocalId)
        .all(db)
        .await?
        .into_iter()
        .map(AuditRow::from)
        .collect())
}

/// One stored practitioner, as a test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerRow {
    pub id: Uuid,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub organization_id: Uuid,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub roles: String,
    pub disabled_at: Option<DateTime<Utc>>,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub recovery_codes: Option<String>,
}

impl From<practitioners::Model> for PractitionerRow {
    fn from(m: practitioners::Model) -> Self {
        Self {
            id: m.id,
            login: m.login,
            name: m.name,
            profession: m.profession,
            organization_id: m.organization_id,
            password_hash: m.password_hash,
            must_change_password: m.must_change_password,
            password_changed_at: m.password_changed_at,
            roles: m.roles,
            disabled_at: m.disabled_at,
            failed_logins: m.failed_logins,
            locked_until: m.locked_until,
            totp_secret: m.totp_secret,
            totp_enabled: m.totp_enabled,
            totp_last_step: m.totp_last_step,
            recovery_codes: m.recovery_codes,
        }
    }
}

/// The practitioner with this login, if any.
pub async fn practitioner<C: ConnectionTrait>(
    db: &C,
    login: &str,
) -> Result<Option<PractitionerRow>, DbErr> {
    Ok(practitioners::Entity::find()
        .filter(practitioners::Column::Login.eq(login))
        .one(db)
        .await?
        .map(PractitionerRow::from))
}

/// Columns of a practitioner a test may overwrite; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct PractitionerEdit {
    pub name: Option<String>,
    pub must_change_password: Option<bool>,
    pub password_hash: Option<String>,
    /// The stored JSON array of role names, as text.
    pub roles: Option<String>,
    pub locked_until: Option<Option<DateTime<Utc>>>,
    pub totp_secret: Option<String>,
    pub totp_enabled: Option<bool>,
    pub totp_last_step: Option<i64>,
}

/// Overwrites the given columns of the practitioner with this login.
pub async fn edit_practitioner<C: ConnectionTrait>(
    db: &C,
    login: &str,
    edit: PractitionerEdit,
) -> Result<(), DbErr> {
    use practitioners::Column as P;
    let mut update = practitioners::Entity::update_many().filter(P::Login.eq(login));
    if let Some(v) = edit.name {
        update = update.col_expr(P::Name, Expr::value(v));
    }
    if let Some(v) = edit.must_change_password {
        update = update.col_expr(P::MustChangePassword, Expr::value(v));
    }
    if let Some(v) = edit.password_hash {
        update = update.col_expr(P::PasswordHash, Expr::value(v));
    }
    if let Some(v) = edit.roles {
        update = update.col_expr(P::Roles, Expr::value(v));
    }
    if let Some(v) = edit.locked_until {
        update = update.col_expr(P::LockedUntil, Expr::value(v));
    }
    if let Some(v) = edit.totp_secret {
        update = update.col_expr(P::TotpSecret, Expr::value(v));
    }
    if let Some(v) = edit.totp_enabled {
        update = update.col_expr(P::TotpEnabled, Expr::value(v));
    }
    if let Some(v) = edit.totp_last_step {
        update = update.col_expr(P::TotpLastStep, Expr::value(v));
    }
    update.exec(db).await.map(|_| ())
}

/// Columns of an organisation a test may overwrite; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct OrganizationEdit {
    pub name: Option<String>,
    pub require_totp: Option<bool>,
}

/// Overwrites the given columns of the organisation with this code.
pub async fn edit_organization<C: ConnectionTrait>(
    db: &C,
    code: &str,
    edit: OrganizationEdit,
) -> Result<(), DbErr> {
    use organizations::Column as O;
    let mut update = organizations::Entity::update_many().filter(O::Code.eq(code));
    if let Some(v) = edit.name {
        update = update.col_expr(O::Name, Expr::value(v));
    }
    if let Some(v) = edit.require_totp {
        update = update.col_expr(O::RequireTotp, Expr::value(v));
    }
    update.exec(db).await.map(|_| ())
}

/// The organisation id of this code, if any.
pub async fn organization_id<C: ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(organizations::Entity::find()
        .filter(organizations::Column::Code.eq(code))
        .one(db)
        .await?
        .map(|o| o.id))
}

/// One stored browser session, as a test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: Uuid,
    pub token_hash: String,
    pub practitioner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub second_factor_done: bool,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every stored session, oldest first.
pub async fn sessions<C: ConnectionTrait>(db: &C) -> Result<Vec<SessionRow>, DbErr> {
    Ok(sessions::Entity::find()
        .order_by_asc(sessions::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|m| SessionRow {
            id: m.id,
            token_hash: m.token_hash,
            practitioner_id: m.practitioner_id,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            expires_at: m.expires_at,
            second_factor_done: m.second_factor_done,
            revoked_at: m.revoked_at,
        })
        .collect())
}

/// PostgreSQL's `EXPLAIN` of the statement a write to a plan of `region` locks and reads
/// the plan with (as [`crate::queries::lock_care_plan_near`] runs it).
pub async fn explain_plan_lock<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    region: &str,
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let statements = [crate::queries::lock_in_region(
        db,
        id,
        Some(region),
        Utc::now(),
    )];
    let mut plans = Vec::new();
    for s in statements {
        let explain = sea_orm::Statement::from_sql_and_values(
            backend,
            format!("EXPLAIN {}", s.sql),
            s.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explain).await?;
        let lines = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        plans.push(lines.join("\n"));
    }
    Ok(plans)
}

/// The query plan of the statement the audit sequencer numbers a batch of `region`'s
/// pending events with (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL), for a
/// batch of `n` made-up events.
pub async fn explain_assign_seqs<C: ConnectionTrait>(
    db: &C,
    region: &str,
    n: i64,
) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let pairs: Vec<(i64, i64)> = (1..=n).map(|i| (i, i)).collect();
    let mut lines = Vec::new();
    for s in crate::audit::assign_seqs_statements(backend, region, &pairs) {
        lines.push(explain(db, s).await?);
    }
    Ok(lines.join("\n"))
}

/// The plans of the reads that run on every request or every wake of a background task
/// and must stay index lookups however large the region grows: the sequencer's pending
/// regions and count, the access decision's rows, the worklist's stale plans of an
/// organisation, the council's stale report facts. `(name, plan)` pairs.
pub async fn explain_hot_reads<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(&'static str, String)>, DbErr> {
    let backend = db.get_database_backend();
    let (plan, who, now) = (Uuid::nil(), Uuid::nil(), Utc::now());
    Ok(vec![
        (
            "pending_regions",
            explain(db, crate::audit::pending_regions_statement(backend)).await?,
        ),
        (
            "pending_count",
            explain(db, crate::audit::pending_count_statement(backend)).await?,
        ),
        (
            "access_rows",
            explain(
                db,
                crate::queries_access::access_rows_statement(backend, plan, who, now, Some("k")),
            )
            .await?,
        ),
        (
            "report_facts_to_refresh",
            explain(db, crate::council::plans_to_refresh_statement(backend, 200)).await?,
        ),
        (
            "stale_plans_of_org",
            explain(
                db,
                crate::work_index::stale_plans_of_org_statement(backend, who, now),
            )
            .await?,
        ),
    ])
}

/// The database's plan of `s`, one line per step (SQLite's `EXPLAIN QUERY PLAN` detail
/// column; PostgreSQL's `EXPLAIN` text).
async fn explain<C: ConnectionTrait>(db: &C, s: sea_orm::Statement) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let prefix = match backend {
        sea_orm::DbBackend::Sqlite => "EXPLAIN QUERY PLAN",
        _ => "EXPLAIN",
    };
    let explain = sea_orm::Statement::from_sql_and_values(
        backend,
        format!("{prefix} {}", s.sql),
        s.values.map(|v| v.0).unwrap_or_default(),
    );
    let mut lines = Vec::new();
    for r in db.query_all_raw(explain).await? {
        // SQLite: (id, parent, notused, detail); PostgreSQL: one text column.
        lines.push(match backend {
            sea_orm::DbBackend::Sqlite => r.try_get_by_index::<String>(3)?,
            _ => r.try_get_by_index::<String>(0)?,
        });
    }
    Ok(lines.join("\n"))
}

/// PostgreSQL: the partition of `table` that holds `region`'s rows (not the DEFAULT one),
/// if the table is partitioned and has one.
pub async fn partition_of<C: ConnectionTrait>(
    db: &C,
    table: &str,
    region: &str,
) -> Result<Option<String>, DbErr> {
    let sql = "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
               WHERE i.inhparent = to_regclass($1) \
                 AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES IN (' || quote_literal($2) || ')'";
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [table.into(), region.into()],
        ))
        .await?;
    row.map(|r| r.try_get_by_index::<String>(0)).transpose()
}
