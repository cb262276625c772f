//! An entry as the pure rules read it (goals, schedules, stage periods, corrections).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::entry::EntryKind;

/// The parts of an entry the pure rules read.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryFacts {
    pub id: Uuid,
    pub seq: i64,
    pub stage: String,
    pub kind: EntryKind,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub values: Map<String, Value>,
    pub amends: Option<Uuid>,
}
