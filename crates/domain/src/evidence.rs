//! Evidence for rows that are not hash-chained themselves: care plans (whose head fixes
//! their entry chain), care-team members, consents, break-glass grants, API tokens,
//! patients' demographics and patient numbers — the rows that decide who may see a
//! patient.
//!
//! Every write of such a row records, in its (hash-chained) audit event, the digest of
//! the row's resulting state. `renkei verify` replays the audit log into a [`Ledger`]
//! (the latest digest per row wins) and compares every current row with it: a row
//! changed, added or deleted behind the application's back no longer matches.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::canonical::{sha256_tagged, to_canonical_string};

/// The kinds of rows kept under evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceKind {
    CarePlan,
    CareTeamMember,
    Consent,
    BreakGlass,
    Token,
    Patient,
    PatientIdentifier,
    PatientLink,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 8] = [
        EvidenceKind::CarePlan,
        EvidenceKind::CareTeamMember,
        EvidenceKind::Consent,
        EvidenceKind::BreakGlass,
        EvidenceKind::Token,
        EvidenceKind::Patient,
        EvidenceKind::PatientIdentifier,
        EvidenceKind::PatientLink,
    ];

    /// The stable name stored in audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::CarePlan => "care_plan",
            EvidenceKind::CareTeamMember => "care_team_member",
            EvidenceKind::Consent => "consent",
            EvidenceKind::BreakGlass => "break_glass",
            EvidenceKind::Token => "token",
            EvidenceKind::Patient => "patient",
            EvidenceKind::PatientIdentifier => "patient_identifier",
            EvidenceKind::PatientLink => "patient_link",
        }
    }

    pub fn parse(s: &str) -> Option<EvidenceKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How `verify` names the row in its report.
    pub fn label(self) -> &'static str {
        match self {
            EvidenceKind::CarePlan => "care plan",
            EvidenceKind::CareTeamMember => "care-team member",
            EvidenceKind::Consent => "consent",
            EvidenceKind::BreakGlass => "break-glass grant",
            EvidenceKind::Token => "API token",
            EvidenceKind::Patient => "patient",
            EvidenceKind::PatientIdentifier => "patient number",
            EvidenceKind::PatientLink => "patient merge link",
        }
    }
}

/// One row under evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvidenceKey {
    pub kind: EvidenceKind,
    pub id: Uuid,
}

impl fmt::Display for EvidenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.id)
    }
}

/// A row's key and the digest of its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub key: EvidenceKey,
    pub digest: String,
}

impl Evidence {
    /// Evidence of a row whose stored fields are `fields` (a JSON object of every column
    /// that matters, timestamps as [`crate::chain::hash_time`] text).
    pub fn of(kind: EvidenceKind, id: Uuid, fields: Value) -> Evidence {
        Evidence {
            key: EvidenceKey { kind, id },
            digest: row_digest(kind, id, fields),
        }
    }
}

/// `sha256:<hex>` over the canonical JSON of the row's kind, id and fields.
pub fn row_digest(kind: EvidenceKind, id: Uuid, fields: Value) -> String {
    let doc = json!({"kind": kind.as_str(), "id": id.to_string(), "fields": fields});
    sha256_tagged(to_canonical_string(&doc).as_bytes())
}

/// The text stored in an audit event: a canonical JSON object `{"<kind>:<id>": digest}`.
/// `None` when the event wrote no such row.
pub fn encode(items: &[Evidence]) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let map: Map<String, Value> = items
        .iter()
        .map(|e| {
            (
                format!("{}:{}", e.key.kind.as_str(), e.key.id),
                Value::String(e.digest.clone()),
            )
        })
        .collect();
    Some(to_canonical_string(&Value::Object(map)))
}

/// Reads what [`encode`] wrote; an error names what is malformed.
pub fn decode(text: &str) -> Result<Vec<Evidence>, String> {
    let map: Map<String, Value> =
        serde_json::from_str(text).map_err(|_| "evidence is not a JSON object".to_owned())?;
    map.into_iter()
        .map(|(k, v)| {
            let (kind, id) = k
                .split_once(':')
                .ok_or_else(|| format!("evidence key `{k}` is not kind:id"))?;
            let kind = EvidenceKind::parse(kind)
                .ok_or_else(|| format!("evidence key `{k}` has an unknown kind"))?;
            let id = Uuid::parse_str(id).map_err(|_| format!("evidence key `{k}` has no id"))?;
            let digest = v
                .as_str()
                .ok_or_else(|| format!("evidence for `{k}` is not a digest"))?
                .to_owned();
            Ok(Evidence {
                key: EvidenceKey { kind, id },
                digest,
            })
        })
        .collect()
}

/// What a current row and the audit log disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The row exists but no audit event recorded it.
    Unrecorded(EvidenceKey),
    /// The row differs from the state its latest audit event recorded.
    Changed { key: EvidenceKey, seq: i64 },
    /// An audit event recorded the row, but it is gone.
    Missing { key: EvidenceKey, seq: i64 },
}

impl Finding {
    pub fn key(&self) -> EvidenceKey {
        match self {
            Finding::Unrecorded(key) => *key,
            Finding::Changed { key, .. } | Finding::Missing { key, .. } => *key,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Unrecorded(key) => write!(
                f,
                "{key}: no audit event records this row; it was written outside Renkei"
            ),
            Finding::Changed { key, seq } => write!(
                f,
                "{key}: differs from the state audit event seq {seq} recorded; it was changed outside Renkei"
            ),
            Finding::Missing { key, seq } => write!(
                f,
                "{key}: audit event seq {seq} recorded this row but it is missing; it was deleted outside Renkei"
            ),
        }
    }
}

/// The latest recorded state of every row under evidence, replayed from the audit log.
/// Holds one fixed-size fingerprint per row, so a region's rows fit in memory.
#[derive(Debug, Default)]
pub struct Ledger {
    latest: HashMap<EvidenceKey, (i64, [u8; 32])>,
}

/// A digest text as 32 bytes (the SHA-256 of the text: equal texts, equal bytes).
fn fingerprint(digest: &str) -> [u8; 32] {
    Sha256::digest(digest.as_bytes()).into()
}

impl Ledger {
    /// Replays one audit event's evidence; events must come in sequence order.
    pub fn record(&mut self, seq: i64, items: Vec<Evidence>) {
        for e in items {
            self.latest.insert(e.key, (seq, fingerprint(&e.digest)));
        }
    }

    /// Checks one current row against its latest recorded state. Each row is checked
    /// once; what is left unchecked at the end is [`Ledger::missing`].
    pub fn check(&mut self, current: &Evidence) -> Option<Finding> {
        match self.latest.remove(&current.key) {
            None => Some(Finding::Unrecorded(current.key)),
            Some((_, digest)) if digest == fingerprint(&current.digest) => None,
            Some((seq, _)) => Some(Finding::Changed {
                key: current.key,
                seq,
            }),
        }
    }

    /// Rows of `kind` that were recorded but never checked: they are missing.
    pub fn missing(&mut self, kind: EvidenceKind) -> Vec<Finding> {
        let mut keys: Vec<EvidenceKey> = self
            .latest
            .keys()
            .filter(|k| k.kind == kind)
            .copied()
            .collect();
        keys.sort();
        keys.into_iter()
            .filter_map(|key| {
                self.latest
                    .remove(&key)
                    .map(|(seq, _)| Finding::Missing { key, seq })
            })
            .collect()
    }

    /// Whether any row has been recorded at all.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(kind: EvidenceKind, n: u128, v: i64) -> Evidence {
        Evidence::of(kind, Uuid::from_u128(n), json!({"v": v}))
    }

    #[test]
    fn encoding_round_trips() {
        let items = vec![
            ev(EvidenceKind::CarePlan, 1, 1),
            ev(EvidenceKind::Consent, 2, 5),
        ];
        let text = encode(&items).expect("some");
        let mut back = decode(&text).expect("decodes");
        back.sort_by_key(|e| e.key);
        assert_eq!(back, items);
        assert_eq!(encode(&[]), None);
        assert!(decode("[]").is_err());
        assert!(decode(r#"{"nope:x":"y"}"#).is_err());
    }

    #[test]
    fn digest_depends_on_kind_id_and_fields() {
        let base = ev(EvidenceKind::Consent, 1, 1).digest;
        assert_ne!(base, ev(EvidenceKind::CareTeamMember, 1, 1).digest);
        assert_ne!(base, ev(EvidenceKind::Consent, 2, 1).digest);
        assert_ne!(base, ev(EvidenceKind::Consent, 1, 2).digest);
        assert_eq!(base, ev(EvidenceKind::Consent, 1, 1).digest);
    }

    /// The rows as the application leaves them after `writes` (kind index, row, value),
    /// and the ledger replayed from the events those writes recorded.
    fn replay(writes: &[(usize, u8, i64)]) -> (Vec<Evidence>, Ledger) {
        let mut rows: Vec<Evidence> = Vec::new();
        let mut ledger = Ledger::default();
        for (seq, &(k, row, v)) in (1..).zip(writes) {
            let e = ev(EvidenceKind::ALL[k], u128::from(row), v);
            rows.retain(|r| r.key != e.key);
            rows.push(e.clone());
            ledger.record(seq, vec![e]);
        }
        (rows, ledger)
    }

    fn findings(rows: &[Evidence], mut ledger: Ledger) -> Vec<Finding> {
        let mut out: Vec<Finding> = rows.iter().filter_map(|r| ledger.check(r)).collect();
        for kind in EvidenceKind::ALL {
            out.extend(ledger.missing(kind));
        }
        out
    }

    proptest! {
        /// Rows written only through recorded writes always verify, whatever the order
        /// and repetition of the writes.
        #[test]
        fn untouched_rows_verify(writes in proptest::collection::vec((0usize..6, 0u8..5, 0i64..4), 0..30)) {
            let (rows, ledger) = replay(&writes);
            prop_assert!(findings(&rows, ledger).is_empty());
        }

        /// Changing, deleting or adding one row behind the log's back is found, and the
        /// finding names that row.
        #[test]
        fn tampering_is_found(
            writes in proptest::collection::vec((0usize..6, 0u8..5, 0i64..4), 1..30),
            at in 0usize..30,
            op in 0u8..3,
        ) {
            let (mut rows, ledger) = replay(&writes);
            let at = at % rows.len();
            let key = match op {
                0 => {
                    let r = &mut rows[at];
                    *r = Evidence::of(r.key.kind, r.key.id, json!({"v": 99}));
                    r.key
                }
                1 => rows.remove(at).key,
                _ => {
                    let e = ev(EvidenceKind::ALL[at % 6], 1000, 0);
                    rows.push(e.clone());
                    e.key
                }
            };
            let found = findings(&rows, ledger);
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(found[0].key(), key);
        }
    }
}
