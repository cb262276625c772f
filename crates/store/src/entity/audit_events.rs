//! Entity for the `audit_events` table.

use sea_orm::entity::prelude::*;

/// One audited access, hash-chained to the previous event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub seq: i64,
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
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
