//! Storage errors, classified at the edge so callers never inspect `DbErr` text.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique or foreign-key constraint refused the write.
    #[error("constraint violated: {constraint}")]
    Conflict { constraint: String },
    /// The database is busy or unreachable (SQLite lock beyond the busy timeout, pool
    /// exhausted, connection refused): retry later.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// A stored value is not one the schema allows (a status, kind or role that does not
    /// parse): the row was written outside Renkei or is damaged.
    #[error("stored value does not parse: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(c)) => {
                return StoreError::Conflict { constraint: c };
            }
            Some(SqlErr::ForeignKeyConstraintViolation(c)) => {
                return StoreError::Conflict { constraint: c };
            }
            _ => {}
        }
        let text = err.to_string();
        let busy = matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
            || text.contains("database is locked")
            || text.contains("database is busy")
            || text.contains("SQLITE_BUSY")
            || text.contains("disk is full")
            || text.contains("database or disk is full")
            || text.contains("No space left")
            || text.contains("could not extend file");
        if busy {
            StoreError::Unavailable(err)
        } else {
            StoreError::Db(err)
        }
    }
}

impl StoreError {
    /// A stored value outside its closed vocabulary: the row cannot be read as the
    /// domain type, and the caller sees an internal error rather than a guess.
    pub fn unparsable(what: &str, value: &str) -> Self {
        StoreError::Corrupt(format!("stored {what} `{value}` is not valid"))
    }
}
