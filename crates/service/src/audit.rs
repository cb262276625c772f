//! The audit log: one event per read or write of patient data, per login and per
//! denial. Writes record their event in their own transaction; reads record theirs in a
//! short write transaction before the data is returned.
//!
//! An event is one INSERT with its RFC 9162 leaf hash already computed and no `seq`: no
//! row shared by other requests is touched, so writers do not queue behind each other.
//! Its region's sequencer (see [`crate::sequencer`]) later gives it its place in the
//! region's Merkle tree and signs a checkpoint.

use chrono::{DateTime, Utc};
use renkei_domain::canonical::{sha256_tagged, to_canonical_string};
use renkei_domain::chain::hash_time;
use std::collections::HashMap;

use renkei_domain::evidence::{self, Evidence, EvidenceKey, EvidenceKind, Ledger};
use renkei_domain::merkle::{self, Frontier, Hash};
use renkei_store::audit::{self as store, AuditEvent};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{Actor, ServiceError, Services, begin_write};

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
}

/// Where a request came from, for the audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

/// What to record. `action` is a stable dotted name (`care_plan.read`, `entry.append`,
/// `login.password` …).
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub care_plan_id: Option<Uuid>,
    pub outcome: Outcome,
    pub detail: Option<String>,
    /// The plan's region when the event is about a plan, else the actor's
    /// organisation's, else `""` (system events).
    pub region: String,
    /// Rows this write created or changed that are kept under evidence: the event
    /// records the digest of each one's state as the transaction leaves it.
    pub writes: Vec<EvidenceKey>,
}

impl AuditRecord {
    /// An event by `actor` on a resource.
    pub fn by(
        actor: &Actor,
        action: &'static str,
        resource_type: &'static str,
        resource_id: Option<String>,
        outcome: Outcome,
    ) -> Self {
        AuditRecord {
            practitioner_id: Some(actor.practitioner_id),
            organization_id: Some(actor.organization_id),
            action,
            resource_type,
            resource_id,
            patient_id: None,
            care_plan_id: None,
            outcome,
            detail: None,
            region: actor.region.clone(),
            writes: Vec::new(),
        }
    }

    /// The region whose tree the event joins.
    pub fn region(mut self, region: &str) -> Self {
        self.region = region.to_owned();
        self
    }

    pub fn patient(mut self, id: Option<Uuid>) -> Self {
        self.patient_id = id;
        self
    }

    pub fn plan(mut self, id: Option<Uuid>) -> Self {
        self.care_plan_id = id;
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    /// Records the resulting state of a row this write created or changed (see
    /// [`crate::evidence`]); call [`record`] after the row's last change.
    pub fn wrote(mut self, kind: EvidenceKind, id: Uuid) -> Self {
        self.writes.push(EvidenceKey { kind, id });
        self
    }
}

/// The leaf document of an event: every field but its place in the tree (`seq`) and the
/// chain fields of events written before the Merkle log.
fn leaf_document(e: &AuditEvent) -> serde_json::Value {
    let mut doc = json!({
        "id": e.id.to_string(),
        "region": e.region,
        "at": hash_time(&e.at),
        "practitioner_id": e.practitioner_id.map(|v| v.to_string()),
        "organization_id": e.organization_id.map(|v| v.to_string()),
        "action": e.action,
        "resource_type": e.resource_type,
        "resource_id": e.resource_id,
        "patient_id": e.patient_id.map(|v| v.to_string()),
        "care_plan_id": e.care_plan_id.map(|v| v.to_string()),
        "outcome": e.outcome,
        "request_id": e.request_id,
        "client_addr": e.client_addr,
        "detail": e.detail,
    });
    if let (Some(ev), Some(map)) = (&e.evidence, doc.as_object_mut()) {
        map.insert("evidence".into(), serde_json::Value::String(ev.clone()));
    }
    doc
}

/// The document an event written as a hash chain was hashed over (its `seq` and
/// `prev_hash` included), before the Merkle log.
fn chain_document(e: &AuditEvent, seq: i64, prev_hash: &str) -> serde_json::Value {
    let mut doc = json!({
        "id": e.id.to_string(),
        "seq": seq,
        "at": hash_time(&e.at),
        "practitioner_id": e.practitioner_id.map(|v| v.to_string()),
        "organization_id": e.organization_id.map(|v| v.to_string()),
        "action": e.action,
        "resource_type": e.resource_type,
        "resource_id": e.resource_id,
        "patient_id": e.patient_id.map(|v| v.to_string()),
        "care_plan_id": e.care_plan_id.map(|v| v.to_string()),
        "outcome": e.outcome,
        "request_id": e.request_id,
        "client_addr": e.client_addr,
        "detail": e.detail,
        "prev_hash": prev_hash,
    });
    if let (Some(ev), Some(map)) = (&e.evidence, doc.as_object_mut()) {
        map.insert("evidence".into(), serde_json::Value::String(ev.clone()));
    }
    doc
}

/// Whether the event was written as a hash chain link before the Merkle log.
pub fn is_chain_event(e: &AuditEvent) -> bool {
    e.prev_hash.is_some()
}

/// The RFC 9162 leaf hash of an event, from its fields. An event written as a chain
/// link is a leaf too: its leaf covers the document its chain hash covered.
pub fn leaf_of(e: &AuditEvent) -> Hash {
    let doc = match &e.prev_hash {
        Some(prev) => chain_document(e, e.seq.unwrap_or_default(), prev),
        None => leaf_document(e),
    };
    merkle::leaf_hash(to_canonical_string(&doc).as_bytes())
}

/// The chain hash an event written before the Merkle log stored, recomputed.
pub fn chain_hash_of(e: &AuditEvent) -> Option<String> {
    let prev = e.prev_hash.as_deref()?;
    let doc = chain_document(e, e.seq.unwrap_or_default(), prev);
    Some(sha256_tagged(to_canonical_string(&doc).as_bytes()))
}

/// The stored event for `r`, dated `at`, with the digests of the rows it wrote and its
/// leaf hash: everything a write needs, computed before it is inserted. Bulk loaders
/// build their events with it and store them with [`renkei_store::audit::insert_events`]
/// (unsequenced) or [`crate::sequencer::append_sequenced`].
pub fn prepare(
    at: DateTime<Utc>,
    meta: &RequestMeta,
    r: AuditRecord,
    written: &[Evidence],
) -> AuditEvent {
    let mut event = AuditEvent {
        id: Uuid::now_v7(),
        region: r.region,
        seq: None,
        at,
        practitioner_id: r.practitioner_id.map(Into::into),
        organization_id: r.organization_id.map(Into::into),
        action: r.action.to_owned(),
        resource_type: r.resource_type.to_owned(),
        resource_id: r.resource_id,
        patient_id: r.patient_id.map(Into::into),
        care_plan_id: r.care_plan_id.map(Into::into),
        outcome: r.outcome.as_str().to_owned(),
        request_id: meta.request_id.clone(),
        client_addr: meta.client_addr.clone(),
        detail: r.detail,
        evidence: evidence::encode(written),
        leaf_hash: None,
        prev_hash: None,
        hash: None,
    };
    event.leaf_hash = Some(hex::encode(leaf_of(&event)));
    event
}

/// Appends an event, dated `at` (the service clock's now, or a recorded time when the
/// dataset generator loads history), inside the caller's transaction: reads the
/// resulting state of the rows it wrote, then one INSERT. No shared row is locked; the
/// sequencer is woken to give the event its place once the transaction commits.
pub async fn record<C: ConnectionTrait>(
    c: &C,
    at: DateTime<Utc>,
    meta: &RequestMeta,
    r: AuditRecord,
) -> Result<(), ServiceError> {
    let mut written = Vec::with_capacity(r.writes.len());
    for key in &r.writes {
        written.push(crate::evidence::current(c, key.kind, key.id).await?);
    }
    let event = prepare(at, meta, r, &written);
    store::insert_event(c, &event).await?;
    wake();
    Ok(())
}

static WRITTEN: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Wakes the sequencer: an audit event was written.
fn wake() {
    WRITTEN.notify_one();
}

/// Completes when an audit event has been written since the last call (the sequencer
/// waits on it).
pub async fn written() {
    WRITTEN.notified().await;
}

/// Records one event in its own write transaction (reads and denials), at the
/// service clock's now.
pub async fn record_now(
    services: &Services,
    meta: &RequestMeta,
    r: AuditRecord,
) -> Result<(), ServiceError> {
    let txn = begin_write(&services.db).await?;
    record(&txn, services.now(), meta, r).await?;
    txn.commit().await?;
    wake();
    Ok(())
}

/// Records several events in one write transaction (one durable commit for a read that
/// touches several kinds of a plan's data, or a search that returns several plans), at
/// the service clock's now, in the order given.
pub async fn record_all_now(
    services: &Services,
    meta: &RequestMeta,
    records: Vec<AuditRecord>,
) -> Result<(), ServiceError> {
    if records.is_empty() {
        return Ok(());
    }
    let txn = begin_write(&services.db).await?;
    let now = services.now();
    for r in records {
        record(&txn, now, meta, r).await?;
    }
    txn.commit().await?;
    wake();
    Ok(())
}

/// What the audit log check found.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditSummary {
    /// Events checked (sequenced and pending).
    pub events: usize,
    /// Events still waiting for their sequencer.
    pub pending: usize,
    /// Stored checkpoints checked against the events (and their signatures, when the
    /// public key is known).
    pub checkpoints: usize,
    /// Witness checkpoints checked.
    pub witnessed: usize,
}

/// What `verify` checks the audit log against besides the database itself.
#[derive(Debug, Default)]
pub struct AuditTrust<'a> {
    /// The server's public key: every stored (and witness) checkpoint's signature is
    /// checked with it.
    pub public_key: Option<&'a ed25519_dalek::VerifyingKey>,
    /// Checkpoints kept outside the database (`renkei audit checkpoint` output).
    pub witness: &'a [store::Checkpoint],
}

/// Events read per page by [`verify_audit`].
const VERIFY_PAGE: u64 = 5_000;

/// Checks the audit log region by region in `seq` order and replays the evidence its
/// events recorded into `ledger` (by `seq` per region, then by region; then the pending
/// events in insertion order). Finds:
/// - an event whose fields no longer give its leaf hash (changed), and for events written
///   as a chain link before the Merkle log, a broken link;
/// - a gap, a repeat or a foreign number in a region's `seq` (deleted, inserted or
///   reordered events);
/// - a stored checkpoint whose root is not the root of the tree of that size rebuilt
///   from the events (anything changed, inserted, deleted or reordered before it), or
///   whose size the log no longer reaches (truncated), or whose signature is not the
///   server's;
/// - the same against each witness checkpoint, which also catches a log cut back
///   together with its stored checkpoints and tree.
pub async fn verify_audit(
    db: &sea_orm::DatabaseConnection,
    ledger: &mut Ledger,
    trust: &AuditTrust<'_>,
) -> Result<(AuditSummary, Vec<String>), ServiceError> {
    // One snapshot: a sequencer committing meanwhile must not make the events, trees
    // and checkpoints read disagree.
    let txn = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            db.begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    };
    let out = verify_audit_in(&txn, ledger, trust).await;
    txn.rollback().await?;
    out
}

async fn verify_audit_in<C: ConnectionTrait>(
    db: &C,
    ledger: &mut Ledger,
    trust: &AuditTrust<'_>,
) -> Result<(AuditSummary, Vec<String>), ServiceError> {
    let mut summary = AuditSummary::default();
    let mut problems = Vec::new();
    let stored = store::checkpoints(db).await?;
    let trees = store::trees(db).await?;
    let mut regions = store::regions(db).await?;
    regions.extend(stored.iter().map(|k| k.region.clone()));
    regions.extend(trust.witness.iter().map(|k| k.region.clone()));
    regions.sort();
    regions.dedup();

    if let Some(public) = trust.public_key {
        for k in stored.iter().chain(trust.witness) {
            if !crate::audit_key::signature_valid(public, k) {
                problems.push(format!(
                    "audit checkpoint of region {:?} at size {}: its signature is not the server's key's; it was made or changed outside Renkei",
                    k.region, k.tree_size
                ));
            }
        }
    }

    for region in &regions {
        let mine: Vec<&store::Checkpoint> = stored.iter().filter(|k| &k.region == region).collect();
        let witnessed: Vec<&store::Checkpoint> = trust
            .witness
            .iter()
            .filter(|k| &k.region == region)
            .collect();
        let mut wanted: Vec<i64> = mine
            .iter()
            .chain(witnessed.iter())
            .map(|k| k.tree_size)
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut roots: HashMap<i64, Hash> = HashMap::new();
        let mut frontier = Frontier::default();
        let mut wanted_at = 0usize;
        let mut take_root = |frontier: &Frontier, roots: &mut HashMap<i64, Hash>| {
            while wanted_at < wanted.len() && wanted[wanted_at] <= frontier.size() as i64 {
                if wanted[wanted_at] == frontier.size() as i64 {
                    roots.insert(wanted[wanted_at], frontier.root());
                }
                wanted_at += 1;
            }
        };
        take_root(&frontier, &mut roots);
        let mut prev_chain_hash: Option<String> = None;
        let mut after = 0i64;
        // The next page is read while the current one is hashed on a blocking thread.
        let mut next = store::events_page(db, region, after, VERIFY_PAGE).await?;
        'pages: while let Some(last) = next.last() {
            after = last.event.seq.unwrap_or(after);
            let page = std::mem::take(&mut next);
            let hashing = tokio::task::spawn_blocking(move || {
                let leaves: Vec<Hash> = page.iter().map(|p| leaf_of(&p.event)).collect();
                (page, leaves)
            });
            let (fetched, hashed) =
                tokio::join!(store::events_page(db, region, after, VERIFY_PAGE), hashing);
            next = fetched?;
            let (page, leaves) =
                hashed.map_err(|e| ServiceError::Internal(anyhow::Error::new(e)))?;
            for (stored_event, computed) in page.iter().zip(leaves) {
                let e = &stored_event.event;
                let seq = e.seq.unwrap_or_default();
                let expected = frontier.size() as i64 + 1;
                if seq != expected {
                    problems.push(format!(
                        "audit event seq {seq} of region {region:?}: expected seq {expected}; events were deleted, inserted or reordered"
                    ));
                    break 'pages;
                }
                if let Some(stored_leaf) = &e.leaf_hash
                    && stored_leaf != &hex::encode(computed)
                {
                    problems.push(format!(
                        "audit event seq {seq} of region {region:?}: its contents do not match its leaf hash; it was changed outside Renkei"
                    ));
                }
                if let Some(prev) = &e.prev_hash {
                    let expected_prev = prev_chain_hash
                        .as_deref()
                        .unwrap_or(renkei_domain::chain::GENESIS_HASH);
                    if chain_hash_of(e) != e.hash || prev != expected_prev {
                        problems.push(format!(
                            "audit event seq {seq} of region {region:?}: its chain link does not match its contents or the event before it; it was changed outside Renkei"
                        ));
                    }
                    prev_chain_hash = e.hash.clone();
                }
                if let Some(text) = &e.evidence {
                    match evidence::decode(text) {
                        Ok(items) => ledger.record(seq, items),
                        Err(why) => problems
                            .push(format!("audit event seq {seq} of region {region:?}: {why}")),
                    }
                }
                frontier.push(computed);
                summary.events += 1;
                take_root(&frontier, &mut roots);
            }
        }
        let size = frontier.size() as i64;
        for (k, what) in mine
            .iter()
            .map(|k| (k, "stored"))
            .chain(witnessed.iter().map(|k| (k, "witness")))
        {
            if what == "stored" {
                summary.checkpoints += 1;
            } else {
                summary.witnessed += 1;
            }
            match roots.get(&k.tree_size) {
                None => problems.push(format!(
                    "audit log of region {region:?} has {size} events but a {what} checkpoint records {}; events were deleted (the log was cut back)",
                    k.tree_size
                )),
                Some(root) if hex::encode(root) != k.root_hash => problems.push(format!(
                    "audit log of region {region:?}: the tree of its first {} events does not match the {what} checkpoint of that size; events were changed, inserted, deleted or reordered",
                    k.tree_size
                )),
                Some(_) => {}
            }
        }
        if let Some(t) = trees
            .iter()
            .find(|t| &t.region == region && t.tree_size >= 0)
            && (t.tree_size != size || t.root_hash != hex::encode(frontier.root()))
        {
            problems.push(format!(
                "audit log of region {region:?} has {size} events but its tree records {}; events are missing or were added outside Renkei",
                t.tree_size
            ));
        }
    }

    // Events not yet sequenced: their contents against their leaf, then their evidence.
    for region in store::pending_regions(db).await? {
        for p in store::pending(db, &region, u64::MAX >> 1).await? {
            let e = &p.event;
            summary.events += 1;
            summary.pending += 1;
            if e.leaf_hash.as_deref() != Some(hex::encode(leaf_of(e)).as_str()) {
                problems.push(format!(
                    "audit event {} of region {region:?} (not yet sequenced): its contents do not match its leaf hash; it was changed outside Renkei",
                    e.id
                ));
            }
            if let Some(text) = &e.evidence {
                match evidence::decode(text) {
                    Ok(items) => ledger.record(p.local_id, items),
                    Err(why) => problems.push(format!("audit event {}: {why}", e.id)),
                }
            }
        }
    }
    Ok((summary, problems))
}
