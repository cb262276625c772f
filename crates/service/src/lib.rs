//! renkei-service: the use cases of Renkei. Each use case is one transaction, takes an
//! explicit [`Actor`], asks the pure rules in `renkei-domain` and reads and writes
//! through `renkei-store`. The HTTP server and the CLI both call these functions.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod demo;
pub mod error;
pub mod kana;
pub mod pathways;
pub mod patients;
pub mod plans;
pub mod startup;
pub mod verify;
pub mod workflow;

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use sea_orm::{
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

pub use sea_orm::DatabaseConnection;

pub use error::{ErrorCode, ServiceError};
pub use pathways::PathwayRegistry;
pub use renkei_store::db::{DbSettings, SqliteSync, connect};
pub use renkei_store::queries_access::AuditFilter;

/// Who is acting: the authenticated practitioner and their organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub practitioner_id: Uuid,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub organization_id: Uuid,
    pub organization_code: String,
    /// `org_admin` / `regional_admin`.
    pub roles: Vec<String>,
}

impl Actor {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The handle every use case hangs off: the pool and the published templates.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub pathways: Arc<PathwayRegistry>,
    /// How long a break-glass grant lasts.
    pub break_glass_duration: chrono::Duration,
    /// The service's notion of now (tests move it forward instead of sleeping).
    pub clock: Clock,
}

/// Wall-clock time plus an adjustable offset, shared by every clone of [`Services`].
#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_seconds: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now, at microsecond precision.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self
            .offset_seconds
            .load(std::sync::atomic::Ordering::Relaxed);
        truncate_micros(Utc::now() + chrono::Duration::seconds(offset))
    }

    /// Moves the clock forward (or back) by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_seconds
            .fetch_add(by.num_seconds(), std::sync::atomic::Ordering::Relaxed);
    }
}

impl Services {
    pub fn new(db: DatabaseConnection, pathways: PathwayRegistry) -> Self {
        Self {
            db,
            pathways: Arc::new(pathways),
            break_glass_duration: chrono::Duration::hours(24),
            clock: Clock::default(),
        }
    }

    /// Now, by the service clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Runs the migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use renkei_migration::MigratorTrait;
    renkei_migration::Migrator::up(db, None).await
}

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write lock is
/// taken (waiting up to the busy timeout) before anything is read, and a concurrent
/// writer never fails on lock upgrade.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// The current time at the microsecond precision both databases store.
pub fn now() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}
