//! Entity for the `audit_events` table.

use sea_orm::entity::prelude::*;

/// One audited access: a leaf of its region's Merkle tree once sequenced.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Insertion order (assigned by the database): the order the sequencer takes
    /// unsequenced events in.
    pub local_id: i64,
    pub region: String,
    /// Position in the region's tree, from 1; `None` until the sequencer has run.
    pub seq: Option<i64>,
    pub at: DateTimeUtc,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub care_plan_id: Option<Uuid>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    /// Canonical JSON object `{"<kind>:<id>": "sha256:…"}`: the digests of the rows this
    /// event wrote, in their resulting state (see `renkei_domain::evidence`).
    #[sea_orm(column_type = "Text", nullable)]
    pub evidence: Option<String>,
    /// RFC 9162 leaf hash (hex) of the event's fields; `None` for events written as a
    /// hash chain before the Merkle log, whose leaf is computed from their fields.
    pub leaf_hash: Option<String>,
    /// The chain fields of events written before the Merkle log.
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
