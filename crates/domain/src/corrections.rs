//! Corrections of an append-only record: which entries count at a moment.
//!
//! An entry is never changed. A correction (an amendment) is a new entry that names the
//! entry it replaces in `amends`; from the moment it is known, the replaced entry counts
//! for nothing and the correction counts in its place. A correction names the current
//! head of its chain, so the versions of one entry form a chain: the original, then each
//! correction in turn; only the chain's head counts. An entry of kind
//! `entered_in_error` (取消) names the head of a chain too: from the moment it is known,
//! the whole chain counts for nothing, and neither does the void itself.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entry::{EntryKind, PlanState};
use crate::facts::EntryFacts;

/// The first version of the chain `id` belongs to (follows `amends` back through the
/// entries given; an entry whose target is not among them is its own root).
fn root_of(by_id: &HashMap<Uuid, &EntryFacts>, id: Uuid) -> Uuid {
    let mut at = id;
    // A chain is at most as long as the record; the bound only guards bad data.
    for _ in 0..=by_id.len() {
        match by_id.get(&at).and_then(|e| e.amends) {
            Some(prev) if by_id.contains_key(&prev) => at = prev,
            _ => break,
        }
    }
    at
}

/// The record as it counts for clinical time `as_of`, as it was known at `known_at`:
/// entries recorded by `known_at` and effective by `as_of`; of each chain of corrections
/// only its latest version in view (the head) counts; a chain voided by an
/// `entered_in_error` entry known at `known_at` counts for nothing, whatever `as_of`, and
/// voids are never in the view. Ordered by `effective_at` then sequence; the result does
/// not depend on the order of `entries`.
pub fn current_view(
    entries: &[EntryFacts],
    as_of: DateTime<Utc>,
    known_at: DateTime<Utc>,
) -> Vec<&EntryFacts> {
    let known: HashMap<Uuid, &EntryFacts> = entries
        .iter()
        .filter(|e| e.recorded_at <= known_at)
        .map(|e| (e.id, e))
        .collect();
    let voided: HashSet<Uuid> = known
        .values()
        .filter(|e| e.kind == EntryKind::EnteredInError)
        .filter_map(|e| e.amends.map(|t| root_of(&known, t)))
        .collect();
    // The head of each chain: its latest version (by sequence) in view.
    let mut heads: HashMap<Uuid, &EntryFacts> = HashMap::new();
    for e in known.values() {
        if e.kind == EntryKind::EnteredInError || e.effective_at > as_of {
            continue;
        }
        let root = root_of(&known, e.id);
        if voided.contains(&root) {
            continue;
        }
        match heads.get(&root) {
            Some(h) if h.seq >= e.seq => {}
            _ => {
                heads.insert(root, e);
            }
        }
    }
    let mut view: Vec<&EntryFacts> = heads.into_values().collect();
    view.sort_by_key(|e| (e.effective_at, e.seq, e.id));
    view
}

/// Every version of the chain `id` belongs to, the original first and a void (if any)
/// last, in sequence order. Empty when `id` is not among `entries`.
pub fn chain_of(entries: &[EntryFacts], id: Uuid) -> Vec<&EntryFacts> {
    let by_id: HashMap<Uuid, &EntryFacts> = entries.iter().map(|e| (e.id, e)).collect();
    if !by_id.contains_key(&id) {
        return Vec::new();
    }
    let root = root_of(&by_id, id);
    let mut chain: Vec<&EntryFacts> = entries
        .iter()
        .filter(|e| root_of(&by_id, e.id) == root)
        .collect();
    chain.sort_by_key(|e| (e.seq, e.id));
    chain
}

/// Where an entry stands in its chain, for the rule that a correction or a void names the
/// chain's current head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPosition {
    /// The latest version of the chain that is not a void.
    pub head: Uuid,
    /// The chain was voided (or the entry is a void).
    pub voided: bool,
}

/// The position of `id` in its chain (`None` when `id` is not among `entries`).
pub fn chain_position(entries: &[EntryFacts], id: Uuid) -> Option<ChainPosition> {
    let chain = chain_of(entries, id);
    let head = chain
        .iter()
        .rev()
        .find(|e| e.kind != EntryKind::EnteredInError)?;
    Some(ChainPosition {
        head: head.id,
        voided: chain.iter().any(|e| e.kind == EntryKind::EnteredInError),
    })
}

/// The plan's stage state once the stage event whose chain `target` belongs to is voided.
///
/// Only the latest stage event of the plan may be voided: a later stage event (a start of
/// the next stage after an end, an end after a start) was accepted because of it, so
/// voiding it would leave the record's stage order broken; the error says which entry
/// depends on it. Voiding a `stage_end` reopens the stage; voiding a `stage_start` returns
/// the plan to where it stood before that stage started (the previous stage ended, or the
/// first stage not started).
pub fn state_after_void(
    state: &PlanState,
    entries: &[EntryFacts],
    target: Uuid,
) -> Result<PlanState, String> {
    let far = DateTime::<Utc>::MAX_UTC;
    let view = current_view(entries, far, far);
    let chain: HashSet<Uuid> = chain_of(entries, target).iter().map(|e| e.id).collect();
    let mut stage_events: Vec<&EntryFacts> = view
        .into_iter()
        .filter(|e| matches!(e.kind, EntryKind::StageStart | EntryKind::StageEnd))
        .collect();
    stage_events.sort_by_key(|e| {
        // A corrected stage event keeps the place of its original in the stage order.
        let root_seq = chain_of(entries, e.id).first().map_or(e.seq, |r| r.seq);
        (root_seq, e.seq)
    });
    let Some(pos) = stage_events.iter().position(|e| chain.contains(&e.id)) else {
        return Ok(state.clone());
    };
    let voided = stage_events[pos];
    if let Some(later) = stage_events.get(pos + 1) {
        return Err(format!(
            "the {} of stage `{}` cannot be voided: the later {} of stage `{}` (entry {}, seq {}) depends on it; void that one first",
            voided.kind.as_str(),
            voided.stage,
            later.kind.as_str(),
            later.stage,
            later.id,
            later.seq
        ));
    }
    let mut next = state.clone();
    match voided.kind {
        EntryKind::StageEnd => {
            next.current_stage = voided.stage.clone();
            next.stage_started = true;
            next.stage_ended = false;
        }
        _ => match pos.checked_sub(1).map(|p| stage_events[p]) {
            Some(prev) => {
                next.current_stage = prev.stage.clone();
                next.stage_started = true;
                next.stage_ended = prev.kind == EntryKind::StageEnd;
            }
            None => {
                next.current_stage = voided.stage.clone();
                next.stage_started = false;
                next.stage_ended = false;
            }
        },
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::PlanStatus;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day)
    }

    fn fact(seq: i64, kind: EntryKind, day: i64, amends: Option<i64>, mrs: i64) -> EntryFacts {
        let mut values = Map::new();
        if kind != EntryKind::EnteredInError {
            values.insert("mrs".into(), json!(mrs));
        }
        EntryFacts {
            id: Uuid::from_u128(seq as u128),
            seq,
            stage: "acute".into(),
            kind,
            effective_at: at(day),
            recorded_at: at(seq),
            values,
            amends: amends.map(|a| Uuid::from_u128(a as u128)),
        }
    }

    fn ids(view: &[&EntryFacts]) -> Vec<i64> {
        view.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_correction_of_a_correction_is_the_only_version_that_counts() {
        let entries = vec![
            fact(1, EntryKind::Assessment, 0, None, 4),
            fact(2, EntryKind::Assessment, 0, Some(1), 3),
            fact(3, EntryKind::Assessment, 0, Some(2), 2),
        ];
        assert_eq!(ids(&current_view(&entries, at(50), at(50))), vec![3]);
        // As known before the second correction, the first correction counts.
        assert_eq!(ids(&current_view(&entries, at(50), at(2))), vec![2]);
        assert_eq!(ids(&current_view(&entries, at(50), at(1))), vec![1]);
        let pos = chain_position(&entries, Uuid::from_u128(1)).unwrap();
        assert_eq!(pos.head, Uuid::from_u128(3));
        assert!(!pos.voided);
        assert_eq!(ids(&chain_of(&entries, Uuid::from_u128(2))), vec![1, 2, 3]);
    }

    #[test]
    fn a_void_removes_its_chain_from_the_moment_it_is_known() {
        let entries = vec![
            fact(1, EntryKind::Assessment, 0, None, 4),
            fact(2, EntryKind::Assessment, 0, Some(1), 3),
            fact(3, EntryKind::EnteredInError, 0, Some(2), 0),
            fact(4, EntryKind::Assessment, 1, None, 2),
        ];
        assert_eq!(ids(&current_view(&entries, at(50), at(50))), vec![4]);
        // Whatever the clinical time: the entry never should have been there.
        assert_eq!(
            ids(&current_view(&entries, at(0), at(50))),
            Vec::<i64>::new()
        );
        assert_eq!(ids(&current_view(&entries, at(50), at(2))), vec![2]);
        let pos = chain_position(&entries, Uuid::from_u128(1)).unwrap();
        assert!(pos.voided);
        assert_eq!(pos.head, Uuid::from_u128(2));
    }

    fn plan_state(stage: &str, started: bool, ended: bool) -> PlanState {
        PlanState {
            status: PlanStatus::Active,
            current_stage: stage.into(),
            stage_started: started,
            stage_ended: ended,
            started_at: at(0),
        }
    }

    fn stage_event(seq: i64, stage: &str, kind: EntryKind) -> EntryFacts {
        EntryFacts {
            id: Uuid::from_u128(seq as u128),
            seq,
            stage: stage.into(),
            kind,
            effective_at: at(seq),
            recorded_at: at(seq),
            values: Map::new(),
            amends: None,
        }
    }

    #[test]
    fn voiding_the_latest_stage_event_steps_the_stage_back() {
        let entries = vec![
            stage_event(1, "acute", EntryKind::StageStart),
            stage_event(2, "acute", EntryKind::StageEnd),
            stage_event(3, "recovery", EntryKind::StageStart),
        ];
        let now = plan_state("recovery", true, false);
        assert_eq!(
            state_after_void(&now, &entries, Uuid::from_u128(3)).unwrap(),
            plan_state("acute", true, true)
        );
        let err = state_after_void(&now, &entries, Uuid::from_u128(2)).unwrap_err();
        assert!(err.contains("depends on it"), "{err}");
        assert!(err.contains("stage `recovery`"), "{err}");
        let two = &entries[..2];
        assert_eq!(
            state_after_void(&plan_state("acute", true, true), two, Uuid::from_u128(2)).unwrap(),
            plan_state("acute", true, false)
        );
        assert_eq!(
            state_after_void(
                &plan_state("acute", true, false),
                &two[..1],
                Uuid::from_u128(1)
            )
            .unwrap(),
            plan_state("acute", false, false)
        );
    }

    /// A random record of chains: each step appends an original, a correction of the
    /// current head of an earlier chain, or a void of one.
    fn record() -> impl Strategy<Value = Vec<EntryFacts>> {
        prop::collection::vec((0u8..3, 0usize..8, 0i64..30, 0i64..7), 1..24).prop_map(|steps| {
            let mut out: Vec<EntryFacts> = Vec::new();
            // Per chain: its head's seq, and whether it was voided.
            let mut chains: Vec<(i64, bool)> = Vec::new();
            for (i, (op, pick, day, mrs)) in steps.into_iter().enumerate() {
                let seq = i as i64 + 1;
                let open: Vec<usize> = (0..chains.len()).filter(|c| !chains[*c].1).collect();
                if op == 0 || open.is_empty() {
                    out.push(fact(seq, EntryKind::Assessment, day, None, mrs));
                    chains.push((seq, false));
                    continue;
                }
                let c = open[pick % open.len()];
                let head = chains[c].0;
                if op == 1 {
                    out.push(fact(seq, EntryKind::Assessment, day, Some(head), mrs));
                    chains[c].0 = seq;
                } else {
                    out.push(fact(seq, EntryKind::EnteredInError, day, Some(head), 0));
                    chains[c].1 = true;
                }
            }
            out
        })
    }

    proptest! {
        #[test]
        fn a_voided_chain_never_counts(entries in record(), as_of in 0i64..40, known in 0i64..40) {
            let view = current_view(&entries, at(as_of), at(known));
            for e in &view {
                prop_assert!(e.kind != EntryKind::EnteredInError);
                let voided_by_then = chain_of(&entries, e.id).iter().any(|x| {
                    x.kind == EntryKind::EnteredInError && x.recorded_at <= at(known)
                });
                prop_assert!(!voided_by_then, "entry {} of a voided chain counts", e.seq);
            }
        }

        #[test]
        fn only_a_chains_head_counts(entries in record(), as_of in 0i64..40, known in 0i64..40) {
            let view = current_view(&entries, at(as_of), at(known));
            let mut roots = HashSet::new();
            for e in &view {
                let chain = chain_of(&entries, e.id);
                prop_assert!(roots.insert(chain[0].id), "two versions of one chain count");
                // No later version of the chain is in view.
                let later_in_view = chain.iter().any(|x| {
                    x.seq > e.seq
                        && x.kind != EntryKind::EnteredInError
                        && x.recorded_at <= at(known)
                        && x.effective_at <= at(as_of)
                });
                prop_assert!(!later_in_view, "entry {} is not its chain's head", e.seq);
            }
        }

        #[test]
        fn the_view_does_not_depend_on_the_order_of_the_record(
            entries in record(),
            as_of in 0i64..40,
            known in 0i64..40,
            rotate in 0usize..24,
        ) {
            let mut shuffled = entries.clone();
            shuffled.reverse();
            let n = shuffled.len();
            shuffled.rotate_left(rotate % n);
            prop_assert_eq!(
                ids(&current_view(&entries, at(as_of), at(known))),
                ids(&current_view(&shuffled, at(as_of), at(known)))
            );
        }
    }
}
