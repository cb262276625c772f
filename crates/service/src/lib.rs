//! renkei-service: the use cases of Renkei. Each use case is one transaction, takes an
//! explicit [`Actor`], asks the pure rules in `renkei-domain` and reads and writes
//! through `renkei-store`. The HTTP server and the CLI both call these functions.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod demo;
pub mod directory;
pub mod error;
pub mod evidence;
pub mod handovers;
pub mod kana;
pub mod lifecycle;
pub mod pathways;
pub mod patients;
mod plan_chain;
mod plan_facts;
mod plan_write;
pub mod plans;
pub mod reports;
pub mod schedules;
pub mod screens;
pub mod startup;
pub mod variances;
pub mod verify;
pub mod workflow;

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
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
    /// What the operator chose at start-up about demo accounts, proxies and keys.
    pub security: Arc<Security>,
}

/// Security settings of one server: none of them lives in the database.
#[derive(Clone, Default)]
pub struct Security {
    /// `serve --demo`: the demo region's well-known API tokens are accepted. Without it
    /// they are refused even when the demo accounts exist.
    pub demo: bool,
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies). None by
    /// default: the client is the socket's peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Encrypts TOTP secrets at rest. Without one, two-factor enrolment is refused.
    pub secret_key: Option<auth::secret_key::SecretKey>,
}

impl Security {
    /// Parses `--trusted-proxy` values: addresses or networks (`10.0.0.0/8`),
    /// comma-separated.
    pub fn parse_trusted_proxies(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("`{s}` is not an IP address or network"))
            })
            .collect()
    }

    /// Whether `peer` is a configured proxy.
    pub fn is_trusted_proxy(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }
}

/// Wall-clock time plus an adjustable offset, shared by every clone of [`Services`].
#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_seconds: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now, at the microsecond precision both databases store. The only place the
    /// service reads the wall clock.
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
            security: Arc::new(Security::default()),
        }
    }

    /// The same services with other security settings.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = Arc::new(security);
        self
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

/// A write transaction. On SQLite it also holds this process's turn in the file's write
/// queue until it is committed, rolled back or dropped.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// Begins a write transaction.
///
/// On SQLite only one writer can hold the file, and a writer that finds it taken sleeps in
/// SQLite's busy handler (1, 2, 5 … 100 ms) instead of being woken when it is free. So the
/// writers of this process first queue here, in order, and run back to back; `BEGIN
/// IMMEDIATE` then takes the file's lock at once (or waits the busy timeout for another
/// process, e.g. a backup). Waiting longer than the busy timeout in the queue gives up
/// like SQLite does: the caller answers 503 with Retry-After. On PostgreSQL the plan row
/// locks order writers and there is no queue.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let turn = match renkei_store::db::write_queue(db) {
        Some((queue, wait)) => Some(
            tokio::time::timeout(wait, queue.lock_owned())
                .await
                .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))?,
        ),
        None => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn { txn, _turn: turn })
}

pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}
