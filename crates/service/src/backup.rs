//! `renkei backup` and `renkei restore` (R4).
//!
//! SQLite: `VACUUM INTO` copies the database as one read transaction, so the copy is a
//! consistent snapshot of every commit before it started while writers go on (WAL mode:
//! readers never block writers). The copy is fsynced, then opened and checked
//! (`PRAGMA integrity_check`, every hash chain) before the command reports success.
//!
//! Restore puts a checked copy of a backup in place of the database file, only while no
//! process has the database open; the database it replaces is kept beside it, renamed.
//!
//! PostgreSQL is backed up with PostgreSQL's own tools (pg_basebackup plus WAL
//! archiving, README "Operations"); these functions refuse it with that pointer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};

use crate::verify::{VerifyReport, verify};
use crate::{DbSettings, ServiceError, connect};

/// What a PostgreSQL user is told instead.
pub const POSTGRES_ADVICE: &str = "renkei backup/restore handle SQLite only. Back up PostgreSQL \
with its own tools: a base backup (pg_basebackup -D DIR -Ft -z -Xs -P) plus continuous WAL \
archiving (archive_mode=on, archive_command) for point-in-time recovery; restore by \
unpacking the base backup, setting restore_command and starting PostgreSQL (see README, \
\"Operations\").";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a finished backup or restore checked.
#[derive(Debug)]
pub struct CopyReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub integrity: String,
    pub verify: VerifyReport,
}

impl CopyReport {
    pub fn is_ok(&self) -> bool {
        self.integrity == "ok" && self.verify.problems.is_empty()
    }
}

/// The file behind a `sqlite://PATH[?…]` URL, or `None` for any other URL.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

fn refuse_postgres(url: &str) -> Result<PathBuf, BackupError> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(BackupError::Refused(POSTGRES_ADVICE.to_owned()));
    }
    sqlite_path(url)
        .ok_or_else(|| BackupError::Refused(format!("not a SQLite database file URL: {url}")))
}

/// Fsyncs a file and the directory that names it.
fn sync_file_and_dir(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::File::open(&dir)
        .and_then(|f| f.sync_all())
        .map_err(io(&dir))?;
    Ok(())
}

/// Opens `path` like the server does and checks it: `PRAGMA integrity_check` and every
/// hash chain.
pub async fn check_copy(path: &Path) -> Result<CopyReport, BackupError> {
    let mut settings = DbSettings::new(format!("sqlite://{}", path.display()));
    settings.max_connections = 1;
    let db = connect(&settings).await?;
    let integrity = integrity_check(&db).await?;
    let verify = verify(&db).await?;
    db.close().await?;
    let bytes = std::fs::metadata(path).map_err(io(path))?.len();
    Ok(CopyReport {
        path: path.to_owned(),
        bytes,
        integrity,
        verify,
    })
}

pub use renkei_store::backup::integrity_check;

/// Writes a consistent copy of the live SQLite database `db` (opened from `url`) to
/// `target`, which must not exist, then checks the copy. Writers are not stopped.
pub async fn backup(
    db: &DatabaseConnection,
    url: &str,
    target: &Path,
) -> Result<CopyReport, BackupError> {
    let source = refuse_postgres(url)?;
    if target.exists() {
        return Err(BackupError::Refused(format!(
            "{} already exists; choose a new file name (a backup never overwrites)",
            target.display()
        )));
    }
    if let (Ok(a), Ok(b)) = (source.canonicalize(), target.canonicalize())
        && a == b
    {
        return Err(BackupError::Refused(
            "the backup file is the database itself".into(),
        ));
    }
    let target_str = target
        .to_str()
        .ok_or_else(|| BackupError::Refused("the backup path must be valid UTF-8".into()))?;
    // Owner-only from the start (VACUUM INTO fills an empty file and keeps its mode).
    renkei_store::db::create_private_file(target).map_err(io(target))?;
    // One statement, one read transaction: a snapshot of every commit before it began.
    if let Err(e) = renkei_store::backup::vacuum_into(db, target_str).await {
        let _ = std::fs::remove_file(target);
        return Err(e.into());
    }
    // VACUUM INTO does not fsync its output; a backup that a power cut can undo is none.
    sync_file_and_dir(target)?;
    check_copy(target).await
}

/// Restores the backup `file` as the SQLite database of `url`.
///
/// The backup is first copied next to the database and checked there (integrity, every
/// chain); then, only if no process has the database open, the current file is renamed
/// to `<db>.pre-restore-<UTC time>` (the time `at`) and the checked copy takes its place.
pub async fn restore(
    url: &str,
    file: &Path,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(CopyReport, Option<PathBuf>), BackupError> {
    let target = refuse_postgres(url)?;
    if !file.is_file() {
        return Err(BackupError::Refused(format!(
            "{} is not a file",
            file.display()
        )));
    }
    if target.exists() {
        // Fail early; checked again just before the swap.
        take_exclusive(&target).await?;
    }
    let staging = with_suffix(&target, ".restoring");
    for p in [
        staging.clone(),
        with_suffix(&staging, "-wal"),
        with_suffix(&staging, "-shm"),
    ] {
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    std::fs::copy(file, &staging).map_err(io(&staging))?;
    // A backup from before backups were owner-only must not make the database readable.
    renkei_store::db::make_private(&staging).map_err(io(&staging))?;
    let report = check_copy(&staging).await?;
    if !report.is_ok() {
        let _ = std::fs::remove_file(&staging);
        return Err(BackupError::Refused(format!(
            "the backup {} fails its checks (integrity: {}; {} broken chain(s)); nothing restored",
            file.display(),
            report.integrity,
            report.verify.problems.len()
        )));
    }
    // Closing the pool checkpointed the copy; a WAL left behind would be lost by the rename.
    if with_suffix(&staging, "-wal").exists() {
        return Err(BackupError::Refused(
            "the checked copy kept a WAL file; nothing restored".into(),
        ));
    }
    sync_file_and_dir(&staging)?;
    let mut kept = None;
    if target.exists() {
        if let Err(e) = take_exclusive(&target).await {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
        let stamp = at.format("%Y%m%dT%H%M%SZ");
        let aside = with_suffix(&target, &format!(".pre-restore-{stamp}"));
        std::fs::rename(&target, &aside).map_err(io(&target))?;
        for ext in ["-wal", "-shm"] {
            let p = with_suffix(&target, ext);
            if p.exists() {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
        kept = Some(aside);
    }
    std::fs::rename(&staging, &target).map_err(io(&staging))?;
    sync_file_and_dir(&target)?;
    let report = CopyReport {
        path: target,
        ..report
    };
    Ok((report, kept))
}

/// Proves no other process has the database open: leaving WAL mode needs exclusive
/// access (SQLite answers "database is locked" otherwise), and on the way out SQLite
/// checkpoints the WAL into the main file, so the file renamed aside is complete.
async fn take_exclusive(path: &Path) -> Result<(), BackupError> {
    let mode = renkei_store::backup::leave_wal(path, Duration::from_millis(500))
        .await
        .map_err(|e| {
            BackupError::Refused(format!(
                "{} is in use ({e}); stop `renkei serve` (and every other process using it) first",
                path.display()
            ))
        })?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::Refused(format!(
            "{} is in use (cannot leave WAL mode, journal_mode is {mode}); stop `renkei serve` first",
            path.display()
        )));
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://renkei.db"),
            Some(PathBuf::from("renkei.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc"),
            Some(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }
}
