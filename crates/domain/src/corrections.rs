//! Corrections of an append-only record: which entries count at a moment.
//!
//! An entry is never changed. A correction (an amendment) is a new entry that names the
//! entry it replaces in `amends`; from the moment it is known, the replaced entry counts
//! for nothing and the correction counts in its place.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::goals::EntryFacts;

/// The record as it counts for clinical time `as_of`, as it was known at `known_at`:
/// entries recorded by `known_at` and effective by `as_of`, with every replaced entry left
/// out, ordered by `effective_at` then sequence.
pub fn current_view(
    entries: &[EntryFacts],
    as_of: DateTime<Utc>,
    known_at: DateTime<Utc>,
) -> Vec<&EntryFacts> {
    let known: Vec<&EntryFacts> = entries
        .iter()
        .filter(|e| e.recorded_at <= known_at)
        .collect();
    // An amendment replaces its original only once the amendment itself is in view.
    let replaced: HashSet<Uuid> = known
        .iter()
        .filter(|e| e.effective_at <= as_of)
        .filter_map(|e| e.amends)
        .collect();
    let mut view: Vec<&EntryFacts> = known
        .into_iter()
        .filter(|e| !replaced.contains(&e.id) && e.effective_at <= as_of)
        .collect();
    view.sort_by_key(|e| (e.effective_at, e.seq));
    view
}
