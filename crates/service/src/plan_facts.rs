//! A plan's stored entries as the domain's entry facts; the facts themselves (goal and
//! schedule facts, individual targets and intervals, stage outcome, stage timeline) are
//! computed by `renkei_domain::plan`.

use renkei_domain::entry::EntryKind;
use renkei_domain::goals::EntryFacts;
use renkei_store::queries::EntryRow;

pub(crate) use renkei_domain::plan::{PlanFacts, stage_outcome};

/// Stored entries (in sequence order) as entry facts; an entry of an unknown kind is
/// left out, unreadable values read as none.
pub(crate) fn entry_facts(rows: &[EntryRow]) -> Vec<EntryFacts> {
    rows.iter()
        .filter_map(|row| {
            let kind = EntryKind::parse(&row.kind)?;
            Some(EntryFacts {
                id: row.id,
                seq: row.seq,
                stage: row.stage.clone(),
                kind,
                effective_at: row.effective_at,
                recorded_at: row.recorded_at,
                values: serde_json::from_str(&row.values_json).unwrap_or_default(),
                amends: row.amends,
            })
        })
        .collect()
}

/// The plan facts of stored entries (in sequence order).
pub(crate) fn plan_facts(rows: &[EntryRow]) -> PlanFacts {
    renkei_domain::plan::plan_facts(entry_facts(rows))
}
