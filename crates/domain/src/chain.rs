//! The hash chain over a care plan's entries (and, later, audit events).
//!
//! Each entry stores the hash of the previous one; its own hash covers every stored
//! field plus that previous hash, so changing, removing, inserting or reordering any
//! entry breaks the chain at that point.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::canonical::{sha256_tagged, to_canonical_string};

/// `prev_hash` of the first entry of a chain.
pub const GENESIS_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Every stored field of an entry that the hash covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedEntry {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub seq: i64,
    pub stage: String,
    pub kind: String,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub author_id: Uuid,
    pub organization_id: Uuid,
    /// Canonical JSON of the values object, exactly as stored.
    pub values_json: String,
    pub note: Option<String>,
    /// Canonical JSON of the variance, exactly as stored.
    pub variance_json: Option<String>,
    pub amends: Option<Uuid>,
    pub reason: Option<String>,
    pub prev_hash: String,
}

/// Timestamps are hashed at microsecond precision, the finest both databases keep.
pub fn hash_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl ChainedEntry {
    /// `sha256:<hex>` over the canonical JSON of the fields.
    pub fn compute_hash(&self) -> String {
        let doc = json!({
            "id": self.id.to_string(),
            "care_plan_id": self.care_plan_id.to_string(),
            "seq": self.seq,
            "stage": self.stage,
            "kind": self.kind,
            "effective_at": hash_time(&self.effective_at),
            "recorded_at": hash_time(&self.recorded_at),
            "author_id": self.author_id.to_string(),
            "organization_id": self.organization_id.to_string(),
            "values": self.values_json,
            "note": self.note,
            "variance": self.variance_json,
            "amends": self.amends.map(|a| a.to_string()),
            "reason": self.reason,
            "prev_hash": self.prev_hash,
        });
        sha256_tagged(to_canonical_string(&doc).as_bytes())
    }
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Checks a plan's entries in stored order against their stored hashes.
///
/// `entries` yields `(fields, stored hash)`; sequence numbers must run 1, 2, 3 … without
/// gaps and each `prev_hash` must be the previous entry's hash.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = (&'a ChainedEntry, &'a str)>,
) -> Result<usize, ChainBreak> {
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut count = 0;
    for (expected_seq, (entry, stored_hash)) in (1..).zip(entries) {
        if entry.seq != expected_seq {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: format!("expected sequence number {expected_seq}"),
            });
        }
        if entry.prev_hash != expected_prev {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "prev_hash does not match the previous entry's hash".into(),
            });
        }
        let computed = entry.compute_hash();
        if computed != stored_hash {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "stored hash does not match the entry's contents".into(),
            });
        }
        expected_prev = computed;
        count += 1;
    }
    Ok(count)
}

/// Canonical JSON text of a JSON value, as stored in `values_json` / `variance`.
pub fn canonical(value: &Value) -> String {
    to_canonical_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<(ChainedEntry, String)> {
        let plan = Uuid::now_v7();
        let t0 = DateTime::parse_from_rfc3339("2026-11-20T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut prev = GENESIS_HASH.to_owned();
        let mut out = Vec::new();
        for i in 0..n {
            let e = ChainedEntry {
                id: Uuid::now_v7(),
                care_plan_id: plan,
                seq: i as i64 + 1,
                stage: "acute".into(),
                kind: "assessment".into(),
                effective_at: t0 + chrono::Duration::hours(i as i64),
                recorded_at: t0 + chrono::Duration::hours(i as i64),
                author_id: Uuid::nil(),
                organization_id: Uuid::nil(),
                values_json: format!("{{\"mrs\":{}}}", i % 7),
                note: None,
                variance_json: None,
                amends: None,
                reason: None,
                prev_hash: prev.clone(),
            };
            let h = e.compute_hash();
            prev = h.clone();
            out.push((e, h));
        }
        out
    }

    fn check(c: &[(ChainedEntry, String)]) -> Result<usize, ChainBreak> {
        verify_chain(c.iter().map(|(e, h)| (e, h.as_str())))
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(check(&chain(5)), Ok(5));
        assert_eq!(check(&[]), Ok(0));
    }

    #[test]
    fn hash_covers_every_field() {
        let base = chain(1).remove(0).0;
        let h = base.compute_hash();
        let mut variants = Vec::new();
        let mut e = base.clone();
        e.values_json = "{\"mrs\":1}".into();
        variants.push(e);
        let mut e = base.clone();
        e.note = Some("x".into());
        variants.push(e);
        let mut e = base.clone();
        e.stage = "recovery".into();
        variants.push(e);
        let mut e = base.clone();
        e.effective_at += chrono::Duration::microseconds(1);
        variants.push(e);
        let mut e = base.clone();
        e.author_id = Uuid::now_v7();
        variants.push(e);
        let mut e = base.clone();
        e.reason = Some("r".into());
        variants.push(e);
        for v in variants {
            assert_ne!(v.compute_hash(), h);
        }
    }

    proptest! {
        /// Any single mutation — change, delete, swap, truncate-and-extend — is detected
        /// at or before the mutated position.
        #[test]
        fn tampering_is_detected(n in 2usize..12, at in 0usize..12, op in 0u8..4) {
            let mut c = chain(n);
            let at = at % n;
            match op {
                0 => { c[at].0.values_json = "{\"mrs\":6,\"x\":1}".into(); }
                1 => { c.remove(at); if c.is_empty() || at == n - 1 { return Ok(()); } }
                2 => { let j = (at + 1) % n; if j == at { return Ok(()); } c.swap(at, j); }
                _ => { c[at].1 = chain(1).remove(0).1; }
            }
            prop_assert!(check(&c).is_err());
        }
    }
}
