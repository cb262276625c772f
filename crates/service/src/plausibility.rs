//! The plausibility rules of `renkei_domain::plausibility` fed with what the plan already
//! records: the onset stated by an earlier entry and the admission (the first stage
//! start). Used by every append, so the JSON API and the web forms refuse the same
//! entries with the same errors.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use renkei_domain::FieldError;
use renkei_domain::entry::EntryKind;
use renkei_domain::plausibility::{self, KnownTimes, blocking, check_entry_times};
use renkei_store::queries::{self, EntryRow};
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::ServiceError;

/// The onset and admission the plan's current entries record, leaving out amended
/// entries and the entry an amendment replaces.
pub fn known_times(rows: &[EntryRow], replacing: Option<Uuid>) -> KnownTimes {
    let amended: HashSet<Uuid> = rows
        .iter()
        .filter_map(|r| r.amends)
        .chain(replacing)
        .collect();
    let mut current: Vec<&EntryRow> = rows.iter().filter(|r| !amended.contains(&r.id)).collect();
    current.sort_by_key(|r| (r.effective_at, r.seq));
    let mut known = KnownTimes::default();
    for r in current {
        if r.kind == EntryKind::StageStart.as_str() && known.admission.is_none() {
            known.admission = Some(r.effective_at);
        }
        if let Ok(Value::Object(values)) = serde_json::from_str::<Value>(&r.values_json)
            && let Some((_, o)) = plausibility::onset_in(&values)
        {
            known.onset = Some(o);
        }
    }
    known
}

/// The plausibility errors of a new entry (all impossible findings; entries have no
/// unusual ones). Reads the plan's entries only when the entry states an onset or
/// starts a stage.
pub async fn entry_findings<C: ConnectionTrait>(
    c: &C,
    plan_id: Uuid,
    kind: EntryKind,
    effective_at: DateTime<Utc>,
    values: &Map<String, Value>,
    replacing: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<FieldError>, ServiceError> {
    if kind != EntryKind::StageStart && plausibility::onset_in(values).is_none() {
        return Ok(Vec::new());
    }
    let rows = queries::entries_of(c, plan_id).await?;
    let known = known_times(&rows, replacing);
    Ok(blocking(
        check_entry_times(kind, effective_at, values, &known, now),
        false,
    ))
}
