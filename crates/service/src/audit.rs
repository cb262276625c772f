//! The audit log: one event per read or write of patient data, per login and per
//! denial, hash-chained like entries. Writes record their event in their own transaction;
//! reads record theirs in a short write transaction before the data is returned.

use chrono::{DateTime, Utc};
use renkei_domain::canonical::{sha256_tagged, to_canonical_string};
use renkei_domain::chain::{GENESIS_HASH, hash_time};
use renkei_domain::evidence::{self, EvidenceKey, EvidenceKind, Ledger};
use renkei_store::audit::{self as store, AuditEvent};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{Actor, ServiceError, Services, begin_write};

/// Why `verify` and start-up refuse a database without the audit head row.
pub const HEAD_MISSING: &str = "the audit log's head row is missing: the audit log was removed or damaged outside Renkei (restore the database from a backup)";

/// Whether the audit head row exists: every audited request needs it.
pub async fn head_exists<C: ConnectionTrait>(c: &C) -> Result<bool, ServiceError> {
    Ok(store::head(c).await?.is_some())
}

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
            writes: Vec::new(),
        }
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

/// The fields of a stored audit event the chain hash covers.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    id: Uuid,
    seq: i64,
    at: &DateTime<Utc>,
    r: &AuditEvent,
    prev_hash: &str,
) -> String {
    let doc = json!({
        "id": id.to_string(),
        "seq": seq,
        "at": hash_time(at),
        "practitioner_id": r.practitioner_id.map(|v| v.to_string()),
        "organization_id": r.organization_id.map(|v| v.to_string()),
        "action": r.action,
        "resource_type": r.resource_type,
        "resource_id": r.resource_id,
        "patient_id": r.patient_id.map(|v| v.to_string()),
        "care_plan_id": r.care_plan_id.map(|v| v.to_string()),
        "outcome": r.outcome,
        "request_id": r.request_id,
        "client_addr": r.client_addr,
        "detail": r.detail,
        "prev_hash": prev_hash,
    });
    // Events from before evidence was recorded keep their hashes.
    let doc = match (&r.evidence, doc) {
        (Some(e), serde_json::Value::Object(mut map)) => {
            map.insert("evidence".into(), serde_json::Value::String(e.clone()));
            serde_json::Value::Object(map)
        }
        (_, doc) => doc,
    };
    sha256_tagged(to_canonical_string(&doc).as_bytes())
}

/// Appends an event, dated `at` (the service clock's now, or a recorded time when the
/// dataset generator loads history), inside the caller's transaction. Takes the audit
/// head's row lock, so concurrent transactions append one after another: call it as the
/// last step of a write, so the lock is held for as short a time as possible.
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
    // Take the next sequence number: on PostgreSQL this takes the head's row lock until
    // commit, and RETURNING hands back the previous event's hash in the same statement.
    let head = store::take_next_seq(c)
        .await?
        .ok_or_else(|| anyhow::anyhow!("audit head row missing"))?;
    let seq = head.last_seq;
    let prev_hash = if seq == 1 {
        GENESIS_HASH.to_owned()
    } else {
        head.head_hash
    };
    let id = Uuid::now_v7();
    let mut event = AuditEvent {
        id,
        seq,
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
        evidence: evidence::encode(&written),
        prev_hash: prev_hash.clone(),
        hash: String::new(),
    };
    event.hash = event_hash(id, seq, &at, &event, &prev_hash);
    store::insert_event(c, &event).await?;
    store::set_head_hash(c, &event.hash).await?;
    Ok(())
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
    Ok(())
}

/// What the audit chain check found when intact.
#[derive(Debug, Clone, Copy)]
pub struct AuditSummary {
    pub events: usize,
}

/// Checks the audit chain from the start and replays the evidence its events recorded
/// into `ledger`; returns the number of events or the first broken link. A missing head
/// row is a broken log: every audited write needs it, and only a hand outside Renkei
/// removes it.
pub async fn verify_audit(
    db: &DatabaseConnection,
    ledger: &mut Ledger,
) -> Result<Result<AuditSummary, String>, ServiceError> {
    let Some(head) = store::head(db).await? else {
        return Ok(Err(HEAD_MISSING.to_owned()));
    };
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1i64;
    let mut last_id: Option<i64> = None;
    loop {
        let batch = store::events_page(db, last_id, 5_000).await?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            if e.seq != expected_seq {
                return Ok(Err(format!(
                    "audit event seq {}: expected {expected_seq}",
                    e.seq
                )));
            }
            if e.prev_hash != expected_prev {
                return Ok(Err(format!(
                    "audit event seq {}: prev_hash does not match the previous event",
                    e.seq
                )));
            }
            let computed = event_hash(e.id, e.seq, &e.at, e, &e.prev_hash);
            if computed != e.hash {
                return Ok(Err(format!(
                    "audit event seq {}: stored hash does not match its contents",
                    e.seq
                )));
            }
            if let Some(text) = &e.evidence {
                match evidence::decode(text) {
                    Ok(items) => ledger.record(e.seq, items),
                    Err(why) => return Ok(Err(format!("audit event seq {}: {why}", e.seq))),
                }
            }
            expected_prev = computed;
            expected_seq += 1;
        }
        last_id = batch.last().map(|e| e.seq);
    }
    let count = (expected_seq - 1) as usize;
    let head_hash = if head.last_seq == 0 {
        GENESIS_HASH
    } else {
        head.head_hash.as_str()
    };
    if head.last_seq != count as i64 || head_hash != expected_prev {
        return Ok(Err(format!(
            "audit chain has {count} events but its head records {}; events are missing or were added outside Renkei",
            head.last_seq
        )));
    }
    Ok(Ok(AuditSummary { events: count }))
}
