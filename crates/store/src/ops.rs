//! What the operators' endpoints read from the store: the write queue's depth and wait,
//! the connection pool's use, the migrations the database has applied, and the row
//! counts a backup's manifest records.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Writers of this process waiting for their turn in a SQLite write queue now.
pub fn write_queue_depth() -> usize {
    WAITING.load(Ordering::Relaxed)
}

/// One writer waiting in the queue: counted while it waits; its wait is recorded in the
/// `renkei_write_queue_wait_seconds` histogram when it gets its turn or gives up.
pub(crate) struct QueueWaiter {
    since: Instant,
}

impl QueueWaiter {
    pub(crate) fn enter() -> QueueWaiter {
        WAITING.fetch_add(1, Ordering::Relaxed);
        QueueWaiter {
            since: Instant::now(),
        }
    }

    pub(crate) fn leave(self, got_turn: bool) {
        let waited = self.since.elapsed().as_secs_f64();
        metrics::histogram!("renkei_write_queue_wait_seconds").record(waited);
        if !got_turn {
            metrics::counter!("renkei_write_queue_timeouts_total").increment(1);
        }
        // Drop decrements.
    }
}

impl Drop for QueueWaiter {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection pool: connections open, of which idle, and the most it may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolStats {
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

pub fn pool_stats(db: &DatabaseConnection) -> PoolStats {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            PoolStats {
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            }
        }
        _ => {
            let p = db.get_postgres_connection_pool();
            PoolStats {
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            }
        }
    }
}

/// The names of the migrations the database records as applied (none when the
/// migrations table does not exist yet).
pub async fn applied_migrations<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let rows = match db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version".to_owned(),
        ))
        .await
    {
        Ok(rows) => rows,
        Err(_) => return Ok(Vec::new()),
    };
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0))
        .collect()
}

/// Rows in each table that holds the record (for a backup's manifest and its check).
pub const COUNTED_TABLES: &[&str] = &[
    "organizations",
    "practitioners",
    "patients",
    "care_plans",
    "entries",
    "audit_events",
    "audit_checkpoints",
];

/// `SELECT count(*)` of each of [`COUNTED_TABLES`] (a table that does not exist counts
/// as absent).
pub async fn row_counts<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for t in COUNTED_TABLES {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT count(*) FROM {t}"),
            ))
            .await?;
        let n = match row {
            Some(r) => r.try_get_by_index::<i64>(0)?,
            None => 0,
        };
        out.push(((*t).to_owned(), n));
    }
    Ok(out)
}

/// Every care plan that is no longer active (completed or withdrawn), by id.
pub async fn closed_care_plans<C: ConnectionTrait>(
    c: &C,
) -> Result<Vec<crate::queries::CarePlanRow>, crate::StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    use crate::entity::care_plans;
    Ok(care_plans::Entity::find()
        .filter(care_plans::Column::Status.ne("active"))
        .order_by_asc(care_plans::Column::Id)
        .all(c)
        .await?)
}
