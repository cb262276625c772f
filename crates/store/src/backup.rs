//! The SQLite statements behind `renkei backup` and `renkei restore`.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DbErr, Statement};

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `PRAGMA integrity_check`: "ok", or the problems it found, one per line.
pub async fn integrity_check<C: ConnectionTrait>(db: &C) -> Result<String, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA integrity_check".to_owned(),
        ))
        .await?;
    let mut lines = Vec::new();
    for row in rows {
        lines.push(row.try_get_by_index::<String>(0)?);
    }
    Ok(lines.join("\n"))
}

/// `VACUUM INTO target`: one statement, one read transaction, so the copy is a snapshot
/// of every commit before it began.
pub async fn vacuum_into<C: ConnectionTrait>(db: &C, target: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("VACUUM INTO {}", quote(target)))
        .await?;
    Ok(())
}

/// Opens the SQLite file `path` alone and switches it out of WAL mode, which needs
/// exclusive access ("database is locked" otherwise, after `busy`); on the way out
/// SQLite checkpoints the WAL into the main file. Returns the journal mode it reports.
pub async fn leave_wal(path: &Path, busy: Duration) -> Result<String, DbErr> {
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rw", path.display()));
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| o.busy_timeout(busy));
    let db = Database::connect(opts).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA journal_mode=DELETE".to_owned(),
        ))
        .await;
    let mode = match row {
        Ok(row) => row.map(|r| r.try_get_by_index::<String>(0)).transpose(),
        Err(e) => Err(e),
    };
    db.close().await?;
    Ok(mode?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_literals() {
        assert_eq!(super::quote("a'b"), "'a''b'");
    }
}
