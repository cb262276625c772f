//! Connecting: the backend is picked from the URL at run time. SQLite gets WAL, a busy
//! timeout, foreign keys and an explicit `synchronous` level, asserted after connecting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait,
};

/// How SQLite commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// fsync on every commit: no acknowledged write is lost even on power loss.
    #[default]
    Full,
    /// fsync at checkpoints: survives a process crash, may lose the last commits on power loss.
    Normal,
}

#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout: Duration,
    pub sqlite_sync: SqliteSync,
    /// PostgreSQL schema to use (tests use one schema per test).
    pub schema: Option<String>,
}

impl DbSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            sqlite_sync: SqliteSync::Full,
            schema: None,
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
}

/// Creates `path` empty and readable by its owner only (0600), unless it exists. A
/// database or backup file holds patient data: no other account on the machine may read
/// it. SQLite gives the `-wal` and `-shm` files the mode of the database file.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets `path` to owner-only (0600).
pub fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// Opens the pool and checks the SQLite pragmas took effect. A new SQLite file is
/// created owner-only (0600) first.
pub async fn connect(settings: &DbSettings) -> Result<DatabaseConnection, DbErr> {
    let mut url = settings.url.clone();
    if settings.is_sqlite() && !url.contains("mode=") && !url.contains(":memory:") {
        if let Ok(o) = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(&url) {
            let file = o.get_filename();
            if !file.as_os_str().is_empty() && !file.exists() {
                create_private_file(file)
                    .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", file.display())))?;
            }
        }
        url.push_str(if url.contains('?') {
            "&mode=rwc"
        } else {
            "?mode=rwc"
        });
    }
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if let Some(schema) = &settings.schema {
        opts.set_schema_search_path(schema.clone());
    }
    let busy = settings.busy_timeout;
    let sync = match settings.sqlite_sync {
        SqliteSync::Full => SqliteSynchronous::Full,
        SqliteSync::Normal => SqliteSynchronous::Normal,
    };
    opts.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(sync)
            .busy_timeout(busy)
            .foreign_keys(true)
    });
    // Every connection handed out by the pool is told (a `sqlx::pool::acquire` trace
    // event inside the query's span): `/metrics` counts the queries still waiting for one.
    opts.map_sqlx_sqlite_pool_opts(|o| o.acquire_time_level(log::LevelFilter::Trace));
    opts.map_sqlx_postgres_pool_opts(|o| o.acquire_time_level(log::LevelFilter::Trace));
    let db = Database::connect(opts).await?;
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        register_write_queue(&db, settings.busy_timeout);
        let mode = pragma(&db, "journal_mode").await?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbErr::Custom(format!(
                "SQLite journal_mode is {mode}, expected wal"
            )));
        }
        let level = pragma(&db, "synchronous").await?;
        let want = match settings.sqlite_sync {
            SqliteSync::Full => "2",
            SqliteSync::Normal => "1",
        };
        if level != want {
            return Err(DbErr::Custom(format!(
                "SQLite synchronous is {level}, expected {want}"
            )));
        }
    }
    Ok(db)
}

/// Reads a SQLite pragma as text.
pub async fn pragma<C: ConnectionTrait>(db: &C, name: &str) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("PRAGMA {name} returned nothing")))?;
    if let Ok(s) = row.try_get_by_index::<String>(0) {
        return Ok(s);
    }
    let n: i64 = row.try_get_by_index(0)?;
    Ok(n.to_string())
}

/// One queue of write transactions per SQLite file in this process, with how long a
/// writer may wait in it (the busy timeout).
type WriteQueue = (Arc<tokio::sync::Mutex<()>>, Duration);

static WRITE_QUEUES: LazyLock<Mutex<HashMap<PathBuf, WriteQueue>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn sqlite_file(db: &DatabaseConnection) -> Option<PathBuf> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    Some(std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()))
}

fn register_write_queue(db: &DatabaseConnection, wait: Duration) {
    if let Some(file) = sqlite_file(db) {
        let mut queues = WRITE_QUEUES.lock().unwrap_or_else(|e| e.into_inner());
        let entry = queues
            .entry(file)
            .or_insert_with(|| (Arc::new(tokio::sync::Mutex::new(())), wait));
        entry.1 = wait;
    }
}

/// The write queue of `db`'s SQLite file (created on first use with a 5 s wait when the
/// pool was not opened by [`connect`]); `None` on PostgreSQL.
pub fn write_queue(db: &DatabaseConnection) -> Option<WriteQueue> {
    let file = sqlite_file(db)?;
    let mut queues = WRITE_QUEUES.lock().unwrap_or_else(|e| e.into_inner());
    Some(
        queues
            .entry(file)
            .or_insert_with(|| {
                (
                    Arc::new(tokio::sync::Mutex::new(())),
                    Duration::from_secs(5),
                )
            })
            .clone(),
    )
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
    let turn =
        match write_queue(db) {
            Some((queue, wait)) => {
                let waiting = crate::ops::QueueWaiter::enter();
                let turn = tokio::time::timeout(wait, queue.lock_owned()).await;
                waiting.leave(turn.is_ok());
                Some(turn.map_err(|_| {
                    DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout)
                })?)
            }
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
