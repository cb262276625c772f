//! The plausibility rules of `renkei_domain::plausibility` fed with what the plan already
//! records: the onset stated by an earlier entry and the admission (the first stage
//! start). Used by every append, so the JSON API and the web forms refuse the same
//! entries with the same errors.

use chrono::{DateTime, Utc};
use renkei_domain::FieldError;
use renkei_domain::corrections::current_view;
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::EntryFacts;
use renkei_domain::plausibility::{self, KnownTimes, blocking, check_entry_times};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The onset and admission the plan's current entries record (corrections applied,
/// voided chains left out), without the entry a correction replaces.
pub fn known_times(facts: &[EntryFacts], replacing: Option<Uuid>) -> KnownTimes {
    let mut known = KnownTimes::default();
    let view = current_view(facts, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
    for e in view.into_iter().filter(|e| Some(e.id) != replacing) {
        if e.kind == EntryKind::StageStart && known.admission.is_none() {
            known.admission = Some(e.effective_at);
        }
        if let Some((_, o)) = plausibility::onset_in(&e.values) {
            known.onset = Some(o);
        }
    }
    known
}

/// Whether the plausibility of an entry of `kind` recording `values` depends on the
/// plan's record (it states an onset or starts a stage).
pub fn needs_record(kind: EntryKind, values: &Map<String, Value>) -> bool {
    kind == EntryKind::StageStart || plausibility::onset_in(values).is_some()
}

/// The plausibility errors of a new entry (all impossible findings; entries have no
/// unusual ones), against the plan's `facts` (read when [`needs_record`] says so).
pub fn entry_findings(
    facts: &[EntryFacts],
    kind: EntryKind,
    effective_at: DateTime<Utc>,
    values: &Map<String, Value>,
    replacing: Option<Uuid>,
    now: DateTime<Utc>,
) -> Vec<FieldError> {
    if !needs_record(kind, values) {
        return Vec::new();
    }
    let known = known_times(facts, replacing);
    blocking(
        check_entry_times(kind, effective_at, values, &known, now),
        false,
    )
}
