//! An entry of a care plan as the API and the pages show it, with its author and
//! organisation named.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct AuthorRef {
    pub id: Uuid,
    pub name: String,
    pub profession: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganizationRef {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub seq: i64,
    pub stage: String,
    pub kind: String,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub author: AuthorRef,
    pub organization: OrganizationRef,
    pub values: Value,
    pub note: Option<String>,
    pub variance: Option<Value>,
    pub amends: Option<Uuid>,
    pub reason: Option<String>,
    /// The entry that amends this one, if any (this one is then shown as amended).
    pub amended_by: Option<Uuid>,
    /// The `entered_in_error` entry that voided this entry's chain, if any (every version
    /// of a voided chain, and the void itself, carry it).
    pub voided_by: Option<Uuid>,
    pub prev_hash: String,
    pub hash: String,
}
