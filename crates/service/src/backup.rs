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

/// Backup generations: `renkei backup --dir DIR --keep N` (see [`backup_generation`])
/// and `renkei restore --check FILE|DIR` (see [`check_generations`]).
pub mod generations {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Serialize};
    use sha2::{Digest, Sha256};

    use super::{BackupError, CopyReport, backup, io};
    use crate::{DbSettings, PathwayRegistry, Services, connect};

    /// The manifest written beside each generation (`<file>.manifest.json`).
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    pub struct Manifest {
        pub format: u32,
        /// The backup file's name (in the same directory).
        pub file: String,
        pub bytes: u64,
        pub sha256: String,
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Rows per table in the copy.
        pub row_counts: std::collections::BTreeMap<String, i64>,
        /// The audit log's latest signed checkpoint of each region in the copy: the
        /// events it covers (`tree_size`) and their Merkle root.
        pub audit_checkpoints: Vec<ManifestCheckpoint>,
        /// Audit events in the copy not yet under a checkpoint.
        pub audit_pending: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    pub struct ManifestCheckpoint {
        pub region: String,
        pub tree_size: i64,
        pub root_hash: String,
        /// The checkpoint in the witness text form `verify --checkpoint` reads.
        pub text: String,
    }

    /// What `backup --dir` did.
    #[derive(Debug)]
    pub struct GenerationReport {
        pub copy: CopyReport,
        pub manifest: Manifest,
        pub manifest_path: PathBuf,
        /// Generations removed by the rotation (their database files).
        pub removed: Vec<PathBuf>,
    }

    const PREFIX: &str = "renkei-";
    const SUFFIX: &str = ".db";
    const MANIFEST_SUFFIX: &str = ".manifest.json";

    /// The manifest path of the backup `file`.
    pub fn manifest_path(file: &Path) -> PathBuf {
        super::with_suffix(file, MANIFEST_SUFFIX)
    }

    pub fn sha256_file(path: &Path) -> Result<String, BackupError> {
        let mut f = std::fs::File::open(path).map_err(io(path))?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h).map_err(io(path))?;
        Ok(hex::encode(h.finalize()))
    }

    /// The generations in `dir`, oldest first (file names carry their UTC time).
    pub fn list(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    async fn describe(
        file: &Path,
    ) -> Result<
        (
            std::collections::BTreeMap<String, i64>,
            Vec<ManifestCheckpoint>,
            u64,
        ),
        BackupError,
    > {
        let mut settings = DbSettings::new(format!("sqlite://{}", file.display()));
        settings.max_connections = 1;
        let db = connect(&settings).await?;
        let counts = renkei_store::ops::row_counts(&db).await?;
        let services = Services::new(db.clone(), PathwayRegistry::default());
        let checkpoints = crate::sequencer::latest_checkpoints(&services).await?;
        let pending = services.audit_pending().await?;
        db.close().await?;
        Ok((
            counts.into_iter().collect(),
            checkpoints
                .iter()
                .map(|k| ManifestCheckpoint {
                    region: k.region.clone(),
                    tree_size: k.tree_size,
                    root_hash: k.root_hash.clone(),
                    text: crate::sequencer::checkpoint_text(k),
                })
                .collect(),
            pending,
        ))
    }

    /// Writes a new generation into `dir` (created when missing), its manifest beside it,
    /// then removes the oldest generations beyond `keep` (at least 1 is kept).
    pub async fn backup_generation(
        db: &sea_orm::DatabaseConnection,
        url: &str,
        dir: &Path,
        keep: usize,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<GenerationReport, BackupError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let name = format!("{PREFIX}{}{SUFFIX}", at.format("%Y%m%dT%H%M%S%.3fZ"));
        let file = dir.join(&name);
        let copy = backup(db, url, &file).await?;
        if !copy.is_ok() {
            return Err(BackupError::Refused(format!(
                "the copy {} fails its checks (integrity: {}; {} broken chain(s)); kept for inspection, no rotation",
                file.display(),
                copy.integrity,
                copy.verify.problems.len()
            )));
        }
        let (row_counts, audit_checkpoints, audit_pending) = describe(&file).await?;
        let manifest = Manifest {
            format: 1,
            file: name,
            bytes: std::fs::metadata(&file).map_err(io(&file))?.len(),
            sha256: sha256_file(&file)?,
            created_at: at,
            row_counts,
            audit_checkpoints,
            audit_pending,
        };
        let manifest_path = manifest_path(&file);
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| BackupError::Refused(format!("manifest: {e}")))?;
        renkei_store::db::create_private_file(&manifest_path).map_err(io(&manifest_path))?;
        std::fs::write(&manifest_path, text).map_err(io(&manifest_path))?;
        super::sync_file_and_dir(&manifest_path)?;
        let mut removed = Vec::new();
        let all = list(dir)?;
        let keep = keep.max(1);
        if all.len() > keep {
            for old in &all[..all.len() - keep] {
                if old == &file {
                    continue;
                }
                std::fs::remove_file(old).map_err(io(old))?;
                let m = manifest_path_of(old);
                if m.exists() {
                    std::fs::remove_file(&m).map_err(io(&m))?;
                }
                removed.push(old.clone());
            }
        }
        Ok(GenerationReport {
            copy,
            manifest,
            manifest_path,
            removed,
        })
    }

    fn manifest_path_of(file: &Path) -> PathBuf {
        manifest_path(file)
    }

    /// The result of checking one generation.
    #[derive(Debug)]
    pub struct GenerationCheck {
        pub file: PathBuf,
        pub manifest: Option<Manifest>,
        pub copy: Option<CopyReport>,
        /// Everything that disagrees (empty: the generation restores and matches).
        pub problems: Vec<String>,
        /// What could not be checked (a backup without a manifest).
        pub notes: Vec<String>,
    }

    impl GenerationCheck {
        pub fn is_ok(&self) -> bool {
            self.problems.is_empty()
        }
    }

    /// `restore --check`: every generation of `target` (a directory of generations, a
    /// backup file, or its manifest), each copied into a scratch directory and checked
    /// there: checksum, integrity, every hash chain, the audit log's Merkle trees against
    /// the manifest's checkpoints, and the row counts. The database is not touched.
    pub async fn check_generations(target: &Path) -> Result<Vec<GenerationCheck>, BackupError> {
        let files = if target.is_dir() {
            let l = list(target)?;
            if l.is_empty() {
                return Err(BackupError::Refused(format!(
                    "no backup generation ({PREFIX}*{SUFFIX}) in {}",
                    target.display()
                )));
            }
            l
        } else if target.to_string_lossy().ends_with(MANIFEST_SUFFIX) {
            let s = target.to_string_lossy();
            vec![PathBuf::from(&s[..s.len() - MANIFEST_SUFFIX.len()])]
        } else if target.is_file() {
            vec![target.to_owned()]
        } else {
            return Err(BackupError::Refused(format!(
                "{} is neither a backup file nor a directory of generations",
                target.display()
            )));
        };
        let mut out = Vec::new();
        for f in files {
            out.push(check_one(&f).await?);
        }
        Ok(out)
    }

    /// A scratch directory for one restore check, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Result<Scratch, BackupError> {
            let dir = std::env::temp_dir().join(format!(
                "renkei-restore-check-{}",
                uuid::Uuid::now_v7().simple()
            ));
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            Ok(Scratch(dir))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn check_one(file: &Path) -> Result<GenerationCheck, BackupError> {
        let mut problems = Vec::new();
        let mpath = manifest_path(file);
        let manifest: Option<Manifest> = if mpath.exists() {
            let text = std::fs::read_to_string(&mpath).map_err(io(&mpath))?;
            match serde_json::from_str(&text) {
                Ok(m) => Some(m),
                Err(e) => {
                    problems.push(format!("manifest {} unreadable: {e}", mpath.display()));
                    None
                }
            }
        } else {
            None
        };
        if !file.is_file() {
            problems.push(format!("{} is missing", file.display()));
            return Ok(GenerationCheck {
                file: file.to_owned(),
                manifest,
                copy: None,
                problems,
                notes: Vec::new(),
            });
        }
        if let Some(m) = &manifest {
            let sum = sha256_file(file)?;
            if sum != m.sha256 {
                problems.push(format!(
                    "checksum differs from the manifest (sha256 {sum}, manifest {})",
                    m.sha256
                ));
            }
            let bytes = std::fs::metadata(file).map_err(io(file))?.len();
            if bytes != m.bytes {
                problems.push(format!(
                    "size {bytes} differs from the manifest's {}",
                    m.bytes
                ));
            }
        }
        let scratch = Scratch::new()?;
        let copy_path = scratch.0.join("restored.db");
        std::fs::copy(file, &copy_path).map_err(io(&copy_path))?;
        let copy = match super::check_copy(&copy_path).await {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("the copy does not open: {e}"));
                return Ok(GenerationCheck {
                    file: file.to_owned(),
                    manifest,
                    copy: None,
                    problems,
                    notes: Vec::new(),
                });
            }
        };
        if copy.integrity != "ok" {
            problems.push(format!("integrity_check: {}", copy.integrity));
        }
        problems.extend(copy.verify.problems.iter().cloned());
        if let Some(m) = &manifest {
            let mut settings = DbSettings::new(format!("sqlite://{}", copy_path.display()));
            settings.max_connections = 1;
            let db = connect(&settings).await?;
            let counts = renkei_store::ops::row_counts(&db).await?;
            for (table, n) in &counts {
                match m.row_counts.get(table) {
                    Some(want) if want == n => {}
                    Some(want) => problems.push(format!(
                        "{table}: {n} rows restored, the manifest says {want}"
                    )),
                    None => problems.push(format!("{table}: not in the manifest")),
                }
            }
            let mut witness = Vec::new();
            for k in &m.audit_checkpoints {
                match crate::sequencer::parse_checkpoints(&k.text) {
                    Ok(mut v) => witness.append(&mut v),
                    Err(e) => problems.push(format!("manifest checkpoint of {}: {e}", k.region)),
                }
            }
            let trust = crate::audit::AuditTrust {
                public_key: None,
                witness: &witness,
            };
            let report = crate::verify::verify_with(&db, &trust).await?;
            problems.extend(
                report
                    .problems
                    .iter()
                    .filter(|p| !copy.verify.problems.contains(p))
                    .map(|p| format!("against the manifest's checkpoints: {p}")),
            );
            db.close().await?;
        }
        let mut notes = Vec::new();
        if manifest.is_none() {
            notes.push(format!(
                "no manifest ({}): checksum, row counts and checkpoints not checked",
                mpath.display()
            ));
        }
        Ok(GenerationCheck {
            file: file.to_owned(),
            manifest,
            copy: Some(copy),
            problems,
            notes,
        })
    }
}
