//! The hash chain: intact chains verify; every kind of tampering is found at its position.

use chrono::Duration;
use proptest::prelude::*;
use renkei_domain::chain::{
    ChainBreak, ChainedEntry, GENESIS_HASH, canonical, hash_time, verify_chain,
};
use serde_json::json;
use uuid::Uuid;

use super::fixture::t;

type Chain = Vec<(ChainedEntry, String)>;

fn plan() -> Uuid {
    Uuid::from_u128(0xC0FFEE)
}

/// An entry of every kind in turn, with notes, variances and an amendment.
fn entry(i: usize) -> ChainedEntry {
    let t0 = t("2026-11-20T10:00:00+09:00");
    let kinds = [
        "stage_start",
        "assessment",
        "note",
        "variance",
        "assessment",
        "stage_end",
    ];
    let kind = kinds[i % kinds.len()];
    ChainedEntry {
        id: Uuid::from_u128(1000 + i as u128),
        care_plan_id: plan(),
        seq: i as i64 + 1,
        stage: if i < 6 { "acute" } else { "recovery" }.into(),
        kind: kind.into(),
        effective_at: t0 + Duration::minutes(i as i64 * 37),
        recorded_at: t0 + Duration::minutes(i as i64 * 37 + 1) + Duration::microseconds(i as i64),
        author_id: Uuid::from_u128(7),
        organization_id: Uuid::from_u128(8),
        values_json: canonical(&if kind == "assessment" {
            json!({"mrs": i % 7, "fim_total": 18 + i})
        } else {
            json!({})
        }),
        note: (kind == "note").then(|| format!("申し送り {i}")),
        variance_json: (kind == "variance")
            .then(|| canonical(&json!({"code": "NEG.VAR.CO.RECEIVE", "note": "待機"}))),
        amends: (i == 4).then(|| Uuid::from_u128(1001)),
        reason: (i == 4).then(|| "転記ミス".to_owned()),
        prev_hash: String::new(),
    }
}

/// Links `entries` honestly: sequence numbers, previous hashes and stored hashes.
fn link(entries: Vec<ChainedEntry>) -> Chain {
    let mut prev = GENESIS_HASH.to_owned();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.seq = i as i64 + 1;
            e.prev_hash = prev.clone();
            let h = e.compute_hash();
            prev = h.clone();
            (e, h)
        })
        .collect()
}

fn chain(n: usize) -> Chain {
    link((0..n).map(entry).collect())
}

fn check(c: &[(ChainedEntry, String)]) -> Result<usize, ChainBreak> {
    verify_chain(c.iter().map(|(e, h)| (e, h.as_str())))
}

fn broken_at(c: &[(ChainedEntry, String)], seq: i64, reason: &str) {
    match check(c) {
        Err(b) => {
            assert_eq!(b.seq, seq, "{b}");
            assert!(
                b.reason.contains(reason),
                "`{}` should contain `{reason}`",
                b.reason
            );
        }
        Ok(n) => panic!("tampering not detected ({n} entries verified)"),
    }
}

const HASH: &str = "stored hash does not match";
const PREV: &str = "prev_hash does not match";

#[test]
fn intact_chains_verify_and_count() {
    for n in 0..12 {
        assert_eq!(check(&chain(n)), Ok(n));
    }
    let c = chain(3);
    assert_eq!(c[0].0.prev_hash, GENESIS_HASH);
    assert_eq!(c[1].0.prev_hash, c[0].1);
    assert!(c[2].1.starts_with("sha256:") && c[2].1.len() == 71);
    // The hash is a pure function of the fields.
    assert_eq!(c[2].0.compute_hash(), c[2].1);
    assert_eq!(c[2].0.clone().compute_hash(), c[2].1);
}

#[test]
fn hash_time_keeps_microseconds_in_utc() {
    let at = t("2026-11-20T10:00:00.123456789+09:00");
    assert_eq!(hash_time(&at), "2026-11-20T01:00:00.123456Z");
    // Nanoseconds beyond the microsecond do not change the hash.
    let mut a = entry(1);
    a.prev_hash = GENESIS_HASH.into();
    let mut b = a.clone();
    b.effective_at += Duration::nanoseconds(999);
    assert_ne!(a.effective_at, b.effective_at);
    assert_eq!(a.compute_hash(), b.compute_hash());
    b.effective_at += Duration::nanoseconds(1);
    assert_ne!(a.compute_hash(), b.compute_hash());
}

/// A named change of one stored field.
type FieldChange = (&'static str, fn(&mut ChainedEntry));

/// Every stored field is covered by the hash.
fn field_changes() -> Vec<FieldChange> {
    vec![
        ("id", |e| e.id = Uuid::from_u128(42)),
        ("care_plan_id", |e| e.care_plan_id = Uuid::from_u128(43)),
        ("stage", |e| e.stage.push('x')),
        ("kind", |e| e.kind = "note2".into()),
        ("effective_at", |e| {
            e.effective_at += Duration::microseconds(1)
        }),
        ("recorded_at", |e| e.recorded_at -= Duration::seconds(1)),
        ("author_id", |e| e.author_id = Uuid::from_u128(44)),
        ("organization_id", |e| {
            e.organization_id = Uuid::from_u128(45)
        }),
        ("values_json", |e| {
            e.values_json = canonical(&json!({"mrs": 6, "x": 1}))
        }),
        ("note", |e| {
            e.note = Some(format!("{}!", e.note.clone().unwrap_or_default()))
        }),
        ("variance_json", |e| {
            e.variance_json = match &e.variance_json {
                Some(_) => None,
                None => Some("{}".into()),
            }
        }),
        ("amends", |e| e.amends = Some(Uuid::from_u128(46))),
        ("reason", |e| e.reason = Some("changed".into())),
    ]
}

#[test]
fn changing_any_field_at_any_position_is_detected_there() {
    let n = 8;
    for (name, change) in field_changes() {
        for at in 0..n {
            let mut c = chain(n);
            change(&mut c[at].0);
            assert_ne!(c[at].0, chain(n)[at].0, "{name} did not change");
            broken_at(&c, at as i64 + 1, HASH);
        }
    }
}

#[test]
fn changing_a_link_or_a_stored_hash_is_detected() {
    let n = 6;
    for at in 0..n {
        let mut c = chain(n);
        c[at].0.prev_hash = chain(n)[(at + 1) % n].1.clone();
        broken_at(&c, at as i64 + 1, PREV);
        let mut c = chain(n);
        c[at].1 = format!("sha256:{}", "ab".repeat(32));
        broken_at(&c, at as i64 + 1, HASH);
        let mut c = chain(n);
        c[at].0.seq += 10;
        broken_at(
            &c,
            at as i64 + 11,
            &format!("expected sequence number {}", at + 1),
        );
    }
}

#[test]
fn a_rehashed_change_breaks_the_next_link() {
    let n = 6;
    for at in 0..n - 1 {
        let mut c = chain(n);
        c[at].0.values_json = canonical(&json!({"mrs": 0}));
        c[at].1 = c[at].0.compute_hash();
        broken_at(&c, at as i64 + 2, PREV);
    }
}

#[test]
fn deleting_an_entry_is_detected() {
    let n = 6;
    for at in 0..n - 1 {
        // As stored: a gap in the sequence.
        let mut c = chain(n);
        c.remove(at);
        broken_at(
            &c,
            at as i64 + 2,
            &format!("expected sequence number {}", at + 1),
        );
        // Renumbered to hide the gap: the link to the removed entry breaks.
        let mut c = chain(n);
        c.remove(at);
        for (e, _) in c.iter_mut().skip(at) {
            e.seq -= 1;
        }
        broken_at(&c, at as i64 + 1, PREV);
    }
    // Removing the last entry leaves a shorter valid chain: the count tells.
    let mut c = chain(n);
    c.pop();
    assert_eq!(check(&c), Ok(n - 1));
}

#[test]
fn inserting_an_entry_is_detected() {
    let n = 6;
    for at in 0..n {
        // A well-formed entry linked to its predecessor, slipped in before position `at`.
        let mut c = chain(n);
        let mut forged = entry(50);
        forged.seq = at as i64 + 1;
        forged.prev_hash = if at == 0 {
            GENESIS_HASH.to_owned()
        } else {
            c[at - 1].1.clone()
        };
        let h = forged.compute_hash();
        c.insert(at, (forged.clone(), h.clone()));
        broken_at(
            &c,
            at as i64 + 1,
            &format!("expected sequence number {}", at + 2),
        );
        // The followers renumbered too: the next entry does not link to the insert.
        let mut c = chain(n);
        c.insert(at, (forged, h));
        for (e, _) in c.iter_mut().skip(at + 1) {
            e.seq += 1;
        }
        broken_at(&c, at as i64 + 2, PREV);
    }
}

#[test]
fn reordering_entries_is_detected() {
    let n = 7;
    for i in 0..n {
        for j in i + 1..n {
            let mut c = chain(n);
            c.swap(i, j);
            broken_at(
                &c,
                j as i64 + 1,
                &format!("expected sequence number {}", i + 1),
            );
            // Sequence numbers swapped back to look in order: the links break.
            let mut c = chain(n);
            c.swap(i, j);
            c[i].0.seq = i as i64 + 1;
            c[j].0.seq = j as i64 + 1;
            broken_at(&c, i as i64 + 1, PREV);
        }
    }
    // Rotating a block by one.
    let mut c = chain(n);
    c[2..5].rotate_left(1);
    broken_at(&c, 4, "expected sequence number 3");
}

#[test]
fn truncating_and_extending_is_detected_unless_the_whole_tail_is_rehashed() {
    let n = 8;
    let original = chain(n);
    let head = original[n - 1].1.clone();
    for keep in 0..n {
        // New entries appended with the old links: the first one does not fit.
        let mut c: Chain = original[..keep].to_vec();
        for k in keep..n {
            let mut e = entry(100 + k);
            e.seq = k as i64 + 1;
            e.prev_hash = original[k].0.prev_hash.clone();
            if k == keep {
                // Linked to another entry of the old chain, not to the kept tail.
                e.prev_hash = original[(k + 1) % n].1.clone();
            }
            let h = e.compute_hash();
            c.push((e, h));
        }
        broken_at(&c, keep as i64 + 1, PREV);
        // Re-chaining the whole replacement tail yields a chain that verifies on its own;
        // only the head hash (and the entries' ids) betray it, so callers anchor the head.
        let mut entries: Vec<ChainedEntry> =
            original[..keep].iter().map(|(e, _)| e.clone()).collect();
        entries.extend((keep..n).map(|k| entry(100 + k)));
        let forged = link(entries);
        assert_eq!(check(&forged), Ok(n));
        assert_eq!(&forged[..keep], &original[..keep]);
        assert_ne!(forged[n - 1].1, head);
    }
}

proptest! {
    /// Any one tampering anywhere in chains of any length is reported at the first
    /// position it affects.
    #[test]
    fn any_single_tampering_is_found(n in 2usize..16, at in 0usize..16, field in 0usize..13) {
        let at = at % n;
        let mut c = chain(n);
        (field_changes()[field].1)(&mut c[at].0);
        let b = check(&c).unwrap_err();
        prop_assert_eq!(b.seq, at as i64 + 1);
        let mut c = chain(n);
        let other = (at + 1 + field % (n - 1)) % n;
        c.swap(at, other);
        let b = check(&c).unwrap_err();
        prop_assert_eq!(b.seq, (at.max(other) + 1) as i64);
    }
}

#[test]
fn a_chain_break_displays_its_position() {
    let mut c = chain(3);
    c[1].0.note = Some("x".into());
    let b = check(&c).unwrap_err();
    assert_eq!(
        b.to_string(),
        "seq 2: stored hash does not match the entry's contents"
    );
}

#[test]
fn genesis_is_all_zero() {
    assert_eq!(GENESIS_HASH, format!("sha256:{}", "0".repeat(64)));
}
