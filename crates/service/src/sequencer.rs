//! The audit log's sequencer: per region, it takes the events inserted since its last
//! run in insertion order, gives them the next `seq` values of their region, extends
//! the region's Merkle tree (its compact frontier, O(log n) hashes per event) and stores
//! a checkpoint signed with the server's Ed25519 key — all in one transaction, so a
//! batch is either wholly sequenced or, after a crash, wholly redone.
//!
//! One sequencer runs at a time per region: the region's `audit_trees` row is locked
//! (PostgreSQL) or the write transaction excludes every other writer (SQLite). In
//! `renkei serve` it runs as a task woken after each audited write and every 200 ms.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use renkei_domain::merkle::{self, Frontier, Hash};
use renkei_store::audit::{self as store, AuditEvent, Checkpoint, TreeState};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::{ServiceError, Services, begin_write};

pub use crate::audit_key::{
    AuditKey, checkpoint_message, checkpoint_text, default_key_file, key_id, parse_checkpoints,
    signature_valid,
};

/// Events sequenced per transaction at most.
pub const BATCH: u64 = 2_000;

/// How often the sequencer runs when nothing wakes it.
pub const PERIOD: Duration = Duration::from_millis(200);

/// How long the sequencer, woken by a write, waits for more before it numbers them.
pub const GATHER: Duration = Duration::from_millis(100);

/// The line printed (to standard error) when the sequencer pauses mid-batch.
pub const PAUSE_MARK: &str = "audit sequencer paused mid-batch";

static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);
/// Milliseconds after [`STARTED`] when the log was last seen with nothing pending.
static DRAINED_AT_MS: AtomicU64 = AtomicU64::new(0);

/// Counts one committed append (a new entry, not a replay) for `/metrics`.
pub fn count_append() {
    metrics::counter!("renkei_appends_total").increment(1);
}

fn mark_drained() {
    let ms = STARTED.elapsed().as_millis() as u64;
    DRAINED_AT_MS.fetch_max(ms, Ordering::Relaxed);
}

/// The sequencing lag in seconds: 0 when nothing is pending, else the time since the
/// log was last wholly sequenced (a bound on the age of every pending event).
pub fn sequencing_lag(pending: u64) -> f64 {
    if pending == 0 {
        mark_drained();
        return 0.0;
    }
    let now = STARTED.elapsed().as_millis() as u64;
    now.saturating_sub(DRAINED_AT_MS.load(Ordering::Relaxed)) as f64 / 1000.0
}

fn damaged(what: String) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!(what))
}

/// The leaf of a stored event: its stored leaf hash, or (events written before the
/// Merkle log) computed from its fields.
fn leaf(e: &AuditEvent) -> Hash {
    e.leaf_hash
        .as_deref()
        .and_then(merkle::parse_hash)
        .unwrap_or_else(|| crate::audit::leaf_of(e))
}

/// The region's tree state, locked, created empty when missing; a tree never built
/// (`tree_size` −1) is built from the region's events already sequenced (events
/// written as a hash chain before the Merkle log), which must be numbered 1..n.
async fn open_tree<C: ConnectionTrait>(
    c: &C,
    region: &str,
    at: DateTime<Utc>,
) -> Result<(Frontier, bool), ServiceError> {
    store::ensure_tree(c, region, at).await?;
    let state = store::tree_for_update(c, region)
        .await?
        .ok_or_else(|| damaged(format!("the audit tree of region {region:?} vanished")))?;
    if state.tree_size >= 0 {
        let f = Frontier::decode(&state.frontier)
            .filter(|f| f.size() == state.tree_size as u64)
            .ok_or_else(|| {
                damaged(format!(
                    "the stored audit tree of region {region:?} is damaged"
                ))
            })?;
        return Ok((f, false));
    }
    let mut f = Frontier::default();
    let mut after = 0i64;
    loop {
        let page = store::events_page(c, region, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.event.seq.unwrap_or(after);
        for e in &page {
            if e.event.seq != Some(f.size() as i64 + 1) {
                return Err(damaged(format!(
                    "audit events of region {region:?} are not numbered 1..n (at seq {:?})",
                    e.event.seq
                )));
            }
            f.push(leaf(&e.event));
        }
    }
    Ok((f, true))
}

async fn close_tree<C: ConnectionTrait>(
    c: &C,
    key: &AuditKey,
    region: &str,
    f: &Frontier,
    at: DateTime<Utc>,
) -> Result<Checkpoint, ServiceError> {
    let root = f.root();
    let checkpoint = key.sign(region, f.size(), &root, at);
    store::save_tree(
        c,
        &TreeState {
            region: region.to_owned(),
            tree_size: f.size() as i64,
            frontier: f.encode(),
            root_hash: checkpoint.root_hash.clone(),
            updated_at: checkpoint.at,
        },
    )
    .await?;
    store::insert_checkpoint(c, &checkpoint).await?;
    Ok(checkpoint)
}

static PAUSE_MS: AtomicU64 = AtomicU64::new(0);

/// Makes the sequencer wait `ms` inside its transaction after numbering a batch and
/// before committing it, printing [`PAUSE_MARK`] first. Only for the crash tests, which
/// kill the server while it waits (`serve --audit-sequencer-pause-ms`, hidden).
pub fn set_pause(ms: u64) {
    PAUSE_MS.store(ms, Ordering::Relaxed);
}

/// Sequences one batch of `region`'s pending events in one transaction; returns the
/// checkpoint it signed, or `None` when nothing was pending.
pub async fn sequence_batch(
    db: &DatabaseConnection,
    key: &AuditKey,
    region: &str,
    at: DateTime<Utc>,
) -> Result<Option<(Checkpoint, usize)>, ServiceError> {
    let txn = begin_write(db).await?;
    let (mut frontier, built) = open_tree(&txn, region, at).await?;
    let pending = store::pending(&txn, region, BATCH).await?;
    if pending.is_empty() && !built {
        txn.rollback().await?;
        return Ok(None);
    }
    let mut pairs = Vec::with_capacity(pending.len());
    for e in &pending {
        frontier.push(leaf(&e.event));
        pairs.push((e.local_id, frontier.size() as i64));
    }
    store::assign_seqs(&txn, region, &pairs).await?;
    let pause = PAUSE_MS.load(Ordering::Relaxed);
    if pause > 0 && !pairs.is_empty() {
        eprintln!(
            "{PAUSE_MARK}: {} events of region {region:?} numbered, not committed",
            pairs.len()
        );
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    let checkpoint = close_tree(&txn, key, region, &frontier, at).await?;
    txn.commit().await?;
    Ok(Some((checkpoint, pairs.len())))
}

/// Appends events that are already final (a bulk load of history) to `region`'s tree
/// inside the caller's transaction: gives them the next `seq` values, inserts them with
/// multi-row INSERTs and stores the region's new tree and one signed checkpoint at the
/// end. The region must have no pending events older than these (a load runs alone).
pub async fn append_sequenced<C: ConnectionTrait>(
    c: &C,
    key: &AuditKey,
    region: &str,
    events: &mut [AuditEvent],
    at: DateTime<Utc>,
) -> Result<Checkpoint, ServiceError> {
    let (mut frontier, _) = open_tree(c, region, at).await?;
    for e in events.iter_mut() {
        if e.region != region {
            return Err(damaged(format!(
                "an event of region {:?} was given to region {region:?}",
                e.region
            )));
        }
        frontier.push(leaf(e));
        e.seq = Some(frontier.size() as i64);
    }
    store::insert_events(c, events).await?;
    close_tree(c, key, region, &frontier, at).await
}

impl Services {
    fn audit_key(&self) -> Result<&AuditKey, ServiceError> {
        self.security.audit_key.as_deref().ok_or_else(|| {
            damaged("no audit signing key: the audit log cannot be sequenced".into())
        })
    }

    /// Sequences every pending event of `region` (in batches); returns how many.
    pub async fn sequence_audit(&self, region: &str) -> Result<usize, ServiceError> {
        let key = self.audit_key()?;
        let mut total = 0;
        while let Some((_, n)) = sequence_batch(&self.db, key, region, self.now()).await? {
            total += n;
            if n == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Sequences every region with pending events, and builds the tree of every region
    /// that has events but no tree yet; returns how many events were sequenced.
    pub async fn sequence_all_audit(&self) -> Result<usize, ServiceError> {
        let mut regions = store::pending_regions(&self.db).await?;
        let built: Vec<String> = store::trees(&self.db)
            .await?
            .into_iter()
            .filter(|t| t.tree_size >= 0)
            .map(|t| t.region)
            .collect();
        regions.extend(
            store::regions(&self.db)
                .await?
                .into_iter()
                .filter(|r| !built.contains(r)),
        );
        regions.sort();
        regions.dedup();
        let mut total = 0;
        for region in regions {
            total += self.sequence_audit(&region).await?;
        }
        Ok(total)
    }

    /// How many audit events wait for their sequencer.
    pub async fn audit_pending(&self) -> Result<u64, ServiceError> {
        Ok(store::pending_count(&self.db).await?)
    }

    /// Only the regions with pending events (the periodic run).
    async fn sequence_pending(&self) -> Result<usize, ServiceError> {
        let mut total = 0;
        for region in store::pending_regions(&self.db).await? {
            total += self.sequence_audit(&region).await?;
        }
        Ok(total)
    }

    /// The sequencer task of `renkei serve`: builds missing trees once, then runs
    /// after every audited write and every [`PERIOD`].
    pub fn spawn_sequencer(&self) -> tokio::task::JoinHandle<()> {
        let services = self.clone();
        LazyLock::force(&STARTED);
        tokio::spawn(async move {
            if let Err(e) = services.sequence_all_audit().await {
                tracing::warn!(error = %e, "audit sequencing failed");
            }
            loop {
                tokio::select! {
                    // Woken by a write: let the writes of the next moment join the batch,
                    // so the sequencer commits a few times a second, not once per write.
                    () = crate::audit::written() => tokio::time::sleep(GATHER).await,
                    () = tokio::time::sleep(PERIOD) => {}
                }
                match services.sequence_pending().await {
                    Ok(_) => {
                        if store::pending_count(&services.db).await.ok() == Some(0) {
                            mark_drained();
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "audit sequencing failed"),
                }
            }
        })
    }
}

/// The latest checkpoint of every region.
pub async fn latest_checkpoints(services: &Services) -> Result<Vec<Checkpoint>, ServiceError> {
    let mut out = Vec::new();
    for region in store::regions(&services.db).await? {
        if let Some(k) = store::latest_checkpoint(&services.db, &region).await? {
            out.push(k);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_checkpoint_survives_its_text_form_and_a_changed_field_breaks_its_signature() {
        let key = AuditKey::from_seed([7u8; 32]);
        let at = DateTime::parse_from_rfc3339("2026-12-08T01:02:03.456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let k = key.sign("松本", 42, &[9u8; 32], at);
        assert!(signature_valid(&key.verifying_key(), &k));
        let parsed =
            parse_checkpoints(&format!("{}\n{}", checkpoint_text(&k), checkpoint_text(&k)))
                .unwrap();
        assert_eq!(parsed, vec![k.clone(), k.clone()]);
        let mut bigger = k.clone();
        bigger.tree_size = 43;
        assert!(!signature_valid(&key.verifying_key(), &bigger));
        let mut other_root = k.clone();
        other_root.root_hash = hex::encode([8u8; 32]);
        assert!(!signature_valid(&key.verifying_key(), &other_root));
        let stranger = AuditKey::from_seed([8u8; 32]);
        assert!(!signature_valid(&stranger.verifying_key(), &k));
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let a = AuditKey::load_or_create(&path).unwrap();
        let b = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_default_key_file_sits_next_to_a_sqlite_database() {
        assert_eq!(
            default_key_file("sqlite:///var/lib/renkei/r.db?mode=rwc"),
            PathBuf::from("/var/lib/renkei/r.db.audit-key")
        );
        assert_eq!(
            default_key_file("sqlite://renkei.db"),
            PathBuf::from("renkei.db.audit-key")
        );
        assert_eq!(
            default_key_file("postgres://u@h/db"),
            PathBuf::from("renkei-audit.key")
        );
    }
}
